import LoupeScrape

/// The scrape targets of pods that ask to be scraped with the conventional annotations:
/// `prometheus.io/scrape: "true"`, and optionally `prometheus.io/port`, `prometheus.io/path`
/// (default `/metrics`), `prometheus.io/scheme` (`http` or `https`) and
/// `prometheus.io/param_<name>` (a URL parameter).
///
/// Only running pods with an IP, in admitted namespaces. Without a port annotation every TCP port
/// the pod's containers declare is a target, as Prometheus's pod discovery makes them; a pod that
/// declares none is scraped on the scheme's port. Each target carries the pod's uid, namespace and
/// name as `__meta_kubernetes_*` labels, which scraping drops, so that its metrics' resource can be
/// the pod's.
public enum AnnotatedPodTargets {
    public static let scrapeAnnotation = "prometheus.io/scrape"
    public static let portAnnotation = "prometheus.io/port"
    public static let pathAnnotation = "prometheus.io/path"
    public static let schemeAnnotation = "prometheus.io/scheme"
    public static let parameterAnnotationPrefix = "prometheus.io/param_"
    public static let podUIDLabel = "__meta_kubernetes_pod_uid"

    /// `__scheme__`, `__metrics_path__` and `__param_<name>` from a pod's or a Service's annotations.
    static func scrapeLabels(_ annotations: [String: String]) -> [String: String] {
        var labels: [String: String] = [:]
        if let scheme = annotations[schemeAnnotation], scheme == "http" || scheme == "https" { labels["__scheme__"] = scheme }
        if let path = annotations[pathAnnotation], !path.isEmpty { labels["__metrics_path__"] = path.hasPrefix("/") ? path : "/" + path }
        for (key, value) in annotations where key.hasPrefix(parameterAnnotationPrefix) {
            let name = key.dropFirst(parameterAnnotationPrefix.count)
            if !name.isEmpty { labels["__param_" + name] = value }
        }
        return labels
    }

    /// `prometheus.io/port`, when it is a port number.
    static func annotatedPort(_ annotations: [String: String]) -> Int? {
        annotations[portAnnotation].flatMap { Int($0) }.flatMap { (1...65535).contains($0) ? $0 : nil }
    }

    public static func groups(_ pods: [PodMetadata], namespaces: NamespaceSelector) -> [TargetGroup] {
        var groups: [TargetGroup] = []
        for pod in pods.sorted(by: { ($0.namespace, $0.name) < ($1.namespace, $1.name) }) {
            guard pod.annotations[scrapeAnnotation]?.lowercased() == "true", namespaces.admits(pod.namespace),
                pod.phase == nil || pod.phase == "Running", let ip = pod.ip, !ip.isEmpty
            else { continue }
            var labels = [
                "__meta_kubernetes_namespace": pod.namespace,
                "__meta_kubernetes_pod_name": pod.name,
                podUIDLabel: pod.uid,
                "__meta_kubernetes_pod_ip": ip,
            ]
            labels.merge(scrapeLabels(pod.annotations)) { $1 }
            let host = ip.contains(":") ? "[\(ip)]" : ip
            var addresses: [String]
            if let number = annotatedPort(pod.annotations) {
                addresses = ["\(host):\(number)"]
            } else {
                addresses = pod.ports.filter { $0.protocol.uppercased() == "TCP" }.map { "\(host):\($0.number)" }
                if addresses.isEmpty { addresses = [host] }
            }
            var seen: Set<String> = []
            addresses = addresses.filter { seen.insert($0).inserted }
            groups.append(TargetGroup(targets: addresses, labels: labels, source: "pod \(pod.namespace)/\(pod.name)"))
        }
        return groups
    }
}
