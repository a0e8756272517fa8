/// What the parser needs to know about the regular expressions of `=~` and `!~` matchers, which use
/// RE2 syntax (Go's regexp with Perl flags, `.` matching newlines) and match whole values:
/// whether a pattern is valid, with Go's error message, and whether it matches the empty string
/// (Prometheus refuses selectors whose matchers all match the empty value).
///
/// This is a syntax checker, not a matcher: the evaluator brings its own regex engine.
enum PromQLRegexSyntax {
    /// nil when the pattern is valid, else the message Prometheus gives (`error parsing regexp: …`).
    static func validate(_ pattern: String) -> String? {
        var scanner = Scanner(pattern)
        do {
            _ = try scanner.parse()
            return nil
        } catch {
            return "error parsing regexp: \(error.code): `\(error.text)`"
        }
    }

    /// Whether the (whole-value) pattern matches "". Invalid patterns are treated as not matching.
    static func matchesEmpty(_ pattern: String) -> Bool {
        var scanner = Scanner(pattern)
        return (try? scanner.parse()) ?? false
    }

    struct SyntaxError: Error {
        var code: String
        var text: String
    }

    /// A recursive-descent reader of RE2 syntax whose parse functions return whether the part read can
    /// match the empty string.
    private struct Scanner {
        let characters: [Character]
        let pattern: String
        var index = 0
        var depth = 0

        init(_ pattern: String) {
            self.pattern = pattern
            self.characters = Array(pattern.unicodeScalars.map { Character($0) })
        }

        var atEnd: Bool { index >= characters.count }
        var current: Character? { atEnd ? nil : characters[index] }

        func text(_ range: Range<Int>) -> String {
            String(characters[max(0, range.lowerBound)..<min(characters.count, range.upperBound)])
        }

        func rest(from start: Int) -> String { text(start..<characters.count) }

        mutating func parse() throws(SyntaxError) -> Bool {
            let nullable = try parseAlternation()
            if !atEnd {
                // Only a stray ")" stops an alternation at the top level.
                throw SyntaxError(code: "unexpected )", text: pattern)
            }
            return nullable
        }

        mutating func parseAlternation() throws(SyntaxError) -> Bool {
            var nullable = try parseConcatenation()
            while current == "|" {
                index += 1
                let branch = try parseConcatenation()
                nullable = nullable || branch
            }
            return nullable
        }

        mutating func parseConcatenation() throws(SyntaxError) -> Bool {
            var allNullable = true
            // The last atom that a repetition operator may apply to, and whether it is nullable.
            var lastAtom: Bool?
            // Where the last repetition operator started, to report nested repetitions.
            var lastRepeatStart: Int?
            while let character = current, character != "|", character != ")" {
                if let repeatEnd = repetitionEnd(at: index) {
                    let start = index
                    let operatorText = text(start..<repeatEnd)
                    guard let atom = lastAtom else {
                        if let previous = lastRepeatStart {
                            throw SyntaxError(
                                code: "invalid nested repetition operator", text: text(previous..<repeatEnd))
                        }
                        throw SyntaxError(code: "missing argument to repetition operator", text: operatorText)
                    }
                    var minimum = 1
                    switch character {
                    case "*", "?": minimum = 0
                    case "+": minimum = 1
                    default:
                        let (low, high) = repeatBounds(start..<repeatEnd)
                        if low > 1000 || (high ?? 0) > 1000 || (high.map { $0 < low } ?? false) {
                            throw SyntaxError(code: "invalid repeat count", text: operatorText)
                        }
                        minimum = low
                    }
                    index = repeatEnd
                    if current == "?" { index += 1 }  // non-greedy
                    allNullable = allNullable && (minimum == 0 || atom)
                    lastAtom = nil
                    lastRepeatStart = start
                    continue
                }
                if let atom = lastAtom { allNullable = allNullable && atom }
                lastRepeatStart = nil
                lastAtom = try parseAtom()
            }
            if let atom = lastAtom { allNullable = allNullable && atom }
            return allNullable
        }

