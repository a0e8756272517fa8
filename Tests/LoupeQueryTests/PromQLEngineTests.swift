import LoupeModel
import LoupeQuery
import Testing

@Suite("PromQL engine")
struct PromQLEngineTests {
    /// Loads a promqltest `load` block and returns the store.
    static func storage(_ interval: Int64, _ lines: [String]) throws -> PromQLMemoryQueryable {
        var storage = PromQLMemoryQueryable()
        for line in lines {
            let description = try SeriesDescription.parse(line)
            for (i, point) in description.points.enumerated() {
                guard case .float(let v)? = point else { continue }
                storage.append(description.labels, float: FloatSample(timestamp: Int64(i) * interval, value: v))
            }
        }
        storage.normalize()
        return storage
    }

    static func vector(_ result: PromQLResult) -> [Labels: Double] {
        guard case .vector(let samples) = result.value else { return [:] }
        var out: [Labels: Double] = [:]
        for sample in samples { out[sample.labels] = sample.value }
        return out
    }

    let engine = PromQLEngine()

    @Test func lookbackIsLeftOpen() throws {
        let store = try Self.storage(60_000, ["metric 1 _ _ _ _ _ _"])
        // The sample at 0 is visible up to 5m - 1ms, not at exactly 5m.
        #expect(Self.vector(try engine.instantQuery("metric", at: 299_999, queryable: store))[["__name__": "metric"]] == 1)
        #expect(Self.vector(try engine.instantQuery("metric", at: 300_000, queryable: store)).isEmpty)
    }

    @Test func staleMarkerEndsSeries() throws {
        let store = try Self.storage(60_000, ["metric 1 2 stale"])
        #expect(Self.vector(try engine.instantQuery("metric", at: 60_000, queryable: store))[["__name__": "metric"]] == 2)
        #expect(Self.vector(try engine.instantQuery("metric", at: 150_000, queryable: store)).isEmpty)
    }

    @Test func offsetAndAt() throws {
        let store = try Self.storage(60_000, ["metric 0+10x10"])
        #expect(Self.vector(try engine.instantQuery("metric offset 2m", at: 300_000, queryable: store)).values.first == 30)
        #expect(Self.vector(try engine.instantQuery("metric @ 120", at: 600_000, queryable: store)).values.first == 20)
    }

    @Test func rateExtrapolation() throws {
        let store = try Self.storage(60_000, ["http_requests_total 0+10x10"])
        let rate = Self.vector(try engine.instantQuery("rate(http_requests_total[5m])", at: 600_000, queryable: store))
        #expect(rate.count == 1)
        #expect(abs(rate[Labels()]! - 10.0 / 60) < 1e-9)
        let increase = Self.vector(try engine.instantQuery("increase(http_requests_total[5m])", at: 600_000, queryable: store))
        #expect(abs(increase[Labels()]! - 50) < 1e-9)
    }

    @Test func counterResetsInRate() throws {
        let store = try Self.storage(60_000, ["c_total 0 10 20 5 15"])
        let increase = Self.vector(try engine.instantQuery("increase(c_total[4m])", at: 240_000, queryable: store))
        // The range (0, 4m] leaves out the sample at 0: 10 → 20 → (reset) 5 → 15 is 25 over 3m, extrapolated
        // one interval back to the range start (below the 1.1-interval threshold): 25 × 4/3.
        #expect(abs(increase[Labels()]! - 100.0 / 3) < 1e-9)
    }

    @Test func vectorMatching() throws {
        let store = try Self.storage(60_000, [
            "a{job=\"x\", i=\"1\"} 1", "a{job=\"x\", i=\"2\"} 2", "b{job=\"x\"} 10",
        ])
        let result = Self.vector(try engine.instantQuery("a * on(job) group_left b", at: 0, queryable: store))
        #expect(result[["job": "x", "i": "1"]] == 10)
        #expect(result[["job": "x", "i": "2"]] == 20)
        #expect(throws: PromQLError.self) { try engine.instantQuery("a * on(job) b", at: 0, queryable: store) }
        #expect(throws: PromQLError.self) { try engine.instantQuery("b * on(job) a", at: 0, queryable: store) }
        let and = Self.vector(try engine.instantQuery("a and on(i) a{i=\"1\"}", at: 0, queryable: store))
        #expect(and.count == 1)
        let comparison = Self.vector(try engine.instantQuery("a > 1", at: 0, queryable: store))
        #expect(comparison == [["__name__": "a", "job": "x", "i": "2"]: 2])
        let boolean = Self.vector(try engine.instantQuery("a > bool 1", at: 0, queryable: store))
        #expect(boolean == [["job": "x", "i": "1"]: 0, ["job": "x", "i": "2"]: 1])
    }

