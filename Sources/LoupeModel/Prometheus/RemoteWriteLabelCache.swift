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

    private final class Shard: Sendable {
        let entries = Mutex<[UInt64: Entry]>([:])
    }

    private let shards: [Shard]

    public init(shardCount: Int = 16) {
        shards = (0..<max(1, shardCount)).map { _ in Shard() }
    }

    private func shard(_ hash: UInt64) -> Shard { shards[Int(hash % UInt64(shards.count))] }

    /// The label set last remembered under `hash` (the caller checks that it matches).
    public func candidate(for hash: UInt64) -> Entry? {
        shard(hash).entries.withLock { $0[hash] }
    }

    public func remember(_ labels: Labels, seriesRef: UInt64, for hash: UInt64) {
        shard(hash).entries.withLock { $0[hash] = Entry(labels: labels, seriesRef: seriesRef) }
    }

    /// Forgets everything (series left the head: their label sets must not be kept alive here).
    public func removeAll() {
        for shard in shards { shard.entries.withLock { $0.removeAll() } }
    }

    public var count: Int { shards.reduce(0) { total, shard in total + shard.entries.withLock { $0.count } } }
}
