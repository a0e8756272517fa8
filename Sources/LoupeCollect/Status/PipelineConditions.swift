import LoupeModel

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
    /// Times input was held back (pushed OTLP refused as retryable, a round of log reading
    /// skipped) while the process was over its memory limit.
    public var throttled = 0
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
        if window.throttled > 0 {
            return PipelineCondition(
                type: type, status: .false, reason: "Throttling",
                message: "Input was held back \(window.throttled) times over the memory limit: senders were asked to retry, log files wait to be read")
        }
        return PipelineCondition(type: type, status: .true, reason: "FlowHealthy", message: "No problems detected in the telemetry flow")
    }
}

/// `ConfigurationGenerated`: the pipeline runs as declared, with a word about the output's
/// client certificate when it is about to expire or has (the pipeline goes on running and
/// queueing, so nothing is lost while the certificate is replaced).
public enum PipelineConfigurationHealth {
    /// A certificate that expires within this many seconds is said to be about to (two weeks).
    public static let certificateWarningSeconds: Int64 = 14 * 24 * 3600

    /// `component` is `Agent` or `Gateway`; `certificateNotValidAfter` is the output's client
    /// certificate's expiry in Unix seconds, if it has one.
    public static func condition(component: String, certificateNotValidAfter: Int64?, nowUnixSeconds now: Int64) -> PipelineCondition {
        let type = "ConfigurationGenerated"
        if let expiry = certificateNotValidAfter {
            let date = timestamp(expiry)
            if expiry <= now {
                return PipelineCondition(
                    type: type, status: .false, reason: "TLSCertificateExpired",
                    message: "The output's TLS certificate expired on \(date); the backend may refuse the connection until it is replaced")
            }
            if expiry - now <= certificateWarningSeconds {
                return PipelineCondition(
                    type: type, status: .true, reason: "TLSCertificateAboutToExpire",
                    message: "The output's TLS certificate is about to expire: it is valid until \(date)")
            }
        }
        return PipelineCondition(type: type, status: .true, reason: "\(component)Configured", message: "The \(component.lowercased()) runs the pipeline as declared")
    }

    static func timestamp(_ seconds: Int64) -> String {
        CivilDate.rfc3339(unixNanoseconds: seconds * 1_000_000_000)
    }
}

extension PipelineConfigurationHealth {
    /// `ConfigurationGenerated` for a pipeline whose changed definition was refused (it runs on as
    /// it was): the reason the design names for what is wrong.
    public static func refusedChange(_ error: PipelineError) -> PipelineCondition {
        let reason: String
        if error.code == .secretMissing {
            reason = "ReferencedSecretMissing"
        } else if error.path.hasPrefix("spec.output.otlp.endpoint") {
            reason = "EndpointInvalid"
        } else if error.path.hasPrefix("spec.output.otlp.tls") {
            reason = "TLSConfigurationInvalid"
        } else if error.path.hasPrefix("spec.transform") || error.path.hasPrefix("spec.filter") {
            reason = "OTTLSpecInvalid"
        } else {
            reason = "ValidationFailed"
        }
        return PipelineCondition(
            type: "ConfigurationGenerated", status: .false, reason: reason,
            message: "The changed pipeline is not applied; it runs as it was: \(error)")
    }
}
