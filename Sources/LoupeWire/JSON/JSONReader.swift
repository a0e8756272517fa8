/// A fast pull parser for UTF-8 JSON (RFC 8259) over borrowed bytes.
///
/// The reader never builds a value tree: callers walk objects and arrays with cursors and read
/// scalars as they come, so a decoder can stream straight into its model. It works on raw bytes:
/// strings without escapes become `String`s in one copy, numbers are parsed exactly (64-bit
/// integers never go through `Double`), and nothing is allocated for structure.
///
/// The bytes must stay valid for the reader's whole life (create it inside `withUnsafeBytes`).
/// The reader is non-copyable: pass it `inout`; it owns the scratch memory for unescaped strings.
/// Every error is a `WireError` carrying the byte offset where the problem was found:
/// `.truncated` when the input ends early, `.invalidJSON` for malformed syntax, `.invalidUTF8` for
/// strings that are not UTF-8, `.invalidValue` when a well-formed value has the wrong type or range
/// or objects and arrays nest deeper than `maximumDepth`.
///
/// Usage:
///
///     var reader = JSONReader(buffer)
///     var object = try reader.beginObject()
///     while try reader.nextMember(&object) {
///         if reader.keyEquals("name") { name = try reader.readString() } else { try reader.skipValue() }
///     }
///     try reader.expectEnd()
public struct JSONReader: ~Copyable {
    /// The default limit on nested objects and arrays; it bounds the decoder's recursion.
    public static let defaultMaximumDepth = 128

    /// The input; `text[offset]` is the next byte to look at.
    let text: UnsafeBufferPointer<UInt8>
    let end: Int

    /// Byte offset of the next unread byte.
    public private(set) var offset: Int = 0
    /// How many objects and arrays are open.
    public private(set) var depth: Int = 0
    public let maximumDepth: Int

    /// Unescaped string values, for strings that contain backslash escapes.
    var scratch = JSONByteBuffer()
    /// Unescaped object keys (kept apart from `scratch` so a key outlives a value read).
    var keyScratch = JSONByteBuffer()
    /// The current object key, unescaped: in the input, or in `keyScratch` when it had escapes.
    /// Valid until the next key is read.
    public private(set) var currentKey = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
    /// Byte offset of the current key's opening quote.
    public private(set) var keyOffset = 0
    /// Where the contents of the last string read start, whether it had escapes, and whether its
    /// raw bytes were all ASCII (then it is valid UTF-8 whatever its escapes decode to).
    var lastStringStart = 0
    var lastStringEscaped = false
    var lastStringASCII = true

    public init(_ bytes: UnsafeRawBufferPointer, maximumDepth: Int = JSONReader.defaultMaximumDepth) {
        self.text = bytes.assumingMemoryBound(to: UInt8.self)
        self.end = bytes.count
        self.maximumDepth = maximumDepth
        // Skip a UTF-8 byte order mark; some clients send one.
        if end >= 3, text[0] == 0xEF, text[1] == 0xBB, text[2] == 0xBF { offset = 3 }
    }

    // MARK: - Structure

    /// Iteration state of one object; obtain it from `beginObject()`.
    public struct ObjectCursor: Sendable {
        var started = false
        init() {}
    }

    /// Iteration state of one array; obtain it from `beginArray()`.
    public struct ArrayCursor: Sendable {
        var started = false
        init() {}
    }

    /// Consumes `{`; throws `.invalidValue` if the next value is not an object.
    @inline(__always)
    public mutating func beginObject() throws(WireError) -> ObjectCursor {
        skipWhitespace()
        guard offset < end else { throw truncatedError() }
        guard text[offset] == UInt8(ascii: "{") else { throw typeMismatch(expected: "an object") }
        try enterContainer()
        offset += 1
        return ObjectCursor()
    }

    /// Consumes `[`; throws `.invalidValue` if the next value is not an array.
    @inline(__always)
    public mutating func beginArray() throws(WireError) -> ArrayCursor {
        skipWhitespace()
        guard offset < end else { throw truncatedError() }
        guard text[offset] == UInt8(ascii: "[") else { throw typeMismatch(expected: "an array") }
        try enterContainer()
        offset += 1
        return ArrayCursor()
    }

