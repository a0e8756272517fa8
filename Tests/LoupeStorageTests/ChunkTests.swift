import LoupeModel
import LoupeStorage
import Testing

// MARK: - Helpers shared with ChunkFuzzTests

/// Test helpers for the TSDB chunk encodings.
enum ChunkTestSupport {
    /// SplitMix64: reproducible randomness.
    struct Random: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let start: Int64 = 1_700_000_000_000

    /// Appends all samples to one chunk (each must be accepted).
    static func xorChunk(_ samples: [FloatSample]) -> XORChunk {
        var appender = XORChunkAppender()
        for sample in samples {
            let result = appender.append(sample)
            precondition(result == .appended, "sample \(sample) gave \(result)")
        }
        return appender.chunk
    }

    /// Samples compared by timestamp and exact value bits.
    static func bits(_ samples: some Sequence<FloatSample>) -> [[UInt64]] {
        samples.map { [UInt64(bitPattern: $0.timestamp), $0.value.bitPattern] }
    }

    /// Counter increasing by 0...10 every 15 s.
    static func counter(_ count: Int, from value: Double = 1_234_567, seed: UInt64 = 1) -> [FloatSample] {
        var random = Random(state: seed)
        var current = value
        return (0..<count).map { index in
            current += Double(Int.random(in: 0...10, using: &random))
            return FloatSample(timestamp: start + Int64(index) * 15_000, value: current)
        }
    }

    /// Gauge doing a random walk of uniform(-1, 1) steps (full-precision floats) every 15 s.
    static func floatWalk(_ count: Int, seed: UInt64 = 2) -> [FloatSample] {
        var random = Random(state: seed)
        var current = 50.0
        return (0..<count).map { index in
            current += Double.random(in: -1...1, using: &random)
            return FloatSample(timestamp: start + Int64(index) * 15_000, value: current)
        }
    }

    /// Gauge doing a random walk in whole 4 KiB pages (memory in bytes) every 15 s.
    static func integerWalk(_ count: Int, seed: UInt64 = 3) -> [FloatSample] {
        var random = Random(state: seed)
        var current = 500_000_000.0
        return (0..<count).map { index in
            current += Double(Int.random(in: -8...8, using: &random) * 4096)
            return FloatSample(timestamp: start + Int64(index) * 15_000, value: current)
        }
    }

    static func constant(_ count: Int) -> [FloatSample] {
        (0..<count).map { FloatSample(timestamp: start + Int64($0) * 15_000, value: 42) }
    }

    /// A histogram's buckets as absolute bucket index → count, without empty buckets: equal for
    /// histograms that differ only in how many empty buckets their layout lists.
    static func bucketMap(_ spans: [NativeHistogram.BucketSpan], _ counts: [Double]) -> [Int: UInt64] {
        var map: [Int: UInt64] = [:]
        var index = 0
        var position = 0
        for span in spans {
            index += Int(span.offset)
            for _ in 0..<Int(span.length) {
                if position < counts.count, counts[position] != 0 { map[index] = counts[position].bitPattern }
                index += 1
                position += 1
            }
        }
        return map
    }

    /// Everything a histogram chunk must reproduce exactly, with the layout compared as bucket maps
    /// and the counter-reset hint left out (it is derived on read).
    struct HistogramContent: Hashable, CustomStringConvertible {
        var schema: Int32
        var zeroThreshold: UInt64
        var zeroCount: UInt64
        var count: UInt64
        var sum: UInt64
        var positive: [Int: UInt64]
        var negative: [Int: UInt64]
        var customValues: [UInt64]
        var isIntegerCounts: Bool

        init(_ h: NativeHistogram) {
            schema = h.schema
            zeroThreshold = h.zeroThreshold.bitPattern
            zeroCount = h.zeroCount.bitPattern
            count = h.count.bitPattern
            sum = h.sum.bitPattern
            positive = ChunkTestSupport.bucketMap(h.positiveSpans, h.positiveBuckets)
            negative = ChunkTestSupport.bucketMap(h.negativeSpans, h.negativeBuckets)
            customValues = h.customValues.map(\.bitPattern)
            isIntegerCounts = h.isIntegerCounts
        }

        var description: String {
            let counts = "count \(Double(bitPattern: count)) zero \(Double(bitPattern: zeroCount)) sum \(Double(bitPattern: sum))"
            let buckets = "+\(positive.mapValues { Double(bitPattern: $0) }) -\(negative.mapValues { Double(bitPattern: $0) })"
            return "schema \(schema) \(counts) \(buckets)"
        }
    }

    /// Packs a string of "0"/"1" (other characters ignored) into bytes, zero-padding the last one.
    static func pack(_ bits: String) -> [UInt8] {
        var out: [UInt8] = []
        var current: UInt8 = 0
        var used = 0
        for character in bits where character == "0" || character == "1" {
            current = current << 1 | (character == "1" ? 1 : 0)
            used += 1
            if used == 8 {
                out.append(current)
                current = 0
                used = 0
            }
        }
        if used > 0 { out.append(current << UInt8(8 - used)) }
        return out
    }

    /// `width` binary digits of `value`.
    static func binary(_ value: UInt64, _ width: Int) -> String {
        (0..<width).map { (value >> UInt64(width - 1 - $0)) & 1 == 1 ? "1" : "0" }.joined()
    }

    static func span(_ offset: Int32, _ length: UInt32) -> NativeHistogram.BucketSpan {
        NativeHistogram.BucketSpan(offset: offset, length: length)
    }

    /// An integer histogram with positive buckets `counts` laid out by `spans`.
    static func histogram(
        count: Double? = nil, zeroCount: Double = 0, sum: Double = 1.5, spans: [NativeHistogram.BucketSpan], buckets: [Double],
        negativeSpans: [NativeHistogram.BucketSpan] = [], negativeBuckets: [Double] = [], schema: Int32 = 0,
        zeroThreshold: Double = 0x1p-128, hint: NativeHistogram.CounterResetHint = .unknown, integer: Bool = true,
        customValues: [Double] = []
    ) -> NativeHistogram {
        NativeHistogram(
            counterResetHint: hint, schema: schema, zeroThreshold: zeroThreshold, zeroCount: zeroCount,
            count: count ?? (buckets.reduce(0, +) + negativeBuckets.reduce(0, +) + zeroCount), sum: sum,
            positiveSpans: spans, positiveBuckets: buckets, negativeSpans: negativeSpans, negativeBuckets: negativeBuckets,
            customValues: customValues, isIntegerCounts: integer)
    }

    /// A histogram appender of either kind behind one interface.
    enum AnyHistogramAppender {
        case integer(HistogramChunkAppender)
        case float(FloatHistogramChunkAppender)

