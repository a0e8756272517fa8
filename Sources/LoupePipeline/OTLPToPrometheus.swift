import LoupeModel

/// Converts OTLP metrics into Prometheus series the way Prometheus 3's OTLP receiver does
/// (the OpenTelemetry "Prometheus and OpenMetrics Compatibility" rules, with the default
/// `UnderscoreEscapingWithSuffixes` translation strategy).
///
/// Pure and synchronous: no I/O, no clock. Points that Prometheus would refuse are not
/// converted; they are counted by reason in ``Conversion/skippedPoints``.
public struct OTLPToPrometheus: Sendable {
    public struct Options: Sendable, Hashable {
        /// Add unit suffixes (`_seconds`, `_bytes`, `_meters_per_second`), `_total` for monotonic
        /// cumulative sums and `_ratio` for unit-`1` gauges. Off: only escape invalid characters.
        public var addMetricSuffixes: Bool
        /// Turn exponential histograms into native histogram samples; off, they are skipped.
        public var exponentialHistogramsAsNative: Bool
        /// Resource attribute keys copied onto every series of the resource (a point attribute
        /// with the same label name wins).
        public var promoteResourceAttributes: [String]
        /// Keep `service.name`, `service.namespace` and `service.instance.id` as labels of
        /// `target_info` as well as turning them into `job` and `instance`.
        public var keepIdentifyingResourceAttributes: Bool
        /// Add `otel_scope_name`, `otel_scope_version` and `otel_scope_<attribute>` labels.
        public var promoteScopeMetadata: Bool

        public init(
            addMetricSuffixes: Bool = true, exponentialHistogramsAsNative: Bool = true,
            promoteResourceAttributes: [String] = [], keepIdentifyingResourceAttributes: Bool = false,
            promoteScopeMetadata: Bool = true
        ) {
            self.addMetricSuffixes = addMetricSuffixes
            self.exponentialHistogramsAsNative = exponentialHistogramsAsNative
            self.promoteResourceAttributes = promoteResourceAttributes
            self.keepIdentifyingResourceAttributes = keepIdentifyingResourceAttributes
            self.promoteScopeMetadata = promoteScopeMetadata
        }
    }

    /// The result of one conversion.
    public struct Conversion: Sendable, Hashable {
        /// Series in the order they were first seen; points with identical labels share a series.
        public var series: [TimeSeries]
        /// Family metadata keyed by the family name (e.g. `http_server_duration_milliseconds`).
        public var metadata: [String: MetricMetadata]
        /// Data points not converted, by reason (the ``SkipReason`` strings).
        public var skippedPoints: [String: Int]

        public init(series: [TimeSeries] = [], metadata: [String: MetricMetadata] = [:], skippedPoints: [String: Int] = [:]) {
            self.series = series
            self.metadata = metadata
            self.skippedPoints = skippedPoints
        }

        /// All skipped points, whatever the reason.
        public var skippedPointCount: Int { skippedPoints.values.reduce(0, +) }
    }

    /// Why a data point was not converted (keys of ``Conversion/skippedPoints``).
    public enum SkipReason {
        public static let deltaTemporality = "delta aggregation temporality"
        public static let unspecifiedTemporality = "unspecified aggregation temporality"
        public static let exponentialHistogramsDisabled = "exponential histogram (native histograms disabled)"
        public static let scaleBelowMinimum = "exponential histogram scale below -4"
        public static let missingValue = "number data point without a value"
        public static let invalidMetricName = "metric name normalises to nothing"
    }

    /// The kind of a metric as far as naming goes.
    public enum NameKind: Sendable, Hashable {
        case gauge, monotonicCounter, nonMonotonicCounter, histogram, exponentialHistogram, summary
    }

    public static let targetInfoName = "target_info"
    /// Prometheus's zero threshold for converted exponential histograms that carry none.
    public static let defaultZeroThreshold = 1e-128
    /// Prometheus drops exemplar attributes when the labels would exceed this many characters.
    public static let maximumExemplarLabelCharacters = 128

    public let options: Options

    public init(options: Options = Options()) { self.options = options }

    // MARK: - Conversion

