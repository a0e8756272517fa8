import LoupeModel
import LoupeWire

/// The per-scrape numbers Prometheus records as series for every target.
public struct ScrapeReport: Sendable, Equatable {
    public var up: Bool
    /// Seconds.
    public var duration: Double
    /// Samples in the exposition.
    public var samplesScraped: Int
    /// Samples left after `metric_relabel_configs`.
    public var samplesPostMetricRelabeling: Int
    /// Series in this scrape that were not in the previous one.
    public var seriesAdded: Int

    public init(up: Bool, duration: Double, samplesScraped: Int = 0, samplesPostMetricRelabeling: Int = 0, seriesAdded: Int = 0) {
        self.up = up
        self.duration = duration
        self.samplesScraped = samplesScraped
        self.samplesPostMetricRelabeling = samplesPostMetricRelabeling
        self.seriesAdded = seriesAdded
    }

    public static let upName = "up"
    public static let durationName = "scrape_duration_seconds"
    public static let samplesScrapedName = "scrape_samples_scraped"
    public static let samplesPostMetricRelabelingName = "scrape_samples_post_metric_relabeling"
    public static let seriesAddedName = "scrape_series_added"
    public static let names = [upName, durationName, samplesScrapedName, samplesPostMetricRelabelingName, seriesAddedName]

    var values: [(String, Double)] {
        [
            (Self.upName, up ? 1 : 0), (Self.durationName, duration), (Self.samplesScrapedName, Double(samplesScraped)),
            (Self.samplesPostMetricRelabelingName, Double(samplesPostMetricRelabeling)), (Self.seriesAddedName, Double(seriesAdded)),
        ]
    }
}

/// What one scrape produced: the samples to append (scraped samples, stale markers and the report series), in one
/// remote-write request, and the scrape's report and error.
public struct ScrapeOutcome: Sendable {
    public var request: RemoteWriteRequest
    public var report: ScrapeReport
    /// Why the scrape failed (up = 0); nil when it succeeded.
    public var error: ScrapeError?
    /// Stale markers among `request`'s samples.
    public var staleMarkers: Int

    public var sampleCount: Int { request.sampleCount }
}

/// The state of one target's scrapes, between scrapes: which series the last scrape had (for staleness), the
/// exposition parser's caches and the metric-relabeling cache. Pure: the caller fetches the body, measures the time
/// and appends the outcome.
///
/// Semantics follow Prometheus's scrape loop:
/// - each sample's labels are the exposed labels merged with the target labels: with `honor_labels: false` a target
///   label wins and a clashing exposed label is kept as `exported_<name>` (`exported_exported_<name>` if that is
///   taken too); with `honor_labels: true` the exposed label wins. Then `metric_relabel_configs` run; a sample whose
///   labels end up empty is dropped.
/// - samples without a timestamp (or all of them with `honor_timestamps: false`) are stamped with the scrape time;
///   only those take part in staleness: a series the previous scrape had and this one lacks gets a stale marker.
/// - more samples after relabeling than `sample_limit`, more labels than `label_limit`, a sample without a metric
///   name, or a body that does not parse fail the scrape: nothing of it is appended, every series of the previous
///   scrape gets a stale marker and `up` is 0.
/// - the report series (`up`, `scrape_duration_seconds`, `scrape_samples_scraped`,
///   `scrape_samples_post_metric_relabeling`, `scrape_series_added`) carry the target labels and the scrape time.
/// - when the target goes away, `stop` marks every series and the report series stale.
public struct ScrapeLoop {
    public struct Options: Sendable, Equatable {
        public var honorLabels = false
        public var honorTimestamps = true
        public var sampleLimit = 0
        public var labelLimit = 0
        public var metricRelabelConfigs: [RelabelConfig] = []

        public init(honorLabels: Bool = false, honorTimestamps: Bool = true, sampleLimit: Int = 0, labelLimit: Int = 0, metricRelabelConfigs: [RelabelConfig] = []) {
            self.honorLabels = honorLabels
            self.honorTimestamps = honorTimestamps
            self.sampleLimit = sampleLimit
            self.labelLimit = labelLimit
            self.metricRelabelConfigs = metricRelabelConfigs
        }

