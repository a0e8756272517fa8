import LoupeModel

/// A chunk of float native histograms, byte for byte the Prometheus `floathistogram` encoding: the
/// same header and layout as `HistogramChunk`, then
///
/// ```
/// sample 0: t <varbit_int> | count, zero_count, sum, every bucket <64 bits raw>
/// sample n: t dod <varbit_int> | count, zero_count, sum, every bucket <varbit_xor>, each field with its own XOR window
/// ```
///
/// Holds every histogram `ChunkEncoding.histogramEncoding(for:)` sends here (non-integer counts, or
/// `isIntegerCounts == false`); values keep their exact bit patterns and read back with
/// `isIntegerCounts == false`. See `HistogramChunk` for what is derived rather than stored.
public struct FloatHistogramChunk: Sendable, Hashable, Sequence {
    public static let maxSampleCount = Int(UInt16.max)

    public let bytes: [UInt8]
    public let sampleCount: Int
    /// Timestamp of the first sample; `Int64.max` when the chunk is empty.
    public let minTime: Int64
    /// Timestamp of the last sample; `Int64.min` when the chunk is empty.
    public let maxTime: Int64

    /// Validates the bytes completely (see `HistogramChunk.init(bytes:)`).
    public init(bytes: [UInt8]) throws(ChunkError) {
        let (count, minTime, maxTime) = try HistogramRules.validateHistogramChunk(bytes, decoder: FloatHistogramDecoder(bytes))
        self.init(unchecked: bytes, sampleCount: count, minTime: minTime, maxTime: maxTime)
    }

    init(unchecked bytes: [UInt8], sampleCount: Int, minTime: Int64, maxTime: Int64) {
        self.bytes = bytes
        self.sampleCount = sampleCount
        self.minTime = minTime
        self.maxTime = maxTime
    }

    public var counterResetHeader: CounterResetHeader { CounterResetHeader(flags: bytes[2]) }

    public func makeIterator() -> FloatHistogramChunkIterator { FloatHistogramChunkIterator(bytes) }

    public var underestimatedCount: Int { sampleCount }

    public var samples: [HistogramSample] { Array(self) }
}

struct FloatHistogramDecoder: HistogramDecoder, Sendable {
    var reader: BitReader
    let total: Int
    let header: CounterResetHeader
    var read = 0
    var layout = HistogramLayout()
    var t: Int64 = 0
    var tDelta: Int64 = 0
    var count = XORState()
    var zeroCount = XORState()
    var sum = XORState()
    var positive: [XORState] = []
    var negative: [XORState] = []

    init(_ bytes: [UInt8]) {
        total = bytes.count >= HistogramRules.headerSize ? Int(bytes[0]) << 8 | Int(bytes[1]) : 0
        header = bytes.count >= HistogramRules.headerSize ? CounterResetHeader(flags: bytes[2]) : .unknown
        reader = BitReader(bytes, byteOffset: HistogramRules.headerSize)
    }

    var isStale: Bool { sum.bits == StaleMarker.bitPattern }

    mutating func advance() throws(ChunkError) -> Bool {
        if read == total { return false }
        if read == 0 {
            layout = try HistogramLayout.read(from: &reader)
            t = try reader.readVarbitInt()
            count.bits = try reader.readBits(64)
            zeroCount.bits = try reader.readBits(64)
            sum.bits = try reader.readBits(64)
            positive = try readRaw(layout.positiveBucketCount)
            negative = try readRaw(layout.negativeBucketCount)
        } else {
            tDelta &+= try reader.readVarbitInt()
            t &+= tDelta
            try count.read(from: &reader)
            try zeroCount.read(from: &reader)
            try sum.read(from: &reader)
            if !isStale {
                for index in positive.indices { try positive[index].read(from: &reader) }
                for index in negative.indices { try negative[index].read(from: &reader) }
            }
        }
        read &+= 1
        return true
    }

    private mutating func readRaw(_ count: Int) throws(ChunkError) -> [XORState] {
        guard count * 64 <= reader.remainingBits else {
            throw ChunkError(
                .truncated, "\(count) raw buckets need \(count * 64) bits, \(reader.remainingBits) left", bitOffset: reader.bitPosition)
        }
        var values: [XORState] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(XORState(bits: try reader.readBits(64))) }
        return values
    }

    var counts: HistogramCounts<Double> {
        HistogramCounts(
            count: Double(bitPattern: count.bits), zeroCount: Double(bitPattern: zeroCount.bits),
            positive: positive.map { Double(bitPattern: $0.bits) }, negative: negative.map { Double(bitPattern: $0.bits) })
    }

    func histogram() -> NativeHistogram {
        let sumValue = Double(bitPattern: sum.bits)
        if isStale { return NativeHistogram(sum: sumValue, isIntegerCounts: false) }
        return NativeHistogram(
            counterResetHint: HistogramRules.decodedHint(header: header, index: read - 1), schema: layout.schema,
            zeroThreshold: layout.zeroThreshold, zeroCount: Double(bitPattern: zeroCount.bits),
            count: Double(bitPattern: count.bits), sum: sumValue,
            positiveSpans: layout.positiveSpans, positiveBuckets: positive.map { Double(bitPattern: $0.bits) },
            negativeSpans: layout.negativeSpans, negativeBuckets: negative.map { Double(bitPattern: $0.bits) },
            customValues: layout.customValues, isIntegerCounts: false)
    }
}

