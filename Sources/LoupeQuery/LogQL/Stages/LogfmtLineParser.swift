/// LogQL's `| logfmt` stage, with its `--strict` and `--keep-empty` flags and optional `label="key"`
/// parameters.
///
/// Follows Loki v3 (pkg/logql/log/parser.go `LogfmtParser`, `LogfmtExpressionParser`, and the decoder in
/// pkg/logql/log/logfmt/decode.go, adapted from go-logfmt):
/// - a pair is `key=value`, `key="quoted value"` (escapes as in JSON, plus `\'`) or a standalone `key`;
///   bytes up to and including space (control characters too) separate pairs;
/// - a bad pair (`=value`, `a=b=c`, `fo"o=bar`, an unterminated or badly escaped quote) is skipped and
///   scanning resumes at the next separator; with `--strict` scanning stops there and the line gets
///   `LogfmtParserErr` with the decoder's message ("logfmt syntax error at pos 8 : unexpected '='"),
///   keeping the pairs read before it;
/// - without parameters a key seen twice keeps its first value. Empty values (`key=`, `key=""`, a
///   standalone key) are dropped unless `--keep-empty` is given, so the first non-empty value wins;
/// - with parameters only the requested keys are extracted, each under its label, keeping the last value
///   of a repeated key; a requested key missing from the line gives an empty placeholder, and empty
///   values are kept whatever `--keep-empty` says;
/// - U+FFFD in a value becomes a space (an empty value with parameters); U+FFFD in a key is a syntax error.
public struct LogfmtLineParser: Sendable {
    public let strict: Bool
    public let keepEmpty: Bool
    private let requested: RequestedKeys?

    /// `| logfmt a, b="c"` rather than `| logfmt`: its values replace what earlier parsers of the line set.
    var hasExpressions: Bool { requested != nil }

    /// - Parameter expressions: `(label, key)` pairs of `| logfmt label="key", ...`; `key` is the parameter's
    ///   text, parsed with Loki's logfmt expression grammar (an identifier, or one quoted string).
    /// - Throws: Loki's "cannot parse expression [...]" for a key its grammar rejects.
    public init(strict: Bool = false, keepEmpty: Bool = false, expressions: [(label: String, key: String)] = []) throws(LogQLStageError) {
        self.strict = strict
        self.keepEmpty = keepEmpty
        requested = expressions.isEmpty ? nil : try RequestedKeys(expressions)
    }

    public func parse(_ line: String) -> LogLineParseOutcome {
        LogLineBytes.withBytes(of: line) { bytes in
            if let requested {
                return extractRequested(requested, from: bytes)
            }
            return extractAll(from: bytes)
        }
    }

    private func extractAll(from bytes: UnsafeBufferPointer<UInt8>) -> LogLineParseOutcome {
        var scanner = LogfmtScanner(bytes: bytes)
        var labels = ExtractedLabelList()
        var name: [UInt8] = []
        while !scanner.isAtEnd {
            guard let pair = scanner.nextPair() else {
                if strict { break }
                continue
            }
            name.removeAll(keepingCapacity: true)
            LogQLLabelName.appendPart(UnsafeBufferPointer(rebasing: bytes[pair.key]), to: &name)
            guard !name.isEmpty else { continue }
            let (isNew, hash) = name.withUnsafeBufferPointer { nameBytes in
                let hash = ExtractedLabelList.hash(nameBytes)
                return (labels.position(ofName: nameBytes, hash: hash) == nil, hash)
            }
            guard isNew else { continue }
            let value = scanner.withValue(pair) { LogLineBytes.labelValue($0) }
            // An empty value is not recorded, so a later non-empty value of the same key still counts.
            if !keepEmpty && value.isEmpty { continue }
            labels.append(LogQLExtractedLabel(name: String(decoding: name, as: UTF8.self), value: value), hash: hash)
        }
        return LogLineParseOutcome(labels: labels.labels, error: strictFailure(scanner))
    }

