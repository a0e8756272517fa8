import LoupeQuery
import Testing

/// A fully parenthesised rendering of a tree, to check how the parser grouped things.
func shape(_ expression: PromQLExpression) -> String {
    switch expression {
    case .number(let literal): return literal.isDuration ? "dur(\(literal.value))" : "\(literal.value)"
    case .string(let literal): return "str(\(literal.value))"
    case .vectorSelector(let selector): return selector.description
    case .matrixSelector: return expression.description
    case .subquery(let subquery): return "subquery(\(shape(subquery.expression)))"
    case .unary(let unary): return "(\(unary.op.rawValue)\(shape(unary.operand)))"
    case .binary(let binary):
        return "(\(shape(binary.lhs)) \(binary.op.rawValue)\(binary.returnBool ? " bool" : "") \(shape(binary.rhs)))"
    case .aggregation(let aggregation):
        let arguments = ([aggregation.parameter].compactMap { $0 } + [aggregation.expression]).map(shape)
        return "\(aggregation.op.rawValue)(\(arguments.joined(separator: ", ")))"
    case .call(let call): return "\(call.function.name)(\(call.arguments.map(shape).joined(separator: ", ")))"
    case .parenthesized(let paren): return "[\(shape(paren.expression))]"
    }
}

extension PromQLVectorSelector {
    fileprivate var description: String { PromQLExpression.vectorSelector(self).description }
}

func parse(_ query: String) throws -> PromQLExpression { try PromQLParser.parse(query) }

