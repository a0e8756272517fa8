/// Every OTLP/JSON field name the decoder knows (lowerCamelCase, as the JSON mapping spells them).
/// The raw value is the key; it is also what error paths show.
enum OTLPJSONField: String, CaseIterable {
    case unknown = ""

    // Requests and grouping
    case resourceSpans, resourceLogs, resourceMetrics
    case scopeSpans, scopeLogs, scopeMetrics
    case resource, scope, schemaUrl
    case spans, logRecords, metrics

    // Common
    case attributes, droppedAttributesCount, entityRefs
    case type, idKeys, descriptionKeys
    case name, version
    case key, value, values
    case stringValue, boolValue, intValue, doubleValue, bytesValue, arrayValue, kvlistValue

    // Traces
    case traceId, spanId, traceState, parentSpanId, flags, kind
    case startTimeUnixNano, endTimeUnixNano, timeUnixNano
    case events, droppedEventsCount, links, droppedLinksCount, status
    case message, code

    // Logs
    case observedTimeUnixNano, severityNumber, severityText, body, eventName

    // Metrics
    case description, unit, metadata
    case gauge, sum, histogram, exponentialHistogram, summary
    case dataPoints, aggregationTemporality, isMonotonic
    case asDouble, asInt, exemplars, filteredAttributes
    case count, bucketCounts, explicitBounds, min, max
    case scale, zeroCount, positive, negative, offset, zeroThreshold
    case quantileValues, quantile

    // Export responses
    case partialSuccess, rejectedSpans, rejectedLogRecords, rejectedDataPoints, errorMessage
}

/// Maps key bytes to an `OTLPJSONField` with no allocation: names are grouped by length and
/// compared as three 64-bit words.
struct OTLPJSONFieldTable: Sendable {
    static let shared = OTLPJSONFieldTable()
    static let maximumLength = 24

    private struct Entry: Sendable {
        var words: (UInt64, UInt64, UInt64)
        var field: OTLPJSONField
    }

    private let entries: [Entry]
    /// `bounds[n] ..< bounds[n + 1]` are the entries whose name has `n` bytes.
    private let bounds: [Int]

    private init() {
        var byLength = [[Entry]](repeating: [], count: Self.maximumLength + 1)
        for field in OTLPJSONField.allCases where field != .unknown {
            let name = Array(field.rawValue.utf8)
            precondition(name.count <= Self.maximumLength, "field name too long: \(field.rawValue)")
            let words = name.withUnsafeBufferPointer { Self.words(of: $0) }
            byLength[name.count].append(Entry(words: words, field: field))
        }
        var entries: [Entry] = []
        var bounds: [Int] = []
        for group in byLength {
            bounds.append(entries.count)
            entries.append(contentsOf: group)
        }
        bounds.append(entries.count)
        self.entries = entries
        self.bounds = bounds
    }

    /// A key's bytes as three words, for comparison within one length: overlapping unaligned
    /// loads (no copy), so for a fixed length the words determine the bytes.
    @inline(__always)
    private static func words(of bytes: UnsafeBufferPointer<UInt8>) -> (UInt64, UInt64, UInt64) {
        let count = bytes.count
        let base = UnsafeRawPointer(bytes.baseAddress!)
        if count >= 16 {
            return (
                base.loadUnaligned(as: UInt64.self), base.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                base.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
            )
        }
        if count >= 8 {
            return (base.loadUnaligned(as: UInt64.self), base.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self), 0)
        }
        if count >= 4 {
            let low = UInt64(base.loadUnaligned(as: UInt32.self))
            let high = UInt64(base.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self))
            return (low | high << 32, 0, 0)
        }
        var word: UInt64 = 0
        for index in 0..<count { word |= UInt64(bytes[index]) << (8 * UInt64(index)) }
        return (word, 0, 0)
    }

    /// The field named by `key`; snake_case names (`schema_url`) are accepted as a fallback.
    @inline(__always)
    func lookup(_ key: UnsafeBufferPointer<UInt8>) -> OTLPJSONField {
        let field = exactLookup(key)
        if field != .unknown { return field }
        return snakeCaseLookup(key)
    }

    @inline(__always)
    private func exactLookup(_ key: UnsafeBufferPointer<UInt8>) -> OTLPJSONField {
        let count = key.count
        guard count > 0 && count <= Self.maximumLength else { return .unknown }
        let words = Self.words(of: key)
        var index = bounds[count]
        let stop = bounds[count + 1]
        while index < stop {
            let entry = entries[index]
            if entry.words.0 == words.0 && entry.words.1 == words.1 && entry.words.2 == words.2 { return entry.field }
            index += 1
        }
        return .unknown
    }

    /// Converts `trace_id` to `traceId` and looks that up. Only reached for unknown keys.
    @inline(never)
    private func snakeCaseLookup(_ key: UnsafeBufferPointer<UInt8>) -> OTLPJSONField {
        guard key.contains(UInt8(ascii: "_")), key.count <= 2 * Self.maximumLength else { return .unknown }
        var camel: [UInt8] = []
        camel.reserveCapacity(key.count)
        var upperNext = false
        for byte in key {
            if byte == UInt8(ascii: "_") {
                upperNext = true
                continue
            }
            if upperNext && byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") {
                camel.append(byte - 32)
            } else {
                camel.append(byte)
            }
            upperNext = false
        }
        return camel.withUnsafeBufferPointer { exactLookup($0) }
    }
}

/// Names of the OTLP enums, indexed by value, for the lenient string form of enum fields.
enum OTLPJSONEnumNames {
    static let spanKind: [StaticString] = [
        "SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER",
        "SPAN_KIND_CONSUMER",
    ]
    static let statusCode: [StaticString] = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"]
    static let aggregationTemporality: [StaticString] = [
        "AGGREGATION_TEMPORALITY_UNSPECIFIED", "AGGREGATION_TEMPORALITY_DELTA", "AGGREGATION_TEMPORALITY_CUMULATIVE",
    ]
    static let severityNumber: [StaticString] = [
        "SEVERITY_NUMBER_UNSPECIFIED",
        "SEVERITY_NUMBER_TRACE", "SEVERITY_NUMBER_TRACE2", "SEVERITY_NUMBER_TRACE3", "SEVERITY_NUMBER_TRACE4",
        "SEVERITY_NUMBER_DEBUG", "SEVERITY_NUMBER_DEBUG2", "SEVERITY_NUMBER_DEBUG3", "SEVERITY_NUMBER_DEBUG4",
        "SEVERITY_NUMBER_INFO", "SEVERITY_NUMBER_INFO2", "SEVERITY_NUMBER_INFO3", "SEVERITY_NUMBER_INFO4",
        "SEVERITY_NUMBER_WARN", "SEVERITY_NUMBER_WARN2", "SEVERITY_NUMBER_WARN3", "SEVERITY_NUMBER_WARN4",
        "SEVERITY_NUMBER_ERROR", "SEVERITY_NUMBER_ERROR2", "SEVERITY_NUMBER_ERROR3", "SEVERITY_NUMBER_ERROR4",
        "SEVERITY_NUMBER_FATAL", "SEVERITY_NUMBER_FATAL2", "SEVERITY_NUMBER_FATAL3", "SEVERITY_NUMBER_FATAL4",
    ]
}
