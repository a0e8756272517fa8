#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import LoupeModel
import LoupeWire

/// One series of a block being written: its labels and its chunks in time order.
public struct BlockSeries: Sendable {
    public var labels: Labels
    public var chunks: [Chunk]

    public init(labels: Labels, chunks: [Chunk]) {
        self.labels = labels
        self.chunks = chunks
    }
}

/// The layout of a block directory (Loupe's own format, shaped like the Prometheus TSDB's):
///
/// - `chunks`: `LPC1`, then per chunk: encoding byte, uvarint length, data, CRC-32C of encoding
///   byte and data. A chunk is addressed by the offset of its encoding byte.
/// - `index`: `LPX1`; the symbol table (every label name and value once, sorted); the series in
///   label order, each as symbol references plus its chunk metas (time range, sample count,
///   chunk offset, delta-encoded); a fixed-width table of series offsets (series ref = position);
///   the postings (for every label pair, the delta-encoded refs of the series that carry it); the
///   postings table (label pair → postings offset); then the table of contents: six 8-byte
///   offsets/counts and a CRC-32C of every byte before it.
/// - `tombstones` (optional): deleted time ranges per series ref.
/// - `meta.json`: written last.
enum BlockFormat {
    static let chunksMagic: [UInt8] = Array("LPC1".utf8)
    static let indexMagic: [UInt8] = Array("LPX1".utf8)
    /// symbols, series, series offsets, postings, postings table, series count.
    static let tableOfContentsSize = 6 * 8 + 4
}

/// Writes a block directory atomically: everything goes to `<id>.tmp`, is fsynced, and the
/// directory is renamed into place, so a crash leaves no half-written block behind a valid name.
struct BlockWriter {
    let parentDirectory: String

    /// Writes `series` (sorted by labels, chunks in time order) as a block with `meta`'s id, level
    /// and sources; fills in the time range (extending the end to `meta.maxTime`, a cut's
    /// boundary, when that is later) and the counts. Returns the final meta.
    func write(_ series: [BlockSeries], meta: BlockMeta) throws(StorageError) -> BlockMeta {
        var meta = meta
        let temporary = WALFiles.join(parentDirectory, meta.id + ".tmp")
        let final = WALFiles.join(parentDirectory, meta.id)
        try WALFiles.createDirectories(parentDirectory)
        if BlockFiles.exists(temporary) { try BlockFiles.removeTree(temporary) }
        try WALFiles.createDirectories(temporary)

        // Chunks: streamed to the file in pieces; their offsets go into the index.
        let chunksPath = WALFiles.join(temporary, "chunks")
        let fd = try WALFiles.open(chunksPath, O_WRONLY | O_CREAT | O_TRUNC)
        var chunkOffsets: [[UInt64]] = []
        chunkOffsets.reserveCapacity(series.count)
        var minTime = Int64.max
        var maxTime = Int64.min
        var samples = 0
        var chunkCount = 0
        do throws(StorageError) {
            var buffer = ByteSink(capacity: 1 << 20)
            buffer.append(BlockFormat.chunksMagic)
            var written = 0
            for entry in series {
                var offsets: [UInt64] = []
                offsets.reserveCapacity(entry.chunks.count)
                for chunk in entry.chunks {
                    offsets.append(UInt64(written + buffer.count))
                    buffer.bytes.append(chunk.encoding.rawValue)
                    buffer.uvarint(chunk.bytes.count)
                    buffer.append(chunk.bytes)
                    var crc = CRC32C.update(0, [chunk.encoding.rawValue])
                    crc = CRC32C.update(crc, chunk.bytes)
                    buffer.uint32(crc)
                    minTime = min(minTime, chunk.minTime)
                    maxTime = max(maxTime, chunk.maxTime)
                    samples += chunk.sampleCount
                    chunkCount += 1
                }
                chunkOffsets.append(offsets)
                if buffer.count >= 1 << 20 {
                    try buffer.bytes.withBytes { (raw: UnsafeRawBufferPointer) throws(StorageError) in
                        try WALFiles.write(fd, raw, at: written, path: chunksPath)
                    }
                    written += buffer.count
                    buffer.bytes.removeAll(keepingCapacity: true)
                }
            }
            try buffer.bytes.withBytes { (raw: UnsafeRawBufferPointer) throws(StorageError) in
                if raw.count > 0 { try WALFiles.write(fd, raw, at: written, path: chunksPath) }
            }
            try WALFiles.sync(fd, path: chunksPath)
            close(fd)
        } catch {
            close(fd)
            throw error
        }

        try BlockFiles.writeFile(WALFiles.join(temporary, "index"), Self.index(series, chunkOffsets: chunkOffsets))

        meta.minTime = minTime == .max ? 0 : minTime
        meta.maxTime = max(maxTime == .min ? 1 : maxTime + 1, meta.maxTime)
        meta.seriesCount = series.count
        meta.sampleCount = samples
        meta.chunkCount = chunkCount
        try BlockFiles.writeFile(WALFiles.join(temporary, "meta.json"), meta.json)
        try WALFiles.syncDirectory(temporary)
        try WALFiles.rename(temporary, final)
        try WALFiles.syncDirectory(parentDirectory)
        return meta
    }

