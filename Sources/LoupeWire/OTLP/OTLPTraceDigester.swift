import LoupeModel

extension OTLPProtobuf {
    /// Reads an `ExportTraceServiceRequest` (or `TracesData`) into span digests, checking it exactly
    /// as `decodeTraces` does (the same input is refused), without building the spans: strings are
    /// validated in place, attributes, events and links are walked, not kept. Resources and the
    /// attributes of sampled spans are decoded.
    ///
    /// A refusal carries the path of the offending field, as `decodeTraces` gives it.
    public static func digestTraces(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> TraceBatchDigest {
        let decoding = OTLPProtobufDecoding()
        defer { decoding.release() }
        var reader = ProtobufReader(bytes)
        do {
            return try decoding.digestTraceData(&reader)
        } catch {
            // The walk keeps no path; the decoder refuses the same input and says where.
            _ = try decodeTraces(bytes)
            throw error
        }
    }

    public static func digestTraces(_ bytes: [UInt8]) throws(WireError) -> TraceBatchDigest {
        try withBytes(bytes) { (buffer) throws(WireError) in try digestTraces(buffer) }
    }
}

extension OTLPProtobufDecoding {
    func digestTraceData(_ reader: inout ProtobufReader) throws(WireError) -> TraceBatchDigest {
        var digest = TraceBatchDigest()
        var attributes: [KeyValue] = []
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            if tag == 1 << 3 | 2 {
                var nested = try reader.readMessage()
                try digestResourceSpans(&nested, into: &digest, attributes: &attributes)
            } else {
                try reader.skipField(tag: tag)
            }
        }
        return digest
    }

