/// The syntax tree of a PromQL expression, as the parser builds it.
///
/// The shapes follow Prometheus's own tree closely, so that printing gives the same canonical text
/// and the evaluator can apply the same rules:
/// - a vector selector written with a name outside the braces (`foo{a="b"}`) keeps `name == "foo"` and
///   carries the implied `__name__="foo"` matcher as its *last* matcher;
/// - a range selector's `offset` and `@` live on its inner vector selector;
/// - a literal number under a unary minus is folded into the literal (`-1` is a number, `-(1)` is not);
/// - `offset`, ranges and subquery steps written as plain numbers or durations become `.fixed` durations,
///   anything else (`[5m+1m]`, `offset step()`) stays a `PromQLDurationExpression` for the evaluator.
///
/// Every node carries its byte range in the query (`PromQLError.Position`, end exclusive).
public indirect enum PromQLExpression: Sendable, Equatable {
    case number(PromQLNumberLiteral)
    case string(PromQLStringLiteral)
    case vectorSelector(PromQLVectorSelector)
    case matrixSelector(PromQLMatrixSelector)
    case subquery(PromQLSubquery)
    case unary(PromQLUnaryExpression)
    case binary(PromQLBinaryExpression)
    case aggregation(PromQLAggregation)
    case call(PromQLCall)
    case parenthesized(PromQLParenExpression)

    /// The type the expression evaluates to.
    public var valueType: PromQLValueType {
        switch self {
        case .number: return .scalar
        case .string: return .string
        case .vectorSelector: return .vector
        case .matrixSelector, .subquery: return .matrix
        case .unary(let unary): return unary.operand.valueType
        case .binary(let binary):
            return binary.lhs.valueType == .scalar && binary.rhs.valueType == .scalar ? .scalar : .vector
        case .aggregation: return .vector
        case .call(let call): return call.function.returnType
        case .parenthesized(let paren): return paren.expression.valueType
        }
    }

    /// The byte range of the expression in the query, end exclusive.
    public var position: PromQLError.Position {
        switch self {
        case .number(let node): return node.position
        case .string(let node): return node.position
        case .vectorSelector(let node): return node.position
        case .matrixSelector(let node): return node.position
        case .subquery(let node): return node.position
        case .unary(let node): return node.position
        case .binary(let node): return node.position
        case .aggregation(let node): return node.position
        case .call(let node): return node.position
        case .parenthesized(let node): return node.position
        }
    }

    /// The direct children, in source order.
    public var children: [PromQLExpression] {
        switch self {
        case .number, .string, .vectorSelector: return []
        case .matrixSelector(let node): return [.vectorSelector(node.vectorSelector)]
        case .subquery(let node): return [node.expression]
        case .unary(let node): return [node.operand]
        case .binary(let node): return [node.lhs, node.rhs]
        case .aggregation(let node): return node.parameter.map { [$0, node.expression] } ?? [node.expression]
        case .call(let node): return node.arguments
        case .parenthesized(let node): return [node.expression]
        }
    }

    /// The same tree without positions and with each selector's matchers in the order the printer writes
    /// them (the implied name matcher stays last): equal for any two texts of the same query, including a
    /// query and its printed form.
    public func canonicalized() -> PromQLExpression {
        func sortSelector(_ selector: inout PromQLVectorSelector) {
            var matchers = selector.matchers
            var nameMatcher: PromQLLabelMatcher?
            if !selector.name.isEmpty, !matchers.isEmpty { nameMatcher = matchers.removeLast() }
            matchers.sort { Array($0.description.utf8).lexicographicallyPrecedes(Array($1.description.utf8)) }
            if let nameMatcher { matchers.append(nameMatcher) }
            selector.matchers = matchers
        }
        switch strippingPositions() {
        case .vectorSelector(var node):
            sortSelector(&node)
            return .vectorSelector(node)
        case .matrixSelector(var node):
            sortSelector(&node.vectorSelector)
            return .matrixSelector(node)
        case .subquery(var node):
            node.expression = node.expression.canonicalized()
            return .subquery(node)
        case .unary(var node):
            node.operand = node.operand.canonicalized()
            return .unary(node)
        case .binary(var node):
            node.lhs = node.lhs.canonicalized()
            node.rhs = node.rhs.canonicalized()
            return .binary(node)
        case .aggregation(var node):
            node.expression = node.expression.canonicalized()
            node.parameter = node.parameter?.canonicalized()
            return .aggregation(node)
        case .call(var node):
            node.arguments = node.arguments.map { $0.canonicalized() }
            return .call(node)
        case .parenthesized(var node):
            node.expression = node.expression.canonicalized()
            return .parenthesized(node)
        case let other:
            return other
        }
    }

    /// The same tree with every position set to 0..<0, to compare trees parsed from different texts.
    public func strippingPositions() -> PromQLExpression {
        let zero = PromQLError.Position(start: 0, end: 0)
        switch self {
        case .number(var node):
            node.position = zero
            return .number(node)
        case .string(var node):
            node.position = zero
            return .string(node)
        case .vectorSelector(let node):
            return .vectorSelector(node.strippingPositions())
        case .matrixSelector(var node):
            node.vectorSelector = node.vectorSelector.strippingPositions()
            node.range = node.range.strippingPositions()
            node.position = zero
            return .matrixSelector(node)
        case .subquery(var node):
            node.expression = node.expression.strippingPositions()
            node.range = node.range.strippingPositions()
            node.step = node.step?.strippingPositions()
            node.offset = node.offset?.strippingPositions()
            node.position = zero
            return .subquery(node)
        case .unary(var node):
            node.operand = node.operand.strippingPositions()
            node.position = zero
            return .unary(node)
        case .binary(var node):
            node.lhs = node.lhs.strippingPositions()
            node.rhs = node.rhs.strippingPositions()
            return .binary(node)
        case .aggregation(var node):
            node.expression = node.expression.strippingPositions()
            node.parameter = node.parameter?.strippingPositions()
            node.position = zero
            return .aggregation(node)
        case .call(var node):
            node.arguments = node.arguments.map { $0.strippingPositions() }
            node.position = zero
            return .call(node)
        case .parenthesized(var node):
            node.expression = node.expression.strippingPositions()
            node.position = zero
            return .parenthesized(node)
        }
    }
}

