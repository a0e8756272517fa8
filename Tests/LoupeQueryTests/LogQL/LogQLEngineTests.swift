import LoupeModel
import Testing

@testable import LoupeQuery

@Suite struct LogQLEngineTests {
    static let second: Int64 = 1_000_000_000

    /// Two streams, entries every 10 s from t=10 s: JSON lines in `api`, logfmt lines in `web`.
    static let queryable = InMemoryLogQLQueryable(streams: [
        LogQLStream(
            labels: ["app": "api", "env": "prod"],
            entries: (1...6).map { i in
                LogQLEntry(
                    timestamp: Int64(i) * 10 * second,
                    line: #"{"level":"\#(i % 2 == 0 ? "error" : "info")","status":\#(200 + i),"msg":"request \#(i)"}"#,
                    metadata: i == 6 ? ["trace_id": "abc"] : Labels())
            }),
        LogQLStream(
            labels: ["app": "web", "env": "prod"],
            entries: (1...6).map { i in
                LogQLEntry(timestamp: Int64(i) * 10 * second + 5 * second, line: "level=\(i <= 2 ? "warn" : "info") took=\(i)00ms path=/p\(i)")
            }),
    ])

    func streams(_ query: String, start: Int64 = 0, end: Int64 = 100 * second, limit: Int = 100, direction: LogQLEngine.Direction = .backward) throws
        -> [LogQLStreamResult]
    {
        let result = try LogQLEngine().rangeQuery(query, start: start, end: end, step: Self.second, limit: limit, direction: direction, queryable: Self.queryable)
        guard case .streams(let streams) = result.value else {
            Issue.record("expected streams, got \(result.value.typeName)")
            return []
        }
        return streams
    }

