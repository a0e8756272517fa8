#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import LoupeModel

// MARK: - Segment metadata

/// What the WAL remembers of a segment file, for retention and disk usage.
struct WALSegmentInfo: Sendable, Equatable {
    var sequence: UInt64
    var path: String
    var size: Int
    var records: Int
    /// The largest `timeBounds.maximum` of its records (0 when it has none). `UInt64.max` when unknown
    /// (a segment found on disk but not replayed), which keeps it out of retention.
    var maximumTime: UInt64
    /// The kinds of its records, one bit per `WALRecordKind` raw value; all bits when unknown.
    var kinds: UInt32 = .max
}

/// A record ready to be written: its encoded header (with the CRC) and its payload, written with one `writev`.
struct WALEncodedRecord: Sendable {
    var header: [UInt8]
    var payload: [UInt8]
    var maximumTime: UInt64
    var kind: WALRecordKind

    var size: Int { header.count + payload.count }
}

/// Test hooks: make a write or fsync report an errno (after really doing it). Internal; tests only.
struct WALFaultInjection: Sendable {
    var writeError: (@Sendable (_ segmentPath: String) -> Int32?)?
    var syncError: (@Sendable (_ segmentPath: String) -> Int32?)?
}

// MARK: - File system helpers

/// Thin, throwing wrappers around the system calls the WAL uses. All of them block.
enum WALFiles {
    static func segmentFileName(_ sequence: UInt64) -> String {
        let digits = String(sequence)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits + ".seg"
    }

    static func parseSegmentFileName(_ name: String) -> UInt64? {
        guard name.hasSuffix(".seg") else { return nil }
        let digits = name.dropLast(4)
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        return UInt64(digits)
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// The segment files of a directory, by ascending sequence number.
    static func listSegments(in directory: String) throws(StorageError) -> [(sequence: UInt64, path: String)] {
        guard let dir = opendir(directory) else {
            throw StorageError.io("opendir", path: directory, errno: errno)
        }
        defer { closedir(dir) }
        var result: [(sequence: UInt64, path: String)] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) {
                    String(cString: $0)
                }
            }
            if let sequence = parseSegmentFileName(name) {
                result.append((sequence, join(directory, name)))
            }
        }
        return result.sorted { $0.sequence < $1.sequence }
    }

    /// `mkdir -p`.
    static func createDirectories(_ path: String) throws(StorageError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            current += "/" + component
            if mkdir(current, 0o755) != 0 {
                let error = errno
                guard error == EEXIST else { throw StorageError.io("mkdir", path: current, errno: error) }
            }
        }
        var info = stat()
        guard stat(path, &info) == 0 else { throw StorageError.io("stat", path: path, errno: errno) }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw StorageError(.io, "\(path) exists and is not a directory", path: path, errno: ENOTDIR)
        }
    }

    /// Makes a directory's entries (created, renamed or removed files) durable.
    static func syncDirectory(_ path: String) throws(StorageError) {
        let fd = sysOpen(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        guard fd >= 0 else { throw StorageError.io("open", path: path, errno: errno) }
        defer { sysClose(fd) }
        guard fsync(fd) == 0 else { throw StorageError.io("fsync", path: path, errno: errno) }
    }

    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws(StorageError) -> Int32 {
        while true {
            let fd = flags & O_CREAT != 0 ? sysOpen(path, flags | O_CLOEXEC, mode) : sysOpen(path, flags | O_CLOEXEC, 0)
            if fd >= 0 { return fd }
            let error = errno
            if error != EINTR { throw StorageError.io("open", path: path, errno: error) }
        }
    }

    static func fileSize(_ fd: Int32, path: String) throws(StorageError) -> Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw StorageError.io("fstat", path: path, errno: errno) }
        return Int(info.st_size)
    }

    /// Reads until `buffer` is full or end of file; returns the number of bytes read.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String) throws(StorageError) -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                let error = errno
                if error == EINTR { continue }
                throw StorageError.io("read", path: path, errno: error, detail: "offset \(offset + done)")
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws(StorageError) {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                let error = errno
                if error == EINTR { continue }
                throw StorageError.io("write", path: path, errno: error, detail: "offset \(offset + done)")
            }
            done += n
        }
    }

    static func truncate(_ fd: Int32, to size: Int, path: String) throws(StorageError) {
        while ftruncate(fd, off_t(size)) != 0 {
            let error = errno
            if error != EINTR { throw StorageError.io("ftruncate", path: path, errno: error, detail: "to \(size) bytes") }
        }
    }

    /// Makes a file's data durable: `fdatasync` on Linux, `F_FULLFSYNC` on Darwin (whose `fsync`
    /// does not flush the drive's cache).
    static func sync(_ fd: Int32, path: String) throws(StorageError) {
        #if canImport(Darwin)
        if fcntl(fd, F_FULLFSYNC) == 0 { return }
        guard fsync(fd) == 0 else { throw StorageError.io("fsync", path: path, errno: errno) }
        #else
        while fdatasync(fd) != 0 {
            let error = errno
            if error != EINTR { throw StorageError.io("fdatasync", path: path, errno: error) }
        }
        #endif
    }

    static func unlink(_ path: String) throws(StorageError) {
        guard sysUnlink(path) == 0 || errno == ENOENT else { throw StorageError.io("unlink", path: path, errno: errno) }
    }

    static func rename(_ from: String, _ to: String) throws(StorageError) {
        guard sysRename(from, to) == 0 else {
            throw StorageError.io("rename", path: from, errno: errno, detail: "to \(to)")
        }
    }

    /// Writes the iovecs at `offset`, continuing after short writes. Returns 0 or an errno.
    static func writeAll(_ fd: Int32, _ iov: UnsafeMutableBufferPointer<iovec>, at offset: Int) -> Int32 {
        var index = 0
        var position = offset
        while index < iov.count {
            if iov[index].iov_len == 0 {
                index += 1
                continue
            }
            let n = pwritev(fd, iov.baseAddress! + index, Int32(min(iov.count - index, 1024)), off_t(position))
            if n < 0 {
                let error = errno
                if error == EINTR { continue }
                return error
            }
            if n == 0 { return EIO }
            position += n
            var remaining = n
            while remaining > 0 {
                let length = iov[index].iov_len
                if remaining >= length {
                    remaining -= length
                    index += 1
                } else {
                    iov[index].iov_base = iov[index].iov_base! + remaining
                    iov[index].iov_len = length - remaining
                    remaining = 0
                }
            }
        }
        return 0
    }
}

