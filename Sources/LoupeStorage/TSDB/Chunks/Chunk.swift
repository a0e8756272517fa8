import LoupeModel

// TSDB chunk encodings: pure, synchronous value types (no I/O, no Foundation).
//
// - `XORChunk` (floats), `HistogramChunk` (integer native histograms), `FloatHistogramChunk`:
//   byte for byte the Prometheus chunk formats (tsdb/docs/format/chunks.md), each with an appender
//   (`append` reports out-of-order timestamps, full chunks and histograms that need a new chunk
//   instead of failing), an iterator with Prometheus `Seek` semantics, `bytes` for persistence and
//   a validating `init(bytes:)` that never reads out of bounds.
// - `XORChunk.optimized()`: the same format with XOR windows chosen over the whole chunk, smaller
//   than what Prometheus writes (XOROptimizer.swift).
// - `PackedFloatChunk`: Loupe's own float encoding for blocks (no appender; planned per chunk,
//   far smaller than XOR on exporter data).
// - `Chunk`: any of them behind the encoding byte, for storage and queries.

/// The encoding byte of a chunk, with the values Prometheus uses (tsdb/chunkenc/chunk.go).
public enum ChunkEncoding: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case xor = 1
    case histogram = 2
    case floatHistogram = 3
    /// Loupe's `PackedFloatChunk`, written only into blocks (outside Prometheus's range of values).
    case packedFloat = 64

    /// The chunk encoding that stores `histogram` exactly: `.histogram` (integer counts) when the
    /// histogram says `isIntegerCounts` and its count, zero count and buckets are non-negative
    /// integers below 2^63; `.floatHistogram` otherwise. Stale markers fit either.
    public static func histogramEncoding(for histogram: NativeHistogram) -> ChunkEncoding {
        IntegerCounts(histogram) != nil ? .histogram : .floatHistogram
    }

    public var description: String {
        switch self {
        case .xor: "XOR"
        case .histogram: "histogram"
        case .floatHistogram: "floathistogram"
        case .packedFloat: "packedfloat"
        }
    }
}

/// What an appender did with a sample.
public enum ChunkAppendResult: Sendable, Hashable {
    /// The sample is in the chunk.
    case appended
    /// The sample is in the chunk; the histogram brought buckets the chunk's layout lacked, so the
    /// earlier samples were re-encoded with the wider layout (their new buckets read as 0).
    case appendedAfterRecoding
    /// The timestamp is not after the chunk's last one; nothing changed. Route the sample to an
    /// out-of-order chunk (or reject it).
    case outOfOrder
    /// The chunk holds its maximum of 65,535 samples; cut a new chunk.
    case full
    /// The histogram cannot join this chunk; nothing changed. Cut a new chunk with `header` (create
    /// the appender with `init(header:)`) and append the sample there.
    case newChunkNeeded(NewChunkReason, header: CounterResetHeader)
    /// The histogram is malformed (for example its bucket counts do not match its spans); nothing changed.
    case invalid(String)
}

/// Why a histogram needs a new chunk.
public enum NewChunkReason: Sendable, Hashable {
    /// The count, the zero count or a bucket went down, a non-empty bucket vanished, or the sample's
    /// hint says counter reset.
    case counterReset
    case schemaChanged
    case zeroThresholdChanged
    /// Custom bucket boundaries (schema -53) changed; treated as a counter reset, as Prometheus does.
    case customBoundsChanged
    /// The chunk ends with a stale marker and this sample is not one.
    case staleMarkerEnded
    /// A gauge histogram after counter histograms or the other way round.
    case histogramKindChanged
    /// The histogram needs the other histogram encoding (float counts into an integer chunk, or
    /// integer counts into a float chunk).
    case encodingChanged
}

/// One sample of any chunk.
public enum ChunkSample: Sendable, Hashable {
    case float(FloatSample)
    case histogram(HistogramSample)

    public var timestamp: Int64 {
        switch self {
        case .float(let sample): sample.timestamp
        case .histogram(let sample): sample.timestamp
        }
    }
}

/// A validated chunk of any encoding, as it is persisted (`bytes` is the chunk data; the segment
/// file adds length, encoding byte and CRC-32C around it).
public struct Chunk: Sendable, Hashable, Sequence {
    public let encoding: ChunkEncoding
    public let bytes: [UInt8]
    public let sampleCount: Int
    /// First timestamp; `Int64.max` for an empty chunk.
    public let minTime: Int64
    /// Last timestamp; `Int64.min` for an empty chunk.
    public let maxTime: Int64

    /// Validates `bytes` completely as a chunk of `encoding`.
    public init(encoding: ChunkEncoding, bytes: [UInt8]) throws(ChunkError) {
        switch encoding {
        case .xor: self.init(try XORChunk(bytes: bytes))
        case .histogram: self.init(try HistogramChunk(bytes: bytes))
        case .floatHistogram: self.init(try FloatHistogramChunk(bytes: bytes))
        case .packedFloat: self.init(try PackedFloatChunk(bytes: bytes))
        }
    }