    private func digestResourceSpans(
        _ reader: inout ProtobufReader, into digest: inout TraceBatchDigest, attributes: inout [KeyValue]
    ) throws(WireError) {
        var resource = Resource()
        var sawResource = false
        let index = digest.addResource(resource)
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            switch tag {
            case 1 << 3 | 2:
                var nested = try reader.readMessage()
                try decodeResource(&nested, into: &resource)
                sawResource = true
            case 2 << 3 | 2:
                var nested = try reader.readMessage()
                try digestScopeSpans(&nested, resource: index, into: &digest, attributes: &attributes)
            case 3 << 3 | 2: _ = try readCheckedString(&reader)
            default: try reader.skipField(tag: tag)
            }
        }
        // The resource may follow its spans in the message.
        if sawResource { digest.setResource(resource, at: index) }
    }

    private func digestScopeSpans(
        _ reader: inout ProtobufReader, resource: Int32, into digest: inout TraceBatchDigest, attributes: inout [KeyValue]
    ) throws(WireError) {
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            switch tag {
            case 1 << 3 | 2:
                var nested = try reader.readMessage()
                var scope = InstrumentationScope()
                try decodeScope(&nested, into: &scope)
            case 2 << 3 | 2:
                var nested = try reader.readMessage()
                if digest.spans.isEmpty { digest.spans.reserveCapacity(reader.estimatedRepeatCount(firstElement: nested)) }
                try digestSpan(&nested, resource: resource, into: &digest, attributes: &attributes)
            case 3 << 3 | 2: _ = try readCheckedString(&reader)
            default: try reader.skipField(tag: tag)
            }
        }
    }

    private func digestSpan(
        _ reader: inout ProtobufReader, resource: Int32, into digest: inout TraceBatchDigest, attributes: inout [KeyValue]
    ) throws(WireError) {
        var traceID = TraceID.empty
        var spanID = SpanID.empty
        var parentSpanID = SpanID.empty
        var name = ""
        var kind = SpanKind.unspecified
        var start: UInt64 = 0
        var end: UInt64 = 0
        var statusCode = StatusCode.unset
        var peers = SpanPeerCollector()
        let sampled = TraceBatchDigest.samplesAttributes(ofSpan: digest.spans.count)
        if sampled { attributes.removeAll(keepingCapacity: true) }
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            switch tag {
            case 1 << 3 | 2: traceID = try readTraceID(&reader, field: "trace_id")
            case 2 << 3 | 2: spanID = try readSpanID(&reader, field: "span_id")
            case 3 << 3 | 2: _ = try readCheckedString(&reader)
            case 4 << 3 | 2: parentSpanID = try readSpanID(&reader, field: "parent_span_id")
            case 5 << 3 | 2: name = try readValueString(&reader)
            case 6 << 3 | 0: kind = SpanKind(rawValue: try reader.readVarintInt32())
            case 7 << 3 | 1: start = try reader.readFixed64()
            case 8 << 3 | 1: end = try reader.readFixed64()
            case 9 << 3 | 2:
                if sampled {
                    try appendKeyValue(&reader, tag: tag, to: &attributes)
                    peers.note(attributes[attributes.count - 1])
                } else {
                    var nested = try reader.readMessage()
                    try checkKeyValue(&nested, depth: 0, peers: &peers)
                }
            case 11 << 3 | 2:
                var nested = try reader.readMessage()
                try checkSpanEvent(&nested)
            case 13 << 3 | 2:
                var nested = try reader.readMessage()
                try checkSpanLink(&nested)
            case 10 << 3 | 0, 12 << 3 | 0, 14 << 3 | 0: _ = try reader.readVarintUInt32()
            case 15 << 3 | 2:
                var nested = try reader.readMessage()
                try checkStatus(&nested, code: &statusCode)
            case 16 << 3 | 5: _ = try reader.readFixed32()
            default: try reader.skipField(tag: tag)
            }
        }
        if sampled { digest.sampledAttributes.append(attributes) }
        digest.append(SpanDigest(
            traceID: traceID, spanID: spanID, parentSpanID: parentSpanID, startTimeUnixNano: start, endTimeUnixNano: end,
            name: digest.nameIndex(name), resource: resource, kind: kind, statusCode: statusCode, peer: peers.peer))
    }

    // MARK: Checking without building

    /// A `string` field's bytes, checked to be UTF-8.
    @inline(__always)
    private func readCheckedString(_ reader: inout ProtobufReader) throws(WireError) -> UnsafeRawBufferPointer {
        let bytes = try reader.readBytesView()
        if let base = bytes.baseAddress, !UTF8Validation.isValid(base, count: bytes.count) {
            throw ProtobufReader.utf8Error(bytes.assumingMemoryBound(to: UInt8.self), offset: reader.offset &- bytes.count)
        }
        return bytes
    }

    /// One `KeyValue`; a string attribute is offered to `peers`.
    @inline(__always)
    private func checkKeyValue(_ reader: inout ProtobufReader, depth: Int, peers: inout SpanPeerCollector) throws(WireError) {
        var key = UnsafeRawBufferPointer(start: nil, count: 0)
        var text: UnsafeRawBufferPointer?
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            switch tag {
            case 1 << 3 | 2: key = try readCheckedString(&reader)
            case 2 << 3 | 2:
                var nested = try reader.readMessage()
                text = try checkAnyValue(&nested, depth: depth)
            case 3 << 3 | 0: _ = try reader.readVarint()
            default: try reader.skipField(tag: tag)
            }
        }
        if let text, SpanPeerCollector.mayBePeerKey(length: key.count) {
            peers.note(key: key) { String(decoding: text, as: UTF8.self) }
        }
    }

    /// One `AnyValue`; returns the string's bytes when the value is a string.
    private func checkAnyValue(_ reader: inout ProtobufReader, depth: Int) throws(WireError) -> UnsafeRawBufferPointer? {
        var text: UnsafeRawBufferPointer?
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            switch tag {
            case 1 << 3 | 2:
                text = try readCheckedString(&reader)
                continue
            case 2 << 3 | 0, 3 << 3 | 0, 8 << 3 | 0: _ = try reader.readVarint()
            case 4 << 3 | 1: _ = try reader.readFixed64()
            case 5 << 3 | 2, 6 << 3 | 2:
                var nested = try reader.readMessage()
                try checkDepth(depth, at: nested.offset)
                while !nested.isAtEnd {
                    let inner = try nested.readTag()
                    guard inner == 1 << 3 | 2 else {
                        try nested.skipField(tag: inner)
                        continue
                    }
                    var element = try nested.readMessage()
                    if tag == 5 << 3 | 2 {
                        _ = try checkAnyValue(&element, depth: depth &+ 1)
                    } else {
                        var ignored = SpanPeerCollector()
                        try checkKeyValue(&element, depth: depth &+ 1, peers: &ignored)
                    }
                }
            case 7 << 3 | 2: _ = try reader.readBytesView()
            default:
                try reader.skipField(tag: tag)
                continue
            }
            text = nil
        }
        return text
    }

    private func checkSpanEvent(_ reader: inout ProtobufReader) throws(WireError) {
        var ignored = SpanPeerCollector()
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            switch tag {
            case 1 << 3 | 1: _ = try reader.readFixed64()
            case 2 << 3 | 2: _ = try readCheckedString(&reader)
            case 3 << 3 | 2:
                var nested = try reader.readMessage()
                try checkKeyValue(&nested, depth: 0, peers: &ignored)
            case 4 << 3 | 0: _ = try reader.readVarintUInt32()
            default: try reader.skipField(tag: tag)
            }
        }
    }

    private func checkSpanLink(_ reader: inout ProtobufReader) throws(WireError) {
        var ignored = SpanPeerCollector()
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            switch tag {
            case 1 << 3 | 2: _ = try readTraceID(&reader, field: "trace_id")
            case 2 << 3 | 2: _ = try readSpanID(&reader, field: "span_id")
            case 3 << 3 | 2: _ = try readCheckedString(&reader)
            case 4 << 3 | 2:
                var nested = try reader.readMessage()
                try checkKeyValue(&nested, depth: 0, peers: &ignored)
            case 5 << 3 | 0: _ = try reader.readVarintUInt32()
            case 6 << 3 | 5: _ = try reader.readFixed32()
            default: try reader.skipField(tag: tag)
            }
        }
    }

    /// A `Status`; a repeated one merges, so `code` keeps the last code seen.
    private func checkStatus(_ reader: inout ProtobufReader, code: inout StatusCode) throws(WireError) {
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            switch tag {
            case 2 << 3 | 2: _ = try readCheckedString(&reader)
            case 3 << 3 | 0: code = StatusCode(rawValue: try reader.readVarintInt32())
            default: try reader.skipField(tag: tag)
            }
        }
    }
}
