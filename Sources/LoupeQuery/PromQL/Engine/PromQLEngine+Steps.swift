import LoupeModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Series-by-series evaluation of range queries.
///
/// Evaluating a range query step by step repeats, at every step and for every series, the
/// storage select, the window slicing, the sample allocations and the label hashing of
/// grouping. For the common node kinds (selectors, float range functions over a range
/// selector, the float aggregations, arithmetic and comparisons) this evaluator instead walks
/// each series once across all steps with two pointers and keeps one value per step.
/// Nodes it does not cover (or whose data need more, such as native histograms) are left to
/// the step-by-step evaluator, which reads the columns of their computed children.
extension Evaluator {
    /// Most cells (series × steps) one node may hold; larger nodes are evaluated per step.
    static let maximumStepCells = 25_000_000

    /// Computes every node of `expression` that can be computed series by series on `grid`.
    func prepareSteps(_ expression: PromQLExpression, grid: StepGrid) throws {
        guard grid.count > 1, stepKeysUnique else { return }
        try prepareNode(expression, grid: grid)
    }

    private func prepareNode(_ expression: PromQLExpression, grid: StepGrid) throws {
        if try stepValue(expression, grid: grid) != nil { return }
        for child in Self.stepChildren(expression) { try prepareNode(child, grid: grid) }
    }

    /// The column of a computed node at step `index` (what the step-by-step evaluator would have produced).
    func stepColumn(_ value: StepValue, at index: Int, time: Int64) -> EvalValue {
        switch value {
        case .scalar(let values): return .scalar(values[index])
        case .vector(let series):
            var out: [PromQLSample] = []
            for entry in series where entry.present[index] {
                var sample = PromQLSample(labels: entry.labels, value: entry.values[index], timestamp: time)
                sample.dropName = entry.dropName
                out.append(sample)
            }
            return .vector(out)
        }
    }

    /// A computed root node as a range query result: names dropped, series merged by labels, sorted.
    func stepMatrix(_ value: StepValue, grid: StepGrid) throws -> [PromQLSeries] {
        switch value {
        case .scalar(let values):
            return [PromQLSeries(labels: Labels(), floats: values.indices.map { FloatSample(timestamp: grid.time($0), value: values[$0]) })]
        case .vector(let series):
            var slots: [Labels: Int] = [:]
            var masks: [[Bool]] = []
            var out: [PromQLSeries] = []
            for entry in series where entry.present.contains(true) {
                let labels = entry.dropName ? dropName(entry.labels) : entry.labels
                var floats: [FloatSample] = []
                for index in 0..<grid.count where entry.present[index] {
                    floats.append(FloatSample(timestamp: grid.time(index), value: entry.values[index]))
                }
                if let slot = slots[labels] {
                    for index in 0..<grid.count where entry.present[index] && masks[slot][index] {
                        throw PromQLError(.execution, "vector cannot contain metrics with the same labelset")
                    }
                    for index in 0..<grid.count where entry.present[index] { masks[slot][index] = true }
                    out[slot].floats = (out[slot].floats + floats).sorted { $0.timestamp < $1.timestamp }
                } else {
                    slots[labels] = out.count
                    masks.append(entry.present)
                    out.append(PromQLSeries(labels: labels, floats: floats))
                }
            }
            out.sort { $0.labels < $1.labels }
            return out
        }
    }

    // MARK: - Nodes

    /// The node's value at every step, or nil when it is left to the step-by-step evaluator.
    func stepValue(_ expression: PromQLExpression, grid: StepGrid) throws -> StepValue? {
        let key = StepNodeKey(expression)
        if let cached = stepValues[key], cached.grid == grid { return cached.value }
        if stepFallbacks.contains(key) { return nil }
        let saved = (annotations, annotationSet, stepSampleCounts, stepValues)
        do {
            if let value = try computeStepValue(expression, grid: grid) {
                // The node answers for its children from now on.
                for child in Self.stepChildren(expression) { stepValues[StepNodeKey(child)] = nil }
                stepValues[key] = StepGridValue(grid: grid, value: value)
                return value
            }
        } catch is StepEvaluationFallback {}
        (annotations, annotationSet, stepSampleCounts, stepValues) = saved
        stepFallbacks.insert(key)
        return nil
    }

