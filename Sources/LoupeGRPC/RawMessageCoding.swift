import GRPCCore
import LoupeModel

/// gRPC messages handed over as their raw protobuf bytes: decoding happens in our own wire
/// decoder, straight into the model, with no generated message types on the way (the receiver,
/// the agent's exporter and the load generator all use these).
public struct RawMessageDeserializer: MessageDeserializer {
    public init() {}

    public func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
    }
}

public struct RawMessageSerializer: MessageSerializer {
    public init() {}

    public func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes {
        Bytes(message)
    }
}

/// The `Export` method of each signal's OTLP collector service.
public enum OTLPGRPCMethods {
    public static func export(for signal: Signal) -> MethodDescriptor {
        switch signal {
        case .traces: MethodDescriptor(fullyQualifiedService: "opentelemetry.proto.collector.trace.v1.TraceService", method: "Export")
        case .metrics: MethodDescriptor(fullyQualifiedService: "opentelemetry.proto.collector.metrics.v1.MetricsService", method: "Export")
        case .logs: MethodDescriptor(fullyQualifiedService: "opentelemetry.proto.collector.logs.v1.LogsService", method: "Export")
        }
    }
}
