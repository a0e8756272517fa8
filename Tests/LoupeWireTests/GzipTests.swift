import Foundation
import LoupeWire
import Testing

/// A small deterministic generator (SplitMix64), so fuzz runs are reproducible.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func randomBytes(_ count: Int, _ rng: inout SeededGenerator) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
}

/// Text-like bytes that compress well, like OTLP bodies do.
private func compressibleBytes(_ count: Int, _ rng: inout SeededGenerator) -> [UInt8] {
    let words = ["span", "trace", "service.name", "loupe", "http.method", "GET", "200", " ", "\n"].map { Array($0.utf8) }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count)
    while bytes.count < count {
        bytes.append(contentsOf: words[Int.random(in: 0..<words.count, using: &rng)])
    }
    return Array(bytes.prefix(count))
}

private func fixture(_ name: String) throws -> [UInt8] {
    let directory = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
    return try [UInt8](Data(contentsOf: directory.appendingPathComponent("gzip").appendingPathComponent(name)))
}

private func expectGzipError(
    _ code: GzipError.Code,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws(GzipError) -> [UInt8]
) {
    do {
        let output = try body()
        Issue.record("expected GzipError.\(code), got \(output.count) bytes", sourceLocation: sourceLocation)
    } catch {
        #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
        #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
    }
}

@Suite("Gzip")
struct GzipTests {
    @Test("round trip at every level and size", arguments: [0, 1, 6, 9])
    func roundTrip(level: Int32) throws {
        var rng = SeededGenerator(seed: UInt64(level) + 1)
        for size in [0, 1, 2, 100, 65_535, 65_536, 300_000] {
            let input = size % 2 == 0 ? compressibleBytes(size, &rng) : randomBytes(size, &rng)
            let compressed = Gzip.compress(input, level: level)
            #expect(compressed.starts(with: [0x1F, 0x8B]))
            #expect(try Gzip.decompress(compressed, maximumOutputBytes: size) == input)
            let zlib = Gzip.compressDeflate(input, level: level)
            #expect(try Gzip.decompressDeflate(zlib, maximumOutputBytes: size) == input)
        }
    }

    @Test("compressible data actually shrinks")
    func compresses() throws {
        var rng = SeededGenerator(seed: 7)
        let input = compressibleBytes(200_000, &rng)
        let compressed = Gzip.compress(input)
        #expect(compressed.count < input.count / 3)
    }

    @Test("decompresses what Python's gzip and zlib modules wrote")
    func pythonFixtures() throws {
        let plain = try fixture("plain.bin")
        #expect(plain.count == 37_732)
        #expect(try Gzip.decompress(try fixture("plain.bin.gz"), maximumOutputBytes: 1 << 20) == plain)
        #expect(try Gzip.decompress(try fixture("plain-named.bin.gz"), maximumOutputBytes: 1 << 20) == plain)
        #expect(try Gzip.decompress(try fixture("plain-two-members.bin.gz"), maximumOutputBytes: 1 << 20) == plain)
        #expect(try Gzip.decompressDeflate(try fixture("plain.bin.zlib"), maximumOutputBytes: 1 << 20) == plain)
        #expect(try Gzip.decompressDeflate(try fixture("plain.bin.deflate"), maximumOutputBytes: 1 << 20) == plain)
        #expect(try Gzip.decompress(try fixture("empty.gz"), maximumOutputBytes: 0) == [])
        // The body accessor over raw memory gives the same.
        let gz = try fixture("plain.bin.gz")
        let viaPointer = try gz.withUnsafeBytes { bytes in try Gzip.decompress(bytes, maximumOutputBytes: 1 << 20) }
        #expect(viaPointer == plain)
    }

    @Test("the gzip command line tool's output decompresses")
    func gzipTool() throws {
        let tool = "/usr/bin/gzip"
        guard FileManager.default.isExecutableFile(atPath: tool) else { return }
        var rng = SeededGenerator(seed: 99)
        let input = compressibleBytes(150_000, &rng) + randomBytes(5_000, &rng)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-gzip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("input.bin")
        try Data(input).write(to: file)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["-9", "-k", file.path]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let compressed = try [UInt8](Data(contentsOf: directory.appendingPathComponent("input.bin.gz")))
        #expect(try Gzip.decompress(compressed, maximumOutputBytes: input.count) == input)
        // Its output decompresses with the tool too (our writer is standard gzip).
        let ours = directory.appendingPathComponent("ours.gz")
        try Data(Gzip.compress(input)).write(to: ours)
        let check = Process()
        check.executableURL = URL(fileURLWithPath: tool)
        check.arguments = ["-t", ours.path]
        try check.run()
        check.waitUntilExit()
        #expect(check.terminationStatus == 0)
    }

