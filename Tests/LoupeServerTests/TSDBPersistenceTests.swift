import Foundation
import Logging
import LoupeModel
import LoupePipeline
import LoupeStorage
import LoupeWire
import Testing

/// The TSDB across restarts: blocks cut by the maintenance service plus WAL replay give back
/// every acknowledged sample exactly once (replay skips what the checkpoint says blocks hold).
@Suite("TSDB persistence across restarts")
struct TSDBPersistenceTests {
    static let minute: Int64 = 60_000
    static let hour: Int64 = 3_600_000

    struct Instance {
        let wal: WriteAheadLog
        let pipeline: IngestPipeline
        let maintenance: TSDBMaintenance
    }

    static func open(_ directory: URL) throws -> Instance {
        let logger = Logger(label: "tsdb-persistence-test")
        let wal = try WriteAheadLog(directory: directory.appendingPathComponent("wal").path, options: WALOptions(segmentSizeBytes: 1 << 9), logger: logger)
        let store = try PrometheusStore(
            directory: directory.appendingPathComponent("metrics").path,
            options: PrometheusStoreOptions(outOfOrderWindow: 6 * hour), logger: logger)
        let pipeline = IngestPipeline(
            wal: wal, stores: .embedded(prometheus: store), retention: .keepEverything, budget: MemoryBudget(limitBytes: 1 << 30),
            telemetry: SelfTelemetry(), logger: logger)
        return Instance(wal: wal, pipeline: pipeline, maintenance: TSDBMaintenance(pipeline: pipeline, logger: logger))
    }

    /// Replays, runs the WAL while `body` runs, then shuts the WAL down (as a SIGTERM would).
    static func session(_ directory: URL, _ body: @Sendable (Instance) async throws -> Void) async throws {
        let instance = try open(directory)
        _ = try await instance.pipeline.replayWAL()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await instance.wal.run() }
            try await body(instance)
            group.cancelAll()
        }
    }

    static let names = ["cpu", "memory", "disk"]

    static func request(_ minutes: some Sequence<Int>) -> RemoteWriteRequest {
        RemoteWriteRequest(series: names.map { name in
            TimeSeries(
                labels: Labels([Label("__name__", name), Label("host", "a")]),
                samples: minutes.map { FloatSample(timestamp: Int64($0) * Self.minute, value: Double($0) + 0.5) })
        })
    }

    static func all(_ pipeline: IngestPipeline) -> [String: [FloatSample]] {
        let database = pipeline.stores.prometheus.database(for: .default)
        var result: [String: [FloatSample]] = [:]
        for samples in database.select([.equal("host", "a")], minTime: .min, maxTime: .max) {
            result[samples.labels.metricName!] = samples.floats
        }
        return result
    }

    @Test("blocks plus replay return every sample once, in-order and out-of-order, over two restarts")
    func replayAfterCuts() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-tsdb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let evenMinutes = Array(stride(from: 0, to: 420, by: 2))
        let lateMinutes = Array(stride(from: 61, to: 420, by: 2))
        let moreMinutes = Array(420..<480)
        let expected = (evenMinutes + lateMinutes + moreMinutes).sorted().map { FloatSample(timestamp: Int64($0) * Self.minute, value: Double($0) + 0.5) }

        try await Self.session(directory) { instance in
            for chunk in stride(from: 0, to: evenMinutes.count, by: 30) {
                let receipt = try await instance.pipeline.ingestPrometheus(
                    Self.request(evenMinutes[chunk..<min(chunk + 30, evenMinutes.count)]), tenant: .default, canonicalEncoding: nil, requestBytes: 1)
                #expect(receipt.refusedSamples == 0)
            }
            let segmentsBefore = instance.wal.segmentCount
            let report = await instance.maintenance.runOnce(nowMilliseconds: 1)
            #expect(report.blocksWritten == 2 && report.failures.isEmpty, "\(report)")
            #expect(report.walBytesFreed > 0, "segments whose samples are all in blocks are deleted")
            #expect(instance.wal.segmentCount < segmentsBefore)
            // Late samples (inside the out-of-order window) and newer ones, after the cut.
            let late = try await instance.pipeline.ingestPrometheus(Self.request(lateMinutes), tenant: .default, canonicalEncoding: nil, requestBytes: 1)
            #expect(late.refusedSamples == 0, "\(late.message)")
            _ = try await instance.pipeline.ingestPrometheus(Self.request(moreMinutes), tenant: .default, canonicalEncoding: nil, requestBytes: 1)
            for name in Self.names { #expect(Self.all(instance.pipeline)[name] == expected) }
        }

        try await Self.session(directory) { instance in
            let database = instance.pipeline.stores.prometheus.database(for: .default)
            #expect(database.persistedBlocks.count == 2)
            for name in Self.names { #expect(Self.all(instance.pipeline)[name] == expected, "after the first restart") }
            let headSamples = database.head.statistics().samples
            #expect(headSamples < expected.count * Self.names.count, "samples the blocks hold were not replayed into the head")
            // Another cut (the late samples before 4 h go to an overlapping block) and compaction.
            _ = try await instance.pipeline.ingestPrometheus(Self.request(480..<560), tenant: .default, canonicalEncoding: nil, requestBytes: 1)
            let report = await instance.maintenance.runOnce(nowMilliseconds: 2)
            #expect(report.failures.isEmpty, "\(report)")
            #expect(report.blocksWritten >= 1)
        }

        let final = expected + (480..<560).map { FloatSample(timestamp: Int64($0) * Self.minute, value: Double($0) + 0.5) }
        try await Self.session(directory) { instance in
            for name in Self.names { #expect(Self.all(instance.pipeline)[name] == final, "after the second restart") }
            let blocks = instance.pipeline.stores.prometheus.database(for: .default).persistedBlocks
            for (left, right) in zip(blocks, blocks.dropFirst()) { #expect(left.meta.maxTime <= right.meta.minTime) }
        }
    }
}
