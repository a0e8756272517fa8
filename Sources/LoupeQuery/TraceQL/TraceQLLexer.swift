/// A TraceQL token. Attributes arrive whole (`span.http.method`, `."a b"`): Tempo's lexer switches into an
/// attribute mode after `.`, `span.`, `resource.` (and the other scopes), where everything up to a space or
/// one of `{}()=~!<>&|^,` belongs to the name, so `.http.status_code` and `.a+1` are single names.
struct TraceQLToken: Equatable {
    enum Kind: Equatable {
        case identifier(String)
        case keyword(TraceQLKeyword)
        case string(String)
        case integer(Int64)
        case float(Double)
        /// Nanoseconds.
        case duration(Int64)
        case attribute(TraceQLAttribute)
        /// `trace:`, `span:`, `event:`, `link:`, `instrumentation:` (followed by an intrinsic keyword).
        case scopeColon(String)
        case symbol(TraceQLSymbol)
        /// A character that is no token at all (`[`, `#`, a lone `&`).
        case unknown(String)
        case end
    }

    var kind: Kind
    /// Index of the first Unicode scalar of the token.
    var start: Int

    /// How the token reads in "unexpected X" messages.
    var display: String {
        switch kind {
        case .identifier(let name): "identifier \(name)"
        case .keyword(let keyword): keyword.rawValue
        case .string: "string"
        case .integer(let value): "\(value)"
        case .float: "number"
        case .duration: "duration"
        case .attribute(let attribute): "attribute \(TraceQLPrinter.attribute(attribute))"
        case .scopeColon(let scope): "\(scope):"
        case .symbol(let symbol): symbol.rawValue
        case .unknown(let text): text
        case .end: "end of query"
        }
    }
}

enum TraceQLSymbol: String, CaseIterable {
    case comma = ","
    case openBrace = "{"
    case closeBrace = "}"
    case openParen = "("
    case closeParen = ")"
    case equal = "="
    case notEqual = "!="
    case regexMatch = "=~"
    case tildeNot = "!~"
    case greater = ">"
    case greaterOrEqual = ">="
    case less = "<"
    case lessOrEqual = "<="
    case plus = "+"
    case minus = "-"
    case slash = "/"
    case percent = "%"
    case star = "*"
    case caret = "^"
    case and = "&&"
    case or = "||"
    case bang = "!"
    case pipe = "|"
    case descendant = ">>"
    case ancestor = "<<"
    case tilde = "~"
    case notChild = "!>"
    case notParent = "!<"
    case notDescendant = "!>>"
    case notAncestor = "!<<"
    case unionSibling = "&~"
    case unionChild = "&>"
    case unionParent = "&<"
    case unionDescendant = "&>>"
    case unionAncestor = "&<<"

    static let byText: [String: TraceQLSymbol] = Dictionary(uniqueKeysWithValues: allCases.map { ($0.rawValue, $0) })
}

/// Words with a meaning of their own; anything else is an identifier (valid only as a hint name,
/// `minInt` or `maxInt`).
enum TraceQLKeyword: String, CaseIterable {
    case `true`, `false`, `nil`
    case ok, error, unset
    case unspecified, `internal`, server, client, producer, consumer
    case duration, childCount, name, status, statusMessage, kind, rootName, rootServiceName, rootService
    case traceDuration, nestedSetLeft, nestedSetRight, nestedSetParent, id, traceID, spanID, parentID
    case timeSinceStart, version, parent
    case count, avg, max, min, sum, by, coalesce, select
    case rate
    case countOverTime = "count_over_time"
    case minOverTime = "min_over_time"
    case maxOverTime = "max_over_time"
    case avgOverTime = "avg_over_time"
    case sumOverTime = "sum_over_time"
    case quantileOverTime = "quantile_over_time"
    case histogramOverTime = "histogram_over_time"
    case compare, topk, bottomk, with

    static let byText: [String: TraceQLKeyword] = Dictionary(uniqueKeysWithValues: allCases.map { ($0.rawValue, $0) })
}

