/// Log records grouped by the resource and scope that produced them.
public struct LogsData: Sendable, Hashable {
    public var resourceLogs: [ResourceLogs]

    public init(resourceLogs: [ResourceLogs] = []) { self.resourceLogs = resourceLogs }
}

public struct ResourceLogs: Sendable, Hashable {
    public var resource: Resource
    public var scopeLogs: [ScopeLogs]
    public var schemaURL: String

    public init(resource: Resource = Resource(), scopeLogs: [ScopeLogs] = [], schemaURL: String = "") {
        self.resource = resource
        self.scopeLogs = scopeLogs
        self.schemaURL = schemaURL
    }
}

public struct ScopeLogs: Sendable, Hashable {
    public var scope: InstrumentationScope
    public var logRecords: [LogRecord]
    public var schemaURL: String

    public init(scope: InstrumentationScope = InstrumentationScope(), logRecords: [LogRecord] = [], schemaURL: String = "") {
        self.scope = scope
        self.logRecords = logRecords
        self.schemaURL = schemaURL
    }
}

public struct LogRecord: Sendable, Hashable {
    /// When the event happened; 0 when the source did not say.
    public var timeUnixNano: UInt64
    /// When the collector saw it.
    public var observedTimeUnixNano: UInt64
    public var severityNumber: SeverityNumber
    public var severityText: String
    /// nil when the record has no body at all (distinct from an empty value).
    public var body: AnyValue?
    public var attributes: [KeyValue]
    public var droppedAttributesCount: UInt32
    public var flags: UInt32
    public var traceID: TraceID
    public var spanID: SpanID
    public var eventName: String

    public init(
        timeUnixNano: UInt64 = 0, observedTimeUnixNano: UInt64 = 0, severityNumber: SeverityNumber = .unspecified,
        severityText: String = "", body: AnyValue? = nil, attributes: [KeyValue] = [], droppedAttributesCount: UInt32 = 0,
        flags: UInt32 = 0, traceID: TraceID = .empty, spanID: SpanID = .empty, eventName: String = ""
    ) {
        self.timeUnixNano = timeUnixNano
        self.observedTimeUnixNano = observedTimeUnixNano
        self.severityNumber = severityNumber
        self.severityText = severityText
        self.body = body
        self.attributes = attributes
        self.droppedAttributesCount = droppedAttributesCount
        self.flags = flags
        self.traceID = traceID
        self.spanID = spanID
        self.eventName = eventName
    }

    /// The time a record is filed under: its own time, or when it was observed if it has none.
    public var effectiveTimeUnixNano: UInt64 { timeUnixNano != 0 ? timeUnixNano : observedTimeUnixNano }
}

/// OTLP severity numbers 1-24 (TRACE..FATAL4); unknown values are kept.
public struct SeverityNumber: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let unspecified = SeverityNumber(rawValue: 0)
    public static let trace = SeverityNumber(rawValue: 1)
    public static let debug = SeverityNumber(rawValue: 5)
    public static let info = SeverityNumber(rawValue: 9)
    public static let warn = SeverityNumber(rawValue: 13)
    public static let error = SeverityNumber(rawValue: 17)
    public static let fatal = SeverityNumber(rawValue: 21)

    /// The short level name (`trace`, `debug`, `info`, `warn`, `error`, `fatal`) the range belongs to.
    public var levelName: String {
        switch rawValue {
        case 1...4: "trace"
        case 5...8: "debug"
        case 9...12: "info"
        case 13...16: "warn"
        case 17...20: "error"
        case 21...24: "fatal"
        default: "unknown"
        }
    }

    public var description: String { levelName }
    public static func < (lhs: SeverityNumber, rhs: SeverityNumber) -> Bool { lhs.rawValue < rhs.rawValue }
}
