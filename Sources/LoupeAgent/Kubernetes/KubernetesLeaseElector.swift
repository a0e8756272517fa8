import Foundation
import Logging
import LoupeCollect
import ServiceLifecycle

/// Runs `ClusterLeadership`'s election on a Lease of the Kubernetes API
/// (`coordination.k8s.io/v1`, `<namespace>/<name>`): reads the lease every retry period, writes
/// what the election decides (conditionally, on the resource version read), and gives the lease
/// up at shutdown so that another agent takes over at once.
public final class KubernetesLeaseElector: Service {
    let settings: KubernetesClient.Settings
    let namespace: String
    let name: String
    public let leadership: ClusterLeadership
    private let retryPeriod: Duration
    private let logger: Logger

    public init(settings: KubernetesPodWatch.Settings, namespace: String, name: String = "loupe-agent-cluster-metrics", leadership: ClusterLeadership, logger: Logger) {
        self.settings = settings.client
        self.namespace = namespace
        self.name = name
        self.leadership = leadership
        // As client-go's defaults relate: 15 s leases, tried every 2 s.
        retryPeriod = max(.milliseconds(100), leadership.election.withLock { $0.leaseDuration } * 2 / 15)
        self.logger = logger
    }

    struct LeaseObject: Codable {
        struct Metadata: Codable {
            var name: String?
            var namespace: String?
            var resourceVersion: String?
        }

        struct Spec: Codable {
            var holderIdentity: String?
            var leaseDurationSeconds: Int?
            var acquireTime: String?
            var renewTime: String?
            var leaseTransitions: Int?
        }

        var apiVersion: String? = "coordination.k8s.io/v1"
        var kind: String? = "Lease"
        var metadata: Metadata
        var spec: Spec?

        var record: LeaseElection.Record {
            LeaseElection.Record(
                holder: spec?.holderIdentity ?? "", durationSeconds: spec?.leaseDurationSeconds ?? 0,
                acquireTime: spec?.acquireTime, renewTime: spec?.renewTime, transitions: spec?.leaseTransitions ?? 0)
        }

        init(metadata: Metadata, record: LeaseElection.Record) {
            self.metadata = metadata
            spec = Spec(
                holderIdentity: record.holder, leaseDurationSeconds: record.durationSeconds, acquireTime: record.acquireTime,
                renewTime: record.renewTime, leaseTransitions: record.transitions)
        }
    }

    private var collectionPath: String { "/apis/coordination.k8s.io/v1/namespaces/\(namespace)/leases" }
    private var leasePath: String { collectionPath + "/" + name }

    public func run() async throws {
        while !leadership.wanted.load(ordering: .relaxed) {
            guard !Task.isCancelled && !Task.isShuttingDownGracefully else { return }
            await pause(.seconds(1))
        }
        let client = KubernetesClient(settings: settings)
        var leading = false
        var failures = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await attempt(client)
                failures = 0
            } catch {
                failures += 1
                logger.log(level: failures == 1 ? .warning : .debug, "the leader election's lease could not be read or written",
                    metadata: ["lease": "\(namespace)/\(name)", "error": "\(error)"])
            }
            let now = leadership.isLeader
            if now != leading {
                leading = now
                logger.info(now ? "leading: collecting cluster-wide metrics" : "no longer leading: another agent collects cluster-wide metrics",
                    metadata: ["lease": "\(namespace)/\(name)", "identity": "\(leadership.identity)"])
            }
            await pause(retryPeriod)
        }
        await release(client)
        await client.shutdown()
    }

    private func attempt(_ client: KubernetesClient) async throws {
        let read = try await client.send(.GET, leasePath, timeout: .seconds(10))
        var current: LeaseObject?
        switch read.status {
        case 200: current = try JSONDecoder().decode(LeaseObject.self, from: Data(buffer: read.body))
        case 404: current = nil
        default: throw KubernetesError(message: "reading the lease answered \(read.status): \(read.text.prefix(300))")
        }
        let now = ContinuousClock.now
        let step = leadership.election.withLock { $0.next(current: current?.record, now: now, wallTime: MicroTime.now()) }
        switch step {
        case .follow:
            return
        case .create(let record):
            let object = LeaseObject(metadata: .init(name: name, namespace: namespace), record: record)
            let written = try await client.send(.POST, collectionPath, json: Array(try JSONEncoder().encode(object)), timeout: .seconds(10))
            try accept(written, record: record, what: "creating")
        case .update(let record):
            let object = LeaseObject(metadata: .init(name: name, namespace: namespace, resourceVersion: current?.metadata.resourceVersion), record: record)
            let written = try await client.send(.PUT, leasePath, json: Array(try JSONEncoder().encode(object)), timeout: .seconds(10))
            try accept(written, record: record, what: "updating")
        }
    }

    private func accept(_ response: KubernetesClient.Response, record: LeaseElection.Record, what: String) throws {
        switch response.status {
        case 200, 201:
            let now = ContinuousClock.now
            leadership.election.withLock { $0.wrote(record, now: now) }
        case 409:
            // Another agent wrote first: it leads, and the next read says so.
            return
        default:
            throw KubernetesError(message: "\(what) the lease answered \(response.status): \(response.text.prefix(300))")
        }
    }

    private func release(_ client: KubernetesClient) async {
        guard leadership.isLeader, let record = leadership.election.withLock({ $0.release(wallTime: MicroTime.now()) }) else { return }
        do {
            let read = try await client.send(.GET, leasePath, timeout: .seconds(2))
            guard read.status == 200 else { return }
            let current = try JSONDecoder().decode(LeaseObject.self, from: Data(buffer: read.body))
            guard current.record.holder == leadership.identity else { return }
            let object = LeaseObject(metadata: .init(name: name, namespace: namespace, resourceVersion: current.metadata.resourceVersion), record: record)
            let written = try await client.send(.PUT, leasePath, json: Array(try JSONEncoder().encode(object)), timeout: .seconds(2))
            if written.status == 200 {
                let now = ContinuousClock.now
                leadership.election.withLock { $0.released(record, now: now) }
                logger.info("gave up the lease for another agent to lead", metadata: ["lease": "\(namespace)/\(name)"])
            }
        } catch {
            logger.debug("the lease could not be given up; it expires instead", metadata: ["error": "\(error)"])
        }
    }
}
