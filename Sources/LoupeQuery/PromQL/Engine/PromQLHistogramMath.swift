import LoupeModel

extension NativeHistogram {
    /// The same histogram at a lower resolution (a smaller exponential schema): buckets merge in groups.
    func reduced(to target: Int32) -> NativeHistogram {
        guard !usesCustomBuckets, target < schema else { return self }
        let delta = schema - target
        func merge(_ spans: [BucketSpan], _ buckets: [Double]) -> ([BucketSpan], [Double]) {
            var map: [Int32: Double] = [:]
            for (index, count) in NativeHistogram.bucketMap(spans: spans, buckets: buckets) {
                let target = ((index - 1) >> delta) + 1
                map[target, default: 0] += count
            }
            return NativeHistogram.spansAndBuckets(from: map)
        }
        var h = self
        h.schema = target
        (h.positiveSpans, h.positiveBuckets) = merge(positiveSpans, positiveBuckets)
        (h.negativeSpans, h.negativeBuckets) = merge(negativeSpans, negativeBuckets)
        return h
    }

    /// `self + sign × other` with the schemas reconciled to the lower resolution; nil when one uses custom
    /// buckets and the other does not.
    func combined(with other: NativeHistogram, sign: Double) -> NativeHistogram? {
        if usesCustomBuckets != other.usesCustomBuckets { return nil }
        if usesCustomBuckets {
            if customValues == other.customValues { return adding(other, sign: sign) }
            // Reconcile: keep the bounds both share, merging the other buckets into them.
            let shared = customValues.filter { other.customValues.contains($0) }
            return rebucketed(shared).adding(other.rebucketed(shared), sign: sign)
        }
        let target = Swift.min(schema, other.schema)
        var left = reduced(to: target)
        var right = other.reduced(to: target)
        let threshold = Swift.max(zeroThreshold, other.zeroThreshold)
        left = left.widenedZeroBucket(threshold)
        right = right.widenedZeroBucket(threshold)
        var result = left.adding(right, sign: sign)
        result.zeroThreshold = threshold
        return result
    }

    /// Custom buckets regrouped onto `bounds` (a subset of `customValues`).
    func rebucketed(_ bounds: [Double]) -> NativeHistogram {
        var map: [Int32: Double] = [:]
        for (index, count) in NativeHistogram.bucketMap(spans: positiveSpans, buckets: positiveBuckets) {
            let upper = Int(index) < customValues.count ? customValues[Int(index)] : .infinity
            let target = bounds.firstIndex { $0 >= upper } ?? bounds.count
            map[Int32(target), default: 0] += count
        }
        var h = self
        h.customValues = bounds
        (h.positiveSpans, h.positiveBuckets) = NativeHistogram.spansAndBuckets(from: map)
        return h
    }

    /// Buckets entirely inside a wider zero bucket move into it.
    func widenedZeroBucket(_ threshold: Double) -> NativeHistogram {
        guard threshold > zeroThreshold else { return self }
        var h = self
        h.zeroThreshold = threshold
        let base = pow2(pow2(-Double(schema)))
        func split(_ spans: [BucketSpan], _ buckets: [Double]) -> ([BucketSpan], [Double], Double) {
            var keep: [Int32: Double] = [:]
            var moved = 0.0
            for (index, count) in NativeHistogram.bucketMap(spans: spans, buckets: buckets) {
                let upper = pow(base, Double(index))
                if upper <= threshold { moved += count } else { keep[index] = count }
            }
            let (s, b) = NativeHistogram.spansAndBuckets(from: keep)
            return (s, b, moved)
        }
        let (ps, pb, pm) = split(positiveSpans, positiveBuckets)
        let (ns, nb, nm) = split(negativeSpans, negativeBuckets)
        h.positiveSpans = ps
        h.positiveBuckets = pb
        h.negativeSpans = ns
        h.negativeBuckets = nb
        h.zeroCount += pm + nm
        return h
    }
}

