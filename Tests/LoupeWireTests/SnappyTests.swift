import Foundation
import LoupeWire
import Testing

/// SplitMix64, so every random test is reproducible.
private struct SnappyRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }

    /// Label-like text: compresses well, with matches at many distances.
    mutating func text(_ count: Int) -> [UInt8] {
        let words = ["__name__", "http_requests_total", "job", "prometheus", "instance", "10.0.0.1:9090", "code", "200", "=", ",", "\"", " "]
            .map { Array($0.utf8) }
        var out: [UInt8] = []
        out.reserveCapacity(count + 32)
        while out.count < count { out += words[Int(next() % UInt64(words.count))] }
        return Array(out.prefix(count))
    }

    /// A mix of runs, text and noise: exercises literals, short and long copies, overlapping copies.
    mutating func mixed(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count + 300)
        while out.count < count {
            switch next() % 4 {
            case 0: out += bytes(Int(next() % 100))
            case 1: out += text(Int(next() % 3000))
            case 2: out += [UInt8](repeating: UInt8(truncatingIfNeeded: next()), count: Int(next() % 500))
            default:
                let pattern = bytes(1 + Int(next() % 9))
                for _ in 0..<Int(next() % 200) { out += pattern }
            }
        }
        return Array(out.prefix(count))
    }
}

private enum SnappyFixtures {
    static let names = [
        "empty", "one-byte", "short-text", "text", "random", "zeros", "repetitive", "pattern-7", "exposition-1mib",
        "block-65535", "block-65536", "block-65537", "random-70000", "mixed-200000", "random-300",
    ]

    static func data(_ file: String) throws -> [UInt8] {
        let url = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/snappy/\(file)")
        return try [UInt8](Data(contentsOf: url))
    }

    static func original(_ name: String) throws -> [UInt8] {
        try Gzip.decompress(try data("\(name).raw.gz"), maximumOutputBytes: 1 << 24)
    }
}

