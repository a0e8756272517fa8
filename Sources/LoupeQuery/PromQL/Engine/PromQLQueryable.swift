import LoupeModel

/// Where the PromQL engine reads series from: the TSDB head and blocks, a promqltest
/// script's loaded data, or a remote store. Implementations return, for every series
/// matching all matchers, its samples with `minTime <= t <= maxTime`, sorted by labels.
public protocol PromQLQueryable: Sendable {
    func select(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) throws -> [SeriesSamples]
}