private func pow2(_ x: Double) -> Double { pow(2, x) }

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension Evaluator {
    /// The sum of histograms as aggregations compute it, with Prometheus's annotations; nil when the
    /// schemas cannot be combined.
    func sumHistograms(
        _ histograms: [NativeHistogram], position: PromQLError.Position, metricName: String, aggregation: Bool, average: Bool = false
    ) -> NativeHistogram? {
        guard var total = histograms.first else { return nil }
        let custom = histograms.contains { $0.usesCustomBuckets }
        let exponential = histograms.contains { !$0.usesCustomBuckets }
        if custom && exponential {
            warn("vector contains a mix of histograms with exponential and custom buckets schemas for metric name \"\(metricName)\"", position)
            return nil
        }
        let hints = Set(histograms.map(\.counterResetHint))
        var inputs = histograms
        if custom {
            var shared = inputs[0].customValues
            for h in inputs.dropFirst() { shared = shared.filter { h.customValues.contains($0) } }
            if inputs.contains(where: { $0.customValues != shared }) {
                info("mismatched custom buckets were reconciled during \(aggregation ? "aggregation" : "addition")", position)
            }
            inputs = inputs.map { $0.customValues == shared ? $0 : $0.rebucketed(shared) }
        } else {
            let schema = inputs.map(\.schema).min()!
            let threshold = inputs.map(\.zeroThreshold).max()!
            inputs = inputs.map { $0.reduced(to: schema).widenedZeroBucket(threshold) }
        }
        // Kahan-compensated sums of every field, as Prometheus adds histograms.
        var count = KahanSum()
        var sum = KahanSum()
        var zero = KahanSum()
        var positive: [Int32: KahanSum] = [:]
        var negative: [Int32: KahanSum] = [:]
        for h in inputs {
            count.add(h.count)
            sum.add(h.sum)
            zero.add(h.zeroCount)
            for (k, v) in NativeHistogram.bucketMap(spans: h.positiveSpans, buckets: h.positiveBuckets) { positive[k, default: KahanSum()].add(v) }
            for (k, v) in NativeHistogram.bucketMap(spans: h.negativeSpans, buckets: h.negativeBuckets) { negative[k, default: KahanSum()].add(v) }
        }
        total = inputs[0]
        total.count = count.value
        total.sum = sum.value
        total.zeroCount = zero.value
        (total.positiveSpans, total.positiveBuckets) = NativeHistogram.spansAndBuckets(from: positive.mapValues(\.value))
        (total.negativeSpans, total.negativeBuckets) = NativeHistogram.spansAndBuckets(from: negative.mapValues(\.value))
        if average {
            let overflow = !total.count.isFinite || !total.sum.isFinite || !total.zeroCount.isFinite
                || total.positiveBuckets.contains { !$0.isFinite } || total.negativeBuckets.contains { !$0.isFinite }
            if overflow {
                // The plain sum overflowed: an incremental mean stays finite.
                // The plain sum overflowed: a Kahan-compensated incremental mean of every field stays finite.
                struct Mean {
                    var value = 0.0
                    var c = 0.0
                    mutating func add(_ x: Double, _ n: Double) {
                        let q = (n - 1) / n
                        var k = KahanSum(sum: q * value, c: q * c)
                        k.add(x / n)
                        value = k.sum
                        c = k.c
                    }
                    var result: Double { value.isInfinite ? value : value + c }
                }
                var count = Mean()
                var sum = Mean()
                var zero = Mean()
                var positive: [Int32: Mean] = [:]
                var negative: [Int32: Mean] = [:]
                for (i, h) in inputs.enumerated() {
                    let n = Double(i + 1)
                    count.add(h.count, n)
                    sum.add(h.sum, n)
                    zero.add(h.zeroCount, n)
                    let p = NativeHistogram.bucketMap(spans: h.positiveSpans, buckets: h.positiveBuckets)
                    for key in Set(p.keys).union(positive.keys) { positive[key, default: Mean()].add(p[key] ?? 0, n) }
                    let m = NativeHistogram.bucketMap(spans: h.negativeSpans, buckets: h.negativeBuckets)
                    for key in Set(m.keys).union(negative.keys) { negative[key, default: Mean()].add(m[key] ?? 0, n) }
                }
                total.count = count.result
                total.sum = sum.result
                total.zeroCount = zero.result
                (total.positiveSpans, total.positiveBuckets) = NativeHistogram.spansAndBuckets(from: positive.mapValues(\.result))
                (total.negativeSpans, total.negativeBuckets) = NativeHistogram.spansAndBuckets(from: negative.mapValues(\.result))
            } else {
                total = total.scaled(1 / Double(inputs.count))
            }
        }
        if hints.contains(.yes) && hints.contains(.no) {
            warn("conflicting counter resets during histogram \(aggregation ? "aggregation" : "addition")", position)
        }
        if hints.count == 1 && !hints.contains(.yes) {
            total.counterResetHint = hints.first!
        } else if hints.contains(.gauge) {
            total.counterResetHint = .gauge
        } else {
            total.counterResetHint = .unknown
        }
        return total
    }
}

