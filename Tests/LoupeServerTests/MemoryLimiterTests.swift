import Foundation
import LoupeAgent
import Synchronization
import Testing

/// The memory limiter refuses, retryably, only while the process is over its limit.
@Suite struct MemoryLimiterTests {
    @Test func refusesOnlyWhileOverTheLimitAndCountsEachPushback() {
        let resident = Atomic<Int>(100)
        let limiter = MemoryLimiter(limitBytes: 150, checkInterval: .zero) { resident.load(ordering: .relaxed) }
        #expect(limiter.refusal() == nil)
        resident.store(200, ordering: .relaxed)
        let message = limiter.refusal()
        #expect(message?.contains("200 of 150 bytes") == true)
        #expect(limiter.pushbacks.load(ordering: .relaxed) == 1)
        resident.store(149, ordering: .relaxed)
        #expect(limiter.refusal() == nil)
        #expect(limiter.pushbacks.load(ordering: .relaxed) == 1)
    }

    @Test func readsTheResidentSizeAtMostOncePerInterval() {
        let reads = Atomic<Int>(0)
        let limiter = MemoryLimiter(limitBytes: 1 << 30, checkInterval: .seconds(60)) {
            reads.wrappingAdd(1, ordering: .relaxed)
            return 10
        }
        for _ in 0..<100 { _ = limiter.refusal() }
        #expect(reads.load(ordering: .relaxed) == 1)
    }

    @Test func thisProcessHasAResidentSizeAndCgroupLimitsAreRead() throws {
        #expect(MemoryLimiter.processResidentBytes() > 1 << 20)
        let path = "/tmp/loupe-memory-max-\(UInt64.random(in: 0...UInt64.max))"
        defer { _ = unlinkFile(path) }
        try writeFile(path, "1000000000\n")
        #expect(MemoryLimiter.defaultLimit(cgroupMemoryMax: path) == 800_000_000)
        try writeFile(path, "max\n")
        #expect(MemoryLimiter.defaultLimit(cgroupMemoryMax: path) == nil)
        #expect(MemoryLimiter.defaultLimit(cgroupMemoryMax: path + "-missing") == nil)
    }
}

private func writeFile(_ path: String, _ text: String) throws {
    try text.write(toFile: path, atomically: true, encoding: .utf8)
}

private func unlinkFile(_ path: String) -> Bool { (try? FileManager.default.removeItem(atPath: path)) != nil }
