import Foundation
import LoupeCollect
import LoupeModel
import Synchronization

/// Follows every container log file under a root (`<root>/<namespace>_<pod>_<uid>/<container>/N.log`):
/// reads what was appended, joins split lines, makes log records, and keeps where it is.
///
/// Reading and committing are separate: `harvest` reads on from the committed positions without
/// moving them; `commit` moves them once the records are safely stored (queued), and saves the
/// checkpoints. So a failure to store leaves everything to be read again, and a crash between
/// storing and committing only repeats (never loses) lines.
///
/// Rotation by rename: the open descriptor still reads the old file, which is drained before the
/// new file at the path is read from its start (also across restarts: a checkpointed inode found
/// under a rotated name in the same directory is drained first). Copytruncate: a file shorter than
/// the position is read again from its start.
final class ContainerLogTail {
    struct Options {
        var root: String
        var checkpointPath: String
        var admits: @Sendable (PodLogPath) -> Bool = { _ in true }
        var keepOriginalBody = true
        var resource = ContainerResource()
        /// What the Kubernetes API says of this node's pods (labels, workloads), when it is watched.
        var pods: PodDirectory?
        /// Bytes read from one file per harvest.
        var chunkBytes = 512 << 10
        /// Bytes of records per harvest, over all files. Each harvest costs three fsyncs (the queue,
        /// the checkpoint file and its directory): at full rate 4 MiB harvests read 1.27 times as
        /// fast as 2 MiB ones; a request stays about 6 MB of protobuf before compression.
        var harvestBytes = 4 << 20
        var maximumLineBytes = 1 << 20
        /// Records go straight to protobuf (no transform or filter rule needs them as values).
        var encodeDirectly = false
    }

    /// One followed file: where its committed position is, and what reading needs to go on.
    struct Follow: Sendable {
        var path: String
        var pod: PodLogPath
        var fd: Int32
        var device: UInt64
        var inode: UInt64
        /// Bytes read and turned into records (or pending pieces).
        var offset = 0
        /// Where a restart would have to read again from: the first piece still pending, or `offset`.
        var checkpointOffset = 0
        var pendingStart: Int?
        /// The joiner holds a piece that `checkpointOffset` cannot read again (from a file rotated
        /// away or truncated): the checkpoint carries the pieces themselves.
        var carriesPending = false
        var format: ContainerLogLine.Format?
        var joiner: PartialLineJoiner
        var resource: Resource
        /// An older file of this path (renamed by rotation), drained before this one.
        var retiring: Retiring?
    }

    struct Retiring: Sendable {
        var fd: Int32
        var device: UInt64
        var inode: UInt64
        var offset: Int
    }

    /// What one harvest read: records per file, and the positions to commit once they are stored.
    struct Harvest {
        var logs = LogsData()
        /// `ResourceLogs` messages (with their tags) of directly encoded records, and how many
        /// records each holds.
        var encoded: [(bytes: [UInt8], records: Int)] = []
        var records = 0
        var bytes = 0
        fileprivate var follows: [String: Follow] = [:]
        fileprivate var gone: [String] = []
        var isEmpty: Bool { records == 0 && follows.isEmpty && gone.isEmpty }

        fileprivate mutating func add(_ sink: FileReader.RecordSink, resource: Resource) {
            guard sink.count > 0 else { return }
            if !sink.encoded.isEmpty { encoded.append((ContainerLogEncoder.resourceLogs(resource: resource, records: sink.encoded), sink.count)) }
            if !sink.values.isEmpty { logs.resourceLogs.append(ResourceLogs(resource: resource, scopeLogs: [ScopeLogs(logRecords: sink.values)])) }
            records += sink.count
        }
    }

    let options: Options
    private var follows: [String: Follow] = [:]
    private var checkpoints: TailCheckpoints
    private let builder: ContainerLogRecordBuilder
    /// Where the next harvest starts in the list of files.
    private var nextFile = 0
    /// Lines that were not in the file's format, passed on as they were.
    private(set) var unparsedLines = 0

