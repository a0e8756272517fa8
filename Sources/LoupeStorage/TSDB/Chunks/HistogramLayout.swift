import LoupeModel

// What the integer and the float histogram chunks share: the header flags, the layout section
// (zero threshold, schema, spans, custom bounds), bucket index arithmetic and the rules deciding
// whether a histogram may join a chunk.

/// The top two bits of a histogram chunk's flag byte (byte 2).
public enum CounterResetHeader: UInt8, Sendable, Hashable, CaseIterable {
    /// Whether a counter reset happened between the previous chunk and this one is unknown.
    case unknown = 0x00
    /// No counter reset between the previous chunk and this one.
    case notCounterReset = 0x40
    /// This chunk was started because of a counter reset.
    case counterReset = 0x80
    /// The chunk holds gauge histograms (no counter semantics).
    case gauge = 0xC0

    static let mask: UInt8 = 0xC0

    init(flags: UInt8) { self = CounterResetHeader(rawValue: flags & Self.mask) ?? .unknown }
}

/// Rules and helpers shared by the two histogram chunk kinds.
enum HistogramRules {
    /// Size of the histogram chunk header: 2-byte sample count, 1 flag byte.
    static let headerSize = 3
}

/// The chunk-wide part of every histogram in a chunk, written once before the first sample.
struct HistogramLayout: Sendable, Hashable {
    var schema: Int32 = 0
    var zeroThreshold: Double = 0
    var positiveSpans: [NativeHistogram.BucketSpan] = []
    var negativeSpans: [NativeHistogram.BucketSpan] = []
    /// Only for schema -53.
    var customValues: [Double] = []

    static let empty = HistogramLayout()

    init() {}

    init(of histogram: NativeHistogram) {
        schema = histogram.schema
        zeroThreshold = histogram.zeroThreshold
        positiveSpans = histogram.positiveSpans
        negativeSpans = histogram.negativeSpans
        customValues = histogram.usesCustomBuckets ? histogram.customValues : []
    }

    var positiveBucketCount: Int { HistogramRules.bucketCount(positiveSpans) }
    var negativeBucketCount: Int { HistogramRules.bucketCount(negativeSpans) }

    func write(to writer: inout BitWriter) {
        writeZeroThreshold(zeroThreshold, to: &writer)
        writer.writeVarbitInt(Int64(schema))
        writeSpans(positiveSpans, to: &writer)
        writeSpans(negativeSpans, to: &writer)
        if schema == NativeHistogram.customBucketsSchema {
            writer.writeVarbitUInt(UInt64(customValues.count))
            for bound in customValues { writeCustomBound(bound, to: &writer) }
        }
    }

    /// Reads and checks a layout. Every count read is bounded by the bits left, so damaged input
    /// cannot make the decoder allocate more than the chunk could describe.
    static func read(from reader: inout BitReader) throws(ChunkError) -> HistogramLayout {
        var layout = HistogramLayout()
        layout.zeroThreshold = try readZeroThreshold(from: &reader)
        let schemaAt = reader.bitPosition
        let schema = try reader.readVarbitInt()
        guard isSupportedSchema(schema) else {
            throw ChunkError(.malformed, "unsupported histogram schema \(schema)", bitOffset: schemaAt)
        }
        layout.schema = Int32(schema)
        layout.positiveSpans = try readSpans(from: &reader)
        layout.negativeSpans = try readSpans(from: &reader)
        if layout.schema == NativeHistogram.customBucketsSchema {
            let countAt = reader.bitPosition
            let count = try reader.readVarbitUInt()
            guard count <= UInt64(reader.remainingBits) else {
                throw ChunkError(.truncated, "\(count) custom bounds cannot fit the \(reader.remainingBits) bits left", bitOffset: countAt)
            }
            var bounds: [Double] = []
            bounds.reserveCapacity(Int(count))
            for _ in 0..<Int(count) { bounds.append(try readCustomBound(from: &reader)) }
            layout.customValues = bounds
        }
        // Each bucket of the first sample takes at least one bit.
        let buckets = layout.positiveBucketCount + layout.negativeBucketCount
        guard buckets <= reader.remainingBits else {
            throw ChunkError(
                .truncated, "layout announces \(buckets) buckets, more than the \(reader.remainingBits) bits left",
                bitOffset: reader.bitPosition)
        }
        return layout
    }
}

