import Logging
import LoupeModel
import LoupeStorage
import ServiceLifecycle
import Synchronization

/// When the log store cuts its heads into blocks, and how much block data a tenant keeps.
public struct LogMaintenanceOptions: Sendable, Equatable {
    /// Cut once the heads hold this many line bytes...
    public var flushBytes: Int
    /// ...or once the oldest head entry arrived this long ago (nanoseconds), so a quiet store
    /// still frees its WAL.
    public var flushAgeNanoseconds: UInt64
    /// Each tenant's block files stay under this many bytes (oldest go first), unless the store's
    /// `tenantRetention` gives the tenant a size of its own; nil: no limit.
    public var retentionBytesPerTenant: Int?

    public init(flushBytes: Int = 64 << 20, flushAgeNanoseconds: UInt64 = 15 * 60 * 1_000_000_000, retentionBytesPerTenant: Int? = nil) {
        self.flushBytes = max(1, flushBytes)
        self.flushAgeNanoseconds = flushAgeNanoseconds
        self.retentionBytesPerTenant = retentionBytesPerTenant
    }
}

/// What one log maintenance pass did.
public struct LogMaintenanceReport: Sendable, Equatable {
    public var cuts = 0
    public var blocksWritten = 0
    public var walBytesFreed = 0
    public var retentionBytesFreed = 0
    /// Entries removed by tenants' own retention periods.
    public var retentionEntriesRemoved = 0
    public var failures: [String] = []

    public init() {}
}

/// Keeps the log store's memory and the WAL bounded: cuts the heads into blocks (a WAL marker
/// first, under the cut gate, so every log record before the marker is in the cut), writes the
/// blocks, then records the checkpoint and deletes the WAL segments the blocks now hold.
public final class LogMaintenance: Sendable {
    let pipeline: IngestPipeline
    let options: LogMaintenanceOptions
    let logger: Logger
    /// A cut whose blocks are not all written yet: its checkpoint waits for them.
    private let awaitingCheckpoint = Mutex<LogCheckpoint?>(nil)
    /// When the heads were first seen holding entries since the last cut (wall ns).
    private let headSince = Mutex<UInt64?>(nil)

    public init(pipeline: IngestPipeline, options: LogMaintenanceOptions = LogMaintenanceOptions(), logger: Logger) {
        self.pipeline = pipeline
        self.options = options
        self.logger = logger
    }

    var store: LogStreamStore { pipeline.stores.logStreams }

    /// One pass at wall time `nowUnixNano`; `force` cuts whatever the heads hold (shutdown).
    @discardableResult
    public func runOnce(nowUnixNano: UInt64, force: Bool = false) async -> LogMaintenanceReport {
        var report = LogMaintenanceReport()
        report.retentionEntriesRemoved = store.applyTenantRetention(nowUnixNano: Int64(clamping: nowUnixNano))
        guard store.directory != nil else { return report }
        if await persistPending(&report) {
            let headBytes = store.headLineBytes
            let since = headSince.withLock { since -> UInt64? in
                if headBytes == 0 { since = nil } else if since == nil { since = nowUnixNano }
                return since
            }
            let old = since.map { nowUnixNano >= $0 && nowUnixNano - $0 >= options.flushAgeNanoseconds } ?? false
            if headBytes > 0 && (force || headBytes >= options.flushBytes || old) {
                await cut(&report)
            }
        }
        report.retentionBytesFreed = store.applySizeRetention(maximumBytesPerTenant: options.retentionBytesPerTenant)
        return report
    }

    /// Writes blocks still in memory and saves a waiting checkpoint; true when nothing is left pending.
    private func persistPending(_ report: inout LogMaintenanceReport) async -> Bool {
        let store = self.store
        do {
            report.blocksWritten += try await BlockingIO.run { try store.persistBlocks() }
        } catch {
            report.failures.append("writing a log block: \(error)")
            logger.error("could not write a log block; it stays in memory and is retried", metadata: ["error": "\(error)"])
            return false
        }
        guard let checkpoint = awaitingCheckpoint.withLock({ $0 }) else { return true }
        do {
            try store.saveCheckpoint(checkpoint)
            awaitingCheckpoint.withLock { $0 = nil }
        } catch {
            report.failures.append("saving the log checkpoint: \(error)")
            return false
        }
        do {
            report.walBytesFreed += try pipeline.truncateWAL()
        } catch {
            report.failures.append("truncating the WAL: \(error)")
        }
        return true
    }

    private func cut(_ report: inout LogMaintenanceReport) async {
        let wal = pipeline.wal
        let store = self.store
        // Random, not previous + 1: a cut interrupted before its checkpoint left its marker in the
        // WAL, and the next cut must not reuse that id.
        var next = LogCheckpoint(cutID: UInt64.random(in: 1...UInt64.max), walSegmentsBefore: 0)
        let cut: Bool = await pipeline.cutGate.exclusive { () async -> Bool in
            // Segments below the current one hold only records written before the marker.
            next.walSegmentsBefore = wal.currentSegmentSequence
            do {
                try await wal.append(WALRecord(
                    kind: .logHeadCut, tenant: .default, timeBounds: TimeBounds(), payload: HeadCheckpoint.markerPayload(cutID: next.cutID)))
            } catch {
                return false
            }
            store.cutHeads()
            return true
        }
        guard cut else {
            report.failures.append("writing the log-cut marker to the WAL failed")
            logger.error("could not write the log-cut marker to the WAL; the heads stay as they are")
            return
        }
        report.cuts += 1
        headSince.withLock { $0 = nil }
        awaitingCheckpoint.withLock { $0 = next }
        _ = await persistPending(&report)
    }
}

/// Runs `LogMaintenance` every `interval` on an injected clock, and once more at shutdown so the
/// heads are in blocks and the WAL is short when the process stops.
public struct LogMaintenanceService<C: Clock<Duration>>: Service {
    let maintenance: LogMaintenance
    let interval: Duration
    let clock: C
    let wallClock: WallClock

    public init(maintenance: LogMaintenance, interval: Duration = .seconds(10), clock: C, wallClock: WallClock = .system) {
        self.maintenance = maintenance
        self.interval = interval
        self.clock = clock
        self.wallClock = wallClock
    }

    public func run() async throws {
        while !Task.isCancelledOrShuttingDown {
            await maintenance.runOnce(nowUnixNano: wallClock.nowUnixNano())
            do {
                try await cancelWhenGracefulShutdown { try await clock.sleep(for: interval) }
            } catch {
                break
            }
        }
        if !Task.isCancelled {
            await maintenance.runOnce(nowUnixNano: wallClock.nowUnixNano(), force: true)
        }
    }
}
