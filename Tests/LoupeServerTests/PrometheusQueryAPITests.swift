import Foundation
import LoupeModel
import LoupeWire
import Testing

@Suite("Prometheus query API over remote-written data")
struct PrometheusQueryAPITests {
    /// Three counters sampled every 15 s for 10 minutes, ending two minutes ago.
    static let end = (Int64(Date().timeIntervalSince1970) - 120) * 1000
    static let start = end - 600_000

    static func load(_ server: TestServer) async throws {
        var series: [TimeSeries] = []
        for cpu in 0..<3 {
            let samples = stride(from: start, through: end, by: 15_000).enumerated().map { index, timestamp in
                FloatSample(timestamp: timestamp, value: Double(index * (cpu + 1)))
            }
            series.append(TimeSeries(
                labels: Labels([Label("__name__", "cpu_seconds_total"), Label("cpu", "\(cpu)"), Label("job", "node")]), samples: samples))
        }
        let reply = try await RemoteWriteIngestTests.post(server, RemoteWriteV1.encode(RemoteWriteRequest(series: series)))
        #expect(reply.status == 204)
    }

    static func get(_ server: TestServer, _ path: String, _ parameters: [(String, String)]) async throws -> (Int, [String: Any]) {
        var components = URLComponents(string: server.httpBase + path)!
        components.queryItems = parameters.map { URLQueryItem(name: $0.0, value: $0.1) }
        // Form encoding reads "+" as a space (as Prometheus does), so a literal plus must be escaped.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        let reply = try await server.request("GET", components.url!.absoluteString)
        return (reply.status, try RemoteWriteIngestTests.json(reply))
    }

    @Test("instant query: vector result in Prometheus's shape")
    func instant() async throws {
        try await TestServer.with { server in
            try await Self.load(server)
            let (status, body) = try await Self.get(server, "/api/v1/query", [
                ("query", "sum by (job) (cpu_seconds_total)"), ("time", "\(Double(Self.end) / 1000)"),
            ])
            #expect(status == 200)
            let data = try #require(body["data"] as? [String: Any])
            #expect(data["resultType"] as? String == "vector")
            let result = try #require(data["result"] as? [[String: Any]])
            #expect(result.count == 1)
            #expect((result.first?["metric"] as? [String: String]) == ["job": "node"])
            let value = try #require(result.first?["value"] as? [Any])
            #expect(value.last as? String == "240", "40 steps × (1 + 2 + 3)")
            #expect((value.first as? Double) == Double(Self.end) / 1000)
        }
    }

