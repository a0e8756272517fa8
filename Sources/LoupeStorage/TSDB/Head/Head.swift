import LoupeModel
import Synchronization

/// What one append call did.
public struct HeadAppendResult: Sendable, Equatable {
    public var floatsAppended = 0
    public var histogramsAppended = 0
    public var seriesCreated = 0
    public var rejected: [SampleRejection: Int] = [:]

    public init() {}

    public var samplesAppended: Int { floatsAppended + histogramsAppended }
    public var rejectedCount: Int { rejected.values.reduce(0, +) }
}

/// Sizes of the head, for `/api/v1/status/tsdb` and `/metrics`.
public struct HeadStatistics: Sendable, Equatable {
    public var series = 0
    public var chunks = 0
    public var samples = 0
    public var minTime = Int64.max
    public var maxTime = Int64.min
    /// Series per metric name, largest first, at most ten.
    public var seriesCountByMetricName: [(name: String, count: Int)] = []
    /// Distinct values per label name, largest first, at most ten.
    public var labelValueCountByLabelName: [(name: String, count: Int)] = []

    public init() {}

    public static func == (lhs: HeadStatistics, rhs: HeadStatistics) -> Bool {
        lhs.series == rhs.series && lhs.chunks == rhs.chunks && lhs.samples == rhs.samples && lhs.minTime == rhs.minTime
            && lhs.maxTime == rhs.maxTime
    }
}

/// The in-memory head of one tenant's TSDB: every series with its compressed chunks, and
/// an inverted index from label pairs to series (the Prometheus TSDB head design).
///
/// Series refs grow in creation order, so each postings list stays sorted as it is
/// appended to, and selections are sorted-list intersections.
public final class TSDBHead: Sendable {
    struct State: Sendable {
        var series = SeriesTable()
        var refsByLabels: [Labels: SeriesRef] = [:]
        /// label name → label value → refs of the series that carry it (sorted).
        var postings: [String: [String: [SeriesRef]]] = [:]
        var allRefs: [SeriesRef] = []
        var nextRef: SeriesRef = 1
        var samples = 0
        var minTime = Int64.max
        var maxTime = Int64.min
        /// Samples before this are in blocks (the end of the last cut).
        var minValidTime = Int64.min
    }

    private let state = Mutex(State())
    /// This head's label sets by the hash of their remote-write bytes (see `RemoteWriteLabelCache`).
    public let labelCache = RemoteWriteLabelCache()
    /// The most series the head holds; a write that would create more is refused for those series.
    public let maximumSeries: Int
    /// How far (ms) behind the head's newest sample an out-of-order sample is still accepted; 0 refuses them.
    public let outOfOrderWindow: Int64
    /// The time range of a block cut from the head (ms); head chunks never straddle its boundaries.
    public let chunkRange: Int64

    public init(maximumSeries: Int = .max, outOfOrderWindow: Int64 = 0, chunkRange: Int64 = 2 * 3_600_000) {
        self.maximumSeries = maximumSeries
        self.outOfOrderWindow = max(0, outOfOrderWindow)
        self.chunkRange = max(1, chunkRange)
    }

    /// Samples before this time are refused unless they fall in the out-of-order window
    /// (the end of the last block cut from this head).
    public var minValidTime: Int64 { state.withLock { $0.minValidTime } }

    /// Sets the lower bound after a restart, from the blocks already on disk.
    public func setMinValidTime(_ time: Int64) {
        state.withLock { $0.minValidTime = max($0.minValidTime, time) }
    }