// The C functions, named apart from WALFiles' own static functions of the same name.
@inline(__always) private func sysOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
@inline(__always) private func sysClose(_ fd: Int32) { _ = close(fd) }
@inline(__always) private func sysUnlink(_ path: String) -> Int32 { unlink(path) }
@inline(__always) private func sysRename(_ from: String, _ to: String) -> Int32 { rename(from, to) }

// MARK: - Writing

/// The append side of the log: the active segment, rotation and `fsync`. Owned by the writer loop
/// (`WriteAheadLog.run`) and only ever used by one thread at a time (the WAL's I/O thread); it is a
/// value moved to that thread and back for each group commit.
struct WALSegmentWriter: Sendable {
    struct Active: Sendable {
        var fd: Int32
        var info: WALSegmentInfo
        var synced: Bool
        /// The file's size: `info.size` plus the zeros written ahead of the records (see `reserveAhead`).
        var reservedEnd: Int
    }

    /// What one call did, for the caller to publish (segment list, statistics, waiters).
    struct Outcome: Sendable {
        var result: Result<Void, StorageError> = .success(())
        var closed: [WALSegmentInfo] = []
        var active: WALSegmentInfo?
        var bytesWritten = 0
        var writeDuration: Duration = .zero
        var syncDurations: [Duration] = []
        var syncFailures = 0
        /// Zero bytes written ahead of the records (`reserveAhead`).
        var reservedBytes = 0
    }

    /// Records per `pwritev` call: two iovecs each, well under IOV_MAX (1024).
    static let recordsPerWrite = 256

    let directory: String
    let segmentSizeBytes: Int
    let logger: Logger
    let faults: WALFaultInjection?
    /// How many zero bytes `reserveAhead` keeps written past the records; 0 for none.
    private var reservationBytes: Int
    var nextSequence: UInt64
    private(set) var active: Active?

