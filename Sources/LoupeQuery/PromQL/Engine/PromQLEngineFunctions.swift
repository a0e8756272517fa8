import LoupeModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension Evaluator {
    func unwrap(_ expression: PromQLExpression) -> PromQLExpression {
        if case .parenthesized(let p) = expression { return unwrap(p.expression) }
        return expression
    }

    /// The series and range bounds of a range-vector argument.
    func matrixArgument(_ expression: PromQLExpression, at ts: Int64) throws -> ([PromQLSeries], Int64, Int64) {
        switch unwrap(expression) {
        case .matrixSelector(let m): return try selectMatrix(m, at: ts)
        case .subquery(let s): return try evaluateSubquery(s, at: ts)
        default:
            if case .matrix(let series) = try evaluate(expression, at: ts) { return (series, ts, ts) }
            throw PromQLError(.execution, "expected range vector")
        }
    }

    func evaluateCall(_ call: PromQLCall, at ts: Int64) throws -> EvalValue {
        let name = call.function.name
        let args = call.arguments
        func scalarArg(_ i: Int) throws -> Double { try evaluateScalar(args[i], at: ts) }
        func stringArg(_ i: Int) throws -> String {
            if case .string(let s) = try evaluate(args[i], at: ts) { return s }
            throw PromQLError(.execution, "expected string")
        }
        func mapFloats(_ f: (Double) -> Double) throws -> EvalValue {
            let input = try evaluateVector(args[0], at: ts)
            var out: [PromQLSample] = []
            for var s in input where s.histogram == nil {
                s.value = f(s.value)
                s.dropName = true
                out.append(s)
            }
            return .vector(out)
        }
        switch name {
        case "abs": return try mapFloats { abs($0) }
        case "ceil": return try mapFloats { ceil($0) }
        case "floor": return try mapFloats { floor($0) }
        case "exp": return try mapFloats { exp($0) }
        case "ln": return try mapFloats { log($0) }
        case "log2": return try mapFloats { log2($0) }
        case "log10": return try mapFloats { log10($0) }
        case "sqrt": return try mapFloats { $0.squareRoot() }
        case "sin": return try mapFloats { sin($0) }
        case "cos": return try mapFloats { cos($0) }
        case "tan": return try mapFloats { tan($0) }
        case "asin": return try mapFloats { asin($0) }
        case "acos": return try mapFloats { acos($0) }
        case "atan": return try mapFloats { atan($0) }
        case "sinh": return try mapFloats { sinh($0) }
        case "cosh": return try mapFloats { cosh($0) }
        case "tanh": return try mapFloats { tanh($0) }
        case "asinh": return try mapFloats { asinh($0) }
        case "acosh": return try mapFloats { acosh($0) }
        case "atanh": return try mapFloats { atanh($0) }
        case "deg": return try mapFloats { $0 * 180 / Double.pi }
        case "rad": return try mapFloats { $0 * Double.pi / 180 }
        case "sgn": return try mapFloats { $0 > 0 ? 1 : ($0 < 0 ? -1 : $0) }
        case "round":
            let nearest = args.count > 1 ? try scalarArg(1) : 1
            let inverse = 1 / nearest
            return try mapFloats { floor($0 * inverse + 0.5) / inverse }
        case "clamp":
            let low = try scalarArg(1)
            let high = try scalarArg(2)
            if low > high { return .vector([]) }
            return try mapFloats { goMax(low, goMin(high, $0)) }
        case "clamp_min":
            let low = try scalarArg(1)
            return try mapFloats { goMax(low, $0) }
        case "clamp_max":
            let high = try scalarArg(1)
            return try mapFloats { goMin(high, $0) }
        case "time": return .scalar(Double(ts) / 1000)
        case "pi": return .scalar(Double.pi)
        case "step": return .scalar(Double(interval) / 1000)
        case "start": return .scalar(Double(start) / 1000)
        case "end": return .scalar(Double(end) / 1000)
        case "range": return .scalar(Double(end - start) / 1000)
        case "min_of", "max_of":
            var values: [Double] = []
            for i in args.indices { values.append(try scalarArg(i)) }
            return .scalar(values.dropFirst().reduce(values.first ?? .nan) { name == "min_of" ? goMin($0, $1) : goMax($0, $1) })
        case "vector":
            return .vector([PromQLSample(labels: Labels(), value: try scalarArg(0), timestamp: ts)])
        case "scalar":
            let input = try evaluateVector(args[0], at: ts).filter { $0.histogram == nil }
            if input.count == 1 { return .scalar(input[0].value) }
            return .scalar(.nan)
        case "timestamp":
            if case .vectorSelector(let vs) = unwrap(args[0]) {
                return .vector(try selectVectorTimestamps(vs, at: ts).map { var s = $0; s.dropName = true; return s })
            }
            let input = try evaluateVector(args[0], at: ts)
            return .vector(input.map { withDrop(PromQLSample(labels: $0.labels, value: Double($0.timestamp) / 1000, timestamp: ts)) })
        case "day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month", "year":
            let input: [PromQLSample]
            if args.isEmpty {
                input = [PromQLSample(labels: Labels(), value: Double(ts) / 1000, timestamp: ts)]
            } else {
                input = try evaluateVector(args[0], at: ts)
            }
            var out: [PromQLSample] = []
            for var s in input where s.histogram == nil {
                s.value = dateComponent(name, s.value)
                s.dropName = true
                out.append(s)
            }
            return .vector(out)
        case "absent":
            let input = try evaluateVector(args[0], at: ts)
            if !input.isEmpty { return .vector([]) }
            return .vector([PromQLSample(labels: absentLabels(args[0]), value: 1, timestamp: ts)])
        case "absent_over_time":
            let (series, _, _) = try matrixArgument(args[0], at: ts)
            if !series.isEmpty { return .vector([]) }
            return .vector([PromQLSample(labels: absentLabels(args[0]), value: 1, timestamp: ts)])
        case "sort", "sort_desc":
            if interval > 0 {
                warn("sort is ineffective for range queries since results are always ordered by labels", call.position)
            }
            var input = try evaluateVector(args[0], at: ts).filter { $0.histogram == nil }
            let descending = name == "sort_desc"
            input.sort { a, b in
                if a.value.isNaN { return false }
                if b.value.isNaN { return true }
                return descending ? a.value > b.value : a.value < b.value
            }
            return .vector(input)
        case "sort_by_label", "sort_by_label_desc":
            if interval > 0 {
                warn("sort is ineffective for range queries since results are always ordered by labels", call.position)
            }
            var names: [String] = []
            for i in 1..<args.count { names.append(try stringArg(i)) }
            var input = try evaluateVector(args[0], at: ts)
            let descending = name == "sort_by_label_desc"
            input.sort { a, b in
                for n in names {
                    let av = a.labels[n] ?? ""
                    let bv = b.labels[n] ?? ""
                    if av != bv { return descending ? naturalLess(bv, av) : naturalLess(av, bv) }
                }
                return descending ? b.labels < a.labels : a.labels < b.labels
            }
            return .vector(input)
        case "label_replace":
            let input = try evaluateVector(args[0], at: ts)
            let destination = try stringArg(1)
            let replacement = try stringArg(2)
            let source = try stringArg(3)
            let pattern = try stringArg(4)
            let regex: Regex<AnyRegexOutput>
            do {
                regex = try Regex("^(?s:\(pattern))$")
            } catch {
                throw PromQLError(.execution, "invalid regular expression in label_replace(): \(pattern)")
            }
            if !isValidLabelName(destination) {
                throw PromQLError(.execution, "invalid destination label name in label_replace(): \(destination)")
            }
            var out: [PromQLSample] = []
            for var s in input {
                let value = s.labels[source] ?? ""
                if let match = try? regex.wholeMatch(in: value) {
                    let expanded = expandReplacement(replacement, match)
                    s.labels.set(destination, expanded)
                    if destination == Labels.metricNameLabel { s.dropName = false }
                }
                out.append(s)
            }
            try checkDuplicates(out)
            return .vector(out)
        case "label_join":
            let input = try evaluateVector(args[0], at: ts)
            let destination = try stringArg(1)
            let separator = try stringArg(2)
            var sources: [String] = []
            for i in 3..<Swift.max(3, args.count) { sources.append(try stringArg(i)) }
            if !isValidLabelName(destination) {
                throw PromQLError(.execution, "invalid destination label name in label_join(): \(destination)")
            }
            var out: [PromQLSample] = []
            for var s in input {
                let joined = sources.map { s.labels[$0] ?? "" }.joined(separator: separator)
                s.labels.set(destination, joined)
                if destination == Labels.metricNameLabel { s.dropName = false }
                out.append(s)
            }
            try checkDuplicates(out)
            return .vector(out)
        case "histogram_quantile":
            return .vector(try histogramQuantile(try scalarArg(0), try evaluateVector(args[1], at: ts), call))
        case "histogram_quantiles":
            let input = try evaluateVector(args[0], at: ts)
            let label = try stringArg(1)
            var out: [PromQLSample] = []
            for i in 2..<args.count {
                let q = try scalarArg(i)
                for var sample in try histogramQuantile(q, input, call, quantileArgument: i, inputArgument: 0) {
                    sample.labels.set(label, q.isNaN ? "NaN" : (q.isInfinite ? (q > 0 ? "+Inf" : "-Inf") : "\(q)"))
                    out.append(sample)
                }
            }
            return .vector(out)
        case "histogram_count", "histogram_sum", "histogram_avg", "histogram_stddev", "histogram_stdvar":
            let input = try evaluateVector(args[0], at: ts)
            var out: [PromQLSample] = []
            for s in input {
                guard let h = s.histogram else { continue }
                let value: Double
                switch name {
                case "histogram_count": value = h.count
                case "histogram_sum": value = h.sum
                case "histogram_avg": value = h.sum / h.count
                default:
                    let variance = histogramVariance(h)
                    value = name == "histogram_stddev" ? variance.squareRoot() : variance
                }
                out.append(withDrop(PromQLSample(labels: s.labels, value: value, timestamp: ts)))
            }
            return .vector(out)
        case "histogram_fraction":
            let lower = try scalarArg(0)
            let upper = try scalarArg(1)
            let input = try evaluateVector(args[2], at: ts)
            var out: [PromQLSample] = []
            var groups: [Labels: [(Double, Double)]] = [:]
            var order: [Labels] = []
            for s in input {
                guard let h = s.histogram else {
                    guard let le = s.labels["le"].flatMap(parseLe) else {
                        warn("bucket label \"le\" is missing or has a malformed value of \"\(s.labels["le"] ?? "")\" for metric name \"\(s.labels.metricName ?? "")\"", call.arguments[2].position)
                        continue
                    }
                    let key = s.labels.removing(["le"])
                    if groups[key] == nil { order.append(key) }
                    groups[key, default: []].append((le, s.value))
                    continue
                }
                if h.sum.isNaN && h.count > 0 {
                    info("input to histogram_fraction has NaN observations, which are excluded from all fractions for metric name \"\(s.labels.metricName ?? "")\"", call.arguments[2].position)
                }
                out.append(withDrop(PromQLSample(labels: s.labels, value: histogramFraction(lower, upper, h), timestamp: ts)))
            }
            for key in order {
                if out.contains(where: { $0.labels == key }) {
                    warn("vector contains a mix of classic and native histograms for metric name \"\(key.metricName ?? "")\"", call.arguments[2].position)
                    out.removeAll { $0.labels == key }
                    continue
                }
                out.append(withDrop(PromQLSample(labels: key, value: classicFraction(lower, upper, groups[key]!), timestamp: ts)))
            }
            return .vector(out)
        case "info":
            return .vector(try infoFunction(call, at: ts))
        default:
            return .vector(try rangeFunction(call, at: ts))
        }
    }

    /// `info(v, {selector})`: adds the data labels of info series (target_info by default) that share v's
    /// identifying labels (instance, job).
    func infoFunction(_ call: PromQLCall, at ts: Int64) throws -> [PromQLSample] {
        let base = try evaluateVector(call.arguments[0], at: ts)
        var written: [PromQLLabelMatcher] = []
        if call.arguments.count > 1, case .vectorSelector(let vs) = unwrap(call.arguments[1]) { written = vs.matchers }
        var nameMatchers = written.filter { $0.name == Labels.metricNameLabel }
        if nameMatchers.isEmpty { nameMatchers = [PromQLLabelMatcher(name: Labels.metricNameLabel, type: .equal, value: "target_info")] }
        if !nameMatchers.contains(where: { $0.type == .equal || $0.type == .regexMatch }) {
            // Only negative name matchers: they pick among the info metrics.
            nameMatchers.append(PromQLLabelMatcher(name: Labels.metricNameLabel, type: .regexMatch, value: ".+_info"))
        }
        let dataMatchers = written.filter { $0.name != Labels.metricNameLabel }
        let infoSelector = PromQLVectorSelector(matchers: nameMatchers + dataMatchers, position: call.position)
        let infoTime = try effectiveTime(call.arguments[0], at: ts)
        if try selectVector(infoSelector, at: infoTime).contains(where: { $0.histogram != nil }) {
            throw PromQLError(.execution, "info series must be float samples, got a histogram")
        }
        // Per info metric and identity, only the most recent series counts (info series churn).
        let timed = try selectVectorTimestamps(infoSelector, at: infoTime)
        var latest: [Labels: Double] = [:]
        for info in timed {
            let key = info.labels.keeping(["__name__", "instance", "job"])
            latest[key] = Swift.max(latest[key] ?? -.infinity, info.value)
        }
        let infoSeries = timed.filter { latest[$0.labels.keeping(["__name__", "instance", "job"])] == $0.value }
        let compiledNames = try matchers(PromQLVectorSelector(matchers: nameMatchers, position: call.position))
        let compiledData = try matchers(PromQLVectorSelector(matchers: dataMatchers, position: call.position))
        let identifying = ["instance", "job"]
        let dataNames = Set(dataMatchers.map(\.name))
        var out: [PromQLSample] = []
        for sample in base {
            if compiledNames.allSatisfy({ $0.matches(sample.labels.metricName ?? "") }) {
                out.append(sample)
                continue
            }
            let candidates = infoSeries.filter { info in
                identifying.allSatisfy { info.labels[$0] == nil || info.labels[$0] == sample.labels[$0] }
            }
            if candidates.isEmpty {
                if compiledData.allSatisfy(\.matchesEmpty) { out.append(sample) }
                continue
            }
            var result = sample
            for info in candidates {
                for label in info.labels where label.name != Labels.metricNameLabel && !identifying.contains(label.name) {
                    if !dataNames.isEmpty && !dataNames.contains(label.name) { continue }
                    if sample.labels[label.name] != nil { continue }
                    if let existing = result.labels[label.name], existing != label.value {
                        throw PromQLError(.execution, "conflicting label: \(label.name)")
                    }
                    result.labels.set(label.name, label.value)
                }
            }
            out.append(result)
        }
        return out
    }

    /// The time the data of an expression comes from, after `@` and `offset`.
    func effectiveTime(_ expression: PromQLExpression, at ts: Int64) throws -> Int64 {
        switch unwrap(expression) {
        case .vectorSelector(let vs): return atTime(vs.at, default: ts) - (try duration(vs.offset, allowNegative: true))
        case .matrixSelector(let m):
            return atTime(m.vectorSelector.at, default: ts) - (try duration(m.vectorSelector.offset, allowNegative: true))
        case .subquery(let sq):
            let end = atTime(sq.at, default: ts) - (try duration(sq.offset, allowNegative: true))
            return try effectiveTime(sq.expression, at: end)
        case .call(let c) where !c.arguments.isEmpty:
            let index = c.arguments.firstIndex { $0.valueType == .matrix || $0.valueType == .vector } ?? 0
            return try effectiveTime(c.arguments[index], at: ts)
        default: return ts
        }
    }

    func withDrop(_ sample: PromQLSample) -> PromQLSample {
        var s = sample
        s.dropName = true
        return s
    }

    func absentLabels(_ expression: PromQLExpression) -> Labels {
        let selector: PromQLVectorSelector
        switch unwrap(expression) {
        case .vectorSelector(let vs): selector = vs
        case .matrixSelector(let m): selector = m.vectorSelector
        default: return Labels()
        }
        var labels = Labels()
        var seen: [String: Int] = [:]
        for m in selector.matchers { seen[m.name, default: 0] += 1 }
        for m in selector.matchers where m.type == .equal && m.name != Labels.metricNameLabel && seen[m.name] == 1 {
            labels.set(m.name, m.value)
        }
        return labels
    }

    func isValidLabelName(_ name: String) -> Bool {
        !name.isEmpty && !name.unicodeScalars.contains("\u{FFFD}")
    }

    func expandReplacement(_ template: String, _ match: Regex<AnyRegexOutput>.Match) -> String {
        let chars = Array(template)
        var out = ""
        var i = 0
        while i < chars.count {
            let c = chars[i]
            guard c == "$", i + 1 < chars.count else {
                out.append(c)
                i += 1
                continue
            }
            if chars[i + 1] == "$" {
                out.append("$")
                i += 2
                continue
            }
            var name = ""
            if chars[i + 1] == "{" {
                guard let close = chars[(i + 2)...].firstIndex(of: "}") else {
                    out.append(c)
                    i += 1
                    continue
                }
                name = String(chars[(i + 2)..<close])
                i = close + 1
            } else {
                var j = i + 1
                while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" { j += 1 }
                if j == i + 1 {
                    out.append(c)
                    i += 1
                    continue
                }
                name = String(chars[(i + 1)..<j])
                i = j
            }
            if let number = Int(name) {
                if number < match.output.count, let sub = match.output[number].substring { out += sub }
            } else if let group = match.output[name], let sub = group.substring {
                out += sub
            }
        }
        return out
    }

    // MARK: - Range functions

    func rangeFunction(_ call: PromQLCall, at ts: Int64) throws -> [PromQLSample] {
        let name = call.function.name
        for argument in call.arguments {
            guard case .matrixSelector(let m) = unwrap(argument) else { continue }
            if m.vectorSelector.anchored {
                guard PromQLFunction.anchoredSafeFunctionNames.contains(name) else {
                    throw PromQLError(
                        .execution,
                        "anchored modifier can only be used with: \(PromQLFunction.anchoredSafeFunctionNames.sorted().joined(separator: ", ")) - not with \(name)")
                }
                return try extendedRangeFunction(name, m, anchored: true, at: ts)
            }
            if m.vectorSelector.smoothed {
                guard PromQLFunction.smoothedSafeFunctionNames.contains(name) else {
                    throw PromQLError(
                        .execution,
                        "smoothed modifier can only be used with: \(PromQLFunction.smoothedSafeFunctionNames.sorted().joined(separator: ", ")) - not with \(name)")
                }
                return try extendedRangeFunction(name, m, anchored: false, at: ts)
            }
        }
        var scalarParameters: [Double] = []
        var matrixIndex = 0
        for (i, argument) in call.arguments.enumerated() {
            if argument.valueType == .matrix { matrixIndex = i } else { scalarParameters.append(try evaluateScalar(argument, at: ts)) }
        }
        let (series, rangeStart, rangeEnd) = try matrixArgument(call.arguments[matrixIndex], at: ts)
        let keepName = name == "last_over_time" || name == "first_over_time"
        if name == "double_exponential_smoothing" {
            let sf = scalarParameters[0]
            let tf = scalarParameters[1]
            if sf <= 0 || sf >= 1 { throw PromQLError(.execution, "invalid smoothing factor. Expected: 0 < sf < 1, got: \(formatGoFloat(sf))") }
            if tf <= 0 || tf >= 1 { throw PromQLError(.execution, "invalid trend factor. Expected: 0 < tf < 1, got: \(formatGoFloat(tf))") }
        }
        if name == "quantile_over_time" {
            let q = scalarParameters[0]
            if q.isNaN || q < 0 || q > 1 {
                warn("quantile value should be between 0 and 1, got \(formatGoFloat(q))", call.arguments[0].position)
            }
        }
        let floatOnly: Set<String> = [
            "deriv", "predict_linear", "double_exponential_smoothing", "stddev_over_time", "stdvar_over_time", "mad_over_time",
            "quantile_over_time", "min_over_time", "max_over_time", "ts_of_min_over_time", "ts_of_max_over_time",
        ]
        let isFloatOnly = floatOnly.contains(name)
        var out: [PromQLSample] = []
        out.reserveCapacity(series.count)
        for s in series {
            let f = s.floats
            let hs = s.histograms
            if isFloatOnly && !hs.isEmpty && !f.isEmpty {
                info("ignored histograms in a range containing both floats and histograms for metric name \"\(s.labels.metricName ?? "")\"", call.arguments[matrixIndex].position)
            }
            var result = PromQLSample(labels: s.labels, timestamp: ts)
            result.dropName = !keepName
            switch name {
            case "rate", "increase", "delta":
                if !hs.isEmpty && !f.isEmpty {
                    warn("encountered a mix of histograms and floats for metric name \"\(s.labels.metricName ?? "")\"", call.arguments[matrixIndex].position)
                    continue
                }
                if !hs.isEmpty {
                    if name == "delta" && hs.contains(where: { $0.histogram.counterResetHint != .gauge }) {
                        warn("this native histogram metric is not a gauge: \"\(s.labels.metricName ?? "")\"", call.arguments[matrixIndex].position)
                    } else if name != "delta" && hs.contains(where: { $0.histogram.counterResetHint == .gauge }) {
                        warn("this native histogram metric is not a counter: \"\(s.labels.metricName ?? "")\"", call.arguments[matrixIndex].position)
                    }
                    guard let h = histogramRate(
                        hs, rangeStart, rangeEnd, isCounter: name != "delta", isRate: name == "rate", metricName: s.labels.metricName ?? "",
                        position: call.arguments[matrixIndex].position)
                    else { continue }
                    result.histogram = h
                } else {
                    guard let v = floatWindowValue(name, f, rangeStart: rangeStart, rangeEnd: rangeEnd) else { continue }
                    if name != "delta", let metric = s.labels.metricName, !isCounterName(metric) {
                        info("metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"\(metric)\"", call.arguments[matrixIndex].position)
                    }
                    result.value = v
                }
            case "irate", "idelta":
                let lastHistograms = Array(hs.suffix(2))
                let lastFloats = Array(f.suffix(2))
                let histogramsLast = lastHistograms.count == 2 && (lastFloats.last.map { $0.timestamp < lastHistograms[0].timestamp } ?? true)
                let floatsLast = lastFloats.count == 2 && (lastHistograms.last.map { $0.timestamp < lastFloats[0].timestamp } ?? true)
                if histogramsLast {
                    let last = lastHistograms[1]
                    let previous = lastHistograms[0]
                    let typeChange = last.histogram.usesCustomBuckets != previous.histogram.usesCustomBuckets
                    let position = call.arguments[matrixIndex].position
                    if typeChange && name == "idelta" {
                        warn("vector contains a mix of histograms with exponential and custom buckets schemas for metric name \"\(s.labels.metricName ?? "")\"", position)
                        continue
                    }
                    if !typeChange && last.histogram.usesCustomBuckets && last.histogram.customValues != previous.histogram.customValues
                        && (name == "idelta" || !histogramReset(previous: previous.histogram, current: last.histogram))
                    {
                        info("mismatched custom buckets were reconciled during subtraction", position)
                    }
                    var h: NativeHistogram
                    if name == "irate" {
                        if last.histogram.counterResetHint == .gauge || previous.histogram.counterResetHint == .gauge {
                            warn("this native histogram metric is not a counter: \"\(s.labels.metricName ?? "")\"", position)
                        }
                        if typeChange || histogramReset(previous: previous.histogram, current: last.histogram) {
                            h = last.histogram
                        } else {
                            guard let difference = last.histogram.combined(with: previous.histogram, sign: -1) else { continue }
                            h = difference
                        }
                        h = h.scaled(1000 / Double(last.timestamp - previous.timestamp))
                    } else {
                        if last.histogram.counterResetHint != .gauge || previous.histogram.counterResetHint != .gauge {
                            warn("this native histogram metric is not a gauge: \"\(s.labels.metricName ?? "")\"", position)
                        }
                        guard let difference = last.histogram.combined(with: previous.histogram, sign: -1) else { continue }
                        h = difference
                    }
                    h.counterResetHint = .gauge
                    result.histogram = h
                    break
                }
                if !floatsLast {
                    if f.count + hs.count >= 2 {
                        warn("encountered a mix of histograms and floats for metric name \"\(s.labels.metricName ?? "")\"", call.arguments[matrixIndex].position)
                    }
                    continue
                }
                guard let value = floatWindowValue(name, f, rangeStart: rangeStart, rangeEnd: rangeEnd) else { continue }
                result.value = value
            case "changes", "resets":
                if f.isEmpty && hs.isEmpty { continue }
                var count = 0.0
                if !f.isEmpty && !hs.isEmpty {
                    // Switches between floats and histograms count as changes (and resets).
                    var kinds = f.map { ($0.timestamp, true) } + hs.map { ($0.timestamp, false) }
                    kinds.sort { $0.0 < $1.0 }
                    for i in kinds.indices.dropFirst() where kinds[i].1 != kinds[i - 1].1 { count += 1 }
                }
                count += floatWindowValue(name, f, rangeStart: rangeStart, rangeEnd: rangeEnd) ?? 0
                if hs.count > 1 {
                    for i in 1..<hs.count {
                        let a = hs[i - 1].histogram
                        let b = hs[i].histogram
                        if name == "changes" {
                            if !histogramsEquivalent(a, b) { count += 1 }
                        } else if histogramReset(previous: a, current: b) {
                            count += 1
                        }
                    }
                }
                result.value = count
            case "deriv":
                guard let value = floatWindowValue(name, f, rangeStart: rangeStart, rangeEnd: rangeEnd) else { continue }
                result.value = value
            case "predict_linear":
                guard f.count >= 2 else { continue }
                let (slope, intercept) = f.withUnsafeBufferPointer { linearRegression($0, interceptTime: ts) }
                result.value = slope * scalarParameters[0] + intercept
            case "double_exponential_smoothing":
                guard f.count >= 2 else { continue }
                let sf = scalarParameters[0]
                let tf = scalarParameters[1]
                var s0 = 0.0
                var s1 = f[0].value
                var b = f[1].value - f[0].value
                for i in 1..<f.count {
                    let x = sf * f[i].value
                    if i > 1 { b = tf * (s1 - s0) + (1 - tf) * b }
                    let y = (1 - sf) * (s1 + b)
                    s0 = s1
                    s1 = x + y
                }
                result.value = s1
            case "count_over_time":
                if f.isEmpty && hs.isEmpty { continue }
                result.value = Double(f.count + hs.count)
            case "present_over_time":
                if f.isEmpty && hs.isEmpty { continue }
                result.value = 1
            case "last_over_time", "first_over_time", "ts_of_last_over_time", "ts_of_first_over_time":
                let last = name.contains("last")
                let fp = last ? f.last : f.first
                let hp = last ? hs.last : hs.first
                var useHistogram = false
                if let hp {
                    if let fp { useHistogram = last ? hp.timestamp > fp.timestamp : hp.timestamp < fp.timestamp } else { useHistogram = true }
                }
                if fp == nil && hp == nil { continue }
                if name.hasPrefix("ts_of") {
                    result.value = Double(useHistogram ? hp!.timestamp : fp!.timestamp) / 1000
                } else if useHistogram {
                    result.histogram = hp!.histogram
                } else {
                    result.value = fp!.value
                }
            case "sum_over_time", "avg_over_time":
                if !hs.isEmpty {
                    if !f.isEmpty {
                        warn("encountered a mix of histograms and floats for metric name \"\(s.labels.metricName ?? "")\"", call.position)
                        continue
                    }
                    guard let total = sumHistograms(
                        hs.map(\.histogram), position: call.arguments[matrixIndex].position, metricName: s.labels.metricName ?? "",
                        aggregation: true, average: name == "avg_over_time")
                    else { continue }
                    result.histogram = total
                    break
                }
                guard let value = floatWindowValue(name, f, rangeStart: rangeStart, rangeEnd: rangeEnd) else { continue }
                result.value = value
            case "min_over_time", "max_over_time", "ts_of_min_over_time", "ts_of_max_over_time":
                guard let value = floatWindowValue(name, f, rangeStart: rangeStart, rangeEnd: rangeEnd) else { continue }
                result.value = value
            case "stddev_over_time", "stdvar_over_time":
                guard let value = floatWindowValue(name, f, rangeStart: rangeStart, rangeEnd: rangeEnd) else { continue }
                result.value = value
            case "quantile_over_time":
                if f.isEmpty { continue }
                result.value = quantile(scalarParameters[0], f.map(\.value))
            case "mad_over_time":
                if f.isEmpty { continue }
                let values = f.map(\.value)
                if values.contains(where: \.isNaN) {
                    result.value = .nan
                    break
                }
                let median = quantile(0.5, values)
                result.value = quantile(0.5, values.map { abs($0 - median) })
            default:
                throw PromQLError(.execution, "function \"\(name)\" is not supported")
            }
            out.append(result)
        }
        return out
    }

    func histogramsEquivalent(_ a: NativeHistogram, _ b: NativeHistogram) -> Bool {
        var x = a
        var y = b
        x.counterResetHint = .unknown
        y.counterResetHint = .unknown
        x.isIntegerCounts = false
        y.isIntegerCounts = false
        return x == y
    }

    /// Whether `current` is a counter reset relative to `previous`.
    func histogramReset(previous: NativeHistogram, current: NativeHistogram) -> Bool {
        if current.counterResetHint == .yes { return true }
        if current.count < previous.count { return true }
        if current.schema > previous.schema || current.zeroThreshold < previous.zeroThreshold { return true }
        if current.zeroCount < previous.zeroCount { return true }
        let p = NativeHistogram.bucketMap(spans: previous.positiveSpans, buckets: previous.positiveBuckets)
        let c = NativeHistogram.bucketMap(spans: current.positiveSpans, buckets: current.positiveBuckets)
        for (k, v) in p where (c[k] ?? 0) < v { return true }
        let pn = NativeHistogram.bucketMap(spans: previous.negativeSpans, buckets: previous.negativeBuckets)
        let cn = NativeHistogram.bucketMap(spans: current.negativeSpans, buckets: current.negativeBuckets)
        for (k, v) in pn where (cn[k] ?? 0) < v { return true }
        return false
    }

    /// `rate`, `increase`, `delta`, `changes` and `resets` over `anchored` or `smoothed` range selectors: no
    /// extrapolation; the range is anchored on the last sample at or before its start (anchored) or its
    /// boundary values are interpolated between the neighbouring samples (smoothed).
    func extendedRangeFunction(_ name: String, _ selector: PromQLMatrixSelector, anchored: Bool, at ts: Int64) throws -> [PromQLSample] {
        let vs = selector.vectorSelector
        let end = atTime(vs.at, default: ts) - (try duration(vs.offset, allowNegative: true))
        let range = try duration(selector.range, allowNegative: false)
        let start = end - range
        let lookback = options.lookbackDelta
        let all = try fetch(vs, minTime: start - lookback + 1, maxTime: anchored ? end : end + lookback)
        var out: [PromQLSample] = []
        let isCounter = name != "delta"
        for series in all {
            let samples = series.floats.filter { !StaleMarker.isStale($0.value) }
            let histograms = series.histograms.filter { !StaleMarker.isStale($0.histogram.sum) }
            try addSamples(samples.count + histograms.count)
            if !histograms.isEmpty {
                if !samples.isEmpty {
                    if name == "changes" || name == "resets" {
                        // Mixed floats and histograms: switches between them count, like changes within a kind.
                        var kinds: [(Int64, Double?, NativeHistogram?)] = samples.map { ($0.timestamp, $0.value, nil) }
                            + histograms.map { ($0.timestamp, nil, $0.histogram) }
                        kinds.sort { $0.0 < $1.0 }
                        var kept = kinds.filter { $0.0 > start && $0.0 <= end }
                        if kept.isEmpty { continue }
                        if let anchor = kinds.last(where: { $0.0 <= start }) { kept.insert(anchor, at: 0) }
                        var count = 0.0
                        for i in kept.indices.dropFirst() {
                            switch (kept[i - 1].1, kept[i].1, kept[i - 1].2, kept[i].2) {
                            case (let a?, let b?, _, _):
                                if name == "changes" ? (a != b && !(a.isNaN && b.isNaN)) : b < a { count += 1 }
                            case (_, _, let a?, let b?):
                                if name == "changes" ? !histogramsEquivalent(a, b) : valueReset(a, b) { count += 1 }
                            default:
                                count += 1
                            }
                        }
                        var result = PromQLSample(labels: series.labels, value: count, timestamp: ts)
                        result.dropName = true
                        out.append(result)
                        continue
                    }
                    warn("encountered a mix of histograms and floats for metric name \"\(series.labels.metricName ?? "")\"", selector.position)
                    continue
                }
                if let result = extendedHistogramFunction(name, histograms, series.labels, start: start, end: end, range: range, anchored: anchored, at: ts, position: selector.position) {
                    out.append(result)
                }
                continue
            }
            var points: [FloatSample]
            let inside = samples.filter { $0.timestamp > start && $0.timestamp <= end }
            if anchored {
                if inside.isEmpty { continue }
                points = inside
                if let anchor = samples.last(where: { $0.timestamp <= start }) { points.insert(anchor, at: 0) }
            } else {
                guard samples.contains(where: { $0.timestamp <= end }), samples.contains(where: { $0.timestamp >= start }),
                    let startValue = interpolate(samples, at: start, counter: isCounter),
                    let endValue = interpolate(samples, at: end, counter: isCounter)
                else { continue }
                points = [FloatSample(timestamp: start, value: startValue)] + inside.filter { $0.timestamp < end }
                    + [FloatSample(timestamp: end, value: endValue)]
            }
            var result = PromQLSample(labels: series.labels, timestamp: ts)
            result.dropName = true
            switch name {
            case "changes", "resets":
                var count = 0.0
                for i in points.indices.dropFirst() {
                    let a = points[i - 1].value
                    let b = points[i].value
                    if name == "changes" ? (a != b && !(a.isNaN && b.isNaN)) : b < a { count += 1 }
                }
                result.value = count
            default:
                var value = points[points.count - 1].value - points[0].value
                if isCounter {
                    for i in points.indices.dropFirst() where points[i].value < points[i - 1].value { value += points[i - 1].value }
                }
                if name == "rate" { value /= Double(range) / 1000 }
                result.value = value
            }
            out.append(result)
        }
        return out
    }

    func extendedHistogramFunction(
        _ name: String, _ samples: [HistogramSample], _ labels: Labels, start: Int64, end: Int64, range: Int64, anchored: Bool, at ts: Int64,
        position: PromQLError.Position
    ) -> PromQLSample? {
        let isCounter = name != "delta"
        let inside = samples.filter { $0.timestamp > start && $0.timestamp <= end }
        var points: [NativeHistogram]
        if anchored {
            if inside.isEmpty { return nil }
            points = inside.map(\.histogram)
            if let anchor = samples.last(where: { $0.timestamp <= start }) { points.insert(anchor.histogram, at: 0) }
        } else {
            guard samples.contains(where: { $0.timestamp <= end }), samples.contains(where: { $0.timestamp >= start }),
                let first = interpolateHistogram(samples, at: start, counter: isCounter),
                let last = interpolateHistogram(samples, at: end, counter: isCounter)
            else { return nil }
            points = [first] + inside.filter { $0.timestamp < end }.map(\.histogram) + [last]
        }
        var result = PromQLSample(labels: labels, timestamp: ts)
        result.dropName = true
        if name == "delta" && samples.contains(where: { $0.histogram.counterResetHint != .gauge }) {
            warn("this native histogram metric is not a gauge: \"\(labels.metricName ?? "")\"", position)
        } else if (name == "rate" || name == "increase") && samples.contains(where: { $0.histogram.counterResetHint == .gauge }) {
            warn("this native histogram metric is not a counter: \"\(labels.metricName ?? "")\"", position)
        }
        switch name {
        case "changes", "resets":
            var count = 0.0
            for i in points.indices.dropFirst() {
                if name == "changes" ? !histogramsEquivalent(points[i - 1], points[i]) : valueReset(points[i - 1], points[i]) {
                    count += 1
                }
            }
            result.value = count
        default:
            if points.contains(where: { $0.usesCustomBuckets }) && points.contains(where: { !$0.usesCustomBuckets }) {
                warn("vector contains a mix of histograms with exponential and custom buckets schemas for metric name \"\(labels.metricName ?? "")\"", position)
                return nil
            }
            guard var value = points[points.count - 1].combined(with: points[0], sign: -1) else { return nil }
            if isCounter {
                for i in points.indices.dropFirst() where valueReset(points[i - 1], points[i]) {
                    if let next = value.combined(with: points[i - 1], sign: 1) { value = next }
                }
            }
            if name == "rate" { value = value.scaled(1000 / Double(range)) }
            value.counterResetHint = .gauge
            result.histogram = value
        }
        return result
    }

    /// A histogram at `t` interpolated between its neighbours (from zero across a counter reset).
    func interpolateHistogram(_ samples: [HistogramSample], at t: Int64, counter: Bool) -> NativeHistogram? {
        let before = samples.last { $0.timestamp <= t }
        let after = samples.first { $0.timestamp > t }
        switch (before, after) {
        case (let b?, let a?):
            if b.timestamp == t { return b.histogram }
            if b.histogram.usesCustomBuckets != a.histogram.usesCustomBuckets { return nil }
            let fraction = Double(t - b.timestamp) / Double(a.timestamp - b.timestamp)
            let reset = counter && valueReset(b.histogram, a.histogram)
            let upper = a.histogram.scaled(fraction)
            if reset { return upper }
            return b.histogram.scaled(1 - fraction).combined(with: upper, sign: 1) ?? b.histogram
        case (let b?, nil): return b.histogram
        case (nil, let a?): return a.histogram
        default: return nil
        }
    }

    /// A counter reset judged by the values alone (interpolated histograms keep their neighbour's hint).
    func valueReset(_ previous: NativeHistogram, _ current: NativeHistogram) -> Bool {
        var p = previous
        var c = current
        p.counterResetHint = .unknown
        c.counterResetHint = .unknown
        return histogramReset(previous: p, current: c)
    }

    /// The value at `t` interpolated linearly between the samples around it, or the nearest sample's.
    func interpolate(_ samples: [FloatSample], at t: Int64, counter: Bool = false) -> Double? {
        let before = samples.last { $0.timestamp <= t }
        let after = samples.first { $0.timestamp > t }
        switch (before, after) {
        case (let b?, let a?):
            if b.timestamp == t { return b.value }
            // Across a counter reset the counter restarted from zero.
            let from = counter && a.value < b.value ? 0 : b.value
            return from + (a.value - from) * Double(t - b.timestamp) / Double(a.timestamp - b.timestamp)
        case (let b?, nil): return b.value
        case (nil, let a?): return a.value
        default: return nil
        }
    }

    func isCounterName(_ name: String) -> Bool {
        name.hasSuffix("_total") || name.hasSuffix("_sum") || name.hasSuffix("_count") || name.hasSuffix("_bucket")
    }

    func extrapolatedRate(_ samples: UnsafeBufferPointer<FloatSample>, _ rangeStart: Int64, _ rangeEnd: Int64, isCounter: Bool, isRate: Bool) -> Double? {
        guard samples.count >= 2 else { return nil }
        let first = samples[0]
        let last = samples[samples.count - 1]
        var result = last.value - first.value
        if isCounter {
            var previous = first.value
            for s in samples.dropFirst() {
                if s.value < previous { result += previous }
                previous = s.value
            }
        }
        var durationToStart = Double(first.timestamp - rangeStart) / 1000
        var durationToEnd = Double(rangeEnd - last.timestamp) / 1000
        let sampledInterval = Double(last.timestamp - first.timestamp) / 1000
        let average = sampledInterval / Double(samples.count - 1)
        let threshold = average * 1.1
        if durationToStart >= threshold { durationToStart = average / 2 }
        if isCounter && result > 0 && first.value >= 0 {
            let durationToZero = sampledInterval * (first.value / result)
            if durationToZero < durationToStart { durationToStart = durationToZero }
        }
        if durationToEnd >= threshold { durationToEnd = average / 2 }
        var factor = (sampledInterval + durationToStart + durationToEnd) / sampledInterval
        if isRate { factor /= Double(rangeEnd - rangeStart) / 1000 }
        return result * factor
    }

    func histogramRate(
        _ samples: [HistogramSample], _ rangeStart: Int64, _ rangeEnd: Int64, isCounter: Bool, isRate: Bool, metricName: String = "",
        position: PromQLError.Position? = nil
    ) -> NativeHistogram? {
        guard samples.count >= 2 else { return nil }
        let first = samples[0]
        let last = samples[samples.count - 1]
        func mixWarning() -> NativeHistogram? {
            if let position {
                warn("vector contains a mix of histograms with exponential and custom buckets schemas for metric name \"\(metricName)\"", position)
            }
            return nil
        }
        func isReset(_ previous: NativeHistogram, _ current: NativeHistogram) -> Bool {
            if previous.usesCustomBuckets != current.usesCustomBuckets { return true }
            return histogramReset(previous: previous, current: current)
        }
        var result = last.histogram
        if !isCounter {
            if let position, first.histogram.usesCustomBuckets, last.histogram.usesCustomBuckets,
                first.histogram.customValues != last.histogram.customValues
            {
                info("mismatched custom buckets were reconciled during subtraction", position)
            }
            guard let difference = last.histogram.combined(with: first.histogram, sign: -1) else { return mixWarning() }
            result = difference
        } else {
            // last − first + the value before every reset; a reset right after the first sample cancels it out.
            let resetAfterFirst = isReset(first.histogram, samples[1].histogram)
            if !resetAfterFirst {
                guard let difference = result.combined(with: first.histogram, sign: -1) else { return mixWarning() }
                result = difference
            }
            for i in samples.indices.dropFirst(2) where isReset(samples[i - 1].histogram, samples[i].histogram) {
                guard let next = result.combined(with: samples[i - 1].histogram, sign: 1) else { return mixWarning() }
                result = next
            }
        }
        var durationToStart = Double(first.timestamp - rangeStart) / 1000
        var durationToEnd = Double(rangeEnd - last.timestamp) / 1000
        let sampledInterval = Double(last.timestamp - first.timestamp) / 1000
        let average = sampledInterval / Double(samples.count - 1)
        let threshold = average * 1.1
        if durationToStart >= threshold { durationToStart = average / 2 }
        if isCounter && result.count > 0 && first.histogram.count >= 0 {
            let durationToZero = sampledInterval * (first.histogram.count / result.count)
            if durationToZero < durationToStart { durationToStart = durationToZero }
        }
        if durationToEnd >= threshold { durationToEnd = average / 2 }
        var factor = (sampledInterval + durationToStart + durationToEnd) / sampledInterval
        if isRate { factor /= Double(rangeEnd - rangeStart) / 1000 }
        var scaled = result.scaled(factor)
        scaled.counterResetHint = .gauge
        return scaled
    }

    func linearRegression(_ samples: UnsafeBufferPointer<FloatSample>, interceptTime: Int64) -> (slope: Double, intercept: Double) {
        var n = 0.0
        var sumX = KahanSum()
        var sumY = KahanSum()
        var sumXY = KahanSum()
        var sumX2 = KahanSum()
        let initY = samples[0].value
        var constY = true
        for (i, s) in samples.enumerated() {
            if constY && i > 0 && s.value != initY { constY = false }
            n += 1
            let x = Double(s.timestamp - interceptTime) / 1000
            sumX.add(x)
            sumY.add(s.value)
            sumXY.add(x * s.value)
            sumX2.add(x * x)
        }
        if constY {
            if initY.isInfinite { return (.nan, .nan) }
            return (0, initY)
        }
        let covXY = sumXY.value - sumX.value * sumY.value / n
        let varX = sumX2.value - sumX.value * sumX.value / n
        let slope = covXY / varX
        let intercept = sumY.value / n - slope * sumX.value / n
        return (slope, intercept)
    }

    func dateComponent(_ name: String, _ seconds: Double) -> Double {
        if seconds.isNaN || seconds.isInfinite { return seconds }
        let total = Int64(seconds.rounded(.down))
        var days = total / 86400
        var secondsOfDay = total % 86400
        if secondsOfDay < 0 {
            secondsOfDay += 86400
            days -= 1
        }
        // Civil date from days since 1970-01-01.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        var year = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        if month <= 2 { year += 1 }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        switch name {
        case "day_of_month": return Double(day)
        case "day_of_week": return Double(((days % 7) + 11) % 7)
        case "day_of_year":
            let cumulative = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]
            return Double(cumulative[Int(month) - 1] + Int(day) + (leap && month > 2 ? 1 : 0))
        case "days_in_month":
            let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
            return Double(lengths[Int(month) - 1])
        case "hour": return Double(secondsOfDay / 3600)
        case "minute": return Double((secondsOfDay % 3600) / 60)
        case "month": return Double(month)
        default: return Double(year)
        }
    }

    // MARK: - Histograms

    func histogramQuantile(_ q: Double, _ input: [PromQLSample], _ call: PromQLCall, quantileArgument: Int = 0, inputArgument: Int = 1) throws
        -> [PromQLSample]
    {
        if q.isNaN || q < 0 || q > 1 {
            warn("quantile value should be between 0 and 1, got \(formatGoFloat(q))", call.arguments[quantileArgument].position)
        }
        var out: [PromQLSample] = []
        var groups: [Labels: [(Double, Double)]] = [:]
        var order: [Labels] = []
        for s in input {
            if let h = s.histogram {
                let value = nativeQuantile(q, h)
                if h.sum.isNaN && h.count > 0 {
                    info("input to histogram_quantile has NaN observations, result is \(value.isNaN ? "NaN" : "skewed higher") for metric name \"\(s.labels.metricName ?? "")\"", call.arguments[inputArgument].position)
                }
                out.append(withDrop(PromQLSample(labels: s.labels, value: value, timestamp: s.timestamp)))
                continue
            }
            guard let leText = s.labels["le"], let le = parseLe(leText) else {
                warn("bucket label \"le\" is missing or has a malformed value of \"\(s.labels["le"] ?? "")\" for metric name \"\(s.labels.metricName ?? "")\"", call.arguments[inputArgument].position)
                continue
            }
            let key = s.labels.removing(["le"])
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append((le, s.value))
        }
        let timestamp = input.first?.timestamp ?? 0
        for key in order {
            if out.contains(where: { $0.labels == key }) {
                warn("vector contains a mix of classic and native histograms for metric name \"\(key.metricName ?? "")\"", call.arguments[inputArgument].position)
                out.removeAll { $0.labels == key }
                continue
            }
            let (value, forced) = bucketQuantile(q, groups[key]!)
            if forced {
                info("input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name \"\(key.metricName ?? "")\"", call.arguments[inputArgument].position)
            }
            out.append(withDrop(PromQLSample(labels: key, value: value, timestamp: timestamp)))
        }
        return out
    }

    func parseLe(_ text: String) -> Double? {
        switch text.lowercased() {
        case "+inf", "inf": return .infinity
        case "-inf": return -.infinity
        case "nan": return .nan
        default: return Double(text)
        }
    }

    func bucketQuantile(_ q: Double, _ input: [(Double, Double)]) -> (Double, Bool) {
        if q.isNaN { return (.nan, false) }
        if q < 0 { return (-.infinity, false) }
        if q > 1 { return (.infinity, false) }
        var buckets = input.sorted { $0.0 < $1.0 }
        guard let last = buckets.last, last.0 == .infinity else { return (.nan, false) }
        // Coalesce equal upper bounds.
        var merged: [(Double, Double)] = []
        for b in buckets {
            if let l = merged.last, l.0 == b.0 { merged[merged.count - 1].1 += b.1 } else { merged.append(b) }
        }
        buckets = merged
        var forced = false
        var maximum = -Double.infinity
        for i in buckets.indices {
            if buckets[i].1 > maximum { maximum = buckets[i].1 } else if buckets[i].1 < maximum {
                forced = true
                buckets[i].1 = maximum
            }
        }
        if buckets.count < 2 { return (.nan, forced) }
        let observations = buckets[buckets.count - 1].1
        if observations == 0 || observations.isNaN { return (.nan, forced) }
        var rank = q * observations
        var b = buckets.firstIndex { $0.1 >= rank } ?? buckets.count - 1
        if b == buckets.count - 1 { return (buckets[buckets.count - 2].0, forced) }
        if b == 0 && buckets[0].0 <= 0 { return (buckets[0].0, forced) }
        var bucketStart = 0.0
        let bucketEnd = buckets[b].0
        var count = buckets[b].1
        if b > 0 {
            bucketStart = buckets[b - 1].0
            count -= buckets[b - 1].1
            rank -= buckets[b - 1].1
        }
        b = 0
        return (bucketStart + (bucketEnd - bucketStart) * (rank / count), forced)
    }

    /// The buckets of a native histogram in ascending order: (lower, upper, count).
    func nativeBuckets(_ h: NativeHistogram) -> [(Double, Double, Double)] {
        var result: [(Double, Double, Double)] = []
        let custom = h.usesCustomBuckets
        func bounds(_ index: Int32) -> (Double, Double) {
            if custom {
                let i = Int(index)
                let upper = i < h.customValues.count ? h.customValues[i] : .infinity
                let lower = i == 0 ? -Double.infinity : (i - 1 < h.customValues.count ? h.customValues[i - 1] : .infinity)
                return (lower, upper)
            }
            let upper = pow(2, Double(index) * pow(2, -Double(h.schema)))
            let lower = pow(2, Double(index - 1) * pow(2, -Double(h.schema)))
            return (lower, upper)
        }
        let negative = NativeHistogram.bucketMap(spans: h.negativeSpans, buckets: h.negativeBuckets)
        for index in negative.keys.sorted(by: >) {
            let (lower, upper) = bounds(index)
            result.append((-upper, -lower, negative[index]!))
        }
        if !custom && (h.zeroCount > 0 || h.zeroThreshold > 0) {
            result.append((-h.zeroThreshold, h.zeroThreshold, h.zeroCount))
        }
        let positive = NativeHistogram.bucketMap(spans: h.positiveSpans, buckets: h.positiveBuckets)
        for index in positive.keys.sorted() {
            let (lower, upper) = bounds(index)
            result.append((lower, upper, positive[index]!))
        }
        return result
    }

    func nativeQuantile(_ q: Double, _ h: NativeHistogram) -> Double {
        if q.isNaN { return .nan }
        if q < 0 { return -.infinity }
        if q > 1 { return .infinity }
        if h.count == 0 { return .nan }
        let buckets = nativeBuckets(h)
        var rank = q * h.count
        var count = 0.0
        var chosen: (Double, Double, Double)?
        let populated = buckets.filter { $0.2 > 0 }
        for (i, b) in populated.enumerated() {
            count += b.2
            chosen = b
            if count >= rank {
                // A rank exactly at the end of a bucket lands on the lower bound of the next populated one.
                if count == rank && q < 1 && i + 1 < populated.count && populated[i + 1].0 > b.1 { return populated[i + 1].0 }
                break
            }
        }
        // Observations outside every bucket (NaN) lie above the rank.
        if h.sum.isNaN && count < rank { return .nan }
        guard var (lower, upper, bucketCount) = chosen else { return .nan }
        let hasNegative = !h.negativeBuckets.isEmpty
        let hasPositive = !h.positiveBuckets.isEmpty
        if lower < 0 && upper > 0 {
            if !hasNegative && hasPositive { lower = 0 } else if !hasPositive && hasNegative { upper = 0 }
        }
        if lower == -.infinity {
            if upper <= 0 { return upper }
            lower = 0
        }
        if upper == .infinity { return lower }
        rank -= count - bucketCount
        let zeroBucket = lower <= 0 && upper >= 0
        if h.usesCustomBuckets || zeroBucket {
            return lower + (upper - lower) * (rank / bucketCount)
        }
        if lower > 0 {
            let logLower = log2(lower)
            let logUpper = log2(upper)
            return exp2(logLower + (logUpper - logLower) * (rank / bucketCount))
        }
        let logLower = log2(-lower)
        let logUpper = log2(-upper)
        let fraction = 1 - rank / bucketCount
        bucketCount = 0
        return -exp2(logUpper + (logLower - logUpper) * fraction)
    }

    func histogramVariance(_ h: NativeHistogram) -> Double {
        if h.count == 0 { return .nan }
        let mean = h.sum / h.count
        var variance = KahanSum()
        for (lower, upper, count) in nativeBuckets(h) where count > 0 {
            var value: Double
            if lower <= 0 && upper >= 0 && !h.usesCustomBuckets {
                value = 0
            } else if h.usesCustomBuckets {
                value = (lower.isInfinite ? upper : (upper.isInfinite ? lower : (lower + upper) / 2))
            } else {
                value = (lower * upper).squareRoot()
                if lower < 0 { value = -value }
            }
            let delta = value - mean
            variance.add(count * delta * delta)
        }
        return variance.value / h.count
    }

    func histogramFraction(_ lowerLimit: Double, _ upperLimit: Double, _ h: NativeHistogram) -> Double {
        if h.count == 0 || lowerLimit.isNaN || upperLimit.isNaN { return .nan }
        var buckets = nativeBuckets(h)
        let hasNegative = h.negativeBuckets.contains { $0 != 0 }
        let hasPositive = h.positiveBuckets.contains { $0 != 0 }
        for i in buckets.indices {
            var (lower, upper, count) = buckets[i]
            if !h.usesCustomBuckets && lower < 0 && upper > 0 {
                if !hasNegative { lower = 0 } else if !hasPositive { upper = 0 }
            }
            if h.usesCustomBuckets && lower == -.infinity && upper > 0 { lower = 0 }
            buckets[i] = (lower, upper, count)
        }
        return bucketsFraction(lowerLimit, upperLimit, buckets, exponential: !h.usesCustomBuckets, zeroThreshold: h.zeroThreshold) / h.count
    }

    /// The number of observations between the limits, interpolating inside buckets.
    func bucketsFraction(_ lowerLimit: Double, _ upperLimit: Double, _ buckets: [(Double, Double, Double)], exponential: Bool, zeroThreshold: Double)
        -> Double
    {
        if lowerLimit >= upperLimit { return 0 }
        var rank = 0.0
        for (lower, upper, count) in buckets where count != 0 {
            if upperLimit <= lower || lowerLimit >= upper {
                continue
            }
            if (lowerLimit <= lower && upperLimit >= upper) || (upper == .infinity && upperLimit == .infinity)
                || (lower == -.infinity && lowerLimit == -.infinity)
            {
                rank += count
                continue
            }
            if lower.isInfinite || upper.isInfinite { continue }
            let isZeroBucket = exponential && lower >= -zeroThreshold && upper <= zeroThreshold
            let logScale = exponential && !isZeroBucket && (lower > 0 || upper < 0)
            func position(_ v: Double) -> Double {
                if v <= lower { return 0 }
                if v >= upper { return 1 }
                if logScale {
                    if lower > 0 { return (log2(v) - log2(lower)) / (log2(upper) - log2(lower)) }
                    return 1 - (log2(-v) - log2(-upper)) / (log2(-lower) - log2(-upper))
                }
                return (v - lower) / (upper - lower)
            }
            rank += count * (position(upperLimit) - position(lowerLimit))
        }
        return rank
    }

    func classicFraction(_ lowerLimit: Double, _ upperLimit: Double, _ cumulative: [(Double, Double)]) -> Double {
        let sorted = cumulative.sorted { $0.0 < $1.0 }
        guard let last = sorted.last, last.0 == .infinity, last.1 > 0 else { return .nan }
        var buckets: [(Double, Double, Double)] = []
        var previousUpper = -Double.infinity
        var previousCount = 0.0
        for (i, (upper, count)) in sorted.enumerated() {
            var lower = previousUpper
            if i == 0 && upper > 0 { lower = 0 }
            buckets.append((lower, upper, count - previousCount))
            previousUpper = upper
            previousCount = count
        }
        return bucketsFraction(lowerLimit, upperLimit, buckets, exponential: false, zeroThreshold: 0) / last.1
    }

}

/// Natural ordering of strings with embedded numbers, used by sort_by_label.
func naturalLess(_ a: String, _ b: String) -> Bool {
    let x = Array(a.unicodeScalars)
    let y = Array(b.unicodeScalars)
    var i = 0
    var j = 0
    while i < x.count && j < y.count {
        let cx = x[i]
        let cy = y[j]
        if cx.properties.numericType != nil && ("0"..."9").contains(cx) && ("0"..."9").contains(cy) {
            var ei = i
            while ei < x.count && ("0"..."9").contains(x[ei]) { ei += 1 }
            var ej = j
            while ej < y.count && ("0"..."9").contains(y[ej]) { ej += 1 }
            let nx = String(String.UnicodeScalarView(x[i..<ei]))
            let ny = String(String.UnicodeScalarView(y[j..<ej]))
            let tx = nx.drop { $0 == "0" }
            let ty = ny.drop { $0 == "0" }
            if tx.count != ty.count { return tx.count < ty.count }
            if tx != ty { return tx < ty }
            i = ei
            j = ej
            continue
        }
        if cx != cy { return cx.value < cy.value }
        i += 1
        j += 1
    }
    return x.count - i < y.count - j
}
