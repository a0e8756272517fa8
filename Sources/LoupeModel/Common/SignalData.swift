/// What the write path and the stores need to know about a batch of any signal.
///
/// Every item (span, log record, metric data point) has one timestamp it is filed under;
/// retention and time-range reads both work on it.
public protocol SignalData: Sendable, Hashable {
    static var signal: Signal { get }

    init()

    /// Spans, log records or metric data points in the batch.
    var itemCount: Int { get }

    /// The smallest and largest item timestamps.
    var timeBounds: TimeBounds { get }

    var isEmpty: Bool { get }

    /// Keeps only the items whose timestamp satisfies `shouldKeep`, drops groups left empty,
    /// and returns how many items were removed.
    @discardableResult
    mutating func filterItems(byTimestamp shouldKeep: (UInt64) -> Bool) -> Int

    mutating func append(contentsOf other: Self)
}

extension SignalData {
    /// The items within `range`.
    public func items(in range: TimeRange) -> Self {
        var copy = self
        copy.filterItems { range.contains($0) }
        return copy
    }
}

extension TraceData: SignalData {
    public static var signal: Signal { .traces }

    public init() { self.init(resourceSpans: []) }

    public var itemCount: Int {
        resourceSpans.reduce(0) { total, resource in total + resource.scopeSpans.reduce(0) { $0 + $1.spans.count } }
    }

    public var isEmpty: Bool { resourceSpans.allSatisfy { $0.scopeSpans.allSatisfy { $0.spans.isEmpty } } }

    public var timeBounds: TimeBounds {
        var bounds = TimeBounds()
        for resource in resourceSpans {
            for scope in resource.scopeSpans {
                for span in scope.spans { bounds.include(span.startTimeUnixNano) }
            }
        }
        return bounds
    }

    public mutating func filterItems(byTimestamp shouldKeep: (UInt64) -> Bool) -> Int {
        var removed = 0
        for resourceIndex in resourceSpans.indices {
            for scopeIndex in resourceSpans[resourceIndex].scopeSpans.indices {
                let before = resourceSpans[resourceIndex].scopeSpans[scopeIndex].spans.count
                resourceSpans[resourceIndex].scopeSpans[scopeIndex].spans.removeAll { !shouldKeep($0.startTimeUnixNano) }
                removed += before - resourceSpans[resourceIndex].scopeSpans[scopeIndex].spans.count
            }
            if removed > 0 { resourceSpans[resourceIndex].scopeSpans.removeAll { $0.spans.isEmpty } }
        }
        if removed > 0 { resourceSpans.removeAll { $0.scopeSpans.isEmpty } }
        return removed
    }

    public mutating func append(contentsOf other: TraceData) { resourceSpans.append(contentsOf: other.resourceSpans) }
}

extension LogsData: SignalData {
    public static var signal: Signal { .logs }

    public init() { self.init(resourceLogs: []) }

    public var itemCount: Int {
        resourceLogs.reduce(0) { total, resource in total + resource.scopeLogs.reduce(0) { $0 + $1.logRecords.count } }
    }

    public var isEmpty: Bool { resourceLogs.allSatisfy { $0.scopeLogs.allSatisfy { $0.logRecords.isEmpty } } }

    public var timeBounds: TimeBounds {
        var bounds = TimeBounds()
        for resource in resourceLogs {
            for scope in resource.scopeLogs {
                for record in scope.logRecords { bounds.include(record.effectiveTimeUnixNano) }
            }
        }
        return bounds
    }

    public mutating func filterItems(byTimestamp shouldKeep: (UInt64) -> Bool) -> Int {
        var removed = 0
        for resourceIndex in resourceLogs.indices {
            for scopeIndex in resourceLogs[resourceIndex].scopeLogs.indices {
                let before = resourceLogs[resourceIndex].scopeLogs[scopeIndex].logRecords.count
                resourceLogs[resourceIndex].scopeLogs[scopeIndex].logRecords.removeAll { !shouldKeep($0.effectiveTimeUnixNano) }
                removed += before - resourceLogs[resourceIndex].scopeLogs[scopeIndex].logRecords.count
            }
            if removed > 0 { resourceLogs[resourceIndex].scopeLogs.removeAll { $0.logRecords.isEmpty } }
        }
        if removed > 0 { resourceLogs.removeAll { $0.scopeLogs.isEmpty } }
        return removed
    }

