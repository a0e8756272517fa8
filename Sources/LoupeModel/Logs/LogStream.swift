/// One log entry in the Loki model: a time, a line, and structured metadata (high-cardinality
/// fields kept with the entry rather than in the stream's labels). Metadata may hold empty
/// values: they are significant (`{age=""}` is not `{}`).
public struct LogEntry: Sendable, Hashable {
    /// Nanoseconds since the epoch.
    public var timestamp: Int64
    public var line: String
    public var metadata: Labels

    public init(timestamp: Int64, line: String, metadata: Labels = Labels()) {
        self.timestamp = timestamp
        self.line = line
        self.metadata = metadata
    }
}

/// A stream (a label set: tenant-wide identity of a log source) and entries of it.
public struct LogStream: Sendable, Hashable {
    public var labels: Labels
    public var entries: [LogEntry]

    public init(labels: Labels, entries: [LogEntry]) {
        self.labels = labels
        self.entries = entries
    }
}
