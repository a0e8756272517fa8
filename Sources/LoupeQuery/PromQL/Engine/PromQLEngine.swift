import LoupeModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Evaluates PromQL expressions against a `PromQLQueryable`, with Prometheus 3 semantics.
/// Range queries are evaluated step by step.
public struct PromQLEngine: Sendable {
    public struct Options: Sendable {
        public var lookbackDelta: Int64
        public var maxSamples: Int
        public var timeout: Duration
        /// The step of subqueries written without one (`[5m:]`), in milliseconds.
        public var defaultSubqueryStep: Int64
        public var parserOptions: PromQLParser.Options
        /// About how many samples a range query reads from storage at once; larger selections are
        /// read a shard of their series at a time so memory stays bounded.
        public var rangeFetchSamples: Int
        /// A range query first reads one shard in this many of a selector's series to estimate how
        /// many samples the whole selection holds.
        public var rangeProbeShards: Int
        /// LogQL's arithmetic: `x / 0` and `x % 0` are NaN (PromQL's are ±Inf and NaN).
        public var zeroDivisorIsNaN = false

        public init(
            lookbackDelta: Int64 = 5 * 60 * 1000, maxSamples: Int = 50_000_000, timeout: Duration = .seconds(120),
            defaultSubqueryStep: Int64 = 60 * 1000, parserOptions: PromQLParser.Options = .init(), rangeFetchSamples: Int = 4_000_000,
            rangeProbeShards: Int = 64
        ) {
            self.rangeProbeShards = max(1, rangeProbeShards)
            self.lookbackDelta = lookbackDelta
            self.maxSamples = maxSamples
            self.timeout = timeout
            self.defaultSubqueryStep = defaultSubqueryStep
            self.parserOptions = parserOptions
            self.rangeFetchSamples = max(1, rangeFetchSamples)
        }
    }

    public var options: Options

    public init(options: Options = Options()) { self.options = options }

    public func instantQuery(_ query: String, at time: Int64, queryable: some PromQLQueryable) throws(PromQLError) -> PromQLResult {
        let expression = try PromQLParser.parse(query, options: options.parserOptions)
        return try instantQuery(expression, at: time, queryable: queryable, text: query)
    }

    public func rangeQuery(_ query: String, start: Int64, end: Int64, step: Int64, queryable: some PromQLQueryable) throws(PromQLError)
        -> PromQLResult
    {
        let expression = try PromQLParser.parse(query, options: options.parserOptions)
        return try rangeQuery(expression, start: start, end: end, step: step, queryable: queryable, text: query)
    }

    public func instantQuery(_ expression: PromQLExpression, at time: Int64, queryable: some PromQLQueryable, text: String = "")
        throws(PromQLError) -> PromQLResult
    {
        let evaluator = Evaluator(
            options: options, queryable: queryable, start: time, end: time, interval: 0, text: text)
        do {
            evaluator.stepKeysUnique = Evaluator.stepKeysAreUnique(expression)
            let value = try evaluator.evaluate(expression, at: time)
            let result: PromQLValue
            switch value {
            case .scalar(let v): result = .scalar(timestamp: time, value: v)
            case .string(let s): result = .string(timestamp: time, value: s)
            case .vector(let samples):
                result = .vector(try evaluator.cleanup(samples))
            case .matrix(let series): result = .matrix(series)
            }
            return PromQLResult(value: result, annotations: evaluator.annotations)
        } catch let error as PromQLError {
            throw error
        } catch {
            throw PromQLError(.execution, "\(error)")
        }
    }

