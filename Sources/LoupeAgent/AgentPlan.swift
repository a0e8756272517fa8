import Foundation
import Logging
import LoupeCollect
import LoupeModel
import LoupeStorage
import LoupeWire
import NIOSSL
import ServiceLifecycle

/// What `loupe agent` runs on a node, made from pipeline resources: per pipeline, its inputs
/// (container logs, host metrics, Prometheus scraping, pushed OTLP) into the pipeline's own disk
/// queue and an exporter out of it.
public struct AgentPlan: Sendable {
    public struct Options: Sendable {
        public var dataDirectory: String
        public var podLogRoot = "/var/log/pods"
        public var nodeName: String?
        public var clusterName: String?
        public var secrets = SecretResolver()
        /// Disk budget of each pipeline's queue.
        public var queueBytes = 1 << 30
        public var pollInterval: Duration = .milliseconds(250)
        /// Where node and container figures are read (a test points them at its own files).
        public var procRoot = "/proc"
        public var cgroupRoot = "/sys/fs/cgroup"
        /// The kubelet's directory (pod volumes).
        public var kubeletRoot = "/var/lib/kubelet"
        public var containerLinksRoot = "/var/log/containers"
        /// How often runtime metrics are collected (`metric.collectionInterval`).
        public var metricInterval: Duration = .seconds(30)
        /// This node's pods as the Kubernetes API describes them, and the labels to copy from them.
        public var pods: PodDirectory?
        /// The cluster's Services and EndpointSlices, for scraping annotated Services.
        public var services: ServiceDirectory?
        /// The Kubernetes API and whether this agent leads the others, for cluster-wide metrics
        /// (workloads).
        public var kubernetes: KubernetesPodWatch.Settings?
        public var leadership: ClusterLeadership?
        public var podLabelKeys: [String] = []
        public var podLabelPrefixes: [String] = []
        /// Where `output.loupe` goes: Loupe's write path, when the pipelines run inside `loupe up`.
        public var localOutput: (@Sendable (Signal, ArraySlice<UInt8>) async -> SendOutcome)?
        /// Pushes back (refuses OTLP, retryable; leaves logs unread) while memory is over its limit.
        public var memoryLimiter: MemoryLimiter?
        public var initialBackoff: Duration = .milliseconds(200)
        public var maximumBackoff: Duration = .seconds(30)

        public init(dataDirectory: String) { self.dataDirectory = dataDirectory }

        /// With the installation's `Telemetry` settings: its cluster name and collection interval
        /// over the flags', its pod labels beside theirs.
        public func applying(_ settings: ModuleSettings?) -> Options {
            guard let settings else { return self }
            var options = self
            if let name = settings.clusterName { options.clusterName = name }
            if let interval = settings.metricCollectionInterval { options.metricInterval = .milliseconds(interval) }
            options.podLabelKeys += settings.podLabelKeys.filter { !podLabelKeys.contains($0) }
            options.podLabelPrefixes += settings.podLabelPrefixes.filter { !podLabelPrefixes.contains($0) }
            return options
        }

        /// What pushed OTLP gets: the pod it came from, found in `pods`, and the cluster's name.
        var pushedEnrichment: PushedResourceEnrichment? {
            pods == nil && clusterName == nil ? nil : PushedResourceEnrichment(attributes: podResource)
        }

        /// How pods become resources (node, cluster, chosen pod labels): for container logs and
        /// for what is scraped from pods.
        var podResource: ContainerResource {
            var resource = ContainerResource(nodeName: nodeName, clusterName: clusterName)
            resource.podLabelKeys = podLabelKeys
            resource.podLabelPrefixes = podLabelPrefixes
            return resource
        }
    }

    public struct Pipeline: Sendable {
        public var resource: PipelineResource
        public var counters: PipelineCounters
        public var queue: OutputQueue
        /// When the output's TLS client certificate expires (Unix seconds), if it has one: the
        /// status warns ahead of it.
        public var certificateNotValidAfter: Int64?
    }

    /// `agent`: one per node, container logs and pushed OTLP; `gateway`: pushed OTLP only.
    public enum Role: String, Sendable {
        case agent, gateway
    }

