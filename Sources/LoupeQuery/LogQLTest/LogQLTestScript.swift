import LoupeModel

/// A logqltest script (Loki's declarative LogQL test format, adapted from promqltest):
/// `clear`, `load` blocks of streams, and `eval instant|range` commands with their expected results.
/// Times are Go durations from the script epoch, 2026-01-01T00:00:00Z.
public struct LogQLTestScript: Sendable {
    /// 2026-01-01T00:00:00Z in nanoseconds.
    public static let epoch: Int64 = 1_767_225_600 * 1_000_000_000

    public enum Command: Sendable {
        case clear
        case load([LoadedEntry], line: Int)
        case eval(Eval)
    }

    public struct LoadedEntry: Sendable, Equatable {
        public var labels: Labels
        public var timestamp: Int64
        public var line: String
        public var metadata: Labels
    }

    public struct Eval: Sendable {
        public enum Kind: Sendable, Equatable {
            case instant(at: Int64)
            case range(start: Int64, end: Int64, step: Int64)
        }

        public enum Expectation: Sendable {
            case fail(FailMatch?)
            case empty
            case scalar(Double)
            /// Series lines: labels (empty values kept) and points (nil: a gap).
            case series([(labels: Labels, points: [Double?])], ordered: Bool)
        }

        public enum FailMatch: Sendable {
            case substring(String)
            case regex(String)
        }

        public var line: Int
        public var query: String
        public var kind: Kind
        public var expectation: Expectation
        /// Stacks whose values are not compared (`skip values-comparison on "..."`); Loupe has one stack.
        public var skippedStacks: [String]
    }

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    public var commands: [Command]

    public static func parse(_ text: String) throws(ParseError) -> LogQLTestScript {
        func isIndented(_ line: String) -> Bool { line.first == " " || line.first == "\t" }
        let rawLines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let lines = rawLines.map(stripComment)
        /// A line holding only a comment continues a block; a blank line ends it.
        func continuesBlock(_ index: Int) -> Bool {
            guard isIndented(rawLines[index]) else { return false }
            if !lines[index].trimmingWhitespace.isEmpty { return true }
            return rawLines[index].trimmingWhitespace.hasPrefix("#")
        }
        var commands: [Command] = []
        var index = 0
        while index < lines.count {
            let raw = lines[index]
            let line = raw.trimmingWhitespace
            let number = index + 1
            index += 1
            if line.isEmpty { continue }
            if line == "clear" {
                commands.append(.clear)
            } else if line == "load" {
                var entries: [LoadedEntry] = []
                while index < lines.count, continuesBlock(index) {
                    if !lines[index].trimmingWhitespace.isEmpty {
                        entries.append(contentsOf: try parseLoadLine(lines[index].trimmingWhitespace, line: index + 1))
                    }
                    index += 1
                }
                commands.append(.load(entries, line: number))
            } else if line.hasPrefix("eval ") {
                var body: [String] = []
                while index < lines.count, continuesBlock(index) {
                    if !lines[index].trimmingWhitespace.isEmpty { body.append(lines[index].trimmingWhitespace) }
                    index += 1
                }
                commands.append(.eval(try parseEval(line, body: body, line: number)))
            } else {
                throw ParseError(line: number, message: "unknown command: \(line)")
            }
        }
        return LogQLTestScript(commands: commands)
    }

    /// Drops a `#` comment that is not inside "…" or `…`.
    static func stripComment(_ line: String) -> String {
        var quote: Character?
        var escaped = false
        var result = ""
        for character in line {
            if let open = quote {
                if escaped {
                    escaped = false
                } else if character == "\\" && open == "\"" {
                    escaped = true
                } else if character == open {
                    quote = nil
                }
            } else if character == "\"" || character == "`" {
                quote = character
            } else if character == "#" {
                break
            }
            result.append(character)
        }
        return result
    }