/// The four PromQL value types, plus `none` for what is not an expression.
public enum PromQLValueType: String, Sendable, Equatable {
    case none
    case scalar
    case vector
    case matrix
    case string

    /// The name the documentation uses: "instant vector", "range vector", "scalar", "string".
    public var documentedName: String {
        switch self {
        case .vector: return "instant vector"
        case .matrix: return "range vector"
        default: return rawValue
        }
    }
}

/// A number: `1`, `0x1f`, `1e3`, `Inf`, or a duration used as a number of seconds (`5m`).
public struct PromQLNumberLiteral: Sendable, Equatable {
    public var value: Double
    /// Written as a duration (`5m`); printed back as one.
    public var isDuration: Bool
    public var position: PromQLError.Position

    public init(value: Double, isDuration: Bool = false, position: PromQLError.Position) {
        self.value = value
        self.isDuration = isDuration
        self.position = position
    }

    /// NaN equals NaN here, so trees with `NaN` literals compare equal to themselves.
    public static func == (lhs: PromQLNumberLiteral, rhs: PromQLNumberLiteral) -> Bool {
        (lhs.value == rhs.value || lhs.value.bitPattern == rhs.value.bitPattern || (lhs.value.isNaN && rhs.value.isNaN))
            && lhs.isDuration == rhs.isDuration && lhs.position == rhs.position
    }
}

/// A string literal, unquoted.
public struct PromQLStringLiteral: Sendable, Equatable {
    /// The exact bytes after unquoting. `\xNN` and octal escapes can produce bytes that are not UTF-8.
    public var bytes: [UInt8]
    public var position: PromQLError.Position

    public init(bytes: [UInt8], position: PromQLError.Position) {
        self.bytes = bytes
        self.position = position
    }

    public init(_ value: String, position: PromQLError.Position) {
        self.bytes = Array(value.utf8)
        self.position = position
    }