    /// A pipeline that does not run until a secret it references exists (a Kubernetes Secret
    /// mounted later, a file not yet written): the others run meanwhile, and the status says
    /// `ReferencedSecretMissing`.
    public struct Waiting: Sendable {
        public var resource: PipelineResource
        public var error: PipelineError
    }

    /// The set the plan was made from.
    public let set: PipelineSet
    public let pipelines: [Pipeline]
    public let waiting: [Waiting]
    public let services: [any Service]
    /// The pipeline each of `services` works for (its display name), in the same order.
    public let serviceOwners: [String]
    /// What pushed OTLP gets (the pod's metadata, the cluster's name), under this plan's settings.
    public let enrichment: PushedResourceEnrichment?
    /// Where pushed OTLP goes (to the pipelines whose OTLP input is enabled).
    public let router: OTLPRouter
    /// The router's routes, to install in a long-lived router.
    public let routes: [Signal: [OTLPRouter.Route]]

    /// Checks that this process can run every resource as written (refusing what it cannot yet
    /// do, never running a pipeline differently than declared), opens the queues and builds the
    /// services.
    public init(pipelines set: PipelineSet, options given: Options, role: Role = .agent, logger: Logger) throws {
        let options = given.applying(set.settings)
        var pipelines: [Pipeline] = []
        var waiting: [Waiting] = []
        var services: [any Service] = []
        var serviceOwners: [String] = []
        var routes: [Signal: [OTLPRouter.Route]] = [:]
        for resource in set.resources {
            let (signal, otlpInput) = try Self.inputs(of: resource, role: role)
            let rules = try resource.compiledRules()
            var settings: OTLPExporter.Settings?
            do {
                settings = try Self.exporterSettings(resource: resource, signal: signal, options: options)
            } catch {
                guard error.code == .secretMissing else { throw error }
                logger.error("a pipeline waits for a secret it references; the others run", metadata: [
                    "pipeline": "\(resource.displayName)", "error": "\(error)",
                ])
                waiting.append(Waiting(resource: resource, error: error))
            }
            guard let exporterSettings = settings else { continue }
            let directory = "\(options.dataDirectory)/pipelines/\(resource.kind.rawValue.lowercased())/\(resource.name)"
            let queue = OutputQueue(
                disk: try DiskQueue(directory: directory + "/queue", maximumBytes: options.queueBytes), encoding: exporterSettings.storedEncoding)
            let counters = PipelineCounters()
            let pipeline = Pipeline(
                resource: resource, counters: counters, queue: queue, certificateNotValidAfter: Self.clientCertificateExpiry(resource, options: options))
            let pipelineLogger = Logger(label: "loupe.\(role.rawValue).\(resource.name)", factory: { _ in logger.handler })
            if case .logs(let spec) = resource.spec, spec.runtime.enabled, role == .agent {
                let runtime = spec.runtime
                var tailOptions = ContainerLogTail.Options(root: options.podLogRoot, checkpointPath: directory + "/checkpoints.json")
                tailOptions.admits = { pod in runtime.namespaces.admits(pod.namespace) && runtime.containers.admits(pod.container) }
                tailOptions.keepOriginalBody = runtime.keepOriginalBody
                tailOptions.encodeDirectly = rules.isEmpty
                tailOptions.resource = options.podResource
                tailOptions.pods = options.pods
                let tail = try ContainerLogTail(options: tailOptions)
                services.append(ContainerLogCollector(
                    tail: tail, rules: rules, queue: queue, counters: counters, pollInterval: options.pollInterval,
                    memoryLimiter: options.memoryLimiter, logger: pipelineLogger))
            }
            // One cumulative-to-delta state per pipeline, whichever input a series comes through.
            var delta: OTLPRouter.DeltaConversion?
            if signal == .metrics, case .otlp(let output) = resource.output, output.temporality == .delta { delta = OTLPRouter.DeltaConversion() }
            if case .metrics(let spec) = resource.spec, spec.prometheus.enabled || spec.istio.enabled, role == .agent {
                services.append(PrometheusScrapeInput(
                    pipeline: resource.name, prometheus: spec.prometheus.enabled ? spec.prometheus : nil, istio: spec.istio.enabled ? spec.istio : nil,
                    defaultInterval: options.metricInterval, pods: options.pods, services: options.services, nodeName: options.nodeName,
                    resource: options.podResource, rules: rules, delta: delta, queue: queue, counters: counters, logger: pipelineLogger))
            }
            if case .metrics(let spec) = resource.spec, spec.runtime.enabled, role == .agent {
                var metricOptions = HostMetricsCollector.Options()
                metricOptions.procRoot = options.procRoot
                metricOptions.cgroupRoot = options.cgroupRoot
                metricOptions.containerLinks = options.containerLinksRoot
                metricOptions.podLogRoot = options.podLogRoot
                metricOptions.kubeletRoot = options.kubeletRoot
                metricOptions.volumes = spec.runtime.resources["volume"] ?? true
                metricOptions.interval = spec.runtime.interval.map { .milliseconds($0) } ?? options.metricInterval
                metricOptions.node = spec.runtime.resources["node"] ?? true
                metricOptions.pods = spec.runtime.resources["pod"] ?? true
                metricOptions.containers = spec.runtime.resources["container"] ?? true
                metricOptions.namespaces = spec.runtime.namespaces
                metricOptions.nodeName = options.nodeName
                metricOptions.clusterName = options.clusterName
                metricOptions.resource = options.podResource
                metricOptions.podDirectory = options.pods
                services.append(HostMetricsCollector(
                    options: metricOptions, rules: rules, delta: delta, queue: queue, counters: counters, logger: pipelineLogger))
                let kinds = Workload.Kind.allCases.filter { spec.runtime.resources[$0.rawValue] ?? true }
                if !kinds.isEmpty {
                    if let kubernetes = options.kubernetes, let leadership = options.leadership {
                        var workloadOptions = WorkloadMetricsCollector.Options()
                        workloadOptions.kinds = kinds
                        workloadOptions.namespaces = spec.runtime.namespaces
                        workloadOptions.interval = spec.runtime.interval.map { .milliseconds($0) } ?? options.metricInterval
                        workloadOptions.clusterName = options.clusterName
                        services.append(WorkloadMetricsCollector(
                            options: workloadOptions, kubernetes: kubernetes, leadership: leadership, rules: rules, delta: delta,
                            queue: queue, counters: counters, logger: pipelineLogger))
                    } else {
                        pipelineLogger.notice(
                            "workload metrics (deployment, statefulset, daemonset, job) need the Kubernetes API: run in a pod or give --kubernetes-api and --node-name")
                    }
                }
            }
            if otlpInput.enabled {
                routes[signal, default: []].append(OTLPRouter.Route(pipeline: pipeline, namespaces: otlpInput.namespaces, rules: rules, delta: delta))
            }
            services.append(OTLPExporter(settings: exporterSettings, queue: queue, counters: counters, logger: pipelineLogger))
            pipelines.append(pipeline)
            serviceOwners += Array(repeating: resource.displayName, count: services.count - serviceOwners.count)
        }
        self.set = set
        self.pipelines = pipelines
        self.waiting = waiting
        self.services = services
        self.serviceOwners = serviceOwners
        enrichment = options.pushedEnrichment
        router = OTLPRouter(routes: routes, memoryLimiter: options.memoryLimiter, enrichment: options.pushedEnrichment, pods: options.pods)
        self.routes = routes
    }

