import LoupeModel
import LoupeWire

/// Turns what one target's scrapes produced (samples, stale markers and report series, with the
/// exposition's metric metadata) into OTLP metrics, as the OpenTelemetry Collector's Prometheus
/// receiver does, so a MetricPipeline ships scraped metrics like any other:
///
/// - one resource per target: `service.name` from `job`, `service.instance.id` from `instance`,
///   `server.address` and `server.port` from the instance, then what the caller gives (the pod's
///   `k8s.*` attributes and `service.name`), which wins; every other label is a data point attribute.
/// - families by their `# TYPE`: counters become monotonic cumulative sums, gauges and untyped
///   samples gauges, `_bucket`/`_sum`/`_count` of a histogram one histogram point per label set,
///   quantiles with `_sum`/`_count` of a summary one summary point. Info and state-set samples are
///   gauges; a gauge histogram's samples are gauges under their own names.
/// - a stale marker becomes a point flagged `noRecordedValue`.
/// - start times of cumulative points: the OpenMetrics `_created` sample, else the target's
///   `process_start_time_seconds`, else unknown (0) until the series resets (its value falls), when
///   it starts again just after the scrape before.
/// - metric names stay as exposed (`requests_total`), so they read back the same through PromQL.
/// - the report series (`up`, `scrape_duration_seconds`, ...) only with `diagnosticMetrics`.
public struct ScrapedMetricsConverter: Sendable {
    public static let scopeName = "loupe/prometheus"

    /// Attributes added to the resource (the pod's, for a pod target).
    public var resourceAttributes: [KeyValue]
    public var diagnosticMetrics: Bool

    private struct SeriesKey: Hashable {
        var name: String
        var labels: Labels
    }

    private struct SeriesState {
        var start: UInt64
        var value: Double
        var time: Int64
    }

    private var series: [SeriesKey: SeriesState] = [:]
    private var processStart: UInt64?

    public init(resourceAttributes: [KeyValue] = [], diagnosticMetrics: Bool = false) {
        self.resourceAttributes = resourceAttributes
        self.diagnosticMetrics = diagnosticMetrics
    }

    /// Series whose start time is remembered.
    public var seriesCount: Int { series.count }

    private enum Part {
        case value, bucket(Double), sum, count, created, quantile(Double)
    }

    /// One OTLP metric being put together, in the order its first sample came.
    private struct Family {
        var name: String
        var metadata: MetricMetadata
        var kind: MetricMetadata.MetricType
        /// Per label set (without `__name__`, `le`, `quantile`, `job`, `instance`): the pieces.
        var points: [Labels: Point] = [:]
        var order: [Labels] = []
    }

    private struct Point {
        var time: Int64 = 0
        var value: Double?
        var sum: Double?
        var count: Double?
        var created: Double?
        var buckets: [(bound: Double, count: Double)] = []
        var quantiles: [(quantile: Double, value: Double)] = []
        var stale = false
        var exemplars: [PrometheusExemplar] = []
    }

