import LoupeModel

/// A regular expression argument, compiled when the statement is parsed. OTTL runs Go's RE2: this is
/// Swift's Regex with RE2's semantics where they differ (matching by Unicode scalar, as Go matches
/// runes; ASCII-only `\d \w \s \b`), and what RE2 refuses (lookaround, backreferences, atomic groups)
/// is refused here too, so a pattern accepted here also starts in the OpenTelemetry Collector.
final class OTTLRegex: Sendable {
    let regexp: GoRegexp
    var pattern: String { regexp.pattern }

    private init(_ regexp: GoRegexp) { self.regexp = regexp }

    /// The compiled pattern, or why it is refused.
    static func compile(_ pattern: String) -> Result<OTTLRegex, OTTLPatternError> {
        if let refusal = unsupportedSyntax(pattern) { return .failure(refusal) }
        do {
            return .success(OTTLRegex(try GoRegexp(pattern)))
        } catch {
            return .failure(OTTLPatternError(reason: "\(error)"))
        }
    }

    /// Go's `regexp.MatchString`: a match anywhere in the text.
    func matches(_ text: String) -> Bool { regexp.matches(text) }

    /// Go's `ReplaceAllString`: every match replaced by the template with `$1`, `${1}`, `$name` and
    /// `${name}` expanded and `$$` a dollar.
    func replaceAll(in text: String, with template: String) -> String { regexp.replaceAll(in: text, with: template) }

    /// What RE2 refuses and a backtracking engine accepts.
    private static func unsupportedSyntax(_ pattern: String) -> OTTLPatternError? {
        let scalars = Array(pattern.unicodeScalars)
        var index = 0
        var inClass = false
        var previousWasQuantifier = false
        while index < scalars.count {
            let scalar = scalars[index]
            let followsQuantifier = previousWasQuantifier
            previousWasQuantifier = false
            if scalar == "\\" {
                if !inClass, index + 1 < scalars.count {
                    let next = scalars[index + 1]
                    if ("1"..."9").contains(next) || next == "k" || next == "g" {
                        return OTTLPatternError(reason: "backreferences (\\\(next)) are not supported by RE2")
                    }
                }
                index += 2
                continue
            }
            if inClass {
                if scalar == "]" { inClass = false }
            } else if scalar == "[" {
                inClass = true
                if index + 1 < scalars.count, scalars[index + 1] == "^" { index += 1 }
                if index + 1 < scalars.count, scalars[index + 1] == "]" { index += 1 }
            } else if scalar == "(", index + 2 < scalars.count, scalars[index + 1] == "?" {
                let kind = scalars[index + 2]
                let lookbehind = kind == "<" && index + 3 < scalars.count && (scalars[index + 3] == "=" || scalars[index + 3] == "!")
                if kind == "=" || kind == "!" || kind == ">" || lookbehind {
                    return OTTLPatternError(reason: "lookaround and atomic groups are not supported by RE2")
                }
            } else if scalar == "+" && followsQuantifier {
                return OTTLPatternError(reason: "possessive quantifiers are not supported by RE2")
            } else if scalar == "*" || scalar == "+" || scalar == "?" {
                previousWasQuantifier = true
            }
            index += 1
        }
        return nil
    }
}

struct OTTLPatternError: Error, Sendable {
    var reason: String
}

/// A glob as `replace_match` takes it (gobwas/glob without separators): `*` is any text, `?` one
/// character, `[abc]`, `[a-z]` and `[!abc]` classes, `{a,b}` alternatives and `\` escapes.
struct OTTLGlob: Sendable {
    enum Token: Sendable, Equatable {
        case literal(Unicode.Scalar)
        case anyOne
        case anyRun
        case set(ranges: [ClosedRange<UInt32>], negated: Bool)
    }

    let pattern: String
    /// Each `{…}` alternative multiplied out; the glob matches when any sequence does.
    let alternatives: [[Token]]
    /// Beyond this many expansions a pattern is refused: each one costs a pass over the text.
    static let maximumAlternatives = 256

    static func compile(_ pattern: String) -> Result<OTTLGlob, OTTLPatternError> {
        var parser = GlobParser(scalars: Array(pattern.unicodeScalars))
        do {
            return .success(OTTLGlob(pattern: pattern, alternatives: try parser.sequence(stopAtComma: false)))
        } catch {
            return .failure(error)
        }
    }

