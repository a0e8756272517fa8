import Foundation
import LoupeModel
import Testing

@testable import LoupeWire

/// OTLP as the Jaeger query service answers it: the pinned example pair
/// (../shared/specs/jaeger/otlp2jaeger-in.json -> -out.json) and the mapping's other rules.
@Suite struct JaegerJSONTests {
    static var specDirectory: URL? {
        let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = root.appendingPathComponent("shared/specs/jaeger")
        return FileManager.default.fileExists(atPath: directory.appendingPathComponent("otlp2jaeger-in.json").path) ? directory : nil
    }

    static func object(_ bytes: [UInt8]) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? NSDictionary)
    }

    @Test func thePinnedExampleMapsAsJaegerMapsIt() throws {
        guard let directory = Self.specDirectory else { return }
        let input = try OTLPJSON.decodeTraces(Array(try Data(contentsOf: directory.appendingPathComponent("otlp2jaeger-in.json"))))
        let expected = try Self.object(Array(try Data(contentsOf: directory.appendingPathComponent("otlp2jaeger-out.json"))))
        #expect(try Self.object(JaegerJSON.encodeTraces([input])) == expected)
    }

    @Test func statusEventsLinksAndProcesses() throws {
        let trace = TraceData(resourceSpans: [
            ResourceSpans(
                resource: Resource(attributes: [KeyValue(key: "service.name", value: .string("api")), KeyValue(key: "host.name", value: .string("h1"))]),
                scopeSpans: [ScopeSpans(spans: [
                    Span(traceID: TraceID(high: 0, low: 0xab), spanID: SpanID(value: 1), name: "GET", kind: .client,
                         startTimeUnixNano: 2_000_000, endTimeUnixNano: 5_000_000,
                         attributes: [KeyValue(key: "retries", value: .int(3)), KeyValue(key: "ratio", value: .double(0.5)), KeyValue(key: "raw", value: .bytes([1, 2]))],
                         events: [SpanEvent(timeUnixNano: 3_000_000, name: "retry", attributes: [KeyValue(key: "attempt", value: .int(2))])],
                         links: [SpanLink(traceID: TraceID(high: 1, low: 2), spanID: SpanID(value: 7))],
                         status: SpanStatus(message: "timeout", code: .error)),
                ])]),
        ])
        let document = try Self.object(JaegerJSON.encodeTraces([trace]))
        let data = try #require(document["data"] as? [NSDictionary])
        #expect(data[0]["traceID"] as? String == "00000000000000ab", "a 64-bit trace ID is written in 16 digits")
        let span = try #require((data[0]["spans"] as? [NSDictionary])?.first)
        #expect(span["startTime"] as? Int == 2_000 && span["duration"] as? Int == 3_000)
        let tags = try #require(span["tags"] as? [NSDictionary]).map { "\($0["key"]!)=\($0["type"]!):\($0["value"]!)" }
        #expect(tags == ["retries=int64:3", "ratio=float64:0.5", "raw=binary:AQI=", "span.kind=string:client", "otel.status_code=string:ERROR",
                         "error=bool:true", "otel.status_description=string:timeout"])
        let references = try #require(span["references"] as? [NSDictionary])
        #expect(references.map { $0["refType"] as? String } == ["FOLLOWS_FROM"])
        let log = try #require((span["logs"] as? [NSDictionary])?.first)
        #expect(log["timestamp"] as? Int == 3_000)
        #expect((log["fields"] as? [NSDictionary])?.map { $0["key"] as? String } == ["event", "attempt"])
        let process = try #require((data[0]["processes"] as? NSDictionary)?["p1"] as? NSDictionary)
        #expect(process["serviceName"] as? String == "api")
        #expect((process["tags"] as? [NSDictionary])?.map { $0["key"] as? String } == ["host.name"])
    }
}
