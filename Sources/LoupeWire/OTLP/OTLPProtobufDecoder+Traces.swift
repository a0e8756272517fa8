import LoupeModel

// Decoding of trace.proto / trace_service.proto.

extension OTLPProtobufDecoding {
    /// `ExportTraceServiceRequest` / `TracesData`: `repeated ResourceSpans resource_spans = 1`.
    func decodeTraceData(_ reader: inout ProtobufReader) throws(WireError) -> TraceData {
        var data = TraceData()
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                if tag == 1 << 3 | 2 {
                    var nested = try reader.readMessage()
                    var resourceSpans = ResourceSpans()
                    try decodeResourceSpans(&nested, into: &resourceSpans)
                    data.resourceSpans.append(consume resourceSpans)
                } else {
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            throw tag >> 3 == 1 ? error.prefixed(with: "resourceSpans", index: data.resourceSpans.count) : error
        }
        return data
    }

    func decodeResourceSpans(_ reader: inout ProtobufReader, into resourceSpans: inout ResourceSpans) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2:  // resource
                    var nested = try reader.readMessage()
                    try decodeResource(&nested, into: &resourceSpans.resource)
                case 2 << 3 | 2:  // scope_spans
                    var nested = try reader.readMessage()
                    var scopeSpans = ScopeSpans()
                    try decodeScopeSpans(&nested, into: &scopeSpans)
                    resourceSpans.scopeSpans.append(consume scopeSpans)
                case 3 << 3 | 2:  // schema_url
                    resourceSpans.schemaURL = try reader.readString()
                default:
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "resource")
            case 2: throw error.prefixed(with: "scopeSpans", index: resourceSpans.scopeSpans.count)
            case 3: throw error.prefixed(with: "schemaUrl")
            default: throw error
            }
        }
    }

    func decodeScopeSpans(_ reader: inout ProtobufReader, into scopeSpans: inout ScopeSpans) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2:  // scope
                    var nested = try reader.readMessage()
                    try decodeScope(&nested, into: &scopeSpans.scope)
                case 2 << 3 | 2:  // spans
                    var nested = try reader.readMessage()
                    if scopeSpans.spans.isEmpty { scopeSpans.spans.reserveCapacity(reader.estimatedRepeatCount(firstElement: nested)) }
                    var span = Span()
                    try decodeSpan(&nested, into: &span)
                    scopeSpans.spans.append(consume span)
                case 3 << 3 | 2:  // schema_url
                    scopeSpans.schemaURL = try reader.readString()
                default:
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "scope")
            case 2: throw error.prefixed(with: "spans", index: scopeSpans.spans.count)
            case 3: throw error.prefixed(with: "schemaUrl")
            default: throw error
            }
        }
    }

    func decodeSpan(_ reader: inout ProtobufReader, into span: inout Span) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2: span.traceID = try readTraceID(&reader, field: "trace_id")
                case 2 << 3 | 2: span.spanID = try readSpanID(&reader, field: "span_id")
                case 3 << 3 | 2: span.traceState = try reader.readString()
                case 4 << 3 | 2: span.parentSpanID = try readSpanID(&reader, field: "parent_span_id")
                case 5 << 3 | 2: span.name = try readValueString(&reader)
                case 6 << 3 | 0: span.kind = SpanKind(rawValue: try reader.readVarintInt32())
                case 7 << 3 | 1: span.startTimeUnixNano = try reader.readFixed64()
                case 8 << 3 | 1: span.endTimeUnixNano = try reader.readFixed64()
                case 9 << 3 | 2: try appendKeyValue(&reader, tag: tag, to: &span.attributes)
                case 10 << 3 | 0: span.droppedAttributesCount = try reader.readVarintUInt32()
                case 11 << 3 | 2:
                    if span.events.isEmpty { span.events.reserveCapacity(reader.countLengthDelimitedRun(tag: tag)) }
                    var nested = try reader.readMessage()
                    var event = SpanEvent()
                    try decodeSpanEvent(&nested, into: &event)
                    span.events.append(consume event)
                case 12 << 3 | 0: span.droppedEventsCount = try reader.readVarintUInt32()
                case 13 << 3 | 2:
                    if span.links.isEmpty { span.links.reserveCapacity(reader.countLengthDelimitedRun(tag: tag)) }
                    var nested = try reader.readMessage()
                    var link = SpanLink()
                    try decodeSpanLink(&nested, into: &link)
                    span.links.append(consume link)
                case 14 << 3 | 0: span.droppedLinksCount = try reader.readVarintUInt32()
                case 15 << 3 | 2:
                    var nested = try reader.readMessage()
                    try decodeStatus(&nested, into: &span.status)
                case 16 << 3 | 5: span.flags = try reader.readFixed32()
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            throw error.prefixed(with: Self.spanFieldName(tag, span))
        }
    }

    static func spanFieldName(_ tag: UInt32, _ span: Span) -> String {
        switch tag >> 3 {
        case 1: "traceId"
        case 2: "spanId"
        case 3: "traceState"
        case 4: "parentSpanId"
        case 5: "name"
        case 6: "kind"
        case 7: "startTimeUnixNano"
        case 8: "endTimeUnixNano"
        case 9: "attributes[\(span.attributes.count)]"
        case 10: "droppedAttributesCount"
        case 11: "events[\(span.events.count)]"
        case 12: "droppedEventsCount"
        case 13: "links[\(span.links.count)]"
        case 14: "droppedLinksCount"
        case 15: "status"
        case 16: "flags"
        default: ""
        }
    }

    func decodeSpanEvent(_ reader: inout ProtobufReader, into event: inout SpanEvent) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 1: event.timeUnixNano = try reader.readFixed64()
                case 2 << 3 | 2: event.name = try readValueString(&reader)
                case 3 << 3 | 2: try appendKeyValue(&reader, tag: tag, to: &event.attributes)
                case 4 << 3 | 0: event.droppedAttributesCount = try reader.readVarintUInt32()
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "timeUnixNano")
            case 2: throw error.prefixed(with: "name")
            case 3: throw error.prefixed(with: "attributes", index: event.attributes.count)
            case 4: throw error.prefixed(with: "droppedAttributesCount")
            default: throw error
            }
        }
    }

    func decodeSpanLink(_ reader: inout ProtobufReader, into link: inout SpanLink) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2: link.traceID = try readTraceID(&reader, field: "trace_id")
                case 2 << 3 | 2: link.spanID = try readSpanID(&reader, field: "span_id")
                case 3 << 3 | 2: link.traceState = try reader.readString()
                case 4 << 3 | 2: try appendKeyValue(&reader, tag: tag, to: &link.attributes)
                case 5 << 3 | 0: link.droppedAttributesCount = try reader.readVarintUInt32()
                case 6 << 3 | 5: link.flags = try reader.readFixed32()
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "traceId")
            case 2: throw error.prefixed(with: "spanId")
            case 3: throw error.prefixed(with: "traceState")
            case 4: throw error.prefixed(with: "attributes", index: link.attributes.count)
            case 5: throw error.prefixed(with: "droppedAttributesCount")
            case 6: throw error.prefixed(with: "flags")
            default: throw error
            }
        }
    }

    func decodeStatus(_ reader: inout ProtobufReader, into status: inout SpanStatus) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 2 << 3 | 2: status.message = try reader.readString()
                case 3 << 3 | 0: status.code = StatusCode(rawValue: try reader.readVarintInt32())
                default: try reader.skipField(tag: tag)  // 1 is the reserved deprecated_code
                }
            }
        } catch {
            switch tag >> 3 {
            case 2: throw error.prefixed(with: "message")
            case 3: throw error.prefixed(with: "code")
            default: throw error
            }
        }
    }
}
