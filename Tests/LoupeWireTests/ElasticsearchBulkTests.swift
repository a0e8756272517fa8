import Testing

@testable import LoupeWire

@Suite struct ElasticsearchBulkTests {
    @Test func actionsSourcesAndFlattenedFields() throws {
        let body = """
            {"index":{"_index":"logs","_id":"a1"}}
            {"@timestamp":"2026-01-01T00:00:00Z","message":"hi","kubernetes":{"pod_name":"p","labels":{"app":"x"}},"n":1.5,"ok":true,"tags":["a","b"],"none":null}
            {"create":{}}\r
            {"log":"second"}

            {"delete":{"_index":"logs","_id":7}}
            """
        let items = try ElasticsearchBulk.decode(Array((body + "\n").utf8), defaultIndex: "fallback")
        #expect(items.map(\.action) == [.index, .create, .delete])
        #expect(items.map(\.index) == ["logs", "fallback", "logs"])
        #expect(items.map(\.id) == ["a1", nil, "7"])
        #expect(items[0].fields.map(\.path) == ["@timestamp", "message", "kubernetes.pod_name", "kubernetes.labels.app", "n", "ok", "tags"])
        #expect(items[0].fields.map(\.value) == ["2026-01-01T00:00:00Z", "hi", "p", "x", "1.5", "true", #"["a","b"]"#])
        #expect(items[1].source == #"{"log":"second"}"#)
        #expect(items[2].source == nil)
    }

    @Test func aBadSourceFailsItsItemOnlyAndABadActionTheRequest() throws {
        let items = try ElasticsearchBulk.decode(Array("{\"index\":{\"_index\":\"a\"}}\n[1,2]\n{\"index\":{\"_index\":\"a\"}}\n{\"ok\":1}\n".utf8))
        #expect(items.count == 2)
        #expect(items[0].error != nil)
        #expect(items[1].error == nil)
        for bad in ["{\"index\":{}}\n{}\n", "{\"upsert\":{\"_index\":\"a\"}}\n{}\n", "{\"index\":{\"_index\":\"a\"}}\n", "not json\n{}\n"] {
            #expect(throws: WireError.self, "\(bad)") { try ElasticsearchBulk.decode(Array(bad.utf8)) }
        }
    }

    @Test func randomAndTruncatedBodiesNeverCrash() {
        let body = Array("{\"index\":{\"_index\":\"logs\",\"_id\":\"1\"}}\n{\"message\":\"a \\\"b\\\"\",\"k\":{\"v\":[1,{\"x\":null}]}}\n{\"delete\":{\"_index\":\"l\",\"_id\":2}}\n".utf8)
        for end in 0...body.count { _ = try? ElasticsearchBulk.decode(Array(body[0..<end])) }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3_000 {
            var mutated = body
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            _ = try? ElasticsearchBulk.decode(mutated)
        }
    }
}
