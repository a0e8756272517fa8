import LoupeModel

/// A series identifier within one head: assigned in creation order, so postings lists
/// built by appending refs are sorted for free.
public typealias SeriesRef = UInt64

/// Why a sample was not appended.
public enum SampleRejection: String, Sendable, Hashable {
    /// Older than or equal to the series' newest sample, and outside the out-of-order window.
    case outOfOrder = "out_of_order"
    /// Older than the head's lower bound (data before it is already in blocks) and outside the
    /// out-of-order window.
    case outOfBounds = "out_of_bounds"
    /// Same timestamp as the newest sample but a different value.
    case duplicateTimestamp = "duplicate_timestamp"
    /// A histogram the chunk encoder refused (bucket counts not matching spans).
    case invalidHistogram = "invalid_histogram"
    /// The sample would have created a series beyond the tenant's active-series limit.
    case seriesLimit = "series_limit"
}

/// One series in the head: its closed chunks and the chunk being appended to.
struct HeadSeries: Sendable {
    /// A histogram chunk being appended to (kept in `Rare`: both appenders are three times the
    /// size of a float one).
    enum OpenHistogramChunk: Sendable {
        case integer(HistogramChunkAppender)
        case float(FloatHistogramChunkAppender)

        var chunk: Chunk {
            switch self {
            case .integer(let appender): Chunk(appender.chunk)
            case .float(let appender): Chunk(appender.chunk)
            }
        }

        var sampleCount: Int {
            switch self {
            case .integer(let appender): appender.sampleCount
            case .float(let appender): appender.sampleCount
            }
        }

        var minTime: Int64 {
            switch self {
            case .integer(let appender): appender.minTime
            case .float(let appender): appender.minTime
            }
        }

        var maxTime: Int64 {
            switch self {
            case .integer(let appender): appender.maxTime
            case .float(let appender): appender.maxTime
            }
        }
    }

    /// Prometheus cuts head chunks at 120 samples (30 min at a 15 s interval). Loupe cuts at 240:
    /// every chunk costs a heap array, its metadata, a full first timestamp and value, and on disk
    /// a CRC and index entry, so fewer chunks take less RAM per series and fewer bytes per sample;
    /// range queries read a series once for all their steps, so a longer chunk costs them nothing.
    static let samplesPerChunk = 240

    let labels: Labels
    var closedChunks: [Chunk] = []
    /// The float chunk being appended to, stored inline and mutated in place: appending through
    /// an enum payload would copy the appender out and back, a retain and release per sample.
    /// At most one of the float and histogram chunks is open at a time. Not optional, and open
    /// while it has samples (`XORChunkAppender.closed` holds no memory): reading through an
    /// optional copied the appender out first, a retain and release of its bytes per series read.
    var openFloats = XORChunkAppender.closed
    var lastTimestamp = Int64.min
    /// The newest sample's value when it is a float (`lastHistogram` is nil and `lastTimestamp`
    /// is set); a plain `Double` because an optional one would take 16 bytes.
    private var lastFloatValue: Double = 0
    var lastFloat: Double? { lastTimestamp != .min && rare?.lastHistogram == nil ? lastFloatValue : nil }
    /// What few series have, out of line (nil for the usual float series, which it saves 24
    /// of the bytes every series costs in the head's table).
    private var rare: Rare?

    /// Copy-on-write: only mutated through `uniqueRare()`, that is while this series holds the
    /// only reference, which is what makes the unchecked Sendable sound.
    final class Rare: @unchecked Sendable {
        var openHistograms: OpenHistogramChunk?
        var lastHistogram: NativeHistogram?
        var outOfOrderFloats: [FloatSample] = []
        var outOfOrderHistograms: [HistogramSample] = []

        init() {}

        func copy() -> Rare {
            let copy = Rare()
            copy.openHistograms = openHistograms
            copy.lastHistogram = lastHistogram
            copy.outOfOrderFloats = outOfOrderFloats
            copy.outOfOrderHistograms = outOfOrderHistograms
            return copy
        }
    }

    /// The box, made unique (copied if shared, created if absent) so that it may be mutated.
    private mutating func uniqueRare() -> Rare {
        if !isKnownUniquelyReferenced(&rare) { rare = rare?.copy() ?? Rare() }
        return rare!
    }

