/// LogQL's `| regexp "<re>"` stage: each named group of a Go RE2 regular expression becomes a label.
///
/// Follows Loki v3 (pkg/logql/log/parser.go `RegexpParser`): the regex must have at least one named group
/// (`(?P<name>re)` or `(?<name>re)`), names must be unique, the first match anywhere in the line is used
/// (unanchored), a group that did not take part in the match gives an empty value, and a line that does
/// not match gives no labels and no error. Group names are sanitized (`(?P<1x>.)` gives `_1x`).
public struct RegexpLineParser: Sendable {
    private let compiled: CompiledLineRegex
    /// For each capturing group in order, its sanitized label name, or nil for an unnamed group.
    private let groupLabels: [String?]

    public init(_ regex: String) throws(LogQLStageError) {
        let translated = try GoRegexTranslator.translate(regex)
        if translated.groupNames.isEmpty {
            throw LogQLStageError("at least one named capture must be supplied")
        }
        var seen: Set<String> = []
        for case let name? in translated.groupNames where !seen.insert(name).inserted {
            throw LogQLStageError("duplicate extracted label name '\(name)'")
        }
        guard !seen.isEmpty else {
            throw LogQLStageError("at least one named capture must be supplied")
        }
        compiled = try CompiledLineRegex(translated.pattern, source: regex)
        // Distinct names can sanitize alike (`1a`, `_1a`); the first group keeps the label, as Loki skips a
        // name it already extracted (even when that group matched nothing).
        var labels: Set<String> = []
        groupLabels = translated.groupNames.map { name in
            guard let label = name.map(LogQLLabelName.sanitize), labels.insert(label).inserted else { return nil }
            return label
        }
    }

    public func parse(_ line: String) -> LogLineParseOutcome {
        guard let match = compiled.firstMatch(in: line) else { return LogLineParseOutcome() }
        var outcome = LogLineParseOutcome()
        // Element 0 is the whole match; the groups follow in order.
        for (group, label) in groupLabels.enumerated() {
            guard let label, group + 1 < match.count else { continue }
            let value = match[group + 1].substring.map(String.init) ?? ""
            outcome.labels.append(LogQLExtractedLabel(name: label, value: value))
        }
        return outcome
    }
}

/// A Swift regex built from a translated Go pattern, with the options that give RE2's semantics: matching
/// by Unicode scalar (as Go matches runes, not grapheme clusters) and ASCII-only `\d`, `\w`, `\b`.
struct CompiledLineRegex: @unchecked Sendable {
    // Regex is immutable after creation and only used for matching.
    private let regex: Regex<AnyRegexOutput>

    init(_ translatedPattern: String, source: String) throws(LogQLStageError) {
        do {
            regex = try Regex(translatedPattern)
                .matchingSemantics(.unicodeScalar)
                .asciiOnlyDigits()
                .asciiOnlyWordCharacters()
                .wordBoundaryKind(.simple)
        } catch {
            throw LogQLStageError("error parsing regexp: \(error): `\(source)`")
        }
    }

    func firstMatch(in line: String) -> AnyRegexOutput? {
        (try? regex.firstMatch(in: line))?.output
    }

    func matches(_ line: String) -> Bool {
        (try? regex.firstMatch(in: line)) != nil
    }
}

/// Translates Go RE2 syntax into Swift Regex syntax, and lists the capturing groups.
///
/// Swift's regex syntax is a superset of RE2's with a few different meanings, which this rewrites:
/// - named groups become plain capturing groups (their names are tracked here, so Swift's own rules on
///   names and duplicates do not apply and Loki's checks give Loki's messages);
/// - `.` excludes only `\n` in Go (Swift also excludes `\r` and other line breaks) unless `s` is set;
/// - `\s` is `[\t\n\f\r ]` and `\v` the vertical tab in Go (Swift: wider classes);
/// - `\pL` (one-letter class) is `\p{L}`; `\C` is any character; `\Q...\E` is quoted literally;
/// - `{` that does not start a repetition (`a{,2}`, `{x}`) is a literal in Go, a quantifier in Swift;
/// - in a bracket expression `[` is literal unless it starts `[:class:]`, `&`, `~` are literal, and
///   `[:word:]` means `[0-9A-Za-z_]`.
/// Constructs RE2 rejects are rejected with Go's messages: lookaround, atomic groups, backreferences,
/// unknown escapes, unknown flags, possessive and nested repetitions, unbalanced parentheses and brackets.
enum GoRegexTranslator {
    struct Translation {
        let pattern: String
        /// One entry per capturing group, in order: its name, or nil for an unnamed group.
        let groupNames: [String?]
    }

