import LoupeModel
import Testing

@testable import LoupeQuery

@Suite struct LogQLParserTests {
    @Test func logQueryWithEveryKindOfStage() throws {
        let expression = try LogQLParser.parse(
            #"{app="api", env=~"prod|staging"} |= "error" != "timeout" |~ `code=\d+` | json | logfmt --strict host, fwd="x" | status >= 500 and duration > 1s or size > 20KB | line_format "{{.msg}}" | label_format a=b, c="{{.d}}" | drop x, y="1" | keep z | decolorize"#
        )
        guard case .logs(let selector) = expression else {
            Issue.record("not a log query: \(expression)")
            return
        }
        #expect(selector.matchers.map(\.description) == [#"app="api""#, #"env=~"prod|staging""#])
        #expect(selector.stages.count == 11)
        #expect(selector.stages[0] == .lineFilter(LogQLLineFilter(op: .contains, values: [.text("error")])))
        #expect(selector.stages[1] == .lineFilter(LogQLLineFilter(op: .notContains, values: [.text("timeout")])))
        #expect(selector.stages[2] == .lineFilter(LogQLLineFilter(op: .matchesRegex, values: [.text(#"code=\d+"#)])))
        #expect(selector.stages[3] == .json([]))
        #expect(
            selector.stages[4]
                == .logfmt(strict: true, keepEmpty: false, [LogQLExtraction(label: "host", expression: "host"), LogQLExtraction(label: "fwd", expression: "x")]))
        #expect(
            selector.stages[5]
                == .labelFilter(
                    .or(
                        .and(.number(name: "status", op: .greaterOrEqual, value: 500), .duration(name: "duration", op: .greater, seconds: 1)),
                        .bytes(name: "size", op: .greater, bytes: 20_000))))
        #expect(selector.stages[6] == .lineFormat("{{.msg}}"))
        #expect(
            selector.stages[7]
                == .labelFormat([LogQLLabelFormat(destination: "a", source: .label("b")), LogQLLabelFormat(destination: "c", source: .template("{{.d}}"))]))
        #expect(selector.stages[10] == .decolorize)
    }

    @Test func lineFilterAlternativesAndIP() throws {
        let expression = try LogQLParser.parse(#"{app="a"} |= ip("10.0.0.0/8") or "special" != "x""#)
        guard case .logs(let selector) = expression else {
            Issue.record("not a log query")
            return
        }
        #expect(selector.stages[0] == .lineFilter(LogQLLineFilter(op: .contains, values: [.ip("10.0.0.0/8"), .text("special")])))
        #expect(selector.stages[1] == .lineFilter(LogQLLineFilter(op: .notContains, values: [.text("x")])))
    }

    @Test func rangeFormsAreEquivalent() throws {
        let forms = [
            #"count_over_time({app="a"} |= "x" [5m] offset 1m)"#,
            #"count_over_time(({app="a"} |= "x")[5m] offset 1m)"#,
            #"count_over_time({app="a"}[5m] offset 1m |= "x")"#,
        ]
        var parsed: [LogQLExpression] = []
        for form in forms { parsed.append(try LogQLParser.parse(form)) }
        #expect(parsed[0] == parsed[1])
        #expect(parsed[0] == parsed[2])
        guard case .rangeAggregation(let aggregation) = parsed[0] else {
            Issue.record("not a range aggregation")
            return
        }
        #expect(aggregation.range.range == 300_000_000_000)
        #expect(aggregation.range.offset == 60_000_000_000)
    }

    @Test func unwrapWithConversionAndFilters() throws {
        let expression = try LogQLParser.parse(#"quantile_over_time(0.99, {app="a"} | logfmt | unwrap duration(took) | __error__="" [1m]) by (pod)"#)
        guard case .rangeAggregation(let aggregation) = expression else {
            Issue.record("not a range aggregation")
            return
        }
        #expect(aggregation.parameter == 0.99)
        #expect(aggregation.grouping == LogQLGrouping(without: false, labels: ["pod"]))
        #expect(aggregation.range.unwrap?.label == "took")
        #expect(aggregation.range.unwrap?.conversion == .duration)
        #expect(aggregation.range.unwrap?.filters == [.string(LabelMatcher.equal("__error__", ""))])
    }

    @Test func operatorPrecedenceAndLiteralSigns() throws {
        // ^ is right-associative and binds tighter; the sign belongs to the literal.
        #expect(try LogQLParser.parse("2^3^2") == .binary(LogQLBinaryExpression(op: .power, lhs: .literal(2), rhs: .binary(LogQLBinaryExpression(op: .power, lhs: .literal(3), rhs: .literal(2))))))
        #expect(try LogQLParser.parse("-2^2") == .binary(LogQLBinaryExpression(op: .power, lhs: .literal(-2), rhs: .literal(2))))
        #expect(try LogQLParser.parse("1+1--1") == .binary(LogQLBinaryExpression(op: .subtract, lhs: .binary(LogQLBinaryExpression(op: .add, lhs: .literal(1), rhs: .literal(1))), rhs: .literal(-1))))
        #expect(try LogQLParser.parse("0x1.8p3") == .literal(12))
    }

    @Test func vectorMatchingModifiers() throws {
        let expression = try LogQLParser.parse(#"sum by (app) (rate({app="a"}[1m])) > bool on (app) group_left (pool) sum by (app, pool) (rate({app="b"}[1m]))"#)
        guard case .binary(let binary) = expression else {
            Issue.record("not binary")
            return
        }
        #expect(binary.op == .greater)
        #expect(binary.returnBool)
        #expect(binary.matching == LogQLBinaryExpression.Matching(on: true, labels: ["app"], cardinality: .manyToOne(["pool"])))
    }

    @Test(arguments: [
        ("0x1A", "unable to parse literal as a float"),
        ("0b1010", "unable to parse literal as a float"),
        ("1 and 2", "unexpected literal for left leg of logical/set binary operation"),
        (#"-count_over_time({app="foo"}[1m])"#, "expecting NUMBER"),
        (#"count_over_time({app="a"} | logfmt | unwrap v [1m])"#, "invalid aggregation count_over_time with unwrap"),
        (#"sum_over_time({app="a"}[1m])"#, "invalid aggregation sum_over_time without unwrap"),
        (#"bytes_rate({app="a"}[1m]) by (app)"#, "grouping not allowed for bytes_rate aggregation"),
        (#"count_over_time({app="a"} | logfmt | addr > ip("10.0.0.0/8") [1m])"#, "syntax error: unexpected ip"),
        (#"count_over_time({app="a"} | drop [1m])"#, "expecting IDENTIFIER"),
        (#"{app=~".*"}"#, "queries require at least one regexp or equality matcher"),
        (#"count_over_time({app="a"}[1m]) bool > 1"#, "syntax error: unexpected bool"),
        (#"count_over_time({app="a"} | logfmt | size > 1mb [1m])"#, "syntax error"),
        (#"quantile_over_time(-0.1, {app="a"} | logfmt | unwrap v [1m])"#, "unexpected -"),
    ])
    func parseErrorsSayWhat(query: String, message: String) {
        do {
            let parsed = try LogQLParser.parse(query)
            Issue.record("\(query) parsed as \(parsed)")
        } catch {
            #expect(error.description.contains(message), "\(error.description)")
            #expect(error.kind == .parse)
        }
    }

    @Test func parseErrorsGiveLineAndColumn() {
        do {
            _ = try LogQLParser.parse("count_over_time({app=\"a\"}\n  [1m] |= 3)")
            Issue.record("parsed")
        } catch {
            #expect(error.line == 2)
            #expect(error.description.hasPrefix("parse error at line 2, col "))
        }
    }

    @Test func randomAndTruncatedQueriesNeverCrash() {
        let samples = [
            #"sum by (level) (count_over_time({namespace="y"} | json | status >= 500 [1m])) / ignoring (x) group_left sum(rate({a="b"}[5m]))"#,
            #"{app="x"} |= "rare-token" | logfmt --keep-empty a, b="c" | line_format `{{ .a | upper }}` | label_format d=e"#,
            #"quantile_over_time(0.5, ({app="a"} | regexp "(?P<x>\\d+)" | unwrap bytes(x) | __error__="")[1m] offset 5m) without (pod)"#,
        ]
        for sample in samples {
            let bytes = Array(sample.utf8)
            for end in 0...bytes.count {
                _ = try? LogQLParser.parse(String(decoding: bytes[0..<end], as: UTF8.self))
            }
        }
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array(#"{}()[]|=~!<>"`,.-+*/%^ abcxyz019_#\"#.utf8)
        for _ in 0..<3_000 {
            let length = Int.random(in: 0..<40, using: &generator)
            let bytes = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            _ = try? LogQLParser.parse(String(decoding: bytes, as: UTF8.self))
        }
    }
}
