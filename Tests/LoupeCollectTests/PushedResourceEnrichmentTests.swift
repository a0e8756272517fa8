import LoupeCollect
import LoupeModel
import Testing

/// Pushed resources get their pod's metadata, found as the k8sattributes processor finds it.
@Suite struct PushedResourceEnrichmentTests {
    struct Pods: PodLookup {
        var pods: [PodMetadata]
        func pod(uid: String) -> PodMetadata? { pods.first { $0.uid == uid } }
        func pod(ip: String) -> PodMetadata? { pods.first { $0.ip == ip } }
        func pod(namespace: String, name: String) -> PodMetadata? { pods.first { $0.namespace == namespace && $0.name == name } }
    }

    let pods = Pods(pods: [
        PodMetadata(
            namespace: "shop", name: "checkout-7d9f8b6c4-x2k9p", uid: "u1", labels: ["app": "checkout", "pod-template-hash": "7d9f8b6c4", "team": "a"],
            owners: [.init(kind: "ReplicaSet", name: "checkout-7d9f8b6c4")], ip: "10.0.0.1"),
        PodMetadata(namespace: "dev", name: "tool", uid: "u2", ip: "10.0.0.2"),
    ])

    private func enriched(_ attributes: [String: String], peer: String? = nil, lookup: (any PodLookup)? = nil) -> [String: String] {
        var resource = Resource(attributes: attributes.sorted { $0.key < $1.key }.map { KeyValue($0.key, .string($0.value)) })
        var names = ContainerResource(clusterName: "prod")
        names.podLabelKeys = ["team"]
        PushedResourceEnrichment(attributes: names).enrich(&resource, peerIP: peer, pods: lookup ?? pods)
        var result: [String: String] = [:]
        for attribute in resource.attributes {
            guard case .string(let value) = attribute.value else { continue }
            #expect(result[attribute.key] == nil, "each key once")
            result[attribute.key] = value
        }
        return result
    }

    @Test func thePodIsFoundByIPThenUIDThenNameThenThePeer() {
        let byIP = enriched(["k8s.pod.ip": "10.0.0.1"], peer: "10.0.0.2")
        #expect(byIP == [
            "k8s.pod.ip": "10.0.0.1", "k8s.namespace.name": "shop", "k8s.pod.name": "checkout-7d9f8b6c4-x2k9p", "k8s.pod.uid": "u1",
            "k8s.cluster.name": "prod", "k8s.deployment.name": "checkout", "k8s.replicaset.name": "checkout-7d9f8b6c4", "k8s.pod.label.team": "a",
            "service.name": "checkout",
        ])
        #expect(enriched(["k8s.pod.uid": "u2"], peer: "10.0.0.1")["k8s.pod.name"] == "tool")
        #expect(enriched(["k8s.namespace.name": "dev", "k8s.pod.name": "tool"])["k8s.pod.uid"] == "u2")
        #expect(enriched([:], peer: "10.0.0.2")["k8s.pod.name"] == "tool")
        // The first attribute present decides, as in k8sattributes: an unknown uid finds nothing.
        #expect(enriched(["k8s.pod.uid": "nobody"], peer: "10.0.0.2") == ["k8s.pod.uid": "nobody", "k8s.cluster.name": "prod"])
    }

    @Test func whatTheApplicationSaidStaysButTheSDKDefaultServiceName() {
        let kept = enriched(["service.name": "payments", "k8s.namespace.name": "elsewhere"], peer: "10.0.0.1")
        #expect(kept["service.name"] == "payments" && kept["k8s.namespace.name"] == "elsewhere" && kept["k8s.pod.name"] == "checkout-7d9f8b6c4-x2k9p")
        #expect(enriched(["service.name": "unknown_service:java"], peer: "10.0.0.1")["service.name"] == "checkout")
        #expect(enriched(["k8s.cluster.name": "mine"])["k8s.cluster.name"] == "mine")
    }

    @Test func withoutPodsOnlyTheClusterName() {
        var resource = Resource(attributes: [KeyValue("service.name", .string("a"))])
        PushedResourceEnrichment(attributes: ContainerResource(clusterName: "prod")).enrich(&resource, peerIP: "10.0.0.1", pods: nil)
        #expect(resource.attributes == [KeyValue("service.name", .string("a")), KeyValue("k8s.cluster.name", .string("prod"))])
    }
}
