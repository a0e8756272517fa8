import LoupeModel

/// Traces as the Jaeger query service's HTTP JSON answers them (what the Jaeger UI and Grafana's
/// Jaeger data source read): `{"data":[{"traceID","spans":[...],"processes":{...}}],"total":..}`.
/// OTLP maps as Jaeger's own translator maps it (../shared/specs/jaeger/otlp2jaeger-*.json):
/// the resource is the process (`service.name` its name, other attributes its tags); span tags
/// are the scope (`otel.scope.name`, `otel.scope.version`), the attributes, then `span.kind`,
/// `otel.status_code` / `error` / `otel.status_description`; events are logs (the name as an
/// `event` field); the parent is a `CHILD_OF` reference and links are `FOLLOWS_FROM`.
public enum JaegerJSON {
    /// `{"data":[...traces],"total":0,"limit":0,"offset":0,"errors":null}`.
    public static func encodeTraces(_ traces: [TraceData]) -> [UInt8] {
        var writer = JSONWriter(capacity: 1024)
        writer.raw(#"{"data":["#)
        for trace in traces {
            encode(trace, into: &writer)
            writer.comma()
        }
        writer.endArray()
        // Jaeger's query service leaves total at 0 for traces (../shared/specs/jaeger/otlp2jaeger-out.json).
        writer.raw(#","total":0,"limit":0,"offset":0,"errors":null}"#)
        return writer.bytes
    }

    /// `{"data":[...strings],...}` for service and operation lists.
    public static func encodeStrings(_ values: [String]) -> [UInt8] {
        var writer = JSONWriter(capacity: 64 + values.count * 24)
        writer.raw(#"{"data":["#)
        for value in values {
            writer.string(value)
            writer.comma()
        }
        writer.endArray()
        writer.raw(#","total":"#)
        writer.decimal(UInt64(values.count))
        writer.raw(#","limit":0,"offset":0,"errors":null}"#)
        return writer.bytes
    }

    /// `{"data":null,...,"errors":[{"code":404,"msg":"trace not found"}]}`.
    public static func encodeError(code: Int, message: String) -> [UInt8] {
        var writer = JSONWriter(capacity: 128)
        writer.raw(#"{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":"#)
        writer.decimal(Int64(code))
        writer.raw(#","msg":"#)
        writer.string(message)
        writer.raw("}]}")
        return writer.bytes
    }

    /// Jaeger writes a trace ID whose high half is zero as 16 digits.
    public static func traceIDText(_ id: TraceID) -> String {
        id.high == 0 ? HexCoding.encode(id.bytes.suffix(8)) : id.hex
    }

    static func encode(_ trace: TraceData, into writer: inout JSONWriter) {
        var processes: [Resource] = []
        let traceID = trace.resourceSpans.lazy.flatMap(\.scopeSpans).flatMap(\.spans).first?.traceID ?? .empty
        writer.beginObject()
        writer.key("traceID")
        writer.string(traceIDText(traceID))
        writer.comma()
        writer.key("spans")
        writer.beginArray()
        for resourceSpans in trace.resourceSpans {
            let processIndex: Int
            if let known = processes.firstIndex(of: resourceSpans.resource) {
                processIndex = known
            } else {
                processIndex = processes.count
                processes.append(resourceSpans.resource)
            }
            for scopeSpans in resourceSpans.scopeSpans {
                for span in scopeSpans.spans {
                    encode(span, scope: scopeSpans.scope, process: processIndex, into: &writer)
                    writer.comma()
                }
            }
        }
        writer.endArray()
        writer.comma()
        writer.key("processes")
        writer.beginObject()
        for (index, resource) in processes.enumerated() {
            writer.string("p\(index + 1)")
            writer.byte(UInt8(ascii: ":"))
            writer.beginObject()
            writer.key("serviceName")
            var serviceName = ""
            var tags: [KeyValue] = []
            for attribute in resource.attributes {
                if attribute.key == "service.name", case .string(let name) = attribute.value { serviceName = name } else { tags.append(attribute) }
            }
            writer.string(serviceName)
            writer.comma()
            writer.key("tags")
            encodeTags(tags, into: &writer)
            writer.endObject()
            writer.comma()
        }
        writer.endObject()
        writer.comma()
        writer.raw(#""warnings":null"#)
        writer.endObject()
    }

    static func encode(_ span: Span, scope: InstrumentationScope, process: Int, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("traceID")
        writer.string(traceIDText(span.traceID))
        writer.comma()
        writer.key("spanID")
        writer.string(span.spanID.hex)
        writer.comma()
        writer.key("operationName")
        writer.string(span.name)
        writer.comma()
        writer.key("references")
        writer.beginArray()
        if !span.parentSpanID.isEmpty {
            reference("CHILD_OF", traceID: span.traceID, spanID: span.parentSpanID, into: &writer)
        }
        for link in span.links {
            reference("FOLLOWS_FROM", traceID: link.traceID, spanID: link.spanID, into: &writer)
        }
        writer.endArray()
        writer.comma()
        writer.key("startTime")
        writer.decimal(span.startTimeUnixNano / 1_000)
        writer.comma()
        writer.key("duration")
        writer.decimal(span.durationNanos / 1_000)
        writer.comma()
        var tags: [KeyValue] = []
        if !scope.name.isEmpty { tags.append(KeyValue(key: "otel.scope.name", value: .string(scope.name))) }
        if !scope.version.isEmpty { tags.append(KeyValue(key: "otel.scope.version", value: .string(scope.version))) }
        tags += span.attributes
        switch span.kind {
        case .server, .client, .producer, .consumer, .internal: tags.append(KeyValue(key: "span.kind", value: .string(span.kind.description)))
        default: break
        }
        if span.status.code == .error {
            tags.append(KeyValue(key: "otel.status_code", value: .string("ERROR")))
            tags.append(KeyValue(key: "error", value: .bool(true)))
        } else if span.status.code == .ok {
            tags.append(KeyValue(key: "otel.status_code", value: .string("OK")))
        }
        if !span.status.message.isEmpty { tags.append(KeyValue(key: "otel.status_description", value: .string(span.status.message))) }
        if !span.traceState.isEmpty { tags.append(KeyValue(key: "w3c.tracestate", value: .string(span.traceState))) }
        writer.key("tags")
        encodeTags(tags, into: &writer)
        writer.comma()
        writer.key("logs")
        writer.beginArray()
        for event in span.events {
            writer.beginObject()
            writer.key("timestamp")
            writer.decimal(event.timeUnixNano / 1_000)
            writer.comma()
            writer.key("fields")
            encodeTags([KeyValue(key: "event", value: .string(event.name))] + event.attributes, into: &writer)
            writer.endObject()
            writer.comma()
        }
        writer.endArray()
        writer.comma()
        writer.key("processID")
        writer.string("p\(process + 1)")
        writer.comma()
        writer.raw(#""warnings":null"#)
        writer.endObject()
    }

    static func reference(_ type: StaticString, traceID: TraceID, spanID: SpanID, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("refType")
        writer.raw("\"")
        writer.raw(type)
        writer.raw("\",")
        writer.key("traceID")
        writer.string(traceIDText(traceID))
        writer.comma()
        writer.key("spanID")
        writer.string(spanID.hex)
        writer.endObject()
        writer.comma()
    }

    /// `[{"key":..,"type":"string"|"bool"|"int64"|"float64"|"binary","value":..}]`; arrays and maps as JSON text.
    static func encodeTags(_ tags: [KeyValue], into writer: inout JSONWriter) {
        writer.beginArray()
        for tag in tags {
            writer.beginObject()
            writer.key("key")
            writer.string(tag.key)
            writer.comma()
            switch tag.value {
            case .bool(let flag):
                writer.raw(#""type":"bool","value":"#)
                writer.bool(flag)
            case .int(let number):
                writer.raw(#""type":"int64","value":"#)
                writer.decimal(number)
            case .double(let number):
                writer.raw(#""type":"float64","value":"#)
                writer.double(number)
            case .bytes(let bytes):
                writer.raw(#""type":"binary","value":""#)
                JSONBase64.encode(bytes, into: &writer.bytes)
                writer.raw("\"")
            case .string(let text):
                writer.raw(#""type":"string","value":"#)
                writer.string(text)
            default:
                writer.raw(#""type":"string","value":"#)
                writer.string(ZipkinMapping.text(tag.value))
            }
            writer.endObject()
            writer.comma()
        }
        writer.endArray()
    }
}
