import LoupeModel

/// Conditions a trace must meet for a query to match it, cheap to check before evaluation.
///
/// They are necessary, not sufficient: a trace that fails `admits` cannot match (the store may skip
/// it, or skip a block whose summaries rule every trace out); a trace that passes still needs
/// `TraceQLEngine.evaluate`. Only conditions that must hold are kept: a filter inside `||`, `!`, a
/// negated structural operator's left side, or a union of spansets contributes what both sides share
/// or nothing. An empty value (`TraceQLTraceRequirements()`) rules nothing out.
public struct TraceQLTraceRequirements: Sendable, Hashable {
    /// Each entry must be met by at least one span of the trace (not necessarily the same span for two entries).
    public var spans: [TraceQLSpanRequirement]
    /// Bounds on the trace duration (max end − min start), nanoseconds, inclusive.
    public var minimumTraceDuration: Int64?
    public var maximumTraceDuration: Int64?
    /// The root span's `resource.service.name` must be one of these.
    public var rootServiceNames: Set<String>?
    /// The root span's name must be one of these.
    public var rootNames: Set<String>?
    /// The query can match no trace at all (`{ false }`).
    public var matchesNothing: Bool

    public init(
        spans: [TraceQLSpanRequirement] = [], minimumTraceDuration: Int64? = nil, maximumTraceDuration: Int64? = nil,
        rootServiceNames: Set<String>? = nil, rootNames: Set<String>? = nil, matchesNothing: Bool = false
    ) {
        self.spans = spans
        self.minimumTraceDuration = minimumTraceDuration
        self.maximumTraceDuration = maximumTraceDuration
        self.rootServiceNames = rootServiceNames
        self.rootNames = rootNames
        self.matchesNothing = matchesNothing
    }

    /// Every `resource.service.name` some span must have (one set per span requirement that names services):
    /// a store indexed by service can skip traces without one of each.
    public var requiredServiceNames: [Set<String>] { spans.compactMap(\.serviceNames) }

    /// The longest span duration some span must reach at least, if any requirement says so.
    public var minimumSpanDuration: Int64? { spans.compactMap(\.minimumDuration).max() }

    /// Whether the trace meets every condition (false means the query cannot match it).
    public func admits(_ trace: [TraceQLSpanInput]) -> Bool {
        if matchesNothing || trace.isEmpty { return false }
        // Span conditions need no trace context (its tree costs more than they do): checked first.
        guard spans.allSatisfy({ requirement in trace.contains { requirement.admits($0) } }) else { return false }
        guard minimumTraceDuration != nil || maximumTraceDuration != nil || rootServiceNames != nil || rootNames != nil else {
            return true
        }
        let context = TraceQLTraceContext(trace)
        if let minimum = minimumTraceDuration, context.traceDuration < minimum { return false }
        if let maximum = maximumTraceDuration, context.traceDuration > maximum { return false }
        if let names = rootServiceNames, !names.contains(context.rootServiceName ?? "") || context.rootServiceName == nil {
            return false
        }
        if let names = rootNames, context.rootName.map(names.contains) != true { return false }
        return true
    }
}

/// Conditions one span must meet together.
public struct TraceQLSpanRequirement: Sendable, Hashable {
    /// `resource.service.name` is (or, for an array, contains) one of these.
    public var serviceNames: Set<String>?
    /// The span name is one of these.
    public var names: Set<String>?
    /// Bounds on the span duration, nanoseconds, inclusive.
    public var minimumDuration: Int64?
    public var maximumDuration: Int64?
    public var statuses: Set<StatusCode>?
    public var kinds: Set<SpanKind>?

    public init(
        serviceNames: Set<String>? = nil, names: Set<String>? = nil, minimumDuration: Int64? = nil,
        maximumDuration: Int64? = nil, statuses: Set<StatusCode>? = nil, kinds: Set<SpanKind>? = nil
    ) {
        self.serviceNames = serviceNames
        self.names = names
        self.minimumDuration = minimumDuration
        self.maximumDuration = maximumDuration
        self.statuses = statuses
        self.kinds = kinds
    }

    var isEmpty: Bool {
        serviceNames == nil && names == nil && minimumDuration == nil && maximumDuration == nil && statuses == nil
            && kinds == nil
    }

    func admits(_ input: TraceQLSpanInput) -> Bool {
        if let serviceNames {
            switch TraceQLTraceContext.lookup("service.name", in: input.resource.attributes) {
            case .single(.string(let name)): if !serviceNames.contains(name) { return false }
            case .list(let values):
                if !values.contains(where: { if case .string(let s) = $0 { serviceNames.contains(s) } else { false } }) {
                    return false
                }
            default: return false
            }
        }
        if let names, !names.contains(input.span.name) { return false }
        let duration = Int64(clamping: input.span.durationNanos)
        if let minimumDuration, duration < minimumDuration { return false }
        if let maximumDuration, duration > maximumDuration { return false }
        if let statuses, !statuses.contains(input.span.status.code) { return false }
        if let kinds, !kinds.contains(input.span.kind) { return false }
        return true
    }
}

