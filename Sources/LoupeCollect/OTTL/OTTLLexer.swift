/// One OTTL token with the 1-based column (in Unicode scalars) where it starts.
struct OTTLToken: Equatable, Sendable {
    enum Kind: Equatable, Sendable {
        case identifier
        /// A double-quoted string; `text` is the decoded value.
        case string
        /// Decimal digits only; the parser converts them, so `-9223372036854775808` can be folded.
        case integer
        case float
        /// `0x` and an even number of hex digits; `text` is the digits.
        case bytes
        case leftParen, rightParen, leftBracket, rightBracket, leftBrace, rightBrace
        case comma, dot, colon
        /// `=` of a named argument (`depth = 2`).
        case assign
        case equal, notEqual, less, lessOrEqual, greater, greaterOrEqual
        case plus, minus, star, slash
        case end
    }

    var kind: Kind
    var text: String
    var column: Int

    /// How an error message shows the token.
    var shown: String {
        switch kind {
        case .end: "end of text"
        case .string: "string \"\(text)\""
        case .bytes: "0x\(text)"
        default: "\"\(text)\""
        }
    }
}

/// Splits statement text into tokens. Strings take Go's escapes, as OTTL unquotes them with
/// `strconv.Unquote`: a regex written `"\d+"` is an error there and here; it is written `"\\d+"`.
struct OTTLLexer {
    private let scalars: [Unicode.Scalar]
    private var index = 0
    private var tokens: [OTTLToken] = []

    private init(_ text: String) {
        scalars = Array(text.unicodeScalars)
    }

    static func tokenize(_ text: String) throws(OTTLError) -> [OTTLToken] {
        var lexer = OTTLLexer(text)
        try lexer.run()
        return lexer.tokens
    }

