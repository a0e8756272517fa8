import Foundation
import Logging
import LoupeModel
import LoupePipeline
import LoupeStorage
import LoupeWire
import Testing

/// The trace store across restarts: cuts written as blocks plus WAL replay give back every
/// acknowledged span exactly once (replay skips what the trace checkpoint says blocks hold), the
/// WAL segments the blocks hold are deleted, and a trace spread over a cut reads back whole.
@Suite("Trace persistence across restarts")
struct TracePersistenceTests {
    struct Instance {
        let wal: WriteAheadLog
        let pipeline: IngestPipeline
        let maintenance: TraceMaintenance
        var store: TraceSpanStore { pipeline.stores.traceSpans }
    }

    static func session(
        _ directory: URL, options: HeadMaintenanceOptions, _ body: @Sendable (Instance) async throws -> Void
    ) async throws {
        let logger = Logger(label: "trace-persistence-test")
        let wal = try WriteAheadLog(directory: directory.appendingPathComponent("wal").path, options: WALOptions(segmentSizeBytes: 16 << 10), logger: logger)
        let traceSpans = try TraceSpanStore(directory: directory.appendingPathComponent("traces").path)
        let pipeline = IngestPipeline(
            wal: wal, stores: .embedded(prometheus: PrometheusStore(), traceSpans: traceSpans), retention: .keepEverything,
            budget: MemoryBudget(limitBytes: 1 << 30), telemetry: SelfTelemetry(), logger: logger)
        let instance = Instance(wal: wal, pipeline: pipeline, maintenance: TraceMaintenance(pipeline: pipeline, traceOptions: options, logger: logger))
        _ = try await pipeline.replayWAL()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await wal.run() }
            try await body(instance)
            group.cancelAll()
        }
    }

    /// Request `n`: eight traces of 8 spans; trace `n`'s last span arrives with request `n + 1`.
    static func request(_ n: Int) -> TraceData {
        var data = OTLPSampleData.makeBenchmarkTraces(spanCount: 64, attributesPerSpan: 6)
        for r in data.resourceSpans.indices {
            for s in data.resourceSpans[r].scopeSpans[0].spans.indices {
                data.resourceSpans[r].scopeSpans[0].spans[s].traceID.high = UInt64(n)
            }
        }
        // Carry one span over to the next request's trace IDs (a late span of a trace of request n - 1).
        if n > 0 { data.resourceSpans[0].scopeSpans[0].spans[0].traceID.high = UInt64(n - 1) }
        return data
    }

    static func spanIDs(_ store: TraceSpanStore) async throws -> [SpanID] {
        let all = try await store.read(tenant: .default, range: TimeRange(start: 0, end: .max))
        return all.resourceSpans.flatMap { $0.scopeSpans.flatMap { $0.spans.map(\.spanID) } }
    }

    @Test("a write waits while blocks are behind, and goes on once they are written")
    func writesWaitForBlocks() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-traces-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await Self.session(directory, options: HeadMaintenanceOptions(flushBytes: 1)) { instance in
            instance.store.maximumUnflushedBytes.store(1, ordering: .relaxed)
            _ = try await instance.pipeline.ingest(Self.request(0), tenant: .default, canonicalEncoding: nil, via: .otlpHTTPProtobuf, requestBytes: 1)
            let pipeline = instance.pipeline
            let second = Task { try await pipeline.ingest(Self.request(1), tenant: .default, canonicalEncoding: nil, via: .otlpHTTPProtobuf, requestBytes: 1) }
            try await Task.sleep(for: .milliseconds(300))
            let stored = try await Self.spanIDs(instance.store).count
            #expect(instance.store.unflushedBytes > 0 && stored == 64, "the second request waits")
            let report = await instance.maintenance.runOnce(nowUnixNano: 1)
            #expect(report.cuts == 1 && report.blocksWritten == 1)
            let accepted = try await second.value.acceptedItems
            #expect(accepted == 64)
            let all = try await Self.spanIDs(instance.store).count
            #expect(all == 128)
        }
    }

    @Test("cut blocks plus replay return every span once; the WAL behind the blocks is deleted")
    func replayAfterCuts() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-traces-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let options = HeadMaintenanceOptions(flushBytes: 60_000)
        let expected = (0..<12).reduce(0) { total, _ in total + 64 }

        try await Self.session(directory, options: options) { instance in
            for n in 0..<10 {
                _ = try await instance.pipeline.ingest(Self.request(n), tenant: .default, canonicalEncoding: nil, via: .otlpHTTPProtobuf, requestBytes: 1)
            }
            let segmentsBefore = instance.wal.segmentCount
            let report = await instance.maintenance.runOnce(nowUnixNano: 1)
            #expect(report.cuts == 1 && report.blocksWritten == 1 && report.failures.isEmpty, "\(report)")
            #expect(report.walBytesFreed > 0 && instance.wal.segmentCount < segmentsBefore, "segments the block holds are deleted")
            for n in 10..<12 {
                _ = try await instance.pipeline.ingest(Self.request(n), tenant: .default, canonicalEncoding: nil, via: .otlpHTTPProtobuf, requestBytes: 1)
            }
            #expect(await instance.maintenance.runOnce(nowUnixNano: 2).cuts == 0, "under the flush size")
            let ids = try await Self.spanIDs(instance.store)
            #expect(ids.count == expected)
        }

        try await Self.session(directory, options: options) { instance in
            let ids = try await Self.spanIDs(instance.store)
            #expect(ids.count == expected, "the block plus the records after its marker, each span once")
            #expect(instance.store.blockCount == 1)
            // Trace 9's root span came with request 10, after the cut: the trace reads back whole.
            let split = TraceID(high: 9, low: Self.request(9).resourceSpans[0].scopeSpans[0].spans[0].traceID.low)
            let summary = try #require(instance.store.summary(tenant: .default, id: split))
            let trace = try #require(try instance.store.trace(tenant: .default, id: split))
            #expect(trace.itemCount == summary.spanCount && summary.spanCount == 8, "7 spans in the block, the root in the head")
            #expect(summary.rootSpanName != nil)
            let report = await instance.maintenance.runOnce(nowUnixNano: 1_000 + options.flushAgeNanoseconds, force: true)
            #expect(report.cuts == 1 && report.failures.isEmpty, "\(report)")
        }

        try await Self.session(directory, options: options) { instance in
            let afterSecond = try await Self.spanIDs(instance.store)
            #expect(afterSecond.count == expected, "after the second restart")
            #expect(instance.store.blockCount == 2 && instance.store.headBytes == 0, "nothing the blocks hold was replayed into the head")
        }
    }
}
