import LoupeModel

extension PromQLExpression {
    /// The matchers of every vector selector in the expression (in matrix selectors and
    /// subqueries too), in order of appearance: what `query_exemplars` looks up.
    public func selectorMatchers() throws(PromQLError) -> [[LabelMatcher]] {
        var result: [[LabelMatcher]] = []
        try collectSelectors(into: &result)
        return result
    }

    private func collectSelectors(into result: inout [[LabelMatcher]]) throws(PromQLError) {
        switch self {
        case .number, .string: break
        case .vectorSelector(let selector): result.append(try selector.labelMatchers())
        case .matrixSelector(let selector): result.append(try selector.vectorSelector.labelMatchers())
        case .subquery(let subquery): try subquery.expression.collectSelectors(into: &result)
        case .unary(let unary): try unary.operand.collectSelectors(into: &result)
        case .binary(let binary):
            try binary.lhs.collectSelectors(into: &result)
            try binary.rhs.collectSelectors(into: &result)
        case .aggregation(let aggregation):
            try aggregation.parameter?.collectSelectors(into: &result)
            try aggregation.expression.collectSelectors(into: &result)
        case .call(let call): for argument in call.arguments { try argument.collectSelectors(into: &result) }
        case .parenthesized(let paren): try paren.expression.collectSelectors(into: &result)
        }
    }
}

extension PromQLVectorSelector {
    /// The selector's matchers as storage matchers (the metric name is already one of them).
    public func labelMatchers() throws(PromQLError) -> [LabelMatcher] {
        var result: [LabelMatcher] = []
        for matcher in matchers {
            let kind: LabelMatcher.Kind = switch matcher.type {
            case .equal: .equal
            case .notEqual: .notEqual
            case .regexMatch: .regexMatch
            case .regexNoMatch: .regexNoMatch
            }
            do {
                result.append(try LabelMatcher(matcher.name, kind, matcher.value))
            } catch {
                throw PromQLError(.execution, error.description)
            }
        }
        return result
    }
}
