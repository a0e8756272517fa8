/// One of `count` disjoint parts of a set of series, chosen by a hash of their labels that is the
/// same in every process, so that a reader can go through many series a part at a time (each
/// series whole, over its full time range) and keep memory bounded.
public struct SeriesShard: Sendable, Hashable {
    public var index: Int
    public var count: Int

    public init(index: Int, of count: Int) {
        self.count = max(1, count)
        self.index = min(max(0, index), self.count - 1)
    }

    /// Every series.
    public static let all = SeriesShard(index: 0, of: 1)

    public func contains(_ labels: Labels) -> Bool {
        count == 1 || contains(stableHash: labels.stableHash)
    }

    /// `contains` for a series whose `Labels.stableHash` is already known (the head keeps it).
    public func contains(stableHash: UInt64) -> Bool {
        count == 1 || Int(stableHash % UInt64(count)) == index
    }
}

extension Labels {
    /// FNV-1a over every name and value (with separators): unlike `hashValue`, not seeded per process.
    public var stableHash: UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func add(_ string: String) {
            Labels.withUTF8(string) { bytes in
                for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
            }
            hash = (hash ^ 0xFF) &* 0x100_0000_01B3
        }
        for label in storage {
            add(label.name)
            add(label.value)
        }
        return hash
    }
}