    init(
        directory: String, segmentSizeBytes: Int, nextSequence: UInt64, logger: Logger, reservationBytes: Int = 0,
        faults: WALFaultInjection? = nil
    ) {
        self.directory = directory
        self.segmentSizeBytes = segmentSizeBytes
        self.nextSequence = nextSequence
        self.logger = logger
        self.reservationBytes = max(0, reservationBytes)
        self.faults = faults
    }

    /// Writes `batch` (rotating segments as needed) and, if `sync`, makes it durable with one `fdatasync`.
    /// All or nothing for the caller: on any failure the result is an error for the whole batch.
    mutating func commit(_ batch: [WALEncodedRecord], sync: Bool) -> Outcome {
        var outcome = Outcome()
        let clock = ContinuousClock()
        let start = clock.now
        do throws(StorageError) {
            var index = 0
            while index < batch.count {
                if active == nil { try openNewSegment() }
                let base = active!.info.size
                var end = index
                var bytes = 0
                while end < batch.count {
                    let size = batch[end].size
                    // A record always fits in an empty segment, even one larger than the segment size.
                    if base + bytes > WALRecordCodec.segmentHeaderSize && base + bytes + size > segmentSizeBytes { break }
                    bytes += size
                    end += 1
                }
                if end == index {
                    try closeActive(sync: true, &outcome)
                    continue
                }
                try writeRun(batch[index..<end], &outcome)
                outcome.bytesWritten += bytes
                index = end
            }
            outcome.writeDuration = clock.now - start
            if sync { try syncActive(&outcome) }
        } catch {
            outcome.result = .failure(error)
        }
        outcome.active = active?.info
        return outcome
    }

    /// fsyncs (if asked) and closes the active segment; the next commit opens a new one.
    mutating func close(sync: Bool) -> Outcome {
        var outcome = Outcome()
        do throws(StorageError) {
            try closeActive(sync: sync, &outcome)
        } catch {
            outcome.result = .failure(error)
        }
        return outcome
    }

    private mutating func openNewSegment() throws(StorageError) {
        let sequence = nextSequence
        nextSequence += 1  // never reuse a name, even if creating this one fails half way
        let path = WALFiles.join(directory, WALFiles.segmentFileName(sequence))
        let fd = try WALFiles.open(path, O_WRONLY | O_CREAT | O_EXCL)
        do throws(StorageError) {
            let header = WALRecordCodec.encodeSegmentHeader(sequence: sequence)
            try header.withBytes { bytes throws(StorageError) in try WALFiles.write(fd, bytes, at: 0, path: path) }
            try WALFiles.sync(fd, path: path)
            try WALFiles.syncDirectory(directory)
        } catch {
            sysClose(fd)
            try? WALFiles.unlink(path)
            throw error
        }
        logger.debug("opened WAL segment", metadata: ["path": "\(path)"])
        active = Active(
            fd: fd,
            info: WALSegmentInfo(sequence: sequence, path: path, size: WALRecordCodec.segmentHeaderSize, records: 0, maximumTime: 0, kinds: 0),
            synced: true,
            reservedEnd: WALRecordCodec.segmentHeaderSize
        )
    }

    /// Writes zeros past the records, up to `reservationBytes` ahead, and makes them durable, when
    /// less than half of that is left. A group commit then overwrites blocks the file already has:
    /// its `fdatasync` flushes data only, with no change of file size or extents to journal, which
    /// on ext4 takes about half as long (0.13 ms instead of 0.26 ms for 24 KiB on this project's
    /// machines). The writer calls this between commits; the zeros never reach a closed segment
    /// (`closeActive` cuts them off), and replay stops at them as at any torn tail.
    mutating func reserveAhead() -> Outcome {
        var outcome = Outcome()
        guard reservationBytes > 0, var segment = active, segment.synced else { return outcome }
        let size = segment.info.size
        guard segment.reservedEnd - size < reservationBytes / 2 else { return outcome }
        let from = max(segment.reservedEnd, size)
        // Never past the point where the segment would rotate.
        let to = min(size + reservationBytes, max(segmentSizeBytes, from))
        guard to > from else { return outcome }
        let zeros = [UInt8](repeating: 0, count: to - from)
        let clock = ContinuousClock()
        do throws(StorageError) {
            try zeros.withBytes { bytes throws(StorageError) in try WALFiles.write(segment.fd, bytes, at: from, path: segment.info.path) }
        } catch {
            // Nothing is lost: appending without reserved space works, only its fsyncs are slower.
            logger.warning(
                "could not write zeros ahead of the WAL's records; appending without reserved space from now on",
                metadata: ["path": "\(segment.info.path)", "error": "\(error)"]
            )
            reservationBytes = 0
            try? WALFiles.truncate(segment.fd, to: from, path: segment.info.path)
            return outcome
        }
        let start = clock.now
        do throws(StorageError) {
            try WALFiles.sync(segment.fd, path: segment.info.path)
        } catch {
            // As after a failed commit fsync, the file is not written again (see `syncActive`).
            logger.error(
                "fsync of the WAL's reserved space failed; abandoning the segment",
                metadata: ["path": "\(segment.info.path)", "error": "\(error)"]
            )
            outcome.syncFailures += 1
            segment.reservedEnd = to
            active = segment
            abandonActive(&outcome)
            return outcome
        }
        outcome.syncDurations.append(clock.now - start)
        outcome.reservedBytes = to - from
        segment.reservedEnd = to
        active = segment
        return outcome
    }

