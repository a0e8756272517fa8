import LoupeModel
import Synchronization

/// Serves the selects of a range query's steps from one select over the whole query range.
///
/// A range query evaluates its expression once per step, and every step selects a window that
/// is the previous one shifted by the step. Asking storage each time repeats the index lookup,
/// the chunk decoding and the merge of blocks and head per step; instead the first select of a
/// selector fetches its window widened by the query's span, and later windows are sliced out
/// of that by binary search. Results that would hold more than `sampleLimit` samples are not
/// kept (memory stays bounded): those selectors go to storage every step, as before.
final class RangeSelectCache: PromQLQueryable, Sendable {
    private struct Entry {
        var minTime: Int64
        var maxTime: Int64
        /// Nil when the widened result was too large to keep.
        var series: [SeriesSamples]?
    }

    private let base: any PromQLQueryable
    private let span: Int64
    private let sampleLimit: Int
    private let entries = Mutex<[[LabelMatcher]: Entry]>([:])

    init(base: any PromQLQueryable, span: Int64, sampleLimit: Int = 10_000_000) {
        self.base = base
        self.span = max(0, span)
        self.sampleLimit = sampleLimit
    }

    func select(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64, shard: SeriesShard) throws -> [SeriesSamples] {
        try base.select(matchers, minTime: minTime, maxTime: maxTime, shard: shard)
    }

    func select(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) throws -> [SeriesSamples] {
        if let entry = entries.withLock({ $0[matchers] }) {
            guard let series = entry.series, minTime >= entry.minTime, maxTime <= entry.maxTime else {
                return try base.select(matchers, minTime: minTime, maxTime: maxTime)
            }
            return Self.slice(series, minTime: minTime, maxTime: maxTime)
        }
        let widenedMax = maxTime > Int64.max - span ? Int64.max : maxTime + span
        let all = try base.select(matchers, minTime: minTime, maxTime: widenedMax)
        let count = all.reduce(0) { $0 + $1.floats.count + $1.histograms.count }
        let entry = Entry(minTime: minTime, maxTime: widenedMax, series: count <= sampleLimit ? all : nil)
        entries.withLock { $0[matchers] = entry }
        return Self.slice(all, minTime: minTime, maxTime: maxTime)
    }

    /// The samples in `[minTime, maxTime]`; series left without any are dropped (as storage does).
    static func slice(_ series: [SeriesSamples], minTime: Int64, maxTime: Int64) -> [SeriesSamples] {
        var result: [SeriesSamples] = []
        result.reserveCapacity(series.count)
        for entry in series {
            let floats = entry.floats.window(after: minTime == .min ? .min : minTime - 1, through: maxTime)
            let histograms = entry.histograms.window(after: minTime == .min ? .min : minTime - 1, through: maxTime)
            if floats.isEmpty && histograms.isEmpty { continue }
            result.append(SeriesSamples(labels: entry.labels, floats: Array(floats), histograms: Array(histograms)))
        }
        return result
    }
}