    static func translate(_ source: String) throws(LogQLStageError) -> Translation {
        var translator = Translator(source)
        try translator.run()
        return Translation(pattern: translator.output, groupNames: translator.groupNames)
    }

    private struct Translator {
        let scalars: [Unicode.Scalar]
        let source: String
        var index = 0
        var output = ""
        var groupNames: [String?] = []
        /// Whether `s` (dot matches newline) is on, with the value to restore at each open group's end.
        var dotMatchesNewline = false
        var openGroups: [Bool] = []
        /// Whether the previous item can take a repetition operator, and whether it already has one.
        var canRepeat = false
        var lastRepetition: String?

        init(_ source: String) {
            self.source = source
            scalars = Array(source.unicodeScalars)
        }

        func error(_ code: String, _ fragment: String) -> LogQLStageError {
            LogQLStageError("error parsing regexp: \(code): `\(fragment)`")
        }

        func peek(_ offset: Int = 0) -> Unicode.Scalar? {
            index + offset < scalars.count ? scalars[index + offset] : nil
        }

        func text(_ range: Range<Int>) -> String {
            var text = String.UnicodeScalarView()
            text.append(contentsOf: scalars[max(0, range.lowerBound)..<min(scalars.count, range.upperBound)])
            return String(text)
        }

        mutating func run() throws(LogQLStageError) {
            while let scalar = peek() {
                switch scalar {
                case "\\":
                    try translateEscape()
                case "[":
                    try translateBracketExpression()
                    markAtom()
                case "(":
                    try openGroup()
                case ")":
                    guard let restored = openGroups.popLast() else { throw error("unexpected )", source) }
                    dotMatchesNewline = restored
                    output += ")"
                    index += 1
                    markAtom()
                case "|":
                    output += "|"
                    index += 1
                    canRepeat = false
                    lastRepetition = nil
                case ".":
                    output += dotMatchesNewline ? "(?s:.)" : "[^\\n]"
                    index += 1
                    markAtom()
                case "*", "+", "?":
                    try repetition(String(scalar), length: 1)
                case "{":
                    if let length = repeatLength() {
                        try repetition(text(index..<index + length), length: length)
                    } else {
                        output += "\\{"
                        index += 1
                        markAtom()
                    }
                case "}":
                    output += "\\}"
                    index += 1
                    markAtom()
                case "^", "$":
                    output.unicodeScalars.append(scalar)
                    index += 1
                    markAtom()
                default:
                    appendLiteral(scalar)
                    index += 1
                    markAtom()
                }
            }
            if !openGroups.isEmpty { throw error("missing closing )", source) }
        }

        mutating func markAtom() {
            canRepeat = true
            lastRepetition = nil
        }

        mutating func appendLiteral(_ scalar: Unicode.Scalar) {
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", " ", "_":
                output.unicodeScalars.append(scalar)
            case "!"..."~":
                // ASCII punctuation, escaped so that none keeps a Swift-only meaning (`#`, `&`, `~`, ...).
                output += "\\"
                output.unicodeScalars.append(scalar)
            default:
                // Control characters and everything beyond ASCII, by code point.
                output += "\\x{\(String(scalar.value, radix: 16))}"
            }
        }

        /// `*`, `+`, `?` or `{n,m}`, optionally followed by `?` for the non-greedy form.
        mutating func repetition(_ operatorText: String, length: Int) throws(LogQLStageError) {
            if let lastRepetition {
                throw error("invalid nested repetition operator", lastRepetition + operatorText)
            }
            guard canRepeat else { throw error("missing argument to repetition operator", operatorText) }
            if operatorText.hasPrefix("{") {
                // Go caps counts at 1000 and requires min <= max; an overflowing count is over the cap too.
                let counts = operatorText.dropFirst().dropLast().split(separator: ",", omittingEmptySubsequences: false)
                let minimum = Int(counts[0]) ?? .max
                let maximum = counts.count == 2 ? (counts[1].isEmpty ? nil : Int(counts[1]) ?? .max) : minimum
                if minimum > 1000 || (maximum ?? 0) > 1000 || maximum.map({ $0 < minimum }) == true {
                    throw error("invalid repeat count", operatorText)
                }
            }
            output += operatorText
            index += length
            var full = operatorText
            if peek() == "?" {
                output += "?"
                full += "?"
                index += 1
            }
            lastRepetition = full
        }

