/// LogQL's `| unpack` stage: undoes Promtail's / Alloy's `pack` stage.
///
/// The line is a JSON object; its string-valued top-level keys become labels (names sanitized, values
/// unescaped) and the special key `_entry` becomes the new log line. Follows Loki v3
/// (pkg/logql/log/parser.go `UnpackParser`):
/// - labels are only added when the object has an `_entry` key; an object without one leaves the line and
///   its labels untouched (Loki's "should not change log and labels if no packed entry");
/// - values that are not strings (numbers, booleans, null, arrays, objects) are ignored;
/// - a key seen twice keeps its last value, as does `_entry`;
/// - an empty line is left alone; a line that does not start with `{` fails with `JSONParserErr`
///   "expecting json object(6), but it is not"; a malformed object fails with the scanner's message and
///   yields no labels.
public struct UnpackLineParser: Sendable {
    public init() {}

    public func parse(_ line: String) -> LogLineParseOutcome {
        LogLineBytes.withBytes(of: line) { bytes in
            guard let first = bytes.first else { return LogLineParseOutcome() }
            // Loki looks at the first byte only: leading white space is not an object.
            guard first == UInt8(ascii: "{") else {
                return Self.failure("expecting json object(6), but it is not")
            }
            var collector = PackedFieldCollector(bytes: bytes)
            var walker = JSONObjectWalker(scanner: JSONScanner(bytes: bytes))
            do throws(JSONScanFailure) {
                try walker.walkTopLevelObject(recursingInto: false, visitor: &collector)
            } catch {
                // Loki stops at a bad `_entry`, so that failure comes first if the walk failed later.
                return Self.failure((collector.entryFailure ?? error).message)
            }
            if let failure = collector.entryFailure {
                return Self.failure(failure.message)
            }
            guard let entry = collector.entry else { return LogLineParseOutcome() }
            return LogLineParseOutcome(labels: collector.labels.labels, replacementLine: entry)
        }
    }

    private static func failure(_ details: String) -> LogLineParseOutcome {
        LogLineParseOutcome(error: LogQLParseFailure(kind: LogQLParseFailure.jsonParserErrorKind, details: details))
    }
}

private struct PackedFieldCollector: JSONMemberVisitor {
    let bytes: UnsafeBufferPointer<UInt8>
    var labels = ExtractedLabelList()
    var entry: String?
    /// An `_entry` whose escapes cannot be decoded fails the whole line in Loki.
    var entryFailure: JSONScanFailure?
    private var scratch: [UInt8] = []
    private var name: [UInt8] = []

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    mutating func visitScalar(key: UnsafeBufferPointer<UInt8>, value: JSONValue) {
        guard value.kind == .string, entryFailure == nil else { return }
        if key.elementsEqual("_entry".utf8) {
            let content = UnsafeBufferPointer(rebasing: bytes[value.range])
            guard value.hasEscapes else {
                entry = String(decoding: content, as: UTF8.self)
                return
            }
            scratch.removeAll(keepingCapacity: true)
            guard JSONScanner.unescape(content, into: &scratch) else {
                entryFailure = .malformedStringEscape
                return
            }
            // Unlike label values, the new line keeps U+FFFD: Loki does not replace it here.
            entry = String(decoding: scratch, as: UTF8.self)
            return
        }
        name.removeAll(keepingCapacity: true)
        LogQLLabelName.appendPart(key, to: &name)
        guard !name.isEmpty else { return }
        let value = JSONScanner.labelValue(ofString: value, in: bytes, scratch: &scratch)
        // Loki buffers the pairs and sets them in order, so a repeated key ends with its last value.
        labels.set(LogQLExtractedLabel(name: String(decoding: name, as: UTF8.self), value: value))
    }

    mutating func enterObject(key: UnsafeBufferPointer<UInt8>) -> Bool { false }

    mutating func exitObject() {}
}
