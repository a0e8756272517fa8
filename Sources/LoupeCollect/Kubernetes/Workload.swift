import LoupeModel

/// A Deployment, StatefulSet, DaemonSet or Job as the Kubernetes API lists it, reduced to what
/// its metrics need. The API omits status counts that are zero, so a missing count is zero; a
/// missing spec count (`replicas`, `completions`, `parallelism`) is not reported.
public struct Workload: Decodable, Sendable, Equatable {
    public enum Kind: String, CaseIterable, Sendable {
        case deployment, statefulset, daemonset, job

        /// Where the API lists every namespace's objects of the kind.
        public var collectionPath: String {
            switch self {
            case .deployment: "/apis/apps/v1/deployments"
            case .statefulset: "/apis/apps/v1/statefulsets"
            case .daemonset: "/apis/apps/v1/daemonsets"
            case .job: "/apis/batch/v1/jobs"
            }
        }
    }

    public struct Metadata: Decodable, Sendable, Equatable {
        public var name: String?
        public var namespace: String?
        public var uid: String?
    }

    public struct Spec: Decodable, Sendable, Equatable {
        public var replicas: Int64?
        public var completions: Int64?
        public var parallelism: Int64?
    }

    public struct Status: Decodable, Sendable, Equatable {
        public var availableReplicas: Int64?
        public var readyReplicas: Int64?
        public var currentReplicas: Int64?
        public var updatedReplicas: Int64?
        public var currentNumberScheduled: Int64?
        public var desiredNumberScheduled: Int64?
        public var numberMisscheduled: Int64?
        public var numberReady: Int64?
        public var active: Int64?
        public var failed: Int64?
        public var succeeded: Int64?
    }

    public var metadata: Metadata
    public var spec: Spec?
    public var status: Status?

    /// The list the API answers with.
    public struct List: Decodable, Sendable {
        public var items: [Workload]
    }
}

/// Workload objects as metrics, named as the OpenTelemetry Collector's k8s_cluster receiver names
/// them (`k8s.deployment.available`, `k8s.statefulset.ready_pods`, …): one resource per object,
/// with `k8s.namespace.name`, `k8s.<kind>.name` and `.uid`, and the cluster's name.
public enum WorkloadMetrics {
    public static func resourceMetrics(_ workloads: [Workload], kind: Workload.Kind, clusterName: String?, nowUnixNano now: UInt64) -> [ResourceMetrics] {
        workloads.compactMap { workload in
            guard let name = workload.metadata.name, let namespace = workload.metadata.namespace else { return nil }
            var attributes = [KeyValue("k8s.namespace.name", .string(namespace)), KeyValue("k8s.\(kind.rawValue).name", .string(name))]
            if let uid = workload.metadata.uid { attributes.append(KeyValue("k8s.\(kind.rawValue).uid", .string(uid))) }
            if let clusterName { attributes.append(KeyValue("k8s.cluster.name", .string(clusterName))) }
            let metrics = figures(of: workload, kind: kind).map { figure in
                Metric(name: figure.name, description: figure.description, unit: figure.unit, data: .gauge(Gauge(
                    dataPoints: [NumberDataPoint(timeUnixNano: now, value: .int(figure.value))])))
            }
            guard !metrics.isEmpty else { return nil }
            return ResourceMetrics(
                resource: Resource(attributes: attributes),
                scopeMetrics: [ScopeMetrics(scope: InstrumentationScope(name: "loupe.agent.workloads"), metrics: metrics)])
        }
    }

    static func figures(of workload: Workload, kind: Workload.Kind) -> [(name: String, unit: String, description: String, value: Int64)] {
        let status = workload.status ?? Workload.Status()
        let spec = workload.spec ?? Workload.Spec()
        var figures: [(String, String, String, Int64?)]
        switch kind {
        case .deployment:
            figures = [
                ("k8s.deployment.desired", "{pod}", "Pods the deployment should run.", spec.replicas),
                ("k8s.deployment.available", "{pod}", "Pods of the deployment available (ready for at least minReadySeconds).", status.availableReplicas ?? 0),
            ]
        case .statefulset:
            figures = [
                ("k8s.statefulset.desired_pods", "{pod}", "Pods the statefulset should run.", spec.replicas),
                ("k8s.statefulset.ready_pods", "{pod}", "Pods of the statefulset that are ready.", status.readyReplicas ?? 0),
                ("k8s.statefulset.current_pods", "{pod}", "Pods of the statefulset at its current revision.", status.currentReplicas ?? 0),
                ("k8s.statefulset.updated_pods", "{pod}", "Pods of the statefulset at its update revision.", status.updatedReplicas ?? 0),
            ]
        case .daemonset:
            figures = [
                ("k8s.daemonset.current_scheduled_nodes", "{node}", "Nodes running a daemon pod that should.", status.currentNumberScheduled ?? 0),
                ("k8s.daemonset.desired_scheduled_nodes", "{node}", "Nodes that should run a daemon pod.", status.desiredNumberScheduled ?? 0),
                ("k8s.daemonset.misscheduled_nodes", "{node}", "Nodes running a daemon pod that should not.", status.numberMisscheduled ?? 0),
                ("k8s.daemonset.ready_nodes", "{node}", "Nodes whose daemon pod is ready.", status.numberReady ?? 0),
            ]
        case .job:
            figures = [
                ("k8s.job.active_pods", "{pod}", "Pods of the job running.", status.active ?? 0),
                ("k8s.job.desired_successful_pods", "{pod}", "Pods that must succeed for the job to complete.", spec.completions),
                ("k8s.job.failed_pods", "{pod}", "Pods of the job that failed.", status.failed ?? 0),
                ("k8s.job.max_parallel_pods", "{pod}", "Pods the job runs at most at once.", spec.parallelism),
                ("k8s.job.successful_pods", "{pod}", "Pods of the job that succeeded.", status.succeeded ?? 0),
            ]
        }
        return figures.compactMap { name, unit, description, value in value.map { (name, unit, description, $0) } }
    }
}