    private mutating func closeActive(sync: Bool, _ outcome: inout Outcome) throws(StorageError) {
        guard active != nil else { return }
        if active!.reservedEnd > active!.info.size {
            // A closed segment ends with its last record: replay reads anything after it in an
            // earlier segment as damage. The size change is made durable before the next segment exists.
            try WALFiles.truncate(active!.fd, to: active!.info.size, path: active!.info.path)
            active!.reservedEnd = active!.info.size
            active!.synced = false
        }
        if sync { try syncActive(&outcome) }
        let segment = active!
        sysClose(segment.fd)
        active = nil
        outcome.closed.append(segment.info)
    }

    private mutating func syncActive(_ outcome: inout Outcome) throws(StorageError) {
        guard let segment = active, !segment.synced else { return }
        let clock = ContinuousClock()
        let start = clock.now
        do throws(StorageError) {
            try WALFiles.sync(segment.fd, path: segment.info.path)
            if let injected = faults?.syncError?(segment.info.path) {
                throw StorageError.io("fdatasync", path: segment.info.path, errno: injected)
            }
        } catch {
            // After a failed fsync the kernel may have dropped the dirty pages and a retry could
            // falsely succeed, so this file is never written again: records of the failed batch are
            // reported as not written (they may still reappear on replay: at-least-once), and the
            // next batch goes to a new segment.
            logger.error(
                "WAL fsync failed; abandoning the segment",
                metadata: ["path": "\(segment.info.path)", "error": "\(error)"]
            )
            outcome.syncFailures += 1
            abandonActive(&outcome)
            throw error
        }
        outcome.syncDurations.append(clock.now - start)
        active!.synced = true
    }

    private mutating func abandonActive(_ outcome: inout Outcome) {
        guard let segment = active else { return }
        if segment.reservedEnd > segment.info.size {
            try? WALFiles.truncate(segment.fd, to: segment.info.size, path: segment.info.path)
        }
        sysClose(segment.fd)
        active = nil
        outcome.closed.append(segment.info)
    }

    private mutating func writeRun(_ run: ArraySlice<WALEncodedRecord>, _ outcome: inout Outcome) throws(StorageError) {
        var segment = active!
        let start = segment.info.size
        var offset = start
        var chunkStart = run.startIndex
        while chunkStart < run.endIndex {
            let chunkEnd = min(chunkStart + Self.recordsPerWrite, run.endIndex)
            let chunk = run[chunkStart..<chunkEnd]
            var error = Self.write(chunk, fd: segment.fd, at: offset)
            if error == 0, let injected = faults?.writeError?(segment.info.path) {
                error = injected  // as if the write had failed after writing (some of) the bytes
            }
            if error != 0 {
                let failure = StorageError.io(
                    "write",
                    path: segment.info.path,
                    errno: error,
                    detail: "\(run.count) records at offset \(start)"
                )
                // Cut the partial write off so the segment stays a sequence of whole records.
                do throws(StorageError) {
                    try WALFiles.truncate(segment.fd, to: start, path: segment.info.path)
                    active!.reservedEnd = start
                } catch {
                    logger.error(
                        "WAL write failed and the partial write could not be truncated; abandoning the segment",
                        metadata: ["path": "\(segment.info.path)", "error": "\(error)"]
                    )
                    abandonActive(&outcome)
                }
                throw failure
            }
            for record in chunk {
                offset += record.size
                segment.info.maximumTime = max(segment.info.maximumTime, record.maximumTime)
                segment.info.kinds |= 1 << UInt32(record.kind.rawValue)
            }
            segment.info.records += chunk.count
            chunkStart = chunkEnd
        }
        segment.info.size = offset
        segment.reservedEnd = max(segment.reservedEnd, offset)
        segment.synced = false
        active = segment
    }

