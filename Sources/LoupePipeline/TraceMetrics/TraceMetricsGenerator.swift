import Logging
import LoupeModel
import LoupeWire
import ServiceLifecycle
import Synchronization

/// Span metrics and the service graph of every tenant, fed by the write path as spans are
/// acknowledged (not by WAL replay: the series it writes are in the WAL themselves), and
/// collected as Prometheus series into the tenant's TSDB.
public final class TraceMetricsGenerator: Sendable {
    struct TenantState {
        var spanMetrics = SpanMetrics()
        var serviceGraph = ServiceGraph()
    }

    private let tenants = Mutex<[Tenant: TenantState]>([:])
    public let isEnabled: Bool

    public init(isEnabled: Bool = true) { self.isEnabled = isEnabled }

    public func observe(_ batch: TraceBatchDigest, tenant: Tenant, nowUnixNano: UInt64) {
        guard isEnabled, !batch.isEmpty else { return }
        tenants.withLock { all in
            var state = all.removeValue(forKey: tenant) ?? TenantState()
            state.spanMetrics.observe(batch)
            state.serviceGraph.observe(batch, now: nowUnixNano)
            all[tenant] = state
        }
    }

    /// Settles waiting service-graph pairs and returns every tenant's series at `nowUnixNano`.
    public func collect(nowUnixNano: UInt64) -> [(tenant: Tenant, series: [TimeSeries])] {
        let timestamp = Int64(clamping: nowUnixNano / 1_000_000)
        return tenants.withLock { all in
            var out: [(Tenant, [TimeSeries])] = []
            for tenant in all.keys.sorted() {
                all[tenant]!.serviceGraph.expire(now: nowUnixNano)
                let series = all[tenant]!.spanMetrics.series(timestamp: timestamp) + all[tenant]!.serviceGraph.series(timestamp: timestamp)
                if !series.isEmpty { out.append((tenant, series)) }
            }
            return out
        }
    }
}

/// Writes the trace metrics into the TSDB every `interval` (Tempo's collection interval, 15 s),
/// through the write path (WAL first), as a scrape would.
public struct TraceMetricsService<C: Clock<Duration>>: Service {
    let pipeline: IngestPipeline
    let interval: Duration
    let clock: C
    let wallClock: WallClock
    let logger: Logger

    public init(pipeline: IngestPipeline, interval: Duration = .seconds(15), clock: C, wallClock: WallClock = .system, logger: Logger) {
        self.pipeline = pipeline
        self.interval = interval
        self.clock = clock
        self.wallClock = wallClock
        self.logger = logger
    }

    public func run() async throws {
        guard pipeline.traceMetrics.isEnabled else { return }
        while !Task.isCancelledOrShuttingDown {
            do {
                try await cancelWhenGracefulShutdown { try await clock.sleep(for: interval) }
            } catch {
                return
            }
            await collectOnce()
        }
    }

    /// One collection; returns the samples written.
    @discardableResult
    public func collectOnce() async -> Int {
        var written = 0
        for (tenant, series) in pipeline.traceMetrics.collect(nowUnixNano: wallClock.nowUnixNano()) {
            do {
                let receipt = try await pipeline.ingestPrometheus(RemoteWriteRequest(series: series), tenant: tenant, canonicalEncoding: nil, requestBytes: 0)
                written += series.count
                if !receipt.message.isEmpty {
                    logger.warning("trace metrics partly refused", metadata: ["tenant": "\(tenant)", "reason": "\(receipt.message)"])
                }
            } catch {
                logger.warning("could not write trace metrics", metadata: ["tenant": "\(tenant)", "error": "\(error)"])
            }
        }
        return written
    }
}
