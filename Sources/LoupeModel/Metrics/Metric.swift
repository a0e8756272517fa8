/// Metrics grouped by the resource and scope that produced them.
public struct MetricsData: Sendable, Hashable {
    public var resourceMetrics: [ResourceMetrics]

    public init(resourceMetrics: [ResourceMetrics] = []) { self.resourceMetrics = resourceMetrics }
}

public struct ResourceMetrics: Sendable, Hashable {
    public var resource: Resource
    public var scopeMetrics: [ScopeMetrics]
    public var schemaURL: String

    public init(resource: Resource = Resource(), scopeMetrics: [ScopeMetrics] = [], schemaURL: String = "") {
        self.resource = resource
        self.scopeMetrics = scopeMetrics
        self.schemaURL = schemaURL
    }
}

public struct ScopeMetrics: Sendable, Hashable {
    public var scope: InstrumentationScope
    public var metrics: [Metric]
    public var schemaURL: String

    public init(scope: InstrumentationScope = InstrumentationScope(), metrics: [Metric] = [], schemaURL: String = "") {
        self.scope = scope
        self.metrics = metrics
        self.schemaURL = schemaURL
    }
}

public struct Metric: Sendable, Hashable {
    public var name: String
    public var description: String
    public var unit: String
    public var data: MetricData
    /// Additional metadata (OTLP `Metric.metadata`).
    public var metadata: [KeyValue]

    public init(name: String = "", description: String = "", unit: String = "", data: MetricData = .none, metadata: [KeyValue] = []) {
        self.name = name
        self.description = description
        self.unit = unit
        self.data = data
        self.metadata = metadata
    }
}

public enum MetricData: Sendable, Hashable {
    /// A metric that carries no data kind (allowed on the wire; carries no points).
    case none
    case gauge(Gauge)
    case sum(Sum)
    case histogram(Histogram)
    case exponentialHistogram(ExponentialHistogram)
    case summary(Summary)
}

public struct AggregationTemporality: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let unspecified = AggregationTemporality(rawValue: 0)
    public static let delta = AggregationTemporality(rawValue: 1)
    public static let cumulative = AggregationTemporality(rawValue: 2)

    public var description: String {
        switch rawValue {
        case 0: "unspecified"
        case 1: "delta"
        case 2: "cumulative"
        default: "temporality(\(rawValue))"
        }
    }
}

public struct Gauge: Sendable, Hashable {
    public var dataPoints: [NumberDataPoint]
    public init(dataPoints: [NumberDataPoint] = []) { self.dataPoints = dataPoints }
}

public struct Sum: Sendable, Hashable {
    public var dataPoints: [NumberDataPoint]
    public var aggregationTemporality: AggregationTemporality
    public var isMonotonic: Bool

    public init(dataPoints: [NumberDataPoint] = [], aggregationTemporality: AggregationTemporality = .unspecified, isMonotonic: Bool = false) {
        self.dataPoints = dataPoints
        self.aggregationTemporality = aggregationTemporality
        self.isMonotonic = isMonotonic
    }
}

public struct Histogram: Sendable, Hashable {
    public var dataPoints: [HistogramDataPoint]
    public var aggregationTemporality: AggregationTemporality

    public init(dataPoints: [HistogramDataPoint] = [], aggregationTemporality: AggregationTemporality = .unspecified) {
        self.dataPoints = dataPoints
        self.aggregationTemporality = aggregationTemporality
    }
}

public struct ExponentialHistogram: Sendable, Hashable {
    public var dataPoints: [ExponentialHistogramDataPoint]
    public var aggregationTemporality: AggregationTemporality

    public init(dataPoints: [ExponentialHistogramDataPoint] = [], aggregationTemporality: AggregationTemporality = .unspecified) {
        self.dataPoints = dataPoints
        self.aggregationTemporality = aggregationTemporality
    }
}

public struct Summary: Sendable, Hashable {
    public var dataPoints: [SummaryDataPoint]
    public init(dataPoints: [SummaryDataPoint] = []) { self.dataPoints = dataPoints }
}

/// A gauge or sum value: OTLP's `as_double` / `as_int` oneof.
public enum NumberValue: Sendable, Hashable {
    case double(Double)
    case int(Int64)

    public var doubleValue: Double {
        switch self {
        case .double(let value): value
        case .int(let value): Double(value)
        }
    }
}

/// `DataPointFlags`: bit 0 marks a point with no recorded value (a staleness marker).
public struct DataPointFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let noRecordedValue = DataPointFlags(rawValue: 1)
}

public struct NumberDataPoint: Sendable, Hashable {
    public var attributes: [KeyValue]
    public var startTimeUnixNano: UInt64
    public var timeUnixNano: UInt64
    /// nil when the oneof is not set on the wire.
    public var value: NumberValue?
    public var exemplars: [Exemplar]
    public var flags: DataPointFlags