    /// Validates an encoding byte read from storage and then the bytes.
    public init(encodingByte: UInt8, bytes: [UInt8]) throws(ChunkError) {
        guard let encoding = ChunkEncoding(rawValue: encodingByte) else {
            throw ChunkError(.unknownEncoding, "unknown chunk encoding \(encodingByte)")
        }
        try self.init(encoding: encoding, bytes: bytes)
    }

    public init(_ chunk: XORChunk) {
        self.init(encoding: .xor, bytes: chunk.bytes, sampleCount: chunk.sampleCount, minTime: chunk.minTime, maxTime: chunk.maxTime)
    }

    public init(_ chunk: HistogramChunk) {
        self.init(
            encoding: .histogram, bytes: chunk.bytes, sampleCount: chunk.sampleCount, minTime: chunk.minTime, maxTime: chunk.maxTime)
    }

    public init(_ chunk: FloatHistogramChunk) {
        self.init(
            encoding: .floatHistogram, bytes: chunk.bytes, sampleCount: chunk.sampleCount, minTime: chunk.minTime,
            maxTime: chunk.maxTime)
    }

    public init(_ chunk: PackedFloatChunk) {
        self.init(
            encoding: .packedFloat, bytes: chunk.bytes, sampleCount: chunk.sampleCount, minTime: chunk.minTime, maxTime: chunk.maxTime)
    }

    /// A chunk whose bytes were validated when written (a block's chunk, behind its CRC).
    init(encoding: ChunkEncoding, bytes: [UInt8], sampleCount: Int, minTime: Int64, maxTime: Int64) {
        self.encoding = encoding
        self.bytes = bytes
        self.sampleCount = sampleCount
        self.minTime = minTime
        self.maxTime = maxTime
    }

    /// Whether any sample can lie in `minTime...maxTime` (inclusive bounds, as Prometheus queries).
    public func overlaps(minTime: Int64, maxTime: Int64) -> Bool {
        sampleCount > 0 && self.minTime <= maxTime && minTime <= self.maxTime
    }

    public var underestimatedCount: Int { sampleCount }

    public func makeIterator() -> ChunkIterator { ChunkIterator(encoding: encoding, bytes: bytes) }

    /// The typed chunks (already validated, so no re-validation happens).
    public var xorChunk: XORChunk? {
        encoding == .xor ? XORChunk(unchecked: bytes, sampleCount: sampleCount, minTime: minTime, maxTime: maxTime) : nil
    }

    public var histogramChunk: HistogramChunk? {
        encoding == .histogram
            ? HistogramChunk(unchecked: bytes, sampleCount: sampleCount, minTime: minTime, maxTime: maxTime) : nil
    }

    public var floatHistogramChunk: FloatHistogramChunk? {
        encoding == .floatHistogram
            ? FloatHistogramChunk(unchecked: bytes, sampleCount: sampleCount, minTime: minTime, maxTime: maxTime) : nil
    }
}

/// Iterates a chunk of any encoding, with `seek(to:)` as the typed iterators.
public struct ChunkIterator: IteratorProtocol, Sendable {
    private var xor: XORChunkIterator?
    private var histogram: HistogramChunkIterator?
    private var floatHistogram: FloatHistogramChunkIterator?
    private var packed: PackedFloatChunkIterator?

    /// Iterates bytes that need not have been validated; damage ends the iteration and sets `error`.
    public init(encoding: ChunkEncoding, bytes: [UInt8]) {
        switch encoding {
        case .xor: xor = XORChunkIterator(bytes)
        case .histogram: histogram = HistogramChunkIterator(bytes)
        case .floatHistogram: floatHistogram = FloatHistogramChunkIterator(bytes)
        case .packedFloat: packed = PackedFloatChunkIterator(bytes)
        }
    }

    public mutating func next() -> ChunkSample? {
        if xor != nil { return xor!.next().map(ChunkSample.float) }
        if packed != nil { return packed!.next().map(ChunkSample.float) }
        if histogram != nil { return histogram!.next().map(ChunkSample.histogram) }
        return floatHistogram!.next().map(ChunkSample.histogram)
    }

    public mutating func seek(to t: Int64) -> ChunkSample? {
        if xor != nil { return xor!.seek(to: t).map(ChunkSample.float) }
        if packed != nil { return packed!.seek(to: t).map(ChunkSample.float) }
        if histogram != nil { return histogram!.seek(to: t).map(ChunkSample.histogram) }
        return floatHistogram!.seek(to: t).map(ChunkSample.histogram)
    }

    public var error: ChunkError? { xor?.error ?? packed?.error ?? histogram?.error ?? floatHistogram?.error }
}
