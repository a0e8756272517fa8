/// A LogQL token.
struct LogQLToken: Equatable {
    enum Kind: Equatable {
        case identifier
        case string
        /// A number, a duration (`5m`, `1h30m`) or a size (`20KB`): the parser decides which it may be.
        case numeric
        case flag  // --strict, --keep-empty
        case leftBrace, rightBrace, leftParen, rightParen, leftBracket, rightBracket, comma
        case equal  // =
        case notEqual  // !=
        case regexMatch  // =~
        case regexNoMatch  // !~
        case pipeContains  // |=
        case pipeRegex  // |~
        case pipePattern  // |>
        case notPattern  // !>
        case pipe  // |
        case doubleEqual  // ==
        case greater, greaterOrEqual, less, lessOrEqual
        case plus, minus, star, slash, percent, caret
        case end
    }

    var kind: Kind
    /// The token's text; for strings, the decoded value.
    var text: String
    /// Byte offset in the query.
    var offset: Int

    /// How Loki's parser names the token in "syntax error: unexpected X".
    var displayName: String {
        switch kind {
        case .identifier: return text
        case .string: return "STRING"
        case .numeric: return "NUMBER"
        case .flag: return text
        case .end: return "$end"
        default: return text
        }
    }
}

/// Splits a LogQL query into tokens.
struct LogQLLexer {
    private let bytes: [UInt8]
    private var position = 0

    init(_ query: String) {
        bytes = Array(query.utf8)
    }

    var source: [UInt8] { bytes }

