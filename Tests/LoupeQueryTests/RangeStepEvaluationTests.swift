import LoupeModel
import LoupeQuery
import Testing

/// Range queries are computed series by series where possible; every step of their result must
/// equal an instant query at that step (which always runs the step-by-step evaluator).
@Suite("Range queries agree with instant queries at every step")
struct RangeStepEvaluationTests {
    /// Counters with resets, gauges with NaN, gaps and stale markers, scraped every ~15 s for 1 h.
    static func store(seed: UInt64) -> PromQLMemoryQueryable {
        var random = PromQLFuzzTests.Generator(state: seed)  // SplitMix64: a failure reproduces
        var store = PromQLMemoryQueryable()
        for instance in ["a", "b", "c", "d"] {
            for job in ["api", "db"] {
                let base: Labels = ["instance": instance, "job": job]
                var counter = Double(Int.random(in: 0...1000, using: &random))
                var time: Int64 = Int64.random(in: 0..<15_000, using: &random)
                var gaugeGone = false
                while time < 3_600_000 {
                    if Int.random(in: 0..<40, using: &random) == 0 { time += 240_000 }  // a scrape outage
                    counter += Double(Int.random(in: 0...50, using: &random)) + (Bool.random(using: &random) ? 0.25 : 0)
                    if Int.random(in: 0..<90, using: &random) == 0 { counter = Double(Int.random(in: 0...5, using: &random)) }
                    var labels = base
                    labels.set("__name__", "requests_total")
                    store.append(labels, float: FloatSample(timestamp: time, value: counter))
                    labels.set("__name__", "temperature")
                    let gauge = Int.random(in: 0..<200, using: &random) == 0 ? Double.nan : Double(Int.random(in: -20...40, using: &random)) / 4
                    if !gaugeGone { store.append(labels, float: FloatSample(timestamp: time, value: gauge)) }
                    if instance == "d" && !gaugeGone && time > 2_400_000 {
                        store.append(labels, float: FloatSample(timestamp: time + 1, value: StaleMarker.value))
                        gaugeGone = true
                    }
                    if job == "api" {
                        labels.set("__name__", "capacity")
                        store.append(labels, float: FloatSample(timestamp: time, value: Double(100 + instance.utf8.first!)))
                    }
                    time += 15_000 + Int64.random(in: -200...200, using: &random)
                }
            }
        }
        store.normalize()
        return store
    }

    static let queries = [
        "requests_total", "temperature", "temperature offset 3m", "requests_total @ 1800", "-temperature", "(temperature)",
        "rate(requests_total[5m])", "increase(requests_total[2m])", "irate(requests_total[1m])", "delta(temperature[10m])",
        "idelta(temperature[5m])", "changes(temperature[10m])", "resets(requests_total[30m])", "deriv(temperature[10m])",
        "avg_over_time(temperature[5m])", "sum_over_time(temperature[3m])", "min_over_time(temperature[7m])",
        "max_over_time(temperature[7m] offset 1m)", "count_over_time(requests_total[4m])", "present_over_time(temperature[1m])",
        "last_over_time(temperature[2m])", "stddev_over_time(temperature[10m])", "stdvar_over_time(requests_total[10m])",
        "ts_of_max_over_time(temperature[10m])", "rate(temperature[5m])",
        "sum(rate(requests_total[5m]))", "sum by (job) (rate(requests_total[5m]))", "avg without (instance) (temperature)",
        "count by (job) (temperature)", "max by (instance) (temperature)", "min(temperature)", "group by (job) (capacity)",
        "stddev by (job) (temperature)", "stdvar(temperature)", "sum by (__name__) ({job=\"api\"})",
        "count by (__name__) ({__name__=~\".+\"})",
        "temperature * 2", "2 - temperature", "temperature > 5", "temperature > bool 5", "1 < bool temperature",
        "temperature / on (instance, job) capacity", "1 - temperature / capacity", "temperature == ignoring (job) capacity",
        "rate(requests_total[5m]) > bool rate(requests_total[5m] offset 5m)", "100 * (1 - avg by (job) (temperature) / 10)",
        "time() - 1800", "temperature + time() / 1000",
        // Selections: ties (temperatures are quarter degrees) and NaN keep the step-by-step order.
        "topk(2, rate(requests_total[5m]))", "topk(2, temperature)", "bottomk(3, temperature)", "topk by (job) (1, temperature)",
        "bottomk without (instance) (2, rate(requests_total[5m]))", "limitk(2, temperature)", "limitk by (job) (1, capacity)",
        "topk(0, temperature)", "topk(100, temperature)", "sum(topk(2, temperature))", "bottomk(1.9, -temperature)",
        // Nodes the series-by-series evaluator leaves to the step-by-step one, over children it computes.
        "quantile(0.5, temperature)", "sort(temperature)", "topk(scalar(sum(capacity)) / 200, temperature)",
        "label_replace(rate(requests_total[5m]), \"x\", \"$1\", \"instance\", \"(.*)\")",
        "temperature / on (job) group_left sum by (job) (capacity)", "temperature and capacity", "temperature or capacity",
        "timestamp(temperature)", "absent(nonexistent)", "max_over_time(rate(requests_total[5m])[10m:1m])",
        "scalar(sum(capacity)) * temperature", "histogram_quantile(0.9, rate(requests_total[5m]))",
        // Subqueries: evaluated once over the steps covering every window, then sliced.
        "rate(temperature[5m:30s])", "avg_over_time(sum by (job) (temperature)[15m:2m])",
        "max_over_time(avg_over_time(temperature[5m:1m])[20m:5m])", "min_over_time(rate(requests_total[5m])[10m:1m] offset 3m)",
        "sum_over_time(temperature[20s:10s])", "quantile_over_time(0.5, rate(requests_total[5m])[10m:1m])",
        "last_over_time(temperature[10m:1m] @ 1800)", "count_over_time((temperature > 2)[30m:])",
        "sum(max_over_time(topk(1, temperature)[5m:1m]))",
        // A result whose series collide once the name is dropped.
        "rate({__name__=~\"requests_total|capacity\"}[5m])",
    ]

