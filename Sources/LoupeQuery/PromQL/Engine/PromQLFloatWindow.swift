import LoupeModel

extension Evaluator {
    /// Range functions whose value over a window of floats (no native histograms) is
    /// `floatWindowValue`. Both the step-by-step evaluator and the series-by-series range
    /// evaluator compute them here, so the two agree to the bit.
    static let floatWindowFunctions: Set<String> = [
        "rate", "increase", "delta", "irate", "idelta", "changes", "resets", "deriv", "count_over_time", "present_over_time",
        "last_over_time", "first_over_time", "ts_of_last_over_time", "ts_of_first_over_time", "sum_over_time", "avg_over_time",
        "min_over_time", "max_over_time", "ts_of_min_over_time", "ts_of_max_over_time", "stddev_over_time", "stdvar_over_time",
    ]

    func floatWindowValue(_ name: String, _ samples: [FloatSample], rangeStart: Int64, rangeEnd: Int64) -> Double? {
        samples.withUnsafeBufferPointer { floatWindowValue(name, $0, rangeStart: rangeStart, rangeEnd: rangeEnd) }
    }

    /// The value of range function `name` over the floats of one window `(rangeStart, rangeEnd]`
    /// (stale markers already removed); nil when the function yields no sample.
    func floatWindowValue(_ name: String, _ f: UnsafeBufferPointer<FloatSample>, rangeStart: Int64, rangeEnd: Int64) -> Double? {
        guard let first = f.first, let last = f.last else { return nil }
        switch name {
        case "rate", "increase", "delta":
            return extrapolatedRate(f, rangeStart, rangeEnd, isCounter: name != "delta", isRate: name == "rate")
        case "irate", "idelta":
            guard f.count >= 2 else { return nil }
            let previous = f[f.count - 2]
            var value = last.value - previous.value
            if name == "irate" {
                if last.value < previous.value { value = last.value }
                let dt = Double(last.timestamp - previous.timestamp) / 1000
                if dt == 0 { return nil }
                value /= dt
            }
            return value
        case "changes", "resets":
            var count = 0.0
            for i in f.indices.dropFirst() {
                let a = f[i - 1].value
                let b = f[i].value
                if name == "changes" {
                    if a != b && !(a.isNaN && b.isNaN) { count += 1 }
                } else if b < a {
                    count += 1
                }
            }
            return count
        case "deriv":
            guard f.count >= 2 else { return nil }
            return linearRegression(f, interceptTime: first.timestamp).slope
        case "count_over_time": return Double(f.count)
        case "present_over_time": return 1
        case "last_over_time": return last.value
        case "first_over_time": return first.value
        case "ts_of_last_over_time": return Double(last.timestamp) / 1000
        case "ts_of_first_over_time": return Double(first.timestamp) / 1000
        case "sum_over_time", "avg_over_time":
            var k = KahanSum()
            for p in f { k.add(p.value) }
            if name == "sum_over_time" { return k.value }
            if k.value.isInfinite { return incrementalMean(f.map(\.value)) }
            return k.value / Double(f.count)
        case "min_over_time", "max_over_time", "ts_of_min_over_time", "ts_of_max_over_time":
            let isMax = name.contains("max")
            var best = first
            for p in f.dropFirst() {
                if isMax ? (p.value >= best.value || best.value.isNaN) : (p.value <= best.value || best.value.isNaN) {
                    if !p.value.isNaN || best.value.isNaN { best = p }
                }
            }
            return name.hasPrefix("ts_of") ? Double(best.timestamp) / 1000 : best.value
        case "stddev_over_time", "stdvar_over_time":
            var count = 0.0
            var mean = 0.0
            var m2 = 0.0
            for p in f {
                count += 1
                let delta = p.value - mean
                mean += delta / count
                m2 += delta * (p.value - mean)
            }
            let variance = m2 / count
            return name == "stddev_over_time" ? variance.squareRoot() : variance
        default:
            return nil
        }
    }
}