        /// The end of a repetition operator starting at `position`, if there is one there.
        func repetitionEnd(at position: Int) -> Int? {
            guard position < characters.count else { return nil }
            switch characters[position] {
            case "*", "+", "?": return position + 1
            case "{":
                var cursor = position + 1
                var sawDigit = false
                while cursor < characters.count, characters[cursor].isASCII, characters[cursor].isNumber {
                    cursor += 1
                    sawDigit = true
                }
                guard sawDigit, cursor < characters.count else { return nil }
                if characters[cursor] == "," {
                    cursor += 1
                    while cursor < characters.count, characters[cursor].isASCII, characters[cursor].isNumber {
                        cursor += 1
                    }
                }
                guard cursor < characters.count, characters[cursor] == "}" else { return nil }
                return cursor + 1
            default:
                return nil
            }
        }

        func repeatBounds(_ range: Range<Int>) -> (Int, Int?) {
            let inner = text((range.lowerBound + 1)..<(range.upperBound - 1))
            let parts = inner.split(separator: ",", omittingEmptySubsequences: false)
            let low = Int(parts[0].prefix(6)) ?? Int.max
            if parts.count == 1 { return (low, low) }
            if parts[1].isEmpty { return (low, nil) }
            return (low, Int(parts[1].prefix(6)) ?? Int.max)
        }

        /// One atom; returns whether it matches "". Flag-only groups like `(?i)` return nil atoms in RE2; they
        /// are reported as nullable atoms here, which is the same for the empty-match question.
        mutating func parseAtom() throws(SyntaxError) -> Bool? {
            let character = characters[index]
            switch character {
            case "(":
                return try parseGroup()
            case "[":
                try parseClass()
                return false
            case "\\":
                return try parseEscape()
            case "^", "$":
                index += 1
                return true
            default:
                index += 1
                return false
            }
        }