private func expectSnappyError(
    _ code: SnappyError.Code,
    offset: Int? = nil,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws(SnappyError) -> [UInt8]
) {
    do {
        let output = try body()
        Issue.record("expected SnappyError.\(code), got \(output.count) bytes", sourceLocation: sourceLocation)
    } catch {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
        if let offset { #expect(error.offset == offset, "\(error)", sourceLocation: sourceLocation) }
    }
}

/// Decompresses or returns the error; output, if any, must have the declared length.
@discardableResult
private func tryDecompress(_ bytes: [UInt8], limit: Int = 1 << 22) -> SnappyError? {
    do throws(SnappyError) {
        let output = try Snappy.decompress(bytes, maximumOutputBytes: limit)
        #expect(output.count == (try? Snappy.uncompressedLength(bytes)))
        return nil
    } catch {
        #expect(!error.message.isEmpty)
        if let offset = error.offset { #expect(offset >= 0 && offset <= bytes.count) }
        return error
    }
}

@Suite("Snappy block format")
struct SnappyBlockTests {
    @Test("decompresses python-snappy's output exactly", arguments: SnappyFixtures.names)
    func pythonFixtures(name: String) throws {
        let original = try SnappyFixtures.original(name)
        let compressed = try SnappyFixtures.data("\(name).snappy")
        #expect(try Snappy.uncompressedLength(compressed) == original.count)
        #expect(try Snappy.decompress(compressed, maximumOutputBytes: original.count) == original)
        // Our compressor round-trips it too, and does not do worse than 10% over the reference's ratio
        // on compressible input.
        let ours = Snappy.compress(original)
        #expect(try Snappy.decompress(ours, maximumOutputBytes: original.count) == original)
        #expect(ours.count <= Snappy.maximumCompressedLength(original.count))
        #expect(ours.count <= compressed.count + compressed.count / 10 + 8, "ours \(ours.count) vs python-snappy \(compressed.count)")
    }

    @Test("the fixture manifest matches the fixtures")
    func manifest() throws {
        let manifest = try JSONSerialization.jsonObject(with: Data(try SnappyFixtures.data("manifest.json"))) as? [[String: Any]]
        let entries = try #require(manifest)
        #expect(entries.map { $0["name"] as? String } == SnappyFixtures.names)
        for entry in entries {
            let name = try #require(entry["name"] as? String)
            #expect(try SnappyFixtures.original(name).count == entry["length"] as? Int)
        }
    }

    @Test("round trips of random data of many sizes")
    func roundTrips() throws {
        var random = SnappyRandom(seed: 1)
        var sizes = Array(0...300) + [511, 512, 1000, 4095, 4096, 10_000, 65_535, 65_536, 65_537, 100_000, 131_072, 131_073, 250_000]
        sizes += (0..<20).map { _ in Int(random.next() % 400_000) }
        for size in sizes {
            for kind in 0..<3 {
                let input = kind == 0 ? random.bytes(size) : kind == 1 ? random.text(size) : random.mixed(size)
                let compressed = Snappy.compress(input)
                #expect(compressed.count <= Snappy.maximumCompressedLength(size))
                #expect(try Snappy.uncompressedLength(compressed) == size)
                let output = try Snappy.decompress(compressed, maximumOutputBytes: size)
                #expect(output == input, "size \(size) kind \(kind)")
            }
        }
    }

    @Test("compression actually compresses")
    func ratios() {
        var random = SnappyRandom(seed: 2)
        #expect(Snappy.compress([UInt8](repeating: 0, count: 1 << 20)).count < 50_000)
        #expect(Snappy.compress(random.text(1 << 20)).count < (1 << 20) / 3)
        // Incompressible input costs at most the literal headers.
        let noise = random.bytes(1 << 20)
        #expect(Snappy.compress(noise).count <= noise.count + noise.count / 1000 + 16)
    }

    // MARK: - Hand-made elements

    @Test("overlapping copies repeat the last offset bytes")
    func overlappingCopies() throws {
        // "ab", then copy-1 (length 10, offset 2): ababababab.
        let runLength: [UInt8] = [12, 1 << 2 | 0, 0x61, 0x62, (10 - 4) << 2 | 1, 2]
        #expect(try Snappy.decompress(runLength, maximumOutputBytes: 100) == Array("abababababab".utf8))
        // One byte repeated by a copy-2 of 64 with offset 1.
        let run: [UInt8] = [65, 0, 0x7A, 63 << 2 | 2, 1, 0]
        #expect(try Snappy.decompress(run, maximumOutputBytes: 100) == [UInt8](repeating: 0x7A, count: 65))
        // Every offset 1...20 against lengths 1...64, with copy-2 and copy-4 elements, against a naive model.
        for offset in 1...20 {
            for length in 1...64 {
                let prefix = (0..<offset).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 1) }
                var expected = prefix
                for _ in 0..<length { expected.append(expected[expected.count - offset]) }
                let literal: [UInt8] = [UInt8(offset - 1) << 2] + prefix
                let copy2: [UInt8] = [UInt8(length - 1) << 2 | 2, UInt8(offset), 0]
                let copy4: [UInt8] = [UInt8(length - 1) << 2 | 3, UInt8(offset), 0, 0, 0]
                let preamble = [UInt8(expected.count)]
                #expect(try Snappy.decompress(preamble + literal + copy2, maximumOutputBytes: 200) == expected)
                #expect(try Snappy.decompress(preamble + literal + copy4, maximumOutputBytes: 200) == expected)
                // With output following the copy, so the decoder has room for its 8-byte fast path.
                let tail = Array("0123456789ABCDEFGHIJ".utf8)
                let withTail = [UInt8(expected.count + tail.count)] + literal + copy2 + [UInt8(tail.count - 1) << 2] + tail
                #expect(try Snappy.decompress(withTail, maximumOutputBytes: 200) == expected + tail)
            }
        }
    }

    @Test("literal lengths in 1 to 4 extra bytes")
    func longLiterals() throws {
        let data = Array("0123456789".utf8)
        for extra in 1...4 {
            var block: [UInt8] = [10, UInt8(59 + extra) << 2]
            block += [9] + [UInt8](repeating: 0, count: extra - 1)
            block += data
            #expect(try Snappy.decompress(block, maximumOutputBytes: 10) == data)
        }
    }

    // MARK: - Errors

    @Test("malformed preambles")
    func preambles() throws {
        expectSnappyError(.truncated, offset: 0) { () throws(SnappyError) in try Snappy.decompress([], maximumOutputBytes: 10) }
        expectSnappyError(.truncated) { () throws(SnappyError) in try Snappy.decompress([0x80, 0x80], maximumOutputBytes: 10) }
        expectSnappyError(.corrupt, offset: 0) { () throws(SnappyError) in
            try Snappy.decompress([0x80, 0x80, 0x80, 0x80, 0x80, 0x01], maximumOutputBytes: .max)
        }
        // 2^32 does not fit in 32 bits.
        expectSnappyError(.corrupt, offset: 0) { () throws(SnappyError) in
            try Snappy.decompress([0x80, 0x80, 0x80, 0x80, 0x10, 0x00], maximumOutputBytes: .max)
        }
        #expect(try Snappy.decompress([0], maximumOutputBytes: 0) == [])
        // Zero declared, but elements follow.
        expectSnappyError(.corrupt) { () throws(SnappyError) in try Snappy.decompress([0, 0, 0x61], maximumOutputBytes: 10) }
    }

    @Test("bombs are rejected before allocating")
    func bombs() {
        // Declares 4 GiB - 1 in 6 bytes.
        let bomb: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00]
        expectSnappyError(.outputTooLarge, offset: 0) { () throws(SnappyError) in try Snappy.decompress(bomb, maximumOutputBytes: 64 << 20) }
        // Even under a huge limit: 1 byte of elements cannot produce 4 GiB.
        expectSnappyError(.corrupt, offset: 0) { () throws(SnappyError) in try Snappy.decompress(bomb, maximumOutputBytes: .max) }
        // A genuine 1 MiB body against a 1 MiB - 1 limit.
        let zeros = Snappy.compress([UInt8](repeating: 0, count: 1 << 20))
        expectSnappyError(.outputTooLarge) { () throws(SnappyError) in try Snappy.decompress(zeros, maximumOutputBytes: (1 << 20) - 1) }
        #expect((try? Snappy.decompress(zeros, maximumOutputBytes: 1 << 20))?.count == 1 << 20)
        // The maximum ratio: copies of 64 bytes in 3 bytes each, 4 MiB from ~200 KB, is fine.
        var dense: [UInt8] = [0x80, 0x80, 0x80, 0x02] + [0 << 2, 0x41]  // 4 MiB, then a literal of 1 byte
        var produced = 1
        while produced < 4 << 20 {
            let length = min(64, (4 << 20) - produced)
            dense += [UInt8(length - 1) << 2 | 2, 1, 0]
            produced += length
        }
        #expect((try? Snappy.decompress(dense, maximumOutputBytes: 4 << 20)) == [UInt8](repeating: 0x41, count: 4 << 20))
    }

    @Test("bad copies and lengths say what and where")
    func badElements() {
        // A copy with offset 0, at byte 4.
        expectSnappyError(.corrupt, offset: 4) { () throws(SnappyError) in
            try Snappy.decompress([10, 1 << 2, 0x61, 0x62, (8 - 4) << 2 | 1, 0], maximumOutputBytes: 100)
        }
        // A copy reaching before the start of the output.
        do {
            _ = try Snappy.decompress([10, 1 << 2, 0x61, 0x62, (8 - 4) << 2 | 1, 3], maximumOutputBytes: 100)
            Issue.record("expected an error")
        } catch {
            #expect(error == SnappyError(.corrupt, "copy reaches 3 bytes back but only 2 bytes have been produced", offset: 4))
            #expect(error.description == "snappy corrupt at byte 4: copy reaches 3 bytes back but only 2 bytes have been produced")
        }
        // Output longer than declared (literal, copy), shorter than declared.
        expectSnappyError(.corrupt, offset: 1) { () throws(SnappyError) in try Snappy.decompress([1, 1 << 2, 0x61, 0x62], maximumOutputBytes: 100) }
        expectSnappyError(.corrupt, offset: 4) { () throws(SnappyError) in
            try Snappy.decompress([5, 1 << 2, 0x61, 0x62, (4 - 4) << 2 | 1, 2], maximumOutputBytes: 100)
        }
        expectSnappyError(.corrupt, offset: 4) { () throws(SnappyError) in try Snappy.decompress([3, 1 << 2, 0x61, 0x62], maximumOutputBytes: 100) }
        // Truncated literal, copy-1, copy-2, copy-4, literal length bytes.
        expectSnappyError(.truncated, offset: 1) { () throws(SnappyError) in try Snappy.decompress([3, 2 << 2, 0x61, 0x62], maximumOutputBytes: 100) }
        expectSnappyError(.truncated, offset: 3) { () throws(SnappyError) in try Snappy.decompress([6, 0, 0x61, 1], maximumOutputBytes: 100) }
        expectSnappyError(.truncated, offset: 3) { () throws(SnappyError) in try Snappy.decompress([6, 0, 0x61, 2, 1], maximumOutputBytes: 100) }
        expectSnappyError(.truncated, offset: 3) { () throws(SnappyError) in try Snappy.decompress([6, 0, 0x61, 3, 1, 0, 0], maximumOutputBytes: 100) }
        expectSnappyError(.truncated, offset: 1) { () throws(SnappyError) in try Snappy.decompress([6, 62 << 2, 1], maximumOutputBytes: 100) }
    }

    // MARK: - Hostile input

    @Test(.timeLimit(.minutes(10)))
    func randomBytes() {
        var random = SnappyRandom(seed: 3)
        for iteration in 0..<20_000 {
            let length = iteration < 5000 ? Int(random.next() % 8) : Int(random.next() % 2000)
            var bytes = random.bytes(length)
            // Half of them with a small plausible preamble, so the elements get decoded.
            if iteration % 2 == 0 && !bytes.isEmpty { bytes[0] = UInt8(random.next() % 0x80) }
            tryDecompress(bytes)
        }
    }

    @Test(.timeLimit(.minutes(10)))
    func everyTruncationFails() {
        var random = SnappyRandom(seed: 4)
        for input in [random.mixed(3000), random.text(70_000).prefix(5000).map { $0 }, Array("abcabcabcabcabcabcabcabc".utf8)] {
            let compressed = Snappy.compress(input)
            for length in 0..<compressed.count {
                #expect(tryDecompress(Array(compressed[..<length])) != nil, "prefix of \(length) decoded")
            }
            #expect(tryDecompress(compressed) == nil)
        }
    }

    @Test(.timeLimit(.minutes(10)))
    func singleByteMutations() {
        var random = SnappyRandom(seed: 5)
        for input in [random.mixed(4000), random.text(2000)] {
            let compressed = Snappy.compress(input)
            for index in compressed.indices {
                for mask: UInt8 in [0x01, 0x02, 0x80, 0xFF, UInt8(truncatingIfNeeded: random.next() | 1)] {
                    var mutated = compressed
                    mutated[index] ^= mask
                    tryDecompress(mutated)
                }
            }
        }
    }
}