/// Derives `TraceQLTraceRequirements` from a query.
enum TraceQLPlanner {
    /// What must hold for one span that passes a filter, plus trace-level facts the filter implies.
    private struct Conditions {
        var span = TraceQLSpanRequirement()
        var trace = TraceQLTraceRequirements()
        var impossible = false

        /// Both hold.
        func and(_ other: Conditions) -> Conditions {
            var result = Conditions()
            result.impossible = impossible || other.impossible
            result.span.serviceNames = intersect(span.serviceNames, other.span.serviceNames)
            result.span.names = intersect(span.names, other.span.names)
            result.span.statuses = intersect(span.statuses, other.span.statuses)
            result.span.kinds = intersect(span.kinds, other.span.kinds)
            result.span.minimumDuration = maxOptional(span.minimumDuration, other.span.minimumDuration)
            result.span.maximumDuration = minOptional(span.maximumDuration, other.span.maximumDuration)
            result.trace.minimumTraceDuration = maxOptional(trace.minimumTraceDuration, other.trace.minimumTraceDuration)
            result.trace.maximumTraceDuration = minOptional(trace.maximumTraceDuration, other.trace.maximumTraceDuration)
            result.trace.rootServiceNames = intersect(trace.rootServiceNames, other.trace.rootServiceNames)
            result.trace.rootNames = intersect(trace.rootNames, other.trace.rootNames)
            return result
        }

        /// At least one holds: only what both imply survives.
        func or(_ other: Conditions) -> Conditions {
            if impossible { return other }
            if other.impossible { return self }
            var result = Conditions()
            result.span.serviceNames = unite(span.serviceNames, other.span.serviceNames)
            result.span.names = unite(span.names, other.span.names)
            result.span.statuses = unite(span.statuses, other.span.statuses)
            result.span.kinds = unite(span.kinds, other.span.kinds)
            result.span.minimumDuration = bothOrNil(span.minimumDuration, other.span.minimumDuration, Swift.min)
            result.span.maximumDuration = bothOrNil(span.maximumDuration, other.span.maximumDuration, Swift.max)
            result.trace.minimumTraceDuration = bothOrNil(trace.minimumTraceDuration, other.trace.minimumTraceDuration, Swift.min)
            result.trace.maximumTraceDuration = bothOrNil(trace.maximumTraceDuration, other.trace.maximumTraceDuration, Swift.max)
            result.trace.rootServiceNames = unite(trace.rootServiceNames, other.trace.rootServiceNames)
            result.trace.rootNames = unite(trace.rootNames, other.trace.rootNames)
            return result
        }
    }

    static func requirements(of query: TraceQLQuery) -> TraceQLTraceRequirements {
        var result = TraceQLTraceRequirements()
        switch query.body {
        case .search(let pipeline):
            collect(pipeline, into: &result)
        case .metrics(let expression, _):
            // Every metrics pipeline reads only spans its spanset pipeline selects; with math over several
            // pipelines, a trace may feed either side, so only a single pipeline gives requirements.
            if case .pipeline(let metrics) = expression { collect(metrics.pipeline, into: &result) }
        }
        return result
    }

    /// Every spanset filter a pipeline element passes through must select at least one span.
    private static func collect(_ pipeline: TraceQLPipeline, into result: inout TraceQLTraceRequirements) {
        for element in pipeline.elements {
            switch element {
            case .spanset(let spanset): collect(spanset, into: &result)
            case .scalarFilter, .groupBy, .coalesce, .select, .aggregate: continue
            }
        }
    }

    private static func collect(_ spanset: TraceQLSpansetExpression, into result: inout TraceQLTraceRequirements) {
        switch spanset {
        case .filter(let expression):
            let found = conditions(expression)
            if found.impossible { result.matchesNothing = true }
            if !found.span.isEmpty { result.spans.append(found.span) }
            result.minimumTraceDuration = maxOptional(result.minimumTraceDuration, found.trace.minimumTraceDuration)
            result.maximumTraceDuration = minOptional(result.maximumTraceDuration, found.trace.maximumTraceDuration)
            result.rootServiceNames = intersect(result.rootServiceNames, found.trace.rootServiceNames)
            result.rootNames = intersect(result.rootNames, found.trace.rootNames)
        case .pipeline(let pipeline):
            collect(pipeline, into: &result)
        case .operation(let op, let lhs, let rhs):
            switch op {
            case .union:
                break  // either side may be the one that matches
            case .notChild, .notParent, .notDescendant, .notAncestor, .notSibling:
                collect(rhs, into: &result)  // the left side may match nothing
            default:
                collect(lhs, into: &result)
                collect(rhs, into: &result)
            }
        }
    }

