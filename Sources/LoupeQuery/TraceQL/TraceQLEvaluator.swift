import LoupeModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Evaluates a search pipeline over one trace with Tempo's semantics (pkg/traceql/ast_execute.go):
/// - a comparison whose operands have mismatched types, or an operator the types do not take, is false
///   (so `.missing != 2` is false, not true);
/// - integers stay integers (`7 / 2` is 3), mixed numbers compare and compute as floats, durations are
///   nanoseconds;
/// - strings compare byte-wise; `=~` and `!~` match the whole string (anchored);
/// - against a list (array attribute, several events), `=`, `=~`, `<`... hold when any element matches,
///   `!=` and `!~` when every element does (no element is equal / matches);
/// - `x = nil` holds when x is missing, `x != nil` when present.
struct TraceQLEvaluator {
    let context: TraceQLTraceContext
    /// Compiled patterns by source, so each regex compiles once per trace.
    private var regexes: [String: TraceQLRegex] = [:]

    init(context: TraceQLTraceContext) {
        self.context = context
    }

    /// A spanset during evaluation.
    struct Set {
        var spans: [Int]
        var scalar: TraceQLStatic?
        var attributes: [TraceQLSpanset.Attribute] = []
        var selections: [TraceQLSpanset.Selection] = []

        func with(spans: [Int]) -> Set {
            var copy = self
            copy.spans = spans
            return copy
        }
    }

    mutating func evaluate(_ pipeline: TraceQLPipeline) throws(TraceQLError) -> [TraceQLSpanset] {
        guard !context.inputs.isEmpty else { return [] }
        let all = Set(spans: Array(context.inputs.indices))
        return try run(pipeline, on: [all]).map {
            TraceQLSpanset(spans: $0.spans, scalar: $0.scalar, attributes: $0.attributes, selections: $0.selections)
        }
    }

    // MARK: Pipelines

    private mutating func run(_ pipeline: TraceQLPipeline, on input: [Set]) throws(TraceQLError) -> [Set] {
        var sets = input
        for element in pipeline.elements {
            sets = try run(element, on: sets)
            if sets.isEmpty { return [] }
        }
        return sets
    }

    private mutating func run(_ element: TraceQLPipelineElement, on input: [Set]) throws(TraceQLError) -> [Set] {
        switch element {
        case .spanset(let expression):
            return try run(expression, on: input)
        case .scalarFilter(let filter):
            return try run(filter, on: input)
        case .groupBy(let expression):
            let name = "by(" + TraceQLPrinter.fieldExpression(expression) + ")"
            var output: [Set] = []
            for set in input {
                // Groups in order of first appearance (Tempo's map order is random).
                var keys: [TraceQLValue] = []
                var groups: [[Int]] = []
                for span in set.spans {
                    let key = try value(of: expression, span: span)
                    if let existing = keys.firstIndex(of: key) {
                        groups[existing].append(span)
                    } else {
                        keys.append(key)
                        groups.append([span])
                    }
                }
                for (key, spans) in zip(keys, groups) {
                    var group = Set(spans: spans, scalar: nil, attributes: set.attributes)
                    group.attributes.append(TraceQLSpanset.Attribute(name: name, value: Self.groupValue(key)))
                    output.append(group)
                }
            }
            return output
        case .coalesce:
            let spans = Array(Swift.Set(input.flatMap(\.spans))).sorted()
            return spans.isEmpty ? [] : [Set(spans: spans)]
        case .select(let attributes):
            return input.map { set in
                var copy = set
                for span in set.spans {
                    for attribute in attributes {
                        let value = context.value(of: attribute, span: span)
                        guard !value.isMissing else { continue }
                        copy.selections.append(
                            TraceQLSpanset.Selection(span: span, name: attribute.description, value: Self.groupValue(value)))
                    }
                }
                return copy
            }
        case .aggregate(let aggregate):
            var output: [Set] = []
            for set in input {
                guard let result = try self.aggregate(aggregate, over: set.spans) else { continue }
                var copy = set
                copy.scalar = result
                copy.attributes.append(TraceQLSpanset.Attribute(name: TraceQLPrinter.aggregate(aggregate), value: result))
                output.append(copy)
            }
            return output
        }
    }

