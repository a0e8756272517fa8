import LoupeModel
import Synchronization

/// One series' exemplars, for `query_exemplars`.
public struct SeriesExemplars: Sendable, Equatable {
    public var seriesLabels: Labels
    public var exemplars: [PrometheusExemplar]

    public init(seriesLabels: Labels, exemplars: [PrometheusExemplar]) {
        self.seriesLabels = seriesLabels
        self.exemplars = exemplars
    }
}

/// The exemplars of one tenant: in memory, at most `capacity` in all, the oldest written going
/// first when full (Prometheus's circular exemplar storage). They come back after a restart
/// because they travel in the same WAL records as their samples.
public final class ExemplarStore: Sendable {
    private struct State: Sendable {
        /// Per series, sorted by timestamp.
        var bySeries: [Labels: [PrometheusExemplar]] = [:]
        /// Series of every stored exemplar in the order written (a ring of `capacity` slots).
        var ring: [Labels?] = []
        var next = 0
        var count = 0
    }

    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int = 100_000) { self.capacity = max(0, capacity) }

    /// Adds exemplars of one series; those without a timestamp, and exact duplicates, are skipped.
    /// Returns how many were stored.
    @discardableResult
    public func add(_ exemplars: [PrometheusExemplar], series: Labels) -> Int {
        guard capacity > 0, !exemplars.isEmpty else { return 0 }
        return state.withLock { state in
            if state.ring.isEmpty { state.ring = Array(repeating: nil, count: capacity) }
            var added = 0
            for exemplar in exemplars {
                guard let timestamp = exemplar.timestamp else { continue }
                var list = state.bySeries.removeValue(forKey: series) ?? []
                let index = HeadSeries.insertionIndex(list, timestamp, \.sortTimestamp)
                if index < list.count, list[index] == exemplar {
                    state.bySeries[series] = list
                    continue
                }
                list.insert(exemplar, at: index)
                state.bySeries[series] = list
                // Evict the oldest written exemplar when the ring is full.
                if let evicted = state.ring[state.next] {
                    if var victims = state.bySeries.removeValue(forKey: evicted) {
                        victims.removeFirst()
                        if !victims.isEmpty { state.bySeries[evicted] = victims }
                    }
                    state.count -= 1
                }
                state.ring[state.next] = series
                state.next = (state.next + 1) % capacity
                state.count += 1
                added += 1
            }
            return added
        }
    }

    /// Exemplars with `minTime <= t <= maxTime` of the series matching all `matchers`, by series labels.
    public func select(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) -> [SeriesExemplars] {
        state.withLock { state in
            state.bySeries.compactMap { labels, exemplars -> SeriesExemplars? in
                guard matchers.allSatisfy({ $0.matches(labels[$0.name] ?? "") }) else { return nil }
                let inRange = exemplars.filter { ($0.timestamp ?? .min) >= minTime && ($0.timestamp ?? .max) <= maxTime }
                return inRange.isEmpty ? nil : SeriesExemplars(seriesLabels: labels, exemplars: inRange)
            }
        }.sorted { $0.seriesLabels < $1.seriesLabels }
    }

    public var count: Int { state.withLock { $0.count } }
}

extension PrometheusExemplar {
    var sortTimestamp: Int64 { timestamp ?? .min }
}
