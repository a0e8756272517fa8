/// A PromQL function's signature: what the parser checks and what the evaluator dispatches on.
public struct PromQLFunction: Sendable, Hashable {
    public var name: String
    /// The types of the arguments in order. With `variadic != 0`, the last one may be left out
    /// (`round(v)`) and, for `variadic > 0`, repeated up to that many times in total.
    public var argumentTypes: [PromQLValueType]
    /// 0: exactly `argumentTypes.count` arguments; n > 0: the last type may appear 0…n times;
    /// -1: the last type may appear any number of times (`label_join`, `sort_by_label`).
    public var variadic: Int
    public var returnType: PromQLValueType
    /// Behind Prometheus's `promql-experimental-functions` feature flag.
    public var isExperimental: Bool

    public init(
        _ name: String, _ argumentTypes: [PromQLValueType], returns returnType: PromQLValueType, variadic: Int = 0,
        experimental: Bool = false
    ) {
        self.name = name
        self.argumentTypes = argumentTypes
        self.variadic = variadic
        self.returnType = returnType
        self.isExperimental = experimental
    }

    /// The fewest arguments a call may have.
    public var minimumArgumentCount: Int { variadic == 0 ? argumentTypes.count : argumentTypes.count - 1 }

    /// The most arguments a call may have; nil for no limit.
    public var maximumArgumentCount: Int? {
        switch variadic {
        case 0: return argumentTypes.count
        case let extra where extra > 0: return argumentTypes.count - 1 + extra
        default: return nil
        }
    }

    /// The expected type of argument `index`, or nil past the end of a non-variadic signature.
    public func argumentType(at index: Int) -> PromQLValueType? {
        if index < argumentTypes.count { return argumentTypes[index] }
        return variadic == 0 ? nil : argumentTypes.last
    }

