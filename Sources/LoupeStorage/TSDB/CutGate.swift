import Synchronization

/// Orders head cuts against appends: an append holds the gate shared from its WAL write until
/// its samples are in the head; a cut holds it exclusively while it moves samples out of the
/// heads and writes its WAL marker. So every WAL record before the marker is in the cut, and
/// every record after it was applied after the cut — which is what replay relies on.
public final class CutGate: Sendable {
    private struct State {
        var holders = 0
        var exclusive = false
        var exclusiveWaiters: [CheckedContinuation<Void, Never>] = []
        var sharedWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Runs `body` with the gate held shared (many at once; waits while a cut runs).
    public func shared<Result, Failure: Error>(_ body: () async throws(Failure) -> Result) async throws(Failure) -> Result {
        await enterShared()
        defer { leaveShared() }
        return try await body()
    }

    /// Runs `body` alone: no shared holder runs meanwhile.
    public func exclusive<Result, Failure: Error>(_ body: () async throws(Failure) -> Result) async throws(Failure) -> Result {
        await enterExclusive()
        defer { leaveExclusive() }
        return try await body()
    }

    private func enterShared() async {
        let entered = state.withLock { state -> Bool in
            guard !state.exclusive && state.exclusiveWaiters.isEmpty else { return false }
            state.holders += 1
            return true
        }
        if entered { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if !state.exclusive && state.exclusiveWaiters.isEmpty {
                    state.holders += 1
                    return true
                }
                state.sharedWaiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    private func leaveShared() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.holders -= 1
            guard state.holders == 0, !state.exclusive, !state.exclusiveWaiters.isEmpty else { return nil }
            state.exclusive = true
            return state.exclusiveWaiters.removeFirst()
        }
        waiter?.resume()
    }

    private func enterExclusive() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if state.holders == 0 && !state.exclusive {
                    state.exclusive = true
                    return true
                }
                state.exclusiveWaiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    private func leaveExclusive() {
        let (next, shared) = state.withLock { state -> (CheckedContinuation<Void, Never>?, [CheckedContinuation<Void, Never>]) in
            if !state.exclusiveWaiters.isEmpty {
                return (state.exclusiveWaiters.removeFirst(), [])
            }
            state.exclusive = false
            let waiting = state.sharedWaiters
            state.sharedWaiters = []
            state.holders += waiting.count
            return (nil, waiting)
        }
        next?.resume()
        for waiter in shared { waiter.resume() }
    }
}
