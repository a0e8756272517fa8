import LoupeModel

/// Which telemetry a statement or condition works on, and so which paths and enums it may name.
public enum OTTLContextKind: String, Sendable, Hashable, CustomStringConvertible {
    case log
    case span
    case datapoint

    public var description: String { rawValue }
}

/// One log record with the resource and scope it came with, as a log statement sees it.
public struct OTTLLogItem: Sendable, Hashable {
    public var record: LogRecord
    public var resource: Resource
    public var scope: InstrumentationScope
    /// `log.cache`: a scratch map statements share while working on this record; it is not exported.
    public var cache: [KeyValue]

    public init(record: LogRecord, resource: Resource = Resource(), scope: InstrumentationScope = InstrumentationScope(), cache: [KeyValue] = []) {
        self.record = record
        self.resource = resource
        self.scope = scope
        self.cache = cache
    }
}

/// One span with its resource and scope.
public struct OTTLSpanItem: Sendable, Hashable {
    public var span: Span
    public var resource: Resource
    public var scope: InstrumentationScope
    /// `span.cache`, as `OTTLLogItem.cache`.
    public var cache: [KeyValue]

    public init(span: Span, resource: Resource = Resource(), scope: InstrumentationScope = InstrumentationScope(), cache: [KeyValue] = []) {
        self.span = span
        self.resource = resource
        self.scope = scope
        self.cache = cache
    }
}

/// One data point with what a datapoint statement may read of its metric, resource and scope.
public struct OTTLDataPointItem: Sendable, Hashable {
    public var metricName: String
    public var metricDescription: String
    public var metricUnit: String
    /// "Gauge", "Sum", "Histogram", "ExponentialHistogram" or "Summary".
    public var metricType: String
    public var attributes: [KeyValue]
    public var startTimeUnixNano: UInt64
    public var timeUnixNano: UInt64
    /// The value of a Gauge or Sum point; nil for the other types (and for a number point without one).
    public var value: NumberValue?
    public var resource: Resource
    public var scope: InstrumentationScope
    /// `datapoint.cache`, as `OTTLLogItem.cache`.
    public var cache: [KeyValue]

    public init(
        metricName: String, metricDescription: String = "", metricUnit: String = "", metricType: String,
        attributes: [KeyValue] = [], startTimeUnixNano: UInt64 = 0, timeUnixNano: UInt64 = 0, value: NumberValue? = nil,
        resource: Resource = Resource(), scope: InstrumentationScope = InstrumentationScope(), cache: [KeyValue] = []
    ) {
        self.metricName = metricName
        self.metricDescription = metricDescription
        self.metricUnit = metricUnit
        self.metricType = metricType
        self.attributes = attributes
        self.startTimeUnixNano = startTimeUnixNano
        self.timeUnixNano = timeUnixNano
        self.value = value
        self.resource = resource
        self.scope = scope
        self.cache = cache
    }

    /// Only gauge and sum points carry `value_int` and `value_double`.
    var isNumberPoint: Bool { metricType == "Gauge" || metricType == "Sum" }
}

/// What the evaluator needs of an item: reading and writing the fields of its context. Writes of a
/// value of the wrong type, or out of the field's range, are refused (false) and change nothing.
protocol OTTLItemAccess {
    static var contextKind: OTTLContextKind { get }
    var resource: Resource { get set }
    var scope: InstrumentationScope { get set }
    var cache: [KeyValue] { get set }
    func readOwn(_ field: OTTLField) -> AnyValue?
    mutating func writeOwn(_ field: OTTLField, _ value: AnyValue) -> Bool
}

extension OTTLItemAccess {
    /// The field's value; OTTL's nil (an absent body, an empty value) is nil, never `.empty`.
    func read(_ field: OTTLField) -> AnyValue? {
        let value: AnyValue? = switch field {
        case .resourceAttributes: .keyValueList(resource.attributes)
        case .resourceDroppedAttributesCount: .int(Int64(resource.droppedAttributesCount))
        case .scopeName: .string(scope.name)
        case .scopeVersion: .string(scope.version)
        case .scopeAttributes: .keyValueList(scope.attributes)
        case .scopeDroppedAttributesCount: .int(Int64(scope.droppedAttributesCount))
        case .cache: .keyValueList(cache)
        default: readOwn(field)
        }
        if case .empty? = value { return nil }
        return value
    }

