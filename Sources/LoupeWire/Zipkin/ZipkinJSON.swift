import LoupeModel

/// Zipkin v2 JSON (`POST /api/v2/spans` with `application/json`, and the query API's answers):
/// a JSON array of spans. IDs are hex (traces 16 or 32 digits, spans 16; shorter ones are
/// left-padded, as Zipkin does), times and durations are microseconds.
public enum ZipkinJSON {
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> [ZipkinSpan] {
        let result = bytes.withUnsafeBytes { buffer in Result { () throws(WireError) in try decode(buffer) } }
        return try result.get()
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> [ZipkinSpan] {
        var reader = JSONReader(bytes)
        var spans: [ZipkinSpan] = []
        var array = try reader.beginArray()
        while try reader.nextElement(&array) {
            do {
                spans.append(try decodeSpan(&reader))
            } catch {
                throw error.prefixed(with: "", index: spans.count)
            }
        }
        try reader.expectEnd()
        return spans
    }

    static func decodeSpan(_ reader: inout JSONReader) throws(WireError) -> ZipkinSpan {
        var traceID: TraceID?
        var id: SpanID?
        var span = ZipkinSpan(traceID: .empty, id: .empty)
        var object = try reader.beginObject()
        while try reader.nextMember(&object, skippingNulls: true) {
            let key = reader.key
            do throws(WireError) {
                switch key {
                case "traceId": traceID = try traceIdentifier(try reader.readString())
                case "id": id = try spanIdentifier(try reader.readString())
                case "parentId": span.parentID = try spanIdentifier(try reader.readString())
                case "kind":
                    let text = try reader.readString()
                    guard let kind = ZipkinSpan.Kind(rawValue: text) else {
                        throw WireError(.invalidValue, "kind \(text.debugDescription) is not CLIENT, SERVER, PRODUCER or CONSUMER", offset: reader.offset)
                    }
                    span.kind = kind
                case "name": span.name = try reader.readString()
                case "timestamp": span.timestamp = try reader.readUInt64()
                case "duration": span.duration = try reader.readUInt64()
                case "localEndpoint": span.localEndpoint = try decodeEndpoint(&reader)
                case "remoteEndpoint": span.remoteEndpoint = try decodeEndpoint(&reader)
                case "annotations":
                    var annotations = try reader.beginArray()
                    while try reader.nextElement(&annotations) {
                        do {
                            span.annotations.append(try decodeAnnotation(&reader))
                        } catch {
                            throw error.prefixed(with: "", index: span.annotations.count)
                        }
                    }
                case "tags":
                    var tags = try reader.beginObject()
                    while try reader.nextMember(&tags) {
                        let name = reader.key
                        // Zipkin's tags are strings; numbers and booleans some clients send are kept as text.
                        let value: String
                        switch try reader.peekKind() {
                        case .string: value = try reader.readString()
                        case .number: value = String(decoding: try reader.readNumber().text, as: UTF8.self)
                        case .bool: value = try reader.readBool() ? "true" : "false"
                        default: throw WireError(.invalidValue, "a tag value must be a string", at: name, offset: reader.offset)
                        }
                        span.tags.append((name, value))
                    }
                case "debug": span.debug = try reader.readBool()
                case "shared": span.shared = try reader.readBool()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prefixed(with: key)
            }
        }
        guard let traceID else { throw WireError(.invalidValue, "a span needs a traceId", offset: reader.offset) }
        guard let id else { throw WireError(.invalidValue, "a span needs an id", offset: reader.offset) }
        span.traceID = traceID
        span.id = id
        return span
    }

    static func decodeEndpoint(_ reader: inout JSONReader) throws(WireError) -> ZipkinEndpoint? {
        var endpoint = ZipkinEndpoint()
        var object = try reader.beginObject()
        while try reader.nextMember(&object, skippingNulls: true) {
            let key = reader.key
            do {
                switch key {
                case "serviceName": endpoint.serviceName = try reader.readString()
                case "ipv4": endpoint.ipv4 = try reader.readString()
                case "ipv6": endpoint.ipv6 = try reader.readString()
                case "port": endpoint.port = try reader.readInt32()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prefixed(with: key)
            }
        }
        return endpoint.isEmpty ? nil : endpoint
    }

    static func decodeAnnotation(_ reader: inout JSONReader) throws(WireError) -> ZipkinAnnotation {
        var timestamp: UInt64?
        var value: String?
        var object = try reader.beginObject()
        while try reader.nextMember(&object, skippingNulls: true) {
            if reader.keyEquals("timestamp") {
                do { timestamp = try reader.readUInt64() } catch { throw error.prefixed(with: "timestamp") }
            } else if reader.keyEquals("value") {
                do { value = try reader.readString() } catch { throw error.prefixed(with: "value") }
            } else {
                try reader.skipValue()
            }
        }
        guard let timestamp, let value else {
            throw WireError(.invalidValue, "an annotation needs a timestamp and a value", offset: reader.offset)
        }
        return ZipkinAnnotation(timestamp: timestamp, value: value)
    }

    /// 1 to 32 hex digits, left-padded with zeros.
    static func traceIdentifier(_ text: String) throws(WireError) -> TraceID {
        guard let id = TraceID(paddedHex: text) else {
            throw WireError(.invalidValue, "\(text.debugDescription) is not a trace ID of 16 or 32 hex digits")
        }
        return id
    }

    /// 1 to 16 hex digits, left-padded with zeros.
    static func spanIdentifier(_ text: String) throws(WireError) -> SpanID {
        guard (1...16).contains(text.utf8.count), let id = SpanID(hex: String(repeating: "0", count: 16 - text.utf8.count) + text.lowercased()) else {
            throw WireError(.invalidValue, "\(text.debugDescription) is not a span ID of 16 hex digits")
        }
        return id
    }

    // MARK: Encoding

    /// Spans as a Zipkin v2 JSON array, fields in the API's order, absent values left out.
    public static func encode(_ spans: [ZipkinSpan]) -> [UInt8] {
        var writer = JSONWriter(capacity: 64 + spans.count * 400)
        writer.beginArray()
        for span in spans {
            encode(span, into: &writer)
            writer.comma()
        }
        writer.endArray()
        return writer.bytes
    }

    static func encode(_ span: ZipkinSpan, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("traceId")
        // A trace ID whose high half is zero came as 16 digits (64-bit, as Zipkin writes it).
        writer.string(span.traceID.high == 0 ? HexCoding.encode(span.traceID.bytes.suffix(8)) : span.traceID.hex)
        writer.comma()
        if !span.parentID.isEmpty {
            writer.key("parentId")
            writer.string(span.parentID.hex)
            writer.comma()
        }
        writer.key("id")
        writer.string(span.id.hex)
        writer.comma()
        if let kind = span.kind {
            writer.key("kind")
            writer.string(kind.rawValue)
            writer.comma()
        }
        if let name = span.name {
            writer.key("name")
            writer.string(name)
            writer.comma()
        }
        if let timestamp = span.timestamp {
            writer.key("timestamp")
            writer.decimal(timestamp)
            writer.comma()
        }
        if let duration = span.duration {
            writer.key("duration")
            writer.decimal(duration)
            writer.comma()
        }
        if let endpoint = span.localEndpoint {
            writer.key("localEndpoint")
            encode(endpoint, into: &writer)
            writer.comma()
        }
        if let endpoint = span.remoteEndpoint {
            writer.key("remoteEndpoint")
            encode(endpoint, into: &writer)
            writer.comma()
        }
        if !span.annotations.isEmpty {
            writer.key("annotations")
            writer.beginArray()
            for annotation in span.annotations {
                writer.beginObject()
                writer.key("timestamp")
                writer.decimal(annotation.timestamp)
                writer.comma()
                writer.key("value")
                writer.string(annotation.value)
                writer.endObject()
                writer.comma()
            }
            writer.endArray()
            writer.comma()
        }
        if !span.tags.isEmpty {
            writer.key("tags")
            writer.beginObject()
            for (key, value) in span.tags {
                writer.string(key)
                writer.byte(UInt8(ascii: ":"))
                writer.string(value)
                writer.comma()
            }
            writer.endObject()
            writer.comma()
        }
        if span.debug {
            writer.key("debug")
            writer.bool(true)
            writer.comma()
        }
        if span.shared {
            writer.key("shared")
            writer.bool(true)
            writer.comma()
        }
        writer.endObject()
    }

    static func encode(_ endpoint: ZipkinEndpoint, into writer: inout JSONWriter) {
        writer.beginObject()
        if let name = endpoint.serviceName {
            writer.key("serviceName")
            writer.string(name)
            writer.comma()
        }
        if let ipv4 = endpoint.ipv4 {
            writer.key("ipv4")
            writer.string(ipv4)
            writer.comma()
        }
        if let ipv6 = endpoint.ipv6 {
            writer.key("ipv6")
            writer.string(ipv6)
            writer.comma()
        }
        if let port = endpoint.port {
            writer.key("port")
            writer.decimal(Int64(port))
            writer.comma()
        }
        writer.endObject()
    }
}
