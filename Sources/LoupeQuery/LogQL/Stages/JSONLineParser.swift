/// LogQL's `| json` stage.
///
/// Without expressions every scalar leaf of the line's top-level object becomes a label: nested keys are
/// joined with `_`, names sanitized (LogQLLabelName), strings unescaped, numbers keep their source text,
/// booleans give "true"/"false"; null values and arrays are skipped. With expressions (`| json first="a.b",
/// ip="servers[0]", x="[\"key with space\"]"`) each label takes the value at its path: objects as their raw
/// JSON text, missing paths as an empty placeholder.
///
/// Semantics follow Loki v3 (pkg/logql/log/parser.go `JSONParser`, `JSONExpressionParser`), which reads lines
/// with grafana/jsonparser, a deliberately tolerant scanner: it validates what it walks through and nothing
/// else. The same tolerance is kept here so that the same lines carry `__error__`:
/// - text after the closing brace of the top-level object is ignored, as is a trailing comma before `}`;
/// - arrays that are skipped are only bracket-matched, not validated;
/// - a number is any token starting with a digit or `-` (kept verbatim: `{"a":1x}` gives `a="1x"`);
/// - a string with an invalid escape gives an empty value, not an error.
///
/// Error details are grafana/jsonparser's messages, which Loki passes through to `__error_details__`
/// ("Value looks like object, but can't find closing '}' symbol" for a line that is not an object at all).
public struct JSONLineParser: Sendable {
    private let extraction: Extraction
    /// Parser hints: when set, plain `| json` keeps only these (sanitized) names; the query needs
    /// no others, and not making the rest saves most of the parser's allocations. The whole line
    /// is still scanned, so errors are found as without hints.
    private var requiredNames: Set<[UInt8]>?

    private enum Extraction: Sendable {
        case allFields
        case paths(JSONPathSet)
    }

    /// `| json a="b"` rather than `| json`: its values replace what earlier parsers of the line set.
    var hasExpressions: Bool {
        if case .paths = extraction { return true }
        return false
    }

    /// - Parameter expressions: `(label, path)` pairs of `| json label="path", ...`; empty for plain `| json`.
    ///   A path uses Loki's syntax: `field`, `a.b`, `a["key with space"]`, `list[0]` and combinations.
    public init(expressions: [(label: String, path: String)] = []) throws(LogQLStageError) {
        if expressions.isEmpty {
            extraction = .allFields
            return
        }
        var parsed: [(label: String, path: [JSONPathSegment])] = []
        for expression in expressions {
            let path: [JSONPathSegment]
            do throws(JSONPathSegment.SyntaxError) {
                path = try JSONPathSegment.parse(expression.path)
            } catch {
                throw LogQLStageError("cannot parse expression [\(expression.path)]: \(error.message)")
            }
            // Loki validates label names with Prometheus' UTF-8 scheme: any non-empty text.
            guard !expression.label.isEmpty else {
                throw LogQLStageError("invalid extracted label name '\(expression.label)'")
            }
            parsed.append((expression.label, path))
        }
        extraction = .paths(JSONPathSet(parsed))
    }

    /// The same parser extracting only `names` (and the parsed side of `<name>_extracted`) when it
    /// extracts every field; a parser with paths is returned as it is.
    func restricted(to names: Set<String>) -> JSONLineParser {
        guard case .allFields = extraction else { return self }
        var copy = self
        var required: Set<[UInt8]> = []
        for name in names {
            required.insert(Array(name.utf8))
            if name.hasSuffix("_extracted") { required.insert(Array(name.utf8.dropLast("_extracted".utf8.count))) }
        }
        copy.requiredNames = required
        return copy
    }

    public func parse(_ line: String) -> LogLineParseOutcome {
        LogLineBytes.withBytes(of: line) { bytes in
            switch extraction {
            case .allFields:
                return Self.extractAllFields(bytes, only: requiredNames)
            case .paths(let paths):
                return paths.extract(from: bytes)
            }
        }
    }

    private static func extractAllFields(_ bytes: UnsafeBufferPointer<UInt8>, only required: Set<[UInt8]>?) -> LogLineParseOutcome {
        var flattener = JSONFlattener(bytes: bytes)
        flattener.required = required
        var walker = JSONObjectWalker(scanner: JSONScanner(bytes: bytes))
        do throws(JSONScanFailure) {
            try walker.walkTopLevelObject(recursingInto: true, visitor: &flattener)
            return LogLineParseOutcome(labels: flattener.labels.labels)
        } catch {
            return LogLineParseOutcome(
                labels: flattener.labels.labels,
                error: LogQLParseFailure(kind: LogQLParseFailure.jsonParserErrorKind, details: error.message)
            )
        }
    }
}

