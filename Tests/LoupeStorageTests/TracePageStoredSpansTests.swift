import LoupeModel
import LoupeWire
import Testing

@testable import LoupeStorage

/// Pages written straight from stored OTLP protobuf must be the very bytes the page codec writes
/// for the same spans decoded, whatever field order, repetition or unknown fields the protobuf has.
@Suite struct TracePageStoredSpansTests {
    /// The page of `request`'s spans through both paths: decoded spans, and located protobuf.
    static func bothPages(_ request: [UInt8]) throws -> (decoded: [UInt8], stored: [UInt8]) {
        let data = try OTLPProtobuf.decodeTraces(request)
        var origins = InternTable<SpanOrigin>()
        var byTrace: [TraceID: [(span: Span, origin: Int)]] = [:]
        for resourceSpans in data.resourceSpans {
            for scopeSpans in resourceSpans.scopeSpans {
                let origin = origins.index(of: SpanOrigin(
                    resource: resourceSpans.resource, resourceSchemaURL: resourceSpans.schemaURL, scope: scopeSpans.scope,
                    scopeSchemaURL: scopeSpans.schemaURL))
                for span in scopeSpans.spans { byTrace[span.traceID, default: []].append((span, origin)) }
            }
        }
        let decodedPage = TracePageCodec.encode(byTrace.keys.sorted().map { PageTrace(id: $0, spans: byTrace[$0]!) }, origins: nil).bytes

        let storedPage = try request.withUnsafeBytes { buffer in
            var located: [LocatedSpan] = []
            let locatedOrigins = try OTLPProtobuf.locateSpans(buffer, into: &located)
            var storedOrigins = InternTable<SpanOrigin>()
            let mapping = locatedOrigins.map {
                storedOrigins.index(of: SpanOrigin(
                    resource: $0.resource, resourceSchemaURL: $0.resourceSchemaURL, scope: $0.scope, scopeSchemaURL: $0.scopeSchemaURL))
            }
            #expect(storedOrigins.elements == origins.elements)
            for index in located.indices { located[index].origin = mapping[located[index].origin] }
            located.sort { ($0.traceID, $0.range.lowerBound) < ($1.traceID, $1.range.lowerBound) }
            var traces: [(id: TraceID, spans: ArraySlice<LocatedSpan>)] = []
            var first = 0
            while first < located.count {
                var next = first + 1
                while next < located.count && located[next].traceID == located[first].traceID { next += 1 }
                traces.append((located[first].traceID, located[first..<next]))
                first = next
            }
            return try TracePageCodec.encode(stored: traces, buffer: buffer).bytes
        }
        return (decodedPage, storedPage)
    }

    @Test func benchmarkSpansAndEveryFieldGiveTheSamePage() throws {
        var data = OTLPSampleData.makeBenchmarkTraces(spanCount: 600, attributesPerSpan: 20)
        data.resourceSpans[0].scopeSpans[0].spans.append(TraceBlockTests.unusualSpan())
        data.resourceSpans[1].scopeSpans.append(ScopeSpans(
            scope: InstrumentationScope(name: "second", version: "2"), spans: [TraceBlockTests.unusualSpan()], schemaURL: "https://s"))
        let pages = try Self.bothPages(OTLPProtobuf.encodeTraces(data))
        #expect(pages.stored == pages.decoded)
    }

