/// The kinds of PromQL tokens.
public enum PromQLTokenKind: Sendable, Equatable, Hashable {
    case eof
    /// A lexing error; the token's `text` is the message.
    case error
    case comment
    case identifier
    /// An identifier containing a colon (`job:rate5m`).
    case metricIdentifier
    case string
    case number
    case duration

    case leftParen, rightParen, leftBrace, rightBrace, leftBracket, rightBracket
    case comma
    /// `=` (label matching).
    case assign
    case colon

    // Operators.
    case add, sub, mul, div, mod, pow
    case eqlc, neq, lte, lss, gte, gtr
    case trimUpper, trimLower
    case eqlRegex, neqRegex
    case land, lor, lunless
    case at
    case atan2

    // Aggregators.
    case avg, bottomk, count, countValues, group, max, min, quantile, stddev, stdvar, sum, topk, limitk, limitRatio

    // Keywords.
    case bool, by, groupLeft, groupRight, fill, fillLeft, fillRight, ignoring, offset, smoothed, anchored, on, without

    // Preprocessors (`@ start()`, duration expressions).
    case start, end, step, range, maxOf, minOf

    var isOperator: Bool {
        switch self {
        case .add, .sub, .mul, .div, .mod, .pow, .eqlc, .neq, .lte, .lss, .gte, .gtr, .trimUpper, .trimLower,
            .eqlRegex, .neqRegex, .land, .lor, .lunless, .at, .atan2:
            return true
        default: return false
        }
    }

    var isAggregator: Bool { aggregationOperator != nil }

    var isKeyword: Bool {
        switch self {
        case .bool, .by, .groupLeft, .groupRight, .fill, .fillLeft, .fillRight, .ignoring, .offset, .smoothed,
            .anchored, .on, .without:
            return true
        default: return false
        }
    }

    var aggregationOperator: PromQLAggregationOperator? {
        switch self {
        case .avg: return .avg
        case .bottomk: return .bottomk
        case .count: return .count
        case .countValues: return .countValues
        case .group: return .group
        case .max: return .max
        case .min: return .min
        case .quantile: return .quantile
        case .stddev: return .stddev
        case .stdvar: return .stdvar
        case .sum: return .sum
        case .topk: return .topk
        case .limitk: return .limitk
        case .limitRatio: return .limitRatio
        default: return nil
        }
    }

    var binaryOperator: PromQLBinaryOperator? {
        switch self {
        case .add: return .add
        case .sub: return .subtract
        case .mul: return .multiply
        case .div: return .divide
        case .mod: return .modulo
        case .pow: return .power
        case .atan2: return .atan2
        case .eqlc: return .equal
        case .neq: return .notEqual
        case .gtr: return .greaterThan
        case .lss: return .lessThan
        case .gte: return .greaterOrEqual
        case .lte: return .lessOrEqual
        case .trimUpper: return .trimUpper
        case .trimLower: return .trimLower
        case .land: return .and
        case .lor: return .or
        case .lunless: return .unless
        default: return nil
        }
    }

    /// Whether the token has a fixed spelling that Prometheus names directly in messages.
    var hasFixedSpelling: Bool {
        switch self {
        case .eof, .error, .comment, .identifier, .metricIdentifier, .string, .number, .duration: return false
        default: return true
        }
    }
}

/// A token with its byte range in the query.
public struct PromQLToken: Sendable, Equatable {
    public var kind: PromQLTokenKind
    /// Start byte offset.
    public var start: Int
    /// End byte offset, exclusive. For `.error` tokens, the end of the input.
    public var end: Int
    /// The token's text as written (for `.error`, the message).
    public var text: String

    public init(kind: PromQLTokenKind, start: Int, end: Int, text: String) {
        self.kind = kind
        self.start = start
        self.end = end
        self.text = text
    }

    var range: PromQLError.Position { .init(start: start, end: start + text.utf8.count) }

    /// How Prometheus names the token in "unexpected …" messages.
    var description: String {
        switch kind {
        case .eof: return "end of input"
        case .error: return text
        case .identifier: return "identifier \(goQuote(text))"
        case .metricIdentifier: return "metric identifier \(goQuote(text))"
        case .string: return "string \(itemText)"
        case .number: return "number \(itemText)"
        case .duration: return "duration \(itemText)"
        case .comment: return "comment \(itemText)"
        default: return itemText
        }
    }

    private var itemText: String {
        if kind.isKeyword { return "<\(text)>" }
        if kind.isOperator { return "<op:\(text)>" }
        if kind.isAggregator { return "<aggr:\(text)>" }
        if text.utf8.count > 10 { return goQuote(text, limit: 10) + "..." }
        return goQuote(text)
    }
}

