import LoupeWire
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A persistent first-in first-out queue of byte records, for data on its way to a place that
/// may be away for a while (an output's backend).
///
/// `append` returns once the records are on disk; `peek` hands out the oldest ones without
/// taking them; `acknowledge` takes them once delivered, and that too is on disk. So after a
/// crash at any moment every appended record not yet acknowledged is delivered again: at least
/// once. Past `maximumBytes` the oldest records are dropped (and counted) to make room: the queue
/// is bounded by its disk budget, not by the outage's length.
///
/// Files: `<sequence>.queue` segments of records (length u32, CRC-32C u32, payload), and `cursor`
/// (the first unacknowledged record: segment, offset, CRC), written by rename. All calls block
/// on disk I/O; call them off the event loop.
public final class DiskQueue: Sendable {
    /// Where a record starts: segment and offset.
    public struct Position: Sendable, Hashable, Comparable {
        public var segment: UInt64
        public var offset: Int

        public static func < (lhs: Position, rhs: Position) -> Bool { (lhs.segment, lhs.offset) < (rhs.segment, rhs.offset) }
    }

    public struct Record: Sendable {
        /// Where the record after this one starts: acknowledge it to take this record and those before.
        public var next: Position
        public var payload: [UInt8]
    }

    public struct Statistics: Sendable, Equatable {
        /// Records and payload bytes appended and not yet acknowledged.
        public var queuedRecords = 0
        public var queuedBytes = 0
        /// Records and payload bytes dropped unacknowledged to stay within the budget, since opened.
        public var droppedRecords = 0
        public var droppedBytes = 0
        /// Bytes of segment files on disk (with acknowledged records not yet removed).
        public var diskBytes = 0
    }

    struct Segment {
        let sequence: UInt64
        let path: String
        /// End offset of each record, in order.
        var recordEnds: [Int] = []
        var size: Int { recordEnds.last ?? 0 }
    }

    struct State {
        var segments: [Segment] = []
        /// The first unacknowledged record.
        var cursor = Position(segment: 0, offset: 0)
        /// The newest segment, open for appending.
        var activeFD: Int32 = -1
        var statistics = Statistics()
        var lockFD: Int32 = -1
        var closed = false
    }

    static let headerBytes = 8
    public let directory: String
    public let maximumBytes: Int
    public let segmentBytes: Int
    private let state: Mutex<State>

    /// Opens (creating) the queue in `directory`, taking it over exclusively, and recovers it: a
    /// record torn by a crash at the end of the newest segment is cut off.
    public init(directory: String, maximumBytes: Int, segmentBytes: Int = 8 << 20) throws(StorageError) {
        guard maximumBytes > 0 else { throw StorageError(.misuse, "a disk queue needs a positive byte budget") }
        self.directory = directory
        self.maximumBytes = maximumBytes
        // At least a few segments fit in the budget, so dropping the oldest frees a fraction of it.
        self.segmentBytes = max(4096, min(segmentBytes, maximumBytes / 4))
        try WALFiles.createDirectories(directory)
        var initial = State()
        let lockPath = WALFiles.join(directory, "LOCK")
        initial.lockFD = try WALFiles.open(lockPath, O_RDWR | O_CREAT)
        guard flock(initial.lockFD, LOCK_EX | LOCK_NB) == 0 else {
            let error = errno
            close(initial.lockFD)
            throw StorageError(.locked, "the queue in \(directory) is in use by another process", path: lockPath, errno: error)
        }
        do throws(StorageError) {
            try Self.recover(&initial, directory: directory)
        } catch {
            close(initial.lockFD)
            if initial.activeFD >= 0 { close(initial.activeFD) }
            throw error
        }
        state = Mutex(initial)
    }

    deinit {
        state.withLock { state in
            if state.activeFD >= 0 { close(state.activeFD) }
            if state.lockFD >= 0 { close(state.lockFD) }
        }
    }

