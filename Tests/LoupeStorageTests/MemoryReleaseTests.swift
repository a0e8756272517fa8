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
}
