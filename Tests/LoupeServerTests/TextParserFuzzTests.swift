@testable import LoupeCLI
import LoupeModel
import Testing

/// Random and truncated input to every small text parser: each returns a value or a
/// clear error, never crashes.
@Suite("Text parser fuzzing")
struct TextParserFuzzTests {
    static let alphabet = Array("0123456789smhdwyµnu:.[]-+ abcXYZ/\\\"'\u{0}é🙂".unicodeScalars)

    static func randomStrings(count: Int, seed: UInt64) -> [String] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            let length = Int(generator.next() % 24)
            var scalars = String.UnicodeScalarView()
            for _ in 0..<length { scalars.append(alphabet[Int(generator.next() % UInt64(alphabet.count))]) }
            return String(scalars)
        }
    }

    @Test("durations, byte sizes, addresses and tenant names")
    func fuzz() throws {
        let valid = ["15d", "1h30m", "250ms", "0", "0.0.0.0:4317", "[::1]:80", "16MiB", "team-a"]
        var inputs = Self.randomStrings(count: 5_000, seed: 42)
        for text in valid {
            for length in 0...text.count { inputs.append(String(text.prefix(length))) }
        }
        var accepted = 0
        for text in inputs {
            if (try? DurationText.parseNanoseconds(text)) != nil { accepted += 1 }
            if ByteSizeText.parse(text) != nil { accepted += 1 }
            if (try? ListenAddress(parsing: text)) != nil { accepted += 1 }
            if (try? Tenant(validating: text)) != nil { accepted += 1 }
            _ = try? LoupeConfiguration.load(yaml: text, source: "fuzz")
            _ = try? LoupeConfiguration.load(yaml: "retention: \(text)\nhttp_address: \(text)", source: "fuzz")
        }
        #expect(accepted > 0, "the valid prefixes parse")
    }
}

struct SplitMix64: RandomNumberGenerator {
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
