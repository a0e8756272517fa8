/// Every field a path can name. The shared ones (resource, scope, cache) exist in every context.
enum OTTLField: Sendable, Equatable, CaseIterable {
    case resourceAttributes, resourceDroppedAttributesCount
    case scopeName, scopeVersion, scopeAttributes, scopeDroppedAttributesCount
    case cache

    case logBody, logBodyString, logAttributes, logSeverityNumber, logSeverityText
    case logTimeUnixNano, logObservedTimeUnixNano, logTraceID, logTraceIDString, logSpanID, logSpanIDString
    case logFlags, logEventName, logDroppedAttributesCount

    case spanName, spanKind, spanStatusCode, spanStatusMessage, spanAttributes
    case spanStartTimeUnixNano, spanEndTimeUnixNano, spanTraceID, spanTraceIDString, spanSpanID, spanSpanIDString
    case spanParentSpanID, spanParentSpanIDString, spanTraceState, spanFlags
    case spanDroppedAttributesCount, spanDroppedEventsCount, spanDroppedLinksCount

    case metricName, metricDescription, metricUnit, metricType
    case dataPointAttributes, dataPointValueInt, dataPointValueDouble, dataPointTimeUnixNano, dataPointStartTimeUnixNano

    /// The type a field holds, which decides what `set` may write and which editors may target it.
    enum ValueType: String, Sendable {
        case string, int, double, bytes, map
        /// The log body, which holds any value.
        case any
    }

    var valueType: ValueType {
        switch self {
        case .resourceAttributes, .scopeAttributes, .cache, .logAttributes, .spanAttributes, .dataPointAttributes: .map
        case .logBody: .any
        case .scopeName, .scopeVersion, .logBodyString, .logSeverityText, .logTraceIDString, .logSpanIDString, .logEventName,
             .spanName, .spanStatusMessage, .spanTraceIDString, .spanSpanIDString, .spanParentSpanIDString, .spanTraceState,
             .metricName, .metricDescription, .metricUnit:
            .string
        case .logTraceID, .logSpanID, .spanTraceID, .spanSpanID, .spanParentSpanID: .bytes
        case .dataPointValueDouble: .double
        default: .int
        }
    }

    /// Only what OTTL indexes: maps, and the body (which may hold a map or a list).
    var acceptsKeys: Bool { valueType == .map || valueType == .any }

    /// The metric's type follows from how it is stored; a statement cannot change it.
    var isReadOnly: Bool { self == .metricType }
}

/// How dotted names map to fields in each context.
enum OTTLPaths {
    /// The first segment of paths that belong to one context.
    static let contextPrefixes: [String: OTTLContextKind] = [
        "log": .log, "span": .span, "metric": .datapoint, "datapoint": .datapoint,
    ]

    /// Paths every context has; `instrumentation_scope` is OTTL's older spelling of `scope`.
    static let shared: [String: OTTLField] = [
        "resource.attributes": .resourceAttributes,
        "resource.dropped_attributes_count": .resourceDroppedAttributesCount,
        "scope.name": .scopeName,
        "scope.version": .scopeVersion,
        "scope.attributes": .scopeAttributes,
        "scope.dropped_attributes_count": .scopeDroppedAttributesCount,
        "instrumentation_scope.name": .scopeName,
        "instrumentation_scope.version": .scopeVersion,
        "instrumentation_scope.attributes": .scopeAttributes,
        "instrumentation_scope.dropped_attributes_count": .scopeDroppedAttributesCount,
    ]

    static let log: [String: OTTLField] = [
        "log.body": .logBody,
        "log.body.string": .logBodyString,
        "log.attributes": .logAttributes,
        "log.severity_number": .logSeverityNumber,
        "log.severity_text": .logSeverityText,
        "log.time_unix_nano": .logTimeUnixNano,
        "log.observed_time_unix_nano": .logObservedTimeUnixNano,
        "log.trace_id": .logTraceID,
        "log.trace_id.string": .logTraceIDString,
        "log.span_id": .logSpanID,
        "log.span_id.string": .logSpanIDString,
        "log.flags": .logFlags,
        "log.event_name": .logEventName,
        "log.dropped_attributes_count": .logDroppedAttributesCount,
        "log.cache": .cache,
    ]

