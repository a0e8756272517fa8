import Foundation
import LoupeModel
import LoupeWire
import Synchronization
import Testing

@testable import LoupeStorage

/// Trace blocks: the columnar page codec gives back every field, a cut head is written as a block
/// and read through the same API, a trace split across a cut is merged, and bad bytes are refused.
@Suite struct TraceBlockTests {
    static let tenant = Tenant.default

    static func temporaryDirectory() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-trace-block-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    static func batch(_ data: TraceData, tenant: Tenant = tenant) -> DurableBatch<TraceData> {
        DurableBatch(tenant: tenant, data: data, encoded: OTLPProtobuf.encodeTraces(data), timeBounds: data.timeBounds)
    }

    /// Every span of `data` keyed by span ID, with resource and scope: order-free comparison.
    static func spans(_ data: TraceData) -> [SpanID: (Span, Resource, InstrumentationScope, String, String)] {
        var result: [SpanID: (Span, Resource, InstrumentationScope, String, String)] = [:]
        for resourceSpans in data.resourceSpans {
            for scopeSpans in resourceSpans.scopeSpans {
                for span in scopeSpans.spans {
                    result[span.spanID] = (span, resourceSpans.resource, scopeSpans.scope, resourceSpans.schemaURL, scopeSpans.schemaURL)
                }
            }
        }
        return result
    }

    /// A span using every field: events, links, every value kind, dropped counts, a parent outside the trace.
    static func unusualSpan() -> Span {
        Span(
            traceID: TraceID(high: 7, low: 7), spanID: SpanID(value: 0xABCD), traceState: "a=b", parentSpanID: SpanID(value: 0x1234),
            flags: 0x301, name: "odd", kind: .consumer, startTimeUnixNano: 1_000, endTimeUnixNano: 900,
            attributes: [
                KeyValue("s", .string("x")), KeyValue("b", .bool(true)), KeyValue("i", .int(-5)), KeyValue("d", .double(-0.25)),
                KeyValue("e", .empty), KeyValue("bytes", .bytes([0, 1, 255])),
                KeyValue("a", .array([.int(1), .string("two"), .array([.bool(false)])])),
                KeyValue("m", .keyValueList([KeyValue("k", .double(.infinity))])),
            ],
            droppedAttributesCount: 3,
            events: [SpanEvent(timeUnixNano: 500, name: "before start", attributes: [KeyValue("n", .int(1))], droppedAttributesCount: 1)],
            droppedEventsCount: 2,
            links: [SpanLink(traceID: TraceID(high: 1, low: 2), spanID: SpanID(value: 3), traceState: "t=1", attributes: [KeyValue("l", .bool(false))], droppedAttributesCount: 4, flags: 0x100)],
            droppedLinksCount: 5,
            status: SpanStatus(message: "bad", code: .error))
    }

    @Test func aPageGivesBackEverySpanExactly() throws {
        var data = OTLPSampleData.makeBenchmarkTraces(spanCount: 200, attributesPerSpan: 25)
        data.resourceSpans[0].scopeSpans[0].spans.append(Self.unusualSpan())
        var origins: [SpanOrigin] = []
        var byTrace: [TraceID: [(span: Span, origin: Int)]] = [:]
        for resourceSpans in data.resourceSpans {
            for scopeSpans in resourceSpans.scopeSpans {
                origins.append(SpanOrigin(resource: resourceSpans.resource, resourceSchemaURL: resourceSpans.schemaURL, scope: scopeSpans.scope, scopeSchemaURL: scopeSpans.schemaURL))
                for span in scopeSpans.spans { byTrace[span.traceID, default: []].append((span, origins.count - 1)) }
            }
        }
        let traces = byTrace.keys.sorted().map { PageTrace(id: $0, spans: byTrace[$0]!) }
        let (bytes, rawLength) = TracePageCodec.encode(traces, origins: origins)
        let decoded = try bytes.withUnsafeBytes { try TracePageCodec.decode($0, rawLength: rawLength) }
        #expect(decoded.origins == origins)
        #expect(decoded.traces.map(\.id) == traces.map(\.id))
        for (original, back) in zip(traces, decoded.traces) {
            #expect(back.spans.map(\.span) == original.spans.map(\.span))
            #expect(back.spans.map(\.origin) == original.spans.map(\.origin))
        }
        // The benchmark's spans, columnar and deflated, take far less than their protobuf.
        #expect(bytes.count * 3 < OTLPProtobuf.encodeTraces(data).count)
        // Span-level fields only, and only the traces asked for: the rest come back empty.
        let core = try bytes.withUnsafeBytes { try TracePageCodec.decode($0, rawLength: rawLength, projection: .core, keep: { $0 % 3 == 0 }) }
        #expect(core.traces.map(\.id) == traces.map(\.id))
        for (index, (original, back)) in zip(traces, core.traces).enumerated() {
            guard index % 3 == 0 else {
                #expect(back.spans.isEmpty)
                continue
            }
            let stripped = original.spans.map { entry -> Span in
                var span = entry.span
                span.attributes = []
                span.events = []
                span.links = []
                span.droppedAttributesCount = 0
                span.droppedEventsCount = 0
                span.droppedLinksCount = 0
                return span
            }
            #expect(back.spans.map(\.span) == stripped)
            #expect(back.spans.map(\.origin) == original.spans.map(\.origin))
        }
    }

