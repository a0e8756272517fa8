import LoupeModel

/// A promqltest script (Prometheus's data-driven PromQL test format): `load`, `clear`
/// and `eval` commands, parsed into values a runner can execute against any engine.
public struct PromQLTestScript: Sendable {
    public var commands: [Command]

    public enum Command: Sendable {
        case load(Load)
        case clear(line: Int)
        case eval(Eval)
    }

    public struct Load: Sendable {
        public var line: Int
        /// Milliseconds between consecutive points of every series.
        public var interval: Int64
        public var series: [SeriesDescription]
        /// `load_with_nhcb`: classic histogram series are also loaded as custom-bucket native histograms.
        public var withNHCB: Bool
    }

    public struct Eval: Sendable {
        public enum Timing: Sendable, Equatable {
            case instant(at: Int64)
            case range(start: Int64, end: Int64, step: Int64)
        }

        public enum Expectation: Sendable, Equatable {
            public enum Match: Sendable, Equatable {
                case any
                case exact(String)
                case regex(String)
            }

            case fail(Match)
            case warn(Match)
            case info(Match)
            case noWarn
            case noInfo
            case ordered
        }

        public var line: Int
        public var timing: Timing
        public var query: String
        public var expectations: [Expectation]
        /// Expected series (instant: one point each; range: one point per step, nil where absent).
        public var expectedSeries: [SeriesDescription]
        /// An instant query whose result is a scalar: `eval instant at 1m 1+1` followed by `2`.
        public var expectedScalar: Double?
        public var expectedString: String?
        /// `expect range vector from A to B step S`: an instant query returning a range vector.
        public var expectedRangeVector: (start: Int64, end: Int64, step: Int64)?

        public var expectsFailure: Bool { expectations.contains { if case .fail = $0 { true } else { false } } }
        public var isOrdered: Bool { expectations.contains(.ordered) }
    }

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// Parses a whole script. `name` only appears in error messages.
    public static func parse(_ text: String) throws(ParseError) -> PromQLTestScript {
        var parser = ScriptParser(lines: text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
        return PromQLTestScript(commands: try parser.parseCommands())
    }
}

extension PromQLTestScript.Eval: Equatable {
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.line == rhs.line && lhs.timing == rhs.timing && lhs.query == rhs.query && lhs.expectations == rhs.expectations
            && lhs.expectedSeries == rhs.expectedSeries && lhs.expectedScalar == rhs.expectedScalar
            && lhs.expectedString == rhs.expectedString
            && lhs.expectedRangeVector.map { [$0.start, $0.end, $0.step] } == rhs.expectedRangeVector.map { [$0.start, $0.end, $0.step] }
    }
}

private struct ScriptParser {
    let lines: [String]
    var index = 0

    init(lines: [String]) { self.lines = lines }

    typealias Script = PromQLTestScript

    static func isBlankOrComment(_ line: String) -> Bool {
        let trimmed = line.trimmed
        return trimmed.isEmpty || trimmed.hasPrefix("#")
    }

    mutating func parseCommands() throws(Script.ParseError) -> [Script.Command] {
        var commands: [Script.Command] = []
        while index < lines.count {
            let line = lines[index]
            let number = index + 1
            index += 1
            if Self.isBlankOrComment(line) { continue }
            let trimmed = String(line.trimmed)
            let words = trimmed.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            switch words.first.map(String.init) ?? "" {
            case "clear":
                commands.append(.clear(line: number))
            case "load", "load_with_nhcb":
                commands.append(.load(try parseLoad(trimmed, line: number)))
            case "eval", "eval_fail", "eval_warn", "eval_info", "eval_ordered":
                commands.append(.eval(try parseEval(trimmed, line: number)))
            default:
                throw Script.ParseError(line: number, message: "unknown command \"\(trimmed)\"")
            }
        }
        return commands
    }

    /// The indented lines that belong to the command just read.
    mutating func bodyLines() -> [(number: Int, text: String)] {
        var body: [(Int, String)] = []
        while index < lines.count {
            let line = lines[index]
            if line.trimmed.isEmpty { break }
            if line.trimmed.hasPrefix("#") {
                index += 1
                continue
            }
            guard line.first == " " || line.first == "\t" else { break }
            body.append((index + 1, String(line.trimmed)))
            index += 1
        }
        return body
    }

    mutating func parseLoad(_ text: String, line: Int) throws(Script.ParseError) -> Script.Load {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2 else { throw Script.ParseError(line: line, message: "expected \"load <interval>\"") }
        let interval: Int64
        do {
            interval = try PromQLTestTime.parseDuration(String(parts[1]))
        } catch {
            throw Script.ParseError(line: line, message: "invalid load interval \"\(parts[1])\"")
        }
        var series: [SeriesDescription] = []
        for (number, body) in bodyLines() {
            do {
                series.append(try SeriesDescription.parse(body))
            } catch {
                throw Script.ParseError(line: number, message: error.description)
            }
        }
        return Script.Load(line: line, interval: interval, series: series, withNHCB: parts[0] == "load_with_nhcb")
    }

