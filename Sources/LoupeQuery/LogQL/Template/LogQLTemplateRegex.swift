// Go's regexp as the template functions use it (regexReplaceAll, regexReplaceAllLiteral, count), on
// Swift's Regex. Go's RE2 syntax is close to what Swift accepts; matching runs on Unicode scalars
// (Go matches runes, not grapheme clusters) with ASCII \d \w \s \b as in RE2. Iteration follows Go:
// an empty match right after the previous match is skipped, and $name/${name} expand as Regexp.Expand.
// Swift accepts more than RE2 (lookaround, backreferences); such patterns work here but fail in Loki.

import LoupeModel

extension LogQLTemplate {
    /// A compiled pattern: Go's error codes for what RE2 refuses, matching and replacing as Go does (`GoRegexp`).
    final class CompiledRegex: Sendable {
        let regexp: GoRegexp
        var pattern: String { regexp.pattern }

        private init(_ regexp: GoRegexp) { self.regexp = regexp }

        static func compile(_ pattern: String) -> Result<CompiledRegex, FunctionFailure> {
            if let unsupported = unsupportedSyntax(pattern) {
                return .failure(FunctionFailure("error parsing regexp: \(unsupported.code): `\(unsupported.expression)`"))
            }
            do {
                return .success(CompiledRegex(try GoRegexp(pattern)))
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

        /// Regexp.FindAllStringIndex(s, -1) count.
        func countMatches(in text: String) -> Int { regexp.countMatches(in: text) }

        /// Regexp.ReplaceAllString (expanding $ references) or ReplaceAllLiteralString.
        func replaceAll(in text: String, with replacement: String, literal: Bool) -> String {
            regexp.replaceAll(in: text, with: replacement, literal: literal)
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
