import Foundation
import Logging
import LoupeCollect
import LoupeModel
import LoupeStorage
import LoupeWire
import NIOSSL
import ServiceLifecycle

/// What `loupe agent` runs on a node, made from pipeline resources: per LogPipeline, a container
/// log collector into the pipeline's own disk queue and an exporter out of it.
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
        public var initialBackoff: Duration = .milliseconds(200)
        public var maximumBackoff: Duration = .seconds(30)

        public init(dataDirectory: String) { self.dataDirectory = dataDirectory }
    }

    public struct Pipeline: Sendable {
        public var resource: PipelineResource
        public var counters: PipelineCounters
        public var queue: DiskQueue
    }

    public let pipelines: [Pipeline]
    public let services: [any Service]

    /// Checks that this agent can run every resource as written (refusing what it cannot yet do,
    /// never running a pipeline differently than declared), opens the queues and builds the services.
    public init(pipelines set: PipelineSet, options: Options, logger: Logger) throws {
        var pipelines: [Pipeline] = []
        var services: [any Service] = []
        for resource in set.resources {
            guard case .logs(let spec) = resource.spec else {
                throw PipelineError(
                    .unsupported, location: resource.location, resource: resource.displayName,
                    "loupe agent runs LogPipelines so far; \(resource.kind.rawValue)s take OTLP from applications, which the agent does not receive yet")
            }
            if !spec.transform.isEmpty || !spec.filter.isEmpty {
                throw PipelineError(.unsupported, location: resource.location, resource: resource.displayName, path: "spec.transform", "transform and filter are not applied by loupe agent yet")
            }
            let exporterSettings = try Self.exporterSettings(resource: resource, signalPath: "/v1/logs", options: options)
            let directory = "\(options.dataDirectory)/pipelines/logpipeline/\(resource.name)"
            let queue = try DiskQueue(directory: directory + "/queue", maximumBytes: options.queueBytes)
            let counters = PipelineCounters()
            let pipelineLogger = Logger(label: "loupe.agent.\(resource.name)", factory: { _ in logger.handler })
            if spec.runtime.enabled {
                let runtime = spec.runtime
                var tailOptions = ContainerLogTail.Options(root: options.podLogRoot, checkpointPath: directory + "/checkpoints.json")
                tailOptions.admits = { pod in runtime.namespaces.admits(pod.namespace) && runtime.containers.admits(pod.container) }
                tailOptions.keepOriginalBody = runtime.keepOriginalBody
                tailOptions.resource = ContainerResource(nodeName: options.nodeName, clusterName: options.clusterName)
                let tail = try ContainerLogTail(options: tailOptions)
                services.append(ContainerLogCollector(tail: tail, queue: queue, counters: counters, pollInterval: options.pollInterval, logger: pipelineLogger))
            }
            services.append(OTLPHTTPExporter(
                settings: exporterSettings, queue: queue, counters: counters,
                countItems: { payload in (try? OTLPProtobuf.decodeLogs(payload))?.itemCount ?? 0 }, logger: pipelineLogger))
            pipelines.append(Pipeline(resource: resource, counters: counters, queue: queue))
        }
        self.pipelines = pipelines
        self.services = services
    }

    static func exporterSettings(resource: PipelineResource, signalPath: String, options: Options) throws(PipelineError) -> OTLPHTTPExporter.Settings {
        func refuse(_ path: String, _ message: String) -> PipelineError {
            PipelineError(.unsupported, location: resource.location, resource: resource.displayName, path: path, message)
        }
        guard case .otlp(let output) = resource.output else {
            throw refuse("spec.output.loupe", "Loupe's own storage is an output only inside loupe up; from an agent, ship to it with output.otlp")
        }
        guard output.transport == .http else {
            throw refuse("spec.output.otlp.protocol", "loupe agent sends OTLP over HTTP so far; set protocol: http (Loupe and collectors listen on :4318)")
        }
        if case .oauth2 = output.authentication {
            throw refuse("spec.output.otlp.authentication.oauth2", "OAuth2 client credentials are not implemented in loupe agent yet; use basic or a header")
        }
        guard output.compression == .gzip || output.compression == .none else {
            throw refuse("spec.output.otlp.compression", "loupe agent compresses with gzip or none so far")
        }
        let endpointText = try options.secrets.resolve(output.endpoint, field: "spec.output.otlp.endpoint")
        guard let endpoint = OTLPEndpoint(endpointText) else {
            throw PipelineError(.invalid, location: resource.location, resource: resource.displayName, path: "spec.output.otlp.endpoint", "\"\(endpointText)\" is not an endpoint")
        }
        let secure = endpoint.secure ?? !(output.tls?.insecure ?? false)
        let host = endpoint.host.contains(":") ? "[\(endpoint.host)]" : endpoint.host
        let port = endpoint.port.map { ":\($0)" } ?? ""
        var settings = OTLPHTTPExporter.Settings(url: "\(secure ? "https" : "http")://\(host)\(port)\(output.path ?? endpoint.basePath + signalPath)")
        settings.gzip = output.compression == .gzip
        settings.initialBackoff = options.initialBackoff
        settings.maximumBackoff = options.maximumBackoff
        switch output.authentication {
        case .basic(let user, let password):
            let credentials = try options.secrets.resolve(user, field: "spec.output.otlp.authentication.basic.user") + ":"
                + options.secrets.resolve(password, field: "spec.output.otlp.authentication.basic.password")
            settings.headers.append(("Authorization", "Basic " + Data(credentials.utf8).base64EncodedString()))
        case .oauth2, nil: break
        }
        for (index, header) in output.headers.enumerated() {
            let value = try options.secrets.resolve(header.value, field: "spec.output.otlp.headers[\(index)]")
            settings.headers.append((header.name, header.prefix.isEmpty ? value : header.prefix + " " + value))
        }
        if secure, let tls = output.tls {
            var configuration = TLSConfiguration.makeClientConfiguration()
            do {
                if let ca = tls.ca {
                    configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(try options.secrets.resolve(ca, field: "spec.output.otlp.tls.ca").utf8)))
                }
                if let cert = tls.cert, let key = tls.key {
                    configuration.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(try options.secrets.resolve(cert, field: "spec.output.otlp.tls.cert").utf8)).map { .certificate($0) }
                    configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(try options.secrets.resolve(key, field: "spec.output.otlp.tls.key").utf8), format: .pem))
                }
            } catch let error as PipelineError {
                throw error
            } catch {
                throw PipelineError(.invalid, location: resource.location, resource: resource.displayName, path: "spec.output.otlp.tls", "TLSConfigurationInvalid: \(error)")
            }
            if tls.insecureSkipVerify { configuration.certificateVerification = .none }
            settings.tls = configuration
        }
        return settings
    }
}