    /// The OTLP metrics of one scrape (or of a target's stop: only stale markers).
    public mutating func convert(_ request: RemoteWriteRequest) -> MetricsData {
        var families: [String: Family] = [:]
        var familyOrder: [String] = []
        var resourceLabels: (job: String?, instance: String?) = (nil, nil)
        for entry in request.series {
            guard let sampleName = entry.labels.metricName, let sample = entry.samples.last else { continue }
            if resourceLabels.job == nil { resourceLabels = (entry.labels["job"], entry.labels["instance"]) }
            if sampleName == "process_start_time_seconds", !StaleMarker.isStale(sample.value), sample.value > 0 {
                let start = UInt64(sample.value * 1e9)
                if let previous = processStart, previous != start { series.removeAll() }
                processStart = start
            }
            if !diagnosticMetrics, ScrapeReportNames.all.contains(sampleName) { continue }
            let (familyName, metadata, part) = Self.family(of: sampleName, labels: entry.labels, metadata: request.metadata)
            let kind: MetricMetadata.MetricType
            switch (metadata.type, part) {
            case (.counter, _), (.histogram, _), (.summary, _): kind = metadata.type
            default: kind = .gauge
            }
            // Gauge-like samples keep their own names: a gauge histogram's `_gsum` is not its family.
            let metricName = kind == .gauge ? sampleName : familyName
            var attributes = entry.labels.removing(Self.notAttributes)
            if case .bucket = part { attributes = attributes.removing(["le"]) }
            if case .quantile = part { attributes = attributes.removing(["quantile"]) }
            if families[metricName] == nil {
                families[metricName] = Family(name: kind == .counter ? Self.counterName(familyName) : metricName, metadata: metadata, kind: kind)
                familyOrder.append(metricName)
            }
            var point = families[metricName]!.points[attributes] ?? {
                families[metricName]!.order.append(attributes)
                return Point()
            }()
            point.time = max(point.time, sample.timestamp)
            let stale = StaleMarker.isStale(sample.value)
            if stale { point.stale = true }
            switch part {
            case .value: point.value = sample.value
            case .bucket(let bound): point.buckets.append((bound, sample.value))
            case .sum: point.sum = sample.value
            case .count: point.count = sample.value
            case .created: point.created = sample.value
            case .quantile(let quantile): point.quantiles.append((quantile, sample.value))
            }
            point.exemplars += entry.exemplars
            families[metricName]!.points[attributes] = point
        }
        guard !familyOrder.isEmpty else { return MetricsData() }
        var metrics: [Metric] = []
        for name in familyOrder {
            let family = families[name]!
            if let metric = build(family) { metrics.append(metric) }
        }
        var attributes: [KeyValue] = []
        if let job = resourceLabels.job { attributes.append(KeyValue("service.name", .string(job))) }
        if let instance = resourceLabels.instance {
            attributes.append(KeyValue("service.instance.id", .string(instance)))
            let (host, port) = Self.split(instance)
            attributes.append(KeyValue("server.address", .string(host)))
            if let port, let number = Int64(port) { attributes.append(KeyValue("server.port", .int(number))) }
        }
        for attribute in resourceAttributes {
            if let index = attributes.firstIndex(where: { $0.key == attribute.key }) { attributes[index] = attribute } else { attributes.append(attribute) }
        }
        return MetricsData(resourceMetrics: [ResourceMetrics(
            resource: Resource(attributes: attributes),
            scopeMetrics: [ScopeMetrics(scope: InstrumentationScope(name: Self.scopeName), metrics: metrics)])])
    }

    private static let notAttributes: Set<String> = [Labels.metricNameLabel, "job", "instance"]

