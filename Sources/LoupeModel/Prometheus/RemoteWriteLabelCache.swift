import CPrefetch
import Synchronization

/// Label sets a TSDB head holds, by a hash of the bytes a remote-write sender encodes them as.
///
/// Senders repeat every series' labels in every request, byte for byte. The decoder hashes a
/// series' raw label fields, takes the label set cached under that hash if the bytes match it
/// exactly, and so skips building a `Labels` per series; the head gets the very label set it
/// interned and the series' ref, which it only has to confirm. Sharded so that concurrent
/// requests rarely wait for each other.
///
/// With tens of thousands of series the table and the label sets are far larger than the CPU's
/// caches, and one request names a thousand series or more: a decoder asks for each series' slot
/// (`prefetch(for:)`) and label set (`prefetchLabels(for:count:)`) a few series before it
/// compares them (`match(_:_:)`), so the misses overlap instead of coming one after another.
public final class RemoteWriteLabelCache: Sendable {
    public struct Entry: Sendable {
        public var labels: Labels
        /// The head's ref for the series (meaningful to that head only).
        public var seriesRef: UInt64
    }

    /// One slot of the table: everything a lookup reads sits in one place (with the key, ref and
    /// label set in three arrays a lookup missed the cache three times).
    struct Slot {
        /// 0 marks an empty slot; stored keys always have their lowest bit set (`storedKey`).
        var key: UInt64 = 0
        var ref: UInt64 = 0
        var labels: Labels?
        /// Where `labels`' elements start, for a prefetch that must not retain the label set (a
        /// retain writes to it, and so waits for it). Valid while `labels` is stored: a label set
        /// is never mutated here, so its storage never moves.
        var labelsAddress: UInt = 0
    }

    /// An open-addressing table keyed by the hash itself: the key is already well mixed, so the
    /// `Dictionary` route (hashing the hash again with SipHash) only added work to a lookup made
    /// once per series per request. At most 3/4 full.
    struct Table {
        private var slots: [Slot]
        private(set) var count = 0

        init() {
            slots = Array(repeating: Slot(), count: 16)
        }

        /// Folds the key so it is never 0; two hashes differing only in their lowest bit share a
        /// slot, which at worst costs the decoder one label comparison that fails.
        static func storedKey(_ hash: UInt64) -> UInt64 { hash | 1 }

        static func home(_ key: UInt64, mask: Int) -> Int { Int(truncatingIfNeeded: key >> 7) & mask }

        var mask: Int { slots.count &- 1 }

        /// The address of the first slot, published for lock-free prefetches (see `Shard`).
        var slotsAddress: UInt { slots.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } }

        private func position(of hash: UInt64) -> Int? {
            let key = Self.storedKey(hash)
            let mask = mask
            var slot = Self.home(key, mask: mask)
            return slots.withUnsafeBufferPointer { slots in
                while true {
                    let stored = slots[slot].key
                    if stored == key { return slots[slot].labels == nil ? nil : slot }
                    if stored == 0 { return nil }
                    slot = (slot &+ 1) & mask
                }
            }
        }

        func find(_ hash: UInt64) -> Entry? {
            guard let slot = position(of: hash), let labels = slots[slot].labels else { return nil }
            return Entry(labels: labels, seriesRef: slots[slot].ref)
        }

        /// The entry under `hash` if `accept` takes its label set, which it reads in place.
        func find(_ hash: UInt64, accepting accept: (Labels) -> Bool) -> Entry? {
            guard let slot = position(of: hash) else { return nil }
            return slots.withUnsafeBufferPointer { slots -> Entry? in
                guard let labels = slots[slot].labels, accept(labels) else { return nil }
                return Entry(labels: labels, seriesRef: slots[slot].ref)
            }
        }

        func labelsAddress(_ hash: UInt64) -> UInt {
            guard let slot = position(of: hash) else { return 0 }
            return slots.withUnsafeBufferPointer { $0[slot].labelsAddress }
        }

        mutating func insert(_ entry: Entry, for hash: UInt64) {
            if (count &+ 1) &* 4 > slots.count &* 3 { grow() }
            let key = Self.storedKey(hash)
            let mask = mask
            var slot = Self.home(key, mask: mask)
            while slots[slot].key != 0 && slots[slot].key != key { slot = (slot &+ 1) & mask }
            if slots[slot].key == 0 { count &+= 1 }
            let address = entry.labels.storage.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
            slots[slot] = Slot(key: key, ref: entry.seriesRef, labels: entry.labels, labelsAddress: address)
        }