    static func index(_ series: [BlockSeries], chunkOffsets: [[UInt64]]) -> [UInt8] {
        // Symbols: every name and value, sorted, numbered by position.
        var symbolSet = Set<String>()
        for entry in series {
            for label in entry.labels {
                symbolSet.insert(label.name)
                symbolSet.insert(label.value)
            }
        }
        let symbols = symbolSet.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        var symbolRefs: [String: Int] = [:]
        symbolRefs.reserveCapacity(symbols.count)
        for (index, symbol) in symbols.enumerated() { symbolRefs[symbol] = index }

        var sink = ByteSink(capacity: 1 << 16)
        sink.append(BlockFormat.indexMagic)
        let symbolsOffset = sink.count
        sink.uvarint(symbols.count)
        for symbol in symbols { sink.string(symbol) }

        // Series, and the postings gathered on the way (refs come in order, so lists are sorted).
        let seriesOffset = sink.count
        var seriesOffsets: [UInt64] = []
        seriesOffsets.reserveCapacity(series.count)
        var postings: [Label: [UInt64]] = [:]
        for (ref, entry) in series.enumerated() {
            seriesOffsets.append(UInt64(sink.count))
            sink.uvarint(entry.labels.count)
            for label in entry.labels {
                sink.uvarint(symbolRefs[label.name]!)
                sink.uvarint(symbolRefs[label.value]!)
                postings[label, default: []].append(UInt64(ref))
            }
            sink.uvarint(entry.chunks.count)
            var previousMax: Int64 = 0
            var previousOffset: UInt64 = 0
            for (index, chunk) in entry.chunks.enumerated() {
                sink.varint(index == 0 ? chunk.minTime : chunk.minTime &- previousMax)
                sink.uvarint(UInt64(bitPattern: chunk.maxTime &- chunk.minTime))
                sink.uvarint(chunk.sampleCount)
                let offset = chunkOffsets[ref][index]
                sink.uvarint(offset &- previousOffset)
                previousMax = chunk.maxTime
                previousOffset = offset
            }
        }

        let seriesOffsetsOffset = sink.count
        for offset in seriesOffsets { sink.uint64(offset) }

        let postingsOffset = sink.count
        let pairs = postings.keys.sorted {
            $0.name != $1.name
                ? Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8))
                : Array($0.value.utf8).lexicographicallyPrecedes(Array($1.value.utf8))
        }
        var pairOffsets: [Int] = []
        pairOffsets.reserveCapacity(pairs.count)
        for pair in pairs {
            pairOffsets.append(sink.count)
            let refs = postings[pair]!
            sink.uvarint(refs.count)
            var previous: UInt64 = 0
            for ref in refs {
                sink.uvarint(ref - previous)
                previous = ref
            }
        }

        let postingsTableOffset = sink.count
        sink.uvarint(pairs.count)
        for (index, pair) in pairs.enumerated() {
            sink.uvarint(symbolRefs[pair.name]!)
            sink.uvarint(symbolRefs[pair.value]!)
            sink.uvarint(pairOffsets[index])
        }

        sink.uint64(UInt64(symbolsOffset))
        sink.uint64(UInt64(seriesOffset))
        sink.uint64(UInt64(seriesOffsetsOffset))
        sink.uint64(UInt64(postingsOffset))
        sink.uint64(UInt64(postingsTableOffset))
        sink.uint64(UInt64(series.count))
        sink.uint32(CRC32C.checksum(sink.bytes))
        return sink.bytes
    }
}
