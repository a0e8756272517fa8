import LoupeModel
import LoupeWire
import Testing

@testable import LoupeStorage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// SplitMix64: reproducible randomness for generated logs and fuzzing.
private struct ColumnsRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Lines as `loupe bench logs` writes them (see `LogsLoadGenerator`), one stream at a time: the
/// stream's share of 51 streams, so timestamps advance by a random number of global steps.
private enum BenchLikeLogs {
    enum Format { case json, logfmt, access }

    static let messages = [
        "request completed", "cache miss, loading from database", "retrying upstream call", "user session refreshed",
        "published event to queue", "slow query detected", "connection pool exhausted", "payment authorized",
        "token validation failed", "background job finished",
    ]
    static let paths = ["/api/v1/items", "/api/v1/orders", "/healthz", "/api/v2/users/me", "/static/app.js"]

    static func chunk(_ format: Format, count: Int, seed: UInt64) -> [LogEntry] {
        var random = ColumnsRandom(state: seed)
        // 1 GiB of ~250-byte lines over an hour.
        let step: Int64 = 838_190
        var time: Int64 = 1_790_000_000_000_000_000
        var entries: [LogEntry] = []
        entries.reserveCapacity(count)
        for _ in 0..<count {
            time += step * Int64(1 + random.next() % 101)
            let level: String
            switch random.next() % 100 {
            case 0..<80: level = "info"
            case 80..<92: level = "warn"
            case 92..<98: level = "error"
            default: level = "debug"
            }
            let requestID = String(random.next(), radix: 16) + String(random.next() % 0xFFFF, radix: 16)
            let status = level == "error" ? 500 : (level == "warn" ? 429 : 200)
            let duration = Int(random.next() % 900) + 1
            let path = paths[Int(random.next() % UInt64(paths.count))]
            let message = messages[Int(random.next() % UInt64(messages.count))]
            let line: String
            switch format {
            case .json:
                line = #"{"ts":"\#(time / 1_000_000_000)","level":"\#(level)","msg":"\#(message)","request_id":"\#(requestID)","method":"GET","path":"\#(path)","status":\#(status),"duration_ms":\#(duration),"user_id":\#(random.next() % 100_000)}"#
            case .logfmt:
                line = #"ts=\#(time / 1_000_000_000) level=\#(level) msg="\#(message)" request_id=\#(requestID) path=\#(path) status=\#(status) duration=\#(duration)ms"#
            case .access:
                line = #"10.\#(random.next() % 256).\#(random.next() % 256).\#(random.next() % 256) - - "GET \#(path) HTTP/1.1" \#(status) \#(random.next() % 20_000) "-" "Mozilla/5.0" rt=0.\#(duration) rid=\#(requestID) level=\#(level) msg="\#(message)""#
            }
            entries.append(LogEntry(timestamp: time, line: line))
        }
        return entries
    }

    /// The benchmark's mix: 10 JSON services, 4 logfmt, 3 access logs.
    static let mix: [(Format, Int)] = [(.json, 10), (.logfmt, 4), (.access, 3)]
}

@Suite("LogLineColumns")
struct LogLineColumnsTests {
    static func roundTrip(_ entries: [LogEntry], sourceLocation: SourceLocation = #_sourceLocation) {
        let encoded = LogLineColumns.encode(entries)
        do {
            let decoded = try LogLineColumns.decode(encoded)
            #expect(decoded.count == entries.count, sourceLocation: sourceLocation)
            for (index, (got, want)) in zip(decoded, entries).enumerated() where got != want || !Array(got.line.utf8).elementsEqual(want.line.utf8) {
                Issue.record("entry \(index): got \(got), want \(want)", sourceLocation: sourceLocation)
                return
            }
        } catch {
            Issue.record("decoding failed: \(error)", sourceLocation: sourceLocation)
        }
    }

    static func entries(_ lines: [String], from start: Int64 = 1_700_000_000_000_000_000) -> [LogEntry] {
        lines.enumerated().map { LogEntry(timestamp: start + Int64($0.offset) * 1_000_000, line: $0.element) }
    }

    // MARK: - Round trips

    @Test func benchLikeLinesRoundTrip() {
        for (format, _) in BenchLikeLogs.mix {
            Self.roundTrip(BenchLikeLogs.chunk(format, count: 3_000, seed: 7))
        }
    }