        mutating func parseGroup() throws(SyntaxError) -> Bool? {
            let start = index
            index += 1
            depth += 1
            defer { depth -= 1 }
            if depth > 1000 { throw SyntaxError(code: "expression nests too deeply", text: pattern) }
            if current == "?" {
                index += 1
                if current == "P" || current == "<" {
                    if current == "P" {
                        index += 1
                        guard current == "<" else {
                            throw SyntaxError(code: "invalid or unsupported Perl syntax", text: text(start..<index + 1))
                        }
                    }
                    index += 1
                    let nameStart = index
                    while let c = current, c != ">" { index += 1 }
                    guard current == ">" else { throw SyntaxError(code: "invalid named capture", text: rest(from: start)) }
                    let name = text(nameStart..<index)
                    if name.isEmpty || !name.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }) {
                        throw SyntaxError(code: "invalid named capture", text: text(start..<index + 1))
                    }
                    index += 1
                } else {
                    // Flags: (?flags) or (?flags:re), flags from "imsU" with an optional "-".
                    var sawFlag = false
                    var sawMinus = false
                    while let c = current {
                        if "imsU".contains(c) {
                            sawFlag = true
                            index += 1
                        } else if c == "-" && !sawMinus {
                            sawMinus = true
                            sawFlag = false
                            index += 1
                        } else if c == ")" {
                            if sawMinus && !sawFlag {
                                throw SyntaxError(code: "invalid or unsupported Perl syntax", text: text(start..<index + 1))
                            }
                            index += 1
                            return nil
                        } else if c == ":" {
                            if sawMinus && !sawFlag {
                                throw SyntaxError(code: "invalid or unsupported Perl syntax", text: text(start..<index + 1))
                            }
                            index += 1
                            break
                        } else {
                            throw SyntaxError(code: "invalid or unsupported Perl syntax", text: text(start..<index + 1))
                        }
                    }
                    if atEnd { throw SyntaxError(code: "missing closing )", text: pattern) }
                }
            }
            let nullable = try parseAlternation()
            guard current == ")" else { throw SyntaxError(code: "missing closing )", text: pattern) }
            index += 1
            return nullable
        }

        mutating func parseClass() throws(SyntaxError) {
            let start = index
            index += 1
            if current == "^" { index += 1 }
            var first = true
            while true {
                guard let c = current else { throw SyntaxError(code: "missing closing ]", text: rest(from: start)) }
                if c == "]" && !first { break }
                first = false
                if c == "[" && index + 1 < characters.count && characters[index + 1] == ":" {
                    // [:name:]
                    let nameStart = index
                    var cursor = index + 2
                    while cursor + 1 < characters.count, !(characters[cursor] == ":" && characters[cursor + 1] == "]") {
                        cursor += 1
                    }
                    if cursor + 1 < characters.count {
                        let name = text((nameStart + 2)..<cursor)
                        let names: Set<String> = [
                            "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
                            "space", "upper", "word", "xdigit",
                        ]
                        let plain = name.hasPrefix("^") ? String(name.dropFirst()) : name
                        guard names.contains(plain) else {
                            throw SyntaxError(code: "invalid character class range", text: text(nameStart..<cursor + 2))
                        }
                        index = cursor + 2
                        continue
                    }
                }
                let lowStart = index
                let low = try classCharacter()
                if current == "-", index + 1 < characters.count, characters[index + 1] != "]" {
                    index += 1
                    let high = try classCharacter()
                    if let low, let high, high.unicodeScalars.first!.value < low.unicodeScalars.first!.value {
                        throw SyntaxError(code: "invalid character class range", text: text(lowStart..<index))
                    }
                }
            }
            index += 1
        }

        /// One character of a class (nil for a class escape such as `\d`).
        mutating func classCharacter() throws(SyntaxError) -> Character? {
            let c = characters[index]
            if c != "\\" {
                index += 1
                return c
            }
            return try escapedCharacter(inClass: true)
        }

        mutating func parseEscape() throws(SyntaxError) -> Bool {
            guard index + 1 < characters.count else {
                throw SyntaxError(code: "trailing backslash at end of expression", text: "")
            }
            switch characters[index + 1] {
            case "A", "z", "B":
                index += 2
                return true
            case "b":
                index += 2
                return false
            case "Q":
                index += 2
                var literal = false
                while index < characters.count {
                    if characters[index] == "\\", index + 1 < characters.count, characters[index + 1] == "E" {
                        index += 2
                        return !literal
                    }
                    literal = true
                    index += 1
                }
                return !literal
            default:
                _ = try escapedCharacter(inClass: false)
                return false
            }
        }

        /// Reads `\x` forms that stand for a character or a class; returns the character when it is one.
        mutating func escapedCharacter(inClass: Bool) throws(SyntaxError) -> Character? {
            let start = index
            guard index + 1 < characters.count else {
                throw SyntaxError(code: "trailing backslash at end of expression", text: "")
            }
            let c = characters[index + 1]
            index += 2
            switch c {
            case "d", "D", "s", "S", "w", "W":
                return nil
            case "p", "P":
                if current == "{" {
                    while let next = current, next != "}" { index += 1 }
                    guard current == "}" else {
                        throw SyntaxError(code: "invalid character class range", text: rest(from: start))
                    }
                    index += 1
                } else if !atEnd {
                    index += 1
                } else {
                    throw SyntaxError(code: "invalid character class range", text: rest(from: start))
                }
                return nil
            case "a": return "\u{07}"
            case "f": return "\u{0C}"
            case "n": return "\n"
            case "r": return "\r"
            case "t": return "\t"
            case "v": return "\u{0B}"
            case "0"..."7":
                if c != "0", !(current.map { $0 >= "0" && $0 <= "7" } ?? false) {
                    throw SyntaxError(code: "invalid escape sequence", text: text(start..<index))
                }
                var value = UInt32(c.asciiValue! - 48)
                var count = 1
                while count < 3, let next = current, next >= "0", next <= "7" {
                    value = value * 8 + UInt32(next.asciiValue! - 48)
                    index += 1
                    count += 1
                }
                return Character(Unicode.Scalar(value)!)
            case "x":
                if current == "{" {
                    index += 1
                    var value: UInt32 = 0
                    var digits = 0
                    while let next = current, let digit = next.hexDigitValue {
                        value = value &* 16 &+ UInt32(digit)
                        digits += 1
                        index += 1
                    }
                    guard current == "}", digits > 0, value <= 0x10FFFF, let scalar = Unicode.Scalar(value) else {
                        throw SyntaxError(code: "invalid escape sequence", text: text(start..<index + 1))
                    }
                    index += 1
                    return Character(scalar)
                }
                guard index + 1 < characters.count, let high = characters[index].hexDigitValue,
                    let low = characters[index + 1].hexDigitValue
                else {
                    throw SyntaxError(code: "invalid escape sequence", text: text(start..<min(index + 2, characters.count)))
                }
                index += 2
                return Character(Unicode.Scalar(UInt8(high * 16 + low)))
            default:
                if c.isASCII && !(c.isLetter || c.isNumber) { return c }
                throw SyntaxError(code: "invalid escape sequence", text: text(start..<index))
            }
        }
    }
}