        init(_ encoding: ChunkEncoding, header: CounterResetHeader = .unknown) {
            self =
                encoding == .histogram
                ? .integer(HistogramChunkAppender(header: header)) : .float(FloatHistogramChunkAppender(header: header))
        }

        mutating func append(_ t: Int64, _ h: NativeHistogram) -> ChunkAppendResult {
            switch self {
            case .integer(var appender):
                let result = appender.append(t, h)
                self = .integer(appender)
                return result
            case .float(var appender):
                let result = appender.append(t, h)
                self = .float(appender)
                return result
            }
        }

        var chunk: Chunk {
            switch self {
            case .integer(let appender): Chunk(appender.chunk)
            case .float(let appender): Chunk(appender.chunk)
            }
        }

        var header: CounterResetHeader {
            switch self {
            case .integer(let appender): appender.counterResetHeader
            case .float(let appender): appender.counterResetHeader
            }
        }
    }

    static func histograms(of chunk: Chunk) -> [HistogramSample] {
        chunk.compactMap { sample in
            if case .histogram(let h) = sample { return h }
            return nil
        }
    }
}

private typealias Support = ChunkTestSupport

// MARK: - Bit stream

@Suite("Chunk bit stream")
struct BitStreamTests {
    @Test func randomWidthsRoundTrip() throws {
        var random = Support.Random(state: 11)
        var writer = BitWriter(reservingBytes: 1)
        var expected: [(UInt64, Int)] = []
        for _ in 0..<20_000 {
            let width = Int(random.next() % 65)
            let value = random.next()
            writer.write(value, bitCount: width)
            expected.append((width == 64 ? value : value & ((1 << UInt64(width)) - 1), width))
        }
        #expect(writer.byteCount == (expected.reduce(0) { $0 + $1.1 } + 7) / 8)
        var reader = BitReader(writer.bytes)
        for (value, width) in expected {
            #expect(try reader.readBits(width) == value)
        }
        #expect(reader.remainingBits < 8)
    }

    @Test func readingPastTheEndThrowsTruncatedAndConsumesNothing() throws {
        var reader = BitReader([0xAB, 0xCD, 0xEF])
        #expect(try reader.readBits(4) == 0xA)
        #expect(throws: ChunkError.self) { try reader.readBits(21) }
        #expect(reader.bitPosition == 4)
        do throws(ChunkError) {
            _ = try reader.readBits(64)
            Issue.record("expected truncation")
        } catch {
            #expect(error.kind == .truncated)
            #expect(error.bitOffset == 4)
        }
        #expect(try reader.readBits(20) == 0xBCDEF)
        #expect(throws: ChunkError.self) { try reader.readBit() }
        #expect(throws: ChunkError.self) { try reader.readOnes(upTo: 8) }
        var empty = BitReader([])
        #expect(throws: ChunkError.self) { try empty.readByte() }
        #expect(try empty.readBits(0) == 0)
    }

    @Test func writerResumesMidByte() {
        var first = BitWriter()
        first.write(0b101, bitCount: 3)
        var resumed = BitWriter(bytes: first.bytes + [0xFF], bitCount: 3)
        resumed.write(0b11111, bitCount: 5)
        resumed.write(0x1234, bitCount: 16)
        #expect(resumed.bytes == [0b1011_1111, 0x12, 0x34])
    }