    @Test func duplicateSeriesError() throws {
        let store = try Self.storage(60_000, ["a{job=\"x\", i=\"1\"} 1", "a{job=\"x\", i=\"2\"} 2", "b{job=\"x\"} 10"])
        do {
            _ = try engine.instantQuery("b + on(job) a", at: 0, queryable: store)
            Issue.record("expected an error")
        } catch {
            #expect(error.message.hasPrefix("found duplicate series for the match group {job=\"x\"} on the right hand-side"))
        }
    }

    @Test func aggregations() throws {
        let store = try Self.storage(60_000, [
            "m{g=\"a\", i=\"1\"} 1", "m{g=\"a\", i=\"2\"} 3", "m{g=\"b\", i=\"3\"} 10",
        ])
        #expect(Self.vector(try engine.instantQuery("sum by (g) (m)", at: 0, queryable: store)) == [["g": "a"]: 4, ["g": "b"]: 10])
        #expect(Self.vector(try engine.instantQuery("avg(m)", at: 0, queryable: store)) == [Labels(): 14.0 / 3])
        #expect(Self.vector(try engine.instantQuery("count without (i) (m)", at: 0, queryable: store)) == [["g": "a"]: 2, ["g": "b"]: 1])
        #expect(Self.vector(try engine.instantQuery("max(m)", at: 0, queryable: store)) == [Labels(): 10])
        #expect(Self.vector(try engine.instantQuery("topk(1, m)", at: 0, queryable: store)) == [["__name__": "m", "g": "b", "i": "3"]: 10])
        #expect(Self.vector(try engine.instantQuery("quantile(0.5, m)", at: 0, queryable: store)) == [Labels(): 3])
        #expect(Self.vector(try engine.instantQuery("stdvar(m{g=\"a\"})", at: 0, queryable: store)) == [Labels(): 1])
        #expect(Self.vector(try engine.instantQuery("count_values(\"v\", m)", at: 0, queryable: store)).count == 3)
    }

    @Test func subqueryAlignsToAbsoluteTime() throws {
        let store = try Self.storage(60_000, ["m 0+1x20"])
        let result = try engine.instantQuery("m[5m:1m]", at: 630_000, queryable: store)
        guard case .matrix(let series) = result.value else {
            Issue.record("expected a matrix")
            return
        }
        #expect(series.count == 1)
        #expect(series[0].floats.map(\.timestamp) == [360_000, 420_000, 480_000, 540_000, 600_000])
        #expect(Self.vector(try engine.instantQuery("max_over_time(m[5m:1m])", at: 630_000, queryable: store))[Labels()] == 10)
    }

    @Test func rangeQueryStepsAndScalars() throws {
        let store = try Self.storage(60_000, ["m 0+1x20"])
        let result = try engine.rangeQuery("m * 2", start: 0, end: 180_000, step: 60_000, queryable: store)
        guard case .matrix(let series) = result.value else {
            Issue.record("expected a matrix")
            return
        }
        #expect(series.count == 1)
        #expect(series[0].floats.map(\.value) == [0, 2, 4, 6])
        let scalar = try engine.instantQuery("1 + 2 * 3", at: 0, queryable: store)
        #expect(scalar.value == .scalar(timestamp: 0, value: 7))
    }

