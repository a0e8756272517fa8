import LoupeModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension NativeHistogram {
    func scaled(_ factor: Double) -> NativeHistogram {
        var h = self
        h.count *= factor
        h.sum *= factor
        h.zeroCount *= factor
        h.positiveBuckets = h.positiveBuckets.map { $0 * factor }
        h.negativeBuckets = h.negativeBuckets.map { $0 * factor }
        if factor < 0 {
            // A negated histogram swaps nothing in Prometheus (counts become negative); keep as is.
        }
        return h
    }
}

/// Float arithmetic and comparisons as Prometheus applies them; `keep` is false where a comparison filters.
/// With `zeroDivisorIsNaN` (LogQL's rule), `x / 0` and `x % 0` are NaN rather than ±Inf and NaN.
func binaryFloat(_ op: PromQLBinaryOperator, _ l: Double, _ r: Double, zeroDivisorIsNaN: Bool = false) -> (value: Double, keep: Bool) {
    switch op {
    case .add: return (l + r, true)
    case .subtract: return (l - r, true)
    case .multiply: return (l * r, true)
    case .divide: return (zeroDivisorIsNaN && r == 0 ? .nan : l / r, true)
    case .modulo: return (zeroDivisorIsNaN && r == 0 ? .nan : fmod(l, r), true)
    case .power: return (pow(l, r), true)
    case .atan2: return (atan2(l, r), true)
    case .equal: return (l, l == r)
    case .notEqual: return (l, l != r)
    case .greaterThan: return (l, l > r)
    case .lessThan: return (l, l < r)
    case .greaterOrEqual: return (l, l >= r)
    case .lessOrEqual: return (l, l <= r)
    default: return (l, false)
    }
}

/// A vector element's float combined with a scalar: the result, or nil where a comparison
/// without `bool` filters the element out (a kept element keeps its own value).
func vectorScalarFloat(_ binary: PromQLBinaryExpression, sample: Double, scalar: Double, swapped: Bool, zeroDivisorIsNaN: Bool = false) -> Double? {
    let (l, r) = swapped ? (scalar, sample) : (sample, scalar)
    var (value, keep) = binaryFloat(binary.op, l, r, zeroDivisorIsNaN: zeroDivisorIsNaN)
    if binary.op.isComparison {
        if binary.returnBool {
            value = keep ? 1 : 0
            keep = true
        } else {
            value = sample
        }
    }
    return keep ? value : nil
}

extension Evaluator {
    func evaluateBinary(_ binary: PromQLBinaryExpression, at ts: Int64) throws -> EvalValue {
        let lhs = try evaluate(binary.lhs, at: ts)
        let rhs = try evaluate(binary.rhs, at: ts)
        let op = binary.op
        switch (lhs, rhs) {
        case (.scalar(let l), .scalar(let r)):
            let (value, keep) = binaryFloat(op, l, r, zeroDivisorIsNaN: options.zeroDivisorIsNaN)
            if op.isComparison { return .scalar(keep ? 1 : 0) }
            return .scalar(value)
        case (.vector(let l), .scalar(let r)):
            return .vector(try vectorScalar(l, r, swapped: false, binary))
        case (.scalar(let l), .vector(let r)):
            return .vector(try vectorScalar(r, l, swapped: true, binary))
        case (.vector(let l), .vector(let r)):
            if op.isSetOperator { return .vector(setOperation(l, r, binary)) }
            return .vector(try vectorVector(l, r, binary))
        default:
            throw PromQLError(.execution, "invalid operand types for binary operation")
        }
    }

    func vectorScalar(_ vector: [PromQLSample], _ scalar: Double, swapped: Bool, _ binary: PromQLBinaryExpression) throws
        -> [PromQLSample]
    {
        let op = binary.op
        var out: [PromQLSample] = []
        out.reserveCapacity(vector.count)
        for sample in vector {
            var result = sample
            if op == .trimUpper || op == .trimLower {
                guard let h = sample.histogram, !swapped else { continue }
                result.histogram = h.trimmed(cutoff: scalar, keepBelow: op == .trimUpper)
                out.append(result)
                continue
            }
            if let h = sample.histogram {
                if op.isComparison {
                    info("incompatible sample types encountered for binary operator \"\(op.rawValue)\": \(swapped ? "float" : "histogram") \(op.rawValue) \(swapped ? "histogram" : "float")", binary.position)
                    continue
                }
                guard let combined = histogramScalar(op, h, scalar, swapped: swapped, binary) else { continue }
                result.histogram = combined
                result.dropName = true
                out.append(result)
                continue
            }
            guard let value = vectorScalarFloat(binary, sample: sample.value, scalar: scalar, swapped: swapped, zeroDivisorIsNaN: options.zeroDivisorIsNaN)
            else { continue }
            result.value = value
            if !op.isComparison || binary.returnBool { result.dropName = true }
            out.append(result)
        }
        return out
    }

