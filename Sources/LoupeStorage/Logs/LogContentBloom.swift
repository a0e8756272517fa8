/// A chunk's content index: a bloom filter of the 4-byte substrings of its lines, so that a line
/// filter `|= "needle"` skips chunks that cannot hold the needle without decompressing them.
///
/// Variable tokens (alphanumeric runs made of hex digits with at least one decimal digit: request
/// IDs, numbers, hashes) are left out. They are nearly unique per line, so indexing them would
/// fill the filter (and the disk) with grams nobody searches by fragment; what remains (the
/// templates' words and punctuation) is small and stays selective. A needle is checked only by
/// the grams that cannot overlap such a token in a matching line, so the filter never says no
/// to a chunk that holds the needle.
struct LogContentBloom: Sendable, Equatable {
    /// Bits, a power of two.
    private(set) var words: [UInt64]

    /// Two probes: per gram about 6 % false positives at the fold limit, and a needle has several grams.
    static let hashes = 2
    /// Built at this many bits, then folded down while it stays sparse.
    static let initialBits = 1 << 17
    static let minimumBits = 1 << 9
    /// Fold while the set-bit ratio after folding stays under this.
    static let foldFill = 0.25
    /// A filter fuller than this says yes to nearly everything: none is kept.
    static let uselessFill = 0.6

    var bitCount: Int { words.count * 64 }
    var byteCount: Int { words.count * 8 }

    init(words: [UInt64]) {
        self.words = words
    }

    /// The filter of `lines`, or nil when it would not be selective.
    static func build<Lines: Sequence>(_ lines: Lines) -> LogContentBloom? where Lines.Element == String {
        var bloom = LogContentBloom(words: [UInt64](repeating: 0, count: initialBits / 64))
        let mask = UInt64(initialBits - 1)
        bloom.words.withUnsafeMutableBufferPointer { bits in
            for var line in lines {
                line.withUTF8 { bytes in
                    forEachGram(bytes, edgesArePartial: false) { gram, end in
                        // Grams ending at even offsets only: half the hashing, and a needle is
                        // still checked by the grams of either parity (see `mayContain`).
                        if end & 1 == 0 { insert(gram, into: bits, mask: mask) }
                    }
                }
            }
        }
        return bloom.compacted()
    }

    private static func insert(_ gram: UInt32, into bits: UnsafeMutableBufferPointer<UInt64>, mask: UInt64) {
        var (h1, h2) = hash(gram)
        for _ in 0..<hashes {
            let bit = h1 & mask
            bits[Int(bit >> 6)] |= 1 << (bit & 63)
            h1 &+= h2
        }
    }

    /// One multiply (Fibonacci hashing): its high bits mix all four bytes well enough for a
    /// filter, at a fraction of a full 64-bit mixer's cost; this runs for every byte ingested.
    @inline(__always)
    private static func hash(_ gram: UInt32) -> (UInt64, UInt64) {
        let h = (UInt64(gram) | 1 << 32) &* 0x9E37_79B9_7F4A_7C15
        return (h >> 40, (h >> 17) | 1)
    }

    /// Folds the filter in halves (bit `i` of the half-size filter is bit `i` or bit `i + half`,
    /// which is where a power-of-two modulus puts it) while it stays sparse.
    private func compacted() -> LogContentBloom? {
        var words = self.words
        while words.count * 64 > Self.minimumBits {
            let half = words.count / 2
            var folded = [UInt64](repeating: 0, count: half)
            var set = 0
            for index in 0..<half {
                folded[index] = words[index] | words[index + half]
                set += folded[index].nonzeroBitCount
            }
            guard Double(set) / Double(half * 64) <= Self.foldFill else { break }
            words = folded
        }
        let set = words.reduce(0) { $0 + $1.nonzeroBitCount }
        guard Double(set) / Double(words.count * 64) <= Self.uselessFill else { return nil }
        return LogContentBloom(words: words)
    }

    /// False only when no line of the chunk contains `needle`.
    ///
    /// Only grams ending at even line offsets are in the filter. Where the needle sits in a line is
    /// unknown, so its grams ending at even offsets of the needle are all indexed, or those ending
    /// at odd ones are: the chunk is ruled out only when each parity has a gram the filter lacks.
    func mayContain(_ needle: String) -> Bool {
        var needle = needle
        let mask = UInt64(bitCount - 1)
        return needle.withUTF8 { bytes in
            var present = (true, true)
            Self.forEachGram(bytes, edgesArePartial: true) { gram, end in
                guard end & 1 == 0 ? present.0 : present.1 else { return }
                var (h1, h2) = Self.hash(gram)
                for _ in 0..<Self.hashes {
                    let bit = h1 & mask
                    if words[Int(bit >> 6)] & (1 << (bit & 63)) == 0 {
                        if end & 1 == 0 { present.0 = false } else { present.1 = false }
                        return
                    }
                    h1 &+= h2
                }
            }
            return present.0 || present.1
        }
    }

    /// Calls `body` with each 4-byte window that lies outside variable tokens, and the offset of its last byte.
    ///
    /// With `edgesArePartial` (a needle), an alphanumeric run touching either end may be part of
    /// a longer run in the line; if it is all hex digits that longer run may be a variable token
    /// (left out of the filter), so it is skipped too.
    static func forEachGram(_ bytes: UnsafeBufferPointer<UInt8>, edgesArePartial: Bool, _ body: (UInt32, Int) -> Void) {
        var gram: UInt32 = 0
        var valid = 0
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            if isAlphanumeric(byte) {
                var end = index
                var allHex = true
                var hasDigit = false
                while end < count, isAlphanumeric(bytes[end]) {
                    let b = bytes[end]
                    if b >= 0x30 && b <= 0x39 {
                        hasDigit = true
                    } else if !((b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46)) {
                        allHex = false
                    }
                    end += 1
                }
                let touchesEdge = edgesArePartial && (index == 0 || end == count)
                if allHex && (hasDigit || touchesEdge) {
                    valid = 0
                } else {
                    for position in index..<end {
                        gram = gram << 8 | UInt32(bytes[position])
                        valid += 1
                        if valid >= 4 { body(gram, position) }
                    }
                }
                index = end
            } else {
                gram = gram << 8 | UInt32(byte)
                valid += 1
                if valid >= 4 { body(gram, index) }
                index += 1
            }
        }
    }

    @inline(__always)
    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A)
    }
}