    @Test func varintsMatchGoEncoding() throws {
        var writer = BitWriter()
        let signed: [Int64] = [0, -1, 1, 63, -64, 64, Int64.max, Int64.min, 1_700_000_000_000]
        let unsigned: [UInt64] = [0, 127, 128, 300, UInt64.max]
        for value in signed { writer.writeVarint(value) }
        for value in unsigned { writer.writeUVarint(value) }
        var reader = BitReader(writer.bytes)
        for value in signed { #expect(try reader.readVarint() == value) }
        for value in unsigned { #expect(try reader.readUVarint() == value) }

        var golden = BitWriter()
        golden.writeUVarint(300)
        golden.writeVarint(-3)
        #expect(golden.bytes == [0xAC, 0x02, 0x05])

        var overflow = BitReader([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02])
        #expect(throws: ChunkError.self) { try overflow.readUVarint() }
        var eleven = BitReader([UInt8](repeating: 0x80, count: 11))
        #expect(throws: ChunkError.self) { try eleven.readUVarint() }
    }

    @Test func varbitBucketBoundaries() throws {
        var values: [Int64] = [0, Int64.max, Int64.min, Int64.max - 1, Int64.min + 1]
        for width in [3, 6, 9, 12, 18, 25, 56] {
            let half = Int64(1) << Int64(width - 1)
            values += [half, half + 1, -(half - 1), -half, half - 1, -(half - 2)]
        }
        var writer = BitWriter()
        for value in values { writer.writeVarbitInt(value) }
        for value in values { writer.writeVarbitUInt(UInt64(bitPattern: value)) }
        var reader = BitReader(writer.bytes)
        for value in values { #expect(try reader.readVarbitInt() == value) }
        for value in values { #expect(try reader.readVarbitUInt() == UInt64(bitPattern: value)) }

        // Sizes: 0 → 1 bit, 4 → 5 bits ("10" + 3), -3 → 5 bits, 5 → 9 bits ("110" + 6).
        var sized = BitWriter()
        sized.writeVarbitInt(0)
        #expect(sized.bitCount == 1)
        sized.writeVarbitInt(4)
        #expect(sized.bitCount == 6)
        sized.writeVarbitInt(-3)
        #expect(sized.bitCount == 11)
        sized.writeVarbitInt(5)
        #expect(sized.bitCount == 20)
    }
}

// MARK: - XOR chunks

@Suite("XOR chunk")
struct XORChunkTests {
    static let specialValues: [Double] = [
        0, -0.0, 1, -1, .infinity, -.infinity, .nan, -.nan, StaleMarker.value, Double(bitPattern: 0x7FF8_0000_DEAD_BEEF),
        Double(bitPattern: 0x7FF0_0000_0000_0001), .leastNonzeroMagnitude, .greatestFiniteMagnitude, -.leastNormalMagnitude,
        .pi, 1e300, -1e-300,
    ]

    static func checkRoundTrip(_ samples: [FloatSample], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let chunk = Support.xorChunk(samples)
        #expect(chunk.sampleCount == samples.count, sourceLocation: sourceLocation)
        #expect(Support.bits(chunk) == Support.bits(samples), sourceLocation: sourceLocation)
        if let first = samples.first, let last = samples.last {
            #expect(chunk.minTime == first.timestamp && chunk.maxTime == last.timestamp, sourceLocation: sourceLocation)
        }
        // Validation of the persisted bytes accepts them and sees the same thing.
        let reread = try XORChunk(bytes: chunk.bytes)
        #expect(reread == chunk, sourceLocation: sourceLocation)
        let erased = try Chunk(encodingByte: 1, bytes: chunk.bytes)
        #expect(erased.encoding == .xor && erased.sampleCount == samples.count, sourceLocation: sourceLocation)
        #expect(
            Support.bits(erased.compactMap { if case .float(let s) = $0 { s } else { nil } }) == Support.bits(samples),
            sourceLocation: sourceLocation)
        // The optimized encoding holds the same samples in no more bytes, and validates.
        let optimized = chunk.optimized()
        #expect(optimized.bytes.count <= chunk.bytes.count, sourceLocation: sourceLocation)
        #expect(Support.bits(try XORChunk(bytes: optimized.bytes)) == Support.bits(samples), sourceLocation: sourceLocation)
        // Resuming halfway produces the same bytes as appending in one go.
        let half = samples.count / 2
        var resumed = XORChunkAppender(resuming: Support.xorChunk(Array(samples[..<half])))
        for sample in samples[half...] { #expect(resumed.append(sample) == .appended, sourceLocation: sourceLocation) }
        #expect(resumed.chunk == chunk, sourceLocation: sourceLocation)
        // Resuming an optimized chunk continues greedily and stays readable.
        var resumedOptimized = XORChunkAppender(resuming: Support.xorChunk(Array(samples[..<half])).optimized())
        for sample in samples[half...] { #expect(resumedOptimized.append(sample) == .appended, sourceLocation: sourceLocation) }
        #expect(Support.bits(try XORChunk(bytes: resumedOptimized.chunk.bytes)) == Support.bits(samples), sourceLocation: sourceLocation)
    }

    @Test func regularCounterOf120And1000And5000Samples() throws {
        for count in [1, 2, 3, 120, 1000, 5000] { try Self.checkRoundTrip(Support.counter(count)) }
    }

    @Test func irregularIntervals() throws {
        var random = Support.Random(state: 5)
        var t: Int64 = -5_000_000
        var samples: [FloatSample] = []
        for _ in 0..<1500 {
            // Jitter of every size class: 0 dod, 14-, 17-, 20-bit and 64-bit delta of deltas.
            let step: Int64 = [1, 15_000, 15_001, 14_990, 60_000, 120_000, 1_000_000, 5_000_000_000][Int(random.next() % 8)]
            t += step
            samples.append(FloatSample(timestamp: t, value: Double(Int(random.next() % 7))))
        }
        try Self.checkRoundTrip(samples)
    }

    @Test func extremeAndNegativeTimestamps() throws {
        try Self.checkRoundTrip([
            FloatSample(timestamp: .min, value: 1), FloatSample(timestamp: .min + 1, value: 2), FloatSample(timestamp: -1, value: 3),
            FloatSample(timestamp: 0, value: 4), FloatSample(timestamp: .max - 1, value: 5), FloatSample(timestamp: .max, value: 6),
        ])
        try Self.checkRoundTrip([FloatSample(timestamp: .min, value: 1), FloatSample(timestamp: .max, value: 2)])
        try Self.checkRoundTrip((0..<300).map { FloatSample(timestamp: -1_000_000 + Int64($0) * 7, value: -Double($0)) })
    }

    @Test func specialValuesKeepTheirBits() throws {
        var samples: [FloatSample] = []
        var t: Int64 = 1000
        for value in Self.specialValues + Self.specialValues.reversed() + Array(repeating: StaleMarker.value, count: 5) {
            t += 15_000
            samples.append(FloatSample(timestamp: t, value: value))
        }
        try Self.checkRoundTrip(samples)
        let chunk = Support.xorChunk(samples)
        #expect(chunk.map(\.value).filter(StaleMarker.isStale).count == 7)
        #expect(chunk.first { $0.value == 0 && $0.value.sign == .minus } != nil)
    }

    @Test func equalValuesCostOneBitEach() {
        let chunk = Support.xorChunk(Support.constant(1000))
        // 2 count + 6 varint ts + 8 value + 2 uvarint delta, then 2 bits per sample.
        #expect(chunk.bytes.count == 18 + (998 * 2 + 1 + 7) / 8)
    }

    /// The exact bytes, built by hand from the format description.
    @Test func goldenBytes() {
        var appender = XORChunkAppender()
        #expect(appender.append(1, 1.0) == .appended)
        #expect(appender.append(3, 1.0) == .appended)
        #expect(appender.append(5, 1.0) == .appended)
        #expect(appender.append(8, 2.0) == .appended)  // dod 1; XOR 0x7FF0000000000000: 1 leading, 52 trailing, 11 bits
        #expect(appender.append(11, 3.0) == .appended)  // dod 0; XOR 0x0008000000000000: 12 leading, 51 trailing
        #expect(appender.append(14, 2.0) == .appended)  // dod 0; the same XOR fits that window
        var bits = "0"  // t=3: value equal
        bits += "0" + "0"  // t=5: dod 0; value equal
        bits += "10" + "00000000000001"  // t=8: dod 1 in 14 bits
        bits += "11" + "00001" + "001011" + "11111111111"  // new window: 1 leading zero, 11 bits
        bits += "0" + "11" + "01100" + "000001" + "1"  // t=11: trailing 51 < 52: new window of 1 bit
        bits += "0" + "10" + "1"  // t=14: reuse
        while bits.count % 8 != 0 { bits += "0" }
        var tail: [UInt8] = []
        var index = bits.startIndex
        while index != bits.endIndex {
            let next = bits.index(index, offsetBy: 8)
            tail.append(UInt8(bits[index..<next], radix: 2)!)
            index = next
        }
        let expected: [UInt8] = [0x00, 0x06, 0x02, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0, 0x02] + tail
        #expect(appender.chunk.bytes == expected)
    }

    @Test func outOfOrderAndDuplicateTimestampsAreRejectedWithoutChange() {
        var appender = XORChunkAppender()
        #expect(appender.append(1000, 1) == .appended)
        #expect(appender.append(2000, 2) == .appended)
        let before = appender.chunk
        #expect(appender.append(2000, 3) == .outOfOrder)
        #expect(appender.append(1500, 3) == .outOfOrder)
        #expect(appender.append(.min, 3) == .outOfOrder)
        #expect(appender.chunk == before)
        #expect(appender.append(2001, 3) == .appended)
        #expect(appender.chunk.samples.map(\.timestamp) == [1000, 2000, 2001])
    }

    @Test func fullAt65535Samples() {
        var appender = XORChunkAppender()
        for index in 0..<XORChunk.maxSampleCount { _ = appender.append(Int64(index), 1) }
        #expect(appender.sampleCount == 65_535)
        #expect(appender.append(70_000, 1) == .full)
        #expect(appender.chunk.bytes[0...1] == [0xFF, 0xFF])
        #expect(appender.chunk.samples.count == 65_535)
    }

    @Test func seekSemantics() {
        let chunk = Support.xorChunk((1...10).map { FloatSample(timestamp: Int64($0) * 10, value: Double($0)) })
        var iterator = chunk.makeIterator()
        #expect(iterator.seek(to: -100)?.timestamp == 10)
        #expect(iterator.seek(to: 10)?.timestamp == 10)  // stays on the current sample
        #expect(iterator.seek(to: 35)?.timestamp == 40)
        #expect(iterator.seek(to: 40)?.timestamp == 40)
        #expect(iterator.seek(to: 0)?.timestamp == 40)  // never moves backwards
        #expect(iterator.next()?.timestamp == 50)
        #expect(iterator.seek(to: 100)?.value == 10)
        #expect(iterator.seek(to: 101) == nil)
        #expect(iterator.next() == nil)
        #expect(iterator.seek(to: 0) == nil)
        #expect(iterator.error == nil)

        var fresh = chunk.makeIterator()
        #expect(fresh.seek(to: 1000) == nil)
        var erased = Chunk(chunk).makeIterator()
        #expect(erased.seek(to: 55)?.timestamp == 60)
    }

    @Test func emptyChunk() throws {
        let empty = XORChunkAppender().chunk
        #expect(empty.bytes == [0, 0] && empty == XORChunk.empty)
        #expect(empty.minTime == .max && empty.maxTime == .min)
        #expect(Array(empty).isEmpty)
        let erased = try Chunk(encoding: .xor, bytes: [0, 0])
        #expect(!erased.overlaps(minTime: .min, maxTime: .max))
        #expect(throws: ChunkError.self) { try XORChunk(bytes: [0, 0, 0]) }
        #expect(throws: ChunkError.self) { try XORChunk(bytes: [0]) }
    }

    @Test func validationRejectsNonIncreasingTimestampsAndTrailingData() throws {
        // Two samples at the same timestamp: delta 0.
        var writer = BitWriter()
        writer.write(2, bitCount: 16)
        writer.writeVarint(1000)
        writer.write(0, bitCount: 64)
        writer.writeUVarint(0)
        writer.write(0, bitCount: 1)
        #expect(throws: ChunkError.self) { try XORChunk(bytes: writer.bytes) }
        // A good chunk with a byte appended, or a padding bit set.
        let good = Support.xorChunk(Support.counter(10)).bytes
        #expect(throws: ChunkError.self) { try XORChunk(bytes: good + [0]) }
        var padded = good
        padded[padded.count - 1] |= 1
        if (try? XORChunk(bytes: padded)) != nil {
            // The last byte had no padding bits (the data ended on a byte boundary); nothing to test.
            #expect(padded == good)
        }
        #expect(throws: ChunkError.self) { try Chunk(encodingByte: 9, bytes: good) }
        do throws(ChunkError) {
            _ = try Chunk(encodingByte: 0, bytes: good)
            Issue.record("encoding 0 accepted")
        } catch {
            #expect(error.kind == .unknownEncoding)
        }
    }

    @Test func overlapUsesInclusiveBounds() {
        let chunk = Chunk(Support.xorChunk([FloatSample(timestamp: 100, value: 1), FloatSample(timestamp: 200, value: 2)]))
        #expect(chunk.overlaps(minTime: 200, maxTime: 300))
        #expect(chunk.overlaps(minTime: 0, maxTime: 100))
        #expect(!chunk.overlaps(minTime: 201, maxTime: 300))
        #expect(!chunk.overlaps(minTime: 0, maxTime: 99))
        #expect(chunk.xorChunk != nil && chunk.histogramChunk == nil)
    }

    // MARK: Bytes per sample (deterministic data; these are sizes, not timings)

    static func bytesPerSample(_ samples: [FloatSample], optimized: Bool = false) -> Double {
        let chunk = Support.xorChunk(samples)
        return Double((optimized ? chunk.optimized() : chunk).bytes.count) / Double(samples.count)
    }

    @Test func counterBytesPerSample() {
        // Greedy windows (byte for byte what Prometheus writes) vary with the data: 1.54 to 1.81 over
        // these seeds; the whole-chunk window choice gives 1.37 to 1.47, about 16% less.
        var greedy = 0.0
        var optimized = 0.0
        for seed in UInt64(1)...10 {
            let samples = Support.counter(120, seed: seed)
            #expect(Self.bytesPerSample(samples) <= 1.85)
            #expect(Self.bytesPerSample(samples, optimized: true) <= 1.5)
            greedy += Self.bytesPerSample(samples)
            optimized += Self.bytesPerSample(samples, optimized: true)
        }
        #expect(optimized <= greedy * 0.9)
        #expect(Self.bytesPerSample(Support.counter(120, from: 0), optimized: true) <= 1.5)
        #expect(Self.bytesPerSample(Support.counter(1000), optimized: true) <= 1.3)
    }

    @Test func gaugeBytesPerSample() {
        // Full-precision random-walk floats cannot compress much: the mantissa is noise.
        #expect(Self.bytesPerSample(Support.floatWalk(120)) <= 7.0)
        #expect(Self.bytesPerSample(Support.floatWalk(120), optimized: true) <= 6.8)
        // Integer-valued gauges (bytes, counts) compress like counters.
        #expect(Self.bytesPerSample(Support.integerWalk(120)) <= 1.4)
        #expect(Self.bytesPerSample(Support.integerWalk(120), optimized: true) <= 1.25)
    }

    @Test func constantBytesPerSample() {
        #expect(Self.bytesPerSample(Support.constant(120)) <= 0.41)
        #expect(Self.bytesPerSample(Support.constant(1000)) <= 0.27)
    }

    @Test func optimizedNeverLargerOnRandomSeries() throws {
        var random = Support.Random(state: 99)
        for _ in 0..<60 {
            var t = Int64(random.next() % 1000)
            var value = Double(random.next() % 1000)
            var samples: [FloatSample] = []
            for _ in 0..<Int(3 + random.next() % 300) {
                t += Int64(1 + random.next() % 30_000)
                switch random.next() % 4 {
                case 0: value += Double(random.next() % 10)
                case 1: value = Double(bitPattern: random.next())
                case 2: value *= 1.0001
                default: break
                }
                samples.append(FloatSample(timestamp: t, value: value))
            }
            try Self.checkRoundTrip(samples)
        }
    }
}

// MARK: - Histogram chunks

@Suite("Histogram chunks")
struct HistogramChunkTests {
    typealias H = NativeHistogram

    /// Appends each histogram (all must be accepted) and checks the decoded chunk reproduces them.
    @discardableResult
    static func roundTrip(
        _ encoding: ChunkEncoding, _ histograms: [H], header: CounterResetHeader = .unknown,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Chunk {
        var appender = Support.AnyHistogramAppender(encoding, header: header)
        for (index, h) in histograms.enumerated() {
            let result = appender.append(Support.start + Int64(index) * 15_000, h)
            #expect(result == .appended || result == .appendedAfterRecoding, "sample \(index): \(result)", sourceLocation: sourceLocation)
        }
        let chunk = appender.chunk
        let reread = try Chunk(encoding: encoding, bytes: chunk.bytes)
        #expect(reread == chunk, sourceLocation: sourceLocation)
        let decoded = Support.histograms(of: reread)
        #expect(decoded.count == histograms.count, sourceLocation: sourceLocation)
        for (index, (sample, h)) in zip(decoded, histograms).enumerated() {
            #expect(sample.timestamp == Support.start + Int64(index) * 15_000, sourceLocation: sourceLocation)
            if StaleMarker.isStale(h.sum) {
                #expect(StaleMarker.isStale(sample.histogram.sum), sourceLocation: sourceLocation)
            } else {
                #expect(
                    Support.HistogramContent(sample.histogram) == Support.HistogramContent(h), "sample \(index)",
                    sourceLocation: sourceLocation)
            }
        }
        return chunk
    }

    static func growing(_ count: Int, buckets: Int, integer: Bool, seed: UInt64 = 4) -> [H] {
        var random = Support.Random(state: seed)
        var counts = [Double](repeating: 0, count: buckets)
        var negative = [Double](repeating: 0, count: 3)
        var zero = 0.0
        var sum = 0.0
        return (0..<count).map { _ in
            for index in counts.indices { counts[index] += integer ? Double(random.next() % 4) : Double.random(in: 0...3, using: &random) }
            for index in negative.indices { negative[index] += integer ? Double(random.next() % 2) : 0.25 }
            zero += integer ? Double(random.next() % 2) : 0.5
            sum += Double.random(in: 0...100, using: &random)
            return Support.histogram(
                zeroCount: zero, sum: sum, spans: [Support.span(-3, UInt32(buckets / 2)), Support.span(2, UInt32(buckets - buckets / 2))],
                buckets: counts, negativeSpans: [Support.span(1, 3)], negativeBuckets: negative, schema: 3, integer: integer)
        }
    }

    @Test(arguments: [ChunkEncoding.histogram, .floatHistogram])
    func roundTripWithFixedLayout(_ encoding: ChunkEncoding) throws {
        let histograms = Self.growing(120, buckets: 20, integer: encoding == .histogram)
        let chunk = try Self.roundTrip(encoding, histograms)
        let decoded = Support.histograms(of: chunk)
        #expect(decoded.first?.histogram.counterResetHint == .unknown)
        #expect(decoded.dropFirst().allSatisfy { $0.histogram.counterResetHint == .no })
        #expect(decoded.allSatisfy { $0.histogram.isIntegerCounts == (encoding == .histogram) })
        // With unchanged layout the spans come back as given.
        #expect(decoded.last?.histogram.positiveSpans == histograms.last?.positiveSpans)
        try Self.roundTrip(encoding, Array(histograms.prefix(1)))
        try Self.roundTrip(encoding, Array(histograms.prefix(2)))
        try Self.roundTrip(encoding, Self.growing(1000, buckets: 5, integer: encoding == .histogram))
    }

    /// The exact bytes of two-sample chunks, built by hand from the format description.
    @Test func goldenBytes() {
        let first = Support.histogram(zeroCount: 0, sum: 1.5, spans: [Support.span(0, 2)], buckets: [1, 2], zeroThreshold: 0)
        let second = Support.histogram(zeroCount: 0, sum: 2.5, spans: [Support.span(0, 2)], buckets: [2, 3], zeroThreshold: 0)
        let layout = "00000000" + "0" + "10 001" + "10 010" + "0" + "0"  // threshold 0, schema 0, 1 span of 2 at 0, no negative spans
        let b = Support.binary

        var integer = HistogramChunkAppender()
        #expect(integer.append(1000, first) == .appended)
        #expect(integer.append(2000, second) == .appended)
        var bits = layout
        bits += "11110" + b(1000, 12) + "10 011" + "0" + b(1.5.bitPattern, 64) + "10 001" + "10 001"  // t, count 3, zero 0, sum, deltas 1 1
        bits += "11110" + b(1000, 12) + "10 010" + "0"  // t dod 1000, count dod 2, zero dod 0
        bits += "11" + "00001" + "001101" + b(0x1FFF, 13)  // sum 1.5 → 2.5: XOR 0x7FFC…, new window of 13 bits
        bits += "10 001" + "0"  // bucket deltas 1 1 → 2 1: dods 1 0
        #expect(integer.chunk.bytes == [0x00, 0x02, 0x00] + Support.pack(bits))

        var float = FloatHistogramChunkAppender()
        var firstFloat = first
        firstFloat.isIntegerCounts = false
        var secondFloat = second
        secondFloat.isIntegerCounts = false
        #expect(float.append(1000, firstFloat) == .appended)
        #expect(float.append(2000, secondFloat) == .appended)
        bits = layout
        bits +=
            "11110" + b(1000, 12) + b(3.0.bitPattern, 64) + b(0, 64) + b(1.5.bitPattern, 64) + b(1.0.bitPattern, 64) + b(2.0.bitPattern, 64)
        bits += "11110" + b(1000, 12)
        bits += "11" + "01011" + "000011" + "111"  // count 3 → 5: XOR 0x001C…
        bits += "0"  // zero count unchanged
        bits += "11" + "00001" + "001101" + b(0x1FFF, 13)  // sum
        bits += "11" + "00001" + "001011" + b(0x7FF, 11)  // bucket 1 → 2
        bits += "11" + "01100" + "000001" + "1"  // bucket 2 → 3
        #expect(float.chunk.bytes == [0x00, 0x02, 0x00] + Support.pack(bits))
    }

    @Test func integerChunkIsCompact() throws {
        let chunk = try Self.roundTrip(.histogram, Self.growing(120, buckets: 20, integer: true))
        // 23 buckets changing by small random amounts: a few bits each.
        #expect(Double(chunk.bytes.count) / 120 <= 25)
        let steady = (0..<120).map { index in
            Support.histogram(sum: Double(index) * 3, spans: [Support.span(0, 10)], buckets: (0..<10).map { Double($0 * index) })
        }
        let steadyChunk = try Self.roundTrip(.histogram, steady)
        // Buckets growing at constant rates: dod 0, one bit each.
        #expect(Double(steadyChunk.bytes.count) / 120 <= 4)
    }

    @Test func largeIntegerCountsAndSchemasAndThresholds() throws {
        for schema: Int32 in [-4, 0, 8] {
            for threshold in [0.0, 0x1p-128, 0x1p-243, 0x1p10, 0.001, -0.0, 3] {
                let histograms = (0..<5).map { index in
                    Support.histogram(
                        zeroCount: 0x1p60 + Double(index), sum: .infinity,
                        spans: [Support.span(Int32.min + 1, 2), Support.span(Int32.max, 1)],
                        buckets: [0x1p62, Double(index), 0x1p53 + 2 * Double(index)], schema: schema, zeroThreshold: threshold)
                }
                try Self.roundTrip(.histogram, histograms)
                try Self.roundTrip(
                    .floatHistogram,
                    histograms.map {
                        var h = $0
                        h.isIntegerCounts = false
                        return h
                    })
            }
        }
    }

    @Test func floatSpecialValues() throws {
        let values: [Double] = [0.5, .nan, .infinity, -0.0, 1e-300, Double(bitPattern: 0x7FF8_0000_0000_0042), 3.25]
        let histograms = values.map { value in
            Support.histogram(
                count: value, zeroCount: value, sum: value, spans: [Support.span(0, 2)], buckets: [value, 1.5], integer: false)
        }
        var appender = FloatHistogramChunkAppender()
        var expected: [H] = []
        for (index, h) in histograms.enumerated() {
            // NaN or decreasing counts may read as resets; keep whatever the appender takes.
            if appender.append(Int64(index), h) == .appended { expected.append(h) }
        }
        let decoded = try FloatHistogramChunk(bytes: appender.chunk.bytes).samples
        #expect(decoded.map { Support.HistogramContent($0.histogram) } == expected.map(Support.HistogramContent.init))
        #expect(decoded.count >= 2)
    }

    @Test(arguments: [ChunkEncoding.histogram, .floatHistogram])
    func newBucketsWidenTheLayout(_ encoding: ChunkEncoding) throws {
        let integer = encoding == .histogram
        let first = Support.histogram(spans: [Support.span(0, 2), Support.span(3, 1)], buckets: [1, 2, 3], integer: integer)
        // Bucket 3 appears between the spans, bucket 10 after them, bucket -2 before.
        let second = Support.histogram(
            spans: [Support.span(-2, 1), Support.span(1, 2), Support.span(1, 3), Support.span(2, 1)], buckets: [1, 2, 3, 4, 5, 6, 7],
            integer: integer)
        var appender = Support.AnyHistogramAppender(encoding)
        #expect(appender.append(1, first) == .appended)
        #expect(appender.append(2, second) == .appendedAfterRecoding)
        let third = second  // same layout again
        #expect(appender.append(3, third) == .appended)
        let decoded = Support.histograms(of: appender.chunk)
        #expect(decoded.map { Support.HistogramContent($0.histogram) } == [first, second, third].map(Support.HistogramContent.init))
        // The first sample now lists the widened layout with zeros in the new buckets.
        #expect(decoded[0].histogram.positiveBuckets.count == 7)
        #expect(decoded[0].histogram.positiveSpans == decoded[2].histogram.positiveSpans)
        _ = try Chunk(encoding: encoding, bytes: appender.chunk.bytes)
    }

    @Test(arguments: [ChunkEncoding.histogram, .floatHistogram])
    func emptyBucketsMayDisappearButUsedOnesMeanAReset(_ encoding: ChunkEncoding) {
        let integer = encoding == .histogram
        var appender = Support.AnyHistogramAppender(encoding)
        #expect(appender.append(1, Support.histogram(spans: [Support.span(0, 3)], buckets: [0, 2, 3], integer: integer)) == .appended)
        // Bucket 0 (empty) is gone: fine, it reads back as 0.
        #expect(appender.append(2, Support.histogram(spans: [Support.span(1, 2)], buckets: [2, 4], integer: integer)) == .appended)
        let decoded = Support.histograms(of: appender.chunk)
        #expect(decoded[1].histogram.positiveBuckets == [0, 2, 4])
        // Bucket 1 (used) is gone: a counter reset.
        #expect(
            appender.append(3, Support.histogram(spans: [Support.span(2, 1)], buckets: [5], integer: integer))
                == .newChunkNeeded(.counterReset, header: .counterReset))
        // A bucket went down.
        #expect(
            appender.append(3, Support.histogram(spans: [Support.span(0, 3)], buckets: [0, 1, 9], integer: integer))
                == .newChunkNeeded(.counterReset, header: .counterReset))
        #expect(appender.chunk.sampleCount == 2)
    }

    @Test(arguments: [ChunkEncoding.histogram, .floatHistogram])
    func counterResetsAndLayoutChangesNeedNewChunks(_ encoding: ChunkEncoding) throws {
        let integer = encoding == .histogram
        func h(
            _ buckets: [Double], zero: Double = 1, schema: Int32 = 0, threshold: Double = 0x1p-128,
            hint: H.CounterResetHint = .unknown
        ) -> H {
            Support.histogram(
                zeroCount: zero, spans: [Support.span(0, UInt32(buckets.count))], buckets: buckets, schema: schema,
                zeroThreshold: threshold, hint: hint, integer: integer)
        }
        var appender = Support.AnyHistogramAppender(encoding)
        #expect(appender.append(1, h([5, 5])) == .appended)
        #expect(appender.append(2, h([4, 5])) == .newChunkNeeded(.counterReset, header: .counterReset))
        #expect(appender.append(2, h([5, 5], zero: 0)) == .newChunkNeeded(.counterReset, header: .counterReset))
        var lowerCount = h([5, 5])
        lowerCount.count -= 3
        #expect(appender.append(2, lowerCount) == .newChunkNeeded(.counterReset, header: .counterReset))
        #expect(appender.append(2, h([6, 6], hint: .yes)) == .newChunkNeeded(.counterReset, header: .counterReset))
        #expect(appender.append(2, h([6, 6], schema: 1)) == .newChunkNeeded(.schemaChanged, header: .unknown))
        #expect(appender.append(2, h([6, 6], threshold: 0.5)) == .newChunkNeeded(.zeroThresholdChanged, header: .unknown))
        #expect(appender.append(2, h([6, 6], hint: .gauge)) == .newChunkNeeded(.histogramKindChanged, header: .gauge))
        #expect(appender.append(2, h([6, 6], hint: .no)) == .appended)
        #expect(appender.chunk.sampleCount == 2)

        // The caller cuts a chunk with the header it was given.
        var next = Support.AnyHistogramAppender(encoding, header: .counterReset)
        #expect(next.append(3, h([1, 0])) == .appended)
        #expect(next.header == .counterReset)
        let typed = try Chunk(encoding: encoding, bytes: next.chunk.bytes)
        #expect(typed.bytes[2] == CounterResetHeader.counterReset.rawValue)
        // A first sample hinted as a reset sets the header by itself.
        var hinted = Support.AnyHistogramAppender(encoding)
        #expect(hinted.append(3, h([1, 0], hint: .yes)) == .appended)
        #expect(hinted.header == .counterReset)
    }

    @Test func headerForChunksCutForSize() {
        var appender = HistogramChunkAppender()
        let base = Support.histogram(spans: [Support.span(0, 2)], buckets: [3, 4])
        #expect(appender.append(1, base) == .appended)
        #expect(
            appender.headerForNewChunk(startingWith: Support.histogram(spans: [Support.span(0, 2)], buckets: [3, 5])) == .notCounterReset)
        #expect(appender.headerForNewChunk(startingWith: Support.histogram(spans: [Support.span(0, 2)], buckets: [1, 5])) == .counterReset)
        #expect(
            appender.headerForNewChunk(startingWith: Support.histogram(spans: [Support.span(0, 2)], buckets: [3, 5], schema: 2)) == .unknown
        )
        #expect(appender.headerForNewChunk(startingWith: Support.histogram(spans: [], buckets: [], hint: .gauge)) == .gauge)
        #expect(HistogramChunkAppender().headerForNewChunk(startingWith: base) == .unknown)
    }

    @Test(arguments: [ChunkEncoding.histogram, .floatHistogram])
    func gaugeHistogramsGoUpAndDownAndChangeBuckets(_ encoding: ChunkEncoding) throws {
        let integer = encoding == .histogram
        let histograms = [
            Support.histogram(spans: [Support.span(0, 3)], buckets: [5, 2, 7], hint: .gauge, integer: integer),
            Support.histogram(spans: [Support.span(0, 3)], buckets: [1, 0, 9], hint: .gauge, integer: integer),
            Support.histogram(spans: [Support.span(2, 2)], buckets: [3, 8], hint: .gauge, integer: integer),  // 0,1 gone, 3 new
            Support.histogram(spans: [Support.span(-1, 1)], buckets: [2], hint: .gauge, integer: integer),
            Support.histogram(zeroCount: 4, spans: [], buckets: [], hint: .gauge, integer: integer),
        ]
        var appender = Support.AnyHistogramAppender(encoding)
        var results: [ChunkAppendResult] = []
        for (index, h) in histograms.enumerated() { results.append(appender.append(Int64(index), h)) }
        #expect(results == [.appended, .appended, .appendedAfterRecoding, .appendedAfterRecoding, .appended])
        #expect(appender.header == .gauge)
        let decoded = Support.histograms(of: try Chunk(encoding: encoding, bytes: appender.chunk.bytes))
        #expect(decoded.map { Support.HistogramContent($0.histogram) } == histograms.map(Support.HistogramContent.init))
        #expect(decoded.allSatisfy { $0.histogram.counterResetHint == .gauge })
        // A counter histogram cannot join a gauge chunk.
        #expect(
            appender.append(10, Support.histogram(spans: [], buckets: [], integer: integer))
                == .newChunkNeeded(.histogramKindChanged, header: .unknown))
    }

