import LoupeModel

/// How one generated node-exporter series evolves from scrape to scrape.
///
/// Storage benchmarks (bytes per sample, RAM per series) depend on how compressible the values
/// are, so the `realistic` model follows what node_exporter reports on a lightly loaded host:
/// CPU seconds in 1/100 s ticks, byte and packet counters in whole units at a varying rate,
/// error and drop counters that rarely move, memory in pages that shift a little every scrape,
/// sizes and flags that never change, load averages with two decimals, collector durations as Go's
/// `time.Duration.Seconds()` reports them (whole nanoseconds divided by 1e9: a full-precision float
/// for XOR encoding, a 9-decimal number to a decoder that looks for decimals). `synthetic` is the earlier model: every value changes every scrape by a
/// random fraction (close to incompressible for Gorilla encoding), kept to compare with old runs.
public enum RemoteWriteValueModel: String, Sendable, CaseIterable {
    case realistic
    case synthetic
}

enum NodeExporterSeriesValues: Sendable {
    /// Never changes (sizes, totals, flags, boot time, `up`-like gauges).
    case constant(Double)
    /// A counter that grows by `rate ± jitter` units of `resolution` per scrape (whole bytes, 1/100 s ticks, ...).
    case counter(base: Double, rate: Double, jitter: Double, resolution: Double)
    /// A counter that moves by one `resolution` unit every `period` scrapes (errors, drops, rare events).
    case rareCounter(base: Double, period: Int, resolution: Double = 1)
    /// A gauge in units of `granularity` that drifts up and down by up to `swing` units, with `noise`
    /// units of scrape-to-scrape wobble.
    case gauge(base: Double, granularity: Double, swing: Int, noise: Int)
    /// A duration around `mean` seconds, measured by the exporter itself: a random number of whole
    /// nanoseconds, as node_exporter's `duration.Seconds()` (Go's `float64(nsec)/1e9` under a second).
    case noisy(mean: Double)
    /// `node_time_seconds`: the scrape time with a sub-millisecond offset.
    case clock

