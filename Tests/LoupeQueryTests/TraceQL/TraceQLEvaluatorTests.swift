import LoupeModel
import LoupeQuery
import Testing

@Suite("TraceQL evaluator on a six-span trace")
struct TraceQLEvaluatorTests {
    let engine = TraceQLEngine()
    let trace = TraceQLFixtures.trace

    /// The spans of all matched spansets, in input order.
    func spans(_ query: String) throws(TraceQLError) -> [Int] {
        let spansets = try engine.evaluate(try engine.compile(query), trace: trace)
        return Array(Set(spansets.flatMap(\.spans))).sorted()
    }

    func spansets(_ query: String) throws(TraceQLError) -> [TraceQLSpanset] {
        try engine.evaluate(try engine.compile(query), trace: trace)
    }

    @Test("attribute scopes and lookups", arguments: [
        ("{ resource.service.name = \"db\" }", [2, 3]),
        ("{ .service.name = \"db\" }", [2, 3]),  // unscoped: span, then resource
        ("{ span.service.name = \"db\" }", []),
        ("{ .http.method = \"GET\" }", [0]),
        ("{ span.http.status_code = 200 }", [0]),
        ("{ span.http.status_code = \"200\" }", []),  // an int is not a string
        ("{ span.hit = true }", [3]),
        ("{ span.hit }", [3]),
        ("{ span.tags = \"b\" }", [1]),  // arrays: any element
        ("{ span.tags != \"c\" }", [1]),  // arrays: no element
        ("{ span.tags != \"a\" }", []),
        ("{ span.tags =~ \"[ab]\" }", [1]),
        ("{ event.exception.message = \"boom\" }", [2]),
        ("{ .exception.message = \"boom\" }", [2]),
        ("{ link.kind = \"follows\" }", [4]),
        ("{ instrumentation.scope.attr = \"s\" }", [0, 1, 2, 3, 4]),
        ("{ instrumentation:name = \"lib\" && instrumentation:version = \"1.2\" }", [0, 1, 2, 3, 4]),
        ("{ .missing = nil }", [0, 1, 2, 3, 4, 5]),
        ("{ span.retries != nil }", [2]),
        ("{ span.retries = nil }", [0, 1, 3, 4, 5]),
    ])
    func attributes(query: String, expected: [Int]) throws {
        #expect(try spans(query) == expected, "\(query)")
    }

    @Test("intrinsics", arguments: [
        ("{ name = \"auth\" }", [1]),
        ("{ span:name = \"auth\" }", [1]),
        ("{ status = error }", [2, 4]),
        ("{ status != error }", [0, 1, 3, 5]),
        ("{ status = ok }", [1]),
        ("{ status = unset }", [0, 3, 5]),
        ("{ statusMessage = \"timeout\" }", [2]),
        ("{ kind = client }", [1, 2]),
        ("{ kind = unspecified }", [5]),
        ("{ duration > 100ms }", [0, 2, 4]),
        ("{ duration >= 100ms }", [0, 1, 2, 4]),
        ("{ span:duration = 20ms }", [3]),
        ("{ duration < 1000000 }", []),  // bare numbers compare as nanoseconds
        ("{ duration > 0.5 * 1s }", [0]),
        ("{ rootServiceName = \"frontend\" }", [0, 1, 2, 3, 4, 5]),
        ("{ trace:rootService = \"frontend\" && trace:rootName = \"GET /api\" }", [0, 1, 2, 3, 4, 5]),
        ("{ traceDuration = 1s }", [0, 1, 2, 3, 4, 5]),
        ("{ trace:duration > 1s }", []),
        ("{ trace:id = \"00000000000000000000000000000001\" }", [0, 1, 2, 3, 4, 5]),  // leading zeros ignored
        ("{ trace:id = \"1\" }", [0, 1, 2, 3, 4, 5]),
        ("{ span:id = \"0000000000000003\" }", [2]),
        ("{ span:parentID = \"0000000000000003\" }", [3]),
        ("{ span:parentID = nil }", []),  // intrinsics cannot be nil: refused at validation, see below
        ("{ span:childCount = 3 }", [0]),
        ("{ span:childCount = 0 }", [1, 3, 4, 5]),
        ("{ event:name = \"exception\" }", [2]),
        ("{ event:timeSinceStart = 50ms }", [2]),
        ("{ link:traceID = \"abc\" }", [4]),
        ("{ link:spanID = \"0000000000000002\" }", [4]),
        ("{ nestedSetLeft = 1 && nestedSetRight = 10 && nestedSetParent = -1 }", [0]),
        ("{ nestedSetParent = 4 }", [3]),
        ("{ nestedSetLeft = 0 }", [5]),  // not connected to a root
    ])
    func intrinsics(query: String, expected: [Int]) throws {
        if query.contains("span:parentID = nil") {
            #expect(throws: TraceQLError.self) { try engine.compile(query) }
            return
        }
        #expect(try spans(query) == expected, "\(query)")
    }

