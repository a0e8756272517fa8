import LoupeModel

/// A tag-based trace search (Tempo's `/api/search` without `q`): every condition must hold on
/// one span, where the span's own attributes, its resource's attributes and the intrinsics
/// `name`, `status` (`status.code`) and `kind` count; values match as case-insensitive substrings.
public struct TraceSearch: Sendable {
    public struct Condition: Sendable, Equatable {
        public enum Match: Sendable, Equatable {
            /// Tempo's tags: a case-insensitive substring.
            case substring
            /// Zipkin's queries: equal, ignoring case.
            case exact
            /// The key is present (any value).
            case exists
        }

        public var key: String
        /// Lowercased.
        public var value: String
        public var match: Match

        public init(key: String, value: String, match: Match = .substring) {
            self.key = key
            self.value = value.lowercased()
            self.match = match
        }

        func holds(_ text: String) -> Bool {
            switch match {
            case .substring: text.lowercased().contains(value)
            case .exact: text.lowercased() == value
            case .exists: true
            }
        }
    }

    public var conditions: [Condition]
    /// Traces overlapping this window (Unix ns).
    public var start: UInt64
    public var end: UInt64
    public var minimumDurationNanoseconds: UInt64?
    public var maximumDurationNanoseconds: UInt64?
    public var limit: Int
    /// Matching spans returned per trace (Tempo's `spss`).
    public var spansPerSpanSet: Int
    /// A further test a matching span must pass (Zipkin's span duration bounds, say).
    public var spanFilter: (@Sendable (Span, Resource) -> Bool)?

    public init(
        conditions: [Condition] = [], start: UInt64 = 0, end: UInt64 = .max, minimumDurationNanoseconds: UInt64? = nil,
        maximumDurationNanoseconds: UInt64? = nil, limit: Int = 20, spansPerSpanSet: Int = 3
    ) {
        self.conditions = conditions
        self.start = start
        self.end = end
        self.minimumDurationNanoseconds = minimumDurationNanoseconds
        self.maximumDurationNanoseconds = maximumDurationNanoseconds
        self.limit = limit
        self.spansPerSpanSet = spansPerSpanSet
    }

    /// What `admits` asks of a trace's figures, for scans to check before building summaries.
    public var scanBounds: TraceScanBounds {
        TraceScanBounds(
            start: start, end: end, minimumDuration: minimumDurationNanoseconds ?? 0, maximumDuration: maximumDurationNanoseconds ?? .max)
    }

    public func admits(_ summary: TraceSummary) -> Bool {
        guard summary.spanCount > 0, summary.startTimeUnixNano <= end, summary.endTimeUnixNano >= start else { return false }
        let duration = summary.durationNanoseconds
        if let minimum = minimumDurationNanoseconds, duration < minimum { return false }
        if let maximum = maximumDurationNanoseconds, duration > maximum { return false }
        return true
    }

    /// Whether the search looks at spans at all (else summaries answer it).
    var inspectsSpans: Bool { !conditions.isEmpty || spanFilter != nil }

    func matches(_ span: Span, resource: Resource) -> Bool {
        if let spanFilter, !spanFilter(span, resource) { return false }
        return conditions.allSatisfy { condition in
            switch condition.key {
            case "name": return condition.holds(span.name)
            case "status", "status.code": return condition.holds(span.status.code.description)
            case "kind": return condition.holds(span.kind.description)
            default:
                for attribute in span.attributes where attribute.key == condition.key {
                    if let text = attribute.value.scalarText, condition.holds(text) { return true }
                }
                for attribute in resource.attributes where attribute.key == condition.key {
                    if let text = attribute.value.scalarText, condition.holds(text) { return true }
                }
                // Zipkin's annotation queries name annotations (events) too.
                if condition.match == .exists, span.events.contains(where: { $0.name.lowercased() == condition.key.lowercased() }) { return true }
                return false
            }
        }
    }
}

/// One trace a search found, with the spans that matched (at most `spansPerSpanSet`).
public struct TraceSearchHit: Sendable, Equatable {
    public var summary: TraceSummary
    public var matchedSpans: [Span]
    public var matchedCount: Int
}

extension AnyValue {
    /// Strings, numbers and booleans as text (what tag search and tag values compare); nil for
    /// arrays, maps, bytes and empty values.
    public var scalarText: String? {
        switch self {
        case .string(let text): text
        case .int(let value): String(value)
        case .bool(let value): value ? "true" : "false"
        case .double(let value): value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        default: nil
        }
    }
}
