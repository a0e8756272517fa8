/// Spans grouped by the resource and scope that produced them, as OTLP carries them.
public struct TraceData: Sendable, Hashable {
    public var resourceSpans: [ResourceSpans]

    public init(resourceSpans: [ResourceSpans] = []) { self.resourceSpans = resourceSpans }
}

public struct ResourceSpans: Sendable, Hashable {
    public var resource: Resource
    public var scopeSpans: [ScopeSpans]
    public var schemaURL: String

    public init(resource: Resource = Resource(), scopeSpans: [ScopeSpans] = [], schemaURL: String = "") {
        self.resource = resource
        self.scopeSpans = scopeSpans
        self.schemaURL = schemaURL
    }
}

public struct ScopeSpans: Sendable, Hashable {
    public var scope: InstrumentationScope
    public var spans: [Span]
    public var schemaURL: String

    public init(scope: InstrumentationScope = InstrumentationScope(), spans: [Span] = [], schemaURL: String = "") {
        self.scope = scope
        self.spans = spans
        self.schemaURL = schemaURL
    }
}

/// One operation within a trace.
public struct Span: Sendable, Hashable {
    public var traceID: TraceID
    public var spanID: SpanID
    /// W3C `tracestate`, kept verbatim.
    public var traceState: String
    public var parentSpanID: SpanID
    /// W3C trace flags in the low byte, plus the OTLP is-remote bits (`SpanFlags`).
    public var flags: UInt32
    public var name: String
    public var kind: SpanKind
    public var startTimeUnixNano: UInt64
    public var endTimeUnixNano: UInt64
    public var attributes: [KeyValue]
    public var droppedAttributesCount: UInt32
    public var events: [SpanEvent]
    public var droppedEventsCount: UInt32
    public var links: [SpanLink]
    public var droppedLinksCount: UInt32
    public var status: SpanStatus

    public init(
        traceID: TraceID = .empty, spanID: SpanID = .empty, traceState: String = "", parentSpanID: SpanID = .empty,
        flags: UInt32 = 0, name: String = "", kind: SpanKind = .unspecified, startTimeUnixNano: UInt64 = 0,
        endTimeUnixNano: UInt64 = 0, attributes: [KeyValue] = [], droppedAttributesCount: UInt32 = 0,
        events: [SpanEvent] = [], droppedEventsCount: UInt32 = 0, links: [SpanLink] = [], droppedLinksCount: UInt32 = 0,
        status: SpanStatus = SpanStatus()
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.traceState = traceState
        self.parentSpanID = parentSpanID
        self.flags = flags
        self.name = name
        self.kind = kind
        self.startTimeUnixNano = startTimeUnixNano
        self.endTimeUnixNano = endTimeUnixNano
        self.attributes = attributes
        self.droppedAttributesCount = droppedAttributesCount
        self.events = events
        self.droppedEventsCount = droppedEventsCount
        self.links = links
        self.droppedLinksCount = droppedLinksCount
        self.status = status
    }

    public var durationNanos: UInt64 { endTimeUnixNano >= startTimeUnixNano ? endTimeUnixNano - startTimeUnixNano : 0 }
}

/// The role of a span. Unknown values are kept so nothing is lost on the way through.
public struct SpanKind: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let unspecified = SpanKind(rawValue: 0)
    public static let `internal` = SpanKind(rawValue: 1)
    public static let server = SpanKind(rawValue: 2)
    public static let client = SpanKind(rawValue: 3)
    public static let producer = SpanKind(rawValue: 4)
    public static let consumer = SpanKind(rawValue: 5)

    public var description: String {
        switch rawValue {
        case 0: "unspecified"
        case 1: "internal"
        case 2: "server"
        case 3: "client"
        case 4: "producer"
        case 5: "consumer"
        default: "kind(\(rawValue))"
        }
    }
}

public struct SpanStatus: Sendable, Hashable {
    public var message: String
    public var code: StatusCode

    public init(message: String = "", code: StatusCode = .unset) {
        self.message = message
        self.code = code
    }
}

public struct StatusCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let unset = StatusCode(rawValue: 0)
    public static let ok = StatusCode(rawValue: 1)
    public static let error = StatusCode(rawValue: 2)

    public var description: String {
        switch rawValue {
        case 0: "unset"
        case 1: "ok"
        case 2: "error"
        default: "status(\(rawValue))"
        }
    }
}

/// A timestamped annotation on a span.
public struct SpanEvent: Sendable, Hashable {
    public var timeUnixNano: UInt64
    public var name: String
    public var attributes: [KeyValue]
    public var droppedAttributesCount: UInt32

    public init(timeUnixNano: UInt64 = 0, name: String = "", attributes: [KeyValue] = [], droppedAttributesCount: UInt32 = 0) {
        self.timeUnixNano = timeUnixNano
        self.name = name
        self.attributes = attributes
        self.droppedAttributesCount = droppedAttributesCount
    }
}

/// A pointer from a span to a span of the same or another trace.
public struct SpanLink: Sendable, Hashable {
    public var traceID: TraceID
    public var spanID: SpanID
    public var traceState: String
    public var attributes: [KeyValue]
    public var droppedAttributesCount: UInt32
    public var flags: UInt32

    public init(
        traceID: TraceID = .empty, spanID: SpanID = .empty, traceState: String = "", attributes: [KeyValue] = [],
        droppedAttributesCount: UInt32 = 0, flags: UInt32 = 0
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.traceState = traceState
        self.attributes = attributes
        self.droppedAttributesCount = droppedAttributesCount
        self.flags = flags
    }
}
