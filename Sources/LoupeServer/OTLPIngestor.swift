import Logging
import LoupeModel
import LoupePipeline
import LoupeWire

/// The transport-independent core of OTLP ingestion: bytes and headers in, an
/// acknowledgement or an `IngestError` out. The HTTP and gRPC surfaces are thin
/// adapters around it, so both answer every failure the same way.
public struct OTLPIngestor: Sendable {
    public enum Encoding: Sendable {
        case protobuf
        case json
    }

    public let pipeline: IngestPipeline
    public let limits: IngestLimits

    public init(pipeline: IngestPipeline, limits: IngestLimits) {
        self.pipeline = pipeline
        self.limits = limits
    }

    /// Decodes an export request of `signal` and runs it through the write path.
    ///
    /// - Parameter body: the (already decompressed) request body.
    public func export(
        signal: Signal, body: [UInt8], encoding: Encoding, tenant: Tenant, via ingestProtocol: IngestProtocol
    ) async throws(IngestError) -> IngestReceipt {
        do throws(IngestError) {
            guard body.count <= limits.maximumRequestBytes else {
                throw IngestError(.tooLarge, "request of \(body.count) bytes exceeds the limit of \(limits.maximumRequestBytes) bytes")
            }
            let reservation = try pipeline.admit(bytes: body.count)
            defer { pipeline.release(reservation) }
            switch signal {
            case .traces where encoding == .protobuf:
                // Digested, not decoded: the spans are never built (see `IngestPipeline.ingestTraces`).
                let digest: TraceBatchDigest
                do {
                    digest = try OTLPProtobuf.digestTraces(body)
                } catch {
                    throw IngestError(.badRequest, "malformed OTLP/protobuf ExportTraceServiceRequest: \(error)")
                }
                return try await pipeline.ingestTraces(protobuf: body, digest: digest, tenant: tenant, via: ingestProtocol, requestBytes: body.count)
            case .traces:
                let data = try decode(body, encoding, protobuf: OTLPProtobuf.decodeTraces, json: OTLPJSON.decodeTraces)
                return try await pipeline.ingest(data, tenant: tenant, canonicalEncoding: nil, via: ingestProtocol, requestBytes: body.count)
            case .logs:
                let data = try decode(body, encoding, protobuf: OTLPProtobuf.decodeLogs, json: OTLPJSON.decodeLogs)
                return try await pipeline.ingest(data, tenant: tenant, canonicalEncoding: encoding == .protobuf ? body : nil, via: ingestProtocol, requestBytes: body.count)
            case .metrics:
                let data = try decode(body, encoding, protobuf: OTLPProtobuf.decodeMetrics, json: OTLPJSON.decodeMetrics)
                return try await pipeline.ingest(data, tenant: tenant, canonicalEncoding: encoding == .protobuf ? body : nil, via: ingestProtocol, requestBytes: body.count)
            }
        } catch {
            pipeline.telemetry.recordRejected(signal: signal, via: ingestProtocol, reason: error.code.rawValue)
            throw error
        }
    }

    private func decode<Data>(
        _ body: [UInt8], _ encoding: Encoding,
        protobuf: ([UInt8]) throws(WireError) -> Data, json: ([UInt8]) throws(WireError) -> Data
    ) throws(IngestError) -> Data {
        do {
            switch encoding {
            case .protobuf: return try protobuf(body)
            case .json: return try json(body)
            }
        } catch {
            let format = encoding == .protobuf ? "protobuf" : "JSON"
            throw IngestError(.badRequest, "malformed OTLP/\(format) \(Data.self == TraceData.self ? "ExportTraceServiceRequest" : Data.self == LogsData.self ? "ExportLogsServiceRequest" : "ExportMetricsServiceRequest"): \(error)")
        }
    }

    /// The body of a successful response, with `partial_success` set only when items were refused.
    public static func responseBody(signal: Signal, receipt: IngestReceipt, encoding: Encoding) -> [UInt8] {
        switch encoding {
        case .protobuf:
            OTLPProtobuf.encodeExportResponse(signal: signal, rejectedItems: Int64(receipt.rejectedItems), errorMessage: receipt.message)
        case .json:
            OTLPJSON.encodeExportResponse(signal: signal, rejectedItems: Int64(receipt.rejectedItems), errorMessage: receipt.message)
        }
    }
}

/// Size limits of the ingest surfaces.
public struct IngestLimits: Sendable {
    /// The largest request body accepted, compressed or not, and after decompression.
    public var maximumRequestBytes: Int
    /// Log lines longer than this are refused or cut (Loki push).
    public var logLineSize: LogLineSizeLimit
    /// Bytes of log lines per second and tenant (Loki push); nil: no limit.
    public var logIngestionRate: IngestionRateLimiter?

    public init(maximumRequestBytes: Int = 16 << 20, logLineSize: LogLineSizeLimit = LogLineSizeLimit(), logIngestionRate: IngestionRateLimiter? = nil) {
        self.maximumRequestBytes = maximumRequestBytes
        self.logLineSize = logLineSize
        self.logIngestionRate = logIngestionRate
    }
}
