import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import LoupePipeline
import ServiceLifecycle

/// The OTLP/gRPC listener as a `Service`: serves until graceful shutdown, then lets
/// in-flight exports finish.
public struct OTLPGRPCServer: Service {
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let transport: HTTP2ServerTransport.Posix
    let onListening: @Sendable (Int) async -> Void

    public init(host: String, port: Int, ingestor: OTLPIngestor, onListening: @escaping @Sendable (Int) async -> Void) {
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: host, port: port),
            transportSecurity: .plaintext,
            config: .defaults { config in
                config.compression.enabledAlgorithms = .all
                // The transport resets streams over its limit, which OTLP clients read as CANCELLED and
                // retry forever; so it gets headroom and OTLPIngestor answers RESOURCE_EXHAUSTED itself.
                config.rpc.maxRequestPayloadSize = max(ingestor.limits.maximumRequestBytes * 4, 64 << 20)
            })
        self.transport = transport
        self.server = GRPCServer(transport: transport, services: [OTLPGRPCService(ingestor: ingestor)])
        self.onListening = onListening
    }

    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                try await withGracefulShutdownHandler {
                    try await server.serve()
                } onGracefulShutdown: {
                    server.beginGracefulShutdown()
                }
            }
            if let address = try await transport.listeningAddress.ipv4 {
                await onListening(address.port)
            } else if let address = try await transport.listeningAddress.ipv6 {
                await onListening(address.port)
            }
        }
    }
}
