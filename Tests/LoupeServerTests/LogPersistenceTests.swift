import Foundation
import Logging
import LoupeModel
import LoupePipeline
import LoupeStorage
import LoupeWire
import Testing

/// The log store across restarts: cuts written as blocks plus WAL replay give back every
/// acknowledged entry exactly once (replay skips what the log checkpoint says blocks hold), and
/// the WAL segments the blocks hold are deleted.
@Suite("Log persistence across restarts")
struct LogPersistenceTests {
    struct Instance {
        let wal: WriteAheadLog
        let pipeline: IngestPipeline
        let maintenance: LogMaintenance
    }

    static func open(_ directory: URL, options: LogMaintenanceOptions) throws -> Instance {
        let logger = Logger(label: "log-persistence-test")
        let wal = try WriteAheadLog(directory: directory.appendingPathComponent("wal").path, options: WALOptions(segmentSizeBytes: 1 << 10), logger: logger)
        let logStreams = try LogStreamStore(directory: directory.appendingPathComponent("logs").path, options: .init(chunkBytes: 2_048, chunkEntries: 64))
        let pipeline = IngestPipeline(
            wal: wal, stores: .embedded(prometheus: PrometheusStore(), logStreams: logStreams), retention: .keepEverything,
            budget: MemoryBudget(limitBytes: 1 << 30), telemetry: SelfTelemetry(), logger: logger)
        return Instance(wal: wal, pipeline: pipeline, maintenance: LogMaintenance(pipeline: pipeline, options: options, logger: logger))
    }

