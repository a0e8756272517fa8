import LoupeModel
import Testing

@testable import LoupeWire

@Suite struct LokiPushTests {
    static let streams = [
        LogStream(
            labels: ["app": "api", "env": "prod"],
            entries: [
                LogEntry(timestamp: 1_767_225_600_123_456_789, line: "level=info msg=\"started\""),
                LogEntry(timestamp: 1_767_225_601_000_000_000, line: "{\"level\":\"error\"}", metadata: Labels(presorted: [Label("trace_id", "abc"), Label("user", "")])),
            ]),
        LogStream(labels: ["app": "web", "path": "a \"quoted\" \\ value"], entries: [LogEntry(timestamp: 5, line: "")]),
    ]

    @Test func protobufRoundTrip() throws {
        let encoded = LokiPush.encodeProtobuf(Self.streams)
        #expect(try LokiPush.decodeProtobuf(encoded) == Self.streams)
    }

    @Test func jsonWithMetadata() throws {
        let body = #"""
            {"streams":[{"stream":{"app":"api","env":"prod"},"values":[
              ["1767225600123456789","level=info msg=\"started\""],
              ["1767225601000000000","{\"level\":\"error\"}",{"trace_id":"abc","user":""}]]},
             {"stream":{"app":"web","path":"a \"quoted\" \\ value"},"values":[["5",""]]}]}
            """#
        #expect(try LokiPush.decodeJSON(Array(body.utf8)) == Self.streams)
    }

    @Test func legacyJSONShape() throws {
        let body = #"""
            {"streams":[{"labels":"{app=\"api\", env=\"prod\"}","entries":[
              {"ts":"2026-01-01T00:00:00.123456789Z","line":"level=info msg=\"started\""},
              {"timestamp":"2026-01-01T01:00:01+01:00","line":"{\"level\":\"error\"}"}]}]}
            """#
        let expected = [LogStream(labels: ["app": "api", "env": "prod"], entries: [
            LogEntry(timestamp: 1_767_225_600_123_456_789, line: "level=info msg=\"started\""),
            LogEntry(timestamp: 1_767_225_601_000_000_000, line: "{\"level\":\"error\"}"),
        ])]
        #expect(try LokiPush.decodeJSON(Array(body.utf8)) == expected)
    }

    @Test func labelsTextParsesGoQuotedValues() throws {
        #expect(try LokiLabelsText.parse(#"{app="api", msg="a \"b\"\n", empty=""}"#) == ["app": "api", "msg": "a \"b\"\n"])
        #expect(try LokiLabelsText.parse(Self.streams[1].labels.lokiText) == Self.streams[1].labels)
    }

    @Test(arguments: [
        (#"{"streams":[{"stream":{"a":"b"},"values":[[1767225600,"x"]]}]}"#, "streams[0].values[0][0]"),
        (#"{"streams":[{"stream":{"a":"b"},"values":[["abc","x"]]}]}"#, "whole number of nanoseconds"),
        (#"{"streams":[{"stream":{"a":1},"values":[]}]}"#, "streams[0].stream.a"),
        (#"{"streams":[{"stream":{"a":"b"},"values":[["1"]]}]}"#, "needs a line"),
        (#"{"streams":[{"stream":{"a":"b"},"values":[["1","x",{},4]]}]}"#, "at most"),
        (#"{"streams":[{"stream":{"a":"b""#, "truncated"),
        (#"{"streams":[{"values":[["1","x"]]}]}"#, "at least one label"),
        (#"{"streams":[{"labels":"{a=\"b\"}","entries":[{"ts":"yesterday","line":"x"}]}]}"#, "streams[0].entries[0].ts"),
        (#"{"streams":[{"labels":"{a=\"b\"}","entries":[{"ts":"2026-01-01T00:00:00Z"}]}]}"#, "needs a \"line\""),
        (#"{"streams":[{"labels":"{a=}","entries":[]}]}"#, "streams[0].labels"),
    ])
    func badJSONSaysWhatAndWhere(body: String, expected: String) {
        do {
            let decoded = try LokiPush.decodeJSON(Array(body.utf8))
            Issue.record("decoded \(decoded)")
        } catch {
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }

    @Test func badLabelsTextSaysWhere() {
        var writer = ProtobufWriter(capacity: 64)
        let mark = writer.count
        writer.prependStringField(1, #"{app="api", app="web"}"#)
        writer.prependLengthAndTag(field: 1, since: mark)
        do {
            _ = try LokiPush.decodeProtobuf(writer.finish())
            Issue.record("decoded")
        } catch {
            #expect(error.path == "streams[0].labels")
            #expect(error.message.contains("duplicate label name app"))
        }
    }

    @Test func randomAndTruncatedInputNeverCrashes() {
        let protobuf = LokiPush.encodeProtobuf(Self.streams)
        for end in 0...protobuf.count { _ = try? LokiPush.decodeProtobuf(Array(protobuf[0..<end])) }
        let json = Array(#"{"streams":[{"stream":{"app":"api"},"values":[["1","a",{"k":"v"}],["2","b"]]},{"labels":"{a=\"b\"}","entries":[{"ts":"2026-01-01T00:00:00Z","line":"x"}]}]}"#.utf8)
        for end in 0...json.count { _ = try? LokiPush.decodeJSON(Array(json[0..<end])) }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            var mutated = Bool.random(using: &generator) ? protobuf : json
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            _ = try? LokiPush.decodeProtobuf(mutated)
            _ = try? LokiPush.decodeJSON(mutated)
            let random = (0..<Int.random(in: 0..<64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? LokiPush.decodeProtobuf(random)
            _ = try? LokiPush.decodeJSON(random)
        }
    }
}