    /// Appends every sample of every series; creates series as needed.
    public func append(_ batch: [TimeSeries]) -> HeadAppendResult {
        var result = HeadAppendResult()
        state.withLock { state in
            var bounds = HeadSeries.Bounds(minValidTime: state.minValidTime, chunkRange: chunkRange)
            if outOfOrderWindow > 0 {
                bounds.outOfOrderMinTime = state.maxTime == .min ? .min : state.maxTime - outOfOrderWindow
            }
            // Read in place: copying each `TimeSeries` out of the array costs a retain and release per field.
            batch.withUnsafeBufferPointer { buffer in
                for position in buffer.indices {
                    let series = buffer.baseAddress! + position
                    guard !series.pointee.labels.isEmpty else { continue }
                    let ref: SeriesRef
                    var cacheConfirmed = false
                    if let hint = series.pointee.seriesRefHint, let stored = state.series.labels(of: hint), stored == series.pointee.labels {
                        // The decoder's label cache named the series; the label sets are the same object.
                        ref = hint
                        cacheConfirmed = true
                    } else if let existing = state.refsByLabels[series.pointee.labels] {
                        ref = existing
                    } else if state.series.count >= maximumSeries {
                        result.rejected[.seriesLimit, default: 0] += series.pointee.sampleCount + series.pointee.histograms.count
                        continue
                    } else {
                        ref = state.nextRef
                        state.nextRef += 1
                        let labels = Self.interned(series.pointee.labels, in: state)
                        state.refsByLabels[labels] = ref
                        state.series[ref] = HeadSeries(labels: labels)
                        state.allRefs.append(ref)
                        for label in labels { state.postings[label.name, default: [:]][label.value, default: []].append(ref) }
                        result.seriesCreated += 1
                    }
                    // A confirmed hint came from this very entry: writing it again would only cost a lock and a lookup.
                    if !cacheConfirmed, let rawLabelsHash = series.pointee.rawLabelsHash, let labels = state.series.labels(of: ref) {
                        labelCache.remember(labels, seriesRef: ref, for: rawLabelsHash)
                    }
                    var tally = HeadSeries.AppendTally(minTime: state.minTime, maxTime: state.maxTime)
                    state.series.append(series, to: ref, bounds: bounds, tally: &tally)
                    result.floatsAppended += tally.floats
                    result.histogramsAppended += tally.histograms
                    for (rejection, count) in tally.rejected { result.rejected[rejection, default: 0] += count }
                    state.minTime = tally.minTime
                    state.maxTime = tally.maxTime
                }
            }
            state.samples += result.samplesAppended
        }
        return result
    }

    /// Series matching every matcher, with their samples in `[minTime, maxTime]`; series
    /// without samples in the range are left out. Sorted by labels.
    public func select(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64, shard: SeriesShard = .all) -> [SeriesSamples] {
        let result: [SeriesSamples] = state.withLock { state in
            Self.matchingRefs(matchers, in: state).compactMap { ref in
                if shard.count > 1 {
                    guard let labels = state.series.labels(of: ref), shard.contains(labels) else { return nil }
                }
                guard let samples = state.series.samples(of: ref, minTime: minTime, maxTime: maxTime) else { return nil }
                return samples.floats.isEmpty && samples.histograms.isEmpty ? nil : samples
            }
        }
        return Self.sortedByLabels(result)
    }

    /// `select`, with each series' newest sample in the range only (see `HeadSeries.newestSample`).
    public func selectNewest(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) -> [SeriesSamples] {
        let result: [SeriesSamples] = state.withLock { state in
            Self.matchingRefs(matchers, in: state).compactMap { ref in
                guard let newest = state.series.newestSample(of: ref, minTime: minTime, maxTime: maxTime) else { return nil }
                return newest.floats.isEmpty && newest.histograms.isEmpty ? nil : newest
            }
        }
        return Self.sortedByLabels(result)
    }

    /// Sorts positions rather than the series themselves: moving a `SeriesSamples` retains and
    /// releases its labels and sample arrays, which cost more than the comparisons (instant
    /// queries over a few hundred series spent a quarter of their time here).
    static func sortedByLabels(_ series: [SeriesSamples]) -> [SeriesSamples] {
        if series.count < 2 { return series }
        let order = series.indices.sorted { series[$0].labels < series[$1].labels }
        return order.map { series[$0] }
    }

    /// Label sets of the series matching every matcher (all series when there are none)
    /// that have samples in the range.
    public func series(_ matchers: [LabelMatcher], minTime: Int64 = .min, maxTime: Int64 = .max) -> [Labels] {
        state.withLock { state in
            let refs = matchers.isEmpty ? state.allRefs : Self.matchingRefs(matchers, in: state)
            return refs.compactMap { ref -> Labels? in
                guard let series = state.series[ref] else { return nil }
                if minTime == .min && maxTime == .max { return series.labels }
                let samples = series.samples(minTime: minTime, maxTime: maxTime)
                return samples.floats.isEmpty && samples.histograms.isEmpty ? nil : series.labels
            }
        }.sorted()
    }

    public func labelNames(_ matchers: [LabelMatcher] = []) -> [String] {
        if matchers.isEmpty { return state.withLock { Array($0.postings.keys) }.sorted() }
        return Array(Set(series(matchers).flatMap { $0.map(\.name) })).sorted()
    }

    public func labelValues(_ name: String, _ matchers: [LabelMatcher] = []) -> [String] {
        if matchers.isEmpty { return state.withLock { Array(($0.postings[name] ?? [:]).keys) }.sorted() }
        return Array(Set(series(matchers).compactMap { $0[name] })).sorted()
    }