    mutating func write(_ field: OTTLField, _ value: AnyValue) -> Bool {
        switch field {
        case .resourceAttributes:
            guard case .keyValueList(let attributes) = value else { return false }
            resource.attributes = attributes
        case .resourceDroppedAttributesCount:
            guard let count = OTTLFieldValues.uint32(value) else { return false }
            resource.droppedAttributesCount = count
        case .scopeName:
            guard case .string(let name) = value else { return false }
            scope.name = name
        case .scopeVersion:
            guard case .string(let version) = value else { return false }
            scope.version = version
        case .scopeAttributes:
            guard case .keyValueList(let attributes) = value else { return false }
            scope.attributes = attributes
        case .scopeDroppedAttributesCount:
            guard let count = OTTLFieldValues.uint32(value) else { return false }
            scope.droppedAttributesCount = count
        case .cache:
            guard case .keyValueList(let entries) = value else { return false }
            cache = entries
        default:
            return writeOwn(field, value)
        }
        return true
    }
}

/// The conversions between OTLP's field types and OTTL's int64, strings and bytes.
enum OTTLFieldValues {
    static func uint32(_ value: AnyValue) -> UInt32? {
        guard case .int(let number) = value else { return nil }
        return UInt32(exactly: number)
    }

    static func int32(_ value: AnyValue) -> Int32? {
        guard case .int(let number) = value else { return nil }
        return Int32(exactly: number)
    }

    /// Timestamps are unsigned nanoseconds; OTTL shows them as int64, so the far future wraps as it does there.
    static func timestamp(_ nanos: UInt64) -> AnyValue { .int(Int64(bitPattern: nanos)) }

    static func timestamp(_ value: AnyValue) -> UInt64? {
        guard case .int(let number) = value, number >= 0 else { return nil }
        return UInt64(number)
    }

    /// `trace_id.string`: lowercase hex, and "" for the empty ID, as pdata's `String()` gives.
    static func hex(_ bytes: [UInt8], isEmpty: Bool) -> AnyValue { .string(isEmpty ? "" : HexCoding.encode(bytes)) }

    static func traceID(_ value: AnyValue) -> TraceID? {
        switch value {
        case .bytes(let bytes): TraceID(bytes: bytes)
        default: nil
        }
    }

    static func traceID(hex value: AnyValue) -> TraceID? {
        guard case .string(let text) = value, text.utf8.count == 32 else { return nil }
        return TraceID(hex: text)
    }

    static func spanID(_ value: AnyValue) -> SpanID? {
        switch value {
        case .bytes(let bytes): SpanID(bytes: bytes)
        default: nil
        }
    }

    static func spanID(hex value: AnyValue) -> SpanID? {
        guard case .string(let text) = value, text.utf8.count == 16 else { return nil }
        return SpanID(hex: text)
    }
}

extension OTTLLogItem: OTTLItemAccess {
    static var contextKind: OTTLContextKind { .log }

    func readOwn(_ field: OTTLField) -> AnyValue? {
        switch field {
        case .logBody: record.body
        case .logBodyString: .string(record.body.map(OTTLFormat.stringLike) ?? "")
        case .logAttributes: .keyValueList(record.attributes)
        case .logSeverityNumber: .int(Int64(record.severityNumber.rawValue))
        case .logSeverityText: .string(record.severityText)
        case .logTimeUnixNano: OTTLFieldValues.timestamp(record.timeUnixNano)
        case .logObservedTimeUnixNano: OTTLFieldValues.timestamp(record.observedTimeUnixNano)
        case .logTraceID: .bytes(record.traceID.bytes)
        case .logTraceIDString: OTTLFieldValues.hex(record.traceID.bytes, isEmpty: record.traceID.isEmpty)
        case .logSpanID: .bytes(record.spanID.bytes)
        case .logSpanIDString: OTTLFieldValues.hex(record.spanID.bytes, isEmpty: record.spanID.isEmpty)
        case .logFlags: .int(Int64(record.flags))
        case .logEventName: .string(record.eventName)
        case .logDroppedAttributesCount: .int(Int64(record.droppedAttributesCount))
        default: nil
        }
    }

