import LoupeScrape
import Testing

@testable import LoupeCollect

/// Which endpoints of annotated Services this node's agent scrapes.
@Suite struct AnnotatedServiceTargetsTests {
    let scrape = ["prometheus.io/scrape": "true"]

    func slice(_ service: String, namespace: String = "shop", endpoints: [EndpointSliceMetadata.Endpoint], ports: [EndpointSliceMetadata.Port] = [.init(number: 8080)]) -> EndpointSliceMetadata {
        EndpointSliceMetadata(namespace: namespace, name: service + "-abcde", service: service, endpoints: endpoints, ports: ports)
    }

    @Test func readyEndpointsOnThisNodeOnTheAnnotatedPortWithPathSchemeAndParameters() throws {
        let services = [ServiceMetadata(namespace: "shop", name: "cart", annotations: [
            "prometheus.io/scrape": "true", "prometheus.io/port": "9102", "prometheus.io/path": "metrics",
            "prometheus.io/scheme": "https", "prometheus.io/param_format": "text",
        ])]
        let slices = [slice("cart", endpoints: [
            .init(addresses: ["10.0.0.1"], ready: true, nodeName: "node-1", podUID: "uid-a", podName: "cart-a"),
            .init(addresses: ["10.0.0.2"], ready: false, nodeName: "node-1", podUID: "uid-b", podName: "cart-b"),
            .init(addresses: ["10.0.1.3"], ready: true, nodeName: "node-2", podUID: "uid-c", podName: "cart-c"),
            .init(addresses: ["10.0.0.4"], nodeName: "node-1"),
        ])]
        let groups = AnnotatedServiceTargets.groups(services: services, slices: slices, pods: [], node: "node-1", namespaces: .all)
        #expect(groups.map(\.targets) == [["10.0.0.1:9102"], ["10.0.0.4:9102"]])
        let group = try #require(groups.first)
        #expect(group.labels["__meta_kubernetes_pod_uid"] == "uid-a" && group.labels["__meta_kubernetes_service_name"] == "cart")
        var config = ScrapeConfig(jobName: "app-services", scrapeInterval: 30_000, scrapeTimeout: 10_000)
        config.staticConfigs = []
        guard case .active(let target) = config.targets(from: [group]).first else {
            Issue.record("no active target")
            return
        }
        #expect(target.url == "https://10.0.0.1:9102/metrics?format=text")
    }

    @Test func withoutAPortAnnotationEveryTCPPortOfTheSlice() {
        let groups = AnnotatedServiceTargets.groups(
            services: [ServiceMetadata(namespace: "shop", name: "cart", annotations: scrape)],
            slices: [slice("cart", endpoints: [.init(addresses: ["10.0.0.1", "fd00::1"], nodeName: "node-1")],
                           ports: [.init(name: "http", number: 8080), .init(name: "dns", number: 53, protocol: "UDP"), .init(number: 9090)])],
            pods: [], node: "node-1", namespaces: .all)
        #expect(groups.map(\.targets) == [["10.0.0.1:8080", "10.0.0.1:9090", "[fd00::1]:8080", "[fd00::1]:9090"]])
    }

    @Test func unannotatedServicesExcludedNamespacesAndPodsScrapedThemselvesAreLeftOut() {
        let services = [
            ServiceMetadata(namespace: "shop", name: "quiet"),
            ServiceMetadata(namespace: "kube-system", name: "dns", annotations: scrape),
            ServiceMetadata(namespace: "shop", name: "cart", annotations: scrape),
        ]
        let slices = [
            slice("quiet", endpoints: [.init(addresses: ["10.0.0.5"], nodeName: "node-1")]),
            slice("dns", namespace: "kube-system", endpoints: [.init(addresses: ["10.0.0.6"], nodeName: "node-1")]),
            slice("cart", endpoints: [
                .init(addresses: ["10.0.0.7"], nodeName: "node-1", podUID: "uid-annotated"),
                .init(addresses: ["10.0.0.8"], nodeName: "node-1", podUID: "uid-plain"),
            ]),
        ]
        let pods = [
            PodMetadata(namespace: "shop", name: "cart-a", uid: "uid-annotated", annotations: scrape),
            PodMetadata(namespace: "shop", name: "cart-b", uid: "uid-plain"),
        ]
        let groups = AnnotatedServiceTargets.groups(services: services, slices: slices, pods: pods, node: "node-1", namespaces: .pullDefault)
        #expect(groups.map(\.targets) == [["10.0.0.8:8080"]])
    }
}