    private static func groupValue(_ value: TraceQLValue) -> TraceQLStatic {
        switch value {
        case .single(let single): single
        // A list as a group key: its elements joined, so equal lists group together and the key is readable.
        case .list(let values): .string("[" + values.map(TraceQLPrinter.value).joined(separator: ", ") + "]")
        }
    }

    private mutating func run(_ expression: TraceQLSpansetExpression, on input: [Set]) throws(TraceQLError) -> [Set] {
        switch expression {
        case .filter(let field):
            var output: [Set] = []
            for set in input {
                var kept: [Int] = []
                for span in set.spans where try isTrue(field, span: span) { kept.append(span) }
                if !kept.isEmpty { output.append(set.with(spans: kept)) }
            }
            return output
        case .pipeline(let pipeline):
            return try run(pipeline, on: input)
        case .operation(let op, let lhsExpression, let rhsExpression):
            var output: [Set] = []
            for set in input {
                let lhs = try run(lhsExpression, on: [set])
                let rhs = try run(rhsExpression, on: [set])
                let matched: [Int]
                switch op {
                case .and:
                    guard !lhs.isEmpty && !rhs.isEmpty else { continue }
                    matched = Self.union(lhs, rhs)
                case .union:
                    guard !lhs.isEmpty || !rhs.isEmpty else { continue }
                    matched = Self.union(lhs, rhs)
                default:
                    guard !rhs.isEmpty else { continue }
                    guard lhs.count <= 1 && rhs.count <= 1 else {
                        throw TraceQLError(
                            .execution,
                            "spanset operators are not supported for multiple spansets per trace. consider using coalesce()")
                    }
                    matched = structural(op, lhs: lhs.first?.spans ?? [], rhs: rhs[0].spans)
                }
                if !matched.isEmpty { output.append(set.with(spans: matched)) }
            }
            return output
        }
    }

    private static func union(_ lhs: [Set], _ rhs: [Set]) -> [Int] {
        Array(Swift.Set(lhs.flatMap(\.spans) + rhs.flatMap(\.spans))).sorted()
    }

    // MARK: Structural operators

    /// The spans of `rhs` (and, for the `&` forms, of `lhs` too) in the relation, on Tempo's nested sets.
    private func structural(_ op: TraceQLSpansetOperator, lhs: [Int], rhs: [Int]) -> [Int] {
        let left = context.nestedSetLeft
        let right = context.nestedSetRight
        let parent = context.nestedSetParent
        func isDescendant(_ d: Int, of a: Int) -> Bool {
            left[d] != 0 && left[a] != 0 && right[d] != 0 && right[a] != 0 && left[d] > left[a] && right[d] < right[a]
        }
        func isChild(_ c: Int, of p: Int) -> Bool { left[p] != 0 && parent[c] != 0 && parent[c] == left[p] }
        func isSibling(_ a: Int, _ b: Int) -> Bool { a != b && parent[a] != 0 && parent[a] == parent[b] }

        /// relation(l, r): whether the right-hand span r stands in the operator's relation to l.
        let relation: (Int, Int) -> Bool
        switch op {
        case .descendant, .notDescendant, .unionDescendant: relation = { l, r in isDescendant(r, of: l) }
        case .ancestor, .notAncestor, .unionAncestor: relation = { l, r in isDescendant(l, of: r) }
        case .child, .notChild, .unionChild: relation = { l, r in isChild(r, of: l) }
        case .parent, .notParent, .unionParent: relation = { l, r in isChild(l, of: r) }
        case .sibling, .notSibling, .unionSibling: relation = { l, r in isSibling(l, r) }
        case .and, .union: return []
        }
        switch op {
        case .notDescendant, .notAncestor, .notChild, .notParent, .notSibling:
            return rhs.filter { r in !lhs.contains { l in relation(l, r) } }
        case .unionDescendant, .unionAncestor, .unionChild, .unionParent, .unionSibling:
            var matched = Swift.Set<Int>()
            for r in rhs {
                for l in lhs where relation(l, r) {
                    matched.insert(l)
                    matched.insert(r)
                }
            }
            return matched.sorted()
        default:
            return rhs.filter { r in lhs.contains { l in relation(l, r) } }
        }
    }

