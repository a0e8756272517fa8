import Foundation
import LoupeModel
import LoupeWire
import Testing

@Suite("Prometheus status, metadata and admin API")
struct PrometheusStatusAPITests {
    @Test("buildinfo, runtimeinfo and flags answer in Prometheus's shapes")
    func status() async throws {
        try await TestServer.with { server in
            let build = try RemoteWriteIngestTests.json(try await server.request("GET", server.httpBase + "/api/v1/status/buildinfo"))
            #expect((build["data"] as? [String: String])?["version"] == "3.0.0")
            #expect((build["data"] as? [String: String])?["revision"]?.hasPrefix("loupe-") == true)
            let runtime = try RemoteWriteIngestTests.json(try await server.request("GET", server.httpBase + "/api/v1/status/runtimeinfo"))
            #expect((runtime["data"] as? [String: Any])?["storageRetention"] as? String == "0s")
            let flags = try RemoteWriteIngestTests.json(try await server.request("GET", server.httpBase + "/api/v1/status/flags"))
            #expect((flags["data"] as? [String: String])?["query.lookback-delta"] == "5m")
            #expect((flags["data"] as? [String: String])?["loupe.wal.fsync"] == "group")
            let targets = try RemoteWriteIngestTests.json(try await server.request("GET", server.httpBase + "/api/v1/targets"))
            #expect(((targets["data"] as? [String: Any])?["activeTargets"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("tsdb cardinality, metadata from remote write, and delete_series")
    func cardinalityMetadataDelete() async throws {
        try await TestServer.with { server in
            var request = RemoteWriteIngestTests.request()
            request.metadata = ["node_cpu_seconds_total": MetricMetadata(type: .counter, help: "Seconds the CPUs spent in each mode.", unit: "seconds")]
            #expect(try await RemoteWriteIngestTests.post(server, RemoteWriteV1.encode(request)).status == 204)

            let tsdb = try RemoteWriteIngestTests.json(try await server.request("GET", server.httpBase + "/api/v1/status/tsdb"))
            let data = try #require(tsdb["data"] as? [String: Any])
            #expect((data["headStats"] as? [String: Any])?["numSeries"] as? Int == 4)
            let byName = try #require(data["seriesCountByMetricName"] as? [[String: Any]])
            #expect(byName.first?["name"] as? String == "node_cpu_seconds_total" && byName.first?["value"] as? Int == 3)

            let metadata = try RemoteWriteIngestTests.json(try await server.request("GET", server.httpBase + "/api/v1/metadata"))
            let family = try #require((metadata["data"] as? [String: [[String: String]]])?["node_cpu_seconds_total"]?.first)
            #expect(family == ["type": "counter", "help": "Seconds the CPUs spent in each mode.", "unit": "seconds"])

            let deleted = try await server.request(
                "POST", server.httpBase + "/api/v1/admin/tsdb/delete_series?match%5B%5D=%7Bcpu%3D%221%22%7D")
            #expect(deleted.status == 204)
            let series = try RemoteWriteIngestTests.json(try await server.request("GET", server.httpBase + "/api/v1/series?match%5B%5D=node_cpu_seconds_total"))
            #expect((series["data"] as? [[String: String]])?.map { $0["cpu"] } == ["0", "2"])
            let backwards = try await server.request(
                "POST", server.httpBase + "/api/v1/admin/tsdb/delete_series?match%5B%5D=up&start=10&end=0")
            #expect(backwards.status == 400)
            // A range covering every sample of cpu="0": the series has nothing left and goes.
            let ranged = try await server.request(
                "POST", server.httpBase + "/api/v1/admin/tsdb/delete_series?match%5B%5D=%7Bcpu%3D%220%22%7D&start=0&end=9999999999")
            #expect(ranged.status == 204)
            let remaining = try RemoteWriteIngestTests.json(try await server.request("GET", server.httpBase + "/api/v1/series?match%5B%5D=node_cpu_seconds_total"))
            #expect((remaining["data"] as? [[String: String]])?.map { $0["cpu"] } == ["2"])
        }
    }
}
