import Foundation
import LoupeModel
import LoupeWire
import Testing

/// Robustness of the exposition parsers: whatever the bytes, parsing returns a result or throws a `WireError`
/// (typed throws makes anything else impossible short of a crash) with a location inside the input, and never
/// hangs. When mangled input does parse, writing it out and parsing that again gives the same samples.
@Suite("Exposition fuzz", .timeLimit(.minutes(10)))
struct ExpositionFuzzTests {
    /// `LOUPE_FUZZ_SCALE=20` runs twenty times as many random cases (use a release build).
    static let scale = max(1, Int(ProcessInfo.processInfo.environment["LOUPE_FUZZ_SCALE"] ?? "") ?? 1)

    static let optionSets: [(ExpositionFormat, ExpositionParser.Options)] = [
        (.prometheusText, .init()),
        (.openMetrics, .init()),
        (.openMetrics, .init(validation: .strict)),
        (.openMetrics, .init(dropCreatedSeries: true)),
    ]

    /// Parses `input` in every format and mode; returns how many parsed.
    @discardableResult
    static func exercise(_ input: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> Int {
        var parsed = 0
        for (format, options) in optionSets {
            do {
                let result = try ExpositionParser.parse(input, format: format, defaultTimestamp: 42, options: options)
                parsed += 1
                check(result, format: format, sourceLocation: sourceLocation)
            } catch {
                if let offset = error.offset, offset < 0 || offset > input.count {
                    Issue.record("error offset \(offset) outside the input (\(input.count) bytes): \(error)", sourceLocation: sourceLocation)
                }
                if !error.path.hasPrefix("line ") {
                    Issue.record("error without a location: \(error)", sourceLocation: sourceLocation)
                }
            }
        }
        return parsed
    }

    /// What a successful parse must satisfy.
    static func check(_ result: ScrapeResult, format: ExpositionFormat, sourceLocation: SourceLocation) {
        var covered = 0
        for family in result.families {
            if family.samples.lowerBound != covered {
                Issue.record("families do not tile the samples: \(family)", sourceLocation: sourceLocation)
            }
            covered = family.samples.upperBound
        }
        if covered != result.samples.count { Issue.record("families cover \(covered) of \(result.samples.count) samples", sourceLocation: sourceLocation) }
        for sample in result.samples {
            let names = sample.labels.map(\.name)
            if names != names.sorted() || Set(names).count != names.count || sample.labels.contains(where: { $0.value.isEmpty })
                || sample.labels.metricName?.isEmpty != false
            {
                Issue.record("malformed labels \(sample.labels)", sourceLocation: sourceLocation)
            }
        }
        // Written out, the result parses again; one more round changes nothing. (The first round may regroup
        // samples into the families their names and metadata say they belong to.)
        func write(_ result: ScrapeResult) -> [UInt8] {
            format == .openMetrics ? ExpositionWriter.openMetrics(result) : ExpositionWriter.prometheusText(result)
        }
        let written = write(result)
        do {
            let second = try ExpositionParser.parse(written, format: format, defaultTimestamp: 42)
            if second.samples.count != result.samples.count {
                Issue.record("round trip changed the number of samples:\n\(String(decoding: written, as: UTF8.self))", sourceLocation: sourceLocation)
            }
            let rewritten = write(second)
            let third = try ExpositionParser.parse(rewritten, format: format, defaultTimestamp: 42)
            if !expositionSamplesEqual(third.samples, second.samples) || rewritten != write(third) {
                Issue.record("writing is not stable:\n\(String(decoding: written, as: UTF8.self))", sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("the writer's output does not parse: \(error)\n\(String(decoding: written, as: UTF8.self))", sourceLocation: sourceLocation)
        }
    }

    static func seeds() throws -> [(name: String, bytes: [UInt8])] {
        try (ExpositionFixtures.textFixtures + ExpositionFixtures.openMetricsFixtures).map { ($0, try ExpositionFixtures.bytes($0)) }
    }

    @Test func randomBytes() {
        var random = ExpositionTestRandom(seed: 7 &* UInt64(Self.scale))
        let alphabet = Array("a_:{}=\",# \t\n\\0123456789.eE+-InfNaHELPTYPEUNITEOF".utf8) + [0x00, 0x0D, 0xFF, 0xC3, 0xA9]
        for _ in 0..<3000 * Self.scale {
            let length = random.below(200)
            let input: [UInt8] = (0..<length).map { _ in
                random.below(8) == 0 ? UInt8(truncatingIfNeeded: random.next()) : alphabet[random.below(alphabet.count)]
            }
            Self.exercise(input)
        }
    }

    @Test func randomLines() {
        // Mostly well-formed lines with a little noise, so that the parsers get deep.
        var random = ExpositionTestRandom(seed: 11 &* UInt64(Self.scale))
        let pieces = [
            "# TYPE a counter\n", "# TYPE h histogram\n", "# TYPE s summary\n", "# HELP a help \\n text\n", "# UNIT a_s s\n",
            "a_total 1\n", "a_created 1.5\n", "h_bucket{le=\"1\"} 2\n", "h_bucket{le=\"+Inf\"} 3 # {t=\"x\"} 1 2\n", "h_count 3\n",
            "h_sum 1.5\n", "s{quantile=\"0.5\"} NaN\n", "{\"u.v\",\"w.x\"=\"y\"} -Inf 5\n", "g{a=\"b\",c=\"\"} 1e3 17\n", "\n", " ",
            "# EOF\n", "x{", "}", "\"", "=", ",", " 1", "\\", "#", "\t",
        ]
        for _ in 0..<3000 * Self.scale {
            var input: [UInt8] = []
            for _ in 0..<random.below(12) { input += Array(pieces[random.below(pieces.count)].utf8) }
            if random.below(2) == 0 { input += Array("# EOF\n".utf8) }
            Self.exercise(input)
        }
    }

    @Test func truncations() throws {
        for (name, bytes) in try Self.seeds() {
            let openMetrics = name.hasSuffix(".om.txt")
            // Every prefix (every fifth of the large page).
            let stride = bytes.count > 10_000 ? 5 : 1
            for length in Swift.stride(from: 0, through: bytes.count, by: stride) {
                let prefix = Array(bytes[..<length])
                do {
                    _ = try ExpositionParser.parse(prefix, format: openMetrics ? .openMetrics : .prometheusText, defaultTimestamp: 0)
                    // A cut OpenMetrics exposition lacks its "# EOF" (unless only the final line feed is gone).
                    if openMetrics && length < bytes.count - 1 { Issue.record("\(name) cut at \(length) parsed") }
                } catch {
                    if let offset = error.offset, offset > length { Issue.record("\(name) cut at \(length): offset \(offset)") }
                    // A text exposition cut at a line boundary is still valid.
                    if !openMetrics && (length == 0 || bytes[length - 1] == UInt8(ascii: "\n")) {
                        Issue.record("\(name) cut after a line (\(length)) failed: \(error)")
                    }
                }
            }
            // The other format and the other modes, on fewer prefixes.
            for length in Swift.stride(from: 0, through: bytes.count, by: stride * 7) { Self.exercise(Array(bytes[..<length])) }
        }
    }

    @Test func singleByteMutations() throws {
        var random = ExpositionTestRandom(seed: 3 &* UInt64(Self.scale))
        let interesting: [UInt8] = Array("\"\\\n{}=,# \t0.eI".utf8) + [0x00, 0x0D, 0x80, 0xFF]
        for (_, bytes) in try Self.seeds() {
            for _ in 0..<1500 * Self.scale {
                var mutated = bytes
                let position = random.below(bytes.count)
                mutated[position] = random.below(2) == 0 ? interesting[random.below(interesting.count)] : UInt8(truncatingIfNeeded: random.next())
                Self.exercise(mutated)
            }
            // Deletions and duplications of one byte.
            for _ in 0..<300 * Self.scale {
                var mutated = bytes
                let position = random.below(bytes.count)
                if random.below(2) == 0 { mutated.remove(at: position) } else { mutated.insert(mutated[position], at: position) }
                Self.exercise(mutated)
            }
        }
    }

    @Test(.enabled(if: ExpositionFixtures.hasOpenMetricsSuite)) func conformanceCasesMutated() throws {
        var random = ExpositionTestRandom(seed: 5 &* UInt64(Self.scale))
        for testCase in try ExpositionFixtures.openMetricsConformance() {
            Self.exercise(testCase.input)
            guard !testCase.input.isEmpty else { continue }
            for _ in 0..<20 * Self.scale {
                var mutated = testCase.input
                mutated[random.below(mutated.count)] = UInt8(truncatingIfNeeded: random.next())
                Self.exercise(mutated)
            }
        }
    }

    /// A parser instance (which caches strings and series across parses) gives exactly what a fresh parser gives,
    /// whatever it has seen before.
    @Test func cachingParserAgreesWithFreshOnes() throws {
        var random = ExpositionTestRandom(seed: 13 &* UInt64(Self.scale))
        let parsers = [ExpositionFormat.prometheusText: ExpositionParser(), .openMetrics: ExpositionParser()]
        var inputs: [(ExpositionFormat, [UInt8])] = []
        for (name, bytes) in try Self.seeds() {
            let format: ExpositionFormat = name.hasSuffix(".om.txt") ? .openMetrics : .prometheusText
            inputs.append((format, bytes))
            for _ in 0..<300 * Self.scale {
                var mutated = bytes
                for _ in 0...random.below(3) {
                    mutated[random.below(mutated.count)] = Array("\"\\\n{}=,# 01aHle_".utf8)[random.below(16)]
                }
                inputs.append((format, mutated))
                inputs.append((format == .openMetrics ? .prometheusText : .openMetrics, mutated))
            }
        }
        for round in 0..<2 {
            for (format, input) in inputs {
                let fresh = Result { () throws(WireError) in try ExpositionParser.parse(input, format: format, defaultTimestamp: 9) }
                let cached = Result { () throws(WireError) in try parsers[format]!.parse(input, format: format, defaultTimestamp: 9) }
                switch (fresh, cached) {
                case (.success(let expected), .success(let actual)):
                    #expect(expositionSamplesEqual(actual.samples, expected.samples) && actual.metadata == expected.metadata
                        && actual.families == expected.families, "round \(round)")
                case (.failure(let expected), .failure(let actual)):
                    #expect(actual == expected, "round \(round)")
                default:
                    Issue.record("round \(round): fresh \(fresh), cached \(cached)")
                }
            }
        }
    }

    @Test func pathologicalInputs() {
        // Long runs must stay linear (a quadratic parser would take minutes here).
        let long = 200_000
        Self.exercise(Array(repeating: UInt8(ascii: "a"), count: long))
        Self.exercise(Array(("a{" + String(repeating: "b=\"c\",", count: long / 6) + "} 1\n").utf8))
        Self.exercise(Array(("a{b=\"" + String(repeating: "\\\\", count: long / 2)).utf8))
        Self.exercise(Array(String(repeating: "\n", count: long).utf8))
        Self.exercise(Array(String(repeating: "# HELP a b\n", count: long / 11).utf8))
        Self.exercise(Array(("a " + String(repeating: "9", count: long)).utf8))
        Self.exercise(Array(String(repeating: "{", count: long).utf8))
        let manyLabels = "a{" + (0..<300).map { "l\($0)=\"v\"" }.joined(separator: ",") + "} 1\n"
        Self.exercise(Array(manyLabels.utf8))
        let hostile = "a{" + (0..<20_000).reversed().map { "l\($0)=\"v\"" }.joined(separator: ",") + "} 1\n"
        Self.exercise(Array(hostile.utf8))
        let reversed = "a{" + (0..<300).reversed().map { "l\($0)=\"v\"" }.joined(separator: ",") + "} 1\n# EOF\n"
        #expect(Self.exercise(Array(reversed.utf8)) == 4)
    }
}

/// SplitMix64, for reproducible fuzzing.
struct ExpositionTestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