    public func convert(_ data: MetricsData) -> Conversion {
        var output = Output()
        for resourceMetrics in data.resourceMetrics {
            convert(resourceMetrics, into: &output)
        }
        return output.finish()
    }

    private func convert(_ resourceMetrics: ResourceMetrics, into output: inout Output) {
        let resourceAttributes = resourceMetrics.resource.attributes
        let identity = ResourceIdentity(resourceAttributes)
        let promoted = promotedLabels(resourceAttributes)
        var latestTimestamp: Int64?

        for scopeMetrics in resourceMetrics.scopeMetrics {
            let scopeLabels = options.promoteScopeMetadata ? Self.scopeLabels(scopeMetrics.scope) : [:]
            for metric in scopeMetrics.metrics {
                let context = PointContext(identity: identity, promoted: promoted, scopeLabels: scopeLabels)
                if let latest = convert(metric, context: context, into: &output) {
                    latestTimestamp = max(latestTimestamp ?? latest, latest)
                }
            }
        }

        if let latestTimestamp { addTargetInfo(resourceAttributes, identity: identity, timestamp: latestTimestamp, into: &output) }
    }

    /// Converts one metric; returns the latest timestamp (ms) among its converted points.
    private func convert(_ metric: Metric, context: PointContext, into output: inout Output) -> Int64? {
        let pointCount = metric.data.dataPointCount
        guard pointCount > 0 else { return nil }

        let nameKind: NameKind
        let type: MetricMetadata.MetricType
        switch metric.data {
        case .none: return nil
        case .gauge: (nameKind, type) = (.gauge, .gauge)
        case .sum(let sum):
            guard checkTemporality(sum.aggregationTemporality, points: pointCount, into: &output) else { return nil }
            (nameKind, type) = sum.isMonotonic ? (.monotonicCounter, .counter) : (.nonMonotonicCounter, .gauge)
        case .histogram(let histogram):
            guard checkTemporality(histogram.aggregationTemporality, points: pointCount, into: &output) else { return nil }
            (nameKind, type) = (.histogram, .histogram)
        case .exponentialHistogram(let histogram):
            guard checkTemporality(histogram.aggregationTemporality, points: pointCount, into: &output) else { return nil }
            guard options.exponentialHistogramsAsNative else {
                output.skip(SkipReason.exponentialHistogramsDisabled, count: pointCount)
                return nil
            }
            (nameKind, type) = (.exponentialHistogram, .histogram)
        case .summary: (nameKind, type) = (.summary, .summary)
        }

        let name = Self.metricName(metric.name, unit: metric.unit, kind: nameKind, addSuffixes: options.addMetricSuffixes)
        guard !name.isEmpty else {
            output.skip(SkipReason.invalidMetricName, count: pointCount)
            return nil
        }

        var latest: Int64?
        func saw(_ timestamp: Int64) { latest = max(latest ?? timestamp, timestamp) }

        switch metric.data {
        case .none:
            return nil
        case .gauge(let gauge):
            for point in gauge.dataPoints where addNumberPoint(point, name: name, context: context, into: &output) { saw(Self.milliseconds(point.timeUnixNano)) }
        case .sum(let sum):
            for point in sum.dataPoints where addNumberPoint(point, name: name, context: context, into: &output) { saw(Self.milliseconds(point.timeUnixNano)) }
        case .histogram(let histogram):
            for point in histogram.dataPoints {
                addHistogramPoint(point, name: name, context: context, into: &output)
                saw(Self.milliseconds(point.timeUnixNano))
            }
        case .exponentialHistogram(let histogram):
            for point in histogram.dataPoints {
                guard point.scale >= -4 else {
                    output.skip(SkipReason.scaleBelowMinimum, count: 1)
                    continue
                }
                let labels = pointLabels(point.attributes, name: name, context: context)
                let timestamp = Self.milliseconds(point.timeUnixNano)
                output.add(labels, histogram: HistogramSample(timestamp: timestamp, histogram: Self.nativeHistogram(point)))
                output.add(labels, exemplars: Self.exemplars(point.exemplars))
                saw(timestamp)
            }
        case .summary(let summary):
            for point in summary.dataPoints {
                addSummaryPoint(point, name: name, context: context, into: &output)
                saw(Self.milliseconds(point.timeUnixNano))
            }
        }

        if latest != nil, output.metadata[name] == nil {
            output.metadata[name] = MetricMetadata(type: type, help: metric.description, unit: metric.unit)
        }
        return latest
    }

