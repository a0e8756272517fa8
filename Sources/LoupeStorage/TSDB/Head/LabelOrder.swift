import LoupeModel

/// Every head series' position in label order, as of the last time it was worked out, so that a
/// selection is put in label order by sorting integers instead of comparing label sets.
///
/// Queries need their series sorted by labels (the order PromQL results and merges with blocks
/// rely on). Sorting a selection by comparing label sets took a third of an instant
/// `sum by (instance) (rate(...))` over 22,000 series; ranks make that an integer sort. Series
/// created since the ranks were computed have none: a selection sorts those by their labels and
/// merges them in, and the ranks are worked out again once such series are more than an eighth of
/// the ranked ones (see `isStale`), so the cost of recomputing is spread over many new series.
final class LabelOrder: Sendable {
    /// `ranks[ref - firstRef]`: the series' position among all series of the head in label order,
    /// for refs from `firstRef` (the oldest series alive then) below `rankedBelow`; `unranked` for
    /// refs that were not alive then. Four bytes per series.
    private let ranks: [UInt32]
    private let firstRef: SeriesRef
    let rankedBelow: SeriesRef
    let rankedCount: Int

    static let unranked = UInt32.max

    /// Ranks `series` (every series of the head, refs all below `nextRef`).
    init(series: [(ref: SeriesRef, labels: Labels)], nextRef: SeriesRef) {
        let firstRef = series.lazy.map(\.ref).min() ?? nextRef
        var ranks = [UInt32](repeating: Self.unranked, count: Int(nextRef &- firstRef))
        let order = TSDBHead.labelSortPermutation(count: series.count) { series[$0].labels } ?? Array(series.indices)
        for (rank, index) in order.enumerated() {
            ranks[Int(series[index].ref &- firstRef)] = UInt32(truncatingIfNeeded: rank)
        }
        self.ranks = ranks
        self.firstRef = firstRef
        self.rankedBelow = nextRef
        self.rankedCount = series.count
    }

    /// The series' rank, or nil for a series created after the ranks were computed.
    @inline(__always)
    func rank(of ref: SeriesRef) -> UInt32? {
        guard ref < rankedBelow, ref >= firstRef else { return nil }
        let rank = ranks[Int(ref &- firstRef)]
        return rank == Self.unranked ? nil : rank
    }

    /// Whether so many series were created since that the ranks should be worked out again.
    func isStale(nextRef: SeriesRef) -> Bool {
        nextRef &- rankedBelow > SeriesRef(max(1_024, rankedCount / 8))
    }

    /// `items` in label order: ranked series by rank, the others by their labels, merged.
    func sorted(_ items: [(ref: SeriesRef, samples: SeriesSamples)]) -> [SeriesSamples] {
        if items.count < 2 { return items.map(\.samples) }
        // Rank in the high half, position in the low half: one integer sort.
        var keys: [UInt64] = []
        keys.reserveCapacity(items.count)
        var unrankedItems: [Int] = []
        for index in items.indices {
            if let rank = rank(of: items[index].ref) {
                keys.append(UInt64(rank) &<< 32 | UInt64(index))
            } else {
                unrankedItems.append(index)
            }
        }
        keys.sort()
        if unrankedItems.isEmpty { return keys.map { items[Int(truncatingIfNeeded: $0 & 0xFFFF_FFFF)].samples } }
        let others = TSDBHead.sortedByLabels(unrankedItems.map { items[$0].samples })
        var result: [SeriesSamples] = []
        result.reserveCapacity(items.count)
        var next = 0
        for key in keys {
            let ranked = items[Int(truncatingIfNeeded: key & 0xFFFF_FFFF)].samples
            while next < others.count && others[next].labels < ranked.labels {
                result.append(others[next])
                next += 1
            }
            result.append(ranked)
        }
        result.append(contentsOf: others[next...])
        return result
    }
}