    public func rangeQuery(
        _ expression: PromQLExpression, start: Int64, end: Int64, step: Int64, queryable: some PromQLQueryable, text: String = ""
    ) throws(PromQLError) -> PromQLResult {
        guard step > 0 else { throw PromQLError(.execution, "zero or negative query resolution step widths are not accepted. Try a positive integer") }
        guard end >= start else { throw PromQLError(.execution, "end timestamp must not be before start time") }
        switch expression.valueType {
        case .scalar, .vector: break
        default:
            throw PromQLError(
                .invalidRequest, "invalid expression type \"\(expression.valueType.documentedName)\" for range query, must be Scalar or instant Vector")
        }
        let cached = RangeSelectCache(base: queryable, span: end - start)
        let evaluator = Evaluator(
            options: options, queryable: cached, storage: queryable, start: start, end: end, interval: step, text: text)
        do {
            let grid = StepGrid(start: start, end: end, step: step)
            evaluator.evaluationGrid = grid
            evaluator.stepSampleCounts = Array(repeating: 0, count: grid.count)
            evaluator.stepKeysUnique = Evaluator.stepKeysAreUnique(expression)
            try evaluator.prepareSteps(expression, grid: grid)
            if let root = evaluator.stepValues[StepNodeKey(expression)]?.value {
                for count in evaluator.stepSampleCounts {
                    evaluator.resetStep()
                    try evaluator.addSamples(count)
                }
                return PromQLResult(value: .matrix(try evaluator.stepMatrix(root, grid: grid)), annotations: evaluator.annotations)
            }
            var accumulator = SeriesAccumulator()
            var t = start
            var stepIndex = 0
            while t <= end {
                try evaluator.checkTimeout()
                evaluator.resetStep()
                try evaluator.addSamples(evaluator.stepSampleCounts[stepIndex])
                stepIndex += 1
                let value = try evaluator.evaluate(expression, at: t)
                let samples: [PromQLSample]
                switch value {
                case .scalar(let v): samples = [PromQLSample(labels: Labels(), value: v, timestamp: t)]
                case .vector(let v): samples = v
                default: throw PromQLError(.execution, "unexpected value type in range query")
                }
                accumulator.add(try evaluator.cleanup(samples), at: t)
                t += step
            }
            let series = accumulator.sorted
            return PromQLResult(value: .matrix(series), annotations: evaluator.annotations)
        } catch let error as PromQLError {
            throw error
        } catch {
            throw PromQLError(.execution, "\(error)")
        }
    }
}

/// Internal value while evaluating.
enum EvalValue {
    case scalar(Double)
    case string(String)
    case vector([PromQLSample])
    case matrix([PromQLSeries])
}


final class Evaluator {
    let options: PromQLEngine.Options
    let queryable: any PromQLQueryable
    /// Storage without the range select cache (series-by-series evaluation fetches its own slices).
    let storage: any PromQLQueryable
    let start: Int64
    let end: Int64
    /// The query step (0 for instant queries).
    let interval: Int64
    let text: String
    var annotations: [PromQLAnnotation] = []
    var annotationSet: Set<PromQLAnnotation> = []
    var samplesInStep = 0
    /// The steps the current `evaluate` calls belong to (the query's, or a subquery's while its inner expression is evaluated).
    var evaluationGrid: StepGrid?
    /// Nodes computed series by series, subquery results per grid, and the samples they read per step.
    var stepValues: [StepNodeKey: StepGridValue] = [:]
    var subqueryPoints: [StepNodeKey: SubqueryPoints] = [:]
    /// Whether node keys identify nodes in this query (always, for parsed queries).
    var stepKeysUnique = false
    var stepFallbacks: Set<StepNodeKey> = []
    var stepSampleCounts: [Int] = []
    let clock = ContinuousClock()
    let startedAt: ContinuousClock.Instant

    init(
        options: PromQLEngine.Options, queryable: any PromQLQueryable, storage: (any PromQLQueryable)? = nil, start: Int64, end: Int64,
        interval: Int64, text: String
    ) {
        self.options = options
        self.queryable = queryable
        self.storage = storage ?? queryable
        self.start = start
        self.end = end
        self.interval = interval
        self.text = text
        startedAt = clock.now
    }

    func resetStep() { samplesInStep = 0 }

    func checkTimeout() throws {
        if clock.now - startedAt > options.timeout { throw PromQLError(.timeout, "query timed out in query execution") }
    }

    func addSamples(_ count: Int) throws {
        samplesInStep += count
        if samplesInStep > options.maxSamples {
            throw PromQLError(.tooManySamples, "query processing would load too many samples into memory in query execution")
        }
    }

