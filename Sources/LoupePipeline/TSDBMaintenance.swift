import Logging
import LoupeModel
import LoupeStorage
import ServiceLifecycle
import Synchronization

/// What one maintenance pass did.
public struct TSDBMaintenanceReport: Sendable, Equatable {
    public var blocksWritten = 0
    public var compactions = 0
    public var blocksRemoved = 0
    /// WAL segments deleted because the blocks hold their samples.
    public var walBytesFreed = 0
    public var failures: [String] = []

    public init() {}
}

/// Keeps the Prometheus TSDB in shape: cuts heads into blocks once they span 1.5 block ranges,
/// compacts blocks, and applies retention by time and by size.
///
/// A cut runs under the pipeline's cut gate: a WAL marker record first, then the heads give up
/// their old samples (served from memory until written). Once every block of the cut is on disk
/// the checkpoint names the marker, and replay skips what the blocks hold.
public final class TSDBMaintenance: Sendable {
    let pipeline: IngestPipeline
    let logger: Logger
    /// A cut whose blocks are not all on disk yet: its checkpoint waits for them.
    private let awaitingCheckpoint = Mutex<HeadCheckpoint?>(nil)

    public init(pipeline: IngestPipeline, logger: Logger) {
        self.pipeline = pipeline
        self.logger = logger
    }

    var store: PrometheusStore { pipeline.stores.prometheus }

    /// One pass at wall time `nowMilliseconds`.
    @discardableResult
    public func runOnce(nowMilliseconds: Int64) async -> TSDBMaintenanceReport {
        var report = TSDBMaintenanceReport()
        guard store.directory != nil else { return report }
        if await persistPending(&report) {
            await cutHeads(nowMilliseconds: nowMilliseconds, &report)
        }
        await compact(nowMilliseconds: nowMilliseconds, &report)
        await applyRetention(nowMilliseconds: nowMilliseconds, &report)
        _ = try? await BlockingIO.run { MemoryRelease.trimFreedMemory() }
        return report
    }

    /// Retries blocks whose write failed and saves a waiting checkpoint; true when nothing is left pending.
    private func persistPending(_ report: inout TSDBMaintenanceReport) async -> Bool {
        for database in store.allDatabases {
            for pending in database.unpersistedBlocks {
                do {
                    try await BlockingIO.run { try database.persist(pending) }
                    report.blocksWritten += 1
                } catch {
                    report.failures.append("writing block \(pending.id) of tenant \(database.tenant): \(error)")
                    logger.error("could not write a block; it stays in memory and is retried", metadata: [
                        "tenant": "\(database.tenant)", "block": "\(pending.id)", "error": "\(error)",
                    ])
                    return false
                }
            }
        }
        if let checkpoint = awaitingCheckpoint.withLock({ $0 }) {
            do {
                try store.saveCheckpoint(checkpoint)
                awaitingCheckpoint.withLock { $0 = nil }
            } catch {
                report.failures.append("saving the TSDB checkpoint: \(error)")
                return false
            }
            truncateWAL(after: checkpoint, &report)
        }
        return true
    }

    private func truncateWAL(after checkpoint: HeadCheckpoint, _ report: inout TSDBMaintenanceReport) {
        do {
            report.walBytesFreed += try pipeline.truncateWAL()
        } catch {
            report.failures.append("truncating the WAL: \(error)")
        }
    }

    private func cutHeads(nowMilliseconds: Int64, _ report: inout TSDBMaintenanceReport) async {
        while true {
            let due = store.allDatabases.compactMap { database in database.head.cutBoundary().map { (database, $0) } }
            guard !due.isEmpty else { return }
            let previous = store.checkpoint.withLock { $0 } ?? HeadCheckpoint(cutID: 0, maxTimes: [:])
            // Random, not previous + 1: a cut interrupted before its checkpoint left its marker in the
            // WAL, and the next cut must not reuse that id.
            var next = HeadCheckpoint(cutID: UInt64.random(in: 1...UInt64.max), maxTimes: previous.maxTimes)
            let wal = pipeline.wal
            let cut: Bool = await pipeline.cutGate.exclusive { () async -> Bool in
                // Segments below the current one hold only records written before the marker.
                next.walSegmentsBefore = wal.currentSegmentSequence
                do {
                    try await wal.append(WALRecord(
                        kind: .prometheusHeadCut, tenant: .default, timeBounds: TimeBounds(),
                        payload: HeadCheckpoint.markerPayload(cutID: next.cutID)))
                } catch {
                    return false
                }
                for (database, boundary) in due {
                    _ = database.cutHead(before: boundary, nowMilliseconds: nowMilliseconds)
                    next.maxTimes[database.tenant] = max(next.maxTimes[database.tenant] ?? .min, boundary)
                }
                return true
            }
            guard cut else {
                report.failures.append("writing the head-cut marker to the WAL failed")
                logger.error("could not write the head-cut marker to the WAL; the heads stay as they are")
                return
            }
            awaitingCheckpoint.withLock { $0 = next }
            guard await persistPending(&report) else { return }
        }
    }