    @Test func emptyChunk() throws {
        let encoded = LogLineColumns.encode([])
        #expect(try LogLineColumns.decode(encoded) == [])
        #expect(encoded.count <= 3)
    }

    @Test func emptyAndTinyLines() {
        Self.roundTrip([LogEntry(timestamp: 0, line: "")])
        Self.roundTrip(Self.entries(["", "", "a", "", "1", "", "ab12", " "]))
        Self.roundTrip(Self.entries(Array(repeating: "", count: 1_000)))
    }

    @Test func placeholderAndEscapeBytesInLines() {
        let marks = (0x10...0x15).map { String(UnicodeScalar(UInt8($0))) }
        var lines: [String] = marks
        lines.append(marks.joined())
        lines.append("a\u{11}1\u{12}dead1\u{13}\u{14}2\u{13}")
        lines.append("\u{13}\u{13}\u{11}")
        lines.append("x=\u{11} y=\u{12}5 z=5\u{12}")
        lines.append("id=ab12cd\u{11}ef34")
        Self.roundTrip(Self.entries(lines))
    }

    @Test func everyByteValue() {
        let ascii = String(decoding: (0..<128).map { UInt8($0) }, as: UTF8.self)
        // Bytes 128...255 alone are not UTF-8; a `String` holds them as replacement characters.
        let high = String(decoding: (0..<256).map { UInt8($0) }, as: UTF8.self)
        var lines = [ascii, high, ascii + high + ascii]
        for byte in 0..<128 { lines.append("v=\(byte) " + String(UnicodeScalar(UInt8(byte))) + "12" + String(UnicodeScalar(UInt8(byte)))) }
        Self.roundTrip(Self.entries(lines))
    }

    @Test func decimalEdgeCases() {
        Self.roundTrip(Self.entries([
            "0", "00", "000", "007", "0000", "n=0", "n=00", "n=01", "n=10", "n=007",
            "18-digit 123456789012345678", "19-digit 1234567890123456789", "20-digit 12345678901234567890",
            "max 18446744073709551615", "overflow 18446744073709551616", "overflow 99999999999999999999",
            "21 digits 123456789012345678901", "zeros 00000000000000000000", "zeros 000000000000000000001",
            "padded 00000000000000000042", "long " + String(repeating: "9", count: 300),
            "neg -5 -0 +7 1.5 0.045 1e10 1E10 3.14159",
            "units 450ms 10s 5KB 2xx 3rd 404NotFound", "names user_42 worker12 x86_64 v2 http2 1a1 0x1f a1b",
            "t=05 t=15 t=5 t=0005",
        ]))
        // One column, three width regimes: always canonical, fixed width with padding, mixed.
        Self.roundTrip(Self.entries((0..<300).map { "n=\($0 * 7)" }))
        Self.roundTrip(Self.entries((0..<300).map { "m=" + String(String($0 % 60 + 100).dropFirst()) }))
        Self.roundTrip(Self.entries((0..<300).map { "k=" + String(repeating: "0", count: $0 % 4) + String($0) }))
        // Deltas that wrap around.
        Self.roundTrip(Self.entries((0..<300).map { "w=\($0 % 2 == 0 ? UInt64.max - UInt64($0) : UInt64($0))" }))
    }

    @Test func hexEdgeCases() {
        Self.roundTrip(Self.entries([
            "abc", "abcd", "abc1", "1abc", "abcd1", "DEADBEEF01", "A1B2", "a1B2", "aB12cD34", "abc12", "fffff1",
            "_abc123", "abc123_", "abc123g", "g1234abc", "x_0123abcd_y", "id=0123456789abcdef0123",
            "uuid 550e8400-e29b-41d4-a716-446655440000 550E8400-E29B-41D4-A716-446655440000",
            "len255 " + String(repeating: "a1", count: 127) + "f", "len256 " + String(repeating: "a1", count: 128),
            "words added cafe face deadbeef", "sha " + String(repeating: "0f1e2d3c", count: 8),
            "odd 1234a odd2 abcde12 even 12ab",
        ]))
        // Odd lengths back to back, so nibbles straddle bytes.
        Self.roundTrip(Self.entries((0..<200).map { "h=" + String(UInt64($0) &* 0x9E37_79B9, radix: 16) + "a" + String(repeating: "5", count: $0 % 3) }))
    }

