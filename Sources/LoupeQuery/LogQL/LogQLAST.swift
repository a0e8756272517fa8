import LoupeModel

/// A parsed LogQL query: a log query (streams) or a metric query (samples).
///
/// The tree keeps each stage's parameters as written; `LogQLPipeline` compiles them (regexes,
/// patterns, templates) once per query. Positions are byte offsets into the query text.
public indirect enum LogQLExpression: Sendable, Equatable {
    /// `{app="x"} |= "error" | json`: returns log lines.
    case logs(LogQLLogSelector)
    /// `count_over_time({app="x"}[5m])`, `sum_over_time(... | unwrap v [1m]) by (pod)`.
    case rangeAggregation(LogQLRangeAggregation)
    /// `sum by (level) (...)`, `topk(3, ...)`, `sort(...)`.
    case vectorAggregation(LogQLVectorAggregation)
    case binary(LogQLBinaryExpression)
    /// A number literal (a scalar).
    case literal(Double)
    /// `vector(1)`.
    case vector(Double)
    /// `label_replace(v, "dst", "replacement", "src", "regex")`.
    case labelReplace(LogQLLabelReplace)
    case parenthesized(LogQLExpression)

    public var isLogQuery: Bool {
        if case .logs = self { return true }
        return false
    }

    /// Whether the expression is a plain number (possibly parenthesized), i.e. a scalar.
    public var isScalar: Bool {
        switch self {
        case .literal: return true
        case .parenthesized(let inner): return inner.isScalar
        case .binary(let binary): return binary.lhs.isScalar && binary.rhs.isScalar
        default: return false
        }
    }
}

/// A stream selector and the pipeline stages after it.
public struct LogQLLogSelector: Sendable, Equatable {
    public var matchers: [LabelMatcher]
    public var stages: [LogQLStage]

    public init(matchers: [LabelMatcher], stages: [LogQLStage] = []) {
        self.matchers = matchers
        self.stages = stages
    }
}

/// One stage of a log pipeline, with its parameters as written.
public enum LogQLStage: Sendable, Equatable {
    case lineFilter(LogQLLineFilter)
    case labelFilter(LogQLLabelFilter)
    /// `json` or `json a="x.y", b`: (label, path); the path defaults to the label.
    case json([LogQLExtraction])
    /// `logfmt [--strict] [--keep-empty] [a="key", b]`.
    case logfmt(strict: Bool, keepEmpty: Bool, [LogQLExtraction])
    case regexp(String)
    case pattern(String)
    case unpack
    case lineFormat(String)
    case labelFormat([LogQLLabelFormat])
    case drop([LogQLLabelSelection])
    case keep([LogQLLabelSelection])
    case decolorize
}

/// `label="expression"` in `json` / `logfmt` parameters.
public struct LogQLExtraction: Sendable, Equatable {
    public var label: String
    public var expression: String

    public init(label: String, expression: String) {
        self.label = label
        self.expression = expression
    }
}

/// `dst=src` (rename) or `dst="{{template}}"` in `label_format`.
public struct LogQLLabelFormat: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        case label(String)
        case template(String)
    }

    public var destination: String
    public var source: Source

    public init(destination: String, source: Source) {
        self.destination = destination
        self.source = source
    }
}

/// A name in `drop`/`keep`, optionally with a matcher (`method="GET"`): only when it matches.
public struct LogQLLabelSelection: Sendable, Equatable {
    public var name: String
    public var matcher: LabelMatcher?

    public init(name: String, matcher: LabelMatcher? = nil) {
        self.name = name
        self.matcher = matcher
    }
}

/// `|= "a" or "b"`, `!~ "re"`, `|> "<_> pattern"`, `|= ip("10.0.0.0/8")`.
public struct LogQLLineFilter: Sendable, Equatable {
    public enum Operator: String, Sendable, Equatable {
        case contains = "|="
        case notContains = "!="
        case matchesRegex = "|~"
        case notMatchesRegex = "!~"
        case matchesPattern = "|>"
        case notMatchesPattern = "!>"

        public var isNegated: Bool { self == .notContains || self == .notMatchesRegex || self == .notMatchesPattern }
    }

    public enum Value: Sendable, Equatable {
        case text(String)
        case ip(String)
    }

    public var op: Operator
    /// Alternatives joined by `or`: the line is kept when any matches (negated operators: when none does).
    public var values: [Value]

