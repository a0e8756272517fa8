import LoupeModel

/// Writes samples and metadata as Prometheus text 0.0.4 or OpenMetrics 1.0 text.
///
/// Samples are grouped into families: a sample belongs to the family whose metadata is keyed by its name, or by
/// its name without a suffix its type allows (`foo_bucket` to the histogram `foo`, `foo_total` to the counter
/// `foo`); otherwise it is a family of its own, without metadata. Families come out in the order of their first
/// sample, each with its samples in the order given, so a parsed `ScrapeResult` round-trips. Families that have
/// metadata but no samples come last, metadata only.
///
/// Values use Go's shortest `%g` rendering (`1`, `0.25`, `1.5e+06`, `NaN`, `+Inf`), as Prometheus and the Go client
/// do; names that are not `[a-zA-Z_:][a-zA-Z0-9_:]*` (labels: `[a-zA-Z_][a-zA-Z0-9_]*`) are written in the
/// quoted syntax (`{"my.metric","label.name"="v"}`). In the Prometheus text format, OpenMetrics-only shapes are
/// rendered as the Python client does: a counter family `foo` is announced as `foo_total`, an info family `foo`
/// as the gauge `foo_info`, statesets as gauges, gauge histograms as histograms, and `_created`, `_gsum` and
/// `_gcount` samples as separate gauge families after their family.
public enum ExpositionWriter {
    /// Prometheus text format 0.0.4.
    public static func prometheusText(samples: [ScrapedSample], metadata: [String: MetricMetadata]) -> [UInt8] {
        var out = ExpositionOutput()
        for family in group(samples: samples, metadata: metadata) { out.textFamily(family, samples: samples) }
        return out.bytes
    }

    /// Prometheus text format 0.0.4 of a parsed exposition.
    public static func prometheusText(_ result: ScrapeResult) -> [UInt8] {
        prometheusText(samples: result.samples, metadata: result.metadata)
    }

    /// OpenMetrics 1.0 text, ending with `# EOF`. Timestamps are written in seconds with millisecond precision,
    /// exemplars after ` # `.
    public static func openMetrics(samples: [ScrapedSample], metadata: [String: MetricMetadata]) -> [UInt8] {
        var out = ExpositionOutput()
        for family in group(samples: samples, metadata: metadata) { out.openMetricsFamily(family, samples: samples) }
        out.raw("# EOF\n")
        return out.bytes
    }

    /// OpenMetrics 1.0 text of a parsed exposition.
    public static func openMetrics(_ result: ScrapeResult) -> [UInt8] {
        openMetrics(samples: result.samples, metadata: result.metadata)
    }

    struct Family {
        var name: String
        var metadata: MetricMetadata?
        var indices: [Int] = []
    }

    static func group(samples: [ScrapedSample], metadata: [String: MetricMetadata]) -> [Family] {
        var families: [Family] = []
        var byName: [String: Int] = [:]
        for (index, sample) in samples.enumerated() {
            let name = sample.name
            let familyName = familyName(of: name, metadata: metadata)
            if let position = byName[familyName] {
                families[position].indices.append(index)
            } else {
                byName[familyName] = families.count
                families.append(Family(name: familyName, metadata: metadata[familyName], indices: [index]))
            }
        }
        for name in metadata.keys.sorted() where byName[name] == nil {
            families.append(Family(name: name, metadata: metadata[name]))
        }
        return families
    }

    static let knownSuffixes = ["_total", "_created", "_bucket", "_count", "_sum", "_gcount", "_gsum", "_info"]

    static func familyName(of name: String, metadata: [String: MetricMetadata]) -> String {
        if metadata[name] != nil { return name }
        for suffix in knownSuffixes where name.hasSuffix(suffix) {
            let base = String(name.utf8.dropLast(suffix.utf8.count))!
            if let type = metadata[base]?.type, OpenMetricsValidator.suffixes(type).contains(suffix) || (type == .summary && suffix == "_created") {
                return base
            }
        }
        return name
    }
}