    /// Checks what starting `set` would check (inputs this role runs, OTTL, outputs and their
    /// secrets) without opening queues or files: a changed set is checked so before it replaces
    /// the running one.
    public static func check(_ set: PipelineSet, options: Options, role: Role) throws {
        for resource in set.resources {
            let (signal, _) = try inputs(of: resource, role: role)
            _ = try resource.compiledRules()
            // A missing secret is not a mistake in the files: that pipeline waits for it.
            guard !isWaitingForASecret(resource, signal: signal, options: options) else { continue }
            _ = try exporterSettings(resource: resource, signal: signal, options: options)
        }
    }

    /// Whether the resource's output still references a secret that does not resolve.
    static func isWaitingForASecret(_ resource: PipelineResource, signal: Signal, options: Options) -> Bool {
        do {
            _ = try exporterSettings(resource: resource, signal: signal, options: options)
            return false
        } catch {
            return error.code == .secretMissing
        }
    }

    /// What the secrets the pipelines reference hold now, as a hash: a rotated token or a renewed
    /// certificate changes it, and the plan is made again with them.
    public func secretsFingerprint(options: Options) -> Int {
        var hasher = Hasher()
        for resource in set.resources {
            guard case .otlp(let output) = resource.output else { continue }
            for source in output.valueSources {
                guard case .secret = source else { continue }
                hasher.combine(try? options.secrets.resolve(source, field: ""))
            }
        }
        return hasher.finalize()
    }

