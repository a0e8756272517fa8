import LoupeModel

/// Where a logqltest script runs: Loupe's engine over streams in memory, or a server over HTTP
/// (entries pushed through the Loki push API, queries through the Loki query API).
public protocol LogQLTestBackend {
    mutating func clear() async throws
    mutating func load(_ entries: [LogQLTestScript.LoadedEntry]) async throws
    /// A metric query's result (vector, matrix or scalar), or the error message.
    mutating func evaluate(_ query: String, kind: LogQLTestScript.Eval.Kind) async -> Result<LogQLValue, LogQLTestFailure>
}

public struct LogQLTestFailure: Error, Sendable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }
}

/// The engine over streams in memory.
public struct InMemoryLogQLTestBackend: LogQLTestBackend {
    public var engine = LogQLEngine()
    private var entries: [LogQLTestScript.LoadedEntry] = []
    private var queryable = InMemoryLogQLQueryable(streams: [])

    public init() {}

    public mutating func clear() {
        entries = []
        queryable = InMemoryLogQLQueryable(streams: [])
    }

    public mutating func load(_ loaded: [LogQLTestScript.LoadedEntry]) {
        entries.append(contentsOf: loaded)
        var byLabels: [Labels: [LogQLEntry]] = [:]
        for entry in entries {
            // A stream label with an empty value is no label at all (as at ingestion); metadata keeps its empty values.
            byLabels[Labels(entry.labels), default: []].append(LogQLEntry(timestamp: entry.timestamp, line: entry.line, metadata: entry.metadata))
        }
        queryable = InMemoryLogQLQueryable(streams: byLabels.map { labels, entries in
            LogQLStream(labels: labels, entries: entries.enumerated().sorted { ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset) }.map(\.element))
        })
    }

    public func evaluate(_ query: String, kind: LogQLTestScript.Eval.Kind) -> Result<LogQLValue, LogQLTestFailure> {
        do throws(LogQLError) {
            switch kind {
            case .instant(let time):
                return .success(try engine.instantQuery(query, at: time, queryable: queryable).value)
            case .range(let start, let end, let step):
                return .success(try engine.rangeQuery(query, start: start, end: end, step: step, queryable: queryable).value)
            }
        } catch {
            return .failure(LogQLTestFailure(error.description))
        }
    }
}

/// The outcome of one logqltest file.
public struct LogQLTestReport: Sendable, CustomStringConvertible {
    public struct Outcome: Sendable {
        public var line: Int
        public var query: String
        public var passed: Bool
        public var reason: String
    }

    public var file: String
    public var outcomes: [Outcome] = []
    public var scriptError: String?

    public var passed: Int { outcomes.filter(\.passed).count }
    public var total: Int { outcomes.count }
    public var failed: Int { total - passed }
    public var description: String { summary(maxFailures: 5) }

    public func summary(maxFailures: Int = 5) -> String {
        var text = "\(file): \(passed)/\(total) passed, \(failed) failed"
        if let scriptError { text += "\n  script error: \(scriptError)" }
        for outcome in outcomes.filter({ !$0.passed }).prefix(maxFailures) {
            text += "\n  line \(outcome.line): \(outcome.query)\n    \(outcome.reason)"
        }
        return text
    }
}

public struct LogQLTestRunner: Sendable {
    public init() {}

    public static func run(fileText: String, file: String = "") -> LogQLTestReport {
        var backend = InMemoryLogQLTestBackend()
        let script: LogQLTestScript
        do {
            script = try LogQLTestScript.parse(fileText)
        } catch {
            return LogQLTestReport(file: file, scriptError: error.description)
        }
        var report = LogQLTestReport(file: file)
        for command in script.commands {
            switch command {
            case .clear: backend.clear()
            case .load(let entries, _): backend.load(entries)
            case .eval(let eval): report.outcomes.append(check(eval, backend.evaluate(eval.query, kind: eval.kind)))
            }
        }
        return report
    }

    public static func run(fileText: String, file: String = "", backend: inout some LogQLTestBackend) async -> LogQLTestReport {
        let script: LogQLTestScript
        do {
            script = try LogQLTestScript.parse(fileText)
        } catch {
            return LogQLTestReport(file: file, scriptError: error.description)
        }
        var report = LogQLTestReport(file: file)
        for command in script.commands {
            do {
                switch command {
                case .clear: try await backend.clear()
                case .load(let entries, _): try await backend.load(entries)
                case .eval(let eval): report.outcomes.append(check(eval, await backend.evaluate(eval.query, kind: eval.kind)))
                }
            } catch {
                report.scriptError = "\(error)"
                return report
            }
        }
        return report
    }

