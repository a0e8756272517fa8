import LoupeModel

/// Loupe's float chunk for blocks: timestamps and values as `PackedIntegers`, values first turned
/// into integers where they are decimals (`m / 10^p`, as exporters print them: CPU seconds in
/// 1/100 s ticks, bytes, pages, load averages), otherwise taken as raw IEEE-754 bits.
///
/// Blocks are immutable, so unlike the head's XOR chunks these need no appender: the whole chunk is
/// planned at once, with the cheapest of several encodings per section. On node-exporter-like data
/// this takes well under half the bytes of Prometheus's XOR chunks (see docs/benchmarks.md).
///
/// Layout (a `BitWriter` stream, zero padding to a whole byte):
/// - uvarint sample count (≥ 1);
/// - timestamps: `PackedIntegers` (strictly increasing);
/// - byte value kind: 0 = raw bits (every value's bit pattern as an Int64), 1 = decimal;
/// - decimal only: byte `p` (0...15), uvarint count of raw values, then per raw value a uvarint
///   gap from the previous raw value's sample index (+1 after the first) and its 64 raw bits
///   (NaN, stale markers, infinities, -0 and values with more decimals than `p`);
/// - `PackedIntegers` of the remaining values' integers (mantissas, or bit patterns).
public struct PackedFloatChunk: Sendable, Hashable, Sequence {
    public let bytes: [UInt8]
    public let sampleCount: Int
    public let minTime: Int64
    public let maxTime: Int64

