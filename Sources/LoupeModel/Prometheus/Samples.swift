/// A float sample: milliseconds since the Unix epoch, as Prometheus keeps time.
public struct FloatSample: Sendable, Hashable {
    public var timestamp: Int64
    public var value: Double

    public init(timestamp: Int64, value: Double) {
        self.timestamp = timestamp
        self.value = value
    }
}

/// A native-histogram sample.
public struct HistogramSample: Sendable, Hashable {
    public var timestamp: Int64
    public var histogram: NativeHistogram

    public init(timestamp: Int64, histogram: NativeHistogram) {
        self.timestamp = timestamp
        self.histogram = histogram
    }
}

/// The value Prometheus writes to mark a series stale: a NaN with this exact bit pattern.
public enum StaleMarker {
    public static let bitPattern: UInt64 = 0x7FF0_0000_0000_0002
    public static let value = Double(bitPattern: bitPattern)
    public static func isStale(_ value: Double) -> Bool { value.bitPattern == bitPattern }
}

/// An exemplar attached to a series.
public struct PrometheusExemplar: Sendable, Hashable {
    public var labels: Labels
    public var value: Double
    public var timestamp: Int64?

    public init(labels: Labels, value: Double, timestamp: Int64?) {
        self.labels = labels
        self.value = value
        self.timestamp = timestamp
    }
}

/// Metric family metadata (`# TYPE`, `# HELP`, `# UNIT`).
public struct MetricMetadata: Sendable, Hashable {
    public enum MetricType: String, Sendable, Hashable, CaseIterable {
        case unknown, counter, gauge, histogram, gaugehistogram, summary, info, stateset
    }

    public var type: MetricType
    public var help: String
    public var unit: String

    public init(type: MetricType = .unknown, help: String = "", unit: String = "") {
        self.type = type
        self.help = help
        self.unit = unit
    }
}

/// One series with its samples, as remote write and scrapes deliver them.
public struct TimeSeries: Sendable, Hashable {
    public var labels: Labels
    /// The float samples. A lone sample — remote write's usual case, one sample per series per
    /// request — is kept without an array: a decoder then makes no heap allocation (and the
    /// request's release no free) per series. Reading `samples` builds the array, so hot paths
    /// use `sampleCount` and `forEachSample`; mutating it in place works as on an array.
    public var samples: [FloatSample] {
        get {
            if let onlySample { return [onlySample] }
            return sampleArray
        }
        set {
            sampleArray = newValue
            onlySample = nil
        }
        _modify {
            if let only = onlySample {
                sampleArray = [only]
                onlySample = nil
            }
            yield &sampleArray
        }
    }
    @usableFromInline var sampleArray: [FloatSample]
    /// The only sample, when there is exactly one and it was given alone; `sampleArray` is then empty.
    @usableFromInline var onlySample: FloatSample?
    public var histograms: [HistogramSample]
    public var exemplars: [PrometheusExemplar]
    public var metadata: MetricMetadata?
    /// Remote write 2.0 created timestamp (ms), 0 when unknown.
    public var createdTimestamp: Int64
    /// Set by a decoder given a `RemoteWriteLabelCache` when it had to decode the labels: the hash
    /// of their raw bytes, under which the head remembers its own copy of the label set.
    public var rawLabelsHash: UInt64?
    /// Set by a decoder whose `RemoteWriteLabelCache` knew the labels: the head's ref for the series,
    /// which the head confirms (same label set) instead of looking the labels up.
    public var seriesRefHint: UInt64?

    public init(
        labels: Labels, samples: [FloatSample] = [], histograms: [HistogramSample] = [], exemplars: [PrometheusExemplar] = [],
        metadata: MetricMetadata? = nil, createdTimestamp: Int64 = 0
    ) {
        self.labels = labels
        self.sampleArray = samples
        self.onlySample = nil
        self.histograms = histograms
        self.exemplars = exemplars
        self.metadata = metadata
        self.createdTimestamp = createdTimestamp
    }

    /// A series with exactly one float sample, stored without an array.
    public init(
        labels: Labels, onlySample: FloatSample, histograms: [HistogramSample] = [], exemplars: [PrometheusExemplar] = [],
        metadata: MetricMetadata? = nil, createdTimestamp: Int64 = 0
    ) {
        self.labels = labels
        self.sampleArray = []
        self.onlySample = onlySample
        self.histograms = histograms
        self.exemplars = exemplars
        self.metadata = metadata
        self.createdTimestamp = createdTimestamp
    }

    /// The sample when it is the only one and was stored alone (then `samples` would build an array).
    @inlinable
    public var loneSample: FloatSample? { onlySample }

    /// `samples.count` without building the array.
    @inlinable
    public var sampleCount: Int { onlySample == nil ? sampleArray.count : 1 }

    /// Calls `body` with each float sample in order, without building an array.
    @inlinable
    public func forEachSample<Failure: Error>(_ body: (FloatSample) throws(Failure) -> Void) throws(Failure) {
        if let onlySample {
            try body(onlySample)
        } else {
            for sample in sampleArray { try body(sample) }
        }
    }

    /// Equal when the samples are, however they are stored.
    public static func == (lhs: TimeSeries, rhs: TimeSeries) -> Bool {
        guard lhs.labels == rhs.labels, lhs.sampleCount == rhs.sampleCount, lhs.histograms == rhs.histograms,
            lhs.exemplars == rhs.exemplars, lhs.metadata == rhs.metadata, lhs.createdTimestamp == rhs.createdTimestamp,
            lhs.rawLabelsHash == rhs.rawLabelsHash, lhs.seriesRefHint == rhs.seriesRefHint
        else { return false }
        if let left = lhs.onlySample ?? (lhs.sampleArray.count == 1 ? lhs.sampleArray[0] : nil) {
            return left == (rhs.onlySample ?? rhs.sampleArray[0])
        }
        return lhs.sampleArray == rhs.sampleArray
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(labels)
        hasher.combine(sampleCount)
        forEachSample { hasher.combine($0) }
        hasher.combine(histograms)
        hasher.combine(exemplars)
        hasher.combine(metadata)
        hasher.combine(createdTimestamp)
        hasher.combine(rawLabelsHash)
        hasher.combine(seriesRefHint)
    }
}

/// The samples of one series in a time range, as the query layer consumes them.
public struct SeriesSamples: Sendable, Hashable {
    public var labels: Labels
    public var floats: [FloatSample]
    public var histograms: [HistogramSample]

    public init(labels: Labels, floats: [FloatSample] = [], histograms: [HistogramSample] = []) {
        self.labels = labels
        self.floats = floats
        self.histograms = histograms
    }

    /// Only the newest sample (a float wins a tie with a histogram, as PromQL picks it); nothing when empty.
    public var newest: SeriesSamples {
        var result = SeriesSamples(labels: labels)
        if let float = floats.last, histograms.last.map({ float.timestamp >= $0.timestamp }) ?? true {
            result.floats = [float]
        } else if let histogram = histograms.last {
            result.histograms = [histogram]
        }
        return result
    }
}
