#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Logging
import LoupeModel
import NIOPosix
import ServiceLifecycle
import Synchronization

/// When an append is acknowledged, relative to the disk.
public enum WALSyncPolicy: Sendable, Equatable {
    /// Acknowledge after `fdatasync`. Appends that queue up while one fsync is in flight share the
    /// next write and fsync (group commit). Nothing acknowledged is lost on power failure. The default.
    case groupCommit
    /// Acknowledge after `write(2)`; fsync every `Duration`. A process crash (kill -9) loses nothing
    /// acknowledged; a power failure may lose up to the interval.
    case interval(Duration)
    /// Acknowledge after `write(2)`; the OS writes back when it likes (and at segment rotation and
    /// shutdown). A process crash loses nothing acknowledged; a power failure may lose more.
    case never
}

public struct WALOptions: Sendable {
    public var syncPolicy: WALSyncPolicy
    /// A new segment is started when the next record would make the current one larger than this.
    public var segmentSizeBytes: Int
    /// The largest record (framing plus payload) `append` accepts; larger ones fail with `recordTooLarge`.
    public var maximumRecordBytes: Int
    /// With `.groupCommit`, zeros kept written and synced this far past the records, between
    /// commits, so that a commit's `fdatasync` has no file growth to journal (half the time on
    /// ext4). It costs up to this much disk per log and writes each WAL byte twice. 0 turns it off.
    public var reservedSpaceBytes: Int
    /// Called after every fsync of a segment (on the WAL's I/O thread; keep it cheap), e.g. to feed a
    /// latency histogram.
    public var fsyncObserver: (@Sendable (Duration) -> Void)?
    /// Called after every group commit (on the writer task), with its size and timings.
    public var groupCommitObserver: (@Sendable (WALGroupCommit) -> Void)?
    /// Tests only.
    var faultInjection: WALFaultInjection?

    public init(
        syncPolicy: WALSyncPolicy = .groupCommit,
        segmentSizeBytes: Int = 128 << 20,
        maximumRecordBytes: Int = 64 << 20,
        reservedSpaceBytes: Int = 1 << 20,
        fsyncObserver: (@Sendable (Duration) -> Void)? = nil,
        groupCommitObserver: (@Sendable (WALGroupCommit) -> Void)? = nil
    ) {
        self.syncPolicy = syncPolicy
        self.segmentSizeBytes = segmentSizeBytes
        self.maximumRecordBytes = maximumRecordBytes
        self.reservedSpaceBytes = reservedSpaceBytes
        self.fsyncObserver = fsyncObserver
        self.groupCommitObserver = groupCommitObserver
    }
}

/// One group commit: the records written together with one `pwritev` (per segment) and one fsync.
public struct WALGroupCommit: Sendable, Equatable {
    public var records: Int
    /// Bytes written, framing included.
    public var bytes: Int
    /// Time spent in `pwritev` (and segment rotation, if any).
    public var writeDuration: Duration
    /// Time spent in the fsync(s), or nil when this commit did not fsync (policies other than groupCommit).
    public var fsyncDuration: Duration?
    /// False when the commit failed and its waiters got the error.
    public var succeeded: Bool
}

/// Counters since the log was created; read them with ``WriteAheadLog/statistics``.
public struct WALStatistics: Sendable, Equatable {
    /// Appends acknowledged (durable per the sync policy).
    public var recordsAcknowledged = 0
    /// Bytes of acknowledged records, framing included.
    public var bytesAcknowledged = 0
    /// Appends that failed with an I/O error.
    public var recordsFailed = 0
    public var groupCommits = 0
    public var largestGroupCommit = 0
    public var fsyncs = 0
    public var fsyncTotalDuration: Duration = .zero
    public var fsyncMaximumDuration: Duration = .zero
    public var fsyncFailures = 0
    /// Zero bytes written ahead of the records (see `WALOptions.reservedSpaceBytes`).
    public var reservedBytes = 0

    public init() {}
}

