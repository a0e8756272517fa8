import Dispatch
import LoupeModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Evaluates one range aggregation (`count_over_time(...)`, `sum_over_time(... | unwrap v [1m])`)
/// at every step of a grid: selects the streams once for the whole grid, runs the pipeline on
/// each entry once, and then computes each step's window `(t - offset - range, t - offset]` over
/// the resulting samples.
struct LogQLRangeEvaluator {
    /// One output series: its labels and a value per grid step (nil: no point at that step).
    struct Series {
        var labels: Labels
        var values: [Double?]
    }

    let aggregation: LogQLRangeAggregation
    /// Step times, nanoseconds, ascending.
    let grid: [Int64]
    /// Labels each sample is reduced to right away (see `LogQLToPromQL.Leaf`); nil keeps them all.
    var reduction: LogQLGrouping? = nil

    func evaluate(_ queryable: some LogQLQueryable, limits: LogQLEngine.Options) throws(LogQLError) -> [Series] {
        let logRange = aggregation.range
        let range = logRange.range
        let offset = logRange.offset
        guard let first = grid.first, let last = grid.last else { return [] }
        // Parser hints: under `sum by (...)` only the grouping labels (and what unwrap reads) matter.
        var requiredLabels: Set<String>?
        if let reduction, !reduction.without, !(aggregation.grouping?.without ?? false) {
            var names = Set(reduction.labels).union(aggregation.grouping?.labels ?? [])
            if let unwrap = logRange.unwrap {
                names.insert(unwrap.label)
                for filter in unwrap.filters { names.formUnion(filter.labelNames) }
            }
            requiredLabels = names
        }
        let pipeline = try LogQLPipeline(logRange.selector.stages, requiredLabels: requiredLabels)
        var unwrapFilters: [CompiledLabelFilter] = []
        for filter in logRange.unwrap?.filters ?? [] { unwrapFilters.append(try CompiledLabelFilter(filter)) }

        let streams: [LogQLStream]
        do {
            streams = try queryable.select(
                logRange.selector.matchers, start: first - offset - range + 1, end: last - offset,
                hints: LogQLSelectionHints(lineFilters: LogQLPipeline.leadingLineFilters(logRange.selector.stages)))
        } catch let error as LogQLError {
            throw error
        } catch {
            throw LogQLError(.execution, "reading logs: \(error)")
        }

        // The pipeline runs on every entry: on both cores, over contiguous slices of the streams,
        // merged in stream order so the result is the sequential one.
        let slices = Self.slices(of: streams, count: Self.activeCores)
        var partials = [Result<[Labels: [(timestamp: Int64, value: Double)]], LogQLError>](repeating: .success([:]), count: slices.count)
        let unwrapFiltersCopy = unwrapFilters
        partials.withUnsafeMutableBufferPointer { buffer in
            let results = DisjointSlots(buffer)
            DispatchQueue.concurrentPerform(iterations: slices.count) { index in
                results[index] = Result { () throws(LogQLError) in
                    try samples(of: streams[slices[index]], pipeline: pipeline, unwrapFilters: unwrapFiltersCopy)
                }
            }
        }
        var samplesByLabels: [Labels: [(timestamp: Int64, value: Double)]] = [:]
        for partial in partials {
            let part = try partial.get()
            if samplesByLabels.isEmpty {
                samplesByLabels = part
                continue
            }
            for (labels, samples) in part { samplesByLabels[labels, default: []].append(contentsOf: samples) }
        }
        for labels in samplesByLabels.keys {
            if let kind = labels[LogQLLabelsBuilder.errorLabel] { throw Self.pipelineError(kind: kind, labels: labels) }
        }

        if aggregation.operation == .absentOverTime {
            return absent(samplesByLabels, range: range, offset: offset)
        }

        // Grouping (`by`/`without` on the unwrapped aggregations) merges series before the window function.
        var grouped: [Labels: [(timestamp: Int64, value: Double)]] = [:]
        if let grouping = aggregation.grouping {
            let names = Set(grouping.labels)
            for (labels, samples) in samplesByLabels {
                let key = grouping.without ? labels.removing(names) : labels.keeping(names)
                grouped[key, default: []].append(contentsOf: samples)
            }
        } else {
            grouped = samplesByLabels
        }
        if grouped.count > limits.maxSeries {
            throw LogQLError(.limit, "maximum number of series (\(limits.maxSeries)) reached for a single query")
        }

        var result: [Series] = []
        result.reserveCapacity(grouped.count)
        for (labels, unsorted) in grouped {
            // Streams merged into one series interleave in time.
            let samples = unsorted.sorted { $0.timestamp < $1.timestamp }
            var values = [Double?](repeating: nil, count: grid.count)
            var any = false
            for (index, time) in grid.enumerated() {
                let windowEnd = time - offset
                let windowStart = windowEnd - range
                let lower = Self.firstIndex(in: samples, after: windowStart)
                let upper = Self.firstIndex(in: samples, after: windowEnd)
                guard lower < upper else { continue }
                values[index] = compute(samples[lower..<upper], windowStart: windowStart, windowEnd: windowEnd)
                if values[index] != nil { any = true }
            }
            if any { result.append(Series(labels: labels, values: values)) }
        }
        return result
    }