    /// Removes the samples of matching series in `interval` (all of them when it is nil);
    /// series left without samples go entirely. Returns how many series it touched.
    @discardableResult
    public func delete(_ matchers: [LabelMatcher], interval: DeletedInterval? = nil) -> Int {
        state.withLock { state in
            let refs = Self.matchingRefs(matchers, in: state)
            guard !refs.isEmpty else { return 0 }
            var emptied: [SeriesRef] = []
            for ref in refs {
                guard var series = state.series[ref] else { continue }
                let before = series.sampleCount
                if let interval, interval.minTime > series.minTime || interval.maxTime < series.lastTimestamp {
                    series.delete(interval)
                } else {
                    series.closedChunks = []
                    series.discardOpenChunk()
                    series.outOfOrderFloats = []
                    series.outOfOrderHistograms = []
                }
                state.samples -= before - series.sampleCount
                state.series[ref] = series
                if series.isEmpty { emptied.append(ref) }
            }
            removeSeries(emptied, from: &state)
            return refs.count
        }
    }

    /// Drops series from the head and its postings.
    func removeSeries(_ refs: [SeriesRef], from state: inout State) {
        guard !refs.isEmpty else { return }
        labelCache.removeAll()
        let removed = Set(refs)
        for ref in refs {
            guard let series = state.series.removeValue(forKey: ref) else { continue }
            state.refsByLabels[series.labels] = nil
            state.samples -= series.sampleCount
            for label in series.labels {
                state.postings[label.name]?[label.value]?.removeAll { removed.contains($0) }
                if state.postings[label.name]?[label.value]?.isEmpty == true { state.postings[label.name]![label.value] = nil }
                if state.postings[label.name]?.isEmpty == true { state.postings[label.name] = nil }
            }
        }
        state.allRefs.removeAll { removed.contains($0) }
    }

    // MARK: - Cutting blocks

    /// The end of the block the head should be cut into now, or nil: like Prometheus, once the
    /// head spans more than 1.5 block ranges, its oldest whole range goes to a block.
    public func cutBoundary() -> Int64? {
        state.withLock { state in
            guard state.minTime != .max, state.maxTime != .min,
                state.maxTime - state.minTime > chunkRange + chunkRange / 2
            else { return nil }
            return (HeadSeries.floorDiv(state.minTime, chunkRange) + 1) * chunkRange
        }
    }

    /// Takes every sample before `boundary` out of the head, as the series of a block (sorted by
    /// labels), and refuses in-order samples before it from now on. Series left empty go.
    public func cut(before boundary: Int64) -> [BlockSeries] {
        let result: [BlockSeries] = state.withLock { state in
            var moved: [BlockSeries] = []
            var emptied: [SeriesRef] = []
            var minTime = Int64.max
            var samples = 0
            for ref in state.allRefs {
                guard var series = state.series.removeValue(forKey: ref) else { continue }
                let chunks = series.cut(before: boundary)
                if !chunks.isEmpty { moved.append(BlockSeries(labels: series.labels, chunks: chunks)) }
                minTime = min(minTime, series.minTime)
                samples += series.sampleCount
                state.series[ref] = series
                if series.isEmpty && series.lastTimestamp < boundary { emptied.append(ref) }
            }
            state.samples = samples
            removeSeries(emptied, from: &state)
            state.samples = samples
            state.minTime = minTime
            if minTime == .max { state.maxTime = max(state.maxTime, boundary - 1) }
            state.minValidTime = max(state.minValidTime, boundary)
            return moved
        }
        return result.sorted { $0.labels < $1.labels }
    }

    public func statistics() -> HeadStatistics {
        state.withLock { state in
            var statistics = HeadStatistics()
            statistics.series = state.series.count
            statistics.chunks = state.series.values.reduce(0) { $0 + $1.chunkCount }
            statistics.samples = state.samples
            statistics.minTime = state.minTime
            statistics.maxTime = state.maxTime
            if let names = state.postings[Labels.metricNameLabel] {
                statistics.seriesCountByMetricName = names.map { (name: $0.key, count: $0.value.count) }
                    .sorted { $0.count != $1.count ? $0.count > $1.count : $0.name < $1.name }.prefix(10).map { $0 }
            }
            statistics.labelValueCountByLabelName = state.postings.map { (name: $0.key, count: $0.value.count) }
                .sorted { $0.count != $1.count ? $0.count > $1.count : $0.name < $1.name }.prefix(10).map { $0 }
            return statistics
        }
    }

    /// The labels with every name and value that the head already holds replaced by the stored
    /// string (the postings keys), so 100,000 series named `node_cpu_seconds_total` share one
    /// string instead of carrying one each.
    static func interned(_ labels: Labels, in state: State) -> Labels {
        var result: [Label] = []
        result.reserveCapacity(labels.count)
        for label in labels {
            guard let nameIndex = state.postings.index(forKey: label.name) else {
                result.append(label)
                continue
            }
            let (name, values) = state.postings[nameIndex]
            let value = values.index(forKey: label.value).map { values[$0].key } ?? label.value
            result.append(Label(name, value))
        }
        return Labels(presorted: result)
    }

    // MARK: - Postings

