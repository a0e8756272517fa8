import LoupeModel

/// Evaluates LogQL against a `LogQLQueryable`.
///
/// Log queries return streams (entries in `[start, end)`, newest or oldest first, up to a limit).
/// Metric queries evaluate each range aggregation over the logs at every step of the grid
/// (`LogQLRangeEvaluator`); what is built on top of them — vector aggregations, binary operators
/// with vector matching, `label_replace`, `vector()`, literals — has PromQL's semantics in LogQL,
/// so it runs on the PromQL engine, with each range aggregation's result standing in as a series
/// selector (`LogQLToPromQL`).
public struct LogQLEngine: Sendable {
    public struct Options: Sendable {
        /// The most series a metric query may produce at any stage.
        public var maxSeries: Int
        public var timeout: Duration

        public init(maxSeries: Int = 500_000, timeout: Duration = .seconds(120)) {
            self.maxSeries = maxSeries
            self.timeout = timeout
        }
    }

    public enum Direction: String, Sendable {
        case forward
        case backward
    }

    public var options: Options

    public init(options: Options = Options()) {
        self.options = options
    }

    /// A metric query at one time (nanoseconds). Log queries are refused, as Loki refuses them.
    public func instantQuery(_ query: String, at time: Int64, queryable: some LogQLQueryable) throws(LogQLError) -> LogQLResult {
        let expression = try LogQLParser.parse(query)
        if expression.isLogQuery {
            throw LogQLError(.execution, "log queries are not supported as an instant query type, please change your query to a range query type")
        }
        return try evaluateMetric(expression, grid: [time], instant: true, queryable: queryable)
    }

    /// A log query over `[start, end)` or a metric query at `start, start + step, ... <= end` (nanoseconds).
    public func rangeQuery(
        _ query: String, start: Int64, end: Int64, step: Int64, limit: Int = 100, direction: Direction = .backward,
        queryable: some LogQLQueryable
    ) throws(LogQLError) -> LogQLResult {
        let expression = try LogQLParser.parse(query)
        guard end >= start else { throw LogQLError(.execution, "end timestamp must not be before or equal to start time") }
        if case .logs(let selector) = expression {
            return LogQLResult(value: .streams(try selectLogs(selector, start: start, end: end, limit: limit, direction: direction, queryable: queryable)))
        }
        guard step > 0 else { throw LogQLError(.execution, "zero or negative query resolution step widths are not accepted. Try a positive integer") }
        var grid: [Int64] = []
        var time = start
        while time <= end {
            grid.append(time)
            time += step
        }
        return try evaluateMetric(expression, grid: grid, instant: false, queryable: queryable)
    }

    // MARK: Log queries

    func selectLogs(
        _ selector: LogQLLogSelector, start: Int64, end: Int64, limit: Int, direction: Direction, queryable: some LogQLQueryable
    ) throws(LogQLError) -> [LogQLStreamResult] {
        let pipeline = try LogQLPipeline(selector.stages)
        let streams: [LogQLStream]
        do {
            streams = try queryable.select(
                selector.matchers, start: start, end: end - 1, hints: LogQLSelectionHints(lineFilters: LogQLPipeline.leadingLineFilters(selector.stages)))
        } catch let error as LogQLError {
            throw error
        } catch {
            throw LogQLError(.execution, "reading logs: \(error)")
        }
        var kept: [(labels: Labels, entry: LogQLEntry)] = []
        var builder = LogQLLabelsBuilder(stream: Labels(), metadata: Labels())
        for stream in streams {
            for entry in stream.entries where entry.timestamp >= start && entry.timestamp < end {
                builder.reset(stream: stream.labels, metadata: entry.metadata)
                var line = entry.line
                guard pipeline.process(line: &line, labels: &builder, timestamp: entry.timestamp) else { continue }
                // Structured metadata stays with the entry; the result's stream labels are the
                // stream's own plus what the pipeline added.
                kept.append((builder.labels(), LogQLEntry(timestamp: entry.timestamp, line: line, metadata: entry.metadata)))
            }
        }
        // The `limit` newest (backward) or oldest (forward) entries; ties broken by labels so the
        // answer does not depend on the store's order.
        kept.sort { lhs, rhs in
            if lhs.entry.timestamp != rhs.entry.timestamp {
                return direction == .backward ? lhs.entry.timestamp > rhs.entry.timestamp : lhs.entry.timestamp < rhs.entry.timestamp
            }
            return lhs.labels < rhs.labels
        }
        if limit > 0, kept.count > limit { kept.removeSubrange(limit...) }
        var order: [Labels] = []
        var byLabels: [Labels: [LogQLEntry]] = [:]
        for (labels, entry) in kept {
            if byLabels[labels] == nil { order.append(labels) }
            byLabels[labels, default: []].append(entry)
        }
        return order.map { LogQLStreamResult(labels: $0, entries: byLabels[$0]!) }
    }

    // MARK: Metric queries