func parseError(_ query: String, sourceLocation: SourceLocation = #_sourceLocation) -> PromQLError? {
    do {
        let expression = try PromQLParser.parse(query)
        Issue.record("expected \(query) to fail, got \(expression)", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

@Suite("PromQL parser")
struct PromQLParserTests {
    // MARK: Precedence and associativity

    @Test(
        "operator precedence and associativity",
        arguments: [
            ("1 + 2 * 3", "(1.0 + (2.0 * 3.0))"),
            ("1 * 2 + 3", "((1.0 * 2.0) + 3.0)"),
            ("1 - 2 - 3", "((1.0 - 2.0) - 3.0)"),
            ("2 ^ 3 ^ 2", "(2.0 ^ (3.0 ^ 2.0))"),
            ("-2 ^ 2", "(-(2.0 ^ 2.0))"),
            ("-a * b", "((-a) * b)"),
            ("-a ^ b", "(-(a ^ b))"),
            ("2 ^ -1 ^ 2", "(2.0 ^ (-(1.0 ^ 2.0)))"),
            ("a or b and c", "(a or (b and c))"),
            ("a and b or c", "((a and b) or c)"),
            ("a unless b and c", "((a unless b) and c)"),
            ("a == b + c", "(a == (b + c))"),
            ("a + b > c * d", "((a + b) > (c * d))"),
            ("a atan2 b * c", "((a atan2 b) * c)"),
            ("a % b / c", "((a % b) / c)"),
            ("a > b or c < d", "((a > b) or (c < d))"),
            ("a </ 2 + 1", "(a </ (2.0 + 1.0))"),
            ("a >/ b == c", "((a >/ b) == c)"),
            ("(1 + 2) * 3", "([(1.0 + 2.0)] * 3.0)"),
            ("- - 1", "1.0"),
            ("-(1)", "(-[1.0])"),
            ("+a", "(+a)"),
            ("a + -b", "(a + (-b))"),
            ("1 - -1", "(1.0 - -1.0)"),
        ])
    func precedence(query: String, expected: String) throws {
        #expect(shape(try parse(query)) == expected)
    }

    @Test("unary minus on a number literal folds into it; `-2^2` is -4 in shape")
    func unaryFolding() throws {
        guard case .number(let literal) = try parse("-5") else { Issue.record("not a number"); return }
        #expect(literal.value == -5)
        #expect(literal.position == .init(start: 0, end: 2))
        guard case .unary(let unary) = try parse("-2^2") else { Issue.record("not unary"); return }
        #expect(unary.op == .minus)
        #expect(unary.position == .init(start: 0, end: 4))
    }

    @Test("postfix modifiers bind to the operand just before them")
    func postfixBinding() throws {
        #expect(shape(try parse("a + b offset 5m")) == "(a + b offset 5m)")
        #expect(shape(try parse("-foo offset 5m")) == "(-foo offset 5m)")
        #expect(shape(try parse("a ^ b @ 10")) == "(a ^ b @ 10.000)")
        #expect(try parse("rate(a[5m]) * 2").description == "rate(a[5m]) * 2")
    }

    // MARK: Vector matching

    @Test(
        "binary modifiers",
        arguments: [
            ("a + on(b) c", "a + on (b) c"),
            ("a + on() c", "a + on () c"),
            ("a + ignoring(b, c) d", "a + ignoring (b, c) d"),
            ("a + ignoring() d", "a + d"),
            ("a * on(x) group_left(y, z) b", "a * on (x) group_left (y, z) b"),
            ("a * on(x) group_left b", "a * on (x) group_left () b"),
            ("a * ignoring(x) group_right() b", "a * ignoring (x) group_right () b"),
            ("a > bool b", "a > bool b"),
            ("a == bool on(x) b", "a == bool on (x) b"),
            ("1 > bool 2", "1 > bool 2"),
            ("a and on(x) b", "a and on (x) b"),
            ("a unless ignoring(x) b", "a unless ignoring (x) b"),
            ("a + fill(0) b", "a + fill (0) b"),
            ("a + fill_left(1) fill_right(-2) b", "a + fill_left (1) fill_right (-2) b"),
            ("a + fill_right(2) fill_left(1) b", "a + fill_left (1) fill_right (2) b"),
            ("a + on(x) group_left fill(NaN) b", "a + on (x) group_left () fill (NaN) b"),
            ("a + fill(1e6) b", "a + fill (1e+06) b"),
            ("fill + fill(0) other", "fill + fill (0) other"),
            ("a + on(\"x.y\") b", "a + on (\"x.y\") b"),
        ])
    func binaryModifiers(query: String, printed: String) throws {
        #expect(try parse(query).description == printed)
    }

    @Test("vector matching details")
    func vectorMatching() throws {
        guard case .binary(let binary) = try parse("a * on(x) group_left(y) b"), let matching = binary.matching else {
            Issue.record("no matching")
            return
        }
        #expect(matching.cardinality == .manyToOne)
        #expect(matching.on)
        #expect(matching.matchingLabels == ["x"])
        #expect(matching.include == ["y"])
        guard case .binary(let set) = try parse("a or b") else { return }
        #expect(set.matching?.cardinality == .manyToMany)
        guard case .binary(let scalar) = try parse("a + 1") else { return }
        #expect(scalar.matching == nil)
        guard case .binary(let fill) = try parse("a - fill_left(3) b") else { return }
        #expect(fill.matching?.fillLeft == 3)
        #expect(fill.matching?.fillRight == nil)
    }

    // MARK: Aggregations

    @Test(
        "every aggregation form",
        arguments: [
            ("sum(foo)", "sum(foo)"),
            ("sum by (job) (foo)", "sum by (job) (foo)"),
            ("sum(foo) by (job)", "sum by (job) (foo)"),
            ("sum by () (foo)", "sum(foo)"),
            ("sum without () (foo)", "sum without () (foo)"),
            ("sum without (a, b) (foo)", "sum without (a, b) (foo)"),
            ("sum(foo) without (a,)", "sum without (a) (foo)"),
            ("avg(foo)", "avg(foo)"), ("count(foo)", "count(foo)"), ("min(foo)", "min(foo)"),
            ("max(foo)", "max(foo)"), ("group(foo)", "group(foo)"), ("stddev(foo)", "stddev(foo)"),
            ("stdvar(foo)", "stdvar(foo)"),
            ("topk(3, foo)", "topk(3, foo)"), ("bottomk by (a) (3, foo)", "bottomk by (a) (3, foo)"),
            ("quantile(0.9, foo)", "quantile(0.9, foo)"),
            ("count_values(\"value\", foo)", "count_values(\"value\", foo)"),
            ("count_values without (a) ('v', foo)", "count_values without (a) (\"v\", foo)"),
            ("limitk(2, foo)", "limitk(2, foo)"), ("limit_ratio(0.5, foo)", "limit_ratio(0.5, foo)"),
            ("SUM BY (job) (foo)", "sum by (job) (foo)"),
            ("sum by (sum, by, on, offset, bool, start) (foo)", "sum by (sum, by, on, offset, bool, start) (foo)"),
            ("sum by (foo:bar) (x)", "sum by (\"foo:bar\") (x)"),
            ("sum by (\"ü\", job) (x)", "sum by (\"ü\", job) (x)"),
            ("topk(scalar(foo), bar)", "topk(scalar(foo), bar)"),
        ])
    func aggregations(query: String, printed: String) throws {
        #expect(try parse(query).description == printed)
    }

    @Test("aggregation fields")
    func aggregationFields() throws {
        guard case .aggregation(let aggregation) = try parse("topk without (a) (5, foo)") else {
            Issue.record("not an aggregation")
            return
        }
        #expect(aggregation.op == .topk)
        #expect(aggregation.without)
        #expect(aggregation.grouping == ["a"])
        #expect(aggregation.parameter.map(shape) == "5.0")
        #expect(aggregation.position == .init(start: 0, end: 25))
        #expect(aggregation.expression.valueType == .vector)
    }

    @Test("keywords name metrics where an expression starts")
    func keywordMetricNames() throws {
        #expect(try parse("sum").description == "sum")
        #expect(try parse("offset{step=\"1s\"}[5m]").description == "offset{step=\"1s\"}[5m]")
        #expect(try parse("by + without").description == "by + without")
        #expect(try parse("step").description == "step")
        #expect(try parse("foo and and").description == "foo and and")
        #expect(try parse("anchored").description == "anchored")
    }

    // MARK: Selectors

    @Test("selectors and matchers")
    func selectors() throws {
        guard case .vectorSelector(let selector) = try parse("foo{a=\"1\", b!=\"2\", c=~\"3.*\", d!~'4'}") else {
            Issue.record("not a selector")
            return
        }
        #expect(selector.name == "foo")
        #expect(
            selector.matchers == [
                .init(name: "a", type: .equal, value: "1"), .init(name: "b", type: .notEqual, value: "2"),
                .init(name: "c", type: .regexMatch, value: "3.*"), .init(name: "d", type: .regexNoMatch, value: "4"),
                .init(name: "__name__", type: .equal, value: "foo"),
            ])
        #expect(selector.position == .init(start: 0, end: 36))
        #expect(try parse("foo{b=\"1\",a=\"2\",}").description == "foo{a=\"2\",b=\"1\"}")
        #expect(try parse("{__name__=\"foo\"}").description == "{__name__=\"foo\"}")
        #expect(try parse("job:rate5m{x=\"y\"}").description == "job:rate5m{x=\"y\"}")
        #expect(try parse("foo # a comment\n + bar").description == "foo + bar")
        #expect(try parse("foo{# comment\na=\"b\"}").description == "foo{a=\"b\"}")
    }

    @Test("quoted UTF-8 metric and label names")
    func utf8Names() throws {
        guard case .vectorSelector(let selector) = try parse("{\"my.metric\", \"a.b\"=\"c\"}") else {
            Issue.record("not a selector")
            return
        }
        #expect(selector.name == "")
        #expect(
            selector.matchers == [
                .init(name: "__name__", type: .equal, value: "my.metric"), .init(name: "a.b", type: .equal, value: "c"),
            ])
        #expect(PromQLExpression.vectorSelector(selector).description == "{\"a.b\"=\"c\",__name__=\"my.metric\"}")
        #expect(try parse("{\"ü\"}").description == "{__name__=\"ü\"}")
        #expect(try PromQLParser().parseSeriesSelector("up{job=\"x\"}") == [
            .init(name: "job", type: .equal, value: "x"), .init(name: "__name__", type: .equal, value: "up"),
        ])
        #expect(try PromQLParser().parseSeriesSelector("{a=\"\"}") == [.init(name: "a", type: .equal, value: "")])
    }

    // MARK: Offsets, @ and ranges

    @Test(
        "offset, @, ranges and subqueries print canonically",
        arguments: [
            ("foo offset 5m", "foo offset 5m"),
            ("foo offset -7m", "foo offset -7m"),
            ("foo offset 90", "foo offset 1m30s"),
            ("foo OFFSET 1h30m", "foo offset 1h30m"),
            ("foo[5m] offset 1w", "foo[5m] offset 1w"),
            ("foo @ 1603774568", "foo @ 1603774568.000"),
            ("foo @ -100.5", "foo @ -100.500"),
            ("foo @ start()", "foo @ start()"),
            ("foo[5m] @ end()", "foo[5m] @ end()"),
            ("foo offset 5m @ 10", "foo @ 10.000 offset 5m"),
            ("foo @ 10 offset 5m", "foo @ 10.000 offset 5m"),
            ("foo[300]", "foo[5m]"),
            ("foo[1.5]", "foo[1s500ms]"),
            ("foo[90d]", "foo[90d]"),
            ("foo[14d]", "foo[2w]"),
            ("foo[365d]", "foo[1y]"),
            ("foo[5m:]", "foo[5m:]"),
            ("foo[5m:1m]", "foo[5m:1m]"),
            ("rate(foo[5m])[30m:1m] offset 1h @ 100", "rate(foo[5m])[30m:1m] @ 100.000 offset 1h"),
            ("foo @ 5 [10m:5s]", "foo @ 5.000[10m:5s]"),
            ("(foo + bar)[5m:]", "(foo + bar)[5m:]"),
            ("foo[5m] anchored", "foo[5m] anchored"),
            ("foo anchored [5m]", "foo[5m] anchored"),
            ("foo[5m] smoothed @ 1 offset 1m", "foo[5m] smoothed @ 1.000 offset 1m"),
            ("foo smoothed", "foo smoothed"),
            ("foo offset 0", "foo"),
        ])
    func modifiers(query: String, printed: String) throws {
        #expect(try parse(query).description == printed)
    }

    @Test("modifier fields")
    func modifierFields() throws {
        guard case .matrixSelector(let matrix) = try parse("foo[5m] @ 1.5 offset -1m") else {
            Issue.record("not a matrix selector")
            return
        }
        #expect(matrix.range == .fixed(PromQLDuration(nanoseconds: 300_000_000_000)))
        #expect(matrix.vectorSelector.at == .timestamp(milliseconds: 1500))
        #expect(matrix.vectorSelector.offset == .fixed(PromQLDuration(milliseconds: -60_000)))
        #expect(matrix.position == .init(start: 0, end: 24))
        guard case .subquery(let subquery) = try parse("foo[1h:] @ end()") else {
            Issue.record("not a subquery")
            return
        }
        #expect(subquery.step == nil)
        #expect(subquery.at == .end)
        #expect(subquery.range.fixedValue?.seconds == 3600)
    }

    // MARK: Duration expressions

    @Test(
        "duration expressions",
        arguments: [
            ("foo[5m+1m]", "foo[5m + 1m]"),
            ("foo[1h/2]", "foo[1h / 2]"),
            ("foo[(5m)]", "foo[(5m)]"),
            ("foo[((1h))]", "foo[(1h)]"),
            ("foo[step()]", "foo[step()]"),
            ("foo[STEP()*2]", "foo[step() * 2]"),
            ("foo[-range()]", "foo[-range()]"),
            ("foo[max_of(step(),5s)]", "foo[max_of(step(), 5s)]"),
            ("foo[2m*(10+5)]", "foo[2m * (10 + 5)]"),
            ("foo[-2^2]", "foo[-2 ^ 2]"),
            ("foo[5m:step()*2]", "foo[5m:step() * 2]"),
            ("foo offset (1h*2)", "foo offset (1h * 2)"),
            ("foo offset -(5m)", "foo offset -(5m)"),
            ("foo offset step()", "foo offset step()"),
            ("foo offset +min_of(10s, 20s)", "foo offset min_of(10s, 20s)"),
            ("foo offset -min_of(step(), 1s)", "foo offset -min_of(step(), 1s)"),
            ("foo[4s+4s:1s*2] offset (5s-8)", "foo[4s + 4s:1s * 2] offset (5s - 8)"),
        ])
    func durationExpressions(query: String, printed: String) throws {
        #expect(try parse(query).description == printed)
    }

    @Test("an offset literal ends the offset: `foo offset 5m * 2` multiplies the selector")
    func offsetLiteralEnds() throws {
        #expect(shape(try parse("foo offset 5m * 2")) == "(foo offset 5m * 2.0)")
        #expect(shape(try parse("foo offset -1^1")) == "(foo offset -1s ^ 1.0)")
        #expect(shape(try parse("foo offset step() * 0")) == "(foo offset step() * 0.0)")
        #expect(shape(try parse("foo offset -(1m) + 8000")) == "(foo offset -(1m) + 8000.0)")
    }

    @Test("duration expressions evaluate with the query's step and range")
    func durationEvaluation() throws {
        guard case .matrixSelector(let matrix) = try parse("foo[max_of(step()*2, 1m) + range()/10]"),
            case .expression(let expression) = matrix.range
        else {
            Issue.record("no duration expression")
            return
        }
        let step = PromQLDuration(milliseconds: 45_000)
        let range = PromQLDuration(milliseconds: 600_000)
        #expect(try expression.seconds(step: step, range: range) == 150)
        #expect(try matrix.range.resolve(step: step, range: range, allowNegative: false).milliseconds == 150_000)
        guard case .matrixSelector(let divided) = try parse("foo[1h/(step()-step())]"),
            case .expression(let zero) = divided.range
        else { return }
        #expect(throws: PromQLError.self) { try zero.seconds(step: step, range: range) }
    }

    // MARK: Literals

    @Test(
        "numbers",
        arguments: [
            ("1", 1.0), ("0x1F", 31), ("0X_1f", 31), ("0755", 493), ("08", 8), ("1_000", 1000), ("1_000.5", 1000.5),
            ("1e3", 1000), ("12.34e-6", 0.00001234), (".5", 0.5), ("2.", 2), ("-0.2e-6", -0.0000002), ("+1", 1),
            ("Inf", .infinity), ("-inf", -.infinity), ("5m", 300), ("1h30m", 5400), ("100ms", 0.1),
        ])
    func numbers(query: String, value: Double) throws {
        guard case .number(let literal) = try parse(query) else {
            Issue.record("not a number")
            return
        }
        #expect(literal.value == value)
    }

    @Test("NaN literals")
    func nan() throws {
        for query in ["NaN", "nan", "nAn"] {
            guard case .number(let literal) = try parse(query) else { continue }
            #expect(literal.value.isNaN)
        }
    }

    @Test(
        "numbers print like Go's FormatFloat",
        arguments: [
            ("1e3", "1000"), ("0.1", "0.1"), ("1e21", "1000000000000000000000"), ("12.34e-6", "0.00001234"),
            ("-inf", "-Inf"), ("+Inf", "+Inf"), ("nan", "NaN"), ("5m", "5m"), ("-5m", "-5m"), ("3600", "3600"),
            ("0x10", "16"), ("1.5", "1.5"), ("-0", "-0"),
        ])
    func numberPrinting(query: String, printed: String) throws {
        #expect(try parse(query).description == printed)
    }

    @Test(
        "strings and escapes",
        arguments: [
            (#""abc""#, "abc"), (#"'abc'"#, "abc"), ("`a\\nb`", "a\\nb"), (#""a\nb\tc""#, "a\nb\tc"),
            (#""\u00fc\U0001F600""#, "ü😀"), (#""\x41\102""#, "AB"), (#"'it\'s'"#, "it's"), (#""say \"hi\"""#, "say \"hi\""),
            (#""\\""#, "\\"), (#""\a\b\f\r\v""#, "\u{07}\u{08}\u{0C}\r\u{0B}"),
        ])
    func strings(query: String, value: String) throws {
        guard case .string(let literal) = try parse(query) else {
            Issue.record("not a string")
            return
        }
        #expect(literal.value == value)
    }

    @Test("strings keep bytes that are not UTF-8 and print with Go quoting")
    func stringBytes() throws {
        guard case .string(let literal) = try parse(#""a\xc5z""#) else { return }
        #expect(literal.bytes == [0x61, 0xC5, 0x7A])
        #expect(!literal.isValidUTF8)
        #expect(PromQLExpression.string(literal).description == #""a\xc5z""#)
        #expect(try parse("'tab\there'").description == #""tab\there""#)
        #expect(try parse("`back\\slash`").description == #""back\\slash""#)
        #expect(try parse(#""\u00a0""#).description == #""\u00a0""#)
    }

    // MARK: Functions

    @Test("function calls and the function table")
    func functions() throws {
        guard case .call(let call) = try parse("label_join(up, \"a\", \",\", \"b\", \"c\")") else {
            Issue.record("not a call")
            return
        }
        #expect(call.function.name == "label_join")
        #expect(call.arguments.count == 5)
        #expect(try parse("round(x)").valueType == .vector)
        #expect(try parse("time()").valueType == .scalar)
        #expect(try parse("histogram_quantiles(x, \"q\", 0.5, 0.9)").description == "histogram_quantiles(x, \"q\", 0.5, 0.9)")
        #expect(try parse("info(up, {k=~\".+\"})").description == "info(up, {k=~\".+\"})")
        #expect(try parse("info(up, {__name__=\"x_info\"})").description == "info(up, {__name__=\"x_info\"})")
        #expect(try parse("step()").valueType == .scalar)
        #expect(try parse("start() + end() + range()").valueType == .scalar)
        #expect(try parse("min_of(1, 2)").valueType == .scalar)
        #expect(try parse("mad_over_time(x[5m])").valueType == .vector)
        #expect(try parse("ts_of_max_over_time(x[5m])").valueType == .vector)
        #expect(try parse("double_exponential_smoothing(x[5m], 0.5, 0.5)").valueType == .vector)
        #expect(try parse("sort_by_label_desc(x, \"a\", \"b\")").valueType == .vector)
        for name in [
            "abs", "absent", "absent_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "day_of_month",
            "day_of_week", "day_of_year", "days_in_month", "delta", "deriv", "end", "double_exponential_smoothing",
            "exp", "floor", "histogram_avg", "histogram_count", "histogram_sum", "histogram_fraction",
            "histogram_quantile", "histogram_quantiles", "histogram_stddev", "histogram_stdvar", "hour", "idelta",
            "increase", "info", "irate", "label_join", "label_replace", "max_of", "min_of", "ln", "log2", "log10",
            "minute", "month", "predict_linear", "range", "rate", "resets", "round", "scalar", "sgn", "sort",
            "sort_desc", "sort_by_label", "sort_by_label_desc", "sqrt", "start", "start_timestamp", "step", "time",
            "timestamp", "vector", "year", "avg_over_time", "min_over_time", "max_over_time", "sum_over_time",
            "count_over_time", "quantile_over_time", "stddev_over_time", "stdvar_over_time", "last_over_time",
            "first_over_time", "present_over_time", "mad_over_time", "ts_of_first_over_time", "ts_of_last_over_time",
            "ts_of_max_over_time", "ts_of_min_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh", "cos",
            "cosh", "sin", "sinh", "tan", "tanh", "deg", "pi", "rad",
        ] {
            #expect(PromQLFunction.named(name) != nil, "\(name)")
        }
        #expect(PromQLFunction.all.count == 90)
        #expect(PromQLFunction.named("round")?.maximumArgumentCount == 2)
        #expect(PromQLFunction.named("label_join")?.maximumArgumentCount == nil)
    }

    // MARK: Errors

    @Test(
        "syntax errors: messages and positions as Prometheus gives them",
        arguments: [
            ("", "no expression found in input", 0, 0),
            ("# just a comment\n\n", "no expression found in input", 0, 0),
            ("1+", "unexpected end of input", 2, 2),
            (".", "unexpected character: '.'", 0, 1),
            ("2.5.", "bad number or duration syntax: \"2.5.\"", 0, 4),
            ("0deadbeef", "bad number or duration syntax: \"0de\"", 0, 9),
            ("*1", "unexpected <op:*>", 0, 1),
            ("(1))", "unexpected right parenthesis ')'", 4, 4),
            ("((1)", "unclosed left parenthesis", 4, 4),
            ("1 !~ 1", "unexpected character after '!': '~'", 2, 6),
            ("1 =~ 1", "unexpected character after '=': '~'", 2, 6),
            ("@@", "unexpected <op:@>", 0, 1),
            ("a - on(b) ignoring(c) d", "unexpected <ignoring>", 10, 18),
            ("foo + group_left(baz) bar", "unexpected <group_left>", 6, 16),
            ("{", "unexpected end of input inside braces", 1, 1),
            ("some}", "unexpected character: '}'", 4, 5),
            ("some_metric{a=b}", "unexpected identifier \"b\" in label matching, expected string", 14, 15),
            ("some_metric{a:b=\"b\"}", "unexpected character inside braces: ':'", 13, 20),
            ("foo{gibberish}", "unexpected \"}\" in label matching, expected label matching operator", 13, 14),
            ("foo{,}", "unexpected \",\" in label matching, expected identifier or \"}\"", 4, 5),
            ("foo{__name__=\"bar\" lol}", "unexpected identifier \"lol\" in label matching, expected \",\" or \"}\"", 19, 22),
            ("foo{a>=\"b\"}", "unexpected character inside braces: '>'", 5, 11),
            ("foo[5mm]", "bad number or duration syntax: \"5mm\"", 4, 8),
            ("foo[5y1hs]", "unknown unit \"hs\" in duration \"5y1hs\"", 4, 9),
            ("foo[5m1h]", "not a valid duration string: \"5m1h\"", 4, 8),
            ("foo[1.5h]", "unknown unit \".\" in duration \"1.5h\"", 4, 8),
            ("foo[0m]", "duration must be greater than 0", 4, 6),
            ("foo[]", "unexpected \"]\" in subquery or range selector, expected number, duration, step(), or range()", 4, 5),
            ("foo[\"5m\"]", "unexpected character in duration expression: '\"'", 4, 9),
            ("foo[5s x 5s]", "unexpected character: 'x', expected ':'", 7, 12),
            ("foo{bar=\"baz\"}[", "unexpected end of input in duration expression", 15, 15),
            ("some_metric[5m] OFFSET", "unexpected end of input in offset, expected number, duration, step(), or range()", 22, 22),
            ("some_metric[5m] @", "unexpected end of input in @, expected timestamp", 17, 17),
            ("sum without(==)(some_metric)", "unexpected <op:==> in grouping opts, expected label", 12, 14),
            ("sum without(foo,,)(some_metric)", "unexpected \",\" in grouping opts, expected label", 16, 17),
            ("sum some_metric by (test)", "unexpected identifier \"some_metric\"", 4, 15),
            ("sum (some_metric) by test", "unexpected identifier \"test\" in grouping opts, expected \"(\"", 21, 25),
            ("sum (some_metric) without (test) by (test)", "unexpected <by>", 33, 35),
            ("sum(foo bar)", "unexpected identifier \"bar\" in aggregation", 8, 11),
            ("topk(some_metric,)", "trailing commas not allowed in function call args", 16, 17),
            ("sum by (\"foo)(some_metric{})", "unterminated quoted string", 8, 28),
            ("`\\``", "unterminated raw string", 3, 4),
            ("\"\\", "escape sequence not terminated", 0, 2),
            ("\"\\c\"", "unknown escape sequence U+0063 'c'", 0, 4),
            ("\"\\x.\"", "illegal character U+002E '.' in escape sequence", 0, 5),
            ("\"\\400\"", "escape sequence is an invalid Unicode code point", 0, 6),
            ("sum(", "unclosed left parenthesis", 4, 4),
            ("e-+=/(0)", "unexpected \"=\"", 3, 4),
            ("foo[5s/0d]", "division by zero", 6, 7),
            ("foo[5s%0d]", "modulo by zero", 6, 7),
            ("foo offset (4d/0)", "division by zero", 14, 15),
            ("foo offset 9.5e10", "duration out of range", 11, 17),
            ("foo[step]", "unexpected \"]\" in subquery or range selector, expected number, duration, step(), or range()", 8, 9),
        ])
    func syntaxErrors(query: String, message: String, start: Int, end: Int) {
        guard let error = parseError(query) else { return }
        #expect(error.kind == .parse)
        #expect(error.message == message)
        #expect(error.position == .init(start: start, end: end))
    }

    @Test(
        "semantic and type errors: messages and positions as Prometheus gives them",
        arguments: [
            ("1 and 1", "set operator \"and\" not allowed in binary scalar expression", 0, 7),
            ("1 == 1", "comparisons between scalars must use BOOL modifier", 2, 3),
            ("foo and 1", "set operator \"and\" not allowed in binary scalar expression", 0, 9),
            ("1 or on(bar) foo", "vector matching only allowed between instant vectors", 0, 16),
            ("foo and on(bar) group_left(baz) bar", "no grouping allowed for \"and\" operation", 0, 35),
            (
                "http_requests{group=\"production\"} + on(instance) group_left(job,instance) cpu_count{type=\"smp\"}",
                "label \"instance\" must not occur in ON and GROUP clause at once", 34, 72
            ),
            ("foo + bool bar", "bool modifier can only be used on comparison operators", 4, 9),
            ("foo and bool 10", "bool modifier can only be used on comparison operators", 4, 11),
            ("-\"string\"", "unary expression only allowed on expressions of type scalar or instant vector, got \"string\"", 0, 9),
            ("-test[5m]", "unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\"", 0, 9),
            ("1 offset 1d", "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery", 0, 1),
            ("foo offset 1s offset 2s", "offset may not be set multiple times", 0, 13),
            ("foo @ +Inf", "timestamp out of bounds for @ modifier: +Inf", 0, 3),
            ("foo @ NaN", "timestamp out of bounds for @ modifier: NaN", 0, 3),
            ("foo @ 1 @ 2", "@ <timestamp> may not be set multiple times", 0, 7),
            ("rate(some_metric[5m]) @ 1234", "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery", 0, 21),
            ("some_metric OFFSET 1m[5m]", "no offset modifiers allowed before range", 21, 25),
            ("some_metric @ 1234 [5m]", "no @ modifiers allowed before range", 19, 23),
            ("(foo + bar)[5m]", "ranges only allowed for vector selectors", 11, 15),
            ("1[5m] anchored", "ranges only allowed for vector selectors", 1, 5),
            ("rate(food[1m])[1h] offset 1h", "ranges only allowed for vector selectors", 14, 18),
            ("test[5d] OFFSET 10s [10m:5s]", "subquery is only allowed on instant vector, got matrix instead", 0, 28),
            ("{}", "vector selector must contain at least one non-empty matcher", 0, 2),
            ("{x=~\".*\"}", "vector selector must contain at least one non-empty matcher", 0, 9),
            ("{x!~\".+\"}", "vector selector must contain at least one non-empty matcher", 0, 9),
            ("{x=~\"a|\"}", "vector selector must contain at least one non-empty matcher", 0, 9),
            ("{x=~\"(a*)?b{0,3}\"}", "vector selector must contain at least one non-empty matcher", 0, 18),
            ("foo{__name__=\"bar\"}", "metric name must not be set twice: \"foo\" or \"bar\"", 0, 19),
            ("sum () by (test)", "no arguments for aggregate expression provided", 0, 16),
            ("topk(some_metric)", "wrong number of arguments for aggregate expression provided, expected 2, got 1", 0, 17),
            ("topk(some_metric, other_metric)", "expected type scalar in aggregation parameter, got instant vector", 5, 16),
            ("count_values(5, other_metric)", "expected type string in aggregation parameter, got scalar", 13, 14),
            ("sum(foo[5m])", "expected type instant vector in aggregation expression, got range vector", 4, 11),
            ("floor()", "expected 1 argument(s) in call to \"floor\", got 0", 0, 7),
            ("floor(1)", "expected type instant vector in call to function \"floor\", got scalar", 6, 7),
            ("hour(some_metric, some_metric, some_metric)", "expected at most 1 argument(s) in call to \"hour\", got 3", 0, 43),
            ("label_join(x)", "expected at least 3 argument(s) in call to \"label_join\", got 1", 0, 13),
            ("time(some_metric)", "expected 0 argument(s) in call to \"time\", got 1", 0, 17),
            ("non_existent_function_far_bar()", "unknown function with name \"non_existent_function_far_bar\"", 0, 29),
            ("rate(some_metric)", "expected type range vector in call to function \"rate\", got instant vector", 5, 16),
            ("a>b()", "unknown function with name \"b\"", 2, 3),
            (
                "info(rate(http_request_counter_total{}[5m]), target_info{foo=\"bar\"})",
                "expected label selectors only, got vector selector instead", 45, 67
            ),
            ("info(http_request_counter_total{namespace=\"zzz\"}, {foo=\"bar\"} == 1)", "expected label selectors only", 50, 66),
            ("sum by (\"\") (x)", "invalid label name for grouping: \"\"", 8, 10),
            ("foo{a=~\"(b\"}", "error parsing regexp: missing closing ): `(b`", 4, 11),
            ("foo{a=~\"*b\"}", "error parsing regexp: missing argument to repetition operator: `*`", 4, 11),
            ("foo{a!~\"\\\\1\"}", "error parsing regexp: invalid escape sequence: `\\1`", 4, 12),
            ("999e999", "error parsing number: strconv.ParseFloat: parsing \"999e999\": value out of range", 0, 7),
        ])
    func semanticErrors(query: String, message: String, start: Int, end: Int) {
        guard let error = parseError(query) else { return }
        #expect(error.message == message)
        #expect(error.position == .init(start: start, end: end))
    }

    @Test("errors render with line and column like Prometheus's")
    func errorDescription() {
        let error = parseError("sum(rate(foo}[5m]))")
        #expect(error?.description == "1:13: parse error: unexpected character: '}'")
        let multiline = parseError("sum(\n  rate(foo[5m]) +\n)")
        #expect(multiline?.description == "3:1: parse error: unexpected \")\" in aggregation")
    }

    @Test("experimental features can be switched off")
    func options() {
        let strict = PromQLParser(
            options: .init(
                enableExperimentalFunctions: false, enableDurationExpressions: false,
                enableExtendedRangeSelectors: false, enableBinaryFillModifiers: false))
        func message(_ query: String) -> String? {
            do {
                _ = try strict.parse(query)
                return nil
            } catch { return error.message }
        }
        #expect(message("limitk(1, x)") == "limitk() is experimental and must be enabled with --enable-feature=promql-experimental-functions")
        #expect(message("mad_over_time(x[5m])") == "function \"mad_over_time\" is not enabled")
        #expect(message("x[5m+1m]") == "experimental duration expression is not enabled")
        #expect(message("x[5m] anchored") == "anchored modifier is experimental and not enabled")
        #expect(message("a + fill(0) b") == "binop fill modifiers are experimental and not enabled")
        #expect(message("rate(x[5m] offset 1m)") == nil)
    }

    @Test("deep nesting is refused with a clear error, not a crash")
    func nestingLimit() throws {
        let deep = String(repeating: "(", count: 300) + "1" + String(repeating: ")", count: 300)
        let error = parseError(deep)
        #expect(error?.message.hasPrefix("query is nested too deeply") == true)
        let fine = String(repeating: "(", count: 100) + "1" + String(repeating: ")", count: 100)
        #expect(try parse(fine).valueType == .scalar)
        let chain = Array(repeating: "a", count: 400).joined(separator: " + ")
        #expect(parseError(chain)?.message.hasPrefix("query is nested too deeply") == true)
        let unary = String(repeating: "-", count: 1000) + "1"
        #expect(parseError(unary)?.message.hasPrefix("query is nested too deeply") == true)
    }

    // MARK: Regular expressions

    @Test(
        "valid RE2 patterns are accepted",
        arguments: [
            "(?i:foo)", "(?i)foo", "[[:alpha:]]+", "[[:^digit:]]", "\\p{L}+", "\\pL", "\\PN", "[^\\]]", "a{,3}", "\\Q.*\\E",
            "(?P<name>x)", "(?<name>x)", "x{2}?", "[a-]", "[-a]", "[]a]", "\\x{1F600}", "\\x41", "\\.", "\\/", "\\-",
            "a|", "|", "()", "(|a)", "\\d+", "[\\d\\s]", "[\\w-]+", "\\\\", "\\bfoo\\b", "^$", "(?s).", "(?U)a*",
            "(?-i)a", "(?i-s:a)", "[\\p{Greek}]", "\\Afoo\\z", ".*?", "\\_", "a{2,5}", "a{3,}", "\\012", "[\\x00-\\x7F]",
            "{", "a{", "a{1", "x{}", "ü+", "\\t\\n\\f\\r\\v\\a",
        ])
    func validRegexes(pattern: String) throws {
        _ = try parse("foo{a=~`\(pattern)`}")
    }

    @Test(
        "invalid RE2 patterns are refused with Go's messages",
        arguments: [
            ("(foo", "missing closing ): `(foo`"),
            ("foo)", "unexpected ): `foo)`"),
            ("*a", "missing argument to repetition operator: `*`"),
            ("a**", "invalid nested repetition operator: `**`"),
            ("a{1001}", "invalid repeat count: `{1001}`"),
            ("a{2,1}", "invalid repeat count: `{2,1}`"),
            ("[a", "missing closing ]: `[a`"),
            ("[z-a]", "invalid character class range: `z-a`"),
            ("\\1", "invalid escape sequence: `\\1`"),
            ("\\C", "invalid escape sequence: `\\C`"),
            ("(?=a)", "invalid or unsupported Perl syntax: `(?=`"),
            ("(?P<>a)", "invalid named capture: `(?P<>`"),
            ("[[:foo:]]", "invalid character class range: `[:foo:]`"),
            ("a\\", "trailing backslash at end of expression: ``"),
        ])
    func invalidRegexes(pattern: String, message: String) {
        let error = parseError("foo{a=~`\(pattern)`}")
        #expect(error?.message == "error parsing regexp: " + message)
    }

    @Test("which regex matchers select everything")
    func emptyMatchingRegexes() throws {
        for pattern in [".*", "a*", "(a|)", "^$", "(?i)", "x{0}", "\\b|", "(a?)+", "\\Q\\E"] {
            #expect(parseError("{a=~`\(pattern)`}")?.message == "vector selector must contain at least one non-empty matcher")
        }
        for pattern in [".+", "a", "a|b", "\\b", "[a-z]*x", "(?i)a", "\\d"] {
            _ = try parse("{a=~`\(pattern)`}")
        }
        _ = try parse("{a!~`.*`}")
    }

    // MARK: Lexer

    @Test("tokens carry their byte ranges")
    func lexer() {
        let tokens = PromQLLexer.tokenize("sum by (job) (rate(x{a=~\"b\"}[5m:1m] offset -1h)) # c")
        let summary = tokens.map { "\($0.kind)@\($0.start)" }.joined(separator: " ")
        #expect(
            summary == "sum@0 by@4 leftParen@7 identifier@8 rightParen@11 leftParen@13 identifier@14 leftParen@18 "
                + "identifier@19 leftBrace@20 identifier@21 eqlRegex@22 string@24 rightBrace@27 leftBracket@28 "
                + "duration@29 colon@31 duration@32 rightBracket@34 offset@36 sub@43 duration@44 rightParen@46 "
                + "rightParen@47 comment@49 eof@52")
        let keywords = PromQLLexer.tokenize("ON Bool Inf nan fill fill(").map(\.kind)
        #expect(keywords == [.on, .bool, .number, .number, .identifier, .fill, .leftParen, .error])
        let error = PromQLLexer.tokenize("foo{a!b}").last!
        #expect(error.kind == .error)
        #expect(error.text == "unexpected character after '!' inside braces: 'b'")
    }

    // MARK: Printer

    @Test("pretty printing splits long expressions as Prometheus does")
    func pretty() throws {
        let query = #"sum by (job) (rate(http_requests_total{code="500",handler="/api/v1/query",instance="localhost:9090"}[5m])) / ignoring (code) sum by (job) (rate(http_requests_total[5m]))"#
        let expected = """
              sum by (job) (
                rate(http_requests_total{code="500",handler="/api/v1/query",instance="localhost:9090"}[5m])
              )
            / ignoring (code)
              sum by (job) (rate(http_requests_total[5m]))
            """
        #expect(try parse(query).format(pretty: true) == expected)
        #expect(try parse("sum(foo)").format(pretty: true) == "sum(foo)")
        #expect(try parse("sum(task:errors:rate10s{job=\"s\"})").format(pretty: true, lineLength: 10) == "sum(\n  task:errors:rate10s{job=\"s\"}\n)")
    }

    @Test("value types")
    func valueTypes() throws {
        #expect(try parse("1").valueType == .scalar)
        #expect(try parse("\"a\"").valueType == .string)
        #expect(try parse("foo").valueType == .vector)
        #expect(try parse("foo[5m]").valueType == .matrix)
        #expect(try parse("foo[5m:]").valueType == .matrix)
        #expect(try parse("1 + foo").valueType == .vector)
        #expect(try parse("(1 + 2)").valueType == .scalar)
        #expect(try parse("-vector(1)").valueType == .vector)
        #expect(PromQLValueType.matrix.documentedName == "range vector")
    }
}
