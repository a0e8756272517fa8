import LoupeModel
import LoupeQuery
import Testing

/// The parser must return a tree or throw a PromQLError for any input: never crash, never hang.
/// Whatever parses must also print to text that parses back to the same tree.
@Suite("PromQL parser fuzzing")
struct PromQLFuzzTests {
    /// Reproducible runs.
    typealias Generator = SplitMix64

    static let fragments: [String] = [
        "sum", "avg", "topk", "count_values", "quantile", "limitk", "by", "without", "on", "ignoring", "group_left",
        "group_right", "bool", "offset", "@", "start()", "end()", "step()", "range()", "min_of(", "max_of(", "and",
        "or", "unless", "atan2", "fill(", "fill_left(", "fill_right(", "anchored", "smoothed", "rate", "label_replace",
        "histogram_quantile", "time()", "vector(", "scalar(", "info(", "foo", "bar", "job:rate5m", "__name__", "(",
        ")", "{", "}", "[", "]", ",", ":", "=", "==", "!=", "=~", "!~", "<", ">", "<=", ">=", "</", ">/", "+", "-",
        "*", "/", "%", "^", "1", "0", "5m", "1h30m", "300", "1.5", "1e3", "0x1F", ".5", "Inf", "NaN", "\"a\"",
        "'b'", "`c`", "\"\\x41\"", "\"\\u00fc\"", "\"", "'", "`", "\\", "#", "\n", " ", "  ", "\t", "ü", "😀",
        "\u{FFFD}", "{\"my.metric\"}", "\"a.b\"=\"c\"", "job=\"x\"", ".*", "e", "_", "ms", "y", "w", "!",
    ]

