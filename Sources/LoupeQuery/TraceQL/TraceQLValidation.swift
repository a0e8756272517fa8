import LoupeModel

/// Static checks after parsing, as Tempo's `validate()` makes them: every expression has a static type
/// (`TraceQLType`, `attribute` when only the data can tell), operands of an operator must have matching
/// types the operator accepts, filters must be boolean, aggregates must be numeric and read the span,
/// regular expressions must compile. What Tempo does not evaluate yet is `.unsupported`.
enum TraceQLValidator {
    static func validate(_ query: TraceQLQuery) throws(TraceQLError) {
        switch query.body {
        case .search(let pipeline):
            try validate(pipeline)
        case .metrics(let expression, let secondStage):
            try validate(expression)
            try validate(secondStage)
            // compare() produces its own series; Tempo refuses to combine it with second stages or math.
            let usesCompare = expression.metricsPipelines.contains { $0.function.kind == .compare }
            let hasSecondStage = !secondStage.isEmpty || expression.metricsPipelines.contains { !$0.secondStage.isEmpty }
            if case .pipeline = expression {} else if usesCompare {
                throw TraceQLError(.invalid, "`compare()` cannot be used with second stages or math")
            }
            if usesCompare && hasSecondStage {
                throw TraceQLError(.invalid, "`compare()` cannot be used with second stage functions")
            }
        }
    }

    // MARK: Pipelines

    static func validate(_ pipeline: TraceQLPipeline) throws(TraceQLError) {
        for element in pipeline.elements { try validate(element) }
    }

    static func validate(_ element: TraceQLPipelineElement) throws(TraceQLError) {
        switch element {
        case .spanset(let spanset):
            try validate(spanset)
        case .scalarFilter(let filter):
            try validate(filter)
        case .groupBy(let expression):
            guard expression.referencesSpan else {
                throw TraceQLError(.invalid, "grouping field expressions must reference the span: by(\(expression))")
            }
            try validate(expression)
        case .coalesce:
            break
        case .select(let attributes):
            for attribute in attributes { try validate(attribute) }
        case .aggregate(let aggregate):
            try validate(aggregate)
        }
    }

    static func validate(_ spanset: TraceQLSpansetExpression) throws(TraceQLError) {
        switch spanset {
        case .filter(let expression):
            try validate(expression)
            let type = self.type(of: expression)
            guard type == .attribute || type == .boolean else {
                throw TraceQLError(.invalid, "span filter field expressions must resolve to a boolean: \(spanset)")
            }
        case .operation(_, let lhs, let rhs):
            try validate(lhs)
            try validate(rhs)
        case .pipeline(let pipeline):
            try validate(pipeline)
        }
    }

    static func validate(_ filter: TraceQLScalarFilter) throws(TraceQLError) {
        try validate(filter.lhs)
        try validate(filter.rhs)
        let lhsType = type(of: filter.lhs)
        let rhsType = type(of: filter.rhs)
        let text = TraceQLPrinter.scalarFilter(filter)
        guard matchingOperands(lhsType, rhsType) else {
            throw TraceQLError(.invalid, "binary operations must operate on the same type: \(text)")
        }
        guard operatorAccepts(filter.op, lhsType) && operatorAccepts(filter.op, rhsType) else {
            throw TraceQLError(.invalid, "illegal operation for the given types: \(text)")
        }
        // Tempo evaluates only `aggregate op constant`.
        guard case .aggregate = filter.lhs else { throw TraceQLError(.unsupported, "scalar filter lhs of type (\(text))") }
        guard case .value = filter.rhs else { throw TraceQLError(.unsupported, "scalar filter rhs of type (\(text))") }
    }

    static func validate(_ scalar: TraceQLScalarExpression) throws(TraceQLError) {
        switch scalar {
        case .aggregate(let aggregate):
            try validate(aggregate)
        case .value:
            break
        case .binary(let op, let lhs, let rhs):
            try validate(lhs)
            try validate(rhs)
            let lhsType = type(of: lhs)
            let rhsType = type(of: rhs)
            let text = TraceQLPrinter.scalarExpression(scalar)
            guard matchingOperands(lhsType, rhsType) else {
                throw TraceQLError(.invalid, "binary operations must operate on the same type: \(text)")
            }
            guard operatorAccepts(op, lhsType) && operatorAccepts(op, rhsType) else {
                throw TraceQLError(.invalid, "illegal operation for the given types: \(text)")
            }
        case .pipeline(let pipeline):
            try validate(pipeline)
        }
    }

