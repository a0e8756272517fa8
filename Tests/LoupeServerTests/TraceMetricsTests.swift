import LoupeModel
import Testing

@testable import LoupePipeline

/// Span metrics and the service graph: counts, histograms and edges as Tempo's metrics
/// generator would produce them from the same spans.
@Suite struct TraceMetricsTests {
    static let ms: UInt64 = 1_000_000

    static func span(_ id: UInt64, parent: UInt64 = 0, name: String = "op", kind: SpanKind, milliseconds: UInt64,
                     error: Bool = false, attributes: [KeyValue] = []) -> Span {
        Span(traceID: TraceID(high: 0, low: 42), spanID: SpanID(value: id), parentSpanID: SpanID(value: parent), name: name, kind: kind,
             startTimeUnixNano: 1_000 * ms, endTimeUnixNano: 1_000 * ms + milliseconds * ms, attributes: attributes,
             status: SpanStatus(code: error ? .error : .unset))
    }

    static func value(_ series: [TimeSeries], _ name: String, _ labels: [String: String]) -> Double? {
        series.first { series in
            series.labels.first { $0.name == "__name__" }?.value == name
                && labels.allSatisfy { key, value in series.labels.contains { $0.name == key && $0.value == value } }
                && series.labels.count == labels.count + 1
        }?.samples.first?.value
    }

    @Test func spanMetricsCountCallsAndLatency() {
        var metrics = SpanMetrics()
        metrics.observe(Self.span(1, name: "GET /cart", kind: .server, milliseconds: 3), service: "frontend")
        metrics.observe(Self.span(2, name: "GET /cart", kind: .server, milliseconds: 300), service: "frontend")
        metrics.observe(Self.span(3, name: "GET /cart", kind: .server, milliseconds: 30, error: true), service: "frontend")
        let series = metrics.series(timestamp: 5_000)
        let ok = ["service": "frontend", "span_name": "GET /cart", "span_kind": "SPAN_KIND_SERVER", "status_code": "STATUS_CODE_UNSET"]
        #expect(Self.value(series, "traces_spanmetrics_calls_total", ok) == 2)
        #expect(Self.value(series, "traces_spanmetrics_latency_count", ok) == 2)
        #expect(Self.value(series, "traces_spanmetrics_latency_sum", ok) == 0.303)
        #expect(Self.value(series, "traces_spanmetrics_latency_bucket", ok.merging(["le": "0.004"]) { $1 }) == 1)
        #expect(Self.value(series, "traces_spanmetrics_latency_bucket", ok.merging(["le": "0.256"]) { $1 }) == 1)
        #expect(Self.value(series, "traces_spanmetrics_latency_bucket", ok.merging(["le": "0.512"]) { $1 }) == 2)
        #expect(Self.value(series, "traces_spanmetrics_latency_bucket", ok.merging(["le": "+Inf"]) { $1 }) == 2)
        var failed = ok
        failed["status_code"] = "STATUS_CODE_ERROR"
        #expect(Self.value(series, "traces_spanmetrics_calls_total", failed) == 1)
        #expect(series.allSatisfy { $0.samples.first?.timestamp == 5_000 })
    }

    @Test func spanMetricsOfOneBatchEqualThoseOfItsSpansOneByOne() {
        var spans: [Span] = []
        for index in 0..<40 {
            let kind: SpanKind = index % 2 == 0 ? .server : .client
            spans.append(Self.span(UInt64(index), name: "op\(index % 3)", kind: kind, milliseconds: UInt64(index * 7), error: index % 5 == 0))
        }
        let services = ["a", "b"]
        var data = TraceData()
        for (offset, service) in services.enumerated() {
            data.resourceSpans.append(ResourceSpans(
                resource: Resource(attributes: [KeyValue(key: "service.name", value: .string(service))]),
                scopeSpans: [ScopeSpans(spans: stride(from: offset, to: spans.count, by: 2).map { spans[$0] })]))
        }
        var batched = SpanMetrics()
        batched.observe(TraceBatchDigest(data))
        var single = SpanMetrics()
        for (index, span) in spans.enumerated() { single.observe(span, service: services[index % 2]) }
        let sortedSeries = { (metrics: SpanMetrics) in metrics.series(timestamp: 1).map { "\($0.labels) \($0.samples)" }.sorted() }
        #expect(sortedSeries(batched) == sortedSeries(single))
        #expect(sortedSeries(batched).count == 6 * 2 * (4 + SpanMetrics.latencyBuckets.count))
    }

