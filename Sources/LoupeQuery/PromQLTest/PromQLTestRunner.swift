import LoupeModel

/// Series held in memory, as a promqltest script's `load` commands build them.
public struct PromQLMemoryQueryable: PromQLQueryable {
    public private(set) var series: [Labels: SeriesSamples] = [:]

    public init() {}

    public mutating func append(_ labels: Labels, float: FloatSample) {
        series[labels, default: SeriesSamples(labels: labels)].floats.append(float)
    }

    public mutating func append(_ labels: Labels, histogram: HistogramSample) {
        series[labels, default: SeriesSamples(labels: labels)].histograms.append(histogram)
    }

    /// Sorts every series' samples by time (call after appending out of order).
    public mutating func normalize() {
        for key in series.keys {
            series[key]!.floats.sort { $0.timestamp < $1.timestamp }
            series[key]!.histograms.sort { $0.timestamp < $1.timestamp }
        }
    }

    public func select(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) throws -> [SeriesSamples] {
        var out: [SeriesSamples] = []
        for (labels, samples) in series where matchers.allSatisfy({ $0.matches(labels[$0.name] ?? "") }) {
            let floats = samples.floats.filter { $0.timestamp >= minTime && $0.timestamp <= maxTime }
            let histograms = samples.histograms.filter { $0.timestamp >= minTime && $0.timestamp <= maxTime }
            if floats.isEmpty && histograms.isEmpty { continue }
            out.append(SeriesSamples(labels: labels, floats: floats, histograms: histograms))
        }
        out.sort { $0.labels < $1.labels }
        return out
    }
}

/// The outcome of running one promqltest file.
public struct PromQLTestReport: Sendable, CustomStringConvertible {
    public struct Outcome: Sendable {
        public var line: Int
        public var query: String
        public var passed: Bool
        /// Why it failed; empty when it passed.
        public var reason: String
    }

    public var file: String
    public var outcomes: [Outcome]
    /// A script that does not parse.
    public var scriptError: String?

    public var passed: Int { outcomes.filter(\.passed).count }
    public var failed: Int { outcomes.count - passed }
    public var total: Int { outcomes.count }

    public var description: String { summary(maxFailures: 5) }

    public func summary(maxFailures: Int = 5) -> String {
        var text = "\(file): \(passed)/\(total) passed, \(failed) failed"
        if let scriptError { text += "\n  script error: \(scriptError)" }
        for outcome in outcomes.filter({ !$0.passed }).prefix(maxFailures) {
            text += "\n  line \(outcome.line): \(outcome.query)\n    \(outcome.reason)"
        }
        return text
    }
}

/// Runs promqltest scripts against `PromQLEngine` and an in-memory store, or against another `PromQLTestBackend` /
/// `PromQLAsyncTestBackend` (for example a server over HTTP).
public struct PromQLTestRunner: Sendable {
    public var engine: PromQLEngine

    public init(engine: PromQLEngine = PromQLEngine()) { self.engine = engine }

    public static func run(fileText: String, file: String = "") -> PromQLTestReport {
        PromQLTestRunner().run(fileText: fileText, file: file)
    }

    public func run(fileText: String, file: String = "") -> PromQLTestReport {
        let script: PromQLTestScript
        do {
            script = try PromQLTestScript.parse(fileText)
        } catch {
            return PromQLTestReport(file: file, outcomes: [], scriptError: error.description)
        }
        return run(script: script, file: file)
    }

    public func run(script: PromQLTestScript, file: String = "") -> PromQLTestReport {
        var backend = PromQLMemoryTestBackend(engine: engine)
        return run(script: script, file: file, backend: &backend)
    }

    /// Runs a script against another backend (series stored and queries evaluated there).
    public func run<Backend: PromQLTestBackend>(script: PromQLTestScript, file: String = "", backend: inout Backend) -> PromQLTestReport {
        var outcomes: [PromQLTestReport.Outcome] = []
        for command in script.commands {
            switch command {
            case .clear:
                backend.clear()
            case .load(let load):
                backend.load(loadedSeries(load))
            case .eval(let eval):
                let outcome: Result<PromQLResult, PromQLError>
                do throws(PromQLError) {
                    switch eval.timing {
                    case .instant(let at): outcome = .success(try backend.instantQuery(eval.query, at: at))
                    case .range(let start, let end, let step):
                        outcome = .success(try backend.rangeQuery(eval.query, start: start, end: end, step: step))
                    }
                } catch {
                    outcome = .failure(error)
                }
                let reason = check(eval, outcome, comparable: backend.comparable)
                outcomes.append(.init(line: eval.line, query: eval.query, passed: reason == nil, reason: reason ?? ""))
            }
        }
        return PromQLTestReport(file: file, outcomes: outcomes)
    }

