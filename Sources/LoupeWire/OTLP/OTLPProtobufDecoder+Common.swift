import LoupeModel

// Decoding of the messages of common.proto and resource.proto, and of trace and span IDs.
//
// Every message decoder has the same shape: a loop over the fields inside one do/catch. `tag` names the field
// being read when an error passes through the catch, which puts that field's name (with the element index for
// repeated fields) in front of the error's path. Paths are built only when an error is thrown.

extension OTLPProtobufDecoding {
    // MARK: - IDs

    /// A `trace_id` field's contents: empty or exactly 16 bytes.
    @inline(__always)
    func readTraceID(_ reader: inout ProtobufReader, field: String) throws(WireError) -> TraceID {
        let start = reader.offset
        return try OTLPProtobuf.traceID(try reader.readBytesView(), field: field, offset: start)
    }

    /// A `span_id` field's contents: empty or exactly 8 bytes.
    @inline(__always)
    func readSpanID(_ reader: inout ProtobufReader, field: String) throws(WireError) -> SpanID {
        let start = reader.offset
        return try OTLPProtobuf.spanID(try reader.readBytesView(), field: field, offset: start)
    }

    // MARK: - Strings

    /// A string that is likely to repeat within the request (attribute keys).
    @inline(__always)
    func readKey(_ reader: inout ProtobufReader) throws(WireError) -> String {
        let bytes = try reader.readBytesView()
        guard let base = bytes.baseAddress else { return "" }
        return try keys.string(base, count: bytes.count, offset: reader.offset &- bytes.count)
    }

    /// A string value that often repeats (string attribute values, span and event names).
    @inline(__always)
    func readValueString(_ reader: inout ProtobufReader) throws(WireError) -> String {
        let bytes = try reader.readBytesView()
        guard let base = bytes.baseAddress else { return "" }
        return try values.string(base, count: bytes.count, offset: reader.offset &- bytes.count)
    }

    // MARK: - AnyValue, KeyValue

