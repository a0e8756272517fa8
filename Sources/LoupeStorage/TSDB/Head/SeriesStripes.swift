import CPrefetch
import LoupeModel
import Synchronization

/// The head's series, in stripes by ref, each stripe behind its own lock.
///
/// Appending a request's samples is most of the head's work and touches only the series it
/// names; with one lock over the whole head, concurrent requests queued behind each other (and
/// spun in the kernel's priority-inheritance mutex) while cores sat idle. The index (postings,
/// label sets to refs) keeps its own lock in `TSDBHead`; a caller holding it may take a stripe's
/// lock, never the other way round.
final class SeriesStripes: Sendable {
    static let stripeCount = 16
    private static let stripeBits: UInt64 = 4

    private final class Stripe: Sendable {
        let table = Mutex(SeriesTable())
    }

    private let stripes: [Stripe] = (0..<SeriesStripes.stripeCount).map { _ in Stripe() }

    static func stripe(of ref: SeriesRef) -> Int { Int(truncatingIfNeeded: ref) & (stripeCount - 1) }

    /// The series' position inside its stripe's table (refs of one stripe are `stripeCount` apart).
    static func slot(of ref: SeriesRef) -> SeriesRef { ref >> stripeBits }

    /// Runs `body` on one stripe's table under its lock.
    func withStripe<Result>(_ stripe: Int, _ body: (inout SeriesTable) -> Result) -> Result {
        stripes[stripe].table.withLock { body(&$0) }
    }

    /// Runs `body` once on each of `stripes`, taking whichever stripe's lock is free first: two
    /// requests walking the stripes in the same order would otherwise wait on each other at
    /// every stripe. Waits only when every remaining stripe is busy.
    func forEachStripe(_ stripes: [Int], _ body: (Int, inout SeriesTable) -> Void) {
        var pending = stripes
        while !pending.isEmpty {
            var busy: [Int] = []
            for stripe in pending where self.stripes[stripe].table.withLockIfAvailable({ body(stripe, &$0) }) == nil {
                busy.append(stripe)
            }
            if !busy.isEmpty && busy.count == pending.count {
                let first = busy.removeFirst()
                withStripe(first) { body(first, &$0) }
            }
            pending = busy
        }
    }

    func withSeriesTable<Result>(of ref: SeriesRef, _ body: (inout SeriesTable) -> Result) -> Result {
        withStripe(Self.stripe(of: ref), body)
    }

    /// Refs grouped by stripe, each group in the given order.
    static func grouped(_ refs: [SeriesRef]) -> [[SeriesRef]] {
        var groups = [[SeriesRef]](repeating: [], count: stripeCount)
        for ref in refs { groups[stripe(of: ref)].append(ref) }
        return groups
    }

    /// Calls `body` for each ref that names a series, one stripe lock at a time; results come
    /// grouped by stripe, not in the order of `refs`.
    func compactMap<Result>(_ refs: [SeriesRef], _ body: (SeriesRef, HeadSeries) -> Result?) -> [Result] {
        var results: [Result] = []
        results.reserveCapacity(refs.count)
        for (stripe, group) in Self.grouped(refs).enumerated() where !group.isEmpty {
            withStripe(stripe) { table in
                for ref in group {
                    if let result = table.read(Self.slot(of: ref), { body(ref, $0) }) { results.append(result) }
                }
            }
        }
        return results
    }

    var chunkCount: Int {
        (0..<Self.stripeCount).reduce(0) { total, stripe in total + withStripe(stripe) { $0.values.reduce(0) { $0 + $1.chunkCount } } }
    }
}

/// One stripe's series by slot. Refs are handed out densely, so an array indexed by slot
/// replaces a hash table (no hashing, no load-factor slack per series).
struct SeriesTable: Sendable {
    private var slots: [HeadSeries?] = []
    private(set) var count = 0

    subscript(slot: SeriesRef) -> HeadSeries? {
        get { slot < UInt64(slots.count) ? slots[Int(slot)] : nil }
        set {
            let index = Int(slot)
            if index >= slots.count {
                guard newValue != nil else { return }
                slots.append(contentsOf: repeatElement(nil, count: index - slots.count + 1))
            }
            switch (slots[index] == nil, newValue == nil) {
            case (true, false): count += 1
            case (false, true): count -= 1
            default: break
            }
            slots[index] = newValue
        }
    }

    mutating func removeValue(forSlot slot: SeriesRef) -> HeadSeries? {
        let value = self[slot]
        if value != nil { self[slot] = nil }
        return value
    }

    var values: some Sequence<HeadSeries> { slots.lazy.compactMap { $0 } }

    /// Reads a series in place. A read access (`self[slot]`, `if let`, even optional chaining
    /// on a non-mutating method) copies the series out first, retaining each of its arrays: a
    /// tenth of a query over every series went there. Mutating access through the array's
    /// `_modify` hands the stored value over as it is (the table is ours under the stripe lock).
    mutating func read<Result>(_ slot: SeriesRef, _ body: (HeadSeries) -> Result?) -> Result? {
        guard slot < UInt64(slots.count) else { return nil }
        return slots[Int(slot)]?.applyInPlace(body) ?? nil
    }

    /// Starts bringing a series' slot into the cache (the whole `HeadSeries`, a few lines).
    func prefetchSeries(_ slot: SeriesRef) {
        guard slot < UInt64(slots.count) else { return }
        slots.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let start = UnsafeRawPointer(base + Int(slot))
            var offset = 0
            while offset < MemoryLayout<HeadSeries?>.stride {
                loupe_prefetch(start + offset)
                offset &+= 64
            }
        }
    }

    /// Starts bringing in the bytes a series' next float append writes. Its slot should already be
    /// cached (`prefetchSeries` some series earlier): this reads the chunk's address from it.
    mutating func prefetchOpenChunk(_ slot: SeriesRef) {
        guard slot < UInt64(slots.count) else { return }
        slots[Int(slot)]?.prefetchOpenChunk()
    }

    /// A series' label set, without copying the rest of the series out.
    func labels(of slot: SeriesRef) -> Labels? {
        slot < UInt64(slots.count) ? slots[Int(slot)]?.labels : nil
    }

    /// Appends a batch entry's samples to the series in place (no copy out and back, and no
    /// closure: variables a closure captures are checked for exclusivity at run time).
    ///
    /// With `ifLabelsMatch`, only when the entry carries the series' own label set (a ref hint is
    /// confirmed this way, in place: copying the stored label set out to compare it retained it).
    /// Returns whether the samples were appended.
    @discardableResult
    mutating func append(
        _ series: UnsafePointer<TimeSeries>, to slot: SeriesRef, ifLabelsMatch: Bool = false, bounds: HeadSeries.Bounds,
        tally: inout HeadSeries.AppendTally
    ) -> Bool {
        guard slot < UInt64(slots.count), slots[Int(slot)] != nil else { return false }
        if ifLabelsMatch && !slots[Int(slot)]!.hasLabels(of: series) { return false }
        slots[Int(slot)]!.append(series, bounds: bounds, tally: &tally)
        return true
    }
}