    @Test func functions() throws {
        let store = try Self.storage(60_000, ["g{a=\"x-y\"} 1 4 9", "bucket_bucket{le=\"1\"} 1", "bucket_bucket{le=\"+Inf\"} 2"])
        #expect(Self.vector(try engine.instantQuery("sqrt(g)", at: 120_000, queryable: store)) == [["a": "x-y"]: 3])
        #expect(Self.vector(try engine.instantQuery("clamp_max(g, 2)", at: 120_000, queryable: store)) == [["a": "x-y"]: 2])
        #expect(Self.vector(try engine.instantQuery("deriv(g[3m])", at: 120_000, queryable: store))[["a": "x-y"]]! > 0)
        let replaced = Self.vector(try engine.instantQuery("label_replace(g, \"b\", \"$1\", \"a\", \"(.*)-.*\")", at: 120_000, queryable: store))
        #expect(replaced == [["__name__": "g", "a": "x-y", "b": "x"]: 9])
        #expect(Self.vector(try engine.instantQuery("absent(nope{job=\"j\"})", at: 0, queryable: store)) == [["job": "j"]: 1])
        #expect(Self.vector(try engine.instantQuery("histogram_quantile(0.5, bucket_bucket)", at: 0, queryable: store)) == [Labels(): 1])
        #expect(Self.vector(try engine.instantQuery("day_of_week(vector(86400 * 3))", at: 0, queryable: store)) == [Labels(): 0])
    }

    @Test func tooManySamples() throws {
        let store = try Self.storage(60_000, ["m 0+1x100"])
        let small = PromQLEngine(options: .init(maxSamples: 10))
        do {
            _ = try small.instantQuery("m[1h]", at: 3_600_000, queryable: store)
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .tooManySamples)
            #expect(error.message == "query processing would load too many samples into memory in query execution")
        }
    }

    @Test func annotationsCarryPositions() throws {
        let store = try Self.storage(60_000, ["gauge 0+1x10"])
        let result = try engine.instantQuery("rate(gauge[5m])", at: 600_000, queryable: store)
        #expect(result.infos.map(\.message) == [
            "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"gauge\" (1:6)"
        ])
    }

    @Test func nativeHistogramsThroughTheRunner() {
        let script = """
            load 1m
              h{a="1"} {{schema:0 sum:1 count:1 buckets:[1]}}+{{schema:0 sum:1 count:1 buckets:[1]}}x10
              h{a="2"} {{schema:0 sum:2 count:2 buckets:[2]}}x10

            eval instant at 5m histogram_count(sum(h))
              {} 8

            eval instant at 10m histogram_count(rate(h{a="1"}[5m]))
              {a="1"} 0.016666666666666666

            eval instant at 5m histogram_quantile(0.5, h{a="2"})
              {a="2"} 0.7071067811865476

            eval instant at 5m h{a="1"} </ 1
              h{a="1"} {{schema:0 count:6 sum:6 buckets:[6]}}

            eval instant at 5m h{a="1"} >/ 1
              h{a="1"} {{schema:0 count:0 sum:0}}
            """
        let report = PromQLTestRunner.run(fileText: script, file: "histograms")
        #expect(report.failed == 0, "\(report.summary())")
        #expect(report.total == 5)
    }

    @Test func delayedNameRemovalAndLabelReplace() throws {
        let store = try Self.storage(60_000, ["a_total{env=\"1\"} 0+1x10", "b_total{env=\"1\"} 0+2x10"])
        // Both rates lose their names only at the end, so label_replace can still read them.
        let result = Self.vector(
            try engine.instantQuery("label_replace(rate({env=\"1\"}[5m]), \"n\", \"$1\", \"__name__\", \"(.*)\")", at: 600_000, queryable: store))
        #expect(result.keys.map { $0["n"] ?? "" }.sorted() == ["a_total", "b_total"])
        #expect(result.keys.allSatisfy { $0.metricName == nil })
        #expect(throws: PromQLError.self) { try engine.instantQuery("rate({env=\"1\"}[5m])", at: 600_000, queryable: store) }
    }

    @Test func runnerReportsOutcomes() {
        let script = """
            load 1m
              m{a="1"} 0+1x5

            eval instant at 2m m
              m{a="1"} 2

            eval instant at 2m m
              m{a="1"} 3

            eval instant at 2m nonexistent_function(m)
              expect fail
            """
        let report = PromQLTestRunner.run(fileText: script, file: "inline")
        #expect(report.total == 3)
        #expect(report.passed == 2)
        #expect(report.summary().contains("inline: 2/3"))
    }
}