    /// A Go duration offset from the epoch (`0`, `90s`, `1m30s`), in nanoseconds.
    static func parseTime(_ text: Substring, line: Int) throws(ParseError) -> Int64 {
        do {
            let seconds = try LogQLUnits.parseDuration(String(text), extendedUnits: true)
            return Int64((seconds * 1e9).rounded())
        } catch {
            throw ParseError(line: line, message: "invalid time \(text): \(error.message)")
        }
    }

    static func parseLoadLine(_ text: String, line: Int) throws(ParseError) -> [LoadedEntry] {
        var scanner = TestLineScanner(text)
        guard let selector = scanner.readBraced() else { throw ParseError(line: line, message: "expected a stream selector") }
        let labels = try parseLabels(selector, line: line)
        scanner.skipSpaces()
        guard let logLine = scanner.readQuoted(unescape: false) else { throw ParseError(line: line, message: "expected a quoted log line") }
        scanner.skipSpaces()
        guard scanner.consume("@") else { throw ParseError(line: line, message: "expected @ <start>") }
        scanner.skipSpaces()
        let start = try parseTime(scanner.readWord(), line: line)
        var step: Int64 = 0
        var count = 1
        var metadata = Labels()
        while true {
            scanner.skipSpaces()
            guard scanner.consume("[") else { break }
            scanner.skipSpaces()
            if scanner.consume("repeat") {
                scanner.skipSpaces()
                guard scanner.consume("every") else { throw ParseError(line: line, message: "expected 'every'") }
                scanner.skipSpaces()
                step = try parseTime(scanner.readWord(), line: line)
                scanner.skipSpaces()
                guard scanner.consume("for") else { throw ParseError(line: line, message: "expected 'for'") }
                scanner.skipSpaces()
                let countText = scanner.readWord()
                guard let parsed = Int(countText.hasSuffix("]") ? countText.dropLast() : countText), parsed >= 0 else {
                    throw ParseError(line: line, message: "invalid repeat count \(countText)")
                }
                count = parsed
                if countText.hasSuffix("]") { continue }
            } else if scanner.consume("metadata") {
                var pairs: [Label] = []
                while true {
                    scanner.skipSpaces()
                    if scanner.consume("]") { break }
                    let key: String
                    if scanner.peek == "\"" {
                        guard let quoted = scanner.readQuoted(unescape: true) else { throw ParseError(line: line, message: "bad metadata key") }
                        key = quoted
                    } else {
                        key = String(scanner.readName())
                    }
                    guard !key.isEmpty, scanner.consume("=") else { throw ParseError(line: line, message: "expected key=\"value\" in metadata") }
                    guard let value = scanner.readQuoted(unescape: true) else { throw ParseError(line: line, message: "expected a quoted metadata value") }
                    pairs.append(Label(key, value))
                }
                // Empty metadata values are kept: they are significant in results.
                metadata = Labels(presorted: pairs.sorted { Labels.compareBytes($0.name, $1.name) < 0 })
                continue
            } else {
                throw ParseError(line: line, message: "expected 'repeat' or 'metadata' after [")
            }
            scanner.skipSpaces()
            guard scanner.consume("]") else { throw ParseError(line: line, message: "expected ]") }
        }
        scanner.skipSpaces()
        guard scanner.atEnd else { throw ParseError(line: line, message: "unexpected text: \(scanner.rest)") }
        var entries: [LoadedEntry] = []
        entries.reserveCapacity(count)
        for i in 0..<count {
            let text = logLine.replacingOccurrencesOfIndexTemplate(with: i)
            entries.append(LoadedEntry(labels: labels, timestamp: epoch + start + Int64(i) * step, line: text, metadata: metadata))
        }
        return entries
    }