        public init(_ config: ScrapeConfig) {
            self.init(
                honorLabels: config.honorLabels, honorTimestamps: config.honorTimestamps, sampleLimit: config.sampleLimit,
                labelLimit: config.labelLimit, metricRelabelConfigs: config.metricRelabelConfigs)
        }
    }

    public let targetLabels: Labels
    public let options: Options
    private let parser = ExpositionParser()
    /// Series (final labels) of the last scrape that take part in staleness.
    public private(set) var previousSeries: Set<Labels> = []
    /// Exposed labels → final labels (nil: dropped by metric relabeling), for the series of the last scrape.
    private var labelCache: [Labels: Labels?] = [:]
    /// Whether report series were written (so `stop` knows to mark them stale).
    private var reported = false
    /// The metadata of the last successful scrape, by family name.
    public private(set) var metadata: [String: MetricMetadata] = [:]

    public init(targetLabels: Labels, options: Options = Options()) {
        self.targetLabels = targetLabels
        self.options = options
    }

    /// Processes a scrape that returned `body`. `timestamp` is the scrape time in milliseconds, `duration` the time
    /// the scrape took, in seconds.
    public mutating func process(body: [UInt8], contentType: String?, timestamp: Int64, duration: Double) -> ScrapeOutcome {
        let format = ExpositionFormat(contentType: contentType)
        let parsed: ScrapeResult
        do {
            parsed = try parser.parse(body, format: format, defaultTimestamp: timestamp)
        } catch {
            return failed(ScrapeError(.invalidExposition, "\(error)"), timestamp: timestamp, duration: duration)
        }
        var series: [TimeSeries] = []
        series.reserveCapacity(parsed.samples.count + previousSeries.count + 5)
        var current: Set<Labels> = []
        current.reserveCapacity(previousSeries.count)
        var seenThisScrape: Set<Labels> = []
        seenThisScrape.reserveCapacity(parsed.samples.count)
        var newCache: [Labels: Labels?] = [:]
        newCache.reserveCapacity(parsed.samples.count)
        var added = 0
        var seriesAdded = 0
        for sample in parsed.samples {
            let final: Labels?
            if let cached = labelCache[sample.labels] ?? newCache[sample.labels] {
                final = cached
            } else {
                final = finalLabels(sample.labels)
            }
            newCache[sample.labels] = .some(final)
            guard let final, !final.isEmpty else { continue }
            guard final.metricName.map({ !$0.isEmpty }) ?? false else {
                return failed(
                    ScrapeError(.invalidExposition, "a sample has no metric name after relabeling: \(final)"),
                    timestamp: timestamp, duration: duration, scraped: parsed.samples.count)
            }
            if options.labelLimit > 0, final.count > options.labelLimit {
                return failed(
                    ScrapeError(.limitExceeded, "label_limit exceeded (metric: \(final.metricName ?? ""), number of labels: \(final.count), limit: \(options.labelLimit))"),
                    timestamp: timestamp, duration: duration, scraped: parsed.samples.count)
            }
            // A series may appear once per scrape; later duplicates are ignored (Prometheus refuses them).
            guard seenThisScrape.insert(final).inserted else { continue }
            added += 1
            let explicit = options.honorTimestamps ? sample.timestamp : nil
            var entry = TimeSeries(labels: final, samples: [FloatSample(timestamp: explicit ?? timestamp, value: sample.value)])
            if let exemplar = sample.exemplar { entry.exemplars = [exemplar] }
            series.append(entry)
            if explicit == nil {
                current.insert(final)
                if !previousSeries.contains(final) { seriesAdded += 1 }
            } else if !previousSeries.contains(final) {
                seriesAdded += 1
            }
        }
        if options.sampleLimit > 0, added > options.sampleLimit {
            return failed(
                ScrapeError(.limitExceeded, "sample_limit exceeded: \(added) samples after metric relabeling, limit \(options.sampleLimit)"),
                timestamp: timestamp, duration: duration, scraped: parsed.samples.count, postRelabeling: added)
        }
        var stale = 0
        for gone in previousSeries where !current.contains(gone) {
            series.append(TimeSeries(labels: gone, samples: [FloatSample(timestamp: timestamp, value: StaleMarker.value)]))
            stale += 1
        }
        previousSeries = current
        labelCache = newCache
        metadata = parsed.metadata
        let report = ScrapeReport(
            up: true, duration: duration, samplesScraped: parsed.samples.count, samplesPostMetricRelabeling: added, seriesAdded: seriesAdded)
        series.append(contentsOf: reportSeries(report, timestamp: timestamp))
        return ScrapeOutcome(request: RemoteWriteRequest(series: series, metadata: parsed.metadata), report: report, error: nil, staleMarkers: stale)
    }

