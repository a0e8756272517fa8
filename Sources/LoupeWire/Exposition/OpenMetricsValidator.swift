import LoupeModel

/// The OpenMetrics 1.0 rules that Prometheus's parser does not check, for `ExpositionParser.Options.Validation.strict`.
///
/// The scanner reports metadata lines, family switches and samples (after parsing them); the validator keeps what
/// the rules need: the families seen so far (names must not repeat or clash with another family's suffixed sample
/// names), the current family's metadata and metric points, and each series' last timestamp.
final class OpenMetricsValidator {
    /// Families seen so far, by name, with their type.
    private var seen: [String: MetricMetadata.MetricType] = [:]
    private var previousFamily = ""
    private var previousType = MetricMetadata.MetricType.unknown

    // The current family.
    private var seenType = false
    private var seenHelp = false
    private var seenUnit = false
    private var hasSamples = false
    /// Metrics (label sets without `le`/`quantile`) whose points are complete: they may not come back.
    private var closedMetrics: Set<[Label]> = []
    private var lastTimestamps: [Labels: Double?] = [:]

    // The current metric point.
    private var pointKey: [Label]? = nil
    private var pointSeries: Set<Labels> = []
    private var pointOffset = 0
    private var bucketCount = 0
    private var lastBound = -Double.infinity
    private var lastBucketValue = 0.0
    private var infinityBucket: Double? = nil
    private var negativeBucket = false
    private var count: Double? = nil
    private var sum: Double? = nil

    static let maximumExemplarCharacters = 128

    // MARK: Families and metadata

    func newFamily(name: String, implicit: Bool, at position: Int, _ scanner: borrowing ExpositionScanner) throws(WireError) {
        if implicit && name == previousFamily && seen[previousFamily] != nil {
            let expected = Self.suffixes(previousType).map { "\"\(previousFamily)\($0)\"" }.joined(separator: ", ")
            throw scanner.error(
                .invalidValue,
                "sample \(scanner.quote(name)) does not belong to the \(previousType) family \(scanner.quote(previousFamily)) (expected \(expected)), and a new family may not reuse its name",
                at: position
            )
        }
        if seen[name] != nil {
            throw scanner.error(.invalidValue, "metric family \(scanner.quote(name)) appears more than once (families must not be interleaved or repeated)", at: position)
        }
        for (suffix, base) in Self.suffixSplits(name) {
            if let type = seen[base], Self.suffixes(type).contains(suffix) {
                throw scanner.error(.invalidValue, "metric family \(scanner.quote(name)) clashes with the samples of the \(type) family \(scanner.quote(base))", at: position)
            }
        }
        seen[name] = .unknown
        seenType = false
        seenHelp = false
        seenUnit = false
        hasSamples = false
        closedMetrics.removeAll()
        lastTimestamps.removeAll()
        pointKey = nil
    }

    func metadata(keyword: String, name: String, at position: Int, _ scanner: borrowing ExpositionScanner) throws(WireError) {
        if hasSamples {
            throw scanner.error(.invalidValue, "\(keyword) for \(scanner.quote(name)) comes after the family's samples", at: position)
        }
        switch keyword {
        case "TYPE":
            if seenType { throw scanner.error(.invalidValue, "a second TYPE line for \(scanner.quote(name))", at: position) }
            seenType = true
            let type = scanner.familyType
            seen[name] = type
            for suffix in Self.suffixes(type) where !suffix.isEmpty && seen[name + suffix] != nil {
                throw scanner.error(.invalidValue, "the \(type) family \(scanner.quote(name)) clashes with the family \(scanner.quote(name + suffix))", at: position)
            }
        case "HELP":
            if seenHelp { throw scanner.error(.invalidValue, "a second HELP line for \(scanner.quote(name))", at: position) }
            seenHelp = true
        default:
            if seenUnit { throw scanner.error(.invalidValue, "a second UNIT line for \(scanner.quote(name))", at: position) }
            seenUnit = true
        }
        let type = scanner.familyType
        if type == .info || type == .stateset, case let unit = scanner.familyMetadata.unit, !unit.isEmpty {
            throw scanner.error(.invalidValue, "\(type) families must not have a unit (\(scanner.quote(name)) has \(scanner.quote(unit)))", at: position)
        }
    }

    func closeFamily(_ scanner: borrowing ExpositionScanner) throws(WireError) {
        try closePoint(scanner)
        previousFamily = scanner.familyName
        previousType = scanner.familyType
        pointKey = nil
    }

    func finish(_ scanner: borrowing ExpositionScanner) throws(WireError) {}

    // MARK: Samples

