/// Percentiles of a set of request latencies.
///
/// Computed once from all samples (nearest-rank on the sorted list) rather than from a histogram: a run records
/// at most a few hundred thousand requests, so exact figures cost little memory and need no bucket layout.
public struct LatencyStatistics: Sendable, Hashable {
    public let count: Int
    public let minimum: Duration
    public let mean: Duration
    public let p50: Duration
    public let p90: Duration
    public let p99: Duration
    public let maximum: Duration

    /// Statistics of `samples`; all zero when there are none.
    public init(samples: [Duration]) {
        let sorted = samples.sorted()
        count = sorted.count
        guard let first = sorted.first, let last = sorted.last else {
            minimum = .zero
            mean = .zero
            p50 = .zero
            p90 = .zero
            p99 = .zero
            maximum = .zero
            return
        }
        minimum = first
        maximum = last
        // Summing attoseconds could overflow Int64 nanoseconds only after ~292 years of latency; Double keeps it simple.
        let totalSeconds = sorted.reduce(0.0) { $0 + $1.inSeconds }
        mean = .seconds(totalSeconds / Double(sorted.count))
        p50 = Self.nearestRank(0.50, in: sorted)
        p90 = Self.nearestRank(0.90, in: sorted)
        p99 = Self.nearestRank(0.99, in: sorted)
    }

    /// The value at `quantile` (0...1) of ascending `sorted` by the nearest-rank method: the smallest sample
    /// such that at least that fraction of samples is at or below it, so p99 of 100 samples is the 99th.
    public static func nearestRank<Value>(_ quantile: Double, in sorted: [Value]) -> Value {
        precondition(!sorted.isEmpty, "a percentile of no samples")
        let rank = Int((quantile * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    /// `p50 2.1ms  p90 3.4ms  p99 8.0ms  max 12.3ms`
    public var summary: String {
        "p50 \(p50.shortText)  p90 \(p90.shortText)  p99 \(p99.shortText)  max \(maximum.shortText)"
    }
}

extension Duration {
    /// The duration in (fractional) seconds.
    var inSeconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }

    /// A compact human form with three significant-ish digits: `850µs`, `12.3ms`, `1.20s`.
    var shortText: String {
        let value = inSeconds
        if value < 1e-3 { return "\(Self.format(value * 1e6, decimals: value < 1e-5 ? 1 : 0))µs" }
        if value < 1 { return "\(Self.format(value * 1e3, decimals: value < 1e-2 ? 2 : 1))ms" }
        return "\(Self.format(value, decimals: 2))s"
    }

    static func format(_ value: Double, decimals: Int) -> String { BenchFormat.fixed(value, decimals: decimals) }
}

/// Number formatting for reports, without Foundation.
public enum BenchFormat {
    /// `value` rounded to `decimals` places, e.g. `fixed(3.14159, decimals: 2) == "3.14"`.
    public static func fixed(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e18 else { return "\(value)" }
        let integer = UInt64(scaled)
        let whole = integer / UInt64(scale)
        let fraction = integer % UInt64(scale)
        var text = (value < 0 && integer != 0 ? "-" : "") + grouped(whole)
        if decimals > 0 {
            let digits = String(fraction)
            text += "." + String(repeating: "0", count: decimals - digits.count) + digits
        }
        return text
    }

    /// `1234567` as `1,234,567`.
    static func grouped(_ value: UInt64) -> String {
        let digits = Array(String(value))
        var text = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { text.append(",") }
            text.append(digit)
        }
        return text
    }

    static func grouped(_ value: Int) -> String {
        value < 0 ? "-" + grouped(UInt64(value.magnitude)) : grouped(UInt64(value))
    }

    /// A rate such as items/s: grouped integer above 100, otherwise one decimal.
    static func rate(_ value: Double) -> String {
        value >= 100 ? fixed(value, decimals: 0) : fixed(value, decimals: 1)
    }

    /// Bytes in binary units: `512 B`, `12.3 KiB`, `4.50 MiB`.
    static func bytes(_ value: Int) -> String {
        let amount = Double(value)
        if amount < 1024 { return "\(value) B" }
        if amount < 1024 * 1024 { return fixed(amount / 1024, decimals: 1) + " KiB" }
        if amount < 1024 * 1024 * 1024 { return fixed(amount / (1024 * 1024), decimals: 2) + " MiB" }
        return fixed(amount / (1024 * 1024 * 1024), decimals: 2) + " GiB"
    }

    /// Bytes per second in decimal megabytes, as throughput figures are usually quoted.
    static func megabytesPerSecond(_ bytesPerSecond: Double) -> String {
        fixed(bytesPerSecond / 1e6, decimals: bytesPerSecond >= 1e8 ? 0 : 1) + " MB/s"
    }
}
