import LoupeModel
import LoupeWire
import Testing

/// One deflater reused for many buffers must give what a fresh zlib stream per buffer gives back.
struct DeflaterTests {
    private func sample(_ count: Int, seed: UInt64, compressible: Bool) -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        let words = ["span", "trace", "service.name", "GET", "200", " "].map { Array($0.utf8) }
        var bytes: [UInt8] = []
        while bytes.count < count {
            if compressible {
                bytes.append(contentsOf: words[Int(generator.next() % UInt64(words.count))])
            } else {
                bytes.append(UInt8(truncatingIfNeeded: generator.next()))
            }
        }
        return Array(bytes.prefix(count))
    }

    @Test func buffersDeflatedInTurnInflateBackExactly() throws {
        var deflater = Deflater(level: 1)
        for (index, count) in [0, 1, 17, 4_096, 70_000, 300_000, 5].enumerated() {
            let input = sample(count, seed: UInt64(index), compressible: index % 2 == 0)
            let deflated = deflater.compress(input)
            let inflated = try Gzip.decompressDeflate(deflated, maximumOutputBytes: count + 1)
            #expect(inflated == input, "buffer \(index) of \(count) bytes")
            if index % 2 == 0 && count >= 4_096 { #expect(deflated.count * 3 < count, "compressible text shrinks") }
        }
    }

    @Test func levelsMayChangeBetweenBuffersAndLevelZeroStores() throws {
        var deflater = Deflater(level: 6)
        let random = sample(50_000, seed: 9, compressible: false)
        let text = sample(50_000, seed: 10, compressible: true)
        let stored = deflater.compress(random, level: 0)
        // Stored blocks: five bytes a block of up to 64 KiB, plus the zlib header and trailer.
        #expect(stored.count <= random.count + 16)
        #expect(try Gzip.decompressDeflate(stored, maximumOutputBytes: random.count) == random)
        let best = deflater.compress(text, level: 9)
        let fast = deflater.compress(text, level: 1)
        #expect(try Gzip.decompressDeflate(best, maximumOutputBytes: text.count) == text)
        #expect(try Gzip.decompressDeflate(fast, maximumOutputBytes: text.count) == text)
        // `Gzip.compressDeflate` is libdeflate's now: a fresh zlib stream is the reference.
        var freshBest = Deflater(level: 9)
        var freshFast = Deflater(level: 1)
        #expect(best == freshBest.compress(text), "a reused stream at a level matches a fresh one")
        #expect(fast == freshFast.compress(text))
    }
}