    /// Like `run(fileText:file:)`, against an asynchronous backend (for example a server over HTTP).
    public func run<Backend: PromQLAsyncTestBackend>(fileText: String, file: String = "", backend: inout Backend) async -> PromQLTestReport {
        let script: PromQLTestScript
        do {
            script = try PromQLTestScript.parse(fileText)
        } catch {
            return PromQLTestReport(file: file, outcomes: [], scriptError: error.description)
        }
        return await run(script: script, file: file, backend: &backend)
    }

    /// Runs a script against an asynchronous backend.
    public func run<Backend: PromQLAsyncTestBackend>(script: PromQLTestScript, file: String = "", backend: inout Backend) async -> PromQLTestReport {
        var outcomes: [PromQLTestReport.Outcome] = []
        for command in script.commands {
            switch command {
            case .clear:
                await backend.clear()
            case .load(let load):
                await backend.load(loadedSeries(load))
            case .eval(let eval):
                let outcome: Result<PromQLResult, PromQLError>
                do throws(PromQLError) {
                    switch eval.timing {
                    case .instant(let at): outcome = .success(try await backend.instantQuery(eval.query, at: at))
                    case .range(let start, let end, let step):
                        outcome = .success(try await backend.rangeQuery(eval.query, start: start, end: end, step: step))
                    }
                } catch {
                    outcome = .failure(error)
                }
                let reason = check(eval, outcome, comparable: backend.comparable)
                outcomes.append(.init(line: eval.line, query: eval.query, passed: reason == nil, reason: reason ?? ""))
            }
        }
        return PromQLTestReport(file: file, outcomes: outcomes)
    }

    /// The series one `load` (or `load_with_nhcb`) command writes, each series' samples in the order they were given.
    public func loadedSeries(_ load: PromQLTestScript.Load) -> [SeriesSamples] {
        var storage = PromQLMemoryQueryable()
        for description in load.series where !description.isStartTimestamps {
            var previous: NativeHistogram?
            for (i, point) in description.points.enumerated() {
                guard let point else { continue }
                let t = Int64(i) * load.interval
                switch point {
                case .float(let v):
                    storage.append(description.labels, float: FloatSample(timestamp: t, value: v))
                    previous = nil
                case .histogram(var h, let hintGiven):
                    // As the TSDB stores them: after the first sample of a chunk, a histogram that
                    // continues its predecessor is marked "not reset".
                    if !hintGiven, h.counterResetHint == .unknown, let before = previous, before.counterResetHint != .gauge,
                        !histogramIsReset(previous: before, current: h)
                    {
                        h.counterResetHint = .no
                    }
                    storage.append(description.labels, histogram: HistogramSample(timestamp: t, histogram: h))
                    previous = h
                }
            }
        }
        if load.withNHCB { loadNHCB(load, into: &storage) }
        return storage.series.values.sorted { $0.labels < $1.labels }
    }

    typealias Eval = PromQLTestScript.Eval