    func lineColumn(_ position: PromQLError.Position) -> String {
        var line = 1
        var column = 1
        for (offset, byte) in text.utf8.enumerated() where offset < position.start {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return "\(line):\(column)"
    }

    func warn(_ message: String, _ position: PromQLError.Position) {
        add(PromQLAnnotation(kind: .warning, message: "PromQL warning: \(message) (\(lineColumn(position)))"))
    }

    func info(_ message: String, _ position: PromQLError.Position) {
        add(PromQLAnnotation(kind: .info, message: "PromQL info: \(message) (\(lineColumn(position)))"))
    }

    private func add(_ annotation: PromQLAnnotation) {
        if annotationSet.insert(annotation).inserted { annotations.append(annotation) }
    }

    /// The labels a sample will have once the query finishes.
    func effectiveLabels(_ sample: PromQLSample) -> Labels {
        sample.dropName ? dropName(sample.labels) : sample.labels
    }

    /// Applies delayed name removal and checks that no two samples share a label set.
    func cleanup(_ samples: [PromQLSample]) throws -> [PromQLSample] {
        try checkDuplicates(samples)
        return samples.map { sample in
            var s = sample
            if s.dropName {
                s.labels = dropName(s.labels)
                s.dropName = false
            }
            return s
        }
    }

    func checkDuplicates(_ samples: [PromQLSample]) throws {
        if samples.count < 2 { return }
        var seen = Set<Labels>(minimumCapacity: samples.count)
        for sample in samples where !seen.insert(effectiveLabels(sample)).inserted {
            throw PromQLError(.execution, "vector cannot contain metrics with the same labelset")
        }
    }

    // MARK: - Durations

    func duration(_ spec: PromQLDurationSpec?, allowNegative: Bool) throws -> Int64 {
        guard let spec else { return 0 }
        let step = PromQLDuration(milliseconds: interval)
        let range = PromQLDuration(milliseconds: end - start)
        return try spec.resolve(step: step, range: range, allowNegative: allowNegative).milliseconds
    }

    func atTime(_ at: PromQLAtModifier?, default ts: Int64) -> Int64 {
        switch at {
        case nil: return ts
        case .timestamp(let ms): return ms
        case .start: return start
        case .end: return end
        }
    }

    // MARK: - Evaluation

    func evaluate(_ expression: PromQLExpression, at ts: Int64) throws -> EvalValue {
        if !stepValues.isEmpty, let cached = stepValues[StepNodeKey(expression)], let index = cached.grid.index(of: ts) {
            return stepColumn(cached.value, at: index, time: ts)
        }
        switch expression {
        case .number(let literal): return .scalar(literal.value)
        case .string(let literal): return .string(literal.value)
        case .parenthesized(let paren): return try evaluate(paren.expression, at: ts)
        case .vectorSelector(let selector): return .vector(try selectVector(selector, at: ts))
        case .matrixSelector(let selector):
            let (series, _, _) = try selectMatrix(selector, at: ts)
            return .matrix(series)
        case .subquery(let subquery):
            let (series, _, _) = try evaluateSubquery(subquery, at: ts)
            return .matrix(series)
        case .unary(let unary):
            let value = try evaluate(unary.operand, at: ts)
            if unary.op == .plus { return value }
            switch value {
            case .scalar(let v): return .scalar(-v)
            case .vector(let samples):
                return .vector(samples.map { sample in
                    var s = sample
                    s.dropName = true
                    if let h = s.histogram {
                        var negated = h.scaled(-1)
                        negated.counterResetHint = .gauge
                        s.histogram = negated
                    } else {
                        s.value = -s.value
                    }
                    return s
                })
            default: throw PromQLError(.execution, "unary minus on unsupported type")
            }
        case .binary(let binary): return try evaluateBinary(binary, at: ts)
        case .aggregation(let aggregation): return .vector(try evaluateAggregation(aggregation, at: ts))
        case .call(let call): return try evaluateCall(call, at: ts)
        }
    }

    func matchers(_ selector: PromQLVectorSelector) throws -> [LabelMatcher] {
        var result: [LabelMatcher] = []
        for matcher in selector.matchers {
            let kind: LabelMatcher.Kind
            switch matcher.type {
            case .equal: kind = .equal
            case .notEqual: kind = .notEqual
            case .regexMatch: kind = .regexMatch
            case .regexNoMatch: kind = .regexNoMatch
            }
            do {
                result.append(try LabelMatcher(matcher.name, kind, matcher.value))
            } catch {
                throw PromQLError(.execution, error.description)
            }
        }
        return result
    }

    /// The instant vector of a selector at `ts` (before `@` and offset).
    func selectVector(_ selector: PromQLVectorSelector, at ts: Int64) throws -> [PromQLSample] {
        let refTime = atTime(selector.at, default: ts) - (try duration(selector.offset, allowNegative: true))
        let lookback = options.lookbackDelta
        if selector.smoothed {
            var out: [PromQLSample] = []
            for series in try fetch(selector, minTime: refTime - lookback + 1, maxTime: refTime + lookback) {
                let samples = series.floats.filter { !StaleMarker.isStale($0.value) }
                let histograms = series.histograms.filter { !StaleMarker.isStale($0.histogram.sum) }
                if !histograms.isEmpty && !samples.isEmpty {
                    warn("encountered a mix of histograms and floats for metric name \"\(series.labels.metricName ?? "")\"", selector.position)
                    continue
                }
                if !histograms.isEmpty {
                    guard histograms.contains(where: { $0.timestamp <= refTime }) else { continue }
                    guard let h = interpolateHistogram(
                            histograms, at: refTime, counter: !histograms.contains { $0.histogram.counterResetHint == .gauge })
                    else {
                        warn("vector contains a mix of histograms with exponential and custom buckets schemas for metric name \"\(series.labels.metricName ?? "")\"", selector.position)
                        continue
                    }
                    out.append(PromQLSample(labels: series.labels, histogram: h, timestamp: ts))
                    continue
                }
                guard samples.contains(where: { $0.timestamp <= refTime }), let value = interpolate(samples, at: refTime) else { continue }
                out.append(PromQLSample(labels: series.labels, value: value, timestamp: ts))
            }
            try addSamples(out.count)
            return out
        }
        let all = try fetch(selector, minTime: refTime - lookback + 1, maxTime: refTime, newestOnly: true)
        var out: [PromQLSample] = []
        for series in all {
            let lastFloat = series.floats.last
            let lastHistogram = series.histograms.last
            var sample: PromQLSample?
            if let f = lastFloat, lastHistogram == nil || f.timestamp >= lastHistogram!.timestamp {
                if !StaleMarker.isStale(f.value) {
                    sample = PromQLSample(labels: series.labels, value: f.value, timestamp: f.timestamp)
                }
            } else if let h = lastHistogram {
                if !StaleMarker.isStale(h.histogram.sum) {
                    sample = PromQLSample(labels: series.labels, histogram: h.histogram, timestamp: h.timestamp)
                }
            }
            if var sample {
                // The output time is the evaluation time; `timestamp()` reads the sample's own time.
                sample.timestamp = ts
                out.append(sample)
            }
        }
        try addSamples(out.count)
        return out
    }

    /// Raw sample timestamps of a vector selector (for `timestamp()`).
    func selectVectorTimestamps(_ selector: PromQLVectorSelector, at ts: Int64) throws -> [PromQLSample] {
        let refTime = atTime(selector.at, default: ts) - (try duration(selector.offset, allowNegative: true))
        let all = try fetch(selector, minTime: refTime - options.lookbackDelta + 1, maxTime: refTime, newestOnly: true)
        var out: [PromQLSample] = []
        for series in all {
            let f = series.floats.last
            let h = series.histograms.last
            if let f, h == nil || f.timestamp >= h!.timestamp {
                if !StaleMarker.isStale(f.value) {
                    out.append(PromQLSample(labels: series.labels, value: Double(f.timestamp) / 1000, timestamp: ts))
                }
            } else if let h {
                if !StaleMarker.isStale(h.histogram.sum) {
                    out.append(PromQLSample(labels: series.labels, value: Double(h.timestamp) / 1000, timestamp: ts))
                }
            }
        }
        return out
    }

    /// `newestOnly`: each series' newest sample in the range is all the caller reads.
    func fetch(_ selector: PromQLVectorSelector, minTime: Int64, maxTime: Int64, newestOnly: Bool = false) throws -> [SeriesSamples] {
        let matchers = try matchers(selector)
        do {
            if newestOnly { return try queryable.selectNewest(matchers, minTime: minTime, maxTime: maxTime) }
            return try queryable.select(matchers, minTime: minTime, maxTime: maxTime)
        } catch let error as PromQLError {
            throw error
        } catch {
            throw PromQLError(.execution, "\(error)")
        }
    }

    /// A range selector's series in `(ref - range, ref]`, stale markers removed; returns the range bounds too.
    func selectMatrix(_ selector: PromQLMatrixSelector, at ts: Int64) throws -> ([PromQLSeries], Int64, Int64) {
        let vs = selector.vectorSelector
        let refTime = atTime(vs.at, default: ts) - (try duration(vs.offset, allowNegative: true))
        let range = try duration(selector.range, allowNegative: false)
        let all = try fetch(vs, minTime: refTime - range + 1, maxTime: refTime)
        var out: [PromQLSeries] = []
        var count = 0
        for series in all {
            // Copied only when there is a marker to drop: a copy per series was a tenth of an
            // instant `rate` over twenty thousand series.
            var floats = series.floats
            if floats.contains(where: { StaleMarker.isStale($0.value) }) { floats.removeAll { StaleMarker.isStale($0.value) } }
            var histograms = series.histograms
            if histograms.contains(where: { StaleMarker.isStale($0.histogram.sum) }) {
                histograms.removeAll { StaleMarker.isStale($0.histogram.sum) }
            }
            if floats.isEmpty && histograms.isEmpty { continue }
            count += floats.count + histograms.count
            out.append(PromQLSeries(labels: series.labels, floats: floats, histograms: histograms))
        }
        try addSamples(count)
        return (out, refTime - range, refTime)
    }

    func dropName(_ labels: Labels) -> Labels {
        labels.contains { nameLabels.contains($0.name) } ? labels.removing(nameLabels) : labels
    }

    func evaluateScalar(_ expression: PromQLExpression, at ts: Int64) throws -> Double {
        switch try evaluate(expression, at: ts) {
        case .scalar(let v): return v
        default: throw PromQLError(.execution, "expected scalar")
        }
    }

    func evaluateVector(_ expression: PromQLExpression, at ts: Int64) throws -> [PromQLSample] {
        switch try evaluate(expression, at: ts) {
        case .vector(let v): return v
        case .scalar(let v): return [PromQLSample(labels: Labels(), value: v, timestamp: ts)]
        default: throw PromQLError(.execution, "expected instant vector")
        }
    }
}

// MARK: - Float helpers

struct KahanSum {
    var sum: Double = 0
    var c: Double = 0

