import LoupeStorage
import Testing

@Suite("Memory release")
struct MemoryReleaseTests {
    #if canImport(Glibc)
    @Test func freedHeapMemoryIsReturned() {
        var released = false
        for _ in 0..<3 where !released {
            // Many small blocks come from the arenas (large ones would be mmapped and unmapped on free).
            var blocks: [[UInt8]] = []
            blocks.reserveCapacity(100_000)
            for index in 0..<100_000 { blocks.append([UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 512)) }
            #expect(blocks.count == 100_000)
            blocks = []
            released = MemoryRelease.trimFreedMemory()
        }
        #expect(released)
    }
    #endif

    #if os(Linux)
    /// Resident code pages of this process's executable files go, and what runs next comes back:
    /// the process goes on computing after its text was unmapped.
    @Test func idleCodePagesAreUnmappedAndComeBackWhenRun() throws {
        let released = MemoryRelease.releaseIdleCodePages()
        #expect(released > 0, "the test process has resident code")
        var numbers = (0..<10_000).map { ($0 &* 7_919) % 10_007 }
        numbers.sort()
        #expect(numbers.first == 0 && numbers == numbers.sorted())
        let text = String(decoding: Array("after release".utf8), as: UTF8.self)
        #expect(text.uppercased() == "AFTER RELEASE")
        #expect(MemoryRelease.releaseIdleCodePages() > 0, "released again after code ran")
    }

    @Test func aMissingMapsFileReleasesNothing() {
        #expect(MemoryRelease.releaseIdleCodePages(smapsPath: "/nonexistent/smaps") == 0)
    }
    #endif
}
