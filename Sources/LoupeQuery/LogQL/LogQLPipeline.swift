import LoupeModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A log pipeline compiled once per query: regexes, patterns, templates and parsers built, then
/// run on every selected entry in order. A stage either drops the entry or passes it on, possibly
/// with a new line and changed labels.
struct LogQLPipeline: @unchecked Sendable {
    // Regex values are immutable once built and only used for matching.
    enum Step {
        case lineFilter(CompiledLineFilter)
        case labelFilter(CompiledLabelFilter)
        case json(JSONLineParser)
        case logfmt(LogfmtLineParser)
        case regexp(RegexpLineParser)
        case pattern(PatternLineParser)
        case unpack(UnpackLineParser)
        case lineFormat(LogQLTemplate)
        case labelFormat([(destination: String, source: LabelFormatSource)])
        case drop([LogQLLabelSelection])
        case keep([LogQLLabelSelection])
        case decolorize

        var isParser: Bool {
            switch self {
            case .json, .logfmt, .regexp, .pattern, .unpack: true
            default: false
            }
        }
    }

    enum LabelFormatSource {
        case label(String)
        case template(LogQLTemplate)
    }

    let steps: [Step]

    /// - Parameter requiredLabels: parser hints, the only labels the query reads after the
    ///   pipeline (a metric query's grouping); nil when every label matters (log queries).
    init(_ stages: [LogQLStage], requiredLabels: Set<String>? = nil) throws(LogQLError) {
        var steps: [Step] = []
        for stage in stages {
            steps.append(try Self.compile(stage))
        }
        if var required = requiredLabels, let last = steps.lastIndex(where: \.isParser), case .json(let parser) = steps[last] {
            // Only when nothing after the parser but filters reads labels: a template or another
            // stage could read any label.
            var onlyFilters = true
            for stage in stages[(last + 1)...] {
                switch stage {
                case .lineFilter: continue
                case .labelFilter(let filter): required.formUnion(filter.labelNames)
                default: onlyFilters = false
                }
            }
            if onlyFilters {
                required.insert(LogQLLabelsBuilder.errorLabel)
                steps[last] = .json(parser.restricted(to: required))
            }
        }
        self.steps = steps
    }

    static func compile(_ stage: LogQLStage) throws(LogQLError) -> Step {
        do {
            switch stage {
            case .lineFilter(let filter): return .lineFilter(try CompiledLineFilter(filter))
            case .labelFilter(let filter): return .labelFilter(try CompiledLabelFilter(filter))
            case .json(let extractions):
                return .json(try JSONLineParser(expressions: extractions.map { (label: $0.label, path: $0.expression) }))
            case .logfmt(let strict, let keepEmpty, let extractions):
                return .logfmt(try LogfmtLineParser(strict: strict, keepEmpty: keepEmpty, expressions: extractions.map { (label: $0.label, key: $0.expression) }))
            case .regexp(let regex): return .regexp(try RegexpLineParser(regex))
            case .pattern(let pattern): return .pattern(try PatternLineParser(pattern))
            case .unpack: return .unpack(UnpackLineParser())
            case .lineFormat(let template):
                do {
                    return .lineFormat(try LogQLTemplate(template, name: "line"))
                } catch {
                    throw LogQLError(.parse, "invalid line template: \(error.message)")
                }
            case .labelFormat(let formats):
                var compiled: [(destination: String, source: LabelFormatSource)] = []
                for format in formats {
                    switch format.source {
                    case .label(let name): compiled.append((format.destination, .label(name)))
                    case .template(let text):
                        do {
                            compiled.append((format.destination, .template(try LogQLTemplate(text, name: "label"))))
                        } catch {
                            throw LogQLError(.parse, "invalid label template: \(error.message)")
                        }
                    }
                }
                return .labelFormat(compiled)
            case .drop(let selections): return .drop(selections)
            case .keep(let selections): return .keep(selections)
            case .decolorize: return .decolorize
            }
        } catch let error as LogQLError {
            throw error
        } catch let error as LogQLStageError {
            throw LogQLError(.parse, error.message)
        } catch let error as LogQLTemplateError {
            throw LogQLError(.parse, error.message)
        } catch {
            throw LogQLError(.parse, "\(error)")
        }
    }

    /// The line filters at the head of the pipeline (before any stage that changes the line):
    /// a store may use them to skip data.
    static func leadingLineFilters(_ stages: [LogQLStage]) -> [LogQLLineFilter] {
        var filters: [LogQLLineFilter] = []
        for stage in stages {
            guard case .lineFilter(let filter) = stage else { break }
            filters.append(filter)
        }
        return filters
    }

