import Foundation
import LoupeModel
import LoupeWire
import Testing

// MARK: - Fixtures

/// The OTLP/JSON example requests: bundled copies, plus `../shared/conformance` when it exists.
enum OTLPJSONFixtures {
    static let exampleNames = ["trace", "metrics", "logs", "events"]

    static func bundledExample(_ name: String) throws -> [UInt8] {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures/otlp-examples"))
        return try Array(Data(contentsOf: url))
    }

    /// `<package root>/../shared/conformance`, when present (symlinks resolved, so a throwaway package
    /// that links this test folder still finds it).
    static let conformanceDirectory: URL? = {
        let testFile = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        let packageRoot = testFile.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/conformance")
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) && isDirectory.boolValue ? directory : nil
    }()

    static var hasConformance: Bool { conformanceDirectory != nil }

    static func sharedExample(_ name: String) throws -> [UInt8]? {
        guard let directory = conformanceDirectory else { return nil }
        return try Array(Data(contentsOf: directory.appendingPathComponent("otlp-examples/\(name).json")))
    }

    /// Every available copy of an example: the bundled one and the shared one.
    static func examples(_ name: String) throws -> [[UInt8]] {
        var copies = [try bundledExample(name)]
        if let shared = try sharedExample(name) { copies.append(shared) }
        return copies
    }

    static let tempoTraceNames = [
        "tempo-vulture-trace", "trace-with-both-db-attributes", "trace-with-db-namespace",
        "trace-with-db-system-and-system-name", "trace-with-db-system-name",
    ]

    static func tempoTrace(_ name: String) throws -> [UInt8] {
        let directory = try #require(conformanceDirectory)
        return try Array(Data(contentsOf: directory.appendingPathComponent("tempo-traces/\(name).json")))
    }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A trace request around one span object (given as JSON text).
func traceRequest(span: String) -> [UInt8] {
    bytes(#"{"resourceSpans":[{"scopeSpans":[{"spans":[\#(span)]}]}]}"#)
}

func onlySpan(_ data: TraceData) throws -> Span {
    try #require(data.resourceSpans.first?.scopeSpans.first?.spans.first)
}

// MARK: - Conformance examples

@Suite("OTLP/JSON examples")
struct OTLPJSONExampleTests {
    @Test func traceExample() throws {
        for json in try OTLPJSONFixtures.examples("trace") {
            let data = try OTLPJSON.decodeTraces(json)
            #expect(data.resourceSpans.count == 1)
            let resourceSpans = data.resourceSpans[0]
            #expect(resourceSpans.resource.attributes == [KeyValue("service.name", "my.service")])
            #expect(resourceSpans.scopeSpans.count == 1)
            let scopeSpans = resourceSpans.scopeSpans[0]
            #expect(scopeSpans.scope.name == "my.library")
            #expect(scopeSpans.scope.version == "1.0.0")
            #expect(scopeSpans.scope.attributes == [KeyValue("my.scope.attribute", "some scope attribute")])
            #expect(scopeSpans.spans.count == 1)
            let span = scopeSpans.spans[0]
            #expect(span.traceID == TraceID(high: 0x5B8E_FFF7_9803_8103, low: 0xD269_B633_813F_C60C))
            #expect(span.traceID.hex == "5b8efff798038103d269b633813fc60c")
            #expect(span.spanID == SpanID(value: 0xEEE1_9B7E_C3C1_B174))
            #expect(span.parentSpanID == SpanID(value: 0xEEE1_9B7E_C3C1_B173))
            #expect(span.name == "I'm a server span")
            #expect(span.startTimeUnixNano == 1_544_712_660_000_000_000)
            #expect(span.endTimeUnixNano == 1_544_712_661_000_000_000)
            #expect(span.kind == .server)
            #expect(span.attributes == [KeyValue("my.span.attr", "some value")])
            #expect(span.status == SpanStatus())
            #expect(span.events.isEmpty && span.links.isEmpty && span.flags == 0 && span.traceState.isEmpty)
        }
    }

    @Test func logsExample() throws {
        for json in try OTLPJSONFixtures.examples("logs") {
            let data = try OTLPJSON.decodeLogs(json)
            #expect(data.resourceLogs.count == 1)
            #expect(data.resourceLogs[0].resource.attributes == [KeyValue("service.name", "my.service")])
            let scopeLogs = try #require(data.resourceLogs[0].scopeLogs.first)
            #expect(scopeLogs.scope == InstrumentationScope(
                name: "my.library", version: "1.0.0", attributes: [KeyValue("my.scope.attribute", "some scope attribute")]))
            #expect(scopeLogs.logRecords.count == 1)
            let record = scopeLogs.logRecords[0]
            #expect(record.timeUnixNano == 1_544_712_660_300_000_000)
            #expect(record.observedTimeUnixNano == 1_544_712_660_300_000_000)
            #expect(record.severityNumber == SeverityNumber(rawValue: 10))
            #expect(record.severityNumber.levelName == "info")
            #expect(record.severityText == "Information")
            #expect(record.traceID.hex == "5b8efff798038103d269b633813fc60c")
            #expect(record.spanID.hex == "eee19b7ec3c1b174")
            #expect(record.body == .string("Example log record"))
            #expect(record.eventName == "")
            #expect(record.attributes.count == 6)
            #expect(record.attributes[attribute: "string.attribute"] == .string("some string"))
            #expect(record.attributes[attribute: "boolean.attribute"] == .bool(true))
            #expect(record.attributes[attribute: "int.attribute"] == .int(10))
            #expect(record.attributes[attribute: "double.attribute"] == .double(637.704))
            #expect(record.attributes[attribute: "array.attribute"] == .array([.string("many"), .string("values")]))
            #expect(record.attributes[attribute: "map.attribute"] == .keyValueList([KeyValue("some.map.key", "some value")]))
            #expect(record.attributes.map(\.key) == [
                "string.attribute", "boolean.attribute", "int.attribute", "double.attribute", "array.attribute", "map.attribute",
            ])
        }
    }

    @Test func eventsExample() throws {
        for json in try OTLPJSONFixtures.examples("events") {
            let data = try OTLPJSON.decodeLogs(json)
            let record = try #require(data.resourceLogs.first?.scopeLogs.first?.logRecords.first)
            #expect(record.eventName == "browser.page_view")
            #expect(record.timeUnixNano == 1_544_712_660_300_000_000)
            #expect(record.observedTimeUnixNano == 1_544_712_660_300_000_000)
            #expect(record.severityNumber == .info)
            #expect(record.severityText == "test severity text")
            #expect(record.traceID == .empty && record.spanID == .empty)
            #expect(record.attributes == [KeyValue("event.attribute", "some event attribute")])
            #expect(record.body == .keyValueList([
                KeyValue("type", .int(0)),
                KeyValue("url", "https://www.guidgenerator.com/online-guid-generator.aspx"),
                KeyValue("referrer", "https://wwww.google.com"),
                KeyValue("title", "Free Online GUID Generator"),
            ]))
        }
    }

    @Test func metricsExample() throws {
        for json in try OTLPJSONFixtures.examples("metrics") {
            let data = try OTLPJSON.decodeMetrics(json)
            #expect(data.itemCount == 4)
            let scopeMetrics = try #require(data.resourceMetrics.first?.scopeMetrics.first)
            #expect(data.resourceMetrics[0].resource.attributes == [KeyValue("service.name", "my.service")])
            #expect(scopeMetrics.scope.name == "my.library")
            #expect(scopeMetrics.metrics.map(\.name) == ["my.counter", "my.gauge", "my.histogram", "my.exponential.histogram"])
            #expect(scopeMetrics.metrics.map(\.unit) == ["1", "1", "1", "1"])
            #expect(scopeMetrics.metrics[0].description == "I am a Counter")

            guard case .sum(let sum) = scopeMetrics.metrics[0].data else {
                Issue.record("my.counter is not a sum")
                return
            }
            #expect(sum.aggregationTemporality == .delta)
            #expect(sum.isMonotonic)
            #expect(sum.dataPoints == [
                NumberDataPoint(
                    attributes: [KeyValue("my.counter.attr", "some value")], startTimeUnixNano: 1_544_712_660_300_000_000,
                    timeUnixNano: 1_544_712_660_300_000_000, value: .double(5))
            ])

            guard case .gauge(let gauge) = scopeMetrics.metrics[1].data else {
                Issue.record("my.gauge is not a gauge")
                return
            }
            #expect(gauge.dataPoints.count == 1)
            #expect(gauge.dataPoints[0].value == .double(10))
            #expect(gauge.dataPoints[0].startTimeUnixNano == 0)
            #expect(gauge.dataPoints[0].timeUnixNano == 1_544_712_660_300_000_000)
            #expect(gauge.dataPoints[0].attributes == [KeyValue("my.gauge.attr", "some value")])

            guard case .histogram(let histogram) = scopeMetrics.metrics[2].data else {
                Issue.record("my.histogram is not a histogram")
                return
            }
            #expect(histogram.aggregationTemporality == .delta)
            let point = try #require(histogram.dataPoints.first)
            #expect(point.count == 2)
            #expect(point.sum == 2)
            #expect(point.bucketCounts == [1, 1])
            #expect(point.explicitBounds == [1])
            #expect(point.min == 0)
            #expect(point.max == 2)
            #expect(point.attributes == [KeyValue("my.histogram.attr", "some value")])

            guard case .exponentialHistogram(let exponential) = scopeMetrics.metrics[3].data else {
                Issue.record("my.exponential.histogram is not an exponential histogram")
                return
            }
            #expect(exponential.aggregationTemporality == .delta)
            let exponentialPoint = try #require(exponential.dataPoints.first)
            #expect(exponentialPoint.count == 3)
            #expect(exponentialPoint.sum == 10)
            #expect(exponentialPoint.scale == 0)
            #expect(exponentialPoint.zeroCount == 1)
            #expect(exponentialPoint.positive == ExponentialHistogramDataPoint.Buckets(offset: 1, bucketCounts: [0, 2]))
            #expect(exponentialPoint.negative == ExponentialHistogramDataPoint.Buckets())
            #expect(exponentialPoint.min == 0)
            #expect(exponentialPoint.max == 5)
            #expect(exponentialPoint.zeroThreshold == 0)
            #expect(exponentialPoint.startTimeUnixNano == 1_544_712_660_300_000_000)
            #expect(exponentialPoint.attributes == [KeyValue("my.exponential.histogram.attr", "some value")])
        }
    }

    @Test(arguments: OTLPJSONFixtures.exampleNames)
    func exampleRoundTrips(name: String) throws {
        for json in try OTLPJSONFixtures.examples(name) {
            switch name {
            case "trace":
                let data = try OTLPJSON.decodeTraces(json)
                #expect(try OTLPJSON.decodeTraces(OTLPJSON.encodeTraces(data)) == data)
            case "metrics":
                let data = try OTLPJSON.decodeMetrics(json)
                #expect(try OTLPJSON.decodeMetrics(OTLPJSON.encodeMetrics(data)) == data)
            default:
                let data = try OTLPJSON.decodeLogs(json)
                #expect(try OTLPJSON.decodeLogs(OTLPJSON.encodeLogs(data)) == data)
            }
        }
    }

    @Test func bundledCopiesMatchShared() throws {
        for name in OTLPJSONFixtures.exampleNames {
            guard let shared = try OTLPJSONFixtures.sharedExample(name) else { return }
            #expect(try OTLPJSONFixtures.bundledExample(name) == shared, "Fixtures/otlp-examples/\(name).json differs from ../shared")
        }
    }
}