    /// `load_with_nhcb`: classic histograms (`_bucket` with `le`, `_count`, `_sum`) are also stored as
    /// custom-bucket native histograms under the base name.
    func loadNHCB(_ load: PromQLTestScript.Load, into storage: inout PromQLMemoryQueryable) {
        struct Group {
            var buckets: [(le: Double, points: [SeriesDescription.Point?])] = []
            var count: [SeriesDescription.Point?]?
            var sum: [SeriesDescription.Point?]?
        }
        var groups: [Labels: Group] = [:]
        for description in load.series where !description.isStartTimestamps {
            guard let name = description.labels.metricName else { continue }
            var labels = description.labels
            if name.hasSuffix("_bucket"), let leText = labels["le"], let le = Double(leText.lowercased() == "+inf" ? "inf" : leText) {
                labels.set("le", "")
                labels.set(Labels.metricNameLabel, String(name.dropLast("_bucket".count)))
                groups[labels, default: Group()].buckets.append((le, description.points))
            } else if name.hasSuffix("_count") {
                labels.set(Labels.metricNameLabel, String(name.dropLast("_count".count)))
                groups[labels, default: Group()].count = description.points
            } else if name.hasSuffix("_sum") {
                labels.set(Labels.metricNameLabel, String(name.dropLast("_sum".count)))
                groups[labels, default: Group()].sum = description.points
            }
        }
        for (labels, group) in groups where !group.buckets.isEmpty {
            let buckets = group.buckets.sorted { $0.le < $1.le }
            let length = buckets.map(\.points.count).max() ?? 0
            for i in 0..<length {
                var bounds: [Double] = []
                var counts: [Double] = []
                var stale = false
                var missing = false
                for bucket in buckets {
                    guard i < bucket.points.count, case .float(let v)? = bucket.points[i] else {
                        missing = true
                        continue
                    }
                    if StaleMarker.isStale(v) { stale = true }
                    if let last = bounds.last, last == bucket.le {
                        counts[counts.count - 1] = Swift.max(counts[counts.count - 1], v)
                        continue
                    }
                    bounds.append(bucket.le)
                    counts.append(v)
                }
                if missing && bounds.isEmpty { continue }
                let t = Int64(i) * load.interval
                if stale {
                    var h = NativeHistogram(schema: NativeHistogram.customBucketsSchema)
                    h.sum = StaleMarker.value
                    storage.append(labels, histogram: HistogramSample(timestamp: t, histogram: h))
                    continue
                }
                var histogram = NativeHistogram(schema: NativeHistogram.customBucketsSchema)
                histogram.customValues = bounds.filter { $0 != .infinity }
                var map: [Int32: Double] = [:]
                var previous = 0.0
                for (index, cumulative) in counts.enumerated() {
                    map[Int32(index)] = cumulative - previous
                    previous = cumulative
                }
                (histogram.positiveSpans, histogram.positiveBuckets) = NativeHistogram.spansAndBuckets(from: map)
                histogram.count = previous
                if let count = group.count, i < count.count, case .float(let v)? = count[i] { histogram.count = v }
                if let sum = group.sum, i < sum.count, case .float(let v)? = sum[i] { histogram.sum = v }
                storage.append(labels, histogram: HistogramSample(timestamp: t, histogram: histogram))
            }
        }
    }

    /// nil when a query's outcome is what the eval expects, else why it is not. `comparable` gives an expected
    /// histogram the form in which the backend delivers histograms.
    func check(
        _ eval: Eval, _ outcome: Result<PromQLResult, PromQLError>, comparable: (NativeHistogram) -> NativeHistogram = { $0 }
    ) -> String? {
        let result: PromQLResult
        switch outcome {
        case .success(let value): result = value
        case .failure(let error):
            for expectation in eval.expectations {
                if case .fail(let match) = expectation {
                    if matches(match, error.description) || matches(match, error.message) { return nil }
                    return "expected error \(match) but got \"\(error.description)\""
                }
            }
            return "unexpected error: \(error.description)"
        }
        if eval.expectsFailure { return "expected an error but the query succeeded" }
        if let reason = checkAnnotations(eval, result) { return reason }
        if let expected = eval.expectedString {
            guard case .string(_, let value) = result.value else { return "expected string, got \(result.value.typeName)" }
            return value == expected ? nil : "expected string \"\(expected)\", got \"\(value)\""
        }
        if let expected = eval.expectedScalar {
            guard case .scalar(_, let value) = result.value else { return "expected scalar \(expected), got \(result.value.typeName)" }
            return almostEqual(value, expected) ? nil : "expected scalar \(expected), got \(value)"
        }
        switch (eval.timing, result.value) {
        case (.instant, .vector(let samples)):
            return compareVector(samples, eval.expectedSeries, ordered: eval.isOrdered, comparable: comparable)
        case (.instant(let at), .matrix(let series)):
            let (start, _, step) = eval.expectedRangeVector ?? (at, at, 1)
            return compareMatrix(series, eval.expectedSeries, start: start, step: step, comparable: comparable)
        case (.range(let start, _, let step), .matrix(let series)):
            return compareMatrix(series, eval.expectedSeries, start: start, step: step, comparable: comparable)
        case (.instant, .scalar(_, let value)):
            if eval.expectedSeries.count == 1, eval.expectedSeries[0].labels.isEmpty, case .float(let v)?? = eval.expectedSeries[0].points.first {
                return almostEqual(value, v) ? nil : "expected \(v), got scalar \(value)"
            }
            return "unexpected scalar result \(value)"
        default:
            return "unexpected result type \(result.value.typeName)"
        }
    }

