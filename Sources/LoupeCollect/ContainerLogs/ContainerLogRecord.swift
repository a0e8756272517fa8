import LoupeModel
import LoupeWire

/// Turns a whole container log line into an OTLP log record: a JSON object body is taken apart
/// (message, level, trace context, the rest as attributes), any other text is the body.
public struct ContainerLogRecordBuilder: Sendable {
    /// Keep the JSON line's text as `log.original` after taking it apart.
    public var keepOriginalBody: Bool

    public init(keepOriginalBody: Bool = true) { self.keepOriginalBody = keepOriginalBody }

    public func record(_ line: ContainerLogLine, observedUnixNano: UInt64) -> LogRecord {
        var record = LogRecord(
            timeUnixNano: line.timeUnixNano, observedTimeUnixNano: observedUnixNano, body: .string(line.text),
            attributes: [KeyValue("log.iostream", .string(line.stream.rawValue))])
        guard line.text.utf8.first == UInt8(ascii: "{"), let fields = Self.jsonObject(line.text) else { return record }
        var body: AnyValue?
        for field in fields {
            switch field.key {
            case "message", "msg":
                if body == nil {
                    body = field.value
                    continue
                }
            case "level", "log.level", "severity":
                if record.severityText.isEmpty, case .string(let text) = field.value {
                    record.severityText = text
                    record.severityNumber = Self.severity(text)
                    continue
                }
            case "trace_id", "traceId", "traceID":
                if case .string(let hex) = field.value, let id = TraceID(hex: hex), !id.isEmpty {
                    record.traceID = id
                    continue
                }
            case "span_id", "spanId", "spanID":
                if case .string(let hex) = field.value, let id = SpanID(hex: hex), !id.isEmpty {
                    record.spanID = id
                    continue
                }
            case "traceparent":
                if case .string(let header) = field.value, let context = Self.traceparent(header) {
                    if record.traceID.isEmpty { record.traceID = context.trace }
                    if record.spanID.isEmpty { record.spanID = context.span }
                    record.flags = context.flags
                    continue
                }
            default: break
            }
            record.attributes.append(field)
        }
        if keepOriginalBody { record.attributes.append(KeyValue("log.original", .string(line.text))) }
        record.body = body ?? .empty
        return record
    }

    /// OTLP severity numbers of the usual level names (TRACE 1, DEBUG 5, INFO 9, WARN 13, ERROR 17, FATAL 21).
    public static func severity(_ text: String) -> SeverityNumber {
        switch text.lowercased() {
        case "trace", "trc", "finest": .trace
        case "debug", "dbg", "fine", "finer": .debug
        case "info", "inf", "information", "informational", "notice": .info
        case "warn", "warning", "wrn": .warn
        case "error", "err", "eror": .error
        case "fatal", "critical", "crit", "panic", "emergency", "alert", "dpanic": SeverityNumber(rawValue: 21)
        default: .unspecified
        }
    }

    /// W3C `traceparent`: `00-<32 hex trace>-<16 hex span>-<2 hex flags>`.
    static func traceparent(_ header: String) -> (trace: TraceID, span: SpanID, flags: UInt32)? {
        let parts = header.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff", parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
            let trace = TraceID(hex: parts[1]), !trace.isEmpty, let span = SpanID(hex: parts[2]), !span.isEmpty,
            let flags = UInt32(parts[3], radix: 16)
        else { return nil }
        return (trace, span, flags)
    }

    /// The members of a JSON object as attributes (numbers as ints when integral, nested objects
    /// as maps); nil when the text is not exactly one JSON object.
    static func jsonObject(_ text: String) -> [KeyValue]? {
        var text = text
        return text.withUTF8 { buffer -> [KeyValue]? in
            var reader = JSONReader(UnsafeRawBufferPointer(buffer), maximumDepth: 32)
            do throws(WireError) {
                let value = try readValue(&reader)
                try reader.expectEnd()
                guard case .keyValueList(let fields) = value else { return nil }
                return fields
            } catch {
                return nil
            }
        }
    }

    private static func readValue(_ reader: inout JSONReader) throws(WireError) -> AnyValue {
        switch try reader.peekKind() {
        case .object:
            var members: [KeyValue] = []
            var object = try reader.beginObject()
            while try reader.nextMember(&object) {
                let key = reader.key
                members.append(KeyValue(key, try readValue(&reader)))
            }
            return .keyValueList(members)
        case .array:
            var elements: [AnyValue] = []
            var array = try reader.beginArray()
            while try reader.nextElement(&array) { elements.append(try readValue(&reader)) }
            return .array(elements)
        case .string: return .string(try reader.readString())
        case .bool: return .bool(try reader.readBool())
        case .null:
            try reader.readNull()
            return .empty
        case .number:
            let number = try reader.readNumber()
            if let integer = number.int64Value { return .int(integer) }
            return .double(number.doubleValue)
        }
    }
}

/// The resource of a container's logs, from its log path and what the node knows.
public struct ContainerResource: Sendable {
    public var nodeName: String?
    public var clusterName: String?

    public init(nodeName: String? = nil, clusterName: String? = nil) {
        self.nodeName = nodeName
        self.clusterName = clusterName
    }

    /// `k8s.*` attributes and `service.name` (the workload the pod name suggests, else the pod name).
    public func resource(for path: PodLogPath) -> Resource {
        var attributes = [
            KeyValue("k8s.namespace.name", .string(path.namespace)),
            KeyValue("k8s.pod.name", .string(path.pod)),
            KeyValue("k8s.pod.uid", .string(path.uid)),
            KeyValue("k8s.container.name", .string(path.container)),
            KeyValue("k8s.container.restart_count", .int(Int64(path.restartCount))),
        ]
        if let nodeName { attributes.append(KeyValue("k8s.node.name", .string(nodeName))) }
        if let clusterName { attributes.append(KeyValue("k8s.cluster.name", .string(clusterName))) }
        attributes.append(KeyValue("service.name", .string(PodLogPath.workloadName(ofPod: path.pod) ?? path.pod)))
        return Resource(attributes: attributes)
    }
}
