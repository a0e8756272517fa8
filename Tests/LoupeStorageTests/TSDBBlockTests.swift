import Glibc
import Logging
import LoupeModel
import Testing

@testable import LoupeStorage

/// Blocks on disk: cut from the head, read back through the memory-mapped index, deleted from,
/// compacted, expired, and quarantined when damaged.
@Suite("TSDB blocks")
struct TSDBBlockTests {
    static let hour: Int64 = 3_600_000
    static let logger = Logger(label: "test.tsdb")

    /// A fresh directory under /tmp, removed by the caller with `removeTree`.
    static func temporaryDirectory() -> String {
        var template = Array("/tmp/loupe-tsdb-XXXXXX".utf8CString)
        let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        return path
    }

    static func histogram(_ count: Double) -> NativeHistogram {
        NativeHistogram(
            schema: 0, zeroCount: 1, count: count + 1, sum: count * 2,
            positiveSpans: [.init(offset: 0, length: 2)], positiveBuckets: [count / 2, count / 2], isIntegerCounts: true)
    }

    /// 40 series of floats over 7 h at 15 s, three with a gap, plus one native-histogram series.
    static func workload(hours: Int64 = 7, start: Int64 = 0) -> [TimeSeries] {
        var batch: [TimeSeries] = []
        let steps = Int(hours * hour / 15_000)
        for job in ["api", "web", "db", "cache"] {
            for instance in 0..<10 {
                let labels = Labels([Label("__name__", "requests_total"), Label("job", job), Label("instance", "\(instance)")])
                let samples = (0..<steps).compactMap { step -> FloatSample? in
                    if instance < 3 && (200..<400).contains(step) { return nil }
                    return FloatSample(timestamp: start + Int64(step) * 15_000, value: Double(step * (instance + 1)) + 0.25)
                }
                batch.append(TimeSeries(labels: labels, samples: samples))
            }
        }
        var latency = TimeSeries(labels: Labels([Label("__name__", "latency_seconds"), Label("job", "api")]), samples: [])
        latency.histograms = (0..<steps).map { HistogramSample(timestamp: start + Int64($0) * 15_000, histogram: histogram(Double($0 * 2))) }
        batch.append(latency)
        return batch
    }

    static func open(_ directory: String, options: PrometheusStoreOptions = PrometheusStoreOptions()) throws -> PrometheusStore {
        try PrometheusStore(directory: directory, options: options, logger: logger)
    }

    /// Cuts every due range of the tenant's head into blocks on disk.
    static func cutAll(_ database: TenantTSDB) throws {
        while let boundary = database.head.cutBoundary() {
            if let pending = database.cutHead(before: boundary, nowMilliseconds: 1) { try database.persist(pending) }
        }
    }

    static let selectors: [[LabelMatcher]] = {
        [
            [.equal("__name__", "requests_total")],
            [.equal("job", "api")],
            [try! LabelMatcher("job", .regexMatch, "api|db"), try! LabelMatcher("instance", .notEqual, "3")],
            [try! LabelMatcher("instance", .regexNoMatch, "1.*|2")],
            [.equal("instance", ""), .equal("job", "api")],
            [try! LabelMatcher("__name__", .regexMatch, ".+")],
            [.equal("job", "nope")],
        ]
    }()

    @Test("a head cut into blocks answers every selector exactly as the head alone did")
    func cutMatchesHead() throws {
        let directory = Self.temporaryDirectory()
        defer { try? BlockFiles.removeTree(directory) }
        let reference = TSDBHead()
        _ = reference.append(Self.workload())
        let store = try Self.open(directory)
        let database = store.database(for: .default)
        _ = database.append(Self.workload())
        try Self.cutAll(database)
        #expect(database.persistedBlocks.count == 2, "7 h of data: two 2 h blocks cut, 3 h left in the head")
        #expect(database.head.minValidTime == 4 * Self.hour)

        for matchers in Self.selectors {
            for (minTime, maxTime) in [(Int64.min, Int64.max), (Self.hour, 5 * Self.hour), (4 * Self.hour - 1, 4 * Self.hour)] {
                let expected = reference.select(matchers, minTime: minTime, maxTime: maxTime)
                let actual = database.select(matchers, minTime: minTime, maxTime: maxTime)
                #expect(actual == expected, "\(matchers) [\(minTime), \(maxTime)]")
            }
            #expect(database.series(matchers) == reference.series(matchers))
        }
        #expect(database.labelNames() == reference.labelNames())
        #expect(database.labelValues("instance") == reference.labelValues("instance"))

        // Reopened from disk (a restart), the blocks answer the same.
        let reopened = try Self.open(directory).database(for: .default)
        #expect(reopened.persistedBlocks.map(\.id) == database.persistedBlocks.map(\.id))
        let inBlocks = reference.select([.equal("job", "web")], minTime: .min, maxTime: 4 * Self.hour - 1)
        #expect(reopened.select([.equal("job", "web")], minTime: .min, maxTime: .max) == inBlocks)
        #expect(reopened.head.minValidTime == 4 * Self.hour, "the head refuses in-order samples the blocks cover")
        for block in reopened.persistedBlocks { try block.verify() }
    }

