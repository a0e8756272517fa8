import LoupeModel

/// A chunk of integer native histograms, byte for byte the Prometheus `histogram` chunk encoding:
///
/// ```
/// num_samples <uint16 BE> | flags <1 byte: counter reset header in the top 2 bits>
/// | layout, with the first sample: zero_threshold <1 or 9 bytes> | schema <varbit_int>
///     | positive spans | negative spans | custom bounds (schema -53 only)
/// | sample 0: t <varbit_int> | count <varbit_uint> | zero_count <varbit_uint> | sum <64 bits> | buckets <varbit_int>...
/// | sample n: t dod | count dod | zero_count dod <varbit_int> | sum <varbit_xor> | bucket dods <varbit_int>...
/// ```
///
/// Buckets are stored as Prometheus does: each bucket as the difference to the previous bucket of
/// the same sign, and those differences as deltas of deltas over time.
///
/// ## Integer and float chunks
///
/// Loupe keeps Prometheus's two histogram encodings rather than one float encoding: integer
/// counts compress to a few bits per bucket as deltas of deltas, where XOR floats need at least one
/// bit per bucket and usually 10+ once counts change. A histogram goes to this chunk exactly when
/// `ChunkEncoding.histogramEncoding(for:)` says `.histogram` (`isIntegerCounts` and every count a
/// non-negative integer below 2^63); it reads back with the same absolute `Double` counts and
/// `isIntegerCounts == true`. Everything else goes to `FloatHistogramChunk` and reads back with
/// `isIntegerCounts == false`, so the flag round-trips. The appenders enforce the split
/// (`.newChunkNeeded(.encodingChanged, …)`).
///
/// What does not round-trip, by design (as in Prometheus): the counter-reset hint is derived on
/// read (`.gauge` in gauge chunks, `.unknown` for a chunk's first sample, `.no` after it; the
/// chunk-level fact is `counterResetHeader`); a stale marker reads back as a histogram with only
/// `sum` set to the stale NaN; when a layout is widened, earlier samples read back with the new
/// (empty) buckets as explicit zeros.
public struct HistogramChunk: Sendable, Hashable, Sequence {
    public static let maxSampleCount = Int(UInt16.max)

    public let bytes: [UInt8]
    public let sampleCount: Int
    /// Timestamp of the first sample; `Int64.max` when the chunk is empty.
    public let minTime: Int64
    /// Timestamp of the last sample; `Int64.min` when the chunk is empty.
    public let maxTime: Int64

    /// Validates the bytes completely: header, layout, every sample, strictly increasing timestamps,
    /// and nothing but zero padding after the last sample.
    public init(bytes: [UInt8]) throws(ChunkError) {
        let (count, minTime, maxTime) = try HistogramRules.validateHistogramChunk(bytes, decoder: IntHistogramDecoder(bytes))
        self.init(unchecked: bytes, sampleCount: count, minTime: minTime, maxTime: maxTime)
    }

    init(unchecked bytes: [UInt8], sampleCount: Int, minTime: Int64, maxTime: Int64) {
        self.bytes = bytes
        self.sampleCount = sampleCount
        self.minTime = minTime
        self.maxTime = maxTime
    }

    public var counterResetHeader: CounterResetHeader { CounterResetHeader(flags: bytes[2]) }

    public func makeIterator() -> HistogramChunkIterator { HistogramChunkIterator(bytes) }

    public var underestimatedCount: Int { sampleCount }

    public var samples: [HistogramSample] { Array(self) }
}

/// The decoding state machine both histogram chunk kinds implement.
protocol HistogramDecoder {
    var reader: BitReader { get }
    var total: Int { get }
    var read: Int { get }
    var t: Int64 { get }
    mutating func advance() throws(ChunkError) -> Bool
    func histogram() -> NativeHistogram
}

