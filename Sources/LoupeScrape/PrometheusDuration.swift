/// Durations as Prometheus writes them in configuration (`15s`, `1m30s`, `500ms`, `1d`), in milliseconds.
public enum PrometheusDuration {
    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("ms", 1), ("y", 365 * 86_400_000), ("w", 7 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000),
        ("s", 1_000),
    ]

    /// Parses `[0-9]+(y|w|d|h|m|s|ms)` repeated, largest unit first (as Prometheus's `model.ParseDuration`);
    /// a bare `0` is zero. Returns nil for anything else.
    public static func parseMilliseconds(_ text: String) -> Int64? {
        if text == "0" { return 0 }
        guard !text.isEmpty else { return nil }
        var rest = Substring(text)
        var total: Int64 = 0
        var lastUnitRank = -1
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let value = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let rank = units.firstIndex(where: { rest.hasPrefix($0.suffix) }) else { return nil }
            // Units must be given largest first, each at most once (`ms` ranks last).
            let order = rank == 0 ? units.count : rank
            guard order > lastUnitRank else { return nil }
            lastUnitRank = order
            rest = rest.dropFirst(units[rank].suffix.count)
            let (product, overflow) = value.multipliedReportingOverflow(by: units[rank].milliseconds)
            guard !overflow, total <= Int64.max - product else { return nil }
            total += product
        }
        return total
    }

    /// Formats as Prometheus does (`model.Duration.String`): `0s`, `15s`, `1m30s`, `1d`, `500ms`.
    public static func format(milliseconds: Int64) -> String {
        guard milliseconds > 0 else { return "0s" }
        var rest = milliseconds
        var text = ""
        for (suffix, size) in [("y", Int64(365 * 86_400_000)), ("w", 7 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
            let count = rest / size
            if count > 0 {
                text += "\(count)\(suffix)"
                rest -= count * size
            }
        }
        return text
    }
}
