import LoupeModel
import LoupeQuery
import Testing

@Suite("TraceQL query planning: requirements for pruning traces")
struct TraceQLPlannerTests {
    let engine = TraceQLEngine()

    func requirements(_ query: String) throws -> TraceQLTraceRequirements {
        engine.requirements(of: try engine.parse(query))
    }

    @Test("queries that read span-level fields only are told apart from those reading span attributes")
    func spanLevelFields() throws {
        for query in [
            #"{ resource.service.name = "checkout" && duration > 500ms }"#, #"{ name = "a" } >> { status = error }"#,
            #"{ rootServiceName = "x" && kind = server } | count() > 2"#, #"{ instrumentation:name = "otel" } | select(resource.host)"#,
            "{ span:childCount > 1 && statusMessage = \"x\" }",
        ] {
            #expect(try engine.parse(query).readsOnlySpanLevelFields, "\(query)")
        }
        for query in [
            #"{ span.http.route = "/x" }"#, "{ .retry = 2 }", #"{ event:name = "exception" }"#, "{ link:spanID != nil }",
            #"{ resource.a = "b" } | select(span.user)"#, #"{ name = "a" } | by(.region)"#, #"{ event.exception.type = "x" }"#,
        ] {
            #expect(!(try engine.parse(query).readsOnlySpanLevelFields), "\(query)")
        }
    }

    @Test("conjunctions keep every condition of one span")
    func conjunction() throws {
        let found = try requirements("{ resource.service.name = \"db\" && duration > 100ms && status = error }")
        #expect(found.spans == [TraceQLSpanRequirement(serviceNames: ["db"], minimumDuration: 100_000_001, statuses: [.error])])
        #expect(found.requiredServiceNames == [["db"]])
        #expect(found.minimumSpanDuration == 100_000_001)
        #expect(found.admits(TraceQLFixtures.trace))
        #expect(!(try requirements("{ resource.service.name = \"db\" && duration > 600ms }").admits(TraceQLFixtures.trace)))
    }

    @Test("disjunctions keep what both sides imply")
    func disjunction() throws {
        #expect(try requirements("{ resource.service.name = \"a\" || resource.service.name = \"b\" }").spans
            == [TraceQLSpanRequirement(serviceNames: ["a", "b"])])
        #expect(try requirements("{ resource.service.name = \"a\" || duration > 1s }").spans.isEmpty)
        #expect(try requirements("{ duration > 1s || duration >= 2s }").spans == [TraceQLSpanRequirement(minimumDuration: 1_000_000_001)])
        #expect(try requirements("{ .a } || { resource.service.name = \"x\" }").spans.isEmpty)
        #expect(try requirements("{ !(resource.service.name = \"x\") }").spans.isEmpty)
    }

    @Test("spanset operators and pipelines")
    func structure() throws {
        let both = try requirements("{ resource.service.name = \"a\" } >> { name = \"q\" } | count() > 2 | { kind = client }")
        #expect(both.spans == [
            TraceQLSpanRequirement(serviceNames: ["a"]), TraceQLSpanRequirement(names: ["q"]), TraceQLSpanRequirement(kinds: [.client]),
        ])
        // The left side of a negated structural operator may match nothing.
        #expect(try requirements("{ resource.service.name = \"a\" } !< { name = \"q\" }").spans == [TraceQLSpanRequirement(names: ["q"])])
        #expect(try requirements("{ } | rate() by (name)").spans.isEmpty)
        #expect(try requirements("{ name = \"q\" } | rate()").spans == [TraceQLSpanRequirement(names: ["q"])])
    }

    @Test("trace-level intrinsics and impossible filters")
    func traceLevel() throws {
        let found = try requirements("{ traceDuration > 2s && rootServiceName = \"frontend\" && trace:rootName = \"GET /api\" }")
        #expect(found.minimumTraceDuration == 2_000_000_001)
        #expect(found.rootServiceNames == ["frontend"])
        #expect(found.rootNames == ["GET /api"])
        #expect(!found.admits(TraceQLFixtures.trace))  // the trace lasts 1s
        #expect(try requirements("{ traceDuration <= 1s && rootServiceName = \"frontend\" }").admits(TraceQLFixtures.trace))
        #expect(try requirements("{ false }").matchesNothing)
        #expect(try requirements("{ duration < 1.5 }").spans == [TraceQLSpanRequirement(maximumDuration: 1)])
        #expect(try requirements("{ 5s < duration }").spans == [TraceQLSpanRequirement(minimumDuration: 5_000_000_001)])
        #expect(TraceQLTraceRequirements().admits(TraceQLFixtures.trace))
    }

    /// The requirements are only necessary conditions: whatever they rule out must not match.
    @Test("sound: a trace the requirements rule out never matches")
    func soundness() throws {
        let queries = [
            "{ resource.service.name = \"db\" && duration > 100ms }", "{ resource.service.name = \"x\" }",
            "{ duration > 2s }", "{ duration <= 20ms && kind = internal }", "{ duration = 20ms }", "{ name = \"auth\" }",
            "{ status = ok } && { kind = server }", "{ traceDuration > 999ms }", "{ traceDuration < 1s }",
            "{ rootName = \"GET /api\" } >> { duration > 400ms }", "{ } !< { resource.service.name = \"db\" }",
            "{ resource.service.name = \"db\" || name = \"render\" } | by(kind) | count() > 0",
            "{ duration > 0.5 }", "{ duration < 20000000.5 }", "{ 20ms = duration }", "{ span.tags = \"a\" }",
        ]
        // The fixture trace, and the same trace cut down to each single span and to each half.
        var traces = [TraceQLFixtures.trace]
        for index in TraceQLFixtures.trace.indices { traces.append([TraceQLFixtures.trace[index]]) }
        traces.append(Array(TraceQLFixtures.trace.prefix(3)))
        traces.append(Array(TraceQLFixtures.trace.suffix(3)))
        for query in queries {
            let compiled = try engine.compile(query)
            let found = engine.requirements(of: compiled)
            for trace in traces where !found.admits(trace) {
                #expect(try engine.evaluate(compiled, trace: trace).isEmpty, "\(query) ruled out a matching trace")
            }
        }
    }
}
