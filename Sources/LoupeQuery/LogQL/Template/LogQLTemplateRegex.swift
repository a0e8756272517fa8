// Go's regexp as the template functions use it (regexReplaceAll, regexReplaceAllLiteral, count), on
// Swift's Regex. Go's RE2 syntax is close to what Swift accepts; matching runs on Unicode scalars
// (Go matches runes, not grapheme clusters) with ASCII \d \w \s \b as in RE2. Iteration follows Go:
// an empty match right after the previous match is skipped, and $name/${name} expand as Regexp.Expand.
// Swift accepts more than RE2 (lookaround, backreferences); such patterns work here but fail in Loki.

extension LogQLTemplate {
    /// A compiled pattern. Swift's Regex is not Sendable; this one is built, exercised once, and then only read.
    final class CompiledRegex: @unchecked Sendable {
        let pattern: String
        let regex: Regex<AnyRegexOutput>

        private init(pattern: String, regex: Regex<AnyRegexOutput>) {
            self.pattern = pattern
            self.regex = regex
        }

        static func compile(_ pattern: String) -> Result<CompiledRegex, FunctionFailure> {
            if let unsupported = unsupportedSyntax(pattern) {
                return .failure(FunctionFailure("error parsing regexp: \(unsupported.code): `\(unsupported.expression)`"))
            }
            do {
                let regex = try Regex(pattern)
                    .matchingSemantics(.unicodeScalar)
                    .asciiOnlyCharacterClasses()
                    .wordBoundaryKind(.simple)
                // Lower the program now, so later concurrent use only reads it.
                _ = "".firstMatch(of: regex)
                return .success(CompiledRegex(pattern: pattern, regex: regex))
            } catch {
                return .failure(FunctionFailure("error parsing regexp: \(goErrorCode(for: "\(error)", pattern: pattern))"))
            }
        }

        /// RE2 rejects what a backtracking engine accepts: lookaround, atomic groups, backreferences.
        private static func unsupportedSyntax(_ pattern: String) -> (code: String, expression: String)? {
            let scalars = Array(pattern.unicodeScalars)
            var index = 0
            var inClass = false
            while index < scalars.count {
                let scalar = scalars[index]
                if scalar == "\\" {
                    if !inClass, index + 1 < scalars.count, ("1"..."9").contains(scalars[index + 1]) {
                        let octalFollows = index + 2 < scalars.count && ("0"..."7").contains(scalars[index + 2])
                        if scalars[index + 1] >= "8" || !octalFollows {
                            return ("invalid escape sequence", "\\" + String(Character(scalars[index + 1])))
                        }
                    }
                    index += 2
                    continue
                }
                if inClass {
                    if scalar == "]" { inClass = false }
                } else if scalar == "[" {
                    inClass = true
                    // A ']' right after '[' or '[^' is a literal.
                    if index + 1 < scalars.count && scalars[index + 1] == "^" { index += 1 }
                    if index + 1 < scalars.count && scalars[index + 1] == "]" { index += 1 }
                } else if scalar == "(", index + 2 < scalars.count, scalars[index + 1] == "?" {
                    let kind = scalars[index + 2]
                    if kind == "=" || kind == "!" || kind == ">" || (kind == "<" && index + 3 < scalars.count
                        && (scalars[index + 3] == "=" || scalars[index + 3] == "!")) {
                        var expression = ""
                        expression.unicodeScalars.append(contentsOf: scalars[index...(index + 2)])
                        return ("invalid or unsupported Perl syntax", expression)
                    }
                }
                index += 1
            }
            return nil
        }

        /// Go's error code for Swift's description of a pattern error, where one corresponds.
        private static func goErrorCode(for description: String, pattern: String) -> String {
            let codes: [(String, String)] = [
                ("expected ')'", "missing closing )"),
                ("closing ')' does not balance", "unexpected )"),
                ("expected ']'", "missing closing ]"),
                ("expected escape sequence", "trailing backslash at end of expression"),
                ("expected '>'", "invalid named capture"),
                ("no capture numbered", "invalid escape sequence"),
                ("range lower bound", "invalid repeat count"),
                ("must compare less than or equal", "invalid character class range"),
                ("unknown character property", "invalid character class range"),
                ("unknown group kind", "invalid or unsupported Perl syntax"),
                ("lookbehind", "invalid or unsupported Perl syntax"),
            ]
            for (swiftText, goCode) in codes where description.contains(swiftText) {
                return goCode == "trailing backslash at end of expression" ? "\(goCode): ``" : "\(goCode): `\(pattern)`"
            }
            if description.contains("quantifier") && description.contains("must appear after expression") {
                let first = pattern.unicodeScalars.first
                let code = first == "*" || first == "+" || first == "?" ? "missing argument to repetition operator" : "invalid nested repetition operator"
                return "\(code): `\(pattern)`"
            }
            return "\(description): `\(pattern)`"
        }

