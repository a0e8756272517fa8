import ArgumentParser
import Foundation
import Logging
import LoupeAgent
import LoupeCollect
import LoupeModel
import LoupeStorage
import ServiceLifecycle
import UnixSignals

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Collect on this node what LogPipeline resources declare, and ship it without loss.",
        discussion: """
            Container logs under --pod-log-root are tailed (CRI or Docker json-file), enriched with their pod, and queued on disk
            per pipeline before they are sent; a restart resumes where it stopped, an outage of the backend fills the queue up to
            --queue-size, then the oldest data is dropped and counted. Secrets named by valueFrom.secretKeyRef are read from
            --secrets-dir/<namespace>/<name>/<key> or from $LOUPE_SECRET_<NAMESPACE>_<NAME>_<KEY>.
            """)

    @OptionGroup var common: CollectorOptions

    @Option(name: .long, help: ArgumentHelp("Queues and checkpoints (default ./loupe-agent-data).", valueName: "dir"))
    var dataDir = "./loupe-agent-data"

    @Option(name: .long, help: ArgumentHelp("Where the kubelet keeps pod logs (default /var/log/pods).", valueName: "dir"))
    var podLogRoot = "/var/log/pods"

    @Option(name: .long, help: ArgumentHelp("This node's name, for k8s.node.name (default $NODE_NAME).", valueName: "name"))
    var nodeName: String?

    @Option(name: .long, help: ArgumentHelp("How often node, pod and container metrics are collected (default 30s).", valueName: "duration"))
    var metricInterval = "30s"

    @Option(name: .long, help: ArgumentHelp("The proc filesystem to read node figures from (default /proc).", valueName: "dir"))
    var procRoot = "/proc"

    @Option(name: .long, help: ArgumentHelp("The cgroup v2 tree to read pod and container figures from (default /sys/fs/cgroup).", valueName: "dir"))
    var cgroupRoot = "/sys/fs/cgroup"

    @Option(name: .long, help: ArgumentHelp("The kubelet's directory, for pod volumes (default /var/lib/kubelet).", valueName: "dir"))
    var kubeletRoot = "/var/lib/kubelet"

    @Option(name: .long, help: ArgumentHelp("The kubelet's container log links, for container names (default /var/log/containers).", valueName: "dir"))
    var containerLinksRoot = "/var/log/containers"

    @Option(name: .long, help: ArgumentHelp(
        "The namespace of the Lease by which agents choose the one that collects workload metrics (default: the service account's, else $POD_NAMESPACE, else default).",
        valueName: "namespace"))
    var leaderElectionNamespace: String?

    @Option(name: .long, help: ArgumentHelp("How long the leader's Lease lasts unrenewed before another agent takes over (default 15s).", valueName: "duration"))
    var leaderElectionLeaseDuration = "15s"

    @Option(name: .customLong("otlp-grpc-address"), help: ArgumentHelp("Take OTLP/gRPC pushed by local applications here (off unless given).", valueName: "host:port"))
    var otlpGRPCAddress: String?

    @Option(name: .customLong("otlp-http-address"), help: ArgumentHelp("Take OTLP/HTTP pushed by local applications here (off unless given).", valueName: "host:port"))
    var otlpHTTPAddress: String?


    func validate() throws {
        guard (try? DurationText.parse(metricInterval)).map({ $0 > .zero }) == true else {
            throw ValidationError("--metric-interval: \"\(metricInterval)\" is not a duration such as 30s")
        }
        guard (try? DurationText.parse(leaderElectionLeaseDuration)).map({ $0 >= .seconds(1) }) == true else {
            throw ValidationError("--leader-election-lease-duration: \"\(leaderElectionLeaseDuration)\" is not a duration of at least 1s such as 15s")
        }
        for (flag, value) in [("--otlp-grpc-address", otlpGRPCAddress), ("--otlp-http-address", otlpHTTPAddress)] {
            guard let value else { continue }
            guard (try? ListenAddress(parsing: value)) != nil else { throw ValidationError("\(flag): \"\(value)\" is not host:port") }
        }
    }

    /// The agent's own namespace, as its service account tells it.
    private var leaseNamespace: String {
        if let leaderElectionNamespace { return leaderElectionNamespace }
        let serviceAccountNamespace = URL(fileURLWithPath: common.kubernetesTokenFile).deletingLastPathComponent().appendingPathComponent("namespace").path
        if let text = FileManager.default.contents(atPath: serviceAccountNamespace).map({ String(decoding: $0, as: UTF8.self) }),
            case let namespace = text.trimmingCharacters(in: .whitespacesAndNewlines), !namespace.isEmpty
        {
            return namespace
        }
        return ProcessInfo.processInfo.environment["POD_NAMESPACE"] ?? "default"
    }

    func run() async throws {
        var options = common.planOptions(dataDirectory: dataDir)
        options.podLogRoot = podLogRoot
        options.nodeName = nodeName ?? ProcessInfo.processInfo.environment["NODE_NAME"]
        options.procRoot = procRoot
        options.cgroupRoot = cgroupRoot
        options.kubeletRoot = kubeletRoot
        options.containerLinksRoot = containerLinksRoot
        options.metricInterval = (try? DurationText.parse(metricInterval)) ?? .seconds(30)
        var extra: [any Service] = []
        if let nodeName = options.nodeName {
            let settings = common.kubernetesSettings(nodeName: nodeName)
            if settings != nil {
                let pods = PodDirectory()
                options.pods = pods
                extra.append(KubernetesPodWatch(settings: settings!, directory: pods, logger: Logger(label: "loupe.agent.kubernetes")))
                // Listed only once a pipeline scrapes annotated Services.
                let services = ServiceDirectory()
                options.services = services
                extra.append(KubernetesServiceWatch(settings: settings!, directory: services, logger: Logger(label: "loupe.agent.kubernetes")))
                // Takes part in the election only once a pipeline collects workload metrics.
                let leadership = ClusterLeadership(identity: nodeName, leaseDuration: (try? DurationText.parse(leaderElectionLeaseDuration)) ?? .seconds(15))
                options.kubernetes = settings
                options.leadership = leadership
                extra.append(KubernetesLeaseElector(
                    settings: settings!, namespace: leaseNamespace, leadership: leadership, logger: Logger(label: "loupe.agent.kubernetes")))
            }
        }
        try await CollectorProcess.run(
            role: .agent, common: common, options: options, otlpGRPCAddress: otlpGRPCAddress, otlpHTTPAddress: otlpHTTPAddress, extraServices: extra)
    }
}