extension HistogramRules {
    /// Shared validation: header, every sample, increasing timestamps, padding. Returns count, min, max.
    static func validateHistogramChunk(_ bytes: [UInt8], decoder: some HistogramDecoder) throws(ChunkError) -> (Int, Int64, Int64) {
        guard bytes.count >= HistogramRules.headerSize else {
            throw ChunkError(.truncated, "histogram chunk of \(bytes.count) bytes has no 3-byte header", bitOffset: 0)
        }
        var decoder = decoder
        var first = Int64.max
        var last = Int64.min
        while try decoder.advance() {
            if decoder.read == 1 {
                first = decoder.t
            } else if decoder.t <= last {
                throw ChunkError(
                    .malformed, "timestamp \(decoder.t) of sample \(decoder.read - 1) does not follow \(last)",
                    bitOffset: decoder.reader.bitPosition)
            }
            last = decoder.t
        }
        var reader = decoder.reader
        try reader.expectPaddingOnly()
        return (decoder.total, first, last)
    }
}

struct IntHistogramDecoder: HistogramDecoder, Sendable {
    var reader: BitReader
    let total: Int
    let header: CounterResetHeader
    var read = 0
    var layout = HistogramLayout()
    var t: Int64 = 0
    var tDelta: Int64 = 0
    var count: Int64 = 0
    var zeroCount: Int64 = 0
    var countDelta: Int64 = 0
    var zeroCountDelta: Int64 = 0
    var sum = XORState()
    /// Each bucket minus the previous bucket of its sign, and that value's change since the previous sample.
    var positive: [Int64] = []
    var positiveDelta: [Int64] = []
    var negative: [Int64] = []
    var negativeDelta: [Int64] = []

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
            count = Int64(bitPattern: try reader.readVarbitUInt())
            zeroCount = Int64(bitPattern: try reader.readVarbitUInt())
            sum.bits = try reader.readBits(64)
            positive = try readValues(layout.positiveBucketCount)
            positiveDelta = [Int64](repeating: 0, count: positive.count)
            negative = try readValues(layout.negativeBucketCount)
            negativeDelta = [Int64](repeating: 0, count: negative.count)
        } else {
            tDelta &+= try reader.readVarbitInt()
            t &+= tDelta
            countDelta &+= try reader.readVarbitInt()
            count &+= countDelta
            zeroCountDelta &+= try reader.readVarbitInt()
            zeroCount &+= zeroCountDelta
            try sum.read(from: &reader)
            if !isStale {
                for index in positive.indices {
                    positiveDelta[index] &+= try reader.readVarbitInt()
                    positive[index] &+= positiveDelta[index]
                }
                for index in negative.indices {
                    negativeDelta[index] &+= try reader.readVarbitInt()
                    negative[index] &+= negativeDelta[index]
                }
            }
        }
        read &+= 1
        return true
    }

    private mutating func readValues(_ count: Int) throws(ChunkError) -> [Int64] {
        var values: [Int64] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try reader.readVarbitInt()) }
        return values
    }

    /// Absolute counts of the current sample.
    var counts: HistogramCounts<Int64> {
        HistogramCounts(count: count, zeroCount: zeroCount, positive: absolute(positive), negative: absolute(negative))
    }

    func histogram() -> NativeHistogram {
        let sumValue = Double(bitPattern: sum.bits)
        if isStale { return NativeHistogram(sum: sumValue, isIntegerCounts: true) }
        return NativeHistogram(
            counterResetHint: HistogramRules.decodedHint(header: header, index: read - 1), schema: layout.schema,
            zeroThreshold: layout.zeroThreshold, zeroCount: Double(UInt64(bitPattern: zeroCount)),
            count: Double(UInt64(bitPattern: count)), sum: sumValue,
            positiveSpans: layout.positiveSpans, positiveBuckets: absolute(positive).map(Double.init),
            negativeSpans: layout.negativeSpans, negativeBuckets: absolute(negative).map(Double.init),
            customValues: layout.customValues, isIntegerCounts: true)
    }
}

/// Running sums of bucket-to-bucket differences.
private func absolute(_ differences: [Int64]) -> [Int64] {
    var running: Int64 = 0
    return differences.map { difference in
        running &+= difference
        return running
    }
}

/// Bucket-to-bucket differences of absolute counts.
private func differences(_ absolute: [Int64]) -> [Int64] {
    var previous: Int64 = 0
    return absolute.map { value in
        defer { previous = value }
        return value &- previous
    }
}

