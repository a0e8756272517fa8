import Foundation
import LoupeModel
import LoupeWire
import Testing

@Suite("Prometheus remote write and metadata API through a running server")
struct RemoteWriteIngestTests {
    static let now = Int64(Date().timeIntervalSince1970 * 1000)

    static func request(seriesCount: Int = 3, samplesPerSeries: Int = 5, start: Int64 = now) -> RemoteWriteRequest {
        var series: [TimeSeries] = []
        for index in 0..<seriesCount {
            series.append(TimeSeries(
                labels: Labels([Label("__name__", "node_cpu_seconds_total"), Label("cpu", "\(index)"), Label("mode", "idle"), Label("job", "node")]),
                samples: (0..<samplesPerSeries).map { FloatSample(timestamp: start + Int64($0) * 15_000, value: Double(index * 100 + $0)) }))
        }
        series.append(TimeSeries(labels: Labels([Label("__name__", "up"), Label("job", "node")]), samples: [FloatSample(timestamp: start, value: 1)]))
        return RemoteWriteRequest(series: series)
    }

    static func post(_ server: TestServer, _ body: [UInt8], version2: Bool = false, tenant: String? = nil) async throws -> TestServer.Reply {
        var headers = [
            "Content-Type": version2 ? "application/x-protobuf;proto=io.prometheus.write.v2.Request" : "application/x-protobuf",
            "Content-Encoding": "snappy", "X-Prometheus-Remote-Write-Version": version2 ? "2.0.0" : "0.1.0",
        ]
        if let tenant { headers["X-Scope-OrgID"] = tenant }
        return try await server.request("POST", server.httpBase + "/api/v1/write", body: Snappy.compress(body), headers: headers)
    }

    static func json(_ reply: TestServer.Reply) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any])
    }

    @Test("remote write 1.0: 204, then series, labels and label values answer like Prometheus")
    func version1() async throws {
        try await TestServer.with { server in
            let reply = try await Self.post(server, RemoteWriteV1.encode(Self.request()))
            #expect(reply.status == 204, "\(reply.text)")

            let series = try Self.json(try await server.request("GET", server.httpBase + "/api/v1/series?match%5B%5D=node_cpu_seconds_total%7Bcpu%3D~%220%7C2%22%7D"))
            #expect(series["status"] as? String == "success")
            let data = try #require(series["data"] as? [[String: String]])
            #expect(data.map { $0["cpu"] } == ["0", "2"])
            #expect(data.first?["__name__"] == "node_cpu_seconds_total")

            let labels = try Self.json(try await server.request("GET", server.httpBase + "/api/v1/labels"))
            #expect(labels["data"] as? [String] == ["__name__", "cpu", "job", "mode"])
            let values = try Self.json(try await server.request("GET", server.httpBase + "/api/v1/label/__name__/values"))
            #expect(values["data"] as? [String] == ["node_cpu_seconds_total", "up"])
            let form = try await server.request(
                "POST", server.httpBase + "/api/v1/series", body: Array("match[]=up".utf8),
                headers: ["Content-Type": "application/x-www-form-urlencoded"])
            #expect((try Self.json(form)["data"] as? [[String: String]])?.count == 1)

            let bad = try await server.request("GET", server.httpBase + "/api/v1/series?match%5B%5D=%7B")
            #expect(bad.status == 400)
            #expect(try Self.json(bad)["errorType"] as? String == "bad_data")
            let missing = try await server.request("GET", server.httpBase + "/api/v1/series")
            #expect(missing.status == 400)
        }
    }

    @Test("remote write 2.0: 204 with the written-count headers; tenants are isolated")
    func version2() async throws {
        try await TestServer.with { server in
            let reply = try await Self.post(server, RemoteWriteV2.encode(Self.request(seriesCount: 2, samplesPerSeries: 4)), version2: true, tenant: "team-a")
            #expect(reply.status == 204, "\(reply.text)")
            #expect(reply.headers["x-prometheus-remote-write-samples-written"] == "9")
            #expect(reply.headers["x-prometheus-remote-write-histograms-written"] == "0")
            let own = try Self.json(try await server.request("GET", server.httpBase + "/api/v1/label/cpu/values", headers: ["X-Scope-OrgID": "team-a"]))
            #expect(own["data"] as? [String] == ["0", "1"])
            let other = try Self.json(try await server.request("GET", server.httpBase + "/api/v1/label/cpu/values"))
            #expect(other["data"] as? [String] == [])
        }
    }

    @Test("malformed bodies, wrong encodings and out-of-order samples get clear client errors")
    func errors() async throws {
        try await TestServer.with { server in
            let notSnappy = try await server.request(
                "POST", server.httpBase + "/api/v1/write", body: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                headers: ["Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"])
            #expect(notSnappy.status == 400)
            #expect(notSnappy.text.contains("snappy"))

            let notProtobuf = try await Self.post(server, [0x0a, 0xff, 0x01])
            #expect(notProtobuf.status == 400)
            #expect(notProtobuf.text.contains("WriteRequest"))

            let gzip = try await server.request(
                "POST", server.httpBase + "/api/v1/write", body: [1], headers: ["Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"])
            #expect(gzip.status == 415)

            #expect(try await Self.post(server, RemoteWriteV1.encode(Self.request(samplesPerSeries: 1))).status == 204)
            // Repeating each series' newest sample is idempotent, as in Prometheus; an older sample is refused.
            #expect(try await Self.post(server, RemoteWriteV1.encode(Self.request(samplesPerSeries: 1))).status == 204)
            let older = RemoteWriteRequest(series: [TimeSeries(
                labels: Labels([Label("__name__", "up"), Label("job", "node")]), samples: [FloatSample(timestamp: Self.now - 60_000, value: 0)])])
            let refused = try await Self.post(server, RemoteWriteV1.encode(older))
            #expect(refused.status == 400)
            #expect(refused.text.contains("out of order"))
        }
    }

    @Test("remote-written series survive a restart (WAL replay)")
    func restart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-rw-restart-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await TestServer.with(dataDirectory: directory) { server in
            let reply = try await Self.post(server, RemoteWriteV1.encode(Self.request()), tenant: "keep")
            #expect(reply.status == 204)
        }
        try await TestServer.with(dataDirectory: directory) { server in
            let series = try Self.json(try await server.request(
                "GET", server.httpBase + "/api/v1/series?match%5B%5D=%7Bjob%3D%22node%22%7D", headers: ["X-Scope-OrgID": "keep"]))
            #expect((series["data"] as? [[String: String]])?.count == 4)
        }
    }

    @Test("the per-tenant active-series limit refuses new series with a clear 400")
    func seriesLimit() async throws {
        try await TestServer.with(configure: { $0.maximumSeriesPerTenant = 2 }) { server in
            let refused = try await Self.post(server, RemoteWriteV1.encode(Self.request(seriesCount: 3, samplesPerSeries: 1)))
            #expect(refused.status == 400)
            #expect(refused.text.contains("limit of 2 active series"), "\(refused.text)")
            let series = try Self.json(try await server.request("GET", server.httpBase + "/api/v1/series?match%5B%5D=%7Bjob%3D%22node%22%7D"))
            #expect((series["data"] as? [[String: String]])?.count == 2, "the first two series were written")
            let other = try await Self.post(server, RemoteWriteV1.encode(Self.request(seriesCount: 1, samplesPerSeries: 1)), tenant: "other")
            #expect(other.status == 204, "the limit is per tenant: another tenant's two series fit")
        }
    }
}
