import Foundation
import LoupeCollect
import LoupeModel
import LoupeStorage
import Synchronization

/// Every pipeline's counters, their recent history and the conditions derived from them: what
/// `/metrics`, `/api/v1/pipelines` and `loupe pipelines status` show.
public final class AgentStatus: Sendable {
    public struct Totals: Sendable, Equatable, Codable {
        public var received = 0
        public var filtered = 0
        public var sent = 0
        public var failedRequests = 0
        public var refused = 0
        public var throttled = 0
        public var droppedRequests = 0
        public var droppedBytes = 0
        public var queuedRequests = 0
        public var queuedBytes = 0
        public var queueCapacityBytes = 0
    }

    public struct PipelineReport: Sendable, Equatable, Codable {
        public var kind: String
        public var name: String
        public var conditions: [PipelineCondition]
        public var totals: Totals
    }

    struct Sample {
        var atUnixNano: UInt64
        var totals: Totals
    }

    private let current: Mutex<[AgentPlan.Pipeline]>
    var pipelines: [AgentPlan.Pipeline] { current.withLock { $0 } }
    private let waiting = Mutex<[AgentPlan.Waiting]>([])
    /// Why the last change of the files was refused (the pipelines run as they were), until the
    /// files are valid again.
    private let refusedChange = Mutex<PipelineError?>(nil)

    /// Pipelines one of whose services stopped with an error (they do not run whole until the
    /// next reload), and why.
    private let stoppedServices = Mutex<[String: String]>([:])

    /// A service of `pipeline` (display name) stopped with an error.
    public func stopped(pipeline: String, reason: String) { stoppedServices.withLock { $0[pipeline] = reason } }

    /// A change of the files was refused (nil: they are as running, or valid, again).
    public func refuse(_ error: PipelineError?) { refusedChange.withLock { $0 = error } }
    /// How far back `TelemetryFlowHealthy` looks.
    let windowNanoseconds: UInt64
    private let history: Mutex<[String: [Sample]]>

    /// Its limit and pushbacks go in `/metrics`.
    let memoryLimiter: MemoryLimiter?
    /// `Agent` or `Gateway`, as the conditions name the component.
    let component: String
    private let clock: WallClock

    public init(
        pipelines: [AgentPlan.Pipeline], window: Duration = .seconds(300), memoryLimiter: MemoryLimiter? = nil, role: AgentPlan.Role = .agent,
        clock: WallClock = .system
    ) {
        self.memoryLimiter = memoryLimiter
        component = role == .agent ? "Agent" : "Gateway"
        self.clock = clock
        current = Mutex(pipelines)
        windowNanoseconds = UInt64(window.components.seconds) * 1_000_000_000
        history = Mutex([:])
    }

    /// Reports on a new set of pipelines (after a reload): their counters start again, so does the window.
    public func install(_ pipelines: [AgentPlan.Pipeline], waiting: [AgentPlan.Waiting] = []) {
        current.withLock { $0 = pipelines }
        self.waiting.withLock { $0 = waiting }
        refusedChange.withLock { $0 = nil }
        stoppedServices.withLock { $0 = [:] }
        history.withLock { $0 = [:] }
    }

    static func key(_ pipeline: AgentPlan.Pipeline) -> String { pipeline.resource.displayName }

    func totals(_ pipeline: AgentPlan.Pipeline) -> Totals {
        let queue = pipeline.queue.disk.statistics
        return Totals(
            received: pipeline.counters.received.load(ordering: .relaxed), filtered: pipeline.counters.filtered.load(ordering: .relaxed), sent: pipeline.counters.sent.load(ordering: .relaxed),
            failedRequests: pipeline.counters.failedRequests.load(ordering: .relaxed), refused: pipeline.counters.refused.load(ordering: .relaxed),
            throttled: pipeline.counters.throttled.load(ordering: .relaxed),
            droppedRequests: queue.droppedRecords, droppedBytes: queue.droppedBytes, queuedRequests: queue.queuedRecords, queuedBytes: queue.queuedBytes,
            queueCapacityBytes: pipeline.queue.disk.maximumBytes)
    }

    /// Records the counters as of `now` and forgets samples older than the window.
    public func sample(nowUnixNano now: UInt64) {
        let current = pipelines.map { (Self.key($0), totals($0)) }
        history.withLock { history in
            for (key, totals) in current {
                var samples = history[key, default: []]
                samples.append(Sample(atUnixNano: now, totals: totals))
                samples.removeAll { now > $0.atUnixNano && now - $0.atUnixNano > windowNanoseconds }
                history[key] = samples
            }
        }
    }

