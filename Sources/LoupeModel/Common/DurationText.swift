/// Durations written the Prometheus way: `15d`, `1h30m`, `500ms`, `0`.
public enum DurationText {
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public let text: String
        public let reason: String
        public var description: String { "invalid duration \"\(text)\": \(reason)" }
    }

    private static let units: [(suffix: String, nanos: UInt64)] = [
        ("ms", 1_000_000), ("us", 1_000), ("µs", 1_000), ("ns", 1), ("y", 365 * 86_400 * 1_000_000_000),
        ("w", 7 * 86_400 * 1_000_000_000), ("d", 86_400 * 1_000_000_000), ("h", 3_600 * 1_000_000_000),
        ("m", 60 * 1_000_000_000), ("s", 1_000_000_000),
    ]

    /// Parses into nanoseconds. A bare `0` is allowed; other numbers need a unit.
    public static func parseNanoseconds(_ text: String) throws(ParseError) -> UInt64 {
        let trimmed = text.trimmingSpaces
        if trimmed == "0" { return 0 }
        guard !trimmed.isEmpty else { throw ParseError(text: text, reason: "it is empty") }
        var total: UInt64 = 0
        var rest = Substring(trimmed)
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let value = UInt64(digits) else {
                throw ParseError(text: text, reason: "expected a number at \"\(rest)\"")
            }
            rest = rest.dropFirst(digits.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.suffix) }) else {
                throw ParseError(text: text, reason: "expected a unit (ms, s, m, h, d, w, y) after \(digits)")
            }
            rest = rest.dropFirst(unit.suffix.count)
            let (product, overflow) = value.multipliedReportingOverflow(by: unit.nanos)
            guard !overflow, total <= UInt64.max - product else { throw ParseError(text: text, reason: "it is too long") }
            total += product
        }
        return total
    }

    public static func parse(_ text: String) throws(ParseError) -> Duration {
        .nanoseconds(Int64(clamping: try parseNanoseconds(text)))
    }

    /// The shortest Prometheus form of a duration, e.g. `15d`, `1h30m`, `0s`.
    public static func format(nanoseconds: UInt64) -> String {
        if nanoseconds == 0 { return "0s" }
        var remaining = nanoseconds
        var out = ""
        for unit in [("d", UInt64(86_400_000_000_000)), ("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000), ("ms", 1_000_000)] {
            let count = remaining / unit.1
            if count > 0 {
                out += "\(count)\(unit.0)"
                remaining -= count * unit.1
            }
        }
        if remaining > 0 { out += "\(remaining)ns" }
        return out
    }
}

/// Byte sizes: `512MiB`, `64MB`, `1GiB`, `2TB`, `1048576`.
public enum ByteSizeText {
    public static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingSpaces
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard let value = Int(digits) else { return nil }
        let unit = trimmed.dropFirst(digits.count).lowercased()
        let multipliers: [String: Int] = [
            "": 1, "b": 1, "k": 1_000, "kb": 1_000, "kib": 1 << 10, "m": 1_000_000, "mb": 1_000_000, "mib": 1 << 20,
            "g": 1_000_000_000, "gb": 1_000_000_000, "gib": 1 << 30,
            "t": 1_000_000_000_000, "tb": 1_000_000_000_000, "tib": 1 << 40,
            "p": 1_000_000_000_000_000, "pb": 1_000_000_000_000_000, "pib": 1 << 50,
        ]
        guard let multiplier = multipliers[unit] else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : product
    }
}

extension String {
    var trimmingSpaces: String {
        var slice = Substring(self)
        while slice.first?.isWhitespace == true { slice = slice.dropFirst() }
        while slice.last?.isWhitespace == true { slice = slice.dropLast() }
        return String(slice)
    }
}
