import LoupeModel
import Testing

@testable import LoupeCollect

/// Pipelines' transform and filter rules: refused at validation when OTTL cannot run them, and
/// applied in order (transform, then filter) with resources regrouped after a statement changes one.
@Suite struct CompiledRulesTests {
    /// A LogPipeline with `rules` (written from column 0) under its spec.
    static func resource(transform: String = "", filter: String = "") -> String {
        let rules = (transform + filter).split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }
        return "apiVersion: telemetry.loupe.dev/v1beta1\nkind: LogPipeline\nmetadata: {name: rules}\nspec:\n  output: {loupe: {}}\n"
            + rules.joined(separator: "\n")
    }

    @Test func rulesRunInOrderAndFiltersDrop() throws {
        let yaml = Self.resource(
            transform: """
                transform:
                  - conditions: ['log.severity_text == "warning"']
                    statements: ['set(log.severity_text, "WARN")', 'set(log.severity_number, SEVERITY_NUMBER_WARN)']
                  - statements: ['set(resource.attributes["k8s.cluster.name"], "prod") where log.attributes["tier"] == "edge"']

                """,
            filter: """
                filter:
                  - conditions: ['IsMatch(log.body, ".*health.*")', 'log.severity_text == "DEBUG"']
                """)
        let resource = try #require(try PipelineSet.decode(files: [("r.yaml", yaml)]).resources.first)
        let rules = try resource.compiledRules()
        let service = Resource(attributes: [KeyValue("service.name", .string("web"))])
        let logs = LogsData(resourceLogs: [ResourceLogs(resource: service, scopeLogs: [ScopeLogs(logRecords: [
            LogRecord(severityText: "warning", body: .string("slow")),
            LogRecord(body: .string("GET /healthz 200")),
            LogRecord(severityText: "DEBUG", body: .string("noise")),
            LogRecord(body: .string("edge hit"), attributes: [KeyValue("tier", .string("edge"))]),
            LogRecord(body: .string("plain")),
        ])])])
        let (kept, dropped) = rules.process(logs)
        #expect(dropped == 2)
        let groups = kept.resourceLogs.map { ($0.resource.attributes.count, $0.scopeLogs.flatMap(\.logRecords).map(\.body)) }
        #expect(groups.map(\.0) == [1, 2, 1], "the edge record's resource changed: it stands in its own group")
        #expect(groups.flatMap(\.1) == [.string("slow"), .string("edge hit"), .string("plain")])
        let warned = kept.resourceLogs[0].scopeLogs[0].logRecords[0]
        #expect(warned.severityText == "WARN" && warned.severityNumber == .warn)
        #expect(kept.resourceLogs[1].resource.attributes.contains(KeyValue("k8s.cluster.name", .string("prod"))))
    }

    @Test(arguments: [
        ("transform:\n  - statements: ['replace_patern(log.body, \"a\", \"b\")']\n", "r.yaml:7:20: LogPipeline \"rules\": spec.transform[0].statements[0]: OTTLSpecInvalid: column 1: unknown function \"replace_patern\" (did you mean \"replace_pattern\"?)"),
        ("filter:\n  - conditions: ['span.name == \"x\"']\n", "r.yaml:7:20: LogPipeline \"rules\": spec.filter[0].conditions[0]: OTTLSpecInvalid: column 1: path \"span.name\" belongs to span statements"),
        ("filter:\n  - conditions: ['IsMatch(log.body, \"(unclosed\")']\n", "r.yaml:7:20: LogPipeline \"rules\": spec.filter[0].conditions[0]: OTTLSpecInvalid: column 19: IsMatch: pattern is not a valid regex"),
    ])
    func unrunnableOTTLIsRefusedWithWhere(rules: String, prefix: String) {
        do {
            _ = try PipelineSet.decode(files: [("r.yaml", Self.resource(transform: rules))])
            Issue.record("accepted \(rules)")
        } catch {
            #expect(error.description.hasPrefix(prefix), "\(error)")
        }
    }
}

/// Spans and data points through rules: statements change them, filters drop them, and what a
/// statement does to a metric's name or a point's value lands where it belongs.
@Suite struct CompiledRulesTracesMetricsTests {
    static func rules(_ kind: String, _ rules: String) throws -> CompiledRules {
        let yaml = "apiVersion: telemetry.loupe.dev/v1beta1\nkind: \(kind)\nmetadata: {name: r}\nspec:\n  output: {loupe: {}}\n"
            + rules.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }.joined(separator: "\n")
        return try #require(try PipelineSet.decode(files: [("r.yaml", yaml)]).resources.first).compiledRules()
    }

    @Test func spansAreTransformedAndFiltered() throws {
        let rules = try Self.rules("TracePipeline", """
            transform:
              - conditions: ['span.kind == SPAN_KIND_SERVER']
                statements: ['set(span.attributes["edge"], true)']
            filter:
              - conditions: ['span.name == "health"']
            """)
        let spans = [
            Span(traceID: TraceID(high: 1, low: 1), spanID: SpanID(value: 1), name: "GET /", kind: .server),
            Span(traceID: TraceID(high: 1, low: 1), spanID: SpanID(value: 2), name: "health", kind: .server),
            Span(traceID: TraceID(high: 1, low: 1), spanID: SpanID(value: 3), name: "db", kind: .client),
        ]
        let (kept, dropped) = rules.process(TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: spans)])]))
        #expect(dropped == 1)
        let out = kept.resourceSpans.flatMap(\.scopeSpans).flatMap(\.spans)
        #expect(out.map(\.name) == ["GET /", "db"])
        #expect(out[0].attributes == [KeyValue("edge", .bool(true))] && out[1].attributes.isEmpty)
    }

    @Test func dataPointsAreTransformedAndFilteredAndEmptyMetricsGo() throws {
        let rules = try Self.rules("MetricPipeline", """
            transform:
              - statements: ['set(metric.name, "renamed") where metric.name == "old"', 'set(datapoint.value_int, 0) where datapoint.attributes["reset"] == true']
            filter:
              - conditions: ['datapoint.attributes["drop"] == true']
            """)
        let points = [
            NumberDataPoint(attributes: [KeyValue("reset", .bool(true))], timeUnixNano: 5, value: .int(9)),
            NumberDataPoint(attributes: [KeyValue("drop", .bool(true))], timeUnixNano: 5, value: .int(1)),
        ]
        let metrics = MetricsData(resourceMetrics: [ResourceMetrics(scopeMetrics: [ScopeMetrics(metrics: [
            Metric(name: "old", data: .sum(Sum(dataPoints: points, aggregationTemporality: .cumulative, isMonotonic: true))),
            Metric(name: "gone", data: .gauge(Gauge(dataPoints: [NumberDataPoint(attributes: [KeyValue("drop", .bool(true))], value: .double(1))]))),
        ])])])
        let (kept, dropped) = rules.process(metrics)
        #expect(dropped == 2)
        let out = kept.resourceMetrics.flatMap(\.scopeMetrics).flatMap(\.metrics)
        #expect(out.map(\.name) == ["renamed"], "the metric whose only point was dropped goes")
        guard case .sum(let sum) = out.first?.data else {
            Issue.record("expected a sum")
            return
        }
        #expect(sum.dataPoints.map(\.value) == [.int(0)])
    }
}