// MARK: - Tempo traces (base64 IDs)

@Suite("OTLP/JSON Tempo traces", .enabled(if: OTLPJSONFixtures.hasConformance, "needs ../shared/conformance"))
struct OTLPJSONTempoTests {
    @Test(arguments: OTLPJSONFixtures.tempoTraceNames)
    func decodesWithBase64IDs(name: String) throws {
        let data = try OTLPJSON.decodeTraces(OTLPJSONFixtures.tempoTrace(name))
        let spans = data.resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) }
        for span in spans {
            #expect(!span.traceID.isEmpty)
            #expect(!span.spanID.isEmpty)
        }
        #expect(Set(spans.map(\.traceID)).count == 1, "one trace per file")
        #expect(try OTLPJSON.decodeTraces(OTLPJSON.encodeTraces(data)) == data)

        if name == "tempo-vulture-trace" {
            #expect(data.resourceSpans.count == 2)
            #expect(data.resourceSpans.map { $0.scopeSpans.map(\.spans.count) } == [[4], [2]])
            #expect(data.resourceSpans[0].resource.attributes.count == 21)
            #expect(data.resourceSpans[0].resource.attributes[attribute: "service.name"] == .string("tempo-vulture"))
            #expect(data.resourceSpans[0].resource.attributes[attribute: "vulture-process-int-01"] == .int(164_005))
            let first = spans[0]
            #expect(first.traceID.hex == "3149195ffb0bec05347b48efe8ecc1b0")
            #expect(first.spanID.hex == "4b23de25d1fb6641")
            #expect(first.name == "vulture-68")
            #expect(first.startTimeUnixNano == 1_636_729_665_000_000_000)
            #expect(first.endTimeUnixNano == 1_636_729_665_000_092_000)
            #expect(first.attributes[attribute: "http.status_code"] == .int(110))
            #expect(first.attributes[attribute: "vulture-0"] == .string("fHUmlKSKNesiAcmWAN"))
            #expect(first.events.first?.timeUnixNano == 1_636_729_665_000_000_000)
            #expect(first.events.first?.attributes[attribute: "vulture-event-int-01"] == .int(424_354))
            #expect(spans.reduce(0) { $0 + $1.events.count } == 18)
            let last = try #require(spans.last)
            #expect(last.name == "vulture-38")
            #expect(last.spanID.hex == "5ef2b292ae1ab9e8")
            #expect(last.parentSpanID.hex == "083a27a20c7b6de3")
            #expect(last.endTimeUnixNano == 1_636_729_665_000_056_000)
            let secondResourceSpan = data.resourceSpans[1].scopeSpans[0].spans[0]
            #expect(secondResourceSpan.name == "vulture-36")
            #expect(secondResourceSpan.spanID.hex == "083a27a20c7b6de3")
            #expect(secondResourceSpan.events.first?.attributes[attribute: "vulture-event-1"] == .string("JXypoEBlWWLqqhyCbyP"))
        } else {
            #expect(data.resourceSpans.count == 19)
            #expect(spans.count == 19)
            let first = spans[0]
            #expect(first.traceID.hex == "4290b5877a9930de79bb428365398ecc")
            #expect(first.spanID.hex == "d606579e57787587")
            #expect(first.parentSpanID == .empty)
            #expect(first.name == "requester")
            #expect(first.kind == .client)  // "SPAN_KIND_CLIENT"
            #expect(first.status.code == .ok)  // "STATUS_CODE_OK"
            #expect(first.startTimeUnixNano == 1_658_320_854_877_522_688)
            #expect(first.attributes == [KeyValue("beast", "manticore"), KeyValue("god", "ares")])
            #expect(data.resourceSpans[0].resource.attributes[attribute: "telemetry.sdk.language"] == .string("nodejs"))
            #expect(data.resourceSpans[0].scopeSpans[0].scope.name == "mythical-requester")
            let last = try #require(spans.last)
            #expect(last.name == "process_message")
            #expect(last.kind == .internal)
            #expect(last.spanID.hex == "8fd5a2281e4f18ac")
            #expect(last.parentSpanID.hex == "a8c3fb56334620af")
            #expect(last.endTimeUnixNano == 1_658_320_854_963_292_160)
            let query = data.resourceSpans[7].scopeSpans[0].spans[0]
            #expect(query.name == "pg.query:SELECT")
            #expect(query.spanID.hex == "253e212fe234216c")
            #expect(query.attributes[attribute: "db.statement"] == .string("SELECT name from manticore"))
            switch name {
            case "trace-with-both-db-attributes":
                #expect(query.attributes[attribute: "db.name"] == .string("postgres"))
                #expect(query.attributes[attribute: "db.namespace"] == .string("priority-db"))
            case "trace-with-db-namespace":
                #expect(query.attributes[attribute: "db.namespace"] == .string("mydb"))
                #expect(query.attributes[attribute: "db.system"] == .string("postgresql"))
            case "trace-with-db-system-and-system-name":
                #expect(query.attributes[attribute: "db.system"] == .string("mssql"))
                #expect(query.attributes[attribute: "db.system.name"] == .string("microsoft.sql_server"))
            default:
                #expect(query.attributes[attribute: "db.system.name"] == .string("postgresql"))
                #expect(query.attributes[attribute: "db.system"] == nil)
            }
        }
    }
}

// MARK: - Round trips

/// Values that exercise every field of the model, including edge values.
enum OTLPJSONSamples {
    static let trickyStrings = [
        "", "plain", "quote \" backslash \\ slash /", "controls \u{0} \u{1} \u{8} \u{9} \u{A} \u{C} \u{D} \u{1F} \u{7F}",
        "unicode é ü 漢字 😀 \u{2028}\u{2029}", String(repeating: "long attribute value ", count: 20),
    ]

    static let anyValues: [AnyValue] = [
        .empty, .string(""), .string("text"), .bool(false), .bool(true), .int(0), .int(-1), .int(.max), .int(.min),
        .double(0), .double(-0.0), .double(1.5), .double(-2.25e-300), .double(.greatestFiniteMagnitude),
        .double(.leastNonzeroMagnitude), .double(.infinity), .double(-.infinity), .double(0.1 + 0.2), .double(1e21),
        .double(123_456_789_012_345_680), .bytes([]), .bytes([0]), .bytes([0xFF, 0xFE]), .bytes(Array(0...255)),
        .array([]), .array([.empty, .int(1), .array([.string("nested")])]),
        .keyValueList([]), .keyValueList([KeyValue("", .empty), KeyValue("k", .keyValueList([KeyValue("deep", .bool(true))]))]),
    ]