    // MARK: Aggregates and scalar filters

    private mutating func run(_ filter: TraceQLScalarFilter, on input: [Set]) throws(TraceQLError) -> [Set] {
        // Validation admits only `aggregate op constant` here, the one form Tempo evaluates.
        guard case .aggregate(let aggregate) = filter.lhs, case .value(let bound) = filter.rhs else {
            throw TraceQLError(.unsupported, "scalar filter (\(TraceQLPrinter.scalarFilter(filter)))")
        }
        var output: [Set] = []
        for set in input {
            guard let result = try self.aggregate(aggregate, over: set.spans) else { continue }
            guard Self.compareScalars(filter.op, result, bound) else { continue }
            var copy = set
            copy.scalar = result
            copy.attributes.append(TraceQLSpanset.Attribute(name: TraceQLPrinter.aggregate(aggregate), value: result))
            output.append(copy)
        }
        return output
    }

    /// The aggregate over the spans, or nil when no span has a value (the spanset is then dropped).
    /// Only numeric values count; values of another type than the first are skipped.
    private mutating func aggregate(_ aggregate: TraceQLAggregate, over spans: [Int]) throws(TraceQLError) -> TraceQLStatic? {
        guard let expression = aggregate.expression, aggregate.function != .count else {
            return .int(Int64(spans.count))
        }
        var values: [TraceQLStatic] = []
        for span in spans {
            guard case .single(let value) = try self.value(of: expression, span: span) else { continue }
            switch value {
            case .int, .float, .duration: values.append(value)
            default: continue
            }
        }
        guard let first = values.first else { return nil }
        switch aggregate.function {
        case .count:
            return .int(Int64(spans.count))
        case .max:
            return values.max { Self.number($0) < Self.number($1) }
        case .min:
            return values.min { Self.number($0) < Self.number($1) }
        case .sum, .avg:
            var sum = first
            var count = 1
            for value in values.dropFirst() {
                switch (sum, value) {
                case (.int(let a), .int(let b)): sum = .int(a &+ b)
                case (.float(let a), .float(let b)): sum = .float(a + b)
                case (.duration(let a), .duration(let b)): sum = .duration(a &+ b)
                default: continue
                }
                count += 1
            }
            guard aggregate.function == .avg else { return sum }
            switch sum {
            case .int(let total): return .float(Double(total) / Double(count))
            case .float(let total): return .float(total / Double(count))
            case .duration(let total): return .duration(total / Int64(count))
            default: return sum
            }
        }
    }

    /// `aggregate op constant` (Tempo's binOp): numbers compare as floats, `=` as Tempo's Equals.
    private static func compareScalars(_ op: TraceQLBinaryOperator, _ lhs: TraceQLStatic, _ rhs: TraceQLStatic) -> Bool {
        let lhsType = TraceQLValidator.type(of: lhs)
        let rhsType = TraceQLValidator.type(of: rhs)
        guard TraceQLValidator.matchingOperands(lhsType, rhsType),
            TraceQLValidator.operatorAccepts(op, lhsType), TraceQLValidator.operatorAccepts(op, rhsType)
        else { return false }
        switch op {
        case .greater: return number(lhs) > number(rhs)
        case .greaterOrEqual: return number(lhs) >= number(rhs)
        case .less: return number(lhs) < number(rhs)
        case .lessOrEqual: return number(lhs) <= number(rhs)
        case .equal: return equals(lhs, rhs)
        case .notEqual: return notEquals(lhs, rhs)
        default: return false
        }
    }

    // MARK: Field expressions

    private mutating func isTrue(_ expression: TraceQLFieldExpression, span: Int) throws(TraceQLError) -> Bool {
        try value(of: expression, span: span) == .single(.bool(true))
    }