    /// Runs the steps; false when a step drops the entry.
    func process(line: inout String, labels: inout LogQLLabelsBuilder, timestamp: Int64) -> Bool {
        for step in steps {
            switch step {
            case .lineFilter(let filter):
                if !filter.matches(line) { return false }
            case .labelFilter(let filter):
                if !filter.process(&labels) { return false }
            case .json(let parser):
                apply(parser.parse(line), to: &labels, line: &line, overwrite: parser.hasExpressions)
            case .logfmt(let parser):
                apply(parser.parse(line), to: &labels, line: &line, overwrite: parser.hasExpressions, placeholderOverwrites: true)
            case .regexp(let parser):
                apply(parser.parse(line), to: &labels, line: &line, overwrite: false)
            case .pattern(let parser):
                apply(parser.parse(line), to: &labels, line: &line, overwrite: false)
            case .unpack(let parser):
                apply(parser.parse(line), to: &labels, line: &line, overwrite: false)
            case .lineFormat(let template):
                switch template.render(context(labels, line: line, timestamp: timestamp)) {
                case .success(let rendered): line = rendered
                case .failure(let error): labels.setError("TemplateFormatErr", details: error.message)
                }
            case .labelFormat(let formats):
                // Every template of the stage sees the labels as they were before it.
                let before = labels
                for (destination, source) in formats {
                    switch source {
                    case .label(let name):
                        if let value = before.value(name) {
                            labels.set(destination, value)
                        } else {
                            labels.set(destination, "")
                        }
                        if name != destination { labels.delete(name) }
                    case .template(let template):
                        switch template.render(context(before, line: line, timestamp: timestamp)) {
                        case .success(let rendered): labels.set(destination, rendered)
                        case .failure(let error): labels.setError("TemplateFormatErr", details: error.message)
                        }
                    }
                }
            case .drop(let selections):
                for selection in selections {
                    guard let value = labels.value(selection.name) else { continue }
                    if let matcher = selection.matcher, !matcher.matches(value) { continue }
                    labels.delete(selection.name)
                }
            case .keep(let selections):
                for name in labels.names {
                    let kept = selections.contains { selection in
                        selection.name == name && (selection.matcher.map { $0.matches(labels.value(name) ?? "") } ?? true)
                    }
                    if !kept { labels.delete(name) }
                }
            case .decolorize:
                line = Decolorizer.decolorize(line)
            }
        }
        return true
    }

    private func apply(
        _ outcome: LogLineParseOutcome, to labels: inout LogQLLabelsBuilder, line: inout String, overwrite: Bool, placeholderOverwrites: Bool = false
    ) {
        for label in outcome.labels { labels.setParsed(label, overwrite: overwrite, placeholderOverwrites: placeholderOverwrites) }
        if let failure = outcome.error { labels.setError(failure.kind, details: failure.details, overwrite: true) }
        if let replacement = outcome.replacementLine { line = replacement }
    }

    private func context(_ labels: LogQLLabelsBuilder, line: String, timestamp: Int64) -> LogQLTemplateContext {
        LogQLTemplateContext(label: { labels.value($0) }, line: line, timestampNanoseconds: timestamp)
    }
}

/// A line filter with its regexes, patterns and IP ranges built.
struct CompiledLineFilter: @unchecked Sendable {
    enum Matcher {
        case substring(String)
        case regex(CompiledLineRegex)
        case pattern(PatternLineParser)
        case ip(LogQLIPMatcher)
    }

    let negated: Bool
    let alternatives: [Matcher]

    init(_ filter: LogQLLineFilter) throws(LogQLError) {
        negated = filter.op.isNegated
        var alternatives: [Matcher] = []
        for value in filter.values {
            switch value {
            case .ip(let pattern):
                alternatives.append(.ip(try LogQLIPMatcher(pattern)))
            case .text(let text):
                switch filter.op {
                case .contains, .notContains:
                    alternatives.append(.substring(text))
                case .matchesRegex, .notMatchesRegex:
                    // Go RE2 syntax, unanchored; `.` matches newlines too in line filters (Loki's docs).
                    do {
                        let translated = try GoRegexTranslator.translate("(?s:\(text))")
                        alternatives.append(.regex(try CompiledLineRegex(translated.pattern, source: text)))
                    } catch {
                        throw LogQLError(.parse, error.message)
                    }
                case .matchesPattern, .notMatchesPattern:
                    do {
                        let pattern = try PatternLineParser(filterPattern: text)
                        alternatives.append(.pattern(pattern))
                    } catch {
                        throw LogQLError(.parse, error.message)
                    }
                }
            }
        }
        self.alternatives = alternatives
    }

    /// Substring search: `memchr` to the next candidate first byte, then `memcmp` (the generic
    /// collection search was many times slower on long lines).
    static func contains(_ line: String, _ needle: String) -> Bool {
        if needle.isEmpty { return true }
        var line = line
        var needle = needle
        return line.withUTF8 { (haystack: UnsafeBufferPointer<UInt8>) -> Bool in
            needle.withUTF8 { (pattern: UnsafeBufferPointer<UInt8>) -> Bool in
                search(UnsafeRawBufferPointer(haystack), UnsafeRawBufferPointer(pattern))
            }
        }
    }

