import LoupeModel
import LoupeScrape

/// The scrape targets of Istio's sidecars (MetricPipeline `input.istio`): every running pod with
/// an IP in an admitted namespace that has the injected `istio-proxy` container (or the injector's
/// `sidecar.istio.io/status` annotation) is scraped where its proxy merges Istio's and Envoy's
/// statistics, `<pod IP>:15090/stats/prometheus`. Only `istio_*` metrics are kept, and Envoy's own
/// `envoy_*` with `envoyMetrics`.
public enum IstioSidecarTargets {
    public static let job = "istio-proxy"
    public static let port = 15090
    public static let metricsPath = "/stats/prometheus"
    public static let proxyContainer = "istio-proxy"
    public static let statusAnnotation = "sidecar.istio.io/status"

    public static func groups(_ pods: [PodMetadata], namespaces: NamespaceSelector) -> [TargetGroup] {
        var groups: [TargetGroup] = []
        for pod in pods.sorted(by: { ($0.namespace, $0.name) < ($1.namespace, $1.name) }) {
            guard pod.containers.contains(proxyContainer) || pod.annotations[statusAnnotation] != nil, namespaces.admits(pod.namespace),
                pod.phase == nil || pod.phase == "Running", let ip = pod.ip, !ip.isEmpty
            else { continue }
            let host = ip.contains(":") ? "[\(ip)]" : ip
            groups.append(TargetGroup(
                targets: ["\(host):\(port)"],
                labels: [
                    "__meta_kubernetes_namespace": pod.namespace, "__meta_kubernetes_pod_name": pod.name,
                    AnnotatedPodTargets.podUIDLabel: pod.uid, "__meta_kubernetes_pod_ip": ip,
                ],
                source: "istio sidecar of pod \(pod.namespace)/\(pod.name)"))
        }
        return groups
    }

    /// Keeps `istio_*` (and `envoy_*` with `envoyMetrics`) of what a sidecar exposes.
    public static func metricRelabeling(envoyMetrics: Bool) -> [RelabelConfig] {
        // The regex is a constant that compiles; a failure here is a programming error.
        let pattern = envoyMetrics ? "(istio|envoy)_.+" : "istio_.+"
        return [RelabelConfig(sourceLabels: [Labels.metricNameLabel], regex: try! RelabelRegex(pattern), action: .keep)]
    }
}