    init(options: Options) throws {
        self.options = options
        checkpoints = try TailCheckpoints.load(options.checkpointPath)
        builder = ContainerLogRecordBuilder(keepOriginalBody: options.keepOriginalBody)
    }

    deinit {
        for follow in follows.values {
            close(follow.fd)
            if let retiring = follow.retiring { close(retiring.fd) }
        }
    }

    /// The pod log files under the root that the options admit.
    func logFiles() -> [(path: String, pod: PodLogPath)] {
        let manager = FileManager.default
        var result: [(String, PodLogPath)] = []
        for podDirectory in (try? manager.contentsOfDirectory(atPath: options.root)) ?? [] {
            let podPath = options.root + "/" + podDirectory
            for container in (try? manager.contentsOfDirectory(atPath: podPath)) ?? [] {
                let containerPath = podPath + "/" + container
                for file in (try? manager.contentsOfDirectory(atPath: containerPath)) ?? [] where file.hasSuffix(".log") {
                    let path = containerPath + "/" + file
                    if let pod = PodLogPath(path), options.admits(pod) { result.append((path, pod)) }
                }
            }
        }
        return result.sorted { $0.0 < $1.0 }
    }

    /// Reads what is new in the files, without committing: a few files per harvest (about
    /// `harvestBytes` of reading), taken in turn so every file is served; the files of one harvest
    /// are read and parsed in parallel.
    func harvest(nowUnixNano: UInt64) -> Harvest {
        var harvest = Harvest()
        let files = logFiles()
        let present = Set(files.map(\.path))
        let perHarvest = max(1, options.harvestBytes / max(1, options.chunkBytes))
        var work: [(path: String, follow: Follow)] = []
        if !files.isEmpty {
            let start = nextFile % files.count
            for offset in 0..<min(files.count, perHarvest) {
                let (path, pod) = files[(start + offset) % files.count]
                if let known = follows[path] {
                    work.append((path, known))
                } else if let opened = open(path: path, pod: pod) {
                    work.append((path, opened))
                }
            }
            nextFile = (start + min(files.count, perHarvest)) % files.count
        }
        // The resource is made again each time: the API's view of a pod arrives after its first lines.
        for index in work.indices {
            let pod = work[index].follow.pod
            work[index].follow.resource = options.resource.resource(for: pod, pod: options.pods?.pod(uid: pod.uid))
        }
        let reader = FileReader(
            chunkBytes: options.chunkBytes, builder: builder,
            encoder: options.encodeDirectly ? ContainerLogEncoder(keepOriginalBody: options.keepOriginalBody) : nil)
        let results = Mutex([FileReader.Outcome?](repeating: nil, count: work.count))
        let read: @Sendable (Int) -> Void = { [work] index in
            var follow = work[index].follow
            let outcome = reader.read(&follow, nowUnixNano: nowUnixNano)
            results.withLock { $0[index] = outcome }
        }
        if work.count > 1 {
            DispatchQueue.concurrentPerform(iterations: work.count, execute: read)
        } else if work.count == 1 {
            read(0)
        }
        for (index, outcome) in results.withLock({ $0 }).enumerated() {
            guard let outcome else { continue }
            let path = work[index].path
            unparsedLines += outcome.unparsed
            harvest.bytes += outcome.bytes
            harvest.add(outcome.records, resource: outcome.follow.resource)
            if !sameState(outcome.follow, follows[path]) { harvest.follows[path] = outcome.follow }
        }
        // Files gone (the pod was deleted): what is left in their descriptors is read, then they are let go.
        for (path, known) in follows where !present.contains(path) {
            var follow = known
            let outcome = reader.read(&follow, nowUnixNano: nowUnixNano, pathGone: true)
            harvest.add(outcome.records, resource: outcome.follow.resource)
            harvest.gone.append(path)
        }
        return harvest
    }

    private func sameState(_ a: Follow, _ b: Follow?) -> Bool {
        guard let b else { return false }
        return a.fd == b.fd && a.offset == b.offset && a.checkpointOffset == b.checkpointOffset && a.retiring?.offset == b.retiring?.offset
            && (a.retiring == nil) == (b.retiring == nil)
    }

