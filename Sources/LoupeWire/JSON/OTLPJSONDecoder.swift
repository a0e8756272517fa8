import LoupeModel

/// OTLP/JSON (the protobuf JSON mapping with OTLP's deviations) for all three signals.
///
/// Decoding streams straight from the bytes into the model. Beyond what the specification
/// requires, the decoder accepts, leniently:
/// - trace and span IDs in base64 (24 or 22 characters for a trace ID, 12 or 11 for a span ID)
///   besides case-insensitive hex (32 and 16 characters); the length decides, anything else is an
///   `.invalidLength` error naming the field;
/// - enum names (`"SPAN_KIND_SERVER"`) and decimal strings besides enum integers;
/// - 64-bit and 32-bit integers as numbers or decimal strings, also in exponent form when integral;
/// - doubles as numbers, numeric strings, or `"NaN"`, `"Infinity"`, `"-Infinity"`;
/// - `bytesValue` in standard or URL-safe base64, with or without padding;
/// - the original snake_case field names (`schema_url`) when a key is not a known lowerCamelCase name;
/// - `null` for any field (treated as absent); a UTF-8 byte order mark.
///
/// Unknown fields are skipped (their syntax is still checked). Strings must be UTF-8 (`.invalidUTF8`
/// otherwise, like the protobuf decoder); an unpaired surrogate escape (`"\uD800"`) becomes U+FFFD.
/// Nesting is limited to 420 objects and arrays, enough for AnyValues nested 100 deep as the protobuf
/// decoder allows. `null` as an array element is an error.
/// When a field appears twice, the last occurrence wins; so does the last member of a oneof.
///
/// Errors are `WireError`s with the byte offset and a path such as
/// `resourceSpans[0].scopeSpans[0].spans[3].traceId`.
public enum OTLPJSON {
    /// Decodes an OTLP/JSON `ExportTraceServiceRequest`.
    public static func decodeTraces(_ bytes: [UInt8]) throws(WireError) -> TraceData {
        try bytes.withUnsafeBytes { buffer in Result { () throws(WireError) in try decodeTraces(buffer) } }.get()
    }

    /// Decodes an OTLP/JSON `ExportTraceServiceRequest`.
    public static func decodeTraces(_ buffer: UnsafeRawBufferPointer) throws(WireError) -> TraceData {
        var decoder = OTLPJSONDecoder(buffer)
        let data = try decoder.decodeTraceRequest()
        try decoder.reader.expectEnd()
        return data
    }

    /// Decodes an OTLP/JSON `ExportLogsServiceRequest`.
    public static func decodeLogs(_ bytes: [UInt8]) throws(WireError) -> LogsData {
        try bytes.withUnsafeBytes { buffer in Result { () throws(WireError) in try decodeLogs(buffer) } }.get()
    }

    /// Decodes an OTLP/JSON `ExportLogsServiceRequest`.
    public static func decodeLogs(_ buffer: UnsafeRawBufferPointer) throws(WireError) -> LogsData {
        var decoder = OTLPJSONDecoder(buffer)
        let data = try decoder.decodeLogsRequest()
        try decoder.reader.expectEnd()
        return data
    }

    /// Decodes an OTLP/JSON `ExportMetricsServiceRequest`.
    public static func decodeMetrics(_ bytes: [UInt8]) throws(WireError) -> MetricsData {
        try bytes.withUnsafeBytes { buffer in Result { () throws(WireError) in try decodeMetrics(buffer) } }.get()
    }

    /// Decodes an OTLP/JSON `ExportMetricsServiceRequest`.
    public static func decodeMetrics(_ buffer: UnsafeRawBufferPointer) throws(WireError) -> MetricsData {
        var decoder = OTLPJSONDecoder(buffer)
        let data = try decoder.decodeMetricsRequest()
        try decoder.reader.expectEnd()
        return data
    }

    /// Decodes the OTLP/JSON export request of `Data`'s signal.
    public static func decode<Data: SignalData>(_ type: Data.Type, from bytes: UnsafeRawBufferPointer) throws(WireError) -> Data {
        switch Data.signal {
        case .traces: return try decodeTraces(bytes) as! Data
        case .logs: return try decodeLogs(bytes) as! Data
        case .metrics: return try decodeMetrics(bytes) as! Data
        }
    }

