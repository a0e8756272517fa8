import LoupeModel

/// Zipkin spans as OTLP and back, so that what a Zipkin client sent reads back unchanged
/// through the Zipkin API, and OTLP spans read as Zipkin clients expect (OpenTelemetry's
/// Zipkin exporter mapping).
///
/// - `localEndpoint` is the resource: `service.name`, `net.host.ip` (IPv4), `net.host.ipv6`,
///   `net.host.port`; spans with the same local endpoint share one `ResourceSpans`.
/// - `remoteEndpoint` becomes span attributes `peer.service`, `net.peer.ip`, `net.peer.ipv6`, `net.peer.port`.
/// - tags are string attributes, in order; an `error` tag also sets the status to error, its
///   value the status message.
/// - `kind` maps one to one (no kind: unspecified); `shared` and `debug` are the boolean
///   attributes `zipkin.shared` and `zipkin.debug`; annotations are events.
/// - timestamps and durations go from microseconds to nanoseconds and back.
public enum ZipkinMapping {
    static let localKeys = (service: "service.name", ipv4: "net.host.ip", ipv6: "net.host.ipv6", port: "net.host.port")
    static let remoteKeys = (service: "peer.service", ipv4: "net.peer.ip", ipv6: "net.peer.ipv6", port: "net.peer.port")
    static let sharedKey = "zipkin.shared"
    static let debugKey = "zipkin.debug"

    public static func traceData(_ spans: [ZipkinSpan]) -> TraceData {
        var order: [ZipkinEndpoint?] = []
        var grouped: [ZipkinEndpoint?: [Span]] = [:]
        for zipkin in spans {
            if grouped[zipkin.localEndpoint] == nil { order.append(zipkin.localEndpoint) }
            grouped[zipkin.localEndpoint, default: []].append(span(zipkin))
        }
        return TraceData(resourceSpans: order.map { endpoint in
            ResourceSpans(
                resource: Resource(attributes: endpoint.map { attributes($0, keys: localKeys) } ?? []),
                scopeSpans: [ScopeSpans(spans: grouped[endpoint]!)])
        })
    }

    static func attributes(_ endpoint: ZipkinEndpoint, keys: (service: String, ipv4: String, ipv6: String, port: String)) -> [KeyValue] {
        var attributes: [KeyValue] = []
        if let name = endpoint.serviceName { attributes.append(KeyValue(key: keys.service, value: .string(name))) }
        if let ipv4 = endpoint.ipv4 { attributes.append(KeyValue(key: keys.ipv4, value: .string(ipv4))) }
        if let ipv6 = endpoint.ipv6 { attributes.append(KeyValue(key: keys.ipv6, value: .string(ipv6))) }
        if let port = endpoint.port { attributes.append(KeyValue(key: keys.port, value: .int(Int64(port)))) }
        return attributes
    }

    static func span(_ zipkin: ZipkinSpan) -> Span {
        let start = (zipkin.timestamp ?? 0).multipliedReportingOverflow(by: 1_000)
        let duration = (zipkin.duration ?? 0).multipliedReportingOverflow(by: 1_000)
        let startNanoseconds = start.overflow ? UInt64.max : start.partialValue
        let end = startNanoseconds.addingReportingOverflow(duration.overflow ? UInt64.max : duration.partialValue)
        var span = Span(
            traceID: zipkin.traceID, spanID: zipkin.id, parentSpanID: zipkin.parentID, name: zipkin.name ?? "",
            kind: kind(zipkin.kind), startTimeUnixNano: startNanoseconds, endTimeUnixNano: end.overflow ? .max : end.partialValue)
        span.attributes.reserveCapacity(zipkin.tags.count + 2)
        for (key, value) in zipkin.tags {
            span.attributes.append(KeyValue(key: key, value: .string(value)))
            if key == "error" { span.status = SpanStatus(message: value, code: .error) }
        }
        if let remote = zipkin.remoteEndpoint { span.attributes += attributes(remote, keys: remoteKeys) }
        if zipkin.shared { span.attributes.append(KeyValue(key: sharedKey, value: .bool(true))) }
        if zipkin.debug { span.attributes.append(KeyValue(key: debugKey, value: .bool(true))) }
        span.events = zipkin.annotations.map { annotation in
            let time = annotation.timestamp.multipliedReportingOverflow(by: 1_000)
            return SpanEvent(timeUnixNano: time.overflow ? .max : time.partialValue, name: annotation.value)
        }
        return span
    }

    static func kind(_ kind: ZipkinSpan.Kind?) -> SpanKind {
        switch kind {
        case .client: .client
        case .server: .server
        case .producer: .producer
        case .consumer: .consumer
        case nil: .unspecified
        }
    }

    // MARK: OTLP to Zipkin