    static func model(name: String, labels: [Label], isCounter: Bool, random: inout SplitMix64) -> Self {
        func unit() -> Double { Double(random.next() >> 11) / Double(1 << 53) }
        func between(_ low: Double, _ high: Double) -> Double { low + (high - low) * unit() }
        let label = { (key: String) in labels.first { $0.name == key }?.value ?? "" }
        if name.hasPrefix("node_cpu_guest") { return .constant(0) }
        if name == "node_cpu_seconds_total" {
            let base = (between(1e5, 1e7) * 100).rounded() / 100
            switch label("mode") {
            case "idle": return .counter(base: base, rate: between(1_300, 1_480), jitter: 20, resolution: 0.01)
            case "user", "system": return .counter(base: base, rate: between(5, 150), jitter: 4, resolution: 0.01)
            default: return .rareCounter(base: (between(100, 1e5) * 100).rounded() / 100, period: Int(between(3, 40)), resolution: 0.01)
            }
        }
        if name.hasPrefix("node_network_") {
            if name.hasSuffix("_up_total") || name == "node_network_up" { return .constant(1) }
            if name == "node_network_mtu_bytes" { return .constant(1_500) }
            if name.contains("_errs_") || name.contains("_drop_") {
                return unit() < 0.7 ? .constant(0) : .rareCounter(base: between(0, 1_000).rounded(), period: Int(between(20, 400)))
            }
            let rate = name.contains("_bytes_") ? between(2e3, 2e6) : between(10, 2_000)
            return .counter(base: between(1e6, 1e12).rounded(), rate: rate.rounded(), jitter: (rate / 3).rounded(), resolution: 1)
        }
        if name.hasPrefix("node_filesystem_") {
            let size = (between(1e9, 5e11) / 4096).rounded() * 4096
            switch name {
            case "node_filesystem_avail_bytes", "node_filesystem_free_bytes":
                return .gauge(base: (size * between(0.2, 0.8) / 4096).rounded() * 4096, granularity: 4096, swing: 2_000, noise: 3)
            case "node_filesystem_files_free": return .gauge(base: between(1e5, 1e7).rounded(), granularity: 1, swing: 200, noise: 2)
            case "node_filesystem_readonly": return .constant(0)
            case "node_filesystem_files": return .constant(between(1e6, 3e7).rounded())
            default: return .constant(size)
            }
        }
        if name.hasPrefix("node_disk_") {
            if name == "node_disk_io_now" { return .gauge(base: 0, granularity: 1, swing: 0, noise: 3) }
            if name.hasSuffix("_seconds_total") {
                let rate = between(0.01, 2)
                return .counter(base: between(1e3, 1e6).rounded(), rate: (rate * 1_000).rounded(), jitter: (rate * 300).rounded(), resolution: 0.001)
            }
            if name.hasSuffix("_bytes_total") {
                let rate = between(10, 20_000).rounded()
                return .counter(base: between(1e3, 1e8).rounded() * 512, rate: rate, jitter: (rate / 2).rounded(), resolution: 512)
            }
            let rate = between(1, 500).rounded()
            return .counter(base: between(1e3, 1e8).rounded(), rate: rate, jitter: (rate / 2).rounded(), resolution: 1)
        }
        if name.hasPrefix("node_memory_") {
            if ["MemTotal", "SwapTotal", "VmallocTotal", "Hugepagesize", "HugePages_Total", "CommitLimit", "HardwareCorrupted",
                "Bounce", "NFS_Unstable", "WritebackTmp", "Mlocked", "Unevictable", "SwapFree", "SwapCached"].contains(where: { name.contains("_\($0)_") })
            {
                return .constant((between(0, 6.4e10) / 4096).rounded() * 4096)
            }
            return .gauge(base: (between(1e7, 3e10) / 4096).rounded() * 4096, granularity: 4096, swing: 5_000, noise: 40)
        }
        switch name {
        case "node_load1", "node_load5", "node_load15": return .gauge(base: between(0.1, 2).rounded(), granularity: 0.01, swing: 80, noise: 6)
        case "node_procs_running": return .gauge(base: 1, granularity: 1, swing: 0, noise: 4)
        case "node_procs_blocked": return .gauge(base: 0, granularity: 1, swing: 0, noise: 2)
        case "node_boot_time_seconds": return .constant(between(1.7e9, 1.79e9).rounded())
        case "node_time_seconds": return .clock
        case "node_scrape_collector_duration_seconds": return .noisy(mean: between(1e-5, 5e-3))
        case "node_scrape_collector_success": return .constant(unit() < 0.9 ? 1 : 0)
        case "node_context_switches_total", "node_intr_total":
            return .counter(base: between(1e8, 1e11).rounded(), rate: between(1e4, 3e5).rounded(), jitter: 5_000, resolution: 1)
        case "node_forks_total": return .counter(base: between(1e5, 1e8).rounded(), rate: between(5, 300).rounded(), jitter: 20, resolution: 1)
        default: break
        }
        if isCounter {
            if unit() < 0.5 { return .rareCounter(base: between(0, 1e6).rounded(), period: Int(between(4, 200))) }
            let rate = between(1, 1_000).rounded()
            return .counter(base: between(1e3, 1e9).rounded(), rate: rate, jitter: (rate / 2).rounded(), resolution: 1)
        }
        return .gauge(base: between(0, 1e6).rounded(), granularity: 1, swing: 100, noise: 5)
    }

    /// The value at scrape `scrape` (taken at `timestamp` ms); `phase` decorrelates series of one model.
    func value(scrape: Int, phase: Int, timestamp: Int64) -> Double {
        let s = Double(scrape)
        // Deterministic noise in [0, 1) per series and scrape, so requests can be built in any order.
        let noise = Double(SplitMix64.mix(UInt64(scrape) &* 0x2545_F491_4F6C_DD1D &+ UInt64(phase)) >> 11) / Double(1 << 53)
        switch self {
        case .constant(let value): return value
        case .counter(let base, let rate, let jitter, let resolution):
            // Monotonic: consecutive increments are rate ± jitter (jitter < rate).
            let units = (rate * s + min(jitter, rate) * noise).rounded(.down)
            // As the exporter computes them: whole units divided by units per second (ticks / USER_HZ, ...).
            return resolution == 1 ? base + units : ((base / resolution).rounded() + units) / (1 / resolution)
        case .rareCounter(let base, let period, let resolution):
            let units = Double((scrape + phase) / max(1, period))
            return resolution == 1 ? base + units : ((base / resolution).rounded() + units) / (1 / resolution)
        case .gauge(let base, let granularity, let swing, let noiseUnits):
            let position = swing == 0 ? 0 : (scrape + phase) % (2 * swing)
            let triangle = position < swing ? position : 2 * swing - position
            let units = Double(triangle) + (noiseUnits == 0 ? 0 : (noise * Double(noiseUnits + 1)).rounded(.down))
            return granularity == 1 ? base + units : ((base / granularity).rounded() + units) * granularity
        case .noisy(let mean):
            let nanoseconds = (mean * (0.5 + noise) * 1e9).rounded()
            return nanoseconds < 1e9 ? nanoseconds / 1e9 : (nanoseconds / 1e9).rounded(.down) + nanoseconds.truncatingRemainder(dividingBy: 1e9) / 1e9
        case .clock: return Double(timestamp) / 1_000 + noise / 10_000
        }
    }
}
