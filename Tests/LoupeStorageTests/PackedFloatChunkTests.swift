import LoupeModel
@testable import LoupeStorage
import Testing

@Suite("Packed float chunk")
struct PackedFloatChunkTests {
    typealias Support = ChunkTestSupport

    /// Load averages with two decimals, a stale marker, a counter reset, NaN and a value with more decimals.
    static let decimalsWithSpecials: [FloatSample] = {
        var values: [Double] = (0..<60).map { Double(100 + ($0 * 7) % 23) / 100 }
        values[10] = StaleMarker.value
        values[20] = .nan
        values[30] = 0.123456789
        values[40] = -0.0
        values[50] = .infinity
        return values.enumerated().map { FloatSample(timestamp: Support.start + Int64($0.offset) * 15_000 + Int64($0.offset % 3), value: $0.element) }
    }()

    static func roundTrip(_ samples: [FloatSample], sourceLocation: SourceLocation = #_sourceLocation) throws -> PackedFloatChunk {
        let chunk = PackedFloatChunk(samples: samples)
        #expect(chunk.sampleCount == samples.count, sourceLocation: sourceLocation)
        #expect(chunk.minTime == samples.first!.timestamp && chunk.maxTime == samples.last!.timestamp, sourceLocation: sourceLocation)
        #expect(Support.bits(chunk) == Support.bits(samples), sourceLocation: sourceLocation)
        let reread = try PackedFloatChunk(bytes: chunk.bytes)
        #expect(reread == chunk, sourceLocation: sourceLocation)
        let erased = try Chunk(encodingByte: ChunkEncoding.packedFloat.rawValue, bytes: chunk.bytes)
        #expect(erased.encoding == .packedFloat && erased.sampleCount == samples.count, sourceLocation: sourceLocation)
        #expect(Support.bits(erased.compactMap { if case .float(let f) = $0 { f } else { nil } }) == Support.bits(samples), sourceLocation: sourceLocation)
        return chunk
    }

    @Test func shapesRoundTripBitForBit() throws {
        var random = Support.Random(state: 7)
        let t = Support.start
        func regular(_ count: Int, step: Int64 = 15_000, _ value: (Int) -> Double) -> [FloatSample] {
            (0..<count).map { FloatSample(timestamp: t + Int64($0) * step, value: value($0)) }
        }
        var shapes: [[FloatSample]] = []
        shapes.append([FloatSample(timestamp: 5, value: 1)])
        shapes.append([
            FloatSample(timestamp: .min, value: -.greatestFiniteMagnitude), FloatSample(timestamp: .max, value: .greatestFiniteMagnitude),
        ])
        shapes.append(Support.counter(240))
        shapes.append(Support.floatWalk(480))
        shapes.append(Support.integerWalk(960))
        shapes.append(Self.decimalsWithSpecials)
        shapes.append(regular(300) { _ in 42 })
        // Integers around ±2^63 (not exactly representable as mantissas) and huge exponents.
        shapes.append(regular(50, step: 1) { index in (index % 2 == 0 ? 9.2e18 : -9.2e18) + Double(index) * 4096 })
        shapes.append(regular(50, step: 1) { index in 1e300 * Double(index + 1) })
        // Irregular timestamps: jitter, an odd gap, then a day's gap.
        var irregular: [FloatSample] = []
        for index in 0..<200 {
            var timestamp = t + Int64(index) * 10_000 + Int64(index % 5)
            if index == 100 { timestamp += 9_999 }
            if index > 150 { timestamp += 86_400_000 }
            irregular.append(FloatSample(timestamp: timestamp, value: Double(index) / 100))
        }
        shapes.append(irregular)
        // Whole nanoseconds as Go's Duration.Seconds() reports them.
        shapes.append(regular(240) { _ in Double(Int.random(in: 10_000...5_000_000, using: &random)) / 1e9 })
        shapes.append(regular(4096, step: 1) { _ in Double(bitPattern: random.next()) })
        shapes.append(XORChunkTests.specialValues.enumerated().map { FloatSample(timestamp: Int64($0.offset) * 1000, value: $0.element) })
        for samples in shapes { _ = try Self.roundTrip(samples) }
    }

    @Test func randomIntegerSequencesRoundTrip() throws {
        var random = Support.Random(state: 11)
        for iteration in 0..<500 {
            let count = Int(random.next() % 300)
            let spread = UInt64(1) << (random.next() % 64)
            var value = Int64(bitPattern: random.next())
            let values: [Int64] = (0..<count).map { _ in
                switch iteration % 4 {
                case 0: value = value &+ Int64(bitPattern: random.next() % spread)
                case 1: value = Int64(bitPattern: random.next())
                case 2: value = random.next() % 20 == 0 ? Int64(bitPattern: random.next()) : value &+ 15_000
                default: value = [Int64.min, .max, 0, -1][Int(random.next() % 4)]
                }
                return value
            }
            var writer = BitWriter()
            writer.writeByte(0xA5)
            PackedIntegers.write(values, to: &writer)
            writer.writeByte(0x5A)
            var reader = BitReader(writer.bytes)
            #expect(try reader.readByte() == 0xA5)
            var decoded: [Int64] = []
            try PackedIntegers.read(count: values.count, from: &reader, into: &decoded)
            #expect(decoded == values, "iteration \(iteration)")
            #expect(try reader.readByte() == 0x5A)
        }
    }