/// PromQL's lexer: a state machine over the UTF-8 bytes that follows Prometheus's lexing rules, including its
/// context-dependent modes (inside `{…}`, inside `[…]` duration expressions) and its error messages.
/// Positions are byte offsets.
public struct PromQLLexer: Sendable {
    private enum State: Sendable {
        case statements
        case insideBraces
        case durationExpression
        case done
    }

    let input: [UInt8]
    private var state: State = .statements
    private var position = 0
    private var start = 0
    private var width = 0

    private var parenDepth = 0
    private var braceOpen = false
    private var bracketOpen = false
    private var gotColon = false
    private var gotDuration = false

    private static let endOfInput: Int32 = -1
    private static let invalidRune: Int32 = 0xFFFD

    public init(_ query: String) {
        self.input = Array(query.utf8)
    }

    public init(bytes: [UInt8]) {
        self.input = bytes
    }

    /// All tokens up to and including `.eof` or the first `.error`.
    public static func tokenize(_ query: String) -> [PromQLToken] {
        var lexer = PromQLLexer(query)
        var tokens: [PromQLToken] = []
        while true {
            let token = lexer.next()
            tokens.append(token)
            if token.kind == .eof || token.kind == .error { return tokens }
        }
    }

    /// The next token. After `.eof` or `.error`, further calls return `.eof`.
    public mutating func next() -> PromQLToken {
        while true {
            let token: PromQLToken?
            switch state {
            case .statements: token = lexStatements()
            case .insideBraces: token = lexInsideBraces()
            case .durationExpression: token = lexDurationExpression()
            case .done: token = emit(.eof)
            }
            if let token { return token }
        }
    }

    // MARK: - Primitives

    /// The next rune (as a Unicode scalar value, 0xFFFD for invalid bytes), or `endOfInput`.
    private mutating func nextRune() -> Int32 {
        guard position < input.count else {
            width = 0
            return Self.endOfInput
        }
        let (scalar, length) = goDecodeRune(input, at: position)
        width = length
        position += length
        return Int32(bitPattern: (scalar ?? "\u{FFFD}").value)
    }

    private mutating func peekRune() -> Int32 {
        let rune = nextRune()
        backup()
        return rune
    }

    private mutating func backup() { position -= width }

    private mutating func accept(_ valid: String) -> Bool {
        let rune = nextRune()
        if rune >= 0, rune < 128, valid.utf8.contains(UInt8(rune)) { return true }
        backup()
        return false
    }

    private mutating func isNext(_ valid: String) -> Bool {
        let rune = peekRune()
        return rune >= 0 && rune < 128 && valid.utf8.contains(UInt8(rune))
    }

    private mutating func acceptRun(_ valid: String) {
        while accept(valid) {}
    }

    private var currentText: String { String(decoding: input[start..<position], as: UTF8.self) }

    private mutating func emit(_ kind: PromQLTokenKind) -> PromQLToken {
        let token = PromQLToken(kind: kind, start: start, end: position, text: currentText)
        start = position
        return token
    }

    private mutating func ignore() { start = position }

    private mutating func error(_ message: String) -> PromQLToken {
        state = .done
        return PromQLToken(kind: .error, start: start, end: input.count, text: message)
    }

    private static func isSpace(_ rune: Int32) -> Bool { rune == 0x20 || rune == 0x09 || rune == 0x0A || rune == 0x0D }
    private static func isDigit(_ rune: Int32) -> Bool { rune >= 0x30 && rune <= 0x39 }
    private static func isAlpha(_ rune: Int32) -> Bool {
        rune == 0x5F || (rune >= 0x61 && rune <= 0x7A) || (rune >= 0x41 && rune <= 0x5A)
    }
    private static func isAlphaNumeric(_ rune: Int32) -> Bool { isAlpha(rune) || isDigit(rune) }

    private static func scalar(_ rune: Int32) -> Unicode.Scalar? {
        rune < 0 ? nil : Unicode.Scalar(UInt32(rune))
    }

    private static func quoteRune(_ rune: Int32) -> String { goQuoteRune(scalar(rune)) }

    private mutating func startsWithComment() -> Bool { position < input.count && input[position] == UInt8(ascii: "#") }

    private mutating func lexComment() -> PromQLToken {
        position += 1
        var rune = nextRune()
        while rune != 0x0A, rune != 0x0D, rune != Self.endOfInput { rune = nextRune() }
        backup()
        return emit(.comment)
    }

