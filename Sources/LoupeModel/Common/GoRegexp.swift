/// Go's regexp as Loki's templates and OTTL use it, on Swift's Regex: matching runs on Unicode
/// scalars (Go matches runes, not grapheme clusters) with ASCII `\d \w \s \b` as in RE2; matches
/// are iterated as Go does (an empty match right after the previous one is skipped); `$1`, `${1}`,
/// `$name`, `${name}` and `$$` expand as `Regexp.Expand` does. What RE2 refuses is each caller's to
/// check first: they report it differently.
///
/// Swift's Regex is not Sendable; this one is exercised once when built, so its program is lowered
/// before it is shared, and it is only read from then on.
public final class GoRegexp: @unchecked Sendable {
    public let pattern: String
    public let regex: Regex<AnyRegexOutput>

    /// Throws Swift's error for a pattern it cannot compile.
    public init(_ pattern: String) throws {
        let regex = try Regex(pattern)
            .matchingSemantics(.unicodeScalar)
            .asciiOnlyCharacterClasses()
            .wordBoundaryKind(.simple)
        _ = "".firstMatch(of: regex)
        self.pattern = pattern
        self.regex = regex
    }

    /// `MatchString`: a match anywhere in the text.
    public func matches(_ text: String) -> Bool {
        (try? regex.firstMatch(in: text)) != nil
    }

    /// `FindAllStringIndex(s, -1)`, counted.
    public func countMatches(in text: String) -> Int { goMatches(in: text).count }

    /// `ReplaceAllString` (references expanded) or, with `literal`, `ReplaceAllLiteralString`.
    public func replaceAll(in text: String, with template: String, literal: Bool = false) -> String {
        let matches = goMatches(in: text)
        if matches.isEmpty { return text }
        let scalars = text.unicodeScalars
        var output = ""
        var copiedUpTo = scalars.startIndex
        for match in matches {
            output.unicodeScalars.append(contentsOf: scalars[copiedUpTo..<match.range.lowerBound])
            if literal {
                output += template
            } else {
                expand(template, match: match, in: scalars, into: &output)
            }
            copiedUpTo = match.range.upperBound
        }
        output.unicodeScalars.append(contentsOf: scalars[copiedUpTo...])
        return output
    }

    private func goMatches(in text: String) -> [Regex<AnyRegexOutput>.Match] {
        var accepted: [Regex<AnyRegexOutput>.Match] = []
        var previousEnd: String.Index?
        for match in text.matches(of: regex) {
            if match.range.isEmpty, let previousEnd, match.range.lowerBound == previousEnd { continue }
            accepted.append(match)
            previousEnd = match.range.upperBound
        }
        return accepted
    }

    private func expand(_ template: String, match: Regex<AnyRegexOutput>.Match, in scalars: String.UnicodeScalarView, into output: inout String) {
        let characters = Array(template.unicodeScalars)
        var index = 0
        while index < characters.count {
            let scalar = characters[index]
            index += 1
            guard scalar == "$" else {
                output.unicodeScalars.append(scalar)
                continue
            }
            if index < characters.count, characters[index] == "$" {
                output += "$"
                index += 1
                continue
            }
            // A malformed reference leaves the dollar as text, as Go's Expand does.
            guard let (name, next) = Self.reference(in: characters, from: index) else {
                output += "$"
                continue
            }
            index = next
            if let range = Self.groupRange(name, in: match) {
                output.unicodeScalars.append(contentsOf: scalars[range])
            }
        }
    }

    /// `name` or `{name}`, a name being letters, digits and underscores (Unicode letters and digits,
    /// as Go's); the longest such run counts, so `$1x` names group "1x" (write `${1}x`).
    private static func reference(in characters: [Unicode.Scalar], from start: Int) -> (String, Int)? {
        var index = start
        guard index < characters.count else { return nil }
        let braced = characters[index] == "{"
        if braced { index += 1 }
        let nameStart = index
        while index < characters.count, isNameScalar(characters[index]) { index += 1 }
        guard index > nameStart else { return nil }
        var name = ""
        name.unicodeScalars.append(contentsOf: characters[nameStart..<index])
        if braced {
            guard index < characters.count, characters[index] == "}" else { return nil }
            index += 1
        }
        return (name, index)
    }

    /// Go's `unicode.IsLetter || unicode.IsDigit || '_'`.
    private static func isNameScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value < 0x80 {
            return ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_"
        }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber: return true
        default: return false
        }
    }

    /// A number without leading zeros is a group index; anything else the first group of that name.
    private static func groupRange(_ name: String, in match: Regex<AnyRegexOutput>.Match) -> Range<String.Index>? {
        let output = match.output
        if name.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }), !(name.unicodeScalars.count > 1 && name.hasPrefix("0")) {
            guard name.unicodeScalars.count <= 9, let number = Int(name) else { return nil }
            return number < output.count ? output[number].range : nil
        }
        for group in output where group.name == name { return group.range }
        return nil
    }
}
