import LoupeScrape
import Testing

@testable import LoupeCollect

/// Which pods are scraped, where, and with which path, scheme and parameters.
@Suite struct AnnotatedPodTargetsTests {
    func pod(
        _ name: String, namespace: String = "shop", annotations: [String: String] = ["prometheus.io/scrape": "true"],
        ip: String? = "10.0.0.7", phase: String? = "Running", ports: [PodMetadata.ContainerPort] = []
    ) -> PodMetadata {
        PodMetadata(namespace: namespace, name: name, uid: "uid-" + name, annotations: annotations, ip: ip, phase: phase, ports: ports)
    }

    @Test func thePortPathSchemeAndParameterAnnotationsShapeTheTarget() throws {
        let groups = AnnotatedPodTargets.groups([pod("web", annotations: [
            "prometheus.io/scrape": "true", "prometheus.io/port": "9090", "prometheus.io/path": "/stats/prometheus",
            "prometheus.io/scheme": "https", "prometheus.io/param_format": "prometheus",
        ], ports: [.init(container: "app", number: 8080), .init(container: "app", number: 9090)])], namespaces: .all)
        #expect(groups.count == 1)
        let group = try #require(groups.first)
        #expect(group.targets == ["10.0.0.7:9090"])
        #expect(group.labels["__scheme__"] == "https" && group.labels["__metrics_path__"] == "/stats/prometheus")
        #expect(group.labels["__param_format"] == "prometheus")
        #expect(group.labels["__meta_kubernetes_pod_uid"] == "uid-web" && group.labels["__meta_kubernetes_namespace"] == "shop")

        var config = ScrapeConfig(jobName: "app-pods", scrapeInterval: 30_000, scrapeTimeout: 10_000)
        config.staticConfigs = []
        guard case .active(let target) = config.targets(from: groups).first else {
            Issue.record("no active target")
            return
        }
        #expect(target.url == "https://10.0.0.7:9090/stats/prometheus?format=prometheus")
        #expect(target.labels == ["instance": "10.0.0.7:9090", "job": "app-pods"])
    }

    @Test func withoutAPortAnnotationEveryDeclaredTCPPortIsATarget() {
        let groups = AnnotatedPodTargets.groups([pod("web", ports: [
            .init(container: "app", name: "http", number: 8080), .init(container: "app", name: "dns", number: 53, protocol: "UDP"),
            .init(container: "sidecar", number: 15090),
        ])], namespaces: .all)
        #expect(groups.map(\.targets) == [["10.0.0.7:8080", "10.0.0.7:15090"]])
        #expect(AnnotatedPodTargets.groups([pod("bare")], namespaces: .all).map(\.targets) == [["10.0.0.7"]])
        #expect(AnnotatedPodTargets.groups([pod("v6", ip: "fd00::7")], namespaces: .all).map(\.targets) == [["[fd00::7]"]])
    }

    @Test func onlyRunningAnnotatedPodsWithAnIPInAdmittedNamespaces() {
        let pods = [
            pod("yes"),
            pod("not-annotated", annotations: [:]),
            pod("annotated-false", annotations: ["prometheus.io/scrape": "false"]),
            pod("pending", phase: "Pending"),
            pod("done", phase: "Succeeded"),
            pod("no-ip", ip: nil),
            pod("system", namespace: "kube-system"),
        ]
        #expect(AnnotatedPodTargets.groups(pods, namespaces: .pullDefault).map { $0.labels["__meta_kubernetes_pod_name"] } == ["yes"])
        #expect(AnnotatedPodTargets.groups(pods, namespaces: .all).count == 2)
        #expect(AnnotatedPodTargets.groups(pods, namespaces: .include(["other"])).isEmpty)
    }

    @Test func aBadPortAnnotationFallsBackToTheDeclaredPorts() {
        let groups = AnnotatedPodTargets.groups([pod("web", annotations: ["prometheus.io/scrape": "true", "prometheus.io/port": "http"], ports: [
            .init(container: "app", number: 8080),
        ])], namespaces: .all)
        #expect(groups.map(\.targets) == [["10.0.0.7:8080"]])
    }
}