        /// The length of a Go repetition `{n}`, `{n,}` or `{n,m}` starting at `index`, or nil for a literal `{`.
        func repeatLength() -> Int? {
            var offset = 1
            var digits = 0
            while let scalar = peek(offset), ("0"..."9").contains(scalar) {
                digits += 1
                offset += 1
            }
            guard digits > 0 else { return nil }
            if peek(offset) == "," {
                offset += 1
                while let scalar = peek(offset), ("0"..."9").contains(scalar) { offset += 1 }
            }
            guard peek(offset) == "}" else { return nil }
            return offset + 1
        }

        mutating func openGroup() throws(LogQLStageError) {
            let start = index
            guard peek(1) == "?" else {
                openGroups.append(dotMatchesNewline)
                groupNames.append(nil)
                output += "("
                index += 1
                canRepeat = false
                lastRepetition = nil
                return
            }
            var nameStart: Int?
            if peek(2) == "P" && peek(3) == "<" {
                nameStart = start + 4
            } else if peek(2) == "<" && peek(3) != "=" && peek(3) != "!" {
                nameStart = start + 3
            }
            if let nameStart {
                guard let close = scalars[nameStart...].firstIndex(of: ">") else {
                    throw error("invalid named capture", text(start..<scalars.count))
                }
                let name = text(nameStart..<close)
                guard !name.isEmpty, name.unicodeScalars.allSatisfy({ $0.isASCII && LogQLLabelName.isNameByte(UInt8($0.value)) }) else {
                    throw error("invalid named capture", text(start..<close + 1))
                }
                openGroups.append(dotMatchesNewline)
                groupNames.append(name)
                output += "("
                index = close + 1
                canRepeat = false
                lastRepetition = nil
                return
            }
            // Flags: (?flags) or (?flags:re), flags among i, m, s, U, optionally negated after `-`.
            var cursor = start + 2
            var negated = false
            var sawFlag = false
            var dotAll = dotMatchesNewline
            while let scalar = cursor < scalars.count ? scalars[cursor] : nil {
                switch scalar {
                case "i", "m", "U":
                    sawFlag = true
                case "s":
                    sawFlag = true
                    dotAll = !negated
                case "-":
                    guard !negated else { throw error("invalid or unsupported Perl syntax", text(start..<cursor + 1)) }
                    negated = true
                    sawFlag = false
                case ":", ")":
                    // Go rejects an empty negation such as `(?i-)`.
                    if negated && !sawFlag { throw error("invalid or unsupported Perl syntax", text(start..<cursor + 1)) }
                    // Go accepts `(?)`, which Swift does not; it changes nothing.
                    output += cursor == start + 2 ? (scalar == ":" ? "(?:" : "") : text(start..<cursor + 1)
                    index = cursor + 1
                    if scalar == ":" {
                        openGroups.append(dotMatchesNewline)
                        dotMatchesNewline = dotAll
                    } else {
                        // A flag group changes the flags until the end of the enclosing group.
                        dotMatchesNewline = dotAll
                    }
                    canRepeat = false
                    lastRepetition = nil
                    return
                default:
                    throw error("invalid or unsupported Perl syntax", text(start..<cursor + 1))
                }
                cursor += 1
            }
            throw error("missing closing )", source)
        }

        mutating func translateEscape() throws(LogQLStageError) {
            guard let escaped = peek(1) else {
                throw error("trailing backslash at end of expression", "")
            }
            if escaped == "Q" {
                // Literal text up to \E or the end.
                index += 2
                while let scalar = peek() {
                    if scalar == "\\" && peek(1) == "E" {
                        index += 2
                        break
                    }
                    appendLiteral(scalar)
                    index += 1
                    markAtom()
                }
                return
            }
            let isAssertion = ["A", "z", "b", "B"].contains(escaped)
            output += try escapeTranslation(insideBracket: false)
            if isAssertion {
                canRepeat = true
                lastRepetition = nil
            } else {
                markAtom()
            }
        }