private func isSupportedSchema(_ schema: Int64) -> Bool {
    (-4...8).contains(schema) || schema == Int64(NativeHistogram.customBucketsSchema)
}

extension HistogramRules {
    static func bucketCount(_ spans: [NativeHistogram.BucketSpan]) -> Int {
        var total = 0
        for span in spans { total &+= Int(span.length) }
        return total
    }

    /// The problem with a histogram that no chunk could store as given, or nil.
    static func validationProblem(_ histogram: NativeHistogram) -> String? {
        guard isSupportedSchema(Int64(histogram.schema)) else { return "unsupported schema \(histogram.schema)" }
        if !histogram.usesCustomBuckets && !histogram.customValues.isEmpty {
            return "custom bucket boundaries with exponential schema \(histogram.schema)"
        }
        for (name, spans, buckets) in [
            ("positive", histogram.positiveSpans, histogram.positiveBuckets.count),
            ("negative", histogram.negativeSpans, histogram.negativeBuckets.count),
        ] {
            let expected = HistogramRules.bucketCount(spans)
            if expected != buckets { return "\(name) spans cover \(expected) buckets but \(buckets) counts are given" }
            if spans.dropFirst().contains(where: { $0.offset < 0 }) { return "\(name) span with a negative offset after the first" }
        }
        return nil
    }
}

// MARK: - Layout fields

private func writeSpans(_ spans: [NativeHistogram.BucketSpan], to writer: inout BitWriter) {
    writer.writeVarbitUInt(UInt64(spans.count))
    for span in spans {
        writer.writeVarbitUInt(UInt64(span.length))
        writer.writeVarbitInt(Int64(span.offset))
    }
}

private func readSpans(from reader: inout BitReader) throws(ChunkError) -> [NativeHistogram.BucketSpan] {
    let countAt = reader.bitPosition
    let count = try reader.readVarbitUInt()
    // A span takes at least two bits (length and offset).
    guard count <= UInt64(reader.remainingBits / 2) else {
        throw ChunkError(.truncated, "\(count) spans cannot fit the \(reader.remainingBits) bits left", bitOffset: countAt)
    }
    var spans: [NativeHistogram.BucketSpan] = []
    spans.reserveCapacity(Int(count))
    var total: UInt64 = 0
    for _ in 0..<Int(count) {
        let at = reader.bitPosition
        let length = try reader.readVarbitUInt()
        let offset = try reader.readVarbitInt()
        guard length <= UInt64(UInt32.max), let offset32 = Int32(exactly: offset) else {
            throw ChunkError(.malformed, "span length \(length) or offset \(offset) out of range", bitOffset: at)
        }
        total += length
        guard total <= UInt64(reader.remainingBits) else {
            throw ChunkError(.truncated, "spans announce more buckets than bits left", bitOffset: at)
        }
        spans.append(NativeHistogram.BucketSpan(offset: offset32, length: UInt32(length)))
    }
    return spans
}

/// One byte for 0 and for powers of two in 2^-243 ... 2^10 (byte = Go frexp exponent + 243), else
/// 255 followed by the 64 raw bits. -0.0 takes the raw form so its sign survives.
private func writeZeroThreshold(_ threshold: Double, to writer: inout BitWriter) {
    if threshold.bitPattern == 0 {
        writer.writeByte(0)
        return
    }
    if threshold.isFinite && threshold > 0 && threshold.significand == 1 {
        let frexpExponent = Int(threshold.exponent) + 1  // Go's frexp: 0.5 * 2^e
        if (-242...11).contains(frexpExponent) {
            writer.writeByte(UInt8(frexpExponent + 243))
            return
        }
    }
    writer.writeByte(255)
    writer.write(threshold.bitPattern, bitCount: 64)
}

