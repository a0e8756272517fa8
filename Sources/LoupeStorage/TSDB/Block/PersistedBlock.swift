import LoupeModel
import LoupeWire
import Synchronization

/// A time range deleted from one series (`delete_series` with `start`/`end`), inclusive.
public struct DeletedInterval: Sendable, Hashable {
    public var minTime: Int64
    public var maxTime: Int64

    public init(minTime: Int64, maxTime: Int64) {
        self.minTime = minTime
        self.maxTime = maxTime
    }

    func contains(_ t: Int64) -> Bool { minTime <= t && t <= maxTime }
}

/// An immutable block on disk, memory-mapped: postings and series are read from the mapping on
/// demand; only the symbol table and the postings table are kept decoded.
///
/// Every read checks bounds and every chunk its CRC; damage surfaces as `StorageError(.corrupt)`
/// so the owner can quarantine the block and keep serving the rest.
public final class PersistedBlock: Sendable {
    public let meta: BlockMeta
    public let directory: String
    private let index: MappedFile
    private let chunks: MappedFile
    private let symbols: [String]
    /// label name → label value → offset of its postings list in the index.
    private let postingsTable: [String: [String: Int]]
    private let seriesOffsetsOffset: Int
    public let seriesCount: Int
    private let deleted: Mutex<[SeriesRef: [DeletedInterval]]>