    static func randomQuery(using generator: inout Generator) -> String {
        let count = Int.random(in: 1...24, using: &generator)
        var query = ""
        for _ in 0..<count {
            if Int.random(in: 0..<20, using: &generator) == 0 {
                query.unicodeScalars.append(Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &generator)))
            } else {
                query += fragments.randomElement(using: &generator)!
            }
            if Bool.random(using: &generator) { query += " " }
        }
        return query
    }

    /// Parses; if that works, prints and parses again and checks the trees agree.
    static func exercise(_ query: String) -> String? {
        let expression: PromQLExpression
        do {
            expression = try PromQLParser.parse(query)
        } catch {
            return error.kind == .parse && !error.message.isEmpty ? nil : "\(query.debugDescription): bad error \(error)"
        }
        let printed = expression.description
        do {
            let reparsed = try PromQLParser.parse(printed)
            if reparsed.canonicalized() != expression.canonicalized() {
                return "\(query.debugDescription): printed \(printed.debugDescription) parses to another tree"
            }
        } catch {
            return "\(query.debugDescription): printed \(printed.debugDescription) fails: \(error)"
        }
        let pretty = expression.format(pretty: true, lineLength: 20)
        if (try? PromQLParser.parse(pretty))?.canonicalized() != expression.canonicalized() {
            return "\(query.debugDescription): pretty \(pretty.debugDescription) parses to another tree"
        }
        return nil
    }

    @Test("random token soup never crashes, and what parses round-trips", .timeLimit(.minutes(10)))
    func randomQueries() {
        var generator = Generator(seed: 0x5EED_1234)
        var failures: [String] = []
        var parsed = 0
        for _ in 0..<30_000 {
            let query = Self.randomQuery(using: &generator)
            if let failure = Self.exercise(query) { failures.append(failure) }
            if (try? PromQLParser.parse(query)) != nil { parsed += 1 }
        }
        print("random queries: 30000, parsed \(parsed), failures \(failures.count)")
        for failure in failures.prefix(20) { print("fuzz failure: \(failure)") }
        #expect(failures.isEmpty)
    }

    @Test("every prefix of every conformance query is handled", .timeLimit(.minutes(10)))
    func conformancePrefixes() throws {
        let cases = try PromQLConformanceParseTests.allCases()
        var failures: [String] = []
        var prefixes = 0
        for item in cases {
            let scalars = Array(item.query.unicodeScalars)
            for length in 0...scalars.count {
                let prefix = String(String.UnicodeScalarView(scalars[..<length]))
                prefixes += 1
                if let failure = Self.exercise(prefix) { failures.append(failure) }
            }
        }
        print("conformance prefixes: \(prefixes), failures \(failures.count)")
        for failure in failures.prefix(20) { print("prefix failure: \(failure)") }
        #expect(failures.isEmpty)
    }

    @Test("mutated conformance queries (a token dropped, swapped or doubled) are handled", .timeLimit(.minutes(10)))
    func mutatedConformanceQueries() throws {
        let cases = try PromQLConformanceParseTests.allCases()
        var generator = Generator(seed: 42)
        var failures: [String] = []
        for item in cases {
            let tokens = PromQLLexer.tokenize(item.query).filter { $0.kind != .eof && $0.kind != .error }
            guard !tokens.isEmpty else { continue }
            let bytes = Array(item.query.utf8)
            for _ in 0..<4 {
                let victim = tokens.randomElement(using: &generator)!
                var mutated = bytes
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: mutated.removeSubrange(victim.start..<victim.end)
                case 1: mutated.insert(contentsOf: bytes[victim.start..<victim.end], at: victim.end)
                default:
                    let other = tokens.randomElement(using: &generator)!
                    mutated.replaceSubrange(victim.start..<victim.end, with: bytes[other.start..<other.end])
                }
                let query = String(decoding: mutated, as: UTF8.self)
                if let failure = Self.exercise(query) { failures.append(failure) }
            }
        }
        for failure in failures.prefix(20) { print("mutation failure: \(failure)") }
        #expect(failures.isEmpty)
    }

    @Test("deep nesting of every kind stays within the limit or is refused")
    func deepNesting() throws {
        let depth = 240
        let open = String(repeating: "(", count: depth)
        let close = String(repeating: ")", count: depth)
        let accepted = [
            open + "foo" + close,
            String(repeating: "abs(", count: depth) + "foo" + close,
            String(repeating: "sum(", count: depth) + "foo" + close,
            String(repeating: "sum by (a) (", count: depth) + "foo" + close,
            String(repeating: "-", count: depth) + "foo",
            Array(repeating: "2", count: depth).joined(separator: " ^ "),
            Array(repeating: "foo", count: depth).joined(separator: " / on(a) group_left "),
            "foo[" + open + "5m" + close + "]",
            "foo offset " + open + "5m" + close,
            "foo[" + Array(repeating: "1m", count: depth).joined(separator: " + ") + "]",
            String(repeating: "max_over_time(", count: depth / 2) + "foo" + String(repeating: "[5m:])", count: depth / 2),
        ]
        for query in accepted {
            let expression = try PromQLParser.parse(query)
            #expect(try PromQLParser.parse(expression.description).canonicalized() == expression.canonicalized())
            _ = expression.format(pretty: true)
        }
        let refused = [
            String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000),
            String(repeating: "abs(", count: 5000) + "foo" + String(repeating: ")", count: 5000),
            String(repeating: "-", count: 100_000) + "1",
            Array(repeating: "2", count: 5000).joined(separator: " ^ "),
            Array(repeating: "a", count: 5000).joined(separator: " + "),
            "foo[" + String(repeating: "(", count: 5000) + "5m" + String(repeating: ")", count: 5000) + "]",
            "foo[" + String(repeating: "-", count: 5000) + "5m]",
            "foo[" + Array(repeating: "1m", count: 5000).joined(separator: " + ") + "]",
            "foo{" + String(repeating: "a=\"b\",", count: 5000) + "}",
        ]
        for query in refused {
            do {
                let expression = try PromQLParser.parse(query)
                // Wide but shallow trees may parse; they must still print.
                _ = expression.description
            } catch {
                #expect(error.kind == .parse)
            }
        }
    }
}

extension SplitMix64 {
    /// The fuzz tests' spelling: a run starts at a given state.
    init(state: UInt64) { self.init(seed: state) }
}
