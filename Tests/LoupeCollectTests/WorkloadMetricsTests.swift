import Foundation
import LoupeCollect
import LoupeModel
import Testing

/// Workload objects as the API lists them become the k8s_cluster receiver's metrics.
@Suite struct WorkloadMetricsTests {
    private func decode(_ json: String) throws -> [Workload] {
        try JSONDecoder().decode(Workload.List.self, from: Data(json.utf8)).items
    }

    private func figures(_ resource: ResourceMetrics) -> [String: Int64] {
        var result: [String: Int64] = [:]
        for metric in resource.scopeMetrics.flatMap(\.metrics) {
            guard case .gauge(let gauge) = metric.data, case .int(let value) = gauge.dataPoints[0].value else { continue }
            result[metric.name] = value
        }
        return result
    }

    @Test func deploymentsWithTheirResource() throws {
        let items = try decode("""
            {"kind":"DeploymentList","items":[
              {"metadata":{"name":"checkout","namespace":"shop","uid":"u-1","labels":{"a":"b"}},
               "spec":{"replicas":3,"template":{}},"status":{"availableReplicas":2,"replicas":3}},
              {"metadata":{"name":"idle","namespace":"shop","uid":"u-2"},"spec":{"replicas":0},"status":{}}]}
            """)
        let resources = WorkloadMetrics.resourceMetrics(items, kind: .deployment, clusterName: "prod", nowUnixNano: 42)
        #expect(resources.count == 2)
        let attributes = Dictionary(uniqueKeysWithValues: resources[0].resource.attributes.map { ($0.key, $0.value) })
        #expect(attributes == [
            "k8s.namespace.name": .string("shop"), "k8s.deployment.name": .string("checkout"), "k8s.deployment.uid": .string("u-1"),
            "k8s.cluster.name": .string("prod"),
        ])
        #expect(figures(resources[0]) == ["k8s.deployment.desired": 3, "k8s.deployment.available": 2])
        // Counts the API leaves out are zero.
        #expect(figures(resources[1]) == ["k8s.deployment.desired": 0, "k8s.deployment.available": 0])
        #expect(resources[0].scopeMetrics[0].metrics[0].unit == "{pod}")
    }

    @Test func statefulSetsDaemonSetsAndJobs() throws {
        let sets = try decode(#"{"items":[{"metadata":{"name":"db","namespace":"data"},"spec":{"replicas":3},"status":{"readyReplicas":2,"currentReplicas":3,"updatedReplicas":1}}]}"#)
        #expect(figures(WorkloadMetrics.resourceMetrics(sets, kind: .statefulset, clusterName: nil, nowUnixNano: 1)[0]) == [
            "k8s.statefulset.desired_pods": 3, "k8s.statefulset.ready_pods": 2, "k8s.statefulset.current_pods": 3, "k8s.statefulset.updated_pods": 1,
        ])
        let daemons = try decode(#"{"items":[{"metadata":{"name":"agent","namespace":"ops"},"status":{"currentNumberScheduled":4,"desiredNumberScheduled":5,"numberMisscheduled":1,"numberReady":3}}]}"#)
        let daemon = WorkloadMetrics.resourceMetrics(daemons, kind: .daemonset, clusterName: nil, nowUnixNano: 1)[0]
        #expect(figures(daemon) == [
            "k8s.daemonset.current_scheduled_nodes": 4, "k8s.daemonset.desired_scheduled_nodes": 5, "k8s.daemonset.misscheduled_nodes": 1,
            "k8s.daemonset.ready_nodes": 3,
        ])
        #expect(daemon.scopeMetrics[0].metrics[0].unit == "{node}")
        // A job without completions or parallelism reports neither.
        let jobs = try decode(#"{"items":[{"metadata":{"name":"nightly","namespace":"ops"},"spec":{"completions":5,"parallelism":2},"status":{"active":2,"succeeded":2,"failed":1}},{"metadata":{"name":"once","namespace":"ops"},"spec":{},"status":{"succeeded":1}}]}"#)
        let jobMetrics = WorkloadMetrics.resourceMetrics(jobs, kind: .job, clusterName: nil, nowUnixNano: 1)
        #expect(figures(jobMetrics[0]) == [
            "k8s.job.active_pods": 2, "k8s.job.desired_successful_pods": 5, "k8s.job.failed_pods": 1, "k8s.job.max_parallel_pods": 2, "k8s.job.successful_pods": 2,
        ])
        #expect(figures(jobMetrics[1]) == ["k8s.job.active_pods": 0, "k8s.job.failed_pods": 0, "k8s.job.successful_pods": 1])
    }

    @Test func objectsWithoutANameOrNamespaceAreLeftOut() throws {
        let items = try decode(#"{"items":[{"metadata":{"namespace":"x"}},{"metadata":{"name":"y"}}]}"#)
        #expect(WorkloadMetrics.resourceMetrics(items, kind: .deployment, clusterName: nil, nowUnixNano: 1).isEmpty)
        #expect(throws: (any Error).self) { try decode(#"{"items":[{"metadata":{"name":"y"},"spec":{"replicas":"three"}}]}"#) }
    }
}