    static let span: [String: OTTLField] = [
        "span.name": .spanName,
        "span.kind": .spanKind,
        "span.status.code": .spanStatusCode,
        "span.status.message": .spanStatusMessage,
        "span.attributes": .spanAttributes,
        "span.start_time_unix_nano": .spanStartTimeUnixNano,
        "span.end_time_unix_nano": .spanEndTimeUnixNano,
        "span.trace_id": .spanTraceID,
        "span.trace_id.string": .spanTraceIDString,
        "span.span_id": .spanSpanID,
        "span.span_id.string": .spanSpanIDString,
        "span.parent_span_id": .spanParentSpanID,
        "span.parent_span_id.string": .spanParentSpanIDString,
        "span.trace_state": .spanTraceState,
        "span.flags": .spanFlags,
        "span.dropped_attributes_count": .spanDroppedAttributesCount,
        "span.dropped_events_count": .spanDroppedEventsCount,
        "span.dropped_links_count": .spanDroppedLinksCount,
        "span.cache": .cache,
    ]

    static let datapoint: [String: OTTLField] = [
        "metric.name": .metricName,
        "metric.description": .metricDescription,
        "metric.unit": .metricUnit,
        "metric.type": .metricType,
        "datapoint.attributes": .dataPointAttributes,
        "datapoint.value_int": .dataPointValueInt,
        "datapoint.value_double": .dataPointValueDouble,
        "datapoint.time_unix_nano": .dataPointTimeUnixNano,
        "datapoint.start_time_unix_nano": .dataPointStartTimeUnixNano,
        "datapoint.cache": .cache,
    ]

    static func paths(of context: OTTLContextKind) -> [String: OTTLField] {
        switch context {
        case .log: log
        case .span: span
        case .datapoint: datapoint
        }
    }

    /// The first path segments a statement of this context may start with, for messages.
    static func prefixes(of context: OTTLContextKind) -> String {
        switch context {
        case .log: "\"log.\", \"resource.\" and \"scope.\""
        case .span: "\"span.\", \"resource.\" and \"scope.\""
        case .datapoint: "\"metric.\", \"datapoint.\", \"resource.\" and \"scope.\""
        }
    }

    /// The field a dotted name names in this context, or the error naming what is wrong with it.
    static func resolve(_ dottedName: String, firstSegment: String, context: OTTLContextKind, column: Int) throws(OTTLError) -> OTTLField {
        if let field = paths(of: context)[dottedName] ?? shared[dottedName] { return field }
        if let owner = contextPrefixes[firstSegment], owner != context {
            throw OTTLError(.wrongContext, column: column,
                            "path \"\(dottedName)\" belongs to \(owner) statements; \(context) statements use paths starting with \(prefixes(of: context))")
        }
        var message = "unknown path \"\(dottedName)\""
        if let suggestion = suggestion(for: dottedName, context: context) {
            message += " (did you mean \"\(suggestion)\"?)"
        }
        if contextPrefixes[firstSegment] == nil && shared.keys.allSatisfy({ !$0.hasPrefix(firstSegment + ".") }) {
            message += "; paths start with their context: \(prefixes(of: context))"
        }
        throw OTTLError(.unknownPath, column: column, message)
    }

    /// The known path closest to a misspelt one, or the one it names without its context (`attributes`).
    static func suggestion(for dottedName: String, context: OTTLContextKind) -> String? {
        let known = Array(paths(of: context).keys) + Array(shared.keys)
        let ownPrefixes = context == .datapoint ? ["datapoint.", "metric."] : ["\(context)."]
        for prefix in ownPrefixes where known.contains(prefix + dottedName) {
            return prefix + dottedName
        }
        return OTTLSpelling.closest(to: dottedName, among: known)
    }
}

/// "Did you mean" for misspelt names: the nearest candidate by edit distance, if it is near enough.
enum OTTLSpelling {
    static func closest(to word: String, among candidates: some Sequence<String>) -> String? {
        let lowered = Array(word.lowercased().unicodeScalars)
        // Longer names tolerate more typos; one is always allowed.
        let tolerance = max(1, min(3, lowered.count / 4))
        var best: (candidate: String, distance: Int)?
        for candidate in candidates.sorted() {
            let distance = editDistance(lowered, Array(candidate.lowercased().unicodeScalars))
            if distance == 0 { return candidate }
            if distance <= tolerance, distance < best?.distance ?? .max {
                best = (candidate, distance)
            }
        }
        return best?.candidate
    }

    static func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = Array(repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