    static func tokenize(_ query: String) throws(LogQLError) -> [LogQLToken] {
        var lexer = LogQLLexer(query)
        var tokens: [LogQLToken] = []
        while true {
            let token = try lexer.next()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    private func byte(at index: Int) -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private func error(_ message: String, at offset: Int) -> LogQLError {
        LogQLError.parse(message, at: offset, in: bytes)
    }

    mutating func next() throws(LogQLError) -> LogQLToken {
        skipSpaceAndComments()
        let start = position
        guard let first = byte(at: position) else { return LogQLToken(kind: .end, text: "", offset: start) }
        func token(_ kind: LogQLToken.Kind, length: Int) -> LogQLToken {
            position += length
            return LogQLToken(kind: kind, text: String(decoding: bytes[start..<start + length], as: UTF8.self), offset: start)
        }
        let second = byte(at: position + 1)
        switch first {
        case UInt8(ascii: "{"): return token(.leftBrace, length: 1)
        case UInt8(ascii: "}"): return token(.rightBrace, length: 1)
        case UInt8(ascii: "("): return token(.leftParen, length: 1)
        case UInt8(ascii: ")"): return token(.rightParen, length: 1)
        case UInt8(ascii: "["): return token(.leftBracket, length: 1)
        case UInt8(ascii: "]"): return token(.rightBracket, length: 1)
        case UInt8(ascii: ","): return token(.comma, length: 1)
        case UInt8(ascii: "+"): return token(.plus, length: 1)
        case UInt8(ascii: "*"): return token(.star, length: 1)
        case UInt8(ascii: "/"): return token(.slash, length: 1)
        case UInt8(ascii: "%"): return token(.percent, length: 1)
        case UInt8(ascii: "^"): return token(.caret, length: 1)
        case UInt8(ascii: "="):
            if second == UInt8(ascii: "~") { return token(.regexMatch, length: 2) }
            if second == UInt8(ascii: "=") { return token(.doubleEqual, length: 2) }
            return token(.equal, length: 1)
        case UInt8(ascii: "!"):
            if second == UInt8(ascii: "=") { return token(.notEqual, length: 2) }
            if second == UInt8(ascii: "~") { return token(.regexNoMatch, length: 2) }
            if second == UInt8(ascii: ">") { return token(.notPattern, length: 2) }
            throw error("syntax error: unexpected character: '!'", at: start)
        case UInt8(ascii: "|"):
            if second == UInt8(ascii: "=") { return token(.pipeContains, length: 2) }
            if second == UInt8(ascii: "~") { return token(.pipeRegex, length: 2) }
            if second == UInt8(ascii: ">") { return token(.pipePattern, length: 2) }
            return token(.pipe, length: 1)
        case UInt8(ascii: ">"):
            if second == UInt8(ascii: "=") { return token(.greaterOrEqual, length: 2) }
            return token(.greater, length: 1)
        case UInt8(ascii: "<"):
            if second == UInt8(ascii: "=") { return token(.lessOrEqual, length: 2) }
            return token(.less, length: 1)
        case UInt8(ascii: "-"):
            if second == UInt8(ascii: "-"), let third = byte(at: position + 2), Self.isIdentifierStart(third) {
                position += 2
                while let next = byte(at: position), Self.isIdentifierPart(next) || next == UInt8(ascii: "-") { position += 1 }
                return LogQLToken(kind: .flag, text: String(decoding: bytes[start..<position], as: UTF8.self), offset: start)
            }
            return token(.minus, length: 1)
        case UInt8(ascii: "\""), UInt8(ascii: "`"):
            return LogQLToken(kind: .string, text: try readString(), offset: start)
        default:
            if Self.isDigit(first) || (first == UInt8(ascii: ".") && second.map(Self.isDigit) == true) {
                return LogQLToken(kind: .numeric, text: readNumericWord(), offset: start)
            }
            if Self.isIdentifierStart(first) {
                while let next = byte(at: position), Self.isIdentifierPart(next) { position += 1 }
                return LogQLToken(kind: .identifier, text: String(decoding: bytes[start..<position], as: UTF8.self), offset: start)
            }
            let scalar = String(decoding: bytes[start..<min(bytes.count, start + 4)], as: UTF8.self).unicodeScalars.first.map(String.init) ?? "?"
            throw error("syntax error: unexpected character: '\(scalar)'", at: start)
        }
    }

    private mutating func skipSpaceAndComments() {
        while let current = byte(at: position) {
            if current == UInt8(ascii: " ") || current == UInt8(ascii: "\t") || current == UInt8(ascii: "\n") || current == UInt8(ascii: "\r") {
                position += 1
            } else if current == UInt8(ascii: "#") {
                while let next = byte(at: position), next != UInt8(ascii: "\n") { position += 1 }
            } else {
                return
            }
        }
    }

    /// Digits, letters, dots and exponent signs run together: `1.5`, `1e-3`, `0x1.8p3`, `5m`,
    /// `1h30m`, `20KiB`, `1µs`. What it is gets decided by whoever reads it.
    private mutating func readNumericWord() -> String {
        let start = position
        let isHex = byte(at: position) == UInt8(ascii: "0") && (byte(at: position + 1) == UInt8(ascii: "x") || byte(at: position + 1) == UInt8(ascii: "X"))
        while let current = byte(at: position) {
            if Self.isIdentifierPart(current) || current == UInt8(ascii: ".") {
                position += 1
            } else if current == 0xC2, byte(at: position + 1) == 0xB5 {  // µ
                position += 2
            } else if current == 0xCE, byte(at: position + 1) == 0xBC {  // μ (Greek mu)
                position += 2
            } else if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") {
                // An exponent's sign: after e/E in a decimal number, after p/P in a hex float.
                let previous = bytes[position - 1] | 0x20
                let isExponent = isHex ? previous == UInt8(ascii: "p") : previous == UInt8(ascii: "e") && Self.isDecimalMantissa(bytes[start..<position - 1])
                guard isExponent, let next = byte(at: position + 1), Self.isDigit(next) else { break }
                position += 1
            } else {
                break
            }
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    private static func isDecimalMantissa(_ text: ArraySlice<UInt8>) -> Bool {
        !text.isEmpty && text.allSatisfy { isDigit($0) || $0 == UInt8(ascii: ".") }
    }

    /// A Go string literal: "interpreted" with escapes, or `raw`.
    private mutating func readString() throws(LogQLError) -> String {
        let start = position
        let quote = bytes[position]
        position += 1
        var out: [UInt8] = []
        if quote == UInt8(ascii: "`") {
            while let current = byte(at: position) {
                position += 1
                if current == quote { return String(decoding: out, as: UTF8.self) }
                out.append(current)
            }
            throw error("syntax error: unterminated raw string", at: start)
        }
        while let current = byte(at: position) {
            position += 1
            if current == quote { return String(decoding: out, as: UTF8.self) }
            if current == UInt8(ascii: "\n") { break }
            guard current == UInt8(ascii: "\\") else {
                out.append(current)
                continue
            }
            guard let escaped = byte(at: position) else { break }
            position += 1
            switch escaped {
            case UInt8(ascii: "a"): out.append(0x07)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "v"): out.append(0x0B)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
            case UInt8(ascii: "'"): out.append(UInt8(ascii: "'"))
            case UInt8(ascii: "x"):
                guard let value = hexValue(digits: 2) else { throw error("syntax error: invalid escape in string", at: position) }
                out.append(UInt8(value))
            case UInt8(ascii: "u"), UInt8(ascii: "U"):
                guard let value = hexValue(digits: escaped == UInt8(ascii: "u") ? 4 : 8), let scalar = Unicode.Scalar(value) else {
                    throw error("syntax error: invalid escape in string", at: position)
                }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var value = UInt32(escaped - UInt8(ascii: "0"))
                for _ in 0..<2 {
                    guard let digit = byte(at: position), digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "7") else {
                        throw error("syntax error: invalid escape in string", at: position)
                    }
                    value = value * 8 + UInt32(digit - UInt8(ascii: "0"))
                    position += 1
                }
                guard value <= 255 else { throw error("syntax error: invalid escape in string", at: position) }
                out.append(UInt8(value))
            default:
                throw error("syntax error: invalid escape sequence \\\(String(UnicodeScalar(escaped)))", at: position - 2)
            }
        }
        throw error("syntax error: unterminated string", at: start)
    }

    private mutating func hexValue(digits: Int) -> UInt32? {
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard let digit = byte(at: position), let nibble = Self.hexDigit(digit) else { return nil }
            value = value << 4 | UInt32(nibble)
            position += 1
        }
        return value
    }

    static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    static func isIdentifierStart(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || byte == UInt8(ascii: "_")
    }

    static func isIdentifierPart(_ byte: UInt8) -> Bool { isIdentifierStart(byte) || isDigit(byte) }
}
