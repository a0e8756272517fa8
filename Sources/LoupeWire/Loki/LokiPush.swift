import LoupeModel

/// Loki's push API body (`POST /loki/api/v1/push`): `logproto.PushRequest` as protobuf (usually
/// snappy-compressed) or its JSON form. Decodes into the Loki model's streams, with the path and
/// byte offset of the first problem on failure.
public enum LokiPush {
    // MARK: Protobuf

    /// `PushRequest { repeated StreamAdapter streams = 1; string format = 2; }`
    public static func decodeProtobuf(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> [LogStream] {
        var reader = ProtobufReader(bytes)
        var streams: [LogStream] = []
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            if tag == 1 << 3 | 2 {
                var message = try reader.readMessage()
                do {
                    streams.append(try decodeStream(&message))
                } catch {
                    throw error.prefixed(with: "streams", index: streams.count)
                }
            } else {
                try reader.skipField(tag: tag)
            }
        }
        return streams
    }

    public static func decodeProtobuf(_ bytes: [UInt8]) throws(WireError) -> [LogStream] {
        let result = bytes.withUnsafeBytes { buffer in Result { () throws(WireError) in try decodeProtobuf(buffer) } }
        return try result.get()
    }

    /// `StreamAdapter { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }`
    static func decodeStream(_ reader: inout ProtobufReader) throws(WireError) -> LogStream {
        var labelsText = ""
        var labelsOffset = reader.offset
        var entries: [LogEntry] = []
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            switch tag {
            case 1 << 3 | 2:
                labelsOffset = reader.offset
                do {
                    labelsText = try reader.readString()
                } catch {
                    throw error.prefixed(with: "labels")
                }
            case 2 << 3 | 2:
                var message = try reader.readMessage()
                do {
                    entries.append(try decodeEntry(&message))
                } catch {
                    throw error.prefixed(with: "entries", index: entries.count)
                }
            default:
                try reader.skipField(tag: tag)
            }
        }
        do {
            return LogStream(labels: try LokiLabelsText.parse(labelsText), entries: entries)
        } catch {
            var located = error
            located.offset = labelsOffset + (error.offset ?? 0)
            throw located.prefixed(with: "labels")
        }
    }

    /// `EntryAdapter { Timestamp timestamp = 1; string line = 2; repeated LabelPairAdapter structuredMetadata = 3; ... }`
    static func decodeEntry(_ reader: inout ProtobufReader) throws(WireError) -> LogEntry {
        var timestamp: Int64 = 0
        var line = ""
        var metadata: [Label] = []
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            switch tag {
            case 1 << 3 | 2:
                var message = try reader.readMessage()
                do {
                    timestamp = try decodeTimestamp(&message)
                } catch {
                    throw error.prefixed(with: "timestamp")
                }
            case 2 << 3 | 2:
                do {
                    line = try reader.readString()
                } catch {
                    throw error.prefixed(with: "line")
                }
            case 3 << 3 | 2:
                var message = try reader.readMessage()
                do {
                    metadata.append(try decodeLabelPair(&message))
                } catch {
                    throw error.prefixed(with: "structuredMetadata", index: metadata.count)
                }
            default:
                try reader.skipField(tag: tag)
            }
        }
        return LogEntry(timestamp: timestamp, line: line, metadata: sortedMetadata(metadata))
    }

    /// `google.protobuf.Timestamp { int64 seconds = 1; int32 nanos = 2; }` as nanoseconds since the epoch.
    static func decodeTimestamp(_ reader: inout ProtobufReader) throws(WireError) -> Int64 {
        var seconds: Int64 = 0
        var nanos: Int64 = 0
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            switch tag {
            case 1 << 3 | 0: seconds = try reader.readVarintInt64()
            case 2 << 3 | 0: nanos = Int64(try reader.readVarintInt32())
            default: try reader.skipField(tag: tag)
            }
        }
        guard (0..<1_000_000_000).contains(nanos) else {
            throw WireError(.invalidValue, "nanos must be in [0, 999999999], got \(nanos)", offset: reader.offset)
        }
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow, product <= Int64.max - nanos else {
            throw WireError(.invalidValue, "timestamp \(seconds)s is out of range", offset: reader.offset)
        }
        return product + nanos
    }

    /// `LabelPairAdapter { string name = 1; string value = 2; }`
    static func decodeLabelPair(_ reader: inout ProtobufReader) throws(WireError) -> Label {
        var name = ""
        var value = ""
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            switch tag {
            case 1 << 3 | 2: name = try reader.readString()
            case 2 << 3 | 2: value = try reader.readString()
            default: try reader.skipField(tag: tag)
            }
        }
        guard !name.isEmpty else { throw WireError(.invalidValue, "structured metadata name must not be empty", offset: reader.offset) }
        return Label(name, value)
    }

    /// Sorted by name, the last of duplicate names kept, empty values kept (they are significant).
    static func sortedMetadata(_ pairs: [Label]) -> Labels {
        guard !pairs.isEmpty else { return Labels() }
        var sorted = pairs.enumerated().sorted { lhs, rhs in
            let order = Labels.compareBytes(lhs.element.name, rhs.element.name)
            return order != 0 ? order < 0 : lhs.offset < rhs.offset
        }.map(\.element)
        var unique: [Label] = []
        unique.reserveCapacity(sorted.count)
        for label in sorted {
            if unique.last?.name == label.name { unique[unique.count - 1] = label } else { unique.append(label) }
        }
        sorted = unique
        return Labels(presorted: sorted)
    }

    public static func encodeProtobuf(_ streams: [LogStream]) -> [UInt8] {
        var writer = ProtobufWriter(capacity: 256)
        for stream in streams.reversed() {
            let streamMark = writer.count
            for entry in stream.entries.reversed() {
                let entryMark = writer.count
                for label in entry.metadata.reversed() {
                    let pairMark = writer.count
                    if !label.value.isEmpty { writer.prependStringField(2, label.value) }
                    writer.prependStringField(1, label.name)
                    writer.prependLengthAndTag(field: 3, since: pairMark)
                }
                if !entry.line.isEmpty { writer.prependStringField(2, entry.line) }
                let timestampMark = writer.count
                let (seconds, nanos) = entry.timestamp.quotientAndRemainder(dividingBy: 1_000_000_000)
                let (wholeSeconds, positiveNanos) = nanos < 0 ? (seconds - 1, nanos + 1_000_000_000) : (seconds, nanos)
                if positiveNanos != 0 { writer.prependVarintField(2, UInt64(positiveNanos)) }
                if wholeSeconds != 0 { writer.prependVarintField(1, UInt64(bitPattern: wholeSeconds)) }
                writer.prependLengthAndTag(field: 1, since: timestampMark)
                writer.prependLengthAndTag(field: 2, since: entryMark)
            }
            writer.prependStringField(1, stream.labels.lokiText)
            writer.prependLengthAndTag(field: 1, since: streamMark)
        }
        return writer.finish()
    }

    // MARK: JSON

    /// `{"streams":[{"stream":{"app":"x"},"values":[["<unix ns>","line"],["<unix ns>","line",{"trace_id":"abc"}]]}]}`
    /// or Loki's legacy shape, `{"streams":[{"labels":"{app=\"x\"}","entries":[{"ts":"<RFC 3339>","line":"..."}]}]}`.
    public static func decodeJSON(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> [LogStream] {
        var reader = JSONReader(bytes)
        var streams: [LogStream] = []
        var root = try reader.beginObject()
        while try reader.nextMember(&root, skippingNulls: true) {
            guard reader.keyEquals("streams") else {
                try reader.skipValue()
                continue
            }
            var array = try reader.beginArray()
            while try reader.nextElement(&array) {
                do {
                    streams.append(try decodeJSONStream(&reader))
                } catch {
                    throw error.prefixed(with: "streams", index: streams.count)
                }
            }
        }
        try reader.expectEnd()
        return streams
    }

    public static func decodeJSON(_ bytes: [UInt8]) throws(WireError) -> [LogStream] {
        let result = bytes.withUnsafeBytes { buffer in Result { () throws(WireError) in try decodeJSON(buffer) } }
        return try result.get()
    }

    static func decodeJSONStream(_ reader: inout JSONReader) throws(WireError) -> LogStream {
        var labels: [Label] = []
        var entries: [LogEntry] = []
        var object = try reader.beginObject()
        while try reader.nextMember(&object, skippingNulls: true) {
            if reader.keyEquals("stream") {
                var labelObject = try reader.beginObject()
                while try reader.nextMember(&labelObject) {
                    let name = reader.key
                    do {
                        labels.append(Label(name, try reader.readString()))
                    } catch {
                        throw error.prefixed(with: "stream.\(name)")
                    }
                }
            } else if reader.keyEquals("values") {
                var values = try reader.beginArray()
                while try reader.nextElement(&values) {
                    do {
                        entries.append(try decodeJSONValue(&reader))
                    } catch {
                        throw error.prefixed(with: "values", index: entries.count)
                    }
                }
            } else if reader.keyEquals("labels") {
                // The legacy shape (`/api/prom/push`, python-logging-loki's version "0"): the label set as text.
                do {
                    labels.append(contentsOf: try LokiLabelsText.parse(try reader.readString()))
                } catch {
                    throw error.prefixed(with: "labels")
                }
            } else if reader.keyEquals("entries") {
                var values = try reader.beginArray()
                while try reader.nextElement(&values) {
                    do {
                        entries.append(try decodeLegacyJSONEntry(&reader))
                    } catch {
                        throw error.prefixed(with: "entries", index: entries.count)
                    }
                }
            } else {
                try reader.skipValue()
            }
        }
        if labels.isEmpty && !entries.isEmpty {
            throw WireError(.invalidValue, "a stream needs at least one label (\"stream\": {...} or legacy \"labels\": \"{...}\")", offset: reader.offset)
        }
        var names: Set<String> = []
        for label in labels where !names.insert(label.name).inserted {
            throw WireError(.invalidValue, "duplicate label name \(label.name)", at: "stream", offset: reader.offset)
        }
        return LogStream(labels: Labels(labels), entries: entries)
    }

    /// `{"ts": "2026-01-02T03:04:05.123456789Z", "line": "..."}` (`timestamp` also names the time).
    static func decodeLegacyJSONEntry(_ reader: inout JSONReader) throws(WireError) -> LogEntry {
        var timestamp: Int64?
        var line: String?
        var object = try reader.beginObject()
        while try reader.nextMember(&object, skippingNulls: true) {
            if reader.keyEquals("ts") || reader.keyEquals("timestamp") {
                let key = reader.key
                let text: String
                do { text = try reader.readString() } catch { throw error.prefixed(with: key) }
                guard let parsed = RFC3339.nanoseconds(text) else {
                    throw WireError(.invalidValue, "\(key) \(text.debugDescription) is not an RFC 3339 time", at: key, offset: reader.offset)
                }
                timestamp = parsed
            } else if reader.keyEquals("line") {
                do { line = try reader.readString() } catch { throw error.prefixed(with: "line") }
            } else {
                try reader.skipValue()
            }
        }
        guard let timestamp else { throw WireError(.invalidValue, "an entry needs \"ts\", an RFC 3339 time", offset: reader.offset) }
        guard let line else { throw WireError(.invalidValue, "an entry needs a \"line\"", offset: reader.offset) }
        return LogEntry(timestamp: timestamp, line: line, metadata: Labels())
    }

    /// `["<unix ns as a string>", "line"]` or `[..., ..., {"key": "value"}]`.
    static func decodeJSONValue(_ reader: inout JSONReader) throws(WireError) -> LogEntry {
        var array = try reader.beginArray()
        guard try reader.nextElement(&array) else { throw WireError(.invalidValue, "an entry needs a timestamp and a line", offset: reader.offset) }
        guard try reader.peekKind() == .string else {
            throw WireError(.invalidValue, "the timestamp must be a string of nanoseconds since the epoch", at: "[0]", offset: reader.offset)
        }
        let timestampText = try reader.readString()
        guard let timestamp = Int64(timestampText) else {
            throw WireError(.invalidValue, "timestamp \(timestampText.debugDescription) is not a whole number of nanoseconds", at: "[0]", offset: reader.offset)
        }
        guard try reader.nextElement(&array) else { throw WireError(.invalidValue, "an entry needs a line after its timestamp", offset: reader.offset) }
        let line: String
        do {
            line = try reader.readString()
        } catch {
            throw error.prefixed(with: "[1]")
        }
        var metadata: [Label] = []
        if try reader.nextElement(&array) {
            var object = try reader.beginObject()
            while try reader.nextMember(&object) {
                let name = reader.key
                do {
                    metadata.append(Label(name, try reader.readString()))
                } catch {
                    throw error.prefixed(with: "[2].\(name)")
                }
            }
            if try reader.nextElement(&array) {
                throw WireError(.invalidValue, "an entry has at most a timestamp, a line and structured metadata", offset: reader.offset)
            }
        }
        return LogEntry(timestamp: timestamp, line: line, metadata: sortedMetadata(metadata))
    }
}

extension Labels {
    /// The text Loki's push API and APIs use for a label set: `{app="api", env="prod"}`.
    public var lokiText: String {
        var text = "{"
        for (index, label) in enumerated() {
            if index > 0 { text += ", " }
            text += label.name + "=\""
            for character in label.value.unicodeScalars {
                switch character {
                case "\\": text += "\\\\"
                case "\"": text += "\\\""
                case "\n": text += "\\n"
                default: text.unicodeScalars.append(character)
                }
            }
            text += "\""
        }
        return text + "}"
    }
}