    private func computeStepValue(_ expression: PromQLExpression, grid: StepGrid) throws -> StepValue? {
        switch expression {
        case .number(let literal): return .scalar(Array(repeating: literal.value, count: grid.count))
        case .parenthesized(let paren): return try stepValue(paren.expression, grid: grid)
        case .unary(let unary):
            guard let operand = try stepValue(unary.operand, grid: grid) else { return nil }
            if unary.op == .plus { return operand }
            switch operand {
            case .scalar(let values): return .scalar(values.map { -$0 })
            case .vector(var series):
                for index in series.indices {
                    series[index].values = series[index].values.map { -$0 }
                    series[index].dropName = true
                }
                return .vector(series)
            }
        case .vectorSelector(let selector): return try selectorSteps(selector, grid: grid)
        case .call(let call): return try callSteps(call, grid: grid)
        case .aggregation(let aggregation): return try aggregationSteps(aggregation, grid: grid)
        case .binary(let binary): return try binarySteps(binary, grid: grid)
        case .string, .matrixSelector, .subquery: return nil
        }
    }

    /// An instant vector selector: per step, the newest sample within the lookback window.
    private func selectorSteps(_ selector: PromQLVectorSelector, grid: StepGrid) throws -> StepValue? {
        guard !selector.anchored, !selector.smoothed else { return nil }
        let offset = try duration(selector.offset, allowNegative: true)
        let lookback = options.lookbackDelta
        let reference = { (index: Int) in self.atTime(selector.at, default: grid.time(index)) - offset }
        var builder = StepSeriesBuilder(steps: grid.count)
        // Counted here and added once: `stepSampleCounts` is a property of a class, and each
        // write to it is checked for exclusivity at run time.
        var samplesRead = [Int](repeating: 0, count: grid.count)
        let references = (0..<grid.count).map(reference)
        try forEachSeriesBatch(try matchers(selector), width: lookback, grid: grid, reference: reference) { fetched in
            for series in fetched {
                if !series.histograms.isEmpty { throw StepEvaluationFallback() }
                var result = StepSeries(labels: series.labels, dropName: false, steps: grid.count)
                result.fill { values, present in
                    series.floats.withUnsafeBufferPointer { floats in
                        var next = 0
                        for index in 0..<grid.count {
                            let time = references[index]
                            while next < floats.count && floats[next].timestamp <= time { next += 1 }
                            guard next > 0 else { continue }
                            let sample = floats[next - 1]
                            if sample.timestamp <= time - lookback || StaleMarker.isStale(sample.value) { continue }
                            values[index] = sample.value
                            present[index] = true
                            samplesRead[index] += 1
                        }
                    }
                }
                try builder.append(result)
            }
        }
        addStepSamples(samplesRead)
        return .vector(builder.finish())
    }

    private func callSteps(_ call: PromQLCall, grid: StepGrid) throws -> StepValue? {
        let name = call.function.name
        if name == "time" {
            return .scalar((0..<grid.count).map { Double(grid.time($0)) / 1000 })
        }
        guard Self.floatWindowFunctions.contains(name), call.arguments.count == 1 else { return nil }
        switch unwrap(call.arguments[0]) {
        case .matrixSelector(let matrix): return try rangeSelectorFunctionSteps(call, matrix, grid: grid)
        case .subquery(let subquery): return try subqueryFunctionSteps(call, subquery, grid: grid)
        default: return nil
        }
    }

