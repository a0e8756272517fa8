import LoupeModel

/// A chunk of float samples in the Gorilla XOR encoding, byte for byte the Prometheus `XOR` chunk
/// (tsdb/docs/format/chunks.md):
///
/// ```
/// num_samples <uint16 BE> | ts_0 <varint> | v_0 <64 bits> | ts_1 - ts_0 <uvarint> | v_1 <varbit_xor>
///                         | ts_n dod <varbit_ts> | v_n <varbit_xor> ... | zero padding to a byte
/// ```
///
/// `varbit_ts` is `0` for a zero delta of deltas, else `10` + 14 bits, `110` + 17 bits, `1110` + 20 bits
/// or `1111` + 64 bits. `varbit_xor` is the Prometheus variant of Gorilla's value XOR (a reused
/// window needs only its meaningful bits; leading zeros are clamped to 31 to fit 5 bits).
///
/// Values keep their exact bit patterns (NaN payloads, the stale marker, -0.0). Timestamps are
/// strictly increasing within a chunk; arithmetic is modulo 2^64, so any Int64 span round-trips.
public struct XORChunk: Sendable, Hashable, Sequence {
    /// The sample count is a 16-bit header field.
    public static let maxSampleCount = Int(UInt16.max)

    /// The chunk data as persisted (without the encoding byte, length or checksum of the file framing).
    public let bytes: [UInt8]
    public let sampleCount: Int
    /// Timestamp of the first sample; `Int64.max` when the chunk is empty.
    public let minTime: Int64
    /// Timestamp of the last sample; `Int64.min` when the chunk is empty.
    public let maxTime: Int64

    /// Validates the bytes completely: header, every sample, strictly increasing timestamps, and
    /// nothing but zero padding after the last sample.
    public init(bytes: [UInt8]) throws(ChunkError) {
        guard bytes.count >= 2 else {
            throw ChunkError(.truncated, "XOR chunk of \(bytes.count) bytes has no 2-byte sample count", bitOffset: 0)
        }
        var decoder = XORDecoder(bytes)
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
        try decoder.reader.expectPaddingOnly()
        self.init(unchecked: bytes, sampleCount: decoder.total, minTime: first, maxTime: last)
    }

    init(unchecked bytes: [UInt8], sampleCount: Int, minTime: Int64, maxTime: Int64) {
        self.bytes = bytes
        self.sampleCount = sampleCount
        self.minTime = minTime
        self.maxTime = maxTime
    }

    /// An empty chunk (just the zero sample count).
    public static let empty = XORChunk(unchecked: [0, 0], sampleCount: 0, minTime: .max, maxTime: .min)

    public func makeIterator() -> XORChunkIterator { XORChunkIterator(bytes) }

    public var underestimatedCount: Int { sampleCount }

    /// All samples (the chunk is validated, so this cannot fail).
    public var samples: [FloatSample] { Array(self) }
}

/// Decoding state shared by the iterator, validation and appender resumption.
struct XORDecoder: Sendable {
    var reader: BitReader
    let total: Int
    var read = 0
    var t: Int64 = 0
    var tDelta: UInt64 = 0
    var value = XORState()
    /// Whether any value so far carried an explicit XOR window.
    var sawWindow = false

    init(_ bytes: [UInt8]) {
        self.init(bytes, sampleCount: bytes.count >= 2 ? Int(bytes[0]) << 8 | Int(bytes[1]) : 0)
    }

    /// Decodes `sampleCount` samples whatever the header says (an appender's bytes, whose
    /// header count is written only when the chunk is taken out).
    init(_ bytes: [UInt8], sampleCount: Int) {
        total = sampleCount
        reader = BitReader(bytes, byteOffset: 2)
    }

    /// Decodes `sampleCount` samples of an appender's bytes from `checkpoint` on: the first
    /// sample `advance` yields is the one the checkpoint was taken before.
    init(_ bytes: [UInt8], sampleCount: Int, from checkpoint: XORCheckpoint) {
        total = sampleCount
        let bitPosition = Int(checkpoint.bitPosition)
        reader = BitReader(bytes, byteOffset: bitPosition >> 3)
        // Within the bytes the appender wrote, so the read cannot fail.
        if bitPosition & 7 != 0 { _ = try? reader.readBits(bitPosition & 7) }
        read = Int(checkpoint.sampleCount)
        t = checkpoint.time
        tDelta = checkpoint.tDelta
        value = checkpoint.value
        sawWindow = checkpoint.sawWindow
    }