    /// The value as text; bytes that are not UTF-8 become U+FFFD.
    public var value: String { String(decoding: bytes, as: UTF8.self) }

    /// Whether `bytes` is valid UTF-8 (label names and values must be).
    public var isValidUTF8: Bool { String(validating: bytes, as: UTF8.self) != nil }
}

/// `=`, `!=`, `=~`, `!~`.
public enum PromQLMatchType: String, Sendable, Equatable {
    case equal = "="
    case notEqual = "!="
    case regexMatch = "=~"
    case regexNoMatch = "!~"
}

/// One label matcher of a selector. Regular expressions are kept as written; they match the whole
/// value (Prometheus anchors them as `^(?s:…)$`), which the evaluator applies.
public struct PromQLLabelMatcher: Sendable, Equatable, Hashable {
    public var name: String
    public var type: PromQLMatchType
    public var value: String

    public init(name: String, type: PromQLMatchType, value: String) {
        self.name = name
        self.type = type
        self.value = value
    }
}

/// `@ <timestamp>`, `@ start()`, `@ end()`.
public enum PromQLAtModifier: Sendable, Equatable {
    /// Milliseconds since the epoch (`@ 1.5` is 1500).
    case timestamp(milliseconds: Int64)
    case start
    case end
}

/// A span of time: a range, a subquery step or an offset.
public enum PromQLDurationSpec: Sendable, Equatable {
    /// A plain number of seconds or a duration literal, already resolved (may be negative for offsets).
    case fixed(PromQLDuration)
    /// A duration expression (`[5m+1m]`, `offset step()`, `[(5m)]`), computed at evaluation time.
    case expression(PromQLDurationExpression)

    /// The fixed value, if there is one.
    public var fixedValue: PromQLDuration? {
        if case .fixed(let duration) = self { return duration }
        return nil
    }

    func strippingPositions() -> PromQLDurationSpec {
        switch self {
        case .fixed: return self
        case .expression(let expression): return .expression(expression.strippingPositions())
        }
    }
}

/// An instant vector selector: `foo`, `foo{a="b"}`, `{__name__=~"x.*"}`, with optional modifiers.
public struct PromQLVectorSelector: Sendable, Equatable {
    /// The metric name written outside the braces, or "" when there is none.
    public var name: String
    /// All matchers; when `name` is set, the last one is its `__name__="name"` matcher.
    public var matchers: [PromQLLabelMatcher]
    /// `offset …`; nil when absent. `.fixed(.zero)` is kept as written but means no offset.
    public var offset: PromQLDurationSpec?
    public var at: PromQLAtModifier?
    /// `anchored` (experimental extended range selectors).
    public var anchored: Bool
    /// `smoothed` (experimental extended range selectors).
    public var smoothed: Bool
    public var position: PromQLError.Position

    public init(
        name: String = "", matchers: [PromQLLabelMatcher], offset: PromQLDurationSpec? = nil,
        at: PromQLAtModifier? = nil, anchored: Bool = false, smoothed: Bool = false, position: PromQLError.Position
    ) {
        self.name = name
        self.matchers = matchers
        self.offset = offset
        self.at = at
        self.anchored = anchored
        self.smoothed = smoothed
        self.position = position
    }

    /// Whether an offset other than zero was given.
    var hasOffset: Bool {
        switch offset {
        case nil: return false
        case .fixed(let duration): return duration.nanoseconds != 0
        case .expression: return true
        }
    }

    func strippingPositions() -> PromQLVectorSelector {
        var copy = self
        copy.position = .init(start: 0, end: 0)
        copy.offset = offset?.strippingPositions()
        return copy
    }
}

/// A range vector selector: `foo[5m]`. Its `offset` and `@` are those of `vectorSelector`.
public struct PromQLMatrixSelector: Sendable, Equatable {
    public var vectorSelector: PromQLVectorSelector
    public var range: PromQLDurationSpec
    public var position: PromQLError.Position

    public init(vectorSelector: PromQLVectorSelector, range: PromQLDurationSpec, position: PromQLError.Position) {
        self.vectorSelector = vectorSelector
        self.range = range
        self.position = position
    }
}