    static func session(_ directory: URL, options: LogMaintenanceOptions = LogMaintenanceOptions(), _ body: @Sendable (Instance) async throws -> Void) async throws {
        let instance = try open(directory, options: options)
        _ = try await instance.pipeline.replayWAL()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await instance.wal.run() }
            try await body(instance)
            group.cancelAll()
        }
    }

    static func streams(_ range: Range<Int>) -> [LogStream] {
        ["api", "web"].map { app in
            LogStream(labels: ["app": app], entries: range.map { LogEntry(timestamp: Int64($0) * 1_000_000, line: "\(app) request \($0) took \($0 % 97)ms") })
        }
    }

    static func expected(_ upTo: Int) -> [String: [Int64]] {
        ["api": (0..<upTo).map { Int64($0) * 1_000_000 }, "web": (0..<upTo).map { Int64($0) * 1_000_000 }]
    }

    static func all(_ pipeline: IngestPipeline) throws -> [String: [Int64]] {
        var result: [String: [Int64]] = [:]
        for stream in try pipeline.stores.logStreams.select(tenant: .default, matchers: [try LabelMatcher("app", .regexMatch, ".+")], start: .min, end: .max) {
            result[stream.labels["app"]!] = stream.entries.map(\.timestamp)
        }
        return result
    }

    @Test("cut blocks plus replay return every entry once; the WAL behind the blocks is deleted")
    func replayAfterCuts() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-logs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let options = LogMaintenanceOptions(flushBytes: 10_000)

        try await Self.session(directory, options: options) { instance in
            for start in stride(from: 0, to: 600, by: 50) {
                _ = try await instance.pipeline.ingestLoki(Self.streams(start..<(start + 50)), tenant: .default, requestBytes: 1)
            }
            let segmentsBefore = instance.wal.segmentCount
            let quiet = await instance.maintenance.runOnce(nowUnixNano: 1)
            #expect(quiet.cuts == 1 && quiet.blocksWritten == 1 && quiet.failures.isEmpty, "\(quiet)")
            #expect(quiet.walBytesFreed > 0 && instance.wal.segmentCount < segmentsBefore, "segments the block holds are deleted")
            // Under the flush size: no cut.
            _ = try await instance.pipeline.ingestLoki(Self.streams(600..<620), tenant: .default, requestBytes: 1)
            #expect(await instance.maintenance.runOnce(nowUnixNano: 2).cuts == 0)
            let found = try Self.all(instance.pipeline)
            #expect(found == Self.expected(620))
        }

        try await Self.session(directory, options: options) { instance in
            let found = try Self.all(instance.pipeline)
            #expect(found == Self.expected(620), "after the first restart: the block plus the records after its marker")
            #expect(instance.pipeline.stores.logStreams.statistics().blocks == 1)
            // Out of order into the head, then an age-triggered cut.
            _ = try await instance.pipeline.ingestLoki(Self.streams(620..<700).map { LogStream(labels: $0.labels, entries: $0.entries.reversed()) }, tenant: .default, requestBytes: 1)
            let aged = await instance.maintenance.runOnce(nowUnixNano: 1_000)
            #expect(aged.cuts == 0)
            let later = await instance.maintenance.runOnce(nowUnixNano: 1_000 + options.flushAgeNanoseconds)
            #expect(later.cuts == 1 && later.failures.isEmpty, "\(later)")
        }

        try await Self.session(directory, options: options) { instance in
            let found = try Self.all(instance.pipeline)
            #expect(found == Self.expected(700), "after the second restart")
            #expect(instance.pipeline.stores.logStreams.statistics().blocks == 2)
            #expect(instance.pipeline.stores.logStreams.headLineBytes == 0, "nothing the blocks hold was replayed into the head")
        }
    }

    @Test("logs have a WAL of their own: a log cut frees it while Prometheus records pin the main one")
    func logsOwnWAL() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-log-wal-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let logger = Logger(label: "log-persistence-test")
        func open() throws -> (WriteAheadLog, WriteAheadLog, IngestPipeline, LogMaintenance) {
            let options = WALOptions(segmentSizeBytes: 1 << 10)
            let wal = try WriteAheadLog(directory: directory.appendingPathComponent("wal").path, options: options, logger: logger)
            let logWAL = try WriteAheadLog(directory: directory.appendingPathComponent("wal-logs").path, options: options, logger: logger)
            let logStreams = try LogStreamStore(directory: directory.appendingPathComponent("logs").path, options: .init(chunkBytes: 2_048, chunkEntries: 64))
            let pipeline = IngestPipeline(
                wal: wal, stores: .embedded(prometheus: PrometheusStore(), logStreams: logStreams), retention: .keepEverything,
                budget: MemoryBudget(limitBytes: 1 << 30), telemetry: SelfTelemetry(), logger: logger, logWAL: logWAL)
            return (wal, logWAL, pipeline, LogMaintenance(pipeline: pipeline, options: LogMaintenanceOptions(flushBytes: 10_000), logger: logger))
        }
        func samples(_ minute: Int) -> RemoteWriteRequest {
            RemoteWriteRequest(series: (0..<20).map { instance in
                TimeSeries(
                    labels: Labels([Label("__name__", "up"), Label("instance", "host-\(instance).example.com:9100"), Label("job", "api")]),
                    samples: [FloatSample(timestamp: Int64(minute) * 60_000, value: 1)])
            })
        }
        do {
            let (wal, logWAL, pipeline, maintenance) = try open()
            #expect(pipeline.allWALs.count == 2 && pipeline.wal(for: .logs) === logWAL && pipeline.wal(for: .metrics) === wal)
            _ = try await pipeline.replayWAL()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await wal.run() }
                group.addTask { try await logWAL.run() }
                for (index, start) in stride(from: 0, to: 600, by: 50).enumerated() {
                    _ = try await pipeline.ingestLoki(Self.streams(start..<(start + 50)), tenant: .default, requestBytes: 1)
                    _ = try await pipeline.ingestPrometheus(samples(index), tenant: .default, canonicalEncoding: nil, requestBytes: 1)
                }
                let (mainBefore, logsBefore) = (wal.segmentCount, logWAL.segmentCount)
                #expect(logsBefore > 1 && mainBefore > 1)
                let report = await maintenance.runOnce(nowUnixNano: 1)
                #expect(report.cuts == 1 && report.failures.isEmpty, "\(report)")
                #expect(report.walBytesFreed > 0 && logWAL.segmentCount < logsBefore, "the log WAL behind the block is deleted")
                #expect(wal.segmentCount == mainBefore, "the main WAL waits for the TSDB")
                group.cancelAll()
            }
        }
        let (_, _, pipeline, _) = try open()
        _ = try await pipeline.replayWAL()
        #expect(try Self.all(pipeline) == Self.expected(600), "every entry once: the block plus what the log WAL still holds")
        let series = pipeline.stores.prometheus.database(for: .default).select([.equal("job", "api")], minTime: .min, maxTime: .max)
        #expect(series.count == 20 && series.allSatisfy { $0.floats.count == 12 })
    }

    static func otlpBatch(_ range: Range<Int>) -> LogsData {
        let records = range.map { LogRecord(timeUnixNano: UInt64($0 + 1) * 1_000_000, body: .string("checkout order \($0) placed")) }
        return LogsData(resourceLogs: [
            ResourceLogs(resource: Resource(attributes: [KeyValue("service.name", .string("checkout"))]), scopeLogs: [ScopeLogs(logRecords: records)])
        ])
    }

    static func otlpTimestamps(_ pipeline: IngestPipeline) throws -> [Int64] {
        try pipeline.stores.logStreams.select(tenant: .default, matchers: [try LabelMatcher("service_name", .equal, "checkout")], start: .min, end: .max)
            .flatMap { $0.entries.map(\.timestamp) }.sorted()
    }

    @Test("OTLP logs: the WAL behind log blocks is deleted; the read-back store keeps only recent batches; LogQL keeps all")
    func otlpLogsAfterCuts() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-otlp-logs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let logger = Logger(label: "log-persistence-test")
        func open() throws -> (WriteAheadLog, IngestPipeline, LogMaintenance) {
            let wal = try WriteAheadLog(directory: directory.appendingPathComponent("wal").path, options: WALOptions(segmentSizeBytes: 1 << 10), logger: logger)
            let logStreams = try LogStreamStore(directory: directory.appendingPathComponent("logs").path, options: .init(chunkBytes: 2_048, chunkEntries: 64))
            let pipeline = IngestPipeline(
                wal: wal, stores: .embedded(prometheus: PrometheusStore(), logStreams: logStreams, readBackBytes: 6_000), retention: .keepEverything,
                budget: MemoryBudget(limitBytes: 1 << 30), telemetry: SelfTelemetry(), logger: logger)
            return (wal, pipeline, LogMaintenance(pipeline: pipeline, options: LogMaintenanceOptions(flushBytes: 5_000), logger: logger))
        }
        let expected = (1...600).map { Int64($0) * 1_000_000 }
        do {
            let (wal, pipeline, maintenance) = try open()
            _ = try await pipeline.replayWAL()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await wal.run() }
                for start in stride(from: 0, to: 600, by: 50) {
                    _ = try await pipeline.ingest(
                        Self.otlpBatch(start..<(start + 50)), tenant: .default, canonicalEncoding: nil, via: .otlpHTTPProtobuf, requestBytes: 1)
                }
                // The read-back store holds the newest batches only, within its budget.
                let readBack = await pipeline.stores.logs.statistics()
                #expect(readBack.bytes <= 6_000 && readBack.items > 0 && readBack.items < 600, "\(readBack)")
                let segmentsBefore = wal.segmentCount
                let report = await maintenance.runOnce(nowUnixNano: 1)
                #expect(report.cuts == 1 && report.failures.isEmpty, "\(report)")
                #expect(report.walBytesFreed > 0 && wal.segmentCount < segmentsBefore, "segments of OTLP logs the block holds are deleted")
                let found = try Self.otlpTimestamps(pipeline)
                let labels = try pipeline.stores.logStreams.select(
                    tenant: .default, matchers: [try LabelMatcher("service_name", .regexMatch, ".*")], start: .min, end: .max
                ).map(\.labels)
                #expect(found == expected, "\(found.count) entries, first \(found.prefix(3)), streams \(labels)")
                group.cancelAll()
            }
        }
        let (wal, pipeline, _) = try open()
        _ = try await pipeline.replayWAL()
        #expect(try Self.otlpTimestamps(pipeline) == expected, "every record once: the block plus what the WAL still holds")
        _ = wal
    }
}