    func evaluateMetric(_ expression: LogQLExpression, grid: [Int64], instant: Bool, queryable: some LogQLQueryable) throws(LogQLError) -> LogQLResult {
        var leaves: [LogQLToPromQL.Leaf] = []
        let promQL = LogQLToPromQL.translate(expression, leaves: &leaves)
        var leafSeries: [[LogQLRangeEvaluator.Series]] = []
        for leaf in leaves {
            leafSeries.append(
                try LogQLRangeEvaluator(aggregation: leaf.aggregation, grid: grid, reduction: leaf.reduction).evaluate(queryable, limits: options))
        }
        let gridMilliseconds = grid.map { $0 / 1_000_000 }

        // A range aggregation alone needs nothing more.
        if case .rangeAggregation = expression, let only = leafSeries.first {
            if instant {
                return LogQLResult(value: .vector(only.compactMap { series in
                    series.values[0].map { PromQLSample(labels: series.labels, value: $0, timestamp: gridMilliseconds[0]) }
                }))
            }
            return LogQLResult(value: .matrix(only.map { series in
                PromQLSeries(labels: series.labels, floats: zip(gridMilliseconds, series.values).compactMap { time, value in
                    value.map { FloatSample(timestamp: time, value: $0) }
                })
            }))
        }

        let leafQueryable = LogQLLeafQueryable(leaves: leafSeries.map { series in
            series.map { one in
                SeriesSamples(labels: one.labels, floats: zip(gridMilliseconds, one.values).compactMap { time, value in
                    value.map { FloatSample(timestamp: time, value: $0) }
                })
            }.sorted { $0.labels < $1.labels }
        })
        // Each leaf has a sample exactly at each step it has a value for, and none in between:
        // a 1 ms lookback picks that sample and never an older one.
        var promQLOptions = PromQLEngine.Options(lookbackDelta: 1, timeout: options.timeout)
        promQLOptions.zeroDivisorIsNaN = true
        let engine = PromQLEngine(options: promQLOptions)
        do throws(PromQLError) {
            let result: PromQLResult
            if instant {
                result = try engine.instantQuery(promQL, at: gridMilliseconds[0], queryable: leafQueryable)
            } else {
                let step = gridMilliseconds.count > 1 ? gridMilliseconds[1] - gridMilliseconds[0] : 1
                result = try engine.rangeQuery(promQL, start: gridMilliseconds[0], end: gridMilliseconds.last!, step: max(step, 1), queryable: leafQueryable)
            }
            switch result.value {
            case .scalar(let timestamp, let value): return LogQLResult(value: .scalar(timestamp: timestamp, value: value))
            case .vector(let samples): return LogQLResult(value: .vector(samples))
            case .matrix(let series): return LogQLResult(value: .matrix(series))
            case .string(let timestamp, let value): return LogQLResult(value: .scalar(timestamp: timestamp, value: Double(value) ?? .nan))
            }
        } catch {
            throw LogQLError(.execution, Self.lokiWording(error.message))
        }
    }

    /// PromQL's messages where Loki words the same failure differently.
    static func lokiWording(_ message: String) -> String {
        if message.hasPrefix("found duplicate series for the match group"), let side = message.firstRange(ofText: "on the ") {
            let rest = message[side.upperBound...]
            let hand = rest.hasPrefix("left") ? "left" : "right"
            return "found duplicate series on the \(hand) hand-side of the operation: \(message)"
        }
        return message
    }
}

public struct LogQLStreamResult: Sendable, Equatable {
    public var labels: Labels
    public var entries: [LogQLEntry]

    public init(labels: Labels, entries: [LogQLEntry]) {
        self.labels = labels
        self.entries = entries
    }
}

public enum LogQLValue: Sendable, Equatable {
    case streams([LogQLStreamResult])
    /// Timestamps in milliseconds.
    case vector([PromQLSample])
    case matrix([PromQLSeries])
    case scalar(timestamp: Int64, value: Double)

    /// Loki's `resultType`.
    public var typeName: String {
        switch self {
        case .streams: return "streams"
        case .vector: return "vector"
        case .matrix: return "matrix"
        case .scalar: return "scalar"
        }
    }
}

public struct LogQLResult: Sendable, Equatable {
    public var value: LogQLValue

    public init(value: LogQLValue) {
        self.value = value
    }
}

/// The range aggregations' results, as series a PromQL selector `{__logql_leaf__="N"}` selects.
struct LogQLLeafQueryable: PromQLQueryable {
    static let leafLabel = "__logql_leaf__"
    let leaves: [[SeriesSamples]]

    func select(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) throws -> [SeriesSamples] {
        guard let matcher = matchers.first(where: { $0.name == Self.leafLabel }), let index = Int(matcher.value), leaves.indices.contains(index) else {
            return []
        }
        return leaves[index].compactMap { series in
            let floats = series.floats.filter { $0.timestamp >= minTime && $0.timestamp <= maxTime }
            return floats.isEmpty ? nil : SeriesSamples(labels: series.labels, floats: floats)
        }
    }
}
