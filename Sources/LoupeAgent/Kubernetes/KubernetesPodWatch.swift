import AsyncHTTPClient
import Foundation
import Logging
import LoupeCollect
import NIOCore
import NIOSSL
import ServiceLifecycle
import Synchronization

/// The pods of this node (or, in the gateway, of the cluster) as the Kubernetes API knows them,
/// by uid, by IP and by name: what enrichment reads.
public final class PodDirectory: PodLookup {
    private struct Index {
        var byUID: [String: PodMetadata] = [:]
        /// Pods deleted lately, by uid: their last lines are still read after the API forgot them.
        var deleted: [String: (pod: PodMetadata, at: ContinuousClock.Instant)] = [:]
        var uidByIP: [String: String] = [:]
        var uidByName: [String: String] = [:]

        mutating func put(_ pod: PodMetadata) {
            if let old = byUID[pod.uid] { forget(old) }
            byUID[pod.uid] = pod
            // A pod on the host network has the node's address, shared with others: not a way to find it.
            if let ip = pod.ip, !ip.isEmpty, !pod.hostNetwork { uidByIP[ip] = pod.uid }
            uidByName[pod.namespace + "/" + pod.name] = pod.uid
        }

        mutating func forget(_ pod: PodMetadata) {
            if let ip = pod.ip, uidByIP[ip] == pod.uid { uidByIP[ip] = nil }
            if uidByName[pod.namespace + "/" + pod.name] == pod.uid { uidByName[pod.namespace + "/" + pod.name] = nil }
        }
    }

    private let index = Mutex(Index())

    public init() {}

    /// How long a deleted pod is still found by its uid (not by address, which a new pod may take).
    static let deletedPodGrace: Duration = .seconds(120)

    public func pod(uid: String) -> PodMetadata? {
        index.withLock { index in
            if let pod = index.byUID[uid] { return pod }
            guard let deleted = index.deleted[uid], ContinuousClock.now - deleted.at < Self.deletedPodGrace else { return nil }
            return deleted.pod
        }
    }

    public func pod(ip: String) -> PodMetadata? { index.withLock { index in index.uidByIP[ip].flatMap { index.byUID[$0] } } }

    public func pod(namespace: String, name: String) -> PodMetadata? {
        index.withLock { index in index.uidByName[namespace + "/" + name].flatMap { index.byUID[$0] } }
    }

    public var count: Int { index.withLock { $0.byUID.count } }

    /// Every pod, in no particular order.
    public var all: [PodMetadata] { index.withLock { Array($0.byUID.values) } }

    func replace(_ all: [PodMetadata]) {
        var fresh = Index()
        for pod in all { fresh.put(pod) }
        let now = ContinuousClock.now
        index.withLock { index in
            // Pods the new list lacks were deleted meanwhile.
            fresh.deleted = index.deleted.filter { now - $0.value.at < Self.deletedPodGrace }
            for (uid, pod) in index.byUID where fresh.byUID[uid] == nil { fresh.deleted[uid] = (pod, now) }
            index = fresh
        }
    }

    func put(_ pod: PodMetadata) { index.withLock { $0.put(pod) } }

    func remove(uid: String) {
        let now = ContinuousClock.now
        index.withLock { index in
            guard let pod = index.byUID.removeValue(forKey: uid) else { return }
            index.forget(pod)
            index.deleted = index.deleted.filter { now - $0.value.at < Self.deletedPodGrace }
            index.deleted[uid] = (pod, now)
        }
    }
}

/// Keeps a `PodDirectory` current for one node: lists and watches the node's pods
/// (`fieldSelector=spec.nodeName=`).
public final class KubernetesPodWatch: Service {
    public struct Settings: Sendable {
        /// `https://kubernetes.default.svc` or what `KUBERNETES_SERVICE_HOST`/`_PORT` say.
        public var apiServer: String
        /// Empty in the gateway: every node's pods.
        public var nodeName: String
        public var tokenFile: String? = "/var/run/secrets/kubernetes.io/serviceaccount/token"
        public var caFile: String? = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"

        public init(apiServer: String, nodeName: String) {
            self.apiServer = apiServer
            self.nodeName = nodeName
        }

        var client: KubernetesClient.Settings { .init(apiServer: apiServer, tokenFile: tokenFile, caFile: caFile) }

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
            var hostNetwork: Bool?
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
            var pod = PodMetadata(
                namespace: namespace, name: name, uid: uid, labels: metadata.labels ?? [:], owners: owners.map { .init(kind: $0.kind, name: $0.name) },
                annotations: metadata.annotations ?? [:], ip: status?.podIP, phase: status?.phase, ports: ports,
                containers: (spec?.containers ?? []).compactMap(\.name))
            pod.hostNetwork = spec?.hostNetwork ?? false
            return pod
        }
    }

    public func run() async throws {
        let selector = settings.nodeName.isEmpty ? "" : "fieldSelector=" + ("spec.nodeName=" + settings.nodeName)
            .addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~")))!
        let directory = directory
        let watch = KubernetesListWatch<Pod>(
            settings: settings.client,
            path: "/api/v1/pods", query: selector,
            replace: { pods in directory.replace(pods.compactMap(\.pod)) },
            apply: { type, pod in
                switch type {
                case "ADDED", "MODIFIED": if let metadata = pod.pod { directory.put(metadata) }
                case "DELETED": if let uid = pod.metadata.uid { directory.remove(uid: uid) }
                default: break
                }
            },
            logger: logger)
        await watch.run()
    }
}