    /// Decodes the OTLP/JSON export request of `Data`'s signal.
    public static func decode<Data: SignalData>(_ type: Data.Type, from bytes: [UInt8]) throws(WireError) -> Data {
        try bytes.withUnsafeBytes { buffer in Result { () throws(WireError) in try decode(type, from: buffer) } }.get()
    }

    /// Decodes a `google.rpc.Status` in JSON (`{"code":3,"message":"..."}`; `details` are skipped).
    public static func decodeStatus(_ bytes: [UInt8]) throws(WireError) -> (code: Int32, message: String) {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(WireError) in
                var decoder = OTLPJSONDecoder(buffer)
                let status = try decoder.decodeStatusResponse()
                try decoder.reader.expectEnd()
                return status
            }
        }.get()
    }

    /// Decodes an OTLP/JSON `Export*ServiceResponse` (as a client sees it): how many items the
    /// server rejected and its message. Accepts any of the three signals' field names.
    public static func decodeExportResponse(_ bytes: [UInt8]) throws(WireError) -> (rejectedItems: Int64, errorMessage: String) {
        try bytes.withUnsafeBytes { buffer in Result { () throws(WireError) in try decodeExportResponse(buffer) } }.get()
    }

    /// Decodes an OTLP/JSON `Export*ServiceResponse`.
    public static func decodeExportResponse(_ buffer: UnsafeRawBufferPointer) throws(WireError) -> (rejectedItems: Int64, errorMessage: String) {
        var decoder = OTLPJSONDecoder(buffer)
        let response = try decoder.decodeExportResponse()
        try decoder.reader.expectEnd()
        return response
    }
}

/// The streaming decoder: one per request.
struct OTLPJSONDecoder: ~Copyable {
    var reader: JSONReader
    let fields = OTLPJSONFieldTable.shared
    /// Attribute keys (and other strings that repeat across items) shared between items.
    var interner = JSONStringInterner()
    /// Attributes being decoded, nested lists stacked on top of each other; each list is moved
    /// out at its end so the result is allocated once at its exact size.
    var keyValueStack = JSONKeyValueStack()

    /// JSON nesting allowed: enough for AnyValues nested as deep as the protobuf decoder allows
    /// (`OTLPProtobuf.maximumNestingDepth`, 100; a `kvlistValue` level takes four JSON levels, an
    /// `arrayValue` level three), plus the request envelope.
    static let maximumDepth = 420

    init(_ buffer: UnsafeRawBufferPointer) {
        reader = JSONReader(buffer, maximumDepth: Self.maximumDepth)
    }

    // MARK: - Structure helpers

    /// Advances to the next non-null member of an object and names its field.
    @inline(__always)
    mutating func nextField(_ cursor: inout JSONReader.ObjectCursor) throws(WireError) -> OTLPJSONField? {
        guard try reader.nextMember(&cursor, skippingNulls: true) else { return nil }
        return fields.lookup(reader.currentKey)
    }

    /// Decodes a JSON array of messages; errors get the element index in their path.
    @inline(__always)
    mutating func decodeArray<Element>(_ element: (inout Self) throws(WireError) -> Element) throws(WireError) -> [Element] {
        var cursor = try reader.beginArray()
        var result: [Element] = []
        var index = 0
        while try reader.nextElement(&cursor) {
            do throws(WireError) {
                result.append(try element(&self))
            } catch {
                throw error.prependingJSONPath(index: index)
            }
            index += 1
        }
        return result
    }

    @inline(__always)
    mutating func decodeScalarArray<Element>(_ element: (inout JSONReader) throws(WireError) -> Element) throws(WireError) -> [Element] {
        var cursor = try reader.beginArray()
        var result: [Element] = []
        var index = 0
        while try reader.nextElement(&cursor) {
            do throws(WireError) {
                result.append(try element(&reader))
            } catch {
                throw error.prependingJSONPath(index: index)
            }
            index += 1
        }
        return result
    }

    // MARK: - Common messages

    mutating func decodeResource() throws(WireError) -> Resource {
        var resource = Resource()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .attributes: resource.attributes = try decodeAttributes()
                case .droppedAttributesCount: resource.droppedAttributesCount = try reader.readUInt32()
                case .entityRefs: resource.entityRefs = try decodeArray { (decoder) throws(WireError) in try decoder.decodeEntityRef() }
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return resource
    }