    mutating func advance() throws(ChunkError) -> Bool {
        if read == total { return false }
        if read >= 2 {
            let ones = try reader.readOnes(upTo: 4)
            let dod: Int64
            switch ones {
            case 0: dod = 0
            case 1: dod = Varbit.signed(try reader.readBits(14), 14)
            case 2: dod = Varbit.signed(try reader.readBits(17), 17)
            case 3: dod = Varbit.signed(try reader.readBits(20), 20)
            default: dod = Int64(bitPattern: try reader.readBits(64))
            }
            tDelta &+= UInt64(bitPattern: dod)
            t = Int64(bitPattern: UInt64(bitPattern: t) &+ tDelta)
            if try value.read(from: &reader) { sawWindow = true }
        } else if read == 1 {
            tDelta = try reader.readUVarint()
            t = Int64(bitPattern: UInt64(bitPattern: t) &+ tDelta)
            if try value.read(from: &reader) { sawWindow = true }
        } else {
            t = try reader.readVarint()
            value.bits = try reader.readBits(64)
        }
        read &+= 1
        return true
    }
}

/// Iterates an `XORChunk`. Also seeks forward, with Prometheus `Seek` semantics.
public struct XORChunkIterator: IteratorProtocol, Sendable {
    var decoder: XORDecoder
    /// The sample last returned by `next()` or `seek(to:)`; nil before the first and after the last.
    public private(set) var current: FloatSample?
    /// Set when the bytes turned out to be damaged (never for a chunk built by `XORChunk.init(bytes:)`).
    public private(set) var error: ChunkError?

    /// Iterates bytes that have not been validated; damage ends the iteration and sets `error`.
    public init(_ bytes: [UInt8]) {
        decoder = XORDecoder(bytes)
        if bytes.count < 2 { error = ChunkError(.truncated, "no 2-byte sample count", bitOffset: 0) }
    }

    /// Iterates the samples of an appender in place (see `XORChunkAppender.makeIterator`).
    init(appenderBytes bytes: [UInt8], sampleCount: Int) {
        decoder = XORDecoder(bytes, sampleCount: sampleCount)
        if bytes.count < 2 { error = ChunkError(.truncated, "no 2-byte sample count", bitOffset: 0) }
    }

    /// Iterates an appender's samples from a checkpoint on (see `XORChunkAppender.makeIterator(from:)`).
    init(appenderBytes bytes: [UInt8], sampleCount: Int, from checkpoint: XORCheckpoint) {
        decoder = XORDecoder(bytes, sampleCount: sampleCount, from: checkpoint)
    }

    public mutating func next() -> FloatSample? {
        do {
            if error == nil, try decoder.advance() {
                let sample = FloatSample(timestamp: decoder.t, value: Double(bitPattern: decoder.value.bits))
                current = sample
                return sample
            }
        } catch {
            self.error = error
        }
        current = nil
        return nil
    }

    /// Advances to the first sample at or after `t` and returns it; never moves backwards (if the
    /// current sample is already at or after `t`, returns it again). Nil when no such sample remains.
    public mutating func seek(to t: Int64) -> FloatSample? {
        if let current, current.timestamp >= t { return current }
        while let sample = next() {
            if sample.timestamp >= t { return sample }
        }
        return nil
    }
}

/// Appends float samples to a new (or resumed) XOR chunk.
public struct XORChunkAppender: Sendable {
    var writer: BitWriter
    public private(set) var sampleCount = 0
    /// Timestamp of the first sample; `Int64.max` while empty.
    public private(set) var minTime = Int64.max
    /// Timestamp of the last sample; `Int64.min` while empty.
    public private(set) var maxTime = Int64.min
    var tDelta: UInt64 = 0
    var value = XORState.appending(0)
    /// The decoder's state before sample `checkpointSample`, so that reading the newest samples
    /// of a long open chunk (an instant query's 5-minute window) need not decode it from the start.
    private(set) var checkpoint: XORCheckpoint?

    /// Where the checkpoint is taken: the middle of a head chunk (`HeadSeries.samplesPerChunk`).
    static let checkpointSample = 120

    /// No chunk: no samples and no memory. A head series keeps one while no float chunk is open
    /// (see `HeadSeries.openFloats`); it must be replaced by a new appender, not appended to.
    static var closed: XORChunkAppender { XORChunkAppender(writer: .unallocated) }

    private init(writer: BitWriter) {
        self.writer = writer
    }

    public init() {
        // About the first 30 samples of exporter data; the writer grows in small steps from there.
        writer = BitWriter(reservingBytes: 64)
        writer.write(0, bitCount: 16)
    }

