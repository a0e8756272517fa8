import LoupeModel
import LoupeWire

/// Writes container log lines straight into OTLP protobuf: the same records
/// `ContainerLogRecordBuilder` makes (tested so), without building the records, their attribute
/// lists and strings first. The agent uses it for pipelines without transform or filter rules,
/// where nothing needs the records as values.
public struct ContainerLogEncoder: Sendable {
    public var keepOriginalBody: Bool

    public init(keepOriginalBody: Bool = true) { self.keepOriginalBody = keepOriginalBody }

    /// Scratch space reused from record to record.
    public struct Scratch: Sendable {
        var record: [UInt8] = []
        var json: [UInt8] = []
        var body: [UInt8] = []

        public init() {}
    }

    /// A `ResourceLogs` message (field 1 of an export request, tag included) for `records`, which
    /// hold `LogRecord` messages each with its tag (`appendRecord`).
    public static func resourceLogs(resource: Resource, records: [UInt8]) -> [UInt8] {
        var resourceBytes: [UInt8] = []
        for attribute in resource.attributes { ProtobufForward.keyValue(attribute, field: 1, into: &resourceBytes) }
        // Sizes first, so the records are copied once: ResourceLogs { resource, ScopeLogs { records } }.
        let scopeSize = records.count
        let messageSize = 1 + ProtobufForward.varintSize(UInt64(resourceBytes.count)) + resourceBytes.count
            + 1 + ProtobufForward.varintSize(UInt64(scopeSize)) + scopeSize
        var out: [UInt8] = []
        out.reserveCapacity(messageSize + 12)
        ProtobufForward.rawVarint(1 << 3 | 2, into: &out)
        ProtobufForward.rawVarint(UInt64(messageSize), into: &out)
        ProtobufForward.lengthDelimited(field: 1, resourceBytes, into: &out)
        ProtobufForward.lengthDelimited(field: 2, records, into: &out)
        return out
    }

    /// Appends one `LogRecord` (field 2 of `ScopeLogs`, tag included) for a whole line.
    public func appendRecord(_ line: ContainerLogLine, observedUnixNano: UInt64, to out: inout [UInt8], scratch: inout Scratch) {
        // Taken out (not copied), so the buffer stays uniquely referenced and is reused in place.
        var record: [UInt8] = []
        swap(&record, &scratch.record)
        record.removeAll(keepingCapacity: true)
        if line.timeUnixNano != 0 { ProtobufForward.fixed64(field: 1, line.timeUnixNano, into: &record) }
        ProtobufForward.fixed64(field: 11, observedUnixNano, into: &record)
        ProtobufForward.stringKeyValue(field: 6, key: "log.iostream", value: line.stream.rawValue, into: &record)
        var text = line.text
        let structured = text.utf8.first == UInt8(ascii: "{") && text.withUTF8 { bytes in
            appendJSONFields(bytes, to: &record, scratch: &scratch)
        }
        if structured {
            if keepOriginalBody { ProtobufForward.stringKeyValue(field: 6, key: "log.original", value: text, into: &record) }
        } else {
            // body = AnyValue { string_value = text }: its size is known, so it is written in place.
            let count = text.utf8.count
            ProtobufForward.rawVarint(5 << 3 | 2, into: &record)
            ProtobufForward.rawVarint(UInt64(1 + ProtobufForward.varintSize(UInt64(count)) + count), into: &record)
            ProtobufForward.stringField(1, text, into: &record)
        }
        ProtobufForward.lengthDelimited(field: 2, record, into: &out)
        scratch.record = record
    }