    static func equal(_ a: Double, _ b: Double) -> Bool { a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }

    @Test(arguments: [(0 as Int64, 3_600_000 as Int64, 60_000 as Int64), (600_000, 3_000_000, 37_000), (1_234, 2_000_000, 15_000)])
    func everyStepMatchesAnInstantQuery(window: (start: Int64, end: Int64, step: Int64)) throws {
        let store = Self.store(seed: 42)
        // The second reads the series a shard at a time.
        let engines = [PromQLEngine(), PromQLEngine(options: .init(rangeFetchSamples: 50, rangeProbeShards: 2))]
        for query in Self.queries {
            for engine in engines {
                let range: PromQLResult
                do {
                    range = try engine.rangeQuery(query, start: window.start, end: window.end, step: window.step, queryable: store)
                } catch {
                    // Then some step must fail as an instant query too.
                    var failed = false
                    for t in stride(from: window.start, through: window.end, by: Int(window.step)) {
                        if (try? engine.instantQuery(query, at: t, queryable: store)) == nil { failed = true }
                    }
                    #expect(failed, "\(query): range query failed (\(error)) but every instant query succeeded")
                    continue
                }
                guard case .matrix(let series) = range.value else {
                    Issue.record("\(query): not a matrix")
                    continue
                }
                var byLabels: [Labels: [Int64: Double]] = [:]
                for entry in series {
                    #expect(byLabels[entry.labels] == nil, "\(query): series \(entry.labels) twice")
                    byLabels[entry.labels] = Dictionary(uniqueKeysWithValues: entry.floats.map { ($0.timestamp, $0.value) })
                }
                var pointsSeen = 0
                var annotations = Set<PromQLAnnotation>()
                for t in stride(from: window.start, through: window.end, by: Int(window.step)) {
                    let instant = try engine.instantQuery(query, at: t, queryable: store)
                    annotations.formUnion(instant.annotations)
                    var expected: [Labels: Double] = [:]
                    switch instant.value {
                    case .scalar(_, let value): expected[Labels()] = value
                    case .vector(let samples): for sample in samples { expected[sample.labels] = sample.value }
                    default: Issue.record("\(query): instant result is not a vector or scalar")
                    }
                    for (labels, value) in expected {
                        let got = byLabels[labels]?[t]
                        #expect(got.map { Self.equal($0, value) } == true, "\(query) at \(t): \(labels) expected \(value), got \(String(describing: got))")
                    }
                    for (labels, points) in byLabels where points[t] != nil && expected[labels] == nil {
                        Issue.record("\(query) at \(t): \(labels) = \(points[t]!) is not in the instant result")
                    }
                    pointsSeen += expected.count
                }
                #expect(pointsSeen == series.reduce(0) { $0 + $1.floats.count }, "\(query)")
                // Only range queries warn that sorting is pointless; every other annotation must agree.
                let rangeAnnotations = Set(range.annotations.filter { !$0.message.contains("ineffective for range queries") })
                #expect(rangeAnnotations == annotations, "\(query): annotations differ")
            }
        }
    }

    @Test func theSampleLimitCountsSamplesReadPerStep() throws {
        let store = Self.store(seed: 7)
        // 8 counter series × ~20 samples in a 5m window at every step.
        let tight = PromQLEngine(options: .init(maxSamples: 100))
        #expect(throws: PromQLError.self) {
            try tight.rangeQuery("sum(rate(requests_total[5m]))", start: 600_000, end: 1_200_000, step: 60_000, queryable: store)
        }
        let roomy = PromQLEngine(options: .init(maxSamples: 1_000))
        let result = try roomy.rangeQuery("sum(rate(requests_total[5m]))", start: 600_000, end: 1_200_000, step: 60_000, queryable: store)
        guard case .matrix(let series) = result.value else {
            Issue.record("not a matrix")
            return
        }
        #expect(series.count == 1 && series[0].floats.count == 11)
    }
}
