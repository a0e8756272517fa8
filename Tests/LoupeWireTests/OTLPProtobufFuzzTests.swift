import LoupeModel
import LoupeWire
import Testing

/// Hostile input: every decoder must either return or throw a `WireError`, never crash or hang, and the
/// errors for specific malformations must say what is wrong and where.
@Suite("OTLP protobuf malformed input")
struct OTLPProtobufFuzzTests {
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    enum Decoder: CaseIterable {
        case traces, logs, metrics
    }

    /// Decodes with one decoder; if it succeeds, re-encoding must be stable (compared as bytes, so NaNs from
    /// mutated doubles compare fine). Returns the error, if any.
    @discardableResult
    static func decode(_ bytes: [UInt8], with decoder: Decoder) -> WireError? {
        do throws(WireError) {
            switch decoder {
            case .traces:
                // The write path digests what it never decodes: both must take and refuse the same input.
                let digested = Result { () throws(WireError) in try OTLPProtobuf.digestTraces(bytes) }
                let value: TraceData
                do {
                    value = try OTLPProtobuf.decodeTraces(bytes)
                } catch {
                    switch digested {
                    case .success: Issue.record("the digest took what decoding refuses: \(error)")
                    case .failure(let refusal): #expect(refusal == error, "the digest's refusal is the decoder's")
                    }
                    throw error
                }
                switch digested {
                case .success(let digest): #expect(OTLPTraceDigestTests.same(digest, TraceBatchDigest(value)))
                case .failure(let refusal): Issue.record("the digest refused what decoding takes: \(refusal)")
                }
                let encoded = OTLPProtobuf.encodeTraces(value)
                let again = try OTLPProtobuf.decodeTraces(encoded)
                #expect(OTLPProtobuf.encodeTraces(again) == encoded)
            case .logs:
                let value = try OTLPProtobuf.decodeLogs(bytes)
                let encoded = OTLPProtobuf.encodeLogs(value)
                let again = try OTLPProtobuf.decodeLogs(encoded)
                #expect(OTLPProtobuf.encodeLogs(again) == encoded)
            case .metrics:
                let value = try OTLPProtobuf.decodeMetrics(bytes)
                let encoded = OTLPProtobuf.encodeMetrics(value)
                let again = try OTLPProtobuf.decodeMetrics(encoded)
                #expect(OTLPProtobuf.encodeMetrics(again) == encoded)
            }
            return nil
        } catch {
            #expect(!error.message.isEmpty)
            if let offset = error.offset { #expect(offset >= 0 && offset <= bytes.count) }
            return error
        }
    }

    static let validEncodings: [(Decoder, [UInt8])] = [
        (.traces, OTLPProtobuf.encodeTraces(OTLPProtobufSamples.traces)),
        (.logs, OTLPProtobuf.encodeLogs(OTLPProtobufSamples.logs)),
        (.metrics, OTLPProtobuf.encodeMetrics(OTLPProtobufSamples.metrics)),
        (.traces, OTLPProtobuf.encodeTraces(OTLPSampleData.makeBenchmarkTraces(spanCount: 12, attributesPerSpan: 12))),
    ]

    // MARK: - Random and mutated input

    @Test(.timeLimit(.minutes(10)))
    func randomBytes() {
        var random = SeededGenerator(state: 0xF022)
        for iteration in 0..<3000 {
            let length = iteration < 1000 ? Int(random.next() % 16) : Int(random.next() % 600)
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            for decoder in Decoder.allCases { Self.decode(bytes, with: decoder) }
        }
    }

    /// Random bytes mostly fail at the first tag; these are random but well-formed-looking messages (valid
    /// tags of the fields OTLP uses, plausible lengths), which get much deeper into the decoders.
    @Test(.timeLimit(.minutes(10)))
    func randomStructuredMessages() {
        var random = SeededGenerator(state: 0x57_2C)
        func message(depth: Int) -> [UInt8] {
            var out: [UInt8] = []
            for _ in 0..<Int(random.next() % 6) {
                let field = UInt32(1 + random.next() % 16)
                switch random.next() % 7 {
                case 0: out += PB.varint(field, random.next() >> (random.next() % 64)).bytes
                case 1: out += PB.fixed64(field, random.next()).bytes
                case 2: out += PB.fixed32(field, UInt32(truncatingIfNeeded: random.next())).bytes
                case 3: out += PB.bytes(field, (0..<Int(random.next() % 20)).map { _ in UInt8(truncatingIfNeeded: random.next() % 128) }).bytes
                case 4: out += PB.bytes(field, [8, 16][Int(random.next() % 2)] == 8 ? Array(repeating: 7, count: 8) : Array(repeating: 1, count: 16)).bytes
                default: out += depth < 7 ? PB.bytes(field, message(depth: depth + 1)).bytes : []
                }
            }
            return out
        }
        var successes = 0
        for _ in 0..<2000 {
            let bytes = message(depth: 0)
            for decoder in Decoder.allCases where Self.decode(bytes, with: decoder) == nil { successes += 1 }
        }
        #expect(successes > 0)
    }

    @Test(.timeLimit(.minutes(10)))
    func everyTruncationIsTruncatedOrAWholePrefix() {
        for (decoder, bytes) in Self.validEncodings {
            for length in 0..<bytes.count {
                if let error = Self.decode(Array(bytes[..<length]), with: decoder) {
                    #expect(error.code == .truncated, "prefix of \(length) bytes: \(error)")
                }
            }
        }
    }

    @Test(.timeLimit(.minutes(10)))
    func singleByteMutations() {
        var random = SeededGenerator(state: 0xB17F)
        for (decoder, bytes) in Self.validEncodings.prefix(3) {
            for index in bytes.indices {
                for mask in [0x01, 0x80, UInt8(truncatingIfNeeded: random.next() | 1)] as [UInt8] {
                    var mutated = bytes
                    mutated[index] ^= mask
                    Self.decode(mutated, with: decoder)
                }
            }
        }
    }

    @Test(.timeLimit(.minutes(10)))
    func bytesOfOneSignalGivenToTheOthers() {
        for (_, bytes) in Self.validEncodings {
            for decoder in Decoder.allCases { Self.decode(bytes, with: decoder) }
        }
    }

    // MARK: - Specific malformations

    static func spans(_ spans: [[PB]]) -> [UInt8] {
        [PB.message(1, [.message(2, spans.map { PB.message(2, $0) })])].bytes
    }

    static func decodeTracesError(_ bytes: [UInt8]) -> WireError? {
        do throws(WireError) {
            _ = try OTLPProtobuf.decodeTraces(bytes)
            return nil
        } catch {
            return error
        }
    }

    /// Where `needle` starts in `haystack`.
    static func position(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        return (0...(haystack.count - needle.count)).first { Array(haystack[$0..<($0 + needle.count)]) == needle }
    }

    @Test func traceIDOfWrongLength() throws {
        let bytes = Self.spans([[.string(5, "a")], [.string(5, "b")], [.string(5, "c")], [.string(5, "d"), .bytes(1, [1, 2, 3, 4, 5])]])
        let error = try #require(Self.decodeTracesError(bytes))
        let offset = try #require(Self.position(of: [0x0A, 5, 1, 2, 3, 4, 5], in: bytes)) + 1
        #expect(error.code == .invalidLength)
        #expect(error.path == "resourceSpans[0].scopeSpans[0].spans[3].traceId")
        #expect(error.message == "trace_id must be 16 bytes, got 5")
        #expect(error.offset == offset)
        #expect(error.description == "invalid length at resourceSpans[0].scopeSpans[0].spans[3].traceId (byte \(offset)): trace_id must be 16 bytes, got 5")
    }

    @Test func otherIDsOfWrongLength() throws {
        let spanID = try #require(Self.decodeTracesError(Self.spans([[.bytes(2, Array(repeating: 1, count: 9))]])))
        #expect(spanID.code == .invalidLength)
        #expect(spanID.path == "resourceSpans[0].scopeSpans[0].spans[0].spanId")
        #expect(spanID.message == "span_id must be 8 bytes, got 9")

        let parent = try #require(Self.decodeTracesError(Self.spans([[.bytes(4, [1])]])))
        #expect(parent.path == "resourceSpans[0].scopeSpans[0].spans[0].parentSpanId")
        #expect(parent.message == "parent_span_id must be 8 bytes, got 1")

        let link = try #require(Self.decodeTracesError(Self.spans([[.message(13, []), .message(13, [.bytes(2, Array(repeating: 1, count: 7))])]])))
        #expect(link.path == "resourceSpans[0].scopeSpans[0].spans[0].links[1].spanId")

        do {
            let logs = [PB.message(1, [.message(2, [.message(2, [.bytes(9, Array(repeating: 1, count: 17))])])])].bytes
            _ = try OTLPProtobuf.decodeLogs(logs)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidLength)
            #expect(error.path == "resourceLogs[0].scopeLogs[0].logRecords[0].traceId")
        }

        do {
            let exemplar: PB = .message(5, [.bytes(5, [1, 2])])
            let metrics = [PB.message(1, [.message(2, [.message(2, [.message(5, [.message(1, []), .message(1, [exemplar])])])])])].bytes
            _ = try OTLPProtobuf.decodeMetrics(metrics)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidLength)
            #expect(error.path == "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[1].exemplars[0].traceId")
            #expect(error.message == "trace_id must be 16 bytes, got 2")
        }
    }

    @Test func emptyIDsAreAbsent() throws {
        let decoded = try OTLPProtobuf.decodeTraces(Self.spans([[.bytes(1, []), .bytes(2, []), .bytes(4, [])]]))
        let span = decoded.resourceSpans[0].scopeSpans[0].spans[0]
        #expect(span.traceID == .empty && span.spanID == .empty && span.parentSpanID == .empty)
    }

    @Test func truncatedVarint() throws {
        let error = try #require(Self.decodeTracesError([0x0A, 0x80]))
        #expect(error.code == .truncated)
        #expect(error.offset == 1)
        #expect(error.path == "resourceSpans[0]")

        let inSpan = try #require(Self.decodeTracesError(Self.spans([[.raw([0x30, 0xFF, 0xFF])]])))
        #expect(inSpan.code == .truncated)
        #expect(inSpan.path == "resourceSpans[0].scopeSpans[0].spans[0].kind")

        let tooLong = try #require(Self.decodeTracesError([0x48] + Array(repeating: 0xFF, count: 10) + [0x01]))
        #expect(tooLong.code == .malformedVarint)
        #expect(tooLong.offset == 1)

        let overflow = try #require(Self.decodeTracesError([0x48] + Array(repeating: 0xFF, count: 9) + [0x02]))
        #expect(overflow.code == .malformedVarint)

        let tagOverflow = try #require(Self.decodeTracesError([0xFF, 0xFF, 0xFF, 0xFF, 0x7F]))
        #expect(tagOverflow.code == .malformedVarint)
    }

    @Test func lengthBeyondTheBuffer() throws {
        let error = try #require(Self.decodeTracesError([0x0A, 0x05, 0x12]))
        #expect(error.code == .truncated)
        #expect(error.message.contains("length 5"))
        #expect(error.path == "resourceSpans[0]")
        #expect(error.offset == 1)

        // A nested length may not run past its enclosing message even when the buffer goes on.
        let span: [PB] = [.raw([0x2A, 0x0A, UInt8(ascii: "a")])]
        let bytes = Self.spans([span]) + [PB.string(9, "0123456789")].bytes
        let nested = try #require(Self.decodeTracesError(bytes))
        #expect(nested.code == .truncated)
        #expect(nested.path == "resourceSpans[0].scopeSpans[0].spans[0].name")

        let fixed = try #require(Self.decodeTracesError(Self.spans([[.raw([0x39, 1, 2, 3])]])))
        #expect(fixed.code == .truncated)
        #expect(fixed.path == "resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano")
    }

    @Test func invalidUTF8() throws {
        let bytes = Self.spans([[.bytes(5, [0x61, 0xFF, 0x62])]])
        let error = try #require(Self.decodeTracesError(bytes))
        #expect(error.code == .invalidUTF8)
        #expect(error.path == "resourceSpans[0].scopeSpans[0].spans[0].name")
        #expect(error.offset == (try #require(Self.position(of: [0x61, 0xFF, 0x62], in: bytes))) + 1)

        let attribute: (String, [UInt8]) -> PB = { key, value in .message(9, [.string(1, key), .message(2, [.bytes(1, value)])]) }
        let invalidSequences: [[UInt8]] = [
            [0xC0, 0x80],  // overlong NUL
            [0xE0, 0x80, 0xAF],  // overlong
            [0xED, 0xA0, 0x80],  // surrogate
            [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
            [0xF8, 0x88, 0x80, 0x80, 0x80],  // five bytes
            Array("a long enough value to be interned ".utf8) + [0xE2, 0x82],  // truncated sequence at the end
            [0x80],  // lone continuation
        ]
        for sequence in invalidSequences {
            let valueError = try #require(Self.decodeTracesError(Self.spans([[attribute("fine", Array("ok".utf8)), attribute("k", sequence)]])))
            #expect(valueError.code == .invalidUTF8, "\(sequence)")
            #expect(valueError.path == "resourceSpans[0].scopeSpans[0].spans[0].attributes[1].value.stringValue")
        }
        let keyError = try #require(
            Self.decodeTracesError(Self.spans([[.message(9, [.bytes(1, Array("http.response.status_code".utf8) + [0xFF])])]]))
        )
        #expect(keyError.code == .invalidUTF8)
        #expect(keyError.path == "resourceSpans[0].scopeSpans[0].spans[0].attributes[0].key")

        let valid = ["", "plain", "grüße", "東京", "🌍🌍", "\u{10FFFF}", "\u{FEFF}x", String(repeating: "é", count: 40)]
        for string in valid {
            let decoded = try OTLPProtobuf.decodeTraces(Self.spans([[attribute(string, Array(string.utf8))]]))
            #expect(decoded.resourceSpans[0].scopeSpans[0].spans[0].attributes == [KeyValue(string, .string(string))])
        }
    }

    @Test func undefinedWireTypes() throws {
        let seven = try #require(Self.decodeTracesError([0x4F]))  // field 9, wire type 7
        #expect(seven.code == .invalidWireType)
        #expect(seven.offset == 0)
        #expect(seven.path == "")
        #expect(seven.message.contains("wire type 7"))

        let six = try #require(Self.decodeTracesError(Self.spans([[.string(5, "x"), .raw([0xA6, 0x01])]])))  // field 20, wire type 6
        #expect(six.code == .invalidWireType)
        #expect(six.path == "resourceSpans[0].scopeSpans[0].spans[0]")

        let endGroup = try #require(Self.decodeTracesError([0x4C]))
        #expect(endGroup.code == .invalidWireType)

        let mismatchedGroup = try #require(Self.decodeTracesError([0x4B, 0x54]))  // start group 9, end group 10
        #expect(mismatchedGroup.code == .invalidWireType)

        let openGroup = try #require(Self.decodeTracesError([0x4B, 0x08, 0x01]))
        #expect(openGroup.code == .truncated)

        let fieldZero = try #require(Self.decodeTracesError([0x00, 0x00]))
        #expect(fieldZero.code == .invalidValue)
    }

    @Test func nestingIsBounded() throws {
        func nestedArrays(_ depth: Int) -> AnyValue {
            var value: AnyValue = "leaf"
            for _ in 0..<depth { value = .array([value]) }
            return value
        }
        let limit = OTLPProtobuf.maximumNestingDepth
        let allowed = TraceData(resourceSpans: [ResourceSpans(resource: Resource(attributes: [KeyValue("deep", nestedArrays(limit))]))])
        #expect(try OTLPProtobuf.decodeTraces(OTLPProtobuf.encodeTraces(allowed)) == allowed)

        let tooDeep = TraceData(resourceSpans: [ResourceSpans(resource: Resource(attributes: [KeyValue("deep", nestedArrays(limit + 1))]))])
        let error = try #require(Self.decodeTracesError(OTLPProtobuf.encodeTraces(tooDeep)))
        #expect(error.code == .invalidValue)
        #expect(error.path.hasPrefix("resourceSpans[0].resource.attributes[0].value.arrayValue.values[0].arrayValue"))

        // Hostile depth far beyond the limit, built directly as bytes (kvlist in kvlist in ...).
        var value: [UInt8] = []
        for _ in 0..<2000 { value = PB.message(6, [.message(1, [.string(1, "k"), .bytes(2, value)])]).bytes }
        let hostile = [PB.message(1, [.message(1, [.message(1, [.string(1, "k"), .bytes(2, value)])])])].bytes
        #expect(Self.decodeTracesError(hostile)?.code == .invalidValue)

        // Groups nested too deeply are rejected, not recursed into without end.
        let groups = [UInt8](repeating: 0x7B, count: 10000) + [UInt8](repeating: 0x7C, count: 10000)  // start/end group 15
        #expect(Self.decodeTracesError(groups)?.code == .invalidValue)
        var fine: [PB] = []
        for _ in 0..<20 { fine = [.group(15, fine)] }
        #expect(try OTLPProtobuf.decodeTraces(fine.bytes) == TraceData())
    }

    @Test func errorsInEachSignalCarryTheirPath() throws {
        do {
            let logs = [PB.message(1, [.message(2, [.message(2, []), .message(2, [.message(5, [.message(6, [.message(1, [.string(1, "k"), .bytes(2, [0x21])])])])])])])].bytes
            _ = try OTLPProtobuf.decodeLogs(logs)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .truncated)
            #expect(error.path == "resourceLogs[0].scopeLogs[0].logRecords[1].body.kvlistValue.values[0].value.doubleValue")
        }
        do {
            let histogramPoint: PB = .message(1, [.bytes(6, [1, 2, 3])])
            let metrics = [PB.message(1, [.message(2, [.message(2, [.string(1, "h"), .message(9, [histogramPoint])])])])].bytes
            _ = try OTLPProtobuf.decodeMetrics(metrics)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidLength)
            #expect(error.path == "resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].bucketCounts")
        }
        do {
            let resource: PB = .message(1, [.message(3, [.string(1, "s"), .bytes(3, [0xC3])])])
            _ = try OTLPProtobuf.decodeMetrics([PB.message(1, [resource])].bytes)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidUTF8)
            #expect(error.path == "resourceMetrics[0].resource.entityRefs[0].idKeys[0]")
        }
    }

    @Test func wireErrorDescriptions() {
        #expect(WireError(.truncated, "ran out").description == "truncated: ran out")
        #expect(WireError(.truncated, "ran out", offset: 7).description == "truncated at byte 7: ran out")
        #expect(WireError(.invalidJSON, "bad", at: "a.b").description == "invalid JSON at a.b: bad")
        var error = WireError(.invalidUTF8, "x", at: "name", offset: 3)
        error = error.prefixed(with: "spans", index: 2).prefixed(with: "values[0]")
        #expect(error.path == "values[0].spans[2].name")
        #expect(WireError(.invalidValue, "m", at: "[1]").prefixed(with: "values").path == "values[1]")
    }
}
