import LoupeModel
import LoupeQuery
import Testing

@Suite("TraceQL parser and printer")
struct TraceQLParserTests {
    let engine = TraceQLEngine()

    func parse(_ text: String) throws -> TraceQLQuery { try engine.parse(text) }

    func filter(_ text: String) throws -> TraceQLFieldExpression {
        guard case .search(let pipeline) = try parse(text).body, pipeline.elements.count == 1,
            case .spanset(.filter(let expression)) = pipeline.elements[0]
        else {
            Issue.record("\(text) is not a single filter")
            return .value(.nilValue)
        }
        return expression
    }

    // MARK: Canonical text

    /// Query -> canonical text. The expected texts were produced by Tempo's own generated parser
    /// (expr.y.go and lexer.go at the pinned commit) with a tree printer in this format: they pin both the
    /// tree shape Tempo builds (precedence, associativity, its grammar's quirks) and the printed form.
    static let canonical: [(String, String)] = [
        ("{ .a = 1 || .b = 2 && .c = 3 }", "{ ((.a = 1) || (.b = 2)) && (.c = 3) }"),  // && and || share a level
        ("{ -.a * 2 = 1 }", "{ (-(.a * 2)) = 1 }"),
        ("{ -.a + 2 = 1 }", "{ ((-.a) + 2) = 1 }"),
        ("{ !.a && .b }", "{ (!.a) && .b }"),
        ("{ !.a * 2 }", "{ !(.a * 2) }"),
        ("{ 2 ^ 3 ^ 2 = .x }", "{ (2 ^ (3 ^ 2)) = .x }"),
        ("{ .a != nil && nil = .b }", "{ (.a != nil) && (.b = nil) }"),
        ("{ nil = .a + 1 }", "{ (.a + 1) = nil }"),
        ("{ nil = nil }", "{ false }"),
        ("{ .a+1 = 2 }", "{ .a+1 = 2 }"),  // `+` is part of an unquoted attribute name
        ("{ .\"5a\" = 1 }", "{ .\"5a\" = 1 }"),
        ("{ parent.\"span.x\" = 1 }", "{ parent.\"span.x\" = 1 }"),
        ("{ .a = \"tab\\there\" }", "{ .a = \"tab\\there\" }"),
        ("{ .a = `raw\\n` }", "{ .a = \"raw\\\\n\" }"),
        ("{ duration > 1.5s }", "{ duration > 1s500ms }"),
        ("{ duration > 1h2m3s4ms5us6ns }", "{ duration > 1h2m3s4ms5us6ns }"),
        ("{ duration > 2d }", "{ duration > 48h }"),
        ("{ .a = 1e6 }", "{ .a = 1e+06 }"),
        ("{ .a = 0.00001 }", "{ .a = 1e-05 }"),
        ("{ .a = 3.0 }", "{ .a = 3.0 }"),
        ("{ .a = 017 }", "{ .a = 17 }"),
        ("{ .a = minInt }", "{ .a = minInt }"),
        ("{ .a = maxInt }", "{ .a = 9223372036854775807 }"),
        ("{ trace:duration > 2s && trace:rootService = \"gw\" }", "{ (traceDuration > 2s) && (rootServiceName = \"gw\") }"),
        (
            "{ span:id = \"0102\" } >> { event:name = \"x\" } | select(span:parentID, link:traceID)",
            "{ span:id = \"0102\" } >> { event:name = \"x\" } | select(span:parentID, link:traceID)"
        ),
        ("{}", "{ true }"),
        ("1 ^ 2 * count() > 1", "(1 ^ (2 * count())) > 1"),  // Tempo has no `constant ^ constant`
        ("count() + 1 + 2 > 3", "((count() + 1) + 2) > 3"),
        ("3 % 2 / count() > 1", "(3 % (2 / count())) > 1"),
        ("{ true } | count() > 1 + 2 * 3", "{ true } | count() > 7"),  // literal arithmetic folds
        ("({ true } | count()) + ({ true } | count()) = 1", "(({ true } | count()) + ({ true } | count())) = 1"),
        (
            "{} | quantile_over_time(duration, 0.5, .9, 1) by (resource.service.name, name)",
            "{ true } | quantile_over_time(duration, 0.5, 0.9, 1) by (resource.service.name, name)"
        ),
        ("{} | compare({ status = error }, 5)", "{ true } | compare({ status = error }, 5)"),
        ("{} | compare({ status = error }, 10)", "{ true } | compare({ status = error })"),
        ("({} | rate()) / 2 / 3", "(({ true } | rate()) / 2) / 3"),
        ("({} | max_over_time(duration)) > 1500ms", "{ true } | max_over_time(duration) > 1.5"),
        ("{ .a } with(sample=0.5, most_recent=true)", "{ .a } with(sample=0.5, most_recent=true)"),
        ("/* c */ { .a = 1 } // trailing", "{ .a = 1 }"),
        ("({ .a } | { .b })", "{ .a } | { .b }"),
        ("{ .a } | ({ .b } | { .c }) | { .d }", "{ .a } | { .b } | { .c } | { .d }"),
        ("({ true } | count() > 1) && { .b }", "({ true } | count() > 1) && { .b }"),
        ("{} | rate() | topk(5) > 20 | bottomk (10) <= 10", "{ true } | rate() | topk(5) > 20 | bottomk(10) <= 10"),
        ("({} | rate()) + ({} | rate()) | topk(5) > 10", "({ true } | rate()) + ({ true } | rate()) | topk(5) > 10"),
        ("-2 - 20 / ({} | rate())", "-2 - (20 / ({ true } | rate()))"),
    ]

