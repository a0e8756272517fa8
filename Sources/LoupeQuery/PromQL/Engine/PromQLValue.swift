import LoupeModel

/// One element of an instant vector: a float or a native histogram at a time.
public struct PromQLSample: Sendable, Equatable {
    public var labels: Labels
    public var value: Double
    public var histogram: NativeHistogram?
    public var timestamp: Int64
    /// The metric name is to be removed when the query finishes (Prometheus 3's delayed name removal).
    var dropName = false

    public init(labels: Labels, value: Double = 0, histogram: NativeHistogram? = nil, timestamp: Int64) {
        self.labels = labels
        self.value = value
        self.histogram = histogram
        self.timestamp = timestamp
    }
}

/// One series of a range vector.
public struct PromQLSeries: Sendable, Equatable {
    public var labels: Labels
    public var floats: [FloatSample]
    public var histograms: [HistogramSample]

    public init(labels: Labels, floats: [FloatSample] = [], histograms: [HistogramSample] = []) {
        self.labels = labels
        self.floats = floats
        self.histograms = histograms
    }
}

/// The result value of a query.
public enum PromQLValue: Sendable, Equatable {
    case scalar(timestamp: Int64, value: Double)
    case string(timestamp: Int64, value: String)
    case vector([PromQLSample])
    case matrix([PromQLSeries])

    public var typeName: String {
        switch self {
        case .scalar: return "scalar"
        case .string: return "string"
        case .vector: return "vector"
        case .matrix: return "matrix"
        }
    }
}

/// A warning or info annotation, rendered as Prometheus does ("PromQL warning: … (1:6)").
public struct PromQLAnnotation: Sendable, Equatable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable, Hashable {
        case warning
        case info
    }

    public var kind: Kind
    public var message: String

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// The value of a query and the annotations collected while evaluating it.
public struct PromQLResult: Sendable, Equatable {
    public var value: PromQLValue
    public var annotations: [PromQLAnnotation]

    public init(value: PromQLValue, annotations: [PromQLAnnotation] = []) {
        self.value = value
        self.annotations = annotations
    }

    public var warnings: [PromQLAnnotation] { annotations.filter { $0.kind == .warning } }
    public var infos: [PromQLAnnotation] { annotations.filter { $0.kind == .info } }
}