        /// Translates the escape at `index` (a backslash) and moves past it.
        mutating func escapeTranslation(insideBracket: Bool) throws(LogQLStageError) -> String {
            let start = index
            guard let escaped = peek(1) else {
                throw error("trailing backslash at end of expression", "")
            }
            index += 2
            switch escaped {
            case "a", "f", "t", "n", "r", "d", "D", "w", "W":
                return "\\\(escaped)"
            case "A", "z", "b", "B":
                guard !insideBracket else { throw error("invalid escape sequence", text(start..<index)) }
                return "\\\(escaped)"
            case "v":
                return "\\x{0B}"
            case "s":
                return insideBracket ? "\\t\\n\\f\\r " : "[\\t\\n\\f\\r ]"
            case "S":
                return insideBracket ? "\\S" : "[^\\t\\n\\f\\r ]"
            case "C":
                guard !insideBracket else { throw error("invalid escape sequence", text(start..<index)) }
                return "(?s:.)"
            case "0"..."7":
                // Octal: \0 alone, or up to three digits; a single non-zero digit would be a backreference.
                var digits = String(escaped)
                while digits.count < 3, let next = peek(), ("0"..."7").contains(next) {
                    digits.unicodeScalars.append(next)
                    index += 1
                }
                if escaped != "0" && digits.count == 1 {
                    throw error("invalid escape sequence", text(start..<index))
                }
                return "\\x{\(String(Int(digits, radix: 8)!, radix: 16))}"
            case "8", "9":
                throw error("invalid escape sequence", text(start..<index))
            case "x":
                if peek() == "{" {
                    guard let close = scalars[index...].firstIndex(of: "}"),
                          close > index + 1,
                          let value = UInt32(text(index + 1..<close), radix: 16), Unicode.Scalar(value) != nil
                    else { throw error("invalid escape sequence", text(start..<min(scalars.count, index + 1))) }
                    index = close + 1
                    return "\\x{\(String(value, radix: 16))}"
                }
                guard let high = peek(), let low = peek(1), high.properties.isASCIIHexDigit, low.properties.isASCIIHexDigit else {
                    throw error("invalid escape sequence", text(start..<min(scalars.count, index + 2)))
                }
                index += 2
                return "\\x{\(high)\(low)}"
            case "p", "P":
                if peek() == "{" {
                    guard let close = scalars[index...].firstIndex(of: "}") else {
                        throw error("invalid character class range", text(start..<scalars.count))
                    }
                    var name = text(index + 1..<close)
                    var negated = escaped == "P"
                    if name.hasPrefix("^") {
                        name.removeFirst()
                        negated.toggle()
                    }
                    index = close + 1
                    return "\\\(negated ? "P" : "p"){\(name)}"
                }
                guard let name = peek() else { throw error("invalid character class range", text(start..<index)) }
                index += 1
                return "\\\(escaped){\(name)}"
            default:
                // Go keeps escaped punctuation as the literal character and rejects everything else.
                guard escaped.isASCII, !escaped.properties.isAlphabetic, !("0"..."9").contains(escaped) else {
                    throw error("invalid escape sequence", text(start..<index))
                }
                return "\\\(escaped)"
            }
        }

        mutating func translateBracketExpression() throws(LogQLStageError) {
            let start = index
            output += "["
            index += 1
            if peek() == "^" {
                output += "^"
                index += 1
            }
            // A `]` right after the opening (and `^`) is a literal.
            if peek() == "]" {
                output += "\\]"
                index += 1
            }
            while let scalar = peek() {
                switch scalar {
                case "]":
                    output += "]"
                    index += 1
                    return
                case "\\":
                    output += try escapeTranslation(insideBracket: true)
                case "[":
                    if peek(1) == ":", let close = posixClassEnd() {
                        let name = text(index + 2..<close - 1)
                        switch name {
                        case "word": output += "\\w"
                        case "^word": output += "\\W"
                        default: output += text(index..<close + 1)
                        }
                        index = close + 1
                    } else {
                        output += "\\["
                        index += 1
                    }
                case "&", "~":
                    output += "\\"
                    output.unicodeScalars.append(scalar)
                    index += 1
                case "-" where peek(1) == "-":
                    // `--` is set subtraction in Swift; Go reads a range ending at `-` or a literal.
                    output += "\\-"
                    index += 1
                default:
                    output.unicodeScalars.append(scalar)
                    index += 1
                }
            }
            throw error("missing closing ]", text(start..<scalars.count))
        }

        /// For `[:name:]` at `index`, the index of its closing `]`.
        func posixClassEnd() -> Int? {
            var cursor = index + 2
            while cursor + 1 < scalars.count {
                if scalars[cursor] == ":" && scalars[cursor + 1] == "]" { return cursor + 1 }
                guard scalars[cursor] == "^" || scalars[cursor].properties.isAlphabetic else { return nil }
                cursor += 1
            }
            return nil
        }
    }
}
