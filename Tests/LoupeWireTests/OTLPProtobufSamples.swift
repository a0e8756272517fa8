import LoupeModel
import LoupeWire

/// Hand-built model values that use every field of every OTLP message, shared by the protobuf tests.
enum OTLPProtobufSamples {
    static let traceID = TraceID(hex: "5b8efff798038103d269b633813fc60c")!
    static let spanID = SpanID(hex: "eee19b7ec3c1b174")!
    static let parentSpanID = SpanID(hex: "eee19b7ec3c1b173")!

    /// One attribute of every AnyValue kind, including defaults that must survive (empty string, 0, false,
    /// empty bytes, empty array, `.empty`) and nesting.
    static let everyAnyValue: [KeyValue] = [
        KeyValue("string", "some value"),
        KeyValue("string.empty", ""),
        KeyValue("string.unicode", "grüße 🌍 — 東京"),
        KeyValue("string.long.key.that.is.longer.than.fifteen.bytes", "a value that is also longer than fifteen bytes"),
        KeyValue("bool.true", true),
        KeyValue("bool.false", false),
        KeyValue("int", 42),
        KeyValue("int.zero", 0),
        KeyValue("int.negative", .int(-9_223_372_036_854_775_808)),
        KeyValue("int.max", .int(.max)),
        KeyValue("double", 637.704),
        KeyValue("double.zero", 0.0),
        KeyValue("double.negative.zero", .double(-0.0)),
        KeyValue("double.infinity", .double(-.infinity)),
        KeyValue("bytes", .bytes([0, 1, 2, 0xFE, 0xFF])),
        KeyValue("bytes.empty", .bytes([])),
        KeyValue("empty", .empty),
        KeyValue("", "empty key"),
        KeyValue("array", .array(["many", "values", 3, 4.5, false, .empty, .bytes([9]), .array([]), .array([.array(["deep"])])])),
        KeyValue("array.empty", .array([])),
        KeyValue("kvlist", .keyValueList([KeyValue("some.map.key", "some value"), KeyValue("nested", .keyValueList([KeyValue("x", 1)])), KeyValue("nothing", .empty)])),
        KeyValue("kvlist.empty", .keyValueList([])),
    ]

    static let resource = Resource(
        attributes: [KeyValue("service.name", "my.service"), KeyValue("service.instance.id", "627cc493-f310-47de-96bd-71410b7dec09")]
            + everyAnyValue,
        droppedAttributesCount: 3,
        entityRefs: [
            EntityRef(schemaURL: "https://opentelemetry.io/schemas/1.30.0", type: "service", idKeys: ["service.name", "service.instance.id"], descriptionKeys: ["service.version"]),
            EntityRef(type: "host", idKeys: ["host.id"]),
        ]
    )

    static let scope = InstrumentationScope(
        name: "my.library", version: "1.0.0", attributes: [KeyValue("my.scope.attribute", "some scope attribute")], droppedAttributesCount: 1
    )

    static var traces: TraceData {
        let fullSpan = Span(
            traceID: traceID,
            spanID: spanID,
            traceState: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
            parentSpanID: parentSpanID,
            flags: 0x301,
            name: "I'm a server span",
            kind: .server,
            startTimeUnixNano: 1_544_712_660_000_000_000,
            endTimeUnixNano: 1_544_712_661_000_000_000,
            attributes: everyAnyValue,
            droppedAttributesCount: 7,
            events: [
                SpanEvent(timeUnixNano: 1_544_712_660_500_000_000, name: "exception", attributes: [KeyValue("exception.type", "IOError")], droppedAttributesCount: 2),
                SpanEvent(),
            ],
            droppedEventsCount: 4,
            links: [
                SpanLink(traceID: TraceID(high: 1, low: 2), spanID: SpanID(value: 3), traceState: "k=v", attributes: [KeyValue("link.attr", 1.5)], droppedAttributesCount: 5, flags: 0x100),
                SpanLink(),
            ],
            droppedLinksCount: 6,
            status: SpanStatus(message: "something failed", code: .error)
        )
        let oddSpan = Span(
            traceID: TraceID(high: .max, low: .max), spanID: SpanID(value: .max), flags: .max, name: "",
            kind: SpanKind(rawValue: 42), startTimeUnixNano: .max, endTimeUnixNano: 1,
            status: SpanStatus(message: "", code: StatusCode(rawValue: -3))
        )
        let negativeKindSpan = Span(kind: SpanKind(rawValue: -1), status: SpanStatus(message: "only a message"))
        return TraceData(resourceSpans: [
            ResourceSpans(
                resource: resource,
                scopeSpans: [
                    ScopeSpans(scope: scope, spans: [fullSpan, oddSpan, Span(), negativeKindSpan], schemaURL: "https://opentelemetry.io/schemas/1.21.0"),
                    ScopeSpans(),
                ],
                schemaURL: "https://opentelemetry.io/schemas/1.24.0"
            ),
            ResourceSpans(),
            ResourceSpans(scopeSpans: [ScopeSpans(spans: [Span(name: "lonely")])]),
        ])
    }