    @inline(__always)
    mutating func enterContainer() throws(WireError) {
        depth += 1
        if depth > maximumDepth {
            throw WireError(.invalidValue, "JSON nested more than \(maximumDepth) levels deep", offset: offset)
        }
    }

    /// Advances to the next member of an object: reads its key and the colon, leaving the reader at
    /// the member's value. Returns false after consuming the closing `}`.
    ///
    /// With `skippingNulls`, members whose value is `null` are consumed and passed over, the way
    /// protobuf's JSON mapping treats `null` as "field absent".
    @inline(__always)
    public mutating func nextMember(_ cursor: inout ObjectCursor, skippingNulls: Bool = false) throws(WireError) -> Bool {
        while true {
            skipWhitespace()
            guard offset < end else { throw truncatedError() }
            var byte = text[offset]
            if cursor.started {
                if byte == UInt8(ascii: "}") {
                    offset += 1
                    depth -= 1
                    return false
                }
                guard byte == UInt8(ascii: ",") else { throw syntaxError("expected ',' or '}' after an object member") }
                offset += 1
                skipWhitespace()
                guard offset < end else { throw truncatedError() }
                byte = text[offset]
                guard byte == UInt8(ascii: "\"") else { throw syntaxError("expected a string key after ','") }
            } else {
                cursor.started = true
                if byte == UInt8(ascii: "}") {
                    offset += 1
                    depth -= 1
                    return false
                }
                guard byte == UInt8(ascii: "\"") else { throw syntaxError("expected a string key or '}'") }
            }
            try readKey()
            skipWhitespace()
            guard offset < end else { throw truncatedError() }
            guard text[offset] == UInt8(ascii: ":") else { throw syntaxError("expected ':' after an object key") }
            offset += 1
            skipWhitespace()
            guard offset < end else { throw truncatedError() }
            if skippingNulls && text[offset] == UInt8(ascii: "n") {
                try readNull()
                continue
            }
            return true
        }
    }

    /// Advances to the next element of an array. Returns false after consuming the closing `]`.
    @inline(__always)
    public mutating func nextElement(_ cursor: inout ArrayCursor) throws(WireError) -> Bool {
        skipWhitespace()
        guard offset < end else { throw truncatedError() }
        let byte = text[offset]
        if byte == UInt8(ascii: "]") {
            offset += 1
            depth -= 1
            return false
        }
        if cursor.started {
            guard byte == UInt8(ascii: ",") else { throw syntaxError("expected ',' or ']' after an array element") }
            offset += 1
            skipWhitespace()
            guard offset < end else { throw truncatedError() }
            if text[offset] == UInt8(ascii: "]") { throw syntaxError("trailing ',' in an array") }
        } else {
            cursor.started = true
        }
        return true
    }

    /// Throws unless only whitespace is left.
    public mutating func expectEnd() throws(WireError) {
        skipWhitespace()
        if offset < end { throw syntaxError("unexpected data after the JSON value") }
    }

    // MARK: - Keys

    /// The current object key, unescaped, as a `String` (invalid UTF-8 replaced with U+FFFD).
    public var key: String { String(decoding: currentKey, as: UTF8.self) }

    /// Whether the current key is exactly `name`.
    @inline(__always)
    public func keyEquals(_ name: StaticString) -> Bool {
        jsonBytesEqual(currentKey, name)
    }

    @inline(__always)
    mutating func readKey() throws(WireError) {
        keyOffset = offset
        let span = try scanString()
        if span.escaped {
            try Self.unescape(text, from: span.start, to: span.end, into: &keyScratch)
            currentKey = keyScratch.view
        } else {
            currentKey = UnsafeBufferPointer(rebasing: text[span.start..<span.end])
        }
    }

    // MARK: - Scalars

    /// What the next value is, judged by its first byte; skips whitespace first.
    public mutating func peekKind() throws(WireError) -> JSONValueKind {
        skipWhitespace()
        guard offset < end else { throw truncatedError() }
        guard let kind = JSONValueKind(firstByte: text[offset]) else { throw unexpectedCharacter() }
        return kind
    }

    /// Reads a string value.
    @inline(__always)
    public mutating func readString() throws(WireError) -> String {
        let view = try readStringView()
        return try makeLastString(view)
    }