    public init(op: Operator, values: [Value]) {
        self.op = op
        self.values = values
    }
}

/// A label filter expression: predicates joined by `and` (or `,` or a space) and `or`.
public indirect enum LogQLLabelFilter: Sendable, Equatable {
    case and(LogQLLabelFilter, LogQLLabelFilter)
    case or(LogQLLabelFilter, LogQLLabelFilter)
    case parenthesized(LogQLLabelFilter)
    /// `name="v"`, `!=`, `=~`, `!~` against the label's string value.
    case string(LabelMatcher)
    /// `name > 10`, `name == 1.5` (the label value converted to a number).
    case number(name: String, op: LogQLComparison, value: Double)
    /// `name > 1s` (the label value parsed as a Go duration).
    case duration(name: String, op: LogQLComparison, seconds: Double)
    /// `name > 20MB` (the label value parsed as a size).
    case bytes(name: String, op: LogQLComparison, bytes: Double)
    /// `name = ip("...")`, `name != ip("...")`.
    case ip(name: String, equal: Bool, pattern: String)
}

extension LogQLLabelFilter {
    /// The labels the filter reads.
    var labelNames: Set<String> {
        switch self {
        case .and(let left, let right), .or(let left, let right): left.labelNames.union(right.labelNames)
        case .parenthesized(let inner): inner.labelNames
        case .string(let matcher): [matcher.name]
        case .number(let name, _, _), .duration(let name, _, _), .bytes(let name, _, _), .ip(let name, _, _): [name]
        }
    }
}

public enum LogQLComparison: String, Sendable, Equatable {
    case equal = "=="
    case notEqual = "!="
    case greater = ">"
    case greaterOrEqual = ">="
    case less = "<"
    case lessOrEqual = "<="

    public func holds(_ lhs: Double, _ rhs: Double) -> Bool {
        switch self {
        case .equal: return lhs == rhs
        case .notEqual: return lhs != rhs
        case .greater: return lhs > rhs
        case .greaterOrEqual: return lhs >= rhs
        case .less: return lhs < rhs
        case .lessOrEqual: return lhs <= rhs
        }
    }
}

/// `| unwrap name`, `| unwrap duration(name)`, `| unwrap bytes(name)`, then optional label filters.
public struct LogQLUnwrap: Sendable, Equatable {
    public enum Conversion: String, Sendable, Equatable {
        case none = ""
        case duration
        case durationSeconds = "duration_seconds"
        case bytes
    }

    public var label: String
    public var conversion: Conversion
    /// Label filters after the unwrap (typically `| __error__=""`).
    public var filters: [LogQLLabelFilter]

    public init(label: String, conversion: Conversion = .none, filters: [LogQLLabelFilter] = []) {
        self.label = label
        self.conversion = conversion
        self.filters = filters
    }
}

/// A log range: `{...} | pipeline [5m] offset 1m`, optionally unwrapped.
public struct LogQLLogRange: Sendable, Equatable {
    public var selector: LogQLLogSelector
    /// Nanoseconds.
    public var range: Int64
    /// Nanoseconds.
    public var offset: Int64
    public var unwrap: LogQLUnwrap?

    public init(selector: LogQLLogSelector, range: Int64, offset: Int64 = 0, unwrap: LogQLUnwrap? = nil) {
        self.selector = selector
        self.range = range
        self.offset = offset
        self.unwrap = unwrap
    }
}

public struct LogQLGrouping: Sendable, Equatable {
    public var without: Bool
    public var labels: [String]

    public init(without: Bool, labels: [String]) {
        self.without = without
        self.labels = labels
    }
}

public struct LogQLRangeAggregation: Sendable, Equatable {
    public enum Operation: String, Sendable, Equatable, CaseIterable {
        case countOverTime = "count_over_time"
        case rate
        case rateCounter = "rate_counter"
        case bytesOverTime = "bytes_over_time"
        case bytesRate = "bytes_rate"
        case absentOverTime = "absent_over_time"
        case sumOverTime = "sum_over_time"
        case avgOverTime = "avg_over_time"
        case maxOverTime = "max_over_time"
        case minOverTime = "min_over_time"
        case stdvarOverTime = "stdvar_over_time"
        case stddevOverTime = "stddev_over_time"
        case quantileOverTime = "quantile_over_time"
        case firstOverTime = "first_over_time"
        case lastOverTime = "last_over_time"