    var openHistograms: OpenHistogramChunk? {
        get { rare?.openHistograms }
        set { if newValue != nil || rare != nil { uniqueRare().openHistograms = newValue } }
    }

    var lastHistogram: NativeHistogram? { rare?.lastHistogram }

    /// Samples accepted within the out-of-order window, sorted by time; they join the chunks
    /// when the head is cut into a block.
    var outOfOrderFloats: [FloatSample] {
        get { rare?.outOfOrderFloats ?? [] }
        set { if !newValue.isEmpty || rare != nil { uniqueRare().outOfOrderFloats = newValue } }
    }

    var outOfOrderHistograms: [HistogramSample] {
        get { rare?.outOfOrderHistograms ?? [] }
        set { if !newValue.isEmpty || rare != nil { uniqueRare().outOfOrderHistograms = newValue } }
    }

    /// `labels.stableHash`, kept because sharded reads (`SeriesShard`) ask for it once per
    /// shard and series: a range query over every series hashed them a dozen times over.
    let shardHash: UInt64

    init(labels: Labels) {
        self.labels = labels
        shardHash = labels.stableHash
    }

    /// `body(self)`, for reading a series where it is stored (see `SeriesTable.read`); mutating
    /// only so that callers reach it through a modify access, which does not copy.
    mutating func applyInPlace<Result>(_ body: (HeadSeries) -> Result) -> Result { body(self) }

    /// Starts bringing in the open float chunk's bytes the next append writes. Mutating only to
    /// be called in place: a read access would copy the series, retaining each of its arrays.
    mutating func prefetchOpenChunk() { openFloats.prefetchNextAppend() }

    /// Whether `series` carries this series' label set (usually the very same storage, which the
    /// comparison sees first). Mutating only to be called in place.
    mutating func hasLabels(of series: UnsafePointer<TimeSeries>) -> Bool { labels == series.pointee.labels }

    private var hasOpenFloats: Bool { openFloats.sampleCount > 0 }
    private var openSampleCount: Int { openFloats.sampleCount + (openHistograms?.sampleCount ?? 0) }
    private var openMinTime: Int64? { hasOpenFloats ? openFloats.minTime : openHistograms?.minTime }
    private var openMaxTime: Int64? { hasOpenFloats ? openFloats.maxTime : openHistograms?.maxTime }
    var chunkCount: Int { closedChunks.count + (!hasOpenFloats && openHistograms == nil ? 0 : 1) }

    var sampleCount: Int {
        closedChunks.reduce(0) { $0 + $1.sampleCount } + openSampleCount + outOfOrderFloats.count + outOfOrderHistograms.count
    }

    var isEmpty: Bool {
        closedChunks.isEmpty && !hasOpenFloats && openHistograms == nil && outOfOrderFloats.isEmpty && outOfOrderHistograms.isEmpty
    }

    var minTime: Int64 {
        min(
            closedChunks.first?.minTime ?? openMinTime ?? .max,
            outOfOrderFloats.first?.timestamp ?? .max, outOfOrderHistograms.first?.timestamp ?? .max)
    }

    /// Where an append goes: the limits the head sets for this series.
    struct Bounds {
        /// Samples before this are in blocks; older ones can only enter out of order.
        var minValidTime: Int64 = .min
        /// The earliest out-of-order sample accepted (`Int64.max` when the window is 0).
        var outOfOrderMinTime: Int64 = .max
        /// Chunks are cut where `t / chunkRange` changes, so they never straddle a block boundary.
        var chunkRange: Int64 = .max
    }

    /// Files a sample that is not after the series' newest one (or is before `minValidTime`).
    private mutating func appendOutOfOrder<Sample: TimestampedSample>(
        _ sample: Sample, time: Int64, bounds: Bounds, list: WritableKeyPath<HeadSeries, [Sample]>,
        same: (Sample, Sample) -> Bool
    ) -> SampleRejection? {
        guard time >= bounds.outOfOrderMinTime else { return time < bounds.minValidTime ? .outOfBounds : .outOfOrder }
        let index = Self.insertionIndex(self[keyPath: list], time, \Sample.timestamp)
        if index < self[keyPath: list].count, self[keyPath: list][index].timestamp == time {
            return same(self[keyPath: list][index], sample) ? nil : .duplicateTimestamp
        }
        self[keyPath: list].insert(sample, at: index)
        return nil
    }