    /// Moves the positions of a stored harvest on and saves the checkpoints.
    func commit(_ harvest: Harvest) throws {
        for (path, follow) in harvest.follows {
            if let old = follows[path], old.fd != follow.fd { close(old.fd) }
            if let oldRetiring = follows[path]?.retiring, oldRetiring.fd != follow.retiring?.fd, oldRetiring.fd != follow.fd {
                close(oldRetiring.fd)
            }
            follows[path] = follow
            // While a rotated file is drained, a restart must drain it on: its place is the checkpoint.
            let carried = follow.carriesPending
                ? follow.joiner.pendingPieces.map { TailCheckpoints.Piece(time: $0.timeUnixNano, stream: $0.stream.rawValue, text: $0.text) } : nil
            checkpoints.files[path] = follow.retiring.map { TailCheckpoints.Entry(device: $0.device, inode: $0.inode, offset: $0.offset, carried: carried) }
                ?? TailCheckpoints.Entry(device: follow.device, inode: follow.inode, offset: follow.checkpointOffset, carried: carried)
        }
        for path in harvest.gone {
            if let follow = follows.removeValue(forKey: path) {
                close(follow.fd)
                if let retiring = follow.retiring { close(retiring.fd) }
            }
            checkpoints.files[path] = nil
        }
        if !harvest.follows.isEmpty || !harvest.gone.isEmpty { try checkpoints.save(options.checkpointPath) }
    }

    /// Lets go of a harvest that could not be stored: descriptors it opened are closed.
    func discard(_ harvest: Harvest) {
        for (path, follow) in harvest.follows {
            if follows[path]?.fd != follow.fd { close(follow.fd) }
            if let retiring = follow.retiring, follows[path]?.retiring?.fd != retiring.fd, follows[path]?.fd != retiring.fd { close(retiring.fd) }
        }
    }

    static func identity(_ fd: Int32) -> (device: UInt64, inode: UInt64, size: Int)? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino), Int(info.st_size))
    }

    static func identity(path: String) -> (device: UInt64, inode: UInt64, size: Int)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino), Int(info.st_size))
    }

    /// Opens a file first seen now: from its checkpoint when it is the same file, after draining
    /// the checkpointed file from its rotated name when the path now holds a new one.
    private func open(path: String, pod: PodLogPath) -> Follow? {
        let fd = Foundation.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0, let identity = Self.identity(fd) else {
            if fd >= 0 { close(fd) }
            return nil
        }
        var follow = Follow(
            path: path, pod: pod, fd: fd, device: identity.device, inode: identity.inode, joiner: PartialLineJoiner(maximumBytes: options.maximumLineBytes),
            resource: options.resource.resource(for: pod))
        if let checkpoint = checkpoints.files[path] {
            if let carried = checkpoint.carried, !carried.isEmpty {
                follow.joiner.restore(carried.map { piece in
                    ContainerLogLine(timeUnixNano: piece.time, stream: ContainerLogLine.Stream(rawValue: piece.stream) ?? .stdout, partial: true, text: piece.text)
                })
                follow.carriesPending = true
            }
            if checkpoint.device == identity.device && checkpoint.inode == identity.inode {
                follow.offset = checkpoint.offset <= identity.size ? checkpoint.offset : 0
                follow.checkpointOffset = follow.offset
            } else if let rotated = findRotated(directory: (path as NSString).deletingLastPathComponent, device: checkpoint.device, inode: checkpoint.inode) {
                follow.retiring = Retiring(fd: rotated, device: checkpoint.device, inode: checkpoint.inode, offset: checkpoint.offset)
            }
        }
        return follow
    }

    private func findRotated(directory: String, device: UInt64, inode: UInt64) -> Int32? {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where !name.hasSuffix(".gz") {
            let candidate = directory + "/" + name
            if let identity = Self.identity(path: candidate), identity.device == device, identity.inode == inode {
                let fd = Foundation.open(candidate, O_RDONLY | O_CLOEXEC)
                return fd >= 0 ? fd : nil
            }
        }
        return nil
    }
}

