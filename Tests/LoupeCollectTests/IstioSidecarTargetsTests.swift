import LoupeModel
import LoupeScrape
import Testing

@testable import LoupeCollect

/// Which sidecars `input.istio` scrapes, and which of their metrics it keeps.
@Suite struct IstioSidecarTargetsTests {
    func pod(
        _ name: String, namespace: String = "shop", containers: [String] = ["app", "istio-proxy"], annotations: [String: String] = [:],
        phase: String = "Running"
    ) -> PodMetadata {
        PodMetadata(namespace: namespace, name: name, uid: "uid-" + name, annotations: annotations, ip: "10.0.0.9", phase: phase, containers: containers)
    }

    @Test func podsWithTheProxyOrTheInjectorsAnnotationAreScrapedOnTheProxysPort() throws {
        let pods = [
            pod("meshed"),
            pod("annotated", containers: ["app"], annotations: ["sidecar.istio.io/status": "{}"]),
            pod("plain", containers: ["app"]),
            pod("pending", phase: "Pending"),
            pod("gateway", namespace: "istio-system"),
        ]
        let groups = IstioSidecarTargets.groups(pods, namespaces: .pullDefault)
        #expect(groups.map { $0.labels["__meta_kubernetes_pod_name"] } == ["annotated", "meshed"])
        #expect(groups.allSatisfy { $0.targets == ["10.0.0.9:15090"] })
        var config = ScrapeConfig(jobName: IstioSidecarTargets.job, scrapeInterval: 30_000, scrapeTimeout: 10_000)
        config.metricsPath = IstioSidecarTargets.metricsPath
        guard case .active(let target) = config.targets(from: groups).first else {
            Issue.record("no active target")
            return
        }
        #expect(target.url == "http://10.0.0.9:15090/stats/prometheus")
    }

    @Test(arguments: [false, true])
    func onlyIstioMetricsAndEnvoysWhenAsked(envoyMetrics: Bool) {
        let rules = IstioSidecarTargets.metricRelabeling(envoyMetrics: envoyMetrics)
        func kept(_ name: String) -> Bool { Relabeler.process([Labels.metricNameLabel: name], rules) != nil }
        #expect(kept("istio_requests_total"))
        #expect(kept("envoy_cluster_upstream_rq_total") == envoyMetrics)
        #expect(!kept("go_goroutines") && !kept("istio") && !kept("my_istio_total"))
    }
}