    private func rangeSelectorFunctionSteps(_ call: PromQLCall, _ matrix: PromQLMatrixSelector, grid: StepGrid) throws -> StepValue? {
        let selector = matrix.vectorSelector
        guard !selector.anchored, !selector.smoothed else { return nil }
        let offset = try duration(selector.offset, allowNegative: true)
        let range = try duration(matrix.range, allowNegative: false)
        let reference = { (index: Int) in self.atTime(selector.at, default: grid.time(index)) - offset }
        var builder = StepSeriesBuilder(steps: grid.count)
        var samplesRead = [Int](repeating: 0, count: grid.count)
        try forEachSeriesBatch(try matchers(selector), width: range, grid: grid, reference: reference) { fetched in
            for series in fetched {
                if !series.histograms.isEmpty { throw StepEvaluationFallback() }
                let floats = series.floats.contains { StaleMarker.isStale($0.value) }
                    ? series.floats.filter { !StaleMarker.isStale($0.value) } : series.floats
                if floats.isEmpty { continue }
                var result = StepSeries(labels: series.labels, dropName: Self.dropsName(call), steps: grid.count)
                windowSteps(call, floats, range: range, steps: 0..<grid.count, reference: reference, into: &result, samplesRead: &samplesRead)
                try builder.append(result)
            }
        }
        addStepSamples(samplesRead)
        return .vector(builder.finish())
    }

    /// A range function over a subquery: the inner expression once over the grid covering every
    /// step's window, then the function over each window.
    private func subqueryFunctionSteps(_ call: PromQLCall, _ subquery: PromQLSubquery, grid: StepGrid) throws -> StepValue? {
        let (range, step) = try subqueryRangeAndStep(subquery)
        guard let inner = try coveringSubqueryGrid(subquery, outer: grid, range: range, step: step) else { return nil }
        var references: [Int64] = []
        for index in 0..<grid.count { references.append(try subqueryReference(subquery, at: grid.time(index))) }
        let points = try subqueryPoints(subquery, grid: inner)
        // The samples the inner expression read for each window, as if evaluated window by window.
        var readBefore = [0]
        for count in points.samplesRead { readBefore.append(readBefore[readBefore.count - 1] + count) }
        func innerSteps(through time: Int64) -> Int {
            time < inner.start ? 0 : min(inner.count, Int((time - inner.start) / inner.step) + 1)
        }
        for index in 0..<grid.count {
            stepSampleCounts[index] += readBefore[innerSteps(through: references[index])] - readBefore[innerSteps(through: references[index] - range)]
        }
        var output: [StepSeries] = []
        var samplesRead = [Int](repeating: 0, count: grid.count)
        defer { addStepSamples(samplesRead) }
        for series in points.series {
            if !series.histograms.isEmpty { throw StepEvaluationFallback() }
            guard (output.count + 1).multipliedReportingOverflow(by: grid.count).partialValue <= Self.maximumStepCells else {
                throw StepEvaluationFallback()
            }
            var result = StepSeries(labels: series.labels, dropName: Self.dropsName(call), steps: grid.count)
            windowSteps(
                call, series.floats, range: range, steps: 0..<grid.count, reference: { references[$0] }, into: &result,
                samplesRead: &samplesRead)
            output.append(result)
        }
        return .vector(output)
    }

    /// Adds samples counted per step in a local array (see `selectorSteps`) to `stepSampleCounts`.
    private func addStepSamples(_ samplesRead: [Int]) {
        for index in samplesRead.indices { stepSampleCounts[index] += samplesRead[index] }
    }

    private static func dropsName(_ call: PromQLCall) -> Bool {
        call.function.name != "last_over_time" && call.function.name != "first_over_time"
    }

    /// Fills `series` with the function's value over each step's window `(reference − range, reference]`
    /// of `floats` (sorted, no stale markers).
    private func windowSteps(
        _ call: PromQLCall, _ floats: [FloatSample], range: Int64, steps: Range<Int>, reference: (Int) -> Int64,
        into series: inout StepSeries, samplesRead: inout [Int]
    ) {
        guard let function = FloatWindowFunction(rawValue: call.function.name) else { return }
        var produced = false
        series.fill { values, present in
            floats.withUnsafeBufferPointer { buffer in
                var lower = 0
                var upper = 0
                for index in steps {
                    let time = reference(index)
                    while upper < buffer.count && buffer[upper].timestamp <= time { upper += 1 }
                    while lower < upper && buffer[lower].timestamp <= time - range { lower += 1 }
                    guard upper > lower else { continue }
                    samplesRead[index] += upper - lower
                    let window = UnsafeBufferPointer(rebasing: buffer[lower..<upper])
                    guard let value = floatWindowValue(function, window, rangeStart: time - range, rangeEnd: time) else { continue }
                    values[index] = value
                    present[index] = true
                    produced = true
                }
            }
        }
        if produced && (function == .rate || function == .increase), let metric = series.labels.metricName, !isCounterName(metric) {
            info("metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"\(metric)\"", call.arguments[0].position)
        }
    }