    /// Runs the pipeline on the entries of `streams`: samples per output label set (reduced to the
    /// grouping labels when there is a reduction), in stream and entry order.
    private func samples(
        of streams: ArraySlice<LogQLStream>, pipeline: LogQLPipeline, unwrapFilters: [CompiledLabelFilter]
    ) throws(LogQLError) -> [Labels: [(timestamp: Int64, value: Double)]] {
        let logRange = aggregation.range
        let reductionNames = Set(reduction?.labels ?? [])
        let sortedReductionNames = reductionNames.sorted { Labels.compareBytes($0, $1) < 0 }
        // Samples per output label set, before grouping.
        var samplesByLabels: [Labels: [(timestamp: Int64, value: Double)]] = [:]
        var builder = LogQLLabelsBuilder(stream: Labels(), metadata: Labels())
        for stream in streams {
            for entry in stream.entries {
                builder.reset(stream: stream.labels, metadata: entry.metadata)
                var line = entry.line
                guard pipeline.process(line: &line, labels: &builder, timestamp: entry.timestamp) else { continue }
                let value: Double
                if let unwrap = logRange.unwrap {
                    // An entry without the label (or with it empty) is not a sample (Loki issue 6713).
                    guard let unwrapped = Self.unwrappedValue(unwrap, &builder) else { continue }
                    value = unwrapped
                    var kept = true
                    for filter in unwrapFilters where !filter.process(&builder) { kept = false }
                    guard kept else { continue }
                    builder.delete(unwrap.label)
                } else {
                    switch aggregation.operation {
                    case .bytesOverTime, .bytesRate: value = Double(line.utf8.count)
                    default: value = 1
                    }
                }
                if let reduction {
                    // Errors are caught before the labels that carry them are reduced away.
                    if let kind = builder.error {
                        throw Self.pipelineError(kind: kind, labels: builder.labels())
                    }
                    let key: Labels
                    if reduction.without {
                        key = builder.labels().removing(reductionNames)
                    } else {
                        // Only the grouping labels are looked up: no full label set per entry.
                        key = Labels(presorted: sortedReductionNames.compactMap { name in builder.value(name).map { Label(name, $0) } })
                    }
                    samplesByLabels[key, default: []].append((entry.timestamp, value))
                    continue
                }
                samplesByLabels[builder.labels(), default: []].append((entry.timestamp, value))
            }
        }
        return samplesByLabels
    }

    /// Cores to spread the pipeline over.
    static let activeCores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// Up to `count` contiguous slices of about equal entry counts.
    static func slices(of streams: [LogQLStream], count: Int) -> [Range<Int>] {
        let total = streams.reduce(0) { $0 + $1.entries.count }
        guard count > 1, streams.count > 1, total >= 10_000 else { return [0..<streams.count] }
        var slices: [Range<Int>] = []
        var start = 0
        var accumulated = 0
        for (index, stream) in streams.enumerated() {
            accumulated += stream.entries.count
            if accumulated * count >= total * (slices.count + 1), slices.count < count - 1 {
                slices.append(start..<(index + 1))
                start = index + 1
            }
        }
        if start < streams.count { slices.append(start..<streams.count) }
        return slices
    }

    static func pipelineError(kind: String, labels: Labels) -> LogQLError {
        LogQLError(
            .pipeline,
            "pipeline error: '\(kind)' for series: '\(labels.logQLDescription)'.\n"
                + "Use a label filter to intentionally skip this error. (e.g | __error__!=\"\(kind)\").\n"
                + "To skip all potential errors you can match empty errors.(e.g __error__=\"\")\n"
                + "The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )\n")
    }

    /// `absent_over_time`: 1 at the steps where no sample falls in the window, labelled with the
    /// selector's equality matchers.
    private func absent(_ samplesByLabels: [Labels: [(timestamp: Int64, value: Double)]], range: Int64, offset: Int64) -> [Series] {
        let times = samplesByLabels.values.flatMap { $0.map(\.timestamp) }.sorted()
        var values = [Double?](repeating: nil, count: grid.count)
        var any = false
        for (index, time) in grid.enumerated() {
            let windowEnd = time - offset
            let windowStart = windowEnd - range
            let lower = Self.firstIndex(in: times, after: windowStart)
            let upper = Self.firstIndex(in: times, after: windowEnd)
            if lower >= upper {
                values[index] = 1
                any = true
            }
        }
        guard any else { return [] }
        let labels = Labels(aggregation.range.selector.matchers.filter { $0.kind == .equal }.map { Label($0.name, $0.value) })
        return [Series(labels: labels, values: values)]
    }

    static func firstIndex(in samples: ArraySlice<(timestamp: Int64, value: Double)>, after time: Int64) -> Int {
        var low = samples.startIndex
        var high = samples.endIndex
        while low < high {
            let middle = (low + high) / 2
            if samples[middle].timestamp <= time { low = middle + 1 } else { high = middle }
        }
        return low
    }