private func readZeroThreshold(from reader: inout BitReader) throws(ChunkError) -> Double {
    let byte = try reader.readByte()
    switch byte {
    case 0: return 0
    case 255: return Double(bitPattern: try reader.readBits(64))
    default: return Double(sign: .plus, exponent: Int(byte) - 244, significand: 1)
    }
}

/// Custom bounds that are multiples of 0.001 in 0 ... 33554.43 as `<varbit_uint>` of bound*1000 + 1
/// (always starting with a 1 bit), anything else as a 0 bit and the raw 64 bits. Only bounds that
/// decode to the identical bit pattern take the short form.
private func writeCustomBound(_ bound: Double, to writer: inout BitWriter) {
    let scaled = bound * 1000
    if scaled >= 0 && scaled <= 33_554_430 {
        let whole = scaled.rounded()
        if (whole / 1000).bitPattern == bound.bitPattern {
            writer.writeVarbitUInt(UInt64(whole) + 1)
            return
        }
    }
    writer.write(0, bitCount: 1)
    writer.write(bound.bitPattern, bitCount: 64)
}

private func readCustomBound(from reader: inout BitReader) throws(ChunkError) -> Double {
    let value = try reader.readVarbitUInt()
    if value == 0 { return Double(bitPattern: try reader.readBits(64)) }
    return Double(value - 1) / 1000
}

// MARK: - Bucket indices

/// Absolute bucket indices covered by spans, in order (the first offset is absolute, later ones
/// are gaps after the previous span).
private func bucketIndices(_ spans: [NativeHistogram.BucketSpan]) -> [Int] {
    var indices: [Int] = []
    indices.reserveCapacity(HistogramRules.bucketCount(spans))
    var next = 0
    for span in spans {
        next &+= Int(span.offset)
        for _ in 0..<Int(span.length) {
            indices.append(next)
            next &+= 1
        }
    }
    return indices
}

/// The shortest spans covering sorted, distinct indices.
private func coveringSpans(_ indices: [Int]) -> [NativeHistogram.BucketSpan] {
    var spans: [NativeHistogram.BucketSpan] = []
    var previous = 0
    for index in indices {
        if let last = spans.indices.last, index == previous + 1 {
            spans[last].length += 1
        } else {
            let offset = spans.isEmpty ? index : index - previous - 1
            spans.append(NativeHistogram.BucketSpan(offset: Int32(truncatingIfNeeded: offset), length: 1))
        }
        previous = index
    }
    return spans
}

/// How the buckets of a chunk and of a new histogram line up.
struct BucketAlignment {
    /// Spans of the layout both fit into: the chunk's own spans when the histogram brings no new bucket.
    var spans: [NativeHistogram.BucketSpan]
    var count: Int
    /// Position of each chunk bucket in the aligned layout (nil when it is unchanged: identity).
    var chunkPositions: [Int]?
    /// Position of each histogram bucket in the aligned layout.
    var samplePositions: [Int]?

    var chunkNeedsRecoding: Bool { chunkPositions != nil }