        /// Operations over log lines only (an unwrap is an error).
        var refusesUnwrap: Bool { self == .countOverTime || self == .bytesOverTime || self == .bytesRate }
        /// Operations over unwrapped values only.
        var requiresUnwrap: Bool {
            switch self {
            case .countOverTime, .rate, .bytesOverTime, .bytesRate, .absentOverTime: return false
            default: return true
            }
        }
        /// Loki allows `by`/`without` on the unwrapped aggregations except these.
        var allowsGrouping: Bool {
            switch self {
            case .countOverTime, .rate, .rateCounter, .bytesOverTime, .bytesRate, .absentOverTime, .sumOverTime: return false
            default: return true
            }
        }
    }

    public var operation: Operation
    public var range: LogQLLogRange
    /// Whether summing its series before it or after it gives the same result.
    var isLinear: Bool {
        switch operation {
        case .countOverTime, .rate, .bytesOverTime, .bytesRate, .sumOverTime: return true
        default: return false
        }
    }
    /// `quantile_over_time`'s φ.
    public var parameter: Double?
    public var grouping: LogQLGrouping?

    public init(operation: Operation, range: LogQLLogRange, parameter: Double? = nil, grouping: LogQLGrouping? = nil) {
        self.operation = operation
        self.range = range
        self.parameter = parameter
        self.grouping = grouping
    }
}

public struct LogQLVectorAggregation: Sendable, Equatable {
    public enum Operation: String, Sendable, Equatable, CaseIterable {
        case sum, avg, min, max, stddev, stdvar, count, topk, bottomk, sort
        case sortDescending = "sort_desc"
        case approximateTopk = "approx_topk"

        var takesParameter: Bool { self == .topk || self == .bottomk || self == .approximateTopk }
    }

    public var operation: Operation
    public var expression: LogQLExpression
    public var parameter: Double?
    public var grouping: LogQLGrouping?

    public init(operation: Operation, expression: LogQLExpression, parameter: Double? = nil, grouping: LogQLGrouping? = nil) {
        self.operation = operation
        self.expression = expression
        self.parameter = parameter
        self.grouping = grouping
    }
}

public struct LogQLBinaryExpression: Sendable, Equatable {
    public enum Operator: String, Sendable, Equatable {
        case or, and, unless
        case equal = "==", notEqual = "!=", greater = ">", greaterOrEqual = ">=", less = "<", lessOrEqual = "<="
        case add = "+", subtract = "-", multiply = "*", divide = "/", modulo = "%", power = "^"

        var precedence: Int {
            switch self {
            case .or: return 1
            case .and, .unless: return 2
            case .equal, .notEqual, .greater, .greaterOrEqual, .less, .lessOrEqual: return 3
            case .add, .subtract: return 4
            case .multiply, .divide, .modulo: return 5
            case .power: return 6
            }
        }

        var isComparison: Bool { precedence == 3 }
        var isSetOperator: Bool { precedence <= 2 }
        var isRightAssociative: Bool { self == .power }
    }

    public struct Matching: Sendable, Equatable {
        public enum Cardinality: Sendable, Equatable {
            case oneToOne
            case manyToOne([String])
            case oneToMany([String])
        }

        /// `on(...)` when true, `ignoring(...)` when false.
        public var on: Bool
        public var labels: [String]
        public var cardinality: Cardinality

        public init(on: Bool, labels: [String], cardinality: Cardinality = .oneToOne) {
            self.on = on
            self.labels = labels
            self.cardinality = cardinality
        }
    }

    public var op: Operator
    public var lhs: LogQLExpression
    public var rhs: LogQLExpression
    public var returnBool: Bool
    public var matching: Matching?

    public init(op: Operator, lhs: LogQLExpression, rhs: LogQLExpression, returnBool: Bool = false, matching: Matching? = nil) {
        self.op = op
        self.lhs = lhs
        self.rhs = rhs
        self.returnBool = returnBool
        self.matching = matching
    }
}

public struct LogQLLabelReplace: Sendable, Equatable {
    public var expression: LogQLExpression
    public var destination: String
    public var replacement: String
    public var source: String
    public var regex: String

    public init(expression: LogQLExpression, destination: String, replacement: String, source: String, regex: String) {
        self.expression = expression
        self.destination = destination
        self.replacement = replacement
        self.source = source
        self.regex = regex
    }
}
