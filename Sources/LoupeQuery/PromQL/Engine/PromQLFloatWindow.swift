import LoupeModel

/// The range functions whose value over a window of floats (no native histograms) is
/// `Evaluator.floatWindowValue`. Resolved from the function name once per query node: a switch
/// over strings (and `contains` on the name) per window cost more than the functions themselves.
enum FloatWindowFunction: String, CaseIterable {
    case rate, increase, delta, irate, idelta, changes, resets, deriv
    case countOverTime = "count_over_time"
    case presentOverTime = "present_over_time"
    case lastOverTime = "last_over_time"
    case firstOverTime = "first_over_time"
    case tsOfLastOverTime = "ts_of_last_over_time"
    case tsOfFirstOverTime = "ts_of_first_over_time"
    case sumOverTime = "sum_over_time"
    case avgOverTime = "avg_over_time"
    case minOverTime = "min_over_time"
    case maxOverTime = "max_over_time"
    case tsOfMinOverTime = "ts_of_min_over_time"
    case tsOfMaxOverTime = "ts_of_max_over_time"
    case stddevOverTime = "stddev_over_time"
    case stdvarOverTime = "stdvar_over_time"
}

extension Evaluator {
    /// Both the step-by-step evaluator and the series-by-series range evaluator compute these
    /// with `floatWindowValue`, so the two agree to the bit.
    static let floatWindowFunctions: Set<String> = Set(FloatWindowFunction.allCases.map(\.rawValue))

    func floatWindowValue(_ name: String, _ samples: [FloatSample], rangeStart: Int64, rangeEnd: Int64) -> Double? {
        guard let function = FloatWindowFunction(rawValue: name) else { return nil }
        return samples.withUnsafeBufferPointer { floatWindowValue(function, $0, rangeStart: rangeStart, rangeEnd: rangeEnd) }
    }

    func floatWindowValue(_ name: String, _ f: UnsafeBufferPointer<FloatSample>, rangeStart: Int64, rangeEnd: Int64) -> Double? {
        guard let function = FloatWindowFunction(rawValue: name) else { return nil }
        return floatWindowValue(function, f, rangeStart: rangeStart, rangeEnd: rangeEnd)
    }

    /// The value of range function `function` over the floats of one window `(rangeStart, rangeEnd]`
    /// (stale markers already removed); nil when the function yields no sample.
    func floatWindowValue(_ function: FloatWindowFunction, _ f: UnsafeBufferPointer<FloatSample>, rangeStart: Int64, rangeEnd: Int64) -> Double? {
        guard let first = f.first, let last = f.last else { return nil }
        switch function {
        case .rate, .increase, .delta:
            return extrapolatedRate(f, rangeStart, rangeEnd, isCounter: function != .delta, isRate: function == .rate)
        case .irate, .idelta:
            guard f.count >= 2 else { return nil }
            let previous = f[f.count - 2]
            var value = last.value - previous.value
            if function == .irate {
                if last.value < previous.value { value = last.value }
                let dt = Double(last.timestamp - previous.timestamp) / 1000
                if dt == 0 { return nil }
                value /= dt
            }
            return value
        case .changes, .resets:
            var count = 0.0
            for i in f.indices.dropFirst() {
                let a = f[i - 1].value
                let b = f[i].value
                if function == .changes {
                    if a != b && !(a.isNaN && b.isNaN) { count += 1 }
                } else if b < a {
                    count += 1
                }
            }
            return count
        case .deriv:
            guard f.count >= 2 else { return nil }
            return linearRegression(f, interceptTime: first.timestamp).slope
        case .countOverTime: return Double(f.count)
        case .presentOverTime: return 1
        case .lastOverTime: return last.value
        case .firstOverTime: return first.value
        case .tsOfLastOverTime: return Double(last.timestamp) / 1000
        case .tsOfFirstOverTime: return Double(first.timestamp) / 1000
        case .sumOverTime, .avgOverTime:
            var k = KahanSum()
            for p in f { k.add(p.value) }
            if function == .sumOverTime { return k.value }
            if k.value.isInfinite { return incrementalMean(f.map(\.value)) }
            return k.value / Double(f.count)
        case .minOverTime, .maxOverTime, .tsOfMinOverTime, .tsOfMaxOverTime:
            let isMax = function == .maxOverTime || function == .tsOfMaxOverTime
            var best = first
            for p in f.dropFirst() {
                if isMax ? (p.value >= best.value || best.value.isNaN) : (p.value <= best.value || best.value.isNaN) {
                    if !p.value.isNaN || best.value.isNaN { best = p }
                }
            }
            return function == .tsOfMinOverTime || function == .tsOfMaxOverTime ? Double(best.timestamp) / 1000 : best.value
        case .stddevOverTime, .stdvarOverTime:
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
            return function == .stddevOverTime ? variance.squareRoot() : variance
        }
    }
}