    static func validate(_ aggregate: TraceQLAggregate) throws(TraceQLError) {
        guard let expression = aggregate.expression else { return }
        try validate(expression)
        let type = self.type(of: expression)
        let text = TraceQLPrinter.aggregate(aggregate)
        guard type == .attribute || type.isNumeric else {
            throw TraceQLError(.invalid, "aggregate field expressions must resolve to a number type: \(text)")
        }
        guard expression.referencesSpan else {
            throw TraceQLError(.invalid, "aggregate field expressions must reference the span: \(text)")
        }
    }

    // MARK: Field expressions

    static func validate(_ expression: TraceQLFieldExpression) throws(TraceQLError) {
        switch expression {
        case .value:
            break
        case .attribute(let attribute):
            try validate(attribute)
        case .binary(let op, let lhs, let rhs):
            try validate(lhs)
            try validate(rhs)
            let lhsType = type(of: lhs)
            let rhsType = type(of: rhs)
            guard matchingOperands(lhsType, rhsType) else {
                throw TraceQLError(.invalid, "binary operations must operate on the same type: \(expression)")
            }
            guard operatorAccepts(op, lhsType) && operatorAccepts(op, rhsType) else {
                throw TraceQLError(.invalid, "illegal operation for the given types: \(expression)")
            }
            if op == .regexMatch || op == .regexNotMatch {
                // The pattern must be a literal string that compiles; the data is matched against it.
                guard case .value(.string(let pattern)) = rhs else {
                    throw TraceQLError(.invalid, "invalid type for =~ or !~: \(rhs)")
                }
                guard TraceQLRegex(pattern) != nil else { throw TraceQLError(.invalid, "invalid regex: \(rhs)") }
            }
        case .unary(let op, let operand):
            try validate(operand)
            if op == .notExists, case .attribute(let attribute) = operand {
                if attribute.intrinsic != nil {
                    throw TraceQLError(.invalid, "\(attribute)=nil is not valid because intrinsics cannot be nil")
                }
                if attribute == TraceQLAttribute(name: "service.name", scope: .resource) {
                    throw TraceQLError(.invalid, "\(attribute)=nil is not valid because resource.service.name cannot be nil")
                }
            }
            let type = self.type(of: operand)
            if type == .attribute { return }
            let valid: Bool
            switch op {
            case .negate: valid = type.isNumeric
            case .not: valid = type == .boolean
            case .exists, .notExists: valid = true
            }
            guard valid else { throw TraceQLError(.invalid, "illegal operation for the given type: \(expression)") }
        }
    }

    static func validate(_ attribute: TraceQLAttribute) throws(TraceQLError) {
        if attribute.parent { throw TraceQLError(.unsupported, "parent") }
        if attribute.intrinsic == .parent { throw TraceQLError(.unsupported, "intrinsic (parent)") }
    }

    // MARK: Metrics

    static func validate(_ expression: TraceQLMetricsExpression) throws(TraceQLError) {
        switch expression {
        case .pipeline(let metrics):
            try validate(metrics.pipeline)
            try validate(metrics.function)
            try validate(metrics.secondStage)
        case .binary(_, let lhs, let rhs):
            try validate(lhs)
            try validate(rhs)
        case .scalar(_, _, let operand, _):
            try validate(operand)
        }
    }

    static func validate(_ function: TraceQLMetricsFunction) throws(TraceQLError) {
        // Tempo keeps one group-by slot for the histogram bucket of quantile, histogram and average.
        let maxGroupBys = 5
        switch function.kind {
        case .quantileOverTime, .histogramOverTime, .avgOverTime:
            if function.by.count >= maxGroupBys {
                throw TraceQLError(.unsupported, "metrics group by \(function.by.count) values")
            }
        default:
            if function.by.count > maxGroupBys {
                throw TraceQLError(.unsupported, "metrics group by \(function.by.count) values")
            }
        }
        for quantile in function.quantiles where quantile < 0 || quantile > 1 {
            throw TraceQLError(.invalid, "quantile must be between 0 and 1: \(TraceQLPrinter.goNumber(quantile))")
        }
        if let comparison = function.comparison {
            try validate(.filter(comparison))
            let arguments = function.compareArguments
            let topN = arguments.first ?? 10
            guard topN > 0 && topN <= 1000 else {
                throw TraceQLError(.invalid, "compare() top number of values must be an integer between 1 and 1000")
            }
            if arguments.count == 3 {
                guard arguments[1] > 0 && arguments[2] > 0 else {
                    throw TraceQLError(.invalid, "compare() timestamps must be positive integer unix nanoseconds")
                }
                guard arguments[2] > arguments[1] else {
                    throw TraceQLError(.invalid, "compare() end timestamp must be greater than start timestamp")
                }
            }
        }
    }