    mutating func add(_ inc: Double) {
        let t = sum + inc
        if t.isInfinite {
            c = 0
        } else if abs(sum) >= abs(inc) {
            c += (sum - t) + inc
        } else {
            c += (inc - t) + sum
        }
        sum = t
    }

    var value: Double { sum.isInfinite ? sum : sum + c }
}

/// Go's strconv.FormatFloat(f, 'f', -1, 64) for the values PromQL labels carry (negative zero
/// keeps its sign, as in Go).
public func formatGoFloat(_ value: Double) -> String {
    if value.isNaN { return "NaN" }
    if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
    if value == 0 { return value.sign == .minus ? "-0" : "0" }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    var text = value.description
    // Swift's shortest form is Go's unless it has an exponent (or ends in ".0"). Scanned as
    // contiguous bytes: the generic UTF8View scan cost more than the formatting (JSON of range queries).
    let (hasExponent, endsInPointZero) = text.withUTF8 { bytes in
        (
            bytes.contains { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") },
            bytes.count > 2 && bytes[bytes.count - 1] == UInt8(ascii: "0") && bytes[bytes.count - 2] == UInt8(ascii: ".")
        )
    }
    if !hasExponent { return endsInPointZero ? String(text.utf8.dropLast(2))! : text }
    if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        // Expand exponent notation.
        let mantissa = String(text[..<e])
        let exponent = Int(text[text.index(after: e)...]) ?? 0
        let negative = mantissa.hasPrefix("-")
        var digits = mantissa.replacingOccurrences("-", "")
        var pointIndex = digits.firstIndex(of: ".").map { digits.distance(from: digits.startIndex, to: $0) } ?? digits.count
        digits = digits.replacingOccurrences(".", "")
        pointIndex += exponent
        if pointIndex <= 0 {
            digits = String(repeating: "0", count: -pointIndex + 1) + digits
            pointIndex = 1
        } else if pointIndex >= digits.count {
            digits += String(repeating: "0", count: pointIndex - digits.count)
        }
        var result = String(digits.prefix(pointIndex))
        let fraction = String(digits.dropFirst(pointIndex))
        if !fraction.isEmpty && fraction.contains(where: { $0 != "0" }) {
            var trimmed = fraction
            while trimmed.hasSuffix("0") { trimmed.removeLast() }
            result += "." + trimmed
        }
        text = (negative ? "-" : "") + result
    }
    if text.hasSuffix(".0") { text.removeLast(2) }
    return text
}

extension String {
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        var out = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            out += rest[..<range.lowerBound]
            out += replacement
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}

/// The metric name and the type and unit labels that go with it.
let nameLabels: Set<String> = [Labels.metricNameLabel, "__type__", "__unit__"]