    private static func segmentName(_ sequence: UInt64) -> String {
        let hex = String(sequence, radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.count)) + hex + ".queue"
    }

    private static func recover(_ state: inout State, directory: String) throws(StorageError) {
        var sequences: [UInt64] = []
        guard let listing = opendir(directory) else { throw StorageError.io("opendir", path: directory, errno: errno) }
        while let entry = readdir(listing) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) { String(cString: $0) }
            }
            if name.hasSuffix(".queue"), let sequence = UInt64(name.dropLast(6), radix: 16) { sequences.append(sequence) }
        }
        closedir(listing)
        sequences.sort()
        for sequence in sequences {
            let path = WALFiles.join(directory, segmentName(sequence))
            var segment = Segment(sequence: sequence, path: path)
            let bytes = try BlockFiles.readFile(path)
            var offset = 0
            while offset + headerBytes <= bytes.count {
                let length = Int(bytes.loadLittleEndianUInt32(at: offset))
                let checksum = bytes.loadLittleEndianUInt32(at: offset + 4)
                guard length <= bytes.count - offset - headerBytes,
                    CRC32C.checksum(Array(bytes[(offset + headerBytes)..<(offset + headerBytes + length)])) == checksum
                else { break }
                offset += headerBytes + length
                segment.recordEnds.append(offset)
            }
            if offset < bytes.count {
                // Only the newest segment can end in a torn record; an older one ending badly is
                // damage, and what follows the damage in it cannot be found.
                let fd = try WALFiles.open(path, O_RDWR)
                defer { close(fd) }
                try WALFiles.truncate(fd, to: offset, path: path)
                try WALFiles.sync(fd, path: path)
            }
            state.segments.append(segment)
        }
        state.cursor = try readCursor(directory: directory) ?? Position(segment: state.segments.first?.sequence ?? 1, offset: 0)
        // Segments before the cursor's were acknowledged wholly (a crash came between writing the
        // cursor and removing them).
        for segment in state.segments where segment.sequence < state.cursor.segment { try? WALFiles.unlink(segment.path) }
        state.segments.removeAll { $0.sequence < state.cursor.segment }
        if let first = state.segments.first {
            if first.sequence != state.cursor.segment {
                state.cursor = Position(segment: first.sequence, offset: 0)
            } else if state.cursor.offset != 0 && !first.recordEnds.contains(state.cursor.offset) {
                // Not a record boundary (the segment lost its tail): on from the next boundary.
                state.cursor.offset = first.recordEnds.first { $0 > state.cursor.offset } ?? first.size
            }
        }
        if state.segments.isEmpty {
            let sequence = max(state.cursor.segment, 1)
            state.segments.append(Segment(sequence: sequence, path: WALFiles.join(directory, segmentName(sequence))))
            state.cursor = Position(segment: sequence, offset: 0)
        }
        let active = state.segments[state.segments.count - 1]
        state.activeFD = try WALFiles.open(active.path, O_RDWR | O_CREAT)
        try WALFiles.syncDirectory(directory)
        recount(&state)
    }

    private static func recount(_ state: inout State) {
        var records = 0
        var bytes = 0
        var disk = 0
        for segment in state.segments {
            disk += segment.size
            var previous = 0
            for end in segment.recordEnds {
                defer { previous = end }
                guard Position(segment: segment.sequence, offset: previous) >= state.cursor else { continue }
                records += 1
                bytes += end - previous - headerBytes
            }
        }
        state.statistics.queuedRecords = records
        state.statistics.queuedBytes = bytes
        state.statistics.diskBytes = disk
    }

    private static func readCursor(directory: String) throws(StorageError) -> Position? {
        let path = WALFiles.join(directory, "cursor")
        guard BlockFiles.exists(path) else { return nil }
        let bytes = try BlockFiles.readFile(path)
        guard bytes.count == 20, CRC32C.checksum(Array(bytes[0..<16])) == bytes.loadLittleEndianUInt32(at: 16) else {
            throw StorageError(.corrupt, "the queue cursor \(path) is damaged; move it aside to deliver the queue again from its start", path: path)
        }
        return Position(segment: bytes.loadLittleEndianUInt64(at: 0), offset: Int(bytes.loadLittleEndianUInt64(at: 8)))
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Appends the records and makes them durable. Room is made first by dropping the oldest
    /// records when the budget would be exceeded; a record larger than the budget is refused.
    public func append(_ records: [[UInt8]]) throws(StorageError) {
        guard !records.isEmpty else { return }
        var frame: [UInt8] = []
        frame.reserveCapacity(records.reduce(0) { $0 + $1.count + Self.headerBytes })
        var ends: [Int] = []
        for record in records {
            guard record.count + Self.headerBytes <= maximumBytes, record.count <= Int(UInt32.max) else {
                throw StorageError(.recordTooLarge, "a record of \(record.count) bytes is over the queue's budget of \(maximumBytes) bytes")
            }
            frame.appendLittleEndian(UInt32(record.count))
            frame.appendLittleEndian(CRC32C.checksum(record))
            frame.append(contentsOf: record)
            ends.append(frame.count)
        }
        try state.withLock { (state: inout State) throws(StorageError) in
            guard !state.closed else { throw StorageError(.closed, "the queue in \(directory) is closed") }
            if state.segments[state.segments.count - 1].size > 0 && state.segments[state.segments.count - 1].size + frame.count > segmentBytes {
                try rotate(&state)
            }
            try makeRoom(&state, for: frame.count)
            let index = state.segments.count - 1
            let start = state.segments[index].size
            let path = state.segments[index].path
            let fd = state.activeFD
            do throws(StorageError) {
                try frame.withBytes { (bytes: UnsafeRawBufferPointer) throws(StorageError) in try WALFiles.write(fd, bytes, at: start, path: path) }
                try WALFiles.sync(fd, path: path)
            } catch {
                // Whatever part landed is cut off again, so the file keeps ending at a record.
                try? WALFiles.truncate(fd, to: start, path: path)
                throw error
            }
            state.segments[index].recordEnds.append(contentsOf: ends.map { $0 + start })
            state.statistics.queuedRecords += records.count
            state.statistics.queuedBytes += records.reduce(0) { $0 + $1.count }
            state.statistics.diskBytes += frame.count
        }
    }

    private func rotate(_ state: inout State) throws(StorageError) {
        let sequence = state.segments[state.segments.count - 1].sequence + 1
        let path = WALFiles.join(directory, Self.segmentName(sequence))
        let fd = try WALFiles.open(path, O_RDWR | O_CREAT | O_TRUNC)
        try WALFiles.syncDirectory(directory)
        close(state.activeFD)
        state.activeFD = fd
        state.segments.append(Segment(sequence: sequence, path: path))
    }

    /// Drops whole oldest segments (acknowledged or not) until `bytes` more fit in the budget.
    private func makeRoom(_ state: inout State, for bytes: Int) throws(StorageError) {
        while state.statistics.diskBytes + bytes > maximumBytes, state.segments.count > 1 {
            let oldest = state.segments.removeFirst()
            var previous = 0
            for end in oldest.recordEnds {
                defer { previous = end }
                guard Position(segment: oldest.sequence, offset: previous) >= state.cursor else { continue }
                state.statistics.droppedRecords += 1
                state.statistics.droppedBytes += end - previous - Self.headerBytes
                state.statistics.queuedRecords -= 1
                state.statistics.queuedBytes -= end - previous - Self.headerBytes
            }
            state.statistics.diskBytes -= oldest.size
            try WALFiles.unlink(oldest.path)
            if state.cursor.segment <= oldest.sequence {
                state.cursor = Position(segment: state.segments[0].sequence, offset: 0)
                try writeCursor(state.cursor)
            }
        }
    }

    /// Up to `maximumRecords` of the oldest unacknowledged records, at most about `maximumBytes`
    /// of payload (always at least one), without taking them.
    public func peek(maximumRecords: Int = .max, maximumBytes: Int = .max) throws(StorageError) -> [Record] {
        let (cursor, segments) = state.withLock { ($0.cursor, $0.segments) }
        var records: [Record] = []
        var total = 0
        for segment in segments where segment.sequence >= cursor.segment {
            let start = segment.sequence == cursor.segment ? cursor.offset : 0
            let ends = segment.recordEnds.filter { $0 > start }
            guard !ends.isEmpty else { continue }
            let fd = try WALFiles.open(segment.path, O_RDONLY)
            defer { close(fd) }
            var previous = start
            for end in ends {
                guard records.count < maximumRecords, records.isEmpty || total + (end - previous - Self.headerBytes) <= maximumBytes else {
                    return records
                }
                var payload = [UInt8](repeating: 0, count: end - previous - Self.headerBytes)
                let read = try payload.withMutableBytes { (buffer: UnsafeMutableRawBufferPointer) throws(StorageError) in
                    try WALFiles.read(fd, into: buffer, at: previous + Self.headerBytes, path: segment.path)
                }
                guard read == payload.count else {
                    throw StorageError(.corrupt, "\(segment.path) ends inside a record at \(previous); it was changed behind the queue", path: segment.path)
                }
                total += payload.count
                records.append(Record(next: Position(segment: segment.sequence, offset: end), payload: payload))
                previous = end
            }
        }
        return records
    }

    /// Takes every record before `position` (a `Record.next`), durably: they are not delivered again.
    public func acknowledge(through position: Position) throws(StorageError) {
        try state.withLock { (state: inout State) throws(StorageError) in
            guard position > state.cursor else { return }
            var acknowledgedRecords = 0
            var acknowledgedBytes = 0
            for segment in state.segments where segment.sequence >= state.cursor.segment && segment.sequence <= position.segment {
                var previous = 0
                for end in segment.recordEnds {
                    defer { previous = end }
                    let start = Position(segment: segment.sequence, offset: previous)
                    guard start >= state.cursor, start < position else { continue }
                    acknowledgedRecords += 1
                    acknowledgedBytes += end - previous - Self.headerBytes
                }
            }
            var cursor = position
            // Fully read segments other than the active one go, once the cursor is past them.
            var done: [Segment] = []
            while state.segments.count - done.count > 1 {
                let segment = state.segments[done.count]
                if segment.sequence < cursor.segment {
                    done.append(segment)
                } else if segment.sequence == cursor.segment && cursor.offset >= segment.size {
                    done.append(segment)
                    cursor = Position(segment: state.segments[done.count].sequence, offset: 0)
                } else {
                    break
                }
            }
            try writeCursor(cursor)
            for segment in done {
                try? WALFiles.unlink(segment.path)
                state.statistics.diskBytes -= segment.size
            }
            state.segments.removeFirst(done.count)
            state.cursor = cursor
            state.statistics.queuedRecords -= acknowledgedRecords
            state.statistics.queuedBytes -= acknowledgedBytes
        }
    }

    private func writeCursor(_ cursor: Position) throws(StorageError) {
        var bytes: [UInt8] = []
        bytes.appendLittleEndian(cursor.segment)
        bytes.appendLittleEndian(UInt64(cursor.offset))
        bytes.appendLittleEndian(CRC32C.checksum(bytes))
        try BlockFiles.replaceFile(WALFiles.join(directory, "cursor"), bytes, directory: directory)
    }
}

extension [UInt8] {
    fileprivate func loadLittleEndianUInt32(at offset: Int) -> UInt32 {
        var value: UInt32 = 0
        for index in 0..<4 { value |= UInt32(self[offset + index]) << (8 * index) }
        return value
    }

    fileprivate func loadLittleEndianUInt64(at offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(self[offset + index]) << (8 * index) }
        return value
    }

    fileprivate mutating func appendLittleEndian(_ value: UInt32) {
        for index in 0..<4 { append(UInt8(truncatingIfNeeded: value >> (8 * index))) }
    }

    fileprivate mutating func appendLittleEndian(_ value: UInt64) {
        for index in 0..<8 { append(UInt8(truncatingIfNeeded: value >> (8 * index))) }
    }
}