    mutating func parseEval(_ text: String, line: Int) throws(Script.ParseError) -> Script.Eval {
        var rest = Substring(text)
        let keyword = rest.prefix { $0 != " " }
        rest = rest.dropFirst(keyword.count).drop { $0 == " " }
        var expectations: [Script.Eval.Expectation] = []
        switch keyword {
        case "eval_fail": expectations.append(.fail(.any))
        case "eval_warn": expectations.append(.warn(.any))
        case "eval_info": expectations.append(.info(.any))
        case "eval_ordered": expectations.append(.ordered)
        default: break
        }
        func word() -> Substring {
            let value = rest.prefix { $0 != " " }
            rest = rest.dropFirst(value.count).drop { $0 == " " }
            return value
        }
        func time(_ text: Substring) throws(Script.ParseError) -> Int64 {
            do {
                return try PromQLTestTime.parseDuration(String(text))
            } catch {
                throw Script.ParseError(line: line, message: "invalid time \"\(text)\"")
            }
        }
        let timing: Script.Eval.Timing
        switch word() {
        case "instant":
            guard word() == "at" else { throw Script.ParseError(line: line, message: "expected \"eval instant at <time> <query>\"") }
            timing = .instant(at: try time(word()))
        case "range":
            guard word() == "from" else { throw Script.ParseError(line: line, message: "expected \"eval range from <start> to <end> step <step> <query>\"") }
            let start = try time(word())
            guard word() == "to" else { throw Script.ParseError(line: line, message: "expected \"to\" in eval range") }
            let end = try time(word())
            guard word() == "step" else { throw Script.ParseError(line: line, message: "expected \"step\" in eval range") }
            timing = .range(start: start, end: end, step: try time(word()))
        default:
            throw Script.ParseError(line: line, message: "expected \"instant\" or \"range\" after eval")
        }
        guard !rest.isEmpty else { throw Script.ParseError(line: line, message: "eval without a query") }
        var eval = Script.Eval(
            line: line, timing: timing, query: String(rest), expectations: expectations, expectedSeries: [],
            expectedScalar: nil, expectedString: nil, expectedRangeVector: nil)

        for (number, body) in bodyLines() {
            if body.hasPrefix("expect ") || body == "expect" {
                try parseExpectation(body, line: number, into: &eval)
            } else if body.hasPrefix("expected_fail_message ") {
                eval.expectations.append(.fail(.exact(String(body.dropFirst("expected_fail_message ".count)))))
            } else if body.hasPrefix("expected_fail_regexp ") {
                eval.expectations.append(.fail(.regex(String(body.dropFirst("expected_fail_regexp ".count)))))
            } else if let scalar = SeriesDescription.parseNumber(body) {
                eval.expectedScalar = scalar
            } else {
                do {
                    eval.expectedSeries.append(try SeriesDescription.parse(body))
                } catch {
                    throw Script.ParseError(line: number, message: error.description)
                }
            }
        }
        return eval
    }

    func parseExpectation(_ body: String, line: Int, into eval: inout Script.Eval) throws(Script.ParseError) {
        var rest = Substring(body.dropFirst("expect".count)).drop { $0 == " " }
        let kind = rest.prefix { $0 != " " && $0 != ":" }
        rest = rest.dropFirst(kind.count).drop { $0 == " " }
        func match() throws(Script.ParseError) -> Script.Eval.Expectation.Match {
            if rest.isEmpty { return .any }
            let matchKind = rest.prefix { $0 != ":" }
            guard rest.dropFirst(matchKind.count).first == ":" else {
                throw Script.ParseError(line: line, message: "expected \"msg:\" or \"regex:\" in \"\(body)\"")
            }
            var value = String(rest.dropFirst(matchKind.count + 1).trimmed)
            // Quotes around the message are optional; they are not part of it.
            if value.count >= 2, let first = value.first, first == value.last, first == "\"" || first == "`" {
                value = String(value.dropFirst().dropLast())
            }
            switch matchKind.trimmed {
            case "msg": return .exact(value)
            case "regex": return .regex(value)
            default: throw Script.ParseError(line: line, message: "unknown match type \"\(matchKind)\" in \"\(body)\"")
            }
        }
        switch kind {
        case "fail": eval.expectations.append(.fail(try match()))
        case "warn": eval.expectations.append(.warn(try match()))
        case "info": eval.expectations.append(.info(try match()))
        case "no_warn": eval.expectations.append(.noWarn)
        case "no_info": eval.expectations.append(.noInfo)
        case "ordered": eval.expectations.append(.ordered)
        case "string":
            let value = rest.trimmed
            guard value.count >= 2, let first = value.first, first == value.last, first == "\"" || first == "`" else {
                throw Script.ParseError(line: line, message: "expect string needs a quoted value")
            }
            eval.expectedString = String(value.dropFirst().dropLast())
        case "range":
            // expect range vector from <start> to <end> step <step>
            let words = rest.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard words.count == 7, words[0] == "vector", words[1] == "from", words[3] == "to", words[5] == "step" else {
                throw Script.ParseError(line: line, message: "expected \"expect range vector from <start> to <end> step <step>\"")
            }
            do {
                eval.expectedRangeVector = (
                    try PromQLTestTime.parseDuration(words[2]), try PromQLTestTime.parseDuration(words[4]),
                    try PromQLTestTime.parseDuration(words[6])
                )
            } catch {
                throw Script.ParseError(line: line, message: "invalid time in \"\(body)\"")
            }
        default:
            throw Script.ParseError(line: line, message: "unknown expectation \"\(kind)\"")
        }
    }
}

/// Times and intervals in promqltest scripts: Prometheus durations (`5m`, `1h30m`, `0`, `100s`),
/// counted from the Unix epoch, in milliseconds.
public enum PromQLTestTime {
    public struct InvalidDuration: Error {}

    public static func parseDuration(_ text: String) throws(InvalidDuration) -> Int64 {
        var text = Substring(text)
        var sign: Int64 = 1
        if text.first == "-" {
            sign = -1
            text = text.dropFirst()
        }
        if let seconds = Int64(text) { return sign * seconds * 1000 }
        do {
            return sign * Int64(clamping: try DurationText.parseNanoseconds(String(text)) / 1_000_000)
        } catch {
            throw InvalidDuration()
        }
    }
}

extension StringProtocol {
    var trimmed: Substring {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" || first == "\r" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" || last == "\r" { slice = slice.dropLast() }
        return Substring(slice)
    }
}