/// Iterates a `HistogramChunk`, with Prometheus `Seek` semantics for `seek(to:)`.
public struct HistogramChunkIterator: IteratorProtocol, Sendable {
    var decoder: IntHistogramDecoder
    /// The sample last returned; nil before the first and after the last.
    public private(set) var current: HistogramSample?
    /// Set when the bytes turned out to be damaged (never for a validated chunk).
    public private(set) var error: ChunkError?

    /// Iterates bytes that have not been validated; damage ends the iteration and sets `error`.
    public init(_ bytes: [UInt8]) {
        decoder = IntHistogramDecoder(bytes)
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

/// Appends integer histograms to a new (or resumed) histogram chunk, following the Prometheus
/// rules: a counter reset, a schema, zero threshold or custom bounds change, a gauge/counter switch
/// or a sample after a stale marker needs a new chunk (reported, nothing changes); new buckets
/// widen the chunk's layout by re-encoding it; buckets missing from the sample are kept as zeros.
public struct HistogramChunkAppender: Sendable {
    var writer: BitWriter
    public private(set) var counterResetHeader: CounterResetHeader
    public private(set) var sampleCount = 0
    /// Timestamp of the first sample; `Int64.max` while empty.
    public private(set) var minTime = Int64.max
    /// Timestamp of the last sample; `Int64.min` while empty.
    public private(set) var maxTime = Int64.min
    var layout = HistogramLayout()
    var tDelta: Int64 = 0
    var last = HistogramCounts<Int64>(count: 0, zeroCount: 0, positive: [], negative: [])
    var countDelta: Int64 = 0
    var zeroCountDelta: Int64 = 0
    var positive: [Int64] = []
    var positiveDelta: [Int64] = []
    var negative: [Int64] = []
    var negativeDelta: [Int64] = []
    var sum = XORState.appending(0)
    var lastStale = false

    /// A new chunk. `header` records what is known about a counter reset against the previous chunk
    /// (take it from `.newChunkNeeded` or `headerForNewChunk(startingWith:)`); a first sample hinted
    /// `.gauge` or `.yes` overrides it.
    public init(header: CounterResetHeader = .unknown) {
        writer = BitWriter(reservingBytes: 256)
        writer.write(0, bitCount: 24)
        counterResetHeader = header
    }

    /// Continues appending to an existing chunk, by re-encoding its samples.
    public init(resuming chunk: HistogramChunk) throws(ChunkError) {
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
    public var chunk: HistogramChunk {
        var bytes = writer.bytes
        bytes[0] = UInt8(truncatingIfNeeded: sampleCount >> 8)
        bytes[1] = UInt8(truncatingIfNeeded: sampleCount)
        bytes[2] = counterResetHeader.rawValue
        return HistogramChunk(unchecked: bytes, sampleCount: sampleCount, minTime: minTime, maxTime: maxTime)
    }

    public mutating func append(_ sample: HistogramSample) -> ChunkAppendResult {
        append(sample.timestamp, sample.histogram)
    }

    public mutating func append(_ t: Int64, _ histogram: NativeHistogram) -> ChunkAppendResult {
        if sampleCount > 0 && t <= maxTime { return .outOfOrder }
        if sampleCount >= HistogramChunk.maxSampleCount { return .full }
        if StaleMarker.isStale(histogram.sum) {
            if sampleCount == 0 { layout = .empty }
            encode(t, nil, sum: histogram.sum)
            return .appended
        }
        if let problem = HistogramRules.validationProblem(histogram) { return .invalid(problem) }
        guard let integer = IntegerCounts(histogram) else {
            return .newChunkNeeded(.encodingChanged, header: histogram.counterResetHint == .gauge ? .gauge : .unknown)
        }
        if sampleCount == 0 {
            counterResetHeader = HistogramRules.firstSampleHeader(counterResetHeader, histogram.counterResetHint)
            layout = HistogramLayout(of: histogram)
            encode(t, integer.counts, sum: histogram.sum)
            return .appended
        }
        switch HistogramRules.planAppend(
            layout: layout, header: counterResetHeader, lastStale: lastStale, last: last, histogram: histogram,
            counts: integer.counts)
        {
        case .reject(let result):
            return result
        case .append(let counts, nil):
            encode(t, counts, sum: histogram.sum)
            return .appended
        case .append(let counts, let recode?):
            self.recode(recode)
            encode(t, counts, sum: histogram.sum)
            return .appendedAfterRecoding
        }
    }

    /// The header a new chunk starting with `histogram` should get, judged against this chunk
    /// (for chunks cut because they are full or big enough, not because of `.newChunkNeeded`).
    public func headerForNewChunk(startingWith histogram: NativeHistogram) -> CounterResetHeader {
        HistogramRules.headerForNextChunk(
            layout: layout, header: counterResetHeader, sampleCount: sampleCount, lastStale: lastStale, last: last,
            histogram: histogram, counts: HistogramRules.validationProblem(histogram) == nil ? IntegerCounts(histogram)?.counts : nil)
    }

    private mutating func encode(_ t: Int64, _ counts: HistogramCounts<Int64>?, sum sumValue: Double) {
        let sumBits = sumValue.bitPattern
        if sampleCount == 0 {
            let counts = counts ?? HistogramCounts(count: 0, zeroCount: 0, positive: [], negative: [])
            layout.write(to: &writer)
            writer.writeVarbitInt(t)
            writer.writeVarbitUInt(UInt64(bitPattern: counts.count))
            writer.writeVarbitUInt(UInt64(bitPattern: counts.zeroCount))
            writer.write(sumBits, bitCount: 64)
            sum = .appending(sumBits)
            positive = differences(counts.positive)
            negative = differences(counts.negative)
            for value in positive { writer.writeVarbitInt(value) }
            for value in negative { writer.writeVarbitInt(value) }
            positiveDelta = [Int64](repeating: 0, count: positive.count)
            negativeDelta = [Int64](repeating: 0, count: negative.count)
            last = counts
            minTime = t
        } else {
            let delta = t &- maxTime
            writer.writeVarbitInt(delta &- tDelta)
            tDelta = delta
            if let counts {
                let countChange = counts.count &- last.count
                writer.writeVarbitInt(countChange &- countDelta)
                countDelta = countChange
                let zeroChange = counts.zeroCount &- last.zeroCount
                writer.writeVarbitInt(zeroChange &- zeroCountDelta)
                zeroCountDelta = zeroChange
                sum.write(sumBits, to: &writer)
                Self.writeBuckets(differences(counts.positive), previous: &positive, delta: &positiveDelta, to: &writer)
                Self.writeBuckets(differences(counts.negative), previous: &negative, delta: &negativeDelta, to: &writer)
                last = counts
            } else {
                // A stale marker: no count changes, no buckets (the decoder skips them after a stale sum).
                writer.writeVarbitInt(0)
                writer.writeVarbitInt(0)
                sum.write(sumBits, to: &writer)
            }
        }
        lastStale = counts == nil
        maxTime = t
        sampleCount &+= 1
    }

    private static func writeBuckets(_ values: [Int64], previous: inout [Int64], delta: inout [Int64], to writer: inout BitWriter) {
        for index in values.indices {
            let change = values[index] &- previous[index]
            writer.writeVarbitInt(change &- delta[index])
            delta[index] = change
            previous[index] = values[index]
        }
    }

    /// Re-encodes every sample so far with the widened layout (new buckets are zeros).
    private mutating func recode(_ recode: Recode) {
        var decoder = IntHistogramDecoder(chunk.bytes)
        var fresh = HistogramChunkAppender(header: counterResetHeader)
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

extension HistogramRules {
    /// The header of a chunk from its first sample's hint (Prometheus `AppendHistogram` on an empty chunk).
    static func firstSampleHeader(_ header: CounterResetHeader, _ hint: NativeHistogram.CounterResetHint) -> CounterResetHeader {
        switch hint {
        case .gauge: return .gauge
        case .yes: return .counterReset
        default: return header == .gauge ? .unknown : header
        }
    }
}