    @Test func nonASCIILines() {
        Self.roundTrip(Self.entries([
            "naïve 42 日本語 ünïcødé €100 ß", "emoji 👍🏽 id=ab12cd34 🚀", "ключ=значение 17", "\u{FEFF}bom 1",
            "mixed 12€ €12 12日 日12", "\u{0} nul \u{7F} del",
        ]))
    }

    @Test func metadata() {
        let entries = [
            LogEntry(timestamp: 1, line: "a", metadata: Labels(presorted: [Label("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")])),
            LogEntry(timestamp: 2, line: "b"),
            LogEntry(timestamp: 3, line: "c", metadata: Labels(presorted: [Label("a", ""), Label("b", "x"), Label("", "v")])),
            LogEntry(timestamp: 4, line: "d", metadata: Labels(presorted: [Label("ü", "日本"), Label("z", "\u{11}\u{13}")])),
            LogEntry(timestamp: 5, line: "", metadata: Labels(presorted: [Label("k", "v")])),
        ]
        Self.roundTrip(entries)
        Self.roundTrip(Array(repeating: entries[0], count: 500))
    }

    @Test func timestamps() {
        let extremes: [Int64] = [.min, .max, 0, -1, 1, .min, .min + 1, .max, -1_000_000_007, 5, 5, 5, .max - 1, 3]
        Self.roundTrip(extremes.map { LogEntry(timestamp: $0, line: "t") })
        Self.roundTrip([LogEntry(timestamp: .min, line: "x"), LogEntry(timestamp: .max, line: "y")])
        Self.roundTrip([LogEntry(timestamp: .max, line: "x"), LogEntry(timestamp: .min, line: "y")])
        Self.roundTrip((0..<100).map { LogEntry(timestamp: 42, line: "same \($0)") })
        // Millisecond ticks, descending and unsorted.
        Self.roundTrip((0..<100).map { LogEntry(timestamp: 1_700_000_000_000_000_000 - Int64($0) * 1_000_000, line: "d") })
        var random = ColumnsRandom(state: 3)
        Self.roundTrip((0..<500).map { _ in LogEntry(timestamp: Int64(bitPattern: random.next()), line: "r") })
    }

    @Test func largeLines() {
        var random = ColumnsRandom(state: 11)
        var parts: [String] = []
        for index in 0..<40_000 {
            switch random.next() % 4 {
            case 0: parts.append("k\(index % 7)=\(random.next() % 1_000)")
            case 1: parts.append(String(random.next(), radix: 16))
            case 2: parts.append("word")
            default: parts.append("\u{11}")
            }
        }
        let huge = parts.joined(separator: " ")
        Self.roundTrip([LogEntry(timestamp: 1, line: huge), LogEntry(timestamp: 2, line: huge), LogEntry(timestamp: 3, line: "small 1")])
        Self.roundTrip([LogEntry(timestamp: 1, line: String(repeating: "x", count: 3 << 20))])
    }

    @Test func manyTemplatesAndColumns() {
        // Every line its own template and its own columns: the bundle and the directory carry them.
        let lines = (0..<3_000).map { "field\($0 % 997)x=\($0) other\($0)y=ab\($0)cd" }
        Self.roundTrip(Self.entries(lines))
        // More contexts than columns allowed: the late ones share a column, lowercase and
        // uppercase hex tokens together.
        let shared = (0..<2_000).map { index in
            "k\(index % 300)=\(index * 7) h\(index % 400)-" + String(UInt64(index) &* 0x9E37_79B9_7F4A_7C15 | 1, radix: 16, uppercase: index % 2 == 0)
        }
        Self.roundTrip(Self.entries(shared))
    }

    @Test func integerColumnModes() {
        // Few distinct values (a dictionary, with 1, 2 and 4-bit indices), one value (no part),
        // small values (packed planes), and wide ones (byte planes).
        Self.roundTrip(Self.entries((0..<1_000).map { "status=\([200, 429, 500][$0 % 7 == 0 ? 1 : ($0 % 13 == 0 ? 2 : 0)])" }))
        Self.roundTrip(Self.entries((0..<1_000).map { "bit=\($0 % 2) quad=\($0 % 4) hex=\($0 % 16) same=42" }))
        Self.roundTrip(Self.entries((0..<1_000).map { "small=\($0 % 3 + 17 * ($0 % 5)) wide=\(UInt64($0) &* 0x9E37_79B9_7F4A_7C15)" }))
        // Regular timestamps (one delta), and deltas that need every plane.
        Self.roundTrip((0..<1_000).map { LogEntry(timestamp: Int64($0) * 1_000_000_000, line: "tick \($0)") })
        Self.roundTrip((0..<1_000).map { LogEntry(timestamp: $0 % 2 == 0 ? .max - Int64($0) : .min + Int64($0), line: "swing") })
    }