    static var logs: LogsData {
        let full = LogRecord(
            timeUnixNano: 1_544_712_660_300_000_000,
            observedTimeUnixNano: 1_544_712_660_300_000_001,
            severityNumber: SeverityNumber(rawValue: 10),
            severityText: "Information",
            body: .string("Example log record"),
            attributes: everyAnyValue,
            droppedAttributesCount: 2,
            flags: 1,
            traceID: traceID,
            spanID: spanID,
            eventName: "browser.page_view"
        )
        return LogsData(resourceLogs: [
            ResourceLogs(
                resource: resource,
                scopeLogs: [
                    ScopeLogs(
                        scope: scope,
                        logRecords: [
                            full,
                            LogRecord(body: nil),
                            LogRecord(body: .empty),
                            LogRecord(body: .string("")),
                            LogRecord(body: .keyValueList([KeyValue("type", 0), KeyValue("url", "https://example.com")])),
                            LogRecord(body: .array([.empty, .bytes([1, 2])])),
                            LogRecord(body: .bytes([0xFF])),
                            LogRecord(severityNumber: SeverityNumber(rawValue: 99)),
                        ],
                        schemaURL: "https://opentelemetry.io/schemas/1.21.0"
                    )
                ],
                schemaURL: "resource-schema"
            ),
            ResourceLogs(),
        ])
    }