    @Test("range query: matrix of rates")
    func range() async throws {
        try await TestServer.with { server in
            try await Self.load(server)
            let (status, body) = try await Self.get(server, "/api/v1/query_range", [
                ("query", #"rate(cpu_seconds_total{cpu="1"}[1m])"#), ("start", "\(Double(Self.end - 120_000) / 1000)"),
                ("end", "\(Double(Self.end) / 1000)"), ("step", "60s"),
            ])
            #expect(status == 200)
            let data = try #require(body["data"] as? [String: Any])
            #expect(data["resultType"] as? String == "matrix")
            let result = try #require(data["result"] as? [[String: Any]])
            let values = try #require(result.first?["values"] as? [[Any]])
            #expect(values.count == 3)
            // cpu 1 grows by 2 every 15 s: 2/15 per second.
            for value in values { #expect(abs(Double(value[1] as! String)! - 2.0 / 15.0) < 1e-9) }
        }
    }

    @Test("scalars, format_query and errors")
    func misc() async throws {
        try await TestServer.with { server in
            let (status, scalar) = try await Self.get(server, "/api/v1/query", [("query", "1 + 2"), ("time", "100")])
            #expect(status == 200)
            let data = try #require(scalar["data"] as? [String: Any])
            #expect(data["resultType"] as? String == "scalar")
            #expect((data["result"] as? [Any])?.last as? String == "3")

            let (formatStatus, formatted) = try await Self.get(server, "/api/v1/format_query", [("query", "sum(rate(foo{bar=\"baz\"}[5m]))by(job)")])
            #expect(formatStatus == 200)
            #expect(formatted["data"] as? String == #"sum by (job) (rate(foo{bar="baz"}[5m]))"#)

            let (parseStatus, parseError) = try await Self.get(server, "/api/v1/query", [("query", "sum(rate(foo[5m])")])
            #expect(parseStatus == 400)
            #expect(parseError["errorType"] as? String == "bad_data")
            #expect((parseError["error"] as? String)?.contains("parse error") == true)

            let (stepStatus, _) = try await Self.get(server, "/api/v1/query_range", [("query", "up"), ("start", "0"), ("end", "10"), ("step", "0")])
            #expect(stepStatus == 400)
            let (missingStatus, _) = try await Self.get(server, "/api/v1/query", [])
            #expect(missingStatus == 400)
        }
    }
}

@Suite("OTLP metrics queried with PromQL")
struct OTLPMetricsPromQLTests {
    @Test("a cumulative sum and a histogram sent over OTLP answer PromQL by their Prometheus names")
    func otlpToPromQL() async throws {
        let now = UInt64(Date().timeIntervalSince1970) * 1_000_000_000 - 60_000_000_000
        let resource = Resource(attributes: [KeyValue("service.name", .string("checkout")), KeyValue("service.instance.id", .string("pod-1")), KeyValue("host.name", .string("node-7"))])
        let cpu = Metric(name: "system.cpu.time", unit: "s", data: .sum(Sum(
            dataPoints: [NumberDataPoint(attributes: [KeyValue("state", .string("user"))], startTimeUnixNano: now - 1_000_000_000, timeUnixNano: now, value: .double(12.5))],
            aggregationTemporality: .cumulative, isMonotonic: true)))
        let latency = Metric(name: "http.server.duration", unit: "ms", data: .histogram(Histogram(
            dataPoints: [HistogramDataPoint(timeUnixNano: now, count: 6, sum: 300, bucketCounts: [1, 2, 3], explicitBounds: [10, 100])],
            aggregationTemporality: .cumulative)))
        let data = MetricsData(resourceMetrics: [ResourceMetrics(resource: resource, scopeMetrics: [ScopeMetrics(metrics: [cpu, latency])])])
        try await TestServer.with { server in
            let reply = try await server.request(
                "POST", server.otlpHTTPBase + "/v1/metrics", body: OTLPProtobuf.encodeMetrics(data), headers: ["Content-Type": "application/x-protobuf"])
            #expect(reply.status == 200)
            let at = "\(Double(now / 1_000_000) / 1000)"
            let (_, sum) = try await PrometheusQueryAPITests.get(server, "/api/v1/query", [("query", "system_cpu_time_seconds_total"), ("time", at)])
            let result = try #require(((sum["data"] as? [String: Any])?["result"] as? [[String: Any]])?.first)
            let labels = try #require(result["metric"] as? [String: String])
            #expect(labels["__name__"] == "system_cpu_time_seconds_total" && labels["job"] == "checkout" && labels["instance"] == "pod-1" && labels["state"] == "user")
            #expect((result["value"] as? [Any])?.last as? String == "12.5")
            let (_, buckets) = try await PrometheusQueryAPITests.get(server, "/api/v1/query", [
                ("query", "sum by (le) (http_server_duration_milliseconds_bucket)"), ("time", at),
            ])
            let values = ((buckets["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []).reduce(into: [String: String]()) { result, sample in
                result[(sample["metric"] as? [String: String])?["le"] ?? ""] = (sample["value"] as? [Any])?.last as? String
            }
            #expect(values == ["10": "1", "100": "3", "+Inf": "6"])
            let (_, info) = try await PrometheusQueryAPITests.get(server, "/api/v1/query", [("query", "target_info"), ("time", at)])
            let targetInfo = ((info["data"] as? [String: Any])?["result"] as? [[String: Any]])?.first?["metric"] as? [String: String]
            #expect(targetInfo?["host_name"] == "node-7" && targetInfo?["job"] == "checkout")
        }
    }
}