    func matches(_ match: Eval.Expectation.Match, _ text: String) -> Bool {
        switch match {
        case .any: return true
        case .exact(let expected): return expected == text
        case .regex(let pattern):
            guard let regex = try? Regex(pattern) else { return false }
            return (try? regex.firstMatch(in: text)) != nil
        }
    }

    func checkAnnotations(_ eval: Eval, _ result: PromQLResult) -> String? {
        var warnMatches: [Eval.Expectation.Match] = []
        var infoMatches: [Eval.Expectation.Match] = []
        for expectation in eval.expectations {
            switch expectation {
            case .warn(let m): warnMatches.append(m)
            case .info(let m): infoMatches.append(m)
            case .noWarn: if !result.warnings.isEmpty { return "expected no warnings, got \(result.warnings.map(\.message))" }
            case .noInfo: if !result.infos.isEmpty { return "expected no info annotations, got \(result.infos.map(\.message))" }
            default: break
            }
        }
        for (kind, expectations, actual) in [("warning", warnMatches, result.warnings), ("info", infoMatches, result.infos)] {
            if expectations.isEmpty { continue }
            if actual.isEmpty { return "expected a \(kind) annotation, got none" }
            for m in expectations where !actual.contains(where: { matches(m, $0.message) }) {
                return "expected \(kind) \(m), got \(actual.map(\.message))"
            }
            for a in actual where !expectations.contains(where: { matches($0, a.message) }) {
                return "unexpected \(kind) \"\(a.message)\""
            }
        }
        return nil
    }

    func compareVector(
        _ samples: [PromQLSample], _ expected: [SeriesDescription], ordered: Bool, comparable: (NativeHistogram) -> NativeHistogram = { $0 }
    ) -> String? {
        if samples.count != expected.count {
            return "expected \(expected.count) samples, got \(samples.count): \(samples.map { "\($0.labels) \($0.histogram.map { "\($0)" } ?? "\($0.value)")" }.prefix(6))"
        }
        for (i, description) in expected.enumerated() {
            let candidate: PromQLSample?
            if ordered {
                candidate = samples[i].labels == description.labels ? samples[i] : nil
                if candidate == nil { return "expected \(description.labels) at position \(i), got \(samples[i].labels)" }
            } else {
                candidate = samples.first { $0.labels == description.labels }
            }
            guard let sample = candidate else { return "missing series \(description.labels); got \(samples.map(\.labels).prefix(6))" }
            guard let point = description.points.first ?? nil else { return "expected series without a value: \(description.labels)" }
            if let reason = comparePoint(point, value: sample.value, histogram: sample.histogram, comparable: comparable) {
                return "\(description.labels): \(reason)"
            }
        }
        return nil
    }

    func compareMatrix(
        _ series: [PromQLSeries], _ expected: [SeriesDescription], start: Int64, step: Int64,
        comparable: (NativeHistogram) -> NativeHistogram = { $0 }
    ) -> String? {
        let nonEmpty = expected.filter { $0.points.contains { $0 != nil } }
        if series.count != nonEmpty.count {
            return "expected \(nonEmpty.count) series, got \(series.count): \(series.map(\.labels).prefix(6))"
        }
        for description in nonEmpty {
            guard let actual = series.first(where: { $0.labels == description.labels }) else {
                return "missing series \(description.labels); got \(series.map(\.labels).prefix(6))"
            }
            var expectedPoints: [(Int64, SeriesDescription.Point)] = []
            for (i, point) in description.points.enumerated() {
                if let point { expectedPoints.append((start + Int64(i) * step, point)) }
            }
            var actualPoints: [(Int64, Double, NativeHistogram?)] = actual.floats.map { ($0.timestamp, $0.value, nil) }
            actualPoints += actual.histograms.map { ($0.timestamp, 0, $0.histogram) }
            actualPoints.sort { $0.0 < $1.0 }
            if actualPoints.count != expectedPoints.count {
                return "\(description.labels): expected \(expectedPoints.count) points, got \(actualPoints.count): \(actualPoints.map { "\($0.1)@\($0.0)" }.prefix(8))"
            }
            for (e, a) in zip(expectedPoints, actualPoints) {
                if e.0 != a.0 { return "\(description.labels): expected a point at \(e.0), got one at \(a.0)" }
                if let reason = comparePoint(e.1, value: a.1, histogram: a.2, comparable: comparable) { return "\(description.labels) at \(e.0): \(reason)" }
            }
        }
        return nil
    }

