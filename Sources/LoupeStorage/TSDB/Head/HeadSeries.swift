import LoupeModel

/// A series identifier within one head: assigned in creation order, so postings lists
/// built by appending refs are sorted for free.
public typealias SeriesRef = UInt64

/// Why a sample was not appended.
public enum SampleRejection: String, Sendable, Hashable {
    /// Older than or equal to the series' newest sample (out-of-order ingestion comes later).
    case outOfOrder = "out_of_order"
    /// Same timestamp as the newest sample but a different value.
    case duplicateTimestamp = "duplicate_timestamp"
    /// A histogram the chunk encoder refused (bucket counts not matching spans).
    case invalidHistogram = "invalid_histogram"
    /// The sample would have created a series beyond the tenant's active-series limit.
    case seriesLimit = "series_limit"
}

/// One series in the head: its closed chunks and the chunk being appended to.
struct HeadSeries: Sendable {
    enum OpenChunk: Sendable {
        case xor(XORChunkAppender)
        case histogram(HistogramChunkAppender)
        case floatHistogram(FloatHistogramChunkAppender)

        var chunk: Chunk {
            switch self {
            case .xor(let appender): Chunk(appender.chunk)
            case .histogram(let appender): Chunk(appender.chunk)
            case .floatHistogram(let appender): Chunk(appender.chunk)
            }
        }

        var sampleCount: Int {
            switch self {
            case .xor(let appender): appender.sampleCount
            case .histogram(let appender): appender.chunk.sampleCount
            case .floatHistogram(let appender): appender.chunk.sampleCount
            }
        }
    }

    /// Prometheus cuts head chunks at 120 samples: about 2 h at a 1-minute interval, and
    /// the size at which XOR compression has paid off.
    static let samplesPerChunk = 120

    let labels: Labels
    var closedChunks: [Chunk] = []
    var open: OpenChunk?
    var lastTimestamp = Int64.min
    var lastFloat: Double?
    var lastHistogram: NativeHistogram?

    init(labels: Labels) { self.labels = labels }

    var chunkCount: Int { closedChunks.count + (open == nil ? 0 : 1) }

    var minTime: Int64 { closedChunks.first?.minTime ?? open?.chunk.minTime ?? .max }

    mutating func append(_ timestamp: Int64, _ value: Double) -> SampleRejection? {
        if timestamp <= lastTimestamp {
            if timestamp == lastTimestamp, let lastFloat, lastFloat.bitPattern == value.bitPattern { return nil }
            return timestamp == lastTimestamp ? .duplicateTimestamp : .outOfOrder
        }
        if case .xor(var appender) = open, appender.sampleCount < Self.samplesPerChunk {
            open = nil  // keep the appender uniquely referenced while it is mutated
            let result = appender.append(timestamp, value)
            open = .xor(appender)
            if case .appended = result {
                record(timestamp, float: value)
                return nil
            }
        }
        closeOpenChunk()
        var appender = XORChunkAppender()
        _ = appender.append(timestamp, value)
        open = .xor(appender)
        record(timestamp, float: value)
        return nil
    }

    mutating func append(_ timestamp: Int64, _ histogram: NativeHistogram) -> SampleRejection? {
        if timestamp <= lastTimestamp {
            if timestamp == lastTimestamp, lastHistogram == histogram { return nil }
            return timestamp == lastTimestamp ? .duplicateTimestamp : .outOfOrder
        }
        let encoding = ChunkEncoding.histogramEncoding(for: histogram)
        var header = CounterResetHeader.unknown
        switch open {
        case .histogram(var appender) where encoding == .histogram && appender.chunk.sampleCount < Self.samplesPerChunk:
            open = nil
            let result = appender.append(timestamp, histogram)
            open = .histogram(appender)
            switch result {
            case .appended, .appendedAfterRecoding:
                record(timestamp, histogram: histogram)
                return nil
            case .invalid: return .invalidHistogram
            case .newChunkNeeded(_, let needed): header = needed
            default: break
            }
        case .floatHistogram(var appender) where encoding == .floatHistogram && appender.chunk.sampleCount < Self.samplesPerChunk:
            open = nil
            let result = appender.append(timestamp, histogram)
            open = .floatHistogram(appender)
            switch result {
            case .appended, .appendedAfterRecoding:
                record(timestamp, histogram: histogram)
                return nil
            case .invalid: return .invalidHistogram
            case .newChunkNeeded(_, let needed): header = needed
            default: break
            }
        default:
            break
        }
        closeOpenChunk()
        let result: ChunkAppendResult
        if encoding == .histogram {
            var appender = HistogramChunkAppender(header: header)
            result = appender.append(timestamp, histogram)
            open = .histogram(appender)
        } else {
            var appender = FloatHistogramChunkAppender(header: header)
            result = appender.append(timestamp, histogram)
            open = .floatHistogram(appender)
        }
        if case .invalid = result {
            open = nil
            return .invalidHistogram
        }
        record(timestamp, histogram: histogram)
        return nil
    }

    private mutating func record(_ timestamp: Int64, float: Double? = nil, histogram: NativeHistogram? = nil) {
        lastTimestamp = timestamp
        lastFloat = float
        lastHistogram = histogram
    }

    mutating func closeOpenChunk() {
        if let open, open.sampleCount > 0 { closedChunks.append(open.chunk) }
        open = nil
    }

    /// Every sample with `minTime <= t <= maxTime`.
    func samples(minTime: Int64, maxTime: Int64) -> SeriesSamples {
        var result = SeriesSamples(labels: labels)
        func collect(_ chunk: Chunk) {
            guard chunk.overlaps(minTime: minTime, maxTime: maxTime) else { return }
            var iterator = chunk.makeIterator()
            var sample = iterator.seek(to: minTime)
            while let current = sample, current.timestamp <= maxTime {
                switch current {
                case .float(let float): result.floats.append(float)
                case .histogram(let histogram): result.histograms.append(histogram)
                }
                sample = iterator.next()
            }
        }
        for chunk in closedChunks { collect(chunk) }
        if let open { collect(open.chunk) }
        return result
    }
}