    /// `{a="1", b=""}` with empty values kept (they are significant in LogQL results).
    static func parseLabels(_ braced: Substring, line: Int) throws(ParseError) -> Labels {
        var scanner = TestLineScanner(String(braced.dropFirst().dropLast()))
        var labels: [Label] = []
        while true {
            scanner.skipSpaces()
            if scanner.atEnd { break }
            let name = scanner.peek == "\"" ? (scanner.readQuoted(unescape: true) ?? "") : String(scanner.readName())
            scanner.skipSpaces()
            guard !name.isEmpty, scanner.consume("=") else { throw ParseError(line: line, message: "bad label set \(braced)") }
            scanner.skipSpaces()
            guard let value = scanner.readQuoted(unescape: true) else { throw ParseError(line: line, message: "bad label value in \(braced)") }
            labels.append(Label(name, value))
            scanner.skipSpaces()
            _ = scanner.consume(",")
        }
        return Labels(presorted: labels.sorted { Labels.compareBytes($0.name, $1.name) < 0 })
    }

    static func parseEval(_ header: String, body: [String], line: Int) throws(ParseError) -> Eval {
        var scanner = TestLineScanner(header)
        _ = scanner.consume("eval")
        scanner.skipSpaces()
        let kind: Eval.Kind
        if scanner.consume("instant") {
            scanner.skipSpaces()
            guard scanner.consume("at") else { throw ParseError(line: line, message: "expected 'at'") }
            scanner.skipSpaces()
            kind = .instant(at: epoch + (try parseTime(scanner.readWord(), line: line)))
        } else if scanner.consume("range") {
            scanner.skipSpaces()
            guard scanner.consume("from") else { throw ParseError(line: line, message: "expected 'from'") }
            scanner.skipSpaces()
            let start = try parseTime(scanner.readWord(), line: line)
            scanner.skipSpaces()
            guard scanner.consume("to") else { throw ParseError(line: line, message: "expected 'to'") }
            scanner.skipSpaces()
            let end = try parseTime(scanner.readWord(), line: line)
            scanner.skipSpaces()
            guard scanner.consume("step") else { throw ParseError(line: line, message: "expected 'step'") }
            scanner.skipSpaces()
            let step = try parseTime(scanner.readWord(), line: line)
            kind = .range(start: epoch + start, end: epoch + end, step: step)
        } else {
            throw ParseError(line: line, message: "expected 'instant' or 'range'")
        }
        scanner.skipSpaces()
        let query = scanner.rest.trimmingWhitespace
        var expectation: Eval.Expectation?
        var ordered = false
        var series: [(labels: Labels, points: [Double?])] = []
        var skipped: [String] = []
        for (offset, text) in body.enumerated() {
            let bodyLine = line + offset + 1
            if text.hasPrefix("expect fail") {
                let rest = text.dropFirst("expect fail".count).trimmingWhitespace
                if rest.hasPrefix("msg:") {
                    expectation = .fail(.substring(String(rest.dropFirst(4)).trimmingWhitespace))
                } else if rest.hasPrefix("regex:") {
                    expectation = .fail(.regex(String(rest.dropFirst(6)).trimmingWhitespace))
                } else {
                    expectation = .fail(nil)
                }
            } else if text == "expect empty" {
                expectation = .empty
            } else if text == "expect ordered" {
                ordered = true
            } else if text.hasPrefix("skip values-comparison on") {
                skipped.append(String(text.dropFirst("skip values-comparison on".count)).trimmingWhitespace.trimmingQuotes)
            } else if text.hasPrefix("{") {
                var lineScanner = TestLineScanner(text)
                guard let braced = lineScanner.readBraced() else { throw ParseError(line: bodyLine, message: "bad series line") }
                let labels = try parseLabels(braced, line: bodyLine)
                let points: [Double?]
                do {
                    points = try SeriesDescription.parse("{} " + lineScanner.rest).points.map { point in
                        guard let point else { return nil }
                        if case .float(let value) = point { return value }
                        return .nan
                    }
                } catch {
                    throw ParseError(line: bodyLine, message: "bad values: \(error)")
                }
                series.append((labels, points))
            } else if let value = SeriesDescription.parseNumber(text) {
                expectation = .scalar(value)
            } else {
                throw ParseError(line: bodyLine, message: "unexpected expectation: \(text)")
            }
        }
        if !series.isEmpty {
            if expectation != nil { throw ParseError(line: line, message: "an eval asserts more than one kind of result") }
            expectation = .series(series, ordered: ordered)
        }
        guard let expectation else { throw ParseError(line: line, message: "eval without an expected result") }
        return Eval(line: line, query: query, kind: kind, expectation: expectation, skippedStacks: skipped)
    }
}