    static func check(_ eval: LogQLTestScript.Eval, _ result: Result<LogQLValue, LogQLTestFailure>) -> LogQLTestReport.Outcome {
        func outcome(_ reason: String?) -> LogQLTestReport.Outcome {
            LogQLTestReport.Outcome(line: eval.line, query: eval.query, passed: reason == nil, reason: reason ?? "")
        }
        switch (eval.expectation, result) {
        case (.fail(let match), .failure(let error)):
            switch match {
            case nil: return outcome(nil)
            case .substring(let text):
                return outcome(error.message.contains(text) ? nil : "expected an error containing \"\(text)\", got: \(error.message)")
            case .regex(let pattern):
                guard let regex = try? Regex(pattern) else { return outcome("bad expected regex \(pattern)") }
                return outcome((try? regex.firstMatch(in: error.message)) != nil ? nil : "expected an error matching /\(pattern)/, got: \(error.message)")
            }
        case (.fail, .success(let value)):
            return outcome("expected an error, got \(describe(value))")
        case (_, .failure(let error)):
            return outcome("unexpected error: \(error.message)")
        case (.empty, .success(let value)):
            return outcome(isEmpty(value) ? nil : "expected an empty result, got \(describe(value))")
        case (.scalar(let expected), .success(let value)):
            switch value {
            case .scalar(_, let actual):
                return outcome(promQLAlmostEqual(expected, actual) ? nil : "expected scalar \(expected), got \(actual)")
            case .vector(let samples) where samples.count == 1 && samples[0].labels.isEmpty:
                return outcome(promQLAlmostEqual(expected, samples[0].value) ? nil : "expected \(expected), got \(samples[0].value)")
            default:
                return outcome("expected scalar \(expected), got \(describe(value))")
            }
        case (.series(let expected, let ordered), .success(let value)):
            let compareValues = eval.skippedStacks.isEmpty || !eval.skippedStacks.contains { $0 == "direct" }
            switch (eval.kind, value) {
            case (.instant, .vector(let samples)):
                return outcome(compareVector(expected, samples, ordered: ordered, compareValues: compareValues))
            case (.range(let start, let end, let step), .matrix(let series)):
                return outcome(compareMatrix(expected, series, start: start, end: end, step: step, compareValues: compareValues))
            case (.instant, .scalar(_, let actual)) where expected.count == 1 && expected[0].labels.isEmpty && expected[0].points.count == 1:
                return outcome(promQLAlmostEqual(expected[0].points[0] ?? .nan, actual) ? nil : "expected \(expected[0].points[0] ?? .nan), got \(actual)")
            default:
                return outcome("expected series, got \(describe(value))")
            }
        }
    }

    static func isEmpty(_ value: LogQLValue) -> Bool {
        switch value {
        case .vector(let samples): return samples.isEmpty
        case .matrix(let series): return series.isEmpty
        case .streams(let streams): return streams.isEmpty
        case .scalar: return false
        }
    }

    static func describe(_ value: LogQLValue) -> String {
        switch value {
        case .scalar(_, let value): return "scalar \(value)"
        case .vector(let samples): return "vector " + samples.map { "\($0.labels.logQLDescription) \($0.value)" }.joined(separator: ", ")
        case .matrix(let series):
            return "matrix " + series.map { "\($0.labels.logQLDescription) " + $0.floats.map { "\($0.value)@\($0.timestamp)" }.joined(separator: " ") }.joined(separator: ", ")
        case .streams(let streams): return "\(streams.count) streams"
        }
    }

    static func compareVector(_ expected: [(labels: Labels, points: [Double?])], _ samples: [PromQLSample], ordered: Bool, compareValues: Bool) -> String? {
        guard expected.count == samples.count else {
            return "expected \(expected.count) series, got \(samples.count): \(describe(.vector(samples)))"
        }
        if ordered {
            for (index, item) in expected.enumerated() {
                let sample = samples[index]
                guard sample.labels == item.labels else { return "position \(index): expected \(item.labels.logQLDescription), got \(sample.labels.logQLDescription)" }
                guard item.points.count == 1, let value = item.points[0] else { return "bad expected vector line" }
                if compareValues, !promQLAlmostEqual(value, sample.value) { return "\(item.labels.logQLDescription): expected \(value), got \(sample.value)" }
            }
            return nil
        }
        var byLabels: [Labels: Double] = [:]
        for sample in samples { byLabels[sample.labels] = sample.value }
        for item in expected {
            guard let actual = byLabels[item.labels] else { return "missing series \(item.labels.logQLDescription); got \(describe(.vector(samples)))" }
            guard item.points.count == 1, let value = item.points[0] else { return "bad expected vector line for \(item.labels.logQLDescription)" }
            if compareValues, !promQLAlmostEqual(value, actual) { return "\(item.labels.logQLDescription): expected \(value), got \(actual)" }
        }
        return nil
    }

    static func compareMatrix(
        _ expected: [(labels: Labels, points: [Double?])], _ series: [PromQLSeries], start: Int64, end: Int64, step: Int64, compareValues: Bool
    ) -> String? {
        guard expected.count == series.count else {
            return "expected \(expected.count) series, got \(series.count): \(describe(.matrix(series)))"
        }
        let startMilliseconds = start / 1_000_000
        let stepMilliseconds = step / 1_000_000
        var byLabels: [Labels: PromQLSeries] = [:]
        for one in series { byLabels[one.labels] = one }
        for item in expected {
            guard let actual = byLabels[item.labels] else { return "missing series \(item.labels.logQLDescription); got \(describe(.matrix(series)))" }
            var actualByStep: [Int: Double] = [:]
            for sample in actual.floats {
                guard stepMilliseconds > 0, (sample.timestamp - startMilliseconds) % stepMilliseconds == 0 else {
                    return "\(item.labels.logQLDescription): point off the step grid at \(sample.timestamp)"
                }
                actualByStep[Int((sample.timestamp - startMilliseconds) / stepMilliseconds)] = sample.value
            }
            let steps = Int((end - start) / max(step, 1)) + 1
            guard item.points.count == steps else {
                return "\(item.labels.logQLDescription): expected \(item.points.count) points for \(steps) steps"
            }
            for (index, point) in item.points.enumerated() {
                switch (point, actualByStep[index]) {
                case (nil, nil): continue
                case (nil, let value?): return "\(item.labels.logQLDescription) step \(index): expected no point, got \(value)"
                case (let value?, nil): return "\(item.labels.logQLDescription) step \(index): expected \(value), got no point"
                case (let expectedValue?, let actualValue?):
                    if compareValues, !promQLAlmostEqual(expectedValue, actualValue) {
                        return "\(item.labels.logQLDescription) step \(index): expected \(expectedValue), got \(actualValue)"
                    }
                }
            }
        }
        return nil
    }
}
