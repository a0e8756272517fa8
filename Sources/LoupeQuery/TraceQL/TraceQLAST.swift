import LoupeModel

// The TraceQL syntax tree, as Tempo's grammar (pkg/traceql/expr.y) defines the language. The tree
// keeps what was written (no constant folding inside field expressions), so it prints back to the
// same query; only the top-level `scalar` constants (`count() > 1 + 2`, metrics math) are folded,
// because the grammar folds them too and refuses durations there.

/// A literal value, and the value every expression evaluates to.
public enum TraceQLStatic: Hashable, Sendable {
    /// What a missing attribute evaluates to.
    case nilValue
    case int(Int64)
    case float(Double)
    case string(String)
    case bool(Bool)
    /// Nanoseconds.
    case duration(Int64)
    case status(StatusCode)
    case kind(SpanKind)
}

/// The static type of an expression (Tempo's `StaticType`). `attribute` is "known only at run time".
public enum TraceQLType: String, Hashable, Sendable {
    case nilType = "nil"
    case attribute
    case int
    case float
    case string
    case boolean
    case duration
    case status
    case kind
    case spanset

    var isNumeric: Bool { self == .int || self == .float || self == .duration }
}

public enum TraceQLAttributeScope: String, Hashable, Sendable, CaseIterable {
    /// Unscoped (`.name`): span attributes first, then resource, event, link and scope attributes.
    case none
    case resource
    case span
    case event
    case link
    case instrumentation
}

/// Fields every span has, written without a leading dot (`duration`, `span:id`, `trace:rootService`).
public enum TraceQLIntrinsic: String, Hashable, Sendable, CaseIterable {
    case duration
    case name
    case status
    case statusMessage
    case kind
    case childCount
    case rootServiceName
    case rootName
    case traceDuration
    case nestedSetLeft
    case nestedSetRight
    case nestedSetParent
    case eventName
    case eventTimeSinceStart
    case linkSpanID
    case linkTraceID
    case instrumentationName
    case instrumentationVersion
    /// `parent`: accepted by the grammar, refused by validation as unsupported (as in Tempo).
    case parent
    case traceID
    case spanID
    case parentID

    /// The canonical spelling, as Tempo prints it.
    public var canonicalName: String {
        switch self {
        case .duration: "duration"
        case .name: "name"
        case .status: "status"
        case .statusMessage: "statusMessage"
        case .kind: "kind"
        case .childCount: "span:childCount"
        case .rootServiceName: "rootServiceName"
        case .rootName: "rootName"
        case .traceDuration: "traceDuration"
        case .nestedSetLeft: "nestedSetLeft"
        case .nestedSetRight: "nestedSetRight"
        case .nestedSetParent: "nestedSetParent"
        case .eventName: "event:name"
        case .eventTimeSinceStart: "event:timeSinceStart"
        case .linkSpanID: "link:spanID"
        case .linkTraceID: "link:traceID"
        case .instrumentationName: "instrumentation:name"
        case .instrumentationVersion: "instrumentation:version"
        case .parent: "parent"
        case .traceID: "trace:id"
        case .spanID: "span:id"
        case .parentID: "span:parentID"
        }
    }

    /// The type the intrinsic always has (Tempo's `Attribute.impliedType`).
    public var type: TraceQLType {
        switch self {
        case .duration, .traceDuration, .eventTimeSinceStart: .duration
        case .childCount, .nestedSetLeft, .nestedSetRight, .nestedSetParent: .int
        case .status: .status
        case .kind: .kind
        case .parent: .nilType
        case .name, .statusMessage, .rootServiceName, .rootName, .eventName, .linkSpanID, .linkTraceID, .traceID, .spanID,
            .parentID:
            .string
        case .instrumentationName, .instrumentationVersion:
            // Tempo leaves these untyped (resolved at run time); they are strings in practice.
            .attribute
        }
    }
}

/// An attribute or intrinsic reference.
public struct TraceQLAttribute: Hashable, Sendable {
    public var name: String
    public var scope: TraceQLAttributeScope
    /// `parent.` prefix: accepted by the grammar, unsupported at validation (as in Tempo).
    public var parent: Bool
    public var intrinsic: TraceQLIntrinsic?

    public init(name: String, scope: TraceQLAttributeScope = .none, parent: Bool = false) {
        self.name = name
        self.scope = scope
        self.parent = parent
        self.intrinsic = nil
    }