    mutating func decodeEntityRef() throws(WireError) -> EntityRef {
        var ref = EntityRef()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .schemaUrl: ref.schemaURL = try reader.readString()
                case .type: ref.type = try reader.readString()
                case .idKeys: ref.idKeys = try decodeStringArray()
                case .descriptionKeys: ref.descriptionKeys = try decodeStringArray()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return ref
    }

    mutating func decodeStringArray() throws(WireError) -> [String] {
        var cursor = try reader.beginArray()
        var result: [String] = []
        var index = 0
        while try reader.nextElement(&cursor) {
            do throws(WireError) {
                result.append(try readInternedString())
            } catch {
                throw error.prependingJSONPath(index: index)
            }
            index += 1
        }
        return result
    }

    mutating func decodeScope() throws(WireError) -> InstrumentationScope {
        var scope = InstrumentationScope()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .name: scope.name = try readInternedString()
                case .version: scope.version = try readInternedString()
                case .attributes: scope.attributes = try decodeAttributes()
                case .droppedAttributesCount: scope.droppedAttributesCount = try reader.readUInt32()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return scope
    }

    /// A `repeated KeyValue` list.
    mutating func decodeAttributes() throws(WireError) -> [KeyValue] {
        var cursor = try reader.beginArray()
        let base = keyValueStack.count
        var index = 0
        while try reader.nextElement(&cursor) {
            do throws(WireError) {
                let keyValue = try decodeKeyValue()
                keyValueStack.push(keyValue)
            } catch {
                throw error.prependingJSONPath(index: index)
            }
            index += 1
        }
        return keyValueStack.popArray(from: base)
    }

    mutating func decodeKeyValue() throws(WireError) -> KeyValue {
        var key = ""
        var value = AnyValue.empty
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .key: key = try readInternedString()
                case .value: value = try decodeAnyValue()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return KeyValue(key: key, value: value)
    }

    /// An `AnyValue` object; `{}` (or one whose kind is null or unknown) is `.empty`.
    mutating func decodeAnyValue() throws(WireError) -> AnyValue {
        var value = AnyValue.empty
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .stringValue: value = .string(try reader.readString())
                case .boolValue: value = .bool(try reader.readBool())
                case .intValue: value = .int(try reader.readInt64())
                case .doubleValue: value = .double(try reader.readDouble())
                case .bytesValue: value = .bytes(try readBase64())
                case .arrayValue: value = .array(try decodeArrayValue())
                case .kvlistValue: value = .keyValueList(try decodeKeyValueList())
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return value
    }

    /// `ArrayValue`: `{"values": [AnyValue...]}`.
    mutating func decodeArrayValue() throws(WireError) -> [AnyValue] {
        var values: [AnyValue] = []
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .values: values = try decodeArray { (decoder) throws(WireError) in try decoder.decodeAnyValue() }
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return values
    }

    /// `KeyValueList`: `{"values": [KeyValue...]}`.
    mutating func decodeKeyValueList() throws(WireError) -> [KeyValue] {
        var values: [KeyValue] = []
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .values: values = try decodeAttributes()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return values
    }

    // MARK: - Scalars

    /// A string that is likely to repeat across items (attribute keys, scope names).
    @inline(__always)
    mutating func readInternedString() throws(WireError) -> String {
        let view = try reader.readStringView()
        return try interner.intern(view, reader: reader)
    }

    /// An enum given as an integer, a decimal string, or (leniently) its protobuf name.
    mutating func readEnum(_ names: [StaticString]) throws(WireError) -> Int32 {
        reader.skipWhitespace()
        if try reader.peekKind() != .string { return try reader.readInt32() }
        let start = reader.offset
        let view = try reader.readStringView()
        if let first = view.first, first == UInt8(ascii: "-") || (first &- UInt8(ascii: "0")) < 10 {
            if case .number(let number, let stop) = JSONNumber.scan(view, from: 0, limit: view.count), stop == view.count,
                let wide = number.int64Value, let value = Int32(exactly: wide)
            {
                return value
            }
        } else {
            for (index, name) in names.enumerated() where jsonBytesEqual(view, name) { return Int32(index) }
        }
        throw WireError(.invalidValue, "unknown enum value \(JSONReader.quote(view))", offset: start)
    }

