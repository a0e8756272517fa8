import LoupeModel
import Testing

@testable import LoupeCollect

/// `temporality: delta`: consecutive cumulative points become their differences; first points and
/// resets start a series again; other kinds pass unchanged.
@Suite struct CumulativeToDeltaTests {
    static func sum(_ value: NumberValue, time: UInt64, start: UInt64 = 100, monotonic: Bool = true, route: String = "/a") -> MetricsData {
        MetricsData(resourceMetrics: [ResourceMetrics(scopeMetrics: [ScopeMetrics(metrics: [
            Metric(name: "requests", data: .sum(Sum(
                dataPoints: [NumberDataPoint(attributes: [KeyValue("route", .string(route))], startTimeUnixNano: start, timeUnixNano: time, value: value)],
                aggregationTemporality: .cumulative, isMonotonic: monotonic))),
            Metric(name: "temperature", data: .gauge(Gauge(dataPoints: [NumberDataPoint(timeUnixNano: time, value: .double(21))]))),
        ])])])
    }

    static func points(_ data: MetricsData) -> [NumberDataPoint] {
        data.resourceMetrics.flatMap(\.scopeMetrics).flatMap(\.metrics).compactMap { metric -> [NumberDataPoint]? in
            if case .sum(let sum) = metric.data {
                #expect(sum.aggregationTemporality == .delta)
                return sum.dataPoints
            }
            return nil
        }.flatMap { $0 }
    }

    @Test func sumsBecomeDifferencesAndResetsStartAgain() {
        var converter = CumulativeToDelta(startedUnixNano: 1_000)
        #expect(Self.points(converter.convert(Self.sum(.int(10), time: 200), nowUnixNano: 1)).isEmpty, "the first point starts the series")
        let second = Self.points(converter.convert(Self.sum(.int(15), time: 300), nowUnixNano: 2))
        #expect(second.map(\.value) == [.int(5)] && second.map(\.startTimeUnixNano) == [200] && second.map(\.timeUnixNano) == [300])
        #expect(Self.points(converter.convert(Self.sum(.int(3), time: 400), nowUnixNano: 3)).isEmpty, "a monotonic sum going down is a reset")
        #expect(Self.points(converter.convert(Self.sum(.int(7), time: 500), nowUnixNano: 4)).map(\.value) == [.int(4)])
        #expect(Self.points(converter.convert(Self.sum(.int(9), time: 600, start: 550), nowUnixNano: 5)).isEmpty, "a new start time is a reset")
        #expect(Self.points(converter.convert(Self.sum(.double(1.5), time: 200, route: "/b"), nowUnixNano: 6)).isEmpty, "series apart")
        #expect(Self.points(converter.convert(Self.sum(.double(4), time: 300, route: "/b"), nowUnixNano: 7)).map(\.value) == [.double(2.5)])
        let gauges = converter.convert(Self.sum(.int(1), time: 900, monotonic: false, route: "/c"), nowUnixNano: 8)
            .resourceMetrics.flatMap(\.scopeMetrics).flatMap(\.metrics).filter { $0.name == "temperature" }
        #expect(gauges.count == 1, "gauges pass unchanged")
    }

    @Test func nonMonotonicSumsMayGoDown() {
        var converter = CumulativeToDelta(startedUnixNano: 1_000)
        _ = converter.convert(Self.sum(.int(10), time: 200, monotonic: false), nowUnixNano: 1)
        #expect(Self.points(converter.convert(Self.sum(.int(4), time: 300, monotonic: false), nowUnixNano: 2)).map(\.value) == [.int(-6)])
    }

    @Test func histogramsBucketByBucket() {
        var converter = CumulativeToDelta(startedUnixNano: 1_000)
        func histogram(_ counts: [UInt64], sum: Double, time: UInt64) -> MetricsData {
            MetricsData(resourceMetrics: [ResourceMetrics(scopeMetrics: [ScopeMetrics(metrics: [Metric(name: "latency", data: .histogram(Histogram(
                dataPoints: [HistogramDataPoint(startTimeUnixNano: 1, timeUnixNano: time, count: counts.reduce(0, +), sum: sum, bucketCounts: counts, explicitBounds: [1, 10])],
                aggregationTemporality: .cumulative)))])])])
        }
        _ = converter.convert(histogram([1, 2, 3], sum: 30, time: 10), nowUnixNano: 1)
        let out = converter.convert(histogram([2, 2, 5], sum: 50, time: 20), nowUnixNano: 2)
        guard case .histogram(let result)? = out.resourceMetrics.first?.scopeMetrics.first?.metrics.first?.data else {
            Issue.record("expected a histogram")
            return
        }
        #expect(result.aggregationTemporality == .delta)
        #expect(result.dataPoints.map(\.bucketCounts) == [[1, 0, 2]] && result.dataPoints.map(\.count) == [3] && result.dataPoints.map(\.sum) == [20])
    }

    @Test func aSeriesStartedAfterTheConverterSendsItsFirstTotal() {
        var converter = CumulativeToDelta(startedUnixNano: 1_000)
        let first = Self.points(converter.convert(Self.sum(.int(10), time: 2_000, start: 1_500), nowUnixNano: 1))
        #expect(first.map(\.value) == [.int(10)] && first.map(\.startTimeUnixNano) == [1_500])
        #expect(Self.points(converter.convert(Self.sum(.int(12), time: 3_000, start: 1_500), nowUnixNano: 2)).map(\.value) == [.int(2)])
    }

    @Test func seriesNotSeenForLongAreForgotten() {
        var converter = CumulativeToDelta(startedUnixNano: 1_000, forgetAfterNanoseconds: 10)
        _ = converter.convert(Self.sum(.int(10), time: 200), nowUnixNano: 1)
        #expect(converter.seriesCount == 1)
        _ = converter.convert(MetricsData(), nowUnixNano: 100)
        #expect(converter.seriesCount == 0)
    }
}