    @Test func spanMetricsBoundTheirSeries() {
        var metrics = SpanMetrics(maximumSeries: 2)
        for index in 0..<5 { metrics.observe(Self.span(UInt64(index), name: "op\(index)", kind: .internal, milliseconds: 1), service: "s") }
        #expect(metrics.droppedSpans == 3)
        #expect(metrics.series(timestamp: 0).filter { $0.labels.contains { $0.value == "traces_spanmetrics_calls_total" } }.count == 2)
    }

    @Test func serviceGraphPairsClientAndServerInEitherOrder() {
        var graph = ServiceGraph(waitNanoseconds: 10 * 1_000 * Self.ms)
        // The server half arrives first, in another request.
        graph.observe(Self.span(2, parent: 1, kind: .server, milliseconds: 150, error: true), service: "cart", now: 0)
        graph.observe(Self.span(1, parent: 9, kind: .client, milliseconds: 180), service: "frontend", now: 1)
        // A root server span: called by the user.
        graph.observe(Self.span(9, kind: .server, milliseconds: 200), service: "frontend", now: 2)
        // A database call (nothing instrumented below it) and a message through a broker.
        graph.observe(Self.span(3, parent: 2, kind: .client, milliseconds: 5, attributes: [KeyValue(key: "db.system", value: .string("redis"))]),
                      service: "cart", now: 3)
        graph.observe(Self.span(4, parent: 2, kind: .producer, milliseconds: 1), service: "cart", now: 4)
        graph.observe(Self.span(5, parent: 4, kind: .consumer, milliseconds: 2), service: "mailer", now: 5)
        // A client span nobody answered and that names nothing.
        graph.observe(Self.span(6, parent: 2, kind: .client, milliseconds: 1), service: "cart", now: 6)
        #expect(graph.pending.count == 2)
        graph.expire(now: 20 * 1_000 * Self.ms)
        #expect(graph.pending.isEmpty && graph.unpairedClient == 1)
        let series = graph.series(timestamp: 0)
        #expect(Self.value(series, "traces_service_graph_request_total", ["client": "frontend", "server": "cart"]) == 1)
        #expect(Self.value(series, "traces_service_graph_request_failed_total", ["client": "frontend", "server": "cart"]) == 1)
        #expect(Self.value(series, "traces_service_graph_request_server_seconds_sum", ["client": "frontend", "server": "cart"]) == 0.15)
        #expect(Self.value(series, "traces_service_graph_request_client_seconds_bucket", ["client": "frontend", "server": "cart", "le": "0.2"]) == 1)
        #expect(Self.value(series, "traces_service_graph_request_client_seconds_bucket", ["client": "frontend", "server": "cart", "le": "0.1"]) == 0)
        #expect(Self.value(series, "traces_service_graph_request_total", ["client": "user", "server": "frontend", "connection_type": "virtual_node"]) == 1)
        #expect(Self.value(series, "traces_service_graph_request_total", ["client": "cart", "server": "redis", "connection_type": "database"]) == 1)
        #expect(Self.value(series, "traces_service_graph_request_total", ["client": "cart", "server": "mailer", "connection_type": "messaging_system"]) == 1)
        #expect(Self.value(series, "traces_service_graph_unpaired_spans_total", ["side": "client"]) == 1)
    }
}

/// One span of one service as a batch, the way the write path hands spans over.
extension TraceBatchDigest {
    static func single(_ span: Span, service: String) -> TraceBatchDigest {
        TraceBatchDigest(TraceData(resourceSpans: [
            ResourceSpans(resource: Resource(attributes: [KeyValue(key: "service.name", value: .string(service))]), scopeSpans: [ScopeSpans(spans: [span])])
        ]))
    }
}

extension SpanMetrics {
    mutating func observe(_ span: Span, service: String) { observe(TraceBatchDigest.single(span, service: service)) }
}

extension ServiceGraph {
    mutating func observe(_ span: Span, service: String, now: UInt64) { observe(TraceBatchDigest.single(span, service: service), now: now) }
}