    /// The family a sample belongs to, its metadata and which piece of the family it is.
    private static func family(
        of name: String, labels: Labels, metadata: [String: MetricMetadata]
    ) -> (String, MetricMetadata, Part) {
        func quantile() -> Part { labels["quantile"].flatMap { Double(exposed: $0) }.map { Part.quantile($0) } ?? .value }
        if let own = metadata[name] {
            // A text-format counter's family is named with its `_total`; a summary's quantiles carry its name.
            if own.type == .summary { return (name, own, quantile()) }
            if own.type == .histogram || own.type == .gaugehistogram { return (name, MetricMetadata(type: .gauge, help: own.help, unit: own.unit), .value) }
            return (name, own, .value)
        }
        let suffixes: [(String, Part)] = [("_bucket", .value), ("_sum", .sum), ("_count", .count), ("_total", .value), ("_created", .created)]
        for (suffix, part) in suffixes where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            guard let family = metadata[base] else { continue }
            switch (family.type, suffix) {
            case (.histogram, "_bucket"):
                guard let bound = labels["le"].flatMap({ Double(exposed: $0) }) else { return (name, MetricMetadata(type: .gauge), .value) }
                return (base, family, .bucket(bound))
            case (.histogram, "_sum"), (.histogram, "_count"), (.histogram, "_created"),
                (.summary, "_sum"), (.summary, "_count"), (.summary, "_created"),
                (.counter, "_total"), (.counter, "_created"):
                return (base, family, part)
            default:
                return (name, MetricMetadata(type: .gauge, help: family.help, unit: family.unit), .value)
            }
        }
        return (name, MetricMetadata(type: .unknown), .value)
    }

    /// A counter's OTLP name: the name its samples are exposed under (`requests_total`).
    private static func counterName(_ family: String) -> String {
        family.hasSuffix("_total") ? family : family + "_total"
    }

    private mutating func build(_ family: Family) -> Metric? {
        var metric = Metric(name: family.name, description: family.metadata.help, unit: family.metadata.unit)
        func attributes(_ labels: Labels) -> [KeyValue] { labels.map { KeyValue($0.name, .string($0.value)) } }
        func nanos(_ milliseconds: Int64) -> UInt64 { UInt64(max(0, milliseconds)) * 1_000_000 }
        switch family.kind {
        case .counter:
            var points: [NumberDataPoint] = []
            for labels in family.order {
                let piece = family.points[labels]!
                guard let value = piece.value else { continue }
                let start = startTime(name: family.name, labels: labels, value: value, created: piece.created, time: piece.time, stale: piece.stale)
                points.append(NumberDataPoint(
                    attributes: attributes(labels), startTimeUnixNano: start, timeUnixNano: nanos(piece.time),
                    value: .double(piece.stale ? 0 : value), exemplars: Self.exemplars(piece.exemplars),
                    flags: piece.stale ? .noRecordedValue : []))
            }
            guard !points.isEmpty else { return nil }
            metric.data = .sum(Sum(dataPoints: points, aggregationTemporality: .cumulative, isMonotonic: true))
        case .histogram:
            var points: [HistogramDataPoint] = []
            for labels in family.order {
                let piece = family.points[labels]!
                let buckets = piece.buckets.sorted { $0.bound < $1.bound }
                let total = piece.count ?? buckets.last(where: { $0.bound == .infinity })?.count ?? buckets.last?.count
                guard let total else { continue }
                var bounds: [Double] = []
                var counts: [UInt64] = []
                var below = 0.0
                for bucket in buckets where bucket.bound != .infinity {
                    bounds.append(bucket.bound)
                    counts.append(Self.count(bucket.count - below))
                    below = max(below, bucket.count)
                }
                if !buckets.isEmpty { counts.append(Self.count(total - below)) }
                let start = startTime(name: family.name, labels: labels, value: total, created: piece.created, time: piece.time, stale: piece.stale)
                points.append(HistogramDataPoint(
                    attributes: attributes(labels), startTimeUnixNano: start, timeUnixNano: nanos(piece.time),
                    count: piece.stale ? 0 : Self.count(total), sum: piece.stale ? nil : piece.sum,
                    bucketCounts: piece.stale ? [] : counts, explicitBounds: piece.stale ? [] : bounds,
                    exemplars: Self.exemplars(piece.exemplars), flags: piece.stale ? .noRecordedValue : []))
            }
            guard !points.isEmpty else { return nil }
            metric.data = .histogram(Histogram(dataPoints: points, aggregationTemporality: .cumulative))
        case .summary:
            var points: [SummaryDataPoint] = []
            for labels in family.order {
                let piece = family.points[labels]!
                guard piece.count != nil || piece.sum != nil || !piece.quantiles.isEmpty else { continue }
                let count = piece.count ?? 0
                let start = startTime(name: family.name, labels: labels, value: count, created: piece.created, time: piece.time, stale: piece.stale)
                points.append(SummaryDataPoint(
                    attributes: attributes(labels), startTimeUnixNano: start, timeUnixNano: nanos(piece.time),
                    count: piece.stale ? 0 : Self.count(count), sum: piece.stale ? 0 : piece.sum ?? 0,
                    quantileValues: piece.stale ? [] : piece.quantiles.sorted { $0.quantile < $1.quantile }.map {
                        SummaryDataPoint.ValueAtQuantile(quantile: $0.quantile, value: $0.value)
                    },
                    flags: piece.stale ? .noRecordedValue : []))
            }
            guard !points.isEmpty else { return nil }
            metric.data = .summary(Summary(dataPoints: points))
        default:
            var points: [NumberDataPoint] = []
            for labels in family.order {
                let piece = family.points[labels]!
                guard let value = piece.value else { continue }
                points.append(NumberDataPoint(
                    attributes: attributes(labels), timeUnixNano: nanos(piece.time), value: .double(piece.stale ? 0 : value),
                    exemplars: Self.exemplars(piece.exemplars), flags: piece.stale ? .noRecordedValue : []))
            }
            guard !points.isEmpty else { return nil }
            metric.data = .gauge(Gauge(dataPoints: points))
        }
        return metric
    }

    /// The start time of a cumulative point, remembering the series' start across scrapes.
    private mutating func startTime(name: String, labels: Labels, value: Double, created: Double?, time: Int64, stale: Bool) -> UInt64 {
        let key = SeriesKey(name: name, labels: labels)
        if stale {
            let start = series[key]?.start ?? 0
            series[key] = nil
            return start
        }
        if let created, created > 0 {
            let start = UInt64(created * 1e9)
            series[key] = SeriesState(start: start, value: value, time: time)
            return start
        }
        guard let previous = series[key] else {
            let start = processStart.flatMap { $0 <= UInt64(max(0, time)) * 1_000_000 ? $0 : nil } ?? 0
            series[key] = SeriesState(start: start, value: value, time: time)
            return start
        }
        // Fallen: the series was reset after the previous scrape.
        let start = value < previous.value ? UInt64(max(0, previous.time)) * 1_000_000 + 1_000_000 : previous.start
        series[key] = SeriesState(start: start, value: value, time: time)
        return start
    }

    private static func count(_ value: Double) -> UInt64 {
        guard value.isFinite, value > 0 else { return 0 }
        return value >= 1.8e19 ? .max : UInt64(value.rounded())
    }

    private static func exemplars(_ exemplars: [PrometheusExemplar]) -> [Exemplar] {
        exemplars.map { exemplar in
            var result = Exemplar(timeUnixNano: exemplar.timestamp.map { UInt64(max(0, $0)) * 1_000_000 } ?? 0, value: .double(exemplar.value))
            for label in exemplar.labels {
                switch label.name {
                case "trace_id", "traceID", "traceId": result.traceID = TraceID(hex: label.value) ?? result.traceID
                case "span_id", "spanID", "spanId": result.spanID = SpanID(hex: label.value) ?? result.spanID
                default: result.filteredAttributes.append(KeyValue(label.name, .string(label.value)))
                }
            }
            return result
        }
    }

    /// `host:port` → host (without IPv6 brackets) and port.
    static func split(_ address: String) -> (String, String?) {
        if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
            let host = String(address[address.index(after: address.startIndex)..<close])
            let rest = address[address.index(after: close)...]
            return (host, rest.hasPrefix(":") ? String(rest.dropFirst()) : nil)
        }
        if let colon = address.lastIndex(of: ":"), address.firstIndex(of: ":") == colon {
            return (String(address[..<colon]), String(address[address.index(after: colon)...]))
        }
        return (address, nil)
    }
}

/// The series every scrape adds about itself.
enum ScrapeReportNames {
    static let all: Set<String> = ["up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_series_added"]
}

extension Double {
    /// A label value as the exposition writes numbers (`+Inf`, `-Inf`, `NaN`, Go floats).
    init?(exposed text: String) {
        switch text {
        case "+Inf", "Inf", "+inf", "inf": self = .infinity
        case "-Inf", "-inf": self = -.infinity
        case "NaN", "nan": self = .nan
        default:
            guard let value = Double(text) else { return nil }
            self = value
        }
    }
}