    private mutating func skipSpaces() {
        while Self.isSpace(peekRune()) { _ = nextRune() }
        ignore()
    }

    // MARK: - States

    private mutating func lexStatements() -> PromQLToken? {
        if braceOpen {
            state = .insideBraces
            return nil
        }
        if startsWithComment() { return lexComment() }
        let rune = nextRune()
        switch rune {
        case Self.endOfInput:
            if parenDepth != 0 { return error("unclosed left parenthesis") }
            if bracketOpen { return error("unclosed left bracket") }
            state = .done
            return emit(.eof)
        case 0x2C: return emit(.comma)
        case _ where Self.isSpace(rune):
            skipSpaces()
            return nil
        case 0x2A: return emit(.mul)
        case 0x2F: return emit(.div)
        case 0x25: return emit(.mod)
        case 0x2B: return emit(.add)
        case 0x2D: return emit(.sub)
        case 0x5E: return emit(.pow)
        case 0x3D:  // =
            let following = peekRune()
            if following == 0x3D {
                _ = nextRune()
                return emit(.eqlc)
            }
            if following == 0x7E { return error("unexpected character after '=': \(Self.quoteRune(following))") }
            return emit(.assign)
        case 0x21:  // !
            let following = nextRune()
            if following != 0x3D { return error("unexpected character after '!': \(Self.quoteRune(following))") }
            return emit(.neq)
        case 0x3C:  // <
            if accept("=") { return emit(.lte) }
            if accept("/") { return emit(.trimUpper) }
            return emit(.lss)
        case 0x3E:  // >
            if accept("=") { return emit(.gte) }
            if accept("/") { return emit(.trimLower) }
            return emit(.gtr)
        case _ where Self.isDigit(rune) || (rune == 0x2E && Self.isDigit(peekRune())):
            backup()
            return lexNumberOrDuration()
        case 0x22, 0x27:
            return lexString(quote: rune)
        case 0x60:
            return lexRawString()
        case _ where Self.isAlpha(rune) || rune == 0x3A:
            if !bracketOpen {
                backup()
                return lexKeywordOrIdentifier()
            }
            if rune == 0x3A {
                if gotColon { return error("unexpected colon \(Self.quoteRune(rune))") }
                gotColon = true
                return emit(.colon)
            }
            if Self.isDurationKeywordStart(rune), let token = scanDurationKeyword() { return token }
            return error("unexpected character: \(Self.quoteRune(rune)), expected ':'")
        case 0x28:
            parenDepth += 1
            return emit(.leftParen)
        case 0x29:
            let token = emit(.rightParen)
            parenDepth -= 1
            if parenDepth < 0 { return error("unexpected right parenthesis \(Self.quoteRune(rune))") }
            return token
        case 0x7B:
            braceOpen = true
            state = .insideBraces
            return emit(.leftBrace)
        case 0x5B:
            if bracketOpen { return error("unexpected left bracket \(Self.quoteRune(rune))") }
            gotColon = false
            let token = emit(.leftBracket)
            if Self.isSpace(peekRune()) { skipSpaces() }
            bracketOpen = true
            state = .durationExpression
            return token
        case 0x5D:
            if !bracketOpen { return error("unexpected right bracket \(Self.quoteRune(rune))") }
            bracketOpen = false
            return emit(.rightBracket)
        case 0x40:
            return emit(.at)
        default:
            return error("unexpected character: \(Self.quoteRune(rune))")
        }
    }

    private mutating func lexInsideBraces() -> PromQLToken? {
        if startsWithComment() { return lexComment() }
        let rune = nextRune()
        switch rune {
        case Self.endOfInput:
            return error("unexpected end of input inside braces")
        case _ where Self.isSpace(rune):
            skipSpaces()
            return nil
        case _ where Self.isAlpha(rune):
            while Self.isAlphaNumeric(nextRune()) {}
            backup()
            return emit(.identifier)
        case 0x2C:
            return emit(.comma)
        case 0x22, 0x27:
            return lexString(quote: rune)
        case 0x60:
            return lexRawString()
        case 0x3D:
            if nextRune() == 0x7E { return emit(.eqlRegex) }
            backup()
            return emit(.assign)
        case 0x21:
            let following = nextRune()
            if following == 0x7E { return emit(.neqRegex) }
            if following == 0x3D { return emit(.neq) }
            return error("unexpected character after '!' inside braces: \(Self.quoteRune(following))")
        case 0x7B:
            return error("unexpected left brace \(Self.quoteRune(rune))")
        case 0x7D:
            braceOpen = false
            state = .statements
            return emit(.rightBrace)
        default:
            return error("unexpected character inside braces: \(Self.quoteRune(rune))")
        }
    }

