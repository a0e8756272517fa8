import LoupeModel
import LoupeWire
import Testing

@testable import LoupeStorage

/// The stores that keep OTLP logs and metrics as they arrived, for read-back: bounded in bytes,
/// they let the oldest batches of any tenant go first and always keep the newest.
@Suite struct ReadBackStoreTests {
    static func batch(_ tenant: Tenant, _ time: UInt64, records: Int = 10) -> DurableBatch<LogsData> {
        let logs = LogsData(resourceLogs: [
            ResourceLogs(scopeLogs: [ScopeLogs(logRecords: (0..<records).map { LogRecord(timeUnixNano: time + UInt64($0), body: .string("line \($0)")) })])
        ])
        return DurableBatch(tenant: tenant, data: logs, encoded: OTLPProtobuf.encodeLogs(logs), timeBounds: logs.timeBounds)
    }

    @Test func theOldestBatchesOfAnyTenantGoFirstAndTheNewestStays() async throws {
        let (a, b) = (Tenant(uncheckedName: "a"), Tenant(uncheckedName: "b"))
        let size = Self.batch(a, 1_000).encoded.count
        let store = EmbeddedLogStore(maximumBytes: size * 3)
        for (index, tenant) in [a, b, a, b, a].enumerated() {
            try await store.append(Self.batch(tenant, UInt64(index + 1) * 1_000))
        }
        let statistics = await store.statistics()
        #expect(statistics.items == 30 && statistics.bytes <= size * 3)
        #expect(store.evicted.chunks == 2 && store.evicted.items == 20)
        // Left: b at 4,000, a at 3,000 and 5,000.
        let fromA = try await store.read(tenant: a, range: TimeRange(start: 0, end: .max))
        let fromB = try await store.read(tenant: b, range: TimeRange(start: 0, end: .max))
        #expect(fromA.itemCount == 20 && fromB.itemCount == 10)
        #expect(fromB.timeBounds.minimum == 4_000 && fromA.timeBounds.minimum == 3_000)
        // A batch larger than the whole budget is kept alone.
        try await store.append(Self.batch(b, 9_000, records: 200))
        #expect(await store.statistics().items == 200)
        let unbounded = EmbeddedLogStore()
        for time in 1...50 { try await unbounded.append(Self.batch(a, UInt64(time) * 1_000)) }
        #expect(await unbounded.statistics().items == 500 && unbounded.evicted.chunks == 0)
    }
}
