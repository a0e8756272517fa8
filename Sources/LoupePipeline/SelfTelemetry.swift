import LoupeModel
import Prometheus

/// Loupe's own metrics, exposed in Prometheus text format on `/metrics`.
///
/// Counters are created once per label combination up front so the ingest path only
/// increments atomics.
public final class SelfTelemetry: Sendable {
    public let registry: PrometheusCollectorRegistry

    private let receivedItems: [Key: Counter]
    private let receivedBytes: [Key: Counter]
    private let rejectedRequests: [RejectionKey: Counter]
    private let droppedItems: [Signal: Counter]
    private let walFsyncDuration: DurationHistogram
    private let walGroupCommitRecords: ValueHistogram
    private let memoryBudgetInUse: Prometheus.Gauge
    private let memoryBudgetLimit: Prometheus.Gauge
    private let storedItems: [Signal: Prometheus.Gauge]
    private let storedBytes: [Signal: Prometheus.Gauge]
    private let walDiskBytes: Prometheus.Gauge

    struct Key: Hashable {
        var signal: Signal
        var ingestProtocol: IngestProtocol
    }

    struct RejectionKey: Hashable {
        var signal: Signal
        var ingestProtocol: IngestProtocol
        var reason: String
    }

    /// Reasons a request can be rejected, each a label value of `loupe_rejected_requests_total`.
    public static let rejectionReasons: [String] = [
        IngestError.Code.badRequest.rawValue, IngestError.Code.tooLarge.rawValue, IngestError.Code.overloaded.rawValue,
        IngestError.Code.unavailable.rawValue, IngestError.Code.internalError.rawValue, "invalid_tenant", "unsupported_media_type",
    ]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var receivedItems: [Key: Counter] = [:]
        var receivedBytes: [Key: Counter] = [:]
        var rejected: [RejectionKey: Counter] = [:]
        for signal in Signal.allCases {
            for ingestProtocol in IngestProtocol.allCases {
                let labels = [("signal", signal.description), ("protocol", ingestProtocol.rawValue)]
                let key = Key(signal: signal, ingestProtocol: ingestProtocol)
                receivedItems[key] = registry.makeCounter(
                    name: "loupe_received_items_total", labels: labels,
                    help: "Items (spans, log records, metric data points) accepted, by signal and protocol.")
                receivedBytes[key] = registry.makeCounter(
                    name: "loupe_received_bytes_total", labels: labels,
                    help: "Request body bytes received (after decompression), by signal and protocol.")
                for reason in Self.rejectionReasons {
                    rejected[RejectionKey(signal: signal, ingestProtocol: ingestProtocol, reason: reason)] = registry.makeCounter(
                        name: "loupe_rejected_requests_total", labels: labels + [("reason", reason)],
                        help: "Requests refused, by signal, protocol and reason.")
                }
            }
        }
        self.receivedItems = receivedItems
        self.receivedBytes = receivedBytes
        self.rejectedRequests = rejected
        self.droppedItems = Dictionary(uniqueKeysWithValues: Signal.allCases.map {
            ($0, registry.makeCounter(
                name: "loupe_dropped_items_total", labels: [("signal", $0.description), ("reason", "retention")],
                help: "Items refused inside an accepted request because they are older than the retention period."))
        })
        self.walFsyncDuration = registry.makeDurationHistogram(
            name: "loupe_wal_fsync_duration_seconds",
            buckets: [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5),
                      .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                      .milliseconds(250), .seconds(1)],
            help: "Duration of each WAL fsync.")
        self.walGroupCommitRecords = registry.makeValueHistogram(
            name: "loupe_wal_group_commit_records", buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
            help: "Records made durable by one WAL write and fsync.")
        self.memoryBudgetInUse = registry.makeGauge(
            name: "loupe_memory_budget_in_use_bytes", help: "Bytes held by requests between receipt and acknowledgement.")
        self.memoryBudgetLimit = registry.makeGauge(
            name: "loupe_memory_budget_limit_bytes", help: "The write path's memory budget.")
        self.storedItems = Dictionary(uniqueKeysWithValues: Signal.allCases.map {
            ($0, registry.makeGauge(name: "loupe_stored_items", labels: [("signal", $0.description)], help: "Items held by the store."))
        })
        self.storedBytes = Dictionary(uniqueKeysWithValues: Signal.allCases.map {
            ($0, registry.makeGauge(name: "loupe_stored_bytes", labels: [("signal", $0.description)], help: "Bytes held by the store."))
        })
        self.walDiskBytes = registry.makeGauge(name: "loupe_wal_disk_bytes", help: "Bytes of WAL segments on disk.")
    }

    public func recordAccepted(signal: Signal, via ingestProtocol: IngestProtocol, items: Int, bytes: Int) {
        let key = Key(signal: signal, ingestProtocol: ingestProtocol)
        receivedItems[key]?.increment(by: Int64(items))
        receivedBytes[key]?.increment(by: Int64(bytes))
    }

    public func recordRejected(signal: Signal, via ingestProtocol: IngestProtocol, reason: String) {
        rejectedRequests[RejectionKey(signal: signal, ingestProtocol: ingestProtocol, reason: reason)]?.increment()
    }

    public func recordDropped(signal: Signal, items: Int) {
        droppedItems[signal]?.increment(by: Int64(items))
    }

    public func recordFsync(_ duration: Duration, records: Int) {
        walFsyncDuration.record(duration)
        walGroupCommitRecords.record(Double(records))
    }

    public func updateMemoryBudget(inUse: Int, limit: Int) {
        memoryBudgetInUse.set(Double(inUse))
        memoryBudgetLimit.set(Double(limit))
    }

    public func updateStore(signal: Signal, items: Int, bytes: Int) {
        storedItems[signal]?.set(Double(items))
        storedBytes[signal]?.set(Double(bytes))
    }

    public func updateWALDiskBytes(_ bytes: Int) { walDiskBytes.set(Double(bytes)) }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}