    @Test("queries print canonically, and the text parses back to the same tree")
    func canonicalForms() throws {
        for (query, expected) in Self.canonical {
            let parsed = try parse(query)
            #expect(parsed.description == expected, "\(query)")
            #expect(try parse(parsed.description) == parsed, "\(query)")
        }
    }

    @Test("round trip: parse(print(parse(x))) == parse(x)")
    func roundTrips() throws {
        let queries = [
            "{ resource.service.name = \"api\" && span.http.status_code >= 500 } >> { status = error }",
            "{ span.\"attribute name with space\" = \"value\" }",
            "{ span.attribute.\"attribute name with space\" = \"value\" }",
            "{ .\"foo\\\" = \\\"bar\" = \"v\" }",
            "{ .\"a\\\\b\" = \"v\" }",
            "{ .\"\" = 1 }",
            "{ event:timeSinceStart > -5s }",
            "{ .a = \"\\u00e9\\x41\\101\\a\\v\\f\\b\" }",
            "{ .a = \"\u{1}\u{7F}\" }",
            "{ (-1) ^ .a = 1 }",
            "{ -(1 ^ .a) = 1 }",
            "{ status != error } | by(resource.service.name) | count() > 1 | coalesce()",
            "{ } !< { resource.service.name = \"productcatalogservice\" }",
            "{ .a } &>> { .b } &<< { .c } &> { .d } &< { .e } &~ { .f }",
            "{ .a } !>> { .b } !<< { .c } !> { .d } !< { .e } !~ { .f } ~ { .g }",
            "max(duration) > 3s | { status = error || .http.status = 500 }",
            "({ .a } | count()) / ({ .b } | count()) > ({ .c } | count()) / ({ .d } | count())",
            "{ span:duration < 5ms } | count_over_time() by(resource.service.name) | topk(10)",
            "{} | histogram_over_time(duration) by (span.http.route)",
            "(60 * ({} | rate())) / ({} | count_over_time())",
            "({} | rate() > 6) * 100 > 5",
            "{ .a } with(x=1s)",
            "{ .a } with(a=\"x\", b=ok, c=client, d=1.5, e=2h, f=true, g=minInt)",
            "{ nestedSetLeft > 3 && nestedSetRight < 10 && nestedSetParent = -1 }",
            "{ instrumentation:name = \"grpc\" && instrumentation:version = \"v3.34\" && instrumentation.x = 1 }",
            "{ link:traceID = \"f1\" && link:spanID = \"f2\" && link.a = 1 && event.b = 2 }",
            "{ parent.a != 3 } | { parent.resource.a && true } | { parent.span.a > 3 } | { parent }",
        ]
        for query in queries {
            let parsed = try parse(query)
            let printed = parsed.description
            #expect(try parse(printed) == parsed, "\(query) printed as \(printed)")
        }
    }

