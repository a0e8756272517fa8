import LoupeModel

/// Finds the pod a pushed resource came from.
public protocol PodLookup: Sendable {
    func pod(uid: String) -> PodMetadata?
    func pod(ip: String) -> PodMetadata?
    func pod(namespace: String, name: String) -> PodMetadata?
}

/// Kubernetes metadata for resources pushed over OTLP, as the Collector's k8sattributes processor
/// adds it in a gateway: the pod is found by the resource's `k8s.pod.ip`, else `k8s.pod.uid`, else
/// `k8s.namespace.name` with `k8s.pod.name`, else the address the request came from; its
/// namespace, name, uid, workloads, chosen labels and the cluster's name are added where the
/// resource does not say them already, and `service.name` where the SDK left its
/// `unknown_service` default. What the application said is never overwritten.
public struct PushedResourceEnrichment: Sendable {
    public var attributes: ContainerResource

    public init(attributes: ContainerResource) {
        self.attributes = attributes
    }

    public func enrich(_ resource: inout Resource, peerIP: String?, pods: (any PodLookup)?) {
        func string(_ key: String) -> String? {
            guard case .string(let value)? = resource.attributes.first(where: { $0.key == key })?.value, !value.isEmpty else { return nil }
            return value
        }
        var pod: PodMetadata?
        if let pods {
            if let ip = string("k8s.pod.ip") {
                pod = pods.pod(ip: ip)
            } else if let uid = string("k8s.pod.uid") {
                pod = pods.pod(uid: uid)
            } else if let namespace = string("k8s.namespace.name"), let name = string("k8s.pod.name") {
                pod = pods.pod(namespace: namespace, name: name)
            } else if let peerIP {
                pod = pods.pod(ip: peerIP)
            }
        }
        var added: [KeyValue]
        if let pod {
            added = attributes.podAttributes(namespace: pod.namespace, name: pod.name, uid: pod.uid, pod: pod)
        } else {
            added = attributes.clusterName.map { [KeyValue("k8s.cluster.name", .string($0))] } ?? []
        }
        let present = Set(resource.attributes.map(\.key))
        for attribute in added {
            if attribute.key == "service.name" {
                guard let index = resource.attributes.firstIndex(where: { $0.key == "service.name" }) else {
                    resource.attributes.append(attribute)
                    continue
                }
                if case .string(let value) = resource.attributes[index].value, value.hasPrefix("unknown_service") {
                    resource.attributes[index] = attribute
                }
            } else if !present.contains(attribute.key) {
                resource.attributes.append(attribute)
            }
        }
    }
}