    @Test("operators and arithmetic", arguments: [
        ("{ name =~ \"d.*\" }", [2]),
        ("{ name =~ \"b\" }", []),  // anchored
        ("{ name !~ \".*a.*\" }", [2, 4]),
        ("{ name > \"db\" && name < \"s\" }", [2, 5, 4]),
        ("{ span.retries > 2 }", [2]),
        ("{ span.retries != 3 }", []),  // a missing attribute is never unequal
        ("{ span.retries != 4 }", [2]),
        ("{ span.ratio < 1 }", [2]),  // float against int
        ("{ span.retries * 2 = 6 }", [2]),
        ("{ span.retries / 2 = 1 }", [2]),  // integer division
        ("{ span.retries / 2.0 = 1.5 }", [2]),
        ("{ span.retries % 2 = 1 }", [2]),
        ("{ span.retries ^ 2 = 9 }", [2]),
        ("{ -span.retries = -3 }", [2]),
        ("{ span.retries + 0.5 > 3 }", [2]),
        ("{ kind = client && status = error }", [2]),
        ("{ kind = client || status = error }", [1, 2, 4]),
        ("{ !(kind = client) }", [0, 3, 4, 5]),
        ("{ true }", [0, 1, 2, 3, 4, 5]),
        ("{ }", [0, 1, 2, 3, 4, 5]),
        ("{ false }", []),
        ("{ 1 = 1 && kind = server }", [0]),
    ])
    func operators(query: String, expected: [Int]) throws {
        #expect(try spans(query) == expected.sorted(), "\(query)")
    }

    @Test("spanset and structural operators", arguments: [
        ("{ resource.service.name = \"auth\" } && { status = error }", [1, 2, 4]),
        ("{ name = \"nope\" } && { status = error }", []),
        ("{ name = \"nope\" } || { status = error }", [2, 4]),
        ("{ name = \"GET /api\" } > { }", [1, 2, 4]),
        ("{ name = \"cache\" } < { }", [2]),
        ("{ name = \"GET /api\" } >> { kind = internal }", [3, 4]),
        ("{ name = \"cache\" } << { }", [0, 2]),
        ("{ name = \"auth\" } ~ { }", [2, 4]),
        ("{ } !< { resource.service.name = \"db\" }", [3]),  // leaf db spans
        ("{ } !> { }", [0, 5]),  // spans without a parent in the trace
        ("{ status = error } !>> { status = error }", [2, 4]),
        ("{ name = \"db query\" } !<< { }", [1, 2, 3, 4, 5]),
        ("{ } !~ { }", [0, 3, 5]),  // spans without siblings
        ("{ kind = client } &>> { kind = internal }", [2, 3]),
        ("{ name = \"cache\" } &<< { kind = server }", [0, 3]),
        ("{ name = \"GET /api\" } &> { kind = client }", [0, 1, 2]),
        ("{ kind = internal } &< { }", [0, 2, 3, 4]),
        ("{ name = \"auth\" } &~ { }", [1, 2, 4]),
        ("{ name = \"nope\" } !> { name = \"auth\" }", [1]),
        ("{ name = \"GET /api\" } > { } > { kind = internal }", [3]),
        ("({ } | count() > 5) && { status = error }", [0, 1, 2, 3, 4, 5]),
        ("{ name = \"GET /api\" } >> ({ status = error } | count() = 2)", [2, 4]),
    ])
    func spansetOperators(query: String, expected: [Int]) throws {
        #expect(try spans(query) == expected, "\(query)")
    }

