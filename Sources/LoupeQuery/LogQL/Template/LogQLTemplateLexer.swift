// The scanner of Go's text/template, item for item: text, actions between "{{" and "}}", trim
// markers ("{{- " and " -}}"), comments, and inside actions the spaces, pipes, parentheses,
// literals, fields, variables, identifiers and keywords the parser reads. Positions are byte
// offsets and lines are 1-based, as in Go's error messages.

extension LogQLTemplate {
    enum TokenKind: Equatable {
        case error
        case bool
        case char               // a printable ASCII character that is no other token (',' and the like)
        case charConstant
        case complex
        case assign             // '='
        case declare            // ':='
        case eof
        case field              // .Name
        case identifier
        case leftDelim
        case leftParen
        case number
        case pipe
        case rawString
        case rightDelim
        case rightParen
        case space
        case string
        case text
        case variable           // $ or $name
        // Keywords.
        case block
        case breakKeyword
        case continueKeyword
        case dot
        case define
        case elseKeyword
        case end
        case ifKeyword
        case nilKeyword
        case range
        case template
        case with

        var isKeyword: Bool {
            switch self {
            case .block, .breakKeyword, .continueKeyword, .dot, .define, .elseKeyword, .end, .ifKeyword, .nilKeyword,
                .range, .template, .with:
                return true
            default:
                return false
            }
        }
    }

    struct Token {
        var kind: TokenKind
        var position: Int
        var text: String
        var line: Int

        /// Go's item.String, used in "unexpected ..." messages.
        var goDescription: String {
            switch kind {
            case .eof: return "EOF"
            case .error: return text
            default:
                if kind.isKeyword { return "<\(text)>" }
                let scalars = text.unicodeScalars
                if scalars.count > 10 { return GoText.quote(String(String.UnicodeScalarView(scalars.prefix(10)))) + "..." }
                return GoText.quote(text)
            }
        }
    }

    struct Lexer {
        private let input: [UInt8]
        private var position = 0
        private var start = 0
        private var parenDepth = 0
        private var insideAction = false
        private var finished = false
        private var lineCache = (position: 0, line: 1)

        private static let leftDelimiter: [UInt8] = Array("{{".utf8)
        private static let rightDelimiter: [UInt8] = Array("}}".utf8)

        init(_ source: String) {
            input = Array(source.utf8)
        }

        // MARK: Scanning primitives

        private func byte(at index: Int) -> UInt8? {
            index < input.count ? input[index] : nil
        }

        private func hasPrefix(_ prefix: [UInt8], at index: Int) -> Bool {
            guard index >= 0, index + prefix.count <= input.count else { return false }
            for offset in 0..<prefix.count where input[index + offset] != prefix[offset] { return false }
            return true
        }

        private static func isSpace(_ byte: UInt8?) -> Bool {
            byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n")
        }

        private static func isSpace(_ scalar: Unicode.Scalar?) -> Bool {
            scalar == " " || scalar == "\t" || scalar == "\r" || scalar == "\n"
        }

        private static func isAlphaNumeric(_ scalar: Unicode.Scalar?) -> Bool {
            guard let scalar else { return false }
            return scalar == "_" || GoText.isLetter(scalar) || GoText.isDigit(scalar)
        }

        /// The next scalar and its width, or nil at the end.
        private func peekScalar(at index: Int) -> (Unicode.Scalar, Int)? {
            guard index < input.count else { return nil }
            return GoText.decodeScalar(input, at: index)
        }

        private mutating func nextScalar() -> Unicode.Scalar? {
            guard let (scalar, width) = peekScalar(at: position) else { return nil }
            position += width
            return scalar
        }

        private func peek() -> Unicode.Scalar? { peekScalar(at: position)?.0 }

        private mutating func backup(_ scalar: Unicode.Scalar?) {
            guard let scalar else { return }
            position -= String(Character(scalar)).utf8.count
        }

        private mutating func accept(_ valid: String) -> Bool {
            if let scalar = peek(), valid.unicodeScalars.contains(scalar) {
                _ = nextScalar()
                return true
            }
            return false
        }

        private mutating func acceptRun(_ valid: String) {
            while let scalar = peek(), valid.unicodeScalars.contains(scalar) { _ = nextScalar() }
        }

        private mutating func line(at index: Int) -> Int {
            if index < lineCache.position { lineCache = (0, 1) }
            var line = lineCache.line
            var cursor = lineCache.position
            while cursor < index && cursor < input.count {
                if input[cursor] == UInt8(ascii: "\n") { line += 1 }
                cursor += 1
            }
            lineCache = (cursor, line)
            return line
        }

        private mutating func token(_ kind: TokenKind) -> Token {
            let text = String(decoding: input[start..<position], as: UTF8.self)
            let token = Token(kind: kind, position: start, text: text, line: line(at: start))
            start = position
            return token
        }

        private mutating func failure(_ message: String) -> Token {
            let token = Token(kind: .error, position: start, text: message, line: line(at: start))
            finished = true
            return token
        }