    /// Continues appending to an existing chunk (for example one read back from disk).
    public init(resuming chunk: XORChunk) {
        var decoder = XORDecoder(chunk.bytes)
        // The chunk is validated, so decoding cannot fail.
        while (try? decoder.advance()) == true {}
        writer = BitWriter(bytes: chunk.bytes, bitCount: decoder.reader.bitPosition)
        sampleCount = chunk.sampleCount
        minTime = chunk.minTime
        maxTime = chunk.maxTime
        tDelta = decoder.tDelta
        value = decoder.value
        if !decoder.sawWindow { value.leading = 0xFF }
    }

    /// Size of the chunk bytes so far.
    public var byteCount: Int { writer.byteCount }

    /// Starts bringing in the memory the next `append` writes (see `BitWriter.prefetchNextWrite`).
    @inline(__always)
    mutating func prefetchNextAppend() { writer.prefetchNextWrite() }

    /// Appends a sample. Returns `.outOfOrder` (and changes nothing) unless `t` is after the last
    /// timestamp, `.full` at `XORChunk.maxSampleCount` samples.
    public mutating func append(_ t: Int64, _ v: Double) -> ChunkAppendResult {
        if sampleCount > 0 && t <= maxTime { return .outOfOrder }
        if sampleCount >= XORChunk.maxSampleCount { return .full }
        let bits = v.bitPattern
        if sampleCount >= 2 {
            let delta = UInt64(bitPattern: t) &- UInt64(bitPattern: maxTime)
            XORChunk.writeTimestampDod(Int64(bitPattern: delta &- tDelta), to: &writer)
            value.write(bits, to: &writer)
            tDelta = delta
        } else if sampleCount == 1 {
            let delta = UInt64(bitPattern: t) &- UInt64(bitPattern: maxTime)
            writer.writeUVarint(delta)
            value.write(bits, to: &writer)
            tDelta = delta
        } else {
            writer.writeVarint(t)
            writer.write(bits, bitCount: 64)
            value = .appending(bits)
            minTime = t
        }
        maxTime = t
        sampleCount &+= 1
        if sampleCount == Self.checkpointSample {
            // The state a decoder has after this sample: before the first explicit window the
            // appender's window is a 0xFF marker, the decoder's simply unset.
            let sawWindow = value.leading != 0xFF
            checkpoint = XORCheckpoint(
                bitPosition: UInt32(truncatingIfNeeded: writer.bitCount), sampleCount: UInt16(truncatingIfNeeded: sampleCount), time: t,
                tDelta: tDelta, value: sawWindow ? value : XORState(bits: value.bits), sawWindow: sawWindow)
        }
        return .appended
    }

    public mutating func append(_ sample: FloatSample) -> ChunkAppendResult {
        append(sample.timestamp, sample.value)
    }

    /// Iterates the samples appended so far without copying the bytes out (`chunk` copies them
    /// to write the sample count into the header).
    public func makeIterator() -> XORChunkIterator {
        XORChunkIterator(appenderBytes: writer.storage, sampleCount: sampleCount)
    }

    /// An iterator for samples at or after `minTime`: it starts at the checkpoint when every
    /// sample before the checkpoint is older than `minTime`, else at the first sample.
    func makeIterator(from minTime: Int64) -> XORChunkIterator {
        if let checkpoint, checkpoint.time < minTime {
            return XORChunkIterator(appenderBytes: writer.storage, sampleCount: sampleCount, from: checkpoint)
        }
        return makeIterator()
    }

    /// The chunk as it stands (a copy of the bytes with the sample count filled in).
    public var chunk: XORChunk {
        var bytes = writer.bytes
        bytes[0] = UInt8(truncatingIfNeeded: sampleCount >> 8)
        bytes[1] = UInt8(truncatingIfNeeded: sampleCount)
        return XORChunk(unchecked: bytes, sampleCount: sampleCount, minTime: minTime, maxTime: maxTime)
    }
}

extension XORChunk {
    /// `<varbit_ts>`: 0 | 10 + 14 bits | 110 + 17 bits | 1110 + 20 bits | 1111 + 64 bits.
    @inline(__always)
    static func writeTimestampDod(_ dod: Int64, to writer: inout BitWriter) {
        let raw = UInt64(bitPattern: dod)
        if dod == 0 {
            writer.write(0, bitCount: 1)
        } else if Varbit.fits(dod, 14) {
            writer.write((0b10 << 14) | (raw & 0x3FFF), bitCount: 16)
        } else if Varbit.fits(dod, 17) {
            writer.write((0b110 << 17) | (raw & 0x1_FFFF), bitCount: 20)
        } else if Varbit.fits(dod, 20) {
            writer.write((0b1110 << 20) | (raw & 0xF_FFFF), bitCount: 24)
        } else {
            writer.write(0b1111, bitCount: 4)
            writer.write(raw, bitCount: 64)
        }
    }
}
