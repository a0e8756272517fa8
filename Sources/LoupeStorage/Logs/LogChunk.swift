import LoupeModel
import LoupeWire

/// A closed run of one stream's entries, compressed: what a stream's head keeps once its open
/// run is full. Entries are written as varints (time deltas, lengths) and bytes, then
/// snappy-compressed; the time bounds let a selection skip the chunk without decoding it.
struct LogChunk: Sendable {
    let minTime: Int64
    let maxTime: Int64
    let count: Int
    /// Bytes of the lines (what Loki sizes ingestion and chunks by).
    let lineBytes: Int
    private let compressed: [UInt8]

    var compressedBytes: Int { compressed.count }

    /// - Parameter entries: in time order.
    init(_ entries: [LogEntry]) {
        var raw: [UInt8] = []
        raw.reserveCapacity(entries.reduce(0) { $0 + $1.line.utf8.count + 8 })
        var previous: Int64 = 0
        var lineBytes = 0
        Self.appendVarint(UInt64(entries.count), to: &raw)
        for entry in entries {
            Self.appendVarint(Self.zigzag(entry.timestamp &- previous), to: &raw)
            previous = entry.timestamp
            Self.appendString(entry.line, to: &raw)
            lineBytes += entry.line.utf8.count
            Self.appendVarint(UInt64(entry.metadata.count), to: &raw)
            for label in entry.metadata {
                Self.appendString(label.name, to: &raw)
                Self.appendString(label.value, to: &raw)
            }
        }
        compressed = Snappy.compress(raw)
        minTime = entries.first?.timestamp ?? 0
        maxTime = entries.last?.timestamp ?? 0
        count = entries.count
        self.lineBytes = lineBytes
    }

    /// The entries with `start <= t <= end`, in time order.
    func entries(from start: Int64, through end: Int64) -> [LogEntry] {
        guard maxTime >= start, minTime <= end, let raw = try? Snappy.decompress(compressed, maximumOutputBytes: 1 << 30) else { return [] }
        var reader = Reader(bytes: raw)
        guard let count = reader.varint() else { return [] }
        var entries: [LogEntry] = []
        var time: Int64 = 0
        for _ in 0..<count {
            guard let delta = reader.varint(), let line = reader.string(), let metadataCount = reader.varint() else { break }
            time = time &+ Self.unzigzag(delta)
            var metadata: [Label] = []
            for _ in 0..<metadataCount {
                guard let name = reader.string(), let value = reader.string() else { return entries }
                metadata.append(Label(name, value))
            }
            if time >= start && time <= end {
                entries.append(LogEntry(timestamp: time, line: line, metadata: Labels(presorted: metadata)))
            }
        }
        return entries
    }

    static func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }
    static func unzigzag(_ value: UInt64) -> Int64 { Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1) }

    static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    static func appendString(_ text: String, to bytes: inout [UInt8]) {
        appendVarint(UInt64(text.utf8.count), to: &bytes)
        bytes.append(contentsOf: text.utf8)
    }

    struct Reader {
        let bytes: [UInt8]
        var position = 0

        mutating func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while position < bytes.count, shift < 64 {
                let byte = bytes[position]
                position += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
            return nil
        }

        mutating func string() -> String? {
            guard let length = varint(), length <= UInt64(bytes.count - position) else { return nil }
            let end = position + Int(length)
            defer { position = end }
            return String(decoding: bytes[position..<end], as: UTF8.self)
        }
    }
}
