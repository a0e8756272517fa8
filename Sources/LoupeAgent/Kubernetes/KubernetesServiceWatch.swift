import Foundation
import Logging
import LoupeCollect
import ServiceLifecycle
import Synchronization

/// The cluster's Services and EndpointSlices as the Kubernetes API knows them: what scraping of
/// annotated Services reads.
public final class ServiceDirectory: Sendable {
    private let services = Mutex<[String: ServiceMetadata]>([:])
    private let slices = Mutex<[String: EndpointSliceMetadata]>([:])
    /// Whether a pipeline reads it: until one does, nothing is listed (an agent that only ships
    /// logs needs no permission on Services).
    let wanted = Atomic<Bool>(false)

    public init() {}

    /// Starts the watch (once a pipeline scrapes annotated Services).
    public func want() { wanted.store(true, ordering: .relaxed) }

    public var allServices: [ServiceMetadata] { services.withLock { Array($0.values) } }
    public var allSlices: [EndpointSliceMetadata] { slices.withLock { Array($0.values) } }

    func replaceServices(_ all: [ServiceMetadata]) {
        services.withLock { $0 = Dictionary(all.map { ($0.namespace + "/" + $0.name, $0) }, uniquingKeysWith: { $1 }) }
    }

    func putService(_ service: ServiceMetadata) { services.withLock { $0[service.namespace + "/" + service.name] = service } }

    func removeService(namespace: String, name: String) { services.withLock { $0[namespace + "/" + name] = nil } }

    func replaceSlices(_ all: [EndpointSliceMetadata]) {
        slices.withLock { $0 = Dictionary(all.map { ($0.namespace + "/" + $0.name, $0) }, uniquingKeysWith: { $1 }) }
    }

    func putSlice(_ slice: EndpointSliceMetadata) { slices.withLock { $0[slice.namespace + "/" + slice.name] = slice } }

    func removeSlice(namespace: String, name: String) { slices.withLock { $0[namespace + "/" + name] = nil } }
}

/// Keeps a `ServiceDirectory` current: lists and watches every namespace's Services and
/// EndpointSlices (`discovery.k8s.io/v1`).
public final class KubernetesServiceWatch: Service {
    let settings: KubernetesPodWatch.Settings
    public let directory: ServiceDirectory
    private let logger: Logger

    public init(settings: KubernetesPodWatch.Settings, directory: ServiceDirectory, logger: Logger) {
        self.settings = settings
        self.directory = directory
        self.logger = logger
    }

    struct Metadata: Decodable {
        var name: String?
        var namespace: String?
        var annotations: [String: String]?
        var labels: [String: String]?
    }

    struct ServiceObject: Decodable {
        var metadata: Metadata

        var service: ServiceMetadata? {
            guard let name = metadata.name, let namespace = metadata.namespace else { return nil }
            return ServiceMetadata(namespace: namespace, name: name, annotations: metadata.annotations ?? [:])
        }
    }

    struct SliceObject: Decodable {
        struct Endpoint: Decodable {
            struct Conditions: Decodable {
                var ready: Bool?
            }

            struct Reference: Decodable {
                var kind: String?
                var name: String?
                var uid: String?
            }

            var addresses: [String]?
            var conditions: Conditions?
            var nodeName: String?
            var targetRef: Reference?
        }

        struct Port: Decodable {
            var name: String?
            var port: Int?
            var `protocol`: String?
        }

        var metadata: Metadata
        var endpoints: [Endpoint]?
        var ports: [Port]?

        var slice: EndpointSliceMetadata? {
            guard let name = metadata.name, let namespace = metadata.namespace, let service = metadata.labels?["kubernetes.io/service-name"] else { return nil }
            return EndpointSliceMetadata(
                namespace: namespace, name: name, service: service,
                endpoints: (endpoints ?? []).map { endpoint in
                    let pod = endpoint.targetRef?.kind == "Pod" ? endpoint.targetRef : nil
                    return .init(addresses: endpoint.addresses ?? [], ready: endpoint.conditions?.ready, nodeName: endpoint.nodeName, podUID: pod?.uid, podName: pod?.name)
                },
                ports: (ports ?? []).compactMap { port in port.port.map { .init(name: port.name ?? "", number: $0, protocol: port.protocol ?? "TCP") } })
        }
    }

    public func run() async throws {
        let api = settings.client
        let directory = directory
        let services = KubernetesListWatch<ServiceObject>(
            settings: api, path: "/api/v1/services", query: "",
            replace: { objects in directory.replaceServices(objects.compactMap(\.service)) },
            apply: { type, object in
                guard let service = object.service else { return }
                if type == "DELETED" { directory.removeService(namespace: service.namespace, name: service.name) } else if type != "BOOKMARK" { directory.putService(service) }
            },
            logger: logger)
        let slices = KubernetesListWatch<SliceObject>(
            settings: api,
            path: "/apis/discovery.k8s.io/v1/endpointslices", query: "",
            replace: { objects in directory.replaceSlices(objects.compactMap(\.slice)) },
            apply: { type, object in
                guard let slice = object.slice else { return }
                if type == "DELETED" { directory.removeSlice(namespace: slice.namespace, name: slice.name) } else if type != "BOOKMARK" { directory.putSlice(slice) }
            },
            logger: logger)
        while !directory.wanted.load(ordering: .relaxed) {
            guard !Task.isCancelled && !Task.isShuttingDownGracefully else { return }
            await pause(.seconds(1))
        }
        await withDiscardingTaskGroup { group in
            group.addTask { await services.run() }
            group.addTask { await slices.run() }
        }
    }
}