    @Test func randomizedRoundTrip() {
        var random = ColumnsRandom(state: 0x5EED)
        let fragments = [
            " ", "=", "\"", ":", ",", "-", "_", ".", "/", "{", "}", "\u{11}", "\u{12}", "\u{13}", "\u{14}", "\n", "\t", "é", "日", "👍",
            "a", "Z", "g", "ms", "id", "level=info", "user_id", "0", "00", "x",
        ]
        for round in 0..<20 {
            var entries: [LogEntry] = []
            let count = Int(random.next() % 400)
            var time = Int64(bitPattern: random.next() >> UInt64(random.next() % 64))
            for _ in 0..<count {
                var line = ""
                for _ in 0..<Int(random.next() % 30) {
                    switch random.next() % 6 {
                    case 0: line += String(random.next() >> (random.next() % 64))
                    case 1: line += String(random.next() >> (random.next() % 64), radix: 16, uppercase: random.next() % 4 == 0)
                    case 2: line += String(repeating: "0", count: Int(random.next() % 3)) + String(random.next() % 1_000)
                    default: line += fragments[Int(random.next() % UInt64(fragments.count))]
                    }
                }
                var labels: [Label] = []
                if round % 3 == 0 {
                    for index in 0..<Int(random.next() % 3) { labels.append(Label("k\(index)", String(random.next() % 50))) }
                }
                time = time &+ Int64(bitPattern: random.next() % 3 == 0 ? random.next() : random.next() % 1_000_000)
                entries.append(LogEntry(timestamp: time, line: line, metadata: Labels(presorted: labels)))
            }
            Self.roundTrip(entries)
        }
    }

    // MARK: - Damaged input

    static func decodeSurvives(_ bytes: [UInt8]) -> Bool {
        do {
            _ = try LogLineColumns.decode(bytes)
            return true
        } catch {
            #expect(error.code == .corrupt)
            #expect(!error.message.isEmpty)
            return false
        }
    }

