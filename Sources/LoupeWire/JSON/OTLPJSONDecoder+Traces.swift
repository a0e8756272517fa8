import LoupeModel

extension OTLPJSONDecoder {
    mutating func decodeTraceRequest() throws(WireError) -> TraceData {
        var data = TraceData()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .resourceSpans: data.resourceSpans = try decodeArray { (decoder) throws(WireError) in try decoder.decodeResourceSpans() }
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return data
    }

    mutating func decodeResourceSpans() throws(WireError) -> ResourceSpans {
        var resourceSpans = ResourceSpans()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .resource: resourceSpans.resource = try decodeResource()
                case .scopeSpans: resourceSpans.scopeSpans = try decodeArray { (decoder) throws(WireError) in try decoder.decodeScopeSpans() }
                case .schemaUrl: resourceSpans.schemaURL = try readInternedString()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return resourceSpans
    }

    mutating func decodeScopeSpans() throws(WireError) -> ScopeSpans {
        var scopeSpans = ScopeSpans()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .scope: scopeSpans.scope = try decodeScope()
                case .spans: scopeSpans.spans = try decodeArray { (decoder) throws(WireError) in try decoder.decodeSpan() }
                case .schemaUrl: scopeSpans.schemaURL = try readInternedString()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return scopeSpans
    }

    mutating func decodeSpan() throws(WireError) -> Span {
        var span = Span()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .traceId: span.traceID = try readTraceID()
                case .spanId: span.spanID = try readSpanID()
                case .traceState: span.traceState = try reader.readString()
                case .parentSpanId: span.parentSpanID = try readSpanID()
                case .flags: span.flags = try reader.readUInt32()
                case .name: span.name = try readInternedString()
                case .kind: span.kind = SpanKind(rawValue: try readEnum(OTLPJSONEnumNames.spanKind))
                case .startTimeUnixNano: span.startTimeUnixNano = try reader.readUInt64()
                case .endTimeUnixNano: span.endTimeUnixNano = try reader.readUInt64()
                case .attributes: span.attributes = try decodeAttributes()
                case .droppedAttributesCount: span.droppedAttributesCount = try reader.readUInt32()
                case .events: span.events = try decodeArray { (decoder) throws(WireError) in try decoder.decodeSpanEvent() }
                case .droppedEventsCount: span.droppedEventsCount = try reader.readUInt32()
                case .links: span.links = try decodeArray { (decoder) throws(WireError) in try decoder.decodeSpanLink() }
                case .droppedLinksCount: span.droppedLinksCount = try reader.readUInt32()
                case .status: span.status = try decodeStatus()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return span
    }

    mutating func decodeSpanEvent() throws(WireError) -> SpanEvent {
        var event = SpanEvent()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .timeUnixNano: event.timeUnixNano = try reader.readUInt64()
                case .name: event.name = try readInternedString()
                case .attributes: event.attributes = try decodeAttributes()
                case .droppedAttributesCount: event.droppedAttributesCount = try reader.readUInt32()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return event
    }

    mutating func decodeSpanLink() throws(WireError) -> SpanLink {
        var link = SpanLink()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .traceId: link.traceID = try readTraceID()
                case .spanId: link.spanID = try readSpanID()
                case .traceState: link.traceState = try reader.readString()
                case .attributes: link.attributes = try decodeAttributes()
                case .droppedAttributesCount: link.droppedAttributesCount = try reader.readUInt32()
                case .flags: link.flags = try reader.readUInt32()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return link
    }

    mutating func decodeStatus() throws(WireError) -> SpanStatus {
        var status = SpanStatus()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .message: status.message = try reader.readString()
                case .code: status.code = StatusCode(rawValue: try readEnum(OTLPJSONEnumNames.statusCode))
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return status
    }
}
