import LoupeModel

/// The engine reads the Loki model's entries and streams as they are.
public typealias LogQLEntry = LogEntry
public typealias LogQLStream = LogStream

/// What a selection can use to skip data before the pipeline runs: the line filters at the head
/// of the pipeline (every kept line satisfies all of them).
public struct LogQLSelectionHints: Sendable, Equatable {
    public var lineFilters: [LogQLLineFilter]

    public init(lineFilters: [LogQLLineFilter] = []) {
        self.lineFilters = lineFilters
    }
}

/// Where the LogQL engine reads logs from: the log store, or a logqltest script's loaded data.
public protocol LogQLQueryable: Sendable {
    /// Every stream matching all `matchers`, with its entries whose timestamp `t` satisfies
    /// `start <= t <= end` (nanoseconds), in time order. A store may leave out entries the hints
    /// show cannot match; it need not.
    func select(_ matchers: [LabelMatcher], start: Int64, end: Int64, hints: LogQLSelectionHints) throws -> [LogQLStream]
}

/// Streams held in memory (tests, the logqltest runner).
public struct InMemoryLogQLQueryable: LogQLQueryable {
    public var streams: [LogQLStream]

    public init(streams: [LogQLStream]) {
        self.streams = streams
    }

    public func select(_ matchers: [LabelMatcher], start: Int64, end: Int64, hints: LogQLSelectionHints) throws -> [LogQLStream] {
        var selected: [LogQLStream] = []
        for stream in streams where matchers.allSatisfy({ $0.matches(stream.labels[$0.name] ?? "") }) {
            let entries = stream.entries.filter { $0.timestamp >= start && $0.timestamp <= end }
            if !entries.isEmpty { selected.append(LogQLStream(labels: stream.labels, entries: entries)) }
        }
        return selected
    }
}