    private mutating func lexDurationExpression() -> PromQLToken? {
        let rune = nextRune()
        switch rune {
        case Self.endOfInput:
            return error("unexpected end of input in duration expression")
        case 0x5D:
            bracketOpen = false
            gotColon = false
            state = .statements
            return emit(.rightBracket)
        case 0x3A:
            let token = emit(.colon)
            if !gotDuration { return error("unexpected colon before duration in duration expression") }
            if gotColon { return error("unexpected repeated colon in duration expression") }
            gotColon = true
            return token
        case 0x28:
            parenDepth += 1
            return emit(.leftParen)
        case 0x29:
            let token = emit(.rightParen)
            parenDepth -= 1
            if parenDepth < 0 { return error("unexpected right parenthesis \(Self.quoteRune(rune))") }
            return token
        case _ where Self.isSpace(rune):
            skipSpaces()
            return nil
        case 0x2B: return emit(.add)
        case 0x2D: return emit(.sub)
        case 0x2A: return emit(.mul)
        case 0x2F: return emit(.div)
        case 0x25: return emit(.mod)
        case 0x5E: return emit(.pow)
        case 0x2C: return emit(.comma)
        case _ where Self.isDurationKeywordStart(rune):
            if let token = scanDurationKeyword() { return token }
            return error("unexpected character in duration expression: \(Self.quoteRune(rune))")
        case _ where Self.isDigit(rune) || (rune == 0x2E && Self.isDigit(peekRune())):
            backup()
            gotDuration = true
            state = .statements
            return lexNumberOrDuration()
        default:
            return error("unexpected character in duration expression: \(Self.quoteRune(rune))")
        }
    }

    // MARK: - Words

    private static func isDurationKeywordStart(_ rune: Int32) -> Bool {
        // s(tep), r(ange), m(ax_of|in_of), in either case.
        switch rune {
        case 0x73, 0x53, 0x72, 0x52, 0x6D, 0x4D: return true
        default: return false
        }
    }

    private mutating func scanDurationKeyword() -> PromQLToken? {
        while Self.isAlpha(nextRune()) {}
        backup()
        switch currentText.lowercased() {
        case "step": return emit(.step)
        case "range": return emit(.range)
        case "max_of": return emit(.maxOf)
        case "min_of": return emit(.minOf)
        default: return nil
        }
    }

    static let keywords: [String: PromQLTokenKind] = [
        "and": .land, "or": .lor, "unless": .lunless, "atan2": .atan2,
        "sum": .sum, "avg": .avg, "count": .count, "min": .min, "max": .max, "group": .group, "stddev": .stddev,
        "stdvar": .stdvar, "topk": .topk, "bottomk": .bottomk, "count_values": .countValues, "quantile": .quantile,
        "limitk": .limitk, "limit_ratio": .limitRatio,
        "offset": .offset, "smoothed": .smoothed, "anchored": .anchored, "by": .by, "without": .without, "on": .on,
        "ignoring": .ignoring, "group_left": .groupLeft, "group_right": .groupRight, "fill": .fill,
        "fill_left": .fillLeft, "fill_right": .fillRight, "bool": .bool,
        "start": .start, "end": .end, "step": .step, "range": .range, "max_of": .maxOf, "min_of": .minOf,
        "inf": .number, "nan": .number,
    ]

    private mutating func lexKeywordOrIdentifier() -> PromQLToken {
        while true {
            let rune = nextRune()
            if Self.isAlphaNumeric(rune) || rune == 0x3A { continue }
            backup()
            break
        }
        let word = currentText
        if let keyword = Self.keywords[word.lowercased()] {
            // fill, fill_left and fill_right are keywords only before "(", so they stay usable as names.
            if keyword == .fill || keyword == .fillLeft || keyword == .fillRight, !followedByLeftParen() {
                return emit(.identifier)
            }
            return emit(keyword)
        }
        return emit(word.utf8.contains(UInt8(ascii: ":")) ? .metricIdentifier : .identifier)
    }

