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
        let lost = PipelineFlowHealth.condition(window(received: 10, sent: 5, refused: 2, dropped: 1))
        #expect(lost.status == .false && lost.message.contains("2 refused") && lost.message.contains("1 queued requests dropped"))
    }
}
