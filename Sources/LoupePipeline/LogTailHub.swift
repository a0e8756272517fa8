import LoupeModel
import Synchronization

/// Hands newly acknowledged log entries to live tails (`/loki/api/v1/tail`), per tenant.
///
/// A tail that reads slower than entries arrive loses the oldest batches rather than holding
/// memory or slowing ingestion; it learns how many entries it missed (Loki's `dropped_entries`).
public final class LogTailHub: Sendable {
    /// One tail's feed.
    public struct Subscription: Sendable {
        public let id: UInt64
        public let batches: AsyncStream<Batch>
    }

    /// Entries of one acknowledged write, numbered in publishing order.
    public struct Batch: Sendable {
        public let sequence: UInt64
        public let streams: [LogStream]
    }

    /// An entry a slow tail never got (Loki's `dropped_entries`).
    public struct DroppedEntry: Sendable, Equatable {
        public let labels: Labels
        public let timestamp: Int64
    }

    private struct Subscriber {
        let tenant: Tenant
        let continuation: AsyncStream<Batch>.Continuation
        var dropped: [DroppedEntry] = []
    }

    private let subscribers = Mutex<[UInt64: Subscriber]>([:])
    private let nextID = Atomic<UInt64>(1)
    /// The last batch's number: a batch numbered at or below a value read before a store query
    /// was appended before it (publishing follows the store append), so the query saw it.
    private let lastSequence = Mutex<UInt64>(0)
    /// Dropped entries a tail keeps to report; more are not listed.
    static let droppedListLimit = 1_000
    /// Batches a tail may have waiting before the oldest are dropped.
    let bufferedBatches: Int

    public init(bufferedBatches: Int = 256) {
        self.bufferedBatches = max(1, bufferedBatches)
    }

    public func subscribe(tenant: Tenant) -> Subscription {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let (stream, continuation) = AsyncStream<Batch>.makeStream(bufferingPolicy: .bufferingNewest(bufferedBatches))
        subscribers.withLock { $0[id] = Subscriber(tenant: tenant, continuation: continuation) }
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(id) }
        return Subscription(id: id, batches: stream)
    }

    public func unsubscribe(_ id: UInt64) {
        let removed = subscribers.withLock { $0.removeValue(forKey: id) }
        removed?.continuation.finish()
    }

    /// Entries the tail missed since it last asked (its buffer was full).
    public func takeDroppedEntries(_ id: UInt64) -> [DroppedEntry] {
        subscribers.withLock { all in
            let dropped = all[id]?.dropped ?? []
            all[id]?.dropped = []
            return dropped
        }
    }

    /// The number of the last batch published.
    public var sequence: UInt64 { lastSequence.withLock { $0 } }

    public var count: Int { subscribers.withLock { $0.count } }

    /// Offers acknowledged entries to the tenant's tails; costs a lock and a dictionary walk when
    /// nobody tails.
    func publish(_ streams: [LogStream], tenant: Tenant) {
        guard !streams.isEmpty else { return }
        subscribers.withLock { all in
            let sequence = lastSequence.withLock { last in
                last += 1
                return last
            }
            guard !all.isEmpty else { return }
            let batch = Batch(sequence: sequence, streams: streams)
            for (id, subscriber) in all where subscriber.tenant == tenant {
                guard case .dropped(let old) = subscriber.continuation.yield(batch) else { continue }
                for stream in old.streams {
                    for entry in stream.entries where (all[id]?.dropped.count ?? .max) < Self.droppedListLimit {
                        all[id]?.dropped.append(DroppedEntry(labels: stream.labels, timestamp: entry.timestamp))
                    }
                }
            }
        }
    }
}
