import LoupeModel
import LoupeQuery

/// A six-span trace for evaluator tests:
///
///     0 GET /api (frontend, server, 0-1000ms, http.method=GET, http.status_code=200)
///     ├── 1 auth (auth, client, 0-100ms, ok, tags=["a","b"])
///     ├── 2 db query (db, client, 100-600ms, error "timeout", db.system, retries=3, ratio=0.5,
///     │   │           event "exception" at 150ms with exception.message="boom")
///     │   └── 3 cache (db, internal, 150-170ms, hit=true)
///     └── 4 render (frontend, internal, 600-900ms, error, link to trace 0xabc span 0x2)
///     5 orphan (batch, parent 0x63 not in the trace, 0-50ms)
enum TraceQLFixtures {
    static let traceID = TraceID(high: 0, low: 1)
    static let ms: UInt64 = 1_000_000

    static func resource(_ service: String) -> Resource {
        Resource(attributes: [KeyValue("service.name", .string(service))])
    }

    static let scope = InstrumentationScope(name: "lib", version: "1.2", attributes: [KeyValue("scope.attr", "s")])

    static func span(
        _ index: Int, _ name: String, parent: Int?, kind: SpanKind, start: UInt64, end: UInt64,
        status: SpanStatus = SpanStatus(), attributes: [KeyValue] = [], events: [SpanEvent] = [], links: [SpanLink] = []
    ) -> Span {
        Span(
            traceID: traceID, spanID: SpanID(value: UInt64(index + 1)),
            parentSpanID: parent.map { SpanID(value: UInt64($0 + 1)) } ?? .empty, name: name, kind: kind,
            startTimeUnixNano: start * ms, endTimeUnixNano: end * ms, attributes: attributes, events: events, links: links,
            status: status)
    }

    static let trace: [TraceQLSpanInput] = [
        TraceQLSpanInput(
            span: span(
                0, "GET /api", parent: nil, kind: .server, start: 0, end: 1000,
                attributes: [KeyValue("http.method", "GET"), KeyValue("http.status_code", .int(200))]),
            resource: resource("frontend"), scope: scope),
        TraceQLSpanInput(
            span: span(
                1, "auth", parent: 0, kind: .client, start: 0, end: 100, status: SpanStatus(code: .ok),
                attributes: [KeyValue("tags", .array(["a", "b"]))]),
            resource: resource("auth"), scope: scope),
        TraceQLSpanInput(
            span: span(
                2, "db query", parent: 0, kind: .client, start: 100, end: 600,
                status: SpanStatus(message: "timeout", code: .error),
                attributes: [KeyValue("db.system", "postgresql"), KeyValue("retries", .int(3)), KeyValue("ratio", .double(0.5))],
                events: [SpanEvent(timeUnixNano: 150 * ms, name: "exception", attributes: [KeyValue("exception.message", "boom")])]),
            resource: resource("db"), scope: scope),
        TraceQLSpanInput(
            span: span(3, "cache", parent: 2, kind: .internal, start: 150, end: 170, attributes: [KeyValue("hit", true)]),
            resource: resource("db"), scope: scope),
        TraceQLSpanInput(
            span: span(
                4, "render", parent: 0, kind: .internal, start: 600, end: 900, status: SpanStatus(code: .error),
                links: [SpanLink(traceID: TraceID(high: 0, low: 0xabc), spanID: SpanID(value: 2), attributes: [KeyValue("kind", "follows")])]),
            resource: resource("frontend"), scope: scope),
        TraceQLSpanInput(
            span: span(5, "orphan", parent: 98, kind: .unspecified, start: 0, end: 50),
            resource: resource("batch"), scope: InstrumentationScope(name: "other")),
    ]
}