/// Splits a query into tokens the way Tempo's lexer (Go's text/scanner plus its own attribute and
/// duration rules) does, so the same texts are accepted and refused.
struct TraceQLLexer {
    let scalars: [Unicode.Scalar]
    private var position = 0

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
    }

    static func tokenize(_ text: String) throws(TraceQLError) -> (tokens: [TraceQLToken], scalars: [Unicode.Scalar]) {
        var lexer = TraceQLLexer(text)
        var tokens: [TraceQLToken] = []
        while true {
            let token = try lexer.next()
            tokens.append(token)
            if token.kind == .end { return (tokens, lexer.scalars) }
        }
    }

    private func peek(_ ahead: Int = 0) -> Unicode.Scalar? {
        position + ahead < scalars.count ? scalars[position + ahead] : nil
    }

    private func error(_ message: String, at index: Int) -> TraceQLError {
        TraceQLError.parse(message, at: index, in: scalars)
    }

    mutating func next() throws(TraceQLError) -> TraceQLToken {
        try skipSpaceAndComments()
        let start = position
        guard let first = peek() else { return TraceQLToken(kind: .end, start: start) }
        func token(_ kind: TraceQLToken.Kind) -> TraceQLToken { TraceQLToken(kind: kind, start: start) }

        if first == "\"" { return token(.string(try lexQuotedString())) }
        if first == "`" { return token(.string(try lexRawString())) }
        if Self.isDecimalDigit(first) || (first == "." && peek(1).map(Self.isDecimalDigit) == true) {
            return token(try lexNumber())
        }
        if first == "." {
            position += 1
            return token(.attribute(try lexAttribute(scope: .none, parent: false, after: ".")))
        }
        if Self.isIdentifierStart(first) {
            var text = ""
            while let scalar = peek(), Self.isIdentifierStart(scalar) || Self.isUnicodeDigit(scalar) {
                text.unicodeScalars.append(scalar)
                position += 1
            }
            // `span.` and `span:` are single tokens in Tempo's table; the character right after the word decides.
            if let next = peek(), next == "." || next == ":" {
                let scoped = text + String(next)
                switch scoped {
                case "span.", "resource.", "event.", "link.", "instrumentation.":
                    position += 1
                    let scope = TraceQLAttributeScope(rawValue: text) ?? .none
                    return token(.attribute(try lexAttribute(scope: scope, parent: false, after: scoped)))
                case "parent.":
                    position += 1
                    return token(.attribute(try lexParentAttribute()))
                case "trace:", "span:", "event:", "link:", "instrumentation:":
                    position += 1
                    return token(.scopeColon(text))
                default:
                    break
                }
            }
            if let keyword = TraceQLKeyword.byText[text] { return token(.keyword(keyword)) }
            return token(.identifier(text))
        }
        // Operators: the longest spelling in the table wins, as Tempo extends a token while the longer text is one.
        var text = String(first)
        position += 1
        while let next = peek(), TraceQLSymbol.byText[text + String(next)] != nil {
            text += String(next)
            position += 1
        }
        if let symbol = TraceQLSymbol.byText[text] { return token(.symbol(symbol)) }
        return token(.unknown(text))
    }

    // MARK: Space and comments

    private mutating func skipSpaceAndComments() throws(TraceQLError) {
        while let scalar = peek() {
            // Go's scanner skips exactly these; other spaces (NBSP, form feed) are characters of their own.
            if scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" {
                position += 1
            } else if scalar == "/" && peek(1) == "/" {
                while let c = peek(), c != "\n" { position += 1 }
            } else if scalar == "/" && peek(1) == "*" {
                let start = position
                position += 2
                while true {
                    guard let c = peek() else { throw error("comment not terminated", at: start) }
                    if c == "*" && peek(1) == "/" {
                        position += 2
                        break
                    }
                    position += 1
                }
            } else {
                return
            }
        }
    }

    // MARK: Attributes

    /// Whether a character can be part of an unquoted attribute name (Tempo's `isAttributeRune`).
    static func isAttributeRune(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.properties.isWhitespace { return false }
        switch scalar {
        case "{", "}", "(", ")", "=", "~", "!", "<", ">", "&", "|", "^", ",": return false
        default: return true
        }
    }

    private mutating func lexParentAttribute() throws(TraceQLError) -> TraceQLAttribute {
        // `parent.span.x` and `parent.resource.x` carry a second scope; anything else is a parent attribute name.
        for scope in [TraceQLAttributeScope.span, .resource] {
            let prefix = Array((scope.rawValue + ".").unicodeScalars)
            if position + prefix.count <= scalars.count && Array(scalars[position..<position + prefix.count]) == prefix {
                position += prefix.count
                return try lexAttribute(scope: scope, parent: true, after: "parent." + scope.rawValue + ".")
            }
        }
        return try lexAttribute(scope: .none, parent: true, after: "parent.")
    }

    /// The name after a scope: unquoted runs and `"quoted parts"` (escapes `\"` and `\\` only) concatenated.
    private mutating func lexAttribute(scope: TraceQLAttributeScope, parent: Bool, after prefix: String) throws(TraceQLError) -> TraceQLAttribute {
        guard let first = peek(), Self.isAttributeRune(first) else {
            throw error("syntax error: expected an attribute name after \(prefix)", at: position)
        }
        var name = ""
        while let scalar = peek() {
            if scalar == "\"" {
                let quoteStart = position
                position += 1
                while true {
                    guard let c = peek() else { throw error("unexpected EOF, expecting \"", at: quoteStart) }
                    position += 1
                    if c == "\"" { break }
                    if c == "\\" {
                        guard let escaped = peek(), escaped == "\"" || escaped == "\\" else {
                            throw error("invalid escape sequence", at: position - 1)
                        }
                        name.unicodeScalars.append(escaped)
                        position += 1
                    } else {
                        name.unicodeScalars.append(c)
                    }
                }
            } else if Self.isAttributeRune(scalar) {
                name.unicodeScalars.append(scalar)
                position += 1
            } else {
                break
            }
        }
        return TraceQLAttribute(name: name, scope: scope, parent: parent)
    }

    // MARK: Strings

    /// A double-quoted string with Go's escapes (strconv.Unquote).
    private mutating func lexQuotedString() throws(TraceQLError) -> String {
        let start = position
        position += 1
        var bytes: [UInt8] = []
        func append(_ scalar: Unicode.Scalar) { bytes.append(contentsOf: Array(String(scalar).utf8)) }
        while true {
            guard let c = peek(), c != "\n" else { throw error("literal not terminated", at: start) }
            position += 1
            if c == "\"" { break }
            guard c == "\\" else {
                append(c)
                continue
            }
            let escapeStart = position - 1
            guard let e = peek() else { throw error("literal not terminated", at: start) }
            position += 1
            switch e {
            case "a": bytes.append(7)
            case "b": bytes.append(8)
            case "f": bytes.append(12)
            case "n": bytes.append(10)
            case "r": bytes.append(13)
            case "t": bytes.append(9)
            case "v": bytes.append(11)
            case "\\": bytes.append(UInt8(ascii: "\\"))
            case "\"": bytes.append(UInt8(ascii: "\""))
            case "x":
                guard let value = readDigits(count: 2, radix: 16) else { throw error("invalid char escape", at: escapeStart) }
                bytes.append(UInt8(value))
            case "0"..."7":
                position -= 1
                guard let value = readDigits(count: 3, radix: 8), value <= 255 else {
                    throw error("invalid char escape", at: escapeStart)
                }
                bytes.append(UInt8(value))
            case "u", "U":
                guard let value = readDigits(count: e == "u" ? 4 : 8, radix: 16), let scalar = Unicode.Scalar(UInt32(value))
                else { throw error("invalid char escape", at: escapeStart) }
                append(scalar)
            default:
                throw error("invalid char escape", at: escapeStart)
            }
        }
        // \x and octal escapes can produce invalid UTF-8, which Go keeps; Swift strings take the replacement character.
        return String(decoding: bytes, as: UTF8.self)
    }

    private mutating func readDigits(count: Int, radix: Int) -> Int? {
        var value = 0
        for _ in 0..<count {
            guard let c = peek(), let digit = Int(String(c), radix: radix) else { return nil }
            value = value * radix + digit
            position += 1
        }
        return value
    }

    /// A backquoted string: no escapes; carriage returns are dropped, as strconv.Unquote does.
    private mutating func lexRawString() throws(TraceQLError) -> String {
        let start = position
        position += 1
        var text = ""
        while true {
            guard let c = peek() else { throw error("literal not terminated", at: start) }
            position += 1
            if c == "`" { return text }
            if c != "\r" { text.unicodeScalars.append(c) }
        }
    }

    // MARK: Numbers and durations

    private mutating func lexNumber() throws(TraceQLError) -> TraceQLToken.Kind {
        let start = position
        var text = ""
        var isFloat = false
        func take() {
            text.unicodeScalars.append(scalars[position])
            position += 1
        }
        if peek() == "0", let x = peek(1), "xXoObB".unicodeScalars.contains(x) {
            // Go's scanner reads hexadecimal, octal and binary literals; Tempo's strconv.Atoi then refuses them.
            while let c = peek(), Self.isIdentifierStart(c) || Self.isDecimalDigit(c) || c == "." { take() }
            throw error("strconv.Atoi: parsing \"\(text)\": invalid syntax", at: start)
        }
        while let c = peek(), Self.isDecimalDigit(c) || c == "_" { take() }
        if peek() == "." {
            isFloat = true
            take()
            while let c = peek(), Self.isDecimalDigit(c) || c == "_" { take() }
        }
        if let e = peek(), e == "e" || e == "E" {
            isFloat = true
            take()
            if let sign = peek(), sign == "+" || sign == "-" { take() }
            var digits = 0
            while let c = peek(), Self.isDecimalDigit(c) || c == "_" {
                take()
                digits += 1
            }
            if digits == 0 { throw error("exponent has no digits", at: start) }
        }
        if text.contains("_") {
            throw error("strconv.ParseFloat: parsing \"\(text)\": invalid syntax", at: start)
        }

        // A number directly followed by unit characters may be a duration (`1h30m`, `1.5s`, `100ms`).
        if let duration = scanDuration(after: text) { return .duration(duration) }

        if isFloat {
            guard let value = Double(text), value.isFinite else {
                throw error("strconv.ParseFloat: parsing \"\(text)\": value out of range", at: start)
            }
            return .float(value)
        }
        // Go's scanner reads a leading zero as an octal literal, so 8 and 9 are refused there.
        if text.count > 1 && text.hasPrefix("0") && text.contains(where: { $0 == "8" || $0 == "9" }) {
            throw error("invalid digit in octal literal", at: start)
        }
        guard let value = Int64(text) else {
            throw error("strconv.Atoi: parsing \"\(text)\": value out of range", at: start)
        }
        return .integer(value)
    }

    private mutating func scanDuration(after number: String) -> Int64? {
        var end = position
        var suffix = ""
        while end < scalars.count {
            let c = scalars[end]
            if c.properties.isWhitespace { break }
            guard Self.isUnicodeNumber(c) || "nsumhµdwy.".unicodeScalars.contains(c) else { break }
            suffix.unicodeScalars.append(c)
            end += 1
        }
        guard !suffix.isEmpty, let nanos = TraceQLDurationParser.parse(number + suffix) else { return nil }
        position = end
        return nanos
    }

    // MARK: Character classes (Go's unicode package)

    static func isDecimalDigit(_ scalar: Unicode.Scalar) -> Bool { scalar >= "0" && scalar <= "9" }

    static func isIdentifierStart(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == "_" { return true }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isUnicodeDigit(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .decimalNumber
    }

    static func isUnicodeNumber(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }
}