    public func reports() -> [PipelineReport] {
        let nowSeconds = Int64(clock.nowUnixNano() / 1_000_000_000)
        let refused = refusedChange.withLock { $0 }
        let stopped = stoppedServices.withLock { $0 }
        let running = pipelines.map { pipeline in
            let now = totals(pipeline)
            let oldest = history.withLock { $0[Self.key(pipeline)]?.first?.totals } ?? Totals()
            var window = PipelineFlowWindow()
            window.received = now.received - oldest.received
            window.sent = now.sent - oldest.sent
            window.failedRequests = now.failedRequests - oldest.failedRequests
            window.refused = now.refused - oldest.refused
            window.throttled = now.throttled - oldest.throttled
            window.droppedRequests = now.droppedRequests - oldest.droppedRequests
            window.queuedBytes = now.queuedBytes
            window.queueCapacityBytes = max(1, now.queueCapacityBytes)
            return PipelineReport(
                kind: pipeline.resource.kind.rawValue, name: pipeline.resource.name,
                conditions: [
                    refused.flatMap { $0.resource == pipeline.resource.displayName ? PipelineConfigurationHealth.refusedChange($0) : nil }
                        ?? PipelineConfigurationHealth.condition(
                            component: component, certificateNotValidAfter: pipeline.certificateNotValidAfter, nowUnixSeconds: nowSeconds),
                    stopped[pipeline.resource.displayName].map { reason in
                        PipelineCondition(type: "\(component)Healthy", status: .false, reason: "\(component)NotReady", message: reason)
                    } ?? PipelineCondition(type: "\(component)Healthy", status: .true, reason: "\(component)Ready", message: "The \(component.lowercased()) is running"),
                    PipelineFlowHealth.condition(window, signalItems: Self.items(pipeline.resource.kind)),
                ],
                totals: now)
        }
        let waiting = waiting.withLock { $0 }.map { waiting in
            PipelineReport(
                kind: waiting.resource.kind.rawValue, name: waiting.resource.name,
                conditions: [
                    PipelineCondition(type: "ConfigurationGenerated", status: .false, reason: "ReferencedSecretMissing", message: waiting.error.message),
                    PipelineCondition(type: "\(component)Healthy", status: .true, reason: "\(component)Ready", message: "The \(component.lowercased()) is running"),
                    PipelineCondition(
                        type: "TelemetryFlowHealthy", status: .unknown, reason: "ReferencedSecretMissing",
                        message: "The pipeline starts once the secret it references exists"),
                ],
                totals: Totals())
        }
        return running + waiting
    }

    static func items(_ kind: PipelineResource.Kind) -> String {
        switch kind {
        case .logPipeline: "logs"
        case .tracePipeline: "spans"
        case .metricPipeline: "metrics"
        }
    }

    /// The counters in the Prometheus text format.
    public func metricsText() -> String {
        let all = pipelines.map { ($0.resource, totals($0)) }
        var text = ""
        func family(_ name: String, _ type: String, _ help: String, _ value: (Totals) -> Int) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (resource, totals) in all {
                text += "\(name){kind=\"\(resource.kind.rawValue)\",pipeline=\"\(resource.name)\"} \(value(totals))\n"
            }
        }
        family("loupe_pipeline_received_items_total", "counter", "Items the pipeline's inputs took in and queued.") { $0.received }
        family("loupe_pipeline_filtered_items_total", "counter", "Items a filter rule of the pipeline dropped.") { $0.filtered }
        family("loupe_pipeline_sent_items_total", "counter", "Items the output's backend accepted.") { $0.sent }
        family("loupe_pipeline_failed_requests_total", "counter", "Requests to the backend that failed and were retried.") { $0.failedRequests }
        family("loupe_pipeline_refused_items_total", "counter", "Items the backend refused for good (4xx); not retried.") { $0.refused }
        family("loupe_pipeline_throttled_total", "counter", "Times input was held back over the memory limit (OTLP refused as retryable, log reading paused).") { $0.throttled }
        family("loupe_pipeline_queue_dropped_requests_total", "counter", "Queued requests dropped to stay within the queue's disk budget.") { $0.droppedRequests }
        family("loupe_pipeline_queue_dropped_bytes_total", "counter", "Bytes of queued requests dropped to stay within the budget.") { $0.droppedBytes }
        family("loupe_pipeline_queued_requests", "gauge", "Requests waiting in the queue.") { $0.queuedRequests }
        family("loupe_pipeline_queued_bytes", "gauge", "Bytes waiting in the queue.") { $0.queuedBytes }
        family("loupe_pipeline_queue_capacity_bytes", "gauge", "The queue's disk budget.") { $0.queueCapacityBytes }
        if let memoryLimiter {
            text += "# HELP loupe_agent_memory_limit_bytes Resident memory above which the process pushes back.\n"
            text += "# TYPE loupe_agent_memory_limit_bytes gauge\nloupe_agent_memory_limit_bytes \(memoryLimiter.limitBytes)\n"
            text += "# HELP loupe_agent_memory_pushbacks_total Requests refused and tailing rounds skipped while over the memory limit.\n"
            text += "# TYPE loupe_agent_memory_pushbacks_total counter\n"
            text += "loupe_agent_memory_pushbacks_total \(memoryLimiter.pushbacks.load(ordering: .relaxed))\n"
        }
        return text
    }
}