        private func hasLeftTrimMarker(at index: Int) -> Bool {
            byte(at: index) == UInt8(ascii: "-") && Lexer.isSpace(byte(at: index + 1))
        }

        private func hasRightTrimMarker(at index: Int) -> Bool {
            Lexer.isSpace(byte(at: index)) && byte(at: index + 1) == UInt8(ascii: "-")
        }

        /// Whether a right delimiter (possibly after a trim marker) starts at the current position.
        private func atRightDelimiter() -> (delimiter: Bool, trimSpaces: Bool) {
            if hasRightTrimMarker(at: position) && hasPrefix(Lexer.rightDelimiter, at: position + 2) { return (true, true) }
            if hasPrefix(Lexer.rightDelimiter, at: position) { return (true, false) }
            return (false, false)
        }

        private func spaceLength(from index: Int, forward: Bool, limit: Int) -> Int {
            var count = 0
            if forward {
                while index + count < input.count && Lexer.isSpace(input[index + count]) { count += 1 }
            } else {
                while index - count - 1 >= limit && Lexer.isSpace(input[index - count - 1]) { count += 1 }
            }
            return count
        }

        private func atTerminator() -> Bool {
            let scalar = peek()
            if Lexer.isSpace(scalar) { return true }
            switch scalar {
            case nil, ".", ",", "|", ":", ")", "(": return true
            default: return hasPrefix(Lexer.rightDelimiter, at: position)
            }
        }

        // MARK: Items

        mutating func next() -> Token {
            if finished { return Token(kind: .eof, position: position, text: "EOF", line: line(at: position)) }
            if insideAction { return lexInsideAction() }
            return lexText()
        }

        private mutating func lexText() -> Token {
            var searchFrom = position
            while true {
                var found: Int?
                var index = searchFrom
                while index + 1 < input.count {
                    if input[index] == UInt8(ascii: "{") && input[index + 1] == UInt8(ascii: "{") {
                        found = index
                        break
                    }
                    index += 1
                }
                guard let delimiter = found else {
                    position = input.count
                    if position > start { return token(.text) }
                    finished = true
                    return Token(kind: .eof, position: position, text: "EOF", line: line(at: position))
                }
                if delimiter > start {
                    var trimLength = 0
                    if hasLeftTrimMarker(at: delimiter + 2) { trimLength = spaceLength(from: delimiter, forward: false, limit: start) }
                    position = delimiter - trimLength
                    let text = position > start ? token(.text) : nil
                    position = delimiter
                    start = position
                    if let text { return text }
                }
                // At a left delimiter.
                if let comment = lexLeftDelimiter() { return comment }
                // A comment was skipped; continue scanning text.
                searchFrom = position
            }
        }

        /// Scans "{{" (and a trim marker); returns the left-delimiter item, or nil after skipping a comment.
        private mutating func lexLeftDelimiter() -> Token? {
            position += 2
            let trimSpace = hasLeftTrimMarker(at: position)
            let afterMarker = trimSpace ? 2 : 0
            if hasPrefix(Array("/*".utf8), at: position + afterMarker) {
                position += afterMarker
                start = position
                return lexComment()
            }
            let delimiter = token(.leftDelim)
            insideAction = true
            position += afterMarker
            start = position
            parenDepth = 0
            return delimiter
        }

        /// Skips a comment; an error item if it is malformed.
        private mutating func lexComment() -> Token? {
            position += 2
            var index = position
            var closing: Int?
            while index + 1 < input.count {
                if input[index] == UInt8(ascii: "*") && input[index + 1] == UInt8(ascii: "/") {
                    closing = index
                    break
                }
                index += 1
            }
            guard let closing else { return failure("unclosed comment") }
            position = closing + 2
            let (delimiter, trimSpace) = atRightDelimiter()
            if !delimiter { return failure("comment ends before closing delimiter") }
            if trimSpace { position += 2 }
            position += 2
            if trimSpace { position += spaceLength(from: position, forward: true, limit: 0) }
            start = position
            return nil
        }

        private mutating func lexRightDelimiter() -> Token {
            let (_, trimSpace) = atRightDelimiter()
            if trimSpace {
                position += 2
                start = position
            }
            position += 2
            let delimiter = token(.rightDelim)
            if trimSpace {
                position += spaceLength(from: position, forward: true, limit: 0)
                start = position
            }
            insideAction = false
            return delimiter
        }