    @Test("the newest sample per series, from the head's last append or from blocks, is the newest a full select finds")
    func newestSamples() throws {
        let directory = Self.temporaryDirectory()
        defer { try? BlockFiles.removeTree(directory) }
        let store = try Self.open(directory, options: PrometheusStoreOptions(outOfOrderWindow: 3_600_000))
        let database = store.database(for: .default)
        _ = database.append(Self.workload())
        try Self.cutAll(database)
        // A stale marker, an out-of-order sample and a deleted newest sample.
        let end = 7 * Self.hour
        _ = database.append([
            TimeSeries(labels: Labels([Label("__name__", "requests_total"), Label("job", "api"), Label("instance", "0")]),
                       samples: [FloatSample(timestamp: end, value: StaleMarker.value)]),
            TimeSeries(labels: Labels([Label("__name__", "requests_total"), Label("job", "web"), Label("instance", "1")]),
                       samples: [FloatSample(timestamp: end - 20 * 60_000 + 1, value: 42)]),
        ])
        _ = try database.delete([.equal("job", "db"), .equal("instance", "2")], interval: DeletedInterval(minTime: end - 10 * 60_000, maxTime: .max))
        let windows: [(Int64, Int64)] = [
            (Int64.min, Int64.max), (end - 5 * 60_000, end), (end - 30 * 60_000, end - 15 * 60_000),
            (3 * Self.hour, 5 * Self.hour), (Self.hour - 300_000, Self.hour), (4 * Self.hour - 300_000, 4 * Self.hour + 1),
        ]
        // Stale markers are NaNs: compare bit patterns.
        func bits(_ series: [SeriesSamples]) -> [String] {
            series.map { "\($0.labels) \($0.floats.map { "\($0.timestamp):\($0.value.bitPattern)" }) \($0.histograms)" }
        }
        for matchers in Self.selectors {
            for (minTime, maxTime) in windows {
                let expected = bits(database.select(matchers, minTime: minTime, maxTime: maxTime).map(\.newest))
                #expect(bits(database.selectNewest(matchers, minTime: minTime, maxTime: maxTime)) == expected, "\(matchers) [\(minTime), \(maxTime)]")
                #expect(bits(database.head.selectNewest(matchers, minTime: minTime, maxTime: maxTime))
                        == bits(database.head.select(matchers, minTime: minTime, maxTime: maxTime).map(\.newest)))
            }
        }
        #expect(bits(database.head.selectNewest([.equal("job", "api"), .equal("instance", "0")], minTime: end - 1, maxTime: end))
                == ["requests_total{instance=\"0\", job=\"api\"} [\"\(end):\(StaleMarker.bitPattern)\"] []"], "the stale marker is the newest sample")
    }

    @Test("shards of a select over head and blocks are disjoint and together are the whole select")
    func shardedSelects() throws {
        let directory = Self.temporaryDirectory()
        defer { try? BlockFiles.removeTree(directory) }
        let database = try Self.open(directory).database(for: .default)
        _ = database.append(Self.workload())
        try Self.cutAll(database)
        for matchers in Self.selectors {
            let whole = database.select(matchers, minTime: .min, maxTime: .max)
            for count in [2, 3, 7] {
                var union: [SeriesSamples] = []
                for index in 0..<count {
                    let shard = SeriesShard(index: index, of: count)
                    let part = database.select(matchers, minTime: .min, maxTime: .max, shard: shard)
                    #expect(part.allSatisfy { shard.contains($0.labels) })
                    union += part
                }
                #expect(union.sorted { $0.labels < $1.labels } == whole, "\(matchers) in \(count) shards")
            }
        }
    }

    @Test("bytes per sample on disk for counter-like floats stay near Gorilla's 1.37")
    func compactness() throws {
        let directory = Self.temporaryDirectory()
        defer { try? BlockFiles.removeTree(directory) }
        let database = try Self.open(directory).database(for: .default)
        _ = database.append(Self.workload())
        try Self.cutAll(database)
        let samples = database.persistedBlocks.reduce(0) { $0 + $1.meta.sampleCount }
        let bytes = database.persistedBlocks.reduce(0) { $0 + $1.sizeBytes }
        #expect(samples > 0)
        #expect(Double(bytes) / Double(samples) < 2.0, "\(bytes) bytes for \(samples) samples")
    }

    @Test("out-of-order samples inside the window are kept, merged on read, and cut into an overlapping block that compaction folds in")
    func outOfOrder() throws {
        let directory = Self.temporaryDirectory()
        defer { try? BlockFiles.removeTree(directory) }
        let store = try Self.open(directory, options: PrometheusStoreOptions(outOfOrderWindow: 6 * Self.hour))
        let database = store.database(for: .default)
        let labels = Labels([Label("__name__", "temperature"), Label("room", "a")])
        // In order: every minute for 7 h, odd minutes missing.
        func minute(_ index: Int) -> FloatSample { FloatSample(timestamp: Int64(index) * 60_000, value: Double(index)) }
        let inOrder: [FloatSample] = stride(from: 0, to: 420, by: 2).map(minute)
        #expect(database.append([TimeSeries(labels: labels, samples: inOrder)]).floatsAppended == inOrder.count)
        try Self.cutAll(database)
        #expect(database.persistedBlocks.count == 2)
        // The odd minutes arrive late: some before the blocks' end, some in the head's range.
        let late: [FloatSample] = stride(from: 61, to: 420, by: 2).map(minute)
        let result = database.append([TimeSeries(labels: labels, samples: late)])
        #expect(result.floatsAppended == late.count, "rejected: \(String(describing: result.rejected))")
        // A duplicate with another value is refused, an equal one is fine.
        #expect(database.append([TimeSeries(labels: labels, samples: [FloatSample(timestamp: 61 * 60_000, value: 0)])]).rejected[.duplicateTimestamp] == 1)

        let expected = (inOrder + late).sorted { $0.timestamp < $1.timestamp }
        #expect(database.select([.equal("room", "a")], minTime: .min, maxTime: .max).first?.floats == expected)

        // More in-order data so the head is cut again: the late samples before 4 h land in a block
        // that overlaps the earlier ones, and compaction merges them.
        let more: [FloatSample] = (420..<600).map(minute)
        _ = database.append([TimeSeries(labels: labels, samples: more)])
        try Self.cutAll(database)
        let everything = (expected + more).sorted { $0.timestamp < $1.timestamp }
        #expect(database.select([.equal("room", "a")], minTime: .min, maxTime: .max).first?.floats == everything)
        let metas = database.persistedBlocks.map(\.meta)
        #expect(BlockCompactor.plan(metas, ranges: [2 * Self.hour, 6 * Self.hour]) != nil, "overlapping blocks are planned first")
        while try database.compactOnce(ranges: [2 * Self.hour, 6 * Self.hour], nowMilliseconds: 2) {}
        let after = database.persistedBlocks
        for (left, right) in zip(after, after.dropFirst()) { #expect(left.meta.maxTime <= right.meta.minTime, "no overlaps remain") }
        #expect(database.select([.equal("room", "a")], minTime: .min, maxTime: .max).first?.floats == everything)

        // Outside the window: refused, and said why.
        let tooOld = database.append([TimeSeries(labels: labels, samples: [FloatSample(timestamp: 30_000, value: 1)])])
        #expect(tooOld.rejected[.outOfBounds] == 1)
    }

    @Test("without an out-of-order window, samples before the head's lower bound are refused as out of bounds")
    func outOfBounds() throws {
        let directory = Self.temporaryDirectory()
        defer { try? BlockFiles.removeTree(directory) }
        let database = try Self.open(directory).database(for: .default)
        _ = database.append(Self.workload())
        try Self.cutAll(database)
        let labels = Labels([Label("__name__", "new_series")])
        let result = database.append([TimeSeries(labels: labels, samples: [FloatSample(timestamp: Self.hour, value: 1)])])
        #expect(result.rejected[.outOfBounds] == 1)
        let old = Labels([Label("__name__", "requests_total"), Label("job", "api"), Label("instance", "5")])
        #expect(database.append([TimeSeries(labels: old, samples: [FloatSample(timestamp: 5 * Self.hour + 1, value: 1)])]).rejected[.outOfOrder] == 1)
    }

    @Test("compaction merges adjacent blocks into one covering their range, with the same data, and removes the sources")
    func compaction() throws {
        let directory = Self.temporaryDirectory()
        defer { try? BlockFiles.removeTree(directory) }
        let database = try Self.open(directory).database(for: .default)
        _ = database.append(Self.workload(hours: 9))
        try Self.cutAll(database)
        #expect(database.persistedBlocks.count == 3)
        let beforeAll = database.select([try LabelMatcher("__name__", .regexMatch, ".+")], minTime: .min, maxTime: .max)
        #expect(!beforeAll.isEmpty)
        let sources = database.persistedBlocks.map(\.id)
        #expect(try database.compactOnce(ranges: [2 * Self.hour, 6 * Self.hour], nowMilliseconds: 5))
        #expect(try !database.compactOnce(ranges: [2 * Self.hour, 6 * Self.hour], nowMilliseconds: 6))
        let blocks = database.persistedBlocks
        #expect(blocks.count == 1)
        #expect(blocks[0].meta.level == 2)
        #expect(Set(blocks[0].meta.compactedFrom) == Set(sources))
        #expect(blocks[0].meta.minTime == 0 && blocks[0].meta.maxTime == 6 * Self.hour)
        for id in sources { #expect(!BlockFiles.exists(directory + "/default/" + id)) }
        #expect(database.select([try LabelMatcher("__name__", .regexMatch, ".+")], minTime: .min, maxTime: .max) == beforeAll)
    }

    @Test("a compaction interrupted after writing its block leaves sources that the next start removes")
    func interruptedCompaction() throws {
        let directory = Self.temporaryDirectory()
        defer { try? BlockFiles.removeTree(directory) }
        let database = try Self.open(directory).database(for: .default)
        _ = database.append(Self.workload(hours: 9))
        try Self.cutAll(database)
        let sources = database.persistedBlocks
        // Write the merged block by hand, as if the process died before deleting the sources.
        let merged = BlockCompactor.merge(try sources.map { try $0.allSeries() })
        _ = try BlockWriter(parentDirectory: directory + "/default").write(
            merged, meta: BlockMeta(id: "000000000099AAAAAAAA", minTime: 0, maxTime: 1, seriesCount: 0, sampleCount: 0, chunkCount: 0,
                                    level: 2, compactedFrom: sources.map(\.id)))
        // And an unfinished write.
        try WALFiles.createDirectories(directory + "/default/00000000009ABBBBBBBB.tmp")
        let reopened = try Self.open(directory).database(for: .default)
        #expect(reopened.persistedBlocks.map(\.id) == ["000000000099AAAAAAAA"])
        #expect(!BlockFiles.exists(directory + "/default/00000000009ABBBBBBBB.tmp"))
    }

    @Test("deleting a time range hides it in blocks and head, survives a restart, and compaction drops it")
    func deleteRange() throws {
        let directory = Self.temporaryDirectory()
        defer { try? BlockFiles.removeTree(directory) }
        let database = try Self.open(directory).database(for: .default)
        _ = database.append(Self.workload())
        try Self.cutAll(database)
        let matchers: [LabelMatcher] = [.equal("job", "db"), .equal("instance", "7")]
        let all = try #require(database.select(matchers, minTime: .min, maxTime: .max).first).floats
        let interval = DeletedInterval(minTime: Self.hour, maxTime: 5 * Self.hour)  // spans a block and the head
        #expect(try database.delete(matchers, interval: interval) >= 2)
        let expected = all.filter { !interval.contains($0.timestamp) }
        #expect(database.select(matchers, minTime: .min, maxTime: .max).first?.floats == expected)
        #expect(database.select([.equal("job", "db"), .equal("instance", "6")], minTime: .min, maxTime: .max).first?.floats.count == all.count)

        let reopened = try Self.open(directory).database(for: .default)
        let inBlocks = expected.filter { $0.timestamp < 4 * Self.hour }
        #expect(reopened.select(matchers, minTime: .min, maxTime: .max).first?.floats == inBlocks)
        while try reopened.compactOnce(ranges: [2 * Self.hour, 4 * Self.hour], nowMilliseconds: 9) {}
        #expect(reopened.persistedBlocks.allSatisfy { !$0.hasDeletions })
        #expect(reopened.select(matchers, minTime: .min, maxTime: .max).first?.floats == inBlocks)

        // Whole-series delete: gone everywhere.
        try reopened.delete([.equal("job", "db")])
        #expect(reopened.select([.equal("job", "db")], minTime: .min, maxTime: .max).isEmpty)
        #expect(reopened.series([.equal("job", "db")]).isEmpty)
    }

    @Test("retention removes blocks past the time cutoff, and the oldest blocks over the size limit")
    func retention() throws {
        let directory = Self.temporaryDirectory()
        defer { try? BlockFiles.removeTree(directory) }
        let database = try Self.open(directory).database(for: .default)
        _ = database.append(Self.workload(hours: 11))
        try Self.cutAll(database)
        #expect(database.persistedBlocks.count == 4)
        let removed = try database.applyRetention(cutoff: 2 * Self.hour, maximumBytes: nil)
        #expect(removed.count == 1)
        #expect(database.select([.equal("job", "api")], minTime: 0, maxTime: 2 * Self.hour - 1).isEmpty)
        let sizes = database.persistedBlocks.map(\.sizeBytes)
        let removedBySize = try database.applyRetention(cutoff: nil, maximumBytes: sizes.dropFirst().reduce(0, +))
        #expect(removedBySize.count == 1)
        #expect(database.persistedBlocks.first?.meta.minTime == 4 * Self.hour)
    }

    @Test("a damaged chunk is caught by its checksum: the block is quarantined and the rest keeps serving")
    func corruptChunk() throws {
        let directory = Self.temporaryDirectory()
        defer { try? BlockFiles.removeTree(directory) }
        let database = try Self.open(directory).database(for: .default)
        _ = database.append(Self.workload())
        try Self.cutAll(database)
        let damaged = try #require(database.persistedBlocks.first)
        let chunksPath = damaged.directory + "/chunks"
        var bytes = try BlockFiles.readFile(chunksPath)
        bytes[bytes.count / 2] ^= 0x5A
        try BlockFiles.writeFile(chunksPath, bytes)

        let result = database.select([try LabelMatcher("__name__", .regexMatch, ".+")], minTime: .min, maxTime: .max)
        #expect(!result.isEmpty, "the other block and the head still answer")
        #expect(database.persistedBlocks.count == 1)
        #expect(BlockFiles.exists(directory + "/quarantine/default." + damaged.id))
        #expect(result.allSatisfy { $0.floats.allSatisfy { $0.timestamp >= 2 * Self.hour } } )
    }

    @Test("a damaged index or meta is caught at open: quarantined, the store still opens")
    func corruptIndex() throws {
        let directory = Self.temporaryDirectory()
        defer { try? BlockFiles.removeTree(directory) }
        let database = try Self.open(directory).database(for: .default)
        _ = database.append(Self.workload())
        try Self.cutAll(database)
        let blocks = database.persistedBlocks
        var index = try BlockFiles.readFile(blocks[0].directory + "/index")
        index[20] ^= 0x01
        try BlockFiles.writeFile(blocks[0].directory + "/index", index)
        try BlockFiles.writeFile(blocks[1].directory + "/meta.json", Array("{\"version\": 1, \"ulid\": ".utf8))
        let reopened = try Self.open(directory).database(for: .default)
        #expect(reopened.persistedBlocks.isEmpty)
        #expect(BlockFiles.list(directory + "/quarantine").count == 2)
    }

    @Test("block files never crash the reader: random damage to index and chunks is reported or quarantined", .timeLimit(.minutes(10)))
    func fuzzDamage() throws {
        let directory = Self.temporaryDirectory()
        defer { try? BlockFiles.removeTree(directory) }
        let database = try Self.open(directory).database(for: .default)
        _ = database.append(Self.workload(hours: 4))
        try Self.cutAll(database)
        let block = try #require(database.persistedBlocks.first)
        let original = (index: try BlockFiles.readFile(block.directory + "/index"), chunks: try BlockFiles.readFile(block.directory + "/chunks"))
        var generator = SystemRandomNumberGenerator()
        var caught = 0
        for round in 0..<200 {
            var index = original.index
            var chunks = original.chunks
            switch round % 4 {
            case 0: index[Int.random(in: 0..<index.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            case 1: chunks[Int.random(in: 0..<chunks.count, using: &generator)] ^= UInt8.random(in: 1...255, using: &generator)
            case 2: index.removeLast(Int.random(in: 1..<index.count, using: &generator))
            default: chunks.removeLast(Int.random(in: 1..<chunks.count, using: &generator))
            }
            try BlockFiles.writeFile(block.directory + "/index", index)
            try BlockFiles.writeFile(block.directory + "/chunks", chunks)
            do {
                let reopened = try PersistedBlock(directory: block.directory)
                _ = try reopened.select([try LabelMatcher("__name__", .regexMatch, ".+")], minTime: .min, maxTime: .max)
                try reopened.verify()
            } catch {
                caught += 1
            }
        }
        #expect(caught >= 190, "nearly every damage is detected (a flipped byte can land in a CRC's unchecked padding only rarely)")
    }
}
