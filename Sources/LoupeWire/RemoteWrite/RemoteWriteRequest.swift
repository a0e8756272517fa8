import LoupeModel

/// A decoded Prometheus remote-write request, of either protocol version.
///
/// - Remote write 1.0 (`prometheus.WriteRequest`, `RemoteWriteV1`): `series` from `timeseries`, and `metadata`
///   from the request's `metadata` list, keyed by metric family name (the last entry wins for a name sent twice).
///   1.0 has no per-series metadata or created timestamps: those fields of `TimeSeries` stay `nil` / 0.
/// - Remote write 2.0 (`io.prometheus.write.v2.Request`, `RemoteWriteV2`): `series` with their symbol references
///   resolved, each carrying its own `metadata` (`nil` when the series' `metadata` field is absent or empty) and
///   `createdTimestamp` (the samples' `start_timestamp`); the request-level `metadata` stays empty.
public struct RemoteWriteRequest: Sendable, Hashable {
    public var series: [TimeSeries]
    /// Remote write 1.0 metadata by metric family name.
    public var metadata: [String: MetricMetadata]

    public init(series: [TimeSeries] = [], metadata: [String: MetricMetadata] = [:]) {
        self.series = series
        self.metadata = metadata
    }

    /// Float samples in all series.
    public var sampleCount: Int { series.reduce(0) { $0 + $1.sampleCount } }
    /// Native-histogram samples in all series.
    public var histogramCount: Int { series.reduce(0) { $0 + $1.histograms.count } }
    /// Exemplars in all series.
    public var exemplarCount: Int { series.reduce(0) { $0 + $1.exemplars.count } }
}

/// What a remote write 2.0 receiver reports back in its `X-Prometheus-Remote-Write-*-Written` response headers:
/// the number of samples, histogram samples and exemplars it wrote. The spec requires these headers on every
/// 2.0 response (success or failure) with the precise counts; a receiver that writes a request completely reports
/// `RemoteWriteV2Stats(request)`.
public struct RemoteWriteV2Stats: Sendable, Hashable {
    public static let samplesWrittenHeader = "X-Prometheus-Remote-Write-Samples-Written"
    public static let histogramsWrittenHeader = "X-Prometheus-Remote-Write-Histograms-Written"
    public static let exemplarsWrittenHeader = "X-Prometheus-Remote-Write-Exemplars-Written"

    public var samples: Int
    public var histograms: Int
    public var exemplars: Int

    public init(samples: Int = 0, histograms: Int = 0, exemplars: Int = 0) {
        self.samples = samples
        self.histograms = histograms
        self.exemplars = exemplars
    }

    /// Everything in `request`.
    public init(_ request: RemoteWriteRequest) {
        var samples = 0
        var histograms = 0
        var exemplars = 0
        for series in request.series {
            samples += series.sampleCount
            histograms += series.histograms.count
            exemplars += series.exemplars.count
        }
        self.init(samples: samples, histograms: histograms, exemplars: exemplars)
    }

    /// The three response headers, in the order above.
    public var headerFields: [(name: String, value: String)] {
        [
            (Self.samplesWrittenHeader, String(samples)),
            (Self.histogramsWrittenHeader, String(histograms)),
            (Self.exemplarsWrittenHeader, String(exemplars)),
        ]
    }
}

// MARK: - Label validation (both versions)