    mutating func readTraceID() throws(WireError) -> TraceID {
        let start = reader.offset
        let view = try reader.readStringView()
        switch view.count {
        case 0:
            return .empty
        case 32:
            guard let high = Self.hex64(view, 0), let low = Self.hex64(view, 16) else {
                throw WireError(.invalidValue, "trace ID \(JSONReader.quote(view)) is not valid hex", offset: start)
            }
            return TraceID(high: high, low: low)
        case 22, 24:
            guard let bytes = JSONBase64.decode(view), let id = TraceID(bytes: bytes) else {
                throw WireError(.invalidValue, "trace ID \(JSONReader.quote(view)) is neither hex nor base64 of 16 bytes", offset: start)
            }
            return id
        default:
            throw WireError(
                .invalidLength,
                "trace ID must be 32 hex characters (or 24 base64), found \(view.count) characters", offset: start
            )
        }
    }

    mutating func readSpanID() throws(WireError) -> SpanID {
        let start = reader.offset
        let view = try reader.readStringView()
        switch view.count {
        case 0:
            return .empty
        case 16:
            guard let value = Self.hex64(view, 0) else {
                throw WireError(.invalidValue, "span ID \(JSONReader.quote(view)) is not valid hex", offset: start)
            }
            return SpanID(value: value)
        case 11, 12:
            guard let bytes = JSONBase64.decode(view), let id = SpanID(bytes: bytes) else {
                throw WireError(.invalidValue, "span ID \(JSONReader.quote(view)) is neither hex nor base64 of 8 bytes", offset: start)
            }
            return id
        default:
            throw WireError(
                .invalidLength,
                "span ID must be 16 hex characters (or 12 base64), found \(view.count) characters", offset: start
            )
        }
    }

    /// Sixteen hex digits at `view[start...]` as a big-endian UInt64, eight digits at a time.
    @inline(__always)
    static func hex64(_ view: UnsafeBufferPointer<UInt8>, _ start: Int) -> UInt64? {
        let base = UnsafeRawPointer(view.baseAddress! + start)
        guard let high = hex32(base.loadUnaligned(as: UInt64.self)),
            let low = hex32(base.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        else { return nil }
        return UInt64(high) << 32 | UInt64(low)
    }

    /// Eight ASCII hex digits (first digit in the lowest byte, as loaded from memory) as a UInt32.
    @inline(__always)
    static func hex32(_ word: UInt64) -> UInt32? {
        let highBits: UInt64 = 0x8080_8080_8080_8080
        guard word & highBits == 0 else { return nil }
        let ones: UInt64 = 0x0101_0101_0101_0101
        // Per byte (all below 0x80, so no carries cross bytes): high bit set when in range.
        func inRange(_ value: UInt64, _ low: UInt64, _ high: UInt64) -> UInt64 {
            let atLeastLow = value &+ ones &* (0x80 - low)
            let aboveHigh = value &+ ones &* (0x7F - high)
            return atLeastLow & ~aboveHigh & highBits
        }
        let digits = inRange(word, 0x30, 0x39)
        let letters = inRange(word | 0x2020_2020_2020_2020, 0x61, 0x66)  // 'A'-'F' folded to 'a'-'f'
        guard digits | letters == highBits else { return nil }
        // '0'-'9' -> 0-9; 'a'-'f' and 'A'-'F' (bit 6 set) -> low nibble + 9.
        let lowNibbles = word & 0x0F0F_0F0F_0F0F_0F0F
        let letterBits = (word >> 6) & ones
        let nibbles = lowNibbles &+ letterBits &* 9
        // Pair up nibbles: byte 2k becomes (n[2k] << 4) | n[2k+1].
        let pairs = ((nibbles << 4) | (nibbles >> 8)) & 0x00FF_00FF_00FF_00FF
        let byte0 = UInt32(truncatingIfNeeded: pairs & 0xFF)
        let byte1 = UInt32(truncatingIfNeeded: (pairs >> 16) & 0xFF)
        let byte2 = UInt32(truncatingIfNeeded: (pairs >> 32) & 0xFF)
        let byte3 = UInt32(truncatingIfNeeded: (pairs >> 48) & 0xFF)
        return (byte0 << 24) | (byte1 << 16) | (byte2 << 8) | byte3
    }

    mutating func readBase64() throws(WireError) -> [UInt8] {
        let start = reader.offset
        let view = try reader.readStringView()
        guard let bytes = JSONBase64.decode(view) else {
            throw WireError(.invalidValue, "invalid base64 in \(JSONReader.quote(view))", offset: start)
        }
        return bytes
    }
}

extension OTLPJSONDecoder {
    // MARK: - Export responses and status

