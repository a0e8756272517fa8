import Logging
import LoupeModel
import LoupeStorage
import ServiceLifecycle
import Synchronization

public typealias LogMaintenanceOptions = HeadMaintenanceOptions

/// When a store cuts its heads into blocks, and how much block data a tenant keeps.
public struct HeadMaintenanceOptions: Sendable, Equatable {
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

public typealias LogMaintenanceReport = HeadMaintenanceReport

/// What one maintenance pass did.
public struct HeadMaintenanceReport: Sendable, Equatable {
    public var cuts = 0
    public var blocksWritten = 0
    public var walBytesFreed = 0
    public var retentionBytesFreed = 0
    /// Entries removed by tenants' own retention periods.
    public var retentionEntriesRemoved = 0
    public var failures: [String] = []

    public init() {}
}

/// A store whose head is cut into blocks on disk, after which the WAL records it came from can go.
public protocol HeadCuttingStore: Sendable {
    associatedtype Checkpoint: Sendable
    /// What the store holds (for log lines and messages).
    static var contents: String { get }
    /// The WAL record that marks a cut.
    static var cutMarker: WALRecordKind { get }
    var directory: String? { get }
    /// Bytes in the heads, not yet cut.
    var headBytes: Int { get }
    /// Moves the heads aside to be written, under the cut gate right after the marker, and
    /// returns the checkpoint to record once they are.
    func cut(cutID: UInt64, walSegmentsBefore: UInt64) -> Checkpoint
    func persistBlocks() throws(StorageError) -> Int
    func saveCheckpoint(_ checkpoint: Checkpoint) throws(StorageError)
    /// Applies tenants' own retention periods; returns what was removed.
    func applyTenantRetention(nowUnixNano: Int64) -> Int
    /// Returns the bytes freed.
    func applySizeRetention(maximumBytesPerTenant: Int?) -> Int
}

extension LogStreamStore: HeadCuttingStore {
    public static var contents: String { "log" }
    public static var cutMarker: WALRecordKind { .logHeadCut }
    public var headBytes: Int { headLineBytes }

    public func cut(cutID: UInt64, walSegmentsBefore: UInt64) -> LogCheckpoint {
        cutHeads()
        return LogCheckpoint(cutID: cutID, walSegmentsBefore: walSegmentsBefore)
    }
}

extension TraceSpanStore: HeadCuttingStore {
    public static var contents: String { "trace" }
    public static var cutMarker: WALRecordKind { .traceHeadCut }

    public func cut(cutID: UInt64, walSegmentsBefore: UInt64) -> TraceCheckpoint {
        TraceCheckpoint(cutID: cutID, walSegmentsBefore: walSegmentsBefore, sequence: cutHeads())
    }

    /// Trace retention is global (the retention service); nothing per tenant.
    public func applyTenantRetention(nowUnixNano: Int64) -> Int { 0 }
}

public typealias LogMaintenance = HeadMaintenance<LogStreamStore>
public typealias TraceMaintenance = HeadMaintenance<TraceSpanStore>

extension HeadMaintenance where Store == LogStreamStore {
    public convenience init(pipeline: IngestPipeline, options: HeadMaintenanceOptions = HeadMaintenanceOptions(), logger: Logger) {
        self.init(pipeline: pipeline, store: pipeline.stores.logStreams, options: options, logger: logger)
    }
}

extension HeadMaintenance where Store == TraceSpanStore {
    public convenience init(pipeline: IngestPipeline, traceOptions options: HeadMaintenanceOptions, logger: Logger) {
        self.init(pipeline: pipeline, store: pipeline.stores.traceSpans, options: options, logger: logger)
    }
}

/// Keeps a store's memory and the WAL bounded: cuts the heads into blocks (a WAL marker first,
/// under the cut gate, so every record before the marker is in the cut), writes the blocks, then
/// records the checkpoint and deletes the WAL segments the blocks now hold.
public final class HeadMaintenance<Store: HeadCuttingStore>: Sendable {
    let pipeline: IngestPipeline
    let store: Store
    let options: HeadMaintenanceOptions
    let logger: Logger
    /// A cut whose blocks are not all written yet: its checkpoint waits for them.
    private let awaitingCheckpoint = Mutex<Store.Checkpoint?>(nil)
    /// When the heads were first seen holding entries since the last cut (wall ns).
    private let headSince = Mutex<UInt64?>(nil)

    public init(pipeline: IngestPipeline, store: Store, options: HeadMaintenanceOptions = HeadMaintenanceOptions(), logger: Logger) {
        self.pipeline = pipeline
        self.store = store
        self.options = options
        self.logger = logger
    }

