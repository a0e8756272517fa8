import LoupeModel
import LoupeWire

/// How a chunk's entries are laid out and compressed.
enum LogChunkEncoding: UInt8, Sendable {
    /// Rows (varint time delta, line, metadata), snappy: fast, about a third of the raw size.
    case snappyRows = 1
    /// The same rows, deflated.
    case deflateRows = 2
    /// Lines split into templates and typed variable columns (`LogLineColumns`).
    case columns = 3

    /// What new chunks are written with.
    static let preferred: LogChunkEncoding = .columns
}

/// A closed run of one stream's entries, compressed, with its time bounds and content index so a
/// selection can skip it without decoding. Its bytes live in memory (the head, a cut not yet
/// written) or in a block file.
struct LogChunk: Sendable {
    let minTime: Int64
    let maxTime: Int64
    let count: Int
    /// Bytes of the lines (what Loki sizes ingestion and chunks by).
    let lineBytes: Int
    let encoding: LogChunkEncoding
    let bloom: LogContentBloom?
    let payload: Payload

    enum Payload: Sendable {
        case memory([UInt8])
        /// In a block file: where, and the CRC-32C of those bytes.
        case mapped(MappedFile, offset: Int, length: Int, checksum: UInt32)
    }

    var compressedBytes: Int {
        switch payload {
        case .memory(let bytes): bytes.count
        case .mapped(_, _, let length, _): length
        }
    }

    /// - Parameter entries: in time order.
    init(_ entries: [LogEntry], encoding: LogChunkEncoding = .preferred) {
        var lineBytes = 0
        for entry in entries { lineBytes += entry.line.utf8.count }
        var encoding = encoding
        // The column codec refuses what its decoder could not read back (huge runs); rows take any size.
        if encoding == .columns, entries.count > LogLineColumns.maximumEntries || lineBytes > Self.maximumColumnsLineBytes {
            encoding = .deflateRows
        }
        let bytes: [UInt8]
        switch encoding {
        case .snappyRows: bytes = Snappy.compress(Self.rows(entries, lineBytes: lineBytes))
        case .deflateRows: bytes = Gzip.compressDeflate(Self.rows(entries, lineBytes: lineBytes), level: 1)
        case .columns: bytes = LogLineColumns.encode(entries)
        }
        self.init(
            minTime: entries.first?.timestamp ?? 0, maxTime: entries.last?.timestamp ?? 0, count: entries.count, lineBytes: lineBytes,
            encoding: encoding, bloom: LogContentBloom.build(entries.lazy.map(\.line)), payload: .memory(bytes))
    }

    init(minTime: Int64, maxTime: Int64, count: Int, lineBytes: Int, encoding: LogChunkEncoding, bloom: LogContentBloom?, payload: Payload) {
        self.minTime = minTime
        self.maxTime = maxTime
        self.count = count
        self.lineBytes = lineBytes
        self.encoding = encoding
        self.bloom = bloom
        self.payload = payload
    }

    /// False when the content index shows that no line holds any of `alternatives`.
    func mayContainAny(of alternatives: [String]) -> Bool {
        guard let bloom else { return true }
        return alternatives.contains { bloom.mayContain($0) }
    }

    /// The compressed bytes (read from the block file, checksum verified).
    func storedBytes() throws(StorageError) -> [UInt8] {
        switch payload {
        case .memory(let bytes):
            return bytes
        case .mapped(let file, let offset, let length, let checksum):
            let all = file.bytes
            guard offset >= 0, length >= 0, offset + length <= all.count else {
                throw StorageError(.corrupt, "\(file.path): chunk at offset \(offset), \(length) bytes, lies past the end of the file", path: file.path)
            }
            let slice = UnsafeRawBufferPointer(rebasing: all[offset..<(offset + length)])
            guard CRC32C.checksum(slice) == checksum else {
                throw StorageError(.corrupt, "\(file.path): checksum mismatch in the chunk at offset \(offset)", path: file.path)
            }
            return Array(slice)
        }
    }

    /// The entries with `start <= t <= end`, in time order.
    func entries(from start: Int64, through end: Int64) throws(StorageError) -> [LogEntry] {
        guard maxTime >= start, minTime <= end else { return [] }
        let stored = try storedBytes()
        let all: [LogEntry]
        switch encoding {
        case .snappyRows:
            guard let raw = try? Snappy.decompress(stored, maximumOutputBytes: 1 << 30) else {
                throw StorageError(.corrupt, "a log chunk's snappy data is damaged")
            }
            all = try Self.decodeRows(raw)
        case .deflateRows:
            guard let raw = try? Gzip.decompressDeflate(stored, maximumOutputBytes: 1 << 30) else {
                throw StorageError(.corrupt, "a log chunk's deflate data is damaged")
            }
            all = try Self.decodeRows(raw)
        case .columns:
            all = try LogLineColumns.decode(stored)
        }
        if minTime >= start && maxTime <= end { return all }
        return all.filter { $0.timestamp >= start && $0.timestamp <= end }
    }

    /// Well under what `LogLineColumns` accepts (its expanded parts stay under 1 GiB).
    static let maximumColumnsLineBytes = 64 << 20

    static func rows(_ entries: [LogEntry], lineBytes: Int) -> [UInt8] {
        var sink = ByteSink(capacity: lineBytes + entries.count * 8 + 8)
        var previous: Int64 = 0
        sink.uvarint(entries.count)
        for entry in entries {
            sink.varint(entry.timestamp &- previous)
            previous = entry.timestamp
            sink.string(entry.line)
            sink.uvarint(entry.metadata.count)
            for label in entry.metadata {
                sink.string(label.name)
                sink.string(label.value)
            }
        }
        return sink.bytes
    }

    static func decodeRows(_ raw: [UInt8]) throws(StorageError) -> [LogEntry] {
        try raw.withBytes { (bytes: UnsafeRawBufferPointer) throws(StorageError) -> [LogEntry] in
            var source = ByteSource(bytes)
            // Every entry takes at least three bytes: a count past that is damage, not a size to reserve.
            let count = try source.uvarintInt(limit: bytes.count / 3 + 1)
            var entries: [LogEntry] = []
            entries.reserveCapacity(count)
            var time: Int64 = 0
            for _ in 0..<count {
                time = time &+ (try source.varint())
                let line = try source.string()
                let metadataCount = try source.uvarintInt(limit: bytes.count)
                var metadata: [Label] = []
                for _ in 0..<metadataCount {
                    let name = try source.string()
                    metadata.append(Label(name, try source.string()))
                }
                entries.append(LogEntry(timestamp: time, line: line, metadata: Labels(presorted: metadata)))
            }
            return entries
        }
    }
}