    @Test("pipelines: count, avg, min, max, sum")
    func aggregates() throws {
        let counted = try spansets("{ } | count() > 5")
        #expect(counted.count == 1)
        #expect(counted.first?.spans == [0, 1, 2, 3, 4, 5])
        #expect(counted.first?.scalar == .int(6))
        #expect(counted.first?.attributes == [TraceQLSpanset.Attribute(name: "count()", value: .int(6))])
        #expect(try spansets("{ status = error } | count() > 2").isEmpty)

        // 1000 + 100 + 500 + 20 + 300 + 50 ms over 6 spans: 328.333 ms, a duration.
        let average = try spansets("{ } | avg(duration) > 300ms")
        #expect(average.first?.scalar == .duration(328_333_333))
        #expect(try spansets("{ } | avg(duration) > 330ms").isEmpty)
        #expect(try spansets("{ } | max(duration) = 1s").count == 1)
        #expect(try spansets("{ } | min(duration) < 30ms").first?.scalar == .duration(20_000_000))
        #expect(try spansets("{ } | sum(span.retries) = 3").first?.scalar == .int(3))
        #expect(try spansets("{ } | avg(span.retries) = 3").first?.scalar == .float(3))
        // No span has the attribute: the spanset has no average and is dropped.
        #expect(try spansets("{ } | avg(span.nothing) > 0").isEmpty)
        #expect(try spansets("count() = 6").count == 1)
        #expect(try spansets("max(duration) >= 1s | { status = error }").first?.spans == [2, 4])
    }

    @Test("pipelines: by, coalesce, select")
    func grouping() throws {
        let grouped = try spansets("{ } | by(resource.service.name) | count() > 1")
        #expect(grouped.map(\.spans) == [[0, 4], [2, 3]])
        #expect(
            grouped.first?.attributes == [
                TraceQLSpanset.Attribute(name: "by(resource.service.name)", value: .string("frontend")),
                TraceQLSpanset.Attribute(name: "count()", value: .int(2)),
            ])
        let slow = try spansets("{ } | by(resource.service.name) | avg(duration) > 200ms")
        #expect(slow.map(\.spans) == [[0, 4], [2, 3]])
        #expect(slow.map(\.scalar) == [.duration(650_000_000), .duration(260_000_000)])
        #expect(try spansets("{ } | by(kind) | coalesce()").map(\.spans) == [[0, 1, 2, 3, 4, 5]])
        #expect(try spansets("{ } | by(resource.service.name) | { status = error }").map(\.spans) == [[0, 4].filter { $0 == 4 }, [2]])
        #expect(try spansets("{ } | by(span.retries * 2)").count == 2)

        let selected = try spansets("{ status = error } | select(span.db.system, resource.service.name)")
        #expect(
            selected.first?.selections == [
                TraceQLSpanset.Selection(span: 2, name: "span.db.system", value: .string("postgresql")),
                TraceQLSpanset.Selection(span: 2, name: "resource.service.name", value: .string("db")),
                TraceQLSpanset.Selection(span: 4, name: "resource.service.name", value: .string("frontend")),
            ])
    }

    @Test("run-time failures Tempo also has, and metrics queries")
    func failures() throws {
        // Structural operators need a single spanset on each side (each input spanset is taken alone).
        #expect(throws: TraceQLError.self) { try spansets("({ } | by(kind)) > { }") }
        #expect(try spansets("{ } | by(resource.service.name) | { } > { }").map(\.spans) == [[4], [3]])
        #expect(try spansets("{ } | by(kind) | coalesce() | { } > { kind = client }").map(\.spans) == [[1, 2]])
        do {
            _ = try spansets("{ span.retries / 0 = 1 }")
            Issue.record("division by zero evaluated")
        } catch {
            #expect(error.code == .execution)
        }
        do {
            _ = try engine.evaluate(try engine.compile("{ } | rate()"), trace: trace)
            Issue.record("metrics query evaluated")
        } catch {
            #expect(error.code == .execution)
        }
        #expect(try engine.evaluate(try engine.compile("{ }"), trace: []).isEmpty)
        #expect(try engine.matches(try engine.compile("{ status = error }"), trace: trace))
    }

    @Test("OTLP trace data flattens into inputs")
    func inputs() {
        let data = TraceData(resourceSpans: [
            ResourceSpans(
                resource: TraceQLFixtures.resource("a"),
                scopeSpans: [ScopeSpans(scope: TraceQLFixtures.scope, spans: [TraceQLFixtures.trace[0].span, TraceQLFixtures.trace[1].span])]),
            ResourceSpans(resource: TraceQLFixtures.resource("b"), scopeSpans: [ScopeSpans(spans: [TraceQLFixtures.trace[2].span])]),
        ])
        let inputs = TraceQLSpanInput.inputs(from: data)
        #expect(inputs.count == 3)
        #expect(inputs[2].resource == TraceQLFixtures.resource("b"))
        #expect(inputs[0].scope.name == "lib")
    }
}