    func histogramScalar(_ op: PromQLBinaryOperator, _ h: NativeHistogram, _ s: Double, swapped: Bool, _ binary: PromQLBinaryExpression)
        -> NativeHistogram?
    {
        switch op {
        case .trimUpper, .trimLower:
            if swapped { return nil }
            return h.trimmed(cutoff: s, keepBelow: op == .trimUpper)
        case .multiply:
            var r = h.scaled(s)
            r.counterResetHint = .gauge
            return r
        case .divide where !swapped:
            var r = h.scaled(1 / s)
            if s == 0 {
                // Prometheus keeps only the count, sum and zero bucket of a histogram divided by zero.
                r.positiveSpans = []
                r.positiveBuckets = []
                r.negativeSpans = []
                r.negativeBuckets = []
            }
            r.counterResetHint = .gauge
            return r
        default:
            let types = swapped ? "float \(op.rawValue) histogram" : "histogram \(op.rawValue) float"
            info("incompatible sample types encountered for binary operator \"\(op.rawValue)\": \(types)", binary.position)
            return nil
        }
    }

    func signature(_ labels: Labels, _ matching: PromQLVectorMatching?) -> Labels {
        guard let matching else { return dropName(labels) }
        if matching.on { return labels.keeping(Set(matching.matchingLabels)) }
        return labels.removing(Set(matching.matchingLabels).union([Labels.metricNameLabel]))
    }

    func setOperation(_ lhs: [PromQLSample], _ rhs: [PromQLSample], _ binary: PromQLBinaryExpression) -> [PromQLSample] {
        let matching = binary.matching
        switch binary.op {
        case .and:
            let right = Set(rhs.map { signature($0.labels, matching) })
            return lhs.filter { right.contains(signature($0.labels, matching)) }
        case .or:
            let left = Set(lhs.map { signature($0.labels, matching) })
            return lhs + rhs.filter { !left.contains(signature($0.labels, matching)) }
        default:
            let right = Set(rhs.map { signature($0.labels, matching) })
            return lhs.filter { !right.contains(signature($0.labels, matching)) }
        }
    }