    init(chunk: [NativeHistogram.BucketSpan], sample: [NativeHistogram.BucketSpan]) {
        if chunk == sample {
            spans = chunk
            count = HistogramRules.bucketCount(chunk)
            return
        }
        let old = bucketIndices(chunk)
        let new = bucketIndices(sample)
        var union: [Int] = []
        union.reserveCapacity(max(old.count, new.count))
        var oldPositions: [Int] = []
        oldPositions.reserveCapacity(old.count)
        var newPositions: [Int] = []
        newPositions.reserveCapacity(new.count)
        var i = 0
        var j = 0
        while i < old.count || j < new.count {
            if j == new.count || (i < old.count && old[i] < new[j]) {
                oldPositions.append(union.count)
                union.append(old[i])
                i += 1
            } else if i == old.count || new[j] < old[i] {
                newPositions.append(union.count)
                union.append(new[j])
                j += 1
            } else {
                oldPositions.append(union.count)
                newPositions.append(union.count)
                union.append(old[i])
                i += 1
                j += 1
            }
        }
        count = union.count
        if union.count == old.count {
            spans = chunk
            samplePositions = newPositions
        } else {
            spans = coveringSpans(union)
            chunkPositions = oldPositions
            samplePositions = newPositions
        }
    }
}

extension HistogramRules {
    /// Places `values` at `positions` of a zero-filled array of `count` (identity when positions is nil).
    static func place<T: AdditiveArithmetic>(_ values: [T], at positions: [Int]?, count: Int) -> [T] {
        guard let positions else { return values }
        var out = [T](repeating: .zero, count: count)
        for (value, position) in zip(values, positions) { out[position] = value }
        return out
    }
}

// MARK: - Whether a histogram may join a chunk

/// The absolute counts of one histogram, as a chunk keeps them.
struct HistogramCounts<T: Comparable & AdditiveArithmetic & Sendable>: Sendable {
    var count: T
    var zeroCount: T
    var positive: [T]
    var negative: [T]
}

/// Integer view of a histogram for the integer chunk: nil unless `isIntegerCounts` and every count
/// is a non-negative (not -0.0) integer below 2^63.
struct IntegerCounts {
    var counts: HistogramCounts<Int64>

    init?(_ histogram: NativeHistogram) {
        guard histogram.isIntegerCounts,
            let count = Self.exact(histogram.count),
            let zeroCount = Self.exact(histogram.zeroCount)
        else { return nil }
        var positive: [Int64] = []
        positive.reserveCapacity(histogram.positiveBuckets.count)
        for value in histogram.positiveBuckets {
            guard let exact = Self.exact(value) else { return nil }
            positive.append(exact)
        }
        var negative: [Int64] = []
        negative.reserveCapacity(histogram.negativeBuckets.count)
        for value in histogram.negativeBuckets {
            guard let exact = Self.exact(value) else { return nil }
            negative.append(exact)
        }
        counts = HistogramCounts(count: count, zeroCount: zeroCount, positive: positive, negative: negative)
    }

    static func exact(_ value: Double) -> Int64? {
        guard value.sign == .plus, value < 9_223_372_036_854_775_808.0, value == value.rounded(.towardZero) else { return nil }
        return Int64(value)
    }
}

/// How a non-stale histogram joins a non-empty chunk.
enum AppendPlan<T: Comparable & AdditiveArithmetic & Sendable> {
    case reject(ChunkAppendResult)
    /// Append `counts` (buckets already placed in the layout); when `recode` is set the chunk's
    /// earlier samples must first be re-encoded with that layout.
    case append(HistogramCounts<T>, recode: Recode?)
}

struct Recode {
    var positiveSpans: [NativeHistogram.BucketSpan]
    var negativeSpans: [NativeHistogram.BucketSpan]
    var positivePositions: [Int]?
    var negativePositions: [Int]?
    var positiveCount: Int
    var negativeCount: Int
}