/// Reads one followed file on: lines, joined pieces, records. A value, so the files of a harvest
/// are read on several threads at once.
struct FileReader: Sendable {
    struct Outcome: Sendable {
        var follow: ContainerLogTail.Follow
        var records: RecordSink
        var bytes: Int
        var unparsed: Int
    }

    /// A file's records: as values (for pipelines whose rules need them) or already encoded.
    struct RecordSink: Sendable {
        var values: [LogRecord] = []
        var encoded: [UInt8] = []
        var count = 0
        var scratch = ContainerLogEncoder.Scratch()

        mutating func add(_ line: ContainerLogLine, observedUnixNano: UInt64, builder: ContainerLogRecordBuilder, encoder: ContainerLogEncoder?) {
            if let encoder {
                encoder.appendRecord(line, observedUnixNano: observedUnixNano, to: &encoded, scratch: &scratch)
            } else {
                values.append(builder.record(line, observedUnixNano: observedUnixNano))
            }
            count += 1
        }
    }

    typealias Follow = ContainerLogTail.Follow
    typealias Retiring = ContainerLogTail.Retiring
    let chunkBytes: Int
    let builder: ContainerLogRecordBuilder
    /// Set when records go straight to protobuf (no rule needs them as values).
    let encoder: ContainerLogEncoder?

    /// Reads on in one file from `follow`'s position: its records and where it got to.
    func read(_ follow: inout Follow, nowUnixNano: UInt64, pathGone: Bool = false) -> Outcome {
        var records = RecordSink()
        var bytes = 0
        var unparsed = 0
        readFile(&follow, into: &records, bytes: &bytes, unparsed: &unparsed, nowUnixNano: nowUnixNano, pathGone: pathGone)
        if pathGone {
            for line in follow.joiner.flush() { records.add(line, observedUnixNano: nowUnixNano, builder: builder, encoder: encoder) }
        }
        return Outcome(follow: follow, records: records, bytes: bytes, unparsed: unparsed)
    }