    private func extractRequested(_ requested: RequestedKeys, from bytes: UnsafeBufferPointer<UInt8>) -> LogLineParseOutcome {
        var scanner = LogfmtScanner(bytes: bytes)
        var values = [String?](repeating: nil, count: requested.labels.count)
        var name: [UInt8] = []
        while !scanner.isAtEnd {
            guard let pair = scanner.nextPair() else {
                if strict { break }
                continue
            }
            name.removeAll(keepingCapacity: true)
            LogQLLabelName.appendPart(UnsafeBufferPointer(rebasing: bytes[pair.key]), to: &name)
            guard !name.isEmpty, let target = requested.target(forKey: name) else { continue }
            values[target] = scanner.withValue(pair) { value in
                // Loki drops such a value entirely here, where the plain parser swaps U+FFFD for a space.
                LogLineBytes.containsReplacementCharacter(value) ? "" : String(decoding: value, as: UTF8.self)
            }
        }
        var outcome = LogLineParseOutcome(error: strictFailure(scanner))
        for (position, label) in requested.labels.enumerated() {
            if let value = values[position] {
                outcome.labels.append(LogQLExtractedLabel(name: label, value: value))
            } else {
                outcome.labels.append(LogQLExtractedLabel(name: label, value: "", isPlaceholder: true))
            }
        }
        return outcome
    }

    private func strictFailure(_ scanner: LogfmtScanner) -> LogQLParseFailure? {
        guard strict, let error = scanner.error else { return nil }
        return LogQLParseFailure(
            kind: LogQLParseFailure.logfmtParserErrorKind,
            details: "logfmt syntax error at pos \(error.position) : \(error.message)"
        )
    }
}

/// The keys of `| logfmt label="key", ...`.
private struct RequestedKeys: Sendable {
    /// Distinct labels in the order they are first requested.
    let labels: [String]
    /// For each label, the line key it takes (its last expression's); nil when the expression is a sequence
    /// of strings, which Loki turns into a key no line can hold.
    let keys: [[UInt8]?]

    init(_ expressions: [(label: String, key: String)]) throws(LogQLStageError) {
        var labels: [String] = []
        var keys: [[UInt8]?] = []
        for expression in expressions {
            let elements: [String]
            do throws(LogfmtKeyExpression.SyntaxError) {
                elements = try LogfmtKeyExpression.parse(expression.key)
            } catch {
                throw LogQLStageError("cannot parse expression [\(expression.key)]: \(error.message)")
            }
            guard !expression.label.isEmpty else {
                throw LogQLStageError("invalid extracted label name '\(expression.label)'")
            }
            // Loki formats the elements with `fmt.Sprintf("%v", elements...)`: one element is itself, more
            // give "a%!(EXTRA string=b)", which no sanitized key equals.
            let key = elements.count == 1 ? Array(elements[0].utf8) : nil
            if let existing = labels.firstIndex(of: expression.label) {
                keys[existing] = key
            } else {
                labels.append(expression.label)
                keys.append(key)
            }
        }
        self.labels = labels
        self.keys = keys
    }

    /// The label a sanitized line key fills: the label requesting that key, or else (a quirk of Loki's
    /// lookup, kept for fidelity) a label whose own name is the key.
    func target(forKey key: [UInt8]) -> Int? {
        if let position = keys.firstIndex(where: { $0 == key }) {
            return position
        }
        return labels.firstIndex { $0.utf8.elementsEqual(key) }
    }
}

/// Loki's logfmt expression grammar (pkg/logql/log/logfmt/logfmtexpr.y and lexer.go): an identifier
/// `[A-Za-z_][A-Za-z0-9_]*`, optionally followed by quoted strings, or quoted strings alone. A quoted
/// string runs to the next `"` or `]` and has no escapes.
enum LogfmtKeyExpression {
    struct SyntaxError: Error {
        let message: String
    }

