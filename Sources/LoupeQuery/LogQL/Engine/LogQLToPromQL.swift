/// Writes the vector layer of a LogQL metric query as PromQL text, each range aggregation
/// replaced by a selector of its precomputed result (`{__logql_leaf__="N"}`).
///
/// Where LogQL and PromQL spell the same thing differently, the PromQL form is written: a
/// signed literal is parenthesized (LogQL's `-2^2` is `(-2)^2`), a comparison between two
/// scalars gets `bool` (LogQL gives 0 or 1 there; PromQL requires the modifier), `sort` and
/// `sort_desc` are functions, and `approx_topk` is `topk` (exact, so never less accurate).
enum LogQLToPromQL {
    /// A range aggregation to evaluate, and the grouping its samples may be reduced to at once:
    /// under `sum by (...)`/`sum without (...)` a linear range aggregation (counts, rates, bytes,
    /// sums) gives the same result whether its series are summed before or after, and reducing
    /// first keeps one series per group instead of one per distinct parsed label set (Loki's
    /// parser hints serve the same end).
    struct Leaf {
        var aggregation: LogQLRangeAggregation
        var reduction: LogQLGrouping?
    }

    static func translate(_ expression: LogQLExpression, leaves: inout [LogQLRangeAggregation]) -> String {
        var described: [Leaf] = []
        let text = translate(expression, leaves: &described)
        leaves = described.map(\.aggregation)
        return text
    }

    static func translate(_ expression: LogQLExpression, leaves: inout [Leaf]) -> String {
        switch expression {
        case .logs:
            // The parser refuses log queries inside metric queries.
            return "vector(0)"
        case .rangeAggregation(let aggregation):
            leaves.append(Leaf(aggregation: aggregation, reduction: nil))
            return "{\(LogQLLeafQueryable.leafLabel)=\"\(leaves.count - 1)\"}"
        case .vectorAggregation(let aggregation):
            let inner = translate(aggregation.expression, leaves: &leaves)
            if aggregation.operation == .sum, let grouping = aggregation.grouping, case .rangeAggregation(let range) = aggregation.expression,
                range.isLinear, range.grouping == nil
            {
                leaves[leaves.count - 1].reduction = grouping
            }
            switch aggregation.operation {
            case .sort: return "sort(\(inner))"
            case .sortDescending: return "sort_desc(\(inner))"
            default:
                let name = aggregation.operation == .approximateTopk ? "topk" : aggregation.operation.rawValue
                var text = name
                if let grouping = aggregation.grouping {
                    text += " \(grouping.without ? "without" : "by") (\(grouping.labels.joined(separator: ", ")))"
                }
                let parameter = aggregation.parameter.map { number($0) + ", " } ?? ""
                return text + " (\(parameter)\(inner))"
            }
        case .binary(let binary):
            var modifiers = ""
            if binary.returnBool || (binary.op.isComparison && binary.lhs.isScalar && binary.rhs.isScalar) { modifiers += " bool" }
            if let matching = binary.matching {
                modifiers += " \(matching.on ? "on" : "ignoring") (\(matching.labels.joined(separator: ", ")))"
                switch matching.cardinality {
                case .oneToOne: break
                case .manyToOne(let labels): modifiers += " group_left (\(labels.joined(separator: ", ")))"
                case .oneToMany(let labels): modifiers += " group_right (\(labels.joined(separator: ", ")))"
                }
            }
            let lhs = translate(binary.lhs, leaves: &leaves)
            let rhs = translate(binary.rhs, leaves: &leaves)
            return "(\(lhs)) \(binary.op.rawValue)\(modifiers) (\(rhs))"
        case .literal(let value):
            return "(\(number(value)))"
        case .vector(let value):
            return "vector(\(number(value)))"
        case .labelReplace(let replace):
            let inner = translate(replace.expression, leaves: &leaves)
            let arguments = [replace.destination, replace.replacement, replace.source, replace.regex].map(LogQLUnits.goQuote)
            return "label_replace(\(inner), \(arguments.joined(separator: ", ")))"
        case .parenthesized(let inner):
            return "(\(translate(inner, leaves: &leaves)))"
        }
    }

    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "Inf" }
        return "\(value)"
    }
}
