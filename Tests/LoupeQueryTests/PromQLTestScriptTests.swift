import Foundation
import LoupeModel
@testable import LoupeQuery
import Testing

@Suite("promqltest scripts")
struct PromQLTestScriptTests {
    @Test("series descriptions expand like Prometheus's")
    func expansion() throws {
        let series = try SeriesDescription.parse(#"my_metric{env="prod", "a.b"='x\ny'} 5 2+3x2 _ stale -2+4x3 1-2x4 _x2 7x1 Inf -Inf NaN"#)
        #expect(series.labels == Labels(dictionaryLiteral: ("__name__", "my_metric"), ("env", "prod"), ("a.b", "x\ny")))
        let floats = series.points.map { point -> Double? in
            if case .float(let value) = point { return value }
            return nil
        }
        #expect(floats.count == 1 + 3 + 1 + 1 + 4 + 5 + 2 + 2 + 3)
        #expect(Array(floats[0..<4]) == [5, 2, 5, 8])
        #expect(floats[4] == nil)
        if case .float(let stale) = series.points[5]! { #expect(StaleMarker.isStale(stale)) } else { Issue.record("no stale marker") }
        #expect(Array(floats[6..<10]) == [-2, 2, 6, 10])
        #expect(Array(floats[10..<15]) == [1, -1, -3, -5, -7])
        #expect(floats[15] == nil && floats[16] == nil)
        #expect(Array(floats[17..<19]) == [7, 7])
        #expect(floats[19] == .infinity && floats[20] == -.infinity && floats[21]!.isNaN)
    }

    @Test("native histogram descriptions, repeated and incremented")
    func histograms() throws {
        let series = try SeriesDescription.parse(
            "h {{schema:1 sum:3 count:22 buckets:[5 10 7] z_bucket:1 z_bucket_w:0.001 counter_reset_hint:gauge}} {{sum:1 count:1}}x1 {{schema:0 sum:5 count:4 buckets:[1 2 1]}}+{{sum:2 count:1 buckets:[1] offset:1}}x2")
        #expect(series.points.count == 1 + 2 + 3)
        guard case .histogram(let first, let hintGiven) = series.points[0]! else { Issue.record("not a histogram"); return }
        #expect(hintGiven)
        #expect(first.schema == 1 && first.sum == 3 && first.count == 22 && first.zeroCount == 1 && first.zeroThreshold == 0.001)
        #expect(first.counterResetHint == .gauge)
        #expect(first.positiveSpans == [.init(offset: 0, length: 3)] && first.positiveBuckets == [5, 10, 7])
        guard case .histogram(let last, let lastHint) = series.points[5]! else { Issue.record("not a histogram"); return }
        #expect(!lastHint)
        #expect(last.sum == 9 && last.count == 6)
        #expect(NativeHistogram.bucketMap(spans: last.positiveSpans, buckets: last.positiveBuckets) == [0: 1, 1: 4, 2: 1])
    }

    @Test("load, clear and eval commands with expectations")
    func commands() throws {
        let script = try PromQLTestScript.parse("""
            # comment
            load 5m
            \thttp_requests{path="/foo"}\t1 2 3
            \tother 0+1x2

            eval instant at 50m resets(http_requests[5m])
            \t{path="/foo"} 0

            eval range from 0 to 10m step 5m sum(http_requests)
            \texpect no_warn
            \t{} 1 2 3

            eval instant at 1m ceil({__name__=~'a|b'})
            \texpect fail msg: "vector cannot contain metrics with the same labelset"

            eval instant at 50m 1 + 1
            \t2

            eval instant at 50m ("Foo")
            \texpect string `Foo`

            eval instant at 1m some_metric[1m]
            \texpect range vector from 10s to 1m step 10s
            \texpect warn regex: PromQL warning: .* \\(1:5\\)

            clear
            load_with_nhcb 1m
            \tx_bucket{le="1"} 1
            """)
        #expect(script.commands.count == 9)
        guard case .load(let load) = script.commands[0] else { Issue.record("expected load"); return }
        #expect(load.interval == 300_000 && load.series.count == 2 && !load.withNHCB)
        guard case .eval(let instant) = script.commands[1] else { Issue.record("expected eval"); return }
        #expect(instant.timing == .instant(at: 3_000_000))
        #expect(instant.query == "resets(http_requests[5m])")
        #expect(instant.expectedSeries.first?.labels == Labels(dictionaryLiteral: ("path", "/foo")))
        guard case .eval(let range) = script.commands[2] else { Issue.record("expected eval"); return }
        #expect(range.timing == .range(start: 0, end: 600_000, step: 300_000))
        #expect(range.expectations == [.noWarn])
        guard case .eval(let failing) = script.commands[3] else { Issue.record("expected eval"); return }
        #expect(failing.expectations == [.fail(.exact("vector cannot contain metrics with the same labelset"))])
        guard case .eval(let scalar) = script.commands[4] else { Issue.record("expected eval"); return }
        #expect(scalar.expectedScalar == 2)
        guard case .eval(let string) = script.commands[5] else { Issue.record("expected eval"); return }
        #expect(string.expectedString == "Foo")
        guard case .eval(let rangeVector) = script.commands[6] else { Issue.record("expected eval"); return }
        #expect(rangeVector.expectedRangeVector?.start == 10_000 && rangeVector.expectedRangeVector?.end == 60_000)
        #expect(rangeVector.expectations == [.warn(.regex(#"PromQL warning: .* \(1:5\)"#))])
        guard case .load(let nhcb) = script.commands[8] else { Issue.record("expected load"); return }
        #expect(nhcb.withNHCB)
    }

    @Test("errors name the line")
    func errors() {
        #expect(throws: PromQLTestScript.ParseError.self) { try PromQLTestScript.parse("frobnicate\n") }
        #expect(throws: PromQLTestScript.ParseError.self) { try PromQLTestScript.parse("load 5m\n  m{a=\"b\" 1\n") }
        #expect(throws: PromQLTestScript.ParseError.self) { try PromQLTestScript.parse("eval instant 5m up\n") }
        #expect(throws: SeriesDescription.ParseError.self) { try SeriesDescription.parse("m 1+x") }
    }

    @Test("every conformance script parses")
    func conformanceScriptsParse() throws {
        let shared = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/conformance/promql")
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: shared.path) else { return }
        var evals = 0
        for file in files.sorted() where file.hasSuffix(".test") {
            let text = try String(contentsOf: shared.appendingPathComponent(file), encoding: .utf8)
            do {
                let script = try PromQLTestScript.parse(text)
                evals += script.commands.filter { if case .eval = $0 { true } else { false } }.count
            } catch {
                Issue.record("\(file): \(error)")
            }
        }
        #expect(evals > 2_000)
    }
}