    /// Whether a waiting pipeline's secrets resolve now (the plan is then made again).
    public func aWaitingPipelineCanStart(options: Options, role: Role) -> Bool {
        waiting.contains { waiting in
            guard let (signal, _) = try? Self.inputs(of: waiting.resource, role: role) else { return false }
            return !Self.isWaitingForASecret(waiting.resource, signal: signal, options: options)
        }
    }

    /// The earliest expiry in the output's client certificate chain; nil without one, when the
    /// connection is plain text (the certificate is not used), or when it does not parse (which
    /// `exporterSettings` refuses).
    static func clientCertificateExpiry(_ resource: PipelineResource, options: Options) -> Int64? {
        guard case .otlp(let output) = resource.output, let cert = output.tls?.cert,
            let endpointText = try? options.secrets.resolve(output.endpoint, field: "spec.output.otlp.endpoint"),
            let endpoint = OTLPEndpoint(endpointText), endpoint.secure ?? !(output.tls?.insecure ?? false),
            let pem = try? options.secrets.resolve(cert, field: "spec.output.otlp.tls.cert"),
            let chain = try? NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)), !chain.isEmpty
        else { return nil }
        return chain.map { Int64($0.notValidAfter) }.min()
    }

    /// The resource's signal and OTLP input; refuses inputs this role does not run.
    static func inputs(of resource: PipelineResource, role: Role) throws(PipelineError) -> (Signal, OTLPInput) {
        func refuse(_ path: String, _ message: String) -> PipelineError {
            PipelineError(.unsupported, location: resource.location, resource: resource.displayName, path: path, message)
        }
        switch resource.spec {
        case .logs(let spec): return (.logs, spec.otlp)
        case .traces: return (.traces, OTLPInput())
        case .metrics(let spec):
            if spec.prometheus.enabled && role == .gateway {
                throw refuse("spec.input.prometheus", "Prometheus targets are scraped on each node by loupe agent, not by the gateway")
            }
            if spec.runtime.enabled && role == .gateway {
                throw refuse("spec.input.runtime", "node, pod and container metrics are collected on each node by loupe agent, not by the gateway")
            }
            if spec.istio.enabled && role == .gateway {
                throw refuse("spec.input.istio", "Istio sidecars are scraped on each node by loupe agent, not by the gateway")
            }
            return (.metrics, spec.otlp)
        }
    }

    static func exporterSettings(resource: PipelineResource, signal: Signal, options: Options) throws(PipelineError) -> OTLPExporter.Settings {
        func refuse(_ path: String, _ message: String) -> PipelineError {
            PipelineError(.unsupported, location: resource.location, resource: resource.displayName, path: path, message)
        }
        guard case .otlp(let output) = resource.output else {
            guard let local = options.localOutput else {
                throw refuse("spec.output.loupe", "Loupe's own storage is an output only inside loupe up; from an agent, ship to it with output.otlp")
            }
            var settings = OTLPExporter.Settings(destination: .local(local), signal: signal)
            settings.initialBackoff = options.initialBackoff
            settings.maximumBackoff = options.maximumBackoff
            return settings
        }
        let endpointText = try options.secrets.resolve(output.endpoint, field: "spec.output.otlp.endpoint")
        guard let endpoint = OTLPEndpoint(endpointText) else {
            throw PipelineError(.invalid, location: resource.location, resource: resource.displayName, path: "spec.output.otlp.endpoint", "\"\(endpointText)\" is not an endpoint")
        }
        // A URL says whether it is TLS; host:port is TLS unless tls.insecure says plain text.
        let secure = endpoint.secure ?? !(output.tls?.insecure ?? false)
        let signalPath = switch signal {
        case .logs: "/v1/logs"
        case .traces: "/v1/traces"
        case .metrics: "/v1/metrics"
        }
        func pem(_ value: ValueSource, _ field: String) throws(PipelineError) -> [UInt8] {
            Array(try options.secrets.resolve(value, field: "spec.output.otlp.tls." + field).utf8)
        }
        let destination: OTLPExporter.Destination
        switch output.transport {
        case .http:
            let host = endpoint.host.contains(":") ? "[\(endpoint.host)]" : endpoint.host
            let port = endpoint.port.map { ":\($0)" } ?? ""
            var tlsConfiguration: TLSConfiguration?
            if secure, let tls = output.tls {
                var configuration = TLSConfiguration.makeClientConfiguration()
                do {
                    if let ca = tls.ca { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(try pem(ca, "ca"))) }
                    if let cert = tls.cert, let key = tls.key {
                        configuration.certificateChain = try NIOSSLCertificate.fromPEMBytes(try pem(cert, "cert")).map { .certificate($0) }
                        configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: try pem(key, "key"), format: .pem))
                    }
                } catch let error as PipelineError {
                    throw error
                } catch {
                    throw PipelineError(.invalid, location: resource.location, resource: resource.displayName, path: "spec.output.otlp.tls", "TLSConfigurationInvalid: \(error)")
                }
                if tls.insecureSkipVerify { configuration.certificateVerification = .none }
                tlsConfiguration = configuration
            }
            destination = .http(url: "\(secure ? "https" : "http")://\(host)\(port)\(output.path ?? endpoint.basePath + signalPath)", tls: tlsConfiguration)
        case .grpc:
            guard endpoint.basePath.isEmpty else {
                throw PipelineError(.invalid, location: resource.location, resource: resource.displayName, path: "spec.output.otlp.endpoint", "a gRPC endpoint has no path: \"\(endpointText)\"")
            }
            let port = endpoint.port ?? (secure ? 443 : 80)
            if secure {
                let tls = output.tls
                let ca = try tls?.ca.map { value throws(PipelineError) in try pem(value, "ca") }
                let cert = try tls?.cert.map { value throws(PipelineError) in try pem(value, "cert") }
                let key = try tls?.key.map { value throws(PipelineError) in try pem(value, "key") }
                destination = .grpc(host: endpoint.host, port: port, tls: .tls { config in
                    if let ca { config.trustRoots = .certificates([.bytes(ca, format: .pem)]) }
                    if let cert, let key {
                        config.certificateChain = [.bytes(cert, format: .pem)]
                        config.privateKey = .bytes(key, format: .pem)
                    }
                    if tls?.insecureSkipVerify == true { config.serverCertificateVerification = .noVerification }
                })
            } else {
                destination = .grpc(host: endpoint.host, port: port, tls: .plaintext)
            }
        }
        var settings = OTLPExporter.Settings(destination: destination, signal: signal)
        settings.compression = switch output.compression {
        case .none: .identity
        case .gzip: .gzip
        // snappy and zstd: protocol http only (the resource reader refuses them with gRPC).
        case .snappy: .snappy
        case .zstd: .zstd
        }
        settings.initialBackoff = options.initialBackoff
        settings.maximumBackoff = options.maximumBackoff
        switch output.authentication {
        case .basic(let user, let password):
            let credentials = try options.secrets.resolve(user, field: "spec.output.otlp.authentication.basic.user") + ":"
                + options.secrets.resolve(password, field: "spec.output.otlp.authentication.basic.password")
            settings.headers.append(("Authorization", "Basic " + Data(credentials.utf8).base64EncodedString()))
        case .oauth2(let oauth2):
            let field = "spec.output.otlp.authentication.oauth2"
            settings.oauth2 = OAuth2TokenSource.Settings(
                tokenURL: try options.secrets.resolve(oauth2.tokenURL, field: field + ".tokenURL"),
                clientID: try options.secrets.resolve(oauth2.clientID, field: field + ".clientID"),
                clientSecret: try options.secrets.resolve(oauth2.clientSecret, field: field + ".clientSecret"),
                scopes: oauth2.scopes, params: oauth2.params)
        case nil: break
        }
        for (index, header) in output.headers.enumerated() {
            let value = try options.secrets.resolve(header.value, field: "spec.output.otlp.headers[\(index)]")
            settings.headers.append((header.name, header.prefix.isEmpty ? value : header.prefix + " " + value))
        }
        return settings
    }
}