/// Iterates a `FloatHistogramChunk`, with Prometheus `Seek` semantics for `seek(to:)`.
public struct FloatHistogramChunkIterator: IteratorProtocol, Sendable {
    var decoder: FloatHistogramDecoder
    /// The sample last returned; nil before the first and after the last.
    public private(set) var current: HistogramSample?
    /// Set when the bytes turned out to be damaged (never for a validated chunk).
    public private(set) var error: ChunkError?

    /// Iterates bytes that have not been validated; damage ends the iteration and sets `error`.
    public init(_ bytes: [UInt8]) {
        decoder = FloatHistogramDecoder(bytes)
        if bytes.count < HistogramRules.headerSize { error = ChunkError(.truncated, "no 3-byte histogram chunk header", bitOffset: 0) }
    }

    public mutating func next() -> HistogramSample? {
        advance() ? materialize() : nil
    }

    /// The first sample at or after `t` (the current one if it qualifies); skipped samples are not materialized.
    public mutating func seek(to t: Int64) -> HistogramSample? {
        if let current, current.timestamp >= t { return current }
        while advance() {
            if decoder.t >= t { return materialize() }
        }
        return nil
    }

    private mutating func advance() -> Bool {
        do {
            if error == nil, try decoder.advance() { return true }
        } catch {
            self.error = error
        }
        current = nil
        return false
    }

    private mutating func materialize() -> HistogramSample {
        let sample = HistogramSample(timestamp: decoder.t, histogram: decoder.histogram())
        current = sample
        return sample
    }
}

/// Appends float histograms to a new (or resumed) float histogram chunk, with the same rules as
/// `HistogramChunkAppender`.
public struct FloatHistogramChunkAppender: Sendable {
    var writer: BitWriter
    public private(set) var counterResetHeader: CounterResetHeader
    public private(set) var sampleCount = 0
    /// Timestamp of the first sample; `Int64.max` while empty.
    public private(set) var minTime = Int64.max
    /// Timestamp of the last sample; `Int64.min` while empty.
    public private(set) var maxTime = Int64.min
    var layout = HistogramLayout()
    var tDelta: Int64 = 0
    var last = HistogramCounts<Double>(count: 0, zeroCount: 0, positive: [], negative: [])
    var count = XORState.appending(0)
    var zeroCount = XORState.appending(0)
    var sum = XORState.appending(0)
    var positive: [XORState] = []
    var negative: [XORState] = []
    var lastStale = false

    /// A new chunk; see `HistogramChunkAppender.init(header:)`.
    public init(header: CounterResetHeader = .unknown) {
        writer = BitWriter(reservingBytes: 512)
        writer.write(0, bitCount: 24)
        counterResetHeader = header
    }

    /// Continues appending to an existing chunk, by re-encoding its samples.
    public init(resuming chunk: FloatHistogramChunk) throws(ChunkError) {
        self.init(header: chunk.counterResetHeader)
        for sample in chunk {
            switch append(sample.timestamp, sample.histogram) {
            case .appended, .appendedAfterRecoding: continue
            case let other: throw ChunkError(.malformed, "chunk cannot be resumed: sample at \(sample.timestamp) gives \(other)")
            }
        }
    }

    public var byteCount: Int { writer.byteCount }

    /// The chunk as it stands (a copy of the bytes with sample count and header filled in).
    public var chunk: FloatHistogramChunk {
        var bytes = writer.bytes
        bytes[0] = UInt8(truncatingIfNeeded: sampleCount >> 8)
        bytes[1] = UInt8(truncatingIfNeeded: sampleCount)
        bytes[2] = counterResetHeader.rawValue
        return FloatHistogramChunk(unchecked: bytes, sampleCount: sampleCount, minTime: minTime, maxTime: maxTime)
    }

    public mutating func append(_ sample: HistogramSample) -> ChunkAppendResult {
        append(sample.timestamp, sample.histogram)
    }