    @Test("concatenated members decompress into one output")
    func concatenatedMembers() throws {
        var rng = SeededGenerator(seed: 3)
        let parts = [compressibleBytes(10_000, &rng), [], randomBytes(3_000, &rng), compressibleBytes(50_000, &rng)]
        let body = parts.flatMap { Gzip.compress($0) }
        #expect(try Gzip.decompress(body, maximumOutputBytes: 1 << 20) == parts.flatMap { $0 })
        // The limit applies to the total, not to each member.
        expectGzipError(.outputTooLarge) { () throws(GzipError) in try Gzip.decompress(body, maximumOutputBytes: 60_000) }
    }

    @Test("trailing garbage after a member is corrupt, a partial second member truncated")
    func trailingData() throws {
        let member = Gzip.compress(Array("hello".utf8))
        expectGzipError(.corrupt) { () throws(GzipError) in try Gzip.decompress(member + [0x00, 0x01, 0x02], maximumOutputBytes: 100) }
        expectGzipError(.truncated) { () throws(GzipError) in try Gzip.decompress(member + [0x1F, 0x8B], maximumOutputBytes: 100) }
        let zlib = Gzip.compressDeflate(Array("hello".utf8))
        expectGzipError(.corrupt) { () throws(GzipError) in try Gzip.decompressDeflate(zlib + [0x42], maximumOutputBytes: 100) }
    }

    @Test("empty and non-gzip input")
    func notGzip() {
        expectGzipError(.truncated) { () throws(GzipError) in try Gzip.decompress([], maximumOutputBytes: 100) }
        expectGzipError(.truncated) { () throws(GzipError) in try Gzip.decompressDeflate([], maximumOutputBytes: 100) }
        expectGzipError(.corrupt) { () throws(GzipError) in try Gzip.decompress(Array("{\"resourceSpans\":[]}".utf8), maximumOutputBytes: 100) }
        // zlib data is not gzip.
        expectGzipError(.corrupt) { () throws(GzipError) in try Gzip.decompress(Gzip.compressDeflate([1, 2, 3]), maximumOutputBytes: 100) }
    }

    @Test("every truncation of a valid body is reported as truncated")
    func everyTruncation() {
        var rng = SeededGenerator(seed: 11)
        let input = compressibleBytes(3_000, &rng) + randomBytes(500, &rng)
        let gz = Gzip.compress(input)
        for length in 0..<gz.count {
            expectGzipError(.truncated) { () throws(GzipError) in try Gzip.decompress(Array(gz[0..<length]), maximumOutputBytes: 1 << 20) }
        }
        let zlib = Gzip.compressDeflate(input)
        for length in 0..<zlib.count {
            // A zlib prefix too short for its header is taken as raw deflate, which may then be corrupt.
            do {
                _ = try Gzip.decompressDeflate(Array(zlib[0..<length]), maximumOutputBytes: 1 << 20)
                Issue.record("prefix of \(length) bytes decompressed")
            } catch {
                #expect(error.code != .outputTooLarge)
            }
        }
    }

    @Test("corrupt bodies fail with .corrupt")
    func corrupt() {
        let input = Array(repeating: Array("the quick brown fox ".utf8), count: 200).flatMap { $0 }
        var gz = Gzip.compress(input)
        // Damage the CRC-32 in the trailer: detected.
        gz[gz.count - 6] ^= 0xFF
        expectGzipError(.corrupt) { () throws(GzipError) in try Gzip.decompress(gz, maximumOutputBytes: 1 << 20) }
        // Damage the length in the trailer: detected.
        var gz2 = Gzip.compress(input)
        gz2[gz2.count - 2] ^= 0x01
        expectGzipError(.corrupt) { () throws(GzipError) in try Gzip.decompress(gz2, maximumOutputBytes: 1 << 20) }
        // A bad magic number.
        var gz3 = Gzip.compress(input)
        gz3[0] = 0x1E
        expectGzipError(.corrupt) { () throws(GzipError) in try Gzip.decompress(gz3, maximumOutputBytes: 1 << 20) }
    }

    @Test("a zip bomb stops at the limit with .outputTooLarge")
    func zipBomb() throws {
        let bomb = Gzip.compress([UInt8](repeating: 0, count: 64 << 20), level: 9)
        #expect(bomb.count < 100_000)
        expectGzipError(.outputTooLarge) { () throws(GzipError) in try Gzip.decompress(bomb, maximumOutputBytes: 1 << 20) }
        expectGzipError(.outputTooLarge) { () throws(GzipError) in try Gzip.decompress(bomb, maximumOutputBytes: 0) }
        let zlibBomb = Gzip.compressDeflate([UInt8](repeating: 0, count: 16 << 20), level: 9)
        expectGzipError(.outputTooLarge) { () throws(GzipError) in try Gzip.decompressDeflate(zlibBomb, maximumOutputBytes: 4096) }
    }