    mutating func writeOwn(_ field: OTTLField, _ value: AnyValue) -> Bool {
        switch field {
        case .logBody:
            record.body = value
        case .logBodyString:
            guard case .string = value else { return false }
            record.body = value
        case .logAttributes:
            guard case .keyValueList(let attributes) = value else { return false }
            record.attributes = attributes
        case .logSeverityNumber:
            guard let number = OTTLFieldValues.int32(value) else { return false }
            record.severityNumber = SeverityNumber(rawValue: number)
        case .logSeverityText:
            guard case .string(let text) = value else { return false }
            record.severityText = text
        case .logTimeUnixNano:
            guard let nanos = OTTLFieldValues.timestamp(value) else { return false }
            record.timeUnixNano = nanos
        case .logObservedTimeUnixNano:
            guard let nanos = OTTLFieldValues.timestamp(value) else { return false }
            record.observedTimeUnixNano = nanos
        case .logTraceID:
            guard let id = OTTLFieldValues.traceID(value) else { return false }
            record.traceID = id
        case .logTraceIDString:
            guard let id = OTTLFieldValues.traceID(hex: value) else { return false }
            record.traceID = id
        case .logSpanID:
            guard let id = OTTLFieldValues.spanID(value) else { return false }
            record.spanID = id
        case .logSpanIDString:
            guard let id = OTTLFieldValues.spanID(hex: value) else { return false }
            record.spanID = id
        case .logFlags:
            guard let flags = OTTLFieldValues.uint32(value) else { return false }
            record.flags = flags
        case .logEventName:
            guard case .string(let name) = value else { return false }
            record.eventName = name
        case .logDroppedAttributesCount:
            guard let count = OTTLFieldValues.uint32(value) else { return false }
            record.droppedAttributesCount = count
        default:
            return false
        }
        return true
    }
}

extension OTTLSpanItem: OTTLItemAccess {
    static var contextKind: OTTLContextKind { .span }

    func readOwn(_ field: OTTLField) -> AnyValue? {
        switch field {
        case .spanName: .string(span.name)
        case .spanKind: .int(Int64(span.kind.rawValue))
        case .spanStatusCode: .int(Int64(span.status.code.rawValue))
        case .spanStatusMessage: .string(span.status.message)
        case .spanAttributes: .keyValueList(span.attributes)
        case .spanStartTimeUnixNano: OTTLFieldValues.timestamp(span.startTimeUnixNano)
        case .spanEndTimeUnixNano: OTTLFieldValues.timestamp(span.endTimeUnixNano)
        case .spanTraceID: .bytes(span.traceID.bytes)
        case .spanTraceIDString: OTTLFieldValues.hex(span.traceID.bytes, isEmpty: span.traceID.isEmpty)
        case .spanSpanID: .bytes(span.spanID.bytes)
        case .spanSpanIDString: OTTLFieldValues.hex(span.spanID.bytes, isEmpty: span.spanID.isEmpty)
        case .spanParentSpanID: .bytes(span.parentSpanID.bytes)
        case .spanParentSpanIDString: OTTLFieldValues.hex(span.parentSpanID.bytes, isEmpty: span.parentSpanID.isEmpty)
        case .spanTraceState: .string(span.traceState)
        case .spanFlags: .int(Int64(span.flags))
        case .spanDroppedAttributesCount: .int(Int64(span.droppedAttributesCount))
        case .spanDroppedEventsCount: .int(Int64(span.droppedEventsCount))
        case .spanDroppedLinksCount: .int(Int64(span.droppedLinksCount))
        default: nil
        }
    }

