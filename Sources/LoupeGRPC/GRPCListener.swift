import GRPCCore
import GRPCNIOTransportHTTP2
import ServiceLifecycle

/// A plain-text HTTP/2 gRPC listener as a `Service`: serves its services until graceful shutdown,
/// then lets in-flight calls finish. Reports the bound port (port 0 picks one).
public struct GRPCListener: Service {
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let transport: HTTP2ServerTransport.Posix
    let onListening: @Sendable (Int) async -> Void

    /// `maximumRequestBytes`: the transport resets streams over it, which OTLP clients read as
    /// CANCELLED and retry forever; callers give headroom and refuse large requests themselves.
    public init(
        host: String, port: Int, services: [any RegistrableRPCService], maximumRequestBytes: Int,
        onListening: @escaping @Sendable (Int) async -> Void
    ) {
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: host, port: port), transportSecurity: .plaintext,
            config: .defaults { config in
                config.compression.enabledAlgorithms = .all
                config.rpc.maxRequestPayloadSize = maximumRequestBytes
            })
        self.transport = transport
        server = GRPCServer(transport: transport, services: services)
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