    func matches(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        return alternatives.contains { Self.matches($0, scalars) }
    }

    /// Wildcard matching that remembers only the last `*`: linear in practice, quadratic at worst,
    /// never exponential.
    private static func matches(_ tokens: [Token], _ text: [Unicode.Scalar]) -> Bool {
        var tokenIndex = 0
        var textIndex = 0
        var lastStar: Int?
        var textAtLastStar = 0
        while textIndex < text.count {
            if tokenIndex < tokens.count, tokens[tokenIndex] == .anyRun {
                lastStar = tokenIndex
                textAtLastStar = textIndex
                tokenIndex += 1
            } else if tokenIndex < tokens.count, matchesOne(tokens[tokenIndex], text[textIndex]) {
                tokenIndex += 1
                textIndex += 1
            } else if let lastStar {
                tokenIndex = lastStar + 1
                textAtLastStar += 1
                textIndex = textAtLastStar
            } else {
                return false
            }
        }
        while tokenIndex < tokens.count, tokens[tokenIndex] == .anyRun { tokenIndex += 1 }
        return tokenIndex == tokens.count
    }

    private static func matchesOne(_ token: Token, _ scalar: Unicode.Scalar) -> Bool {
        switch token {
        case .literal(let literal): literal == scalar
        case .anyOne: true
        case .anyRun: false
        case .set(let ranges, let negated): ranges.contains { $0.contains(scalar.value) } != negated
        }
    }

    private struct GlobParser {
        let scalars: [Unicode.Scalar]
        var index = 0

        /// The alternatives of a sequence, up to the end, or up to `,` or `}` inside braces.
        mutating func sequence(stopAtComma: Bool) throws(OTTLPatternError) -> [[Token]] {
            var alternatives: [[Token]] = [[]]
            while index < scalars.count {
                let scalar = scalars[index]
                if stopAtComma && (scalar == "," || scalar == "}") { break }
                index += 1
                var pieces: [[Token]]
                switch scalar {
                case "*":
                    pieces = [[.anyRun]]
                case "?":
                    pieces = [[.anyOne]]
                case "[":
                    pieces = [[try characterClass()]]
                case "{":
                    pieces = try braces()
                case "\\":
                    guard index < scalars.count else { throw OTTLPatternError(reason: "trailing backslash") }
                    pieces = [[.literal(scalars[index])]]
                    index += 1
                default:
                    pieces = [[.literal(scalar)]]
                }
                guard alternatives.count * pieces.count <= OTTLGlob.maximumAlternatives else {
                    throw OTTLPatternError(reason: "more than \(OTTLGlob.maximumAlternatives) alternatives")
                }
                alternatives = alternatives.flatMap { prefix in pieces.map { prefix + $0 } }
            }
            return alternatives
        }

        private mutating func braces() throws(OTTLPatternError) -> [[Token]] {
            var options: [[Token]] = []
            while true {
                options += try sequence(stopAtComma: true)
                guard index < scalars.count else { throw OTTLPatternError(reason: "unclosed \"{\"") }
                let separator = scalars[index]
                index += 1
                if separator == "}" { return options }
            }
        }

        private mutating func characterClass() throws(OTTLPatternError) -> Token {
            var negated = false
            if index < scalars.count, scalars[index] == "!" || scalars[index] == "^" {
                negated = true
                index += 1
            }
            var ranges: [ClosedRange<UInt32>] = []
            while true {
                guard index < scalars.count else { throw OTTLPatternError(reason: "unclosed \"[\"") }
                var low = scalars[index]
                if low == "]" && !ranges.isEmpty {
                    index += 1
                    return .set(ranges: ranges, negated: negated)
                }
                index += 1
                if low == "\\" {
                    guard index < scalars.count else { throw OTTLPatternError(reason: "unclosed \"[\"") }
                    low = scalars[index]
                    index += 1
                }
                if index + 1 < scalars.count, scalars[index] == "-", scalars[index + 1] != "]" {
                    let high = scalars[index + 1]
                    index += 2
                    guard low.value <= high.value else {
                        throw OTTLPatternError(reason: "range \(low)-\(high) is reversed")
                    }
                    ranges.append(low.value...high.value)
                } else {
                    ranges.append(low.value...low.value)
                }
            }
        }
    }
}