    static func parse(_ text: String) throws(SyntaxError) -> [String] {
        var scalars = Array(text.unicodeScalars)[...]
        var lexicalError: String?
        var elements: [String] = []

        enum Token { case key(String), string(String), end }

        func isIdentifierPart(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_": true
            default: false
            }
        }

        func next() -> Token {
            guard lexicalError == nil else { return .end }
            while let scalar = scalars.first {
                switch scalar {
                case "\0":
                    return .end
                case " ", "\t", "\n":
                    scalars.removeFirst()
                case "a"..."z", "A"..."Z", "_":
                    var key = String.UnicodeScalarView()
                    while let part = scalars.first, isIdentifierPart(part) {
                        key.append(part)
                        scalars.removeFirst()
                    }
                    return .key(String(key))
                case "\"":
                    scalars.removeFirst()
                    var content = String.UnicodeScalarView()
                    while let part = scalars.popFirst(), part != "\0", part != "\"", part != "]" {
                        content.append(part)
                    }
                    return .string(String(content))
                default:
                    lexicalError = "unexpected char \(Character(scalar))"
                    return .end
                }
            }
            return .end
        }

        switch next() {
        case .key(let key): elements.append(key)
        case .string(let string): elements.append(string)
        case .end: throw SyntaxError(message: "syntax error: unexpected $end, expecting STRING or KEY")
        }
        while true {
            switch next() {
            case .string(let string): elements.append(string)
            case .key: throw SyntaxError(message: "syntax error: unexpected KEY")
            case .end:
                if let lexicalError { throw SyntaxError(message: lexicalError) }
                return elements
            }
        }
    }
}

/// go-logfmt's decoder as adapted by Loki, over a line's bytes.
struct LogfmtScanner {
    struct Pair {
        let key: Range<Int>
        let value: Value
    }

    enum Value {
        /// A standalone key, `key=` or `key=""`.
        case empty
        case bytes(Range<Int>)
        /// A quoted value with escapes, decoded into the scanner's buffer.
        case unquoted
    }

    /// The decoder's last syntax error: Loki reports `pos` as the index of the offending byte plus one.
    struct SyntaxError {
        let position: Int
        let message: String
    }

    let bytes: UnsafeBufferPointer<UInt8>
    private(set) var error: SyntaxError?
    private var position = 0
    private var unquoted: [UInt8] = []

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { position >= bytes.count }

    func withValue<Result>(_ pair: Pair, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        switch pair.value {
        case .empty: return body(UnsafeBufferPointer(rebasing: bytes[0..<0]))
        case .bytes(let range): return body(UnsafeBufferPointer(rebasing: bytes[range]))
        case .unquoted: return unquoted.withUnsafeBufferPointer(body)
        }
    }

    private static let equals = UInt8(ascii: "=")
    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")
    private static let space = UInt8(ascii: " ")

    /// The next pair, or nil when the line ended or the pair was malformed (then `error` is set).
    mutating func nextPair() -> Pair? {
        let count = bytes.count
        while position < count && bytes[position] <= Self.space { position += 1 }
        guard position < count else { return nil }

        // The key runs to `=` or to a separator.
        let keyStart = position
        var hasMultibyte = false
        while position < count {
            let byte = bytes[position]
            if byte == Self.equals {
                guard position > keyStart else {
                    unexpected(byte)
                    skipToSeparator()
                    return nil
                }
                let key = keyStart..<position
                if hasMultibyte && isInvalidKey(key) {
                    fail("invalid key")
                    skipToSeparator()
                    return nil
                }
                position += 1
                return scanValue(key: key)
            }
            if byte == Self.quote {
                unexpected(byte)
                skipToSeparator()
                return nil
            }
            if byte <= Self.space { break }
            if byte >= 0x80 { hasMultibyte = true }
            position += 1
        }
        // A standalone key.
        let key = keyStart..<position
        if hasMultibyte && isInvalidKey(key) {
            fail("invalid key")
            return nil
        }
        return Pair(key: key, value: .empty)
    }