    /// Opens a block directory, verifying the meta and the index checksum.
    public init(directory: String) throws(StorageError) {
        self.directory = directory
        let metaPath = WALFiles.join(directory, "meta.json")
        meta = try BlockMeta(json: try BlockFiles.readFile(metaPath), path: metaPath)
        index = try MappedFile(path: WALFiles.join(directory, "index"))
        chunks = try MappedFile(path: WALFiles.join(directory, "chunks"))

        let bytes = index.bytes
        let path = index.path
        guard bytes.count >= BlockFormat.indexMagic.count + BlockFormat.tableOfContentsSize,
            Array(bytes[0..<4]) == BlockFormat.indexMagic
        else { throw StorageError(.corrupt, "\(path) is not a Loupe block index", path: path) }
        let tocStart = bytes.count - BlockFormat.tableOfContentsSize
        var toc = ByteSource(bytes, offset: tocStart)
        let symbolsOffset = try toc.offset(limit: tocStart)
        _ = try toc.uint64()  // the series section starts where the symbols end
        let seriesOffsetsOffset = try toc.offset(limit: tocStart)
        _ = try toc.uint64()  // postings are reached through the postings table
        let postingsTableOffset = try toc.offset(limit: tocStart)
        let seriesCount = try toc.offset(limit: tocStart / 8)
        let stored = try toc.uint32()
        let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count - 4)]))
        guard stored == computed else {
            throw StorageError(.corrupt, "\(path): checksum mismatch (stored \(stored), computed \(computed))", path: path)
        }
        guard symbolsOffset < tocStart, postingsTableOffset < tocStart, seriesOffsetsOffset + seriesCount * 8 <= tocStart else {
            throw StorageError(.corrupt, "\(path): table of contents points outside the file", path: path)
        }
        guard chunks.count >= 4, Array(chunks.bytes[0..<4]) == BlockFormat.chunksMagic else {
            throw StorageError(.corrupt, "\(chunks.path) is not a Loupe chunks file", path: chunks.path)
        }

        var source = ByteSource(bytes, offset: symbolsOffset, end: tocStart)
        let symbolCount = try source.uvarintInt(limit: tocStart)
        var symbols: [String] = []
        symbols.reserveCapacity(symbolCount)
        for _ in 0..<symbolCount { symbols.append(try source.string()) }

        source = ByteSource(bytes, offset: postingsTableOffset, end: tocStart)
        let pairCount = try source.uvarintInt(limit: tocStart)
        var table: [String: [String: Int]] = [:]
        for _ in 0..<pairCount {
            let name = try source.uvarintInt(limit: symbols.count - 1)
            let value = try source.uvarintInt(limit: symbols.count - 1)
            table[symbols[name], default: [:]][symbols[value]] = try source.uvarintInt(limit: tocStart)
        }
        self.symbols = symbols
        self.postingsTable = table
        self.seriesOffsetsOffset = seriesOffsetsOffset
        self.seriesCount = seriesCount
        self.deleted = Mutex(try Tombstones.read(directory: directory))
    }

    public var id: String { meta.id }
    public var minTime: Int64 { meta.minTime }
    /// Inclusive: the block's latest possible sample.
    public var maxTime: Int64 { meta.maxTime - 1 }

    public func overlaps(minTime: Int64, maxTime: Int64) -> Bool { meta.minTime <= maxTime && minTime < meta.maxTime }

    /// Bytes on disk.
    public var sizeBytes: Int { BlockFiles.treeSize(directory) }

    // MARK: - Reading

    /// Series matching every matcher, with their samples in `[minTime, maxTime]` (deleted
    /// ranges removed); series without samples there are left out. In label order.
    public func select(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64, shard: SeriesShard = .all) throws(StorageError)
        -> [SeriesSamples]
    {
        guard overlaps(minTime: minTime, maxTime: maxTime) else { return [] }
        let deleted = self.deleted.withLock { $0 }
        var result: [SeriesSamples] = []
        for ref in try matchingRefs(matchers) {
            let entry = try series(ref)
            guard shard.contains(entry.labels) else { continue }
            var samples = SeriesSamples(labels: entry.labels)
            for meta in entry.chunks where meta.minTime <= maxTime && minTime <= meta.maxTime {
                ChunkEncoder.decode([try chunk(meta)], minTime: minTime, maxTime: maxTime, into: &samples)
            }
            if let intervals = deleted[ref] { samples.remove(intervals) }
            if !samples.isEmpty { result.append(samples) }
        }
        return result
    }

    /// Label sets of matching series (all series without matchers) that have chunks in the range.
    public func seriesLabels(_ matchers: [LabelMatcher], minTime: Int64 = .min, maxTime: Int64 = .max) throws(StorageError) -> [Labels] {
        guard overlaps(minTime: minTime, maxTime: maxTime) else { return [] }
        let deleted = self.deleted.withLock { $0 }
        let refs = matchers.isEmpty ? (0..<UInt64(seriesCount)).map { $0 } : try matchingRefs(matchers)
        var result: [Labels] = []
        for ref in refs {
            let entry = try series(ref)
            let live = entry.chunks.contains { chunk in
                guard chunk.minTime <= maxTime && minTime <= chunk.maxTime else { return false }
                guard let intervals = deleted[ref] else { return true }
                return !intervals.contains { $0.minTime <= max(chunk.minTime, minTime) && min(chunk.maxTime, maxTime) <= $0.maxTime }
            }
            if live { result.append(entry.labels) }
        }
        return result
    }

    public var labelNames: [String] { Array(postingsTable.keys) }

    public func labelValues(_ name: String) -> [String] { Array((postingsTable[name] ?? [:]).keys) }

    /// Every series with its chunks, for compaction; deleted ranges are applied (chunks that
    /// lose samples are re-encoded).
    func allSeries() throws(StorageError) -> [BlockSeries] {
        let deleted = self.deleted.withLock { $0 }
        var result: [BlockSeries] = []
        result.reserveCapacity(seriesCount)
        for ref in 0..<UInt64(seriesCount) {
            let entry = try series(ref)
            var chunks: [Chunk] = []
            for meta in entry.chunks { chunks.append(try chunk(meta)) }
            if let intervals = deleted[ref] {
                var samples = SeriesSamples(labels: entry.labels)
                ChunkEncoder.decode(chunks, into: &samples)
                samples.remove(intervals)
                chunks = BlockChunkPacker.pack(ChunkEncoder.encode(floats: samples.floats, histograms: samples.histograms))
            }
            if !chunks.isEmpty { result.append(BlockSeries(labels: entry.labels, chunks: chunks)) }
        }
        return result
    }

    /// Reads every chunk and checks its CRC: a full verification, for tests and `loupe` tooling.
    public func verify() throws(StorageError) {
        for ref in 0..<UInt64(seriesCount) {
            for meta in try series(ref).chunks { _ = try chunk(meta) }
        }
    }

    // MARK: - Deletion

    /// Records that `interval` of every matching series is deleted. Returns how many series it touched.
    @discardableResult
    public func delete(_ matchers: [LabelMatcher], interval: DeletedInterval) throws(StorageError) -> Int {
        guard overlaps(minTime: interval.minTime, maxTime: interval.maxTime) else { return 0 }
        // Clamped to the block, so the stored width never overflows.
        let interval = DeletedInterval(minTime: max(interval.minTime, meta.minTime), maxTime: min(interval.maxTime, meta.maxTime - 1))
        let refs = try matchingRefs(matchers)
        guard !refs.isEmpty else { return 0 }
        let updated = deleted.withLock { deleted in
            for ref in refs { deleted[ref, default: []].append(interval) }
            return deleted
        }
        try Tombstones.write(updated, directory: directory)
        return refs.count
    }

    /// Whether every sample of the block is deleted (then the block can go).
    public var isFullyDeleted: Bool {
        let deleted = self.deleted.withLock { $0 }
        guard deleted.count == seriesCount else { return false }
        return deleted.values.allSatisfy { intervals in
            intervals.contains { $0.minTime <= meta.minTime && meta.maxTime - 1 <= $0.maxTime }
        }
    }

    public var hasDeletions: Bool { deleted.withLock { !$0.isEmpty } }

    // MARK: - Index access

    struct ChunkMeta {
        var minTime: Int64
        var maxTime: Int64
        var sampleCount: Int
        var offset: Int
    }

    struct SeriesEntry {
        var labels: Labels
        var chunks: [ChunkMeta]
    }

    func series(_ ref: SeriesRef) throws(StorageError) -> SeriesEntry {
        guard ref < UInt64(seriesCount) else {
            throw StorageError(.corrupt, "\(index.path): series ref \(ref) out of range", path: index.path)
        }
        var table = ByteSource(index.bytes, offset: seriesOffsetsOffset + Int(ref) * 8)
        let offset = try table.offset(limit: seriesOffsetsOffset)
        var source = ByteSource(index.bytes, offset: offset, end: seriesOffsetsOffset)
        let labelCount = try source.uvarintInt(limit: 10_000)
        var labels: [Label] = []
        labels.reserveCapacity(labelCount)
        for _ in 0..<labelCount {
            let name = try source.uvarintInt(limit: symbols.count - 1)
            let value = try source.uvarintInt(limit: symbols.count - 1)
            labels.append(Label(symbols[name], symbols[value]))
        }
        let chunkCount = try source.uvarintInt(limit: chunks.count)
        var metas: [ChunkMeta] = []
        metas.reserveCapacity(chunkCount)
        var previousMax: Int64 = 0
        var previousOffset = 0
        for index in 0..<chunkCount {
            let delta = try source.varint()
            let minTime = index == 0 ? delta : previousMax &+ delta
            let maxTime = minTime &+ Int64(bitPattern: try source.uvarint())
            let sampleCount = try source.uvarintInt(limit: 1 << 20)
            let offset = previousOffset + (try source.uvarintInt(limit: chunks.count))
            metas.append(ChunkMeta(minTime: minTime, maxTime: maxTime, sampleCount: sampleCount, offset: offset))
            previousMax = maxTime
            previousOffset = offset
        }
        return SeriesEntry(labels: Labels(presorted: labels), chunks: metas)
    }

    func chunk(_ meta: ChunkMeta) throws(StorageError) -> Chunk {
        var source = ByteSource(chunks.bytes, offset: meta.offset)
        let encodingOffset = source.offset
        let encodingByte = try source.bytes(1)[0]
        let length = try source.uvarintInt(limit: chunks.count)
        let data = try source.bytes(length)
        let stored = try source.uint32()
        var crc = CRC32C.update(0, [encodingByte])
        crc = CRC32C.update(crc, data)
        guard crc == stored, let encoding = ChunkEncoding(rawValue: encodingByte) else {
            throw StorageError(
                .corrupt, "\(chunks.path): chunk at byte \(encodingOffset) fails its checksum (stored \(stored), computed \(crc))",
                path: chunks.path)
        }
        return Chunk(encoding: encoding, bytes: Array(data), sampleCount: meta.sampleCount, minTime: meta.minTime, maxTime: meta.maxTime)
    }

    func postings(_ offset: Int) throws(StorageError) -> [SeriesRef] {
        var source = ByteSource(index.bytes, offset: offset, end: index.count)
        let count = try source.uvarintInt(limit: seriesCount)
        var refs: [SeriesRef] = []
        refs.reserveCapacity(count)
        var previous: UInt64 = 0
        for _ in 0..<count {
            previous &+= try source.uvarint()
            refs.append(previous)
        }
        return refs
    }

    func matchingRefs(_ matchers: [LabelMatcher]) throws(StorageError) -> [SeriesRef] {
        let ordered = matchers.sorted { !$0.matchesEmpty && $1.matchesEmpty }
        var result: [SeriesRef]?
        for matcher in ordered {
            let refs = try refs(for: matcher)
            result = result.map { TSDBHead.intersect($0, refs) } ?? refs
            if result?.isEmpty == true { return [] }
        }
        return result ?? (0..<UInt64(seriesCount)).map { $0 }
    }

    private func refs(for matcher: LabelMatcher) throws(StorageError) -> [SeriesRef] {
        let values = postingsTable[matcher.name] ?? [:]
        if matcher.matchesEmpty {
            var excluded: [SeriesRef] = []
            for (value, offset) in values where !matcher.matches(value) { excluded = TSDBHead.union(excluded, try postings(offset)) }
            return TSDBHead.subtract((0..<UInt64(seriesCount)).map { $0 }, excluded)
        }
        if matcher.kind == .equal { return try values[matcher.value].map { offset throws(StorageError) in try postings(offset) } ?? [] }
        var result: [SeriesRef] = []
        if let literals = matcher.literalAlternatives {
            for value in literals { if let offset = values[value] { result = TSDBHead.union(result, try postings(offset)) } }
            return result
        }
        for (value, offset) in values where matcher.matches(value) { result = TSDBHead.union(result, try postings(offset)) }
        return result
    }
}

