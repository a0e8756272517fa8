/// The three kinds of telemetry Loupe stores.
public enum Signal: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case traces = 1
    case metrics = 2
    case logs = 3

    public var description: String {
        switch self {
        case .traces: "traces"
        case .metrics: "metrics"
        case .logs: "logs"
        }
    }

    /// What one item of the signal is called in counters and partial-success messages.
    public var itemName: String {
        switch self {
        case .traces: "spans"
        case .metrics: "data points"
        case .logs: "log records"
        }
    }
}
