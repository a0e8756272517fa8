import LoupeCollect
import LoupeModel
import LoupeStorage
import LoupeWire
import Synchronization

/// Where OTLP pushed to the agent or gateway goes: every pipeline of the signal whose OTLP input
/// is enabled takes the resources its namespace selector admits, transforms and filters them, and
/// queues them durably. The sender is answered only once every pipeline has queued its part.
public final class OTLPRouter: Sendable {
    public struct Route: Sendable {
        public var pipeline: AgentPlan.Pipeline
        public var namespaces: NamespaceSelector
        public var rules: CompiledRules
        /// For a MetricPipeline with `temporality: delta`: its series' last cumulative points.
        public var delta: DeltaConversion?
    }

    /// One pipeline's cumulative-to-delta state, shared by the requests it takes.
    public final class DeltaConversion: Sendable {
        let state = Mutex(CumulativeToDelta(startedUnixNano: WallClock.system.nowUnixNano()))

        public init() {}

        func convert(_ data: MetricsData) -> MetricsData {
            let now = WallClock.system.nowUnixNano()
            return state.withLock { $0.convert(data, nowUnixNano: now) }
        }
    }

    /// Why a request was not taken.
    public struct Refusal: Error, Sendable {
        public enum Code: Sendable {
            /// The body is not an OTLP request (400 / INVALID_ARGUMENT).
            case malformed
            /// No pipeline takes the signal (404 / UNIMPLEMENTED).
            case noPipeline
            /// A queue could not store it (503 / UNAVAILABLE: retry).
            case unavailable
        }

        public var code: Code
        public var message: String
    }

    /// nil while the pipelines are being replaced (a reload): requests are then refused, retryable.
    private let routes: Mutex<[Signal: [Route]]?>

    /// Refuses requests, retryable, while the process is over its memory limit.
    let memoryLimiter: MemoryLimiter?

    /// Kubernetes metadata added to pushed resources (from `pods` when the API is watched; the
    /// cluster's name alone otherwise); nil adds none.
    private let enrichment: Mutex<PushedResourceEnrichment?>
    let pods: PodDirectory?

    public init(routes: [Signal: [Route]], memoryLimiter: MemoryLimiter? = nil, enrichment: PushedResourceEnrichment? = nil, pods: PodDirectory? = nil) {
        self.routes = Mutex(routes)
        self.memoryLimiter = memoryLimiter
        self.enrichment = Mutex(enrichment)
        self.pods = pods
    }

    /// The address in grpc-swift's description of a peer (`ipv4:10.1.2.3:50412`,
    /// `ipv6:[fd00::1]:50412`); nil for a Unix socket or anything else.
    static func peerIP(grpcPeer: String) -> String? {
        if grpcPeer.hasPrefix("ipv4:") {
            let rest = grpcPeer.dropFirst(5)
            return rest.lastIndex(of: ":").map { String(rest[..<$0]) } ?? String(rest)
        }
        if grpcPeer.hasPrefix("ipv6:") {
            var rest = grpcPeer.dropFirst(5)
            if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") { rest = rest[rest.index(after: rest.startIndex)..<close] }
            return String(rest)
        }
        return nil
    }

    /// What a new plan adds to pushed resources (its `Telemetry` settings may have changed).
    public func install(enrichment: PushedResourceEnrichment?) { self.enrichment.withLock { $0 = enrichment } }

    private func enrich(_ resource: inout Resource, peerIP: String?) {
        enrichment.withLock { $0 }?.enrich(&resource, peerIP: peerIP, pods: pods)
    }

    /// Puts the routes of a new set of pipelines in place, or none (nil) while they are replaced.
    public func install(_ routes: [Signal: [Route]]?) { self.routes.withLock { $0 = routes } }

    public func takes(_ signal: Signal) -> Bool { !((routes.withLock { $0 })?[signal] ?? []).isEmpty }