    func vectorVector(_ lhs: [PromQLSample], _ rhs: [PromQLSample], _ binary: PromQLBinaryExpression) throws -> [PromQLSample] {
        let matching = binary.matching ?? PromQLVectorMatching()
        let op = binary.op
        let oneToMany = matching.cardinality == .oneToMany
        let many = oneToMany ? rhs : lhs
        let one = oneToMany ? lhs : rhs
        // Prometheus swaps the operands of group_right internally, and its fill modifiers with them.
        let fillOne = matching.fillRight
        let fillMany = matching.fillLeft
        var oneBySig: [Labels: PromQLSample] = Dictionary(minimumCapacity: one.count)
        for sample in one {
            let sig = signature(sample.labels, matching)
            if let existing = oneBySig[sig] {
                let side = oneToMany ? "left" : "right"
                let pair = [existing.labels, sample.labels].sorted(by: <).map { seriesText($0) }.joined(separator: ", ")
                throw PromQLError(
                    .execution,
                    "found duplicate series for the match group \(matchGroupText(sig)) on the \(side) hand-side of the operation: [\(pair)];many-to-many matching not allowed: matching labels must be unique on one side"
                )
            }
            oneBySig[sig] = sample
        }
        var matchedSigs = Set<Labels>(minimumCapacity: matching.cardinality == .oneToOne ? many.count : 0)
        var out: [PromQLSample] = []
        out.reserveCapacity(many.count)
        var usedOne = Set<Labels>()
        /// Group matching: the result label sets already produced per match group.
        var insertedBySig: [Labels: Set<Labels>] = [:]
        /// `manyFilled`/`oneFilled`: that side is a fill value, not a series.
        func combine(_ manySample: PromQLSample, _ oneSample: PromQLSample, sig: Labels, manyFilled: Bool, oneFilled: Bool) throws {
            if matching.cardinality == .oneToOne && !manyFilled {
                if !matchedSigs.insert(sig).inserted {
                    throw PromQLError(
                        .execution,
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)")
                }
            }
            let (l, r) = oneToMany ? (oneSample, manySample) : (manySample, oneSample)
            var result = PromQLSample(labels: manySample.labels, timestamp: manySample.timestamp)
            if l.histogram != nil || r.histogram != nil {
                if op.isComparison {
                    guard let lh = l.histogram, let rh = r.histogram, op == .equal || op == .notEqual else {
                        let types = "\(l.histogram == nil ? "float" : "histogram") \(op.rawValue) \(r.histogram == nil ? "float" : "histogram")"
                        info("incompatible sample types encountered for binary operator \"\(op.rawValue)\": \(types)", binary.position)
                        return
                    }
                    let condition = lh.sameDistribution(as: rh) == (op == .equal)
                    if binary.returnBool {
                        result.value = condition ? 1 : 0
                    } else {
                        if !condition { return }
                        result.histogram = lh
                    }
                } else {
                    guard let h = histogramBinary(op, l, r, binary) else { return }
                    result.histogram = h
                }
            } else {
                var (value, keep) = binaryFloat(op, l.value, r.value, zeroDivisorIsNaN: options.zeroDivisorIsNaN)
                if op.isComparison && binary.returnBool {
                    value = keep ? 1 : 0
                    keep = true
                }
                if !keep { return }
                result.value = value
            }
            if manyFilled {
                result.labels = sig
            } else {
                result.labels = resultLabels(manySample.labels, oneSample.labels, binary, matching, oneFilled: oneFilled)
                if (!op.isComparison && op != .trimUpper && op != .trimLower) || binary.returnBool { result.dropName = true }
                // With group_left/right the grouping labels must keep results apart within a match group.
                if matching.cardinality != .oneToOne, !insertedBySig[sig, default: []].insert(result.labels).inserted {
                    throw PromQLError(.execution, "multiple matches for labels: grouping labels must ensure unique matches")
                }
            }
            out.append(result)
        }
        for sample in many {
            let sig = signature(sample.labels, matching)
            if let oneSample = oneBySig[sig] {
                usedOne.insert(sig)
                try combine(sample, oneSample, sig: sig, manyFilled: false, oneFilled: false)
            } else if let fill = fillOne {
                let filler = PromQLSample(labels: Labels(), value: fill, timestamp: sample.timestamp)
                try combine(sample, filler, sig: sig, manyFilled: false, oneFilled: true)
            }
        }
        if let fill = fillMany {
            for sample in one {
                let sig = signature(sample.labels, matching)
                if usedOne.contains(sig) { continue }
                let filler = PromQLSample(labels: sig, value: fill, timestamp: sample.timestamp)
                try combine(filler, sample, sig: sig, manyFilled: true, oneFilled: false)
            }
        }
        try checkDuplicates(out)
        return out
    }

    func resultLabels(_ many: Labels, _ one: Labels, _ binary: PromQLBinaryExpression, _ matching: PromQLVectorMatching, oneFilled: Bool) -> Labels {
        var labels = many
        if matching.cardinality == .oneToOne {
            labels = matching.on ? labels.keeping(Set(matching.matchingLabels)) : labels.removing(Set(matching.matchingLabels))
        }
        if !oneFilled {
            for name in matching.include {
                labels.set(name, one[name] ?? "")
            }
        }
        return labels
    }

    func histogramBinary(_ op: PromQLBinaryOperator, _ l: PromQLSample, _ r: PromQLSample, _ binary: PromQLBinaryExpression)
        -> NativeHistogram?
    {
        switch (l.histogram, r.histogram) {
        case (let lh?, let rh?):
            switch op {
            case .add, .subtract:
                if lh.usesCustomBuckets && rh.usesCustomBuckets && lh.customValues != rh.customValues {
                    info("mismatched custom buckets were reconciled during \(op == .add ? "addition" : "subtraction")", binary.position)
                }
                guard var h = lh.combined(with: rh, sign: op == .add ? 1 : -1) else {
                    warn("vector contains a mix of histograms with exponential and custom buckets schemas for metric name \"\(l.labels.metricName ?? "")\"", binary.position)
                    return nil
                }
                h.counterResetHint = .gauge
                return h
            case .equal: return lh == rh ? lh : nil
            case .notEqual: return lh != rh ? lh : nil
            default:
                info("operator \"\(op.rawValue)\" not allowed for operations between histograms", binary.position)
                return nil
            }
        case (let lh?, nil):
            return histogramScalar(op, lh, r.value, swapped: false, binary)
        case (nil, let rh?):
            return histogramScalar(op, rh, l.value, swapped: true, binary)
        default: return nil
        }
    }

    func seriesText(_ labels: Labels) -> String {
        "{" + labels.map { "\($0.name)=\"\(escapeLabelValue($0.value))\"" }.joined(separator: ", ") + "}"
    }

