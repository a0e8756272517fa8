import LoupeModel

/// `temporality: delta`: cumulative sums and histograms become deltas between consecutive points
/// of a series, as the OpenTelemetry Collector's cumulativetodelta processor makes them for
/// backends that take only deltas. A series' first point is sent whole (the delta over its start to
/// its time) when the series started after the converter did; an older series' first point only
/// starts it (its total may have been sent before a restart). A reset (a new start time, a
/// monotonic sum or a count going down, other bucket bounds) starts a series again. Gauges,
/// summaries and exponential histograms pass as they are.
public struct CumulativeToDelta: Sendable {
    struct SeriesKey: Hashable, Sendable {
        var resource: [KeyValue]
        var scope: String
        var scopeVersion: String
        var metric: String
        var attributes: [KeyValue]
    }

    enum Previous: Sendable {
        case number(start: UInt64, time: UInt64, value: NumberValue)
        case histogram(start: UInt64, time: UInt64, count: UInt64, sum: Double?, buckets: [UInt64], bounds: [Double])
    }

    private var previous: [SeriesKey: (value: Previous, seen: UInt64)] = [:]
    /// Series not seen for this long are forgotten (their next point starts them again).
    public let forgetAfterNanoseconds: UInt64

    /// When the converter started: series starting later are new, their first total is a delta.
    public let startedUnixNano: UInt64

    public init(startedUnixNano: UInt64, forgetAfterNanoseconds: UInt64 = 15 * 60 * 1_000_000_000) {
        self.startedUnixNano = startedUnixNano
        self.forgetAfterNanoseconds = forgetAfterNanoseconds
    }

    /// Series remembered now.
    public var seriesCount: Int { previous.count }

    /// The data with cumulative sums and histograms turned into deltas; `now` ages out old series.
    public mutating func convert(_ data: MetricsData, nowUnixNano now: UInt64) -> MetricsData {
        var output = data
        for r in output.resourceMetrics.indices {
            let resource = output.resourceMetrics[r].resource.attributes
            for s in output.resourceMetrics[r].scopeMetrics.indices {
                let scope = output.resourceMetrics[r].scopeMetrics[s].scope
                var kept: [Metric] = []
                for var metric in output.resourceMetrics[r].scopeMetrics[s].metrics {
                    func key(_ attributes: [KeyValue]) -> SeriesKey {
                        SeriesKey(resource: resource, scope: scope.name, scopeVersion: scope.version, metric: metric.name, attributes: attributes)
                    }
                    switch metric.data {
                    case .sum(var sum) where sum.aggregationTemporality == .cumulative:
                        sum.dataPoints = sum.dataPoints.compactMap { point in delta(point, key: key(point.attributes), monotonic: sum.isMonotonic, now: now) }
                        sum.aggregationTemporality = .delta
                        metric.data = .sum(sum)
                        if sum.dataPoints.isEmpty { continue }
                    case .histogram(var histogram) where histogram.aggregationTemporality == .cumulative:
                        histogram.dataPoints = histogram.dataPoints.compactMap { point in delta(point, key: key(point.attributes), now: now) }
                        histogram.aggregationTemporality = .delta
                        metric.data = .histogram(histogram)
                        if histogram.dataPoints.isEmpty { continue }
                    default: break
                    }
                    kept.append(metric)
                }
                output.resourceMetrics[r].scopeMetrics[s].metrics = kept
            }
            output.resourceMetrics[r].scopeMetrics.removeAll { $0.metrics.isEmpty }
        }
        output.resourceMetrics.removeAll { $0.scopeMetrics.isEmpty }
        previous = previous.filter { now <= $0.value.seen || now - $0.value.seen <= forgetAfterNanoseconds }
        return output
    }

    /// A series that started after the converter: its first total is all new.
    private func isNew(_ start: UInt64, _ time: UInt64) -> Bool { start != 0 && start >= startedUnixNano && start < time }

    private mutating func delta(_ point: NumberDataPoint, key: SeriesKey, monotonic: Bool, now: UInt64) -> NumberDataPoint? {
        guard let value = point.value else { return nil }
        let last = previous[key]?.value
        previous[key] = (.number(start: point.startTimeUnixNano, time: point.timeUnixNano, value: value), now)
        guard case .number(let start, let time, let before)? = last, start == point.startTimeUnixNano, point.timeUnixNano > time else {
            return isNew(point.startTimeUnixNano, point.timeUnixNano) && (!monotonic || value.doubleValue >= 0) ? point : nil
        }
        var out = point
        out.startTimeUnixNano = time
        switch (value, before) {
        case (.int(let current), .int(let earlier)):
            if monotonic && current < earlier { return nil }
            out.value = .int(current &- earlier)
        default:
            let difference = value.doubleValue - before.doubleValue
            if monotonic && difference < 0 { return nil }
            if case .int = value { out.value = .int(Int64(difference)) } else { out.value = .double(difference) }
        }
        return out
    }

    private mutating func delta(_ point: HistogramDataPoint, key: SeriesKey, now: UInt64) -> HistogramDataPoint? {
        let last = previous[key]?.value
        previous[key] = (
            .histogram(
                start: point.startTimeUnixNano, time: point.timeUnixNano, count: point.count, sum: point.sum, buckets: point.bucketCounts,
                bounds: point.explicitBounds), now
        )
        guard case .histogram(let start, let time, let count, let sum, let buckets, let bounds)? = last, start == point.startTimeUnixNano,
            point.timeUnixNano > time, point.count >= count, bounds == point.explicitBounds, buckets.count == point.bucketCounts.count,
            zip(point.bucketCounts, buckets).allSatisfy({ $0 >= $1 })
        else { return isNew(point.startTimeUnixNano, point.timeUnixNano) ? point : nil }
        var out = point
        out.startTimeUnixNano = time
        out.count = point.count - count
        out.bucketCounts = zip(point.bucketCounts, buckets).map { $0 - $1 }
        if let current = point.sum, let earlier = sum { out.sum = current - earlier } else { out.sum = nil }
        // Minimum and maximum of the interval alone are not known from two cumulative points.
        out.min = nil
        out.max = nil
        return out
    }
}
