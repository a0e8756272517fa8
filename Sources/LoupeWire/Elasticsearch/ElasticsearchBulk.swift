/// The body of Elasticsearch's `_bulk` API: NDJSON, an action line (`{"index":{...}}`,
/// `{"create":{...}}`, `{"update":{...}}`, `{"delete":{...}}`) followed, except for `delete`, by
/// a source line. What Fluent Bit, Fluentd, Vector, Filebeat and Logstash send to Elasticsearch.
///
/// A malformed action line fails the whole request, as in Elasticsearch; a source line that is
/// not a JSON object fails only its item.
public enum ElasticsearchBulk {
    public enum Action: String, Sendable, Equatable {
        case index, create, update, delete
    }

    /// One operation of the request.
    public struct Item: Sendable, Equatable {
        public var action: Action
        public var index: String
        public var id: String?
        /// The source document as sent (`index`/`create`), nil for `delete` or when it did not parse.
        public var source: String?
        /// The document's scalar values by dotted path (`kubernetes.pod_name`), in document order;
        /// arrays are kept as their JSON text.
        public var fields: [(path: String, value: String)]
        /// Why this item alone failed (Elasticsearch's `mapper_parsing_exception` reason).
        public var error: String?

        public static func == (lhs: Item, rhs: Item) -> Bool {
            lhs.action == rhs.action && lhs.index == rhs.index && lhs.id == rhs.id && lhs.source == rhs.source && lhs.error == rhs.error
                && lhs.fields.map(\.path) == rhs.fields.map(\.path) && lhs.fields.map(\.value) == rhs.fields.map(\.value)
        }
    }

    /// - Parameter defaultIndex: the index of `/{index}/_bulk`, for action lines that name none.
    public static func decode(_ body: UnsafeRawBufferPointer, defaultIndex: String? = nil) throws(WireError) -> [Item] {
        var items: [Item] = []
        var lines: [Range<Int>] = []
        var start = 0
        for position in 0..<body.count where body[position] == UInt8(ascii: "\n") {
            lines.append(start..<position)
            start = position + 1
        }
        if start < body.count { lines.append(start..<body.count) }
        lines = lines.map { range in
            var end = range.upperBound
            if end > range.lowerBound, body[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            return range.lowerBound..<end
        }.filter { range in range.contains { !isSpace(body[$0]) } }
        var index = 0
        while index < lines.count {
            let actionLine = lines[index]
            let lineNumber = index + 1
            index += 1
            var item = try decodeAction(UnsafeRawBufferPointer(rebasing: body[actionLine]), line: lineNumber, offset: actionLine.lowerBound, defaultIndex: defaultIndex)
            if item.action != .delete {
                guard index < lines.count else {
                    throw WireError(.invalidValue, "The bulk request must be terminated by a newline [\\n]; line \(lineNumber) has no source", offset: body.count)
                }
                let sourceLine = lines[index]
                index += 1
                let bytes = UnsafeRawBufferPointer(rebasing: body[sourceLine])
                do {
                    item.fields = try fields(of: bytes)
                    item.source = String(decoding: bytes, as: UTF8.self)
                } catch {
                    item.error = "failed to parse: \(error)"
                }
            }
            items.append(item)
        }
        return items
    }

    public static func decode(_ body: [UInt8], defaultIndex: String? = nil) throws(WireError) -> [Item] {
        let result = body.withUnsafeBytes { buffer in Result { () throws(WireError) in try decode(buffer, defaultIndex: defaultIndex) } }
        return try result.get()
    }

    static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n")
    }

    static func decodeAction(_ bytes: UnsafeRawBufferPointer, line: Int, offset: Int, defaultIndex: String?) throws(WireError) -> Item {
        func malformed(_ reason: String) -> WireError {
            WireError(.invalidValue, "Malformed action/metadata line [\(line)]: \(reason)", offset: offset)
        }
        var reader = JSONReader(bytes)
        var action: Action?
        var index = defaultIndex
        var id: String?
        do throws(WireError) {
            var object = try reader.beginObject()
            while try reader.nextMember(&object) {
                guard action == nil, let parsed = Action(rawValue: reader.key) else {
                    throw malformed(action == nil ? "unknown action [\(reader.key)]" : "expected a single action, found another [\(reader.key)]")
                }
                action = parsed
                var metadata = try reader.beginObject()
                while try reader.nextMember(&metadata, skippingNulls: true) {
                    switch reader.key {
                    case "_index": index = try reader.readString()
                    case "_id": id = try reader.peekKind() == .number ? String(decoding: try reader.readNumber().text, as: UTF8.self) : try reader.readString()
                    default: try reader.skipValue()
                    }
                }
            }
            try reader.expectEnd()
        } catch {
            if error.message.hasPrefix("Malformed") { throw error }
            throw malformed("\(error)")
        }
        guard let action else { throw malformed("expected an action such as index or create") }
        guard let index, !index.isEmpty else { throw malformed("no index: give _index or use /{index}/_bulk") }
        return Item(action: action, index: index, id: id, source: nil, fields: [], error: nil)
    }

    /// The scalar leaves of a JSON object by dotted path.
    static func fields(of bytes: UnsafeRawBufferPointer) throws(WireError) -> [(path: String, value: String)] {
        var reader = JSONReader(bytes)
        var fields: [(path: String, value: String)] = []
        guard try reader.peekKind() == .object else { throw WireError(.invalidValue, "the source must be a JSON object", offset: 0) }
        try flatten(&reader, bytes, prefix: "", into: &fields)
        try reader.expectEnd()
        return fields
    }

    static func flatten(_ reader: inout JSONReader, _ bytes: UnsafeRawBufferPointer, prefix: String, into fields: inout [(path: String, value: String)]) throws(WireError) {
        switch try reader.peekKind() {
        case .object:
            var object = try reader.beginObject()
            while try reader.nextMember(&object) {
                let key = reader.key
                try flatten(&reader, bytes, prefix: prefix.isEmpty ? key : prefix + "." + key, into: &fields)
            }
        case .array:
            reader.skipWhitespace()
            let start = reader.offset
            try reader.skipValue()
            fields.append((prefix, String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<reader.offset]), as: UTF8.self)))
        case .string:
            fields.append((prefix, try reader.readString()))
        case .number:
            fields.append((prefix, String(decoding: try reader.readNumber().text, as: UTF8.self)))
        case .bool:
            fields.append((prefix, try reader.readBool() ? "true" : "false"))
        case .null:
            try reader.readNull()
        }
    }
}