    mutating func writeOwn(_ field: OTTLField, _ value: AnyValue) -> Bool {
        switch field {
        case .spanName:
            guard case .string(let name) = value else { return false }
            span.name = name
        case .spanKind:
            guard let kind = OTTLFieldValues.int32(value) else { return false }
            span.kind = SpanKind(rawValue: kind)
        case .spanStatusCode:
            guard let code = OTTLFieldValues.int32(value) else { return false }
            span.status.code = StatusCode(rawValue: code)
        case .spanStatusMessage:
            guard case .string(let message) = value else { return false }
            span.status.message = message
        case .spanAttributes:
            guard case .keyValueList(let attributes) = value else { return false }
            span.attributes = attributes
        case .spanStartTimeUnixNano:
            guard let nanos = OTTLFieldValues.timestamp(value) else { return false }
            span.startTimeUnixNano = nanos
        case .spanEndTimeUnixNano:
            guard let nanos = OTTLFieldValues.timestamp(value) else { return false }
            span.endTimeUnixNano = nanos
        case .spanTraceID:
            guard let id = OTTLFieldValues.traceID(value) else { return false }
            span.traceID = id
        case .spanTraceIDString:
            guard let id = OTTLFieldValues.traceID(hex: value) else { return false }
            span.traceID = id
        case .spanSpanID:
            guard let id = OTTLFieldValues.spanID(value) else { return false }
            span.spanID = id
        case .spanSpanIDString:
            guard let id = OTTLFieldValues.spanID(hex: value) else { return false }
            span.spanID = id
        case .spanParentSpanID:
            guard let id = OTTLFieldValues.spanID(value) else { return false }
            span.parentSpanID = id
        case .spanParentSpanIDString:
            guard let id = OTTLFieldValues.spanID(hex: value) else { return false }
            span.parentSpanID = id
        case .spanTraceState:
            guard case .string(let state) = value else { return false }
            span.traceState = state
        case .spanFlags:
            guard let flags = OTTLFieldValues.uint32(value) else { return false }
            span.flags = flags
        case .spanDroppedAttributesCount:
            guard let count = OTTLFieldValues.uint32(value) else { return false }
            span.droppedAttributesCount = count
        case .spanDroppedEventsCount:
            guard let count = OTTLFieldValues.uint32(value) else { return false }
            span.droppedEventsCount = count
        case .spanDroppedLinksCount:
            guard let count = OTTLFieldValues.uint32(value) else { return false }
            span.droppedLinksCount = count
        default:
            return false
        }
        return true
    }
}

extension OTTLDataPointItem: OTTLItemAccess {
    static var contextKind: OTTLContextKind { .datapoint }

    /// pmetric's `MetricType` numbers, which `metric.type` compares with `METRIC_DATA_TYPE_*`.
    static let metricTypeNumbers: [String: Int64] = ["Gauge": 1, "Sum": 2, "Histogram": 3, "ExponentialHistogram": 4, "Summary": 5]

    func readOwn(_ field: OTTLField) -> AnyValue? {
        switch field {
        case .metricName: .string(metricName)
        case .metricDescription: .string(metricDescription)
        case .metricUnit: .string(metricUnit)
        case .metricType: .int(Self.metricTypeNumbers[metricType] ?? 0)
        case .dataPointAttributes: .keyValueList(attributes)
        case .dataPointStartTimeUnixNano: OTTLFieldValues.timestamp(startTimeUnixNano)
        case .dataPointTimeUnixNano: OTTLFieldValues.timestamp(timeUnixNano)
        // pdata answers 0 for the other kind of number, as for a point with no value set.
        case .dataPointValueInt:
            if !isNumberPoint { nil } else if case .int(let number)? = value { .int(number) } else { .int(0) }
        case .dataPointValueDouble:
            if !isNumberPoint { nil } else if case .double(let number)? = value { .double(number) } else { .double(0) }
        default: nil
        }
    }

    mutating func writeOwn(_ field: OTTLField, _ newValue: AnyValue) -> Bool {
        switch field {
        case .metricName:
            guard case .string(let name) = newValue else { return false }
            metricName = name
        case .metricDescription:
            guard case .string(let text) = newValue else { return false }
            metricDescription = text
        case .metricUnit:
            guard case .string(let unit) = newValue else { return false }
            metricUnit = unit
        case .dataPointAttributes:
            guard case .keyValueList(let entries) = newValue else { return false }
            attributes = entries
        case .dataPointStartTimeUnixNano:
            guard let nanos = OTTLFieldValues.timestamp(newValue) else { return false }
            startTimeUnixNano = nanos
        case .dataPointTimeUnixNano:
            guard let nanos = OTTLFieldValues.timestamp(newValue) else { return false }
            timeUnixNano = nanos
        case .dataPointValueInt:
            guard isNumberPoint, case .int(let number) = newValue else { return false }
            value = .int(number)
        case .dataPointValueDouble:
            guard isNumberPoint, case .double(let number) = newValue else { return false }
            value = .double(number)
        default:
            return false
        }
        return true
    }
}