    private func aggregationSteps(_ aggregation: PromQLAggregation, grid: StepGrid) throws -> StepValue? {
        let op = aggregation.op
        if op == .topk || op == .bottomk || op == .limitk { return try selectionSteps(aggregation, grid: grid) }
        guard aggregation.parameter == nil, [.sum, .avg, .count, .group, .min, .max, .stddev, .stdvar].contains(op) else { return nil }
        guard case .vector(let input)? = try stepValue(aggregation.expression, grid: grid) else { return nil }
        let (groupLabelSets, members) = stepGroups(input, aggregation)
        guard groupLabelSets.count.multipliedReportingOverflow(by: grid.count).partialValue <= Self.maximumStepCells else {
            throw StepEvaluationFallback()
        }
        var output: [StepSeries] = []
        output.reserveCapacity(members.count)
        for (slot, group) in members.enumerated() {
            try checkTimeout()
            let labels = groupLabelSets[slot]
            // A group keeps its name only if no member drops it, as at every single step.
            let droppers = group.filter { input[$0].dropName }.count
            if labels.metricName != nil && droppers != 0 && droppers != group.count { throw StepEvaluationFallback() }
            var result = StepSeries(labels: labels, dropName: labels.metricName != nil && droppers > 0, steps: grid.count)
            var count = [Double](repeating: 0, count: grid.count)
            var sums = [KahanSum](repeating: KahanSum(), count: op == .sum || op == .avg ? grid.count : 0)
            var means = [Double](repeating: 0, count: op == .stddev || op == .stdvar ? grid.count : 0)
            var squares = means
            var extremes = [Double](repeating: 0, count: op == .min || op == .max ? grid.count : 0)
            for member in group {
                let series = input[member]
                for index in 0..<grid.count where series.present[index] {
                    let value = series.values[index]
                    count[index] += 1
                    switch op {
                    case .sum, .avg: sums[index].add(value)
                    case .min:
                        if count[index] == 1 || extremes[index].isNaN || value < extremes[index] { extremes[index] = value }
                    case .max:
                        if count[index] == 1 || extremes[index].isNaN || value > extremes[index] { extremes[index] = value }
                    case .stddev, .stdvar:
                        let delta = value - means[index]
                        means[index] += delta / count[index]
                        squares[index] += delta * (value - means[index])
                    default: break
                    }
                }
            }
            for index in 0..<grid.count where count[index] > 0 {
                switch op {
                case .sum: result.set(index, sums[index].value)
                case .avg:
                    if sums[index].value.isInfinite {
                        let values = group.compactMap { input[$0].present[index] ? input[$0].values[index] : nil }
                        result.set(index, incrementalMean(values))
                    } else {
                        result.set(index, sums[index].value / count[index])
                    }
                case .count: result.set(index, count[index])
                case .group: result.set(index, 1)
                case .min, .max: result.set(index, extremes[index])
                case .stddev: result.set(index, (squares[index] / count[index]).squareRoot())
                case .stdvar: result.set(index, squares[index] / count[index])
                default: break
                }
            }
            output.append(result)
        }
        return .vector(output)
    }

    /// The aggregation's groups over `input`, in order of first member: each group's labels and
    /// its members' positions in `input`.
    func stepGroups(_ input: [StepSeries], _ aggregation: PromQLAggregation) -> (labels: [Labels], members: [[Int]]) {
        let groupingSet = Set(aggregation.grouping)
        var groupSlots: [Labels: Int] = [:]
        var groupLabelSets: [Labels] = []
        var members: [[Int]] = []
        for (index, series) in input.enumerated() {
            let labels = groupLabels(series.labels, aggregation, groupingSet)
            if let slot = groupSlots[labels] {
                members[slot].append(index)
            } else {
                groupSlots[labels] = members.count
                groupLabelSets.append(labels)
                members.append([index])
            }
        }
        return (groupLabelSets, members)
    }