extension SeriesSamples {
    mutating func remove(_ intervals: [DeletedInterval]) {
        floats.removeAll { sample in intervals.contains { $0.contains(sample.timestamp) } }
        histograms.removeAll { sample in intervals.contains { $0.contains(sample.timestamp) } }
    }
}

/// The `tombstones` file of a block: deleted intervals per series ref, with a CRC.
enum Tombstones {
    static let magic: [UInt8] = Array("LPT1".utf8)

    static func read(directory: String) throws(StorageError) -> [SeriesRef: [DeletedInterval]] {
        let path = WALFiles.join(directory, "tombstones")
        return try ChecksummedFile.read(path, magic: magic, what: "tombstones file") { (source: inout ByteSource) throws(StorageError) in
            var result: [SeriesRef: [DeletedInterval]] = [:]
            let count = try source.uvarintInt(limit: source.end)
            for _ in 0..<count {
                let ref = try source.uvarint()
                let intervals = try source.uvarintInt(limit: source.end)
                for _ in 0..<intervals {
                    let minTime = try source.varint()
                    let maxTime = minTime &+ Int64(bitPattern: try source.uvarint())
                    result[ref, default: []].append(DeletedInterval(minTime: minTime, maxTime: maxTime))
                }
            }
            return result
        } ?? [:]
    }

    static func write(_ deleted: [SeriesRef: [DeletedInterval]], directory: String) throws(StorageError) {
        try ChecksummedFile.write(WALFiles.join(directory, "tombstones"), magic: magic, directory: directory) { sink in
            sink.uvarint(deleted.count)
            for (ref, intervals) in deleted.sorted(by: { $0.key < $1.key }) {
                sink.uvarint(ref)
                sink.uvarint(intervals.count)
                for interval in intervals {
                    sink.varint(interval.minTime)
                    sink.uvarint(UInt64(bitPattern: interval.maxTime &- interval.minTime))
                }
            }
        }
    }
}
