import LoupeModel

/// A Bloom filter over trace IDs: a block that cannot hold a trace says so without a search
/// of its ID list. Trace IDs are random, so their own bits serve as the hashes (mixed, in case
/// a producer's IDs are not). About 10 bits per trace and 7 probes: under 1 % false positives.
struct TraceIDBloom: Sendable, Equatable {
    let words: [UInt64]

    static let probes = 7

    init(words: [UInt64]) { self.words = words }

    init(_ ids: [TraceID]) {
        var count = 64
        while count < ids.count * 10 { count <<= 1 }
        var words = [UInt64](repeating: 0, count: count / 64)
        for id in ids {
            Self.forEachBit(id, bits: count) { bit in words[bit >> 6] |= 1 << UInt64(bit & 63) }
        }
        self.words = words
    }

    /// Stops at the first clear bit: most IDs asked about are not in the block (every new trace
    /// is looked up in every block), and about half the bits are clear.
    func mayContain(_ id: TraceID) -> Bool {
        guard !words.isEmpty else { return false }
        var (hash, step) = Self.hashes(id)
        let mask = UInt64(words.count * 64 - 1)
        return words.withUnsafeBufferPointer { words in
            for _ in 0..<Self.probes {
                let bit = Int(hash & mask)
                if words[bit >> 6] & (1 << UInt64(bit & 63)) == 0 { return false }
                hash &+= step
            }
            return true
        }
    }

    private static func hashes(_ id: TraceID) -> (first: UInt64, step: UInt64) {
        (SplitMix64.mix(id.high ^ 0x9E37_79B9_7F4A_7C15), SplitMix64.mix(id.low ^ 0xC2B2_AE3D_27D4_EB4F) | 1)
    }

    private static func forEachBit(_ id: TraceID, bits: Int, _ body: (Int) -> Void) {
        let (first, step) = hashes(id)
        let mask = UInt64(bits - 1)
        var hash = first
        for _ in 0..<probes {
            body(Int(hash & mask))
            hash &+= step
        }
    }
}