    private func followedByLeftParen() -> Bool {
        var index = position
        while index < input.count {
            let byte = input[index]
            if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
                index += 1
                continue
            }
            return byte == UInt8(ascii: "(")
        }
        return false
    }

    // MARK: - Strings

    private mutating func lexString(quote: Int32) -> PromQLToken {
        while true {
            let rune = nextRune()
            if rune == 0x5C {
                if let message = lexEscape(quote: quote) { return error(message) }
                continue
            }
            if rune == Self.invalidRune { return error("invalid UTF-8 rune") }
            if rune == Self.endOfInput || rune == 0x0A { return error("unterminated quoted string") }
            if rune == quote { break }
        }
        return emit(.string)
    }

    /// Checks one escape sequence (the backslash is consumed); returns an error message if it is bad.
    private mutating func lexEscape(quote: Int32) -> String? {
        var rune = nextRune()
        var digits: Int
        var base: UInt32
        var maximum: UInt32
        switch rune {
        case 0x61, 0x62, 0x66, 0x6E, 0x72, 0x74, 0x76, 0x5C, quote:  // a b f n r t v \ and the quote
            return nil
        case 0x30...0x37:
            (digits, base, maximum) = (3, 8, 255)
        case 0x78:  // x
            rune = nextRune()
            (digits, base, maximum) = (2, 16, 255)
        case 0x75:  // u
            rune = nextRune()
            (digits, base, maximum) = (4, 16, 0x10FFFF)
        case 0x55:  // U
            rune = nextRune()
            (digits, base, maximum) = (8, 16, 0x10FFFF)
        case Self.endOfInput:
            return "escape sequence not terminated"
        default:
            return "unknown escape sequence \(goRuneDescription(Self.scalar(rune)))"
        }
        var value: UInt32 = 0
        while digits > 0 {
            let digit = Self.digitValue(rune)
            if digit >= base {
                if rune == Self.endOfInput { return "escape sequence not terminated" }
                return "illegal character \(goRuneDescription(Self.scalar(rune))) in escape sequence"
            }
            value = value &* base &+ digit
            digits -= 1
            if digits > 0 { rune = nextRune() }
        }
        if value > maximum || (value >= 0xD800 && value < 0xE000) {
            return "escape sequence is an invalid Unicode code point"
        }
        return nil
    }

    private static func digitValue(_ rune: Int32) -> UInt32 {
        switch rune {
        case 0x30...0x39: return UInt32(rune - 0x30)
        case 0x61...0x66: return UInt32(rune - 0x61 + 10)
        case 0x41...0x46: return UInt32(rune - 0x41 + 10)
        default: return 16
        }
    }

    private mutating func lexRawString() -> PromQLToken {
        while true {
            let rune = nextRune()
            if rune == Self.invalidRune { return error("invalid UTF-8 rune") }
            if rune == Self.endOfInput { return error("unterminated raw string") }
            if rune == 0x60 { break }
        }
        return emit(.string)
    }

    // MARK: - Numbers and durations

    private mutating func lexNumberOrDuration() -> PromQLToken {
        if scanNumber() { return emit(.number) }
        if acceptRemainingDuration() {
            backup()
            return emit(.duration)
        }
        return error("bad number or duration syntax: \(goQuote(currentText))")
    }

    private mutating func acceptRemainingDuration() -> Bool {
        if !accept("smhdwy") { return false }
        _ = accept("s")  // "ms"; wrong units like "hs" are rejected when the duration is parsed.
        while accept("0123456789") {
            while accept("0123456789") {}
            if !accept("smhdw") { return false }
            _ = accept("s")
        }
        return !Self.isAlphaNumeric(nextRune())
    }

    /// Scans decimal, hexadecimal and octal integers and decimal floats with `_` separators; the text is
    /// not necessarily a valid number (the parser reports that).
    private mutating func scanNumber() -> Bool {
        let initial = position
        var digitPattern = "0123456789"
        if accept("0") && accept("xX") {
            _ = accept("_")
            digitPattern = "0123456789abcdefABCDEF"
        }
        let isHex = digitPattern.utf8.count > 10
        _ = accept(".")
        _ = accept(digitPattern)
        var dotConsumed = false
        var exponentConsumed = false
        while isNext(digitPattern + "._eE") {
            if isNext("."), dotConsumed {
                _ = accept(".")
                return false
            }
            if isNext("eE"), exponentConsumed {
                _ = accept("eE")
                return false
            }
            if accept(".") {
                dotConsumed = true
                if accept("_.") { return false }
                if isHex { return false }
                continue
            }
            if accept("eE") {
                exponentConsumed = true
                _ = accept("+-")
                if accept("._eE") || peekRune() == Self.endOfInput { return false }
                continue
            }
            if accept("_") {
                if accept("._eE") || peekRune() == Self.endOfInput { return false }
                continue
            }
            acceptRun(digitPattern)
        }
        if position == initial { return false }
        return !Self.isAlphaNumeric(peekRune())
    }
}