        private mutating func grow() {
            let old = slots
            slots = Array(repeating: Slot(), count: old.count * 2)
            count = 0
            for slot in old where slot.key != 0 {
                if let labels = slot.labels { insert(Entry(labels: labels, seriesRef: slot.ref), for: slot.key) }
            }
        }
    }

    private final class Shard: Sendable {
        private let table = Mutex(Table())
        /// The table's first slot and mask, republished after every change, so that
        /// `prefetch(for:)` can compute a slot's address without the lock. A stale pair only
        /// prefetches the wrong line (a prefetch never faults).
        private let slotsAddress = Atomic<UInt>(0)
        private let mask = Atomic<Int>(0)

        init() {
            table.withLock { publish($0) }
        }

        private func publish(_ table: Table) {
            slotsAddress.store(table.slotsAddress, ordering: .relaxed)
            mask.store(table.mask, ordering: .relaxed)
        }

        func read<Result>(_ body: (Table) -> Result) -> Result { table.withLock { body($0) } }

        func change(_ body: (inout Table) -> Void) {
            table.withLock { table in
                body(&table)
                publish(table)
            }
        }

        func prefetch(_ hash: UInt64) {
            let base = slotsAddress.load(ordering: .relaxed)
            guard let pointer = UnsafeRawPointer(bitPattern: base) else { return }
            let home = Table.home(Table.storedKey(hash), mask: mask.load(ordering: .relaxed))
            loupe_prefetch(pointer + home &* MemoryLayout<Slot>.stride)
        }
    }

    private let shards: [Shard]
    /// The same shards, used without retaining them: three lookups per series per request each
    /// retained and released its shard, an atomic write to a line both cores share.
    private let unretainedShards: [Unmanaged<Shard>]
    /// `shards.count - 1`; the count is a power of two (a mask, not a 64-bit division, per lookup).
    private let shardMask: UInt64

    /// - Parameter shardCount: rounded up to a power of two.
    public init(shardCount: Int = 16) {
        var count = 1
        while count < shardCount { count <<= 1 }
        shards = (0..<count).map { _ in Shard() }
        unretainedShards = shards.map { Unmanaged.passUnretained($0) }
        shardMask = UInt64(count - 1)
    }

    @inline(__always)
    private func withShard<Result>(_ hash: UInt64, _ body: (Shard) -> Result) -> Result {
        // `shards` keeps every shard alive as long as `self` is.
        unretainedShards[Int(truncatingIfNeeded: hash & shardMask)]._withUnsafeGuaranteedRef(body)
    }

    /// The label set last remembered under `hash` (the caller checks that it matches).
    public func candidate(for hash: UInt64) -> Entry? {
        withShard(hash) { $0.read { $0.find(hash) } }
    }

    /// The entry under `hash` if `accept` takes its label set; `accept` runs under the shard's lock.
    public func match(_ hash: UInt64, _ accept: (Labels) -> Bool) -> Entry? {
        withShard(hash) { $0.read { $0.find(hash, accepting: accept) } }
    }

    /// Starts bringing the slot `hash` lands on into the cache; takes no lock.
    public func prefetch(for hash: UInt64) {
        withShard(hash) { $0.prefetch(hash) }
    }

    /// Starts bringing the label set under `hash` into the cache: its header and the first
    /// `count` labels (the labels a comparison reads first).
    public func prefetchLabels(for hash: UInt64, count: Int) {
        let address = withShard(hash) { $0.read { $0.labelsAddress(hash) } }
        guard let elements = UnsafeRawPointer(bitPattern: address) else { return }
        // The array's header (count, refcount) sits just before its elements.
        loupe_prefetch(elements - 32)
        let end = min(count, 16) &* MemoryLayout<Label>.stride
        var offset = 32
        while offset < end {
            loupe_prefetch(elements + offset)
            offset &+= 64
        }
    }

    public func remember(_ labels: Labels, seriesRef: UInt64, for hash: UInt64) {
        withShard(hash) { $0.change { $0.insert(Entry(labels: labels, seriesRef: seriesRef), for: hash) } }
    }

    /// Forgets everything (series left the head: their label sets must not be kept alive here).
    public func removeAll() {
        for shard in shards { shard.change { $0 = Table() } }
    }

    public var count: Int { shards.reduce(0) { total, shard in total + shard.read { $0.count } } }
}