    private func readFile(
        _ follow: inout Follow, into records: inout RecordSink, bytes: inout Int, unparsed: inout Int, nowUnixNano: UInt64, pathGone: Bool
    ) {
        // A rotated-away file first, to its end.
        if var retiring = follow.retiring {
            var ignoredPending: Int?
            let drained = readLines(fd: retiring.fd, from: &retiring.offset, follow: &follow, pendingStart: &ignoredPending, records: &records, bytes: &bytes, unparsed: &unparsed, nowUnixNano: nowUnixNano)
            follow.retiring = retiring
            // The retiring file's place is past its pieces: a piece waiting is saved itself.
            follow.carriesPending = follow.joiner.hasPending
            // Drained and not growing any more: the runtime writes to the new file now.
            if drained && (ContainerLogTail.identity(retiring.fd)?.size ?? 0) <= retiring.offset {
                close(retiring.fd)
                follow.retiring = nil
                // The rotated file's position is no longer the checkpoint; the new file's is.
                follow.checkpointOffset = follow.carriesPending ? follow.offset : follow.pendingStart ?? follow.offset
            } else {
                return
            }
        }
        guard let identity = ContainerLogTail.identity(follow.fd) else { return }
        if identity.size < follow.offset {
            // Copytruncate: the file was emptied in place; read it again from its start. A piece
            // waiting was in what is gone: saved itself.
            follow.offset = 0
            follow.checkpointOffset = 0
            follow.pendingStart = nil
            if follow.joiner.hasPending { follow.carriesPending = true }
        }
        var pendingStart = follow.pendingStart
        var offset = follow.offset
        _ = readLines(fd: follow.fd, from: &offset, follow: &follow, pendingStart: &pendingStart, records: &records, bytes: &bytes, unparsed: &unparsed, nowUnixNano: nowUnixNano)
        follow.offset = offset
        follow.pendingStart = pendingStart
        if !follow.joiner.hasPending { follow.carriesPending = false }
        // Pieces carried in the checkpoint include this file's: the checkpoint is past them all.
        follow.checkpointOffset = follow.carriesPending ? offset : pendingStart ?? offset
        guard !pathGone, let current = ContainerLogTail.identity(path: follow.path), current.device != follow.device || current.inode != follow.inode,
            (ContainerLogTail.identity(follow.fd)?.size ?? 0) <= follow.offset
        else { return }
        // Rotated by rename: the descriptor now reads the old file (drained above, and again next
        // time in case the runtime wrote its last lines late); the path's new file starts at 0.
        let fd = Foundation.open(follow.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        follow.retiring = Retiring(fd: follow.fd, device: follow.device, inode: follow.inode, offset: follow.offset)
        follow.fd = fd
        follow.device = current.device
        follow.inode = current.inode
        follow.offset = 0
        follow.checkpointOffset = 0
        follow.pendingStart = nil
        // A piece waiting is behind the retiring file's place: saved itself.
        if follow.joiner.hasPending { follow.carriesPending = true }
    }

    /// Reads whole lines from `offset` (up to a chunk); returns whether it reached the file's end.
    private func readLines(
        fd: Int32, from offset: inout Int, follow: inout Follow, pendingStart: inout Int?, records: inout RecordSink, bytes: inout Int,
        unparsed: inout Int, nowUnixNano: UInt64
    ) -> Bool {
        // Not zero-filled: pread writes what is used.
        var count = 0
        let buffer = [UInt8](unsafeUninitializedCapacity: chunkBytes) { storage, initialized in
            count = max(0, pread(fd, storage.baseAddress, chunkBytes, off_t(offset)))
            initialized = count
        }
        guard count > 0 else { return true }
        var lineStart = 0
        while lineStart < count {
            // memchr: the C library's vectorised search, far quicker than a byte loop over the chunk.
            let found = buffer.withUnsafeBytes { raw in memchr(raw.baseAddress! + lineStart, Int32(UInt8(ascii: "\n")), count - lineStart) }
            guard let found else { break }
            let index = buffer.withUnsafeBytes { raw in raw.baseAddress!.distance(to: UnsafeRawPointer(found)) }
            var end = index
            if end > lineStart && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            take(buffer[lineStart..<end], at: offset + lineStart, follow: &follow, pendingStart: &pendingStart, records: &records, bytes: &bytes, unparsed: &unparsed, nowUnixNano: nowUnixNano)
            lineStart = index + 1
        }
        if lineStart == 0 && count == chunkBytes {
            // No newline in a whole chunk: a line too long to wait for goes as it is.
            take(buffer[0..<count], at: offset, follow: &follow, pendingStart: &pendingStart, records: &records, bytes: &bytes, unparsed: &unparsed, nowUnixNano: nowUnixNano)
            lineStart = count
        }
        offset += lineStart
        return count < chunkBytes
    }

    private func take(
        _ raw: ArraySlice<UInt8>, at position: Int, follow: inout Follow, pendingStart: inout Int?, records: inout RecordSink, bytes: inout Int,
        unparsed: inout Int, nowUnixNano: UInt64
    ) {
        guard !raw.isEmpty else { return }
        let format = follow.format ?? ContainerLogLine.Format.detect(firstLine: raw)
        follow.format = format
        let line: ContainerLogLine
        do {
            line = try ContainerLogLine.parse(raw, format: format)
        } catch {
            unparsed += 1
            line = ContainerLogLine(timeUnixNano: nowUnixNano, stream: .stdout, partial: false, text: String(decoding: raw, as: UTF8.self))
        }
        if let whole = follow.joiner.add(line) {
            records.add(whole, observedUnixNano: nowUnixNano, builder: builder, encoder: encoder)
            bytes += whole.text.utf8.count
        }
        if follow.joiner.hasPending {
            if pendingStart == nil { pendingStart = position }
        } else {
            pendingStart = nil
        }
    }
}
