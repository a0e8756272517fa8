import Foundation
import Logging
import LoupeCollect
import LoupeStorage
import Testing

@testable import LoupeAgent

/// Pipeline reports: conditions from the plan, refused changes and stopped services.
@Suite struct AgentStatusTests {
    private func plan(_ directory: String) throws -> AgentPlan {
        let set = try PipelineSet.decode(files: [("p.yaml", """
            apiVersion: telemetry.loupe.dev/v1beta1
            kind: LogPipeline
            metadata: {name: backend}
            spec:
              output:
                otlp:
                  protocol: http
                  endpoint: {value: "http://127.0.0.1:9"}
            """)])
        return try AgentPlan(pipelines: set, options: AgentPlan.Options(dataDirectory: directory), role: .gateway, logger: Logger(label: "test"))
    }

    @Test func aStoppedServiceAndARefusedChangeShowUntilTheNextPlan() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-status-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let plan = try plan(directory)
        #expect(plan.serviceOwners == Array(repeating: "LogPipeline \"backend\"", count: plan.services.count))
        let status = AgentStatus(pipelines: plan.pipelines, role: .gateway)
        func conditions() -> [String: PipelineCondition] {
            Dictionary(uniqueKeysWithValues: status.reports()[0].conditions.map { ($0.type, $0) })
        }
        #expect(conditions()["GatewayHealthy"]?.reason == "GatewayReady" && conditions()["ConfigurationGenerated"]?.reason == "GatewayConfigured")

        status.stopped(pipeline: "LogPipeline \"backend\"", reason: "OTLPExporter stopped: no transport")
        status.refuse(PipelineError(.invalid, location: "p.yaml:8:20", resource: "LogPipeline \"backend\"", path: "spec.output.otlp.endpoint.value", "\"x\" is not an endpoint"))
        let troubled = conditions()
        #expect(troubled["GatewayHealthy"] == PipelineCondition(type: "GatewayHealthy", status: .false, reason: "GatewayNotReady", message: "OTLPExporter stopped: no transport"))
        #expect(troubled["ConfigurationGenerated"]?.reason == "EndpointInvalid" && troubled["ConfigurationGenerated"]?.status == .false)
        // Another pipeline's refusal is not this one's.
        status.refuse(PipelineError(.invalid, location: "q.yaml:1:1", resource: "LogPipeline \"other\"", path: "spec", "bad"))
        #expect(conditions()["ConfigurationGenerated"]?.reason == "GatewayConfigured")

        status.install(plan.pipelines)
        #expect(conditions()["GatewayHealthy"]?.status == .true)
    }
}