    func comparePoint(
        _ point: SeriesDescription.Point, value: Double, histogram: NativeHistogram?, comparable: (NativeHistogram) -> NativeHistogram = { $0 }
    ) -> String? {
        switch point {
        case .float(let expected):
            if histogram != nil { return "expected float \(expected), got a histogram" }
            return almostEqual(value, expected) ? nil : "expected \(expected), got \(value)"
        case .histogram(let expected, let hintGiven):
            guard let histogram else { return "expected a histogram, got float \(value)" }
            return histogramsEqual(comparable(expected), histogram, checkHint: hintGiven) ? nil : "expected histogram \(expected), got \(histogram)"
        }
    }

    func histogramsEqual(_ a: NativeHistogram, _ b: NativeHistogram, checkHint: Bool) -> Bool {
        if checkHint && a.counterResetHint != b.counterResetHint { return false }
        guard a.schema == b.schema, almostEqual(a.count, b.count), almostEqual(a.sum, b.sum), almostEqual(a.zeroCount, b.zeroCount),
            a.zeroThreshold == b.zeroThreshold, a.customValues == b.customValues
        else { return false }
        func same(_ x: [Int32: Double], _ y: [Int32: Double]) -> Bool {
            let keys = Set(x.keys).union(y.keys)
            return keys.allSatisfy { almostEqual(x[$0] ?? 0, y[$0] ?? 0) }
        }
        return same(NativeHistogram.bucketMap(spans: a.positiveSpans, buckets: a.positiveBuckets),
                NativeHistogram.bucketMap(spans: b.positiveSpans, buckets: b.positiveBuckets))
            && same(NativeHistogram.bucketMap(spans: a.negativeSpans, buckets: a.negativeBuckets),
                NativeHistogram.bucketMap(spans: b.negativeSpans, buckets: b.negativeBuckets))
    }
}

/// Prometheus's almost-equal rule for test results (epsilon 1e-6); NaN equals NaN.
public func promQLAlmostEqual(_ a: Double, _ b: Double, epsilon: Double = 1e-6) -> Bool {
    if a.isNaN && b.isNaN { return true }
    if a == b { return true }
    let minNormal = Double.leastNormalMagnitude
    let absSum = abs(a) + abs(b)
    let diff = abs(a - b)
    if a == 0 || b == 0 || absSum < minNormal { return diff < epsilon * minNormal }
    return diff / min(absSum, Double.greatestFiniteMagnitude) < epsilon
}

func almostEqual(_ a: Double, _ b: Double) -> Bool { promQLAlmostEqual(a, b) }

/// Whether `current` starts over relative to `previous` (a counter reset).
func histogramIsReset(previous: NativeHistogram, current: NativeHistogram) -> Bool {
    if current.counterResetHint == .yes { return true }
    if current.count < previous.count || current.zeroCount < previous.zeroCount { return true }
    if current.usesCustomBuckets != previous.usesCustomBuckets { return true }
    if current.usesCustomBuckets && current.customValues != previous.customValues { return true }
    if current.schema > previous.schema || current.zeroThreshold < previous.zeroThreshold { return true }
    let p = NativeHistogram.bucketMap(spans: previous.positiveSpans, buckets: previous.positiveBuckets)
    let c = NativeHistogram.bucketMap(spans: current.positiveSpans, buckets: current.positiveBuckets)
    for (k, v) in p where (c[k] ?? 0) < v { return true }
    let pn = NativeHistogram.bucketMap(spans: previous.negativeSpans, buckets: previous.negativeBuckets)
    let cn = NativeHistogram.bucketMap(spans: current.negativeSpans, buckets: current.negativeBuckets)
    for (k, v) in pn where (cn[k] ?? 0) < v { return true }
    return false
}