    private func checkTemporality(_ temporality: AggregationTemporality, points: Int, into output: inout Output) -> Bool {
        switch temporality {
        case .cumulative: return true
        case .delta: output.skip(SkipReason.deltaTemporality, count: points)
        default: output.skip(SkipReason.unspecifiedTemporality, count: points)
        }
        return false
    }

    /// Returns whether the point became a sample.
    private func addNumberPoint(_ point: NumberDataPoint, name: String, context: PointContext, into output: inout Output) -> Bool {
        let value: Double
        if point.flags.contains(.noRecordedValue) {
            value = StaleMarker.value
        } else if let number = point.value {
            value = number.doubleValue
        } else {
            output.skip(SkipReason.missingValue, count: 1)
            return false
        }
        let labels = pointLabels(point.attributes, name: name, context: context)
        output.add(labels, sample: FloatSample(timestamp: Self.milliseconds(point.timeUnixNano), value: value))
        output.add(labels, exemplars: Self.exemplars(point.exemplars))
        return true
    }

    private func addHistogramPoint(_ point: HistogramDataPoint, name: String, context: PointContext, into output: inout Output) {
        let timestamp = Self.milliseconds(point.timeUnixNano)
        let stale = point.flags.contains(.noRecordedValue)
        func value(_ value: Double) -> Double { stale ? StaleMarker.value : value }
        let base = baseLabels(point.attributes, context: context)

        if let sum = point.sum {
            output.add(Self.labels(base, name: name + "_sum"), sample: FloatSample(timestamp: timestamp, value: value(sum)))
        }
        output.add(Self.labels(base, name: name + "_count"), sample: FloatSample(timestamp: timestamp, value: value(Double(point.count))))

        var buckets: [(bound: Double, labels: Labels)] = []
        var cumulative: UInt64 = 0
        for (bound, count) in zip(point.explicitBounds, point.bucketCounts) {
            cumulative &+= count
            let labels = Self.labels(base, name: name + "_bucket", extra: ("le", Self.formatFixed(bound)))
            output.add(labels, sample: FloatSample(timestamp: timestamp, value: value(Double(cumulative))))
            buckets.append((bound, labels))
        }
        let infinity = Self.labels(base, name: name + "_bucket", extra: ("le", "+Inf"))
        output.add(infinity, sample: FloatSample(timestamp: timestamp, value: value(Double(point.count))))
        buckets.append((.infinity, infinity))

        // Each exemplar goes to the first bucket (by bound) whose upper bound holds its value.
        buckets.sort { $0.bound < $1.bound }
        for exemplar in Self.exemplars(point.exemplars) {
            let target = buckets.first { exemplar.value <= $0.bound } ?? buckets[buckets.count - 1]
            output.add(target.labels, exemplars: [exemplar])
        }
    }

    private func addSummaryPoint(_ point: SummaryDataPoint, name: String, context: PointContext, into output: inout Output) {
        let timestamp = Self.milliseconds(point.timeUnixNano)
        let stale = point.flags.contains(.noRecordedValue)
        func value(_ value: Double) -> Double { stale ? StaleMarker.value : value }
        let base = baseLabels(point.attributes, context: context)

        output.add(Self.labels(base, name: name + "_sum"), sample: FloatSample(timestamp: timestamp, value: value(point.sum)))
        output.add(Self.labels(base, name: name + "_count"), sample: FloatSample(timestamp: timestamp, value: value(Double(point.count))))
        for quantile in point.quantileValues {
            let labels = Self.labels(base, name: name, extra: ("quantile", Self.formatFixed(quantile.quantile)))
            output.add(labels, sample: FloatSample(timestamp: timestamp, value: value(quantile.value)))
        }
    }