/// The label rules applied to every series (and, minus the ones marked *series*, to every exemplar's labels).
/// They follow the remote write specs (1.0 "Labels", 2.0 "Series Labels") where those say MUST, and otherwise
/// accept what the Prometheus receiver accepts (`storage/remote/write_handler.go`: `labels.IsValid` with
/// UTF-8 validation and `HasDuplicateLabelNames`; the head appender drops empty values and rejects an empty
/// label set):
///
/// 1. Names and values must be valid UTF-8 (error `invalidUTF8`). Any UTF-8 is allowed in names: no check
///    against the legacy `[a-zA-Z_][a-zA-Z0-9_]*` (Prometheus 3 accepts UTF-8 names; the 2.0 spec says SHOULD).
/// 2. A name must not be empty (`invalidValue`, "label name is empty").
/// 3. Names must be unique (`invalidValue`, "duplicate label name").
/// 4. *series*: `__name__`, when present, must not be empty (Prometheus's `IsValidMetricName("")` is false).
/// 5. Any other label with an empty value is dropped: an empty value means the label is absent, as in
///    Prometheus (the specs say senders MUST NOT send them; Prometheus accepts and drops them).
/// 6. The order on the wire does not matter: labels are sorted by name. (The specs require senders to sort;
///    Prometheus sorts on receipt anyway, and so do we rather than reject.)
/// 7. *series*: at least one label must remain ("series has no labels"; the 2.0 spec: `labels_refs` MUST be
///    provided; Prometheus: "empty labelset").
/// 8. A missing `__name__` is accepted (both specs: SHOULD contain).
///
/// Errors name the series (`timeseries[3]`) and the offending label (`labels[1]` in 1.0, `labelsRefs[2]` in
/// 2.0, pointing at the name's reference) and quote it.
enum RemoteWriteLabels {
    /// Validates `labels` (in wire order) and makes the sorted `Labels`. `component(i)` is the path component of
    /// label `i`, `offset(i)` its byte offset; both are only called when an error is thrown.
    @inline(__always)
    static func makeLabels(
        _ labels: [Label], isSeries: Bool, component: (Int) -> String, offset: (Int) -> Int?, seriesOffset: Int
    ) throws(WireError) -> Labels {
        // One pass over the labels in place (through a buffer pointer, so nothing is retained).
        var sorted = true
        var hasEmptyValue = false
        let problem: (index: Int, kind: UInt8)? = labels.withUnsafeBufferPointer { buffer in
            var index = 0
            let count = buffer.count
            while index < count {
                if buffer[index].name.isEmpty { return (index, 0) }
                if buffer[index].value.isEmpty {
                    if isSeries && buffer[index].name == Labels.metricNameLabel { return (index, 1) }
                    hasEmptyValue = true
                }
                if index > 0 && !(buffer[index &- 1].name < buffer[index].name) {
                    if buffer[index &- 1].name == buffer[index].name { return (index, 2) }
                    sorted = false
                }
                index &+= 1
            }
            return nil
        }
        if let (index, kind) = problem {
            let label = labels[index]
            switch kind {
            case 0:
                throw WireError(.invalidValue, "label name is empty (value \"\(label.value)\")", at: component(index), offset: offset(index))
            case 1:
                throw WireError(.invalidValue, "metric name (label __name__) is empty", at: component(index), offset: offset(index))
            default:
                throw duplicate(label.name, component(index), offset(index))
            }
        }
        var result = labels
        if !sorted {
            let order = labels.indices.sorted { labels[$0].name < labels[$1].name || (labels[$0].name == labels[$1].name && $0 < $1) }
            for position in 1..<order.count where labels[order[position - 1]].name == labels[order[position]].name {
                let later = max(order[position - 1], order[position])
                throw duplicate(labels[later].name, component(later), offset(later))
            }
            result = order.map { labels[$0] }
        }
        if hasEmptyValue { result.removeAll { $0.value.isEmpty } }
        if isSeries && result.isEmpty {
            throw WireError(
                .invalidValue, labels.isEmpty ? "series has no labels" : "series has only labels with empty values", offset: seriesOffset
            )
        }
        return Labels(presorted: result)
    }

    static func duplicate(_ name: String, _ component: String, _ offset: Int?) -> WireError {
        WireError(.invalidValue, "duplicate label name \"\(name)\"", at: component, offset: offset)
    }
}

// MARK: - Metric types

extension MetricMetadata.MetricType {
    /// The wire value of both versions' enums (1.0 `MetricMetadata.MetricType`, 2.0 `Metadata.MetricType`
    /// share the numbering); unknown values decode as `.unknown`.
    init(remoteWriteValue value: UInt64) {
        switch value {
        case 1: self = .counter
        case 2: self = .gauge
        case 3: self = .histogram
        case 4: self = .gaugehistogram
        case 5: self = .summary
        case 6: self = .info
        case 7: self = .stateset
        default: self = .unknown
        }
    }

    var remoteWriteValue: UInt64 {
        switch self {
        case .unknown: 0
        case .counter: 1
        case .gauge: 2
        case .histogram: 3
        case .gaugehistogram: 4
        case .summary: 5
        case .info: 6
        case .stateset: 7
        }
    }
}
