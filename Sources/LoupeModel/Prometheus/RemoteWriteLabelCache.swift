import Synchronization

/// Label sets a TSDB head holds, by a hash of the bytes a remote-write sender encodes them as.
///
/// Senders repeat every series' labels in every request, byte for byte. The decoder hashes a
/// series' raw label fields, takes the label set cached under that hash if the bytes match it
/// exactly, and so skips building a `Labels` per series; the head gets the very label set it
/// interned and the series' ref, which it only has to confirm. Sharded so that concurrent
/// requests rarely wait for each other.
public final class RemoteWriteLabelCache: Sendable {
    public struct Entry: Sendable {
        public var labels: Labels
        /// The head's ref for the series (meaningful to that head only).
        public var seriesRef: UInt64
    }

    /// An open-addressing table keyed by the hash itself: the key is already well mixed, so the
    /// `Dictionary` route (hashing the hash again with SipHash) only added work to a lookup made
    /// once per series per request. Three parallel arrays, 24 bytes a slot, at most 3/4 full: the
    /// same memory as the dictionary it replaces.
    struct Table {
        /// 0 marks an empty slot; stored keys always have their lowest bit set (`storedKey`).
        private var keys: [UInt64]
        private var refs: [UInt64]
        private var labels: [Labels?]
        private(set) var count = 0

        init() {
            keys = Array(repeating: 0, count: 16)
            refs = Array(repeating: 0, count: 16)
            labels = Array(repeating: nil, count: 16)
        }

        /// Folds the key so it is never 0; two hashes differing only in their lowest bit share a
        /// slot, which at worst costs the decoder one label comparison that fails.
        static func storedKey(_ hash: UInt64) -> UInt64 { hash | 1 }

        private func home(_ key: UInt64) -> Int { Int(truncatingIfNeeded: key >> 7) & (keys.count &- 1) }

        func find(_ hash: UInt64) -> Entry? {
            let key = Self.storedKey(hash)
            let mask = keys.count &- 1
            var slot = home(key)
            while true {
                let stored = keys[slot]
                if stored == key, let found = labels[slot] { return Entry(labels: found, seriesRef: refs[slot]) }
                if stored == 0 { return nil }
                slot = (slot &+ 1) & mask
            }
        }

        mutating func insert(_ entry: Entry, for hash: UInt64) {
            if (count &+ 1) &* 4 > keys.count &* 3 { grow() }
            let key = Self.storedKey(hash)
            let mask = keys.count &- 1
            var slot = home(key)
            while keys[slot] != 0 && keys[slot] != key { slot = (slot &+ 1) & mask }
            if keys[slot] == 0 { count &+= 1 }
            keys[slot] = key
            refs[slot] = entry.seriesRef
            labels[slot] = entry.labels
        }

        private mutating func grow() {
            let old = self
            keys = Array(repeating: 0, count: old.keys.count * 2)
            refs = Array(repeating: 0, count: old.keys.count * 2)
            labels = Array(repeating: nil, count: old.keys.count * 2)
            count = 0
            for slot in old.keys.indices where old.keys[slot] != 0 {
                if let stored = old.labels[slot] { insert(Entry(labels: stored, seriesRef: old.refs[slot]), for: old.keys[slot]) }
            }
        }
    }

    private final class Shard: Sendable {
        let table = Mutex(Table())
    }

    private let shards: [Shard]

    public init(shardCount: Int = 16) {
        shards = (0..<max(1, shardCount)).map { _ in Shard() }
    }

    private func shard(_ hash: UInt64) -> Shard { shards[Int(hash % UInt64(shards.count))] }

    /// The label set last remembered under `hash` (the caller checks that it matches).
    public func candidate(for hash: UInt64) -> Entry? {
        shard(hash).table.withLock { $0.find(hash) }
    }

    public func remember(_ labels: Labels, seriesRef: UInt64, for hash: UInt64) {
        shard(hash).table.withLock { $0.insert(Entry(labels: labels, seriesRef: seriesRef), for: hash) }
    }

    /// Forgets everything (series left the head: their label sets must not be kept alive here).
    public func removeAll() {
        for shard in shards { shard.table.withLock { $0 = Table() } }
    }

    public var count: Int { shards.reduce(0) { total, shard in total + shard.table.withLock { $0.count } } }
}