/// A place where replay cut a segment short.
public struct WALTruncation: Sendable, Equatable {
    /// The segment file.
    public var segment: String
    /// Where the first unreadable record starts; the file now ends there.
    public var offset: Int
    public var discardedBytes: Int
    public var reason: String
    /// True for the last segment (a torn write after a crash: expected), false for an earlier one
    /// (corruption: logged as an error).
    public var isLastSegment: Bool
    /// Where the discarded bytes were saved, when they might have been data (see `WALReplayer`).
    public var quarantinePath: String?
    /// False if the truncation itself failed (logged; the next start tries again).
    public var truncated = false

    public init(segment: String, offset: Int, discardedBytes: Int, reason: String, isLastSegment: Bool, quarantinePath: String? = nil) {
        self.segment = segment
        self.offset = offset
        self.discardedBytes = discardedBytes
        self.reason = reason
        self.isLastSegment = isLastSegment
        self.quarantinePath = quarantinePath
    }
}

/// What ``WriteAheadLog/replay(_:)`` found.
public struct WALReplayReport: Sendable, Equatable {
    /// Intact records handed to the replay closure.
    public var records = 0
    /// Segments read (not counting removed or quarantined ones).
    public var segments = 0
    /// Bytes of the intact records, framing included.
    public var bytes = 0
    /// Every segment that was cut short, in order.
    public var repairs: [WALTruncation] = []
    /// Segment files removed because they were shorter than a header (created, never written).
    public var removedFiles: [String] = []
    /// Files the damaged parts were moved or copied to (`*.seg.corrupt`, `*.seg.corrupt-OFFSET`).
    public var quarantinedFiles: [String] = []

    public init() {}

    /// The truncation of the last segment's torn tail, if there was one.
    public var truncatedTail: WALTruncation? { repairs.last { $0.isLastSegment } }
}

/// The write-ahead log: every accepted request is appended here before it is acknowledged.
///
/// Use: `init` (creates the directory, takes its lock), `replay` once, then run the log as a
/// `Service` (or call `run()` in a task) and `append` from any number of tasks.
///
/// `run()` is the single writer. It takes everything queued, writes it with `pwritev` (headers and
/// payloads in place), fsyncs once, and resumes all those appends; whatever queues up meanwhile goes
/// into the next group. That loop runs on a thread of the log's own, never on Swift's cooperative
/// pool, and blocks there while nothing is queued.
public final class WriteAheadLog: Service, Sendable {
    public let directory: String
    public let options: WALOptions
    private let logger: Logger
    private let state: Mutex<State>
    /// Where the writer thread sleeps while nothing is queued (see `State.writerSleeping`).
    private let writerWakeup = DispatchSemaphore(value: 0)

    private struct Pending: Sendable {
        var record: WALEncodedRecord
        var ticket: WALCommitTicket
    }

    private enum Phase: Equatable {
        case idle, replaying, running, draining, finished
    }

    private struct State: Sendable {
        var phase: Phase = .idle
        var hasRun = false
        var pending: [Pending] = []
        var pendingBytes = 0
        var syncRequested = false
        /// The writer thread is (about to be) blocked on `writerWakeup`; whoever queues work
        /// clears this and signals it.
        var writerSleeping = false
        /// Segments no longer written to, oldest first.
        var closedSegments: [WALSegmentInfo] = []
        var activeSegment: WALSegmentInfo?
        var nextSequence: UInt64 = 1
        var statistics = WALStatistics()
        /// The directory lock, held from init until `run()` has finished (or deinit).
        var lockFD: Int32?
    }

