import Foundation
import Logging
import LoupeCollect
import LoupeModel
import ServiceLifecycle

/// A MetricPipeline's `input.runtime` workload resources (`deployment`, `statefulset`,
/// `daemonset`, `job`): the cluster's objects of those kinds listed from the Kubernetes API every
/// interval and turned into the k8s_cluster receiver's metrics. They are the same from every
/// node, so only the agent that leads (`ClusterLeadership`) collects them: one series per object
/// for the cluster, whichever agents come and go.
public final class WorkloadMetricsCollector: Service {
    public struct Options: Sendable {
        public var kinds: [Workload.Kind] = Workload.Kind.allCases
        public var namespaces = NamespaceSelector.pullDefault
        public var interval: Duration = .seconds(30)
        public var clusterName: String?

        public init() {}
    }

    let options: Options
    private let settings: KubernetesClient.Settings
    private let leadership: ClusterLeadership
    private let intake: MetricsIntake
    private let logger: Logger

    public init(
        options: Options, kubernetes: KubernetesPodWatch.Settings, leadership: ClusterLeadership, rules: CompiledRules,
        delta: OTLPRouter.DeltaConversion?, queue: OutputQueue, counters: PipelineCounters, logger: Logger
    ) {
        self.options = options
        settings = kubernetes.client
        self.leadership = leadership
        intake = MetricsIntake(rules: rules, delta: delta, queue: queue, counters: counters)
        self.logger = logger
    }

    public func run() async throws {
        leadership.want()
        let client = KubernetesClient(settings: settings)
        var failures = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if leadership.isLeader {
                do {
                    try intake.take(try await collect(client))
                    failures = 0
                } catch {
                    failures += 1
                    logger.log(level: failures == 1 ? .warning : .debug, "workload metrics could not be collected", metadata: ["error": "\(error)"])
                }
            }
            await pause(options.interval)
        }
        await client.shutdown()
    }

    func collect(_ client: KubernetesClient) async throws -> MetricsData {
        var data = MetricsData()
        for kind in options.kinds {
            let response = try await client.send(.GET, kind.collectionPath)
            guard response.status == 200 else {
                throw KubernetesError(message: "listing \(kind.collectionPath) answered \(response.status): \(response.text.prefix(300))")
            }
            let list = try JSONDecoder().decode(Workload.List.self, from: Data(buffer: response.body))
            let admitted = list.items.filter { options.namespaces.admits($0.metadata.namespace ?? "") }
            data.resourceMetrics += WorkloadMetrics.resourceMetrics(
                admitted, kind: kind, clusterName: options.clusterName, nowUnixNano: WallClock.system.nowUnixNano())
        }
        return data
    }
}
