import LoupeModel
import LoupeWire

/// An immutable set of log streams' chunks over a span of time: what one cut of the store's head
/// becomes. In memory until written, then one file, read through a memory mapping:
///
///     "LLB1"
///     chunk bytes, back to back
///     index: version, time bounds, then per stream its labels and per chunk its time bounds,
///            entry count, line bytes, encoding, offset, length, CRC-32C and content filter
///     footer: index offset (u64), index length (u64), index CRC-32C (u32), "LLB1"
///
/// The index is read whole at open; chunks are read (and their checksums checked) when a query
/// needs them, so the page cache, not the process, holds the data.
final class LogBlock: Sendable {
    struct Stream: Sendable {
        let labels: Labels
        let chunks: [LogChunk]
    }

    let id: String
    /// The file, or nil while the block is only in memory.
    let path: String?
    let streams: [Stream]
    let minTime: Int64
    let maxTime: Int64
    /// name -> value -> stream indices (ascending).
    let postings: [String: [String: [Int]]]
    /// Bytes of the file (or of the chunks, in memory).
    let sizeBytes: Int
    let entryCount: Int
    let lineBytes: Int

    static let magic: [UInt8] = Array("LLB1".utf8)
    static let fileExtension = ".lblk"

    init(id: String, path: String?, streams: [Stream], sizeBytes: Int? = nil) {
        self.id = id
        self.path = path
        self.streams = streams
        var minTime = Int64.max
        var maxTime = Int64.min
        var postings: [String: [String: [Int]]] = [:]
        var entries = 0
        var lineBytes = 0
        var chunkBytes = 0
        for (index, stream) in streams.enumerated() {
            for label in stream.labels { postings[label.name, default: [:]][label.value, default: []].append(index) }
            for chunk in stream.chunks {
                minTime = min(minTime, chunk.minTime)
                maxTime = max(maxTime, chunk.maxTime)
                entries += chunk.count
                lineBytes += chunk.lineBytes
                chunkBytes += chunk.compressedBytes
            }
        }
        self.minTime = minTime
        self.maxTime = maxTime
        self.postings = postings
        self.entryCount = entries
        self.lineBytes = lineBytes
        self.sizeBytes = sizeBytes ?? chunkBytes
    }

    func overlaps(start: Int64, end: Int64) -> Bool { maxTime >= start && minTime <= end }

    /// Indices of the streams matching every matcher.
    func matching(_ matchers: [LabelMatcher]) -> [Int] {
        LogStreamStore.matching(matchers, postings: postings, count: streams.count) { streams[$0].labels }
    }

    // MARK: Writing

    /// Writes the block under `directory` (temporary name, fsync, rename, directory fsync) and
    /// returns it opened from the file.
    func write(directory: String) throws(StorageError) -> LogBlock {
        var sink = ByteSink(capacity: sizeBytes + 4096)
        sink.append(Self.magic)
        var placed: [[(offset: Int, length: Int, checksum: UInt32)]] = []
        for stream in streams {
            var chunks: [(offset: Int, length: Int, checksum: UInt32)] = []
            for chunk in stream.chunks {
                let bytes = try chunk.storedBytes()
                chunks.append((sink.count, bytes.count, CRC32C.checksum(bytes)))
                sink.append(bytes)
            }
            placed.append(chunks)
        }
        var index = ByteSink()
        index.uvarint(1)
        index.varint(minTime)
        index.varint(maxTime)
        index.uvarint(streams.count)
        for (streamIndex, stream) in streams.enumerated() {
            index.uvarint(stream.labels.count)
            for label in stream.labels {
                index.string(label.name)
                index.string(label.value)
            }
            index.uvarint(stream.chunks.count)
            for (chunkIndex, chunk) in stream.chunks.enumerated() {
                let place = placed[streamIndex][chunkIndex]
                index.varint(chunk.minTime)
                index.varint(chunk.maxTime &- chunk.minTime)
                index.uvarint(chunk.count)
                index.uvarint(chunk.lineBytes)
                index.uvarint(UInt64(chunk.encoding.rawValue))
                index.uvarint(place.offset)
                index.uvarint(place.length)
                index.uint32(place.checksum)
                let words = chunk.bloom?.words ?? []
                index.uvarint(words.count)
                for word in words { index.uint64(word) }
            }
        }
        let indexOffset = sink.count
        sink.append(index.bytes)
        sink.uint64(UInt64(indexOffset))
        sink.uint64(UInt64(index.count))
        sink.uint32(CRC32C.checksum(index.bytes))
        sink.append(Self.magic)
        let path = WALFiles.join(directory, id + Self.fileExtension)
        try BlockFiles.replaceFile(path, sink.bytes, directory: directory)
        return try LogBlock(opening: path)
    }

