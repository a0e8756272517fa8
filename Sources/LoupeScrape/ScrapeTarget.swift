import LoupeModel

/// A target to scrape: its labels after relabeling and everything needed to reach it.
public struct ScrapeTarget: Sendable, Hashable {
    /// The labels as discovered (with `job`, `__address__`, `__scheme__`, `__metrics_path__`,
    /// `__scrape_interval__`, `__scrape_timeout__`, `__param_*` filled in), before relabeling.
    public var discoveredLabels: Labels
    /// The labels every scraped sample gets: relabeled, without `__`-prefixed labels, `instance` defaulted.
    public var labels: Labels
    public var scheme: String
    /// `host:port`.
    public var address: String
    public var metricsPath: String
    /// URL query parameters, in order.
    public var params: [(name: String, value: String)]
    /// Milliseconds.
    public var interval: Int64
    /// Milliseconds.
    public var timeout: Int64

    /// `scheme://address/path?query`.
    public var url: String {
        var url = "\(scheme)://\(address)\(metricsPath)"
        if !params.isEmpty {
            url += (metricsPath.contains("?") ? "&" : "?")
                + params.map { "\(Self.queryEscape($0.name))=\(Self.queryEscape($0.value))" }.joined(separator: "&")
        }
        return url
    }

    /// A stable hash of the target's identity (labels and URL), FNV-1a 64; it spreads start offsets.
    public var hash: UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func add(_ text: String) {
            for byte in text.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01b3
            }
            hash ^= 0xff
            hash = hash &* 0x0000_0100_0000_01b3
        }
        for label in labels {
            add(label.name)
            add(label.value)
        }
        add(url)
        return hash
    }

    public static func == (lhs: ScrapeTarget, rhs: ScrapeTarget) -> Bool {
        lhs.discoveredLabels == rhs.discoveredLabels && lhs.labels == rhs.labels && lhs.url == rhs.url
            && lhs.interval == rhs.interval && lhs.timeout == rhs.timeout
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(labels)
        hasher.combine(url)
    }

    /// Go's `url.QueryEscape`.
    static func queryEscape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "):
                out += "+"
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out += "%"
                out.unicodeScalars.append(hex[Int(byte >> 4)])
                out.unicodeScalars.append(hex[Int(byte & 0xF)])
            }
        }
        return out
    }
}

/// What target relabeling made of one discovered target.
public enum DiscoveredTarget: Sendable, Equatable {
    /// To be scraped.
    case active(ScrapeTarget)
    /// Dropped by relabeling; the labels are the discovered ones.
    case dropped(Labels)
    /// Not usable (no address after relabeling, an invalid interval, ...): skipped, like Prometheus does, with why.
    case invalid(Labels, ScrapeError)
}

extension ScrapeConfig {
    /// Turns target groups into targets, as Prometheus's `PopulateLabels`: group labels under target labels,
    /// scrape-config defaults for `job`, `__scheme__`, `__metrics_path__`, `__scrape_interval__`,
    /// `__scrape_timeout__` and `__param_<name>` where not already set, then `relabel_configs`; then
    /// `__address__` must be set (and hold no `/`), `__scrape_interval__`/`__scrape_timeout__` must be valid
    /// durations (timeout at most the interval), `__param_*` become query parameters, every `__`-prefixed
    /// label is removed and `instance` defaults to `__address__`.
    public func targets(from groups: [TargetGroup]) -> [DiscoveredTarget] {
        var result: [DiscoveredTarget] = []
        for group in groups {
            for address in group.targets {
                var labels = Labels(group.labels.map { Label($0.key, $0.value) })
                labels.set("__address__", address)
                result.append(target(discovered: labels))
            }
        }
        return result
    }

    /// Relabels one target (see `targets(from:)`).
    public func target(discovered: Labels) -> DiscoveredTarget {
        var labels = discovered
        for (name, value) in [
            ("job", jobName), ("__scrape_interval__", PrometheusDuration.format(milliseconds: scrapeInterval)),
            ("__scrape_timeout__", PrometheusDuration.format(milliseconds: scrapeTimeout)), ("__metrics_path__", metricsPath),
            ("__scheme__", scheme),
        ] where (labels[name] ?? "").isEmpty {
            labels.set(name, value)
        }
        for name in params.keys.sorted() {
            if let first = params[name]?.first, (labels["__param_" + name] ?? "").isEmpty { labels.set("__param_" + name, first) }
        }
        let discovered = labels
        guard var relabeled = Relabeler.process(labels, relabelConfigs) else { return .dropped(discovered) }
        guard let address = relabeled["__address__"], !address.isEmpty else {
            return .invalid(discovered, ScrapeError(.invalidTarget, "no address"))
        }
        if address.contains("/") {
            return .invalid(discovered, ScrapeError(.invalidTarget, "\"\(address)\" is not a valid hostname"))
        }
        let intervalText = relabeled["__scrape_interval__"] ?? ""
        guard let interval = PrometheusDuration.parseMilliseconds(intervalText), interval > 0 else {
            return .invalid(discovered, ScrapeError(.invalidTarget, "error parsing scrape interval: \"\(intervalText)\" is not a valid duration greater than 0"))
        }
        let timeoutText = relabeled["__scrape_timeout__"] ?? ""
        guard let timeout = PrometheusDuration.parseMilliseconds(timeoutText), timeout > 0 else {
            return .invalid(discovered, ScrapeError(.invalidTarget, "error parsing scrape timeout: \"\(timeoutText)\" is not a valid duration greater than 0"))
        }
        if timeout > interval {
            return .invalid(discovered, ScrapeError(.invalidTarget, "scrape timeout cannot be greater than scrape interval (\"\(timeoutText)\" > \"\(intervalText)\")"))
        }
        let targetScheme = relabeled["__scheme__"] ?? scheme
        guard targetScheme == "http" || targetScheme == "https" else {
            return .invalid(discovered, ScrapeError(.invalidTarget, "unknown scheme \"\(targetScheme)\""))
        }
        var query: [(name: String, value: String)] = []
        var fromLabels: [String: String] = [:]
        for label in relabeled where label.name.hasPrefix("__param_") { fromLabels[String(label.name.dropFirst("__param_".count))] = label.value }
        for name in params.keys.sorted() {
            for (index, value) in (params[name] ?? []).enumerated() {
                query.append((name, index == 0 ? (fromLabels[name] ?? value) : value))
            }
        }
        for name in fromLabels.keys.sorted() where params[name] == nil { query.append((name, fromLabels[name]!)) }
        let path = relabeled["__metrics_path__"] ?? metricsPath
        for label in relabeled where label.name.hasPrefix("__") { relabeled.set(label.name, "") }
        if (relabeled["instance"] ?? "").isEmpty { relabeled.set("instance", address) }
        return .active(ScrapeTarget(
            discoveredLabels: discovered, labels: relabeled, scheme: targetScheme, address: address, metricsPath: path,
            params: query, interval: interval, timeout: timeout))
    }
}

/// When a target's scrapes happen: at a fixed offset within every interval, derived from the target's hash
/// (as Prometheus spreads targets), so restarts keep the same phase and targets don't all fire at once.
public enum ScrapeSchedule {
    /// Milliseconds from `now` (ms since the epoch) until the first scrape.
    public static func initialDelay(hash: UInt64, interval: Int64, now: Int64) -> Int64 {
        guard interval > 0 else { return 0 }
        let offset = Int64(hash % UInt64(interval))
        let phase = ((now % interval) + interval) % interval
        var delay = offset - phase
        if delay < 0 { delay += interval }
        return delay
    }
}