    public init(intrinsic: TraceQLIntrinsic) {
        self.name = intrinsic.canonicalName
        self.scope = .none
        self.parent = false
        self.intrinsic = intrinsic
    }

    public var type: TraceQLType { intrinsic?.type ?? .attribute }
}

public enum TraceQLBinaryOperator: String, Hashable, Sendable, CaseIterable {
    case add = "+"
    case subtract = "-"
    case multiply = "*"
    case divide = "/"
    case modulo = "%"
    case power = "^"
    case equal = "="
    case notEqual = "!="
    case regexMatch = "=~"
    case regexNotMatch = "!~"
    case greater = ">"
    case greaterOrEqual = ">="
    case less = "<"
    case lessOrEqual = "<="
    case and = "&&"
    case or = "||"

    /// Operators whose result is a boolean (Tempo's `isBoolean`).
    public var isBoolean: Bool {
        switch self {
        case .add, .subtract, .multiply, .divide, .modulo, .power: false
        default: true
        }
    }

    var isComparison: Bool {
        switch self {
        case .equal, .notEqual, .greater, .greaterOrEqual, .less, .lessOrEqual: true
        default: false
        }
    }
}

public enum TraceQLUnaryOperator: String, Hashable, Sendable {
    case negate = "-"
    case not = "!"
    /// `x != nil`
    case exists
    /// `x = nil`
    case notExists
}

/// Operators between spansets.
public enum TraceQLSpansetOperator: String, Hashable, Sendable, CaseIterable {
    case and = "&&"
    case union = "||"
    case child = ">"
    case parent = "<"
    case descendant = ">>"
    case ancestor = "<<"
    case sibling = "~"
    case notChild = "!>"
    case notParent = "!<"
    case notDescendant = "!>>"
    case notAncestor = "!<<"
    case notSibling = "!~"
    case unionChild = "&>"
    case unionParent = "&<"
    case unionDescendant = "&>>"
    case unionAncestor = "&<<"
    case unionSibling = "&~"
}

/// An expression over one span, the inside of `{ ... }`, `by(...)` and aggregates.
public indirect enum TraceQLFieldExpression: Hashable, Sendable {
    case value(TraceQLStatic)
    case attribute(TraceQLAttribute)
    case binary(TraceQLBinaryOperator, TraceQLFieldExpression, TraceQLFieldExpression)
    case unary(TraceQLUnaryOperator, TraceQLFieldExpression)

    /// Whether the expression reads the span at all (Tempo's `referencesSpan`).
    public var referencesSpan: Bool {
        switch self {
        case .value: false
        case .attribute: true
        case .binary(_, let lhs, let rhs): lhs.referencesSpan || rhs.referencesSpan
        case .unary(_, let operand): operand.referencesSpan
        }
    }
}

public enum TraceQLSpansetExpression: Hashable, Sendable {
    /// `{ expression }`; `{}` is `{ true }`.
    case filter(TraceQLFieldExpression)
    indirect case operation(TraceQLSpansetOperator, TraceQLSpansetExpression, TraceQLSpansetExpression)
    /// A parenthesised pipeline used as an operand: `({ a } | count() > 1) >> { b }`.
    indirect case pipeline(TraceQLPipeline)
}

public struct TraceQLAggregate: Hashable, Sendable {
    public enum Function: String, Hashable, Sendable {
        case count, avg, max, min, sum
    }

    public var function: Function
    /// nil for `count()`.
    public var expression: TraceQLFieldExpression?

    public init(_ function: Function, _ expression: TraceQLFieldExpression? = nil) {
        self.function = function
        self.expression = expression
    }
}

/// One side of a scalar filter.
public indirect enum TraceQLScalarExpression: Hashable, Sendable {
    case aggregate(TraceQLAggregate)
    case value(TraceQLStatic)
    case binary(TraceQLBinaryOperator, TraceQLScalarExpression, TraceQLScalarExpression)
    /// A parenthesised pipeline ending in an aggregate: `({ a } | count())`.
    case pipeline(TraceQLPipeline)
}

/// `count() > 2`, `avg(duration) > 1s`.
public struct TraceQLScalarFilter: Hashable, Sendable {
    public var op: TraceQLBinaryOperator
    public var lhs: TraceQLScalarExpression
    public var rhs: TraceQLScalarExpression