// MARK: - Flattening every field

/// Builds `a_b_c` names while the walker descends into nested objects.
private struct JSONFlattener: JSONMemberVisitor {
    let bytes: UnsafeBufferPointer<UInt8>
    var labels = ExtractedLabelList()
    /// The sanitized name of the enclosing objects, followed while building a leaf's name.
    private var name: [UInt8] = []
    private var enclosingNameLengths: [Int] = []
    private var unescaped: [UInt8] = []
    /// Names to keep (parser hints); nil keeps every one.
    var required: Set<[UInt8]>?

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    mutating func visitScalar(key: UnsafeBufferPointer<UInt8>, value: JSONValue) {
        guard value.kind == .string || value.kind == .number || value.kind == .boolean else { return }
        let enclosingLength = name.count
        LogQLLabelName.appendPart(key, to: &name)
        defer { name.removeLast(name.count - enclosingLength) }
        // Loki keeps a label with an empty name here; Prometheus cannot, so it is dropped.
        guard !name.isEmpty else { return }
        if let required, !required.contains(name) { return }
        // First occurrence wins: Loki skips names it already extracted. Checked before any String is made.
        let (labelName, hash): (String?, UInt64) = name.withUnsafeBufferPointer { nameBytes in
            let hash = ExtractedLabelList.hash(nameBytes)
            guard labels.position(ofName: nameBytes, hash: hash) == nil else { return (nil, hash) }
            return (String(decoding: nameBytes, as: UTF8.self), hash)
        }
        guard let labelName else { return }
        labels.append(LogQLExtractedLabel(name: labelName, value: stringValue(value)), hash: hash)
    }

    mutating func enterObject(key: UnsafeBufferPointer<UInt8>) -> Bool {
        enclosingNameLengths.append(name.count)
        LogQLLabelName.appendPart(key, to: &name)
        return true
    }

    mutating func exitObject() {
        name.removeLast(name.count - enclosingNameLengths.removeLast())
    }

    private mutating func stringValue(_ value: JSONValue) -> String {
        switch value.kind {
        case .string:
            return JSONScanner.labelValue(ofString: value, in: bytes, scratch: &unescaped)
        case .boolean:
            return bytes[value.range.lowerBound] == UInt8(ascii: "t") ? "true" : "false"
        default:
            return LogLineBytes.string(bytes, value.range)
        }
    }
}

// MARK: - Scanning

/// The failures grafana/jsonparser reports, with its messages (Loki's `__error_details__`).
struct JSONScanFailure: Error, Equatable {
    let message: String

    static let unknownValueType = JSONScanFailure(message: "Unknown value type")
    static let malformedJSON = JSONScanFailure(message: "Malformed JSON error")
    static let malformedString = JSONScanFailure(message: "Value is string, but can't find closing '\"' symbol")
    static let malformedArray = JSONScanFailure(message: "Value is array, but can't find closing ']' symbol")
    static let malformedObject = JSONScanFailure(message: "Value looks like object, but can't find closing '}' symbol")
    static let malformedStringEscape = JSONScanFailure(message: "Encountered an invalid escape sequence in a string")
}

struct JSONValue {
    enum Kind { case string, number, boolean, null, object, array }

    let kind: Kind
    /// The content of a string (without quotes), or the whole text of any other value.
    let range: Range<Int>
    /// The index just past the value.
    let end: Int
    /// Strings only: whether the content holds a backslash and needs unescaping.
    let hasEscapes: Bool
}

/// The primitives of grafana/jsonparser's tolerant scanning over a line's bytes.
struct JSONScanner {
    let bytes: UnsafeBufferPointer<UInt8>

    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")

