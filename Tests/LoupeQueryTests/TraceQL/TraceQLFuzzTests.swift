import LoupeModel
import LoupeQuery
import Testing

/// The parser must return a tree or throw a parse error for any input: never crash, never hang.
/// What parses must print to text that parses back to the same tree, and what validates must
/// evaluate on a trace without crashing.
@Suite("TraceQL fuzzing")
struct TraceQLFuzzTests {
    /// Reproducible runs.
    typealias Generator = SplitMix64

    static let fragments: [String] = [
        "{", "}", "(", ")", "{ ", " }", " | ", "|", "&&", "||", "=", "!=", "=~", "!~", ">", "<", ">=", "<=", ">>", "<<",
        "!>", "!<", "!>>", "!<<", "&>", "&<", "&~", "&>>", "&<<", "~", "&", "!", "+", "-", "*", "/", "%", "^", ",", ".",
        ".a", ".a.b", ".a+1", "span.x", "resource.service.name", "parent.", "parent.span.x", "event.e", "link.l",
        "instrumentation.i", "span:", "span:id", "span:duration", "trace:id", "trace:rootService", "event:name",
        "link:traceID", "instrumentation:version", "span:childCount", "\"", "\"x\"", "\"a\\\"b\"", "\"\\x41\"",
        "\"\\u00e9\"", "`raw`", "`", "'c'", "// c\n", "/* c */", "/*", "\n", "\t", " ", "é", "😀", "\u{A0}", "1", "0",
        "08", "017", "1_0", "0x1F", "1e", "1e5", "1.5", ".5", "100ms", "1h30m", "1.5h", "2d", "1us", "1µs", "1h1d",
        "99999999999999999999", "99999999999999999999s", "true", "false", "nil", "ok", "error", "unset", "client",
        "minInt", "maxInt", "foo", "duration", "name", "status", "kind", "statusMessage", "rootName", "traceDuration",
        "nestedSetLeft", "parent", "count()", "avg(duration)", "max(.a)", "min(", "sum(", "by(.a)", "by(", "select(.a)",
        "select(", "coalesce()", "rate()", "count_over_time()", "quantile_over_time(duration, 0.5)", "compare({})",
        "topk(1)", "bottomk(", " by (name)", " with(a=1)", "with(", "{ .a = 1 }", "({} | rate())", "{ status = error }",
    ]

    static func randomQuery(using generator: inout Generator) -> String {
        var query = ""
        for _ in 0..<Int.random(in: 1...20, using: &generator) {
            if Int.random(in: 0..<16, using: &generator) == 0 {
                query.unicodeScalars.append(Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &generator)))
            } else {
                query += fragments.randomElement(using: &generator)!
            }
            if Bool.random(using: &generator) { query += " " }
        }
        return query
    }

    static let seeds: [String] = [
        "{ resource.service.name = \"api\" && span.http.status_code >= 500 } >> { status = error } | count() > 1",
        "({ .a } | count() > 1 | { .b }) && ({ .c } | by(name) | avg(duration) > 1s)",
        "{ } | quantile_over_time(duration, 0, 0.9, 1) by (span.http.path) | topk(10) with(sample=0.1)",
        "(({} | rate()) * 100 + ({} | count_over_time())) / 3 > 5 | bottomk(2)",
        "{ .\"a b\" = \"x\" && parent.span.x != nil && nil = event:name } &~ { trace:duration > 1h30m }",
        "max(duration) > 3s | { status = error || .http.status = 500 } | select(span.x, name)",
        "1 ^ 2 * count() % 3 > -4 | coalesce()",
    ]

    /// nil when the query behaves; otherwise what went wrong.
    static func exercise(_ query: String) -> String? {
        let engine = TraceQLEngine()
        let parsed: TraceQLQuery
        do {
            parsed = try engine.parse(query)
        } catch {
            guard error.code == .parse, !error.message.isEmpty, error.line != nil, let offset = error.offset,
                offset <= query.utf8.count
            else { return "\(query.debugDescription): bad error \(error)" }
            return nil
        }
        let printed = parsed.description
        guard let reparsed = try? engine.parse(printed) else { return "\(query.debugDescription): printed \(printed.debugDescription) fails" }
        if reparsed != parsed { return "\(query.debugDescription): printed \(printed.debugDescription) parses to another tree" }
        guard (try? engine.validate(parsed)) != nil, !parsed.isMetrics else { return nil }
        do {
            _ = try engine.evaluate(parsed, trace: TraceQLFixtures.trace)
            _ = engine.requirements(of: parsed).admits(TraceQLFixtures.trace)
        } catch {
            // Tempo fails these at run time too.
            if error.code != .execution { return "\(query.debugDescription): evaluation failed with \(error)" }
        }
        return nil
    }

    @Test("random queries never crash and every parsed one round-trips")
    func randomQueries() {
        var generator = Generator(seed: 0x7472_6163_6571_6C00)
        let clock = ContinuousClock()
        let started = clock.now
        var failures: [String] = []
        for _ in 0..<4000 {
            if let failure = Self.exercise(Self.randomQuery(using: &generator)) { failures.append(failure) }
        }
        #expect(failures.isEmpty, "\(failures.prefix(10).joined(separator: "\n"))")
        #expect(clock.now - started < .seconds(60))
    }

    @Test("every prefix and every one-character deletion of valid queries")
    func truncatedQueries() {
        var failures: [String] = []
        for seed in Self.seeds {
            let characters = Array(seed)
            for length in 0...characters.count {
                if let failure = Self.exercise(String(characters.prefix(length))) { failures.append(failure) }
            }
            for index in characters.indices {
                var removed = characters
                removed.remove(at: index)
                if let failure = Self.exercise(String(removed)) { failures.append(failure) }
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(10).joined(separator: "\n"))")
    }

    @Test("deep nesting finishes quickly")
    func deepNesting() {
        let clock = ContinuousClock()
        let started = clock.now
        let depth = 300
        for query in [
            String(repeating: "(", count: depth) + "{ .a }" + String(repeating: ")", count: depth),
            "{ " + String(repeating: "(", count: depth) + ".a" + String(repeating: ")", count: depth) + " }",
            "{ " + String(repeating: "!", count: depth) + "true }",
            "{ " + (0..<depth).map { ".a\($0) = \($0)" }.joined(separator: " && ") + " }",
            (0..<depth).map { "{ .a = \($0) }" }.joined(separator: " >> "),
            String(repeating: "(", count: depth),
            // Parenthesised comparisons: classifying them must not re-examine subtrees at every level.
            String(repeating: "(", count: depth) + "count()" + String(repeating: " > 1)", count: depth),
            "{ } | " + String(repeating: "(", count: depth) + "count()" + String(repeating: " > 1)", count: depth),
        ] {
            #expect(Self.exercise(query) == nil)
        }
        #expect(clock.now - started < .seconds(30))
    }
}
