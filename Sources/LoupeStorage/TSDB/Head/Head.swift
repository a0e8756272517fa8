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
    /// The index and the head's totals; the series themselves are in `series`, in stripes with
    /// locks of their own (taken after this one, never before).
    struct State: Sendable {
        /// Series in the head (the stripes hold them).
        var seriesCount = 0
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
    /// Taken before `state`, never after it.
    private let labelOrder = Mutex<LabelOrder?>(nil)
    let series = SeriesStripes()
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

    /// How many series ahead of its append a hinted series' slot, and then its open chunk, are
    /// prefetched (the chunk's address is read from the slot, so the slot comes first).
    static let seriesPrefetchDistance = 8
    static let chunkPrefetchDistance = 4

    /// Appends every sample of every series; creates series as needed.
    ///
    /// Series the label cache already named are appended to under their stripe's lock only, one
    /// stripe at a time, so concurrent requests proceed in parallel; the others are looked up or
    /// created under the index lock first.
    public func append(_ batch: [TimeSeries]) -> HeadAppendResult {
        var result = HeadAppendResult()
        var bounds = HeadSeries.Bounds(chunkRange: chunkRange)
        state.withLock { state in
            bounds.minValidTime = state.minValidTime
            if outOfOrderWindow > 0 {
                bounds.outOfOrderMinTime = state.maxTime == .min ? .min : state.maxTime - outOfOrderWindow
            }
        }
        var tally = HeadSeries.AppendTally(minTime: .max, maxTime: .min)
        // Read in place: copying each `TimeSeries` out of the array costs a retain and release per field.
        batch.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            var hinted = [[Int]](repeating: [], count: SeriesStripes.stripeCount)
            var unresolved: [Int] = []
            for position in buffer.indices where !buffer[position].labels.isEmpty {
                if let hint = buffer[position].seriesRefHint {
                    hinted[SeriesStripes.stripe(of: hint)].append(position)
                } else {
                    unresolved.append(position)
                }
            }
            // Hinted series: confirm the hint (the decoder's label cache handed out this very
            // label set) and append, under the stripe's lock alone.
            series.forEachStripe(hinted.indices.filter { !hinted[$0].isEmpty }) { stripe, table in
                let positions = hinted[stripe]
                for (step, position) in positions.enumerated() {
                    // The series and then its open chunk are asked for ahead of their append:
                    // each is usually a cache miss, and waiting for them in turn was a third of
                    // the append's time.
                    if step &+ Self.seriesPrefetchDistance < positions.count {
                        table.prefetchSeries(SeriesStripes.slot(of: (base + positions[step &+ Self.seriesPrefetchDistance]).pointee.seriesRefHint!))
                    }
                    if step &+ Self.chunkPrefetchDistance < positions.count {
                        table.prefetchOpenChunk(SeriesStripes.slot(of: (base + positions[step &+ Self.chunkPrefetchDistance]).pointee.seriesRefHint!))
                    }
                    let entry = base + position
                    let slot = SeriesStripes.slot(of: entry.pointee.seriesRefHint!)
                    guard table.append(entry, to: slot, ifLabelsMatch: true, bounds: bounds, tally: &tally) else {
                        unresolved.append(position)
                        continue
                    }
                }
            }
            // The others: find or create their series under the index lock, then append. A series
            // removed in between (an admin delete) is looked up, and so created, again.
            while !unresolved.isEmpty {
                var resolved = [[(position: Int, ref: SeriesRef)]](repeating: [], count: SeriesStripes.stripeCount)
                state.withLock { state in
                    for position in unresolved {
                        let entry = base + position
                        let ref: SeriesRef
                        if let existing = state.refsByLabels[entry.pointee.labels] {
                            ref = existing
                        } else if state.seriesCount >= maximumSeries {
                            result.rejected[.seriesLimit, default: 0] += entry.pointee.sampleCount + entry.pointee.histograms.count
                            continue
                        } else {
                            ref = state.nextRef
                            state.nextRef += 1
                            let labels = Self.interned(entry.pointee.labels, in: state)
                            state.refsByLabels[labels] = ref
                            series.withSeriesTable(of: ref) { $0[SeriesStripes.slot(of: ref)] = HeadSeries(labels: labels) }
                            state.seriesCount += 1
                            state.allRefs.append(ref)
                            for label in labels { state.postings[label.name, default: [:]][label.value, default: []].append(ref) }
                            result.seriesCreated += 1
                        }
                        resolved[SeriesStripes.stripe(of: ref)].append((position, ref))
                    }
                }
                unresolved = []
                series.forEachStripe(resolved.indices.filter { !resolved[$0].isEmpty }) { stripe, table in
                    for (position, ref) in resolved[stripe] {
                        let entry = base + position
                        let slot = SeriesStripes.slot(of: ref)
                        guard let labels = table.labels(of: slot) else {
                            unresolved.append(position)
                            continue
                        }
                        if let rawLabelsHash = entry.pointee.rawLabelsHash {
                            labelCache.remember(labels, seriesRef: ref, for: rawLabelsHash)
                        }
                        table.append(entry, to: slot, bounds: bounds, tally: &tally)
                    }
                }
            }
        }
        result.floatsAppended = tally.floats
        result.histogramsAppended = tally.histograms
        for (rejection, count) in tally.rejected { result.rejected[rejection, default: 0] += count }
        state.withLock { state in
            state.samples += result.samplesAppended
            state.minTime = min(state.minTime, tally.minTime)
            state.maxTime = max(state.maxTime, tally.maxTime)
        }
        return result
    }

    public func select(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64, shard: SeriesShard = .all) -> [SeriesSamples] {
        let refs = state.withLock { Self.matchingRefs(matchers, in: $0) }
        let result: [(ref: SeriesRef, samples: SeriesSamples)] = series.compactMap(refs) { ref, series in
            if !shard.contains(stableHash: series.shardHash) { return nil }
            let samples = series.samples(minTime: minTime, maxTime: maxTime)
            return samples.floats.isEmpty && samples.histograms.isEmpty ? nil : (ref, samples)
        }
        return currentLabelOrder().sorted(result)
    }

    /// `select`, with each series' newest sample in the range only (see `HeadSeries.newestSample`).
    public func selectNewest(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) -> [SeriesSamples] {
        let refs = state.withLock { Self.matchingRefs(matchers, in: $0) }
        let result: [(ref: SeriesRef, samples: SeriesSamples)] = series.compactMap(refs) { ref, series in
            let newest = series.newestSample(minTime: minTime, maxTime: maxTime)
            return newest.floats.isEmpty && newest.histograms.isEmpty ? nil : (ref, newest)
        }
        return currentLabelOrder().sorted(result)
    }

    /// The head's series ranked in label order (see `LabelOrder`), worked out again first when
    /// stale. Queries that arrive meanwhile wait for it rather than rank the series again.
    func currentLabelOrder() -> LabelOrder {
        labelOrder.withLock { order in
            let nextRef = state.withLock { $0.nextRef }
            if let current = order, !current.isStale(nextRef: nextRef) { return current }
            let (all, upTo) = state.withLock { state in
                (state.refsByLabels.map { (ref: $0.value, labels: $0.key) }, state.nextRef)
            }
            let made = LabelOrder(series: all, nextRef: upTo)
            order = made
            return made
        }
    }

    /// Sorts positions rather than the series themselves: moving a `SeriesSamples` retains and
    /// releases its labels and sample arrays, which cost more than the comparisons (instant
    /// queries over a few hundred series spent a quarter of their time here). The comparisons
    /// read a flat copy of every name and value: comparing `Labels` copied label sets and
    /// strings in and out of the closures (a fifth of an instant `sum by (rate)` over 1,200
    /// series). A selection already in order is returned as it is.
    static func sortedByLabels(_ series: [SeriesSamples]) -> [SeriesSamples] {
        if series.count < 2 { return series }
        guard let order = labelSortPermutation(count: series.count, { series[$0].labels }) else { return series }
        return order.map { series[$0] }
    }

    /// The positions `0..<count` in the order of their label sets, or nil when already in order.
    static func labelSortPermutation(count seriesCount: Int, _ labelsAt: (Int) -> Labels) -> [Int]? {
        if seriesCount < 2 { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(seriesCount &* 96)
        // Each label adds its name's and its value's byte ranges; series i owns the ranges
        // firstField[i]..<firstField[i + 1].
        var fieldStart: [Int] = []
        var fieldCount: [Int] = []
        var firstField: [Int] = [0]
        firstField.reserveCapacity(seriesCount &+ 1)
        func add(_ text: String) {
            fieldStart.append(bytes.count)
            bytes.append(contentsOf: text.utf8)
            fieldCount.append(text.utf8.count)
        }
        for index in 0..<seriesCount {
            for label in labelsAt(index).storage {
                add(label.name)
                add(label.value)
            }
            firstField.append(fieldStart.count)
        }
        return bytes.withUnsafeBytes { raw in
            fieldStart.withUnsafeBufferPointer { start in
                fieldCount.withUnsafeBufferPointer { count in
                    firstField.withUnsafeBufferPointer { first in
                        // Label by label, each name and value byte-wise (as `Labels.<`).
                        func less(_ left: Int, _ right: Int) -> Bool {
                            var leftField = first[left]
                            var rightField = first[right]
                            let leftEnd = first[left &+ 1]
                            let rightEnd = first[right &+ 1]
                            while leftField < leftEnd && rightField < rightEnd {
                                let order = Labels.compareBytes(
                                    UnsafeRawBufferPointer(rebasing: raw[start[leftField]..<(start[leftField] &+ count[leftField])]),
                                    UnsafeRawBufferPointer(rebasing: raw[start[rightField]..<(start[rightField] &+ count[rightField])]))
                                if order != 0 { return order < 0 }
                                leftField &+= 1
                                rightField &+= 1
                            }
                            return leftEnd &- first[left] < rightEnd &- first[right]
                        }
                        var index = 1
                        while index < seriesCount && !less(index, index &- 1) { index &+= 1 }
                        if index == seriesCount { return nil }
                        return (0..<seriesCount).sorted(by: less)
                    }
                }
            }
        }
    }

    /// Label sets of the series matching every matcher (all series when there are none)
    /// that have samples in the range.
    public func series(_ matchers: [LabelMatcher], minTime: Int64 = .min, maxTime: Int64 = .max) -> [Labels] {
        let refs = state.withLock { state in matchers.isEmpty ? state.allRefs : Self.matchingRefs(matchers, in: state) }
        return series.compactMap(refs) { _, series -> Labels? in
            if minTime == .min && maxTime == .max { return series.labels }
            let samples = series.samples(minTime: minTime, maxTime: maxTime)
            return samples.floats.isEmpty && samples.histograms.isEmpty ? nil : series.labels
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
                series.withSeriesTable(of: ref) { table in
                    let slot = SeriesStripes.slot(of: ref)
                    guard var series = table.removeValue(forSlot: slot) else { return }
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
                    if series.isEmpty { emptied.append(ref) }
                    table[slot] = series
                }
            }
            removeSeries(emptied, from: &state)
            return refs.count
        }
    }

    /// Drops series from the head and its postings: those still empty (an append may have
    /// reached one since it was emptied; it stays).
    func removeSeries(_ refs: [SeriesRef], from state: inout State) {
        guard !refs.isEmpty else { return }
        labelCache.removeAll()
        var removed: [(ref: SeriesRef, series: HeadSeries)] = []
        for ref in refs {
            let taken: HeadSeries? = series.withSeriesTable(of: ref) { table in
                let slot = SeriesStripes.slot(of: ref)
                guard table.read(slot, { $0.isEmpty ? true : nil }) == true else { return nil }
                return table.removeValue(forSlot: slot)
            }
            if let taken { removed.append((ref, taken)) }
        }
        guard !removed.isEmpty else { return }
        let removedRefs = Set(removed.map(\.ref))
        for (_, series) in removed {
            state.seriesCount -= 1
            state.refsByLabels[series.labels] = nil
            state.samples -= series.sampleCount
            for label in series.labels {
                state.postings[label.name]?[label.value]?.removeAll { removedRefs.contains($0) }
                if state.postings[label.name]?[label.value]?.isEmpty == true { state.postings[label.name]![label.value] = nil }
                if state.postings[label.name]?.isEmpty == true { state.postings[label.name] = nil }
            }
        }
        state.allRefs.removeAll { removedRefs.contains($0) }
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
            for (stripe, refs) in SeriesStripes.grouped(state.allRefs).enumerated() where !refs.isEmpty {
                series.withStripe(stripe) { table in
                    for ref in refs {
                        let slot = SeriesStripes.slot(of: ref)
                        guard var series = table.removeValue(forSlot: slot) else { continue }
                        let chunks = series.cut(before: boundary)
                        if !chunks.isEmpty { moved.append(BlockSeries(labels: series.labels, chunks: chunks)) }
                        minTime = min(minTime, series.minTime)
                        samples += series.sampleCount
                        if series.isEmpty && series.lastTimestamp < boundary { emptied.append(ref) }
                        table[slot] = series
                    }
                }
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
            statistics.series = state.seriesCount
            statistics.chunks = series.chunkCount
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