    /// The first index at or after `start` that is not JSON white space.
    func nextToken(from start: Int, to end: Int) -> Int? {
        var index = start
        while index < end {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return index
            }
        }
        return nil
    }

    /// For a string whose content starts at `start`, the index just past its closing quote. A quote counts
    /// as closing when an even number of backslashes precedes it.
    func stringEnd(from start: Int, to end: Int) -> (end: Int, hasEscapes: Bool)? {
        var index = start
        var hasEscapes = false
        while index < end {
            let byte = bytes[index]
            if byte == Self.quote {
                var backslashes = 0
                var before = index - 1
                while before >= start && bytes[before] == Self.backslash {
                    backslashes += 1
                    before -= 1
                }
                if backslashes % 2 == 0 { return (index + 1, hasEscapes) }
            } else if byte == Self.backslash {
                hasEscapes = true
            }
            index += 1
        }
        return nil
    }

    /// For the opening symbol at `start`, the index just past its matching closing symbol. Only the pair's
    /// own symbols are counted and strings are skipped, as in jsonparser's `blockEnd`.
    func blockEnd(from start: Int, to end: Int, open: UInt8, close: UInt8) -> Int? {
        var level = 0
        var index = start
        while index < end {
            let byte = bytes[index]
            if byte == Self.quote {
                guard let afterString = stringEnd(from: index + 1, to: end) else { return nil }
                index = afterString.end
                continue
            }
            if byte == open {
                level += 1
            } else if byte == close {
                level -= 1
                if level == 0 { return index + 1 }
            }
            index += 1
        }
        return nil
    }

    /// The end of a bare token (number, literal): the next white space, `,`, `}` or `]`.
    func tokenEnd(from start: Int, to end: Int) -> Int {
        var index = start
        while index < end {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09, UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"): return index
            default: index += 1
            }
        }
        return end
    }

    /// The value starting at `start` (a non-white-space index), jsonparser's `getType`.
    func value(at start: Int, to end: Int) throws(JSONScanFailure) -> JSONValue {
        switch bytes[start] {
        case Self.quote:
            guard let string = stringEnd(from: start + 1, to: end) else { throw .malformedString }
            return JSONValue(kind: .string, range: start + 1..<string.end - 1, end: string.end, hasEscapes: string.hasEscapes)
        case UInt8(ascii: "["):
            guard let close = blockEnd(from: start, to: end, open: UInt8(ascii: "["), close: UInt8(ascii: "]")) else {
                throw .malformedArray
            }
            return JSONValue(kind: .array, range: start..<close, end: close, hasEscapes: false)
        case UInt8(ascii: "{"):
            guard let close = blockEnd(from: start, to: end, open: UInt8(ascii: "{"), close: UInt8(ascii: "}")) else {
                throw .malformedObject
            }
            return JSONValue(kind: .object, range: start..<close, end: close, hasEscapes: false)
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            let tokenEnd = tokenEnd(from: start, to: end)
            guard matches(start..<tokenEnd, "true") || matches(start..<tokenEnd, "false") else { throw .unknownValueType }
            return JSONValue(kind: .boolean, range: start..<tokenEnd, end: tokenEnd, hasEscapes: false)
        case UInt8(ascii: "n"), UInt8(ascii: "u"):
            let tokenEnd = tokenEnd(from: start, to: end)
            guard matches(start..<tokenEnd, "null") else { throw .unknownValueType }
            return JSONValue(kind: .null, range: start..<tokenEnd, end: tokenEnd, hasEscapes: false)
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"):
            let tokenEnd = tokenEnd(from: start, to: end)
            return JSONValue(kind: .number, range: start..<tokenEnd, end: tokenEnd, hasEscapes: false)
        default:
            throw .unknownValueType
        }
    }

    private func matches(_ range: Range<Int>, _ literal: StaticString) -> Bool {
        guard range.count == literal.utf8CodeUnitCount else { return false }
        let literalBytes = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for offset in 0..<range.count where bytes[range.lowerBound + offset] != literalBytes[offset] {
            return false
        }
        return true
    }

    /// The label value of a string: unescaped (empty when an escape is invalid, as Loki's
    /// `unescapeJSONString` does) and with U+FFFD replaced by a space.
    static func labelValue(ofString value: JSONValue, in bytes: UnsafeBufferPointer<UInt8>, scratch: inout [UInt8]) -> String {
        labelValue(of: value.range, in: bytes, scratch: &scratch)
    }

    /// Loki's `unescapeJSONString` over any byte range (it also applies it to array text).
    static func labelValue(of range: Range<Int>, in bytes: UnsafeBufferPointer<UInt8>, scratch: inout [UInt8]) -> String {
        let content = UnsafeBufferPointer(rebasing: bytes[range])
        guard content.contains(backslash) else {
            return LogLineBytes.labelValue(content)
        }
        scratch.removeAll(keepingCapacity: true)
        guard unescape(content, into: &scratch) else { return "" }
        return scratch.withUnsafeBufferPointer { LogLineBytes.labelValue($0) }
    }

    /// jsonparser's `Unescape`: `\" \\ \/ \b \f \n \r \t \uXXXX`, surrogate pairs combined; any other escape,
    /// or a high surrogate without a following `\uXXXX` of at least DC00, fails.
    static func unescape(_ content: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) -> Bool {
        output.reserveCapacity(content.count)
        var index = 0
        while index < content.count {
            guard content[index] == backslash else {
                // Copy the run up to the next backslash at once.
                var runEnd = index + 1
                while runEnd < content.count && content[runEnd] != backslash { runEnd += 1 }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: content[index..<runEnd]))
                index = runEnd
                continue
            }
            guard index + 1 < content.count else { return false }
            switch content[index + 1] {
            case UInt8(ascii: "\""): output.append(UInt8(ascii: "\""))
            case backslash: output.append(backslash)
            case UInt8(ascii: "/"): output.append(UInt8(ascii: "/"))
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                guard let first = hexQuad(content, at: index + 2) else { return false }
                if first < 0xD800 || first > 0xDFFF {
                    UTF8Scalar.append(first, to: &output)
                    index += 6
                    continue
                }
                // jsonparser reads the second escape's digits without checking its `\u`.
                guard index + 12 <= content.count, let second = hexQuad(content, at: index + 8), second >= 0xDC00 else {
                    return false
                }
                let combined = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                UTF8Scalar.appendEncodingInvalidAsReplacement(combined, to: &output)
                index += 12
                continue
            default:
                return false
            }
            index += 2
        }
        return true
    }

    private static func hexQuad(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> UInt32? {
        guard start + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for index in start..<start + 4 {
            guard let digit = hexDigit(bytes[index]) else { return nil }
            value = value << 4 | digit
        }
        return value
    }

    static func hexDigit(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}

// MARK: - Walking objects (json without expressions, unpack)

protocol JSONMemberVisitor {
    /// A member whose value is not an object, or an object the visitor does not enter.
    mutating func visitScalar(key: UnsafeBufferPointer<UInt8>, value: JSONValue)
    /// A member whose value is an object; returns whether to walk its members.
    mutating func enterObject(key: UnsafeBufferPointer<UInt8>) -> Bool
    /// Called after the members of an entered object.
    mutating func exitObject()
}

/// jsonparser's `ObjectEach`, with Loki's recursion into nested objects made iterative (a line of deeply
/// nested braces must not exhaust the stack). Like jsonparser, a nested object's extent is found by brace
/// matching before its members are read, and the walk resumes after that extent.
struct JSONObjectWalker {
    let scanner: JSONScanner
    private var unescapedKey: [UInt8] = []

    init(scanner: JSONScanner) {
        self.scanner = scanner
    }

    private enum Position { case objectStart, memberStart, afterValue }

    private struct EnclosingObject {
        let end: Int
        let resumeAt: Int
    }

    mutating func walkTopLevelObject<Visitor: JSONMemberVisitor>(
        recursingInto recurse: Bool, visitor: inout Visitor
    ) throws(JSONScanFailure) {
        let bytes = scanner.bytes
        var end = bytes.count
        guard let first = scanner.nextToken(from: 0, to: end), bytes[first] == UInt8(ascii: "{") else {
            throw .malformedObject
        }
        var index = first + 1
        var position = Position.objectStart
        var enclosing: [EnclosingObject] = []

        // Returns false when the top-level object is complete.
        func closeObject() -> Bool {
            guard let outer = enclosing.popLast() else { return false }
            visitor.exitObject()
            index = outer.resumeAt
            end = outer.end
            position = .afterValue
            return true
        }

        while true {
            switch position {
            case .objectStart:
                guard let token = scanner.nextToken(from: index, to: end) else { throw .malformedJSON }
                index = token
                if bytes[index] == UInt8(ascii: "}") {
                    guard closeObject() else { return }
                } else {
                    position = .memberStart
                }

            case .memberStart:
                if bytes[index] == UInt8(ascii: "}") {
                    guard closeObject() else { return }
                    continue
                }
                guard bytes[index] == UInt8(ascii: "\"") else { throw .malformedObject }
                guard let keyEnd = scanner.stringEnd(from: index + 1, to: end) else { throw .malformedJSON }
                let keyRange = index + 1..<keyEnd.end - 1
                guard let colon = scanner.nextToken(from: keyEnd.end, to: end), bytes[colon] == UInt8(ascii: ":") else {
                    throw .malformedJSON
                }
                guard let valueStart = scanner.nextToken(from: colon + 1, to: end) else { throw .malformedJSON }
                let value = try scanner.value(at: valueStart, to: end)

                let visitObject: Bool = try withKey(keyRange, hasEscapes: keyEnd.hasEscapes) { key in
                    if value.kind == .object && recurse && visitor.enterObject(key: key) {
                        return true
                    }
                    visitor.visitScalar(key: key, value: value)
                    return false
                }
                if visitObject {
                    enclosing.append(EnclosingObject(end: end, resumeAt: value.end))
                    index = valueStart + 1
                    end = value.end
                    position = .objectStart
                } else {
                    index = value.end
                    position = .afterValue
                }

            case .afterValue:
                guard let token = scanner.nextToken(from: index, to: end) else { throw .malformedArray }
                index = token
                if bytes[index] == UInt8(ascii: "}") {
                    guard closeObject() else { return }
                    continue
                }
                guard bytes[index] == UInt8(ascii: ",") else { throw .malformedObject }
                guard let next = scanner.nextToken(from: index + 1, to: end) else { throw .malformedArray }
                index = next
                position = .memberStart
            }
        }
    }

    /// Hands the key's bytes (unescaped when needed) to `body`.
    private mutating func withKey<Result>(
        _ range: Range<Int>, hasEscapes: Bool, _ body: (UnsafeBufferPointer<UInt8>) -> Result
    ) throws(JSONScanFailure) -> Result {
        let raw = UnsafeBufferPointer(rebasing: scanner.bytes[range])
        guard hasEscapes else { return body(raw) }
        unescapedKey.removeAll(keepingCapacity: true)
        guard JSONScanner.unescape(raw, into: &unescapedKey) else { throw .malformedStringEscape }
        return unescapedKey.withUnsafeBufferPointer(body)
    }
}

// MARK: - Path expressions

/// One step of a json expression path: an object key or an array index.
enum JSONPathSegment: Sendable, Equatable {
    case key(String)
    case index(Int)

    struct SyntaxError: Error {
        let message: String
    }

    /// Parses Loki's json expression syntax (pkg/logql/log/jsonexpr: a goyacc grammar over a hand-written
    /// lexer), reproducing its error messages:
    ///
    ///     path   := (field | "[" string "]" | "[" index "]") ("." field | "[" string "]" | "[" index "]")*
    ///
    /// Fields are `[A-Za-z_][A-Za-z0-9_]*`; a bracketed string runs to the next `"` or `]` and has no escapes.
    static func parse(_ expression: String) throws(SyntaxError) -> [JSONPathSegment] {
        var lexer = PathLexer(Array(expression.unicodeScalars))
        var segments: [JSONPathSegment] = []

        func syntaxError(_ token: PathToken, expecting: String?) -> SyntaxError {
            // goyacc reports a syntax error over the lexer's own error, which only survives when the parser
            // accepts the input that ended at it.
            let unexpected = "syntax error: unexpected \(token.grammarName)"
            return SyntaxError(message: expecting.map { "\(unexpected), expecting \($0)" } ?? unexpected)
        }

        func bracketed() throws(SyntaxError) {
            let token = lexer.next()
            switch token {
            case .string(let key): segments.append(.key(key))
            case .index(let index): segments.append(.index(index))
            default: throw syntaxError(token, expecting: "STRING or INDEX")
            }
            let close = lexer.next()
            guard case .rightBracket = close else { throw syntaxError(close, expecting: "RSB") }
        }

        let first = lexer.next()
        switch first {
        case .field(let name): segments.append(.key(name))
        case .leftBracket: try bracketed()
        default: throw syntaxError(first, expecting: "LSB or FIELD")
        }
        while true {
            let token = lexer.next()
            switch token {
            case .end:
                if let lexicalError = lexer.error { throw SyntaxError(message: lexicalError) }
                return segments
            case .dot:
                let field = lexer.next()
                guard case .field(let name) = field else { throw syntaxError(field, expecting: "FIELD") }
                segments.append(.key(name))
            case .leftBracket:
                try bracketed()
            default:
                throw syntaxError(token, expecting: nil)
            }
        }
    }
}

private enum PathToken {
    case dot, leftBracket, rightBracket, string(String), field(String), index(Int), end

    var grammarName: String {
        switch self {
        case .dot: "DOT"
        case .leftBracket: "LSB"
        case .rightBracket: "RSB"
        case .string: "STRING"
        case .field: "FIELD"
        case .index: "INDEX"
        case .end: "$end"
        }
    }
}

/// The lexer of Loki's json expressions (pkg/logql/log/jsonexpr/lexer.go). A lexical error ends the input.
private struct PathLexer {
    private let scalars: [Unicode.Scalar]
    private var position = 0
    private(set) var error: String?

    init(_ scalars: [Unicode.Scalar]) {
        self.scalars = scalars
    }

    /// Go's bufio reader yields 0 at the end of input, and the lexer treats a NUL as the end too.
    private mutating func read() -> Unicode.Scalar {
        guard position < scalars.count else {
            position += 1
            return "\0"
        }
        defer { position += 1 }
        return scalars[position]
    }

    private mutating func unread() { position -= 1 }

    mutating func next() -> PathToken {
        guard error == nil else { return .end }
        while true {
            let scalar = read()
            switch scalar {
            case "\0": return .end
            case " ", "\t", "\n": continue
            case "0"..."9":
                unread()
                return scanIndex()
            case "[": return .leftBracket
            case "]": return .rightBracket
            case ".": return .dot
            case "a"..."z", "A"..."Z", "_":
                unread()
                return .field(scanField())
            case "\"":
                return .string(scanString())
            default:
                error = "unexpected char \(Character(scalar))"
                return .end
            }
        }
    }

    private mutating func scanField() -> String {
        var field = String.UnicodeScalarView()
        while true {
            let scalar = read()
            switch scalar {
            case "a"..."z", "A"..."Z", "_", "0"..."9": field.append(scalar)
            default:
                unread()
                return String(field)
            }
        }
    }

    private mutating func scanString() -> String {
        var content = String.UnicodeScalarView()
        while true {
            let scalar = read()
            if scalar == "\0" || scalar == "\"" || scalar == "]" { return String(content) }
            content.append(scalar)
        }
    }

    private mutating func scanIndex() -> PathToken {
        var digits = ""
        while true {
            let scalar = read()
            if scalar == "." && !digits.isEmpty {
                error = "cannot use float as array index"
                return .end
            }
            if scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "." || scalar == "]" {
                unread()
                break
            }
            guard ("0"..."9").contains(scalar) else {
                error = "non-integer value: \(Character(scalar))"
                return .end
            }
            digits.unicodeScalars.append(scalar)
        }
        guard let index = Int(digits) else {
            error = "strconv.Atoi: parsing \"\(digits)\": value out of range"
            return .end
        }
        return .index(index)
    }
}

/// The paths of `| json label="path", ...` as a trie, so that one walk over the line serves all of them.
struct JSONPathSet: Sendable {
    private struct Node: Sendable {
        var keyChildren: [(key: [UInt8], node: Int)] = []
        var indexChildren: [(index: Int, node: Int)] = []
        /// The expressions whose path ends here.
        var terminals: [Int] = []
        /// The expressions whose path passes through or ends here.
        var expressionsBelow: [Int] = []
    }

    private let labels: [String]
    private var nodes: [Node] = [Node()]
    /// Each distinct label with the expressions that set it, in the order the labels first appear.
    private let labelExpressions: [(label: String, expressions: [Int])]

    init(_ expressions: [(label: String, path: [JSONPathSegment])]) {
        labels = expressions.map(\.label)
        var grouped: [(label: String, expressions: [Int])] = []
        for (offset, expression) in expressions.enumerated() {
            if let group = grouped.firstIndex(where: { $0.label == expression.label }) {
                grouped[group].expressions.append(offset)
            } else {
                grouped.append((expression.label, [offset]))
            }
        }
        labelExpressions = grouped
        for (offset, expression) in expressions.enumerated() {
            insert(expression.path, expression: offset)
        }
    }

    private mutating func insert(_ path: [JSONPathSegment], expression: Int) {
        var node = 0
        nodes[node].expressionsBelow.append(expression)
        for segment in path {
            let child: Int
            switch segment {
            case .key(let key):
                let keyBytes = Array(key.utf8)
                if let existing = nodes[node].keyChildren.first(where: { $0.key == keyBytes }) {
                    child = existing.node
                } else {
                    child = nodes.count
                    nodes.append(Node())
                    nodes[node].keyChildren.append((keyBytes, child))
                }
            case .index(let index):
                if let existing = nodes[node].indexChildren.first(where: { $0.index == index }) {
                    child = existing.node
                } else {
                    child = nodes.count
                    nodes.append(Node())
                    nodes[node].indexChildren.append((index, child))
                }
            }
            node = child
            nodes[node].expressionsBelow.append(expression)
        }
        nodes[node].terminals.append(expression)
    }

    func extract(from bytes: UnsafeBufferPointer<UInt8>) -> LogLineParseOutcome {
        // Loki leaves an empty line alone: no error and no placeholders.
        guard let first = bytes.first else { return LogLineParseOutcome() }
        // Loki only checks the first byte (no white space allowed) and then reports no details.
        guard first == UInt8(ascii: "{") || first == UInt8(ascii: "[") || first == UInt8(ascii: "\"") else {
            return LogLineParseOutcome(error: LogQLParseFailure(kind: LogQLParseFailure.jsonParserErrorKind, details: ""))
        }
        var search = PathSearch(set: self, scanner: JSONScanner(bytes: bytes))
        search.run()

        var outcome = LogLineParseOutcome()
        if let failure = search.failure {
            outcome.error = LogQLParseFailure(kind: LogQLParseFailure.jsonParserErrorKind, details: failure.message)
        }
        for (label, expressions) in labelExpressions {
            // Among expressions sharing a label, the last one that found a value wins.
            if let value = expressions.reversed().lazy.compactMap({ search.values[$0] }).first {
                outcome.labels.append(LogQLExtractedLabel(name: label, value: value))
            } else {
                outcome.labels.append(LogQLExtractedLabel(name: label, value: "", isPlaceholder: true))
            }
        }
        return outcome
    }

    /// One walk over a line, descending only where an unresolved path leads. Like jsonparser's `EachKey`, a
    /// path takes the first occurrence of its key, a value that cannot be read is an error, and malformed
    /// JSON elsewhere just ends the walk.
    private struct PathSearch {
        let set: JSONPathSet
        let scanner: JSONScanner
        var values: [String?]
        var resolved: [Bool]
        var unresolvedCount: Int
        var failure: JSONScanFailure?
        private var scratch: [UInt8] = []
        private var unescapedKey: [UInt8] = []

        init(set: JSONPathSet, scanner: JSONScanner) {
            self.set = set
            self.scanner = scanner
            values = Array(repeating: nil, count: set.labels.count)
            resolved = Array(repeating: false, count: set.labels.count)
            unresolvedCount = set.labels.count
        }

        mutating func run() {
            let bytes = scanner.bytes
            guard bytes[0] == UInt8(ascii: "\"") else {
                _ = visit(node: 0, at: 0, end: bytes.count)
                return
            }
            // A top-level string: jsonparser reports a key outside any object as malformed.
            guard let string = scanner.stringEnd(from: 1, to: bytes.count),
                  let next = scanner.nextToken(from: string.end, to: bytes.count),
                  bytes[next] == UInt8(ascii: ":")
            else { return }
            failure = .malformedJSON
        }

        private func hasUnresolved(_ node: Int) -> Bool {
            set.nodes[node].expressionsBelow.contains { !resolved[$0] }
        }

        /// Visits the value at `start` for trie node `node`; returns the index past the value, or nil to end
        /// the whole walk (malformed JSON, or every path resolved).
        private mutating func visit(node: Int, at start: Int, end: Int) -> Int? {
            let trieNode = set.nodes[node]
            var knownValue: JSONValue?
            if trieNode.terminals.contains(where: { !resolved[$0] }) {
                do {
                    let value = try scanner.value(at: start, to: end)
                    knownValue = value
                    let text = labelText(value)
                    for expression in trieNode.terminals where !resolved[expression] {
                        values[expression] = text
                        markResolved(expression)
                    }
                } catch {
                    failure = error
                    for expression in trieNode.terminals where !resolved[expression] {
                        markResolved(expression)
                    }
                    return unresolvedCount == 0 ? nil : skip(at: start, end: end)
                }
                if unresolvedCount == 0 { return nil }
            }
            let bytes = scanner.bytes
            if !trieNode.keyChildren.isEmpty && bytes[start] == UInt8(ascii: "{") && hasUnresolvedChild(trieNode) {
                let limit = knownValue?.end ?? end
                return visitMembers(of: trieNode, at: start, end: limit)
            }
            if !trieNode.indexChildren.isEmpty && bytes[start] == UInt8(ascii: "[") && hasUnresolvedChild(trieNode) {
                let limit = knownValue?.end ?? end
                return visitElements(of: trieNode, at: start, end: limit)
            }
            if let knownValue { return knownValue.end }
            return skip(at: start, end: end)
        }

        private func hasUnresolvedChild(_ node: Node) -> Bool {
            node.keyChildren.contains { hasUnresolved($0.node) } || node.indexChildren.contains { hasUnresolved($0.node) }
        }

        private mutating func markResolved(_ expression: Int) {
            resolved[expression] = true
            unresolvedCount -= 1
        }

        private func skip(at start: Int, end: Int) -> Int? {
            (try? scanner.value(at: start, to: end))?.end
        }

        private mutating func visitMembers(of node: Node, at start: Int, end: Int) -> Int? {
            let bytes = scanner.bytes
            guard var index = scanner.nextToken(from: start + 1, to: end) else { return nil }
            while true {
                if bytes[index] == UInt8(ascii: "}") { return index + 1 }
                guard bytes[index] == UInt8(ascii: "\""),
                      let keyEnd = scanner.stringEnd(from: index + 1, to: end),
                      let colon = scanner.nextToken(from: keyEnd.end, to: end), bytes[colon] == UInt8(ascii: ":"),
                      let valueStart = scanner.nextToken(from: colon + 1, to: end)
                else { return nil }
                let child = matchingChild(of: node, keyRange: index + 1..<keyEnd.end - 1, hasEscapes: keyEnd.hasEscapes)
                let valueEnd: Int?
                if let child, hasUnresolved(child) {
                    valueEnd = visit(node: child, at: valueStart, end: end)
                } else {
                    valueEnd = skip(at: valueStart, end: end)
                }
                guard let valueEnd, let next = scanner.nextToken(from: valueEnd, to: end) else { return nil }
                if bytes[next] == UInt8(ascii: "}") { return next + 1 }
                guard bytes[next] == UInt8(ascii: ","), let member = scanner.nextToken(from: next + 1, to: end) else {
                    return nil
                }
                index = member
            }
        }

        private mutating func visitElements(of node: Node, at start: Int, end: Int) -> Int? {
            let bytes = scanner.bytes
            guard var index = scanner.nextToken(from: start + 1, to: end) else { return nil }
            if bytes[index] == UInt8(ascii: "]") { return index + 1 }
            var position = 0
            while true {
                let child = node.indexChildren.first { $0.index == position }?.node
                let elementEnd: Int?
                if let child, hasUnresolved(child) {
                    elementEnd = visit(node: child, at: index, end: end)
                } else {
                    elementEnd = skip(at: index, end: end)
                }
                guard let elementEnd, let next = scanner.nextToken(from: elementEnd, to: end) else { return nil }
                if bytes[next] == UInt8(ascii: "]") { return next + 1 }
                guard bytes[next] == UInt8(ascii: ","), let element = scanner.nextToken(from: next + 1, to: end) else {
                    return nil
                }
                index = element
                position += 1
            }
        }

        private mutating func matchingChild(of node: Node, keyRange: Range<Int>, hasEscapes: Bool) -> Int? {
            let key = UnsafeBufferPointer(rebasing: scanner.bytes[keyRange])
            guard hasEscapes else { return Self.child(of: node, named: key) }
            unescapedKey.removeAll(keepingCapacity: true)
            // jsonparser gives up on a key it cannot unescape; it cannot match any path.
            guard JSONScanner.unescape(key, into: &unescapedKey) else { return nil }
            return unescapedKey.withUnsafeBufferPointer { Self.child(of: node, named: $0) }
        }

        private static func child(of node: Node, named key: UnsafeBufferPointer<UInt8>) -> Int? {
            node.keyChildren.first { $0.key.count == key.count && $0.key.elementsEqual(key) }?.node
        }

        /// Loki's value for a path: null is empty, an object is its raw text, and everything else goes
        /// through `unescapeJSONString` (array text included, so escapes inside an array are decoded).
        private mutating func labelText(_ value: JSONValue) -> String {
            switch value.kind {
            case .null:
                return ""
            case .object:
                return LogLineBytes.string(scanner.bytes, value.range)
            case .string, .number, .boolean, .array:
                return JSONScanner.labelValue(of: value.range, in: scanner.bytes, scratch: &scratch)
            }
        }
    }
}