extension NativeHistogram {
    /// `</` (keepBelow) and `>/`: the observations below or above `cutoff`, interpolating inside the bucket
    /// that contains it (exponentially for exponential buckets); the sum is re-estimated from bucket
    /// midpoints unless nothing was trimmed.
    func trimmed(cutoff: Double, keepBelow: Bool) -> NativeHistogram {
        var changed = false
        var newSum = 0.0
        var newCount = 0.0
        func process(_ lower: Double, _ upper: Double, _ count: Double, exponential: Bool) -> Double {
            if count == 0 { return 0 }
            func position(_ v: Double) -> Double {
                if exponential {
                    if lower > 0 { return (log2(v) - log2(lower)) / (log2(upper) - log2(lower)) }
                    return (log2(-lower) - log2(-v)) / (log2(-lower) - log2(-upper))
                }
                return (v - lower) / (upper - lower)
            }
            var kept = count
            var low = lower
            var high = upper
            if lower == -.infinity && upper == .infinity {
                // A single bucket spanning everything cannot be split: keep it only when nothing is trimmed.
                if (keepBelow && cutoff == .infinity) || (!keepBelow && cutoff == -.infinity) { return count }
                changed = true
                return 0
            }
            if keepBelow {
                if upper <= cutoff {
                } else if lower >= cutoff {
                    kept = 0
                } else if lower == -.infinity {
                    high = cutoff
                } else if upper == .infinity {
                    kept = 0
                } else {
                    kept = count * position(cutoff)
                    high = cutoff
                }
            } else {
                if lower >= cutoff {
                } else if upper <= cutoff {
                    kept = 0
                } else if upper == .infinity {
                    low = cutoff
                } else if lower == -.infinity {
                    kept = 0
                } else {
                    kept = count * (1 - position(cutoff))
                    low = cutoff
                }
            }
            if kept != count { changed = true }
            if kept != 0 {
                let representative: Double
                if low == -.infinity {
                    representative = high
                } else if high == .infinity {
                    representative = low
                } else if exponential {
                    representative = low > 0 ? (low * high).squareRoot() : -(low * high).squareRoot()
                } else {
                    representative = (low + high) / 2
                }
                newSum += kept * representative
                newCount += kept
            }
            return kept
        }
        var result = self
        let width = pow(2, -Double(schema))
        func side(_ spans: [BucketSpan], _ buckets: [Double], negative: Bool) -> ([BucketSpan], [Double]) {
            var map: [Int32: Double] = [:]
            for (index, count) in NativeHistogram.bucketMap(spans: spans, buckets: buckets) {
                var lower: Double
                var upper: Double
                if usesCustomBuckets {
                    let i = Int(index)
                    upper = i < customValues.count ? customValues[i] : .infinity
                    lower = i == 0 ? (upper > 0 && upper.isFinite ? 0 : -.infinity) : customValues[i - 1]
                } else {
                    lower = pow(2, Double(index - 1) * width)
                    upper = pow(2, Double(index) * width)
                    if negative { (lower, upper) = (-upper, -lower) }
                }
                let kept = process(lower, upper, count, exponential: !usesCustomBuckets)
                if kept != 0 { map[index] = kept }
            }
            return NativeHistogram.spansAndBuckets(from: map)
        }
        (result.negativeSpans, result.negativeBuckets) = side(negativeSpans, negativeBuckets, negative: true)
        if !usesCustomBuckets && zeroCount != 0 {
            let hasNegative = negativeBuckets.contains { $0 != 0 }
            let hasPositive = positiveBuckets.contains { $0 != 0 }
            var lower = -zeroThreshold
            var upper = zeroThreshold
            if hasPositive && !hasNegative { lower = 0 } else if hasNegative && !hasPositive { upper = 0 }
            result.zeroCount = process(lower, upper, zeroCount, exponential: false)
        }
        (result.positiveSpans, result.positiveBuckets) = side(positiveSpans, positiveBuckets, negative: false)
        if !changed { return self }
        result.count = newCount
        result.sum = newSum
        return result
    }
}

extension NativeHistogram {
    /// Equality of the distributions: the counter reset hint, integer-ness and empty buckets do not matter.
    func sameDistribution(as other: NativeHistogram) -> Bool {
        func nonZero(_ spans: [BucketSpan], _ buckets: [Double]) -> [Int32: Double] {
            NativeHistogram.bucketMap(spans: spans, buckets: buckets).filter { $0.value != 0 }
        }
        return schema == other.schema && zeroThreshold == other.zeroThreshold && zeroCount == other.zeroCount
            && count == other.count && (sum == other.sum || (sum.isNaN && other.sum.isNaN)) && customValues == other.customValues
            && nonZero(positiveSpans, positiveBuckets) == nonZero(other.positiveSpans, other.positiveBuckets)
            && nonZero(negativeSpans, negativeBuckets) == nonZero(other.negativeSpans, other.negativeBuckets)
    }
}
