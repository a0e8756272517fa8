import LoupeCollect
import Testing

/// The election decides from the lease read and this process's own clock.
@Suite struct LeaseElectionTests {
    let start = ContinuousClock.now

    private func at(_ seconds: Double) -> ContinuousClock.Instant { start + .milliseconds(Int(seconds * 1000)) }

    @Test func withoutALeaseTheFirstCandidateCreatesItAndLeadsOnceWritten() {
        var election = LeaseElection(identity: "node-1", leaseDuration: .seconds(15))
        let step = election.next(current: nil, now: at(0), wallTime: "T0")
        #expect(step == .create(.init(holder: "node-1", durationSeconds: 15, acquireTime: "T0", renewTime: "T0", transitions: 0)))
        #expect(!election.isLeader(at: at(0)))
        guard case .create(let record) = step else { return }
        election.wrote(record, now: at(0))
        #expect(election.isLeader(at: at(9.9)))
        // Not renewed within the deadline (two thirds of the lease): it stops acting as leader
        // before the others may take over.
        #expect(!election.isLeader(at: at(10)))
    }

    @Test func theLeaderRenewsKeepingWhenItAcquired() {
        var election = LeaseElection(identity: "node-1", leaseDuration: .seconds(15))
        let held = LeaseElection.Record(holder: "node-1", durationSeconds: 15, acquireTime: "T0", renewTime: "T0", transitions: 3)
        let step = election.next(current: held, now: at(2), wallTime: "T2")
        #expect(step == .update(.init(holder: "node-1", durationSeconds: 15, acquireTime: "T0", renewTime: "T2", transitions: 3)))
    }

    @Test func aFollowerWaitsForTheLeaseToExpireByItsOwnClock() {
        var election = LeaseElection(identity: "node-2", leaseDuration: .seconds(15))
        var leader = LeaseElection.Record(holder: "node-1", durationSeconds: 15, acquireTime: "T0", renewTime: "T0", transitions: 0)
        #expect(election.next(current: leader, now: at(0), wallTime: "") == .follow(holder: "node-1"))
        // The leader renews: each change starts the wait again, whatever time the record says.
        leader.renewTime = "1999-01-01T00:00:00.000000Z"
        #expect(election.next(current: leader, now: at(14), wallTime: "") == .follow(holder: "node-1"))
        #expect(election.next(current: leader, now: at(28.9), wallTime: "") == .follow(holder: "node-1"))
        #expect(!election.isLeader(at: at(28.9)))
        // No change for the lease's duration: taken over, one more transition.
        let step = election.next(current: leader, now: at(29), wallTime: "T29")
        #expect(step == .update(.init(holder: "node-2", durationSeconds: 15, acquireTime: "T29", renewTime: "T29", transitions: 1)))
    }

    @Test func aReleasedLeaseIsTakenAtOnceAndAReleaseNeedsTheLease() {
        var leader = LeaseElection(identity: "node-1", leaseDuration: .seconds(15))
        #expect(leader.release(wallTime: "T") == nil)
        let record = LeaseElection.Record(holder: "node-1", durationSeconds: 15, acquireTime: "T0", renewTime: "T0")
        leader.wrote(record, now: at(0))
        let released = leader.release(wallTime: "T1")
        #expect(released == .init(holder: "", durationSeconds: 1, acquireTime: "T0", renewTime: "T1", transitions: 0))
        leader.released(released!, now: at(1))
        #expect(!leader.isLeader(at: at(1)))

        var follower = LeaseElection(identity: "node-2", leaseDuration: .seconds(15))
        let step = follower.next(current: released, now: at(1), wallTime: "T1")
        #expect(step == .update(.init(holder: "node-2", durationSeconds: 15, acquireTime: "T1", renewTime: "T1", transitions: 1)))
    }

    @Test func aWriteOfAnotherHolderIsNotLeadership() {
        var election = LeaseElection(identity: "node-1", leaseDuration: .seconds(3))
        election.wrote(.init(holder: "node-3", durationSeconds: 3), now: at(0))
        #expect(!election.isLeader(at: at(0)))
        #expect(election.renewDeadline == .seconds(2))
    }
}