    func matchGroupText(_ labels: Labels) -> String {
        "{" + labels.map { "\($0.name)=\"\(escapeLabelValue($0.value))\"" }.joined(separator: ", ") + "}"
    }

    func escapeLabelValue(_ value: String) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    // MARK: - Aggregations

    func evaluateAggregation(_ aggregation: PromQLAggregation, at ts: Int64) throws -> [PromQLSample] {
        let op = aggregation.op
        var parameter: Double = 0
        var labelParameter = ""
        if let p = aggregation.parameter {
            switch try evaluate(p, at: ts) {
            case .scalar(let v): parameter = v
            case .string(let s): labelParameter = s
            default: break
            }
        }
        let input = try evaluateVector(aggregation.expression, at: ts)
        let groupingSet = Set(aggregation.grouping)
        func key(_ labels: Labels) -> Labels { groupLabels(labels, aggregation, groupingSet) }
        var groupOrder: [Labels] = []
        var groups: [Labels: [PromQLSample]] = [:]
        for sample in input {
            let k = key(sample.labels)
            if groups[k] == nil { groupOrder.append(k) }
            groups[k, default: []].append(sample)
        }
        var out: [PromQLSample] = []
        switch op {
        case .topk, .bottomk, .limitk:
            if parameter.isNaN { throw PromQLError(.execution, "Parameter value is NaN") }
            let k = parameter >= 9.2e18 ? Int.max : Int(max(parameter, 0).rounded(.towardZero))
            if k < 1 { return [] }
            for g in groupOrder {
                let members = groups[g]!
                if op == .limitk {
                    out += members.prefix(k)
                    continue
                }
                if members.contains(where: { $0.histogram != nil }) {
                    info("ignored histogram in \(op.rawValue) aggregation", aggregation.position)
                }
                let top = op == .topk
                // Sorts positions, not samples (moving samples retains and releases their labels),
                // breaking ties by position: the same order as a stable sort of the samples.
                var order = members.indices.filter { members[$0].histogram == nil }
                order.sort { i, j in
                    let a = members[i].value
                    let b = members[j].value
                    if a.isNaN { return b.isNaN && i < j }
                    if b.isNaN { return true }
                    if a == b { return i < j }
                    return top ? a > b : a < b
                }
                for position in order.prefix(k) { out.append(members[position]) }
            }
            return out
        case .limitRatio:
            if parameter.isNaN { throw PromQLError(.execution, "Ratio value is NaN") }
            let ratio = min(max(parameter, -1), 1)
            if ratio != parameter {
                warn("ratio value should be between -1 and 1, got \(formatGoFloat(parameter)), capping to \(formatGoFloat(ratio))", aggregation.parameter!.position)
            }
            for g in groupOrder {
                for sample in groups[g]! {
                    let r = sampleRatio(sample.labels)
                    if (ratio >= 0 && r < ratio) || (ratio < 0 && r >= 1 + ratio) { out.append(sample) }
                }
            }
            return out
        case .countValues:
            if let p = aggregation.parameter, case .string(let literal) = unwrapParentheses(p), !literal.isValidUTF8 {
                throw PromQLError(.execution, "invalid label name \(goQuote(bytes: literal.bytes))")
            }
            if labelParameter.isEmpty || labelParameter.unicodeScalars.contains("\u{FFFD}") {
                throw PromQLError(.execution, "invalid label name \"\(labelParameter)\"")
            }
            var counts: [Labels: Double] = [:]
            var order: [Labels] = []
            for g in groupOrder {
                for sample in groups[g]! {
                    var labels = g
                    let text = sample.histogram.map { histogramText($0) } ?? formatGoFloat(sample.value)
                    labels.set(labelParameter, text)
                    if counts[labels] == nil { order.append(labels) }
                    counts[labels, default: 0] += 1
                }
            }
            return order.map { PromQLSample(labels: $0, value: counts[$0]!, timestamp: ts) }
        default:
            break
        }
        if op == .quantile && (parameter.isNaN || parameter < 0 || parameter > 1) {
            warn("quantile value should be between 0 and 1, got \(formatGoFloat(parameter))", aggregation.parameter!.position)
        }
        for g in groupOrder {
            let members = groups[g]!
            let floats = members.filter { $0.histogram == nil }.map(\.value)
            let histograms = members.compactMap(\.histogram)
            var result = PromQLSample(labels: g, timestamp: ts)
            result.dropName = g.metricName != nil && members.contains { $0.dropName }
            if !histograms.isEmpty {
                switch op {
                case .sum, .avg:
                    if !floats.isEmpty {
                        warn("encountered a mix of histograms and floats for aggregation", aggregation.position)
                        continue
                    }
                    guard let total = sumHistograms(
                        histograms, position: aggregation.position, metricName: members[0].labels.metricName ?? "", aggregation: true,
                        average: op == .avg)
                    else { continue }
                    result.histogram = total
                    out.append(result)
                    continue
                case .count:
                    result.value = Double(members.count)
                    out.append(result)
                    continue
                case .group:
                    result.value = 1
                    out.append(result)
                    continue
                default:
                    info("ignored histogram in \(op.rawValue) aggregation", aggregation.position)
                    if floats.isEmpty { continue }
                }
            }
            switch op {
            case .sum:
                var k = KahanSum()
                for v in floats { k.add(v) }
                result.value = k.value
            case .avg:
                var k = KahanSum()
                for v in floats { k.add(v) }
                if k.value.isInfinite {
                    result.value = incrementalMean(floats)
                } else {
                    result.value = k.value / Double(floats.count)
                }
            case .count: result.value = Double(floats.count)
            case .group: result.value = 1
            case .min:
                var m = floats[0]
                for v in floats.dropFirst() where m.isNaN || v < m { m = v }
                result.value = m
            case .max:
                var m = floats[0]
                for v in floats.dropFirst() where m.isNaN || v > m { m = v }
                result.value = m
            case .stddev, .stdvar:
                var count = 0.0
                var mean = 0.0
                var m2 = 0.0
                for v in floats {
                    count += 1
                    let delta = v - mean
                    mean += delta / count
                    m2 += delta * (v - mean)
                }
                let variance = m2 / count
                result.value = op == .stddev ? variance.squareRoot() : variance
            case .quantile:
                result.value = quantile(parameter, floats)
            default: break
            }
            out.append(result)
        }
        return out
    }