    /// Opens (creating if needed) the log in `directory` and takes an exclusive lock on it
    /// (`LOCK` file, `flock`), so that two processes never write the same log.
    public init(directory: String, options: WALOptions = WALOptions(), logger: Logger) throws(StorageError) {
        guard options.segmentSizeBytes > 0, options.maximumRecordBytes > 0 else {
            throw StorageError(.misuse, "WAL segment and record size limits must be positive")
        }
        self.directory = directory
        self.options = options
        self.logger = logger
        try WALFiles.createDirectories(directory)

        let lockPath = WALFiles.join(directory, "LOCK")
        let fd = try WALFiles.open(lockPath, O_RDWR | O_CREAT)
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let error = errno
            close(fd)
            throw StorageError(
                .locked,
                "the write-ahead log in \(directory) is in use by another process (or another open WriteAheadLog)",
                path: lockPath,
                errno: error
            )
        }
        // Until replay says more, segments already on disk are known by size only; their time
        // bounds are unknown, which keeps them out of retention.
        var initial = State()
        initial.lockFD = fd
        do throws(StorageError) {
            for file in try WALFiles.listSegments(in: directory) {
                let segmentFD = try WALFiles.open(file.path, O_RDONLY)
                defer { close(segmentFD) }
                let size = try WALFiles.fileSize(segmentFD, path: file.path)
                initial.closedSegments.append(
                    WALSegmentInfo(sequence: file.sequence, path: file.path, size: size, records: 0, maximumTime: .max)
                )
                initial.nextSequence = file.sequence + 1
            }
        } catch {
            close(fd)
            throw error
        }
        self.state = Mutex(initial)
    }

    deinit {
        releaseLock()
    }

    /// Once the writer has finished, another instance may open the directory.
    private func releaseLock() {
        let fd = state.withLock { state -> Int32? in
            defer { state.lockFD = nil }
            return state.lockFD
        }
        if let fd { close(fd) }
    }

    // MARK: Replay

    /// Reads every intact record, oldest first, and repairs what a crash left (see `WALReplayer` for
    /// the exact policy: a torn or corrupt tail is truncated with a warning, never a crash).
    /// Call it once, before `run()`. Errors thrown by `body` end the replay and are rethrown.
    public func replay(_ body: (WALRecord) throws -> Void) throws -> WALReplayReport {
        try state.withLock { state throws(StorageError) in
            guard state.phase == .idle, !state.hasRun else {
                throw StorageError(.misuse, "WriteAheadLog.replay must be called before run()", path: directory)
            }
            state.phase = .replaying
        }
        defer { state.withLock { $0.phase = .idle } }

        let clock = ContinuousClock()
        let start = clock.now
        let result = try WALReplayer(directory: directory, logger: logger).replay(body)
        state.withLock { state in
            state.closedSegments = result.segments
            state.nextSequence = max(state.nextSequence, result.nextSequence)
        }
        logger.info(
            "replayed the write-ahead log",
            metadata: [
                "directory": "\(directory)", "records": "\(result.report.records)",
                "segments": "\(result.report.segments)", "bytes": "\(result.report.bytes)",
                "repairs": "\(result.report.repairs.count)", "duration": "\(clock.now - start)",
            ]
        )
        return result.report
    }

    // MARK: Append

    /// Appends a record and returns once it is durable according to the sync policy (for
    /// `.groupCommit`: written and fsynced). Safe to call from many tasks at once.
    ///
    /// Fails at once with `recordTooLarge` for records over `maximumRecordBytes`, with `closed` after
    /// shutdown, and with `io` if the group's write or fsync failed (the record was not acknowledged;
    /// the log stays usable). Appends made before `run()` starts wait for it. Cancelling the calling
    /// task does not withdraw a record that is already queued.
    public func append(_ record: WALRecord) async throws(StorageError) {
        try await enqueue(record).durable()
    }

    /// Queues a record and returns without waiting: `durable()` on the ticket waits for it as
    /// `append` does. Records are written in the order they were queued. Throws at once what
    /// `append` throws at once (`recordTooLarge`, `closed`).
    public func enqueue(_ record: WALRecord) throws(StorageError) -> WALCommitTicket {
        let header = try WALRecordCodec.encodeHeader(record, maximumRecordBytes: options.maximumRecordBytes)
        let encoded = WALEncodedRecord(header: header, payload: record.payload, maximumTime: record.timeBounds.maximum, kind: record.kind)
        let ticket = WALCommitTicket()
        let (accepted, wake) = state.withLock { state -> (Bool, Bool) in
            guard state.phase != .finished else { return (false, false) }
            state.pending.append(Pending(record: encoded, ticket: ticket))
            state.pendingBytes += encoded.size
            defer { state.writerSleeping = false }
            return (true, state.writerSleeping)
        }
        if wake { writerWakeup.signal() }
        guard accepted else { throw StorageError.closed(directory) }
        return ticket
    }

    // MARK: Run

    /// The writer loop. Returns after a graceful shutdown (or cancellation), once everything queued
    /// has been written, fsynced and its waiters resumed; appends after that fail with `closed`, and
    /// the directory lock is released (a new instance may replay the directory).
    public func run() async throws {
        try state.withLock { state throws(StorageError) in
            guard state.phase == .idle, !state.hasRun else {
                throw StorageError(.misuse, "WriteAheadLog.run() was called twice or during replay", path: directory)
            }
            state.phase = .running
            state.hasRun = true
        }
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withDiscardingTaskGroup { group in
                    if case .interval(let interval) = options.syncPolicy {
                        group.addTask {
                            while true {
                                do {
                                    try await Task.sleep(for: interval)
                                } catch {
                                    return
                                }
                                self.requestSync()
                            }
                        }
                    }
                    await writerLoop(pool)
                    group.cancelAll()
                }
            } onCancel: {
                self.beginShutdown()
            }
        } onGracefulShutdown: {
            self.beginShutdown()
        }
        try? await pool.shutdownGracefully()
        releaseLock()
    }

    private struct Work {
        var batch: [Pending]
        var syncRequested: Bool
        var isFinal: Bool
    }

    /// Runs the writer on the pool's thread until the log is finished. The whole loop stays on
    /// that thread: bouncing between it and Swift's cooperative pool after every fsync made the
    /// next group wait until a cooperative thread was free, and those are busy decoding requests.
    private func writerLoop(_ pool: NIOThreadPool) async {
        await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
            pool.submit { _ in
                // `.cancelled` only happens if the pool is not running; the loop then runs right
                // here, which still beats not running it.
                self.runWriter()
                finished.resume()
            }
        }
    }

    /// The writer loop proper (blocking): take what is queued, write and fsync it, resume its appends.
    private func runWriter() {
        let initialSequence = state.withLock { $0.nextSequence }
        var writer = WALSegmentWriter(
            directory: directory,
            segmentSizeBytes: options.segmentSizeBytes,
            nextSequence: initialSequence,
            logger: logger,
            reservationBytes: options.syncPolicy == .groupCommit ? options.reservedSpaceBytes : 0,
            faults: options.faultInjection
        )
        let policy = options.syncPolicy
        while true {
            let work = nextWork()
            let records = work.batch.map(\.record)
            let sync: Bool
            switch policy {
            case .groupCommit: sync = !records.isEmpty
            case .interval: sync = work.syncRequested
            case .never: sync = false
            }
            var outcome = writer.commit(records, sync: sync)
            var closing: WALSegmentWriter.Outcome?
            if work.isFinal {
                // Shutdown: make everything acknowledged under any policy durable, then close.
                closing = writer.close(sync: true)
            }
            for duration in outcome.syncDurations + (closing?.syncDurations ?? []) {
                options.fsyncObserver?(duration)
            }
            outcome.active = writer.active?.info
            publish(work.batch, outcome, closing)
            if work.isFinal { return }
            // Between commits, so that only appends queued meanwhile wait for it.
            var reservation = writer.reserveAhead()
            if reservation.reservedBytes > 0 || !reservation.closed.isEmpty {
                for duration in reservation.syncDurations { options.fsyncObserver?(duration) }
                reservation.active = writer.active?.info
                publish([], reservation, nil)
            }
        }
    }

    /// Blocks until there is something to do: appends to write, a periodic sync, or the shutdown.
    private func nextWork() -> Work {
        while true {
            let work = state.withLock { state -> Work? in
                if !state.pending.isEmpty || state.syncRequested {
                    var batch: [Pending] = []
                    batch.reserveCapacity(max(state.pending.count, 64))
                    swap(&batch, &state.pending)
                    state.pendingBytes = 0
                    let syncRequested = state.syncRequested
                    state.syncRequested = false
                    return Work(batch: batch, syncRequested: syncRequested, isFinal: false)
                }
                if state.phase == .draining {
                    // Nothing is queued and nothing more will be: appends from now on fail with `closed`.
                    state.phase = .finished
                    return Work(batch: [], syncRequested: true, isFinal: true)
                }
                state.writerSleeping = true
                return nil
            }
            if let work { return work }
            writerWakeup.wait()
        }
    }

    private func wakeWriter(_ change: (inout State) -> Void) {
        let wake = state.withLock { state -> Bool in
            change(&state)
            defer { state.writerSleeping = false }
            return state.writerSleeping
        }
        if wake { writerWakeup.signal() }
    }

    private func requestSync() {
        wakeWriter { $0.syncRequested = true }
    }

    private func beginShutdown() {
        wakeWriter { state in
            if state.phase == .running { state.phase = .draining }
        }
    }

    /// Publishes a commit: segment list, statistics, observers, and the waiters' results.
    private func publish(_ batch: [Pending], _ outcome: WALSegmentWriter.Outcome, _ closing: WALSegmentWriter.Outcome?) {
        let syncDurations = outcome.syncDurations + (closing?.syncDurations ?? [])
        let fsyncFailures = outcome.syncFailures + (closing?.syncFailures ?? 0)
        state.withLock { state in
            state.closedSegments.append(contentsOf: outcome.closed)
            if let closing { state.closedSegments.append(contentsOf: closing.closed) }
            state.activeSegment = closing == nil ? outcome.active : nil
            var statistics = state.statistics
            if !batch.isEmpty {
                statistics.groupCommits += 1
                statistics.largestGroupCommit = max(statistics.largestGroupCommit, batch.count)
                switch outcome.result {
                case .success:
                    statistics.recordsAcknowledged += batch.count
                    statistics.bytesAcknowledged += outcome.bytesWritten
                case .failure:
                    statistics.recordsFailed += batch.count
                }
            }
            for duration in syncDurations {
                statistics.fsyncs += 1
                statistics.fsyncTotalDuration += duration
                statistics.fsyncMaximumDuration = max(statistics.fsyncMaximumDuration, duration)
            }
            statistics.fsyncFailures += fsyncFailures
            statistics.reservedBytes += outcome.reservedBytes
            state.statistics = statistics
        }

        if case .failure(let error) = outcome.result {
            if batch.isEmpty {
                // A periodic fsync (interval policy) failed: records acknowledged since the last one
                // may not survive a power failure.
                logger.error("periodic WAL fsync failed", metadata: ["error": "\(error)"])
            } else {
                logger.error(
                    "WAL group commit failed; its appends are not acknowledged",
                    metadata: ["records": "\(batch.count)", "error": "\(error)"]
                )
            }
        }
        if let closing, case .failure(let error) = closing.result {
            logger.error("final WAL fsync at shutdown failed", metadata: ["error": "\(error)"])
        }
        if let observer = options.groupCommitObserver, !batch.isEmpty {
            let succeeded: Bool
            if case .success = outcome.result { succeeded = true } else { succeeded = false }
            observer(
                WALGroupCommit(
                    records: batch.count,
                    bytes: outcome.bytesWritten,
                    writeDuration: outcome.writeDuration,
                    fsyncDuration: outcome.syncDurations.isEmpty ? nil : outcome.syncDurations.reduce(.zero, +),
                    succeeded: succeeded
                )
            )
        }
        for pending in batch {
            pending.ticket.finish(outcome.result)
        }
    }

    // MARK: Retention and introspection

    /// Deletes closed segments whose every record has `timeBounds.maximum < cutoffUnixNano`.
    /// The segment being written is never deleted, nor segments found on disk that were not replayed.
    /// Returns the bytes freed. Fails with `closed` once `run()` has finished.
    public func removeSegments(olderThan cutoffUnixNano: UInt64) throws(StorageError) -> Int {
        try removeClosedSegments(reason: "expired") { $0.maximumTime < cutoffUnixNano }
    }

    /// Deletes closed segments numbered below `sequence` that hold only records of `kinds`, all with
    /// `timeBounds.maximum < cutoffUnixNano`: what a store has made durable elsewhere (TSDB blocks).
    /// Returns the bytes freed.
    public func removeSegments(
        before sequence: UInt64, containingOnly kinds: Set<WALRecordKind>, olderThan cutoffUnixNano: UInt64
    ) throws(StorageError) -> Int {
        let allowed = kinds.reduce(UInt32(0)) { $0 | 1 << UInt32($1.rawValue) }
        return try removeClosedSegments(reason: "persisted elsewhere") { segment in
            segment.sequence < sequence && segment.kinds & ~allowed == 0 && segment.maximumTime < cutoffUnixNano
        }
    }

    /// Deletes closed segments in which every record's kind is covered: a coverage applies to
    /// segments numbered below its `before` whose records are all older than its `olderThan`,
    /// and covers its `kinds` (what one store has made durable elsewhere). Stores that share a
    /// segment free it together. Returns the bytes freed.
    public func removeSegments(coveredBy coverages: [WALSegmentCoverage]) throws(StorageError) -> Int {
        let masks = coverages.map { coverage in (coverage, coverage.kinds.reduce(UInt32(0)) { $0 | 1 << UInt32($1.rawValue) }) }
        return try removeClosedSegments(reason: "persisted elsewhere") { segment in
            var covered: UInt32 = 0
            for (coverage, mask) in masks where segment.sequence < coverage.before && segment.maximumTime < coverage.olderThan {
                covered |= mask
            }
            return segment.kinds & ~covered == 0
        }
    }

    /// The number of the segment being written (or the next one): records appended from now on land
    /// in it or later ones.
    public var currentSegmentSequence: UInt64 {
        state.withLock { $0.activeSegment?.sequence ?? $0.nextSequence }
    }

    private func removeClosedSegments(reason: String, _ predicate: (WALSegmentInfo) -> Bool) throws(StorageError) -> Int {
        let expired = try state.withLock { state throws(StorageError) -> [WALSegmentInfo] in
            // After shutdown the directory may belong to another instance already.
            guard state.lockFD != nil else { throw .closed(directory) }
            var expired: [WALSegmentInfo] = []
            state.closedSegments.removeAll { segment in
                guard predicate(segment) else { return false }
                expired.append(segment)
                return true
            }
            return expired
        }
        guard !expired.isEmpty else { return 0 }
        var freed = 0
        var firstError: StorageError?
        var failed: [WALSegmentInfo] = []
        for segment in expired {
            do throws(StorageError) {
                try WALFiles.unlink(segment.path)
                freed += segment.size
            } catch {
                firstError = firstError ?? error
                failed.append(segment)
            }
        }
        if !failed.isEmpty {
            state.withLock { state in
                state.closedSegments.append(contentsOf: failed)
                state.closedSegments.sort { $0.sequence < $1.sequence }
            }
        }
        logger.debug(
            "removed WAL segments",
            metadata: ["reason": "\(reason)", "count": "\(expired.count - failed.count)", "bytes": "\(freed)"]
        )
        do throws(StorageError) {
            try WALFiles.syncDirectory(directory)
        } catch {
            firstError = firstError ?? error
        }
        if let firstError { throw firstError }
        return freed
    }

    /// Bytes in segment files (closed and active), as last written.
    public var diskUsageBytes: Int {
        state.withLock { state in
            state.closedSegments.reduce(0) { $0 + $1.size } + (state.activeSegment?.size ?? 0)
        }
    }

    /// Number of segment files (closed and active).
    public var segmentCount: Int {
        state.withLock { $0.closedSegments.count + ($0.activeSegment == nil ? 0 : 1) }
    }

    /// Appends queued and not yet written (a gauge of back-pressure).
    public var queuedAppends: (records: Int, bytes: Int) {
        state.withLock { ($0.pending.count, $0.pendingBytes) }
    }

    public var statistics: WALStatistics {
        state.withLock { $0.statistics }
    }
}

/// What a store has made durable outside the WAL: records of `kinds` in segments numbered below
/// `before`, when every record of the segment is older than `olderThan` (ns since the epoch).
public struct WALSegmentCoverage: Sendable, Equatable {
    public var before: UInt64
    public var kinds: Set<WALRecordKind>
    public var olderThan: UInt64

    public init(before: UInt64, kinds: Set<WALRecordKind>, olderThan: UInt64 = .max) {
        self.before = before
        self.kinds = kinds
        self.olderThan = olderThan
    }
}
