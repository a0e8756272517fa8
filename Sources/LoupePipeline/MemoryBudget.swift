import Synchronization

/// Bounds the bytes held by requests between receipt and acknowledgement.
///
/// When a reservation would exceed the budget the request is refused with a retryable
/// error instead of queueing without limit: back-pressure reaches the client.
public final class MemoryBudget: Sendable {
    public let limitBytes: Int
    private let inUse = Atomic<Int>(0)

    public init(limitBytes: Int) { self.limitBytes = limitBytes }

    public var bytesInUse: Int { inUse.load(ordering: .relaxed) }

    /// Reserves `bytes`, or returns nil when that would go over the limit. A single request
    /// larger than the whole budget is still admitted when nothing else is in flight, so a
    /// body within the size limit can never be refused forever.
    public func reserve(_ bytes: Int) -> Reservation? {
        var current = inUse.load(ordering: .relaxed)
        while true {
            let next = current + bytes
            if next > limitBytes && current > 0 { return nil }
            let (exchanged, original) = inUse.compareExchange(expected: current, desired: next, ordering: .acquiringAndReleasing)
            if exchanged { return Reservation(bytes: bytes) }
            current = original
        }
    }

    public func release(_ reservation: Reservation) {
        inUse.subtract(reservation.bytes, ordering: .acquiringAndReleasing)
    }

    public struct Reservation: Sendable {
        public let bytes: Int
    }
}