@Suite("Snappy framing format")
struct SnappyFramingTests {
    @Test("decompresses python-snappy's streams exactly", arguments: SnappyFixtures.names)
    func pythonFixtures(name: String) throws {
        let original = try SnappyFixtures.original(name)
        let framed = try SnappyFixtures.data("\(name).sz")
        #expect(try Snappy.decompressFramed(framed, maximumOutputBytes: original.count) == original)
        let ours = Snappy.compressFramed(original)
        #expect(try Snappy.decompressFramed(ours, maximumOutputBytes: original.count) == original)
        if original.count > 0 {
            expectSnappyError(.outputTooLarge) { () throws(SnappyError) in try Snappy.decompressFramed(framed, maximumOutputBytes: original.count - 1) }
        }
    }

    @Test("CRC-32C and its mask")
    func checksums() {
        #expect(Snappy.crc32c(Array("123456789".utf8)) == 0xE306_9283)
        #expect(Snappy.crc32c([]) == 0)
        #expect(Snappy.crc32c([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(Snappy.crc32c([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(Snappy.crc32c(Array(0...31)) == 0x46DD_794E)
        // The first chunk of python-snappy's "one-byte" stream carries the masked CRC of "a".
        let stream = (try? SnappyFixtures.data("one-byte.sz")) ?? []
        if stream.count >= 18 {
            let stored = UInt32(stream[14]) | UInt32(stream[15]) << 8 | UInt32(stream[16]) << 16 | UInt32(stream[17]) << 24
            #expect(stored == Snappy.maskedChecksum([0x61]))
        }
    }