    @Test(arguments: [ChunkEncoding.histogram, .floatHistogram])
    func customBuckets(_ encoding: ChunkEncoding) throws {
        let integer = encoding == .histogram
        let bounds = [0.005, 0.01, 0.1, 0.25, 1, 2.5, 10, 33_554.43, 33_554.431, 1e10, -5, 0.1 + 0.2, 0]
        let histograms = (0..<50).map { index in
            Support.histogram(
                sum: Double(index), spans: [Support.span(0, 4), Support.span(5, 3)], buckets: (0..<7).map { Double($0 * index) },
                schema: H.customBucketsSchema, zeroThreshold: 0, integer: integer, customValues: bounds)
        }
        let chunk = try Self.roundTrip(encoding, histograms)
        let decoded = Support.histograms(of: chunk)
        #expect(decoded.allSatisfy { $0.histogram.customValues.map(\.bitPattern) == bounds.map(\.bitPattern) })
        #expect(decoded.allSatisfy { $0.histogram.usesCustomBuckets })

        var appender = Support.AnyHistogramAppender(encoding)
        #expect(appender.append(1, histograms[1]) == .appended)
        var moved = histograms[2]
        moved.customValues[0] = 0.006
        #expect(appender.append(2, moved) == .newChunkNeeded(.customBoundsChanged, header: .counterReset))
        // Bounds stored once per chunk: short decimal bounds take a few bytes.
        var small = Support.AnyHistogramAppender(encoding)
        let simple = Support.histogram(
            spans: [Support.span(0, 4)], buckets: [1, 2, 3, 4], schema: H.customBucketsSchema, zeroThreshold: 0, integer: integer,
            customValues: [0.1, 0.5, 1, 5])
        #expect(small.append(1, simple) == .appended)
        #expect(small.chunk.bytes.count <= (integer ? 32 : 75))
    }