    /// One pass at wall time `nowUnixNano`; `force` cuts whatever the heads hold (shutdown).
    @discardableResult
    public func runOnce(nowUnixNano: UInt64, force: Bool = false) async -> HeadMaintenanceReport {
        var report = HeadMaintenanceReport()
        report.retentionEntriesRemoved = store.applyTenantRetention(nowUnixNano: Int64(clamping: nowUnixNano))
        guard store.directory != nil else { return report }
        if await persistPending(&report) {
            let headBytes = store.headBytes
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
    private func persistPending(_ report: inout HeadMaintenanceReport) async -> Bool {
        let store = self.store
        do {
            report.blocksWritten += try await BlockingIO.run { try store.persistBlocks() }
        } catch {
            report.failures.append("writing a \(Store.contents) block: \(error)")
            logger.error("could not write a \(Store.contents) block; it stays in memory and is retried", metadata: ["error": "\(error)"])
            return false
        }
        guard let checkpoint = awaitingCheckpoint.withLock({ $0 }) else { return true }
        do {
            try store.saveCheckpoint(checkpoint)
            awaitingCheckpoint.withLock { $0 = nil }
        } catch {
            report.failures.append("saving the \(Store.contents) checkpoint: \(error)")
            return false
        }
        do {
            report.walBytesFreed += try pipeline.truncateWAL()
        } catch {
            report.failures.append("truncating the WAL: \(error)")
        }
        return true
    }

    private func cut(_ report: inout HeadMaintenanceReport) async {
        let wal = pipeline.wal(for: Store.cutMarker.signal)
        let store = self.store
        // Random, not previous + 1: a cut interrupted before its checkpoint left its marker in the
        // WAL, and the next cut must not reuse that id.
        let cutID = UInt64.random(in: 1...UInt64.max)
        let next: Store.Checkpoint? = await pipeline.cutGate.exclusive { () async -> Store.Checkpoint? in
            // Segments below the current one hold only records written before the marker.
            let walSegmentsBefore = wal.currentSegmentSequence
            do {
                try await wal.append(WALRecord(
                    kind: Store.cutMarker, tenant: .default, timeBounds: TimeBounds(), payload: HeadCheckpoint.markerPayload(cutID: cutID)))
            } catch {
                return nil
            }
            return store.cut(cutID: cutID, walSegmentsBefore: walSegmentsBefore)
        }
        guard let next else {
            report.failures.append("writing the \(Store.contents)-cut marker to the WAL failed")
            logger.error("could not write the \(Store.contents)-cut marker to the WAL; the heads stay as they are")
            return
        }
        report.cuts += 1
        headSince.withLock { $0 = nil }
        awaitingCheckpoint.withLock { $0 = next }
        _ = await persistPending(&report)
    }
}

/// Runs a `HeadMaintenance` every `interval` on an injected clock, and once more at shutdown so the
/// heads are in blocks and the WAL is short when the process stops.
public typealias LogMaintenanceService<C: Clock<Duration>> = HeadMaintenanceService<LogStreamStore, C>

public struct HeadMaintenanceService<Store: HeadCuttingStore, C: Clock<Duration>>: Service {
    let maintenance: HeadMaintenance<Store>
    let interval: Duration
    let clock: C
    let wallClock: WallClock

    /// How often, between passes, the head is looked at: one that reaches the flush size is cut
    /// then, not up to `interval` later. Under a high ingest rate a second's wait let the head grow
    /// to the unflushed limit, and writes stalled for as long as the oversized cut took to write.
    let fullHeadCheck: Duration

    public init(
        maintenance: HeadMaintenance<Store>, interval: Duration = .seconds(10), clock: C, wallClock: WallClock = .system,
        fullHeadCheck: Duration = .milliseconds(50)
    ) {
        self.maintenance = maintenance
        self.interval = interval
        self.clock = clock
        self.wallClock = wallClock
        self.fullHeadCheck = fullHeadCheck
    }

    public func run() async throws {
        while !Task.isCancelledOrShuttingDown {
            let report = await maintenance.runOnce(nowUnixNano: wallClock.nowUnixNano())
            // A head that filled while the last cut was written is cut at once: under a high
            // rate, writes wait on the unflushed limit, and a pause here would stall them.
            if report.cuts > 0 && maintenance.store.headBytes >= maintenance.options.flushBytes { continue }
            let maintenance = self.maintenance
            do {
                try await Self.pause(for: interval, checkingEvery: fullHeadCheck, on: clock) {
                    maintenance.store.headBytes >= maintenance.options.flushBytes
                }
            } catch {
                break
            }
        }
        if !Task.isCancelled {
            await maintenance.runOnce(nowUnixNano: wallClock.nowUnixNano(), force: true)
        }
    }

    /// Sleeps for `interval` on `clock`, or less: it returns after the first step of `step` at
    /// which `headIsFull` holds. Throws when cancelled or at graceful shutdown.
    static func pause(
        for interval: Duration, checkingEvery step: Duration, on clock: C, headIsFull: @Sendable () -> Bool
    ) async throws {
        let step = max(min(step, interval), .milliseconds(1))
        var waited = Duration.zero
        while waited < interval {
            let slice = min(step, interval - waited)
            try await cancelWhenGracefulShutdown { try await clock.sleep(for: slice) }
            waited += slice
            if headIsFull() { return }
        }
    }
}
