import LoupeModel

/// Subqueries evaluate their inner expression at every multiple of their step in their window.
/// Consecutive windows (the steps of a range query, or of an enclosing subquery) share most of
/// those times, so the inner expression is evaluated once over the grid that covers all the
/// windows (series by series where it can be), and each window is a slice of that.
extension Evaluator {
    func evaluateSubquery(_ subquery: PromQLSubquery, at ts: Int64) throws -> ([PromQLSeries], Int64, Int64) {
        let (range, step) = try subqueryRangeAndStep(subquery)
        let refTime = try subqueryReference(subquery, at: ts)
        let mint = refTime - range
        guard let windowGrid = Self.subqueryGrid(after: mint, through: refTime, step: step) else {
            return ([], mint, refTime)
        }
        var grid = windowGrid
        if let outer = evaluationGrid, outer.index(of: ts) != nil,
            let covering = try coveringSubqueryGrid(subquery, outer: outer, range: range, step: step)
        {
            grid = covering
        }
        let points = try subqueryPoints(subquery, grid: grid)
        var series: [PromQLSeries] = []
        var count = 0
        for entry in points.series {
            let floats = entry.floats.window(after: mint, through: refTime)
            let histograms = entry.histograms.window(after: mint, through: refTime)
            if floats.isEmpty && histograms.isEmpty { continue }
            count += floats.count + histograms.count
            series.append(PromQLSeries(labels: entry.labels, floats: Array(floats), histograms: Array(histograms)))
        }
        for index in 0..<points.grid.count where points.grid.time(index) > mint && points.grid.time(index) <= refTime {
            count += points.samplesRead[index]
        }
        try addSamples(count)
        return (series, mint, refTime)
    }

    func subqueryRangeAndStep(_ subquery: PromQLSubquery) throws -> (range: Int64, step: Int64) {
        let range = try duration(subquery.range, allowNegative: false)
        let step = try duration(subquery.step, allowNegative: false)
        return (range, step > 0 ? step : options.defaultSubqueryStep)
    }

    func subqueryReference(_ subquery: PromQLSubquery, at ts: Int64) throws -> Int64 {
        atTime(subquery.at, default: ts) - (try duration(subquery.offset, allowNegative: true))
    }

    /// The multiples of `step` in `(after, through]` (aligned to absolute time, as Prometheus does).
    static func subqueryGrid(after minimum: Int64, through maximum: Int64, step: Int64) -> StepGrid? {
        var first = minimum - ((minimum % step) + step) % step
        if first <= minimum { first += step }
        let last = maximum - ((maximum % step) + step) % step
        return first <= last ? StepGrid(start: first, end: last, step: step) : nil
    }

    /// One grid for the windows of every step of `outer`, when those windows leave no gaps between them.
    func coveringSubqueryGrid(_ subquery: PromQLSubquery, outer: StepGrid, range: Int64, step: Int64) throws -> StepGrid? {
        let firstReference = try subqueryReference(subquery, at: outer.time(0))
        let lastReference = try subqueryReference(subquery, at: outer.time(outer.count - 1))
        guard firstReference == lastReference || outer.step <= range else { return nil }
        return Self.subqueryGrid(after: firstReference - range, through: lastReference, step: step)
    }

    /// The subquery's inner expression at every step of `grid` (computed once per grid).
    func subqueryPoints(_ subquery: PromQLSubquery, grid: StepGrid) throws -> SubqueryPoints {
        let key = StepNodeKey(.subquery(subquery))
        if let cached = subqueryPoints[key], cached.grid == grid { return cached }
        let saved = (stepSampleCounts, evaluationGrid, samplesInStep)
        defer { (stepSampleCounts, evaluationGrid, samplesInStep) = saved }
        stepSampleCounts = Array(repeating: 0, count: grid.count)
        evaluationGrid = grid
        try prepareSteps(subquery.expression, grid: grid)
        let series: [PromQLSeries]
        if let computed = stepValues[StepNodeKey(subquery.expression)], computed.grid == grid {
            series = try stepMatrix(computed.value, grid: grid)
        } else {
            var accumulator = SeriesAccumulator()
            for step in 0..<grid.count {
                try checkTimeout()
                let t = grid.time(step)
                samplesInStep = 0
                try addSamples(stepSampleCounts[step])
                let samples: [PromQLSample]
                switch try evaluate(subquery.expression, at: t) {
                case .scalar(let v): samples = [PromQLSample(labels: Labels(), value: v, timestamp: t)]
                case .vector(let v): samples = try cleanup(v)
                default: throw PromQLError(.execution, "subquery of unsupported type")
                }
                stepSampleCounts[step] = samplesInStep
                accumulator.add(samples, at: t)
            }
            series = accumulator.sorted
        }
        let points = SubqueryPoints(grid: grid, series: series, samplesRead: stepSampleCounts)
        subqueryPoints[key] = points
        return points
    }
}