    static func firstIndex(in samples: [(timestamp: Int64, value: Double)], after time: Int64) -> Int {
        firstIndex(in: samples[...], after: time)
    }

    static func firstIndex(in times: [Int64], after time: Int64) -> Int {
        var low = 0
        var high = times.count
        while low < high {
            let middle = (low + high) / 2
            if times[middle] <= time { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The unwrapped label's value as a number, nil when the entry has no such label; a
    /// conversion failure marks the entry with `__error__="SampleExtractionErr"` (value 0, as Loki's).
    static func unwrappedValue(_ unwrap: LogQLUnwrap, _ builder: inout LogQLLabelsBuilder) -> Double? {
        guard let text = builder.value(unwrap.label), !text.isEmpty else { return nil }
        do throws(LogQLUnits.ConversionError) {
            switch unwrap.conversion {
            case .none: return try LogQLUnits.parseFloat(text)
            case .duration, .durationSeconds: return try LogQLUnits.parseDuration(text)
            case .bytes: return try LogQLUnits.parseBytes(text)
            }
        } catch {
            builder.setError("SampleExtractionErr", details: error.message)
            return 0
        }
    }

    private func compute(_ window: ArraySlice<(timestamp: Int64, value: Double)>, windowStart: Int64, windowEnd: Int64) -> Double? {
        let rangeSeconds = Double(aggregation.range.range) / 1e9
        switch aggregation.operation {
        case .countOverTime:
            return Double(window.count)
        case .rate:
            if aggregation.range.unwrap != nil { return window.reduce(0) { $0 + $1.value } / rangeSeconds }
            return Double(window.count) / rangeSeconds
        case .bytesOverTime, .sumOverTime:
            return window.reduce(0) { $0 + $1.value }
        case .bytesRate:
            return window.reduce(0) { $0 + $1.value } / rangeSeconds
        case .avgOverTime:
            // Incremental mean, as Prometheus and Loki compute it (no overflow on large values).
            var mean = 0.0
            var count = 0.0
            for sample in window {
                count += 1
                if sample.value.isInfinite {
                    if mean.isInfinite, mean.sign != sample.value.sign { return .nan }
                    mean = sample.value
                    continue
                }
                if mean.isInfinite { continue }
                mean += (sample.value - mean) / count
            }
            return mean
        case .maxOverTime:
            var maximum = window.first!.value
            for sample in window.dropFirst() where sample.value > maximum || maximum.isNaN { maximum = sample.value }
            return maximum
        case .minOverTime:
            var minimum = window.first!.value
            for sample in window.dropFirst() where sample.value < minimum || minimum.isNaN { minimum = sample.value }
            return minimum
        case .stdvarOverTime, .stddevOverTime:
            var count = 0.0
            var mean = 0.0
            var squares = 0.0
            for sample in window {
                count += 1
                let delta = sample.value - mean
                mean += delta / count
                squares += delta * (sample.value - mean)
            }
            let variance = squares / count
            return aggregation.operation == .stdvarOverTime ? variance : variance.squareRoot()
        case .quantileOverTime:
            return quantile(aggregation.parameter ?? .nan, window.map(\.value))
        case .firstOverTime:
            return window.first!.value
        case .lastOverTime:
            return window.last!.value
        case .rateCounter:
            return counterRate(window, windowStart: windowStart, windowEnd: windowEnd)
        case .absentOverTime:
            return nil
        }
    }

    /// Prometheus's extrapolated counter rate over the window (what Loki's `rate_counter` computes):
    /// 0 for a single sample; the gap to each edge is extrapolated up to 1.1 average intervals,
    /// else half an interval, and then the start never before the counter's zero point.
    private func counterRate(_ window: ArraySlice<(timestamp: Int64, value: Double)>, windowStart: Int64, windowEnd: Int64) -> Double? {
        guard window.count >= 2 else { return 0 }
        let first = window.first!
        let last = window.last!
        var increase = last.value - first.value
        var previous = first.value
        for sample in window.dropFirst() {
            if sample.value < previous { increase += previous }
            previous = sample.value
        }
        let rangeStart = Double(windowStart) / 1e9
        let rangeEnd = Double(windowEnd) / 1e9
        let sampledInterval = Double(last.timestamp - first.timestamp) / 1e9
        let averageInterval = sampledInterval / Double(window.count - 1)
        let threshold = averageInterval * 1.1
        var durationToStart = Double(first.timestamp) / 1e9 - rangeStart
        var durationToEnd = rangeEnd - Double(last.timestamp) / 1e9
        if durationToStart >= threshold { durationToStart = averageInterval / 2 }
        if increase > 0, first.value >= 0 {
            let durationToZero = sampledInterval * (first.value / increase)
            if durationToZero < durationToStart { durationToStart = durationToZero }
        }
        if durationToEnd >= threshold { durationToEnd = averageInterval / 2 }
        return increase * ((sampledInterval + durationToStart + durationToEnd) / sampledInterval) / (rangeEnd - rangeStart)
    }
}