/// `<expr>[range:step] @ … offset …`.
public struct PromQLSubquery: Sendable, Equatable {
    public var expression: PromQLExpression
    public var range: PromQLDurationSpec
    /// nil when omitted (`[5m:]`): the evaluator uses the default evaluation interval.
    public var step: PromQLDurationSpec?
    public var offset: PromQLDurationSpec?
    public var at: PromQLAtModifier?
    public var position: PromQLError.Position

    public init(
        expression: PromQLExpression, range: PromQLDurationSpec, step: PromQLDurationSpec?,
        offset: PromQLDurationSpec? = nil, at: PromQLAtModifier? = nil, position: PromQLError.Position
    ) {
        self.expression = expression
        self.range = range
        self.step = step
        self.offset = offset
        self.at = at
        self.position = position
    }

    var hasOffset: Bool {
        switch offset {
        case nil: return false
        case .fixed(let duration): return duration.nanoseconds != 0
        case .expression: return true
        }
    }
}

public enum PromQLUnaryOperator: String, Sendable, Equatable {
    case plus = "+"
    case minus = "-"
}

/// `-x` or `+x` on something other than a number literal.
public struct PromQLUnaryExpression: Sendable, Equatable {
    public var op: PromQLUnaryOperator
    public var operand: PromQLExpression
    public var position: PromQLError.Position

    public init(op: PromQLUnaryOperator, operand: PromQLExpression, position: PromQLError.Position) {
        self.op = op
        self.operand = operand
        self.position = position
    }
}

/// Binary operators, in the spelling Prometheus prints.
public enum PromQLBinaryOperator: String, Sendable, Equatable, CaseIterable {
    case add = "+"
    case subtract = "-"
    case multiply = "*"
    case divide = "/"
    case modulo = "%"
    case power = "^"
    case atan2 = "atan2"
    case equal = "=="
    case notEqual = "!="
    case greaterThan = ">"
    case lessThan = "<"
    case greaterOrEqual = ">="
    case lessOrEqual = "<="
    /// `</`: trims native histogram observations above a threshold.
    case trimUpper = "</"
    /// `>/`: trims native histogram observations below a threshold.
    case trimLower = ">/"
    case and = "and"
    case or = "or"
    case unless = "unless"

    public var isComparison: Bool {
        switch self {
        case .equal, .notEqual, .greaterThan, .lessThan, .greaterOrEqual, .lessOrEqual: return true
        default: return false
        }
    }

    public var isSetOperator: Bool { self == .and || self == .or || self == .unless }

    /// Binding strength: 1 (`or`) to 6 (`^`).
    public var precedence: Int {
        switch self {
        case .or: return 1
        case .and, .unless: return 2
        case .equal, .notEqual, .greaterThan, .lessThan, .greaterOrEqual, .lessOrEqual, .trimUpper, .trimLower: return 3
        case .add, .subtract: return 4
        case .multiply, .divide, .modulo, .atan2: return 5
        case .power: return 6
        }
    }

    public var isRightAssociative: Bool { self == .power }
}

public enum PromQLVectorMatchCardinality: String, Sendable, Equatable {
    case oneToOne = "one-to-one"
    case manyToOne = "many-to-one"
    case oneToMany = "one-to-many"
    case manyToMany = "many-to-many"
}

/// How the two sides of a binary operation between instant vectors are matched.
public struct PromQLVectorMatching: Sendable, Equatable {
    public var cardinality: PromQLVectorMatchCardinality
    /// The `on (…)` or `ignoring (…)` labels.
    public var matchingLabels: [String]
    /// `on` rather than `ignoring`.
    public var on: Bool
    /// The `group_left (…)` / `group_right (…)` labels.
    public var include: [String]
    /// `fill (v)` / `fill_left (v)`: value for a missing left-hand side series.
    public var fillLeft: Double?
    /// `fill (v)` / `fill_right (v)`: value for a missing right-hand side series.
    public var fillRight: Double?