    static var attributes: [KeyValue] {
        var result = anyValues.enumerated().map { KeyValue("attribute.\($0.offset)", $0.element) }
        result += trickyStrings.enumerated().map { KeyValue($0.element, .string($0.element)) }
        return result
    }

    static let resource = Resource(
        attributes: [KeyValue("service.name", "checkout"), KeyValue("host.name", "a-rather-long-host-name.example.internal")],
        droppedAttributesCount: 3,
        entityRefs: [
            EntityRef(schemaURL: "https://opentelemetry.io/schemas/1.30.0", type: "service", idKeys: ["service.name", "service.namespace"],
                      descriptionKeys: ["service.version"]),
            EntityRef(type: "host", idKeys: ["host.id"]),
        ]
    )

    static let scope = InstrumentationScope(name: "io.opentelemetry.http", version: "2.1.0", attributes: [KeyValue("scope.attr", 7)],
                                            droppedAttributesCount: 1)

    static var traces: TraceData {
        let fullSpan = Span(
            traceID: TraceID(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210), spanID: SpanID(value: 0x0011_2233_4455_6677),
            traceState: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", parentSpanID: SpanID(value: .max), flags: 0x301,
            name: "GET /api/orders/{id}", kind: .server, startTimeUnixNano: 1, endTimeUnixNano: .max, attributes: attributes,
            droppedAttributesCount: 4,
            events: [
                SpanEvent(timeUnixNano: 1_700_000_000_000_000_001, name: "exception", attributes: [KeyValue("exception.type", "IOError")],
                          droppedAttributesCount: 2),
                SpanEvent(),
            ],
            droppedEventsCount: 5,
            links: [
                SpanLink(traceID: TraceID(high: 1, low: 2), spanID: SpanID(value: 3), traceState: "a=b", attributes: [KeyValue("link", true)],
                         droppedAttributesCount: 6, flags: 0x100),
                SpanLink(),
            ],
            droppedLinksCount: 7,
            status: SpanStatus(message: "upstream failed: \"timeout\"", code: .error)
        )
        let oddSpan = Span(kind: SpanKind(rawValue: 99), status: SpanStatus(code: StatusCode(rawValue: -3)))
        return TraceData(resourceSpans: [
            ResourceSpans(
                resource: resource,
                scopeSpans: [
                    ScopeSpans(scope: scope, spans: [fullSpan, oddSpan, Span()], schemaURL: "https://opentelemetry.io/schemas/1.26.0"),
                    ScopeSpans(),
                ],
                schemaURL: "https://opentelemetry.io/schemas/1.27.0"
            ),
            ResourceSpans(),
        ])
    }

    static var logs: LogsData {
        var records: [LogRecord] = [
            LogRecord(
                timeUnixNano: 1_700_000_000_123_456_789, observedTimeUnixNano: .max, severityNumber: SeverityNumber(rawValue: 24),
                severityText: "FATAL4", body: .string("disk full"), attributes: attributes, droppedAttributesCount: 8, flags: 1,
                traceID: TraceID(high: .max, low: .max), spanID: SpanID(value: 1), eventName: "device.app.lifecycle"
            ),
            LogRecord(body: .empty),
            LogRecord(body: nil),
            LogRecord(severityNumber: SeverityNumber(rawValue: -7)),
        ]
        records += anyValues.map { LogRecord(body: $0) }
        return LogsData(resourceLogs: [
            ResourceLogs(resource: resource, scopeLogs: [ScopeLogs(scope: scope, logRecords: records, schemaURL: "s")], schemaURL: "r"),
            ResourceLogs(scopeLogs: [ScopeLogs()]),
        ])
    }

    static var metrics: MetricsData {
        let exemplar = Exemplar(
            filteredAttributes: [KeyValue("user.id", "42")], timeUnixNano: 17, value: .int(-5), spanID: SpanID(value: 0xAB),
            traceID: TraceID(high: 0xCD, low: 0xEF))
        let exemplarDouble = Exemplar(value: .double(0.25))
        let numberPoints = [
            NumberDataPoint(attributes: [KeyValue("a", "b")], startTimeUnixNano: 1, timeUnixNano: 2, value: .double(3.5),
                            exemplars: [exemplar, exemplarDouble, Exemplar()], flags: .noRecordedValue),
            NumberDataPoint(value: .int(0)),
            NumberDataPoint(value: .int(.min)),
            NumberDataPoint(value: .double(0)),
            NumberDataPoint(value: .double(-.infinity)),
            NumberDataPoint(),
            NumberDataPoint(flags: DataPointFlags(rawValue: .max)),
        ]
        let histogramPoints = [
            HistogramDataPoint(
                attributes: [KeyValue("route", "/")], startTimeUnixNano: 10, timeUnixNano: 20, count: .max, sum: 12.75,
                bucketCounts: [0, 1, .max, 3], explicitBounds: [-1.5, 0, 0.005, 1e300], exemplars: [exemplar], flags: .noRecordedValue,
                min: -0.0, max: .infinity),
            HistogramDataPoint(sum: 0, min: 0, max: 0),
            HistogramDataPoint(),
        ]
        let exponentialPoints = [
            ExponentialHistogramDataPoint(
                attributes: [KeyValue("x", 1)], startTimeUnixNano: 1, timeUnixNano: 2, count: 9, sum: 3.25, scale: -4, zeroCount: 2,
                positive: .init(offset: -3, bucketCounts: [1, 0, 4]), negative: .init(offset: 2, bucketCounts: [1]), flags: .noRecordedValue,
                exemplars: [exemplarDouble], min: -1, max: 8, zeroThreshold: 1e-9),
            ExponentialHistogramDataPoint(sum: 0, scale: 20, positive: .init(offset: 5), negative: .init(bucketCounts: [0]), min: 0,
                                          zeroThreshold: -0.0),
            ExponentialHistogramDataPoint(),
        ]
        let summaryPoints = [
            SummaryDataPoint(
                attributes: [KeyValue("q", true)], startTimeUnixNano: 3, timeUnixNano: 4, count: 100, sum: 1234.5,
                quantileValues: [.init(quantile: 0, value: 1), .init(quantile: 0.5, value: 0), .init(quantile: 1, value: 99.9)],
                flags: .noRecordedValue),
            SummaryDataPoint(sum: -0.0, quantileValues: [.init(quantile: 0, value: 0)]),
        ]
        let metrics = [
            Metric(name: "requests", description: "All requests", unit: "{request}",
                   data: .sum(Sum(dataPoints: numberPoints, aggregationTemporality: .cumulative, isMonotonic: true)),
                   metadata: [KeyValue("prometheus.type", "counter")]),
            Metric(name: "sum.default", data: .sum(Sum())),
            Metric(name: "temperature", data: .gauge(Gauge(dataPoints: numberPoints))),
            Metric(name: "gauge.empty", data: .gauge(Gauge())),
            Metric(name: "latency", unit: "s",
                   data: .histogram(Histogram(dataPoints: histogramPoints, aggregationTemporality: .delta))),
            Metric(name: "histogram.empty", data: .histogram(Histogram())),
            Metric(name: "latency.exp",
                   data: .exponentialHistogram(ExponentialHistogram(dataPoints: exponentialPoints,
                                                                    aggregationTemporality: AggregationTemporality(rawValue: 7)))),
            Metric(name: "exp.empty", data: .exponentialHistogram(ExponentialHistogram())),
            Metric(name: "rpc.summary", data: .summary(Summary(dataPoints: summaryPoints))),
            Metric(name: "summary.empty", data: .summary(Summary())),
            Metric(name: "no.data"),
            Metric(),
        ]
        return MetricsData(resourceMetrics: [
            ResourceMetrics(resource: resource, scopeMetrics: [ScopeMetrics(scope: scope, metrics: metrics, schemaURL: "m")], schemaURL: "rm"),
            ResourceMetrics(),
        ])
    }
}

@Suite("OTLP/JSON round trips")
struct OTLPJSONRoundTripTests {
    @Test func traces() throws {
        let data = OTLPJSONSamples.traces
        let json = OTLPJSON.encodeTraces(data)
        let decoded = try OTLPJSON.decodeTraces(json)
        #expect(decoded == data)
        // The encoding is deterministic and stable under a second round trip.
        #expect(OTLPJSON.encodeTraces(decoded) == json)
    }

    @Test func logs() throws {
        let data = OTLPJSONSamples.logs
        let json = OTLPJSON.encodeLogs(data)
        let decoded = try OTLPJSON.decodeLogs(json)
        #expect(decoded == data)
        #expect(OTLPJSON.encodeLogs(decoded) == json)
    }

    @Test func metrics() throws {
        let data = OTLPJSONSamples.metrics
        let json = OTLPJSON.encodeMetrics(data)
        let decoded = try OTLPJSON.decodeMetrics(json)
        #expect(decoded == data)
        #expect(OTLPJSON.encodeMetrics(decoded) == json)
    }

    @Test func negativeZeroKeepsItsSign() throws {
        let data = try OTLPJSON.decodeLogs(OTLPJSON.encodeLogs(LogsData(resourceLogs: [
            ResourceLogs(scopeLogs: [ScopeLogs(logRecords: [LogRecord(body: .double(-0.0))])])
        ])))
        guard case .double(let value) = data.resourceLogs[0].scopeLogs[0].logRecords[0].body else {
            Issue.record("not a double")
            return
        }
        #expect(value.bitPattern == (-0.0 as Double).bitPattern)
    }