    private static func conditions(_ expression: TraceQLFieldExpression) -> Conditions {
        switch expression {
        case .value(.bool(false)):
            var impossible = Conditions()
            impossible.impossible = true
            return impossible
        case .binary(.and, let lhs, let rhs):
            return conditions(lhs).and(conditions(rhs))
        case .binary(.or, let lhs, let rhs):
            return conditions(lhs).or(conditions(rhs))
        case .binary(let op, .attribute(let attribute), let rhs):
            guard let value = constant(rhs) else { return Conditions() }
            return comparison(attribute, op, value)
        case .binary(let op, let lhs, .attribute(let attribute)):
            guard let value = constant(lhs), let flipped = flip(op) else { return Conditions() }
            return comparison(attribute, flipped, value)
        default:
            return Conditions()
        }
    }

    /// A literal, also through unary minus (`-1s`).
    private static func constant(_ expression: TraceQLFieldExpression) -> TraceQLStatic? {
        switch expression {
        case .value(let value): return value
        case .unary(.negate, .value(.int(let int))): return .int(0 &- int)
        case .unary(.negate, .value(.duration(let nanos))): return .duration(0 &- nanos)
        case .unary(.negate, .value(.float(let double))): return .float(-double)
        default: return nil
        }
    }

    private static func flip(_ op: TraceQLBinaryOperator) -> TraceQLBinaryOperator? {
        switch op {
        case .equal: .equal
        case .greater: .less
        case .greaterOrEqual: .lessOrEqual
        case .less: .greater
        case .lessOrEqual: .greaterOrEqual
        default: nil
        }
    }

    private static func comparison(_ attribute: TraceQLAttribute, _ op: TraceQLBinaryOperator, _ value: TraceQLStatic) -> Conditions {
        var found = Conditions()
        switch (attribute.intrinsic, op, value) {
        case (nil, .equal, .string(let name)) where attribute == TraceQLAttribute(name: "service.name", scope: .resource):
            found.span.serviceNames = [name]
        case (.name?, .equal, .string(let name)):
            found.span.names = [name]
        case (.status?, .equal, .status(let status)):
            found.span.statuses = [status]
        case (.kind?, .equal, .kind(let kind)):
            found.span.kinds = [kind]
        case (.rootServiceName?, .equal, .string(let name)):
            found.trace.rootServiceNames = [name]
        case (.rootName?, .equal, .string(let name)):
            found.trace.rootNames = [name]
        case (.duration?, _, _), (.traceDuration?, _, _):
            // Durations, and bare numbers, which compare as nanoseconds (a float bound is rounded outwards).
            var low: Int64
            var high: Int64
            switch value {
            case .duration(let d), .int(let d): (low, high) = (d, d)
            case .float(let f) where f.isFinite && Swift.abs(f) < 9e18: (low, high) = (Int64(f.rounded(.down)), Int64(f.rounded(.up)))
            default: return found
            }
            var minimum: Int64?
            var maximum: Int64?
            switch op {
            case .greater: minimum = low == .max ? low : low + 1
            case .greaterOrEqual: minimum = high
            case .less: maximum = high == .min ? high : high - 1
            case .lessOrEqual: maximum = low
            case .equal: (minimum, maximum) = (high, low)
            default: return found
            }
            if attribute.intrinsic == .duration {
                found.span.minimumDuration = minimum
                found.span.maximumDuration = maximum
            } else {
                found.trace.minimumTraceDuration = minimum
                found.trace.maximumTraceDuration = maximum
            }
        default:
            break
        }
        return found
    }
}

private func intersect<T>(_ a: Set<T>?, _ b: Set<T>?) -> Set<T>? {
    guard let a else { return b }
    guard let b else { return a }
    return a.intersection(b)
}

private func unite<T>(_ a: Set<T>?, _ b: Set<T>?) -> Set<T>? {
    guard let a, let b else { return nil }
    return a.union(b)
}

private func maxOptional(_ a: Int64?, _ b: Int64?) -> Int64? {
    guard let a else { return b }
    guard let b else { return a }
    return Swift.max(a, b)
}

private func minOptional(_ a: Int64?, _ b: Int64?) -> Int64? {
    guard let a else { return b }
    guard let b else { return a }
    return Swift.min(a, b)
}

private func bothOrNil(_ a: Int64?, _ b: Int64?, _ combine: (Int64, Int64) -> Int64) -> Int64? {
    guard let a, let b else { return nil }
    return combine(a, b)
}