    /// Every function of Prometheus 3's functions.md (including the experimental ones).
    public static let all: [PromQLFunction] = [
        .init("abs", [.vector], returns: .vector),
        .init("absent", [.vector], returns: .vector),
        .init("absent_over_time", [.matrix], returns: .vector),
        .init("acos", [.vector], returns: .vector),
        .init("acosh", [.vector], returns: .vector),
        .init("asin", [.vector], returns: .vector),
        .init("asinh", [.vector], returns: .vector),
        .init("atan", [.vector], returns: .vector),
        .init("atanh", [.vector], returns: .vector),
        .init("avg_over_time", [.matrix], returns: .vector),
        .init("ceil", [.vector], returns: .vector),
        .init("changes", [.matrix], returns: .vector),
        .init("clamp", [.vector, .scalar, .scalar], returns: .vector),
        .init("clamp_max", [.vector, .scalar], returns: .vector),
        .init("clamp_min", [.vector, .scalar], returns: .vector),
        .init("cos", [.vector], returns: .vector),
        .init("cosh", [.vector], returns: .vector),
        .init("count_over_time", [.matrix], returns: .vector),
        .init("day_of_month", [.vector], returns: .vector, variadic: 1),
        .init("day_of_week", [.vector], returns: .vector, variadic: 1),
        .init("day_of_year", [.vector], returns: .vector, variadic: 1),
        .init("days_in_month", [.vector], returns: .vector, variadic: 1),
        .init("deg", [.vector], returns: .vector),
        .init("delta", [.matrix], returns: .vector),
        .init("deriv", [.matrix], returns: .vector),
        .init("double_exponential_smoothing", [.matrix, .scalar, .scalar], returns: .vector, experimental: true),
        .init("end", [], returns: .scalar, experimental: true),
        .init("exp", [.vector], returns: .vector),
        .init("first_over_time", [.matrix], returns: .vector),
        .init("floor", [.vector], returns: .vector),
        .init("histogram_avg", [.vector], returns: .vector),
        .init("histogram_count", [.vector], returns: .vector),
        .init("histogram_fraction", [.scalar, .scalar, .vector], returns: .vector),
        .init("histogram_quantile", [.scalar, .vector], returns: .vector),
        .init("histogram_quantiles", [.vector, .string, .scalar, .scalar], returns: .vector, variadic: 9, experimental: true),
        .init("histogram_stddev", [.vector], returns: .vector),
        .init("histogram_stdvar", [.vector], returns: .vector),
        .init("histogram_sum", [.vector], returns: .vector),
        .init("hour", [.vector], returns: .vector, variadic: 1),
        .init("idelta", [.matrix], returns: .vector),
        .init("increase", [.matrix], returns: .vector),
        .init("info", [.vector, .vector], returns: .vector, variadic: 1, experimental: true),
        .init("irate", [.matrix], returns: .vector),
        .init("label_join", [.vector, .string, .string, .string], returns: .vector, variadic: -1),
        .init("label_replace", [.vector, .string, .string, .string, .string], returns: .vector),
        .init("last_over_time", [.matrix], returns: .vector),
        .init("ln", [.vector], returns: .vector),
        .init("log10", [.vector], returns: .vector),
        .init("log2", [.vector], returns: .vector),
        .init("mad_over_time", [.matrix], returns: .vector, experimental: true),
        .init("max_of", [.scalar, .scalar], returns: .scalar, experimental: true),
        .init("max_over_time", [.matrix], returns: .vector),
        .init("min_of", [.scalar, .scalar], returns: .scalar, experimental: true),
        .init("min_over_time", [.matrix], returns: .vector),
        .init("minute", [.vector], returns: .vector, variadic: 1),
        .init("month", [.vector], returns: .vector, variadic: 1),
        .init("pi", [], returns: .scalar),
        .init("predict_linear", [.matrix, .scalar], returns: .vector),
        .init("present_over_time", [.matrix], returns: .vector),
        .init("quantile_over_time", [.scalar, .matrix], returns: .vector),
        .init("rad", [.vector], returns: .vector),
        .init("range", [], returns: .scalar, experimental: true),
        .init("rate", [.matrix], returns: .vector),
        .init("resets", [.matrix], returns: .vector),
        .init("round", [.vector, .scalar], returns: .vector, variadic: 1),
        .init("scalar", [.vector], returns: .scalar),
        .init("sgn", [.vector], returns: .vector),
        .init("sin", [.vector], returns: .vector),
        .init("sinh", [.vector], returns: .vector),
        .init("sort", [.vector], returns: .vector),
        .init("sort_by_label", [.vector, .string], returns: .vector, variadic: -1, experimental: true),
        .init("sort_by_label_desc", [.vector, .string], returns: .vector, variadic: -1, experimental: true),
        .init("sort_desc", [.vector], returns: .vector),
        .init("sqrt", [.vector], returns: .vector),
        .init("start", [], returns: .scalar, experimental: true),
        .init("start_timestamp", [.vector], returns: .vector, experimental: true),
        .init("stddev_over_time", [.matrix], returns: .vector),
        .init("stdvar_over_time", [.matrix], returns: .vector),
        .init("step", [], returns: .scalar, experimental: true),
        .init("sum_over_time", [.matrix], returns: .vector),
        .init("tan", [.vector], returns: .vector),
        .init("tanh", [.vector], returns: .vector),
        .init("time", [], returns: .scalar),
        .init("timestamp", [.vector], returns: .vector),
        .init("ts_of_first_over_time", [.matrix], returns: .vector, experimental: true),
        .init("ts_of_last_over_time", [.matrix], returns: .vector, experimental: true),
        .init("ts_of_max_over_time", [.matrix], returns: .vector, experimental: true),
        .init("ts_of_min_over_time", [.matrix], returns: .vector, experimental: true),
        .init("vector", [.scalar], returns: .vector),
        .init("year", [.vector], returns: .vector, variadic: 1),
    ]

    private static let byName: [String: PromQLFunction] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// The function with this exact (case-sensitive) name.
    public static func named(_ name: String) -> PromQLFunction? { byName[name] }

    /// Functions whose range argument may be `anchored` (extended range selectors).
    public static let anchoredSafeFunctionNames: Set<String> = ["changes", "delta", "increase", "rate", "resets"]
    /// Functions whose range argument may be `smoothed` (extended range selectors).
    public static let smoothedSafeFunctionNames: Set<String> = ["delta", "increase", "rate"]
}