    @Test func randomSpansGiveTheSamePage() throws {
        var generator = SplitMix64(seed: 42)
        let words = ["GET", "POST", "/api/v1/orders", "checkout", "a-much-longer-value-that-is-not-inline", "", "é"]
        func value(_ depth: Int) -> AnyValue {
            switch generator.next() % (depth > 1 ? 5 : 8) {
            case 0: .string(words[Int(generator.next() % UInt64(words.count))])
            case 1: .int(Int64(bitPattern: generator.next()) >> Int64(generator.next() % 64))
            case 2: .double(generator.next() % 2 == 0 ? Double(generator.next() % 10_000) / 100 : Double(bitPattern: generator.next()))
            case 3: .bool(generator.next() % 2 == 0)
            case 4: .empty
            case 5: .bytes((0..<Int(generator.next() % 5)).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
            case 6: .array([value(depth + 1), value(depth + 1)])
            default: .keyValueList([KeyValue("inner", value(depth + 1))])
            }
        }
        func attributes() -> [KeyValue] {
            (0..<Int(generator.next() % 6)).map { _ in KeyValue(words[Int(generator.next() % UInt64(words.count))] + "key", value(0)) }
        }
        for round in 0..<20 {
            var data = TraceData()
            for resource in 0..<3 {
                var resourceSpans = ResourceSpans(resource: Resource(attributes: [KeyValue("service.name", .string("s\(resource % 2)"))]))
                for scope in 0..<2 {
                    var spans: [Span] = []
                    for index in 0..<Int(generator.next() % 30) {
                        let trace = TraceID(high: generator.next() % 4, low: UInt64(round))
                        spans.append(Span(
                            traceID: trace, spanID: SpanID(value: generator.next() % 50), traceState: generator.next() % 3 == 0 ? "k=v" : "",
                            parentSpanID: SpanID(value: generator.next() % 60), flags: UInt32(generator.next() % 0x400),
                            name: words[index % words.count], kind: SpanKind(rawValue: Int32(generator.next() % 7)),
                            startTimeUnixNano: generator.next() % 1_000_000, endTimeUnixNano: generator.next() % 1_000_000,
                            attributes: attributes(), droppedAttributesCount: UInt32(generator.next() % 3),
                            events: (0..<Int(generator.next() % 3)).map { _ in
                                SpanEvent(timeUnixNano: generator.next() % 1_000_000, name: "event", attributes: attributes())
                            },
                            droppedEventsCount: UInt32(generator.next() % 2),
                            links: (0..<Int(generator.next() % 2)).map { _ in
                                SpanLink(traceID: TraceID(high: generator.next(), low: 1), spanID: SpanID(value: generator.next()), attributes: attributes())
                            },
                            status: SpanStatus(message: generator.next() % 4 == 0 ? "failed" : "", code: StatusCode(rawValue: Int32(generator.next() % 3)))))
                    }
                    resourceSpans.scopeSpans.append(ScopeSpans(scope: InstrumentationScope(name: "scope\(scope)"), spans: spans))
                }
                data.resourceSpans.append(resourceSpans)
            }
            let pages = try Self.bothPages(OTLPProtobuf.encodeTraces(data))
            #expect(pages.stored == pages.decoded, "round \(round)")
        }
    }

    @Test func fieldsOutOfOrderRepeatedOrUnknownAreReadAsTheDecoderReadsThem() throws {
        let stringValue = field(1, "first") + field(3, varint: 7) + field(1, "second")  // int then string: the last wins
        let keyValue = field(2, bytes: field(1, "ignored")) + field(1, "k") + field(2, bytes: stringValue) + field(9, varint: 1)
        let intLast = field(1, "x") + field(3, varint: 9)
        let strindex = field(1, "x") + field(8, varint: 3)
        let complexLast = field(3, varint: 1) + field(5, bytes: field(1, bytes: field(3, varint: 2)))
        let event = field(3, bytes: field(1, "ek")) + field(2, "ev") + field(1, fixed64: 40) + field(4, varint: 2) + field(2, "ev2")
        let link = field(6, fixed32: 0x100) + field(4, bytes: field(1, "lk")) + field(1, bytes: id(5, 16)) + field(2, bytes: id(6, 8))
            + field(3, "ls") + field(5, varint: 1)
        let span =
            field(9, bytes: keyValue)
            + field(15, bytes: field(2, "msg") + field(3, varint: 2))
            + field(8, fixed64: 900) + field(7, fixed64: 100)
            + field(5, "name-one") + field(20, "unknown") + field(5, "name-two")
            + field(11, bytes: event)
            + field(9, bytes: field(1, "n") + field(2, bytes: intLast))
            + field(13, bytes: link)
            + field(15, bytes: field(3, varint: 1))  // status merges: the message stays, the code changes
            + field(9, bytes: field(1, "s") + field(2, bytes: strindex))
            + field(9, bytes: field(1, "c") + field(2, bytes: complexLast))
            + field(9, bytes: field(1, "missing"))
            + field(2, bytes: id(1, 8)) + field(1, bytes: id(9, 16)) + field(4, bytes: id(3, 8)) + field(6, varint: 3)
            + field(16, fixed32: 0x301) + field(10, varint: 4) + field(12, varint: 5) + field(14, varint: 6) + field(3, "ts")
        let child = field(1, bytes: id(9, 16)) + field(2, bytes: id(3, 8)) + field(5, "child") + field(7, fixed64: 50)
        let scopeSpans = field(2, bytes: span) + field(1, bytes: field(1, "scope") + field(2, "1.0")) + field(2, bytes: child) + field(3, "https://scope")
        // The resource after its scope groups, and given twice (attributes accumulate).
        let resourceSpans = field(2, bytes: scopeSpans) + field(1, bytes: field(1, bytes: field(1, "service.name") + field(2, bytes: field(1, "svc"))))
            + field(3, "https://resource") + field(1, bytes: field(1, bytes: field(1, "host") + field(2, bytes: field(1, "h1"))))
        let request = field(1, bytes: resourceSpans) + field(7, varint: 1)

        let decoded = try OTLPProtobuf.decodeTraces(request)
        let spans = decoded.resourceSpans[0].scopeSpans[0].spans
        #expect(spans[0].name == "name-two" && spans[0].status == SpanStatus(message: "msg", code: .ok))
        #expect(decoded.resourceSpans[0].resource.attributes.count == 2)
        let pages = try Self.bothPages(request)
        #expect(pages.stored == pages.decoded)
    }
}

// MARK: Protobuf written by hand, as other encoders may write it

private func varint(_ value: UInt64) -> [UInt8] {
    var value = value
    var bytes: [UInt8] = []
    while value >= 0x80 {
        bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
        value >>= 7
    }
    return bytes + [UInt8(value)]
}

private func field(_ number: UInt64, varint value: UInt64) -> [UInt8] { varint(number << 3) + varint(value) }
private func field(_ number: UInt64, bytes: [UInt8]) -> [UInt8] { varint(number << 3 | 2) + varint(UInt64(bytes.count)) + bytes }
private func field(_ number: UInt64, _ text: String) -> [UInt8] { field(number, bytes: Array(text.utf8)) }
private func field(_ number: UInt64, fixed64 value: UInt64) -> [UInt8] {
    varint(number << 3 | 1) + (0..<8).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
}
private func field(_ number: UInt64, fixed32 value: UInt32) -> [UInt8] {
    varint(number << 3 | 5) + (0..<4).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
}
private func id(_ value: UInt64, _ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64((count - 1 - $0) % 8))) } }