    @Test func nanSurvivesAsNaN() throws {
        let point = HistogramDataPoint(sum: .nan, explicitBounds: [.nan], min: .nan, max: 1)
        let data = MetricsData(resourceMetrics: [
            ResourceMetrics(scopeMetrics: [ScopeMetrics(metrics: [
                Metric(name: "nan", data: .histogram(Histogram(dataPoints: [point]))),
                Metric(name: "g", data: .gauge(Gauge(dataPoints: [NumberDataPoint(value: .double(.nan))]))),
            ])])
        ])
        let json = OTLPJSON.encodeMetrics(data)
        #expect(String(decoding: json, as: UTF8.self).contains(#""sum":"NaN""#))
        let decoded = try OTLPJSON.decodeMetrics(json)
        guard case .histogram(let histogram) = decoded.resourceMetrics[0].scopeMetrics[0].metrics[0].data,
            case .gauge(let gauge) = decoded.resourceMetrics[0].scopeMetrics[0].metrics[1].data
        else {
            Issue.record("wrong kinds")
            return
        }
        #expect(histogram.dataPoints[0].sum?.isNaN == true)
        #expect(histogram.dataPoints[0].min?.isNaN == true)
        #expect(histogram.dataPoints[0].explicitBounds.count == 1 && histogram.dataPoints[0].explicitBounds[0].isNaN)
        #expect(histogram.dataPoints[0].max == 1)
        guard case .double(let value) = gauge.dataPoints[0].value else {
            Issue.record("not a double")
            return
        }
        #expect(value.isNaN)
        let body = try OTLPJSON.decodeLogs(bytes(#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"doubleValue":"NaN"}}]}]}]}"#))
        guard case .double(let bodyValue) = body.resourceLogs[0].scopeLogs[0].logRecords[0].body else {
            Issue.record("not a double")
            return
        }
        #expect(bodyValue.isNaN)
    }

    /// Seeded random models: decode(encode(x)) == x.
    @Test func randomModels() throws {
        var random = OTLPJSONTestRandom(seed: 0xC0FFEE)
        for _ in 0..<200 {
            let logs = LogsData(resourceLogs: [
                ResourceLogs(scopeLogs: [ScopeLogs(logRecords: (0..<3).map { _ in
                    LogRecord(timeUnixNano: random.next(), severityNumber: SeverityNumber(rawValue: Int32(truncatingIfNeeded: random.next())),
                              body: random.anyValue(depth: 3), attributes: [KeyValue(random.string(), random.anyValue(depth: 2))],
                              flags: UInt32(truncatingIfNeeded: random.next()),
                              traceID: TraceID(high: random.next(), low: random.next()), spanID: SpanID(value: random.next()))
                })])
            ])
            #expect(try OTLPJSON.decodeLogs(OTLPJSON.encodeLogs(logs)) == logs)
        }
    }
}

/// SplitMix64, for reproducible random tests.
struct OTLPJSONTestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func string() -> String {
        let pieces = ["a", "Z", "0", " ", "\"", "\\", "\n", "\u{0}", "\u{1F}", "é", "漢", "😀", "/", "_", "."]
        return (0..<below(12)).map { _ in pieces[below(pieces.count)] }.joined()
    }

    mutating func double() -> Double {
        switch below(6) {
        case 0: return Double(bitPattern: next())  // any bit pattern, maybe NaN
        case 1: return Double(Int64(bitPattern: next()) % 1_000_000) / 1000
        case 2: return [0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude][below(6)]
        default: return Double(bitPattern: next() & 0x7FEF_FFFF_FFFF_FFFF)
        }
    }

    mutating func anyValue(depth: Int) -> AnyValue {
        switch below(depth > 0 ? 9 : 7) {
        case 0: return .empty
        case 1: return .string(string())
        case 2: return .bool(below(2) == 0)
        case 3: return .int(Int64(bitPattern: next()))
        case 4:
            let value = double()
            return .double(value.isNaN ? 0 : value)  // NaN != NaN: tested separately
        case 5: return .bytes((0..<below(9)).map { _ in UInt8(truncatingIfNeeded: next()) })
        case 6: return .string("")
        case 7: return .array((0..<below(4)).map { _ in anyValue(depth: depth - 1) })
        default: return .keyValueList((0..<below(4)).map { _ in KeyValue(string(), anyValue(depth: depth - 1)) })
        }
    }
}

// MARK: - Encoding details

@Suite("OTLP/JSON encoding")
struct OTLPJSONEncodingTests {
    @Test func spanEncodingIsSpecConformant() {
        let data = TraceData(resourceSpans: [
            ResourceSpans(
                resource: Resource(attributes: [KeyValue("service.name", "api")]),
                scopeSpans: [
                    ScopeSpans(spans: [
                        Span(
                            traceID: TraceID(high: 0x5B8E_FFF7_9803_8103, low: 0xD269_B633_813F_C60C), spanID: SpanID(value: 0xEEE1_9B7E_C3C1_B174),
                            name: "n", kind: .client, startTimeUnixNano: 1_544_712_660_000_000_000,
                            attributes: [KeyValue("i", .int(10)), KeyValue("d", .double(1.5)), KeyValue("b", .bytes([1, 2, 3]))],
                            status: SpanStatus(code: .error))
                    ])
                ])
        ])
        let json = String(decoding: OTLPJSON.encodeTraces(data), as: UTF8.self)
        #expect(json == #"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},"#
            + #""scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"n","kind":3,"#
            + #""startTimeUnixNano":"1544712660000000000","attributes":[{"key":"i","value":{"intValue":"10"}},"#
            + #"{"key":"d","value":{"doubleValue":1.5}},{"key":"b","value":{"bytesValue":"AQID"}}],"status":{"code":2}}]}]}]}"#)
    }

    @Test func emptyRequestsEncodeAsEmptyObjects() {
        #expect(OTLPJSON.encodeTraces(TraceData()) == bytes("{}"))
        #expect(OTLPJSON.encodeLogs(LogsData()) == bytes("{}"))
        #expect(OTLPJSON.encodeMetrics(MetricsData()) == bytes("{}"))
    }

    @Test func presenceIsKeptWhereTheModelHasIt() {
        let logs = String(decoding: OTLPJSON.encodeLogs(LogsData(resourceLogs: [
            ResourceLogs(scopeLogs: [ScopeLogs(logRecords: [LogRecord(body: .empty), LogRecord(body: .int(0)), LogRecord()])])
        ])), as: UTF8.self)
        #expect(logs == #"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{}},{"body":{"intValue":"0"}},{}]}]}]}"#)

        let metrics = String(decoding: OTLPJSON.encodeMetrics(MetricsData(resourceMetrics: [
            ResourceMetrics(scopeMetrics: [ScopeMetrics(metrics: [
                Metric(name: "g", data: .gauge(Gauge(dataPoints: [NumberDataPoint(value: .double(0))]))),
                Metric(name: "h", data: .histogram(Histogram(dataPoints: [HistogramDataPoint(sum: 0, min: 0)]))),
            ])])
        ])), as: UTF8.self)
        #expect(metrics == #"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[{"asDouble":0}]}},"#
            + #"{"name":"h","histogram":{"dataPoints":[{"sum":0,"min":0}]}}]}]}]}"#)
    }

    @Test func stringsAreEscaped() throws {
        let name = "a\"b\\c\nd\u{1}e\u{7F}é😀"
        let json = String(decoding: OTLPJSON.encodeTraces(TraceData(resourceSpans: [
            ResourceSpans(scopeSpans: [ScopeSpans(spans: [Span(name: name)])])
        ])), as: UTF8.self)
        #expect(json.contains(#""name":"a\"b\\c\nd\u0001e\#u{7F}é😀""#))
    }

    @Test func doublesUseShortestForm() {
        let values: [(Double, String)] = [
            (5, "5"), (-3, "-3"), (0.1, "0.1"), (1.5e-7, "1.5e-07"), (1e21, "1e+21"), (-0.0, "-0"), (.infinity, "\"Infinity\""),
            (-.infinity, "\"-Infinity\""), (.nan, "\"NaN\""), (123_456_789_012_345_680, "1.2345678901234568e+17"),
        ]
        for (value, text) in values {
            let json = String(decoding: OTLPJSON.encodeLogs(LogsData(resourceLogs: [
                ResourceLogs(scopeLogs: [ScopeLogs(logRecords: [LogRecord(body: .double(value))])])
            ])), as: UTF8.self)
            #expect(json.contains(#"{"doubleValue":\#(text)}"#), "\(value) -> \(json)")
        }
    }