    public mutating func append(contentsOf other: LogsData) { resourceLogs.append(contentsOf: other.resourceLogs) }
}

extension MetricsData: SignalData {
    public static var signal: Signal { .metrics }

    public init() { self.init(resourceMetrics: []) }

    public var itemCount: Int {
        resourceMetrics.reduce(0) { total, resource in
            total + resource.scopeMetrics.reduce(0) { scopeTotal, scope in
                scopeTotal + scope.metrics.reduce(0) { $0 + $1.data.dataPointCount }
            }
        }
    }

    public var isEmpty: Bool { itemCount == 0 }

    public var timeBounds: TimeBounds {
        var bounds = TimeBounds()
        for resource in resourceMetrics {
            for scope in resource.scopeMetrics {
                for metric in scope.metrics { metric.data.forEachTimestamp { bounds.include($0) } }
            }
        }
        return bounds
    }

    public mutating func filterItems(byTimestamp shouldKeep: (UInt64) -> Bool) -> Int {
        var removed = 0
        for resourceIndex in resourceMetrics.indices {
            for scopeIndex in resourceMetrics[resourceIndex].scopeMetrics.indices {
                for metricIndex in resourceMetrics[resourceIndex].scopeMetrics[scopeIndex].metrics.indices {
                    removed += resourceMetrics[resourceIndex].scopeMetrics[scopeIndex].metrics[metricIndex].data.filterDataPoints(shouldKeep)
                }
                if removed > 0 {
                    resourceMetrics[resourceIndex].scopeMetrics[scopeIndex].metrics.removeAll { $0.data.dataPointCount == 0 }
                }
            }
            if removed > 0 { resourceMetrics[resourceIndex].scopeMetrics.removeAll { $0.metrics.isEmpty } }
        }
        if removed > 0 { resourceMetrics.removeAll { $0.scopeMetrics.isEmpty } }
        return removed
    }

    public mutating func append(contentsOf other: MetricsData) { resourceMetrics.append(contentsOf: other.resourceMetrics) }
}

extension MetricData {
    public var dataPointCount: Int {
        switch self {
        case .none: 0
        case .gauge(let gauge): gauge.dataPoints.count
        case .sum(let sum): sum.dataPoints.count
        case .histogram(let histogram): histogram.dataPoints.count
        case .exponentialHistogram(let histogram): histogram.dataPoints.count
        case .summary(let summary): summary.dataPoints.count
        }
    }

    public func forEachTimestamp(_ body: (UInt64) -> Void) {
        switch self {
        case .none: break
        case .gauge(let gauge): gauge.dataPoints.forEach { body($0.timeUnixNano) }
        case .sum(let sum): sum.dataPoints.forEach { body($0.timeUnixNano) }
        case .histogram(let histogram): histogram.dataPoints.forEach { body($0.timeUnixNano) }
        case .exponentialHistogram(let histogram): histogram.dataPoints.forEach { body($0.timeUnixNano) }
        case .summary(let summary): summary.dataPoints.forEach { body($0.timeUnixNano) }
        }
    }

    /// Removes points whose time fails `shouldKeep`; returns how many were removed.
    mutating func filterDataPoints(_ shouldKeep: (UInt64) -> Bool) -> Int {
        switch self {
        case .none:
            return 0
        case .gauge(var gauge):
            let before = gauge.dataPoints.count
            gauge.dataPoints.removeAll { !shouldKeep($0.timeUnixNano) }
            self = .gauge(gauge)
            return before - gauge.dataPoints.count
        case .sum(var sum):
            let before = sum.dataPoints.count
            sum.dataPoints.removeAll { !shouldKeep($0.timeUnixNano) }
            self = .sum(sum)
            return before - sum.dataPoints.count
        case .histogram(var histogram):
            let before = histogram.dataPoints.count
            histogram.dataPoints.removeAll { !shouldKeep($0.timeUnixNano) }
            self = .histogram(histogram)
            return before - histogram.dataPoints.count
        case .exponentialHistogram(var histogram):
            let before = histogram.dataPoints.count
            histogram.dataPoints.removeAll { !shouldKeep($0.timeUnixNano) }
            self = .exponentialHistogram(histogram)
            return before - histogram.dataPoints.count
        case .summary(var summary):
            let before = summary.dataPoints.count
            summary.dataPoints.removeAll { !shouldKeep($0.timeUnixNano) }
            self = .summary(summary)
            return before - summary.dataPoints.count
        }
    }
}