    @Test(arguments: [ChunkEncoding.histogram, .floatHistogram])
    func staleMarkers(_ encoding: ChunkEncoding) throws {
        let integer = encoding == .histogram
        let stale = H(sum: StaleMarker.value, isIntegerCounts: integer)
        let live = Support.histogram(spans: [Support.span(0, 2)], buckets: [1, 2], integer: integer)
        var appender = Support.AnyHistogramAppender(encoding)
        #expect(appender.append(1, live) == .appended)
        #expect(appender.append(2, stale) == .appended)
        #expect(appender.append(3, stale) == .appended)
        #expect(appender.append(4, live) == .newChunkNeeded(.staleMarkerEnded, header: .unknown))
        let decoded = Support.histograms(of: try Chunk(encoding: encoding, bytes: appender.chunk.bytes))
        #expect(decoded.count == 3)
        #expect(decoded[1].histogram.sum.bitPattern == StaleMarker.bitPattern)
        #expect(decoded[2].histogram.positiveBuckets.isEmpty)
        // A chunk may start with a stale marker; a stale marker of the other kind fits too.
        try Self.roundTrip(encoding, [stale, H(sum: StaleMarker.value, isIntegerCounts: !integer)])
    }

    @Test func integerAndFloatHistogramsGoToTheirOwnChunks() {
        let integer = Support.histogram(spans: [Support.span(0, 1)], buckets: [3])
        var float = integer
        float.isIntegerCounts = false
        var fractional = integer
        fractional.positiveBuckets = [2.5]
        fractional.count = 2.5
        #expect(ChunkEncoding.histogramEncoding(for: integer) == .histogram)
        #expect(ChunkEncoding.histogramEncoding(for: float) == .floatHistogram)
        #expect(ChunkEncoding.histogramEncoding(for: fractional) == .floatHistogram)
        var negativeZero = integer
        negativeZero.zeroCount = -0.0
        #expect(ChunkEncoding.histogramEncoding(for: negativeZero) == .floatHistogram)
        var huge = integer
        huge.count = 0x1p63
        #expect(ChunkEncoding.histogramEncoding(for: huge) == .floatHistogram)

        var integerAppender = HistogramChunkAppender()
        #expect(integerAppender.append(1, fractional) == .newChunkNeeded(.encodingChanged, header: .unknown))
        #expect(integerAppender.append(1, integer) == .appended)
        var floatAppender = FloatHistogramChunkAppender()
        #expect(floatAppender.append(1, integer) == .newChunkNeeded(.encodingChanged, header: .unknown))
        #expect(floatAppender.append(1, float) == .appended)
    }

