import Logging
import LoupeCollect
import LoupeModel
import LoupeScrape
import LoupeScrapeService
import LoupeStorage
import LoupeWire
import ServiceLifecycle
import Synchronization

/// A MetricPipeline's `input.prometheus` and `input.istio`: scrapes its static targets and, when the
/// agent knows its node's pods from the Kubernetes API, the pods annotated `prometheus.io/scrape`
/// and the pods' Istio sidecars, with the same
/// scrape manager as `loupe up`'s `scrape_configs` (Prometheus's staleness, limits, timeouts).
/// Each scrape becomes OTLP metrics (`ScrapedMetricsConverter`), goes through the pipeline's
/// transform and filter and is queued like pushed data.
public final class PrometheusScrapeInput: Service, Sendable {
    /// The scrape pools of annotated pods and Services (their `job`s, as Kyma's agent names them).
    public static let podsJob = "app-pods"
    public static let servicesJob = "app-services"

    private let manager: ScrapeManager<ContinuousClock>

    /// - Parameters:
    ///   - prometheus: `input.prometheus`, when enabled.
    ///   - istio: `input.istio`, when enabled.
    public init(
        pipeline name: String, prometheus: MetricPipelineSpec.PrometheusInput?, istio: MetricPipelineSpec.IstioInput?,
        defaultInterval: Duration, pods: PodDirectory?, services: ServiceDirectory? = nil, nodeName: String? = nil,
        resource: ContainerResource, rules: CompiledRules,
        delta: OTLPRouter.DeltaConversion?, queue: OutputQueue, counters: PipelineCounters, logger: Logger
    ) {
        let defaultMilliseconds = Int64(defaultInterval.components.seconds * 1000 + defaultInterval.components.attoseconds / 1_000_000_000_000_000)
        var configuration = ScrapeConfiguration()
        var diagnosticJobs: Set<String> = []
        if let prometheus {
            let interval = prometheus.interval ?? defaultMilliseconds
            let timeout = min(interval, 10_000)
            for (index, entry) in prometheus.staticTargets.enumerated() {
                var config = ScrapeConfig(jobName: "static[\(index)]", scrapeInterval: interval, scrapeTimeout: timeout)
                config.metricsPath = entry.path
                config.scheme = entry.scheme
                config.params = entry.params
                var labels = entry.labels
                labels["job"] = entry.job ?? name
                config.staticConfigs = [TargetGroup(targets: entry.targets, labels: labels, source: "staticTargets[\(index)]")]
                configuration.scrapeConfigs.append(config)
                if prometheus.diagnosticMetrics { diagnosticJobs.insert(labels["job"]!) }
            }
            if pods != nil {
                configuration.scrapeConfigs.append(ScrapeConfig(jobName: Self.podsJob, scrapeInterval: interval, scrapeTimeout: timeout))
                if prometheus.diagnosticMetrics { diagnosticJobs.insert(Self.podsJob) }
                if let services, nodeName != nil {
                    services.want()
                    configuration.scrapeConfigs.append(ScrapeConfig(jobName: Self.servicesJob, scrapeInterval: interval, scrapeTimeout: timeout))
                    if prometheus.diagnosticMetrics { diagnosticJobs.insert(Self.servicesJob) }
                }
            } else {
                logger.info("input.prometheus scrapes only static targets: annotated pods are found through the Kubernetes API, which this agent does not watch")
            }
        }
        if let istio {
            if pods != nil {
                let interval = istio.interval ?? defaultMilliseconds
                var config = ScrapeConfig(jobName: IstioSidecarTargets.job, scrapeInterval: interval, scrapeTimeout: min(interval, 10_000))
                config.metricsPath = IstioSidecarTargets.metricsPath
                config.metricRelabelConfigs = IstioSidecarTargets.metricRelabeling(envoyMetrics: istio.envoyMetrics)
                configuration.scrapeConfigs.append(config)
            } else {
                logger.warning("input.istio finds sidecars through the Kubernetes API, which this agent does not watch: nothing to scrape")
            }
        }
        let sink = ScrapedMetricsSink(
            diagnosticJobs: diagnosticJobs, pods: pods, resource: resource, rules: rules, delta: delta, queue: queue, counters: counters)
        var discovery: TargetDiscovery?
        if let pods {
            let podNamespaces = prometheus?.namespaces ?? .pullDefault
            let istioNamespaces = istio?.namespaces ?? .pullDefault
            let node = nodeName ?? ""
            discovery = { job in
                switch job {
                case Self.podsJob: AnnotatedPodTargets.groups(pods.all, namespaces: podNamespaces)
                case Self.servicesJob:
                    services.map { AnnotatedServiceTargets.groups(services: $0.allServices, slices: $0.allSlices, pods: pods.all, node: node, namespaces: podNamespaces) } ?? []
                case IstioSidecarTargets.job: IstioSidecarTargets.groups(pods.all, namespaces: istioNamespaces)
                default: []
                }
            }
        }
        manager = ScrapeManager(
            configuration: configuration,
            append: { request, target, _ in
                // Off the cooperative pool: queueing ends in an fsync.
                do {
                    return try await BlockingIO.run { sink.append(request, from: target) }
                } catch {
                    return "the scrape could not be queued: \(error)"
                }
            },
            clock: ContinuousClock(), logger: logger, userAgent: "Loupe/agent",
            discovery: discovery,
            discoveryInterval: .seconds(5))
    }

