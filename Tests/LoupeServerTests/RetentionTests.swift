import Foundation
import Logging
import LoupeModel
import LoupePipeline
import LoupeStorage
import ServiceLifecycle
import Synchronization
import Testing

@Suite("Retention with an injected clock")
struct RetentionTests {
    static let hour: UInt64 = 3_600 * 1_000_000_000

    final class MovableClock: Sendable {
        let now: Atomic<UInt64>
        init(_ start: UInt64) { now = Atomic(start) }
        var wallClock: WallClock { WallClock { self.now.load(ordering: .relaxed) } }
    }

    static func traces(at timestamp: UInt64, name: String) -> TraceData {
        TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: [
            Span(traceID: TraceID(high: 1, low: timestamp), spanID: SpanID(value: timestamp), name: name, startTimeUnixNano: timestamp),
        ])])])
    }

    @Test("data ages out of the store and whole WAL segments are removed")
    func agesOut() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-retention-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let logger = Logger(label: "retention-test")
        // Tiny segments, so each batch lands in its own segment and can expire on its own.
        let wal = try WriteAheadLog(directory: directory.path, options: WALOptions(segmentSizeBytes: 64), logger: logger)
        _ = try wal.replay { _ in }
        let start: UInt64 = 1_000 * Self.hour
        let clock = MovableClock(start)
        let pipeline = IngestPipeline(
            wal: wal, stores: .embedded(), retention: RetentionPolicy(nanoseconds: 2 * Self.hour),
            budget: MemoryBudget(limitBytes: 1 << 20), telemetry: SelfTelemetry(), clock: clock.wallClock, logger: logger)
        let retention = RetentionService(pipeline: pipeline, clock: ContinuousClock(), wallClock: clock.wallClock, logger: logger)

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await wal.run() }
            let old = try await pipeline.ingest(
                Self.traces(at: start - Self.hour, name: "old"), tenant: .default, canonicalEncoding: nil, via: .otlpGRPC, requestBytes: 10)
            let fresh = try await pipeline.ingest(
                Self.traces(at: start, name: "fresh"), tenant: .default, canonicalEncoding: nil, via: .otlpGRPC, requestBytes: 10)
            #expect(old.acceptedItems == 1 && fresh.acceptedItems == 1)
            let segmentsBefore = wal.segmentCount
            let diskBefore = wal.diskUsageBytes
            #expect(await retention.enforceOnce() == 0, "nothing is older than two hours yet")

            clock.now.store(start + Self.hour + Self.hour / 2, ordering: .relaxed)  // "old" is now 2.5 h old
            #expect(await retention.enforceOnce() == 1)
            let names = try await pipeline.stores.traces.read(tenant: .default, range: .all)
                .resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) }.map(\.name)
            #expect(names == ["fresh"])
            #expect(wal.segmentCount < segmentsBefore, "the expired segment is deleted (\(segmentsBefore) -> \(wal.segmentCount) segments, \(diskBefore) -> \(wal.diskUsageBytes) bytes)")

            // New data older than the period is refused and reported.
            let refused = try await pipeline.ingest(
                Self.traces(at: start - 3 * Self.hour, name: "ancient"), tenant: .default, canonicalEncoding: nil, via: .otlpGRPC, requestBytes: 10)
            #expect(refused.acceptedItems == 0 && refused.rejectedItems == 1)
            #expect(refused.message.contains("retention period of 2h"))
            group.cancelAll()
        }
    }
}
