import LoupeModel
import LoupeWire

/// Pages written straight from the OTLP protobuf the spans were stored as, with no `Span` values
/// in between: decoding every batch of a head again into spans, attributes and strings, only to
/// take them apart into columns and free them, was a quarter of the CPU of ingesting spans.
///
/// The columns are exactly those `encode(_:origins:)` writes for the decoded spans (the tests hold
/// the two to the same bytes), and the protobuf is read by the rules `OTLPProtobuf.decodeTraces`
/// follows: the last of a repeated scalar wins, a repeated `status` merges, a repeated `value`
/// replaces, unknown fields are skipped.
extension TracePageCodec {
    /// `traces`: each trace's ID and its spans, located in `buffer` (ranges) with their origins in
    /// the block's table.
    static func encode(
        stored traces: [(id: TraceID, spans: ArraySlice<LocatedSpan>)], buffer: UnsafeRawBufferPointer, level: Int32 = 1
    ) throws(StorageError) -> (bytes: [UInt8], rawLength: Int) {
        var writer = Writer()
        var scratch = StoredSpanScratch()
        var spanCount = 0
        for trace in traces {
            writer.traceIDs.uint64(trace.id.high)
            writer.traceIDs.uint64(trace.id.low)
            writer.spanCounts.uvarint(trace.spans.count)
            spanCount += trace.spans.count
            var positions: [SpanID: Int] = [:]
            positions.reserveCapacity(trace.spans.count)
            for (index, span) in trace.spans.enumerated() where positions[span.spanID] == nil {
                positions[span.spanID] = index
            }
            for span in trace.spans {
                do {
                    try writer.add(stored: span, buffer: buffer, positions: positions, scratch: &scratch)
                } catch {
                    throw StorageError(.corrupt, "a stored span of trace \(trace.id) no longer decodes: \(error)")
                }
            }
        }
        return finish(writer, traceCount: traces.count, spanCount: spanCount, origins: nil, level: level)
    }

    /// Lists reused from span to span, so reading one allocates nothing once they have grown.
    struct StoredSpanScratch {
        var attributes: [UnsafeRawBufferPointer] = []
        var events: [UnsafeRawBufferPointer] = []
        var links: [UnsafeRawBufferPointer] = []
        /// An event's or a link's attributes.
        var nested: [UnsafeRawBufferPointer] = []
    }
}

extension TracePageCodec.Writer {
    mutating func add(
        stored span: LocatedSpan, buffer: UnsafeRawBufferPointer, positions: [SpanID: Int], scratch: inout TracePageCodec.StoredSpanScratch
    ) throws(WireError) {
        var reader = ProtobufReader(UnsafeRawBufferPointer(rebasing: buffer[span.range]))
        var traceState = UnsafeRawBufferPointer(start: nil, count: 0)
        var name = traceState
        var statusMessage = traceState
        var statusCode: Int32 = 0
        var parent = SpanID.empty
        var flags: UInt32 = 0
        var kind: Int32 = 0
        var start: UInt64 = 0
        var end: UInt64 = 0
        var droppedAttributes: UInt32 = 0
        var droppedEvents: UInt32 = 0
        var droppedLinks: UInt32 = 0
        scratch.attributes.removeAll(keepingCapacity: true)
        scratch.events.removeAll(keepingCapacity: true)
        scratch.links.removeAll(keepingCapacity: true)
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            switch tag {
            case 3 << 3 | 2: traceState = try reader.readBytesView()
            case 4 << 3 | 2: parent = try OTLPProtobuf.spanID(try reader.readBytesView())
            case 5 << 3 | 2: name = try reader.readBytesView()
            case 6 << 3 | 0: kind = try reader.readVarintInt32()
            case 7 << 3 | 1: start = try reader.readFixed64()
            case 8 << 3 | 1: end = try reader.readFixed64()
            case 9 << 3 | 2: scratch.attributes.append(try reader.readBytesView())
            case 10 << 3 | 0: droppedAttributes = try reader.readVarintUInt32()
            case 11 << 3 | 2: scratch.events.append(try reader.readBytesView())
            case 12 << 3 | 0: droppedEvents = try reader.readVarintUInt32()
            case 13 << 3 | 2: scratch.links.append(try reader.readBytesView())
            case 14 << 3 | 0: droppedLinks = try reader.readVarintUInt32()
            case 15 << 3 | 2:
                var status = try reader.readMessage()
                while !status.isAtEnd {
                    let inner = try status.readTag()
                    switch inner {
                    case 2 << 3 | 2: statusMessage = try status.readBytesView()
                    case 3 << 3 | 0: statusCode = try status.readVarintInt32()
                    default: try status.skipField(tag: inner)
                    }
                }
            case 16 << 3 | 5: flags = try reader.readFixed32()
            default: try reader.skipField(tag: tag)
            }
        }