    public func run() async throws { try await manager.run() }
}

/// Converts each target's scrapes with its own converter (start times are per series) and queues
/// them through the pipeline's rules.
final class ScrapedMetricsSink: Sendable {
    private struct Entry {
        var converter: ScrapedMetricsConverter
        var lastUsed: ContinuousClock.Instant
    }

    private let converters = Mutex<[String: Entry]>([:])
    /// The `job`s whose `up` and `scrape_*` series are shipped.
    private let diagnosticJobs: Set<String>
    private let pods: PodDirectory?
    private let resource: ContainerResource
    private let intake: MetricsIntake

    init(
        diagnosticJobs: Set<String>, pods: PodDirectory?, resource: ContainerResource, rules: CompiledRules,
        delta: OTLPRouter.DeltaConversion?, queue: OutputQueue, counters: PipelineCounters
    ) {
        self.diagnosticJobs = diagnosticJobs
        self.pods = pods
        self.resource = resource
        intake = MetricsIntake(rules: rules, delta: delta, queue: queue, counters: counters)
    }

    /// Targets not scraped for this long are forgotten (a pod that went away).
    static let forgetAfter = Duration.seconds(3600)

    /// Returns nil once queued, else why not.
    func append(_ request: RemoteWriteRequest, from target: ScrapeTarget) -> String? {
        let key = target.url + "\u{0}" + target.labels.description
        var attributes: [KeyValue] = []
        if let uid = target.discoveredLabels[AnnotatedPodTargets.podUIDLabel] {
            let pod = pods?.pod(uid: uid)
            attributes = resource.podAttributes(
                namespace: target.discoveredLabels["__meta_kubernetes_namespace"] ?? pod?.namespace ?? "",
                name: target.discoveredLabels["__meta_kubernetes_pod_name"] ?? pod?.name ?? "", uid: uid, pod: pod)
        }
        let now = ContinuousClock.now
        let data: MetricsData = converters.withLock { all in
            var entry = all[key] ?? Entry(converter: ScrapedMetricsConverter(diagnosticMetrics: diagnosticJobs.contains(target.labels["job"] ?? "")), lastUsed: now)
            entry.converter.resourceAttributes = attributes
            entry.lastUsed = now
            let data = entry.converter.convert(request)
            all[key] = entry
            if all.count > 64 { all = all.filter { now - $0.value.lastUsed < Self.forgetAfter } }
            return data
        }
        do {
            try intake.take(data)
            return nil
        } catch {
            return "the pipeline's queue refused the scrape: \(error)"
        }
    }
}