    /// The most samples one packed chunk holds.
    public static let maximumSamples = 4096
    /// Decimal places tried for values (10^15 is the largest power of ten below 2^53).
    static let maximumDecimalPlaces = 15
    static let powersOfTen: [Double] = (0...22).map { exponent in
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// Packs `samples` (timestamps strictly increasing, 1...`maximumSamples` of them).
    public init(samples: [FloatSample]) {
        precondition(!samples.isEmpty && samples.count <= Self.maximumSamples, "a packed chunk holds 1...\(Self.maximumSamples) samples")
        var writer = BitWriter(reservingBytes: samples.count * 2 + 32)
        writer.writeUVarint(UInt64(samples.count))
        PackedIntegers.write(samples.map(\.timestamp), to: &writer)
        Self.writeValues(samples.map(\.value), to: &writer)
        self.init(unchecked: writer.bytes, sampleCount: samples.count, minTime: samples[0].timestamp, maxTime: samples[samples.count - 1].timestamp)
    }

    /// `samples` (timestamps strictly increasing) in as few chunks of at most `maximumSamples` as
    /// possible, split evenly so no chunk is left with a short tail.
    public static func chunks(packing samples: [FloatSample], maximumSamples: Int) -> [PackedFloatChunk] {
        precondition(maximumSamples >= 1 && maximumSamples <= Self.maximumSamples)
        let pieces = (samples.count + maximumSamples - 1) / maximumSamples
        return (0..<pieces).map { piece in
            PackedFloatChunk(samples: Array(samples[(piece * samples.count / pieces)..<((piece + 1) * samples.count / pieces)]))
        }
    }

    /// Validates `bytes` completely.
    public init(bytes: [UInt8]) throws(ChunkError) {
        let decoded = try Self.decode(bytes)
        self.init(unchecked: bytes, sampleCount: decoded.timestamps.count, minTime: decoded.timestamps[0], maxTime: decoded.timestamps[decoded.timestamps.count - 1])
    }

    init(unchecked bytes: [UInt8], sampleCount: Int, minTime: Int64, maxTime: Int64) {
        self.bytes = bytes
        self.sampleCount = sampleCount
        self.minTime = minTime
        self.maxTime = maxTime
    }

    public func makeIterator() -> PackedFloatChunkIterator { PackedFloatChunkIterator(bytes) }

    // MARK: Values

    private static func writeValues(_ values: [Double], to writer: inout BitWriter) {
        var decimal: BitWriter?
        var decimalWidth = 64
        if let places = decimalPlaces(values) {
            var decimalWriter = BitWriter(reservingBytes: values.count * 2 + 32)
            decimalWriter.writeByte(1)
            decimalWriter.writeByte(UInt8(places))
            var mantissas: [Int64] = []
            mantissas.reserveCapacity(values.count)
            var rawIndices: [Int] = []
            for (index, value) in values.enumerated() {
                if let mantissa = mantissa(value, places: places) {
                    mantissas.append(mantissa)
                } else {
                    rawIndices.append(index)
                }
            }
            decimalWriter.writeUVarint(UInt64(rawIndices.count))
            var previous = -1
            for index in rawIndices {
                decimalWriter.writeUVarint(UInt64(index - previous - 1))
                decimalWriter.write(values[index].bitPattern, bitCount: 64)
                previous = index
            }
            decimalWidth = PackedIntegers.write(mantissas, to: &decimalWriter)
            decimalWidth += rawIndices.count * 64 / Swift.max(1, values.count)
            decimal = decimalWriter
        }
        // Raw bits only beat decimals that are nearly full-width themselves.
        if let decimal, decimalWidth <= 24 {
            writer.append(decimal)
            return
        }
        var rawWriter = BitWriter(reservingBytes: values.count * 8 + 32)
        rawWriter.writeByte(0)
        PackedIntegers.write(values.map { Int64(bitPattern: $0.bitPattern) }, to: &rawWriter)
        if let decimal, decimal.bitCount <= rawWriter.bitCount {
            writer.append(decimal)
        } else {
            writer.append(rawWriter)
        }
    }

    /// The decimal places that make most values exact integers once scaled: the largest any
    /// value needs, or nil when fewer than half the values are decimals at all.
    static func decimalPlaces(_ values: [Double]) -> Int? {
        var places = 0
        var decimals = 0
        for value in values {
            if mantissa(value, places: places) != nil {
                decimals += 1
                continue
            }
            var found = false
            var candidate = places + 1
            while candidate <= maximumDecimalPlaces {
                if mantissa(value, places: candidate) != nil {
                    found = true
                    break
                }
                candidate += 1
            }
            if found {
                places = candidate
                decimals += 1
            }
        }
        return decimals * 2 >= values.count ? places : nil
    }

    /// `value` as an integer `m` with `Double(m) / 10^places == value` bit for bit, or nil.
    @inline(__always)
    static func mantissa(_ value: Double, places: Int) -> Int64? {
        guard value.isFinite, !(value == 0 && value.sign == .minus) else { return nil }
        let scaled = (value * powersOfTen[places]).rounded()
        guard abs(scaled) <= 9_007_199_254_740_992 else { return nil }
        let mantissa = Int64(scaled)
        return decimalValue(mantissa, places: places).bitPattern == value.bitPattern ? mantissa : nil
    }

    @inline(__always)
    static func decimalValue(_ mantissa: Int64, places: Int) -> Double {
        places == 0 ? Double(mantissa) : Double(mantissa) / powersOfTen[places]
    }

    // MARK: Decoding

    /// Every sample, validated: count, sections, strictly increasing timestamps, padding.
    static func decode(_ bytes: [UInt8]) throws(ChunkError) -> (timestamps: [Int64], values: [Double]) {
        var reader = BitReader(bytes)
        let count = try reader.readUVarint()
        guard count >= 1, count <= UInt64(maximumSamples) else {
            throw ChunkError(.malformed, "packed chunk of \(count) samples (1...\(maximumSamples))", bitOffset: 0)
        }
        let sampleCount = Int(count)
        var timestamps: [Int64] = []
        timestamps.reserveCapacity(sampleCount)
        try PackedIntegers.read(count: sampleCount, from: &reader, into: &timestamps)
        for index in timestamps.indices.dropFirst() where timestamps[index] <= timestamps[index - 1] {
            throw ChunkError(.malformed, "timestamps not increasing at sample \(index)", bitOffset: nil)
        }
        var values: [Double] = []
        values.reserveCapacity(sampleCount)
        let kindOffset = reader.bitPosition
        switch try reader.readByte() {
        case 0:
            var integers: [Int64] = []
            integers.reserveCapacity(sampleCount)
            try PackedIntegers.read(count: sampleCount, from: &reader, into: &integers)
            for integer in integers { values.append(Double(bitPattern: UInt64(bitPattern: integer))) }
        case 1:
            let places = Int(try reader.readByte())
            guard places <= maximumDecimalPlaces else {
                throw ChunkError(.malformed, "\(places) decimal places (at most \(maximumDecimalPlaces))", bitOffset: kindOffset)
            }
            let rawCount = try reader.readUVarint()
            guard rawCount <= count else { throw ChunkError(.malformed, "\(rawCount) raw values for \(count) samples", bitOffset: kindOffset) }
            var rawIndices: [Int] = []
            var rawValues: [Double] = []
            var previous = -1
            for _ in 0..<Int(rawCount) {
                let gap = try reader.readUVarint()
                guard gap < count, previous + 1 + Int(gap) < sampleCount else {
                    throw ChunkError(.malformed, "raw value index out of range", bitOffset: reader.bitPosition)
                }
                previous += 1 + Int(gap)
                rawIndices.append(previous)
                rawValues.append(Double(bitPattern: try reader.readBits(64)))
            }
            var mantissas: [Int64] = []
            mantissas.reserveCapacity(sampleCount - rawIndices.count)
            try PackedIntegers.read(count: sampleCount - rawIndices.count, from: &reader, into: &mantissas)
            var rawCursor = 0
            var mantissaCursor = 0
            for index in 0..<sampleCount {
                if rawCursor < rawIndices.count, rawIndices[rawCursor] == index {
                    values.append(rawValues[rawCursor])
                    rawCursor += 1
                } else {
                    values.append(decimalValue(mantissas[mantissaCursor], places: places))
                    mantissaCursor += 1
                }
            }
        case let kind:
            throw ChunkError(.malformed, "unknown value kind \(kind)", bitOffset: kindOffset)
        }
        try reader.expectPaddingOnly()
        return (timestamps, values)
    }
}

/// Iterates a packed chunk: the first `next` or `seek` decodes all of it (at most 4,096 samples).
public struct PackedFloatChunkIterator: IteratorProtocol, Sendable {
    private let bytes: [UInt8]
    private var timestamps: [Int64] = []
    private var values: [Double] = []
    private var position = 0
    private var decoded = false
    /// Set when the bytes turned out to be damaged (never for a chunk built by `init(bytes:)`).
    public private(set) var error: ChunkError?

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    private mutating func decodeOnce() {
        if decoded { return }
        decoded = true
        do throws(ChunkError) {
            (timestamps, values) = try PackedFloatChunk.decode(bytes)
        } catch {
            self.error = error
        }
    }

