import Foundation
import LoupeModel
import LoupeWire
import Testing

/// The Loki push and query API over HTTP: shapes as Loki answers them, errors that say what and
/// where, and entries that survive a restart (replayed from the WAL).
@Suite struct LokiAPITests {
    static let base: Int64 = 1_767_225_600_000_000_000

    static func pushJSON(_ server: TestServer, _ body: String, tenant: String = "team-a", encoding: String? = nil) async throws -> TestServer.Reply {
        var headers = ["Content-Type": "application/json", "X-Scope-OrgID": tenant]
        var bytes = Array(body.utf8)
        if let encoding {
            headers["Content-Encoding"] = encoding
            bytes = Gzip.compress(bytes)
        }
        return try await server.request("POST", server.httpBase + "/loki/api/v1/push", body: bytes, headers: headers)
    }

    static func get(_ server: TestServer, _ path: String, tenant: String = "team-a") async throws -> (Int, Any?) {
        let reply = try await server.request("GET", server.httpBase + path, headers: ["X-Scope-OrgID": tenant])
        return (reply.status, try? JSONSerialization.jsonObject(with: Data(reply.body)))
    }

    static func encoded(_ text: String) -> String { PromQLWireTestBackend.formEncode(text) }

    static func jsonString(_ text: String) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: [text]), as: UTF8.self).dropFirst().dropLast().description
    }

    @Test func pushThenQueryStreamsLabelsSeriesAndStats() async throws {
        try await TestServer.with { server in
            let t0 = Self.base
            let push = try await Self.pushJSON(server, #"""
                {"streams":[
                  {"stream":{"app":"api","env":"prod"},"values":[["\#(t0 + 1_000_000_000)","GET /a 200"],["\#(t0 + 2_000_000_000)","GET /b 500",{"trace_id":"abc"}]]},
                  {"stream":{"app":"web","env":"prod"},"values":[["\#(t0 + 3_000_000_000)","level=error msg=boom"]]}]}
                """#, encoding: "gzip")
            #expect(push.status == 204, "\(push.text)")

            let range = "start=\(t0)&end=\(t0 + 10_000_000_000)"
            let (status, json) = try await Self.get(server, "/loki/api/v1/query_range?query=\(Self.encoded(#"{env="prod"} |= "GET""#))&\(range)&limit=10")
            #expect(status == 200)
            let data = (json as? [String: Any])?["data"] as? [String: Any]
            #expect(data?["resultType"] as? String == "streams")
            let result = data?["result"] as? [[String: Any]] ?? []
            // As Loki answers a client that does not ask for categorized labels: structured
            // metadata is part of the stream's labels, so the entry with a trace_id is its own stream.
            let streams = result.map { ($0["stream"] as? [String: String] ?? [:], ($0["values"] as? [[Any]] ?? []).map { $0[0] as? String ?? "" }) }
            #expect(streams.count == 2)
            #expect(streams.contains { $0.0 == ["app": "api", "env": "prod"] && $0.1 == ["\(t0 + 1_000_000_000)"] })
            #expect(streams.contains { $0.0 == ["app": "api", "env": "prod", "trace_id": "abc"] && $0.1 == ["\(t0 + 2_000_000_000)"] })

            let (_, metric) = try await Self.get(
                server, "/loki/api/v1/query?query=\(Self.encoded(#"sum by (app) (count_over_time({env="prod"}[1m]))"#))&time=\(t0 + 10_000_000_000)")
            let vector = ((metric as? [String: Any])?["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
            let counts = Dictionary(uniqueKeysWithValues: vector.map { (($0["metric"] as? [String: String])?["app"] ?? "", ($0["value"] as? [Any])?[1] as? String ?? "") })
            #expect(counts == ["api": "2", "web": "1"])

            let (_, labels) = try await Self.get(server, "/loki/api/v1/labels?\(range)")
            #expect((labels as? [String: Any])?["data"] as? [String] == ["app", "env"])
            let (_, values2) = try await Self.get(server, "/loki/api/v1/label/app/values?\(range)")
            #expect((values2 as? [String: Any])?["data"] as? [String] == ["api", "web"])
            let (_, series) = try await Self.get(server, "/loki/api/v1/series?match%5B%5D=\(Self.encoded(#"{app="web"}"#))&\(range)")
            #expect((series as? [String: Any])?["data"] as? [[String: String]] == [["app": "web", "env": "prod"]])
            let (_, stats) = try await Self.get(server, "/loki/api/v1/index/stats?query=\(Self.encoded(#"{env="prod"}"#))&\(range)")
            #expect((stats as? [String: Any])?["streams"] as? Int == 2)
            #expect((stats as? [String: Any])?["entries"] as? Int == 3)

            let (_, formatted) = try await Self.get(server, "/loki/api/v1/format_query?query=\(Self.encoded(#"sum by(app)(count_over_time({env="prod"}|="GET"[1m]))"#))")
            #expect((formatted as? [String: Any])?["data"] as? String == #"sum by (app) (count_over_time({env="prod"} |= "GET" [1m]))"#)

            // Tenants are apart.
            let (_, other) = try await Self.get(server, "/loki/api/v1/labels?\(range)", tenant: "team-b")
            #expect((other as? [String: Any])?["data"] as? [String] == [])
        }
    }

    @Test func badRequestsSayWhatAndWhere() async throws {
        try await TestServer.with { server in
            let badJSON = try await Self.pushJSON(server, #"{"streams":[{"stream":{"app":"x"},"values":[[1767225600,"x"]]}]}"#)
            #expect(badJSON.status == 400)
            #expect(badJSON.text.contains("streams[0].values[0][0]"), "\(badJSON.text)")
            let badSnappy = try await server.request(
                "POST", server.httpBase + "/loki/api/v1/push", body: [0xFF, 0xFF, 0xFF], headers: ["Content-Type": "application/x-protobuf"])
            #expect(badSnappy.status == 400)
            #expect(badSnappy.text.contains("snappy"), "\(badSnappy.text)")
            let badProtobuf = try await server.request(
                "POST", server.httpBase + "/loki/api/v1/push", body: Snappy.compress([0x0A, 0x05, 0x0A, 0x01]), headers: ["Content-Type": "application/x-protobuf"])
            #expect(badProtobuf.status == 400)
            #expect(badProtobuf.text.contains("PushRequest"), "\(badProtobuf.text)")
            let noLabels = try await Self.pushJSON(server, #"{"streams":[{"stream":{},"values":[["1","x"]]}]}"#)
            #expect(noLabels.status == 400)
            let wrongType = try await server.request("POST", server.httpBase + "/loki/api/v1/push", body: [1], headers: ["Content-Type": "text/plain"])
            #expect(wrongType.status == 415)
            let badQuery = try await server.request("GET", server.httpBase + "/loki/api/v1/query_range?query=\(Self.encoded(#"{app="x"} |~ "(""#))")
            #expect(badQuery.status == 400)
            #expect(badQuery.text.contains("error parsing regexp"), "\(badQuery.text)")
        }
    }

    @Test func pushedEntriesSurviveARestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-loki-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let t0 = Self.base
        let streams = [LogStream(labels: ["app": "api"], entries: (0..<50).map { LogEntry(timestamp: t0 + Int64($0) * 1_000_000, line: "entry \($0)") })]
        try await TestServer.with(dataDirectory: directory) { server in
            let reply = try await server.request(
                "POST", server.httpBase + "/loki/api/v1/push", body: Snappy.compress(LokiPush.encodeProtobuf(streams)),
                headers: ["Content-Type": "application/x-protobuf"])
            #expect(reply.status == 204)
        }
        try await TestServer.with(dataDirectory: directory) { server in
            let (_, json) = try await Self.get(
                server, "/loki/api/v1/query_range?query=\(Self.encoded(#"{app="api"}"#))&start=\(t0)&end=\(t0 + 1_000_000_000)&limit=1000&direction=forward",
                tenant: "default")
            let result = ((json as? [String: Any])?["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
            let lines = (result.first?["values"] as? [[Any]] ?? []).map { $0[1] as? String ?? "" }
            #expect(lines == (0..<50).map { "entry \($0)" })
        }
    }
}
