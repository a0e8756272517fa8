import Foundation
import LoupeModel
import LoupeWire
import Testing

@Suite("OTLP protobuf round trips and fixtures")
struct OTLPProtobufRoundTripTests {
    // MARK: - Round trips of hand-built values

    @Test func tracesRoundTripEveryField() throws {
        let traces = OTLPProtobufSamples.traces
        let bytes = OTLPProtobuf.encodeTraces(traces)
        let decoded = try OTLPProtobuf.decodeTraces(bytes)
        #expect(decoded == traces)
        // Canonical output: encoding the decoded value gives the same bytes.
        #expect(OTLPProtobuf.encodeTraces(decoded) == bytes)
    }

    @Test func logsRoundTripEveryField() throws {
        let logs = OTLPProtobufSamples.logs
        let bytes = OTLPProtobuf.encodeLogs(logs)
        let decoded = try OTLPProtobuf.decodeLogs(bytes)
        #expect(decoded == logs)
        #expect(decoded.resourceLogs[0].scopeLogs[0].logRecords[1].body == nil)
        #expect(decoded.resourceLogs[0].scopeLogs[0].logRecords[2].body == .empty)
        #expect(decoded.resourceLogs[0].scopeLogs[0].logRecords[3].body == .string(""))
        #expect(OTLPProtobuf.encodeLogs(decoded) == bytes)
    }

    @Test func metricsRoundTripEveryKind() throws {
        let metrics = OTLPProtobufSamples.metrics
        let bytes = OTLPProtobuf.encodeMetrics(metrics)
        let decoded = try OTLPProtobuf.decodeMetrics(bytes)
        #expect(decoded == metrics)
        #expect(OTLPProtobuf.encodeMetrics(decoded) == bytes)

        let decodedMetrics = decoded.resourceMetrics[0].scopeMetrics[0].metrics
        guard case .gauge(let gauge) = decodedMetrics[0].data else {
            Issue.record("expected a gauge")
            return
        }
        #expect(gauge.dataPoints.map(\.value) == [.double(10), .int(-5), .int(0), .double(-0.0), nil, nil])
        #expect(gauge.dataPoints[3].value.map { if case .double(let value) = $0 { value.sign == .minus } else { false } } == true)
        #expect(gauge.dataPoints[0].exemplars.map(\.value) == [.double(1.25), .int(-7), .int(0), .double(0), nil])
        guard case .histogram(let histogram) = decodedMetrics[3].data else {
            Issue.record("expected a histogram")
            return
        }
        #expect(histogram.dataPoints[1].sum == nil && histogram.dataPoints[1].min == nil && histogram.dataPoints[1].max == nil)
        #expect(histogram.dataPoints[2].sum == 0 && histogram.dataPoints[2].min == 0 && histogram.dataPoints[2].max == .infinity)
        #expect(decodedMetrics[6].data == MetricData.none)
        #expect(decodedMetrics[7].data == .gauge(Gauge()))
    }