    public init(
        attributes: [KeyValue] = [], startTimeUnixNano: UInt64 = 0, timeUnixNano: UInt64 = 0, value: NumberValue? = nil,
        exemplars: [Exemplar] = [], flags: DataPointFlags = []
    ) {
        self.attributes = attributes
        self.startTimeUnixNano = startTimeUnixNano
        self.timeUnixNano = timeUnixNano
        self.value = value
        self.exemplars = exemplars
        self.flags = flags
    }
}

public struct HistogramDataPoint: Sendable, Hashable {
    public var attributes: [KeyValue]
    public var startTimeUnixNano: UInt64
    public var timeUnixNano: UInt64
    public var count: UInt64
    public var sum: Double?
    public var bucketCounts: [UInt64]
    public var explicitBounds: [Double]
    public var exemplars: [Exemplar]
    public var flags: DataPointFlags
    public var min: Double?
    public var max: Double?

    public init(
        attributes: [KeyValue] = [], startTimeUnixNano: UInt64 = 0, timeUnixNano: UInt64 = 0, count: UInt64 = 0,
        sum: Double? = nil, bucketCounts: [UInt64] = [], explicitBounds: [Double] = [], exemplars: [Exemplar] = [],
        flags: DataPointFlags = [], min: Double? = nil, max: Double? = nil
    ) {
        self.attributes = attributes
        self.startTimeUnixNano = startTimeUnixNano
        self.timeUnixNano = timeUnixNano
        self.count = count
        self.sum = sum
        self.bucketCounts = bucketCounts
        self.explicitBounds = explicitBounds
        self.exemplars = exemplars
        self.flags = flags
        self.min = min
        self.max = max
    }
}

public struct ExponentialHistogramDataPoint: Sendable, Hashable {
    public struct Buckets: Sendable, Hashable {
        public var offset: Int32
        public var bucketCounts: [UInt64]

        public init(offset: Int32 = 0, bucketCounts: [UInt64] = []) {
            self.offset = offset
            self.bucketCounts = bucketCounts
        }
    }

    public var attributes: [KeyValue]
    public var startTimeUnixNano: UInt64
    public var timeUnixNano: UInt64
    public var count: UInt64
    public var sum: Double?
    public var scale: Int32
    public var zeroCount: UInt64
    public var positive: Buckets
    public var negative: Buckets
    public var flags: DataPointFlags
    public var exemplars: [Exemplar]
    public var min: Double?
    public var max: Double?
    public var zeroThreshold: Double

    public init(
        attributes: [KeyValue] = [], startTimeUnixNano: UInt64 = 0, timeUnixNano: UInt64 = 0, count: UInt64 = 0,
        sum: Double? = nil, scale: Int32 = 0, zeroCount: UInt64 = 0, positive: Buckets = Buckets(),
        negative: Buckets = Buckets(), flags: DataPointFlags = [], exemplars: [Exemplar] = [], min: Double? = nil,
        max: Double? = nil, zeroThreshold: Double = 0
    ) {
        self.attributes = attributes
        self.startTimeUnixNano = startTimeUnixNano
        self.timeUnixNano = timeUnixNano
        self.count = count
        self.sum = sum
        self.scale = scale
        self.zeroCount = zeroCount
        self.positive = positive
        self.negative = negative
        self.flags = flags
        self.exemplars = exemplars
        self.min = min
        self.max = max
        self.zeroThreshold = zeroThreshold
    }
}

public struct SummaryDataPoint: Sendable, Hashable {
    public struct ValueAtQuantile: Sendable, Hashable {
        public var quantile: Double
        public var value: Double

        public init(quantile: Double, value: Double) {
            self.quantile = quantile
            self.value = value
        }
    }

    public var attributes: [KeyValue]
    public var startTimeUnixNano: UInt64
    public var timeUnixNano: UInt64
    public var count: UInt64
    public var sum: Double
    public var quantileValues: [ValueAtQuantile]
    public var flags: DataPointFlags

    public init(
        attributes: [KeyValue] = [], startTimeUnixNano: UInt64 = 0, timeUnixNano: UInt64 = 0, count: UInt64 = 0,
        sum: Double = 0, quantileValues: [ValueAtQuantile] = [], flags: DataPointFlags = []
    ) {
        self.attributes = attributes
        self.startTimeUnixNano = startTimeUnixNano
        self.timeUnixNano = timeUnixNano
        self.count = count
        self.sum = sum
        self.quantileValues = quantileValues
        self.flags = flags
    }
}

/// A sample value that links a metric point to the trace that produced it.
public struct Exemplar: Sendable, Hashable {
    public var filteredAttributes: [KeyValue]
    public var timeUnixNano: UInt64
    public var value: NumberValue?
    public var spanID: SpanID
    public var traceID: TraceID

    public init(filteredAttributes: [KeyValue] = [], timeUnixNano: UInt64 = 0, value: NumberValue? = nil, spanID: SpanID = .empty, traceID: TraceID = .empty) {
        self.filteredAttributes = filteredAttributes
        self.timeUnixNano = timeUnixNano
        self.value = value
        self.spanID = spanID
        self.traceID = traceID
    }
}
