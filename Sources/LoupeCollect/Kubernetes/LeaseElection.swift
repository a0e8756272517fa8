/// Leader election over a Kubernetes Lease (`coordination.k8s.io/v1`), as client-go elects:
/// whoever holds an unexpired lease leads and renews it; a lease whose holder stops renewing
/// (or releases it) is taken over by the first candidate whose update the API server accepts
/// (the object's resource version makes the write conditional, so two cannot both win).
///
/// Expiry is judged by this process's own clock, from when it last saw the lease change, not from
/// the times written in it: clocks of nodes disagree, and a leader renewing shows as a change.
/// The election decides; the caller reads and writes the Lease and reports back.
public struct LeaseElection: Sendable {
    /// The Lease's `spec`.
    public struct Record: Equatable, Sendable {
        /// Empty once released.
        public var holder: String
        public var durationSeconds: Int
        /// MicroTime text (`2026-11-24T03:30:00.123456Z`), written for people and other clients.
        public var acquireTime: String?
        public var renewTime: String?
        public var transitions: Int

        public init(holder: String, durationSeconds: Int, acquireTime: String? = nil, renewTime: String? = nil, transitions: Int = 0) {
            self.holder = holder
            self.durationSeconds = durationSeconds
            self.acquireTime = acquireTime
            self.renewTime = renewTime
            self.transitions = transitions
        }
    }

    public enum Step: Equatable, Sendable {
        /// There is no Lease yet: create it, holding it.
        case create(Record)
        /// Write this record over the one read (renewing, or taking over an expired lease).
        case update(Record)
        /// Another holds the lease and it has not expired.
        case follow(holder: String)
    }

    public let identity: String
    /// How long a lease lasts unrenewed (what is written as `leaseDurationSeconds`).
    public let leaseDuration: Duration
    /// A leader that could not renew for this long stops acting as one, before the lease expires
    /// for the others (client-go's renew deadline: two thirds of the duration by default).
    public let renewDeadline: Duration

    private var observed: Record?
    private var observedAt: ContinuousClock.Instant?
    private var renewedAt: ContinuousClock.Instant?

    public init(identity: String, leaseDuration: Duration, renewDeadline: Duration? = nil) {
        self.identity = identity
        self.leaseDuration = max(leaseDuration, .seconds(1))
        self.renewDeadline = renewDeadline ?? self.leaseDuration * 2 / 3
    }

    private var durationSeconds: Int {
        let (seconds, attoseconds) = leaseDuration.components
        return Int(seconds) + (attoseconds > 0 ? 1 : 0)
    }

    /// What to do about the lease as just read (`nil`: there is none), at `now`; `wallTime` is
    /// the MicroTime to write.
    public mutating func next(current: Record?, now: ContinuousClock.Instant, wallTime: String) -> Step {
        guard let current else {
            return .create(Record(holder: identity, durationSeconds: durationSeconds, acquireTime: wallTime, renewTime: wallTime))
        }
        if current != observed || observedAt == nil {
            observed = current
            observedAt = now
        }
        if current.holder == identity {
            // Ours (also after this process restarted): renew, keeping when it was acquired.
            var renewed = current
            renewed.durationSeconds = durationSeconds
            renewed.renewTime = wallTime
            if renewed.acquireTime == nil { renewed.acquireTime = wallTime }
            return .update(renewed)
        }
        if !current.holder.isEmpty, let observedAt, now < observedAt + .seconds(max(current.durationSeconds, 1)) {
            return .follow(holder: current.holder)
        }
        return .update(Record(
            holder: identity, durationSeconds: durationSeconds, acquireTime: wallTime, renewTime: wallTime, transitions: current.transitions + 1))
    }

    /// The API server accepted `record` (created or updated).
    public mutating func wrote(_ record: Record, now: ContinuousClock.Instant) {
        observed = record
        observedAt = now
        renewedAt = record.holder == identity ? now : nil
    }

    /// Whether this process leads at `now`: it holds the lease and renewed it within the deadline.
    public func isLeader(at now: ContinuousClock.Instant) -> Bool {
        guard observed?.holder == identity, let renewedAt else { return false }
        return now < renewedAt + renewDeadline
    }

    /// The record that gives the lease up at shutdown, so another takes over at once rather than
    /// after it expires (nil when this process does not hold it).
    public func release(wallTime: String) -> Record? {
        guard var record = observed, record.holder == identity else { return nil }
        record.holder = ""
        record.durationSeconds = 1
        record.renewTime = wallTime
        return record
    }

    /// The release was written.
    public mutating func released(_ record: Record, now: ContinuousClock.Instant) {
        observed = record
        observedAt = now
        renewedAt = nil
    }
}