    public static func zipkinSpans(_ data: TraceData) -> [ZipkinSpan] {
        var result: [ZipkinSpan] = []
        for resourceSpans in data.resourceSpans {
            var local = ZipkinEndpoint()
            var resourceTags: [(key: String, value: String)] = []
            for attribute in resourceSpans.resource.attributes {
                switch attribute.key {
                case localKeys.service: local.serviceName = text(attribute.value)
                case localKeys.ipv4: local.ipv4 = text(attribute.value)
                case localKeys.ipv6: local.ipv6 = text(attribute.value)
                case localKeys.port: local.port = port(attribute.value)
                default: resourceTags.append((attribute.key, text(attribute.value)))
                }
            }
            for scopeSpans in resourceSpans.scopeSpans {
                var scopeTags: [(key: String, value: String)] = []
                if !scopeSpans.scope.name.isEmpty { scopeTags.append(("otel.scope.name", scopeSpans.scope.name)) }
                if !scopeSpans.scope.version.isEmpty { scopeTags.append(("otel.scope.version", scopeSpans.scope.version)) }
                for span in scopeSpans.spans {
                    var zipkin = zipkinSpan(span)
                    zipkin.localEndpoint = local.isEmpty ? nil : local
                    zipkin.tags = resourceTags + scopeTags + zipkin.tags
                    result.append(zipkin)
                }
            }
        }
        return result
    }

    static func zipkinSpan(_ span: Span) -> ZipkinSpan {
        var zipkin = ZipkinSpan(traceID: span.traceID, id: span.spanID)
        zipkin.parentID = span.parentSpanID
        zipkin.name = span.name.isEmpty ? nil : span.name
        switch span.kind {
        case .client: zipkin.kind = .client
        case .server: zipkin.kind = .server
        case .producer: zipkin.kind = .producer
        case .consumer: zipkin.kind = .consumer
        default: zipkin.kind = nil
        }
        if span.startTimeUnixNano > 0 { zipkin.timestamp = span.startTimeUnixNano / 1_000 }
        if span.endTimeUnixNano > span.startTimeUnixNano {
            // Zipkin's durations are whole microseconds, at least one.
            zipkin.duration = max(1, (span.endTimeUnixNano - span.startTimeUnixNano) / 1_000)
        }
        var remote = ZipkinEndpoint()
        var hasErrorTag = false
        for attribute in span.attributes {
            switch attribute.key {
            case remoteKeys.service: remote.serviceName = text(attribute.value)
            case remoteKeys.ipv4: remote.ipv4 = text(attribute.value)
            case remoteKeys.ipv6: remote.ipv6 = text(attribute.value)
            case remoteKeys.port: remote.port = port(attribute.value)
            case sharedKey: zipkin.shared = attribute.value == .bool(true)
            case debugKey: zipkin.debug = attribute.value == .bool(true)
            default:
                if attribute.key == "error" { hasErrorTag = true }
                zipkin.tags.append((attribute.key, text(attribute.value)))
            }
        }
        zipkin.remoteEndpoint = remote.isEmpty ? nil : remote
        // OpenTelemetry's status as the Zipkin exporter writes it, unless an `error` tag says it already.
        if span.status.code == .error && !hasErrorTag {
            zipkin.tags.append(("otel.status_code", "ERROR"))
            zipkin.tags.append(("error", span.status.message))
        } else if span.status.code == .ok {
            zipkin.tags.append(("otel.status_code", "OK"))
        }
        zipkin.annotations = span.events.map { event in
            var value = event.name
            if !event.attributes.isEmpty {
                var writer = JSONWriter(capacity: 128)
                plainJSON(.keyValueList(event.attributes), into: &writer)
                value += " " + String(decoding: writer.bytes, as: UTF8.self)
            }
            return ZipkinAnnotation(timestamp: event.timeUnixNano / 1_000, value: value)
        }
        return zipkin
    }

    static func text(_ value: AnyValue) -> String {
        switch value {
        case .string(let text): return text
        case .int(let value): return String(value)
        case .bool(let value): return value ? "true" : "false"
        case .double(let value): return String(value)
        case .empty: return ""
        default:
            var writer = JSONWriter(capacity: 128)
            plainJSON(value, into: &writer)
            return String(decoding: writer.bytes, as: UTF8.self)
        }
    }

    /// A value as plain JSON (arrays as arrays, maps as objects, bytes as hex), for tag text.
    static func plainJSON(_ value: AnyValue, into writer: inout JSONWriter) {
        switch value {
        case .empty: writer.raw("null")
        case .string(let text): writer.string(text)
        case .bool(let flag): writer.bool(flag)
        case .int(let number): writer.decimal(number)
        case .double(let number): writer.double(number)
        case .bytes(let bytes): writer.string(HexCoding.encode(bytes))
        case .array(let values):
            writer.beginArray()
            for element in values {
                plainJSON(element, into: &writer)
                writer.comma()
            }
            writer.endArray()
        case .keyValueList(let pairs):
            writer.beginObject()
            for pair in pairs {
                writer.string(pair.key)
                writer.byte(UInt8(ascii: ":"))
                plainJSON(pair.value, into: &writer)
                writer.comma()
            }
            writer.endObject()
        }
    }

    static func port(_ value: AnyValue) -> Int32? {
        switch value {
        case .int(let number): Int32(exactly: number)
        case .string(let text): Int32(text)
        default: nil
        }
    }
}