    private func compact(nowMilliseconds: Int64, _ report: inout TSDBMaintenanceReport) async {
        let options = store.options
        let ranges = BlockCompactor.ranges(base: options.blockRange, maximum: maximumBlockRange)
        for database in store.allDatabases where !database.isInMemory {
            for _ in 0..<16 {
                do {
                    guard try await BlockingIO.run({ try database.compactOnce(ranges: ranges, nowMilliseconds: nowMilliseconds) }) else { break }
                    report.compactions += 1
                } catch {
                    report.failures.append("compacting tenant \(database.tenant): \(error)")
                    logger.error("compaction failed; the blocks stay as they are", metadata: [
                        "tenant": "\(database.tenant)", "error": "\(error)",
                    ])
                    break
                }
            }
        }
    }

    /// Prometheus caps compacted blocks at 31 days or a tenth of the retention, whichever is less.
    private var maximumBlockRange: Int64 {
        var maximum = store.options.maximumBlockRange
        if pipeline.retention.nanoseconds > 0 {
            maximum = min(maximum, Int64(clamping: pipeline.retention.nanoseconds / 10 / 1_000_000))
        }
        return max(maximum, store.options.blockRange)
    }

    private func applyRetention(nowMilliseconds: Int64, _ report: inout TSDBMaintenanceReport) async {
        let cutoff = pipeline.retention.cutoff(nowUnixNano: UInt64(clamping: nowMilliseconds) * 1_000_000)
            .map { Int64(clamping: $0 / 1_000_000) }
        for database in store.allDatabases where !database.isInMemory {
            do {
                report.blocksRemoved += try database.applyRetention(cutoff: cutoff, maximumBytes: nil).count
            } catch {
                report.failures.append("retention for tenant \(database.tenant): \(error)")
            }
        }
        guard let limit = store.options.retentionBytes else { return }
        // By size, across tenants: the oldest blocks go first, as in Prometheus.
        var blocks: [(database: TenantTSDB, block: PersistedBlock, size: Int)] = []
        for database in store.allDatabases {
            for block in database.persistedBlocks { blocks.append((database, block, block.sizeBytes)) }
        }
        var total = blocks.reduce(0) { $0 + $1.size }
        guard total > limit else { return }
        blocks.sort { $0.block.meta.maxTime < $1.block.meta.maxTime }
        var doomed: [ObjectIdentifier: (TenantTSDB, Set<String>)] = [:]
        for entry in blocks where total > limit {
            total -= entry.size
            doomed[ObjectIdentifier(entry.database), default: (entry.database, [])].1.insert(entry.block.id)
        }
        for (database, ids) in doomed.values {
            do {
                try database.removeBlocks(ids)
                report.blocksRemoved += ids.count
            } catch {
                report.failures.append("size retention for tenant \(database.tenant): \(error)")
            }
        }
    }
}

/// Runs `TSDBMaintenance` every `interval` on an injected clock.
public struct TSDBMaintenanceService<C: Clock<Duration>>: Service {
    let maintenance: TSDBMaintenance
    let interval: Duration
    let clock: C
    let wallClock: WallClock

    public init(maintenance: TSDBMaintenance, interval: Duration = .seconds(60), clock: C, wallClock: WallClock = .system) {
        self.maintenance = maintenance
        self.interval = interval
        self.clock = clock
        self.wallClock = wallClock
    }

    public func run() async throws {
        while !Task.isCancelledOrShuttingDown {
            await maintenance.runOnce(nowMilliseconds: Int64(clamping: wallClock.nowUnixNano() / 1_000_000))
            do {
                try await cancelWhenGracefulShutdown { try await clock.sleep(for: interval) }
            } catch {
                return
            }
        }
    }
}