        /// Matches as Go's allMatches delivers them: (range, output) with empty matches adjacent to a previous match dropped.
        private func goMatches(in text: String) -> [Regex<AnyRegexOutput>.Match] {
            var accepted: [Regex<AnyRegexOutput>.Match] = []
            var previousEnd: String.Index?
            for match in text.matches(of: regex) {
                if match.range.isEmpty, let previousEnd, match.range.lowerBound == previousEnd {
                    continue
                }
                accepted.append(match)
                previousEnd = match.range.upperBound
            }
            return accepted
        }

        /// Regexp.FindAllStringIndex(s, -1) count.
        func countMatches(in text: String) -> Int {
            goMatches(in: text).count
        }

        /// Regexp.ReplaceAllString (expanding $ references) or ReplaceAllLiteralString.
        func replaceAll(in text: String, with replacement: String, literal: Bool) -> String {
            let scalars = text.unicodeScalars
            var output = ""
            var lastEnd = scalars.startIndex
            let matches = goMatches(in: text)
            if matches.isEmpty { return text }
            for match in matches {
                output.unicodeScalars.append(contentsOf: scalars[lastEnd..<match.range.lowerBound])
                if literal {
                    output += replacement
                } else {
                    expand(replacement, match: match, in: scalars, into: &output)
                }
                lastEnd = match.range.upperBound
            }
            output.unicodeScalars.append(contentsOf: scalars[lastEnd...])
            return output
        }

        /// Regexp.Expand: $1, ${1}, $name, ${name}; $$ is a dollar; a malformed reference is a literal '$'.
        private func expand(_ template: String, match: Regex<AnyRegexOutput>.Match, in scalars: String.UnicodeScalarView, into output: inout String) {
            let characters = Array(template.unicodeScalars)
            var index = 0
            while index < characters.count {
                let scalar = characters[index]
                if scalar != "$" {
                    output.unicodeScalars.append(scalar)
                    index += 1
                    continue
                }
                index += 1
                if index < characters.count && characters[index] == "$" {
                    output += "$"
                    index += 1
                    continue
                }
                guard let (name, next) = extractReference(characters, from: index) else {
                    output += "$"
                    continue
                }
                index = next
                if let range = groupRange(named: name, in: match) {
                    output.unicodeScalars.append(contentsOf: scalars[range])
                }
            }
        }

        private func extractReference(_ characters: [Unicode.Scalar], from start: Int) -> (String, Int)? {
            var index = start
            guard index < characters.count else { return nil }
            let braced = characters[index] == "{"
            if braced { index += 1 }
            let nameStart = index
            while index < characters.count,
                  GoText.isLetter(characters[index]) || GoText.isDigit(characters[index]) || characters[index] == "_" {
                index += 1
            }
            if index == nameStart { return nil }
            var name = ""
            name.unicodeScalars.append(contentsOf: characters[nameStart..<index])
            if braced {
                guard index < characters.count, characters[index] == "}" else { return nil }
                index += 1
            }
            return (name, index)
        }

        /// A numeric reference is a group index (no leading zeros); otherwise the first group with that name.
        private func groupRange(named name: String, in match: Regex<AnyRegexOutput>.Match) -> Range<String.Index>? {
            let output = match.output
            var number = 0
            var isNumber = true
            for scalar in name.unicodeScalars {
                guard scalar.value >= 0x30 && scalar.value <= 0x39, number < 100_000_000 else {
                    isNumber = false
                    break
                }
                number = number * 10 + Int(scalar.value - 0x30)
            }
            if name.unicodeScalars.count > 1 && name.hasPrefix("0") { isNumber = false }
            if isNumber {
                guard number < output.count else { return nil }
                return output[number].range
            }
            for element in output where element.name == name { return element.range }
            return nil
        }
    }

    /// The pattern of regexReplaceAll, regexReplaceAllLiteral or count, compiled at parse time when it is a string literal.
    static func precompiledRegex(for command: Command) -> CompiledRegex? {
        guard command.arguments.count >= 2, case .function(let id, _) = command.arguments[0] else { return nil }
        switch id.name {
        case "regexReplaceAll", "regexReplaceAllLiteral", "count": break
        default: return nil
        }
        guard case .string(_, let pattern, _) = command.arguments[1], case .success(let regex) = CompiledRegex.compile(pattern) else {
            return nil
        }
        return regex
    }

    /// The regex for a call: the one compiled at parse time if it is for this pattern, else compiled now (as Loki does).
    static func regex(_ pattern: String, environment: FunctionEnvironment) throws(FunctionFailure) -> CompiledRegex {
        if let compiled = environment.literalRegex, GoText.bytesEqual(compiled.pattern, pattern) { return compiled }
        switch CompiledRegex.compile(pattern) {
        case .success(let regex): return regex
        case .failure(let failure): throw failure
        }
    }
}
