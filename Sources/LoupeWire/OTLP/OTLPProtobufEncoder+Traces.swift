import LoupeModel

// Encoding of trace.proto messages (fields prepended from the highest number down; see OTLPProtobufEncoder).

extension OTLPProtobufEncoding {
    static func prependResourceSpans(_ resourceSpans: ResourceSpans, field: UInt32, into writer: inout ProtobufWriter) {
        let mark = writer.count
        prependString(3, resourceSpans.schemaURL, into: &writer)
        for scopeSpans in resourceSpans.scopeSpans.reversed() { prependScopeSpans(scopeSpans, field: 2, into: &writer) }
        prependResource(1, resourceSpans.resource, into: &writer)
        writer.prependLengthAndTag(field: field, since: mark)
    }

    static func prependScopeSpans(_ scopeSpans: ScopeSpans, field: UInt32, into writer: inout ProtobufWriter) {
        let mark = writer.count
        prependString(3, scopeSpans.schemaURL, into: &writer)
        scopeSpans.spans.withUnsafeBufferPointer { spans in
            var index = spans.count
            while index > 0 {
                index &-= 1
                prependSpan(spans[index], field: 2, into: &writer)
            }
        }
        prependScope(1, scopeSpans.scope, into: &writer)
        writer.prependLengthAndTag(field: field, since: mark)
    }

    static func prependSpan(_ span: Span, field: UInt32, into writer: inout ProtobufWriter) {
        let mark = writer.count
        prependFixed32(16, span.flags, into: &writer)
        if !span.status.message.isEmpty || span.status.code != .unset {
            let statusMark = writer.count
            prependEnum(3, span.status.code.rawValue, into: &writer)
            prependString(2, span.status.message, into: &writer)
            writer.prependLengthAndTag(field: 15, since: statusMark)
        }
        prependUInt32(14, span.droppedLinksCount, into: &writer)
        for link in span.links.reversed() { prependSpanLink(link, field: 13, into: &writer) }
        prependUInt32(12, span.droppedEventsCount, into: &writer)
        for event in span.events.reversed() { prependSpanEvent(event, field: 11, into: &writer) }
        prependUInt32(10, span.droppedAttributesCount, into: &writer)
        prependKeyValues(9, span.attributes, into: &writer)
        prependFixed64(8, span.endTimeUnixNano, into: &writer)
        prependFixed64(7, span.startTimeUnixNano, into: &writer)
        prependEnum(6, span.kind.rawValue, into: &writer)
        prependString(5, span.name, into: &writer)
        prependSpanID(4, span.parentSpanID, into: &writer)
        prependString(3, span.traceState, into: &writer)
        prependSpanID(2, span.spanID, into: &writer)
        prependTraceID(1, span.traceID, into: &writer)
        writer.prependLengthAndTag(field: field, since: mark)
    }

    static func prependSpanEvent(_ event: SpanEvent, field: UInt32, into writer: inout ProtobufWriter) {
        let mark = writer.count
        prependUInt32(4, event.droppedAttributesCount, into: &writer)
        prependKeyValues(3, event.attributes, into: &writer)
        prependString(2, event.name, into: &writer)
        prependFixed64(1, event.timeUnixNano, into: &writer)
        writer.prependLengthAndTag(field: field, since: mark)
    }

    static func prependSpanLink(_ link: SpanLink, field: UInt32, into writer: inout ProtobufWriter) {
        let mark = writer.count
        prependFixed32(6, link.flags, into: &writer)
        prependUInt32(5, link.droppedAttributesCount, into: &writer)
        prependKeyValues(4, link.attributes, into: &writer)
        prependString(3, link.traceState, into: &writer)
        prependSpanID(2, link.spanID, into: &writer)
        prependTraceID(1, link.traceID, into: &writer)
        writer.prependLengthAndTag(field: field, since: mark)
    }
}