    static func insertionIndex<Sample>(_ list: [Sample], _ time: Int64, _ key: KeyPath<Sample, Int64>) -> Int {
        if let last = list.last, last[keyPath: key] < time { return list.count }
        var low = 0
        var high = list.count
        while low < high {
            let middle = (low + high) / 2
            if list[middle][keyPath: key] < time { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private func crossesChunkRange(_ timestamp: Int64, _ bounds: Bounds) -> Bool {
        guard bounds.chunkRange != .max, let start = openMinTime else { return false }
        return Self.floorDiv(start, bounds.chunkRange) != Self.floorDiv(timestamp, bounds.chunkRange)
    }

    static func floorDiv(_ value: Int64, _ divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }

    /// What appending one batch entry did.
    struct AppendTally {
        var minTime: Int64
        var maxTime: Int64
        var floats = 0
        var histograms = 0
        var rejected: [SampleRejection: Int] = [:]

        mutating func count(_ rejection: SampleRejection?, at time: Int64) -> Bool {
            if let rejection {
                rejected[rejection, default: 0] += 1
                return false
            }
            minTime = min(minTime, time)
            maxTime = max(maxTime, time)
            return true
        }
    }

    /// Through a pointer: a `TimeSeries` parameter, even `borrowing`, was copied whole (a retain per field).
    mutating func append(_ series: UnsafePointer<TimeSeries>, bounds: Bounds, tally: inout AppendTally) {
        if let sample = series.pointee.loneSample {
            if tally.count(append(sample.timestamp, sample.value, bounds: bounds), at: sample.timestamp) { tally.floats &+= 1 }
        } else {
            for sample in series.pointee.samples where tally.count(append(sample.timestamp, sample.value, bounds: bounds), at: sample.timestamp) {
                tally.floats &+= 1
            }
        }
        for sample in series.pointee.histograms where tally.count(append(sample.timestamp, sample.histogram, bounds: bounds), at: sample.timestamp) {
            tally.histograms &+= 1
        }
    }

    mutating func append(_ timestamp: Int64, _ value: Double, bounds: Bounds = Bounds()) -> SampleRejection? {
        if timestamp == lastTimestamp {
            if let lastFloat, lastFloat.bitPattern == value.bitPattern { return nil }
            return .duplicateTimestamp
        }
        if timestamp < lastTimestamp || timestamp < bounds.minValidTime {
            return appendOutOfOrder(
                FloatSample(timestamp: timestamp, value: value), time: timestamp, bounds: bounds, list: \.outOfOrderFloats,
                same: { $0.value.bitPattern == $1.value.bitPattern })
        }
        if crossesChunkRange(timestamp, bounds) { closeOpenChunk() }
        // An in-place access: no copy of the appender, no retain of its bytes.
        if hasOpenFloats, openFloats.sampleCount < Self.samplesPerChunk, case .appended = openFloats.append(timestamp, value) {
            record(timestamp, float: value)
            return nil
        }
        closeOpenChunk()
        var appender = XORChunkAppender()
        _ = appender.append(timestamp, value)
        openFloats = appender
        record(timestamp, float: value)
        return nil
    }

    mutating func append(_ timestamp: Int64, _ histogram: NativeHistogram, bounds: Bounds = Bounds()) -> SampleRejection? {
        if timestamp == lastTimestamp {
            return lastHistogram == histogram ? nil : .duplicateTimestamp
        }
        if timestamp < lastTimestamp || timestamp < bounds.minValidTime {
            return appendOutOfOrder(
                HistogramSample(timestamp: timestamp, histogram: histogram), time: timestamp, bounds: bounds,
                list: \.outOfOrderHistograms, same: { $0.histogram == $1.histogram })
        }
        if crossesChunkRange(timestamp, bounds) { closeOpenChunk() }
        let encoding = ChunkEncoding.histogramEncoding(for: histogram)
        var header = CounterResetHeader.unknown
        let result: ChunkAppendResult?
        // Histograms are rare enough that copying the appender out and back costs nothing worth saving.
        switch openHistograms {
        case .integer(var appender) where encoding == .histogram && appender.sampleCount < Self.samplesPerChunk:
            openHistograms = nil  // keep the appender uniquely referenced while it is mutated
            result = appender.append(timestamp, histogram)
            openHistograms = .integer(appender)
        case .float(var appender) where encoding == .floatHistogram && appender.sampleCount < Self.samplesPerChunk:
            openHistograms = nil
            result = appender.append(timestamp, histogram)
            openHistograms = .float(appender)
        default:
            result = nil
        }
        switch result {
        case .appended?, .appendedAfterRecoding?:
            record(timestamp, histogram: histogram)
            return nil
        case .invalid?: return .invalidHistogram
        case .newChunkNeeded(_, let needed)?: header = needed
        default: break
        }
        closeOpenChunk()
        let firstResult: ChunkAppendResult
        if encoding == .histogram {
            var appender = HistogramChunkAppender(header: header)
            firstResult = appender.append(timestamp, histogram)
            openHistograms = .integer(appender)
        } else {
            var appender = FloatHistogramChunkAppender(header: header)
            firstResult = appender.append(timestamp, histogram)
            openHistograms = .float(appender)
        }
        if case .invalid = firstResult {
            openHistograms = nil
            return .invalidHistogram
        }
        record(timestamp, histogram: histogram)
        return nil
    }

    private mutating func record(_ timestamp: Int64, float: Double) {
        lastTimestamp = timestamp
        lastFloatValue = float
        if rare?.lastHistogram != nil { uniqueRare().lastHistogram = nil }
    }

    private mutating func record(_ timestamp: Int64, histogram: NativeHistogram) {
        lastTimestamp = timestamp
        lastFloatValue = 0
        uniqueRare().lastHistogram = histogram
    }

    mutating func closeOpenChunk() {
        if hasOpenFloats {
            // A closed chunk is only read from now on: packed, it takes about a third of the XOR
            // bytes on exporter data, which is most of a series' RAM.
            closedChunks.append(Chunk(packing: openFloats.chunk))
        }
        if let open = openHistograms, open.sampleCount > 0 {
            closedChunks.append(open.chunk)
        }
        discardOpenChunk()
    }

    /// Drops the open chunk without keeping its samples.
    mutating func discardOpenChunk() {
        openFloats = .closed
        openHistograms = nil
    }

    /// The newest sample with `minTime <= t <= maxTime` (`SeriesSamples.newest`). When that is the
    /// series' last appended sample, still in the open chunk, it is answered without decoding.
    func newestSample(minTime: Int64, maxTime: Int64) -> SeriesSamples {
        if openSampleCount > 0, openMaxTime == lastTimestamp, minTime <= lastTimestamp, lastTimestamp <= maxTime {
            // Out-of-order samples are all older than the last appended one.
            if let lastFloat { return SeriesSamples(labels: labels, floats: [FloatSample(timestamp: lastTimestamp, value: lastFloat)]) }
            if let lastHistogram {
                return SeriesSamples(labels: labels, histograms: [HistogramSample(timestamp: lastTimestamp, histogram: lastHistogram)])
            }
        }
        return samples(minTime: minTime, maxTime: maxTime).newest
    }

    /// About how many of a chunk's `count` samples, spread over `first...last`, fall in `minTime...maxTime`.
    private static func estimatedSamples(_ count: Int, _ first: Int64, _ last: Int64, _ minTime: Int64, _ maxTime: Int64) -> Int {
        guard count > 0, first <= maxTime, minTime <= last else { return 0 }
        if minTime <= first && last <= maxTime { return count }
        let covered = Double(min(last, maxTime)) - Double(max(first, minTime))
        let span = Double(last) - Double(first)
        return span <= 0 ? count : min(count, Int(Double(count) * covered / span) + 2)
    }

    /// Every sample with `minTime <= t <= maxTime`, out-of-order ones merged in.
    func samples(minTime: Int64, maxTime: Int64) -> SeriesSamples {
        var result = SeriesSamples(labels: labels)
        if hasOpenFloats {
            // Grown once rather than doubling chunk after chunk. Chunks the range cuts count by
            // the share of their time span it covers: a 5-minute window of an instant query
            // reserving whole chunks for every series faulted in a hundred megabytes.
            var floats = Self.estimatedSamples(openFloats.sampleCount, openFloats.minTime, openFloats.maxTime, minTime, maxTime)
            for chunk in closedChunks where chunk.encoding != .histogram && chunk.encoding != .floatHistogram {
                floats += Self.estimatedSamples(chunk.sampleCount, chunk.minTime, chunk.maxTime, minTime, maxTime)
            }
            result.floats.reserveCapacity(floats)
        }
        ChunkEncoder.decode(closedChunks, minTime: minTime, maxTime: maxTime, into: &result)
        if hasOpenFloats {
            if openFloats.minTime <= maxTime && minTime <= openFloats.maxTime {
                var iterator = openFloats.makeIterator(from: minTime)
                ChunkEncoder.appendFloats(from: &iterator, minTime: minTime, maxTime: maxTime, into: &result.floats)
            }
        } else if let openHistograms {
            ChunkEncoder.decode([openHistograms.chunk], minTime: minTime, maxTime: maxTime, into: &result)
        }
        if !outOfOrderFloats.isEmpty || !outOfOrderHistograms.isEmpty {
            var late = SeriesSamples(labels: labels)
            late.floats = outOfOrderFloats.filter { minTime <= $0.timestamp && $0.timestamp <= maxTime }
            late.histograms = outOfOrderHistograms.filter { minTime <= $0.timestamp && $0.timestamp <= maxTime }
            // In-order samples win over out-of-order ones at the same timestamp.
            late.merge(result)
            result = late
        }
        return result
    }

    /// Takes every sample before `boundary` out of the series, as chunks for a block; what is
    /// left stays. Chunks wholly before the boundary move as they are; a chunk straddling it, or
    /// out-of-order samples before it, are re-encoded.
    mutating func cut(before boundary: Int64) -> [Chunk] {
        closeOpenChunk()
        var moving: [Chunk] = []
        var staying: [Chunk] = []
        var straddling: [Chunk] = []
        for chunk in closedChunks {
            if chunk.maxTime < boundary {
                moving.append(chunk)
            } else if chunk.minTime >= boundary {
                staying.append(chunk)
            } else {
                straddling.append(chunk)
            }
        }
        let lateFloats = outOfOrderFloats.prefix { $0.timestamp < boundary }
        let lateHistograms = outOfOrderHistograms.prefix { $0.timestamp < boundary }
        outOfOrderFloats.removeFirst(lateFloats.count)
        outOfOrderHistograms.removeFirst(lateHistograms.count)

        if !straddling.isEmpty {
            var all = SeriesSamples(labels: labels)
            ChunkEncoder.decode(straddling, into: &all)
            let earlyFloats = all.floats.prefix { $0.timestamp < boundary }
            let earlyHistograms = all.histograms.prefix { $0.timestamp < boundary }
            moving += ChunkEncoder.encode(floats: Array(earlyFloats), histograms: Array(earlyHistograms))
            staying = ChunkEncoder.encode(
                floats: Array(all.floats.dropFirst(earlyFloats.count)), histograms: Array(all.histograms.dropFirst(earlyHistograms.count)))
                + staying
        }
        if !lateFloats.isEmpty || !lateHistograms.isEmpty {
            var merged = SeriesSamples(labels: labels, floats: Array(lateFloats), histograms: Array(lateHistograms))
            var inOrder = SeriesSamples(labels: labels)
            ChunkEncoder.decode(moving, into: &inOrder)
            merged.merge(inOrder)
            moving = ChunkEncoder.encode(floats: merged.floats, histograms: merged.histograms)
        }
        closedChunks = staying
        return moving
    }

    /// Removes the samples in `interval` (re-encoding the chunks that had any).
    mutating func delete(_ interval: DeletedInterval) {
        var all = samples(minTime: .min, maxTime: .max)
        all.remove([interval])
        closedChunks = ChunkEncoder.encode(floats: all.floats, histograms: all.histograms)
        discardOpenChunk()
        outOfOrderFloats = []
        outOfOrderHistograms = []
    }
}

/// A sample with a timestamp, so out-of-order lists of floats and histograms share one code path.
protocol TimestampedSample { var timestamp: Int64 { get } }
extension FloatSample: TimestampedSample {}
extension HistogramSample: TimestampedSample {}