/// A small cursor over one line of a script.
struct TestLineScanner {
    private let characters: [Character]
    private var index = 0

    init(_ text: String) {
        characters = Array(text)
    }

    var atEnd: Bool { index >= characters.count }
    var peek: Character? { atEnd ? nil : characters[index] }
    var rest: String { String(characters[min(index, characters.count)...]) }

    mutating func skipSpaces() {
        while let character = peek, character == " " || character == "\t" { index += 1 }
    }

    mutating func consume(_ literal: String) -> Bool {
        let literalCharacters = Array(literal)
        guard index + literalCharacters.count <= characters.count, Array(characters[index..<index + literalCharacters.count]) == literalCharacters else {
            return false
        }
        index += literalCharacters.count
        return true
    }

    mutating func readWord() -> Substring {
        let start = index
        while let character = peek, character != " ", character != "\t" { index += 1 }
        return Substring(String(characters[start..<index]))
    }

    mutating func readName() -> Substring {
        let start = index
        while let character = peek, character.isLetter || character.isNumber || character == "_" || character == "." || character == "-" { index += 1 }
        return Substring(String(characters[start..<index]))
    }

    /// `{...}` with quoted values that may contain braces.
    mutating func readBraced() -> Substring? {
        guard peek == "{" else { return nil }
        let start = index
        var quote: Character?
        var escaped = false
        while let character = peek {
            index += 1
            if let open = quote {
                if escaped { escaped = false } else if character == "\\" && open == "\"" { escaped = true } else if character == open { quote = nil }
                continue
            }
            if character == "\"" || character == "`" { quote = character }
            if character == "}" { return Substring(String(characters[start..<index])) }
        }
        return nil
    }

    /// A "…" or `…` string; "…" unescaped only when asked (log lines are taken as written).
    mutating func readQuoted(unescape: Bool) -> String? {
        guard let open = peek, open == "\"" || open == "`" else { return nil }
        index += 1
        var out = ""
        while let character = peek {
            index += 1
            if character == open { return out }
            if character == "\\", open == "\"", let next = peek {
                index += 1
                if unescape {
                    switch next {
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    case "\\": out.append("\\")
                    case "\"": out.append("\"")
                    default: out.append(next)
                    }
                } else {
                    out.append(character)
                    out.append(next)
                }
                continue
            }
            out.append(character)
        }
        return nil
    }
}

extension String {
    var trimmingWhitespace: String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" || first == "\r" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text = text.dropLast() }
        return String(text)
    }

    var trimmingQuotes: String {
        if count >= 2, first == "\"", last == "\"" { return String(dropFirst().dropLast()) }
        return self
    }

    /// `{{.i}}` replaced with the entry's index.
    func replacingOccurrencesOfIndexTemplate(with index: Int) -> String {
        guard contains("{{.i}}") else { return self }
        var out = ""
        var rest = Substring(self)
        while let range = rest.firstRange(ofText: "{{.i}}") {
            out += rest[..<range.lowerBound]
            out += String(index)
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}

extension Substring {
    var trimmingWhitespace: String { String(self).trimmingWhitespace }
}

extension StringProtocol {
    func firstRange(ofText needle: String) -> Range<Index>? {
        guard !needle.isEmpty else { return nil }
        var index = startIndex
        while index < endIndex {
            if self[index...].hasPrefix(needle) { return index..<self.index(index, offsetBy: needle.count) }
            index = self.index(after: index)
        }
        return nil
    }
}