    func sample(
        labels: Labels, value: Double, timestamp: Int64?, exemplar: PrometheusExemplar?, exemplarOffset: Int,
        trailingComma: Bool, lineStart: Int, _ scanner: borrowing ExpositionScanner
    ) throws(WireError) {
        hasSamples = true
        let name = scanner.nameString
        let family = scanner.familyName
        let type = scanner.familyType
        let suffix = String(name.utf8.dropFirst(family.utf8.count))!
        if trailingComma { throw scanner.error(.invalidValue, "trailing comma in the label set", at: lineStart) }

        func fail(_ message: String) -> WireError { scanner.error(.invalidValue, message, at: lineStart) }

        // Metric points: not interleaved; a series seen again starts the metric's next point.
        let special = type == .summary ? "quantile" : (type == .histogram || type == .gaugehistogram) ? "le" : ""
        let key = labels.storage.filter { $0.name != Labels.metricNameLabel && $0.name != special }
        if key != pointKey {
            try closePoint(scanner)
            if let previous = pointKey { closedMetrics.insert(previous) }
            if closedMetrics.contains(key) {
                throw fail("the samples of metric \(scanner.quote(family))\(Labels(presorted: key)) are interleaved with other metrics")
            }
            pointKey = key
        } else if pointSeries.contains(labels) {
            try closePoint(scanner)
            pointKey = key
        }
        pointSeries.insert(labels)
        pointOffset = lineStart

        // Timestamps: present on all points of a series or on none, and not decreasing.
        let seconds = scanner.timestampSeconds
        if let last = lastTimestamps[labels] {
            switch (last, seconds) {
            case (nil, nil): break
            case (let last?, let now?):
                if now < last {
                    throw fail("timestamps of \(labels) go back in time (\(ExpositionNumbers.goFormat(now)) after \(ExpositionNumbers.goFormat(last)))")
                }
            default:
                throw fail("some points of \(labels) have timestamps and some do not")
            }
        }
        lastTimestamps[labels] = .some(seconds)

        // Values, and the labels each kind of sample must (not) have.
        func requireCounterValue(_ what: String) throws(WireError) {
            if value.isNaN || value < 0 { throw fail("\(what) \(scanner.quote(name)) must not be negative or NaN, got \(ExpositionNumbers.goFormat(value))") }
        }
        func forbid(_ label: String) throws(WireError) {
            if labels[label] != nil { throw fail("\(scanner.quote(name)) must not have a \"\(label)\" label") }
        }
        switch type {
        case .counter:
            if suffix == "_total" { try requireCounterValue("counter total") }
        case .stateset:
            guard labels[family] != nil else { throw fail("stateset sample \(scanner.quote(name)) needs a label named after the family, \(scanner.quote(family))") }
            guard value == 0 || value == 1 else { throw fail("stateset values must be 0 or 1, got \(ExpositionNumbers.goFormat(value))") }
        case .info:
            guard value == 1 else { throw fail("info values must be 1, got \(ExpositionNumbers.goFormat(value))") }
        case .summary:
            if suffix.isEmpty {
                guard let raw = scanner.rawSpecialValue else { throw fail("summary quantile sample \(scanner.quote(name)) needs a \"quantile\" label") }
                guard case .value(let quantile) = Self.parse(raw), quantile >= 0, quantile <= 1 else {
                    throw fail("quantile \(scanner.quote(raw)) must be a number from 0 to 1")
                }
                if value < 0 { throw fail("quantile values must not be negative, got \(ExpositionNumbers.goFormat(value))") }
            } else {
                try forbid("quantile")
                try requireCounterValue("summary \(suffix.dropFirst())")
                if suffix == "_count" && value != value.rounded() { throw fail("summary counts must be integers, got \(ExpositionNumbers.goFormat(value))") }
            }
        case .histogram, .gaugehistogram:
            if suffix == "_bucket" {
                try bucket(raw: scanner.rawSpecialValue, value: value, fail)
            } else {
                try forbid("le")
                if suffix == "_count" || suffix == "_gcount" {
                    try requireCounterValue("histogram \(suffix.dropFirst())")
                    if value != value.rounded() { throw fail("histogram counts must be integers, got \(ExpositionNumbers.goFormat(value))") }
                    count = value
                } else if suffix == "_sum" {
                    try requireCounterValue("histogram sum")
                    sum = value
                } else if suffix == "_gsum" {
                    if value.isNaN { throw fail("gauge histogram sums must not be NaN") }
                    sum = value
                }
            }
        case .gauge, .unknown:
            break
        }

        // Exemplars: only on counter totals and buckets, with at most 128 characters of labels.
        if let exemplar {
            let allowed = (type == .counter && suffix == "_total") || ((type == .histogram || type == .gaugehistogram) && suffix == "_bucket")
            guard allowed else {
                throw scanner.error(.invalidValue, "exemplars are only allowed on counter totals and histogram buckets, not on \(scanner.quote(name)) (\(type))", at: exemplarOffset)
            }
            var characters = 0
            for label in exemplar.labels { characters += label.name.unicodeScalars.count + label.value.unicodeScalars.count }
            if characters > Self.maximumExemplarCharacters {
                throw scanner.error(.invalidValue, "the exemplar's labels have \(characters) characters, more than \(Self.maximumExemplarCharacters)", at: exemplarOffset)
            }
        }
    }