    func decodeAnyValue(_ reader: inout ProtobufReader, depth: Int) throws(WireError) -> AnyValue {
        var value = AnyValue.empty
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2:  // string_value
                    value = .string(try readValueString(&reader))
                case 2 << 3 | 0:  // bool_value
                    value = .bool(try reader.readBool())
                case 3 << 3 | 0:  // int_value
                    value = .int(try reader.readVarintInt64())
                case 4 << 3 | 1:  // double_value
                    value = .double(try reader.readDouble())
                case 5 << 3 | 2:  // array_value
                    var nested = try reader.readMessage()
                    try checkDepth(depth, at: nested.offset)
                    value = .array(try decodeArrayValue(&nested, depth: depth &+ 1))
                case 6 << 3 | 2:  // kvlist_value
                    var nested = try reader.readMessage()
                    try checkDepth(depth, at: nested.offset)
                    value = .keyValueList(try decodeKeyValueList(&nested, depth: depth &+ 1))
                case 7 << 3 | 2:  // bytes_value
                    value = .bytes(try reader.readBytes())
                case 8 << 3 | 0:  // string_value_strindex: profiles only; treated as absent (see OTLPProtobuf)
                    _ = try reader.readVarint()
                    value = .empty
                default:
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            throw error.prefixed(with: Self.anyValueFieldName(tag))
        }
        return value
    }

    @inline(__always)
    func checkDepth(_ depth: Int, at offset: Int) throws(WireError) {
        if depth >= OTLPProtobuf.maximumNestingDepth {
            throw WireError(.invalidValue, "AnyValue nested more than \(OTLPProtobuf.maximumNestingDepth) levels deep", offset: offset)
        }
    }

    static func anyValueFieldName(_ tag: UInt32) -> String {
        switch tag >> 3 {
        case 1: "stringValue"
        case 2: "boolValue"
        case 3: "intValue"
        case 4: "doubleValue"
        case 5: "arrayValue"
        case 6: "kvlistValue"
        case 7: "bytesValue"
        case 8: "stringValueStrindex"
        default: ""
        }
    }

    func decodeArrayValue(_ reader: inout ProtobufReader, depth: Int) throws(WireError) -> [AnyValue] {
        var values: [AnyValue] = []
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                if tag == 1 << 3 | 2 {
                    if values.isEmpty { values.reserveCapacity(reader.countLengthDelimitedRun(tag: tag)) }
                    var nested = try reader.readMessage()
                    values.append(try decodeAnyValue(&nested, depth: depth))
                } else {
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            throw tag >> 3 == 1 ? error.prefixed(with: "values", index: values.count) : error
        }
        return values
    }

    func decodeKeyValueList(_ reader: inout ProtobufReader, depth: Int) throws(WireError) -> [KeyValue] {
        var values: [KeyValue] = []
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                if tag == 1 << 3 | 2 {
                    if values.isEmpty { values.reserveCapacity(reader.countLengthDelimitedRun(tag: tag)) }
                    var nested = try reader.readMessage()
                    values.append(try decodeKeyValue(&nested, depth: depth))
                } else {
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            throw tag >> 3 == 1 ? error.prefixed(with: "values", index: values.count) : error
        }
        return values
    }

    @inline(__always)
    func decodeKeyValue(_ reader: inout ProtobufReader, depth: Int) throws(WireError) -> KeyValue {
        var key = ""
        var value = AnyValue.empty
        var tag: UInt32 = 0
        do throws(WireError) {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2:  // key
                    key = try readKey(&reader)
                case 2 << 3 | 2:  // value
                    var nested = try reader.readMessage()
                    // Fast path for the common shape: a short string and nothing else.
                    let count = nested.remaining
                    if count >= 2 && count < 0x82 && nested.byte(at: nested.position) == 0x0A
                        && Int(nested.byte(at: nested.position &+ 1)) == count &- 2
                    {
                        let start = nested.position &+ 2
                        do throws(WireError) {
                            value = .string(try values.string(nested.base + start, count: count &- 2, offset: start))
                        } catch {
                            throw error.prefixed(with: "stringValue")
                        }
                    } else {
                        value = try decodeAnyValue(&nested, depth: depth)
                    }
                case 3 << 3 | 0:  // key_strindex: profiles only; ignored (see OTLPProtobuf)
                    _ = try reader.readVarint()
                default:
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            throw error.prefixed(with: tag >> 3 == 1 ? "key" : tag >> 3 == 2 ? "value" : tag >> 3 == 3 ? "keyStrindex" : "")
        }
        return KeyValue(key: key, value: value)
    }

    /// Appends one element of a `repeated KeyValue` field (attributes, metadata) whose tag was just read.
    @inline(__always)
    func appendKeyValue(_ reader: inout ProtobufReader, tag: UInt32, to attributes: inout [KeyValue]) throws(WireError) {
        if attributes.isEmpty { attributes.reserveCapacity(reader.countLengthDelimitedRun(tag: tag)) }
        var nested = try reader.readMessage()
        attributes.append(try decodeKeyValue(&nested, depth: 0))
    }

    // MARK: - Resource, InstrumentationScope, EntityRef

    func decodeResource(_ reader: inout ProtobufReader, into resource: inout Resource) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2:  // attributes
                    try appendKeyValue(&reader, tag: tag, to: &resource.attributes)
                case 2 << 3 | 0:  // dropped_attributes_count
                    resource.droppedAttributesCount = try reader.readVarintUInt32()
                case 3 << 3 | 2:  // entity_refs
                    var nested = try reader.readMessage()
                    var entity = EntityRef()
                    try decodeEntityRef(&nested, into: &entity)
                    resource.entityRefs.append(consume entity)
                default:
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "attributes", index: resource.attributes.count)
            case 2: throw error.prefixed(with: "droppedAttributesCount")
            case 3: throw error.prefixed(with: "entityRefs", index: resource.entityRefs.count)
            default: throw error
            }
        }
    }

    func decodeEntityRef(_ reader: inout ProtobufReader, into entity: inout EntityRef) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2: entity.schemaURL = try reader.readString()
                case 2 << 3 | 2: entity.type = try reader.readString()
                case 3 << 3 | 2: entity.idKeys.append(try readKey(&reader))
                case 4 << 3 | 2: entity.descriptionKeys.append(try readKey(&reader))
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "schemaUrl")
            case 2: throw error.prefixed(with: "type")
            case 3: throw error.prefixed(with: "idKeys", index: entity.idKeys.count)
            case 4: throw error.prefixed(with: "descriptionKeys", index: entity.descriptionKeys.count)
            default: throw error
            }
        }
    }

    func decodeScope(_ reader: inout ProtobufReader, into scope: inout InstrumentationScope) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2: scope.name = try readValueString(&reader)
                case 2 << 3 | 2: scope.version = try readValueString(&reader)
                case 3 << 3 | 2: try appendKeyValue(&reader, tag: tag, to: &scope.attributes)
                case 4 << 3 | 0: scope.droppedAttributesCount = try reader.readVarintUInt32()
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "name")
            case 2: throw error.prefixed(with: "version")
            case 3: throw error.prefixed(with: "attributes", index: scope.attributes.count)
            case 4: throw error.prefixed(with: "droppedAttributesCount")
            default: throw error
            }
        }
    }
}