    public init(
        cardinality: PromQLVectorMatchCardinality = .oneToOne, matchingLabels: [String] = [], on: Bool = false,
        include: [String] = [], fillLeft: Double? = nil, fillRight: Double? = nil
    ) {
        self.cardinality = cardinality
        self.matchingLabels = matchingLabels
        self.on = on
        self.include = include
        self.fillLeft = fillLeft
        self.fillRight = fillRight
    }

    public static func == (lhs: PromQLVectorMatching, rhs: PromQLVectorMatching) -> Bool {
        func same(_ left: Double?, _ right: Double?) -> Bool {
            switch (left, right) {
            case (nil, nil): return true
            case (let left?, let right?): return left == right || (left.isNaN && right.isNaN)
            default: return false
            }
        }
        return lhs.cardinality == rhs.cardinality && lhs.matchingLabels == rhs.matchingLabels && lhs.on == rhs.on
            && lhs.include == rhs.include && same(lhs.fillLeft, rhs.fillLeft) && same(lhs.fillRight, rhs.fillRight)
    }
}

/// `lhs op [bool] [on|ignoring (…)] [group_left|group_right (…)] [fill…] rhs`.
public struct PromQLBinaryExpression: Sendable, Equatable {
    public var op: PromQLBinaryOperator
    public var lhs: PromQLExpression
    public var rhs: PromQLExpression
    /// The `bool` modifier of a comparison.
    public var returnBool: Bool
    /// Set only when both sides are instant vectors (as in Prometheus); set operators are many-to-many.
    public var matching: PromQLVectorMatching?

    public init(
        op: PromQLBinaryOperator, lhs: PromQLExpression, rhs: PromQLExpression, returnBool: Bool = false,
        matching: PromQLVectorMatching? = nil
    ) {
        self.op = op
        self.lhs = lhs
        self.rhs = rhs
        self.returnBool = returnBool
        self.matching = matching
    }

    public var position: PromQLError.Position { .init(start: lhs.position.start, end: rhs.position.end) }
}

/// Aggregation operators.
public enum PromQLAggregationOperator: String, Sendable, Equatable, CaseIterable {
    case sum, avg, count, min, max, group, stddev, stdvar, topk, bottomk, quantile
    case countValues = "count_values"
    case limitk
    case limitRatio = "limit_ratio"

    /// Whether it takes a parameter before the vector (`topk(3, x)`).
    public var takesParameter: Bool {
        switch self {
        case .topk, .bottomk, .quantile, .countValues, .limitk, .limitRatio: return true
        default: return false
        }
    }

    /// `limitk` and `limit_ratio` need the experimental functions flag in Prometheus.
    public var isExperimental: Bool { self == .limitk || self == .limitRatio }
}

/// `sum by (job) (x)`, `topk(3, x)`, `count_values without (a) ("v", x)`.
public struct PromQLAggregation: Sendable, Equatable {
    public var op: PromQLAggregationOperator
    public var expression: PromQLExpression
    public var parameter: PromQLExpression?
    public var grouping: [String]
    /// `without (…)` rather than `by (…)`.
    public var without: Bool
    public var position: PromQLError.Position

    public init(
        op: PromQLAggregationOperator, expression: PromQLExpression, parameter: PromQLExpression? = nil,
        grouping: [String] = [], without: Bool = false, position: PromQLError.Position
    ) {
        self.op = op
        self.expression = expression
        self.parameter = parameter
        self.grouping = grouping
        self.without = without
        self.position = position
    }
}

/// A function call: `rate(x[5m])`.
public struct PromQLCall: Sendable, Equatable {
    public var function: PromQLFunction
    public var arguments: [PromQLExpression]
    public var position: PromQLError.Position

    public init(function: PromQLFunction, arguments: [PromQLExpression], position: PromQLError.Position) {
        self.function = function
        self.arguments = arguments
        self.position = position
    }
}

/// `( expr )`.
public struct PromQLParenExpression: Sendable, Equatable {
    public var expression: PromQLExpression
    public var position: PromQLError.Position

    public init(expression: PromQLExpression, position: PromQLError.Position) {
        self.expression = expression
        self.position = position
    }
}
