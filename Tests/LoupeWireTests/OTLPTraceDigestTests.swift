import LoupeModel
import LoupeWire
import Testing

/// The write path reads trace requests into digests without decoding them: the digest of a request's
/// bytes must be the digest of its decoded spans, whatever the request holds.
@Suite struct OTLPTraceDigestTests {
    /// Equal digests, NaNs in attribute values included (they compare unequal to themselves).
    static func same(_ lhs: TraceBatchDigest, _ rhs: TraceBatchDigest) -> Bool {
        lhs.spans == rhs.spans && lhs.names == rhs.names && lhs.serviceNames == rhs.serviceNames && lhs.timeBounds == rhs.timeBounds
            && "\(lhs.resources)" == "\(rhs.resources)" && "\(lhs.sampledAttributes)" == "\(rhs.sampledAttributes)"
    }

    static func digestOfBytes(_ data: TraceData) throws -> TraceBatchDigest {
        try OTLPProtobuf.digestTraces(OTLPProtobuf.encodeTraces(data))
    }

    @Test func digestOfTheBytesIsTheDigestOfTheSpans() throws {
        for data in [OTLPProtobufSamples.traces, OTLPSampleData.makeBenchmarkTraces(spanCount: 300, attributesPerSpan: 20)] {
            let digest = try Self.digestOfBytes(data)
            #expect(Self.same(digest, TraceBatchDigest(data)))
            #expect(digest.spans.count == data.itemCount)
            #expect(digest.timeBounds == data.timeBounds)
        }
    }

    @Test func fieldsOfASpan() throws {
        let digest = try Self.digestOfBytes(OTLPProtobufSamples.traces)
        let span = try #require(digest.spans.first)
        #expect(span.traceID == OTLPProtobufSamples.traceID && span.spanID == OTLPProtobufSamples.spanID)
        #expect(span.parentSpanID == OTLPProtobufSamples.parentSpanID)
        #expect(digest.names[Int(span.name)] == "I'm a server span" && span.kind == .server)
        #expect(digest.serviceNames[Int(span.resource)] == "my.service")
        #expect(span.startTimeUnixNano == 1_544_712_660_000_000_000)
    }

    @Test func attributesOfOneSpanInEightAreKept() throws {
        let data = OTLPSampleData.makeBenchmarkTraces(spanCount: 20, attributesPerSpan: 5)
        let digest = try Self.digestOfBytes(data)
        let spans = data.resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) }
        #expect(digest.sampledAttributes == [spans[0].attributes, spans[8].attributes, spans[16].attributes])
    }

    @Test func largeBatchesKeepFewerAttributesPastTheirFirstSpans() throws {
        let data = OTLPSampleData.makeBenchmarkTraces(spanCount: 1_000, attributesPerSpan: 2)
        let digest = try Self.digestOfBytes(data)
        let spans = data.resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) }
        let picked = Array(stride(from: 0, to: 256, by: 8)) + Array(stride(from: 256, to: 1_000, by: 64))
        #expect(picked.count == 44)
        #expect(digest.sampledAttributes == picked.map { spans[$0].attributes })
    }

    static func peer(_ attributes: [KeyValue]) throws -> SpanPeer {
        let data = TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: [
            Span(name: "sampled"), Span(name: "walked", kind: .client, attributes: attributes),
        ])])])
        let digest = try digestOfBytes(data)
        #expect(digest.spans[1].peer == TraceBatchDigest(data).spans[1].peer, "bytes and decoded spans agree")
        return digest.spans[1].peer
    }

    @Test func peerAttributes() throws {
        #expect(try Self.peer([KeyValue("peer.service", "cart"), KeyValue("db.system", "redis")]) == SpanPeer(peerService: "cart", otherPeer: "redis", isDatabase: true))
        #expect(try Self.peer([KeyValue("server.address", "api.example.com"), KeyValue("db.namespace", "orders")]).name == "orders")
        #expect(try Self.peer([KeyValue("net.peer.name", "old"), KeyValue("server.address", "new")]).name == "new")
        #expect(try Self.peer([KeyValue("db.system.name", "postgresql")]) == SpanPeer(otherPeer: "postgresql", isDatabase: true))
        // The last of a repeated key wins; an empty or non-string value names nothing.
        #expect(try Self.peer([KeyValue("peer.service", "a"), KeyValue("peer.service", "b")]).peerService == "b")
        #expect(try Self.peer([KeyValue("peer.service", "a"), KeyValue("peer.service", "")]).peerService == "a")
        #expect(try Self.peer([KeyValue("peer.service", 7), KeyValue("db.name", .array(["x"]))]) == SpanPeer())
        #expect(try Self.peer([KeyValue("peer.servicE", "x"), KeyValue("http.route", "/api")]) == SpanPeer())
    }

    /// A `ResourceSpans` may carry its resource after its spans, and a repeated `value` or `Status`
    /// follows the protobuf rules (the last value replaces, messages merge).
    @Test func fieldOrderAndRepeatedFields() throws {
        let resource: PB = .message(1, [.message(1, [.string(1, "service.name"), .message(2, [.string(1, "late")])])])
        let attribute: PB = .message(9, [.string(1, "peer.service"), .message(2, [.varint(3, 1)]), .message(2, [.string(1, "cart")])])
        let span: PB = .message(2, [.string(5, "op"), .varint(6, 3), attribute, .message(15, [.varint(3, 2)]), .message(15, [.string(2, "boom")])])
        let bytes = [PB.message(1, [.message(2, [.message(2, []), span]), resource])].bytes
        let digest = try OTLPProtobuf.digestTraces(bytes)
        #expect(digest.serviceNames == ["late"])
        #expect(digest.spans.count == 2)
        #expect(digest.spans[1].statusCode == .error && digest.spans[1].peer.peerService == "cart" && digest.spans[1].kind == .client)
        #expect(Self.same(digest, TraceBatchDigest(try OTLPProtobuf.decodeTraces(bytes))))
    }

    @Test func refusalsSayWhereAsTheDecoderDoes() throws {
        // A string inside an array value that is not UTF-8 (an overlong NUL).
        let badUTF8: PB = .message(9, [.string(1, "k"), .message(2, [.message(5, [.message(1, [.bytes(1, [0xC0, 0x80])])])])])
        let cases: [[UInt8]] = [
            [PB.message(1, [.message(2, [.message(2, [.string(5, "a")]), .message(2, [.bytes(1, [1, 2, 3])])])])].bytes,
            [PB.message(1, [.message(2, [.message(2, [badUTF8])])])].bytes,
            [PB.message(1, [.message(2, [.message(2, [.message(11, [.bytes(2, [0xFF])])])])])].bytes,
            Array([PB.message(1, [.message(2, [.message(2, [.string(5, "a")])])])].bytes.dropLast()),
        ]
        for bytes in cases {
            let decoded = Result { () throws(WireError) in try OTLPProtobuf.decodeTraces(bytes) }
            let digested = Result { () throws(WireError) in try OTLPProtobuf.digestTraces(bytes) }
            guard case .failure(let expected) = decoded, case .failure(let refusal) = digested else {
                Issue.record("both should refuse \(bytes)")
                continue
            }
            #expect(refusal == expected)
            #expect(refusal.path.hasPrefix("resourceSpans[0]"))
        }
    }
}