    mutating func decodeExportResponse() throws(WireError) -> (rejectedItems: Int64, errorMessage: String) {
        var rejected: Int64 = 0
        var message = ""
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .partialSuccess:
                    var inner = try reader.beginObject()
                    while let innerField = try nextField(&inner) {
                        do throws(WireError) {
                            switch innerField {
                            case .rejectedSpans, .rejectedLogRecords, .rejectedDataPoints: rejected = try reader.readInt64()
                            case .errorMessage: message = try reader.readString()
                            default: try reader.skipValue()
                            }
                        } catch {
                            throw error.prependingJSONPath(innerField)
                        }
                    }
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return (rejected, message)
    }

    mutating func decodeStatusResponse() throws(WireError) -> (code: Int32, message: String) {
        var code: Int32 = 0
        var message = ""
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .code: code = try reader.readInt32()
                case .message: message = try reader.readString()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return (code, message)
    }
}

// MARK: - Error paths

extension WireError {
    /// The same error with the field's name in front of its path (built only when an error is thrown).
    @inline(never)
    func prependingJSONPath(_ field: OTLPJSONField) -> WireError {
        prefixed(with: field.rawValue)  // `.unknown` has an empty name, which leaves the path alone
    }

    @inline(never)
    func prependingJSONPath(index: Int) -> WireError {
        prefixed(with: "[\(index)]")
    }
}

// MARK: - Attribute stack

/// A stack of `KeyValue`s in manually managed memory: lists are pushed element by element and
/// moved out (no retain/release) into an exactly sized array.
struct JSONKeyValueStack: ~Copyable {
    private var base: UnsafeMutablePointer<KeyValue>
    private(set) var count = 0
    private var capacity: Int

    init() {
        capacity = 64
        base = .allocate(capacity: capacity)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    @inline(__always)
    mutating func push(_ keyValue: consuming KeyValue) {
        if count == capacity { grow() }
        (base + count).initialize(to: keyValue)
        count += 1
    }

    /// Moves the elements from `start` on into a new array and pops them.
    @inline(__always)
    mutating func popArray(from start: Int) -> [KeyValue] {
        let length = count - start
        if length == 0 { return [] }
        let source = base + start
        let result = [KeyValue](unsafeUninitializedCapacity: length) { buffer, initialized in
            buffer.baseAddress!.moveInitialize(from: source, count: length)
            initialized = length
        }
        count = start
        return result
    }

    private mutating func grow() {
        let newCapacity = capacity * 2
        let newBase = UnsafeMutablePointer<KeyValue>.allocate(capacity: newCapacity)
        newBase.moveInitialize(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }
}

// MARK: - String interning

/// A small direct-mapped cache of recently decoded strings, so repeated attribute keys share one
/// `String` instead of allocating each time. Strings of up to 15 UTF-8 bytes are stored inline by
/// Swift and need no cache.
struct JSONStringInterner {
    private static let slotCount = 512
    private var slots = [String](repeating: "", count: JSONStringInterner.slotCount)

    /// The string for `bytes`, which `reader.readStringView()` just returned; throws `.invalidUTF8`
    /// if they are not UTF-8.
    @inline(__always)
    mutating func intern(_ bytes: UnsafeBufferPointer<UInt8>, reader: borrowing JSONReader) throws(WireError) -> String {
        let count = bytes.count
        if count <= 15 || count > 256 { return try reader.makeLastString(bytes) }
        let base = UnsafeRawPointer(bytes.baseAddress!)
        let first = base.loadUnaligned(as: UInt64.self)
        let last = base.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        let middle = base.loadUnaligned(fromByteOffset: count / 2 - 4, as: UInt64.self)
        var hash = (first &* 0x9E37_79B9_7F4A_7C15) ^ (last &* 0xC2B2_AE3D_27D4_EB4F) ^ (middle &* 0x1656_67B1_9E37_79F9)
        hash ^= UInt64(count)
        hash ^= hash >> 29
        let slot = Int(truncatingIfNeeded: hash) & (Self.slotCount - 1)
        let cached = slots[slot]
        if cached.utf8.count == count {
            let equal = cached.utf8.withContiguousStorageIfAvailable { jsonBytesEqual($0.baseAddress!, bytes.baseAddress!, count) }
            if equal == true { return cached }
        }
        let string = try reader.makeLastString(bytes)
        slots[slot] = string
        return string
    }
}
