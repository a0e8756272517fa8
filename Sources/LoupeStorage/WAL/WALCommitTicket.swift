import Synchronization

/// A record queued in the write-ahead log, to wait on until it is durable (or failed).
///
/// Returned by `WriteAheadLog.enqueue`, so a caller can do other work (append to the head) while
/// the group holding its record is written and fsynced, and only then acknowledge.
public final class WALCommitTicket: Sendable {
    private enum State {
        case pending
        case waiting(CheckedContinuation<Result<Void, StorageError>, Never>)
        case finished(Result<Void, StorageError>)
    }

    private let state: Mutex<State>

    init() { state = Mutex(.pending) }

    /// Waits until the record is durable under the log's sync policy; throws what the write or
    /// fsync of its group failed with. Waiting more than once returns the same result.
    public func durable() async throws(StorageError) {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, StorageError>, Never>) in
            let finished = state.withLock { state -> Result<Void, StorageError>? in
                switch state {
                case .finished(let result): return result
                case .pending:
                    state = .waiting(continuation)
                    return nil
                case .waiting:
                    preconditionFailure("WALCommitTicket.durable() awaited by two tasks at once")
                }
            }
            if let finished { continuation.resume(returning: finished) }
        }
        try result.get()
    }

    /// Called once by the log's writer when the record's group is done.
    func finish(_ result: Result<Void, StorageError>) {
        let waiter = state.withLock { state -> CheckedContinuation<Result<Void, StorageError>, Never>? in
            defer { state = .finished(result) }
            if case .waiting(let continuation) = state { return continuation }
            return nil
        }
        waiter?.resume(returning: result)
    }
}
