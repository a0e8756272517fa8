import Testing

@testable import LoupeCollect

/// `TelemetryFlowHealthy` from a window of counters: each reason when, and only when, its case holds.
@Suite struct PipelineConditionsTests {
    func window(received: Int = 0, sent: Int = 0, failed: Int = 0, refused: Int = 0, dropped: Int = 0, queued: Int = 0, capacity: Int = 1_000) -> PipelineFlowWindow {
        var window = PipelineFlowWindow()
        window.received = received
        window.sent = sent
        window.failedRequests = failed
        window.refused = refused
        window.droppedRequests = dropped
        window.queuedBytes = queued
        window.queueCapacityBytes = capacity
        return window
    }

    @Test func eachReasonInItsCase() {
        #expect(PipelineFlowHealth.condition(window()).reason == "FlowHealthy")
        #expect(PipelineFlowHealth.condition(window(received: 10, sent: 10)).status == .true)
        #expect(PipelineFlowHealth.condition(window(received: 10, sent: 0, dropped: 2)).reason == "AllDataDropped")
        #expect(PipelineFlowHealth.condition(window(received: 10, sent: 0, refused: 3)).reason == "AllDataDropped")
        #expect(PipelineFlowHealth.condition(window(received: 10, sent: 5, dropped: 1)).reason == "SomeDataDropped")
        #expect(PipelineFlowHealth.condition(window(received: 10, sent: 0, failed: 4, queued: 100)).reason == "NoLogsDelivered")
        #expect(PipelineFlowHealth.condition(window(received: 10, sent: 3, failed: 4, queued: 100)).reason == "FlowHealthy", "some get through")
        #expect(PipelineFlowHealth.condition(window(received: 10, sent: 3, queued: 800)).reason == "BufferFillingUp")
        #expect(PipelineFlowHealth.condition(window(received: 10, sent: 3, queued: 799)).reason == "FlowHealthy")
        var throttled = window(received: 10, sent: 10)
        throttled.throttled = 3
        #expect(PipelineFlowHealth.condition(throttled).reason == "Throttling")
        throttled.queuedBytes = 900
        #expect(PipelineFlowHealth.condition(throttled).reason == "BufferFillingUp", "a filling queue says more")
        let lost = PipelineFlowHealth.condition(window(received: 10, sent: 5, refused: 2, dropped: 1))
        #expect(lost.status == .false && lost.message.contains("2 refused") && lost.message.contains("1 queued requests dropped"))
    }

    @Test func theClientCertificateIsWarnedOfAheadAndWhenExpired() {
        let now: Int64 = 1_800_000_000
        let healthy = PipelineConfigurationHealth.condition(component: "Agent", certificateNotValidAfter: nil, nowUnixSeconds: now)
        #expect(healthy == PipelineCondition(type: "ConfigurationGenerated", status: .true, reason: "AgentConfigured", message: "The agent runs the pipeline as declared"))
        #expect(PipelineConfigurationHealth.condition(component: "Gateway", certificateNotValidAfter: now + 15 * 86_400, nowUnixSeconds: now).reason == "GatewayConfigured")
        let soon = PipelineConfigurationHealth.condition(component: "Agent", certificateNotValidAfter: now + 14 * 86_400, nowUnixSeconds: now)
        #expect(soon.status == .true && soon.reason == "TLSCertificateAboutToExpire")
        #expect(soon.message.hasSuffix("valid until 2027-01-29T08:00:00Z"))
        let expired = PipelineConfigurationHealth.condition(component: "Agent", certificateNotValidAfter: now, nowUnixSeconds: now)
        #expect(expired.status == .false && expired.reason == "TLSCertificateExpired" && expired.message.contains("2027-01-15T08:00:00Z"))
    }

    @Test func timestampsAreCivilDatesInUTC() {
        #expect(PipelineConfigurationHealth.timestamp(0) == "1970-01-01T00:00:00Z")
        #expect(PipelineConfigurationHealth.timestamp(951_782_400) == "2000-02-29T00:00:00Z")
        #expect(PipelineConfigurationHealth.timestamp(4_102_444_799) == "2099-12-31T23:59:59Z")
        #expect(PipelineConfigurationHealth.timestamp(-1) == "1969-12-31T23:59:59Z")
    }

    @Test func aRefusedChangeIsNamedAsTheDesignNamesIt() {
        func reason(_ code: PipelineError.Code, _ path: String) -> String {
            PipelineConfigurationHealth.refusedChange(PipelineError(code, location: "p.yaml:3:1", resource: "LogPipeline \"a\"", path: path, "wrong")).reason
        }
        #expect(reason(.invalid, "spec.output.otlp.endpoint.value") == "EndpointInvalid")
        #expect(reason(.invalid, "spec.output.otlp.tls") == "TLSConfigurationInvalid")
        #expect(reason(.unsupported, "spec.transform[0].statements[0]") == "OTTLSpecInvalid")
        #expect(reason(.invalid, "spec.filter[1].conditions[0]") == "OTTLSpecInvalid")
        #expect(reason(.secretMissing, "spec.output.otlp.headers[0]") == "ReferencedSecretMissing")
        #expect(reason(.invalid, "spec.output") == "ValidationFailed")
        let condition = PipelineConfigurationHealth.refusedChange(PipelineError(.invalid, location: "p.yaml:3:1", path: "spec", "bad"))
        #expect(condition.status == .false && condition.message.hasSuffix("p.yaml:3:1: spec: bad"))
    }
}
