import LoupeModel
import Testing

@testable import LoupeStorage

@Suite struct LogStreamStoreTests {
    static let tenant = Tenant.default

    static func entries(_ times: some Sequence<Int64>, prefix: String = "line") -> [LogEntry] {
        times.map { LogEntry(timestamp: $0, line: "\(prefix) \($0) level=info", metadata: $0 % 2 == 0 ? ["trace_id": "t\($0)"] : Labels()) }
    }

    @Test func entriesComeBackInTimeOrderAcrossChunks() throws {
        let store = LogStreamStore(options: .init(chunkBytes: 1 << 20, chunkEntries: 16))
        store.append([LogStream(labels: ["app": "api"], entries: Self.entries(1...100))], tenant: Self.tenant)
        let selected = try store.select(tenant: Self.tenant, matchers: [.equal("app", "api")], start: 10, end: 90)
        #expect(selected.count == 1)
        #expect(selected.first?.entries == Self.entries(10...90))
        let statistics = store.statistics()
        #expect(statistics.entries == 100)
        #expect(statistics.streams == 1)
        #expect(statistics.storedBytes < statistics.lineBytes, "chunks are compressed: \(statistics)")
    }

    @Test func outOfOrderEntriesAreMergedByTime() throws {
        let store = LogStreamStore(options: .init(chunkBytes: 1 << 20, chunkEntries: 8))
        let times: [Int64] = [5, 1, 9, 3, 7, 2, 8, 4, 6, 10, 0, 12, 11]
        for time in times { store.append([LogStream(labels: ["app": "api"], entries: Self.entries([time]))], tenant: Self.tenant) }
        let selected = try store.select(tenant: Self.tenant, matchers: [.equal("app", "api")], start: 0, end: 100)
        #expect(selected.first?.entries.map(\.timestamp) == Array(0...12))
    }

    @Test func matchersUseThePostingsAndRegexes() throws {
        let store = LogStreamStore()
        store.append([
            LogStream(labels: ["app": "api", "env": "prod"], entries: Self.entries([1])),
            LogStream(labels: ["app": "web", "env": "prod"], entries: Self.entries([2])),
            LogStream(labels: ["app": "web", "env": "dev"], entries: Self.entries([3])),
        ], tenant: Self.tenant)
        let prodWeb = try store.select(tenant: Self.tenant, matchers: [.equal("env", "prod"), try LabelMatcher("app", .regexMatch, "w.*")], start: 0, end: 10)
        #expect(prodWeb.map(\.labels) == [["app": "web", "env": "prod"]])
        #expect(store.labelNames(tenant: Self.tenant, start: 0, end: 10) == ["app", "env"])
        #expect(store.labelValues(tenant: Self.tenant, name: "app", start: 0, end: 10) == ["api", "web"])
        #expect(store.labelValues(tenant: Self.tenant, name: "env", matchers: [.equal("app", "web")], start: 0, end: 10) == ["dev", "prod"])
        #expect(store.series(tenant: Self.tenant, matchers: [.equal("env", "prod")], start: 2, end: 10) == [["app": "web", "env": "prod"]])
        #expect(store.stats(tenant: Self.tenant, matchers: [.equal("env", "prod")], start: 0, end: 10).entries == 2)
        // Another tenant sees nothing.
        #expect(try store.select(tenant: Tenant(uncheckedName: "other"), matchers: [.equal("env", "prod")], start: 0, end: 10).isEmpty)
    }

    @Test func retentionDropsOldEntriesAndEmptyStreams() throws {
        let store = LogStreamStore(options: .init(chunkBytes: 1 << 20, chunkEntries: 10))
        store.append([
            LogStream(labels: ["app": "old"], entries: Self.entries(1...20)),
            LogStream(labels: ["app": "new"], entries: Self.entries(1...40)),
        ], tenant: Self.tenant)
        let removed = store.removeEntries(olderThan: 31)
        // "old" goes entirely; "new" keeps its chunk (31...40) and drops the two before.
        #expect(removed == 20 + 30)
        #expect(store.series(tenant: Self.tenant, matchers: [try! LabelMatcher("app", .regexMatch, ".+")], start: 0, end: 100) == [["app": "new"]])
        #expect(try store.select(tenant: Self.tenant, matchers: [.equal("app", "new")], start: 0, end: 100).first?.entries.map(\.timestamp) == Array(31...40))
    }
}
