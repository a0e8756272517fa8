import LoupeModel
import LoupeStorage
import Testing

/// Hostile chunk bytes (random, truncated, mutated): validation either accepts a consistent chunk
/// or throws a `ChunkError`; unvalidated iteration always ends. Never a crash, an out-of-bounds
/// read (the bit reader checks every read) or a hang.
@Suite("Chunk decoding of damaged bytes")
struct ChunkFuzzTests {
    typealias Support = ChunkTestSupport

    /// A sample compared exactly (floats by bits, histograms by content).
    enum Fingerprint: Hashable {
        case float(Int64, UInt64)
        case histogram(Int64, Support.HistogramContent)

        init(_ sample: ChunkSample) {
            switch sample {
            case .float(let s): self = .float(s.timestamp, s.value.bitPattern)
            case .histogram(let s): self = .histogram(s.timestamp, Support.HistogramContent(s.histogram))
            }
        }
    }

    /// Iterates without validation, then validates. Returns the chunk when validation accepted it.
    @discardableResult
    static func check(_ encoding: ChunkEncoding, _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> (
        chunk: Chunk?, iterated: [Fingerprint], iterationError: ChunkError?
    ) {
        var iterator = ChunkIterator(encoding: encoding, bytes: bytes)
        var iterated: [Fingerprint] = []
        while let sample = iterator.next() {
            iterated.append(Fingerprint(sample))
            if iterated.count > 65_535 {
                Issue.record("iteration ran past the 16-bit sample count", sourceLocation: sourceLocation)
                break
            }
        }
        #expect(iterator.next() == nil, sourceLocation: sourceLocation)
        do throws(ChunkError) {
            let chunk = try Chunk(encoding: encoding, bytes: bytes)
            #expect(iterator.error == nil, sourceLocation: sourceLocation)
            #expect(iterated.count == chunk.sampleCount, sourceLocation: sourceLocation)
            let timestamps = chunk.map(\.timestamp)
            #expect(timestamps.count == chunk.sampleCount, sourceLocation: sourceLocation)
            #expect(zip(timestamps, timestamps.dropFirst()).allSatisfy { $0 < $1 }, sourceLocation: sourceLocation)
            #expect(chunk.minTime == timestamps.first ?? .max && chunk.maxTime == timestamps.last ?? .min, sourceLocation: sourceLocation)
            resumeAndAppend(chunk)
            return (chunk, iterated, iterator.error)
        } catch {
            #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
            if let offset = error.bitOffset {
                #expect(offset >= 0 && offset <= bytes.count * 8, "\(error)", sourceLocation: sourceLocation)
            }
            return (nil, iterated, iterator.error)
        }
    }

    /// Appenders resume from any chunk that validates (or refuse it with an error) and keep going.
    static func resumeAndAppend(_ chunk: Chunk) {
        let t = chunk.sampleCount == 0 ? 0 : chunk.maxTime == .max ? nil : chunk.maxTime + 1
        switch chunk.encoding {
        case .xor:
            var appender = XORChunkAppender(resuming: chunk.xorChunk!)
            if let t { #expect(appender.append(t, 1.5) == (chunk.sampleCount == XORChunk.maxSampleCount ? .full : .appended)) }
            #expect((try? XORChunk(bytes: appender.chunk.bytes)) != nil)
        case .histogram:
            guard var appender = try? HistogramChunkAppender(resuming: chunk.histogramChunk!) else { return }
            if let t { _ = appender.append(t, Support.histogram(spans: [Support.span(0, 1)], buckets: [1e6])) }
            #expect((try? HistogramChunk(bytes: appender.chunk.bytes)) != nil)
        case .floatHistogram:
            guard var appender = try? FloatHistogramChunkAppender(resuming: chunk.floatHistogramChunk!) else { return }
            if let t { _ = appender.append(t, Support.histogram(spans: [Support.span(0, 1)], buckets: [1e6], integer: false)) }
            #expect((try? FloatHistogramChunk(bytes: appender.chunk.bytes)) != nil)
        case .packedFloat:
            // Blocks only: no appender.
            break
        }
    }

    /// Real chunks of every encoding and shape.
    static let validChunks: [Chunk] = {
        var chunks: [Chunk] = []
        let counter = Support.xorChunk(Support.counter(120))
        chunks.append(Chunk(counter))
        chunks.append(Chunk(counter.optimized()))
        chunks.append(Chunk(Support.xorChunk(Support.floatWalk(40))))
        var t: Int64 = -10
        chunks.append(
            Chunk(
                Support.xorChunk(
                    XORChunkTests.specialValues.map { value in
                        t += [1, 7_000_000_000, 15_000][Int(value.bitPattern % 3)]
                        return FloatSample(timestamp: t, value: value)
                    })))
        chunks.append(Chunk(PackedFloatChunk(samples: Support.counter(120))))
        chunks.append(Chunk(PackedFloatChunk(samples: Support.floatWalk(40))))
        chunks.append(Chunk(PackedFloatChunk(samples: PackedFloatChunkTests.decimalsWithSpecials)))
        t = -10
        chunks.append(
            Chunk(
                PackedFloatChunk(
                    samples: XORChunkTests.specialValues.map { value in
                        t += [1, 7_000_000_000, 15_000][Int(value.bitPattern % 3)]
                        return FloatSample(timestamp: t, value: value)
                    })))
        for encoding in [ChunkEncoding.histogram, .floatHistogram] {
            let integer = encoding == .histogram
            var growing = Support.AnyHistogramAppender(encoding)
            for (index, h) in HistogramChunkTests.growing(25, buckets: 6, integer: integer).enumerated() {
                _ = growing.append(Int64(index) * 15_000, h)
            }
            chunks.append(growing.chunk)

            var custom = Support.AnyHistogramAppender(encoding)
            for index in 0..<8 {
                _ = custom.append(
                    Int64(index),
                    Support.histogram(
                        sum: Double(index), spans: [Support.span(0, 3)], buckets: [1, 2, Double(index)],
                        schema: NativeHistogram.customBucketsSchema, zeroThreshold: 0, integer: integer,
                        customValues: [0.5, 1, 1e9]))
            }
            chunks.append(custom.chunk)

            var gauge = Support.AnyHistogramAppender(encoding)
            _ = gauge.append(1, Support.histogram(spans: [Support.span(0, 2)], buckets: [4, 1], hint: .gauge, integer: integer))
            _ = gauge.append(2, Support.histogram(spans: [Support.span(3, 1)], buckets: [2], hint: .gauge, integer: integer))
            _ = gauge.append(3, NativeHistogram(sum: StaleMarker.value, isIntegerCounts: integer))
            chunks.append(gauge.chunk)
        }
        return chunks
    }()

    @Test func validChunksPass() {
        for chunk in Self.validChunks {
            let (validated, iterated, _) = Self.check(chunk.encoding, chunk.bytes)
            #expect(validated == chunk)
            #expect(iterated == chunk.map(Fingerprint.init))
            #expect(chunk.sampleCount > 0)
        }
    }

    @Test(.timeLimit(.minutes(10)))
    func randomBytes() {
        var random = Support.Random(state: 0xC4A7)
        for iteration in 0..<8000 {
            let length = iteration < 2000 ? Int(random.next() % 12) : Int(random.next() % 400)
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            for encoding in ChunkEncoding.allCases { Self.check(encoding, bytes) }
        }
    }

    /// Random bodies behind plausible headers (small sample counts, valid flag bits), which get much
    /// further into the decoders than fully random bytes.
    @Test(.timeLimit(.minutes(10)))
    func randomBytesBehindPlausibleHeaders() {
        var random = Support.Random(state: 0x4EAD)
        for _ in 0..<8000 {
            let count = Int(1 + random.next() % 40)
            var bytes: [UInt8] = [0, UInt8(count), UInt8(truncatingIfNeeded: random.next()) & 0xC0]
            bytes += (0..<Int(random.next() % 300)).map { _ in
                // Mostly small bytes: short varbits, zero thresholds, small schemas.
                random.next() % 3 == 0 ? UInt8(truncatingIfNeeded: random.next()) : UInt8(random.next() % 4)
            }
            Self.check(.histogram, bytes)
            Self.check(.floatHistogram, bytes)
            Self.check(.xor, Array(bytes[0..<2]) + bytes[3...])
        }
    }

    /// Every strict prefix of a real chunk is refused, and iterating it yields a prefix of the real samples.
    @Test(.timeLimit(.minutes(10)))
    func everyTruncation() {
        for chunk in Self.validChunks {
            let all = chunk.map(Fingerprint.init)
            for length in 0..<chunk.bytes.count {
                let (validated, iterated, error) = Self.check(chunk.encoding, Array(chunk.bytes[..<length]))
                #expect(validated == nil, "\(chunk.encoding) prefix of \(length) of \(chunk.bytes.count) bytes accepted")
                #expect(error?.kind == .truncated, "\(chunk.encoding) prefix of \(length): \(String(describing: error))")
                #expect(iterated.count < all.count && Array(all.prefix(iterated.count)) == iterated)
            }
        }
    }

    @Test(.timeLimit(.minutes(10)))
    func singleByteMutations() {
        var random = Support.Random(state: 0xB17F)
        var accepted = 0
        for chunk in Self.validChunks {
            for index in chunk.bytes.indices {
                for mask in [0x01, 0x80, UInt8(truncatingIfNeeded: random.next() | 1)] as [UInt8] {
                    var mutated = chunk.bytes
                    mutated[index] ^= mask
                    if Self.check(chunk.encoding, mutated).chunk != nil { accepted += 1 }
                }
            }
        }
        // Most mutations still decode to something (a different value is not detectable without a checksum).
        #expect(accepted > 0)
    }

    @Test(.timeLimit(.minutes(10)))
    func everyBitFlipOfSmallChunks() {
        for chunk in Self.validChunks where chunk.bytes.count <= 200 {
            for bit in 0..<(chunk.bytes.count * 8) {
                var mutated = chunk.bytes
                mutated[bit / 8] ^= UInt8(0x80) >> UInt8(bit % 8)
                Self.check(chunk.encoding, mutated)
            }
        }
    }

    @Test(.timeLimit(.minutes(10)))
    func bytesOfOneEncodingReadAsTheOthers() {
        for chunk in Self.validChunks {
            for encoding in ChunkEncoding.allCases where encoding != chunk.encoding { Self.check(encoding, chunk.bytes) }
        }
    }

    @Test func announcedSizesAreBoundedByTheBytes() {
        // A histogram layout announcing 2^25 spans of 2^32 buckets in a few bytes must fail fast,
        // without allocating for them.
        var writer = BitWriter()
        writer.write(1, bitCount: 16)
        writer.writeByte(0)
        writer.writeByte(0)  // zero threshold 0
        writer.writeVarbitInt(0)  // schema
        writer.writeVarbitUInt(1 << 25)  // span count
        for _ in 0..<4 {
            writer.writeVarbitUInt(UInt64(UInt32.max))
            writer.writeVarbitInt(0)
        }
        for encoding in [ChunkEncoding.histogram, .floatHistogram] {
            #expect(throws: ChunkError.self) { try Chunk(encoding: encoding, bytes: writer.bytes) }
        }
        var oneSpan = BitWriter()
        oneSpan.write(1, bitCount: 16)
        oneSpan.writeByte(0)
        oneSpan.writeByte(0)
        oneSpan.writeVarbitInt(0)
        oneSpan.writeVarbitUInt(1)
        oneSpan.writeVarbitUInt(UInt64(UInt32.max))
        oneSpan.writeVarbitInt(0)
        oneSpan.writeVarbitUInt(0)
        for encoding in [ChunkEncoding.histogram, .floatHistogram] {
            #expect(throws: ChunkError.self) { try Chunk(encoding: encoding, bytes: oneSpan.bytes) }
        }
        // An XOR window wider than 64 bits.
        var xor = BitWriter()
        xor.write(2, bitCount: 16)
        xor.writeVarint(0)
        xor.write(0, bitCount: 64)
        xor.writeUVarint(10)
        xor.write(0b11, bitCount: 2)
        xor.write(31, bitCount: 5)
        xor.write(40, bitCount: 6)
        xor.write(0, bitCount: 40)
        #expect(throws: ChunkError.self) { try XORChunk(bytes: xor.bytes) }
    }
}