    static func search(_ haystack: UnsafeRawBufferPointer, _ pattern: UnsafeRawBufferPointer) -> Bool {
        guard pattern.count <= haystack.count, let base = haystack.baseAddress, let needle = pattern.baseAddress else { return false }
        let firstByte = Int32(pattern[0])
        let lastStart = haystack.count - pattern.count
        var start = 0
        while start <= lastStart {
            guard let found = memchr(base + start, firstByte, lastStart - start + 1) else { return false }
            let offset = UnsafeRawPointer(found) - base
            if memcmp(base + offset, needle, pattern.count) == 0 { return true }
            start = offset + 1
        }
        return false
    }

    func matches(_ line: String) -> Bool {
        var any = false
        for alternative in alternatives {
            let hit: Bool
            switch alternative {
            case .substring(let text): hit = Self.contains(line, text)
            case .regex(let regex): hit = regex.matches(line)
            case .pattern(let pattern): hit = pattern.matches(line)
            case .ip(let matcher): hit = matcher.matchesAny(in: line)
            }
            if hit {
                any = true
                break
            }
        }
        return negated ? !any : any
    }
}

/// A label filter expression with its IP ranges built, evaluated as Loki does: `and` always
/// evaluates both sides (a conversion error on the right still marks the entry); a converting
/// filter (number, duration, size) drops an entry without the label, and keeps an entry whose
/// value does not convert, marking it `__error__="LabelFilterErr"` unless it already has an
/// error; only string matchers read `__error__`; an `ip()` filter keeps entries that carry an
/// error and finds the address anywhere in the value.
indirect enum CompiledLabelFilter: @unchecked Sendable {
    case and(CompiledLabelFilter, CompiledLabelFilter)
    case or(CompiledLabelFilter, CompiledLabelFilter)
    case string(LabelMatcher)
    case number(String, LogQLComparison, Double)
    case duration(String, LogQLComparison, Double)
    case bytes(String, LogQLComparison, Double)
    case ip(String, Bool, LogQLIPMatcher)

    init(_ filter: LogQLLabelFilter) throws(LogQLError) {
        switch filter {
        case .and(let left, let right): self = .and(try CompiledLabelFilter(left), try CompiledLabelFilter(right))
        case .or(let left, let right): self = .or(try CompiledLabelFilter(left), try CompiledLabelFilter(right))
        case .parenthesized(let inner): self = try CompiledLabelFilter(inner)
        case .string(let matcher): self = .string(matcher)
        case .number(let name, let op, let value): self = .number(name, op, value)
        case .duration(let name, let op, let seconds): self = .duration(name, op, seconds)
        case .bytes(let name, let op, let bytes): self = .bytes(name, op, bytes)
        case .ip(let name, let equal, let pattern): self = .ip(name, equal, try LogQLIPMatcher(pattern))
        }
    }

    func process(_ labels: inout LogQLLabelsBuilder) -> Bool {
        switch self {
        case .and(let left, let right):
            let leftKept = left.process(&labels)
            let rightKept = right.process(&labels)
            return leftKept && rightKept
        case .or(let left, let right):
            if left.process(&labels) { return true }
            return right.process(&labels)
        case .string(let matcher):
            return matcher.matches(labels.value(matcher.name) ?? "")
        case .number(let name, let op, let expected):
            return Self.compare(&labels, name, op, expected) { text throws(LogQLUnits.ConversionError) in try LogQLUnits.parseFloat(text) }
        case .duration(let name, let op, let expected):
            return Self.compare(&labels, name, op, expected) { text throws(LogQLUnits.ConversionError) in try LogQLUnits.parseDuration(text) }
        case .bytes(let name, let op, let expected):
            return Self.compare(&labels, name, op, expected) { text throws(LogQLUnits.ConversionError) in try LogQLUnits.parseBytes(text) }
        case .ip(let name, let equal, let matcher):
            if labels.hasError { return true }
            guard let value = labels.value(name) else { return false }
            let inRange = matcher.matchesAny(in: value)
            return equal ? inRange : !inRange
        }
    }

    private static func compare(
        _ labels: inout LogQLLabelsBuilder, _ name: String, _ op: LogQLComparison, _ expected: Double,
        _ convert: (String) throws(LogQLUnits.ConversionError) -> Double
    ) -> Bool {
        guard name != LogQLLabelsBuilder.errorLabel, name != LogQLLabelsBuilder.errorDetailsLabel, let text = labels.value(name) else { return false }
        do {
            return op.holds(try convert(text), expected)
        } catch {
            labels.setError("LabelFilterErr", details: error.message)
            return true
        }
    }
}
