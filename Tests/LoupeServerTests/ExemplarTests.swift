import Foundation
import LoupeModel
import LoupeStorage
import LoupeWire
import Testing

@Suite("Exemplars: storage and /api/v1/query_exemplars")
struct ExemplarTests {
    @Test("exemplars sent by remote write come back for the selectors of a query, in Prometheus's shape")
    func queryExemplars() async throws {
        try await TestServer.with { server in
            let start = RemoteWriteIngestTests.now
            var request = RemoteWriteIngestTests.request(start: start)
            request.series[0].exemplars = [
                PrometheusExemplar(labels: Labels([Label("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")]), value: 0.25, timestamp: start + 1_000),
                PrometheusExemplar(labels: Labels([Label("trace_id", "00f067aa0ba902b7")]), value: 6, timestamp: start + 16_000),
            ]
            request.series[3].exemplars = [PrometheusExemplar(labels: Labels([Label("span_id", "1")]), value: 1, timestamp: start)]
            #expect(try await RemoteWriteIngestTests.post(server, RemoteWriteV1.encode(request)).status == 204)
            // The same exemplars again with a newer sample: not stored twice.
            var again = RemoteWriteRequest(series: [request.series[0]])
            again.series[0].samples = [FloatSample(timestamp: start + 600_000, value: 1_000)]
            #expect(try await RemoteWriteIngestTests.post(server, RemoteWriteV1.encode(again)).status == 204)

            let seconds = Double(start) / 1000
            let query = "sum(rate(node_cpu_seconds_total%5B5m%5D))%20%2F%20up"
            let reply = try await server.request(
                "GET", server.httpBase + "/api/v1/query_exemplars?query=\(query)&start=\(seconds - 60)&end=\(seconds + 60)")
            #expect(reply.status == 200, "\(reply.text)")
            let body = try RemoteWriteIngestTests.json(reply)
            let data = try #require(body["data"] as? [[String: Any]])
            #expect(data.count == 2)
            let cpu = try #require(data.first { ($0["seriesLabels"] as? [String: String])?["cpu"] == "0" })
            let exemplars = try #require(cpu["exemplars"] as? [[String: Any]])
            #expect(exemplars.count == 2)
            #expect((exemplars[0]["labels"] as? [String: String]) == ["trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"])
            #expect(exemplars[0]["value"] as? String == "0.25")
            #expect((exemplars[0]["timestamp"] as? Double).map { abs($0 - (seconds + 1)) < 0.0005 } == true)
            #expect(exemplars[1]["value"] as? String == "6")

            // A window that holds only the first exemplar.
            let narrow = try RemoteWriteIngestTests.json(try await server.request(
                "GET", server.httpBase + "/api/v1/query_exemplars?query=node_cpu_seconds_total&start=\(seconds + 0.5)&end=\(seconds + 2)"))
            let narrowData = try #require(narrow["data"] as? [[String: Any]])
            #expect(narrowData.count == 1)
            #expect((narrowData.first?["exemplars"] as? [Any])?.count == 1)

            let bad = try await server.request("GET", server.httpBase + "/api/v1/query_exemplars?query=sum(")
            #expect(bad.status == 400)
        }
    }

    @Test("the store holds at most its capacity, dropping the oldest written first")
    func capacity() {
        let store = ExemplarStore(capacity: 3)
        let a = Labels([Label("__name__", "a")])
        let b = Labels([Label("__name__", "b")])
        func exemplar(_ t: Int64) -> PrometheusExemplar { PrometheusExemplar(labels: Labels([Label("id", "\(t)")]), value: Double(t), timestamp: t) }
        #expect(store.add([exemplar(1), exemplar(2)], series: a) == 2)
        #expect(store.add([exemplar(3), exemplar(4)], series: b) == 2)
        #expect(store.count == 3)
        let all = store.select([], minTime: .min, maxTime: .max)
        #expect(all.map { $0.exemplars.map(\.value) } == [[2], [3, 4]])
        #expect(store.add([exemplar(3)], series: b) == 0, "a duplicate is not stored again")
        #expect(store.add([PrometheusExemplar(labels: Labels(), value: 1, timestamp: nil)], series: a) == 0)
    }
}
