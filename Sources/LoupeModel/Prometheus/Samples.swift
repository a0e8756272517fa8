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
///
/// Laid out for remote write, where a request holds thousands of series with one float sample each
/// and nothing else: the lone sample is stored inline, and everything a series rarely has (a sample
/// array, histograms, exemplars, metadata, a created timestamp) lives in one shared box that is
/// absent in the usual case. A decoded series is then 56 bytes holding two references (its labels
/// and a nil box), so building and freeing a request's series costs one retain and one release each
/// rather than one per field, and a 2,000-series array stays under malloc's mmap threshold.
public struct TimeSeries: Sendable, Hashable {
    public var labels: Labels
    @usableFromInline var loneTimestamp: Int64 = 0
    @usableFromInline var loneValue: Double = 0
    /// What a series rarely has; nil when it has none of it.
    @usableFromInline var extras: Extras?
    @usableFromInline var rawLabelsHashStorage: UInt64 = 0
    @usableFromInline var seriesRefHintStorage: UInt64 = 0
    @usableFromInline var flags: Flags = []

    @usableFromInline
    struct Flags: OptionSet, Sendable, Hashable {
        @usableFromInline let rawValue: UInt8
        @inlinable init(rawValue: UInt8) { self.rawValue = rawValue }
        // Computed, not stored: a static stored property is a lazily initialised global, read
        // through an addressor call on every use.
        /// `loneTimestamp`/`loneValue` hold the only float sample (the box's sample array is then empty).
        @inlinable static var loneSample: Flags { Flags(rawValue: 1) }
        @inlinable static var rawLabelsHash: Flags { Flags(rawValue: 2) }
        @inlinable static var seriesRefHint: Flags { Flags(rawValue: 4) }
    }

    /// Copy-on-write storage of the rarely used fields: only mutated through `uniqueExtras()`, that
    /// is when this series holds the only reference, which is what makes the unchecked Sendable sound.
    @usableFromInline
    final class Extras: @unchecked Sendable {
        @usableFromInline var samples: [FloatSample] = []
        @usableFromInline var histograms: [HistogramSample] = []
        @usableFromInline var exemplars: [PrometheusExemplar] = []
        @usableFromInline var metadata: MetricMetadata?
        @usableFromInline var createdTimestamp: Int64 = 0

        @usableFromInline init() {}

        @usableFromInline func copy() -> Extras {
            let copy = Extras()
            copy.samples = samples
            copy.histograms = histograms
            copy.exemplars = exemplars
            copy.metadata = metadata
            copy.createdTimestamp = createdTimestamp
            return copy
        }
    }

    /// The box, made unique (copied if shared, created if absent) so that it may be mutated.
    @usableFromInline mutating func uniqueExtras() -> Extras {
        if !isKnownUniquelyReferenced(&extras) { extras = extras?.copy() ?? Extras() }
        return extras!
    }

    /// The float samples. A lone sample — remote write's usual case, one sample per series per
    /// request — is kept without an array: a decoder then makes no heap allocation (and the
    /// request's release no free) per series. Reading `samples` builds the array, so hot paths
    /// use `sampleCount` and `forEachSample`; mutating it in place works as on an array.
    @inlinable public var samples: [FloatSample] {
        get {
            if let onlySample { return [onlySample] }
            return extras?.samples ?? []
        }
        set {
            flags.remove(.loneSample)
            if newValue.isEmpty && extras == nil { return }
            uniqueExtras().samples = newValue
        }
        _modify {
            let box = uniqueExtras()
            if let only = onlySample {
                box.samples = [only]
                flags.remove(.loneSample)
            }
            yield &box.samples
        }
    }

    /// The only sample, when there is exactly one and it was given alone.
    @inlinable
    var onlySample: FloatSample? {
        flags.contains(.loneSample) ? FloatSample(timestamp: loneTimestamp, value: loneValue) : nil
    }

    @inlinable public var histograms: [HistogramSample] {
        get { extras?.histograms ?? [] }
        set {
            if newValue.isEmpty && extras == nil { return }
            uniqueExtras().histograms = newValue
        }
        _modify {
            let box = uniqueExtras()
            yield &box.histograms
        }
    }

    @inlinable public var exemplars: [PrometheusExemplar] {
        get { extras?.exemplars ?? [] }
        set {
            if newValue.isEmpty && extras == nil { return }
            uniqueExtras().exemplars = newValue
        }
        _modify {
            let box = uniqueExtras()
            yield &box.exemplars
        }
    }

    @inlinable public var metadata: MetricMetadata? {
        get { extras?.metadata }
        set {
            if newValue == nil && extras == nil { return }
            uniqueExtras().metadata = newValue
        }
    }

    /// Remote write 2.0 created timestamp (ms), 0 when unknown.
    @inlinable public var createdTimestamp: Int64 {
        get { extras?.createdTimestamp ?? 0 }
        set {
            if newValue == 0 && extras == nil { return }
            uniqueExtras().createdTimestamp = newValue
        }
    }

    /// Set by a decoder given a `RemoteWriteLabelCache` when it had to decode the labels: the hash
    /// of their raw bytes, under which the head remembers its own copy of the label set.
    @inlinable public var rawLabelsHash: UInt64? {
        get { flags.contains(.rawLabelsHash) ? rawLabelsHashStorage : nil }
        set {
            rawLabelsHashStorage = newValue ?? 0
            if newValue == nil { flags.remove(.rawLabelsHash) } else { flags.insert(.rawLabelsHash) }
        }
    }

    /// Set by a decoder whose `RemoteWriteLabelCache` knew the labels: the head's ref for the series,
    /// which the head confirms (same label set) instead of looking the labels up.
    @inlinable public var seriesRefHint: UInt64? {
        get { flags.contains(.seriesRefHint) ? seriesRefHintStorage : nil }
        set {
            seriesRefHintStorage = newValue ?? 0
            if newValue == nil { flags.remove(.seriesRefHint) } else { flags.insert(.seriesRefHint) }
        }
    }

    public init(
        labels: Labels, samples: [FloatSample] = [], histograms: [HistogramSample] = [], exemplars: [PrometheusExemplar] = [],
        metadata: MetricMetadata? = nil, createdTimestamp: Int64 = 0
    ) {
        self.labels = labels
        self.samples = samples
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
        self.loneTimestamp = onlySample.timestamp
        self.loneValue = onlySample.value
        self.flags = .loneSample
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
    public var sampleCount: Int { flags.contains(.loneSample) ? 1 : extras?.samples.count ?? 0 }

    /// Calls `body` with each float sample in order, without building an array.
    @inlinable
    public func forEachSample<Failure: Error>(_ body: (FloatSample) throws(Failure) -> Void) throws(Failure) {
        if let onlySample {
            try body(onlySample)
        } else if let extras {
            for sample in extras.samples { try body(sample) }
        }
    }

    /// Equal when the samples are, however they are stored.
    public static func == (lhs: TimeSeries, rhs: TimeSeries) -> Bool {
        guard lhs.labels == rhs.labels, lhs.sampleCount == rhs.sampleCount, lhs.histograms == rhs.histograms,
            lhs.exemplars == rhs.exemplars, lhs.metadata == rhs.metadata, lhs.createdTimestamp == rhs.createdTimestamp,
            lhs.rawLabelsHash == rhs.rawLabelsHash, lhs.seriesRefHint == rhs.seriesRefHint
        else { return false }
        return lhs.samples == rhs.samples
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
