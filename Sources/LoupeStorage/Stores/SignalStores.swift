import LoupeModel

/// A batch that has been made durable in the WAL and is handed to a store.
///
/// It carries the decoded model (what real engines index) and its canonical OTLP
/// protobuf encoding (what the WAL holds), so a store can keep whichever suits it
/// without encoding twice.
public struct DurableBatch<Data: SignalData>: Sendable {
    public var tenant: Tenant
    public var data: Data
    public var encoded: [UInt8]
    public var timeBounds: TimeBounds

    public init(tenant: Tenant, data: Data, encoded: [UInt8], timeBounds: TimeBounds) {
        self.tenant = tenant
        self.data = data
        self.encoded = encoded
        self.timeBounds = timeBounds
    }
}

/// Everything a store reports about itself, for `/metrics` and status pages.
public struct StoreStatistics: Sendable, Equatable {
    public var tenants: Int
    public var items: Int
    public var bytes: Int

    public init(tenants: Int = 0, items: Int = 0, bytes: Int = 0) {
        self.tenants = tenants
        self.items = items
        self.bytes = bytes
    }
}

/// The operations every per-signal store offers. The write path and the read APIs
/// talk to stores only through the three protocols below, so an engine can replace
/// the embedded store without touching them.
public protocol SignalStore<Data>: Sendable {
    associatedtype Data: SignalData

    /// Takes a batch that is already durable. Called in WAL order, also during replay.
    func append(_ batch: DurableBatch<Data>) async throws(StorageError)

    /// Items of `tenant` whose timestamp lies in `range`, grouped by resource and scope.
    func read(tenant: Tenant, range: TimeRange) async throws(StorageError) -> Data

    /// Forgets items older than `cutoffUnixNano` (retention). Returns how many were removed.
    func removeItems(olderThan cutoffUnixNano: UInt64) async -> Int

    func statistics() async -> StoreStatistics
}

/// Spans; the trace engine of a later issue replaces the embedded implementation.
public protocol TraceStore: SignalStore where Data == TraceData {}

/// Log records; the log engine of a later issue replaces the embedded implementation.
public protocol LogStore: SignalStore where Data == LogsData {}

/// Metric data points; the TSDB of a later issue replaces the embedded implementation.
public protocol MetricStore: SignalStore where Data == MetricsData {}

/// The stores one Loupe process writes to and reads from.
public struct Stores: Sendable {
    /// Spans through the generic store interface: the trace store itself.
    public var traces: any TraceStore { traceSpans }
    public var logs: any LogStore
    /// OTLP metrics as they arrived (lossless OTLP read-back).
    public var metrics: any MetricStore
    /// Prometheus series (remote write): the TSDB that PromQL reads.
    public var prometheus: PrometheusStore
    /// Log streams in Loki's model (Loki push): what LogQL reads.
    public var logStreams: LogStreamStore
    /// Spans by trace ID, with trace summaries and tags: what the Tempo, Jaeger and Zipkin APIs read.
    public var traceSpans: TraceSpanStore

    public init(
        logs: any LogStore, metrics: any MetricStore, prometheus: PrometheusStore = PrometheusStore(),
        logStreams: LogStreamStore = LogStreamStore(), traceSpans: TraceSpanStore = TraceSpanStore()
    ) {
        self.traceSpans = traceSpans
        self.logs = logs
        self.metrics = metrics
        self.prometheus = prometheus
        self.logStreams = logStreams
    }

    /// The embedded stores `loupe up` uses until the per-signal engines land.
    public static func embedded(maximumSeriesPerTenant: Int = .max) -> Stores {
        embedded(prometheus: PrometheusStore(maximumSeriesPerTenant: maximumSeriesPerTenant))
    }

    /// The embedded stores with a given Prometheus TSDB (on disk, for `loupe up`).
    ///
    /// - Parameter readBackBytes: OTLP logs and metrics are also kept as they arrived, for
    ///   lossless read-back (`/loupe/api/v1/logs`, `/metrics`), up to this many bytes per signal,
    ///   the most recent first (nil: all of them, until retention). What LogQL and PromQL read
    ///   lives on in the log and Prometheus stores either way.
    public static func embedded(
        prometheus: PrometheusStore, logStreams: LogStreamStore = LogStreamStore(), traceSpans: TraceSpanStore = TraceSpanStore(),
        readBackBytes: Int? = nil
    ) -> Stores {
        Stores(
            logs: EmbeddedLogStore(maximumBytes: readBackBytes), metrics: EmbeddedMetricStore(maximumBytes: readBackBytes),
            prometheus: prometheus, logStreams: logStreams, traceSpans: traceSpans)
    }
}