        origins.uvarint(span.origin)
        spanIDs.uint64(span.spanID.value)
        // 0: no parent; 1: a span not in the page (raw ID follows); 2 + i: the trace's i-th span.
        if parent.isEmpty {
            parents.uvarint(0)
        } else if let position = positions[parent] {
            parents.uvarint(2 + position)
        } else {
            parents.uvarint(1)
            rawParents.uint64(parent.value)
        }
        names.write(name)
        misc.write(traceState)
        misc.write(statusMessage)
        small.uvarint(UInt64(flags))
        small.varint(Int64(kind))
        small.varint(Int64(statusCode))
        starts.varint(Int64(bitPattern: start &- previousStart))
        previousStart = start
        durations.varint(Int64(bitPattern: end &- start))
        dropped.uvarint(UInt64(droppedAttributes))
        dropped.uvarint(UInt64(droppedEvents))
        dropped.uvarint(UInt64(droppedLinks))
        try addAttributes(stored: scratch.attributes)

        eventCounts.uvarint(scratch.events.count)
        for event in scratch.events {
            var reader = ProtobufReader(event)
            var time: UInt64 = 0
            var eventName = UnsafeRawBufferPointer(start: nil, count: 0)
            var eventDropped: UInt32 = 0
            scratch.nested.removeAll(keepingCapacity: true)
            while !reader.isAtEnd {
                let tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 1: time = try reader.readFixed64()
                case 2 << 3 | 2: eventName = try reader.readBytesView()
                case 3 << 3 | 2: scratch.nested.append(try reader.readBytesView())
                case 4 << 3 | 0: eventDropped = try reader.readVarintUInt32()
                default: try reader.skipField(tag: tag)
                }
            }
            eventTimes.varint(Int64(bitPattern: time &- start))
            eventNames.write(eventName)
            dropped.uvarint(UInt64(eventDropped))
            try addAttributes(stored: scratch.nested)
        }

        linkCounts.uvarint(scratch.links.count)
        for link in scratch.links {
            var reader = ProtobufReader(link)
            var linkTrace = TraceID.empty
            var linkSpan = SpanID.empty
            var linkState = UnsafeRawBufferPointer(start: nil, count: 0)
            var linkDropped: UInt32 = 0
            var linkFlags: UInt32 = 0
            scratch.nested.removeAll(keepingCapacity: true)
            while !reader.isAtEnd {
                let tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2: linkTrace = try OTLPProtobuf.traceID(try reader.readBytesView())
                case 2 << 3 | 2: linkSpan = try OTLPProtobuf.spanID(try reader.readBytesView())
                case 3 << 3 | 2: linkState = try reader.readBytesView()
                case 4 << 3 | 2: scratch.nested.append(try reader.readBytesView())
                case 5 << 3 | 0: linkDropped = try reader.readVarintUInt32()
                case 6 << 3 | 5: linkFlags = try reader.readFixed32()
                default: try reader.skipField(tag: tag)
                }
            }
            linkIDs.uint64(linkTrace.high)
            linkIDs.uint64(linkTrace.low)
            linkIDs.uint64(linkSpan.value)
            linkMisc.write(linkState)
            linkSmall.uvarint(UInt64(linkFlags))
            dropped.uvarint(UInt64(linkDropped))
            try addAttributes(stored: scratch.nested)
        }
    }

    /// `KeyValue` messages, in order.
    mutating func addAttributes(stored attributes: [UnsafeRawBufferPointer]) throws(WireError) {
        attributeCounts.uvarint(attributes.count)
        for (position, attribute) in attributes.enumerated() {
            var reader = ProtobufReader(attribute)
            var key = UnsafeRawBufferPointer(start: nil, count: 0)
            var value: UnsafeRawBufferPointer?
            while !reader.isAtEnd {
                let tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2: key = try reader.readBytesView()
                case 2 << 3 | 2: value = try reader.readBytesView()
                default: try reader.skipField(tag: tag)  // 3 (key_strindex) means nothing outside profiles
                }
            }
            let keyReference = addKey(key, position: position)
            guard let value else {
                types.bytes.append(TracePageCodec.ValueType.empty.rawValue)
                continue
            }
            try addValue(stored: value, keyReference: keyReference)
        }
    }

    /// One `AnyValue` message: the last of its oneof fields is the value.
    private mutating func addValue(stored value: UnsafeRawBufferPointer, keyReference: Int) throws(WireError) {
        enum Last { case empty, string, bool, int, double, complex }
        var last = Last.empty
        var text = UnsafeRawBufferPointer(start: nil, count: 0)
        var flag = false
        var integer: Int64 = 0
        var number = 0.0
        var reader = ProtobufReader(value)
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            switch tag {
            case 1 << 3 | 2:
                text = try reader.readBytesView()
                last = .string
            case 2 << 3 | 0:
                flag = try reader.readBool()
                last = .bool
            case 3 << 3 | 0:
                integer = try reader.readVarintInt64()
                last = .int
            case 4 << 3 | 1:
                number = try reader.readDouble()
                last = .double
            case 5 << 3 | 2, 6 << 3 | 2, 7 << 3 | 2:
                _ = try reader.readBytesView()
                last = .complex
            case 8 << 3 | 0:  // string_value_strindex: profiles only, read as absent
                _ = try reader.readVarint()
                last = .empty
            default: try reader.skipField(tag: tag)
            }
        }
        switch last {
        case .empty: types.bytes.append(TracePageCodec.ValueType.empty.rawValue)
        case .string: addString(text, keyReference: keyReference)
        case .bool: addBool(flag)
        case .int: addInt(integer)
        case .double: addDouble(number)
        case .complex: addComplex(try OTLPProtobuf.decodeAnyValue(value))
        }
    }
}
