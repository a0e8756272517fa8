import LoupeCollect
import LoupeModel
import Synchronization

/// Whether this agent is the one, among every node's, that collects what is the same from every
/// node: cluster-wide objects such as workloads. Decided by `KubernetesLeaseElector`.
public final class ClusterLeadership: Sendable {
    let election: Mutex<LeaseElection>
    /// Whether a pipeline needs a leader: until one does, no Lease is touched (an agent that only
    /// ships logs needs no permission on Leases).
    let wanted = Atomic<Bool>(false)

    public init(identity: String, leaseDuration: Duration = .seconds(15)) {
        election = Mutex(LeaseElection(identity: identity, leaseDuration: leaseDuration))
    }

    public var identity: String { election.withLock { $0.identity } }

    /// Takes part in the election (once a pipeline collects cluster-wide metrics).
    public func want() { wanted.store(true, ordering: .relaxed) }

    public var isLeader: Bool {
        let now = ContinuousClock.now
        return election.withLock { $0.isLeader(at: now) }
    }
}

/// Kubernetes' MicroTime: RFC 3339 in UTC with microseconds (`2026-11-24T03:30:00.123456Z`).
enum MicroTime {
    static func now(_ clock: WallClock = .system) -> String {
        CivilDate.rfc3339(unixNanoseconds: Int64(clock.nowUnixNano()), fractionDigits: 6)
    }
}
