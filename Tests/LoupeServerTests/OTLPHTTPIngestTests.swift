import Foundation
import LoupeModel
import LoupePipeline
import LoupeWire
import Testing

@Suite("OTLP/HTTP ingest through a running server")
struct OTLPHTTPIngestTests {
    static let now = UInt64(Date().timeIntervalSince1970 * 1e9)

    static func sampleTraces(spans: Int = 3, start: UInt64 = now) -> TraceData {
        let attributes: [KeyValue] = [
            KeyValue("http.request.method", .string("GET")), KeyValue("http.response.status_code", .int(200)),
            KeyValue("ratio", .double(0.25)), KeyValue("cached", .bool(true)),
            KeyValue("tags", .array([.string("a"), .string("b")])), KeyValue("raw", .bytes([0, 1, 2])),
        ]
        let event = SpanEvent(timeUnixNano: start + 10, name: "cache.miss", attributes: [KeyValue("key", .string("k1"))])
        let link = SpanLink(traceID: TraceID(high: 9, low: 9), spanID: SpanID(value: 9), attributes: [KeyValue("l", .int(1))])
        var spanList: [Span] = []
        for index in 0..<spans {
            let offset = UInt64(index) * 1_000_000
            spanList.append(Span(
                traceID: TraceID(high: 0x0102_0304_0506_0708, low: UInt64(index + 1)), spanID: SpanID(value: UInt64(100 + index)),
                traceState: "vendor=x", parentSpanID: index == 0 ? .empty : SpanID(value: 100), flags: 0x101,
                name: "GET /items/\(index)", kind: .server, startTimeUnixNano: start + offset,
                endTimeUnixNano: start + offset + 500_000, attributes: attributes, events: [event], links: [link],
                status: SpanStatus(message: "fine", code: .ok)))
        }
        let resource = Resource(attributes: [KeyValue("service.name", .string("checkout")), KeyValue("k8s.namespace.name", .string("shop"))])
        let scope = InstrumentationScope(name: "io.opentelemetry.http", version: "1.2.3")
        return TraceData(resourceSpans: [ResourceSpans(resource: resource, scopeSpans: [ScopeSpans(scope: scope, spans: spanList)])])
    }

    @Test("protobuf traces are acknowledged and read back equal")
    func protobufRoundTrip() async throws {
        try await TestServer.with { server in
            let traces = Self.sampleTraces()
            let reply = try await server.request(
                "POST", server.otlpHTTPBase + "/v1/traces", body: OTLPProtobuf.encodeTraces(traces),
                headers: ["Content-Type": "application/x-protobuf"])
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"] == "application/x-protobuf")
            #expect(reply.body.isEmpty, "full success leaves partial_success unset")

            let read = try await server.request(
                "GET", server.httpBase + "/loupe/api/v1/traces", headers: ["Accept": "application/x-protobuf"])
            #expect(read.status == 200)
            #expect(try OTLPProtobuf.decodeTraces(read.body) == traces)
        }
    }

    @Test("JSON logs and metrics on the main address, gzip-compressed")
    func jsonGzip() async throws {
        try await TestServer.with { server in
            let logs = LogsData(resourceLogs: [ResourceLogs(
                resource: Resource(attributes: [KeyValue("service.name", "api")]),
                scopeLogs: [ScopeLogs(logRecords: [LogRecord(
                    timeUnixNano: Self.now, observedTimeUnixNano: Self.now + 5, severityNumber: .warn, severityText: "WARN",
                    body: .string("disk almost full"), attributes: [KeyValue("disk", "/dev/sda")], flags: 1,
                    traceID: TraceID(high: 1, low: 2), spanID: SpanID(value: 3), eventName: "disk.warning")])])])
            let reply = try await server.request(
                "POST", server.httpBase + "/v1/logs", body: Gzip.compress(OTLPJSON.encodeLogs(logs)),
                headers: ["Content-Type": "application/json", "Content-Encoding": "gzip"])
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"] == "application/json")
            #expect(reply.text == "{}")
            let read = try await server.request("GET", server.httpBase + "/loupe/api/v1/logs")
            #expect(try OTLPJSON.decodeLogs(read.body) == logs)

            let metrics = MetricsData(resourceMetrics: [ResourceMetrics(scopeMetrics: [ScopeMetrics(metrics: [
                Metric(name: "requests", unit: "1", data: .sum(Sum(
                    dataPoints: [NumberDataPoint(attributes: [KeyValue("route", "/")], startTimeUnixNano: Self.now - 10, timeUnixNano: Self.now, value: .int(42))],
                    aggregationTemporality: .cumulative, isMonotonic: true))),
            ])])])
            let metricReply = try await server.request(
                "POST", server.httpBase + "/v1/metrics", body: OTLPJSON.encodeMetrics(metrics), headers: ["Content-Type": "application/json"])
            #expect(metricReply.status == 200)
            let readMetrics = try await server.request("GET", server.httpBase + "/loupe/api/v1/metrics")
            #expect(try OTLPJSON.decodeMetrics(readMetrics.body) == metrics)
        }
    }