/// Durations as Tempo reads them: Prometheus syntax first (`1y2w3d4h5m6s7ms`, units in that order),
/// then Go's time.ParseDuration (`1.5h`, `300us`, `2h45m`). Nanoseconds; nil when neither accepts it.
enum TraceQLDurationParser {
    static func parse(_ text: String) -> Int64? {
        prometheus(text) ?? go(text)
    }

    private static func prometheus(_ text: String) -> Int64? {
        if text == "0" { return 0 }
        let units: [(String, Int64)] = [
            ("y", 365 * 86_400_000_000_000), ("w", 7 * 86_400_000_000_000), ("d", 86_400_000_000_000),
            ("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000), ("ms", 1_000_000),
        ]
        let chars = Array(text.unicodeScalars)
        guard !chars.isEmpty else { return nil }
        var index = 0
        var nextUnit = 0
        var total: Int64 = 0
        while index < chars.count {
            var value: Int64 = 0
            let digitsStart = index
            while index < chars.count, TraceQLLexer.isDecimalDigit(chars[index]) {
                let (product, overflow) = value.multipliedReportingOverflow(by: 10)
                let (sum, sumOverflow) = product.addingReportingOverflow(Int64(chars[index].value - 48))
                guard !overflow, !sumOverflow else { return nil }
                value = sum
                index += 1
            }
            guard index > digitsStart, index < chars.count else { return nil }
            var unitText = String(chars[index])
            if chars[index] == "m", index + 1 < chars.count, chars[index + 1] == "s" { unitText = "ms" }
            index += unitText.unicodeScalars.count
            guard let found = units[nextUnit...].firstIndex(where: { $0.0 == unitText }) else { return nil }
            nextUnit = found + 1
            let (scaled, overflow) = value.multipliedReportingOverflow(by: units[found].1)
            guard !overflow else { return nil }
            let (sum, sumOverflow) = total.addingReportingOverflow(scaled)
            guard !sumOverflow else { return nil }
            total = sum
        }
        return total
    }

    private static func go(_ text: String) -> Int64? {
        var chars = Array(text.unicodeScalars)[...]
        var negative = false
        if let sign = chars.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            chars = chars.dropFirst()
        }
        if chars.elementsEqual("0".unicodeScalars) { return 0 }
        guard !chars.isEmpty else { return nil }
        let units: [String: UInt64] = [
            "ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
            "m": 60_000_000_000, "h": 3_600_000_000_000,
        ]
        let limit: UInt64 = 1 << 63
        var total: UInt64 = 0
        while !chars.isEmpty {
            guard let first = chars.first, first == "." || TraceQLLexer.isDecimalDigit(first) else { return nil }
            var whole: UInt64 = 0
            var sawWhole = false
            while let c = chars.first, TraceQLLexer.isDecimalDigit(c) {
                guard whole <= (limit - 1) / 10 else { return nil }
                whole = whole * 10 + UInt64(c.value - 48)
                guard whole <= limit else { return nil }
                sawWhole = true
                chars = chars.dropFirst()
            }
            var fraction: UInt64 = 0
            var scale = 1.0
            var sawFraction = false
            if chars.first == "." {
                chars = chars.dropFirst()
                var overflowed = false
                while let c = chars.first, TraceQLLexer.isDecimalDigit(c) {
                    sawFraction = true
                    if !overflowed {
                        if fraction > (UInt64.max - 9) / 10 {
                            overflowed = true
                        } else {
                            fraction = fraction * 10 + UInt64(c.value - 48)
                            scale *= 10
                        }
                    }
                    chars = chars.dropFirst()
                }
            }
            guard sawWhole || sawFraction else { return nil }
            var unit = ""
            while let c = chars.first, c != ".", !TraceQLLexer.isDecimalDigit(c) {
                unit.unicodeScalars.append(c)
                chars = chars.dropFirst()
            }
            guard let multiplier = units[unit] else { return nil }
            guard whole <= limit / multiplier else { return nil }
            var value = whole * multiplier
            if fraction > 0 {
                value += UInt64(Double(fraction) * (Double(multiplier) / scale))
                guard value <= limit else { return nil }
            }
            let (sum, overflow) = total.addingReportingOverflow(value)
            guard !overflow, sum <= limit else { return nil }
            total = sum
        }
        if negative { return total == limit ? Int64.min : -Int64(total) }
        guard total < limit else { return nil }
        return Int64(total)
    }
}