        private mutating func lexInsideAction() -> Token {
            let (delimiter, _) = atRightDelimiter()
            if delimiter {
                if parenDepth == 0 { return lexRightDelimiter() }
                return failure("unclosed left paren")
            }
            guard let scalar = nextScalar() else { return failure("unclosed action") }
            switch scalar {
            case " ", "\t", "\r", "\n":
                backup(scalar)
                return lexSpace()
            case "=":
                return token(.assign)
            case ":":
                if nextScalar() != "=" { return failure("expected :=") }
                return token(.declare)
            case "|":
                return token(.pipe)
            case "\"":
                return lexQuote()
            case "`":
                return lexRawQuote()
            case "$":
                return lexVariable()
            case "'":
                return lexCharacter()
            case ".":
                // ".field" unless a digit follows, when '.' starts a number.
                if let following = byte(at: position), following < UInt8(ascii: "0") || following > UInt8(ascii: "9") {
                    return lexFieldOrVariable(.field)
                }
                backup(scalar)
                return lexNumber()
            case "+", "-", "0"..."9":
                backup(scalar)
                return lexNumber()
            case "(":
                parenDepth += 1
                return token(.leftParen)
            case ")":
                parenDepth -= 1
                if parenDepth < 0 { return failure("unexpected right paren") }
                return token(.rightParen)
            default:
                if Lexer.isAlphaNumeric(scalar) {
                    backup(scalar)
                    return lexIdentifier()
                }
                if scalar.value < 0x80 && GoText.isPrint(scalar) { return token(.char) }
                return failure("unrecognized character in action: \(GoText.unicodeNotation(scalar))")
            }
        }

        private mutating func lexSpace() -> Token {
            var count = 0
            while Lexer.isSpace(peek()) {
                _ = nextScalar()
                count += 1
            }
            // A trim-marked right delimiter starts with a space: leave that space for it.
            if hasRightTrimMarker(at: position - 1) && hasPrefix(Lexer.rightDelimiter, at: position + 1) {
                position -= 1
                if count == 1 { return lexRightDelimiter() }
            }
            return token(.space)
        }

        private mutating func lexIdentifier() -> Token {
            while Lexer.isAlphaNumeric(peek()) { _ = nextScalar() }
            if !atTerminator() { return failure("bad character \(GoText.unicodeNotation(peek() ?? "\u{FFFD}"))") }
            let word = String(decoding: input[start..<position], as: UTF8.self)
            switch word {
            case "block": return token(.block)
            case "break": return token(.breakKeyword)
            case "continue": return token(.continueKeyword)
            case "define": return token(.define)
            case "else": return token(.elseKeyword)
            case "end": return token(.end)
            case "if": return token(.ifKeyword)
            case "range": return token(.range)
            case "nil": return token(.nilKeyword)
            case "template": return token(.template)
            case "with": return token(.with)
            case "true", "false": return token(.bool)
            default: return token(.identifier)
            }
        }

        private mutating func lexVariable() -> Token {
            if atTerminator() { return token(.variable) }
            return lexFieldOrVariable(.variable)
        }

        private mutating func lexFieldOrVariable(_ kind: TokenKind) -> Token {
            if atTerminator() { return token(kind == .variable ? .variable : .dot) }
            while Lexer.isAlphaNumeric(peek()) { _ = nextScalar() }
            if !atTerminator() { return failure("bad character \(GoText.unicodeNotation(peek() ?? "\u{FFFD}"))") }
            return token(kind)
        }

        private mutating func lexCharacter() -> Token {
            while true {
                switch nextScalar() {
                case "\\":
                    let escaped = nextScalar()
                    if escaped == nil || escaped == "\n" { return failure("unterminated character constant") }
                case nil, "\n":
                    return failure("unterminated character constant")
                case "'":
                    return token(.charConstant)
                default:
                    continue
                }
            }
        }

        private mutating func lexNumber() -> Token {
            if !scanNumber() {
                return failure("bad number syntax: \(GoText.quote(String(decoding: input[start..<position], as: UTF8.self)))")
            }
            if let sign = peek(), sign == "+" || sign == "-" {
                // Complex: 1+2i, no spaces, ending in 'i'.
                if !scanNumber() || input[position - 1] != UInt8(ascii: "i") {
                    return failure("bad number syntax: \(GoText.quote(String(decoding: input[start..<position], as: UTF8.self)))")
                }
                return token(.complex)
            }
            return token(.number)
        }

        private mutating func scanNumber() -> Bool {
            _ = accept("+-")
            var digits = "0123456789_"
            if accept("0") {
                // A leading 0 does not mean octal in floats.
                if accept("xX") {
                    digits = "0123456789abcdefABCDEF_"
                } else if accept("oO") {
                    digits = "01234567_"
                } else if accept("bB") {
                    digits = "01_"
                }
            }
            acceptRun(digits)
            if accept(".") { acceptRun(digits) }
            if digits.utf8.count == 11 && accept("eE") {
                _ = accept("+-")
                acceptRun("0123456789_")
            }
            if digits.utf8.count == 23 && accept("pP") {
                _ = accept("+-")
                acceptRun("0123456789_")
            }
            _ = accept("i")
            if Lexer.isAlphaNumeric(peek()) {
                _ = nextScalar()
                return false
            }
            return true
        }

        private mutating func lexQuote() -> Token {
            while true {
                switch nextScalar() {
                case "\\":
                    let escaped = nextScalar()
                    if escaped == nil || escaped == "\n" { return failure("unterminated quoted string") }
                case nil, "\n":
                    return failure("unterminated quoted string")
                case "\"":
                    return token(.string)
                default:
                    continue
                }
            }
        }

        private mutating func lexRawQuote() -> Token {
            while true {
                switch nextScalar() {
                case nil: return failure("unterminated raw quoted string")
                case "`": return token(.rawString)
                default: continue
                }
            }
        }
    }
}