/// The options `loupe agent` and `loupe gateway` share.
struct CollectorOptions: ParsableArguments {
    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("A pipeline YAML file or a directory of them (repeatable).", valueName: "path"))
    var pipelines: [String] = []

    @Option(name: .long, help: ArgumentHelp("The cluster's name, for k8s.cluster.name.", valueName: "name"))
    var clusterName: String?

    @Option(name: .long, help: ArgumentHelp(
        "The Kubernetes API server, for pod metadata (the agent: its node's pods; the gateway: every pod) and workloads (default: the in-cluster one when running in a pod).",
        valueName: "url"))
    var kubernetesAPI: String?

    @Option(name: .long, help: ArgumentHelp("The bearer token file for the Kubernetes API (default: the service account's).", valueName: "file"))
    var kubernetesTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

    @Option(name: .long, help: ArgumentHelp("The CA certificate of the Kubernetes API (default: the service account's).", valueName: "file"))
    var kubernetesCAFile = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("A pod label to copy as k8s.pod.label.<key> (repeatable).", valueName: "key"))
    var extractPodLabel: [String] = []

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Copy every pod label starting with this (repeatable).", valueName: "prefix"))
    var extractPodLabelPrefix: [String] = []

    @Option(name: .long, help: ArgumentHelp("Directory of secrets as <namespace>/<name>/<key> files.", valueName: "dir"))
    var secretsDir: String?

    @Option(name: .long, help: ArgumentHelp("Disk budget of each pipeline's queue, e.g. 1GiB (default 1GiB).", valueName: "bytes"))
    var queueSize = "1GiB"

    @Option(name: .long, help: ArgumentHelp("Longest wait between retries to a backend that is away, e.g. 30s (default 30s).", valueName: "duration"))
    var maximumBackoff = "30s"

    @Option(name: .long, help: ArgumentHelp("/metrics, /api/v1/pipelines (status), /ready and /healthz (default 0.0.0.0:8081).", valueName: "host:port"))
    var httpAddress = "0.0.0.0:8081"

    @Option(name: .long, help: ArgumentHelp("How often the pipeline files are checked for changes, which are applied without a restart (default 2s).", valueName: "duration"))
    var reloadInterval = "2s"

    @Option(name: .long, help: ArgumentHelp(
        "Refuse pushed OTLP (503/UNAVAILABLE, retryable) and leave logs unread while resident memory is over this, e.g. 200MiB; 0: no limit (default: 80% of the container's cgroup memory limit, if any).",
        valueName: "bytes"))
    var memoryLimit: String?

    @Option(name: .long, help: ArgumentHelp("trace, debug, info, notice, warning, error or critical (default info).", valueName: "level"))
    var logLevel = "info"

    func validate() throws {
        guard (try? DurationText.parse(reloadInterval)).map({ $0 > .zero }) == true else {
            throw ValidationError("--reload-interval: \"\(reloadInterval)\" is not a duration such as 2s")
        }
        guard !pipelines.isEmpty else { throw ValidationError("give at least one --pipelines file or directory") }
        guard (try? ListenAddress(parsing: httpAddress)) != nil else { throw ValidationError("--http-address: \"\(httpAddress)\" is not host:port") }
        guard ByteSizeText.parse(queueSize) != nil else { throw ValidationError("--queue-size: \"\(queueSize)\" is not a byte size such as 1GiB") }
        if let memoryLimit, ByteSizeText.parse(memoryLimit) == nil {
            throw ValidationError("--memory-limit: \"\(memoryLimit)\" is not a byte size such as 200MiB")
        }
        guard (try? DurationText.parseNanoseconds(maximumBackoff)) != nil else { throw ValidationError("--maximum-backoff: \"\(maximumBackoff)\" is not a duration such as 30s") }
    }

    func planOptions(dataDirectory: String) -> AgentPlan.Options {
        var options = AgentPlan.Options(dataDirectory: dataDirectory)
        options.secrets = SecretResolver(directory: secretsDir)
        options.queueBytes = ByteSizeText.parse(queueSize) ?? options.queueBytes
        options.maximumBackoff = (try? DurationText.parse(maximumBackoff)) ?? .seconds(30)
        let limit = memoryLimit.flatMap(ByteSizeText.parse) ?? MemoryLimiter.defaultLimit()
        if let limit, limit > 0 { options.memoryLimiter = MemoryLimiter(limitBytes: limit) }
        options.clusterName = clusterName
        options.podLabelKeys = extractPodLabel
        options.podLabelPrefixes = extractPodLabelPrefix
        return options
    }

    /// The Kubernetes API as given or as running in a pod provides it; nil outside a cluster.
    /// `nodeName` empty: every node's pods (the gateway).
    func kubernetesSettings(nodeName: String) -> KubernetesPodWatch.Settings? {
        guard var settings = kubernetesAPI.map({ KubernetesPodWatch.Settings(apiServer: $0, nodeName: nodeName) })
            ?? KubernetesPodWatch.Settings.inCluster(nodeName: nodeName)
        else { return nil }
        settings.tokenFile = kubernetesTokenFile
        settings.caFile = kubernetesCAFile
        return settings
    }
}

