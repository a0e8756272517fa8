import Foundation
import LoupeModel
import Testing

@testable import LoupeStorage

/// Log blocks: the head cut into blocks, written, reopened, read back equal; the content index
/// never rules out a chunk that holds the needle; damaged files are refused, not trusted.
@Suite struct LogBlockTests {
    static let tenant = Tenant.default

    static func temporaryDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-logblock-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func lines(_ count: Int, seed: UInt64) -> [LogEntry] {
        var random = seed
        func next() -> UInt64 {
            random = random &* 6364136223846793005 &+ 1442695040888963407
            return random >> 11
        }
        let messages = ["request completed", "cache miss", "payment authorized", "token validation failed"]
        return (0..<count).map { index in
            let id = String(next(), radix: 16)
            let line = #"{"level":"info","msg":"\#(messages[Int(next() % 4)])","request_id":"\#(id)","status":\#(200 + next() % 3),"n":\#(index)}"#
            return LogEntry(timestamp: Int64(1_000 + index * 10), line: line, metadata: index % 3 == 0 ? ["trace_id": "t\(index)"] : Labels())
        }
    }

    @Test func cutBlocksAreWrittenReopenedAndReadBackEqual() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try LogStreamStore(directory: directory, options: .init(chunkBytes: 4_096, chunkEntries: 50))
        let api = Self.lines(500, seed: 1)
        let web = Self.lines(120, seed: 2)
        store.append([LogStream(labels: ["app": "api"], entries: Array(api[0..<300])), LogStream(labels: ["app": "web"], entries: web)], tenant: Self.tenant)
        #expect(store.cutHeads() == 1)
        #expect(!store.allBlocksPersisted)
        // Served from memory before it is written.
        #expect(try store.select(tenant: Self.tenant, matchers: [.equal("app", "api")], start: 0, end: .max).first?.entries == Array(api[0..<300]))
        #expect(try store.persistBlocks() == 1)
        #expect(store.allBlocksPersisted)
        store.append([LogStream(labels: ["app": "api"], entries: Array(api[300...]))], tenant: Self.tenant)