    public mutating func next() -> FloatSample? {
        decodeOnce()
        guard position < timestamps.count else {
            position = timestamps.count + 1
            return nil
        }
        defer { position += 1 }
        return FloatSample(timestamp: timestamps[position], value: values[position])
    }

    /// Advances to the first sample at or after `t` and returns it; never moves backwards (if the
    /// current sample is already at or after `t`, returns it again), as `XORChunkIterator.seek`.
    public mutating func seek(to t: Int64) -> FloatSample? {
        decodeOnce()
        if position > 0, position <= timestamps.count, timestamps[position - 1] >= t {
            return FloatSample(timestamp: timestamps[position - 1], value: values[position - 1])
        }
        var low = position
        var high = timestamps.count
        while low < high {
            let middle = (low + high) / 2
            if timestamps[middle] < t { low = middle + 1 } else { high = middle }
        }
        position = low
        return next()
    }
}

extension Chunk {
    /// `xor`'s samples as a packed chunk, or `xor` itself when packing does not make it smaller.
    public init(packing xor: XORChunk) {
        var samples: [FloatSample] = []
        samples.reserveCapacity(xor.sampleCount)
        for sample in xor { samples.append(sample) }
        guard !samples.isEmpty, samples.count <= PackedFloatChunk.maximumSamples else {
            self.init(xor)
            return
        }
        let packed = PackedFloatChunk(samples: samples)
        if packed.bytes.count < xor.bytes.count { self.init(packed) } else { self.init(xor) }
    }
}

extension BitWriter {
    /// Appends every bit `other` wrote.
    mutating func append(_ other: BitWriter) {
        let whole = other.bitCount / 8
        for index in 0..<whole { writeByte(other.storage[index]) }
        let rest = other.bitCount & 7
        if rest > 0 { write(UInt64(other.storage[whole] >> UInt8(8 - rest)), bitCount: rest) }
    }
}