    /// Routes one export request (protobuf) that came from `peerIP`. Returns the items taken by at
    /// least one pipeline.
    public func route(signal: Signal, protobuf body: [UInt8], peerIP: String? = nil) throws(Refusal) -> Int {
        guard let current = routes.withLock({ $0 }) else {
            throw Refusal(code: .unavailable, message: "the pipelines are being reloaded; retry")
        }
        guard let routes = current[signal], !routes.isEmpty else {
            throw Refusal(code: .noPipeline, message: "no \(Self.kind(of: signal)) here takes \(signal) over OTLP")
        }
        if let refusal = memoryLimiter?.refusal() {
            for route in routes { route.pipeline.counters.throttled.add(1, ordering: .relaxed) }
            throw Refusal(code: .unavailable, message: refusal)
        }
        func decoded<Data>(_ decode: () throws(WireError) -> Data) throws(Refusal) -> Data {
            do throws(WireError) {
                return try decode()
            } catch {
                throw Refusal(code: .malformed, message: "not an OTLP \(signal) request: \(error)")
            }
        }
        switch signal {
        case .logs:
            var data = try decoded { () throws(WireError) in try OTLPProtobuf.decodeLogs(body) }
            for index in data.resourceLogs.indices { enrich(&data.resourceLogs[index].resource, peerIP: peerIP) }
            return try deliver(routes, items: data.itemCount) { route throws(Refusal) in
                let selected = LogsData(resourceLogs: data.resourceLogs.filter { Self.admits(route.namespaces, $0.resource) })
                let (kept, dropped) = route.rules.process(selected)
                return (kept.itemCount, dropped, OTLPProtobuf.encodeLogs(kept))
            }
        case .traces:
            var data = try decoded { () throws(WireError) in try OTLPProtobuf.decodeTraces(body) }
            for index in data.resourceSpans.indices { enrich(&data.resourceSpans[index].resource, peerIP: peerIP) }
            return try deliver(routes, items: data.itemCount) { route throws(Refusal) in
                let selected = TraceData(resourceSpans: data.resourceSpans.filter { Self.admits(route.namespaces, $0.resource) })
                let (kept, dropped) = route.rules.process(selected)
                return (kept.itemCount, dropped, OTLPProtobuf.encodeTraces(kept))
            }
        case .metrics:
            var data = try decoded { () throws(WireError) in try OTLPProtobuf.decodeMetrics(body) }
            for index in data.resourceMetrics.indices { enrich(&data.resourceMetrics[index].resource, peerIP: peerIP) }
            return try deliver(routes, items: data.itemCount) { route throws(Refusal) in
                let selected = MetricsData(resourceMetrics: data.resourceMetrics.filter { Self.admits(route.namespaces, $0.resource) })
                var (kept, dropped) = route.rules.process(selected)
                if let delta = route.delta {
                    kept = delta.convert(kept)
                }
                return (kept.itemCount, dropped, OTLPProtobuf.encodeMetrics(kept))
            }
        }
    }

    private func deliver(
        _ routes: [Route], items: Int, _ prepare: (Route) throws(Refusal) -> (kept: Int, filtered: Int, request: [UInt8])
    ) throws(Refusal) -> Int {
        var taken = 0
        for route in routes {
            let (kept, filtered, request) = try prepare(route)
            if kept > 0 {
                do {
                    try route.pipeline.queue.append(itemCount: kept, request: request)
                } catch {
                    throw Refusal(code: .unavailable, message: "\(route.pipeline.resource.displayName) could not queue the request: \(error.message)")
                }
            }
            route.pipeline.counters.received.add(kept + filtered, ordering: .relaxed)
            route.pipeline.counters.filtered.add(filtered, ordering: .relaxed)
            taken = max(taken, kept + filtered)
        }
        return min(taken, items)
    }

    /// A namespace selector on pushed data: a resource naming its namespace (`k8s.namespace.name`)
    /// is taken as the selector says; one naming none only when the selector takes all or excludes.
    static func admits(_ selector: NamespaceSelector, _ resource: Resource) -> Bool {
        guard case .string(let namespace)? = resource.attributes.first(where: { $0.key == "k8s.namespace.name" })?.value else {
            if case .include = selector { return false }
            return true
        }
        return selector.admits(namespace)
    }

    static func kind(of signal: Signal) -> String {
        switch signal {
        case .logs: "LogPipeline"
        case .traces: "TracePipeline"
        case .metrics: "MetricPipeline"
        }
    }
}
