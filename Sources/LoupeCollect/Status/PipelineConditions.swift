/// A pipeline's status conditions, as Kubernetes telemetry operators report them: whether its
/// configuration could be made, whether the component running it is up, and whether data flows.
public struct PipelineCondition: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable {
        case `true` = "True"
        case `false` = "False"
        case unknown = "Unknown"
    }

    public var type: String
    public var status: Status
    public var reason: String
    public var message: String

    public init(type: String, status: Status, reason: String, message: String) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
    }
}

/// How much moved through a pipeline over a recent window (differences of its counters), and
/// how full its queue is now: what `TelemetryFlowHealthy` is judged on.
public struct PipelineFlowWindow: Sendable, Equatable {
    public var received = 0
    public var sent = 0
    /// Requests that failed and are being retried.
    public var failedRequests = 0
    /// Items refused by the backend for good.
    public var refused = 0
    /// Queued requests dropped to stay within the disk budget.
    public var droppedRequests = 0
    /// Bytes in the queue now, and its budget.
    public var queuedBytes = 0
    public var queueCapacityBytes = 1

    public init() {}
}

public enum PipelineFlowHealth {
    /// Above this share of its budget the queue is said to be filling up.
    public static let bufferFillingShare = 0.8

    /// `TelemetryFlowHealthy` from the window: data lost first (all, then some), then a backend
    /// that accepts nothing, then a queue filling up, else healthy.
    public static func condition(_ window: PipelineFlowWindow, signalItems: String = "logs") -> PipelineCondition {
        let type = "TelemetryFlowHealthy"
        let lost = window.refused + window.droppedRequests
        if lost > 0 && window.sent == 0 {
            return PipelineCondition(
                type: type, status: .false, reason: "AllDataDropped",
                message: "Backend is not reachable or rejects \(signalItems): \(window.refused) refused, \(window.droppedRequests) queued requests dropped over the queue's budget, none delivered")
        }
        if lost > 0 {
            return PipelineCondition(
                type: type, status: .false, reason: "SomeDataDropped",
                message: "Some \(signalItems) were lost: \(window.refused) refused by the backend, \(window.droppedRequests) queued requests dropped over the queue's budget")
        }
        if window.failedRequests > 0 && window.sent == 0 && (window.received > 0 || window.queuedBytes > 0) {
            return PipelineCondition(
                type: type, status: .false, reason: "NoLogsDelivered",
                message: "No \(signalItems) delivered: \(window.failedRequests) requests failed and are being retried; the queue holds \(window.queuedBytes) bytes")
        }
        if Double(window.queuedBytes) >= Double(window.queueCapacityBytes) * bufferFillingShare {
            return PipelineCondition(
                type: type, status: .false, reason: "BufferFillingUp",
                message: "The queue holds \(window.queuedBytes) of \(window.queueCapacityBytes) bytes; past its budget the oldest \(signalItems) are dropped")
        }
        return PipelineCondition(type: type, status: .true, reason: "FlowHealthy", message: "No problems detected in the telemetry flow")
    }
}
