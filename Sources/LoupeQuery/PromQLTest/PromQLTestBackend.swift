import LoupeModel

/// Where `PromQLTestRunner` stores a script's series and evaluates its queries.
///
/// `PromQLMemoryTestBackend` (the default) keeps the series in memory and runs `PromQLEngine` in process;
/// other backends can send them elsewhere, such as a server (see `PromQLAsyncTestBackend`).
public protocol PromQLTestBackend {
    /// Forgets every series (the `clear` command).
    mutating func clear()
    /// Adds the series of one `load` command: each series' samples in the order the script gives them
    /// (by time, unless the script writes out of order). A series can hold floats and histograms.
    mutating func load(_ series: [SeriesSamples])
    func instantQuery(_ query: String, at time: Int64) throws(PromQLError) -> PromQLResult
    func rangeQuery(_ query: String, start: Int64, end: Int64, step: Int64) throws(PromQLError) -> PromQLResult
    /// An expected histogram in the form the backend's results deliver histograms, so the two compare
    /// (a backend whose transport loses detail returns what the expected histogram would become through it).
    func comparable(_ expected: NativeHistogram) -> NativeHistogram
}

/// A `PromQLTestBackend` whose operations suspend (for example one that talks HTTP to a server).
public protocol PromQLAsyncTestBackend {
    mutating func clear() async
    mutating func load(_ series: [SeriesSamples]) async
    func instantQuery(_ query: String, at time: Int64) async throws(PromQLError) -> PromQLResult
    func rangeQuery(_ query: String, start: Int64, end: Int64, step: Int64) async throws(PromQLError) -> PromQLResult
    func comparable(_ expected: NativeHistogram) -> NativeHistogram
}

extension PromQLTestBackend {
    public func comparable(_ expected: NativeHistogram) -> NativeHistogram { expected }
}

extension PromQLAsyncTestBackend {
    public func comparable(_ expected: NativeHistogram) -> NativeHistogram { expected }
}

/// The in-process backend: series in a `PromQLMemoryQueryable`, queries evaluated by `PromQLEngine`.
public struct PromQLMemoryTestBackend: PromQLTestBackend, Sendable {
    public var engine: PromQLEngine
    public private(set) var storage = PromQLMemoryQueryable()

    public init(engine: PromQLEngine = PromQLEngine()) { self.engine = engine }

    public mutating func clear() { storage = PromQLMemoryQueryable() }

    public mutating func load(_ series: [SeriesSamples]) {
        for one in series {
            for sample in one.floats { storage.append(one.labels, float: sample) }
            for sample in one.histograms { storage.append(one.labels, histogram: sample) }
        }
        storage.normalize()
    }

    public func instantQuery(_ query: String, at time: Int64) throws(PromQLError) -> PromQLResult {
        try engine.instantQuery(query, at: time, queryable: storage)
    }

    public func rangeQuery(_ query: String, start: Int64, end: Int64, step: Int64) throws(PromQLError) -> PromQLResult {
        try engine.rangeQuery(query, start: start, end: end, step: step, queryable: storage)
    }
}
