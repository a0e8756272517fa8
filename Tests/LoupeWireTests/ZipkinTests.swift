import Foundation
import LoupeModel
import Testing

@testable import LoupeWire

/// Zipkin v2 JSON and protobuf in, OTLP in between, Zipkin JSON out: what a Zipkin client sent
/// reads back unchanged (the fixtures of real systems in ../shared/conformance/zipkin, when present).
@Suite struct ZipkinTests {
    static let sample = #"""
        [{"traceId":"5af7183fb1d4cf5f4a1b2c3d4e5f6071","parentId":"6b221d5bc9e6496c","id":"352bff9a74ca9ad2","kind":"CLIENT",
          "name":"get /api","timestamp":1556604172355737,"duration":1431,
          "localEndpoint":{"serviceName":"frontend","ipv4":"192.168.99.1","port":8080},
          "remoteEndpoint":{"serviceName":"backend","ipv6":"2001:db8::c001","port":9000},
          "annotations":[{"timestamp":1556604172355800,"value":"ws"}],
          "tags":{"http.method":"GET","http.path":"/api","error":"timeout"},"debug":true},
         {"traceId":"4a1b2c3d4e5f6071","id":"0000000000000001","shared":true,"name":"","localEndpoint":{"serviceName":"backend"}}]
        """#

    static var conformanceDirectory: URL? {
        let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = root.appendingPathComponent("shared/conformance/zipkin")
        return FileManager.default.fileExists(atPath: directory.path) ? directory : nil
    }

    /// JSON -> spans -> OTLP -> spans -> JSON -> spans: equal at each end.
    static func roundTrip(_ bytes: [UInt8]) throws -> (sent: [ZipkinSpan], back: [ZipkinSpan]) {
        let sent = try ZipkinJSON.decode(bytes)
        let otlp = ZipkinMapping.traceData(sent)
        // Through the OTLP wire format too, as the WAL and the store keep it.
        let stored = try OTLPProtobuf.decodeTraces(OTLPProtobuf.encodeTraces(otlp))
        let back = try ZipkinJSON.decode(ZipkinJSON.encode(ZipkinMapping.zipkinSpans(stored)))
        return (sent, back)
    }

    @Test func sampleMapsToOTLPAndBack() throws {
        let (sent, back) = try Self.roundTrip(Array(Self.sample.utf8))
        // The empty name is not kept (Zipkin writes no name then).
        var expected = sent
        expected[1].name = nil
        #expect(back.sorted { $0.id < $1.id } == expected.sorted { $0.id < $1.id })

        let otlp = ZipkinMapping.traceData(sent)
        #expect(otlp.resourceSpans.count == 2, "one resource per local endpoint")
        let span = otlp.resourceSpans[0].scopeSpans[0].spans[0]
        #expect(otlp.resourceSpans[0].resource.serviceNameForTest == "frontend")
        #expect(span.kind == .client && span.status == SpanStatus(message: "timeout", code: .error))
        #expect(span.startTimeUnixNano == 1_556_604_172_355_737_000 && span.durationNanos == 1_431_000)
        #expect(span.attributes.contains(KeyValue(key: "peer.service", value: .string("backend"))))
        #expect(span.events == [SpanEvent(timeUnixNano: 1_556_604_172_355_800_000, name: "ws")])
        // A 64-bit trace ID is the low half of the 128-bit one, and comes back as 16 digits.
        #expect(sent[1].traceID == TraceID(high: 0, low: 0x4a1b_2c3d_4e5f_6071))
        #expect(String(decoding: ZipkinJSON.encode([sent[1]]), as: UTF8.self).contains(#""traceId":"4a1b2c3d4e5f6071""#))
    }

    @Test func fixturesOfRealSystemsReadBackAsSent() throws {
        guard let directory = Self.conformanceDirectory else { return }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files.count >= 4)
        for file in files {
            let (sent, back) = try Self.roundTrip(Array(try Data(contentsOf: directory.appendingPathComponent(file))))
            #expect(!sent.isEmpty, "\(file)")
            // Spans come back grouped by local endpoint; a shared span's client and server halves share an ID.
            func ordered(_ spans: [ZipkinSpan]) -> [ZipkinSpan] {
                spans.sorted { ($0.id, $0.kind?.rawValue ?? "", $0.localEndpoint?.serviceName ?? "") < ($1.id, $1.kind?.rawValue ?? "", $1.localEndpoint?.serviceName ?? "") }
            }
            #expect(ordered(back) == ordered(sent), "\(file)")
        }
    }

    @Test func openTelemetryStatusAndScopeBecomeTags() throws {
        let data = TraceData(resourceSpans: [ResourceSpans(
            resource: Resource(attributes: [KeyValue(key: "service.name", value: .string("api")), KeyValue(key: "k8s.pod.name", value: .string("api-1"))]),
            scopeSpans: [ScopeSpans(scope: InstrumentationScope(name: "io.opentelemetry.http", version: "1.2"), spans: [
                Span(traceID: TraceID(high: 1, low: 2), spanID: SpanID(value: 3), name: "GET", kind: .internal, startTimeUnixNano: 5_000,
                     endTimeUnixNano: 5_500, attributes: [KeyValue(key: "retries", value: .int(2))], status: SpanStatus(message: "boom", code: .error)),
            ])])])
        let span = try #require(ZipkinMapping.zipkinSpans(data).first)
        #expect(span.kind == nil && span.localEndpoint == ZipkinEndpoint(serviceName: "api"))
        #expect(span.timestamp == 5 && span.duration == 1, "at least one microsecond")
        let tags = Dictionary(uniqueKeysWithValues: span.tags.map { ($0.key, $0.value) })
        #expect(tags == ["k8s.pod.name": "api-1", "otel.scope.name": "io.opentelemetry.http", "otel.scope.version": "1.2",
                         "retries": "2", "otel.status_code": "ERROR", "error": "boom"])
    }

    @Test func protobufListOfSpans() throws {
        // ListOfSpans { Span { trace_id(16), id(8), kind SERVER, name, timestamp, duration, local_endpoint { service_name, ipv4, ipv6 }, tags, shared } }
        var writer = ProtobufWriter(capacity: 256)
        let spanMark = writer.count
        writer.prependBoolField(13, true)
        let tagMark = writer.count
        writer.prependStringField(2, "200")
        writer.prependStringField(1, "http.status_code")
        writer.prependLengthAndTag(field: 11, since: tagMark)
        let endpointMark = writer.count
        var ipv6 = [UInt8](repeating: 0, count: 16)
        ipv6[0] = 0x20; ipv6[1] = 0x01; ipv6[2] = 0x0d; ipv6[3] = 0xb8; ipv6[15] = 1
        ipv6.withUnsafeBytes { writer.prependBytesField(3, $0) }
        ([10, 0, 0, 7] as [UInt8]).withUnsafeBytes { writer.prependBytesField(2, $0) }
        writer.prependStringField(1, "backend")
        writer.prependLengthAndTag(field: 8, since: endpointMark)
        writer.prependVarintField(7, 250)
        writer.prependFixed64Field(6, 1_556_604_172_355_737)
        writer.prependStringField(5, "post")
        writer.prependVarintField(4, 2)
        SpanID(value: 0xabc).bytes.withUnsafeBytes { writer.prependBytesField(3, $0) }
        TraceID(high: 7, low: 8).bytes.withUnsafeBytes { writer.prependBytesField(1, $0) }
        writer.prependLengthAndTag(field: 1, since: spanMark)
        let bytes = writer.finish()

        let spans = try ZipkinProtobuf.decode(bytes)
        var expected = ZipkinSpan(traceID: TraceID(high: 7, low: 8), id: SpanID(value: 0xabc))
        expected.kind = .server
        expected.name = "post"
        expected.timestamp = 1_556_604_172_355_737
        expected.duration = 250
        expected.localEndpoint = ZipkinEndpoint(serviceName: "backend", ipv4: "10.0.0.7", ipv6: "2001:db8::1")
        expected.tags = [("http.status_code", "200")]
        expected.shared = true
        #expect(spans == [expected])
        for end in 0..<bytes.count { _ = try? ZipkinProtobuf.decode(Array(bytes[0..<end])) }
    }

    @Test(arguments: [
        (#"[{"id":"0000000000000001"}]"#, "needs a traceId"),
        (#"[{"traceId":"xyz","id":"1"}]"#, "[0].traceId"),
        (#"[{"traceId":"1","id":"00000000000000001"}]"#, "[0].id"),
        (#"[{"traceId":"1","id":"1","kind":"SIDEWAYS"}]"#, "[0].kind"),
        (#"[{"traceId":"1","id":"1","timestamp":-5}]"#, "[0].timestamp"),
        (#"[{"traceId":"1","id":"1","annotations":[{"value":"x"}]}]"#, "[0].annotations[0]"),
        (#"{"traceId":"1"}"#, "array"),
    ])
    func badJSONSaysWhatAndWhere(body: String, expected: String) {
        do {
            let spans = try ZipkinJSON.decode(Array(body.utf8))
            Issue.record("decoded \(spans)")
        } catch {
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }

    @Test func randomAndTruncatedInputNeverCrashes() {
        let json = Array(Self.sample.utf8)
        for end in 0...json.count { _ = try? ZipkinJSON.decode(Array(json[0..<end])) }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            var mutated = json
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            _ = try? ZipkinJSON.decode(mutated)
            let random = (0..<Int.random(in: 0..<64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? ZipkinJSON.decode(random)
            _ = try? ZipkinProtobuf.decode(random)
        }
    }
}

extension Resource {
    var serviceNameForTest: String? {
        attributes.first { $0.key == "service.name" }.flatMap { if case .string(let name) = $0.value { name } else { nil } }
    }
}