    /// A `String` from the bytes `readStringView()` just returned; throws `.invalidUTF8` with the
    /// offset of the first bad byte.
    @inline(__always)
    func makeLastString(_ bytes: UnsafeBufferPointer<UInt8>) throws(WireError) -> String {
        if !lastStringASCII, let bad = jsonFirstInvalidUTF8(bytes) { throw invalidUTF8(at: bad) }
        // Known to be valid, so decoding repairs nothing.
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The error for invalid UTF-8 at `position` in the string `readStringView()` just returned.
    @inline(never)
    func invalidUTF8(at position: Int) -> WireError {
        // Offsets into unescaped text do not map onto the input; point at the string then.
        WireError(.invalidUTF8, "string is not valid UTF-8", offset: lastStringEscaped ? lastStringStart : lastStringStart + position)
    }

    /// Reads a string value and passes its unescaped UTF-8 bytes to `body` without creating a
    /// `String`. The bytes are only valid inside `body`.
    @inline(__always)
    public mutating func withStringBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) throws(WireError) -> R {
        body(try readStringView())
    }

    /// Reads a string and returns a view of its unescaped bytes, valid until the next read.
    @inline(__always)
    mutating func readStringView() throws(WireError) -> UnsafeBufferPointer<UInt8> {
        skipWhitespace()
        guard offset < end else { throw truncatedError() }
        guard text[offset] == UInt8(ascii: "\"") else { throw typeMismatch(expected: "a string") }
        let span = try scanString()
        lastStringStart = span.start
        lastStringEscaped = span.escaped
        lastStringASCII = span.ascii
        if !span.escaped { return UnsafeBufferPointer(rebasing: text[span.start..<span.end]) }
        try Self.unescape(text, from: span.start, to: span.end, into: &scratch)
        return scratch.view
    }

    /// Reads `true` or `false`.
    @inline(__always)
    public mutating func readBool() throws(WireError) -> Bool {
        skipWhitespace()
        guard offset < end else { throw truncatedError() }
        switch text[offset] {
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return true
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return false
        default:
            throw typeMismatch(expected: "true or false")
        }
    }

    /// Reads `null`.
    public mutating func readNull() throws(WireError) {
        skipWhitespace()
        guard offset < end else { throw truncatedError() }
        guard text[offset] == UInt8(ascii: "n") else { throw typeMismatch(expected: "null") }
        try expectLiteral("null")
    }

    /// Consumes `null` if it is the next value.
    @inline(__always)
    public mutating func consumeNull() throws(WireError) -> Bool {
        skipWhitespace()
        guard offset < end, text[offset] == UInt8(ascii: "n") else { return false }
        try expectLiteral("null")
        return true
    }

    @inline(__always)
    mutating func expectLiteral(_ literal: StaticString) throws(WireError) {
        let count = literal.utf8CodeUnitCount
        let available = Swift.min(count, end - offset)
        for index in 0..<available where text[offset + index] != literal.utf8Start[index] {
            throw WireError(.invalidJSON, "invalid literal; expected '\(literal)'", offset: offset + index)
        }
        if available < count { throw truncatedError() }
        offset += count
    }

    /// Reads a JSON number token (not a string) exactly.
    @inline(__always)
    public mutating func readNumber() throws(WireError) -> JSONNumber {
        skipWhitespace()
        guard offset < end else { throw truncatedError() }
        let first = text[offset]
        guard first == UInt8(ascii: "-") || (first &- UInt8(ascii: "0")) < 10 else { throw typeMismatch(expected: "a number") }
        let start = offset
        switch JSONNumber.scan(text, from: start, limit: end) {
        case .number(let number, let stop):
            offset = stop
            return number
        case .failure(let position, let reason):
            if position >= end { throw truncatedError() }
            throw WireError(.invalidJSON, "invalid number: \(reason)", offset: position)
        }
    }

    /// Reads an integer given as a JSON number or as a decimal string, as protobuf's JSON mapping
    /// allows for 64-bit fields. Exponent and fraction forms are accepted when the value is integral.
    public mutating func readUInt64() throws(WireError) -> UInt64 {
        let number = try readNumberOrNumericString(expected: "an unsigned integer")
        guard let value = number.uint64Value else { throw rangeError(number, type: "uint64") }
        return value
    }