    public mutating func append(_ t: Int64, _ histogram: NativeHistogram) -> ChunkAppendResult {
        if sampleCount > 0 && t <= maxTime { return .outOfOrder }
        if sampleCount >= FloatHistogramChunk.maxSampleCount { return .full }
        if StaleMarker.isStale(histogram.sum) {
            if sampleCount == 0 { layout = .empty }
            encode(t, nil, sum: histogram.sum)
            return .appended
        }
        if let problem = HistogramRules.validationProblem(histogram) { return .invalid(problem) }
        if IntegerCounts(histogram) != nil {
            return .newChunkNeeded(.encodingChanged, header: histogram.counterResetHint == .gauge ? .gauge : .unknown)
        }
        let counts = HistogramCounts(
            count: histogram.count, zeroCount: histogram.zeroCount, positive: histogram.positiveBuckets,
            negative: histogram.negativeBuckets)
        if sampleCount == 0 {
            counterResetHeader = HistogramRules.firstSampleHeader(counterResetHeader, histogram.counterResetHint)
            layout = HistogramLayout(of: histogram)
            encode(t, counts, sum: histogram.sum)
            return .appended
        }
        switch HistogramRules.planAppend(
            layout: layout, header: counterResetHeader, lastStale: lastStale, last: last, histogram: histogram, counts: counts)
        {
        case .reject(let result):
            return result
        case .append(let placed, nil):
            encode(t, placed, sum: histogram.sum)
            return .appended
        case .append(let placed, let recode?):
            self.recode(recode)
            encode(t, placed, sum: histogram.sum)
            return .appendedAfterRecoding
        }
    }

    /// See `HistogramChunkAppender.headerForNewChunk(startingWith:)`.
    public func headerForNewChunk(startingWith histogram: NativeHistogram) -> CounterResetHeader {
        let counts =
            HistogramRules.validationProblem(histogram) == nil
            ? HistogramCounts(
                count: histogram.count, zeroCount: histogram.zeroCount, positive: histogram.positiveBuckets,
                negative: histogram.negativeBuckets) : nil
        return HistogramRules.headerForNextChunk(
            layout: layout, header: counterResetHeader, sampleCount: sampleCount, lastStale: lastStale, last: last,
            histogram: histogram, counts: counts)
    }

    private mutating func encode(_ t: Int64, _ counts: HistogramCounts<Double>?, sum sumValue: Double) {
        // A stale marker carries zero counts and no buckets, as in Prometheus.
        let values = counts ?? HistogramCounts(count: 0, zeroCount: 0, positive: [], negative: [])
        if sampleCount == 0 {
            layout.write(to: &writer)
            writer.writeVarbitInt(t)
            for value in [values.count, values.zeroCount, sumValue] { writer.write(value.bitPattern, bitCount: 64) }
            count = .appending(values.count.bitPattern)
            zeroCount = .appending(values.zeroCount.bitPattern)
            sum = .appending(sumValue.bitPattern)
            positive = values.positive.map { XORState.appending($0.bitPattern) }
            negative = values.negative.map { XORState.appending($0.bitPattern) }
            for value in values.positive { writer.write(value.bitPattern, bitCount: 64) }
            for value in values.negative { writer.write(value.bitPattern, bitCount: 64) }
            minTime = t
        } else {
            let delta = t &- maxTime
            writer.writeVarbitInt(delta &- tDelta)
            tDelta = delta
            count.write(values.count.bitPattern, to: &writer)
            zeroCount.write(values.zeroCount.bitPattern, to: &writer)
            sum.write(sumValue.bitPattern, to: &writer)
            if counts != nil {
                for index in values.positive.indices { positive[index].write(values.positive[index].bitPattern, to: &writer) }
                for index in values.negative.indices { negative[index].write(values.negative[index].bitPattern, to: &writer) }
            }
        }
        if counts != nil { last = values }
        lastStale = counts == nil
        maxTime = t
        sampleCount &+= 1
    }

    /// Re-encodes every sample so far with the widened layout (new buckets are zeros).
    private mutating func recode(_ recode: Recode) {
        var decoder = FloatHistogramDecoder(chunk.bytes)
        var fresh = FloatHistogramChunkAppender(header: counterResetHeader)
        fresh.layout = layout
        fresh.layout.positiveSpans = recode.positiveSpans
        fresh.layout.negativeSpans = recode.negativeSpans
        // Our own bytes: decoding cannot fail, and a chunk being widened holds no stale marker.
        while (try? decoder.advance()) == true {
            var counts = decoder.counts
            counts.positive = HistogramRules.place(counts.positive, at: recode.positivePositions, count: recode.positiveCount)
            counts.negative = HistogramRules.place(counts.negative, at: recode.negativePositions, count: recode.negativeCount)
            fresh.encode(decoder.t, counts, sum: Double(bitPattern: decoder.sum.bits))
        }
        self = fresh
    }
}
