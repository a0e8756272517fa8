import LoupeModel

/// A span inside an OTLP protobuf trace request, located but not decoded: its IDs, the resource
/// and scope group it belongs to, and where its `Span` message is.
public struct LocatedSpan: Sendable {
    public var traceID: TraceID
    public var spanID: SpanID
    /// Index into the origins `OTLPProtobuf.locateSpans` returns.
    public var origin: Int
    /// The `Span` message's bytes, as offsets into the request.
    public var range: Range<Int>
}

/// The resource and scope (with their schema URLs) a group of spans came from.
public struct LocatedOrigin: Sendable {
    public var resource: Resource
    public var resourceSchemaURL: String
    public var scope: InstrumentationScope
    public var scopeSchemaURL: String
}

extension OTLPProtobuf {
    /// Finds every span of an `ExportTraceServiceRequest` without building it: what storage needs
    /// to lay spans out by trace and then read each one's fields straight from the bytes.
    ///
    /// Resources and scopes are decoded (few, and merged by the protobuf rules exactly as
    /// `decodeTraces` merges them); of each span only `trace_id` and `span_id` are read. Spans come
    /// in the order `decodeTraces` gives them, each with the index of its group in `origins`.
    public static func locateSpans(
        _ bytes: UnsafeRawBufferPointer, into spans: inout [LocatedSpan]
    ) throws(WireError) -> [LocatedOrigin] {
        let decoding = OTLPProtobufDecoding()
        defer { decoding.release() }
        var reader = ProtobufReader(bytes)
        var origins: [LocatedOrigin] = []
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            guard tag == 1 << 3 | 2 else {
                try reader.skipField(tag: tag)
                continue
            }
            var resourceSpans = try reader.readMessage()
            try decoding.locate(&resourceSpans, origins: &origins, spans: &spans)
        }
        return origins
    }

    /// A trace ID's bytes as OTLP allows them: 16, or none (the empty ID).
    @inline(__always)
    public static func traceID(_ bytes: UnsafeRawBufferPointer, field: String = "trace_id", offset: Int = 0) throws(WireError) -> TraceID {
        if bytes.count == 16 {
            return TraceID(
                high: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                low: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
        if bytes.isEmpty { return .empty }
        throw WireError(.invalidLength, "\(field) must be 16 bytes, got \(bytes.count)", offset: offset)
    }

    /// A span ID's bytes as OTLP allows them: 8, or none (the empty ID).
    @inline(__always)
    public static func spanID(_ bytes: UnsafeRawBufferPointer, field: String = "span_id", offset: Int = 0) throws(WireError) -> SpanID {
        if bytes.count == 8 { return SpanID(value: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))) }
        if bytes.isEmpty { return .empty }
        throw WireError(.invalidLength, "\(field) must be 8 bytes, got \(bytes.count)", offset: offset)
    }

    /// Decodes one `AnyValue` message.
    public static func decodeAnyValue(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> AnyValue {
        let decoding = OTLPProtobufDecoding()
        defer { decoding.release() }
        var reader = ProtobufReader(bytes)
        return try decoding.decodeAnyValue(&reader, depth: 0)
    }
}

extension OTLPProtobufDecoding {
    /// One `ResourceSpans`: its resource and schema URL may follow its scope groups, so the groups
    /// are walked once the whole message has been seen.
    func locate(_ reader: inout ProtobufReader, origins: inout [LocatedOrigin], spans: inout [LocatedSpan]) throws(WireError) {
        var resource = Resource()
        var schemaURL = ""
        var groups: [ProtobufReader] = []
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            switch tag {
            case 1 << 3 | 2:
                var nested = try reader.readMessage()
                try decodeResource(&nested, into: &resource)
            case 2 << 3 | 2: groups.append(try reader.readMessage())
            case 3 << 3 | 2: schemaURL = try reader.readString()
            default: try reader.skipField(tag: tag)
            }
        }
        for var group in groups {
            var scope = InstrumentationScope()
            var scopeSchemaURL = ""
            var members: [ProtobufReader] = []
            while !group.isAtEnd {
                let tag = try group.readTag()
                switch tag {
                case 1 << 3 | 2:
                    var nested = try group.readMessage()
                    try decodeScope(&nested, into: &scope)
                case 2 << 3 | 2: members.append(try group.readMessage())
                case 3 << 3 | 2: scopeSchemaURL = try group.readString()
                default: try group.skipField(tag: tag)
                }
            }
            let origin = origins.count
            origins.append(LocatedOrigin(resource: resource, resourceSchemaURL: schemaURL, scope: scope, scopeSchemaURL: scopeSchemaURL))
            for var member in members {
                let range = member.offset..<member.end
                var traceID = TraceID.empty
                var spanID = SpanID.empty
                while !member.isAtEnd {
                    let tag = try member.readTag()
                    switch tag {
                    case 1 << 3 | 2: traceID = try readTraceID(&member, field: "trace_id")
                    case 2 << 3 | 2: spanID = try readSpanID(&member, field: "span_id")
                    default: try member.skipField(tag: tag)
                    }
                }
                spans.append(LocatedSpan(traceID: traceID, spanID: spanID, origin: origin, range: range))
            }
        }
    }
}