    /// The object's members as the builder takes them (message, level, trace context, the rest
    /// as attributes); false, writing nothing, when the text is not exactly one JSON object.
    private func appendJSONFields(_ bytes: UnsafeBufferPointer<UInt8>, to record: inout [UInt8], scratch: inout Scratch) -> Bool {
        var json: [UInt8] = []
        swap(&json, &scratch.json)
        json.removeAll(keepingCapacity: true)
        var body: [UInt8] = []
        swap(&body, &scratch.body)
        body.removeAll(keepingCapacity: true)
        defer {
            scratch.json = json
            scratch.body = body
        }
        var hasBody = false
        var severityTaken = false
        var traceID = TraceID.empty
        var spanID = SpanID.empty
        var flags: UInt32?
        var reader = JSONReader(UnsafeRawBufferPointer(bytes), maximumDepth: 32)
        do throws(WireError) {
            guard try reader.peekKind() == .object else { return false }
            var object = try reader.beginObject()
            while try reader.nextMember(&object) {
                let key = reader.key
                let kind = try reader.peekKind()
                // The builder's rules, in its order: the first message is the body, the first
                // string level the severity, valid trace context the record's; the rest are attributes.
                if (key == "message" || key == "msg") && !hasBody {
                    hasBody = true
                    try Self.readValue(&reader).appendBody(into: &body)
                    continue
                }
                if kind == .string {
                    if (key == "level" || key == "log.level" || key == "severity") && !severityTaken {
                        let text = try reader.readString()
                        if !text.isEmpty {
                            severityTaken = true
                            ProtobufForward.varint(field: 2, UInt64(ContainerLogRecordBuilder.severity(text).rawValue), into: &json)
                            ProtobufForward.stringField(3, text, into: &json)
                        }
                        continue
                    }
                    if key == "trace_id" || key == "traceId" || key == "traceID" {
                        let text = try reader.readString()
                        if let id = TraceID(hex: text), !id.isEmpty {
                            traceID = id
                        } else {
                            ProtobufForward.stringKeyValue(field: 6, key: key, value: text, into: &json)
                        }
                        continue
                    }
                    if key == "span_id" || key == "spanId" || key == "spanID" {
                        let text = try reader.readString()
                        if let id = SpanID(hex: text), !id.isEmpty {
                            spanID = id
                        } else {
                            ProtobufForward.stringKeyValue(field: 6, key: key, value: text, into: &json)
                        }
                        continue
                    }
                    if key == "traceparent" {
                        let text = try reader.readString()
                        if let context = ContainerLogRecordBuilder.traceparent(text) {
                            if traceID.isEmpty { traceID = context.trace }
                            if spanID.isEmpty { spanID = context.span }
                            flags = context.flags
                        } else {
                            ProtobufForward.stringKeyValue(field: 6, key: key, value: text, into: &json)
                        }
                        continue
                    }
                }
                ProtobufForward.keyValue(field: 6, key: key, value: try Self.readValue(&reader), into: &json)
            }
            try reader.expectEnd()
        } catch {
            return false
        }
        record.append(contentsOf: json)
        // No message: the body is there, and empty (as the builder leaves it).
        ProtobufForward.lengthDelimited(field: 5, body, into: &record)
        if let flags { ProtobufForward.fixed32(field: 8, flags, into: &record) }
        if !traceID.isEmpty { ProtobufForward.lengthDelimited(field: 9, traceID.bytes, into: &record) }
        if !spanID.isEmpty { ProtobufForward.lengthDelimited(field: 10, spanID.bytes, into: &record) }
        return true
    }

    /// One JSON value (numbers as ints when integral): scalars as they are, arrays and objects
    /// already encoded as `AnyValue` fields.
    static func readValue(_ reader: inout JSONReader) throws(WireError) -> JSONAnyValue {
        switch try reader.peekKind() {
        case .string: return .string(try reader.readString())
        case .bool: return .bool(try reader.readBool())
        case .number:
            let number = try reader.readNumber()
            if let integer = number.int64Value { return .int(integer) }
            return .double(number.doubleValue)
        case .null:
            try reader.readNull()
            return .null
        case .array:
            var list: [UInt8] = []
            var array = try reader.beginArray()
            while try reader.nextElement(&array) {
                var element: [UInt8] = []
                try readValue(&reader).appendBody(into: &element)
                ProtobufForward.lengthDelimited(field: 1, element, into: &list)
            }
            var body: [UInt8] = []
            ProtobufForward.lengthDelimited(field: 5, list, into: &body)
            return .nested(body)
        case .object:
            var list: [UInt8] = []
            var object = try reader.beginObject()
            while try reader.nextMember(&object) {
                let key = reader.key
                ProtobufForward.keyValue(field: 1, key: key, value: try readValue(&reader), into: &list)
            }
            var body: [UInt8] = []
            ProtobufForward.lengthDelimited(field: 6, list, into: &body)
            return .nested(body)
        }
    }
}

/// A JSON value on its way into an `AnyValue` message.
enum JSONAnyValue {
    case string(String)
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case null
    /// Arrays and objects: the `AnyValue` message's fields, encoded.
    case nested([UInt8])

    /// Bytes of the `AnyValue` message's fields.
    var bodySize: Int {
        switch self {
        case .string(let text):
            let count = text.utf8.count
            return 1 + ProtobufForward.varintSize(UInt64(count)) + count
        case .bool: return 2
        case .int(let number): return 1 + ProtobufForward.varintSize(UInt64(bitPattern: number))
        case .double: return 9
        case .null: return 0
        case .nested(let bytes): return bytes.count
        }
    }

    func appendBody(into out: inout [UInt8]) {
        switch self {
        case .string(let text): ProtobufForward.stringField(1, text, into: &out)
        case .bool(let flag): ProtobufForward.varint(field: 2, flag ? 1 : 0, into: &out)
        case .int(let number): ProtobufForward.varint(field: 3, UInt64(bitPattern: number), into: &out)
        case .double(let number): ProtobufForward.fixed64(field: 4, number.bitPattern, into: &out)
        case .null: break
        case .nested(let bytes): out.append(contentsOf: bytes)
        }
    }
}

