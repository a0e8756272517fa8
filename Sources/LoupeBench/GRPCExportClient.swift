import GRPCCore
import GRPCNIOTransportHTTP2
import LoupeGRPC
import LoupeModel

/// Sends pre-encoded export requests over OTLP/gRPC: one `GRPCClient`, with its own HTTP/2 connection, per worker.
///
/// Messages stay raw protobuf bytes in both directions, so no generated OTLP types are needed and the requests go
/// out exactly as they were encoded once before the run.
struct GRPCExportClient {
    let client: GRPCClient<HTTP2ClientTransport.Posix>
    let descriptor: MethodDescriptor
    let options: CallOptions
    let metadata: Metadata

    /// The `Export` method of the signal's collector service.
    static func exportMethod(for signal: Signal) -> MethodDescriptor { OTLPGRPCMethods.export(for: signal) }

    /// Starts a client for `host:port`, runs `body` with it, then shuts the client down gracefully (in-flight RPCs
    /// finish first); cancelling the calling task stops it at once.
    static func withClient<Result: Sendable>(
        host: String, port: Int, signal: Signal, tenant: String?, gzip: Bool, timeout: Duration,
        _ body: (GRPCExportClient) async throws -> Result
    ) async throws -> Result {
        let transport = try HTTP2ClientTransport.Posix(
            target: target(host: host, port: port),
            transportSecurity: .plaintext,
            config: .defaults { config in
                // gRPC compresses per message in the transport; the call options below choose gzip per call.
                config.compression.enabledAlgorithms = gzip ? .all : .none
                // Reconnect quickly after the server drops a connection, so a restart does not stall the run.
                config.backoff.initial = .milliseconds(50)
                config.backoff.max = .seconds(1)
            })
        var options = CallOptions.defaults
        options.timeout = timeout
        options.compression = gzip ? .gzip : CompressionAlgorithm.none
        // Fail fast instead of queueing while disconnected: a request that cannot be sent is an error to count.
        options.waitForReady = false
        var metadata: Metadata = [:]
        if let tenant { metadata.addString(tenant, forKey: "x-scope-orgid") }
        let exportClient = { (client: GRPCClient<HTTP2ClientTransport.Posix>) in
            GRPCExportClient(client: client, descriptor: exportMethod(for: signal), options: options, metadata: metadata)
        }
        return try await withGRPCClient(transport: transport) { client in
            try await body(exportClient(client))
        }
    }

    /// IP literals resolve without DNS; anything else is a host name.
    static func target(host: String, port: Int) -> any ResolvableTarget {
        if host.contains(":") { return .ipv6(address: host, port: port) }
        if host.split(separator: ".", omittingEmptySubsequences: false).count == 4, host.allSatisfy({ $0.isNumber || $0 == "." }) {
            return .ipv4(address: host, port: port)
        }
        return .dns(host: host, port: port)
    }

    /// What became of one export call.
    enum Outcome: Sendable {
        /// Status OK with the response message (an `Export*ServiceResponse`).
        case ok(response: [UInt8])
        /// Another status, sent by the server.
        case status(code: RPCError.Code, message: String)
        /// No status from the server: the connection failed or was lost, or the client's deadline passed. gRPC
        /// reports these with status codes too (mostly UNAVAILABLE), which must not be mistaken for the server
        /// shedding load.
        case transportFailure(code: RPCError.Code, message: String)
    }

    func export(_ message: [UInt8]) async throws -> Outcome {
        do {
            return try await client.unary(
                request: ClientRequest(message: message, metadata: metadata),
                descriptor: descriptor,
                serializer: RawMessageSerializer(),
                deserializer: RawMessageDeserializer(),
                options: options
            ) { response in
                switch response.accepted {
                case .success(let contents):
                    // Response headers arrived, so whatever status follows came from the server.
                    switch contents.message {
                    case .success(let bytes): .ok(response: bytes)
                    case .failure(let error): .status(code: error.code, message: error.message)
                    }
                case .failure(let error):
                    // A server's trailers-only answer carries its HTTP/2 response headers (`:status`); an error the
                    // client made up itself carries no metadata at all.
                    error.metadata.isEmpty
                        ? .transportFailure(code: error.code, message: error.message)
                        : .status(code: error.code, message: error.message)
                }
            }
        } catch let error as RPCError {
            // Failures to get a stream at all (no connection, client shutting down) are thrown, not delivered.
            return .transportFailure(code: error.code, message: error.message)
        }
    }
}