    private func addTargetInfo(_ attributes: [KeyValue], identity: ResourceIdentity, timestamp: Int64, into output: inout Output) {
        let nonIdentifying = attributes.filter { !ResourceIdentity.keys.contains($0.key) }
        // Only job and instance: target_info would tell nothing.
        guard !nonIdentifying.isEmpty else { return }
        guard identity.job != nil || identity.instance != nil else { return }

        var dictionary = Self.attributeLabels(options.keepIdentifyingResourceAttributes ? attributes : nonIdentifying)
        identity.apply(to: &dictionary)
        let labels = Self.labels(dictionary, name: Self.targetInfoName)
        output.add(labels, sample: FloatSample(timestamp: timestamp, value: 1))
        if output.metadata[Self.targetInfoName] == nil {
            output.metadata[Self.targetInfoName] = MetricMetadata(type: .gauge, help: "Target metadata")
        }
    }

    // MARK: - Labels

    /// What a resource contributes to every series: `job` and `instance`.
    struct ResourceIdentity {
        static let keys: Set<String> = ["service.name", "service.namespace", "service.instance.id"]

        var job: String?
        var instance: String?

        init(_ attributes: [KeyValue]) {
            if let name = attributes[attribute: "service.name"] {
                let service = OTLPToPrometheus.attributeValueString(name)
                if let namespace = attributes[attribute: "service.namespace"] {
                    job = OTLPToPrometheus.attributeValueString(namespace) + "/" + service
                } else {
                    job = service
                }
            }
            if let instance = attributes[attribute: "service.instance.id"] {
                self.instance = OTLPToPrometheus.attributeValueString(instance)
            }
        }

        func apply(to labels: inout [String: String]) {
            if let job { labels["job"] = job }
            if let instance { labels["instance"] = instance }
        }
    }

    struct PointContext {
        var identity: ResourceIdentity
        var promoted: [String: String]
        var scopeLabels: [String: String]
    }

    private func promotedLabels(_ attributes: [KeyValue]) -> [String: String] {
        guard !options.promoteResourceAttributes.isEmpty else { return [:] }
        let wanted = Set(options.promoteResourceAttributes)
        return Self.attributeLabels(attributes.filter { wanted.contains($0.key) })
    }

    static func scopeLabels(_ scope: InstrumentationScope) -> [String: String] {
        var labels: [String: String] = [:]
        for attribute in scope.attributes {
            guard let name = labelName("otel_scope_" + attribute.key) else { continue }
            labels[name] = attributeValueString(attribute.value)
        }
        labels["otel_scope_name"] = scope.name
        labels["otel_scope_version"] = scope.version
        return labels
    }

    /// Point attributes, then promoted resource attributes where free, then scope labels and
    /// `job`/`instance` over anything of the same name.
    private func baseLabels(_ attributes: [KeyValue], context: PointContext) -> [String: String] {
        var labels = Self.attributeLabels(attributes)
        for (name, value) in context.promoted where labels[name] == nil { labels[name] = value }
        for (name, value) in context.scopeLabels { labels[name] = value }
        context.identity.apply(to: &labels)
        return labels
    }

    private func pointLabels(_ attributes: [KeyValue], name: String, context: PointContext) -> Labels {
        Self.labels(baseLabels(attributes, context: context), name: name)
    }

    static func labels(_ base: [String: String], name: String, extra: (String, String)? = nil) -> Labels {
        var all = base
        all[Labels.metricNameLabel] = name
        if let extra { all[extra.0] = extra.1 }
        return Labels(all.map { Label($0.key, $0.value) })
    }

    /// Attributes as labels: names sanitised; attributes whose names collide after sanitising
    /// are joined with `;` in the order of their original keys.
    public static func attributeLabels(_ attributes: [KeyValue]) -> [String: String] {
        let sorted = attributes.enumerated().sorted { ($0.element.key, $0.offset) < ($1.element.key, $1.offset) }
        var labels: [String: String] = [:]
        for (_, attribute) in sorted {
            guard let name = labelName(attribute.key) else { continue }
            let value = attributeValueString(attribute.value)
            if let existing = labels[name] { labels[name] = existing + ";" + value } else { labels[name] = value }
        }
        return labels
    }