/// Protobuf written front to back, for messages built in one pass: each nested message is
/// built first, then appended after its tag and length.
enum ProtobufForward {
    @inline(__always)
    static func rawVarint(_ value: UInt64, into out: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
    }

    @inline(__always)
    static func varint(field: UInt32, _ value: UInt64, into out: inout [UInt8]) {
        rawVarint(UInt64(field) << 3, into: &out)
        rawVarint(value, into: &out)
    }

    static func fixed64(field: UInt32, _ value: UInt64, into out: inout [UInt8]) {
        rawVarint(UInt64(field) << 3 | 1, into: &out)
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    static func fixed32(field: UInt32, _ value: UInt32, into out: inout [UInt8]) {
        rawVarint(UInt64(field) << 3 | 5, into: &out)
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    static func lengthDelimited(field: UInt32, _ bytes: [UInt8], into out: inout [UInt8]) {
        rawVarint(UInt64(field) << 3 | 2, into: &out)
        rawVarint(UInt64(bytes.count), into: &out)
        out.append(contentsOf: bytes)
    }

    static func bytesField(_ field: UInt32, _ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        rawVarint(UInt64(field) << 3 | 2, into: &out)
        rawVarint(UInt64(bytes.count), into: &out)
        out.append(contentsOf: bytes)
    }

    static func stringField(_ field: UInt32, _ text: String, into out: inout [UInt8]) {
        var text = text
        text.withUTF8 { bytesField(field, $0, into: &out) }
    }

    /// A `KeyValue` with a string value, as field `field`; sizes are known, so no nesting buffers.
    static func stringKeyValue(field: UInt32, key: String, value: String, into out: inout [UInt8]) {
        let keyCount = key.utf8.count
        let valueCount = value.utf8.count
        let anyValueSize = 1 + varintSize(UInt64(valueCount)) + valueCount
        let pairSize = 1 + varintSize(UInt64(keyCount)) + keyCount + 1 + varintSize(UInt64(anyValueSize)) + anyValueSize
        rawVarint(UInt64(field) << 3 | 2, into: &out)
        rawVarint(UInt64(pairSize), into: &out)
        stringField(1, key, into: &out)
        rawVarint(2 << 3 | 2, into: &out)
        rawVarint(UInt64(anyValueSize), into: &out)
        stringField(1, value, into: &out)
    }

    /// A `KeyValue` as field `field`, its sizes computed rather than built in buffers.
    static func keyValue(field: UInt32, key: String, value: JSONAnyValue, into out: inout [UInt8]) {
        let keyCount = key.utf8.count
        let valueSize = value.bodySize
        let pairSize = 1 + varintSize(UInt64(keyCount)) + keyCount + 1 + varintSize(UInt64(valueSize)) + valueSize
        rawVarint(UInt64(field) << 3 | 2, into: &out)
        rawVarint(UInt64(pairSize), into: &out)
        stringField(1, key, into: &out)
        rawVarint(2 << 3 | 2, into: &out)
        rawVarint(UInt64(valueSize), into: &out)
        value.appendBody(into: &out)
    }

    static func varintSize(_ value: UInt64) -> Int {
        var size = 1
        var value = value >> 7
        while value != 0 {
            size += 1
            value >>= 7
        }
        return size
    }

    /// A model `KeyValue` (resource attributes: strings, ints, bools, doubles; others nested).
    static func keyValue(_ pair: KeyValue, field: UInt32, into out: inout [UInt8]) {
        var body: [UInt8] = []
        stringField(1, pair.key, into: &body)
        var value: [UInt8] = []
        anyValue(pair.value, into: &value)
        lengthDelimited(field: 2, value, into: &body)
        lengthDelimited(field: field, body, into: &out)
    }

    static func anyValue(_ value: AnyValue, into out: inout [UInt8]) {
        switch value {
        case .string(let text): stringField(1, text, into: &out)
        case .bool(let flag): varint(field: 2, flag ? 1 : 0, into: &out)
        case .int(let number): varint(field: 3, UInt64(bitPattern: number), into: &out)
        case .double(let number): fixed64(field: 4, number.bitPattern, into: &out)
        case .array(let values):
            var list: [UInt8] = []
            for element in values {
                var encoded: [UInt8] = []
                anyValue(element, into: &encoded)
                lengthDelimited(field: 1, encoded, into: &list)
            }
            lengthDelimited(field: 5, list, into: &out)
        case .keyValueList(let pairs):
            var list: [UInt8] = []
            for pair in pairs { keyValue(pair, field: 1, into: &list) }
            lengthDelimited(field: 6, list, into: &out)
        case .bytes(let bytes): lengthDelimited(field: 7, bytes, into: &out)
        case .empty: break
        }
    }
}