    mutating func value(of expression: TraceQLFieldExpression, span: Int) throws(TraceQLError) -> TraceQLValue {
        switch expression {
        case .value(let value):
            return .single(value)
        case .attribute(let attribute):
            return context.value(of: attribute, span: span)
        case .unary(let op, let operandExpression):
            let operand = try value(of: operandExpression, span: span)
            switch op {
            case .exists: return .single(.bool(!operand.isMissing))
            case .notExists: return .single(.bool(operand.isMissing))
            case .not:
                guard case .single(.bool(let bool)) = operand else { return .missing }
                return .single(.bool(!bool))
            case .negate:
                switch operand {
                case .single(.int(let int)): return .single(.int(0 &- int))
                case .single(.float(let double)): return .single(.float(-double))
                case .single(.duration(let nanos)): return .single(.duration(0 &- nanos))
                default: return .missing
                }
            }
        case .binary(let op, let lhsExpression, var rhsExpression):
            let lhs = try value(of: lhsExpression, span: span)
            // Short-circuit as Tempo does once the left side decides.
            if op == .and, lhs == .single(.bool(false)) { return lhs }
            if op == .or, lhs == .single(.bool(true)) { return lhs }
            // Trace IDs are compared without leading zeros on both sides.
            if case .attribute(let attribute) = lhsExpression, attribute.intrinsic == .traceID,
                case .value(.string(let id)) = rhsExpression
            {
                rhsExpression = .value(.string(TraceQLTraceContext.trimmedHex(id)))
            }
            let rhs = try value(of: rhsExpression, span: span)
            if case .attribute(let attribute) = rhsExpression, attribute.intrinsic == .traceID,
                case .single(.string(let id)) = lhs
            {
                return try binary(op, .single(.string(TraceQLTraceContext.trimmedHex(id))), rhs)
            }
            return try binary(op, lhs, rhs)
        }
    }

    private mutating func binary(_ op: TraceQLBinaryOperator, _ lhs: TraceQLValue, _ rhs: TraceQLValue) throws(TraceQLError) -> TraceQLValue {
        switch (lhs, rhs) {
        case (.single(let a), .single(let b)):
            return .single(try scalar(op, a, b))
        case (.list, .list):
            // Tempo fails the query here ("array operators must consist of a scalar and an array operand").
            return .single(.bool(false))
        case (.single(let one), .list(let many)), (.list(let many), .single(let one)):
            guard op.isBoolean, op != .and, op != .or else { return .single(.bool(false)) }
            let arrayOnLeft: Bool = if case .list = lhs { true } else { false }
            // With the array on the left, comparisons flip so the scalar stays the left operand;
            // a regex stays on the right.
            var elementOp = op
            if arrayOnLeft {
                switch op {
                case .greater: elementOp = .less
                case .greaterOrEqual: elementOp = .lessOrEqual
                case .less: elementOp = .greater
                case .lessOrEqual: elementOp = .greaterOrEqual
                default: break
                }
            }
            let requireAll = op == .notEqual || op == .regexNotMatch
            var matches = 0
            for element in many {
                let (left, right) = (arrayOnLeft && (op == .regexMatch || op == .regexNotMatch)) ? (element, one) : (one, element)
                if try scalar(elementOp, left, right) == .bool(true) {
                    matches += 1
                    if !requireAll { break }
                }
            }
            return .single(.bool(requireAll ? matches == many.count : matches > 0))
        }
    }