    static var metrics: MetricsData {
        let exemplars = [
            Exemplar(filteredAttributes: [KeyValue("filtered", "yes")], timeUnixNano: 11, value: .double(1.25), spanID: spanID, traceID: traceID),
            Exemplar(timeUnixNano: 12, value: .int(-7)),
            Exemplar(value: .int(0)),
            Exemplar(value: .double(0)),
            Exemplar(),
        ]
        let attributes = [KeyValue("my.counter.attr", "some value")]
        let gauge = Metric(
            name: "my.gauge", description: "I am a Gauge", unit: "1",
            data: .gauge(Gauge(dataPoints: [
                NumberDataPoint(attributes: attributes, startTimeUnixNano: 1, timeUnixNano: 2, value: .double(10), exemplars: exemplars, flags: .noRecordedValue),
                NumberDataPoint(value: .int(-5)),
                NumberDataPoint(value: .int(0)),
                NumberDataPoint(value: .double(-0.0)),
                NumberDataPoint(value: nil),
                NumberDataPoint(flags: DataPointFlags(rawValue: 0xFFFF_FFFF)),
            ])),
            metadata: [KeyValue("metadata.key", "metadata value"), KeyValue("metadata.int", 3)]
        )
        let sum = Metric(
            name: "my.counter", description: "I am a Counter", unit: "1",
            data: .sum(Sum(dataPoints: [NumberDataPoint(attributes: attributes, startTimeUnixNano: 1_544_712_660_300_000_000, timeUnixNano: 1_544_712_660_300_000_000, value: .double(5))], aggregationTemporality: .delta, isMonotonic: true))
        )
        let nonMonotonicSum = Metric(
            name: "updown", data: .sum(Sum(dataPoints: [NumberDataPoint(value: .int(.min))], aggregationTemporality: AggregationTemporality(rawValue: 7), isMonotonic: false))
        )
        let histogram = Metric(
            name: "my.histogram", description: "I am a Histogram", unit: "ms",
            data: .histogram(Histogram(
                dataPoints: [
                    HistogramDataPoint(
                        attributes: attributes, startTimeUnixNano: 1, timeUnixNano: 2, count: 2, sum: 2, bucketCounts: [1, 1, 0, .max],
                        explicitBounds: [1, 2.5, -3], exemplars: exemplars, flags: .noRecordedValue, min: 0, max: 2
                    ),
                    HistogramDataPoint(count: 0, sum: nil, bucketCounts: [], explicitBounds: [], min: nil, max: nil),
                    HistogramDataPoint(sum: 0, min: -0.0, max: .infinity),
                ],
                aggregationTemporality: .cumulative
            ))
        )
        let exponential = Metric(
            name: "my.exponential.histogram", description: "I am an Exponential Histogram", unit: "s",
            data: .exponentialHistogram(ExponentialHistogram(
                dataPoints: [
                    ExponentialHistogramDataPoint(
                        attributes: attributes, startTimeUnixNano: 1, timeUnixNano: 2, count: 3, sum: 10, scale: -3, zeroCount: 1,
                        positive: .init(offset: 1, bucketCounts: [0, 2, 300, .max]), negative: .init(offset: -20, bucketCounts: [5]),
                        flags: .noRecordedValue, exemplars: exemplars, min: 0, max: 5, zeroThreshold: 1e-9
                    ),
                    ExponentialHistogramDataPoint(scale: 20, positive: .init(offset: 7), negative: .init(offset: 0, bucketCounts: [0])),
                    ExponentialHistogramDataPoint(sum: 0, min: nil, max: 0, zeroThreshold: -0.0),
                ],
                aggregationTemporality: .delta
            ))
        )
        let summary = Metric(
            name: "my.summary",
            data: .summary(Summary(dataPoints: [
                SummaryDataPoint(
                    attributes: attributes, startTimeUnixNano: 1, timeUnixNano: 2, count: 10, sum: 99.5,
                    quantileValues: [.init(quantile: 0, value: 1), .init(quantile: 0.5, value: 5), .init(quantile: 1, value: 0)], flags: .noRecordedValue
                ),
                SummaryDataPoint(),
            ]))
        )
        let emptyKinds = [
            Metric(name: "no.data", data: .none),
            Metric(name: "empty.gauge", data: .gauge(Gauge())),
            Metric(name: "empty.sum", data: .sum(Sum())),
            Metric(name: "empty.histogram", data: .histogram(Histogram())),
            Metric(name: "empty.exponential", data: .exponentialHistogram(ExponentialHistogram())),
            Metric(name: "empty.summary", data: .summary(Summary())),
        ]
        return MetricsData(resourceMetrics: [
            ResourceMetrics(
                resource: resource,
                scopeMetrics: [
                    ScopeMetrics(scope: scope, metrics: [gauge, sum, nonMonotonicSum, histogram, exponential, summary] + emptyKinds, schemaURL: "scope-schema"),
                    ScopeMetrics(),
                ],
                schemaURL: "resource-schema"
            ),
            ResourceMetrics(),
        ])
    }
}

/// A forward protobuf builder for tests: spells out bytes field by field, including encodings our own
/// encoder never produces (unpacked repeated fields, unknown fields, groups, broken lengths).
indirect enum PB {
    case varint(UInt32, UInt64)
    case fixed64(UInt32, UInt64)
    case fixed32(UInt32, UInt32)
    case bytes(UInt32, [UInt8])
    case message(UInt32, [PB])
    case group(UInt32, [PB])
    case raw([UInt8])

    static func string(_ field: UInt32, _ value: String) -> PB { .bytes(field, Array(value.utf8)) }
    static func double(_ field: UInt32, _ value: Double) -> PB { .fixed64(field, value.bitPattern) }

    static func varintBytes(_ value: UInt64) -> [UInt8] {
        var value = value
        var out: [UInt8] = []
        while value >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
        return out
    }

    static func tag(_ field: UInt32, _ wireType: UInt32) -> [UInt8] { varintBytes(UInt64(field << 3 | wireType)) }

    var bytes: [UInt8] {
        switch self {
        case .varint(let field, let value): return Self.tag(field, 0) + Self.varintBytes(value)
        case .fixed64(let field, let value): return Self.tag(field, 1) + (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
        case .fixed32(let field, let value): return Self.tag(field, 5) + (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * UInt32($0))) }
        case .bytes(let field, let value): return Self.tag(field, 2) + Self.varintBytes(UInt64(value.count)) + value
        case .message(let field, let fields):
            let body = fields.flatMap(\.bytes)
            return Self.tag(field, 2) + Self.varintBytes(UInt64(body.count)) + body
        case .group(let field, let fields): return Self.tag(field, 3) + fields.flatMap(\.bytes) + Self.tag(field, 4)
        case .raw(let bytes): return bytes
        }
    }
}

extension Array where Element == PB {
    var bytes: [UInt8] { flatMap(\.bytes) }
}