    @Test("the limit is inclusive: exactly maximumOutputBytes is fine, one more is not")
    func limitBoundary() throws {
        var rng = SeededGenerator(seed: 5)
        for size in [1, 1000, 16 << 10, (16 << 10) + 1, 100_000] {
            let input = compressibleBytes(size, &rng)
            let gz = Gzip.compress(input)
            #expect(try Gzip.decompress(gz, maximumOutputBytes: size) == input)
            #expect(try Gzip.decompress(gz, maximumOutputBytes: .max) == input)
            expectGzipError(.outputTooLarge) { () throws(GzipError) in try Gzip.decompress(gz, maximumOutputBytes: size - 1) }
        }
    }

    @Test("fuzz: random bytes and damaged bodies never crash")
    func fuzz() {
        var rng = SeededGenerator(seed: 2026)
        for _ in 0..<2_000 {
            let bytes = randomBytes(Int.random(in: 0..<300, using: &rng), &rng)
            _ = try? Gzip.decompress(bytes, maximumOutputBytes: 1 << 16)
            _ = try? Gzip.decompressDeflate(bytes, maximumOutputBytes: 1 << 16)
            // With a valid gzip header in front, so the deflate decoder itself gets exercised.
            _ = try? Gzip.decompress([0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0, 0xFF] + bytes, maximumOutputBytes: 1 << 16)
        }
        let input = compressibleBytes(20_000, &rng)
        let gz = Gzip.compress(input)
        for _ in 0..<2_000 {
            var damaged = gz
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                damaged[Int.random(in: 0..<damaged.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            do {
                let output = try Gzip.decompress(damaged, maximumOutputBytes: 1 << 20)
                // Only damage that CRC-32 and length cannot see (e.g. in the MTIME or OS header bytes).
                #expect(output == input)
            } catch {
                #expect(!error.message.isEmpty)
            }
        }
    }
}

@Suite("Gzip throughput")
struct GzipThroughputTests {
    @Test("decompression speed (opt-in: LOUPE_GZIP_BENCH=1)", .enabled(if: ProcessInfo.processInfo.environment["LOUPE_GZIP_BENCH"] != nil))
    func throughput() throws {
        var rng = SeededGenerator(seed: 1)
        let input = compressibleBytes(250_000, &rng)
        let gz = Gzip.compress(input)
        let clock = ContinuousClock()
        let iterations = 400
        var total = 0
        let elapsed = try clock.measure {
            for _ in 0..<iterations { total += try Gzip.decompress(gz, maximumOutputBytes: 1 << 20).count }
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(String(
            format: "gzip: %d-byte body (%d compressed): %.0f bodies/s, %.0f MB/s of output",
            input.count, gz.count, Double(iterations) / seconds, Double(total) / seconds / 1e6
        ))
        #expect(total == input.count * iterations)
    }
}

/// `inflateStored`: stored blocks of a known length, integrity checked by the caller.
@Suite("Stored deflate data")
struct StoredInflateTests {
    @Test("zlib and raw deflate data of a known length come back exactly")
    func roundTrip() throws {
        var rng = SeededGenerator(seed: 41)
        for size in [1, 100, 4_096, 300_000] {
            let input = compressibleBytes(size, &rng)
            let zlib = Gzip.compressDeflate(input, level: 6)
            #expect(try zlib.withUnsafeBytes { try Gzip.inflateStored($0, length: size) } == input)
            // Raw deflate: the zlib body without its two-byte header and Adler-32 trailer.
            let raw = Array(zlib[2..<(zlib.count - 4)])
            #expect(try raw.withUnsafeBytes { try Gzip.inflateStored($0, length: size) } == input)
        }
    }

    @Test("a wrong declared length, truncation or garbage fails with an error, never a trap")
    func badInput() throws {
        var rng = SeededGenerator(seed: 42)
        let input = compressibleBytes(10_000, &rng)
        let zlib = Gzip.compressDeflate(input, level: 6)
        for length in [0, 9_999, 10_001, 20_000] {
            #expect(throws: GzipError.self) { try zlib.withUnsafeBytes { try Gzip.inflateStored($0, length: length) } }
        }
        for cut in stride(from: 0, to: zlib.count - 4, by: max(1, zlib.count / 40)) {
            let truncated = Array(zlib[0..<cut])
            #expect(throws: GzipError.self) { try truncated.withUnsafeBytes { try Gzip.inflateStored($0, length: 10_000) } }
        }
        for _ in 0..<300 {
            let garbage = randomBytes(Int.random(in: 0...600, using: &rng), &rng)
            _ = try? garbage.withUnsafeBytes { try Gzip.inflateStored($0, length: Int.random(in: 0...5_000, using: &rng)) }
        }
    }
}