    @Test("tenants are isolated by X-Scope-OrgID")
    func tenantIsolation() async throws {
        try await TestServer.with { server in
            let traces = Self.sampleTraces(spans: 1)
            let reply = try await server.request(
                "POST", server.otlpHTTPBase + "/v1/traces", body: OTLPProtobuf.encodeTraces(traces),
                headers: ["Content-Type": "application/x-protobuf", "X-Scope-OrgID": "team-a"])
            #expect(reply.status == 200)
            let own = try await server.request("GET", server.httpBase + "/loupe/api/v1/traces", headers: ["X-Scope-OrgID": "team-a"])
            #expect(try OTLPJSON.decodeTraces(own.body).itemCount == 1)
            let other = try await server.request("GET", server.httpBase + "/loupe/api/v1/traces", headers: ["X-Scope-OrgID": "team-b"])
            #expect(try OTLPJSON.decodeTraces(other.body).itemCount == 0)
            let fallback = try await server.request("GET", server.httpBase + "/loupe/api/v1/traces")
            #expect(try OTLPJSON.decodeTraces(fallback.body).itemCount == 0)
            let invalid = try await server.request(
                "POST", server.otlpHTTPBase + "/v1/traces", body: OTLPProtobuf.encodeTraces(traces),
                headers: ["Content-Type": "application/x-protobuf", "X-Scope-OrgID": "a/b"])
            #expect(invalid.status == 400)
        }
    }