    /// Like `readUInt64()`, for signed values.
    public mutating func readInt64() throws(WireError) -> Int64 {
        let number = try readNumberOrNumericString(expected: "an integer")
        guard let value = number.int64Value else { throw rangeError(number, type: "int64") }
        return value
    }

    /// Like `readUInt64()`, checked against the `UInt32` range.
    public mutating func readUInt32() throws(WireError) -> UInt32 {
        let number = try readNumberOrNumericString(expected: "an unsigned integer")
        guard let wide = number.uint64Value, let value = UInt32(exactly: wide) else { throw rangeError(number, type: "uint32") }
        return value
    }

    /// Like `readInt64()`, checked against the `Int32` range.
    public mutating func readInt32() throws(WireError) -> Int32 {
        let number = try readNumberOrNumericString(expected: "an integer")
        guard let wide = number.int64Value, let value = Int32(exactly: wide) else { throw rangeError(number, type: "int32") }
        return value
    }

    /// Reads a double given as a JSON number, as a numeric string, or as one of the strings
    /// `"NaN"`, `"Infinity"` and `"-Infinity"` (protobuf's JSON mapping of non-finite values).
    public mutating func readDouble() throws(WireError) -> Double {
        skipWhitespace()
        guard offset < end else { throw truncatedError() }
        if text[offset] != UInt8(ascii: "\"") { return try readNumber().doubleValue }
        let start = offset
        let view = try readStringView()
        if jsonBytesEqual(view, "NaN") { return .nan }
        if jsonBytesEqual(view, "Infinity") { return .infinity }
        if jsonBytesEqual(view, "-Infinity") { return -.infinity }
        switch JSONNumber.scan(view, from: 0, limit: view.count) {
        case .number(let number, let stop) where stop == view.count:
            return number.doubleValue
        default:
            throw WireError(.invalidValue, "expected a number, \"NaN\", \"Infinity\" or \"-Infinity\", found \(Self.quote(view))", offset: start)
        }
    }

    /// Reads a number token or a string holding a number.
    @inline(__always)
    mutating func readNumberOrNumericString(expected: String) throws(WireError) -> JSONNumber {
        skipWhitespace()
        guard offset < end else { throw truncatedError() }
        let first = text[offset]
        if first != UInt8(ascii: "\"") {
            guard first == UInt8(ascii: "-") || (first &- UInt8(ascii: "0")) < 10 else {
                throw typeMismatch(expected: "\(expected) (a number or a decimal string)")
            }
            return try readNumber()
        }
        let start = offset
        let view = try readStringView()
        switch JSONNumber.scan(view, from: 0, limit: view.count) {
        case .number(let number, let stop) where stop == view.count:
            return number
        default:
            throw WireError(.invalidValue, "expected \(expected), found \(Self.quote(view))", offset: start)
        }
    }

