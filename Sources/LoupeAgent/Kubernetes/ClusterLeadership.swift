import Foundation
import LoupeCollect
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
    static func string(_ date: Date = Date()) -> String {
        let interval = date.timeIntervalSince1970
        var seconds = time_t(interval.rounded(.down))
        let micros = Int((interval - Double(seconds)) * 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let fraction = String(micros)
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))."
            + String(repeating: "0", count: max(0, 6 - fraction.count)) + fraction + "Z"
    }
}