    @Test("time-range reads return exactly the items inside the range")
    func timeRange() async throws {
        try await TestServer.with { server in
            let start: UInt64 = 1_000_000_000_000_000_000
            let traces = Self.sampleTraces(spans: 5, start: start)  // spans 1 ms apart
            _ = try await server.request(
                "POST", server.otlpHTTPBase + "/v1/traces", body: OTLPProtobuf.encodeTraces(traces),
                headers: ["Content-Type": "application/x-protobuf"])
            let read = try await server.request(
                "GET", server.httpBase + "/loupe/api/v1/traces?start=\(start + 1_000_000)&end=\(start + 3_000_000)")
            let spans = try OTLPJSON.decodeTraces(read.body).resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) }
            #expect(spans.map(\.name) == ["GET /items/1", "GET /items/2", "GET /items/3"])
            let rfc = try await server.request("GET", server.httpBase + "/loupe/api/v1/traces?start=2001-09-09T01:46:40Z&end=2001-09-09T01:46:40.0015Z")
            #expect(try OTLPJSON.decodeTraces(rfc.body).itemCount == 2)
            let bad = try await server.request("GET", server.httpBase + "/loupe/api/v1/traces?start=yesterday")
            #expect(bad.status == 400)
        }
    }

    @Test("malformed bodies get 400 saying what and where")
    func malformed() async throws {
        try await TestServer.with { server in
            var bytes = OTLPProtobuf.encodeTraces(Self.sampleTraces(spans: 1))
            bytes.removeLast(7)
            let truncated = try await server.request(
                "POST", server.otlpHTTPBase + "/v1/traces", body: bytes, headers: ["Content-Type": "application/x-protobuf"])
            #expect(truncated.status == 400)
            #expect(truncated.headers["content-type"] == "application/x-protobuf")
            #expect(!truncated.body.isEmpty)

            let badJSON = try await server.request(
                "POST", server.otlpHTTPBase + "/v1/traces",
                body: Array(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abc"}]}]}]}"#.utf8),
                headers: ["Content-Type": "application/json"])
            #expect(badJSON.status == 400)
            #expect(badJSON.text.contains("traceId"), "message names the field: \(badJSON.text)")

            let unsupported = try await server.request(
                "POST", server.otlpHTTPBase + "/v1/traces", body: [1, 2, 3], headers: ["Content-Type": "text/plain"])
            #expect(unsupported.status == 415)

            let badGzip = try await server.request(
                "POST", server.otlpHTTPBase + "/v1/traces", body: [0x1f, 0x8b, 8, 0, 0],
                headers: ["Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"])
            #expect(badGzip.status == 400)
        }
    }

    @Test("bodies over the limit get 413, also after decompression")
    func tooLarge() async throws {
        try await TestServer.with(configure: { $0.maximumRequestBytes = 64 << 10 }) { server in
            let big = OTLPProtobuf.encodeTraces(Self.sampleTraces(spans: 2000))
            #expect(big.count > 64 << 10)
            let plain = try await server.request(
                "POST", server.otlpHTTPBase + "/v1/traces", body: big, headers: ["Content-Type": "application/x-protobuf"])
            #expect(plain.status == 413)
            let bomb = Gzip.compress([UInt8](repeating: 0, count: 4 << 20))
            #expect(bomb.count < 64 << 10)
            let inflated = try await server.request(
                "POST", server.otlpHTTPBase + "/v1/traces", body: bomb,
                headers: ["Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"])
            #expect(inflated.status == 413)
        }
    }

    @Test("over the memory budget: 503 with Retry-After")
    func overloaded() async throws {
        try await TestServer.with(configure: { $0.memoryBudgetBytes = 1 << 20 }) { server in
            // Hold the whole budget as a request in flight would.
            let held = try #require(server.runtime.pipeline.budget.reserve(1 << 20))
            defer { server.runtime.pipeline.budget.release(held) }
            let reply = try await server.request(
                "POST", server.otlpHTTPBase + "/v1/traces", body: OTLPProtobuf.encodeTraces(Self.sampleTraces(spans: 1)),
                headers: ["Content-Type": "application/x-protobuf"])
            #expect(reply.status == 503)
            #expect(reply.headers["retry-after"] == "1")
        }
    }

    @Test("items older than the retention period are refused in partial_success")
    func retention() async throws {
        try await TestServer.with(retention: RetentionPolicy(nanoseconds: 3_600 * 1_000_000_000)) { server in
            var traces = Self.sampleTraces(spans: 2)
            traces.resourceSpans[0].scopeSpans[0].spans[1].startTimeUnixNano = 1_000_000_000  // 1970
            let reply = try await server.request(
                "POST", server.otlpHTTPBase + "/v1/traces", body: OTLPJSON.encodeTraces(traces), headers: ["Content-Type": "application/json"])
            #expect(reply.status == 200)
            #expect(reply.text.contains(#""rejectedSpans":"1""#), "\(reply.text)")
            #expect(reply.text.contains("retention"))
            let read = try await server.request("GET", server.httpBase + "/loupe/api/v1/traces")
            #expect(try OTLPJSON.decodeTraces(read.body).itemCount == 1)
        }
    }

    @Test("/metrics, /ready and /healthz")
    func operational() async throws {
        try await TestServer.with { server in
            _ = try await server.request(
                "POST", server.otlpHTTPBase + "/v1/traces", body: OTLPProtobuf.encodeTraces(Self.sampleTraces(spans: 3)),
                headers: ["Content-Type": "application/x-protobuf"])
            _ = try await server.request("POST", server.otlpHTTPBase + "/v1/traces", body: [0xff], headers: ["Content-Type": "application/x-protobuf"])
            let metrics = try await server.request("GET", server.httpBase + "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.text.contains(#"loupe_received_items_total{signal="traces",protocol="otlp_http_protobuf"} 3"#))
            #expect(metrics.text.contains(#"loupe_rejected_requests_total{signal="traces",protocol="otlp_http_protobuf",reason="bad_request"} 1"#))
            #expect(metrics.text.contains("loupe_wal_fsync_duration_seconds_bucket"))
            #expect(metrics.text.contains("loupe_memory_budget_in_use_bytes"))
            #expect(try await server.request("GET", server.httpBase + "/ready").status == 200)
            #expect(try await server.request("GET", server.httpBase + "/healthz").status == 200)
        }
    }

    @Test("acknowledged data survives a restart (WAL replay)")
    func restart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-restart-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let traces = Self.sampleTraces(spans: 4)
        try await TestServer.with(dataDirectory: directory) { server in
            let reply = try await server.request(
                "POST", server.otlpHTTPBase + "/v1/traces", body: OTLPProtobuf.encodeTraces(traces),
                headers: ["Content-Type": "application/x-protobuf", "X-Scope-OrgID": "keep"])
            #expect(reply.status == 200)
        }
        try await TestServer.with(dataDirectory: directory) { server in
            let read = try await server.request(
                "GET", server.httpBase + "/loupe/api/v1/traces", headers: ["Accept": "application/x-protobuf", "X-Scope-OrgID": "keep"])
            #expect(try OTLPProtobuf.decodeTraces(read.body) == traces)
        }
    }
}
