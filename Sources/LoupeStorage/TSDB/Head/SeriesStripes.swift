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
        (0..<Self.stripeCount).reduce(0) { total, stripe in total + withStripe(stripe) { table in
            var chunks = 0
            table.forEach { chunks += $0.chunkCount }
            return chunks
        } }
    }
}

/// One stripe's series by slot. Refs are handed out densely, so memory indexed by slot replaces
/// a hash table (no hashing, no load-factor slack per series).
///
/// The slots sit in pages of `pageSize`, and only the newest page grows: one array doubling as
/// the stripe grew held up to twice the slots it needed (a `HeadSeries` is a few hundred bytes,
/// the largest per-series cost in the head) and, while it grew, the old and the new copy at once.
/// The pages are raw memory rather than nested arrays, which cost every append a retain and a
/// uniqueness check of the page (a fifth of the head's append time).
/// `@unchecked Sendable`: the pages are owned by the table alone (it cannot be copied), and it is
/// only reached under its stripe's lock.
struct SeriesTable: ~Copyable, @unchecked Sendable {
    static let pageBits = 9
    static let pageSize = 1 << pageBits

    private var pages: UnsafeMutablePointer<UnsafeMutablePointer<HeadSeries?>>
    private var pageCount = 0
    private var pageListCapacity = 4
    /// Slots allocated (and initialized, to nil when empty): whole pages, then the newest page's.
    private var capacity = 0
    private(set) var count = 0

    init() {
        pages = .allocate(capacity: pageListCapacity)
    }

    deinit {
        for page in 0..<pageCount {
            pages[page].deinitialize(count: slotCount(ofPage: page))
            pages[page].deallocate()
        }
        pages.deallocate()
    }

    /// Slots allocated in a page: all of them but in the newest.
    private func slotCount(ofPage page: Int) -> Int {
        page == pageCount - 1 ? capacity - page * Self.pageSize : Self.pageSize
    }

    /// The stored slot, or nil past the allocated ones.
    @inline(__always)
    private func pointer(_ slot: SeriesRef) -> UnsafeMutablePointer<HeadSeries?>? {
        guard slot < UInt64(capacity) else { return nil }
        return pages[Int(truncatingIfNeeded: slot >> UInt64(Self.pageBits))] + (Int(truncatingIfNeeded: slot) & (Self.pageSize &- 1))
    }

    /// Allocates slots up to and including `slot`: the newest page grows (doubling, up to a
    /// whole page), then new pages follow.
    private mutating func reserve(through slot: Int) {
        while capacity <= slot {
            let lastSlots = pageCount > 0 ? slotCount(ofPage: pageCount - 1) : Self.pageSize
            if lastSlots < Self.pageSize {
                let grown = min(Self.pageSize, max(lastSlots * 2, slot - (pageCount - 1) * Self.pageSize + 1))
                let page = UnsafeMutablePointer<HeadSeries?>.allocate(capacity: grown)
                page.moveInitialize(from: pages[pageCount - 1], count: lastSlots)
                (page + lastSlots).initialize(repeating: nil, count: grown - lastSlots)
                pages[pageCount - 1].deallocate()
                pages[pageCount - 1] = page
                capacity += grown - lastSlots
            } else {
                if pageCount == pageListCapacity {
                    let list = UnsafeMutablePointer<UnsafeMutablePointer<HeadSeries?>>.allocate(capacity: pageListCapacity * 2)
                    list.moveInitialize(from: pages, count: pageCount)
                    pages.deallocate()
                    pages = list
                    pageListCapacity *= 2
                }
                let first = min(Self.pageSize, max(16, slot - pageCount * Self.pageSize + 1))
                let page = UnsafeMutablePointer<HeadSeries?>.allocate(capacity: first)
                page.initialize(repeating: nil, count: first)
                pages[pageCount] = page
                pageCount += 1
                capacity += first
            }
        }
    }

    subscript(slot: SeriesRef) -> HeadSeries? {
        get { pointer(slot)?.pointee ?? nil }
        set {
            if pointer(slot) == nil {
                guard newValue != nil else { return }
                reserve(through: Int(slot))
            }
            let stored = pointer(slot)!
            switch (stored.pointee == nil, newValue == nil) {
            case (true, false): count += 1
            case (false, true): count -= 1
            default: break
            }
            stored.pointee = newValue
        }
    }

    mutating func removeValue(forSlot slot: SeriesRef) -> HeadSeries? {
        guard let stored = pointer(slot), stored.pointee != nil else { return nil }
        count -= 1
        let series = stored.move()
        stored.initialize(to: nil)
        return series
    }

    /// Every stored series, in slot order.
    func forEach(_ body: (borrowing HeadSeries) -> Void) {
        for page in 0..<pageCount {
            for index in 0..<slotCount(ofPage: page) where pages[page][index] != nil {
                pages[page][index]!.applyInPlace { body($0) }
            }
        }
    }

    /// Reads a series in place: a copy out would retain each of its arrays (a tenth of a query
    /// over every series once went there).
    func read<Result>(_ slot: SeriesRef, _ body: (HeadSeries) -> Result?) -> Result? {
        guard let stored = pointer(slot), stored.pointee != nil else { return nil }
        return stored.pointee!.applyInPlace(body)
    }

    /// Starts bringing a series' slot into the cache (the whole `HeadSeries`, a few lines).
    func prefetchSeries(_ slot: SeriesRef) {
        guard let stored = pointer(slot) else { return }
        let start = UnsafeRawPointer(stored)
        var offset = 0
        while offset < MemoryLayout<HeadSeries?>.stride {
            loupe_prefetch(start + offset)
            offset &+= 64
        }
    }

    /// Starts bringing in the bytes a series' next float append writes. Its slot should already be
    /// cached (`prefetchSeries` some series earlier): this reads the chunk's address from it.
    func prefetchOpenChunk(_ slot: SeriesRef) {
        guard let stored = pointer(slot), stored.pointee != nil else { return }
        stored.pointee!.prefetchOpenChunk()
    }

    /// A series' label set, without copying the rest of the series out.
    func labels(of slot: SeriesRef) -> Labels? {
        guard let stored = pointer(slot), stored.pointee != nil else { return nil }
        return stored.pointee!.labels
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
        guard let stored = pointer(slot), stored.pointee != nil else { return false }
        if ifLabelsMatch && !stored.pointee!.hasLabels(of: series) { return false }
        stored.pointee!.append(series, bounds: bounds, tally: &tally)
        return true
    }
}