    @Test func backwardReturnsTheNewestEntriesFirstUpToTheLimit() throws {
        let result = try streams(#"{env="prod"}"#, limit: 3)
        let entries = result.flatMap { stream in stream.entries.map { (stream.labels["app"]!, $0.timestamp / Self.second) } }
        // The three newest across both streams: 65 (web), 60 (api), 55 (web).
        #expect(entries.sorted { $0.1 > $1.1 }.map(\.1) == [65, 60, 55])
        for stream in result {
            #expect(stream.entries.map(\.timestamp) == stream.entries.map(\.timestamp).sorted(by: >))
        }
    }

    @Test func forwardReturnsTheOldestEntriesFirst() throws {
        let result = try streams(#"{env="prod"}"#, limit: 3, direction: .forward)
        let times = result.flatMap { $0.entries.map { $0.timestamp / Self.second } }.sorted()
        #expect(times == [10, 15, 20])
        for stream in result {
            #expect(stream.entries.map(\.timestamp) == stream.entries.map(\.timestamp).sorted())
        }
    }

    @Test func rangeIsStartInclusiveEndExclusive() throws {
        let result = try streams(#"{app="api"}"#, start: 20 * Self.second, end: 40 * Self.second)
        #expect(result.flatMap { $0.entries.map { $0.timestamp / Self.second } }.sorted() == [20, 30])
    }

    @Test func lineFiltersAndParsedLabelsShapeTheStreams() throws {
        let result = try streams(#"{app="web"} |= "took" | logfmt level | level="info" | line_format "{{.level}} {{ __line__ | trunc 6 }}""#)
        #expect(result.count == 1)
        #expect(result.first?.labels == ["app": "web", "env": "prod", "level": "info"])
        #expect(result.first?.entries.map(\.line) == ["info level=", "info level=", "info level=", "info level="])
        #expect(result.first?.entries.map { $0.timestamp / Self.second } == [65, 55, 45, 35])
        // Extracting every field makes each line its own stream (took and path differ per line).
        #expect(try streams(#"{app="web"} | logfmt"#).count == 6)
    }

    @Test func metricQueryOverLogfmtLabels() throws {
        let result = try LogQLEngine().instantQuery(
            #"sum by (level) (count_over_time({app="web"} | logfmt [1m]))"#, at: 70 * Self.second, queryable: Self.queryable)
        guard case .vector(let samples) = result.value else {
            Issue.record("expected a vector")
            return
        }
        let byLevel = Dictionary(uniqueKeysWithValues: samples.map { ($0.labels["level"] ?? "", $0.value) })
        // Window (10 s, 70 s]: web entries at 15..65: levels warn (15, 25) and info (35..65).
        #expect(byLevel == ["warn": 2, "info": 4])
    }

    @Test func unwrapWithDurationConversion() throws {
        let result = try LogQLEngine().instantQuery(
            #"max_over_time({app="web"} | logfmt | unwrap duration(took) [1m])"#, at: 70 * Self.second, queryable: Self.queryable)
        guard case .vector(let samples) = result.value else {
            Issue.record("expected a vector")
            return
        }
        #expect(samples.map(\.value).max() == 0.6)
        #expect(samples.allSatisfy { $0.labels["took"] == nil }, "the unwrapped label leaves the series")
    }

    @Test func pipelineErrorsFailMetricQueries() {
        #expect(throws: LogQLError.self) {
            try LogQLEngine().instantQuery(#"count_over_time({app="web"} | json [1m])"#, at: 70 * Self.second, queryable: Self.queryable)
        }
        // Filtering the error out makes it a valid query.
        #expect(throws: Never.self) {
            try LogQLEngine().instantQuery(#"count_over_time({app="web"} | json | __error__="" [1m])"#, at: 70 * Self.second, queryable: Self.queryable)
        }
    }

    @Test func summingGroupsEarlyGivesTheSameAnswer() throws {
        // `sum by (...)` right around a count reduces the samples to the groups at once; the
        // parenthesized form takes the general path. Both must agree, and errors still surface.
        let engine = LogQLEngine()
        for grouping in ["by (level)", "without (status, msg, request_id)"] {
            let reduced = try engine.rangeQuery(
                #"sum \#(grouping) (count_over_time({app="api"} | json [30s]))"#, start: 0, end: 80 * Self.second, step: 10 * Self.second,
                queryable: Self.queryable)
            let general = try engine.rangeQuery(
                #"sum \#(grouping) ((count_over_time({app="api"} | json [30s])))"#, start: 0, end: 80 * Self.second, step: 10 * Self.second,
                queryable: Self.queryable)
            #expect(reduced == general)
            guard case .matrix(let series) = reduced.value else {
                Issue.record("expected a matrix")
                continue
            }
            #expect(!series.isEmpty)
        }
        #expect(throws: LogQLError.self) {
            try engine.instantQuery(#"sum by (level) (count_over_time({app="web"} | json [1m]))"#, at: 70 * Self.second, queryable: Self.queryable)
        }
    }

    @Test func parserHintsGiveTheSameAnswerAsFullExtraction() throws {
        // Under `sum by`, `| json` extracts only the grouping labels (and what later filters and
        // unwrap read). A no-op line_format after the parser turns the hints off: same answers.
        let queryable = InMemoryLogQLQueryable(streams: [
            LogQLStream(
                labels: ["app": "api", "level": "stream-level"],
                entries: (1...40).map { i in
                    LogQLEntry(
                        timestamp: Int64(i) * Self.second,
                        line: #"{"level":"\#(["info", "warn", "error"][i % 3])","http":{"status":\#(200 + (i % 4) * 100)},"took":"\#(i)ms","id":"x\#(i)"}"#)
                }),
            LogQLStream(
                labels: ["app": "api", "pod": "b"],
                entries: (1...40).map { i in
                    LogQLEntry(timestamp: Int64(i) * Self.second, line: #"{"level":"\#(i % 2 == 0 ? "info" : "debug")","http":{"status":\#(200 + i)},"took":"\#(i * 3)ms"}"#)
                }),
        ])
        let engine = LogQLEngine()
        let queries = [
            #"sum by (level) (count_over_time({app="api"} | json %@ [10s]))"#,
            #"sum by (level_extracted, pod) (count_over_time({app="api"} | json %@ [10s]))"#,
            #"sum by (level) (count_over_time({app="api"} | json | http_status >= 400 %@ [10s]))"#,
            #"sum by (pod) (sum_over_time({app="api"} | json %@ | unwrap duration(took) | __error__="" [10s]))"#,
            #"sum by (level) (rate({app="api"} |= "level" | json | level=~"info|warn" %@ [10s]))"#,
        ]
        for query in queries {
            let hinted = try engine.rangeQuery(
                query.replacingOccurrences(of: " %@", with: ""), start: 0, end: 45 * Self.second, step: 5 * Self.second, queryable: queryable)
            let full = try engine.rangeQuery(
                query.replacingOccurrences(of: "%@", with: #"| line_format "{{__line__}}""#), start: 0, end: 45 * Self.second,
                step: 5 * Self.second, queryable: queryable)
            #expect(hinted == full, "\(query)")
            guard case .matrix(let series) = hinted.value else {
                Issue.record("expected a matrix for \(query)")
                continue
            }
            #expect(!series.isEmpty, "\(query)")
        }
        // The hint is taken: only the required names are extracted.
        guard case .logs(let selector) = try LogQLParser.parse(#"{app="api"} | json | http_status >= 400"#) else {
            Issue.record("expected a log selector")
            return
        }
        let stages = selector.stages
        let pipeline = try LogQLPipeline(stages, requiredLabels: ["level"])
        var builder = LogQLLabelsBuilder(stream: ["app": "api"], metadata: Labels())
        var line = #"{"level":"warn","http":{"status":500},"id":"x1"}"#
        #expect(pipeline.process(line: &line, labels: &builder, timestamp: 0))
        #expect(builder.labels() == ["app": "api", "level": "warn", "http_status": "500"])
        // A line the parser fails on still fails the query with hints.
        let broken = InMemoryLogQLQueryable(streams: [LogQLStream(labels: ["app": "x"], entries: [LogQLEntry(timestamp: Self.second, line: #"{"level":"info""#)])])
        #expect(throws: LogQLError.self) {
            try engine.instantQuery(#"sum by (level) (count_over_time({app="x"} | json [1m]))"#, at: 30 * Self.second, queryable: broken)
        }
    }

    @Test func largeSelectionsRunOnSeveralCoresWithTheSequentialResult() throws {
        // Over 10,000 entries the pipeline runs in slices of streams; sums, per-stream series and
        // errors must be what one pass gives.
        let streams = (0..<5).map { s in
            LogQLStream(
                labels: ["app": "a\(s)"],
                entries: (0..<3_000).map { i in
                    LogQLEntry(timestamp: Int64(i) * 10_000_000, line: #"{"level":"\#(i % 4 == 0 ? "warn" : "info")","n":\#(i)}"#)
                })
        }
        let queryable = InMemoryLogQLQueryable(streams: streams)
        let engine = LogQLEngine()
        let result = try engine.instantQuery(#"sum by (level) (count_over_time({app=~"a.*"} | json [30s]))"#, at: 30 * Self.second, queryable: queryable)
        guard case .vector(let samples) = result.value else {
            Issue.record("expected a vector")
            return
        }
        #expect(samples.map(\.labels) == [["level": "info"], ["level": "warn"]])
        // The window (0 s, 30 s] leaves out the entries at 0 (one warn per stream).
        #expect(samples.map(\.value) == [5 * 2_250, 5 * 749])
        let perStream = try engine.instantQuery(#"max_over_time({app=~"a.*"} | json | unwrap n [30s])"#, at: 30 * Self.second, queryable: queryable)
        guard case .vector(let maxima) = perStream.value else {
            Issue.record("expected a vector")
            return
        }
        #expect(maxima.count == 5 * 2 && maxima.allSatisfy { $0.value >= 2_996 })
        var broken = streams
        broken[4].entries[2_999].line = "not json"
        #expect(throws: LogQLError.self) {
            try engine.instantQuery(#"sum by (level) (count_over_time({app=~"a.*"} | json [30s]))"#, at: 30 * Self.second, queryable: InMemoryLogQLQueryable(streams: broken))
        }
    }

    @Test func instantLogQueriesAreRefused() {
        #expect(throws: LogQLError.self) {
            try LogQLEngine().instantQuery(#"{app="web"}"#, at: 70 * Self.second, queryable: Self.queryable)
        }
    }

    @Test func vectorLayerRunsWithPromQLSemantics() throws {
        let result = try LogQLEngine().rangeQuery(
            #"sum(count_over_time({env="prod"}[30s])) * 2 or vector(0)"#, start: 0, end: 200 * Self.second, step: 50 * Self.second,
            queryable: Self.queryable)
        guard case .matrix(let series) = result.value else {
            Issue.record("expected a matrix")
            return
        }
        #expect(series.count == 1)
        // t=0: nothing (vector(0)); t=50: (20,50] holds 30,40,50 (api) and 25,35,45 (web) = 6 → 12;
        // t=100..200: nothing in the window → 0.
        #expect(series.first?.floats.map(\.value) == [0, 12, 0, 0, 0])
    }
}