    public init(_ op: TraceQLBinaryOperator, _ lhs: TraceQLScalarExpression, _ rhs: TraceQLScalarExpression) {
        self.op = op
        self.lhs = lhs
        self.rhs = rhs
    }
}

public enum TraceQLPipelineElement: Hashable, Sendable {
    case spanset(TraceQLSpansetExpression)
    case scalarFilter(TraceQLScalarFilter)
    case groupBy(TraceQLFieldExpression)
    case coalesce
    case select([TraceQLAttribute])
    /// Only as the last element of a parenthesised scalar pipeline.
    case aggregate(TraceQLAggregate)
}

/// Elements separated by `|`, each applied to the spansets the previous one produced.
public struct TraceQLPipeline: Hashable, Sendable {
    public var elements: [TraceQLPipelineElement]

    public init(_ elements: [TraceQLPipelineElement]) { self.elements = elements }
}

// MARK: Metrics (parsed and validated; evaluation belongs to the metrics engine)

public struct TraceQLMetricsFunction: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        case rate
        case countOverTime = "count_over_time"
        case minOverTime = "min_over_time"
        case maxOverTime = "max_over_time"
        case avgOverTime = "avg_over_time"
        case sumOverTime = "sum_over_time"
        case quantileOverTime = "quantile_over_time"
        case histogramOverTime = "histogram_over_time"
        case compare
    }

    public var kind: Kind
    public var attribute: TraceQLAttribute?
    public var quantiles: [Double]
    public var by: [TraceQLAttribute]
    /// `compare({ filter }, topN, start, end)`: the selection and its arguments (defaults 10, 0, 0).
    public var comparison: TraceQLFieldExpression?
    public var compareArguments: [Int]

    public init(
        _ kind: Kind, attribute: TraceQLAttribute? = nil, quantiles: [Double] = [], by: [TraceQLAttribute] = [],
        comparison: TraceQLFieldExpression? = nil, compareArguments: [Int] = []
    ) {
        self.kind = kind
        self.attribute = attribute
        self.quantiles = quantiles
        self.by = by
        self.comparison = comparison
        self.compareArguments = compareArguments
    }
}

/// What may follow a metrics function: `| topk(5)`, `| bottomk(5)`, `> 10`.
public enum TraceQLSecondStage: Hashable, Sendable {
    case topK(Int)
    case bottomK(Int)
    /// A comparison against the series values (durations are in seconds, as Tempo converts them).
    case filter(TraceQLBinaryOperator, Double)
}

public struct TraceQLMetricsPipeline: Hashable, Sendable {
    public var pipeline: TraceQLPipeline
    public var function: TraceQLMetricsFunction
    public var secondStage: [TraceQLSecondStage]

    public init(pipeline: TraceQLPipeline, function: TraceQLMetricsFunction, secondStage: [TraceQLSecondStage] = []) {
        self.pipeline = pipeline
        self.function = function
        self.secondStage = secondStage
    }
}

public indirect enum TraceQLMetricsExpression: Hashable, Sendable {
    case pipeline(TraceQLMetricsPipeline)
    /// `(A) + (B)`: `+ - * /` between metrics results.
    case binary(TraceQLBinaryOperator, TraceQLMetricsExpression, TraceQLMetricsExpression)
    /// `(A) * 100` or `100 * (A)`.
    case scalar(TraceQLBinaryOperator, Double, TraceQLMetricsExpression, scalarOnLeft: Bool)
}

/// `with(name=value)`.
public struct TraceQLHint: Hashable, Sendable {
    public var name: String
    public var value: TraceQLStatic

    public init(name: String, value: TraceQLStatic) {
        self.name = name
        self.value = value
    }
}

/// A parsed TraceQL query.
public struct TraceQLQuery: Hashable, Sendable {
    public enum Body: Hashable, Sendable {
        /// A search: a pipeline that selects spansets.
        case search(TraceQLPipeline)
        /// A metrics query; `secondStage` applies to the whole expression (root-level `| topk(5)`, `> 10`).
        case metrics(TraceQLMetricsExpression, secondStage: [TraceQLSecondStage])
    }

    public var body: Body
    public var hints: [TraceQLHint]

    public init(_ body: Body, hints: [TraceQLHint] = []) {
        self.body = body
        self.hints = hints
    }

    public var isMetrics: Bool {
        if case .metrics = body { return true }
        return false
    }
}