    /// A scrape that failed before or while reading its body (unreachable, timeout, HTTP status, bad body, limits):
    /// `up` is 0 and every series of the previous scrape gets a stale marker.
    public mutating func failed(
        _ error: ScrapeError, timestamp: Int64, duration: Double, scraped: Int = 0, postRelabeling: Int = 0
    ) -> ScrapeOutcome {
        var series: [TimeSeries] = []
        for gone in previousSeries.sorted() {
            series.append(TimeSeries(labels: gone, samples: [FloatSample(timestamp: timestamp, value: StaleMarker.value)]))
        }
        let stale = series.count
        previousSeries = []
        let report = ScrapeReport(up: false, duration: duration, samplesScraped: scraped, samplesPostMetricRelabeling: postRelabeling, seriesAdded: 0)
        series.append(contentsOf: reportSeries(report, timestamp: timestamp))
        return ScrapeOutcome(request: RemoteWriteRequest(series: series), report: report, error: error, staleMarkers: stale)
    }

    /// The target went away (or Loupe is stopping): stale markers for every series of the last scrape and for the
    /// report series.
    public mutating func stop(timestamp: Int64) -> RemoteWriteRequest {
        var series: [TimeSeries] = []
        for gone in previousSeries.sorted() {
            series.append(TimeSeries(labels: gone, samples: [FloatSample(timestamp: timestamp, value: StaleMarker.value)]))
        }
        if reported {
            for name in ScrapeReport.names {
                series.append(TimeSeries(labels: reportLabels(name), samples: [FloatSample(timestamp: timestamp, value: StaleMarker.value)]))
            }
        }
        previousSeries = []
        reported = false
        return RemoteWriteRequest(series: series)
    }

    /// The exposed labels merged with the target labels (honor_labels), then metric relabeling; nil when dropped.
    public func finalLabels(_ exposed: Labels) -> Labels? {
        var labels = exposed
        if options.honorLabels {
            for label in targetLabels where (labels[label.name] ?? "").isEmpty { labels.set(label.name, label.value) }
        } else {
            var conflicts: [Label] = []
            for label in targetLabels {
                if let existing = labels[label.name], !existing.isEmpty { conflicts.append(Label(label.name, existing)) }
                labels.set(label.name, label.value)
            }
            // Shorter names first, as Prometheus resolves them.
            for conflict in conflicts.sorted(by: { $0.name.count < $1.name.count }) {
                var name = conflict.name
                while true {
                    name = "exported_" + name
                    if (labels[name] ?? "").isEmpty {
                        labels.set(name, conflict.value)
                        break
                    }
                }
            }
        }
        if options.metricRelabelConfigs.isEmpty { return labels }
        return Relabeler.process(labels, options.metricRelabelConfigs)
    }

    private func reportLabels(_ name: String) -> Labels {
        var labels = targetLabels
        labels.set(Labels.metricNameLabel, name)
        return labels
    }

    private mutating func reportSeries(_ report: ScrapeReport, timestamp: Int64) -> [TimeSeries] {
        reported = true
        return report.values.map { name, value in
            TimeSeries(labels: reportLabels(name), samples: [FloatSample(timestamp: timestamp, value: value)])
        }
    }
}
