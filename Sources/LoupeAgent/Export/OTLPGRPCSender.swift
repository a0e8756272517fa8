import GRPCCore
import GRPCNIOTransportHTTP2
import LoupeGRPC
import LoupeModel
import LoupeWire

/// One OTLP/gRPC `Export` call per payload. OK delivers; the codes the OTLP specification calls
/// retryable (CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, OUT_OF_RANGE,
/// UNAVAILABLE, DATA_LOSS) and failures to connect are retried; any other code is a refusal.
struct OTLPGRPCSender: OTLPSender {
    let client: GRPCClient<HTTP2ClientTransport.Posix>
    let descriptor: MethodDescriptor
    let metadata: Metadata
    let options: CallOptions

    init(client: GRPCClient<HTTP2ClientTransport.Posix>, signal: Signal, headers: [(name: String, value: String)], gzip: Bool, timeout: Duration) {
        self.client = client
        descriptor = OTLPGRPCMethods.export(for: signal)
        var metadata: Metadata = [:]
        for header in headers { metadata.addString(header.value, forKey: header.name.lowercased()) }
        self.metadata = metadata
        var options = CallOptions.defaults
        options.timeout = timeout
        options.compression = gzip ? .gzip : CompressionAlgorithm.none
        // Not waiting for a connection: an unreachable backend is a retry after backoff, not a hang.
        options.waitForReady = false
        self.options = options
    }

    static let retryable: Set<RPCError.Code> = [.cancelled, .deadlineExceeded, .resourceExhausted, .aborted, .outOfRange, .unavailable, .dataLoss]

    /// IP literals resolve without DNS; anything else is a host name.
    static func target(host: String, port: Int) -> any ResolvableTarget {
        if host.contains(":") { return .ipv6(address: host, port: port) }
        if host.split(separator: ".", omittingEmptySubsequences: false).count == 4, host.allSatisfy({ $0.isNumber || $0 == "." }) {
            return .ipv4(address: host, port: port)
        }
        return .dns(host: host, port: port)
    }

    func send(_ payload: ArraySlice<UInt8>, bearer: String?) async -> SendOutcome {
        var metadata = metadata
        if let bearer {
            metadata.removeAllValues(forKey: "authorization")
            metadata.addString("Bearer " + bearer, forKey: "authorization")
        }
        do {
            return try await client.unary(
                request: ClientRequest(message: Array(payload), metadata: metadata), descriptor: descriptor, serializer: RawMessageSerializer(),
                deserializer: RawMessageDeserializer(), options: options
            ) { response in
                switch response.accepted {
                case .success(let contents):
                    switch contents.message {
                    case .success(let message):
                        OTLPPartialSuccess.decode(response: message).map { .partiallyDelivered(rejected: Int(clamping: $0.rejected), reason: $0.message) }
                            ?? .delivered
                    case .failure(let error): Self.outcome(error)
                    }
                case .failure(let error): Self.outcome(error)
                }
            }
        } catch let error as RPCError {
            return Self.outcome(error)
        } catch {
            return .retry("\(error)", after: nil)
        }
    }

    static func outcome(_ error: RPCError) -> SendOutcome {
        let reason = "gRPC \(error.code): \(error.message)"
        if error.code == .unauthenticated { return .unauthorized(reason) }
        return retryable.contains(error.code) ? .retry(reason, after: nil) : .refused(reason)
    }
}