    @Test("round trips, with compressed and stored chunks")
    func roundTrips() throws {
        var random = SnappyRandom(seed: 6)
        for size in [0, 1, 100, 65_535, 65_536, 65_537, 200_000] {
            for input in [random.bytes(size), random.text(size), random.mixed(size)] {
                let framed = Snappy.compressFramed(input)
                #expect(Array(framed.prefix(10)) == [0xFF, 6, 0, 0] + Array("sNaPpY".utf8))
                #expect(try Snappy.decompressFramed(framed, maximumOutputBytes: size) == input)
            }
        }
        // Incompressible data goes into stored (0x01) chunks.
        #expect(Snappy.compressFramed(random.bytes(1000))[10] == 0x01)
        #expect(Snappy.compressFramed(random.text(1000))[10] == 0x00)
    }

    static let identifier: [UInt8] = [0xFF, 6, 0, 0] + Array("sNaPpY".utf8)

    static func chunk(_ type: UInt8, _ body: [UInt8]) -> [UInt8] {
        [type, UInt8(body.count & 0xFF), UInt8(body.count >> 8 & 0xFF), UInt8(body.count >> 16)] + body
    }

    static func checksum(_ data: [UInt8]) -> [UInt8] {
        let value = Snappy.maskedChecksum(data)
        return (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * UInt32($0))) }
    }

    @Test("padding and skippable chunks are skipped; streams concatenate")
    func skippable() throws {
        let hello = Array("hello".utf8)
        let data = Self.chunk(0x01, Self.checksum(hello) + hello)
        let stream = Self.identifier + Self.chunk(0xFE, [0, 0, 0]) + data + Self.chunk(0x80, [1, 2]) + Self.chunk(0xFD, []) + data
        #expect(try Snappy.decompressFramed(stream, maximumOutputBytes: 100) == hello + hello)
        #expect(try Snappy.decompressFramed(stream + stream, maximumOutputBytes: 100) == hello + hello + hello + hello)
        #expect(try Snappy.decompressFramed([], maximumOutputBytes: 0) == [])
        #expect(try Snappy.decompressFramed(Self.identifier, maximumOutputBytes: 0) == [])
    }

    @Test("framing errors")
    func errors() {
        let hello = Array("hello".utf8)
        let good = Self.chunk(0x01, Self.checksum(hello) + hello)
        // No stream identifier first.
        expectSnappyError(.corrupt, offset: 0) { () throws(SnappyError) in try Snappy.decompressFramed(good, maximumOutputBytes: 100) }
        // A bad identifier.
        expectSnappyError(.corrupt, offset: 0) { () throws(SnappyError) in
            try Snappy.decompressFramed([0xFF, 6, 0, 0] + Array("snappy".utf8), maximumOutputBytes: 100)
        }
        // Wrong checksum.
        var bad = Self.identifier + good
        bad[14] ^= 1
        expectSnappyError(.checksumMismatch, offset: 10) { () throws(SnappyError) in try Snappy.decompressFramed(bad, maximumOutputBytes: 100) }
        // Reserved unskippable chunk.
        expectSnappyError(.unsupportedChunk, offset: 10) { () throws(SnappyError) in
            try Snappy.decompressFramed(Self.identifier + Self.chunk(0x02, []), maximumOutputBytes: 100)
        }
        // Truncated header and body.
        expectSnappyError(.truncated, offset: 10) { () throws(SnappyError) in try Snappy.decompressFramed(Self.identifier + [0x01, 9], maximumOutputBytes: 100) }
        expectSnappyError(.truncated, offset: 10) { () throws(SnappyError) in
            try Snappy.decompressFramed(Self.identifier + Array(good.dropLast()), maximumOutputBytes: 100)
        }
        // A data chunk too short for its checksum.
        expectSnappyError(.corrupt, offset: 10) { () throws(SnappyError) in
            try Snappy.decompressFramed(Self.identifier + Self.chunk(0x00, [1, 2]), maximumOutputBytes: 100)
        }
        // A stored chunk over 64 KiB.
        let big = [UInt8](repeating: 7, count: 65_537)
        expectSnappyError(.corrupt, offset: 10) { () throws(SnappyError) in
            try Snappy.decompressFramed(Self.identifier + Self.chunk(0x01, Self.checksum(big) + big), maximumOutputBytes: 1 << 20)
        }
        // A compressed chunk declaring more than 64 KiB.
        let compressedBig = Snappy.compress(big)
        expectSnappyError(.corrupt, offset: 18) { () throws(SnappyError) in
            try Snappy.decompressFramed(Self.identifier + Self.chunk(0x00, Self.checksum(big) + compressedBig), maximumOutputBytes: 1 << 20)
        }
        // A corrupt block inside a compressed chunk: offsets point into the stream.
        let block: [UInt8] = [10, 1 << 2, 0x61, 0x62, (8 - 4) << 2 | 1, 3]
        expectSnappyError(.corrupt, offset: 18 + 4) { () throws(SnappyError) in
            try Snappy.decompressFramed(Self.identifier + Self.chunk(0x00, [0, 0, 0, 0] + block), maximumOutputBytes: 100)
        }
    }

    @Test(.timeLimit(.minutes(10)))
    func mutationsAndTruncations() {
        var random = SnappyRandom(seed: 7)
        let stream = Snappy.compressFramed(random.mixed(3000) + random.bytes(500))
        for length in 0..<stream.count {
            do throws(SnappyError) {
                let output = try Snappy.decompressFramed(Array(stream[..<length]), maximumOutputBytes: 1 << 20)
                // A prefix that ends exactly between chunks is a valid shorter stream.
                #expect(output.count <= 3500)
            } catch {
                #expect(!error.message.isEmpty)
            }
        }
        for index in stream.indices {
            var mutated = stream
            mutated[index] ^= UInt8(truncatingIfNeeded: random.next() | 1)
            do throws(SnappyError) {
                _ = try Snappy.decompressFramed(mutated, maximumOutputBytes: 1 << 20)
            } catch {
                #expect(!error.message.isEmpty)
            }
        }
    }
}

