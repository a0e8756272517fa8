import LoupeModel

/// One span of a trace with the resource and instrumentation scope it arrived under.
public struct TraceQLSpanInput: Sendable, Hashable {
    public var span: Span
    public var resource: Resource
    public var scope: InstrumentationScope

    public init(span: Span, resource: Resource = Resource(), scope: InstrumentationScope = InstrumentationScope()) {
        self.span = span
        self.resource = resource
        self.scope = scope
    }

    /// The spans of OTLP trace data, flattened in order, each with its resource and scope.
    public static func inputs(from data: TraceData) -> [TraceQLSpanInput] {
        var inputs: [TraceQLSpanInput] = []
        for resourceSpans in data.resourceSpans {
            for scopeSpans in resourceSpans.scopeSpans {
                for span in scopeSpans.spans {
                    inputs.append(TraceQLSpanInput(span: span, resource: resourceSpans.resource, scope: scopeSpans.scope))
                }
            }
        }
        return inputs
    }
}

/// A set of spans of one trace that a query selected, with what the pipeline computed about it.
public struct TraceQLSpanset: Sendable, Hashable {
    /// A value the pipeline attached: `by(resource.service.name)` = "api", `count()` = 3.
    public struct Attribute: Sendable, Hashable {
        public var name: String
        public var value: TraceQLStatic

        public init(name: String, value: TraceQLStatic) {
            self.name = name
            self.value = value
        }
    }

    /// A value `select(...)` asked for, for one span.
    public struct Selection: Sendable, Hashable {
        /// Index of the span in the input.
        public var span: Int
        /// The attribute as written canonically (`span.http.url`, `duration`).
        public var name: String
        public var value: TraceQLStatic

        public init(span: Int, name: String, value: TraceQLStatic) {
            self.span = span
            self.name = name
            self.value = value
        }
    }

    /// Indices into the evaluated input, ascending.
    public var spans: [Int]
    /// The value of the last aggregate that filtered the spanset (`count() > 2` sets it to the count).
    public var scalar: TraceQLStatic?
    /// Group keys and aggregate values, in the order the pipeline added them.
    public var attributes: [Attribute]
    /// Values requested by `select()`, absent values left out.
    public var selections: [Selection]

    public init(spans: [Int], scalar: TraceQLStatic? = nil, attributes: [Attribute] = [], selections: [Selection] = []) {
        self.spans = spans
        self.scalar = scalar
        self.attributes = attributes
        self.selections = selections
    }
}

/// Parses, validates and evaluates TraceQL searches over one trace at a time.
///
/// Evaluation follows Tempo's engine: the whole trace enters the pipeline as one spanset; `{ }` keeps
/// the spans it matches; spanset operators combine the results of both sides on the same trace;
/// structural operators use the trace's tree (Tempo's nested-set numbering, computed here from the parent
/// span IDs); `by()` splits spansets, `coalesce()` joins them, aggregates filter them. Metrics queries parse
/// and validate but are evaluated by the metrics engine, not here.
public struct TraceQLEngine: Sendable {
    public init() {}

    /// Parses a query; the tree prints back (`description`) to text that parses to the same tree.
    public func parse(_ text: String) throws(TraceQLError) -> TraceQLQuery {
        try TraceQLParser.parse(text)
    }

    /// Checks a parsed query as Tempo's `validate()` does: `.invalid` for type errors and bad regexes,
    /// `.unsupported` for what Tempo does not evaluate yet.
    public func validate(_ query: TraceQLQuery) throws(TraceQLError) {
        try TraceQLValidator.validate(query)
    }

    /// Parses and validates.
    public func compile(_ text: String) throws(TraceQLError) -> TraceQLQuery {
        let query = try parse(text)
        try validate(query)
        return query
    }

    /// The spansets of `trace` that a search query selects (empty when the trace does not match).
    /// Throws `.execution` for metrics queries and for what Tempo also fails at run time (structural
    /// operators over several spansets, integer division by zero).
    public func evaluate(_ query: TraceQLQuery, trace: [TraceQLSpanInput]) throws(TraceQLError) -> [TraceQLSpanset] {
        guard case .search(let pipeline) = query.body else {
            throw TraceQLError(.execution, "metrics queries are evaluated over time ranges, not on a single trace")
        }
        let context = TraceQLTraceContext(trace)
        var evaluator = TraceQLEvaluator(context: context)
        return try evaluator.evaluate(pipeline)
    }

    /// Whether the trace matches the query (at least one spanset).
    public func matches(_ query: TraceQLQuery, trace: [TraceQLSpanInput]) throws(TraceQLError) -> Bool {
        try !evaluate(query, trace: trace).isEmpty
    }

    /// Conditions every trace that matches `query` meets; see `TraceQLTraceRequirements`.
    public func requirements(of query: TraceQLQuery) -> TraceQLTraceRequirements {
        TraceQLPlanner.requirements(of: query)
    }
}
