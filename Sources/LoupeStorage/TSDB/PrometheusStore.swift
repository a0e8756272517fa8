import LoupeModel
import Synchronization

/// Prometheus series per tenant: one TSDB head each. Remote write and (later) scrapes and
/// converted OTLP metrics append here; PromQL and the Prometheus HTTP API read from it.
public final class PrometheusStore: Sendable {
    private let heads = Mutex<[Tenant: TSDBHead]>([:])
    private let metadataByTenant = Mutex<[Tenant: [String: MetricMetadata]]>([:])

    /// Active series per tenant before new series are refused.
    public let maximumSeriesPerTenant: Int

    public init(maximumSeriesPerTenant: Int = .max) { self.maximumSeriesPerTenant = maximumSeriesPerTenant }

    /// The tenant's head, created on first write.
    public func head(for tenant: Tenant) -> TSDBHead {
        heads.withLock { heads in
            if let head = heads[tenant] { return head }
            let head = TSDBHead(maximumSeries: maximumSeriesPerTenant)
            heads[tenant] = head
            return head
        }
    }

    /// The tenant's head if it has ever been written to.
    public func existingHead(for tenant: Tenant) -> TSDBHead? {
        heads.withLock { $0[tenant] }
    }

    public func append(_ series: [TimeSeries], tenant: Tenant) -> HeadAppendResult {
        head(for: tenant).append(series)
    }

    /// Remembers metric family metadata (`# TYPE`, `# HELP`, `# UNIT`) as writers send it.
    public func recordMetadata(_ metadata: [String: MetricMetadata], tenant: Tenant) {
        guard !metadata.isEmpty else { return }
        metadataByTenant.withLock { $0[tenant, default: [:]].merge(metadata) { _, new in new } }
    }

    public func metadata(for tenant: Tenant) -> [String: MetricMetadata] {
        metadataByTenant.withLock { $0[tenant] ?? [:] }
    }

    public var tenants: [Tenant] { heads.withLock { Array($0.keys) }.sorted() }

    /// Totals over every tenant.
    public func statistics() -> StoreStatistics {
        let all = heads.withLock { Array($0.values) }
        var statistics = StoreStatistics(tenants: all.count)
        for head in all {
            let headStatistics = head.statistics()
            statistics.items += headStatistics.samples
        }
        return statistics
    }
}