    @Test func doublesThatAreShortDecimalsTakeFewBytesAndComeBackBitForBit() {
        for value in [0.25, 1.5e-3, 0.000_123_456_789, 12_345.678, -7.0, 0.1, 0.3, 1e-12, 123_456_789.123] {
            let (scale, mantissa) = try! #require(TracePageCodec.decimal(value))
            #expect((Double(mantissa) / TracePageCodec.powersOfTen[Int(scale)]).bitPattern == value.bitPattern)
        }
        for value in [Double.pi, -0.0, .nan, .infinity, 1e300, 1.0 / 3.0] {
            #expect(TracePageCodec.decimal(value) == nil, "\(value)")
        }
    }

    @Test func truncatedOrDamagedPagesAreRefusedNotTrusted() throws {
        let data = OTLPSampleData.makeBenchmarkTraces(spanCount: 64, attributesPerSpan: 12)
        var traces: [PageTrace] = []
        let origins = data.resourceSpans.map { SpanOrigin(resource: $0.resource, scope: $0.scopeSpans[0].scope) }
        var byTrace: [TraceID: [(span: Span, origin: Int)]] = [:]
        for (index, resourceSpans) in data.resourceSpans.enumerated() {
            for span in resourceSpans.scopeSpans[0].spans { byTrace[span.traceID, default: []].append((span, index)) }
        }
        traces = byTrace.keys.sorted().map { PageTrace(id: $0, spans: byTrace[$0]!) }
        let (bytes, rawLength) = TracePageCodec.encode(traces, origins: origins)
        var generator = SystemRandomNumberGenerator()
        for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 50)) {
            #expect(throws: StorageError.self) { try Array(bytes[0..<cut]).withUnsafeBytes { try TracePageCodec.decode($0, rawLength: rawLength) } }
        }
        // Random raw bytes (inflated) under the codec: errors, never a trap.
        for _ in 0..<300 {
            let length = Int.random(in: 0..<400, using: &generator)
            var raw = [UInt8](repeating: 0, count: length)
            for index in raw.indices { raw[index] = UInt8.random(in: 0...255, using: &generator) }
            if !raw.isEmpty { raw[0] = 1 }
            let deflated = Gzip.compressDeflate(raw)
            _ = try? deflated.withUnsafeBytes { try TracePageCodec.decode($0, rawLength: raw.count) }
        }
    }

    @Test func aCutHeadIsWrittenAsABlockAndReadTheSameAfterReopening() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let data = OTLPSampleData.makeBenchmarkTraces(spanCount: 10_000, attributesPerSpan: 20)
        let store = try TraceSpanStore(directory: directory)
        try await store.append(Self.batch(data))
        let someTrace = data.resourceSpans[1].scopeSpans[0].spans[17].traceID
        let before = try #require(try store.trace(tenant: Self.tenant, id: someTrace))
        let summaryBefore = try #require(store.summary(tenant: Self.tenant, id: someTrace))
        let searchBefore = try store.search(tenant: Self.tenant, TraceSearch(conditions: [.init(key: "http.route", value: "/api/v1/checkout")], limit: 5))
        let tagsBefore = store.tagValues(tenant: Self.tenant, name: "http.route")

        let sequence = store.cutHeads()
        #expect(store.headBytes == 0)
        #expect(Self.spans(try #require(try store.trace(tenant: Self.tenant, id: someTrace))).keys == Self.spans(before).keys, "served from the frozen head")
        #expect(try store.persistBlocks() == 1)
        #expect(store.allBlocksPersisted && store.blockCount == 1)
        #expect(await store.statistics().items == 10_000)
        try store.saveCheckpoint(TraceCheckpoint(cutID: 1, walSegmentsBefore: 0, sequence: sequence))
        // Well under the protobuf the head held.
        #expect(store.blockBytes * 4 < OTLPProtobuf.encodeTraces(data).count)

        for reader in [store, try TraceSpanStore(directory: directory)] {
            let after = try #require(try reader.trace(tenant: Self.tenant, id: someTrace))
            let (a, b) = (Self.spans(before), Self.spans(after))
            #expect(a.count == b.count)
            for (id, value) in a {
                let other = try #require(b[id])
                #expect(value.0 == other.0 && value.1 == other.1 && value.2 == other.2 && value.3 == other.3 && value.4 == other.4)
            }
            #expect(reader.summary(tenant: Self.tenant, id: someTrace) == summaryBefore)
            let search = try reader.search(tenant: Self.tenant, TraceSearch(conditions: [.init(key: "http.route", value: "/api/v1/checkout")], limit: 5))
            #expect(Set(search.map(\.summary.traceID)).count == 5)
            #expect(search.allSatisfy { hit in hit.matchedSpans.allSatisfy { $0.attributes.contains { $0.key == "http.route" && $0.value == .string("/api/v1/checkout") } } })
            #expect(searchBefore.count == 5)
            #expect(reader.tagValues(tenant: Self.tenant, name: "http.route") == tagsBefore)
            let recent = try reader.search(tenant: Self.tenant, TraceSearch(limit: 3))
            #expect(recent.count == 3 && recent.map(\.summary.startTimeUnixNano) == recent.map(\.summary.startTimeUnixNano).sorted(by: >))
            let all = try await reader.read(tenant: Self.tenant, range: TimeRange(start: 0, end: .max))
            #expect(all.itemCount == 10_000)
        }
    }

    @Test func scansJudgePagesInParallelButVisitInScanOrderAndStopWhenToldTo() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try TraceSpanStore(directory: directory)
        // Three blocks of several pages each (a page holds about 4,096 spans).
        for seed in 1...3 {
            try await store.append(Self.batch(OTLPSampleData.makeBenchmarkTraces(spanCount: 20_000, attributesPerSpan: 4, seed: UInt64(seed))))
            _ = store.cutHeads()
            try store.persistBlocks()
        }
        #expect(store.blockCount == 3)
        // The sequential form (one step) and the two-step form give the same traces in the same order.
        var sequential: [TraceID] = []
        try store.scanTraces(tenant: Self.tenant, admits: { $0.errorCount > 0 }) { summary, spans in
            #expect(spans.count == summary.spanCount)
            sequential.append(summary.traceID)
            return true
        }
        var twoStep: [TraceID] = []
        try store.scanTraces(tenant: Self.tenant, admits: { $0.errorCount > 0 }, evaluate: { summary, spans in
            (summary.traceID, spans.count == summary.spanCount)
        }) { outcome in
            #expect(outcome.1)
            twoStep.append(outcome.0)
            return true
        }
        #expect(sequential.count > 100 && Set(sequential).count == sequential.count)
        #expect(twoStep == sequential)
        let expected = try store.search(tenant: Self.tenant, TraceSearch(limit: 1_000_000)).filter { $0.summary.errorCount > 0 }
        #expect(Set(expected.map(\.summary.traceID)) == Set(sequential))
        // A visit that says stop ends the scan there, with the first traces of the full order.
        var limited: [TraceID] = []
        try store.scanTraces(tenant: Self.tenant, admits: { $0.errorCount > 0 }, evaluate: { summary, _ in summary.traceID }) { id in
            limited.append(id)
            return limited.count < 25
        }
        #expect(limited == Array(sequential.prefix(25)))
        // Bounds checked on the index entries select what the same conditions on summaries select.
        for (bounds, condition) in [
            (TraceScanBounds(requiresError: true), { (summary: TraceSummary) in summary.errorCount > 0 }),
            (TraceScanBounds(minimumLongestSpan: 500_000_000), { $0.longestSpanNanoseconds >= 500_000_000 }),
            (TraceScanBounds(minimumDuration: 100_000_000, maximumDuration: 900_000_000), {
                (100_000_000...900_000_000).contains($0.durationNanoseconds)
            }),
        ] {
            var byBounds: [TraceID] = []
            try store.scanTraces(tenant: Self.tenant, bounds: bounds, admits: { _ in true }) { summary, _ in
                byBounds.append(summary.traceID)
                return true
            }
            var byCondition: [TraceID] = []
            try store.scanTraces(tenant: Self.tenant, admits: condition) { summary, _ in
                byCondition.append(summary.traceID)
                return true
            }
            #expect(!byBounds.isEmpty && byBounds == byCondition, "\(bounds)")
        }
    }

    @Test func aTraceSplitAcrossACutIsMergedOnceInScansAndSearches() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try TraceSpanStore(directory: directory)
        let id = TraceID(high: 1, low: 1)
        func data(_ spans: [Span], service: String) -> TraceData {
            TraceData(resourceSpans: [ResourceSpans(resource: Resource(attributes: [KeyValue("service.name", .string(service))]), scopeSpans: [ScopeSpans(spans: spans)])])
        }
        let root = Span(traceID: id, spanID: SpanID(value: 1), name: "root", kind: .server, startTimeUnixNano: 1_000, endTimeUnixNano: 2_000)
        try await store.append(Self.batch(data([root], service: "front")))
        _ = store.cutHeads()
        try store.persistBlocks()
        let child = Span(traceID: id, spanID: SpanID(value: 2), parentSpanID: SpanID(value: 1), name: "child", startTimeUnixNano: 1_500, endTimeUnixNano: 9_000, status: SpanStatus(code: .error))
        try await store.append(Self.batch(data([child], service: "back")))

        let summary = try #require(store.summary(tenant: Self.tenant, id: id))
        #expect(summary.spanCount == 2 && summary.errorCount == 1 && summary.rootSpanName == "root" && summary.durationNanoseconds == 8_000)
        var visits: [(TraceSummary, Int)] = []
        try store.scanTraces(tenant: Self.tenant, admits: { _ in true }) { summary, spans in
            visits.append((summary, spans.count))
            return true
        }
        #expect(visits.count == 1 && visits[0].1 == 2 && visits[0].0.spanCount == 2)
        // Only the whole trace lasts 8 µs.
        let long = try store.search(tenant: Self.tenant, TraceSearch(minimumDurationNanoseconds: 5_000))
        #expect(long.map(\.summary.traceID) == [id])
        let byTag = try store.search(tenant: Self.tenant, TraceSearch(conditions: [.init(key: "name", value: "root")], minimumDurationNanoseconds: 5_000))
        #expect(byTag.map(\.matchedCount) == [1])

        _ = store.cutHeads()
        try store.persistBlocks()
        let reopened = try TraceSpanStore(directory: directory)
        _ = reopened  // no checkpoint saved: blocks of uncovered cuts are dropped, the WAL replays them
        #expect(reopened.blockCount == 0)
        #expect(store.blockCount == 2)
        let trace = try #require(try store.trace(tenant: Self.tenant, id: id))
        #expect(Set(Self.spans(trace).keys) == [SpanID(value: 1), SpanID(value: 2)])
        let dependencies = try store.dependencies(tenant: Self.tenant, start: 0, end: .max)
        #expect(dependencies.links[.init(parent: "front", child: "back")]?.calls == 1)
    }

    /// Reads racing the writing of blocks: a head moved to a block between a reader's look at the
    /// index and its decoding of the batches must still be read whole, from one or the other.
    @Test func readsWhileHeadsAreWrittenToBlocksSeeEveryAcknowledgedSpan() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try TraceSpanStore(directory: directory)
        let id = TraceID(high: 0x5CA1AB1E, low: 0x5CA1AB1E)
        let acknowledged = Atomic<Int>(0)
        let writing = Atomic<Bool>(true)
        let reader = Task.detached { () throws -> [String] in
            var problems: [String] = []
            var reads = 0
            while writing.load(ordering: .acquiring) || reads < 20 {
                let least = acknowledged.load(ordering: .acquiring)
                let byID = try store.trace(tenant: Self.tenant, id: id).map { Self.spans($0).count } ?? 0
                let byRange = try await store.read(tenant: Self.tenant, range: TimeRange(start: 0, end: .max)).itemCount
                var scanned = 0
                try store.scanTraces(tenant: Self.tenant, admits: { _ in true }) { _, spans in
                    scanned += spans.count
                    return true
                }
                for (what, count) in [("by ID", byID), ("by time range", byRange), ("by scan", scanned)] where count < least {
                    problems.append("\(what): \(count) spans of \(least) acknowledged")
                }
                reads += 1
            }
            return problems
        }
        for batch in 0..<80 {
            let spans = (0..<200).map { index in
                let number = UInt64(batch * 200 + index + 1)
                return Span(traceID: id, spanID: SpanID(value: number), name: "step", startTimeUnixNano: 1_000 + number, endTimeUnixNano: 2_000 + number)
            }
            try await store.append(Self.batch(TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: spans)])])))
            acknowledged.add(200, ordering: .releasing)
            if batch % 4 == 3 {
                _ = store.cutHeads()
                try store.persistBlocks()
            }
        }
        writing.store(false, ordering: .releasing)
        let problems = try await reader.value
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect(try store.trace(tenant: Self.tenant, id: id).map { Self.spans($0).count } == 16_000)
    }

    @Test func aDamagedBlockFileIsRefusedAndMovedAsideWhileTheOthersServe() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try TraceSpanStore(directory: directory)
        try await store.append(Self.batch(OTLPSampleData.makeBenchmarkTraces(spanCount: 3_000, attributesPerSpan: 8)))
        let sequence = store.cutHeads()
        try store.persistBlocks()
        try store.saveCheckpoint(TraceCheckpoint(cutID: 1, walSegmentsBefore: 0, sequence: sequence))
        let path = try #require(FileManager.default.subpathsOfDirectory(atPath: directory).first { $0.hasSuffix(".tblk") })
        let full = directory + "/" + path
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: full)))
        let block = try TraceBlock(opening: full)
        // Truncated anywhere: refused at open.
        for length in stride(from: 0, to: original.count, by: max(1, original.count / 40)) {
            try Data(original[0..<length]).write(to: URL(fileURLWithPath: full))
            #expect(throws: StorageError.self) { try TraceBlock(opening: full) }
        }
        // A flipped byte in the index: refused at open; in a page: that page refuses to decode.
        var damagedIndex = original
        damagedIndex[original.count - 40] ^= 0x40
        try Data(damagedIndex).write(to: URL(fileURLWithPath: full))
        #expect(throws: StorageError.self) { try TraceBlock(opening: full) }
        var damagedPage = original
        damagedPage[block.pages[0].offset + 10] ^= 0x01
        try Data(damagedPage).write(to: URL(fileURLWithPath: full))
        let opened = try TraceBlock(opening: full)
        #expect(throws: StorageError.self) { try opened.decodePage(0) }
        // At start, a damaged file is moved aside and reported.
        try Data(damagedIndex).write(to: URL(fileURLWithPath: full))
        let reopened = try TraceSpanStore(directory: directory)
        #expect(reopened.openingProblems.count == 1 && reopened.blockCount == 0)
        #expect(FileManager.default.fileExists(atPath: full + ".corrupt"))
    }

    @Test func retentionRemovesWholeBlocksByTimeAndBySize() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try TraceSpanStore(directory: directory)
        let data = OTLPSampleData.makeBenchmarkTraces(spanCount: 800, attributesPerSpan: 10)
        try await store.append(Self.batch(data))
        _ = store.cutHeads()
        try store.persistBlocks()
        var later = data
        for r in later.resourceSpans.indices {
            for index in later.resourceSpans[r].scopeSpans[0].spans.indices {
                later.resourceSpans[r].scopeSpans[0].spans[index].traceID.low ^= 0xFF
                later.resourceSpans[r].scopeSpans[0].spans[index].startTimeUnixNano += 3_600_000_000_000
                later.resourceSpans[r].scopeSpans[0].spans[index].endTimeUnixNano += 3_600_000_000_000
            }
        }
        try await store.append(Self.batch(later))
        _ = store.cutHeads()
        try store.persistBlocks()
        #expect(store.blockCount == 2)
        // By time: the first block ended before the cutoff, the second did not.
        let removed = await store.removeItems(olderThan: later.timeBounds.minimum)
        #expect(removed == 800 && store.blockCount == 1)
        #expect(try FileManager.default.subpathsOfDirectory(atPath: directory).filter { $0.hasSuffix(".tblk") }.count == 1)
        // By size: the last block is over a limit of half its size.
        #expect(store.applySizeRetention(maximumBytesPerTenant: store.blockBytes / 2) > 0)
        #expect(store.blockCount == 0)
        #expect(try FileManager.default.subpathsOfDirectory(atPath: directory).filter { $0.hasSuffix(".tblk") }.isEmpty)
    }
}
