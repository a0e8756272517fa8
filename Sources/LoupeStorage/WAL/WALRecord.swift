import LoupeModel

/// What a WAL record's payload is. The raw values of the OTLP kinds equal `Signal`'s, so
/// segments written before Prometheus samples existed read unchanged.
public enum WALRecordKind: UInt8, Sendable, Hashable, CaseIterable {
    /// An OTLP `ExportTraceServiceRequest` (protobuf).
    case otlpTraces = 1
    /// An OTLP `ExportMetricsServiceRequest` (protobuf).
    case otlpMetrics = 2
    /// An OTLP `ExportLogsServiceRequest` (protobuf).
    case otlpLogs = 3
    /// A Prometheus remote write 1.0 `WriteRequest` (protobuf, uncompressed) for the TSDB.
    case prometheusWriteRequest = 4
    /// A head cut of the Prometheus TSDB (payload: the cut id, 8 bytes little-endian). Records
    /// before it are in blocks as far as the checkpoint of that cut says.
    case prometheusHeadCut = 5
    /// A Prometheus remote write 1.0 `WriteRequest`, snappy block-compressed (as remote write sends
    /// it): about a sixth of the uncompressed size, so the log costs less disk and bandwidth.
    case prometheusWriteRequestSnappy = 6
    /// Log streams in Loki's model: a `logproto.PushRequest` (protobuf), snappy block-compressed.
    case lokiPushSnappy = 7
    /// A head cut of the log store (payload: the cut id, 8 bytes little-endian). Log records before
    /// it are in log blocks once the log checkpoint names that cut.
    case logHeadCut = 8
    /// A head cut of the trace store (payload: the cut id, 8 bytes little-endian). Trace records
    /// before it are in trace blocks once the trace checkpoint names that cut.
    case traceHeadCut = 9

    public init(_ signal: Signal) {
        switch signal {
        case .traces: self = .otlpTraces
        case .metrics: self = .otlpMetrics
        case .logs: self = .otlpLogs
        }
    }

    /// The signal the payload belongs to.
    public var signal: Signal {
        switch self {
        case .otlpTraces, .traceHeadCut: .traces
        case .otlpMetrics, .prometheusWriteRequest, .prometheusHeadCut, .prometheusWriteRequestSnappy: .metrics
        case .otlpLogs, .lokiPushSnappy, .logHeadCut: .logs
        }
    }
}

/// One acknowledged write: a batch of one signal for one tenant, as the client sent it.
public struct WALRecord: Sendable, Equatable {
    public var kind: WALRecordKind
    public var tenant: Tenant
    /// The smallest and largest item timestamp of the batch; used to expire whole segments.
    public var timeBounds: TimeBounds
    /// Opaque to the WAL; `kind` says how to read it.
    public var payload: [UInt8]

    public var signal: Signal { kind.signal }

    public init(signal: Signal, tenant: Tenant, timeBounds: TimeBounds, payload: [UInt8]) {
        self.init(kind: WALRecordKind(signal), tenant: tenant, timeBounds: timeBounds, payload: payload)
    }

    public init(kind: WALRecordKind, tenant: Tenant, timeBounds: TimeBounds, payload: [UInt8]) {
        self.kind = kind
        self.tenant = tenant
        self.timeBounds = timeBounds
        self.payload = payload
    }
}