/// Our output, checked by python-snappy at test time (skipped when python3 cannot `import snappy`).
@Suite(
    "Snappy against python-snappy",
    .enabled(if: PythonSnappy.isAvailable, "python-snappy is not installed (pip install python-snappy, or set LOUPE_PYTHON)")
)
struct SnappyPythonInteropTests {
    @Test("python-snappy decompresses our block and framed output")
    func pythonDecompressesOurs() throws {
        var random = SnappyRandom(seed: 8)
        var inputs: [(String, [UInt8])] = [("empty", []), ("one", [0x61]), ("zeros", [UInt8](repeating: 0, count: 300_000))]
        for size in [17, 100, 4096, 65_535, 65_536, 65_537, 200_000, 1 << 20] {
            inputs.append(("random-\(size)", random.bytes(size)))
            inputs.append(("text-\(size)", random.text(size)))
            inputs.append(("mixed-\(size)", random.mixed(size)))
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-snappy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, input) in inputs {
            try Data(input).write(to: directory.appendingPathComponent("\(name).raw"))
            try Data(Snappy.compress(input)).write(to: directory.appendingPathComponent("\(name).snappy"))
            try Data(Snappy.compressFramed(input)).write(to: directory.appendingPathComponent("\(name).sz"))
        }
        let script = """
            import os, snappy, sys
            d = sys.argv[1]
            bad = []
            for name in sorted(f[:-4] for f in os.listdir(d) if f.endswith('.raw')):
                raw = open(os.path.join(d, name + '.raw'), 'rb').read()
                try:
                    if snappy.decompress(open(os.path.join(d, name + '.snappy'), 'rb').read()) != raw: bad.append(name + ' (block: different bytes)')
                except Exception as e:
                    bad.append(name + ' (block: %r)' % e)
                try:
                    if snappy.StreamDecompressor().decompress(open(os.path.join(d, name + '.sz'), 'rb').read()) != raw: bad.append(name + ' (framed: different bytes)')
                except Exception as e:
                    bad.append(name + ' (framed: %r)' % e)
            print('\\n'.join(bad) if bad else 'ok')
            sys.exit(1 if bad else 0)
            """
        let (status, output) = try PythonSnappy.run(["-c", script, directory.path])
        #expect(status == 0, "python-snappy rejected: \(output)")
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "ok")
    }
}

/// The Python that has python-snappy: `$LOUPE_PYTHON`, else the test peers' virtualenv that scripts/test.sh
/// creates (`.venv-test`, where tests/integration/requirements.txt installs python-snappy), else `python3`.
enum PythonSnappy {
    static let interpreter: [String] = {
        if let python = ProcessInfo.processInfo.environment["LOUPE_PYTHON"], !python.isEmpty { return [python] }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let venv = root.appendingPathComponent(".venv-test/bin/python").path
        if FileManager.default.isExecutableFile(atPath: venv), (try? run(["-c", "import snappy"], python: [venv]).status) == 0 { return [venv] }
        return ["python3"]
    }()

    static let isAvailable: Bool = (try? run(["-c", "import snappy"]).status) == 0

    static func run(_ arguments: [String], python: [String]? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = (python ?? interpreter) + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