    private func bucket(raw: String?, value: Double, _ fail: (String) -> WireError) throws(WireError) {
        guard let raw else { throw fail("histogram buckets need an \"le\" label") }
        let bound: Double
        if raw == "+Inf" {
            bound = .infinity
        } else {
            guard case .value(let parsed) = Self.parse(raw), parsed.isFinite else {
                throw fail("invalid bucket bound le=\"\(raw)\" (the infinite bucket is spelled \"+Inf\")")
            }
            bound = parsed
        }
        if value.isNaN || value < 0 { throw fail("bucket values must not be negative or NaN, got \(ExpositionNumbers.goFormat(value))") }
        if value != value.rounded() { throw fail("bucket values must be integers, got \(ExpositionNumbers.goFormat(value))") }
        if bucketCount > 0 {
            guard bound > lastBound else {
                throw fail("bucket le=\"\(raw)\" is not above the previous bucket's bound (buckets must be sorted by le, without repeats)")
            }
            guard value >= lastBucketValue else {
                throw fail("bucket le=\"\(raw)\" has \(ExpositionNumbers.goFormat(value)), less than the previous bucket's \(ExpositionNumbers.goFormat(lastBucketValue)) (buckets are cumulative)")
            }
        }
        bucketCount += 1
        lastBound = bound
        lastBucketValue = value
        if bound < 0 { negativeBucket = true }
        if bound == .infinity { infinityBucket = value }
    }

    private func closePoint(_ scanner: borrowing ExpositionScanner) throws(WireError) {
        defer {
            pointSeries.removeAll(keepingCapacity: true)
            bucketCount = 0
            lastBound = -.infinity
            lastBucketValue = 0
            infinityBucket = nil
            negativeBucket = false
            count = nil
            sum = nil
        }
        guard let key = pointKey, !pointSeries.isEmpty else { return }
        let type = scanner.familyType
        guard type == .histogram || type == .gaugehistogram else { return }
        let family = scanner.familyName
        let metric = scanner.quote(family) + Labels(presorted: key).description
        func fail(_ message: String) -> WireError { scanner.error(.invalidValue, message, at: pointOffset) }
        guard let infinity = infinityBucket else { throw fail("histogram \(metric) has no le=\"+Inf\" bucket") }
        let (countName, sumName) = type == .histogram ? ("_count", "_sum") : ("_gcount", "_gsum")
        if (count == nil) != (sum == nil) {
            throw fail("histogram \(metric) has \(count == nil ? sumName : countName) without \(count == nil ? countName : sumName)")
        }
        if let count, count != infinity {
            throw fail("histogram \(metric): \(countName) is \(ExpositionNumbers.goFormat(count)) but the +Inf bucket is \(ExpositionNumbers.goFormat(infinity))")
        }
        if let sum {
            if type == .histogram && negativeBucket {
                throw fail("histogram \(metric) has buckets with negative bounds, so it must not have a \(sumName)")
            }
            if type == .gaugehistogram && sum < 0 && !negativeBucket {
                throw fail("gauge histogram \(metric) has a negative \(sumName) but no negative buckets")
            }
        }
    }

    // MARK: Helpers

    private func lineStart(_ position: Int, _ scanner: borrowing ExpositionScanner) -> Int {
        var start = min(position, scanner.end)
        while start > 0 && scanner.base[start - 1] != UInt8(ascii: "\n") { start -= 1 }
        return start
    }

    static func parse(_ text: String) -> ExpositionNumbers.FloatResult {
        var copy = text
        return copy.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return .invalid }
            return ExpositionNumbers.parseFloat(base, count: bytes.count)
        }
    }

    /// The sample name suffixes of a family type in OpenMetrics ("" for none).
    static func suffixes(_ type: MetricMetadata.MetricType) -> [String] {
        switch type {
        case .counter: ["_total", "_created"]
        case .histogram: ["_bucket", "_count", "_sum", "_created"]
        case .gaugehistogram: ["_bucket", "_gcount", "_gsum"]
        case .summary: ["", "_count", "_sum", "_created"]
        case .info: ["_info"]
        case .gauge, .stateset, .unknown: [""]
        }
    }

    static let allSuffixes = ["_total", "_created", "_bucket", "_count", "_sum", "_gcount", "_gsum", "_info"]

    /// `(suffix, base)` for each known suffix that `name` ends with.
    static func suffixSplits(_ name: String) -> [(String, String)] {
        allSuffixes.compactMap { suffix in
            guard name.utf8.count > suffix.utf8.count, name.hasSuffix(suffix) else { return nil }
            return (suffix, String(name.utf8.dropLast(suffix.utf8.count))!)
        }
    }
}
