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