/// The output buffer and the rendering rules shared by both formats.
struct ExpositionOutput {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(4096) }

    mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }

    mutating func textFamily(_ family: ExpositionWriter.Family, samples: [ScrapedSample]) {
        let type = family.metadata?.type ?? .unknown
        var announced = family.name
        var textType: String
        switch type {
        case .counter:
            textType = "counter"
            if !announced.hasSuffix("_total") && family.indices.contains(where: { samples[$0].name == family.name + "_total" }) {
                announced += "_total"
            }
        case .info:
            textType = "gauge"
            if !announced.hasSuffix("_info") && family.indices.contains(where: { samples[$0].name == family.name + "_info" }) {
                announced += "_info"
            }
        case .gauge, .stateset: textType = "gauge"
        case .histogram, .gaugehistogram: textType = "histogram"
        case .summary: textType = "summary"
        case .unknown: textType = "untyped"
        }
        // OpenMetrics-only samples go to gauge families of their own, after the family.
        let separable = type == .counter || type == .histogram || type == .summary || type == .gaugehistogram
        var separated: [(suffix: String, indices: [Int])] = []
        var main: [Int] = []
        for index in family.indices {
            let name = samples[index].name
            var moved = false
            if separable && name != family.name {
                for suffix in ["_created", "_gcount", "_gsum"] where name == family.name + suffix {
                    if let position = separated.firstIndex(where: { $0.suffix == suffix }) {
                        separated[position].indices.append(index)
                    } else {
                        separated.append((suffix, [index]))
                    }
                    moved = true
                }
            }
            if !moved { main.append(index) }
        }
        if let metadata = family.metadata {
            textMetadata(name: announced, help: metadata.help, type: textType)
        }
        for index in main { sample(samples[index], openMetrics: false) }
        for (suffix, indices) in separated.sorted(by: { $0.suffix < $1.suffix }) {
            if let metadata = family.metadata { textMetadata(name: family.name + suffix, help: metadata.help, type: "gauge") }
            for index in indices { sample(samples[index], openMetrics: false) }
        }
    }

    mutating func textMetadata(name: String, help: String, type: String) {
        if !help.isEmpty {
            raw("# HELP ")
            metricName(name)
            bytes.append(UInt8(ascii: " "))
            escaped(help, quotes: false)
            bytes.append(UInt8(ascii: "\n"))
        }
        raw("# TYPE ")
        metricName(name)
        raw(" \(type)\n")
    }

    mutating func openMetricsFamily(_ family: ExpositionWriter.Family, samples: [ScrapedSample]) {
        if let metadata = family.metadata {
            var name = family.name
            // A counter family from the text format is named after its samples; OpenMetrics names it without `_total`.
            if metadata.type == .counter && name.hasSuffix("_total") && family.indices.allSatisfy({ samples[$0].name == name }) {
                name = String(name.utf8.dropLast(6))!
            }
            raw("# TYPE ")
            metricName(name)
            raw(" \(metadata.type.rawValue)\n")
            if !metadata.unit.isEmpty {
                raw("# UNIT ")
                metricName(name)
                raw(" \(metadata.unit)\n")
            }
            if !metadata.help.isEmpty {
                raw("# HELP ")
                metricName(name)
                bytes.append(UInt8(ascii: " "))
                escaped(metadata.help, quotes: true)
                bytes.append(UInt8(ascii: "\n"))
            }
        }
        for index in family.indices { sample(samples[index], openMetrics: true) }
    }

    mutating func sample(_ sample: ScrapedSample, openMetrics: Bool) {
        let name = sample.name
        let quotedName = !ExpositionOutput.isLegacyMetricName(name)
        var first = true
        if quotedName {
            bytes.append(UInt8(ascii: "{"))
            quoted(name)
            first = false
        } else {
            raw(name)
        }
        var open = quotedName
        for label in sample.labels where label.name != Labels.metricNameLabel {
            if !open {
                bytes.append(UInt8(ascii: "{"))
                open = true
            }
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            labelPair(label)
        }
        if open { bytes.append(UInt8(ascii: "}")) }
        bytes.append(UInt8(ascii: " "))
        ExpositionNumbers.appendGoFormat(sample.value, to: &bytes)
        if let timestamp = sample.timestamp {
            bytes.append(UInt8(ascii: " "))
            if openMetrics { seconds(timestamp) } else { raw(String(timestamp)) }
        }
        if openMetrics, let exemplar = sample.exemplar {
            raw(" # {")
            var firstLabel = true
            for label in exemplar.labels {
                if !firstLabel { bytes.append(UInt8(ascii: ",")) }
                firstLabel = false
                labelPair(label)
            }
            raw("} ")
            ExpositionNumbers.appendGoFormat(exemplar.value, to: &bytes)
            if let timestamp = exemplar.timestamp {
                bytes.append(UInt8(ascii: " "))
                seconds(timestamp)
            }
        }
        bytes.append(UInt8(ascii: "\n"))
    }

    mutating func labelPair(_ label: Label) {
        if ExpositionOutput.isLegacyLabelName(label.name) { raw(label.name) } else { quoted(label.name) }
        bytes.append(UInt8(ascii: "="))
        quoted(label.value)
    }

    mutating func metricName(_ name: String) {
        if ExpositionOutput.isLegacyMetricName(name) { raw(name) } else { quoted(name) }
    }

    mutating func quoted(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        escaped(text, quotes: true)
        bytes.append(UInt8(ascii: "\""))
    }

    /// `\` → `\\`, line feed → `\n`, and with `quotes`, `"` → `\"`.
    mutating func escaped(_ text: String, quotes: Bool) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "\n"): bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\"") where quotes: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "\""))
            default: bytes.append(byte)
            }
        }
    }

    /// Milliseconds as OpenMetrics seconds, such that Prometheus's `int64(seconds * 1000)` gives them back: the
    /// exact decimal when that works, else a nearby rendering that does.
    mutating func seconds(_ milliseconds: Int64) {
        let negative = milliseconds < 0
        let magnitude = milliseconds.magnitude
        let whole = (negative ? "-" : "") + String(magnitude / 1000)
        let fraction = String(magnitude % 1000)
        let padded = String(repeating: "0", count: 3 - fraction.count) + fraction
        var exact = whole + "." + padded
        while exact.hasSuffix("0") { exact.removeLast() }
        if exact.hasSuffix(".") { exact.removeLast() }
        let approximate = Double(milliseconds) / 1000
        let candidates = [
            exact, whole + "." + padded + "5", ExpositionNumbers.goFormat(approximate),
            ExpositionNumbers.goFormat(approximate.nextUp), ExpositionNumbers.goFormat(approximate.nextDown),
        ]
        for candidate in candidates {
            if let parsed = Double(candidate), parsed.isFinite, ExpositionNumbers.milliseconds(fromSeconds: parsed) == milliseconds {
                raw(candidate)
                return
            }
        }
        raw(exact)
    }

    static func isLegacyMetricName(_ name: String) -> Bool {
        guard let first = name.utf8.first, ExpositionSyntax.isMetricNameStart(first) else { return false }
        return name.utf8.allSatisfy(ExpositionSyntax.isMetricNameCharacter)
    }

    static func isLegacyLabelName(_ name: String) -> Bool {
        guard let first = name.utf8.first, ExpositionSyntax.isLabelNameStart(first) else { return false }
        return name.utf8.allSatisfy(ExpositionSyntax.isLabelNameCharacter)
    }
}