    private mutating func scanValue(key: Range<Int>) -> Pair? {
        let count = bytes.count
        guard position < count, bytes[position] > Self.space else { return Pair(key: key, value: .empty) }
        if bytes[position] == Self.quote {
            return scanQuotedValue(key: key)
        }
        let valueStart = position
        while position < count {
            let byte = bytes[position]
            if byte == Self.equals || byte == Self.quote {
                unexpected(byte)
                skipToSeparator()
                return nil
            }
            if byte <= Self.space { break }
            position += 1
        }
        return Pair(key: key, value: .bytes(valueStart..<position))
    }

    private mutating func scanQuotedValue(key: Range<Int>) -> Pair? {
        let openingQuote = position
        var index = position + 1
        var hasEscapes = false
        var escaped = false
        while index < bytes.count {
            let byte = bytes[index]
            if escaped {
                escaped = false
            } else if byte == Self.backslash {
                hasEscapes = true
                escaped = true
            } else if byte == Self.quote {
                position = index + 1
                let content = openingQuote + 1..<index
                guard hasEscapes else {
                    return Pair(key: key, value: content.isEmpty ? .empty : .bytes(content))
                }
                unquoted.removeAll(keepingCapacity: true)
                guard Self.unquote(UnsafeBufferPointer(rebasing: bytes[content]), into: &unquoted) else {
                    fail("invalid quoted value")
                    return nil
                }
                return Pair(key: key, value: unquoted.isEmpty ? .empty : .unquoted)
            }
            index += 1
        }
        position = bytes.count
        fail("unterminated quoted value")
        return nil
    }

    private mutating func skipToSeparator() {
        while position < bytes.count && bytes[position] > Self.space { position += 1 }
    }

    /// Go's decoder rejects a key holding `utf8.RuneError`; from a Swift string that can only be a literal U+FFFD.
    private func isInvalidKey(_ key: Range<Int>) -> Bool {
        LogLineBytes.containsReplacementCharacter(UnsafeBufferPointer(rebasing: bytes[key]))
    }

    private mutating func unexpected(_ byte: UInt8) {
        // Go's `%q` of a byte: a single-quoted character literal.
        fail("unexpected '\(Character(Unicode.Scalar(byte)))'")
    }

    private mutating func fail(_ message: String) {
        error = SyntaxError(position: position + 1, message: message)
    }

    /// The content of a quoted value decoded as Go's encoding/json `unquoteBytes` (which go-logfmt copies):
    /// `\" \\ \/ \' \b \f \n \r \t \uXXXX`; a surrogate escape that does not form a valid pair becomes
    /// U+FFFD and leaves the next escape alone. Any other escape fails.
    static func unquote(_ content: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) -> Bool {
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
            let escape = content[index + 1]
            switch escape {
            case quote, backslash, UInt8(ascii: "/"), UInt8(ascii: "'"): output.append(escape)
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                guard var scalar = unicodeEscape(content, at: index) else { return false }
                index += 6
                if (0xD800...0xDFFF).contains(scalar) {
                    if scalar < 0xDC00, let low = unicodeEscape(content, at: index), (0xDC00...0xDFFF).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        index += 6
                    } else {
                        scalar = 0xFFFD
                    }
                }
                UTF8Scalar.append(scalar, to: &output)
                continue
            default:
                return false
            }
            index += 2
        }
        return true
    }

    /// `\uXXXX` at `index`, Go's `getu4`.
    private static func unicodeEscape(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> UInt32? {
        guard index + 6 <= bytes.count, bytes[index] == backslash, bytes[index + 1] == UInt8(ascii: "u") else { return nil }
        var value: UInt32 = 0
        for offset in 2..<6 {
            guard let digit = JSONScanner.hexDigit(bytes[index + offset]) else { return nil }
            value = value << 4 | digit
        }
        return value
    }
}
