import LoupeScrape

/// What the Kubernetes API says of a Service that scraping reads.
public struct ServiceMetadata: Sendable, Hashable {
    public var namespace: String
    public var name: String
    public var annotations: [String: String]

    public init(namespace: String, name: String, annotations: [String: String] = [:]) {
        self.namespace = namespace
        self.name = name
        self.annotations = annotations
    }
}

/// An EndpointSlice: where a Service's endpoints are, and on which node.
public struct EndpointSliceMetadata: Sendable, Hashable {
    public struct Endpoint: Sendable, Hashable {
        public var addresses: [String]
        /// `conditions.ready`; nil when the API leaves it out (read as ready).
        public var ready: Bool?
        public var nodeName: String?
        /// The pod behind the endpoint (`targetRef` of kind Pod).
        public var podUID: String?
        public var podName: String?

        public init(addresses: [String], ready: Bool? = nil, nodeName: String? = nil, podUID: String? = nil, podName: String? = nil) {
            self.addresses = addresses
            self.ready = ready
            self.nodeName = nodeName
            self.podUID = podUID
            self.podName = podName
        }
    }

    public struct Port: Sendable, Hashable {
        public var name: String
        public var number: Int
        public var `protocol`: String

        public init(name: String = "", number: Int, protocol: String = "TCP") {
            self.name = name
            self.number = number
            self.protocol = `protocol`
        }
    }

    public var namespace: String
    public var name: String
    /// The Service it belongs to (label `kubernetes.io/service-name`).
    public var service: String
    public var endpoints: [Endpoint]
    public var ports: [Port]

    public init(namespace: String, name: String, service: String, endpoints: [Endpoint] = [], ports: [Port] = []) {
        self.namespace = namespace
        self.name = name
        self.service = service
        self.endpoints = endpoints
        self.ports = ports
    }
}

/// The scrape targets of Services annotated `prometheus.io/scrape: "true"` (with the same port,
/// path, scheme and parameter annotations as pods): their ready endpoints on this node, so each
/// node's agent scrapes its own share. With a port annotation an endpoint is scraped on it, else
/// on each TCP port of its slice. An endpoint whose pod asks to be scraped itself is left to the
/// pods' pool, so nothing is scraped twice.
public enum AnnotatedServiceTargets {
    public static func groups(
        services: [ServiceMetadata], slices: [EndpointSliceMetadata], pods: [PodMetadata], node: String, namespaces: NamespaceSelector
    ) -> [TargetGroup] {
        var annotated: [String: ServiceMetadata] = [:]
        for service in services where service.annotations[AnnotatedPodTargets.scrapeAnnotation]?.lowercased() == "true" && namespaces.admits(service.namespace) {
            annotated[service.namespace + "/" + service.name] = service
        }
        let scrapedPods = Set(pods.filter { $0.annotations[AnnotatedPodTargets.scrapeAnnotation]?.lowercased() == "true" }.map(\.uid))
        var groups: [TargetGroup] = []
        for slice in slices.sorted(by: { ($0.namespace, $0.name) < ($1.namespace, $1.name) }) {
            guard let service = annotated[slice.namespace + "/" + slice.service] else { continue }
            var common = AnnotatedPodTargets.scrapeLabels(service.annotations)
            common["__meta_kubernetes_namespace"] = slice.namespace
            common["__meta_kubernetes_service_name"] = service.name
            let ports = AnnotatedPodTargets.annotatedPort(service.annotations).map { [$0] } ?? slice.ports.filter { $0.protocol.uppercased() == "TCP" }.map(\.number)
            for endpoint in slice.endpoints where endpoint.nodeName == node && endpoint.ready != false {
                if let uid = endpoint.podUID, scrapedPods.contains(uid) { continue }
                var labels = common
                if let uid = endpoint.podUID { labels[AnnotatedPodTargets.podUIDLabel] = uid }
                if let name = endpoint.podName { labels["__meta_kubernetes_pod_name"] = name }
                var targets: [String] = []
                for address in endpoint.addresses {
                    let host = address.contains(":") ? "[\(address)]" : address
                    targets += ports.isEmpty ? [host] : ports.map { "\(host):\($0)" }
                }
                guard !targets.isEmpty else { continue }
                groups.append(TargetGroup(targets: targets, labels: labels, source: "service \(service.namespace)/\(service.name)"))
            }
        }
        return groups
    }
}