    /// One `pwritev` of the chunk's headers and payloads, in place (no copy of the payloads).
    /// Returns 0 or an errno.
    private static func write(_ chunk: ArraySlice<WALEncodedRecord>, fd: Int32, at offset: Int) -> Int32 {
        let iov = UnsafeMutableBufferPointer<iovec>.allocate(capacity: chunk.count * 2)
        defer { iov.deallocate() }
        return pin(chunk, chunk.startIndex, iov) {
            WALFiles.writeAll(fd, iov, at: offset)
        }
    }

    /// Fills `iov` with the buffers of `chunk[index...]` while they are pinned, then runs `body`.
    /// (Recursion keeps each array's `withUnsafeBytes` scope open; its depth is bounded by recordsPerWrite.)
    private static func pin(
        _ chunk: ArraySlice<WALEncodedRecord>,
        _ index: Int,
        _ iov: UnsafeMutableBufferPointer<iovec>,
        _ body: () -> Int32
    ) -> Int32 {
        if index == chunk.endIndex { return body() }
        return chunk[index].header.withUnsafeBytes { header in
            chunk[index].payload.withUnsafeBytes { payload in
                let slot = (index - chunk.startIndex) * 2
                iov[slot] = iovec(iov_base: UnsafeMutableRawPointer(mutating: header.baseAddress), iov_len: header.count)
                iov[slot + 1] = iovec(iov_base: UnsafeMutableRawPointer(mutating: payload.baseAddress), iov_len: payload.count)
                return pin(chunk, index + 1, iov, body)
            }
        }
    }
}

// MARK: - Replay

/// Reads the segments of a WAL directory in order and repairs what a crash (or a bad disk) left.
///
/// Policy, chosen so that nothing acknowledged is lost unnecessarily and no file content can crash
/// the server:
/// - A segment shorter than its header holds no record (a crash while it was created): removed.
/// - A segment whose header is damaged is renamed to `NNNNNNNN.seg.corrupt` (kept for inspection,
///   never read again) with an error; later segments are still replayed.
/// - A header of a newer format version stops the replay with `unsupportedFormat`: refusing to start
///   is safer than discarding data a newer Loupe wrote.
/// - Records are read until the first one that runs past the end of the file (torn write), fails its
///   CRC or has an invalid field. The segment is truncated there (ftruncate + fsync) so it ends in a
///   whole record.
///   - In the last segment this is the normal result of a crash during a write, which no waiter was
///     acknowledged for (acknowledgement follows the fsync): a warning. If the discarded bytes end
///     in a complete-looking region that is not all zeros (a CRC failure rather than a short write),
///     they are first copied to `NNNNNNNN.seg.corrupt-OFFSET`, since they might be acknowledged data
///     damaged by the disk.
///   - In an earlier segment it cannot be a torn write (a segment is fsynced before the next one is
///     created), so it is corruption: an error, the unreadable rest is copied to
///     `NNNNNNNN.seg.corrupt-OFFSET` before the truncation, and the later segments, whose records
///     are intact and were acknowledged independently, are still replayed.
struct WALReplayer {
    let directory: String
    let logger: Logger

    struct Result {
        var report = WALReplayReport()
        var segments: [WALSegmentInfo] = []
        var nextSequence: UInt64 = 1
    }

    func replay(_ body: (WALRecord) throws -> Void) throws -> Result {
        var result = Result()
        let files = try WALFiles.listSegments(in: directory)
        result.nextSequence = (files.last?.sequence ?? 0) + 1
        for (position, file) in files.enumerated() {
            let isLast = position == files.count - 1
            try replaySegment(file.sequence, file.path, isLast: isLast, into: &result, body)
        }
        if !result.report.removedFiles.isEmpty || !result.report.quarantinedFiles.isEmpty {
            try WALFiles.syncDirectory(directory)
        }
        return result
    }