    private var column: Int { index + 1 }

    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        index + offset < scalars.count ? scalars[index + offset] : nil
    }

    private mutating func emit(_ kind: OTTLToken.Kind, _ text: String, at start: Int) {
        tokens.append(OTTLToken(kind: kind, text: text, column: start + 1))
    }

    private mutating func run() throws(OTTLError) {
        while let scalar = peek() {
            let start = index
            switch scalar {
            case " ", "\t", "\n", "\r":
                index += 1
            case "\"":
                try lexString()
            case "0"..."9":
                try lexNumber()
            case "." where isDigit(peek(1)) && !previousTokenEndsAValue:
                try lexNumber()
            case "a"..."z", "A"..."Z", "_":
                while let next = peek(), isIdentifierContinuation(next) { index += 1 }
                emit(.identifier, text(start..<index), at: start)
            default:
                try lexPunctuation(scalar, start: start)
            }
        }
        tokens.append(OTTLToken(kind: .end, text: "", column: column))
    }

    private static let singleScalarTokens: [Unicode.Scalar: OTTLToken.Kind] = [
        "(": .leftParen, ")": .rightParen, "[": .leftBracket, "]": .rightBracket, "{": .leftBrace, "}": .rightBrace,
        ",": .comma, ".": .dot, ":": .colon, "+": .plus, "-": .minus, "*": .star, "/": .slash,
    ]

    private static let simpleEscapes: [Unicode.Scalar: Unicode.Scalar] = [
        "a": "\u{07}", "b": "\u{08}", "f": "\u{0C}", "n": "\n", "r": "\r", "t": "\t", "v": "\u{0B}",
        "\\": "\\", "\"": "\"", "'": "'",
    ]

    private mutating func lexPunctuation(_ scalar: Unicode.Scalar, start: Int) throws(OTTLError) {
        if let kind = Self.singleScalarTokens[scalar] {
            index += 1
            emit(kind, String(scalar), at: start)
            return
        }
        let followedByEqual = peek(1) == "="
        switch scalar {
        case "=":
            index += followedByEqual ? 2 : 1
            emit(followedByEqual ? .equal : .assign, followedByEqual ? "==" : "=", at: start)
        case "!" where followedByEqual:
            index += 2
            emit(.notEqual, "!=", at: start)
        case "<":
            index += followedByEqual ? 2 : 1
            emit(followedByEqual ? .lessOrEqual : .less, followedByEqual ? "<=" : "<", at: start)
        case ">":
            index += followedByEqual ? 2 : 1
            emit(followedByEqual ? .greaterOrEqual : .greater, followedByEqual ? ">=" : ">", at: start)
        case "!":
            throw OTTLError(.syntax, column: column, "unexpected \"!\"; negate a condition with \"not\"")
        case "'":
            throw OTTLError(.syntax, column: column, "unexpected \"'\"; OTTL strings are written in double quotes")
        case "&", "|":
            throw OTTLError(.syntax, column: column, "unexpected \"\(scalar)\"; combine conditions with \"and\" and \"or\"")
        default:
            throw OTTLError(.syntax, column: column, "unexpected character \"\(scalar)\"")
        }
    }

    /// A `.5` after a path segment, `]` or `)` would be a field access, not a number (after a keyword it is one).
    private var previousTokenEndsAValue: Bool {
        guard let last = tokens.last else { return false }
        if last.kind == .identifier { return !["and", "or", "not", "where"].contains(last.text) }
        return last.kind == .rightBracket || last.kind == .rightParen
    }

    private func isDigit(_ scalar: Unicode.Scalar?) -> Bool {
        guard let scalar else { return false }
        return ("0"..."9").contains(scalar)
    }

    private func isIdentifierContinuation(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_"
    }

    private func text(_ range: Range<Int>) -> String {
        var text = ""
        text.unicodeScalars.append(contentsOf: scalars[range])
        return text
    }

    private mutating func lexNumber() throws(OTTLError) {
        let start = index
        if peek() == "0", peek(1) == "x" || peek(1) == "X" {
            index += 2
            let digitsStart = index
            while let next = peek(), next.properties.isASCIIHexDigit { index += 1 }
            let digits = text(digitsStart..<index)
            if digits.isEmpty {
                throw OTTLError(.syntax, column: start + 1, "byte literal \"0x\" needs hex digits")
            }
            if digits.unicodeScalars.count % 2 != 0 {
                throw OTTLError(.syntax, column: start + 1, "byte literal 0x\(digits) has an odd number of hex digits")
            }
            try refuseIdentifierTail(after: start)
            emit(.bytes, digits, at: start)
            return
        }
        var isFloat = false
        while isDigit(peek()) { index += 1 }
        if peek() == ".", isDigit(peek(1)) {
            isFloat = true
            index += 1
            while isDigit(peek()) { index += 1 }
        }
        if peek() == "e" || peek() == "E" {
            var lookahead = 1
            if peek(1) == "+" || peek(1) == "-" { lookahead += 1 }
            if isDigit(peek(lookahead)) {
                isFloat = true
                index += lookahead
                while isDigit(peek()) { index += 1 }
            }
        }
        try refuseIdentifierTail(after: start)
        emit(isFloat ? .float : .integer, text(start..<index), at: start)
    }

    /// `12abc` or `1.5.2` is no number; saying so beats a confusing error about the next token.
    private func refuseIdentifierTail(after start: Int) throws(OTTLError) {
        if let next = peek(), isIdentifierContinuation(next) || next == "." {
            throw OTTLError(.syntax, column: start + 1, "malformed number \"\(text(start..<(index + 1)))\"")
        }
    }

    private mutating func lexString() throws(OTTLError) {
        let start = index
        index += 1
        var value = ""
        while true {
            guard let scalar = peek() else {
                throw OTTLError(.syntax, column: start + 1, "unterminated string")
            }
            index += 1
            switch scalar {
            case "\"":
                emit(.string, value, at: start)
                return
            case "\\":
                value.unicodeScalars.append(try lexEscape())
            default:
                value.unicodeScalars.append(scalar)
            }
        }
    }

    /// Go's escapes: `\a \b \f \n \r \t \v \\ \" \'`, `\xHH`, `\uHHHH`, `\UHHHHHHHH` and three octal digits.
    private mutating func lexEscape() throws(OTTLError) -> Unicode.Scalar {
        let escapeColumn = index  // column of the backslash: index already points past it
        guard let scalar = peek() else {
            throw OTTLError(.syntax, column: escapeColumn, "unterminated string")
        }
        index += 1
        if let mapped = Self.simpleEscapes[scalar] { return mapped }
        let hexLength: Int? = switch scalar {
        case "x": 2
        case "u": 4
        case "U": 8
        default: nil
        }
        if let hexLength {
            var value: UInt32 = 0
            for _ in 0..<hexLength {
                guard let digit = peek(), let nibble = Self.hexValue(digit) else {
                    throw OTTLError(.syntax, column: escapeColumn, "escape \\\(scalar) needs \(hexLength) hex digits")
                }
                value = value << 4 | nibble
                index += 1
            }
            guard let decoded = Unicode.Scalar(value) else {
                throw OTTLError(.syntax, column: escapeColumn, "escape \\\(scalar) names no Unicode scalar")
            }
            return decoded
        }
        if ("0"..."7").contains(scalar) {
            var value = scalar.value - 0x30
            for _ in 0..<2 {
                guard let digit = peek(), ("0"..."7").contains(digit) else {
                    throw OTTLError(.syntax, column: escapeColumn, "octal escape needs three digits")
                }
                value = value * 8 + digit.value - 0x30
                index += 1
            }
            guard value < 256, let decoded = Unicode.Scalar(value) else {
                throw OTTLError(.syntax, column: escapeColumn, "octal escape is above \\377")
            }
            return decoded
        }
        throw OTTLError(.syntax, column: escapeColumn,
                        "invalid escape \"\\\(scalar)\" in string; write \"\\\\\(scalar)\" for a backslash followed by \"\(scalar)\"")
    }

    private static func hexValue(_ scalar: Unicode.Scalar) -> UInt32? {
        switch scalar {
        case "0"..."9": scalar.value - 0x30
        case "a"..."f": scalar.value - 0x61 + 10
        case "A"..."F": scalar.value - 0x41 + 10
        default: nil
        }
    }
}