    private func binarySteps(_ binary: PromQLBinaryExpression, grid: StepGrid) throws -> StepValue? {
        let op = binary.op
        guard !op.isSetOperator, op != .trimUpper, op != .trimLower else { return nil }
        if let matching = binary.matching, matching.cardinality != .oneToOne || matching.fillLeft != nil || matching.fillRight != nil {
            return nil
        }
        guard let lhs = try stepValue(binary.lhs, grid: grid), let rhs = try stepValue(binary.rhs, grid: grid) else { return nil }
        switch (lhs, rhs) {
        case (.scalar(let l), .scalar(let r)):
            return .scalar(l.indices.map { index in
                let (value, keep) = binaryFloat(op, l[index], r[index], zeroDivisorIsNaN: options.zeroDivisorIsNaN)
                return op.isComparison ? (keep ? 1 : 0) : value
            })
        case (.vector(let vector), .scalar(let scalar)):
            return .vector(vectorScalarSteps(vector, scalar, swapped: false, binary))
        case (.scalar(let scalar), .vector(let vector)):
            return .vector(vectorScalarSteps(vector, scalar, swapped: true, binary))
        case (.vector(let l), .vector(let r)):
            return .vector(try vectorVectorSteps(l, r, binary, grid: grid))
        }
    }

    private func vectorScalarSteps(_ vector: [StepSeries], _ scalar: [Double], swapped: Bool, _ binary: PromQLBinaryExpression) -> [StepSeries] {
        let op = binary.op
        var output = vector
        for slot in output.indices {
            if !op.isComparison || binary.returnBool { output[slot].dropName = true }
            for index in scalar.indices where output[slot].present[index] {
                if let value = vectorScalarFloat(
                    binary, sample: output[slot].values[index], scalar: scalar[index], swapped: swapped, zeroDivisorIsNaN: options.zeroDivisorIsNaN)
                {
                    output[slot].values[index] = value
                } else {
                    output[slot].present[index] = false
                }
            }
        }
        return output
    }

    /// One-to-one matching. Whenever some step could see a duplicate match group or a
    /// duplicate result (errors at that step), the step-by-step evaluator takes over.
    private func vectorVectorSteps(_ lhs: [StepSeries], _ rhs: [StepSeries], _ binary: PromQLBinaryExpression, grid: StepGrid) throws
        -> [StepSeries]
    {
        let matching = binary.matching ?? PromQLVectorMatching()
        let op = binary.op
        var rhsBySignature: [Labels: Int] = [:]
        for (index, series) in rhs.enumerated() {
            if rhsBySignature.updateValue(index, forKey: signature(series.labels, matching)) != nil { throw StepEvaluationFallback() }
        }
        var matchedSignatures = Set<Labels>()
        var resultLabels = Set<Labels>()
        var output: [StepSeries] = []
        for series in lhs {
            let signature = signature(series.labels, matching)
            guard let partner = rhsBySignature[signature] else { continue }
            if !matchedSignatures.insert(signature).inserted { throw StepEvaluationFallback() }
            let other = rhs[partner]
            let labels = self.resultLabels(series.labels, other.labels, binary, matching, oneFilled: false)
            let dropsName = !op.isComparison || binary.returnBool
            if !resultLabels.insert(dropsName ? dropName(labels) : labels).inserted { throw StepEvaluationFallback() }
            var result = StepSeries(labels: labels, dropName: dropsName, steps: grid.count)
            for index in 0..<grid.count where series.present[index] && other.present[index] {
                var (value, keep) = binaryFloat(op, series.values[index], other.values[index], zeroDivisorIsNaN: options.zeroDivisorIsNaN)
                if op.isComparison && binary.returnBool {
                    value = keep ? 1 : 0
                    keep = true
                }
                if keep { result.set(index, value) }
            }
            output.append(result)
        }
        return output
    }