    @Test func benchmarkSampleRoundTrips() throws {
        let traces = OTLPSampleData.makeBenchmarkTraces(spanCount: 300, attributesPerSpan: 24)
        #expect(traces.itemCount == 300)
        #expect(traces.resourceSpans.allSatisfy { $0.resource.attributes[attribute: "service.name"] != nil })
        let spans = traces.resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) }
        #expect(spans.allSatisfy { $0.attributes.count == 24 })
        #expect(spans.contains { !$0.events.isEmpty })
        #expect(spans.contains { !$0.links.isEmpty })
        #expect(Set(spans.flatMap { $0.attributes.map(\.key) }).count == 24)
        #expect(OTLPSampleData.makeBenchmarkTraces(spanCount: 300, attributesPerSpan: 24) == traces)
        let decoded = try OTLPProtobuf.decodeTraces(OTLPProtobuf.encodeTraces(traces))
        #expect(decoded == traces)
    }

    @Test func emptyValuesEncodeToNothing() throws {
        #expect(OTLPProtobuf.encodeTraces(TraceData()) == [])
        #expect(OTLPProtobuf.encodeLogs(LogsData()) == [])
        #expect(OTLPProtobuf.encodeMetrics(MetricsData()) == [])
        #expect(try OTLPProtobuf.decodeTraces([]) == TraceData())
        #expect(try OTLPProtobuf.decodeLogs([]) == LogsData())
        #expect(try OTLPProtobuf.decodeMetrics([]) == MetricsData())
        // An empty resource/scope group is still one group each.
        let bytes = OTLPProtobuf.encodeTraces(TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans()])]))
        #expect(bytes == [0x0A, 0x02, 0x12, 0x00])
        #expect(try OTLPProtobuf.decodeTraces(bytes).resourceSpans[0].scopeSpans.count == 1)
    }

    @Test func genericEntryPointsMatchThePerSignalOnes() throws {
        let traces = OTLPProtobufSamples.traces
        let bytes = OTLPProtobuf.encode(traces)
        #expect(bytes == OTLPProtobuf.encodeTraces(traces))
        let decoded = try bytes.withUnsafeBytes { buffer throws(WireError) in try OTLPProtobuf.decode(TraceData.self, from: buffer) }
        #expect(decoded == traces)
        let metrics = OTLPProtobufSamples.metrics
        let decodedMetrics = try OTLPProtobuf.encode(metrics).withUnsafeBytes { buffer throws(WireError) in
            try OTLPProtobuf.decode(MetricsData.self, from: buffer)
        }
        #expect(decodedMetrics == metrics)
    }

    // MARK: - Exact bytes

    @Test func spanBytesAreCanonical() throws {
        let traces = TraceData(resourceSpans: [
            ResourceSpans(scopeSpans: [
                ScopeSpans(spans: [
                    Span(traceID: TraceID(high: 0x0102_0304_0506_0708, low: 0x090A_0B0C_0D0E_0F10), spanID: SpanID(value: 0xA1A2_A3A4_A5A6_A7A8), flags: 1, name: "n", kind: .client, startTimeUnixNano: 5, attributes: [KeyValue("k", 1)])
                ])
            ])
        ])
        let span: [UInt8] =
            [0x0A, 16] + Array(1...16) + [0x12, 8, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8]
            + [0x2A, 1, UInt8(ascii: "n"), 0x30, 3, 0x39, 5, 0, 0, 0, 0, 0, 0, 0]
            + [0x4A, 7, 0x0A, 1, UInt8(ascii: "k"), 0x12, 2, 0x18, 1]
            + [0x85, 0x01, 1, 0, 0, 0]
        let expected: [UInt8] = [0x0A, UInt8(span.count + 4), 0x12, UInt8(span.count + 2), 0x12, UInt8(span.count)] + span
        #expect(OTLPProtobuf.encodeTraces(traces) == expected)
        #expect(try OTLPProtobuf.decodeTraces(expected) == traces)
    }

    @Test func exportResponses() throws {
        for signal in Signal.allCases {
            #expect(OTLPProtobuf.encodeExportResponse(signal: signal, rejectedItems: 0, errorMessage: "") == [])
        }
        let partial = OTLPProtobuf.encodeExportResponse(signal: .traces, rejectedItems: 3, errorMessage: "bad")
        #expect(partial == [0x0A, 7, 0x08, 3, 0x12, 3, UInt8(ascii: "b"), UInt8(ascii: "a"), UInt8(ascii: "d")])
        #expect(try OTLPProtobuf.decodeExportResponse(partial) == (3, "bad"))
        // A warning without rejections still sets partial_success.
        let warning = OTLPProtobuf.encodeExportResponse(signal: .logs, rejectedItems: 0, errorMessage: "w")
        #expect(warning == [0x0A, 3, 0x12, 1, UInt8(ascii: "w")])
        let onlyCount = OTLPProtobuf.encodeExportResponse(signal: .metrics, rejectedItems: 300, errorMessage: "")
        #expect(onlyCount == [0x0A, 3, 0x08, 0xAC, 0x02])
        #expect(try OTLPProtobuf.decodeExportResponse(onlyCount) == (300, ""))
        #expect(try OTLPProtobuf.decodeExportResponse([]) == (0, ""))
    }

    @Test func googleRPCStatus() throws {
        let status = OTLPProtobuf.encodeStatus(code: 8, message: "resource exhausted")
        #expect(status == [0x08, 8, 0x12, 18] + Array("resource exhausted".utf8))
        #expect(try OTLPProtobuf.decodeStatus(status) == (8, "resource exhausted"))
        #expect(OTLPProtobuf.encodeStatus(code: 0, message: "") == [])
        // Negative int32 values are sign-extended to ten bytes.
        let negative = OTLPProtobuf.encodeStatus(code: -1, message: "")
        #expect(negative == [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        #expect(try OTLPProtobuf.decodeStatus(negative).code == -1)
    }

    // MARK: - Wire variations other encoders produce

    @Test func repeatedScalarsAreAcceptedPackedAndUnpacked() throws {
        func metrics(_ point: [PB], exponential: Bool = false) throws -> MetricsData {
            let kind: UInt32 = exponential ? 10 : 9
            let bytes = [PB.message(1, [.message(2, [.message(2, [.string(1, "m"), .message(kind, [.message(1, point)])])])])].bytes
            return try OTLPProtobuf.decodeMetrics(bytes)
        }
        func histogramPoint(_ data: MetricsData) -> HistogramDataPoint? {
            if case .histogram(let histogram) = data.resourceMetrics.first?.scopeMetrics.first?.metrics.first?.data { return histogram.dataPoints.first }
            return nil
        }
        func exponentialPoint(_ data: MetricsData) -> ExponentialHistogramDataPoint? {
            if case .exponentialHistogram(let histogram) = data.resourceMetrics.first?.scopeMetrics.first?.metrics.first?.data { return histogram.dataPoints.first }
            return nil
        }

        let packed: [UInt8] = [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]
        let packedBounds = [1.5, -2.0].flatMap { value in (0..<8).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * UInt64($0))) } }
        let fromPacked = try metrics([.bytes(6, packed), .bytes(7, packedBounds)])
        let fromUnpacked = try metrics([.fixed64(6, 1), .fixed64(6, 2), .double(7, 1.5), .double(7, -2.0)])
        let mixed = try metrics([.fixed64(6, 1), .bytes(6, Array(packed[8...])), .bytes(7, Array(packedBounds[..<8])), .double(7, -2.0)])
        #expect(histogramPoint(fromPacked)?.bucketCounts == [1, 2])
        #expect(histogramPoint(fromPacked)?.explicitBounds == [1.5, -2.0])
        #expect(fromUnpacked == fromPacked)
        #expect(mixed == fromPacked)

        let buckets: [PB] = [.varint(1, 3), .bytes(2, [5, 0xAC, 0x02, 0])]  // offset -2 (zigzag 3), counts 5, 300, 0
        let unpackedBuckets: [PB] = [.varint(1, 3), .varint(2, 5), .varint(2, 300), .varint(2, 0)]
        let packedExponential = try metrics([.message(8, buckets)], exponential: true)
        let unpackedExponential = try metrics([.message(8, unpackedBuckets)], exponential: true)
        #expect(exponentialPoint(packedExponential)?.positive == .init(offset: -2, bucketCounts: [5, 300, 0]))
        #expect(unpackedExponential == packedExponential)
    }

    @Test func unknownFieldsOfEveryWireTypeAreSkipped() throws {
        let unknown: [PB] = [
            .varint(100, 1 << 62), .fixed64(101, 7), .fixed32(102, 9), .bytes(103, [1, 2, 3]),
            .group(104, [.varint(1, 5), .group(2, [.bytes(3, [0xFF])]), .fixed32(4, 1)]), .message(105, [.varint(1, 1)]),
        ]
        let span: [PB] = unknown + [.string(5, "named")] + unknown + [.fixed64(7, 99)] + unknown
        let request: [PB] = [.message(1, unknown + [.message(2, unknown + [.message(2, span)])])] + unknown
        let decoded = try OTLPProtobuf.decodeTraces(request.bytes)
        #expect(decoded == TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: [Span(name: "named", startTimeUnixNano: 99)])])]))
        // A known field number with an unexpected wire type is an unknown field too (as in the official runtimes).
        let mistyped: [PB] = [.message(1, [.message(2, [.message(2, [.varint(5, 1), .bytes(7, [1]), .string(5, "ok")])])])]
        #expect(try OTLPProtobuf.decodeTraces(mistyped.bytes).resourceSpans[0].scopeSpans[0].spans[0] == Span(name: "ok"))
    }

    @Test func lastValueWinsAndMessagesMerge() throws {
        let attribute: (String) -> PB = { key in .message(1, [.string(1, key), .message(2, [.string(1, "v")])]) }
        let request: [PB] = [
            .message(1, [
                .message(1, [attribute("a")]),
                .message(2, [.message(2, [.string(5, "first"), .varint(6, 1), .string(5, "second"), .varint(6, 2)])]),
                .message(1, [attribute("b"), .varint(2, 4)]),
            ])
        ]
        let decoded = try OTLPProtobuf.decodeTraces(request.bytes)
        #expect(decoded.resourceSpans[0].resource == Resource(attributes: [KeyValue("a", "v"), KeyValue("b", "v")], droppedAttributesCount: 4))
        #expect(decoded.resourceSpans[0].scopeSpans[0].spans[0].name == "second")
        #expect(decoded.resourceSpans[0].scopeSpans[0].spans[0].kind == .server)
        // In a oneof the last member wins.
        let value: [PB] = [.message(1, [.message(1, [.message(1, [.string(1, "k"), .message(2, [.string(1, "text"), .varint(3, 7)])])])])]
        #expect(try OTLPProtobuf.decodeTraces(value.bytes).resourceSpans[0].resource.attributes == [KeyValue("k", 7)])
    }

    @Test func profilesDictionaryReferencesAreIgnored() throws {
        // KeyValue.key_strindex = 3 and AnyValue.string_value_strindex = 8 belong to profiles: treated as absent.
        let request: [PB] = [
            .message(1, [.message(1, [
                .message(1, [.varint(3, 5), .message(2, [.varint(8, 9)])]),
                .message(1, [.string(1, "kept"), .varint(3, 2), .message(2, [.string(1, "value")])]),
            ])])
        ]
        let attributes = try OTLPProtobuf.decodeTraces(request.bytes).resourceSpans[0].resource.attributes
        #expect(attributes == [KeyValue("", .empty), KeyValue("kept", "value")])
    }

    @Test func nonCanonicalVarintsAreAccepted() throws {
        // Over-long (but at most ten byte) varints are valid protobuf.
        let span: [UInt8] = [0xB0, 0x80, 0x00, 0x82, 0x80, 0x00]  // kind (field 6) = 2, tag and value padded
        let scopeSpans: [UInt8] = [0x12, UInt8(span.count)] + span
        let resourceSpans: [UInt8] = [0x12, UInt8(scopeSpans.count)] + scopeSpans
        let bytes: [UInt8] = [0x0A, 0x80 | UInt8(resourceSpans.count), 0x80, 0x80, 0x00] + resourceSpans
        let decoded = try OTLPProtobuf.decodeTraces(bytes)
        #expect(decoded.resourceSpans.count == 1)
        #expect(decoded.resourceSpans[0].scopeSpans[0].spans[0].kind == .server)
    }

    // MARK: - Fixtures from the official Python protobuf runtime

    static func fixture(_ name: String) throws -> [UInt8] {
        let url = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/otlp-examples/\(name).pb")
        return [UInt8](try Data(contentsOf: url))
    }

    @Test func traceFixture() throws {
        let bytes = try Self.fixture("trace")
        let traces = try OTLPProtobuf.decodeTraces(bytes)
        #expect(traces.resourceSpans.count == 1)
        let resourceSpans = try #require(traces.resourceSpans.first)
        #expect(resourceSpans.resource.attributes == [KeyValue("service.name", "my.service")])
        let scopeSpans = try #require(resourceSpans.scopeSpans.first)
        #expect(scopeSpans.scope == InstrumentationScope(name: "my.library", version: "1.0.0", attributes: [KeyValue("my.scope.attribute", "some scope attribute")]))
        #expect(scopeSpans.spans.count == 1)
        let span = try #require(scopeSpans.spans.first)
        #expect(span.traceID.hex == "5b8efff798038103d269b633813fc60c")
        #expect(span.spanID.hex == "eee19b7ec3c1b174")
        #expect(span.parentSpanID.hex == "eee19b7ec3c1b173")
        #expect(span.name == "I'm a server span")
        #expect(span.startTimeUnixNano == 1_544_712_660_000_000_000)
        #expect(span.endTimeUnixNano == 1_544_712_661_000_000_000)
        #expect(span.kind == .server)
        #expect(span.attributes == [KeyValue("my.span.attr", "some value")])
        #expect(span.status == SpanStatus())
        #expect(OTLPProtobuf.encodeTraces(traces) == bytes)
        #expect(try OTLPProtobuf.decodeTraces(OTLPProtobuf.encodeTraces(traces)) == traces)
    }

    @Test func metricsFixture() throws {
        let bytes = try Self.fixture("metrics")
        let metricsData = try OTLPProtobuf.decodeMetrics(bytes)
        #expect(metricsData.itemCount == 4)
        let scopeMetrics = try #require(metricsData.resourceMetrics.first?.scopeMetrics.first)
        #expect(metricsData.resourceMetrics[0].resource.attributes == [KeyValue("service.name", "my.service")])
        #expect(scopeMetrics.scope.name == "my.library")
        let metrics = scopeMetrics.metrics
        #expect(metrics.map(\.name) == ["my.counter", "my.gauge", "my.histogram", "my.exponential.histogram"])
        #expect(metrics.map(\.unit) == ["1", "1", "1", "1"])
        #expect(metrics.map(\.description) == ["I am a Counter", "I am a Gauge", "I am a Histogram", "I am an Exponential Histogram"])
        let time: UInt64 = 1_544_712_660_300_000_000

        #expect(
            metrics[0].data == .sum(Sum(
                dataPoints: [NumberDataPoint(attributes: [KeyValue("my.counter.attr", "some value")], startTimeUnixNano: time, timeUnixNano: time, value: .double(5))],
                aggregationTemporality: .delta, isMonotonic: true
            ))
        )
        #expect(
            metrics[1].data == .gauge(Gauge(dataPoints: [NumberDataPoint(attributes: [KeyValue("my.gauge.attr", "some value")], timeUnixNano: time, value: .double(10))]))
        )
        guard case .histogram(let histogram) = metrics[2].data, let point = histogram.dataPoints.first else {
            Issue.record("expected a histogram point")
            return
        }
        #expect(histogram.aggregationTemporality == .delta)
        #expect(point.startTimeUnixNano == time && point.timeUnixNano == time)
        #expect(point.count == 2)
        #expect(point.sum == 2)
        #expect(point.bucketCounts == [1, 1])
        #expect(point.explicitBounds == [1])
        #expect(point.min == 0 && point.max == 2)
        #expect(point.attributes == [KeyValue("my.histogram.attr", "some value")])
        guard case .exponentialHistogram(let exponential) = metrics[3].data, let expPoint = exponential.dataPoints.first else {
            Issue.record("expected an exponential histogram point")
            return
        }
        #expect(exponential.aggregationTemporality == .delta)
        #expect(expPoint.count == 3)
        #expect(expPoint.sum == 10)
        #expect(expPoint.scale == 0)
        #expect(expPoint.zeroCount == 1)
        #expect(expPoint.positive == .init(offset: 1, bucketCounts: [0, 2]))
        #expect(expPoint.negative == .init())
        #expect(expPoint.min == 0 && expPoint.max == 5)
        #expect(expPoint.zeroThreshold == 0)
        #expect(expPoint.attributes == [KeyValue("my.exponential.histogram.attr", "some value")])
        #expect(OTLPProtobuf.encodeMetrics(metricsData) == bytes)
        #expect(try OTLPProtobuf.decodeMetrics(OTLPProtobuf.encodeMetrics(metricsData)) == metricsData)
    }

    @Test func logsFixture() throws {
        let bytes = try Self.fixture("logs")
        let logs = try OTLPProtobuf.decodeLogs(bytes)
        #expect(logs.itemCount == 1)
        let scopeLogs = try #require(logs.resourceLogs.first?.scopeLogs.first)
        #expect(logs.resourceLogs[0].resource.attributes == [KeyValue("service.name", "my.service")])
        #expect(scopeLogs.scope.version == "1.0.0")
        let record = try #require(scopeLogs.logRecords.first)
        #expect(record.timeUnixNano == 1_544_712_660_300_000_000)
        #expect(record.observedTimeUnixNano == 1_544_712_660_300_000_000)
        #expect(record.severityNumber == SeverityNumber(rawValue: 10))
        #expect(record.severityText == "Information")
        #expect(record.traceID.hex == "5b8efff798038103d269b633813fc60c")
        #expect(record.spanID.hex == "eee19b7ec3c1b174")
        #expect(record.body == .string("Example log record"))
        #expect(record.eventName == "")
        #expect(
            record.attributes == [
                KeyValue("string.attribute", "some string"),
                KeyValue("boolean.attribute", true),
                KeyValue("int.attribute", 10),
                KeyValue("double.attribute", 637.704),
                KeyValue("array.attribute", .array(["many", "values"])),
                KeyValue("map.attribute", .keyValueList([KeyValue("some.map.key", "some value")])),
            ]
        )
        #expect(OTLPProtobuf.encodeLogs(logs) == bytes)
        #expect(try OTLPProtobuf.decodeLogs(OTLPProtobuf.encodeLogs(logs)) == logs)
    }

    @Test func eventsFixture() throws {
        let bytes = try Self.fixture("events")
        let logs = try OTLPProtobuf.decodeLogs(bytes)
        let record = try #require(logs.resourceLogs.first?.scopeLogs.first?.logRecords.first)
        #expect(record.eventName == "browser.page_view")
        #expect(record.timeUnixNano == 1_544_712_660_300_000_000)
        #expect(record.observedTimeUnixNano == 1_544_712_660_300_000_000)
        #expect(record.severityNumber == .info)
        #expect(record.severityText == "test severity text")
        #expect(record.traceID == .empty && record.spanID == .empty)
        #expect(record.attributes == [KeyValue("event.attribute", "some event attribute")])
        #expect(
            record.body == .keyValueList([
                KeyValue("type", 0),
                KeyValue("url", "https://www.guidgenerator.com/online-guid-generator.aspx"),
                KeyValue("referrer", "https://wwww.google.com"),
                KeyValue("title", "Free Online GUID Generator"),
            ])
        )
        #expect(OTLPProtobuf.encodeLogs(logs) == bytes)
        #expect(try OTLPProtobuf.decodeLogs(OTLPProtobuf.encodeLogs(logs)) == logs)
    }
}