    /// Skips one value of any kind, checking its syntax.
    public mutating func skipValue() throws(WireError) {
        skipWhitespace()
        guard offset < end else { throw truncatedError() }
        switch text[offset] {
        case UInt8(ascii: "{"):
            var cursor = try beginObject()
            while try nextMember(&cursor) { try skipValue() }
        case UInt8(ascii: "["):
            var cursor = try beginArray()
            while try nextElement(&cursor) { try skipValue() }
        case UInt8(ascii: "\""):
            _ = try scanString()
        case UInt8(ascii: "t"):
            try expectLiteral("true")
        case UInt8(ascii: "f"):
            try expectLiteral("false")
        case UInt8(ascii: "n"):
            try expectLiteral("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            _ = try readNumber()
        default:
            throw unexpectedCharacter()
        }
    }

    // MARK: - Strings

    /// Scans the string starting at the opening quote under `offset`; leaves `offset` after the
    /// closing quote. Escapes are only skipped here, not checked. Also tells whether every byte
    /// was ASCII, so most strings need no UTF-8 validation.
    @inline(__always)
    mutating func scanString() throws(WireError) -> (start: Int, end: Int, escaped: Bool, ascii: Bool) {
        let start = offset + 1
        var index = start
        var escaped = false
        var highBits: UInt64 = 0
        let limit = end
        let base = text.baseAddress
        outer: while true {
            // Eight bytes at a time while none is a quote, a backslash or a control character.
            while index &+ 8 <= limit {
                let word = UnsafeRawPointer(base! + index).loadUnaligned(as: UInt64.self)
                if jsonWordNeedsAttention(word) { break }
                highBits |= word
                index &+= 8
            }
            while index < limit {
                let byte = text[index]
                if byte == UInt8(ascii: "\"") {
                    offset = index + 1
                    return (start, index, escaped, highBits & 0x8080_8080_8080_8080 == 0)
                }
                if byte == UInt8(ascii: "\\") {
                    escaped = true
                    index &+= 2
                    continue outer
                }
                if byte < 0x20 {
                    throw WireError(.invalidJSON, "unescaped control character 0x\(String(byte, radix: 16)) in a string", offset: index)
                }
                highBits |= UInt64(byte)
                index &+= 1
            }
            offset = limit
            throw WireError(.truncated, "unterminated string", offset: limit)
        }
    }

    /// Writes the unescaped bytes of `text[start..<stop]` into `out`.
    static func unescape(_ text: UnsafeBufferPointer<UInt8>, from start: Int, to stop: Int, into out: inout JSONByteBuffer) throws(WireError) {
        out.removeAll()
        var index = start
        var chunkStart = start
        while index < stop {
            guard text[index] == UInt8(ascii: "\\") else {
                index += 1
                continue
            }
            if chunkStart < index { out.append(UnsafeBufferPointer(rebasing: text[chunkStart..<index])) }
            let escapeOffset = index
            guard index + 1 < stop else { throw WireError(.invalidJSON, "unterminated escape sequence", offset: escapeOffset) }
            let code = text[index + 1]
            index += 2
            switch code {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "/"): out.append(UInt8(ascii: "/"))
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(text, at: index, stop: stop, escapeOffset: escapeOffset)
                index += 4
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    // A high surrogate must be followed by an escaped low surrogate.
                    if index + 6 <= stop, text[index] == UInt8(ascii: "\\"), text[index + 1] == UInt8(ascii: "u") {
                        let low = try hex4(text, at: index + 2, stop: stop, escapeOffset: index)
                        if low >= 0xDC00 && low < 0xE000 {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            index += 6
                        } else {
                            scalar = 0xFFFD
                        }
                    } else {
                        scalar = 0xFFFD
                    }
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    scalar = 0xFFFD  // a lone low surrogate
                }
                appendUTF8(scalar, to: &out)
            default:
                throw WireError(.invalidJSON, "invalid escape sequence '\\\(Self.printable(code))' in a string", offset: escapeOffset)
            }
            chunkStart = index
        }
        if chunkStart < stop { out.append(UnsafeBufferPointer(rebasing: text[chunkStart..<stop])) }
    }

    @inline(__always)
    static func hex4(_ text: UnsafeBufferPointer<UInt8>, at index: Int, stop: Int, escapeOffset: Int) throws(WireError) -> UInt32 {
        guard index + 4 <= stop else {
            throw WireError(.invalidJSON, "invalid \\u escape: expected four hex digits", offset: escapeOffset)
        }
        var value: UInt32 = 0
        for position in index..<(index + 4) {
            let nibble = jsonHexNibble(text[position])
            guard nibble < 16 else {
                throw WireError(.invalidJSON, "invalid \\u escape: expected four hex digits", offset: escapeOffset)
            }
            value = value << 4 | UInt32(nibble)
        }
        return value
    }

    @inline(__always)
    static func appendUTF8(_ scalar: UInt32, to out: inout JSONByteBuffer) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | scalar >> 6))
            out.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | scalar >> 12))
            out.append(UInt8(0x80 | (scalar >> 6) & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        default:
            out.append(UInt8(0xF0 | scalar >> 18))
            out.append(UInt8(0x80 | (scalar >> 12) & 0x3F))
            out.append(UInt8(0x80 | (scalar >> 6) & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    // MARK: - Whitespace

    @inline(__always)
    public mutating func skipWhitespace() {
        while offset < end {
            let byte = text[offset]
            // ' ' 0x20, '\t' 0x09, '\n' 0x0A, '\r' 0x0D
            guard byte <= 0x20, byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D else { return }
            offset += 1
        }
    }

    // MARK: - Errors

    @inline(never)
    func truncatedError() -> WireError {
        WireError(.truncated, "unexpected end of JSON input", offset: end)
    }

    @inline(never)
    func syntaxError(_ message: String) -> WireError {
        if offset >= end { return truncatedError() }
        return WireError(.invalidJSON, "\(message), found \(Self.describe(text[offset]))", offset: offset)
    }

    @inline(never)
    func unexpectedCharacter() -> WireError {
        WireError(.invalidJSON, "unexpected character \(Self.describe(text[offset]))", offset: offset)
    }

    /// The value under `offset` is valid JSON (judging by its first byte) but not what was expected.
    @inline(never)
    public func typeMismatch(expected: String) -> WireError {
        guard offset < end else { return truncatedError() }
        guard let kind = JSONValueKind(firstByte: text[offset]) else { return unexpectedCharacter() }
        return WireError(.invalidValue, "expected \(expected), found \(kind.descriptionWithArticle)", offset: offset)
    }

    @inline(never)
    func rangeError(_ number: JSONNumber, type: String) -> WireError {
        let what = number.isIntegral ? "out of range for \(type)" : "not an integer"
        return WireError(.invalidValue, "number \(Self.quote(number.text)) is \(what)", offset: number.offset)
    }

    static func describe(_ byte: UInt8) -> String {
        "'\(printable(byte))'"
    }

    static func printable(_ byte: UInt8) -> String {
        if byte >= 0x20 && byte < 0x7F { return String(UnicodeScalar(byte)) }
        return "\\x" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
    }

    /// A short quoted rendering of some bytes for an error message.
    static func quote(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        let limit = 64
        let shown = String(decoding: UnsafeBufferPointer(rebasing: bytes.prefix(limit)), as: UTF8.self)
        return "\"" + shown + (bytes.count > limit ? "…" : "") + "\""
    }
}

/// The kind of a JSON value, as told by its first byte.
public enum JSONValueKind: Sendable, Hashable {
    case object, array, string, number, bool, null

    @inline(__always)
    init?(firstByte byte: UInt8) {
        switch byte {
        case UInt8(ascii: "{"): self = .object
        case UInt8(ascii: "["): self = .array
        case UInt8(ascii: "\""): self = .string
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): self = .number
        case UInt8(ascii: "t"), UInt8(ascii: "f"): self = .bool
        case UInt8(ascii: "n"): self = .null
        default: return nil
        }
    }

    var descriptionWithArticle: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }
}

// MARK: - Numbers

/// A JSON number as parsed: exact decimal significand and exponent, so integers up to 64 bits
/// convert without going through `Double`.
public struct JSONNumber {
    /// The significant digits (up to what fits in a UInt64).
    var significand: UInt64
    /// The value is `significand × 10^exponent` (negated if `negative`).
    var exponent: Int
    var negative: Bool
    /// Nonzero digits were dropped because the significand was full.
    var inexact: Bool
    /// The number's text (valid only while the reader's input or scratch is).
    var text: UnsafeBufferPointer<UInt8>
    /// Byte offset in the input where the number (or its string) starts; for errors.
    var offset: Int

    enum ScanResult {
        case number(JSONNumber, end: Int)
        case failure(at: Int, String)
    }

    /// Parses the number grammar of RFC 8259 at `text[start...]`, stopping at the first byte that
    /// cannot continue it (or at `limit`).
    @inline(__always)
    static func scan(_ text: UnsafeBufferPointer<UInt8>, from start: Int, limit: Int) -> ScanResult {
        var index = start
        var negative = false
        if index < limit && text[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        guard index < limit else { return .failure(at: index, "expected a digit") }
        var significand: UInt64 = 0
        var exponent = 0
        var inexact = false
        // Once a digit has been dropped, later digits must be dropped too.
        var full = false
        let first = text[index] &- UInt8(ascii: "0")
        guard first < 10 else { return .failure(at: index, "expected a digit") }
        if first == 0 {
            index += 1
            if index < limit && (text[index] &- UInt8(ascii: "0")) < 10 {
                return .failure(at: index, "leading zeros are not allowed")
            }
        } else {
            while index < limit {
                let digit = text[index] &- UInt8(ascii: "0")
                guard digit < 10 else { break }
                if !full && significand <= (UInt64.max - UInt64(digit)) / 10 {
                    significand = significand &* 10 &+ UInt64(digit)
                } else {
                    full = true
                    exponent += 1
                    if digit != 0 { inexact = true }
                }
                index += 1
            }
        }
        if index < limit && text[index] == UInt8(ascii: ".") {
            index += 1
            let fractionStart = index
            while index < limit {
                let digit = text[index] &- UInt8(ascii: "0")
                guard digit < 10 else { break }
                if !full && significand <= (UInt64.max - UInt64(digit)) / 10 {
                    significand = significand &* 10 &+ UInt64(digit)
                    exponent -= 1
                } else {
                    full = true
                    if digit != 0 { inexact = true }
                }
                index += 1
            }
            if index == fractionStart { return .failure(at: index, "expected a digit after '.'") }
        }
        if index < limit && (text[index] | 0x20) == UInt8(ascii: "e") {
            index += 1
            var exponentNegative = false
            if index < limit && (text[index] == UInt8(ascii: "+") || text[index] == UInt8(ascii: "-")) {
                exponentNegative = text[index] == UInt8(ascii: "-")
                index += 1
            }
            let digitsStart = index
            var explicit = 0
            while index < limit {
                let digit = text[index] &- UInt8(ascii: "0")
                guard digit < 10 else { break }
                if explicit < 1_000_000 { explicit = explicit * 10 + Int(digit) }
                index += 1
            }
            if index == digitsStart { return .failure(at: index, "expected a digit in the exponent") }
            exponent += exponentNegative ? -explicit : explicit
        }
        let number = JSONNumber(
            significand: significand, exponent: exponent, negative: negative, inexact: inexact,
            text: UnsafeBufferPointer(rebasing: text[start..<index]), offset: start
        )
        return .number(number, end: index)
    }

    /// Whether the value is a whole number.
    public var isIntegral: Bool {
        if significand == 0 { return !inexact }
        if exponent >= 0 { return true }
        if inexact || -exponent > 19 { return false }
        return significand % jsonPowersOfTen[-exponent] == 0
    }

    /// The exact value as a UInt64, or nil if it is negative, fractional or too large.
    @inline(__always)
    public var uint64Value: UInt64? {
        if significand == 0 { return inexact ? nil : 0 }
        if negative || inexact { return nil }
        if exponent == 0 { return significand }
        if exponent > 0 {
            guard exponent <= 19 else { return nil }
            let (product, overflow) = significand.multipliedReportingOverflow(by: jsonPowersOfTen[exponent])
            return overflow ? nil : product
        }
        guard -exponent <= 19 else { return nil }
        let divisor = jsonPowersOfTen[-exponent]
        guard significand % divisor == 0 else { return nil }
        return significand / divisor
    }

    /// The exact value as an Int64, or nil if it is fractional or out of range.
    @inline(__always)
    public var int64Value: Int64? {
        var magnitude = self
        magnitude.negative = false
        guard let value = magnitude.uint64Value else { return nil }
        if negative {
            guard value <= UInt64(1) << 63 else { return nil }
            return Int64(bitPattern: 0 &- value)
        }
        guard value <= UInt64(Int64.max) else { return nil }
        return Int64(value)
    }

    /// The nearest double (correctly rounded).
    @inline(__always)
    public var doubleValue: Double {
        if significand == 0 && !inexact { return negative ? -0.0 : 0.0 }
        // Clinger's fast path: both operands exact, so one IEEE operation rounds correctly.
        if !inexact && significand <= (UInt64(1) << 53) && exponent >= -22 && exponent <= 22 {
            var value = Double(significand)
            if exponent >= 0 { value *= jsonDoublePowersOfTen[exponent] } else { value /= jsonDoublePowersOfTen[-exponent] }
            return negative ? -value : value
        }
        return slowDoubleValue()
    }

    @inline(never)
    func slowDoubleValue() -> Double {
        // The text matched the JSON number grammar, which the standard library's parser accepts.
        Double(String(decoding: text, as: UTF8.self)) ?? .nan
    }
}

let jsonPowersOfTen: [UInt64] = {
    var powers: [UInt64] = [1]
    for _ in 1...19 { powers.append(powers.last! * 10) }
    return powers
}()

let jsonDoublePowersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
    1e20, 1e21, 1e22,
]

// MARK: - Byte helpers

/// Whether any of the eight bytes is `"`, `\` or below 0x20 (the bytes a string scan must stop at).
@inline(__always)
func jsonWordNeedsAttention(_ word: UInt64) -> Bool {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    let quotes = word ^ (ones &* 0x22)
    let backslashes = word ^ (ones &* 0x5C)
    let hasQuote = (quotes &- ones) & ~quotes
    let hasBackslash = (backslashes &- ones) & ~backslashes
    let hasControl = (word &- ones &* 0x20) & ~word
    return (hasQuote | hasBackslash | hasControl) & highs != 0
}

/// The value of a hex digit, or 0xFF.
@inline(__always)
func jsonHexNibble(_ byte: UInt8) -> UInt8 {
    let digit = byte &- UInt8(ascii: "0")
    if digit < 10 { return digit }
    let letter = (byte | 0x20) &- UInt8(ascii: "a")
    if letter < 6 { return letter &+ 10 }
    return 0xFF
}

@inline(__always)
func jsonBytesEqual(_ lhs: UnsafePointer<UInt8>, _ rhs: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    var index = 0
    while index &+ 8 <= count {
        let left = UnsafeRawPointer(lhs + index).loadUnaligned(as: UInt64.self)
        let right = UnsafeRawPointer(rhs + index).loadUnaligned(as: UInt64.self)
        if left != right { return false }
        index &+= 8
    }
    while index < count {
        if lhs[index] != rhs[index] { return false }
        index &+= 1
    }
    return true
}

/// The index of the first byte that is not part of well-formed UTF-8 (RFC 3629: no overlong
/// forms, no surrogates, nothing above U+10FFFF), or nil.
func jsonFirstInvalidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
    let count = bytes.count
    var index = 0
    while index < count {
        // Skip ASCII a word at a time.
        while index &+ 8 <= count,
            UnsafeRawPointer(bytes.baseAddress! + index).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0
        {
            index &+= 8
        }
        guard index < count else { break }
        let lead = bytes[index]
        if lead < 0x80 {
            index &+= 1
            continue
        }
        var trailing = 0
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: trailing = 1
        case 0xE0: trailing = 2; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: trailing = 2
        case 0xED: trailing = 2; high = 0x9F
        case 0xF0: trailing = 3; low = 0x90
        case 0xF1...0xF3: trailing = 3
        case 0xF4: trailing = 3; high = 0x8F
        default: return index
        }
        guard index + trailing < count else { return index }
        let second = bytes[index + 1]
        guard second >= low && second <= high else { return index }
        if trailing >= 2 && bytes[index + 2] & 0xC0 != 0x80 { return index }
        if trailing == 3 && bytes[index + 3] & 0xC0 != 0x80 { return index }
        index += trailing + 1
    }
    return nil
}

/// A growable byte buffer with manually managed memory, so views into it can be handed out
/// without copying (they stay valid until the next mutation).
struct JSONByteBuffer: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init() {
        capacity = 64
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    var view: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    mutating func removeAll() { count = 0 }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        if count == capacity { grow(to: count + 1) }
        base[count] = byte
        count += 1
    }

    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard !bytes.isEmpty else { return }
        if count + bytes.count > capacity { grow(to: count + bytes.count) }
        (base + count).update(from: bytes.baseAddress!, count: bytes.count)
        count += bytes.count
    }

    private mutating func grow(to minimum: Int) {
        var newCapacity = capacity * 2
        while newCapacity < minimum { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }
}

@inline(__always)
func jsonBytesEqual(_ bytes: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
    guard bytes.count == literal.utf8CodeUnitCount else { return false }
    if bytes.isEmpty { return true }
    return jsonBytesEqual(bytes.baseAddress!, literal.utf8Start, bytes.count)
}
