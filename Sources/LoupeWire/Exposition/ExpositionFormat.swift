import LoupeModel

/// The text exposition formats a Prometheus scrape target may answer with.
public enum ExpositionFormat: Sendable, Hashable, CustomStringConvertible {
    /// The Prometheus text format 0.0.4 (`text/plain; version=0.0.4`), with Prometheus 3's quoted UTF-8 names.
    case prometheusText
    /// OpenMetrics 1.0 text (`application/openmetrics-text; version=1.0.0`).
    case openMetrics

    /// The format for a response's `Content-Type`, chosen as the Prometheus scraper does by media type alone
    /// (`application/openmetrics-text` in any version is OpenMetrics). Anything else, a missing header included,
    /// falls back to the Prometheus text format (Prometheus 3 would fail such a scrape unless
    /// `fallback_scrape_protocol` is set; use `init?(recognizing:)` to be that strict).
    public init(contentType: String?) {
        self = contentType.flatMap(Self.init(recognizing:)) ?? .prometheusText
    }

    /// The format for a `Content-Type` whose media type is `application/openmetrics-text` or `text/plain`
    /// (case-insensitive, parameters ignored); nil for anything else (protobuf included).
    public init?(recognizing contentType: String) {
        var mediaType = Substring(contentType)
        if let semicolon = mediaType.firstIndex(of: ";") { mediaType = mediaType[..<semicolon] }
        switch mediaType.trimmingASCIIWhitespace().lowercased() {
        case "application/openmetrics-text": self = .openMetrics
        case "text/plain": self = .prometheusText
        default: return nil
        }
    }

    /// The `Content-Type` to serve this format with.
    public var contentType: String {
        switch self {
        case .prometheusText: "text/plain; version=0.0.4; charset=utf-8"
        case .openMetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8"
        }
    }

    /// The `Accept` header Prometheus 3 sends by default (OpenMetrics first, UTF-8 names allowed).
    public static let scrapeAcceptHeader =
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
        + "application/openmetrics-text;version=0.0.1;q=0.5,"
        + "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
        + "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"

    public var description: String {
        switch self {
        case .prometheusText: "Prometheus text 0.0.4"
        case .openMetrics: "OpenMetrics 1.0"
        }
    }
}

extension Substring {
    fileprivate func trimmingASCIIWhitespace() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result = result.dropFirst() }
        while let last = result.last, last == " " || last == "\t" { result = result.dropLast() }
        return result
    }
}

/// One sample line of an exposition.
public struct ScrapedSample: Sendable, Hashable {
    /// The series, with `__name__`; label values as Prometheus stores them (empty values dropped, `le` and
    /// `quantile` of histograms and summaries in canonical float form, e.g. `le="1"` becomes `le="1.0"`).
    public var labels: Labels
    /// The value; a `NaN` in the exposition is Prometheus's quiet NaN (never the stale marker's bit pattern).
    public var value: Double
    /// Milliseconds since the epoch; nil when the line has no timestamp.
    public var timestamp: Int64?
    /// The OpenMetrics exemplar, if the line has one.
    public var exemplar: PrometheusExemplar?
    /// For OpenMetrics counters, histograms and summaries: the family's `_created` value for this series, in
    /// milliseconds (`int64(seconds * 1000)` as Prometheus computes it); nil when there is none.
    public var createdTimestamp: Int64?

    public init(
        labels: Labels, value: Double, timestamp: Int64? = nil, exemplar: PrometheusExemplar? = nil, createdTimestamp: Int64? = nil
    ) {
        self.labels = labels
        self.value = value
        self.timestamp = timestamp
        self.exemplar = exemplar
        self.createdTimestamp = createdTimestamp
    }

    /// The metric name (`__name__`).
    public var name: String { labels.metricName ?? "" }
}

/// A metric family as delimited in the exposition: its name (as in `# TYPE`, or the sample name when it had no
/// metadata), its type, and the range of its samples in `ScrapeResult.samples`.
public struct ScrapedFamily: Sendable, Hashable {
    public var name: String
    public var type: MetricMetadata.MetricType
    public var samples: Range<Int>

    public init(name: String, type: MetricMetadata.MetricType, samples: Range<Int>) {
        self.name = name
        self.type = type
        self.samples = samples
    }
}

/// What a scrape yielded.
public struct ScrapeResult: Sendable, Hashable {
    /// The samples in exposition order.
    public var samples: [ScrapedSample]
    /// `# TYPE`, `# HELP` and `# UNIT` by family name (only families that had at least one such line).
    /// An empty HELP or UNIT is the same as none; the Prometheus text format's `untyped` is `.unknown`.
    public var metadata: [String: MetricMetadata]
    /// The families in exposition order (consecutive samples of one family; a family that appears twice,
    /// which the formats forbid, is listed twice).
    public var families: [ScrapedFamily]

    public init(samples: [ScrapedSample] = [], metadata: [String: MetricMetadata] = [:], families: [ScrapedFamily] = []) {
        self.samples = samples
        self.metadata = metadata
        self.families = families
    }
}
