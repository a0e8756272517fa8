import AsyncHTTPClient
import Foundation
import Logging
import LoupeCollect
import NIOCore
import NIOSSL
import ServiceLifecycle
import Synchronization

/// The pods of this node as the Kubernetes API knows them, by uid: what enrichment reads.
public final class PodDirectory: Sendable {
    private let pods = Mutex<[String: PodMetadata]>([:])

    public init() {}

    public func pod(uid: String) -> PodMetadata? { pods.withLock { $0[uid] } }

    public var count: Int { pods.withLock { $0.count } }

    /// Every pod, in no particular order.
    public var all: [PodMetadata] { pods.withLock { Array($0.values) } }

    func replace(_ all: [PodMetadata]) { pods.withLock { $0 = Dictionary(all.map { ($0.uid, $0) }, uniquingKeysWith: { $1 }) } }

    func put(_ pod: PodMetadata) { pods.withLock { $0[pod.uid] = pod } }

    func remove(uid: String) { pods.withLock { $0[uid] = nil } }
}

/// Keeps a `PodDirectory` current for one node: lists the node's pods (`fieldSelector=spec.nodeName=`),
/// then watches from the list's resource version, and lists again whenever the watch ends or fails.
/// Authenticates with the service account token (read anew at each connection, as it rotates).
public final class KubernetesPodWatch: Service {
    public struct Settings: Sendable {
        /// `https://kubernetes.default.svc` or what `KUBERNETES_SERVICE_HOST`/`_PORT` say.
        public var apiServer: String
        public var nodeName: String
        public var tokenFile: String? = "/var/run/secrets/kubernetes.io/serviceaccount/token"
        public var caFile: String? = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"

        public init(apiServer: String, nodeName: String) {
            self.apiServer = apiServer
            self.nodeName = nodeName
        }

        /// The in-cluster API server, when this process runs in a pod.
        public static func inCluster(nodeName: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> Settings? {
            guard let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"] else { return nil }
            return Settings(apiServer: "https://\(host.contains(":") ? "[\(host)]" : host):\(port)", nodeName: nodeName)
        }
    }

    let settings: Settings
    public let directory: PodDirectory
    private let logger: Logger

    public init(settings: Settings, directory: PodDirectory, logger: Logger) {
        self.settings = settings
        self.directory = directory
        self.logger = logger
    }

    struct ObjectMeta: Decodable {
        struct Owner: Decodable {
            var kind: String
            var name: String
            var controller: Bool?
        }

        var name: String?
        var namespace: String?
        var uid: String?
        var labels: [String: String]?
        var annotations: [String: String]?
        var ownerReferences: [Owner]?
        var resourceVersion: String?
    }

    struct Pod: Decodable {
        struct Spec: Decodable {
            struct Container: Decodable {
                struct Port: Decodable {
                    var name: String?
                    var containerPort: Int?
                    var `protocol`: String?
                }

                var name: String?
                var ports: [Port]?
            }

            var containers: [Container]?
        }

        struct Status: Decodable {
            var podIP: String?
            var phase: String?
        }

        var metadata: ObjectMeta
        var spec: Spec?
        var status: Status?

        var pod: PodMetadata? {
            guard let name = metadata.name, let namespace = metadata.namespace, let uid = metadata.uid else { return nil }
            // The controlling owner first (the workload).
            let owners = (metadata.ownerReferences ?? []).sorted { ($0.controller ?? false) && !($1.controller ?? false) }
            var ports: [PodMetadata.ContainerPort] = []
            for container in spec?.containers ?? [] {
                for port in container.ports ?? [] {
                    guard let number = port.containerPort else { continue }
                    ports.append(.init(container: container.name ?? "", name: port.name ?? "", number: number, protocol: port.protocol ?? "TCP"))
                }
            }
            return PodMetadata(
                namespace: namespace, name: name, uid: uid, labels: metadata.labels ?? [:], owners: owners.map { .init(kind: $0.kind, name: $0.name) },
                annotations: metadata.annotations ?? [:], ip: status?.podIP, phase: status?.phase, ports: ports,
                containers: (spec?.containers ?? []).compactMap(\.name))
        }
    }

    struct PodList: Decodable {
        var metadata: ObjectMeta
        var items: [Pod]
    }

    struct WatchEvent: Decodable {
        var type: String
        var object: Pod
    }

    public func run() async throws {
        var configuration = HTTPClient.Configuration()
        if let caFile = settings.caFile, FileManager.default.fileExists(atPath: caFile), settings.apiServer.hasPrefix("https") {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(caFile)
            configuration.tlsConfiguration = tls
        }
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        var failures = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let version = try await list(client: client)
                failures = 0
                // A watch waits on the server; the process stopping must not wait with it.
                try await cancelWhenGracefulShutdown { try await self.watch(client: client, from: version) }
            } catch {
                failures += 1
                logger.warning("the Kubernetes pod watch failed; trying again", metadata: ["api": "\(settings.apiServer)", "error": "\(error)"])
                await pause(.seconds(min(30, failures * 2)))
            }
        }
        try? await client.shutdown()
    }

    private func request(_ query: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: settings.apiServer + "/api/v1/pods?" + query)
        request.headers.add(name: "Accept", value: "application/json")
        if let tokenFile = settings.tokenFile, let token = FileManager.default.contents(atPath: tokenFile) {
            let text = String(decoding: token, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty { request.headers.add(name: "Authorization", value: "Bearer " + text) }
        }
        return request
    }

    private var selector: String {
        "fieldSelector=" + ("spec.nodeName=" + settings.nodeName).addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~")))!
    }

    /// Lists the node's pods; returns the list's resource version to watch from.
    private func list(client: HTTPClient) async throws -> String {
        let response = try await client.execute(request(selector), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 256 << 20)
        guard response.status.code == 200 else {
            throw KubernetesError(message: "listing pods answered \(response.status.code): \(String(buffer: body).prefix(300))")
        }
        let list = try JSONDecoder().decode(PodList.self, from: Data(buffer: body))
        directory.replace(list.items.compactMap(\.pod))
        logger.debug("pods listed", metadata: ["pods": "\(directory.count)"])
        return list.metadata.resourceVersion ?? ""
    }

    /// Applies watch events until the server ends the watch (it does every few minutes).
    private func watch(client: HTTPClient, from version: String) async throws {
        let query = selector + "&watch=1&allowWatchBookmarks=true&resourceVersion=" + version
        let response = try await client.execute(request(query), timeout: .hours(1))
        guard response.status.code == 200 else {
            throw KubernetesError(message: "watching pods answered \(response.status.code)")
        }
        var pending: [UInt8] = []
        for try await chunk in response.body {
            pending.append(contentsOf: chunk.readableBytesView)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(pending[..<newline])
                pending.removeSubrange(...newline)
                guard !line.isEmpty else { continue }
                guard let event = try? JSONDecoder().decode(WatchEvent.self, from: Data(line)) else {
                    // An ERROR event (an expired resource version) carries a Status: list again.
                    throw KubernetesError(message: "the watch sent \(String(decoding: line.prefix(200), as: UTF8.self))")
                }
                switch event.type {
                case "ADDED", "MODIFIED": if let pod = event.object.pod { directory.put(pod) }
                case "DELETED": if let uid = event.object.metadata.uid { directory.remove(uid: uid) }
                default: break
                }
            }
            if Task.isCancelled || Task.isShuttingDownGracefully { return }
        }
    }
}

struct KubernetesError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