    @Test func malformedHistogramsAreRefused() {
        var appender = HistogramChunkAppender()
        #expect(
            appender.append(1, Support.histogram(spans: [Support.span(0, 3)], buckets: [1, 2]))
                == .invalid("positive spans cover 3 buckets but 2 counts are given"))
        if case .invalid = appender.append(1, Support.histogram(spans: [Support.span(0, 1), Support.span(-2, 1)], buckets: [1, 2])) {
        } else {
            Issue.record("negative offset accepted")
        }
        if case .invalid = appender.append(1, Support.histogram(spans: [], buckets: [], schema: 9)) {
        } else {
            Issue.record("schema 9 accepted")
        }
        if case .invalid = appender.append(1, Support.histogram(spans: [], buckets: [], customValues: [1])) {
        } else {
            Issue.record("custom values with schema 0 accepted")
        }
        #expect(appender.sampleCount == 0)
    }

    @Test(arguments: [ChunkEncoding.histogram, .floatHistogram])
    func outOfOrderSeekAndResume(_ encoding: ChunkEncoding) throws {
        let histograms = Self.growing(30, buckets: 4, integer: encoding == .histogram)
        var appender = Support.AnyHistogramAppender(encoding)
        for (index, h) in histograms.enumerated() { #expect(appender.append(Int64(index) * 10, h) == .appended) }
        #expect(appender.append(290, histograms[29]) == .outOfOrder)
        #expect(appender.append(-5, histograms[29]) == .outOfOrder)
        let chunk = appender.chunk
        var iterator = chunk.makeIterator()
        #expect(iterator.seek(to: 95)?.timestamp == 100)
        #expect(iterator.seek(to: 0)?.timestamp == 100)
        #expect(iterator.next()?.timestamp == 110)
        #expect(iterator.seek(to: 291) == nil)

        // Resuming from the bytes and appending gives the same chunk as appending in one go.
        switch encoding {
        case .histogram:
            var resumed = try HistogramChunkAppender(resuming: HistogramChunk(bytes: Array(chunk.bytes)))
            var straight = HistogramChunkAppender()
            for (index, h) in histograms.enumerated() { _ = straight.append(Int64(index) * 10, h) }
            #expect(resumed.append(300, histograms[29]) == .appended)
            #expect(straight.append(300, histograms[29]) == .appended)
            #expect(resumed.chunk == straight.chunk)
        default:
            var resumed = try FloatHistogramChunkAppender(resuming: FloatHistogramChunk(bytes: Array(chunk.bytes)))
            var straight = FloatHistogramChunkAppender()
            for (index, h) in histograms.enumerated() { _ = straight.append(Int64(index) * 10, h) }
            #expect(resumed.append(300, histograms[29]) == .appended)
            #expect(straight.append(300, histograms[29]) == .appended)
            #expect(resumed.chunk == straight.chunk)
        }
    }

    /// Random histogram streams with buckets appearing, emptying and vanishing, resets and gauges:
    /// every sample an appender takes must read back (its chunk cut when asked to).
    @Test(arguments: [ChunkEncoding.histogram, .floatHistogram])
    func randomStreamsRoundTrip(_ encoding: ChunkEncoding) throws {
        var random = Support.Random(state: encoding == .histogram ? 21 : 22)
        let integer = encoding == .histogram
        for _ in 0..<40 {
            let gauge = random.next() % 4 == 0
            var counts: [Int: Double] = [:]
            var appender = Support.AnyHistogramAppender(encoding)
            var chunks: [(Chunk, [H])] = []
            var current: [H] = []
            for step in 0..<Int(5 + random.next() % 60) {
                // Mutate the bucket set.
                for _ in 0..<Int(random.next() % 3) {
                    let index = Int(random.next() % 12) - 4
                    switch random.next() % 6 {
                    case 0: counts[index] = nil
                    case 1: counts[index] = 0
                    default: counts[index, default: 0] += integer ? Double(random.next() % 5) : Double(random.next() % 50) / 4
                    }
                }
                if gauge || random.next() % 25 == 0 {
                    for key in Array(counts.keys) { counts[key] = integer ? Double(random.next() % 9) : Double(random.next() % 90) / 8 }
                }
                let indices = counts.keys.sorted()
                var spans: [NativeHistogram.BucketSpan] = []
                var previous = 0
                for index in indices {
                    if let last = spans.indices.last, index == previous + 1 {
                        spans[last].length += 1
                    } else {
                        spans.append(Support.span(Int32(spans.isEmpty ? index : index - previous - 1), 1))
                    }
                    previous = index
                }
                let buckets = indices.map { counts[$0]! }
                var h = Support.histogram(spans: spans, buckets: buckets, hint: gauge ? .gauge : .unknown, integer: integer)
                if !integer { h.count += 0.5 }
                let t = Int64(step) * 1000
                let result = appender.append(t, h)
                switch result {
                case .appended, .appendedAfterRecoding:
                    current.append(h)
                case .newChunkNeeded(_, let header):
                    chunks.append((appender.chunk, current))
                    appender = Support.AnyHistogramAppender(encoding, header: header)
                    #expect(appender.append(t, h) == .appended)
                    current = [h]
                default:
                    Issue.record("unexpected \(result)")
                }
            }
            chunks.append((appender.chunk, current))
            for (chunk, expected) in chunks {
                let decoded = Support.histograms(of: try Chunk(encoding: encoding, bytes: chunk.bytes))
                #expect(decoded.map { Support.HistogramContent($0.histogram) } == expected.map(Support.HistogramContent.init))
            }
        }
    }
}