    // MARK: - Fetching

    /// Calls `body` with every series whose samples fall in the windows `(reference(i) − width,
    /// reference(i)]` of all steps, each series once with all its samples there. When they would
    /// hold more than about `options.rangeFetchSamples` samples (estimated from one shard of
    /// `options.rangeProbeShards`), storage is read a shard of the series at a time, so memory
    /// stays bounded and no chunk is decoded twice.
    private func forEachSeriesBatch(
        _ matchers: [LabelMatcher], width: Int64, grid: StepGrid, reference: (Int) -> Int64, _ body: ([SeriesSamples]) throws -> Void
    ) throws {
        let minTime = reference(0) - width + 1
        let maxTime = reference(grid.count - 1)
        func select(_ shard: SeriesShard) throws -> [SeriesSamples] {
            try checkTimeout()
            do {
                return try storage.select(matchers, minTime: minTime, maxTime: maxTime, shard: shard)
            } catch let error as PromQLError {
                throw error
            } catch {
                throw PromQLError(.execution, "\(error)")
            }
        }
        let probeShards = options.rangeProbeShards
        let probe = try select(SeriesShard(index: 0, of: probeShards))
        if probe.isEmpty || probeShards == 1 {
            // Fewer series than probe shards, most likely: small enough to read at once.
            try body(probeShards == 1 ? probe : try select(.all))
            return
        }
        let estimated = probe.reduce(0) { $0 + $1.floats.count + $1.histograms.count } * probeShards
        let shards = max(1, min(4_096, (estimated + options.rangeFetchSamples - 1) / options.rangeFetchSamples))
        if shards == 1 {
            try body(try select(.all))
            return
        }
        for index in 0..<shards { try body(try select(SeriesShard(index: index, of: shards))) }
    }

    // MARK: - Tree

    static func stepChildren(_ expression: PromQLExpression) -> [PromQLExpression] {
        switch expression {
        case .number, .string, .vectorSelector, .matrixSelector, .subquery: return []
        case .parenthesized(let paren): return [paren.expression]
        case .unary(let unary): return [unary.operand]
        case .binary(let binary): return [binary.lhs, binary.rhs]
        case .aggregation(let aggregation): return [aggregation.parameter, aggregation.expression].compactMap { $0 }
        case .call(let call):
            // `timestamp(selector)` reads the selector's raw sample times, not its values.
            if call.function.name == "timestamp" { return [] }
            return call.arguments
        }
    }

    /// Whether every node of the tree (subquery bodies included) has its own key.
    static func stepKeysAreUnique(_ expression: PromQLExpression) -> Bool {
        var seen = Set<StepNodeKey>()
        var pending = [expression]
        while let node = pending.popLast() {
            if !seen.insert(StepNodeKey(node)).inserted { return false }
            switch node {
            case .matrixSelector(let matrix): pending.append(.vectorSelector(matrix.vectorSelector))
            case .subquery(let subquery): pending.append(subquery.expression)
            case .call(let call): pending += call.arguments
            default: pending += stepChildren(node)
            }
        }
        return true
    }
}

/// Collects the series of a node, batch after batch, sorted by labels at the end (as storage returns them).
struct StepSeriesBuilder {
    let steps: Int
    var series: [StepSeries] = []
    private var sorted = true

    init(steps: Int) { self.steps = steps }

    /// Adds a series known not to be in the builder yet (each series of one storage read, or of
    /// disjoint shards of it, comes once), so its labels are not hashed.
    mutating func append(_ computed: StepSeries) throws {
        guard (series.count + 1).multipliedReportingOverflow(by: steps).partialValue <= Evaluator.maximumStepCells else {
            throw StepEvaluationFallback()
        }
        if sorted, let last = series.last, !(last.labels < computed.labels) { sorted = false }
        series.append(computed)
    }

    /// The series sorted by labels, as storage returns them.
    func finish() -> [StepSeries] {
        sorted ? series : series.sorted { $0.labels < $1.labels }
    }
}
