import LoupeModel

/// Where the PromQL engine reads series from: the TSDB head and blocks, a promqltest
/// script's loaded data, or a remote store. Implementations return, for every series
/// matching all matchers, its samples with `minTime <= t <= maxTime`, sorted by labels.
public protocol PromQLQueryable: Sendable {
    func select(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) throws -> [SeriesSamples]
    /// The same, for the series in `shard` only: range queries read many series a shard at a
    /// time. Storage should skip the other series before decoding their samples.
    func select(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64, shard: SeriesShard) throws -> [SeriesSamples]
    /// Like `select`, but each series with only its newest sample in the range (`SeriesSamples.newest`):
    /// all an instant vector selector needs, which a head can answer without decoding chunks.
    func selectNewest(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) throws -> [SeriesSamples]
}

extension PromQLQueryable {
    /// Selects everything and keeps the shard's series (for stores small enough to hold in memory).
    public func select(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64, shard: SeriesShard) throws -> [SeriesSamples] {
        let all = try select(matchers, minTime: minTime, maxTime: maxTime)
        return shard.count == 1 ? all : all.filter { shard.contains($0.labels) }
    }

    public func selectNewest(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) throws -> [SeriesSamples] {
        try select(matchers, minTime: minTime, maxTime: maxTime).map(\.newest)
    }
}