    /// The labels of the group a series falls in (`by` keeps the grouping labels, `without` drops them and the name).
    func groupLabels(_ labels: Labels, _ aggregation: PromQLAggregation, _ groupingSet: Set<String>) -> Labels {
        if aggregation.without { return labels.removing(groupingSet.union([Labels.metricNameLabel])) }
        return labels.keeping(groupingSet)
    }

    func unwrapParentheses(_ expression: PromQLExpression) -> PromQLExpression {
        if case .parenthesized(let p) = expression { return unwrapParentheses(p.expression) }
        return expression
    }

    func sampleRatio(_ labels: Labels) -> Double {
        var hash: UInt64 = 14_695_981_039_346_656_037
        for label in labels {
            for b in label.name.utf8 { hash = (hash ^ UInt64(b)) &* 1_099_511_628_211 }
            hash = (hash ^ 0xff) &* 1_099_511_628_211
            for b in label.value.utf8 { hash = (hash ^ UInt64(b)) &* 1_099_511_628_211 }
            hash = (hash ^ 0xff) &* 1_099_511_628_211
        }
        return Double(hash) / Double(UInt64.max)
    }

    func histogramText(_ h: NativeHistogram) -> String {
        var text = "{count:\(formatGoFloat(h.count)), sum:\(formatGoFloat(h.sum))"
        for (lower, upper, count) in nativeBuckets(h) where count != 0 {
            let zero = !h.usesCustomBuckets && lower == -h.zeroThreshold && upper == h.zeroThreshold
            let open = zero || upper <= 0 ? "[" : "("
            let close = zero || lower >= 0 ? "]" : ")"
            text += ", \(open)\(formatGoFloat(lower)),\(formatGoFloat(upper))\(close):\(formatGoFloat(count))"
        }
        return text + "}"
    }
}

/// Prometheus's quantile over a set of floats (linear interpolation between closest ranks).
func quantile(_ q: Double, _ values: [Double]) -> Double {
    if values.isEmpty || q.isNaN { return .nan }
    if q < 0 { return -.infinity }
    if q > 1 { return .infinity }
    let sorted = values.sorted { a, b in
        if a.isNaN { return !b.isNaN }
        return a < b
    }
    let n = Double(sorted.count)
    let rank = q * (n - 1)
    let lower = max(0, Int(rank.rounded(.down)))
    let upper = min(sorted.count - 1, lower + 1)
    let weight = rank - rank.rounded(.down)
    return sorted[lower] * (1 - weight) + sorted[upper] * weight
}

/// The mean Prometheus falls back to when a plain sum overflows.
func incrementalMean(_ values: [Double]) -> Double {
    var mean = 0.0
    for (i, v) in values.enumerated() {
        if mean.isInfinite {
            if v.isInfinite && (mean > 0) == (v > 0) { continue }
            if !v.isInfinite && !v.isNaN { continue }
        }
        mean += v / Double(i + 1) - mean / Double(i + 1)
    }
    return mean
}
