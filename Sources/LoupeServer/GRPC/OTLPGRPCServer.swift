import LoupeGRPC
import LoupePipeline
import ServiceLifecycle

/// The OTLP/gRPC listener as a `Service`: serves until graceful shutdown, then lets
/// in-flight exports finish.
public struct OTLPGRPCServer: Service {
    let listener: GRPCListener

    public init(host: String, port: Int, ingestor: OTLPIngestor, onListening: @escaping @Sendable (Int) async -> Void) {
        // Headroom over the request limit: OTLPIngestor answers RESOURCE_EXHAUSTED itself.
        listener = GRPCListener(
            host: host, port: port, services: [OTLPGRPCService(ingestor: ingestor)],
            maximumRequestBytes: max(ingestor.limits.maximumRequestBytes * 4, 64 << 20), onListening: onListening)
    }

    public func run() async throws { try await listener.run() }
}