extension HistogramRules {
    /// The Prometheus appendability rules (histogram.go `appendable` / `appendableGauge`), on absolute
    /// counts. `last` are the counts of the chunk's last sample, which is not stale unless `lastStale`.
    static func planAppend<T>(
        layout: HistogramLayout, header: CounterResetHeader, lastStale: Bool, last: HistogramCounts<T>,
        histogram: NativeHistogram, counts: HistogramCounts<T>
    ) -> AppendPlan<T> {
        let gauge = histogram.counterResetHint == .gauge
        if gauge != (header == .gauge) {
            return .reject(.newChunkNeeded(.histogramKindChanged, header: gauge ? .gauge : .unknown))
        }
        let newHeader: CounterResetHeader = gauge ? .gauge : .counterReset
        if !gauge && histogram.counterResetHint == .yes { return .reject(.newChunkNeeded(.counterReset, header: .counterReset)) }
        if lastStale { return .reject(.newChunkNeeded(.staleMarkerEnded, header: gauge ? .gauge : .unknown)) }
        if !gauge && counts.count < last.count { return .reject(.newChunkNeeded(.counterReset, header: .counterReset)) }
        if histogram.schema != layout.schema {
            return .reject(.newChunkNeeded(.schemaChanged, header: gauge ? .gauge : .unknown))
        }
        if histogram.zeroThreshold != layout.zeroThreshold {
            return .reject(.newChunkNeeded(.zeroThresholdChanged, header: gauge ? .gauge : .unknown))
        }
        if histogram.usesCustomBuckets && histogram.customValues != layout.customValues {
            return .reject(.newChunkNeeded(.customBoundsChanged, header: newHeader))
        }
        if !gauge && counts.zeroCount < last.zeroCount { return .reject(.newChunkNeeded(.counterReset, header: .counterReset)) }

        let positive = BucketAlignment(chunk: layout.positiveSpans, sample: histogram.positiveSpans)
        let negative = BucketAlignment(chunk: layout.negativeSpans, sample: histogram.negativeSpans)
        var placed = counts
        placed.positive = HistogramRules.place(counts.positive, at: positive.samplePositions, count: positive.count)
        placed.negative = HistogramRules.place(counts.negative, at: negative.samplePositions, count: negative.count)
        if !gauge {
            // Every bucket of the chunk must still be there (or have been empty) and must not have gone down.
            for (lastValues, values, positions) in [
                (last.positive, placed.positive, positive.chunkPositions),
                (last.negative, placed.negative, negative.chunkPositions),
            ] {
                for (index, lastValue) in lastValues.enumerated() where values[positions?[index] ?? index] < lastValue {
                    return .reject(.newChunkNeeded(.counterReset, header: .counterReset))
                }
            }
        }
        guard positive.chunkNeedsRecoding || negative.chunkNeedsRecoding else { return .append(placed, recode: nil) }
        return .append(
            placed,
            recode: Recode(
                positiveSpans: positive.spans, negativeSpans: negative.spans,
                positivePositions: positive.chunkPositions, negativePositions: negative.chunkPositions,
                positiveCount: positive.count, negativeCount: negative.count))
    }

    /// The header for a chunk whose first sample is `histogram`, when it follows a chunk whose appender
    /// state is given (Prometheus `AppendHistogram` with a previous appender).
    static func headerForNextChunk<T>(
        layout: HistogramLayout, header: CounterResetHeader, sampleCount: Int, lastStale: Bool, last: HistogramCounts<T>,
        histogram: NativeHistogram, counts: HistogramCounts<T>?
    ) -> CounterResetHeader {
        switch histogram.counterResetHint {
        case .gauge: return .gauge
        case .yes: return .counterReset
        default: break
        }
        guard sampleCount > 0, let counts, !StaleMarker.isStale(histogram.sum) else { return .unknown }
        switch HistogramRules.planAppend(
            layout: layout, header: header, lastStale: lastStale, last: last, histogram: histogram, counts: counts)
        {
        case .append: return .notCounterReset
        case .reject(.newChunkNeeded(_, let header)): return header == .gauge ? .unknown : header
        case .reject: return .unknown
        }
    }

    /// The hint a decoded sample carries (Prometheus `counterResetHint`): gauge in gauge chunks, "no
    /// reset" after the first sample, unknown for the first (the previous chunk may be gone or out of order).
    static func decodedHint(header: CounterResetHeader, index: Int) -> NativeHistogram.CounterResetHint {
        if header == .gauge { return .gauge }
        return index > 0 ? .no : .unknown
    }
}