    static func validate(_ stages: [TraceQLSecondStage]) throws(TraceQLError) {
        for stage in stages {
            switch stage {
            case .topK(let limit), .bottomK(let limit):
                guard limit > 0 else { throw TraceQLError(.invalid, "limit must be greater than 0") }
            case .filter:
                break
            }
        }
    }

    // MARK: Types

    static func type(of value: TraceQLStatic) -> TraceQLType {
        switch value {
        case .nilValue: .nilType
        case .int: .int
        case .float: .float
        case .string: .string
        case .bool: .boolean
        case .duration: .duration
        case .status: .status
        case .kind: .kind
        }
    }

    /// Tempo's `impliedType`: boolean operators give booleans, arithmetic takes the first typed operand.
    static func type(of expression: TraceQLFieldExpression) -> TraceQLType {
        switch expression {
        case .value(let value): return type(of: value)
        case .attribute(let attribute): return attribute.type
        case .binary(let op, let lhs, let rhs):
            if op.isBoolean { return .boolean }
            let left = type(of: lhs)
            return left != .attribute ? left : type(of: rhs)
        case .unary(let op, let operand):
            if op == .exists || op == .notExists { return .boolean }
            return type(of: operand)
        }
    }

    static func type(of scalar: TraceQLScalarExpression) -> TraceQLType {
        switch scalar {
        case .aggregate(let aggregate): return type(of: aggregate)
        case .value(let value): return type(of: value)
        case .binary(let op, let lhs, let rhs):
            if op.isBoolean { return .boolean }
            let left = type(of: lhs)
            return left != .attribute ? left : type(of: rhs)
        case .pipeline(let pipeline):
            if case .aggregate(let aggregate) = pipeline.elements.last { return type(of: aggregate) }
            return .spanset
        }
    }

    static func type(of aggregate: TraceQLAggregate) -> TraceQLType {
        guard aggregate.function != .count, let expression = aggregate.expression else { return .int }
        return type(of: expression)
    }

    /// Whether two types may meet in a binary operation at all (Tempo's `isMatchingOperand`).
    static func matchingOperands(_ lhs: TraceQLType, _ rhs: TraceQLType) -> Bool {
        if lhs == .attribute || rhs == .attribute || lhs == rhs { return true }
        if lhs.isNumeric && rhs.isNumeric { return true }
        return lhs == .nilType || rhs == .nilType
    }

    /// Whether the operator applies to an operand of this type (Tempo's `binaryTypeValid`).
    static func operatorAccepts(_ op: TraceQLBinaryOperator, _ type: TraceQLType) -> Bool {
        switch type {
        case .attribute:
            return true
        case .boolean:
            return op == .and || op == .or || op == .equal || op == .notEqual
        case .int, .float, .duration:
            switch op {
            case .add, .subtract, .multiply, .divide, .modulo, .power, .equal, .notEqual, .greater, .greaterOrEqual,
                .less, .lessOrEqual:
                return true
            default:
                return false
            }
        case .string:
            switch op {
            case .equal, .notEqual, .regexMatch, .regexNotMatch, .greater, .greaterOrEqual, .less, .lessOrEqual: return true
            default: return false
            }
        case .nilType, .status, .kind:
            return op == .equal || op == .notEqual
        case .spanset:
            return false
        }
    }
}

extension TraceQLMetricsExpression {
    /// Every metrics pipeline in the expression, left to right.
    var metricsPipelines: [TraceQLMetricsPipeline] {
        switch self {
        case .pipeline(let metrics): [metrics]
        case .binary(_, let lhs, let rhs): lhs.metricsPipelines + rhs.metricsPipelines
        case .scalar(_, _, let operand, _): operand.metricsPipelines
        }
    }
}