    @Test func regularDataTakesFewBits() throws {
        let t = Support.start
        // Constant value at a constant interval: the header only.
        let constant = try Self.roundTrip((0..<480).map { FloatSample(timestamp: t + Int64($0) * 15_000, value: 1) })
        #expect(constant.bytes.count <= 24, "\(constant.bytes.count) bytes")
        // CPU seconds in 1/100 s ticks growing by 95...105 ticks: 4 bits of jitter per sample.
        var random = Support.Random(state: 3)
        var ticks = 123_456_789
        let cpu = try Self.roundTrip(
            (0..<480).map { index in
                ticks += Int.random(in: 95...105, using: &random)
                return FloatSample(timestamp: t + Int64(index) * 15_000, value: Double(ticks) / 100)
            })
        #expect(cpu.bytes.count * 8 <= 480 * 4 + 256, "\(cpu.bytes.count) bytes")
        // Memory in 4 KiB pages wobbling by ±8 pages: the common step 4096 is divided out.
        var pages = 1_000_000
        let memory = try Self.roundTrip(
            (0..<480).map { index in
                pages += Int.random(in: -8...8, using: &random)
                return FloatSample(timestamp: t + Int64(index) * 15_000, value: Double(pages * 4096))
            })
        #expect(memory.bytes.count * 8 <= 480 * 5 + 256, "\(memory.bytes.count) bytes")
        // A counter reset and a missed scrape are exceptions, not a wider frame for every sample.
        var counter = 0.0
        let reset = try Self.roundTrip(
            (0..<480).map { index in
                counter = index == 200 ? 3 : counter + 10
                return FloatSample(timestamp: t + Int64(index) * 15_000 + (index >= 300 ? 15_000 : 0), value: counter)
            })
        #expect(reset.bytes.count <= 40, "\(reset.bytes.count) bytes")
    }

    @Test func seekMatchesTheXORIterator() throws {
        let samples = Support.counter(240)
        let xor = Support.xorChunk(samples)
        let packed = PackedFloatChunk(samples: samples)
        var random = Support.Random(state: 5)
        for _ in 0..<200 {
            var a = xor.makeIterator()
            var b = packed.makeIterator()
            var target = samples[0].timestamp - 10
            for _ in 0..<6 {
                target += Int64(random.next() % 900_000) - 100_000
                let left = a.seek(to: target)
                let right = b.seek(to: target)
                #expect(left?.timestamp == right?.timestamp && left?.value.bitPattern == right?.value.bitPattern)
                if random.next() % 2 == 0 { #expect(a.next()?.timestamp == b.next()?.timestamp) }
            }
        }
    }

    @Test func blockPackerMergesFloatRunsAndKeepsHistograms() throws {
        let floats = Support.counter(1000)
        var chunks = stride(from: 0, to: 600, by: 240).map { Chunk(Support.xorChunk(Array(floats[$0..<min(600, $0 + 240)]))) }
        var histogram = HistogramChunkAppender()
        _ = histogram.append(floats[600].timestamp, NativeHistogram(zeroCount: 1, count: 1, sum: 1, isIntegerCounts: true))
        chunks.append(Chunk(histogram.chunk))
        chunks.append(Chunk(Support.xorChunk(Array(floats[601..<1000]))))
        let packed = BlockChunkPacker.pack(chunks, maximumSamples: 500)
        #expect(packed.map(\.encoding) == [.packedFloat, .packedFloat, .histogram, .packedFloat])
        #expect(packed.map(\.sampleCount) == [300, 300, 1, 399])
        var decoded = SeriesSamples(labels: Labels())
        ChunkEncoder.decode(packed, into: &decoded)
        #expect(Support.bits(decoded.floats) == Support.bits(floats[0..<600] + floats[601...]))
        #expect(decoded.histograms.map(\.timestamp) == [floats[600].timestamp])
        // Packing packed chunks again changes nothing.
        #expect(BlockChunkPacker.pack(packed, maximumSamples: 500) == packed)
    }

    @Test func headPacksTheChunksItCloses() {
        let samples = Support.counter(500)
        var series = HeadSeries(labels: Labels([Label("__name__", "x")]))
        for sample in samples { #expect(series.append(sample.timestamp, sample.value) == nil) }
        #expect(series.closedChunks.map(\.encoding) == [.packedFloat, .packedFloat])
        #expect(series.closedChunks.map(\.sampleCount) == [HeadSeries.samplesPerChunk, HeadSeries.samplesPerChunk])
        let xorBytes = Support.xorChunk(Array(samples[0..<240])).bytes.count
        #expect(series.closedChunks[0].bytes.count * 2 < xorBytes)
        #expect(Support.bits(series.samples(minTime: .min, maxTime: .max).floats) == Support.bits(samples))
        #expect(Support.bits(series.samples(minTime: samples[230].timestamp, maxTime: samples[250].timestamp).floats) == Support.bits(samples[230...250]))
    }
}