/// What `loupe agent` and `loupe gateway` share: load and check the pipelines, then run their
/// services, the OTLP listeners and the status listener in one service group.
enum CollectorProcess {
    static func run(
        role: AgentPlan.Role, common: CollectorOptions, options: AgentPlan.Options, otlpGRPCAddress: String?, otlpHTTPAddress: String?,
        extraServices: [any Service] = []
    ) async throws {
        let paths = common.pipelines
        let httpAddress = common.httpAddress
        let logLevel = common.logLevel
        // (One malloc arena: LoupeCommand.prepareProcess, before any thread started.)
        MemoryRelease.keepLargeAllocationsInHeap(upTo: 64 << 20)
        var logger = Logger(label: "loupe.\(role.rawValue)")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let set: PipelineSet
        let files: [PipelineFiles.Contents]
        do {
            files = try PipelineFiles.read(paths)
            set = try PipelineSet.decode(files: files.map { ($0.name, $0.text) })
        } catch {
            throw ValidationError("\(error)")
        }
        // Built in a function of its own: no local here may keep the first plan (and its queues'
        // locks) alive once the supervisor replaces it.
        func start() throws -> (supervisor: PipelineSupervisor, router: OTLPRouter, status: AgentStatus) {
            let plan: AgentPlan
            do {
                plan = try AgentPlan(pipelines: set, options: options, role: role, logger: logger)
            } catch {
                throw ValidationError("\(error)")
            }
            logger.info("\(role.rawValue) started", metadata: ["pipelines": "\(plan.pipelines.map(\.resource.displayName))"])
            let status = AgentStatus(pipelines: plan.pipelines, memoryLimiter: options.memoryLimiter, role: role)
            let router = plan.router
            let supervisor = PipelineSupervisor(
                first: plan, files: files, paths: paths, options: options, role: role, router: router, status: status,
                reloadInterval: (try? DurationText.parse(common.reloadInterval)) ?? .seconds(2), logger: logger)
            return (supervisor, router, status)
        }
        let (supervisor, router, status) = try start()
        let address = try ListenAddress(parsing: httpAddress)
        let http = AgentHTTPServer.application(host: address.host, port: address.port, status: status, logger: logger) { [logger] port in
            logger.info("agent HTTP listening", metadata: ["port": "\(port)"])
        }
        var services: [any Service] = extraServices + [supervisor, AgentStatusSampler(status: status), http, IdleMemoryRelease()]
        if let otlpHTTPAddress {
            let listen = try ListenAddress(parsing: otlpHTTPAddress)
            services.append(OTLPInputHTTP.application(host: listen.host, port: listen.port, router: router, logger: logger) { [logger] port in
                logger.info("OTLP/HTTP listening", metadata: ["otlp_http_port": "\(port)"])
            })
        }
        if let otlpGRPCAddress {
            let listen = try ListenAddress(parsing: otlpGRPCAddress)
            services.append(OTLPInputGRPCServer(host: listen.host, port: listen.port, router: router) { [logger] port in
                logger.info("OTLP/gRPC listening", metadata: ["otlp_grpc_port": "\(port)"])
            })
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
