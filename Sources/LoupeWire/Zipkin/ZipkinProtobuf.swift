import LoupeModel

/// Zipkin v2 protobuf (`zipkin.proto`, `ListOfSpans`), as `POST /api/v2/spans` takes it with
/// `application/x-protobuf`. IDs are raw bytes (trace 8 or 16, span 8), IPs raw addresses.
public enum ZipkinProtobuf {
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> [ZipkinSpan] {
        let result = bytes.withUnsafeBytes { buffer in Result { () throws(WireError) in try decode(buffer) } }
        return try result.get()
    }

    /// `ListOfSpans { repeated Span spans = 1; }`
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> [ZipkinSpan] {
        var reader = ProtobufReader(bytes)
        var spans: [ZipkinSpan] = []
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            if tag == 1 << 3 | 2 {
                var message = try reader.readMessage()
                do {
                    spans.append(try decodeSpan(&message))
                } catch {
                    throw error.prefixed(with: "spans", index: spans.count)
                }
            } else {
                try reader.skipField(tag: tag)
            }
        }
        return spans
    }

    static func decodeSpan(_ reader: inout ProtobufReader) throws(WireError) -> ZipkinSpan {
        var span = ZipkinSpan(traceID: .empty, id: .empty)
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            switch tag {
            case 1 << 3 | 2:
                let bytes = try reader.readBytes()
                switch bytes.count {
                case 8: span.traceID = TraceID(high: 0, low: SpanID(bytes: bytes)!.value)
                case 16: span.traceID = TraceID(bytes: bytes)!
                default: throw WireError(.invalidLength, "trace_id has \(bytes.count) bytes; expected 8 or 16", at: "trace_id", offset: reader.offset)
                }
            case 2 << 3 | 2: span.parentID = try spanID(&reader, field: "parent_id")
            case 3 << 3 | 2: span.id = try spanID(&reader, field: "id")
            case 4 << 3 | 0:
                let value = try reader.readVarint()
                switch value {
                case 0: span.kind = nil
                case 1: span.kind = .client
                case 2: span.kind = .server
                case 3: span.kind = .producer
                case 4: span.kind = .consumer
                default: throw WireError(.invalidValue, "kind \(value) is not a Zipkin span kind", at: "kind", offset: reader.offset)
                }
            case 5 << 3 | 2: span.name = try reader.readString()
            case 6 << 3 | 1: span.timestamp = try reader.readFixed64()
            case 7 << 3 | 0: span.duration = try reader.readVarint()
            case 8 << 3 | 2:
                var message = try reader.readMessage()
                do { span.localEndpoint = try decodeEndpoint(&message) } catch { throw error.prefixed(with: "local_endpoint") }
            case 9 << 3 | 2:
                var message = try reader.readMessage()
                do { span.remoteEndpoint = try decodeEndpoint(&message) } catch { throw error.prefixed(with: "remote_endpoint") }
            case 10 << 3 | 2:
                var message = try reader.readMessage()
                var annotation = ZipkinAnnotation(timestamp: 0, value: "")
                while !message.isAtEnd {
                    let inner = try message.readTag()
                    switch inner {
                    case 1 << 3 | 1: annotation.timestamp = try message.readFixed64()
                    case 2 << 3 | 2: annotation.value = try message.readString()
                    default: try message.skipField(tag: inner)
                    }
                }
                span.annotations.append(annotation)
            case 11 << 3 | 2:
                // map<string, string>: entries of key = 1, value = 2.
                var entry = try reader.readMessage()
                var key = ""
                var value = ""
                while !entry.isAtEnd {
                    let inner = try entry.readTag()
                    switch inner {
                    case 1 << 3 | 2: key = try entry.readString()
                    case 2 << 3 | 2: value = try entry.readString()
                    default: try entry.skipField(tag: inner)
                    }
                }
                span.tags.append((key, value))
            case 12 << 3 | 0: span.debug = try reader.readBool()
            case 13 << 3 | 0: span.shared = try reader.readBool()
            default: try reader.skipField(tag: tag)
            }
        }
        guard !span.traceID.isEmpty else { throw WireError(.invalidValue, "a span needs a trace_id", offset: reader.offset) }
        guard !span.id.isEmpty else { throw WireError(.invalidValue, "a span needs an id", offset: reader.offset) }
        return span
    }

    static func spanID(_ reader: inout ProtobufReader, field: String) throws(WireError) -> SpanID {
        let bytes = try reader.readBytes()
        guard let id = SpanID(bytes: bytes) else {
            throw WireError(.invalidLength, "\(field) has \(bytes.count) bytes; expected 8", at: field, offset: reader.offset)
        }
        return id
    }

    /// `Endpoint { string service_name = 1; bytes ipv4 = 2; bytes ipv6 = 3; int32 port = 4; }`
    static func decodeEndpoint(_ reader: inout ProtobufReader) throws(WireError) -> ZipkinEndpoint? {
        var endpoint = ZipkinEndpoint()
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            switch tag {
            case 1 << 3 | 2: endpoint.serviceName = try reader.readString()
            case 2 << 3 | 2:
                let bytes = try reader.readBytes()
                guard bytes.count == 4 else { throw WireError(.invalidLength, "ipv4 has \(bytes.count) bytes; expected 4", at: "ipv4", offset: reader.offset) }
                endpoint.ipv4 = bytes.map(String.init).joined(separator: ".")
            case 3 << 3 | 2:
                let bytes = try reader.readBytes()
                guard bytes.count == 16 else { throw WireError(.invalidLength, "ipv6 has \(bytes.count) bytes; expected 16", at: "ipv6", offset: reader.offset) }
                endpoint.ipv6 = ipv6Text(bytes)
            case 4 << 3 | 0: endpoint.port = try reader.readVarintInt32()
            default: try reader.skipField(tag: tag)
            }
        }
        return endpoint.isEmpty ? nil : endpoint
    }

    /// RFC 5952 text: lowercase, leading zeros dropped, the longest run of two or more zero groups as `::`.
    static func ipv6Text(_ bytes: [UInt8]) -> String {
        let groups = (0..<8).map { UInt16(bytes[$0 * 2]) << 8 | UInt16(bytes[$0 * 2 + 1]) }
        var best = (start: -1, length: 0)
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < 8, groups[end] == 0 { end += 1 }
            if end - index > best.length, end - index >= 2 { best = (index, end - index) }
            index = end
        }
        func text(_ range: Range<Int>) -> String { range.map { String(groups[$0], radix: 16) }.joined(separator: ":") }
        guard best.start >= 0 else { return text(0..<8) }
        return text(0..<best.start) + "::" + text((best.start + best.length)..<8)
    }
}