    // MARK: Reading

    /// Opens a block file: checks the footer and the index checksum, reads the index.
    convenience init(opening path: String) throws(StorageError) {
        let file = try MappedFile(path: path)
        let all = file.bytes
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let id = name.hasSuffix(Self.fileExtension) ? String(name.dropLast(Self.fileExtension.count)) : name
        let (indexOffset, indexLength) = try BlockFiles.checkedIndex(all, magic: Self.magic, path: path, what: "log block")
        var source = ByteSource(all, offset: indexOffset, end: indexOffset + indexLength)
        let version = try source.uvarint()
        guard version == 1 else {
            throw StorageError(.unsupportedFormat, "\(path): log block version \(version) is newer than this Loupe reads", path: path)
        }
        _ = try source.varint()
        _ = try source.varint()
        let streamCount = try source.uvarintInt(limit: indexLength)
        var streams: [Stream] = []
        streams.reserveCapacity(streamCount)
        for _ in 0..<streamCount {
            let labelCount = try source.uvarintInt(limit: indexLength)
            var labels: [Label] = []
            for _ in 0..<labelCount {
                let labelName = try source.string()
                labels.append(Label(labelName, try source.string()))
            }
            let chunkCount = try source.uvarintInt(limit: indexLength)
            var chunks: [LogChunk] = []
            chunks.reserveCapacity(chunkCount)
            for _ in 0..<chunkCount {
                let minTime = try source.varint()
                let maxTime = minTime &+ (try source.varint())
                let count = try source.uvarintInt()
                let lineBytes = try source.uvarintInt()
                let rawEncoding = try source.uvarint()
                guard let encoding = LogChunkEncoding(rawValue: UInt8(truncatingIfNeeded: rawEncoding)), rawEncoding <= 255 else {
                    throw StorageError(.unsupportedFormat, "\(path): chunk encoding \(rawEncoding) is unknown to this Loupe", path: path)
                }
                let offset = try source.uvarintInt(limit: indexOffset)
                let length = try source.uvarintInt(limit: indexOffset - offset)
                let chunkChecksum = try source.uint32()
                let wordCount = try source.uvarintInt(limit: indexLength / 8)
                var bloom: LogContentBloom?
                if wordCount > 0 {
                    guard wordCount.nonzeroBitCount == 1 else {
                        throw StorageError(.corrupt, "\(path): a content filter of \(wordCount) words is not a power of two", path: path)
                    }
                    var words: [UInt64] = []
                    words.reserveCapacity(wordCount)
                    for _ in 0..<wordCount { words.append(try source.uint64()) }
                    bloom = LogContentBloom(words: words)
                }
                chunks.append(LogChunk(
                    minTime: minTime, maxTime: maxTime, count: count, lineBytes: lineBytes, encoding: encoding, bloom: bloom,
                    payload: .mapped(file, offset: offset, length: length, checksum: chunkChecksum)))
            }
            streams.append(Stream(labels: Labels(labels), chunks: chunks))
        }
        self.init(id: id, path: path, streams: streams, sizeBytes: all.count)
    }
}