    /// A Prometheus label name for an attribute key: characters outside `[a-zA-Z0-9_]` become `_`,
    /// runs of `_` collapse to one (so no name starts with the reserved `__`), and a leading digit
    /// gets a `key_` prefix. Nil for keys with nothing left but underscores.
    public static func labelName(_ key: String) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(key.utf8.count)
        for scalar in key.unicodeScalars {
            let byte: UInt8 = scalar.isASCII && isLabelCharacter(UInt8(scalar.value)) ? UInt8(scalar.value) : UInt8(ascii: "_")
            if byte == UInt8(ascii: "_"), out.last == UInt8(ascii: "_") { continue }
            out.append(byte)
        }
        guard out.contains(where: { $0 != UInt8(ascii: "_") }) else { return nil }
        var name = String(decoding: out, as: UTF8.self)
        if let first = out.first, isDigit(first) { name = "key_" + name }
        return name
    }

    // MARK: - Metric names

    private static let unitNames: [String: String] = [
        "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds", "us": "microseconds",
        "ns": "nanoseconds",
        "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes", "TiBy": "tibibytes",
        "KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes",
        "m": "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams",
        "Cel": "celsius", "Hz": "hertz", "1": "", "%": "percent",
    ]

    private static let perUnitNames: [String: String] = [
        "s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year",
    ]

    /// The Prometheus family name of an OTLP metric. Empty when nothing valid is left.
    public static func metricName(_ name: String, unit: String, kind: NameKind, addSuffixes: Bool) -> String {
        guard addSuffixes else {
            // Runs of invalid characters become one `_`; underscores already there stay.
            let tokens = split(name) { isMetricCharacter($0) || $0 == UInt8(ascii: "_") }
            return digitPrefixed(tokens.joined(separator: "_"))
        }

        // Tokens of valid characters: underscores and invalid characters separate tokens, so
        // their runs collapse into one `_`.
        var tokens = split(name, keeping: isMetricCharacter)
        var (main, per) = unitSuffixes(unit)
        main = cleanUnit(main)
        per = cleanUnit(per)
        if tokens.contains(main) { main = "" }
        if per == "per_" {
            per = ""
        } else {
            per = trimmingTrailingUnderscore(per)
            if tokens.contains(per) { per = "" }
        }
        if !per.isEmpty { main = trimmingTrailingUnderscore(main) }
        if !main.isEmpty { tokens.append(main) }
        if !per.isEmpty { tokens.append(per) }

        if kind == .monotonicCounter {
            tokens.removeAll { $0 == "total" }
            tokens.append("total")
        }
        if unit == "1", kind == .gauge {
            tokens.removeAll { $0 == "ratio" }
            tokens.append("ratio")
        }
        return digitPrefixed(tokens.joined(separator: "_"))
    }

    /// `m/s` → (`meters`, `per_second`); annotations in braces give no suffix.
    private static func unitSuffixes(_ unit: String) -> (main: String, per: String) {
        let parts = unit.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        var main = ""
        var per = ""
        if let first = parts.first {
            let text = trimmingSpaces(first)
            if !text.isEmpty, !text.contains("{"), !text.contains("}") { main = unitNames[text] ?? text }
        }
        if parts.count > 1 {
            let text = trimmingSpaces(parts[1])
            if !text.isEmpty, !text.contains("{"), !text.contains("}") {
                let name = perUnitNames[text] ?? text
                if !name.isEmpty { per = "per_" + name }
            }
        }
        return (main, per)
    }

    /// Invalid characters become `_`, runs of `_` collapse, and a leading `_` goes.
    private static func cleanUnit(_ unit: String) -> String {
        var out: [UInt8] = []
        for scalar in unit.unicodeScalars {
            let byte: UInt8 = scalar.isASCII && isMetricCharacter(UInt8(scalar.value)) ? UInt8(scalar.value) : UInt8(ascii: "_")
            if byte == UInt8(ascii: "_"), out.last == UInt8(ascii: "_") { continue }
            out.append(byte)
        }
        if out.first == UInt8(ascii: "_") { out.removeFirst() }
        return String(decoding: out, as: UTF8.self)
    }

    private static func split(_ text: String, keeping isKept: (UInt8) -> Bool) -> [String] {
        var tokens: [String] = []
        var current = ""
        for scalar in text.unicodeScalars {
            if scalar.isASCII, isKept(UInt8(scalar.value)) {
                current.unicodeScalars.append(scalar)
            } else if !current.isEmpty {
                tokens.append(current)
                current = ""
            }
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }

    private static func digitPrefixed(_ name: String) -> String {
        if let first = name.utf8.first, isDigit(first) { return "_" + name }
        return name
    }

    private static func trimmingTrailingUnderscore(_ text: String) -> String {
        text.hasSuffix("_") ? String(text.dropLast()) : text
    }

    private static func trimmingSpaces(_ text: Substring) -> String {
        String(text.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    /// `[a-zA-Z0-9:]`: what metric name tokens are made of (`_` separates tokens).
    private static func isMetricCharacter(_ byte: UInt8) -> Bool { isLetter(byte) || isDigit(byte) || byte == UInt8(ascii: ":") }

    private static func isLabelCharacter(_ byte: UInt8) -> Bool { isLetter(byte) || isDigit(byte) || byte == UInt8(ascii: "_") }

    // MARK: - Values

    static func milliseconds(_ unixNano: UInt64) -> Int64 { Int64(unixNano / 1_000_000) }

    static func exemplars(_ exemplars: [Exemplar]) -> [PrometheusExemplar] {
        exemplars.compactMap { exemplar in
            guard let value = exemplar.value else { return nil }
            var labels: [Label] = []
            var characters = 0
            if !exemplar.traceID.isEmpty {
                labels.append(Label("trace_id", exemplar.traceID.hex))
                characters += "trace_id".count + 32
            }
            if !exemplar.spanID.isEmpty {
                labels.append(Label("span_id", exemplar.spanID.hex))
                characters += "span_id".count + 16
            }
            var attributeLabels: [Label] = []
            for (name, text) in attributeLabelsInOrder(exemplar.filteredAttributes) {
                characters += name.count + text.count
                attributeLabels.append(Label(name, text))
            }
            // As Prometheus: the filtered attributes only when they keep the labels short enough.
            if characters <= maximumExemplarLabelCharacters { labels.append(contentsOf: attributeLabels) }
            let timestamp: Int64? = exemplar.timeUnixNano == 0 ? nil : milliseconds(exemplar.timeUnixNano)
            return PrometheusExemplar(labels: Labels(labels), value: value.doubleValue, timestamp: timestamp)
        }
    }

    private static func attributeLabelsInOrder(_ attributes: [KeyValue]) -> [(String, String)] {
        attributes.compactMap { attribute in
            labelName(attribute.key).map { ($0, attributeValueString(attribute.value)) }
        }
    }

    /// An exponential histogram point as a native histogram: schema = scale (scales above 8 are
    /// brought down to 8 by merging buckets), OTLP bucket index i becomes Prometheus index i + 1.
    public static func nativeHistogram(_ point: ExponentialHistogramDataPoint) -> NativeHistogram {
        let threshold = point.zeroThreshold > 0 ? point.zeroThreshold : defaultZeroThreshold
        if point.flags.contains(.noRecordedValue) {
            return NativeHistogram(schema: min(point.scale, 8), zeroThreshold: threshold, sum: StaleMarker.value, isIntegerCounts: true)
        }
        let scaleDown = max(point.scale - 8, 0)
        let positive = nativeBuckets(point.positive, scaleDown: scaleDown)
        let negative = nativeBuckets(point.negative, scaleDown: scaleDown)
        return NativeHistogram(
            counterResetHint: .unknown, schema: point.scale - scaleDown, zeroThreshold: threshold,
            zeroCount: Double(point.zeroCount), count: Double(point.count), sum: point.sum ?? 0,
            positiveSpans: positive.spans, positiveBuckets: positive.counts,
            negativeSpans: negative.spans, negativeBuckets: negative.counts, isIntegerCounts: true
        )
    }

    /// Dense OTLP buckets → sparse spans with absolute counts. Empty buckets at either end are
    /// dropped; gaps of up to two empty buckets stay inside a span, longer gaps start a new one.
    public static func nativeBuckets(
        _ buckets: ExponentialHistogramDataPoint.Buckets, scaleDown: Int32
    ) -> (spans: [NativeHistogram.BucketSpan], counts: [Double]) {
        var merged: [(index: Int64, count: UInt64)] = []
        for (position, count) in buckets.bucketCounts.enumerated() {
            let index = ((Int64(buckets.offset) + Int64(position)) >> Int64(scaleDown)) + 1
            if let last = merged.last, last.index == index {
                merged[merged.count - 1].count &+= count
            } else {
                merged.append((index, count))
            }
        }
        var spans: [NativeHistogram.BucketSpan] = []
        var counts: [Double] = []
        var nextIndex: Int64?
        for bucket in merged where bucket.count > 0 {
            if let expected = nextIndex {
                let gap = bucket.index - expected
                if gap > 2 {
                    spans.append(NativeHistogram.BucketSpan(offset: Int32(clamping: gap), length: 0))
                } else {
                    for _ in 0..<gap { counts.append(0) }
                    spans[spans.count - 1].length += UInt32(gap)
                }
            } else {
                spans.append(NativeHistogram.BucketSpan(offset: Int32(clamping: bucket.index), length: 0))
            }
            counts.append(Double(bucket.count))
            spans[spans.count - 1].length += 1
            nextIndex = bucket.index + 1
        }
        return (spans, counts)
    }

    /// An attribute value as a label value, as the OpenTelemetry collector's `AsString` gives it:
    /// numbers and booleans in decimal, bytes in base64, arrays and maps as JSON.
    public static func attributeValueString(_ value: AnyValue) -> String {
        switch value {
        case .empty: ""
        case .string(let text): text
        case .bool(let flag): flag ? "true" : "false"
        case .int(let number): String(number)
        case .double(let number): formatJSONNumber(number)
        case .bytes(let bytes): base64(bytes)
        case .array, .keyValueList: json(value)
        }
    }

    private static func json(_ value: AnyValue) -> String {
        switch value {
        case .empty: "null"
        case .string(let text): jsonString(text)
        case .bool(let flag): flag ? "true" : "false"
        case .int(let number): String(number)
        case .double(let number): number.isFinite ? formatJSONNumber(number) : jsonString(formatJSONNumber(number))
        case .bytes(let bytes): jsonString(base64(bytes))
        case .array(let values): "[" + values.map(json).joined(separator: ",") + "]"
        case .keyValueList(let pairs):
            "{" + pairs.sorted { $0.key < $1.key }.map { jsonString($0.key) + ":" + json($0.value) }.joined(separator: ",") + "}"
        }
    }

    private static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static let base64Alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func base64(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            let first = chunk[chunk.startIndex]
            let second = chunk.count > 1 ? chunk[chunk.startIndex + 1] : 0
            let third = chunk.count > 2 ? chunk[chunk.startIndex + 2] : 0
            out.append(base64Alphabet[Int(first >> 2)])
            out.append(base64Alphabet[Int((first & 0x03) << 4 | second >> 4)])
            out.append(chunk.count > 1 ? base64Alphabet[Int((second & 0x0f) << 2 | third >> 6)] : UInt8(ascii: "="))
            out.append(chunk.count > 2 ? base64Alphabet[Int(third & 0x3f)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: - Number formatting

    /// The shortest round-tripping decimal digits of a finite value: value = 0.digits × 10^exponent.
    private static func decimal(_ value: Double) -> (negative: Bool, digits: [UInt8], exponent: Int) {
        var text = Substring(String(describing: value))
        let negative = text.hasPrefix("-")
        if negative { text = text.dropFirst() }
        var exponentPart = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponentPart = Int(text[text.index(after: e)...]) ?? 0
            text = text[..<e]
        }
        var digits: [UInt8] = []
        var pointPosition: Int?
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") { pointPosition = digits.count } else { digits.append(byte) }
        }
        var exponent = (pointPosition ?? digits.count) + exponentPart
        while let first = digits.first, first == UInt8(ascii: "0") {
            digits.removeFirst()
            exponent -= 1
        }
        while let last = digits.last, last == UInt8(ascii: "0") { digits.removeLast() }
        if digits.isEmpty { exponent = 0 }
        return (negative, digits, exponent)
    }

    private static func nonFinite(_ value: Double) -> String {
        value.isNaN ? "NaN" : (value < 0 ? "-Inf" : "+Inf")
    }

    /// Plain decimal notation with the fewest digits that round-trip (Go's `FormatFloat(v, 'f', -1, 64)`),
    /// used for `le` and `quantile` label values: `0.005`, `1`, `250`.
    public static func formatFixed(_ value: Double) -> String {
        guard value.isFinite else { return nonFinite(value) }
        let (negative, digits, exponent) = decimal(value)
        var out = negative ? "-" : ""
        if digits.isEmpty { return out + "0" }
        let text = String(decoding: digits, as: UTF8.self)
        if exponent <= 0 {
            out += "0." + String(repeating: "0", count: -exponent) + text
        } else if exponent >= digits.count {
            out += text + String(repeating: "0", count: exponent - digits.count)
        } else {
            out += text.prefix(exponent) + "." + text.dropFirst(exponent)
        }
        return out
    }

    /// Numbers as JSON (ECMAScript) writes them: plain between 1e-6 and 1e21, else `1e+21`, `1.5e-7`.
    static func formatJSONNumber(_ value: Double) -> String {
        guard value.isFinite else { return nonFinite(value) }
        let magnitude = abs(value)
        if magnitude == 0 || (magnitude >= 1e-6 && magnitude < 1e21) { return formatFixed(value) }
        let (negative, digits, exponent) = decimal(value)
        let text = String(decoding: digits, as: UTF8.self)
        var out = negative ? "-" : ""
        out += text.prefix(1)
        if digits.count > 1 { out += "." + text.dropFirst() }
        let power = exponent - 1
        return out + "e" + (power < 0 ? "-" : "+") + String(abs(power))
    }

    // MARK: - Output

    private struct Output {
        var series: [TimeSeries] = []
        var index: [Labels: Int] = [:]
        var metadata: [String: MetricMetadata] = [:]
        var skipped: [String: Int] = [:]

        private mutating func position(_ labels: Labels) -> Int {
            if let existing = index[labels] { return existing }
            index[labels] = series.count
            series.append(TimeSeries(labels: labels))
            return series.count - 1
        }

        mutating func add(_ labels: Labels, sample: FloatSample) {
            series[position(labels)].samples.append(sample)
        }

        mutating func add(_ labels: Labels, histogram: HistogramSample) {
            series[position(labels)].histograms.append(histogram)
        }

        mutating func add(_ labels: Labels, exemplars: [PrometheusExemplar]) {
            guard !exemplars.isEmpty else { return }
            series[position(labels)].exemplars.append(contentsOf: exemplars)
        }

        mutating func skip(_ reason: String, count: Int) {
            skipped[reason, default: 0] += count
        }

        func finish() -> Conversion {
            var ordered = series
            for position in ordered.indices {
                // Appenders want time order; the sort is stable, so equal timestamps keep arrival order.
                if !isSorted(ordered[position].samples.map(\.timestamp)) {
                    ordered[position].samples = stableSorted(ordered[position].samples) { $0.timestamp < $1.timestamp }
                }
                if !isSorted(ordered[position].histograms.map(\.timestamp)) {
                    ordered[position].histograms = stableSorted(ordered[position].histograms) { $0.timestamp < $1.timestamp }
                }
            }
            return Conversion(series: ordered, metadata: metadata, skippedPoints: skipped)
        }

        private func isSorted(_ values: [Int64]) -> Bool {
            zip(values, values.dropFirst()).allSatisfy { $0 <= $1 }
        }

        private func stableSorted<T>(_ values: [T], by less: (T, T) -> Bool) -> [T] {
            values.enumerated().sorted { less($0.element, $1.element) || (!less($1.element, $0.element) && $0.offset < $1.offset) }
                .map(\.element)
        }
    }
}
