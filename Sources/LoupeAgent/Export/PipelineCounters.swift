import Synchronization

/// A pipeline's running totals, from which its `/metrics` and status are derived.
public final class PipelineCounters: Sendable {
    /// Items taken in by the pipeline's inputs (and queued).
    public let received = Atomic<Int>(0)
    /// Items a filter rule dropped, as declared (not a loss).
    public let filtered = Atomic<Int>(0)
    /// Items the output's backend accepted.
    public let sent = Atomic<Int>(0)
    /// Requests that failed and will be tried again (network errors, 429, 5xx).
    public let failedRequests = Atomic<Int>(0)
    /// Items the backend refused for good (4xx other than 429): not tried again.
    public let refused = Atomic<Int>(0)
    /// Times input was held back over the memory limit (pushed OTLP refused as retryable, a round
    /// of log reading skipped).
    public let throttled = Atomic<Int>(0)

    public init() {}
}