    static func matchingRefs(_ matchers: [LabelMatcher], in state: State) -> [SeriesRef] {
        // Matchers that cannot match the empty string narrow the set fastest; start with them.
        let ordered = matchers.sorted { !$0.matchesEmpty && $1.matchesEmpty }
        var result: [SeriesRef]?
        for matcher in ordered {
            let refs = refs(for: matcher, in: state)
            result = result.map { intersect($0, refs) } ?? refs
            if result?.isEmpty == true { return [] }
        }
        return result ?? []
    }

    static func refs(for matcher: LabelMatcher, in state: State) -> [SeriesRef] {
        let values = state.postings[matcher.name] ?? [:]
        if matcher.matchesEmpty {
            // Series without the label match too: all series minus those whose value fails.
            var excluded: [SeriesRef] = []
            for (value, refs) in values where !matcher.matches(value) { excluded = union(excluded, refs) }
            return subtract(state.allRefs, excluded)
        }
        if matcher.kind == .equal { return values[matcher.value] ?? [] }
        if let literals = matcher.literalAlternatives {
            return literals.reduce(into: [SeriesRef]()) { result, value in result = union(result, values[value] ?? []) }
        }
        var result: [SeriesRef] = []
        for (value, refs) in values where matcher.matches(value) { result = union(result, refs) }
        return result
    }

    static func intersect(_ left: [SeriesRef], _ right: [SeriesRef]) -> [SeriesRef] {
        var result: [SeriesRef] = []
        var i = 0
        var j = 0
        while i < left.count && j < right.count {
            if left[i] == right[j] {
                result.append(left[i])
                i += 1
                j += 1
            } else if left[i] < right[j] {
                i += 1
            } else {
                j += 1
            }
        }
        return result
    }

    static func union(_ left: [SeriesRef], _ right: [SeriesRef]) -> [SeriesRef] {
        if left.isEmpty { return right }
        if right.isEmpty { return left }
        var result: [SeriesRef] = []
        result.reserveCapacity(left.count + right.count)
        var i = 0
        var j = 0
        while i < left.count || j < right.count {
            if j == right.count || (i < left.count && left[i] < right[j]) {
                result.append(left[i])
                i += 1
            } else if i == left.count || right[j] < left[i] {
                result.append(right[j])
                j += 1
            } else {
                result.append(left[i])
                i += 1
                j += 1
            }
        }
        return result
    }

    static func subtract(_ left: [SeriesRef], _ right: [SeriesRef]) -> [SeriesRef] {
        if right.isEmpty { return left }
        var result: [SeriesRef] = []
        var j = 0
        for ref in left {
            while j < right.count && right[j] < ref { j += 1 }
            if j < right.count && right[j] == ref { continue }
            result.append(ref)
        }
        return result
    }
}

/// The head's series by ref. Refs are handed out densely from 1, so an array indexed by ref
/// replaces a hash table (no hashing, no load-factor slack per series).
struct SeriesTable: Sendable {
    private var slots: [HeadSeries?] = []
    private(set) var count = 0

    subscript(ref: SeriesRef) -> HeadSeries? {
        get { ref < UInt64(slots.count) ? slots[Int(ref)] : nil }
        set {
            let index = Int(ref)
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

    mutating func removeValue(forKey ref: SeriesRef) -> HeadSeries? {
        let value = self[ref]
        if value != nil { self[ref] = nil }
        return value
    }

    var values: some Sequence<HeadSeries> { slots.lazy.compactMap { $0 } }

    /// Read in place: `self[ref]` would copy the series (and retain each of its arrays) first.
    func samples(of ref: SeriesRef, minTime: Int64, maxTime: Int64) -> SeriesSamples? {
        ref < UInt64(slots.count) ? slots[Int(ref)]?.samples(minTime: minTime, maxTime: maxTime) : nil
    }

    func newestSample(of ref: SeriesRef, minTime: Int64, maxTime: Int64) -> SeriesSamples? {
        ref < UInt64(slots.count) ? slots[Int(ref)]?.newestSample(minTime: minTime, maxTime: maxTime) : nil
    }

    /// A series' label set, without copying the rest of the series out.
    func labels(of ref: SeriesRef) -> Labels? {
        ref < UInt64(slots.count) ? slots[Int(ref)]?.labels : nil
    }

    /// Appends a batch entry's samples to the series `ref` in place (no copy out and back, and
    /// no closure: variables a closure captures are checked for exclusivity at run time).
    mutating func append(_ series: UnsafePointer<TimeSeries>, to ref: SeriesRef, bounds: HeadSeries.Bounds, tally: inout HeadSeries.AppendTally) {
        guard ref < UInt64(slots.count), slots[Int(ref)] != nil else { return }
        slots[Int(ref)]!.append(series, bounds: bounds, tally: &tally)
    }

}