    @Test func randomBytes() {
        var random = ColumnsRandom(state: 99)
        for _ in 0..<3_000 {
            var bytes = (0..<Int(random.next() % 200)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if random.next() % 2 == 0, !bytes.isEmpty { bytes[0] = LogLineColumns.version }
            _ = Self.decodeSurvives(bytes)
        }
        #expect(!Self.decodeSurvives([]))
        #expect(!Self.decodeSurvives([LogLineColumns.version]))
        #expect(!Self.decodeSurvives([2, 0, 0]))
    }

    static func smallValidChunk() -> [UInt8] {
        var entries = BenchLikeLogs.chunk(.json, count: 40, seed: 5) + BenchLikeLogs.chunk(.access, count: 20, seed: 6)
        entries.append(LogEntry(timestamp: 9, line: "\u{11}x=007 t=05 ABCDEF12 abcdef123", metadata: Labels(presorted: [Label("k", "v")])))
        entries.append(LogEntry(timestamp: 10, line: ""))
        return LogLineColumns.encode(entries)
    }

    @Test func everyTruncationThrows() {
        let valid = Self.smallValidChunk()
        #expect(Self.decodeSurvives(valid))
        for length in 0..<valid.count {
            #expect(!Self.decodeSurvives(Array(valid.prefix(length))), "prefix of \(length) bytes decoded")
        }
        #expect(!Self.decodeSurvives(valid + [0]))
    }

    @Test func everyBitFlipThrowsOrDecodes() {
        let valid = Self.smallValidChunk()
        for index in valid.indices {
            for bit in 0..<8 {
                var damaged = valid
                damaged[index] ^= 1 << bit
                _ = Self.decodeSurvives(damaged)
            }
        }
        // Whole bytes replaced, in the header and directory where they steer allocation.
        for index in valid.indices.prefix(200) {
            for value: UInt8 in [0x00, 0x7F, 0x80, 0xFF] {
                var damaged = valid
                damaged[index] = value
                _ = Self.decodeSurvives(damaged)
            }
        }
    }

    @Test func hostileDeclarationsAreRefused() {
        // A header declaring the maximum entries and lines with nothing behind them.
        var sink = ByteSink()
        sink.bytes.append(LogLineColumns.version)
        sink.uvarint(LogLineColumns.maximumEntries)
        sink.uvarint(LogLineColumns.maximumLineBytes)
        #expect(!Self.decodeSurvives(sink.bytes))
        // One template repeated by ids from a small deflated part: the declared line bytes bound the output.
        let entries = Array(repeating: LogEntry(timestamp: 0, line: String(repeating: "y", count: 1_000)), count: 2_000)
        let valid = LogLineColumns.encode(entries)
        #expect(valid.count < 3_000)
        #expect(Self.decodeSurvives(valid))
    }

    // MARK: - Size

    /// Guards the compression ratio on benchmark-like data (deterministic: seeded generator).
    @Test func benchLikeRatio() {
        var raw = 0
        var compressed = 0
        for (format, weight) in BenchLikeLogs.mix {
            let entries = BenchLikeLogs.chunk(format, count: 8_000, seed: 42)
            let lineBytes = entries.reduce(0) { $0 + $1.line.utf8.count }
            let encoded = LogLineColumns.encode(entries)
            print("LogLineColumns \(format): \(lineBytes) line bytes -> \(encoded.count) (\(Double(encoded.count) / Double(lineBytes)))")
            raw += lineBytes * weight
            compressed += encoded.count * weight
        }
        let ratio = Double(compressed) / Double(raw)
        print("LogLineColumns bench-like ratio \(ratio)")
        #expect(ratio <= 0.12)
    }

    // MARK: - Throughput (not a test of speed: prints figures when LOUPE_COLUMNS_BENCH is set)

    @Test func throughput() throws {
        guard getenv("LOUPE_COLUMNS_BENCH") != nil else { return }
        // 8,000 entries, and about what the store's 256 KiB chunks hold.
        for entriesPerChunk in [8_000, 1_600] {
            var chunks: [[LogEntry]] = []
            for (format, weight) in BenchLikeLogs.mix {
                for copy in 0..<(weight * 8_000 / entriesPerChunk) {
                    chunks.append(BenchLikeLogs.chunk(format, count: entriesPerChunk, seed: UInt64(100 + copy)))
                }
            }
            let lineBytes = chunks.reduce(0) { $0 + $1.reduce(0) { $0 + $1.line.utf8.count } }
            let clock = ContinuousClock()
            var encoded: [[UInt8]] = []
            var best = (encode: Duration.seconds(1_000), decode: Duration.seconds(1_000))
            for _ in 0..<5 {
                let start = clock.now
                encoded = chunks.map { LogLineColumns.encode($0) }
                let middle = clock.now
                for bytes in encoded { _ = try LogLineColumns.decode(bytes) }
                let end = clock.now
                best = (min(best.encode, start.duration(to: middle)), min(best.decode, middle.duration(to: end)))
            }
            func megabytesPerSecond(_ duration: Duration) -> Double {
                Double(lineBytes) / 1_048_576 / (Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
            }
            let size = encoded.reduce(0) { $0 + $1.count }
            var zlib6 = 0
            var zlib1 = 0
            for chunk in chunks {
                var sink = ByteSink()
                var previous: Int64 = 0
                for entry in chunk {
                    sink.varint(entry.timestamp &- previous)
                    previous = entry.timestamp
                    sink.string(entry.line)
                    sink.uvarint(0)
                }
                zlib6 += Gzip.compressDeflate(sink.bytes, level: 6).count
                zlib1 += Gzip.compressDeflate(sink.bytes, level: 1).count
            }
            print("LogLineColumns, \(entriesPerChunk) entries a chunk: \(lineBytes) line bytes in \(chunks.count) chunks -> \(size) (ratio \(Double(size) / Double(lineBytes)))")
            print("LogLineColumns, \(entriesPerChunk) entries a chunk: encode \(megabytesPerSecond(best.encode)) MiB/s, decode \(megabytesPerSecond(best.decode)) MiB/s")
            print("LogLineColumns, \(entriesPerChunk) entries a chunk: rows + zlib 6 ratio \(Double(zlib6) / Double(lineBytes)), rows + zlib 1 \(Double(zlib1) / Double(lineBytes))")
        }
    }
}