    @Test func exportResponses() {
        #expect(OTLPJSON.encodeExportResponse(signal: .traces, rejectedItems: 0, errorMessage: "") == bytes("{}"))
        #expect(OTLPJSON.encodeExportResponse(signal: .traces, rejectedItems: 3, errorMessage: "bad \"span\"")
            == bytes(#"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"bad \"span\""}}"#))
        #expect(OTLPJSON.encodeExportResponse(signal: .metrics, rejectedItems: 12, errorMessage: "")
            == bytes(#"{"partialSuccess":{"rejectedDataPoints":"12"}}"#))
        #expect(OTLPJSON.encodeExportResponse(signal: .logs, rejectedItems: 1, errorMessage: "x")
            == bytes(#"{"partialSuccess":{"rejectedLogRecords":"1","errorMessage":"x"}}"#))
        #expect(OTLPJSON.encodeExportResponse(signal: .logs, rejectedItems: 0, errorMessage: "warning only")
            == bytes(#"{"partialSuccess":{"errorMessage":"warning only"}}"#))
    }

    @Test func exportResponsesDecode() throws {
        let response = try OTLPJSON.decodeExportResponse(OTLPJSON.encodeExportResponse(signal: .metrics, rejectedItems: 12, errorMessage: "m"))
        #expect(response.rejectedItems == 12 && response.errorMessage == "m")
        let empty = try OTLPJSON.decodeExportResponse(bytes("{}"))
        #expect(empty.rejectedItems == 0 && empty.errorMessage == "")
    }

    @Test func statusDecodes() throws {
        let status = try OTLPJSON.decodeStatus(OTLPJSON.encodeStatus(code: 3, message: "bad \u{1} thing"))
        #expect(status.code == 3 && status.message == "bad \u{1} thing")
        let withDetails = try OTLPJSON.decodeStatus(bytes(#"{"code":"14","message":"unavailable","details":[{"@type":"x"}]}"#))
        #expect(withDetails.code == 14 && withDetails.message == "unavailable")
    }

    @Test func genericEntryPoints() throws {
        let traces = OTLPJSONSamples.traces
        #expect(OTLPJSON.encode(traces) == OTLPJSON.encodeTraces(traces))
        #expect(try OTLPJSON.decode(TraceData.self, from: OTLPJSON.encode(traces)) == traces)
        let logs = OTLPJSONSamples.logs
        #expect(try OTLPJSON.decode(LogsData.self, from: OTLPJSON.encode(logs)) == logs)
        let metrics = OTLPJSONSamples.metrics
        let json = OTLPJSON.encode(metrics)
        let decoded = try json.withUnsafeBytes { buffer in try OTLPJSON.decode(MetricsData.self, from: buffer) }
        #expect(decoded == metrics)
    }

    @Test func status() {
        #expect(OTLPJSON.encodeStatus(code: 3, message: "invalid trace ID") == bytes(#"{"code":3,"message":"invalid trace ID"}"#))
        #expect(OTLPJSON.encodeStatus(code: 8, message: "") == bytes(#"{"code":8}"#))
        #expect(OTLPJSON.encodeStatus(code: 0, message: "") == bytes("{}"))
    }
}

// MARK: - Lenient decoding

@Suite("OTLP/JSON lenient decoding")
struct OTLPJSONLenientTests {
    @Test func idsInHexAndBase64() throws {
        let expectedTrace = TraceID(high: 0x5B8E_FFF7_9803_8103, low: 0xD269_B633_813F_C60C)
        let expectedSpan = SpanID(value: 0xEEE1_9B7E_C3C1_B174)
        let traceBase64 = "W47/95gDgQPSabYzgT/GDA=="
        let spanBase64 = "7uGbfsPBsXQ="
        let forms: [(String, String)] = [
            ("5B8EFFF798038103D269B633813FC60C", "EEE19B7EC3C1B174"),
            ("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"),
            ("5b8EFFF798038103d269b633813FC60c", "EeE19b7eC3c1B174"),
            (traceBase64, spanBase64),
            (String(traceBase64.dropLast(2)), String(spanBase64.dropLast())),  // unpadded
            ("W47_95gDgQPSabYzgT_GDA==", "7uGbfsPBsXQ="),  // URL-safe
        ]
        for (trace, span) in forms {
            let decoded = try onlySpan(OTLPJSON.decodeTraces(traceRequest(span: #"{"traceId":"\#(trace)","spanId":"\#(span)","parentSpanId":"\#(span)"}"#)))
            #expect(decoded.traceID == expectedTrace, "\(trace)")
            #expect(decoded.spanID == expectedSpan, "\(span)")
            #expect(decoded.parentSpanID == expectedSpan)
        }
        let empty = try onlySpan(OTLPJSON.decodeTraces(traceRequest(span: #"{"traceId":"","spanId":"","parentSpanId":""}"#)))
        #expect(empty.traceID == .empty && empty.spanID == .empty && empty.parentSpanID == .empty)
    }

    /// Every printable ASCII byte in every position of a trace and span ID: only hex digits are accepted,
    /// and they decode to the right nibble.
    @Test func hexDigitsExhaustively() throws {
        let traceHex = Array("0123456789abcdefABCDEF0123456789".utf8)
        let spanHex = Array("fedcba9876543210".utf8)
        func nibble(_ byte: UInt8) -> UInt64? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt64(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt64(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt64(byte - UInt8(ascii: "A") + 10)
            default: nil
            }
        }
        func value(_ digits: ArraySlice<UInt8>) -> UInt64 { digits.reduce(0) { $0 << 4 | nibble($1)! } }
        for position in 0..<32 {
            for byte in UInt8(0x20)..<UInt8(0x7F) where byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                var trace = traceHex
                trace[position] = byte
                var span = spanHex
                span[position % 16] = byte
                let json = traceRequest(span: #"{"traceId":"\#(String(decoding: trace, as: UTF8.self))","spanId":"\#(String(decoding: span, as: UTF8.self))"}"#)
                if nibble(byte) == nil {
                    #expect(throws: WireError.self) { try OTLPJSON.decodeTraces(json) }
                } else {
                    let decoded = try onlySpan(OTLPJSON.decodeTraces(json))
                    #expect(decoded.traceID == TraceID(high: value(trace[0..<16]), low: value(trace[16..<32])))
                    #expect(decoded.spanID == SpanID(value: value(span[0..<16])))
                }
            }
        }
        // Bytes above ASCII are rejected too.
        for byte in [UInt8(0x80), 0xB0, 0xC3, 0xE6, 0xFF] {
            var trace = traceHex
            trace[7] = byte
            #expect(throws: WireError.self) { try OTLPJSON.decodeTraces(traceRequest(span: #"{"traceId":"\#(String(decoding: trace, as: UTF8.self))"}"#)) }
        }
    }

    @Test func enumNamesAndNumbers() throws {
        let forms: [(String, SpanKind, StatusCode)] = [
            (#""kind":2,"status":{"code":2}"#, .server, .error),
            (#""kind":"SPAN_KIND_PRODUCER","status":{"code":"STATUS_CODE_OK"}"#, .producer, .ok),
            (#""kind":"3","status":{"code":"1"}"#, .client, .ok),
            (#""kind":42,"status":{"code":-1}"#, SpanKind(rawValue: 42), StatusCode(rawValue: -1)),
            (#""kind":"SPAN_KIND_UNSPECIFIED","status":{"code":"STATUS_CODE_UNSET"}"#, .unspecified, .unset),
        ]
        for (fields, kind, code) in forms {
            let span = try onlySpan(OTLPJSON.decodeTraces(traceRequest(span: "{\(fields)}")))
            #expect(span.kind == kind)
            #expect(span.status.code == code)
        }
        let logs = try OTLPJSON.decodeLogs(bytes(#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"SEVERITY_NUMBER_WARN3"},{"severityNumber":"SEVERITY_NUMBER_FATAL4"}]}]}]}"#))
        #expect(logs.resourceLogs[0].scopeLogs[0].logRecords.map(\.severityNumber.rawValue) == [15, 24])
        let metrics = try OTLPJSON.decodeMetrics(bytes(#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE"}}]}]}]}"#))
        #expect(metrics.resourceMetrics[0].scopeMetrics[0].metrics[0].data == .sum(Sum(aggregationTemporality: .cumulative)))
    }

    @Test func integersAsNumbersOrStrings() throws {
        let forms = [
            #""startTimeUnixNano":"18446744073709551615""#, #""startTimeUnixNano":18446744073709551615"#,
            #""startTimeUnixNano":1.8446744073709551615e19"#, #""startTimeUnixNano":"1.8446744073709551615E+19""#,
        ]
        for form in forms {
            #expect(try onlySpan(OTLPJSON.decodeTraces(traceRequest(span: "{\(form)}"))).startTimeUnixNano == .max, "\(form)")
        }
        let span = try onlySpan(OTLPJSON.decodeTraces(traceRequest(span: #"{"startTimeUnixNano":1e3,"endTimeUnixNano":"2000.000","flags":"257","droppedAttributesCount":4.0,"droppedEventsCount":0,"droppedLinksCount":"-0"}"#)))
        #expect(span.startTimeUnixNano == 1000 && span.endTimeUnixNano == 2000 && span.flags == 257 && span.droppedAttributesCount == 4)
        let values = try OTLPJSON.decodeLogs(bytes(#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"intValue":-9223372036854775808}},{"body":{"intValue":"9223372036854775807"}},{"body":{"intValue":"-12"}}]}]}]}"#))
        #expect(values.resourceLogs[0].scopeLogs[0].logRecords.map(\.body) == [.int(.min), .int(.max), .int(-12)])
    }

    @Test func doublesInEveryForm() throws {
        let forms: [(String, Double)] = [
            ("1", 1), ("-1.5", -1.5), ("2.5e3", 2500), ("1E-2", 0.01), (#""3.25""#, 3.25), (#""Infinity""#, .infinity),
            (#""-Infinity""#, -.infinity), ("0", 0), ("-0", -0.0), ("1e400", .infinity), ("1e-400", 0),
            ("0.1000000000000000055511151231257827021181583404541015625", 0.1), ("123456789012345678901234567890", 1.2345678901234568e29),
            ("9007199254740993", 9_007_199_254_740_992), ("4.9406564584124654e-324", .leastNonzeroMagnitude),
        ]
        for (text, expected) in forms {
            let logs = try OTLPJSON.decodeLogs(bytes(#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"doubleValue":\#(text)}}]}]}]}"#))
            guard case .double(let value) = logs.resourceLogs[0].scopeLogs[0].logRecords[0].body else {
                Issue.record("\(text) did not decode as a double")
                continue
            }
            #expect(value.bitPattern == expected.bitPattern, "\(text) -> \(value)")
        }
    }

    @Test func bytesValueInBase64Variants() throws {
        let forms = ["+/+/", "-_-_", "AQID", "AQIDBA==", "AQIDBA", "AQIDBAU=", "AQIDBAU", ""]
        let expected: [[UInt8]] = [[0xFB, 0xFF, 0xBF], [0xFB, 0xFF, 0xBF], [1, 2, 3], [1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4, 5], [1, 2, 3, 4, 5], []]
        for (form, bytesValue) in zip(forms, expected) {
            let logs = try OTLPJSON.decodeLogs(bytes(#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"bytesValue":"\#(form)"}}]}]}]}"#))
            #expect(logs.resourceLogs[0].scopeLogs[0].logRecords[0].body == .bytes(bytesValue), "\(form)")
        }
    }

    @Test func snakeCaseNamesNullsUnknownFieldsAndWhitespace() throws {
        let json = """
            \u{FEFF}{
              "resource_spans" : [ {
                "resource": null,
                "schema_url": "u",
                "future_field": {"nested": [1, 2.5, "x", true, false, null, {"a": []}]},
                "scope_spans": [ {
                  "scope": { "name": "s", "dropped_attributes_count": 2 },
                  "spans": [ {
                    "trace_id": "5B8EFFF798038103D269B633813FC60C",
                    "span_id" : "EEE19B7EC3C1B174",
                    "parent_span_id": null,
                    "name": null,
                    "start_time_unix_nano": "5",
                    "attributes": [ { "key": "k", "value": null }, { "key": "k2", "value": { "string_value": "v", "unknown": 1 } } ],
                    "status": { "code": null, "message": "m" },
                    "unknownScalar": 12345678901234567890123,
                    "unknownString": "\\u00e9\\ud83d\\ude00"
                  } ]
                } ]
              } ]
            }\r\n\t
            """
        let data = try OTLPJSON.decodeTraces(bytes(json))
        #expect(data.resourceSpans[0].schemaURL == "u")
        #expect(data.resourceSpans[0].scopeSpans[0].scope == InstrumentationScope(name: "s", droppedAttributesCount: 2))
        let span = try onlySpan(data)
        #expect(span.traceID.hex == "5b8efff798038103d269b633813fc60c")
        #expect(span.spanID.hex == "eee19b7ec3c1b174")
        #expect(span.parentSpanID == .empty && span.name == "" && span.startTimeUnixNano == 5)
        #expect(span.attributes == [KeyValue("k", .empty), KeyValue("k2", "v")])
        #expect(span.status == SpanStatus(message: "m", code: .unset))
    }

    @Test func stringEscapes() throws {
        let span = try onlySpan(OTLPJSON.decodeTraces(traceRequest(
            span: #"{"name":"\"\\\/\b\f\n\r\t\u0041\u00e9\u6F22\uD83D\uDE00 \uD800 x \uDC00","traceState":"caf\u00C9"}"#)))
        #expect(span.name == "\"\\/\u{8}\u{C}\n\r\tAé漢😀 \u{FFFD} x \u{FFFD}")
        #expect(span.traceState == "cafÉ")
        // Escaped keys are matched after unescaping.
        let escapedKey = try onlySpan(OTLPJSON.decodeTraces(traceRequest(span: #"{"n\u0061me":"escaped key"}"#)))
        #expect(escapedKey.name == "escaped key")
    }

    @Test func lastDuplicateWins() throws {
        let span = try onlySpan(OTLPJSON.decodeTraces(traceRequest(span: #"{"name":"a","name":"b","attributes":[{"key":"x","value":{"stringValue":"s","intValue":"3"}}]}"#)))
        #expect(span.name == "b")
        #expect(span.attributes == [KeyValue("x", .int(3))])
    }

    /// AnyValues nested 100 deep (what the protobuf decoder accepts) decode from JSON too.
    @Test func deepButAllowedAnyValueNesting() throws {
        var array = AnyValue.string("leaf")
        var list = AnyValue.string("leaf")
        for level in 0..<100 {
            array = .array([array])
            list = .keyValueList([KeyValue("level\(level)", list)])
        }
        let logs = LogsData(resourceLogs: [
            ResourceLogs(scopeLogs: [ScopeLogs(logRecords: [LogRecord(body: array, attributes: [KeyValue("deep", list)])])])
        ])
        #expect(try OTLPJSON.decodeLogs(OTLPJSON.encodeLogs(logs)) == logs)
        #expect(try OTLPProtobuf.decodeLogs(OTLPProtobuf.encodeLogs(logs)) == logs)
    }
}

// MARK: - Errors

@Suite("OTLP/JSON errors")
struct OTLPJSONErrorTests {
    static let spanPath = "resourceSpans[0].scopeSpans[0].spans[0]"

    func traceError(_ json: [UInt8]) -> WireError? {
        do {
            _ = try OTLPJSON.decodeTraces(json)
            return nil
        } catch {
            return error
        }
    }

    func expectTraceError(_ json: [UInt8], _ code: WireError.Code, path: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let error = traceError(json) else {
            Issue.record("decoded without error: \(String(decoding: json, as: UTF8.self))", sourceLocation: sourceLocation)
            return
        }
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(error.path == path, "\(error)", sourceLocation: sourceLocation)
        #expect(error.offset != nil, sourceLocation: sourceLocation)
    }

    @Test func badHex() throws {
        let json = traceRequest(span: #"{"name":"x","traceId":"5B8EFFF798038103D269B633813FC6XY"}"#)
        expectTraceError(json, .invalidValue, path: "\(Self.spanPath).traceId")
        let error = try #require(traceError(json))
        // The offset points at the string.
        #expect(error.offset == String(decoding: json, as: UTF8.self).utf8.count - #""5B8EFFF798038103D269B633813FC6XY"}]}]}]}"#.utf8.count)
        #expect(error.description.contains("resourceSpans[0].scopeSpans[0].spans[0].traceId"))
        expectTraceError(traceRequest(span: #"{"spanId":"EEE19B7EC3C1B17G"}"#), .invalidValue, path: "\(Self.spanPath).spanId")
        expectTraceError(traceRequest(span: #"{"traceId":"W47/95gDgQPSabYzgT/G!A=="}"#), .invalidValue, path: "\(Self.spanPath).traceId")
    }

    @Test func wrongIDLength() {
        expectTraceError(traceRequest(span: #"{"spanId":"abc"}"#), .invalidLength, path: "\(Self.spanPath).spanId")
        expectTraceError(traceRequest(span: #"{"traceId":"5B8EFFF798038103D269B633813FC60"}"#), .invalidLength, path: "\(Self.spanPath).traceId")
        expectTraceError(traceRequest(span: #"{"parentSpanId":"EEE19B7EC3C1B17400"}"#), .invalidLength, path: "\(Self.spanPath).parentSpanId")
        expectTraceError(
            traceRequest(span: #"{"links":[{},{"traceId":"00"}]}"#), .invalidLength, path: "\(Self.spanPath).links[1].traceId")
        // A span ID where a trace ID belongs.
        expectTraceError(traceRequest(span: #"{"traceId":"EEE19B7EC3C1B174"}"#), .invalidLength, path: "\(Self.spanPath).traceId")
    }

    @Test func truncated() throws {
        let json = try OTLPJSONFixtures.bundledExample("trace")
        for cut in [1, 10, json.count / 2, json.count - 3] {
            let error = try #require(traceError(Array(json.prefix(cut))))
            #expect(error.code == .truncated, "\(error)")
        }
        expectTraceError(bytes(""), .truncated, path: "")
        expectTraceError(bytes("   "), .truncated, path: "")
        expectTraceError(traceRequest(span: #"{"name":"unterminated}"#), .truncated, path: "\(Self.spanPath).name")
        expectTraceError(bytes(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"ok","startTimeUnixNano":12"#), .truncated,
                         path: Self.spanPath)
        expectTraceError(bytes(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_"#), .truncated,
                         path: "\(Self.spanPath).kind")
    }

    @Test func badEscape() {
        expectTraceError(traceRequest(span: #"{"name":"a\x"}"#), .invalidJSON, path: "\(Self.spanPath).name")
        expectTraceError(traceRequest(span: #"{"name":"\u12G4"}"#), .invalidJSON, path: "\(Self.spanPath).name")
        expectTraceError(traceRequest(span: #"{"name":"\u12"}"#), .invalidJSON, path: "\(Self.spanPath).name")
        expectTraceError(traceRequest(span: "{\"name\":\"tab\there\"}"), .invalidJSON, path: "\(Self.spanPath).name")
    }

    @Test func invalidUTF8() {
        // (JSON, the byte to corrupt, expected path, expected offset relative to the corrupted byte)
        let cases: [(String, Character, String, Int)] = [
            (#"{"name":"abc"}"#, "b", "\(Self.spanPath).name", 0),
            (#"{"attributes":[{"key":"a-long-attribute-key-name"}]}"#, "g", "\(Self.spanPath).attributes[0].key", 0),
            (#"{"attributes":[{"key":"k","value":{"stringValue":"xyz"}}]}"#, "z", "\(Self.spanPath).attributes[0].value.stringValue", 0),
            (#"{"traceState":"\u0041#"}"#, "#", "\(Self.spanPath).traceState", -6),  // escaped: points at the string
        ]
        for (text, marker, path, delta) in cases {
            var json = traceRequest(span: text)
            let index = json.firstIndex(of: marker.asciiValue!)!
            json[index] = 0xFF
            guard let error = traceError(json) else {
                Issue.record("accepted invalid UTF-8 in \(text)")
                continue
            }
            #expect(error.code == .invalidUTF8, "\(error)")
            #expect(error.path == path)
            #expect(error.offset == index + delta, "\(error)")
        }
    }

    @Test func deepNesting() {
        var value = #"{"stringValue":"leaf"}"#
        for _ in 0..<200 { value = #"{"arrayValue":{"values":[\#(value)]}}"# }
        let json = traceRequest(span: #"{"attributes":[{"key":"deep","value":\#(value)}]}"#)
        guard let error = traceError(json) else {
            Issue.record("accepted nesting 600 deep")
            return
        }
        #expect(error.code == .invalidValue)
        #expect(error.path.hasPrefix("\(Self.spanPath).attributes[0].value.arrayValue.values[0].arrayValue.values[0]"))
        // Deep nesting in an unknown field is caught too, without recursing unboundedly.
        let brackets = String(repeating: "[", count: 100_000)
        expectTraceError(bytes(#"{"unknown":\#(brackets)"#), .invalidValue, path: "")
        expectTraceError(bytes(String(repeating: "{\"a\":", count: 100_000)), .invalidValue, path: "")
    }

    @Test func wrongTypes() {
        let path = Self.spanPath
        expectTraceError(bytes(#"{"resourceSpans":[{"scopeSpans":[{"spans":3}]}]}"#), .invalidValue, path: "resourceSpans[0].scopeSpans[0].spans")
        expectTraceError(bytes(#"{"resourceSpans":{}}"#), .invalidValue, path: "resourceSpans")
        expectTraceError(bytes(#"{"resourceSpans":[{"scopeSpans":[{"spans":[1]}]}]}"#), .invalidValue, path: "resourceSpans[0].scopeSpans[0].spans[0]")
        expectTraceError(bytes(#"{"resourceSpans":[null]}"#), .invalidValue, path: "resourceSpans[0]")
        expectTraceError(bytes("[]"), .invalidValue, path: "")
        expectTraceError(bytes("\"text\""), .invalidValue, path: "")
        expectTraceError(traceRequest(span: #"{"name":5}"#), .invalidValue, path: "\(path).name")
        expectTraceError(traceRequest(span: #"{"startTimeUnixNano":true}"#), .invalidValue, path: "\(path).startTimeUnixNano")
        expectTraceError(traceRequest(span: #"{"startTimeUnixNano":"soon"}"#), .invalidValue, path: "\(path).startTimeUnixNano")
        expectTraceError(traceRequest(span: #"{"startTimeUnixNano":-1}"#), .invalidValue, path: "\(path).startTimeUnixNano")
        expectTraceError(traceRequest(span: #"{"startTimeUnixNano":"18446744073709551616"}"#), .invalidValue, path: "\(path).startTimeUnixNano")
        expectTraceError(traceRequest(span: #"{"endTimeUnixNano":1.5}"#), .invalidValue, path: "\(path).endTimeUnixNano")
        expectTraceError(traceRequest(span: #"{"flags":4294967296}"#), .invalidValue, path: "\(path).flags")
        expectTraceError(traceRequest(span: #"{"droppedAttributesCount":-1}"#), .invalidValue, path: "\(path).droppedAttributesCount")
        expectTraceError(traceRequest(span: #"{"kind":"SPAN_KIND_BOGUS"}"#), .invalidValue, path: "\(path).kind")
        expectTraceError(traceRequest(span: #"{"kind":2147483648}"#), .invalidValue, path: "\(path).kind")
        expectTraceError(traceRequest(span: #"{"kind":true}"#), .invalidValue, path: "\(path).kind")
        expectTraceError(traceRequest(span: #"{"traceId":123}"#), .invalidValue, path: "\(path).traceId")
        expectTraceError(traceRequest(span: #"{"attributes":{}}"#), .invalidValue, path: "\(path).attributes")
        expectTraceError(traceRequest(span: #"{"attributes":[{"key":1}]}"#), .invalidValue, path: "\(path).attributes[0].key")
        expectTraceError(
            traceRequest(span: #"{"attributes":[{"key":"a"},{"key":"b","value":{"intValue":"1.5"}}]}"#), .invalidValue,
            path: "\(path).attributes[1].value.intValue")
        expectTraceError(
            traceRequest(span: #"{"attributes":[{"key":"b","value":{"boolValue":"true"}}]}"#), .invalidValue,
            path: "\(path).attributes[0].value.boolValue")
        expectTraceError(
            traceRequest(span: #"{"attributes":[{"key":"b","value":{"doubleValue":"fast"}}]}"#), .invalidValue,
            path: "\(path).attributes[0].value.doubleValue")
        expectTraceError(
            traceRequest(span: #"{"attributes":[{"key":"b","value":{"bytesValue":"abc!"}}]}"#), .invalidValue,
            path: "\(path).attributes[0].value.bytesValue")
        expectTraceError(
            traceRequest(span: #"{"attributes":[{"key":"b","value":{"arrayValue":{"values":[{"intValue":[]}]}}}]}"#), .invalidValue,
            path: "\(path).attributes[0].value.arrayValue.values[0].intValue")
        expectTraceError(traceRequest(span: #"{"events":[{"timeUnixNano":{}}]}"#), .invalidValue, path: "\(path).events[0].timeUnixNano")
        expectTraceError(traceRequest(span: #"{"status":{"code":"STATUS_CODE_NOPE"}}"#), .invalidValue, path: "\(path).status.code")
        expectTraceError(bytes(#"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"kvlistValue":{"values":[{"key":"n","value":{"intValue":true}}]}}}]}}]}"#),
                         .invalidValue, path: "resourceSpans[0].resource.attributes[0].value.kvlistValue.values[0].value.intValue")
    }

    @Test func malformedSyntax() {
        let path = Self.spanPath
        expectTraceError(traceRequest(span: #"{"name":"a",}"#), .invalidJSON, path: path)
        expectTraceError(traceRequest(span: #"{"name" "a"}"#), .invalidJSON, path: path)
        expectTraceError(traceRequest(span: #"{name:"a"}"#), .invalidJSON, path: path)
        expectTraceError(traceRequest(span: #"{"startTimeUnixNano":012}"#), .invalidJSON, path: "\(path).startTimeUnixNano")
        expectTraceError(traceRequest(span: #"{"startTimeUnixNano":1.}"#), .invalidJSON, path: "\(path).startTimeUnixNano")
        expectTraceError(traceRequest(span: #"{"startTimeUnixNano":1e}"#), .invalidJSON, path: "\(path).startTimeUnixNano")
        expectTraceError(traceRequest(span: #"{"startTimeUnixNano":+1}"#), .invalidJSON, path: "\(path).startTimeUnixNano")
        expectTraceError(traceRequest(span: #"{"unknown":tru}"#), .invalidJSON, path: path)
        expectTraceError(traceRequest(span: #"{"unknown":[1,]}"#), .invalidJSON, path: path)
        expectTraceError(traceRequest(span: #"{"unknown":[1 2]}"#), .invalidJSON, path: path)
        expectTraceError(traceRequest(span: #"{"unknown":'x'}"#), .invalidJSON, path: path)
        expectTraceError(bytes(#"{"resourceSpans":[]} x"#), .invalidJSON, path: "")
        expectTraceError(bytes(#"{"resourceSpans":[]}{}"#), .invalidJSON, path: "")
    }

    @Test func errorsInOtherSignals() {
        do {
            _ = try OTLPJSON.decodeLogs(bytes(#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{},{"severityNumber":"LOUD"}]}]}]}"#))
            Issue.record("accepted a bad severity")
        } catch {
            #expect(error.code == .invalidValue)
            #expect(error.path == "resourceLogs[0].scopeLogs[0].logRecords[1].severityNumber")
        }
        do {
            _ = try OTLPJSON.decodeMetrics(bytes(#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"histogram":{"dataPoints":[{"bucketCounts":["1","x"]}]}}]}]}]}"#))
            Issue.record("accepted a bad bucket count")
        } catch {
            #expect(error.code == .invalidValue)
            #expect(error.path == "resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].bucketCounts[1]")
        }
        do {
            _ = try OTLPJSON.decodeMetrics(bytes(#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"exponentialHistogram":{"dataPoints":[{"positive":{"offset":2147483648}}]}}]}]}]}"#))
            Issue.record("accepted an out-of-range offset")
        } catch {
            #expect(error.code == .invalidValue)
            #expect(error.path == "resourceMetrics[0].scopeMetrics[0].metrics[0].exponentialHistogram.dataPoints[0].positive.offset")
        }
        do {
            _ = try OTLPJSON.decodeMetrics(bytes(#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{"dataPoints":[{"exemplars":[{"spanId":"zz"}]}]}}]}]}]}"#))
            Issue.record("accepted a bad exemplar span ID")
        } catch {
            #expect(error.code == .invalidLength)
            #expect(error.path == "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].exemplars[0].spanId")
        }
    }
}

// MARK: - JSONReader

@Suite("JSONReader")
struct JSONReaderTests {
    @Test func walksAGenericDocument() throws {
        let json = bytes(#" {"a": [1, -2.5e-1, "s\n", true, false, null, {}], "b": {"c": 18446744073709551615}} "#)
        try json.withUnsafeBytes { buffer in
            var reader = JSONReader(buffer)
            var object = try reader.beginObject()
            var more = try reader.nextMember(&object)
            #expect(more)
            #expect(reader.key == "a" && reader.keyEquals("a") && !reader.keyEquals("b"))
            var array = try reader.beginArray()
            var elements: [String] = []
            while try reader.nextElement(&array) {
                switch try reader.peekKind() {
                case .number:
                    let number = try reader.readNumber()
                    elements.append(number.isIntegral ? "int \(number.int64Value!)" : "double \(number.doubleValue)")
                case .string: elements.append("string \(try reader.readString())")
                case .bool: elements.append("bool \(try reader.readBool())")
                case .null:
                    try reader.readNull()
                    elements.append("null")
                case .object, .array:
                    try reader.skipValue()
                    elements.append("container")
                }
            }
            #expect(elements == ["int 1", "double -0.25", "string s\n", "bool true", "bool false", "null", "container"])
            more = try reader.nextMember(&object)
            #expect(more && reader.keyEquals("b"))
            var inner = try reader.beginObject()
            more = try reader.nextMember(&inner)
            #expect(more && reader.keyOffset > 0)
            let number = try reader.readNumber()
            #expect(number.uint64Value == .max && number.int64Value == nil && number.isIntegral)
            more = try reader.nextMember(&inner)
            #expect(!more)
            more = try reader.nextMember(&object)
            #expect(!more)
            #expect(reader.depth == 0)
            try reader.expectEnd()
        }
    }

    @Test func numbersAreExact() throws {
        let cases: [(String, Int64?, UInt64?)] = [
            ("0", 0, 0), ("-0", 0, 0), ("9223372036854775807", .max, 9_223_372_036_854_775_807), ("-9223372036854775808", .min, nil),
            ("-9223372036854775809", nil, nil), ("18446744073709551615", nil, .max), ("18446744073709551616", nil, nil),
            ("1e19", nil, 10_000_000_000_000_000_000), ("1e20", nil, nil), ("12.0", 12, 12), ("12.5", nil, nil), ("1234e-2", nil, nil),
            ("1200e-2", 12, 12), ("0.0000", 0, 0), ("184467440737095516150e-1", nil, .max), ("100000000000000000000000e-5", 1_000_000_000_000_000_000, 1_000_000_000_000_000_000),
        ]
        for (text, signed, unsigned) in cases {
            try bytes(text).withUnsafeBytes { buffer in
                var reader = JSONReader(buffer)
                let number = try reader.readNumber()
                #expect(number.int64Value == signed, "\(text)")
                #expect(number.uint64Value == unsigned, "\(text)")
                try reader.expectEnd()
            }
        }
    }
}

// MARK: - Throughput

/// Opt-in: `LOUPE_JSON_BENCH=1 swift test -c release --filter OTLPJSONBenchmark`.
@Suite("OTLPJSONBenchmark", .enabled(if: ProcessInfo.processInfo.environment["LOUPE_JSON_BENCH"] != nil))
struct OTLPJSONBenchmark {
    /// A request of `spanCount` spans, each with `attributeCount` attributes of mixed kinds whose keys
    /// repeat from span to span, as in real traffic.
    static func makeRequest(spanCount: Int, attributeCount: Int) -> TraceData {
        var random = OTLPJSONTestRandom(seed: 42)
        let keys = [
            "http.request.method", "url.full", "server.address", "server.port", "http.response.status_code", "network.protocol.version",
            "user_agent.original", "http.route", "client.address", "http.request.body.size", "db.system.name", "db.query.text",
        ]
        let services = ["frontend", "checkout", "payment", "inventory"]
        let resourceSpans = services.map { service in
            ResourceSpans(
                resource: Resource(attributes: [
                    KeyValue("service.name", .string(service)), KeyValue("service.version", "1.4.2"),
                    KeyValue("telemetry.sdk.language", "swift"), KeyValue("host.name", .string("ip-10-0-1-17.\(service).internal")),
                ]),
                scopeSpans: [ScopeSpans(scope: InstrumentationScope(name: "io.opentelemetry.http", version: "0.52.0"), spans: [])]
            )
        }
        var data = TraceData(resourceSpans: resourceSpans)
        for index in 0..<spanCount {
            var attributes: [KeyValue] = []
            for attribute in 0..<attributeCount {
                let key = keys[attribute % keys.count]
                let value: AnyValue
                switch attribute % 5 {
                case 0: value = .string(["GET", "POST", "PUT"][random.below(3)])
                case 1: value = .string("https://shop.example.com/api/v1/orders/\(random.next() % 100_000)?expand=items")
                case 2: value = .string("shop-\(random.below(8)).example.com")
                case 3: value = .int(Int64(random.below(600)))
                default: value = random.below(2) == 0 ? .double(Double(random.below(10_000)) / 7) : .bool(true)
                }
                attributes.append(KeyValue(key, value))
            }
            let start = 1_735_689_600_000_000_000 + UInt64(index) * 1_000_000
            let span = Span(
                traceID: TraceID(high: random.next(), low: random.next()), spanID: SpanID(value: random.next()),
                parentSpanID: index % 8 == 0 ? .empty : SpanID(value: random.next()), flags: 0x101,
                name: ["GET /api/orders/{id}", "POST /api/checkout", "SELECT orders"][index % 3], kind: index % 8 == 0 ? .server : .client,
                startTimeUnixNano: start, endTimeUnixNano: start + UInt64(random.below(50_000_000)), attributes: attributes,
                status: SpanStatus(code: index % 20 == 0 ? .error : .unset))
            data.resourceSpans[index % services.count].scopeSpans[0].spans.append(span)
        }
        return data
    }

    @Test func decodeThroughput() throws {
        let spanCount = 5000
        let data = Self.makeRequest(spanCount: spanCount, attributeCount: 10)
        let json = OTLPJSON.encodeTraces(data)
        #expect(try OTLPJSON.decodeTraces(json) == data)

        let clock = ContinuousClock()
        var best = Duration.seconds(1000)
        var total = Duration.zero
        let rounds = 30
        for _ in 0..<rounds {
            let elapsed = try clock.measure { _ = try OTLPJSON.decodeTraces(json) }
            best = min(best, elapsed)
            total += elapsed
        }
        var encodeBest = Duration.seconds(1000)
        for _ in 0..<10 { encodeBest = min(encodeBest, clock.measure { _ = OTLPJSON.encodeTraces(data) }) }

        func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }
        let bestSeconds = seconds(best)
        let meanSeconds = seconds(total) / Double(rounds)
        print("""
            OTLP/JSON decode: \(spanCount) spans x 10 attributes, \(json.count) bytes
              best \(String(format: "%.2f", bestSeconds * 1000)) ms = \(Int(Double(spanCount) / bestSeconds)) spans/s, \
            \(String(format: "%.0f", Double(json.count) / bestSeconds / 1e6)) MB/s; \
            mean \(String(format: "%.2f", meanSeconds * 1000)) ms = \(Int(Double(spanCount) / meanSeconds)) spans/s
            OTLP/JSON encode: best \(String(format: "%.2f", seconds(encodeBest) * 1000)) ms = \(Int(Double(spanCount) / seconds(encodeBest))) spans/s
            """)
    }
}