        let reopened = try LogStreamStore(directory: directory)
        #expect(reopened.openingProblems.isEmpty)
        #expect(try reopened.select(tenant: Self.tenant, matchers: [.equal("app", "web")], start: 0, end: .max).first?.entries == web)
        #expect(try reopened.select(tenant: Self.tenant, matchers: [.equal("app", "api")], start: 0, end: .max).first?.entries == Array(api[0..<300]))
        // Head and block together, in time order, with a window.
        let window = try store.select(tenant: Self.tenant, matchers: [.equal("app", "api")], start: api[250].timestamp, end: api[350].timestamp)
        #expect(window.first?.entries == Array(api[250...350]))
        #expect(store.labelValues(tenant: Self.tenant, name: "app", start: 0, end: .max) == ["api", "web"])
        #expect(store.stats(tenant: Self.tenant, matchers: [.equal("app", "api")], start: 0, end: .max).entries == 500)
        let statistics = reopened.statistics()
        #expect(statistics.entries == 420)
        #expect(statistics.streams == 2)
        #expect(statistics.blockFileBytes > 0 && statistics.blockFileBytes < statistics.lineBytes)
    }

    @Test func aChunkTheFilterRulesOutIsSkippedAndOthersAreKept() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try LogStreamStore(directory: directory, options: .init(chunkBytes: 1 << 20, chunkEntries: 100))
        var entries = Self.lines(1_000, seed: 3)
        entries[555].line += " rare-token here"
        store.append([LogStream(labels: ["app": "api"], entries: entries)], tenant: Self.tenant)
        store.cutHeads()
        try store.persistBlocks()
        let reopened = try LogStreamStore(directory: directory)
        let hits = try reopened.select(tenant: Self.tenant, matchers: [.equal("app", "api")], start: 0, end: .max, requiredSubstrings: [["rare-token"]])
        // Only the chunk holding entry 555 (entries 500..<600) needs reading.
        #expect(hits.first?.entries.count == 100)
        #expect(hits.first?.entries.contains { $0.line.contains("rare-token") } == true)
        #expect(try reopened.select(tenant: Self.tenant, matchers: [.equal("app", "api")], start: 0, end: .max, requiredSubstrings: [["never-there"]]).isEmpty)
        // Any alternative may hold it.
        #expect(try reopened.select(tenant: Self.tenant, matchers: [.equal("app", "api")], start: 0, end: .max, requiredSubstrings: [["never-there", "rare-tok"]]).first?.entries.count == 100)
    }

    @Test func theContentFilterHasNoFalseNegatives() {
        var random: UInt64 = 42
        func next() -> UInt64 {
            random = random &* 6364136223846793005 &+ 1442695040888963407
            return random >> 11
        }
        let alphabet = Array("ab1f0-_ =\"{}:.xyzABF9/é".utf8)
        for round in 0..<200 {
            var lines: [String] = []
            for _ in 0..<Int(next() % 20 + 1) {
                let bytes = (0..<Int(next() % 60)).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] }
                lines.append(String(decoding: bytes, as: UTF8.self))
            }
            guard let bloom = LogContentBloom.build(lines) else { continue }
            for line in lines {
                let utf8 = Array(line.utf8)
                guard !utf8.isEmpty else { continue }
                for _ in 0..<5 {
                    let start = Int(next() % UInt64(utf8.count))
                    let end = start + Int(next() % UInt64(utf8.count - start + 1))
                    let needle = String(decoding: utf8[start..<end], as: UTF8.self)
                    // Only needles that are whole UTF-8 (a cut through a character is not what a user types).
                    guard Array(needle.utf8) == Array(utf8[start..<end]) else { continue }
                    #expect(bloom.mayContain(needle), "round \(round): \(line) holds \(needle)")
                }
            }
        }
        // And it does rule things out.
        let bloom = LogContentBloom.build(["level=info msg=\"request completed\" request_id=1e2feb89414c343c8663"])!
        #expect(!bloom.mayContain("rare-token"))
        #expect(bloom.mayContain("completed"))
        #expect(bloom.mayContain("request_id=1e2f"))
    }

    @Test func damagedBlockFilesAreMovedAsideAndReported() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try LogStreamStore(directory: directory)
        store.append([LogStream(labels: ["app": "api"], entries: Self.lines(200, seed: 4))], tenant: Self.tenant)
        store.cutHeads()
        try store.persistBlocks()
        let tenantDirectory = directory + "/default"
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: tenantDirectory).first { $0.hasSuffix(".lblk") })
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: tenantDirectory + "/" + name)))
        // Every truncation and a flip in the index are refused, never trapped on.
        for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 97)) {
            let path = tenantDirectory + "/cut.lblk"
            try Data(bytes[0..<cut]).write(to: URL(fileURLWithPath: path))
            #expect(throws: StorageError.self) { try LogBlock(opening: path) }
            try FileManager.default.removeItem(atPath: path)
        }
        bytes[bytes.count - 40] ^= 0x55
        try Data(bytes).write(to: URL(fileURLWithPath: tenantDirectory + "/" + name))
        let reopened = try LogStreamStore(directory: directory)
        #expect(reopened.openingProblems.count == 1)
        #expect(FileManager.default.fileExists(atPath: tenantDirectory + "/" + name + ".corrupt"))
        #expect(try reopened.select(tenant: Self.tenant, matchers: [.equal("app", "api")], start: 0, end: .max).isEmpty)
    }

    @Test func aDamagedChunkIsAnErrorNotWrongData() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try LogStreamStore(directory: directory)
        store.append([LogStream(labels: ["app": "api"], entries: Self.lines(200, seed: 5))], tenant: Self.tenant)
        store.cutHeads()
        try store.persistBlocks()
        let tenantDirectory = directory + "/default"
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: tenantDirectory).first { $0.hasSuffix(".lblk") })
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: tenantDirectory + "/" + name)))
        bytes[10] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: tenantDirectory + "/" + name))
        let reopened = try LogStreamStore(directory: directory)
        #expect(throws: StorageError.self) { try reopened.select(tenant: Self.tenant, matchers: [.equal("app", "api")], start: 0, end: .max) }
    }

    @Test func sizeRetentionDropsATenantsOldestBlocksFirst() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try LogStreamStore(directory: directory)
        let other = Tenant(uncheckedName: "other")
        for round in 0..<3 {
            let entries = Self.lines(300, seed: UInt64(10 + round)).map { LogEntry(timestamp: $0.timestamp + Int64(round) * 100_000, line: $0.line) }
            store.append([LogStream(labels: ["app": "api"], entries: entries)], tenant: Self.tenant)
            store.append([LogStream(labels: ["app": "api"], entries: entries)], tenant: other)
            store.cutHeads()
            try store.persistBlocks()
        }
        let perBlock = store.statistics().blockFileBytes / 6
        let freed = store.applySizeRetention(maximumBytesPerTenant: perBlock * 2 + perBlock / 2)
        #expect(freed > 0)
        let kept = try store.select(tenant: Self.tenant, matchers: [.equal("app", "api")], start: 0, end: .max).first?.entries ?? []
        // The oldest round went; the two newer stay, for each tenant.
        #expect(kept.count == 600)
        let oldestKept: Int64 = 101_000
        #expect(kept.first?.timestamp == oldestKept)
        #expect(try store.select(tenant: other, matchers: [.equal("app", "api")], start: 0, end: .max).first?.entries.count == 600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/default").filter { $0.hasSuffix(".lblk") }.count == 2)
        // Time retention deletes wholly expired block files.
        #expect(store.removeEntries(olderThan: 200_000) == 600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/default").filter { $0.hasSuffix(".lblk") }.count == 1)
    }

    @Test func tenantsOwnRetentionReplacesTheGlobalOne() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let short = Tenant(uncheckedName: "short"), long = Tenant(uncheckedName: "long"), small = Tenant(uncheckedName: "small")
        let store = try LogStreamStore(directory: directory, options: .init(tenantRetention: [
            short: .init(periodNanoseconds: 50_000), long: .init(periodNanoseconds: 0), small: .init(maximumBytes: 1),
        ]))
        for round in 0..<3 {
            let entries = Self.lines(300, seed: UInt64(20 + round)).map { LogEntry(timestamp: $0.timestamp + Int64(round) * 100_000, line: $0.line) }
            for tenant in [Self.tenant, short, long, small] {
                store.append([LogStream(labels: ["app": "api"], entries: entries)], tenant: tenant)
            }
            store.cutHeads()
            try store.persistBlocks()
        }
        func count(_ tenant: Tenant) throws -> Int {
            try store.select(tenant: tenant, matchers: [.equal("app", "api")], start: 0, end: .max).first?.entries.count ?? 0
        }
        // The global period leaves the tenants with periods of their own alone...
        #expect(store.removeEntries(olderThan: 150_000) == 300 * 2 + 300 * 2)
        #expect(try count(Self.tenant) == 300 && count(small) == 300)
        #expect(try count(short) == 900 && count(long) == 900)
        // ...which apply at their own pace: "short" keeps 50 µs before now, "long" (0) everything.
        #expect(store.applyTenantRetention(nowUnixNano: 250_000) == 600)
        #expect(try count(short) == 300 && count(long) == 900)
        // A tenant's own size limit wins over everyone's (none here).
        #expect(store.applySizeRetention(maximumBytesPerTenant: nil) > 0)
        #expect(try count(small) == 0 && count(Self.tenant) == 300 && count(long) == 900)
    }
}