    /// One operator on two single values.
    private mutating func scalar(_ op: TraceQLBinaryOperator, _ lhs: TraceQLStatic, _ rhs: TraceQLStatic) throws(TraceQLError) -> TraceQLStatic {
        let lhsType = TraceQLValidator.type(of: lhs)
        let rhsType = TraceQLValidator.type(of: rhs)
        // Types resolved at run time must still fit the operator, otherwise the comparison is false.
        guard TraceQLValidator.matchingOperands(lhsType, rhsType),
            TraceQLValidator.operatorAccepts(op, lhsType), TraceQLValidator.operatorAccepts(op, rhsType)
        else { return .bool(false) }

        switch (lhs, rhs) {
        case (.string(let a), .string(let b)):
            switch op {
            case .greater: return .bool(Self.compareBytes(a, b) > 0)
            case .greaterOrEqual: return .bool(Self.compareBytes(a, b) >= 0)
            case .less: return .bool(Self.compareBytes(a, b) < 0)
            case .lessOrEqual: return .bool(Self.compareBytes(a, b) <= 0)
            case .regexMatch, .regexNotMatch:
                guard let regex = regex(b) else {
                    throw TraceQLError(.invalid, "invalid regex: \(TraceQLPrinter.quoted(b))")
                }
                return .bool(regex.matches(a) == (op == .regexMatch))
            default: break
            }
        case (.int(let a), .int(let b)):
            switch op {
            case .add: return .int(a &+ b)
            case .subtract: return .int(a &- b)
            case .multiply: return .int(a &* b)
            case .divide:
                guard b != 0 else { throw TraceQLError(.execution, "division by zero") }
                return .int(a == .min && b == -1 ? .min : a / b)
            case .modulo:
                guard b != 0 else { throw TraceQLError(.execution, "modulo by zero") }
                return .int(b == -1 ? 0 : a % b)
            case .power:
                // Tempo computes rhs^lhs here (intPow(rhsN, lhsN)); Loupe computes lhs^rhs as written.
                return .int(Self.clampedInt(pow(Double(a), Double(b))))
            case .greater: return .bool(a > b)
            case .greaterOrEqual: return .bool(a >= b)
            case .less: return .bool(a < b)
            case .lessOrEqual: return .bool(a <= b)
            default: break
            }
        case (.bool(let a), .bool(let b)):
            switch op {
            case .and: return .bool(a && b)
            case .or: return .bool(a || b)
            default: break
            }
        default:
            break
        }
        // Everything else computes on floats (durations in nanoseconds), equality as Tempo's Equals.
        let a = Self.number(lhs)
        let b = Self.number(rhs)
        switch op {
        case .add: return .float(a + b)
        case .subtract: return .float(a - b)
        case .multiply: return .float(a * b)
        case .divide: return .float(a / b)
        case .modulo: return .float(a.truncatingRemainder(dividingBy: b))
        case .power: return .float(pow(a, b))
        case .greater: return .bool(a > b)
        case .greaterOrEqual: return .bool(a >= b)
        case .less: return .bool(a < b)
        case .lessOrEqual: return .bool(a <= b)
        case .equal: return .bool(Self.equals(lhs, rhs))
        case .notEqual: return .bool(Self.notEquals(lhs, rhs))
        default: return .bool(false)
        }
    }

    private mutating func regex(_ pattern: String) -> TraceQLRegex? {
        if let cached = regexes[pattern] { return cached }
        guard let compiled = TraceQLRegex(pattern) else { return nil }
        regexes[pattern] = compiled
        return compiled
    }

    private static func clampedInt(_ value: Double) -> Int64 {
        guard value.isFinite else { return value < 0 ? .min : .max }
        if value >= 9.223372036854775807e18 { return .max }
        if value <= -9.223372036854775808e18 { return .min }
        return Int64(value)
    }

    private static func compareBytes(_ a: String, _ b: String) -> Int {
        // Go compares strings byte by byte; Swift's < would use Unicode canonical ordering.
        if a.utf8.elementsEqual(b.utf8) { return 0 }
        return a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : 1
    }

    static func number(_ value: TraceQLStatic) -> Double {
        switch value {
        case .int(let int): Double(int)
        case .float(let double): double
        case .duration(let nanos): Double(nanos)
        default: .nan
        }
    }

    /// Tempo's Static.Equals: nil equals nothing; integers and durations compare exactly, with floats as
    /// floats; other types only equal their own type.
    static func equals(_ lhs: TraceQLStatic, _ rhs: TraceQLStatic) -> Bool {
        switch (lhs, rhs) {
        case (.nilValue, _), (_, .nilValue): return false
        case (.int(let a), .int(let b)), (.int(let a), .duration(let b)), (.duration(let a), .int(let b)),
            (.duration(let a), .duration(let b)):
            return a == b
        case (.float, _), (_, .float):
            return number(lhs) == number(rhs)
        case (.string(let a), .string(let b)): return a.utf8.elementsEqual(b.utf8)
        case (.bool(let a), .bool(let b)): return a == b
        case (.status(let a), .status(let b)): return a == b
        case (.kind(let a), .kind(let b)): return a == b
        default: return false
        }
    }

    static func notEquals(_ lhs: TraceQLStatic, _ rhs: TraceQLStatic) -> Bool {
        if lhs == .nilValue || rhs == .nilValue { return false }
        return !equals(lhs, rhs)
    }
}