    // MARK: Trees

    @Test("spanset filters build the expected trees")
    func filterTrees() throws {
        #expect(
            try filter("{ span.http.method = \"GET\" }")
                == .binary(.equal, .attribute(TraceQLAttribute(name: "http.method", scope: .span)), .value(.string("GET"))))
        #expect(
            try filter("{ .a.b =~ \"x.*\" }")
                == .binary(.regexMatch, .attribute(TraceQLAttribute(name: "a.b")), .value(.string("x.*"))))
        #expect(try filter("{ span:duration > 100ms }") == .binary(.greater, .attribute(TraceQLAttribute(intrinsic: .duration)), .value(.duration(100_000_000))))
        #expect(try filter("{ kind = server }") == .binary(.equal, .attribute(TraceQLAttribute(intrinsic: .kind)), .value(.kind(.server))))
        #expect(try filter("{ status = error }") == .binary(.equal, .attribute(TraceQLAttribute(intrinsic: .status)), .value(.status(.error))))
        #expect(try filter("{ .a != nil }") == .unary(.exists, .attribute(TraceQLAttribute(name: "a"))))
        #expect(try filter("{ resource.x = nil }") == .unary(.notExists, .attribute(TraceQLAttribute(name: "x", scope: .resource))))
        #expect(
            try filter("{ parent.span.a > 1 }")
                == .binary(.greater, .attribute(TraceQLAttribute(name: "a", scope: .span, parent: true)), .value(.int(1))))
        #expect(try filter("{ 1h30m = .d }") == .binary(.equal, .value(.duration(5_400_000_000_000)), .attribute(TraceQLAttribute(name: "d"))))
        #expect(try filter("{ .a = 1.5h }") == .binary(.equal, .attribute(TraceQLAttribute(name: "a")), .value(.duration(5_400_000_000_000))))
        #expect(try filter("{ .a = 300us }") == .binary(.equal, .attribute(TraceQLAttribute(name: "a")), .value(.duration(300_000))))
        #expect(try filter("{ .a = 1y }") == .binary(.equal, .attribute(TraceQLAttribute(name: "a")), .value(.duration(365 * 86_400_000_000_000))))
    }

    @Test("pipelines, aggregates, by, select, coalesce")
    func pipelineTrees() throws {
        let query = try parse("{ status = error } | by(resource.service.name) | avg(duration) > 20ms | select(span.http.url) | coalesce()")
        guard case .search(let pipeline) = query.body else {
            Issue.record("not a search")
            return
        }
        #expect(pipeline.elements.count == 5)
        #expect(pipeline.elements[1] == .groupBy(.attribute(TraceQLAttribute(name: "service.name", scope: .resource))))
        #expect(
            pipeline.elements[2]
                == .scalarFilter(TraceQLScalarFilter(.greater, .aggregate(TraceQLAggregate(.avg, .attribute(TraceQLAttribute(intrinsic: .duration)))), .value(.duration(20_000_000)))))
        #expect(pipeline.elements[3] == .select([TraceQLAttribute(name: "http.url", scope: .span)]))
        #expect(pipeline.elements[4] == .coalesce)
    }

    @Test("metrics queries parse into metrics trees")
    func metricsTrees() throws {
        let query = try parse("{ status = error } | rate() by (resource.service.name) > 10 | topk(3) with(sample=0.1)")
        guard case .metrics(.pipeline(let metrics), let rootStages) = query.body else {
            Issue.record("not a metrics pipeline")
            return
        }
        #expect(rootStages.isEmpty)
        #expect(metrics.function == TraceQLMetricsFunction(.rate, by: [TraceQLAttribute(name: "service.name", scope: .resource)]))
        #expect(metrics.secondStage == [.filter(.greater, 10), .topK(3)])
        #expect(query.hints == [TraceQLHint(name: "sample", value: .float(0.1))])
        #expect(query.isMetrics)

        let math = try parse("({ .a } | rate()) / ({} | rate()) * 100")
        guard case .metrics(.scalar(.multiply, 100, .binary(.divide, _, _), scalarOnLeft: false), _) = math.body else {
            Issue.record("unexpected tree \(math)")
            return
        }
    }

    // MARK: Errors

    @Test("parse errors carry the position of the offending token")
    func errorPositions() {
        let cases: [(String, Int, Int, String)] = [
            ("{ .a < }", 1, 8, "unexpected }"),
            ("{ .a < 3", 1, 9, "unexpected end of query"),
            ("{ attribute = 4 }", 1, 3, "unknown identifier: attribute"),
            ("{ .attribute == 4 }", 1, 15, "unexpected ="),
            ("{ . }", 1, 4, "expected an attribute name"),
            ("{ span. }", 1, 8, "expected an attribute name after span."),
            ("{ true } + { true }", 1, 10, "unexpected +"),
            ("{ true } |\n  count()", 2, 3, "aggregate must be compared"),
            ("{ .a = \"never closed }", 1, 8, "literal not terminated"),
            ("{ .a = 1 }\n/* open", 2, 1, "comment not terminated"),
            ("{ .\"a\\q\" = 1 }", 1, 6, "invalid escape sequence"),
            ("{ trace:status = error }", 1, 9, "unexpected status, expecting an intrinsic of trace:"),
            ("({} | rate()) * 10s", 1, 15, "duration cannot be used as a scalar operand"),
            ("({} | rate()) > (10s * 2)", 1, 22, "duration cannot be used in scalar arithmetic"),
            ("{} | rate() | topk(-1)", 1, 20, "unexpected -, expecting an integer"),
            ("({} | rate()) * 100000000000000000000000000000", 1, 17, "value out of range"),
            ("{ .a = 1 } ü", 1, 12, "unexpected identifier ü"),
            ("{ .ü = 1 } #", 1, 12, "unexpected #"),
        ]
        for (query, line, column, message) in cases {
            do {
                _ = try engine.parse(query)
                Issue.record("\(query) parsed")
            } catch {
                #expect(error.code == .parse, "\(query)")
                #expect(error.line == line && error.column == column, "\(query): \(error)")
                #expect(error.message.contains(message), "\(query): \(error.message)")
                #expect(error.description.hasPrefix("parse error at line \(line), col \(column): "), "\(query)")
            }
        }
    }

    @Test("the byte offset counts UTF-8, the column characters")
    func offsets() {
        do {
            _ = try engine.parse("{ .a = \"é\" } x")
            Issue.record("parsed")
        } catch {
            #expect(error.column == 14)
            #expect(error.offset == 14)
        }
    }

    @Test("validation errors: invalid vs unsupported")
    func validation() throws {
        let invalid = [
            "{ 1 + \"foo\" = 1 }", "{ .a =~ \"[\" }", "{ status }", "{ -true }", "min(1.1 - 3) > 1", "{ true } | by(1)",
            "{ span:status = nil }", "{ resource.service.name = nil }", "{} | rate() | topk(0)",
            "{} | compare({status=error}) > 10", "{} | quantile_over_time(duration, 1.5)",
        ]
        for query in invalid {
            #expect(throws: TraceQLError.self, "\(query)") { try engine.compile(query) }
            do { _ = try engine.compile(query) } catch { #expect(error.code == .invalid, "\(query): \(error)") }
        }
        let unsupported = ["{ parent.a != 3 }", "{ parent }", "min(.field) < max(duration)", "{ true } | count() + count() = 1"]
        for query in unsupported {
            do {
                _ = try engine.compile(query)
                Issue.record("\(query) compiled")
            } catch {
                #expect(error.code == .unsupported, "\(query): \(error)")
                #expect(error.description.hasSuffix("not yet supported"))
            }
        }
        _ = try engine.compile("{ .a =~ \"(?i)ab+\" && .b !~ \"x|y\" }")
    }
}