    private func replaySegment(
        _ sequence: UInt64,
        _ path: String,
        isLast: Bool,
        into result: inout Result,
        _ body: (WALRecord) throws -> Void
    ) throws {
        let fd = try WALFiles.open(path, O_RDWR)
        defer { sysClose(fd) }
        var fileSize = try WALFiles.fileSize(fd, path: path)
        let headerSize = WALRecordCodec.segmentHeaderSize

        // The header.
        if fileSize < headerSize {
            logger.warning(
                "WAL segment is shorter than its header (a crash while it was created); it holds no records, removing it",
                metadata: ["path": "\(path)", "size": "\(fileSize)"]
            )
            try WALFiles.unlink(path)
            result.report.removedFiles.append(path)
            return
        }
        var header = [UInt8](repeating: 0, count: headerSize)
        _ = try header.withMutableBytes { bytes throws(StorageError) in
            try WALFiles.read(fd, into: bytes, at: 0, path: path)
        }
        do throws(WALDecodeError) {
            let recorded = try header.withBytes { bytes throws(WALDecodeError) in
                try WALRecordCodec.decodeSegmentHeader(bytes)
            }
            if recorded != sequence {
                logger.warning(
                    "WAL segment header names another sequence number than its file name; using the file name",
                    metadata: ["path": "\(path)", "header": "\(recorded)"]
                )
            }
        } catch {
            if case .unsupportedVersion = error {
                throw StorageError(.unsupportedFormat, "\(path): \(error)", path: path)
            }
            let quarantine = path + ".corrupt"
            logger.error(
                "WAL segment header is corrupt; moving the segment aside, its records are not replayed",
                metadata: ["path": "\(path)", "movedTo": "\(quarantine)", "reason": "\(error)", "size": "\(fileSize)"]
            )
            try WALFiles.rename(path, quarantine)
            result.report.quarantinedFiles.append(quarantine)
            return
        }

        // The records.
        var info = WALSegmentInfo(sequence: sequence, path: path, size: headerSize, records: 0, maximumTime: 0, kinds: 0)
        var buffer: [UInt8] = []
        var bufferStart = headerSize  // file offset of buffer[0]
        var position = 0  // index in buffer of the next record
        var stop: (offset: Int, reason: String, incomplete: Bool)?
        let readSize = 4 << 20
        while true {
            let offset = bufferStart + position
            if offset >= fileSize { break }
            let decoded = buffer.withUnsafeBytes { bytes in
                Swift.Result { () throws(WALDecodeError) in
                    try WALRecordCodec.decode(UnsafeRawBufferPointer(rebasing: bytes[position...]))
                }
            }
            switch decoded {
            case .success(let (record, size)):
                try body(record)
                position += size
                info.records += 1
                info.size = offset + size
                info.maximumTime = max(info.maximumTime, record.timeBounds.maximum)
                info.kinds |= 1 << UInt32(record.kind.rawValue)
                result.report.records += 1
                result.report.bytes += size
            case .failure(.incomplete(let needed, let available)):
                if offset + needed > fileSize {
                    stop = (offset, "record at offset \(offset) needs \(needed) bytes but the file ends after \(fileSize - offset)", true)
                    break
                }
                // Drop what was consumed and read at least the rest of this record.
                buffer.removeSubrange(0..<position)
                bufferStart += position
                position = 0
                let want = min(max(needed - available, readSize), fileSize - (bufferStart + buffer.count))
                let old = buffer.count
                buffer.append(contentsOf: repeatElement(0, count: want))
                let got = try buffer.withMutableBytes { bytes throws(StorageError) in
                    try WALFiles.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: bytes[old...]), at: bufferStart + old, path: path)
                }
                if got < want {
                    // The file shrank under us; what is there is all there is.
                    buffer.removeLast(want - got)
                    fileSize = bufferStart + buffer.count
                }
            case .failure(let error):
                stop = (offset, "record at offset \(offset): \(error)", false)
            }
            if stop != nil { break }
        }
        if let stop {
            result.report.repairs.append(
                repairTail(fd, path: path, stop: stop, fileSize: fileSize, isLast: isLast, into: &result.report)
            )
        }
        result.segments.append(info)
        result.report.segments += 1
    }

    /// Truncates a segment at `stop.offset`, after saving the discarded bytes when they might be data.
    private func repairTail(
        _ fd: Int32,
        path: String,
        stop: (offset: Int, reason: String, incomplete: Bool),
        fileSize: Int,
        isLast: Bool,
        into report: inout WALReplayReport
    ) -> WALTruncation {
        var truncation = WALTruncation(
            segment: path,
            offset: stop.offset,
            discardedBytes: fileSize - stop.offset,
            reason: stop.reason,
            isLastSegment: isLast
        )
        let metadata: Logger.Metadata = [
            "path": "\(path)", "offset": "\(stop.offset)", "discardedBytes": "\(fileSize - stop.offset)",
            "reason": "\(stop.reason)",
        ]
        var onlyZeros = false
        do throws(StorageError) {
            let shortWrite = isLast && stop.incomplete
            onlyZeros = try isAllZeros(fd, from: stop.offset, to: fileSize, path: path)
            if !shortWrite, !onlyZeros {
                let quarantine = "\(path).corrupt-\(stop.offset)"
                try copy(fd, from: stop.offset, to: fileSize, into: quarantine, sourcePath: path)
                truncation.quarantinePath = quarantine
                report.quarantinedFiles.append(quarantine)
            }
            try WALFiles.truncate(fd, to: stop.offset, path: path)
            try WALFiles.sync(fd, path: path)
            truncation.truncated = true
        } catch {
            logger.error(
                "could not repair WAL segment; leaving it as it is (the next start tries again)",
                metadata: metadata.merging(["error": "\(error)"]) { $1 }
            )
            return truncation
        }
        var logged = metadata
        if let quarantine = truncation.quarantinePath { logged["savedTo"] = "\(quarantine)" }
        if isLast && onlyZeros {
            // The space the writer reserves ahead of its records (`WALSegmentWriter.reserveAhead`),
            // left by a stop without a clean shutdown: no record was written there.
            logger.info("cut the unwritten space reserved at the end of the write-ahead log", metadata: logged)
        } else if isLast {
            logger.warning("truncated the torn tail of the write-ahead log", metadata: logged)
        } else {
            logger.error(
                "corrupt record in a closed WAL segment; truncated it there, later segments are still replayed",
                metadata: logged
            )
        }
        return truncation
    }

    private func isAllZeros(_ fd: Int32, from start: Int, to end: Int, path: String) throws(StorageError) -> Bool {
        var buffer = [UInt8](repeating: 0, count: min(1 << 20, max(end - start, 1)))
        var offset = start
        while offset < end {
            let want = min(buffer.count, end - offset)
            let got = try buffer.withMutableBytes { bytes throws(StorageError) in
                try WALFiles.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: bytes[0..<want]), at: offset, path: path)
            }
            if got == 0 { break }
            if buffer[0..<got].contains(where: { $0 != 0 }) { return false }
            offset += got
        }
        return true
    }

    private func copy(_ fd: Int32, from start: Int, to end: Int, into destination: String, sourcePath: String) throws(StorageError) {
        let out = try WALFiles.open(destination, O_WRONLY | O_CREAT | O_TRUNC)
        defer { sysClose(out) }
        var buffer = [UInt8](repeating: 0, count: min(1 << 20, max(end - start, 1)))
        var offset = start
        while offset < end {
            let want = min(buffer.count, end - offset)
            let got = try buffer.withMutableBytes { bytes throws(StorageError) in
                try WALFiles.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: bytes[0..<want]), at: offset, path: sourcePath)
            }
            if got == 0 { break }
            try buffer.withBytes { bytes throws(StorageError) in
                try WALFiles.write(out, UnsafeRawBufferPointer(rebasing: bytes[0..<got]), at: offset - start, path: destination)
            }
            offset += got
        }
        try WALFiles.sync(out, path: destination)
        try WALFiles.syncDirectory(directory)
    }
}

// MARK: - Typed-throws buffer access

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` that keeps the closure's typed error.
    fileprivate func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let result = withUnsafeBytes { bytes in Result { () throws(E) -> R in try body(bytes) } }
        return try result.get()
    }

    /// `withUnsafeMutableBytes` that keeps the closure's typed error.
    fileprivate mutating func withMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let result = withUnsafeMutableBytes { bytes in Result { () throws(E) -> R in try body(bytes) } }
        return try result.get()
    }
}
