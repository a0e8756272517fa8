import LoupeModel
import LoupeScrape
import Synchronization

/// What `/api/v1/targets` and `/api/v1/targets/metadata` report: the targets of every scrape pool and how their
/// last scrape went. Written by the scrape manager, read by the HTTP routes.
public final class ScrapeStatus: Sendable {
    public enum Health: String, Sendable {
        case up, down, unknown
    }

    public struct ActiveTarget: Sendable {
        public var pool: String
        public var target: ScrapeTarget
        public var health: Health = .unknown
        public var lastError = ""
        /// Milliseconds since the epoch; nil before the first scrape.
        public var lastScrape: Int64?
        /// Seconds.
        public var lastScrapeDuration = 0.0
        /// Metric metadata of the last successful scrape.
        public var metadata: [String: MetricMetadata] = [:]
    }

    public struct DroppedTarget: Sendable {
        public var pool: String
        public var discoveredLabels: Labels
    }

    private struct Pool {
        var active: [String: ActiveTarget] = [:]
        var order: [String] = []
        var dropped: [Labels] = []
    }

    private let pools = Mutex<[String: Pool]>([:])
    /// The configured pools, in configuration order.
    public let poolNames: [String]

    public init(poolNames: [String] = []) {
        self.poolNames = poolNames
    }

    static func key(_ target: ScrapeTarget) -> String { "\(target.url)\u{0}\(target.labels)" }

    /// Replaces a pool's targets; targets that stay keep their last scrape's state.
    func setTargets(pool name: String, active: [ScrapeTarget], dropped: [Labels]) {
        pools.withLock { pools in
            var pool = pools[name] ?? Pool()
            var next: [String: ActiveTarget] = [:]
            var order: [String] = []
            for target in active {
                let key = Self.key(target)
                guard next[key] == nil else { continue }
                next[key] = pool.active[key] ?? ActiveTarget(pool: name, target: target)
                next[key]!.target = target
                order.append(key)
            }
            pool.active = next
            pool.order = order
            pool.dropped = dropped
            pools[name] = pool
        }
    }

    func record(pool name: String, target: ScrapeTarget, timestamp: Int64, duration: Double, error: String?, metadata: [String: MetricMetadata]?) {
        pools.withLock { pools in
            let key = Self.key(target)
            guard var entry = pools[name]?.active[key] else { return }
            entry.health = error == nil ? .up : .down
            entry.lastError = error ?? ""
            entry.lastScrape = timestamp
            entry.lastScrapeDuration = duration
            if let metadata { entry.metadata = metadata }
            pools[name]!.active[key] = entry
        }
    }

    /// Active targets in pool order, then discovery order.
    public func activeTargets(pool: String? = nil) -> [ActiveTarget] {
        pools.withLock { pools in
            orderedPools(pools, pool).flatMap { name in pools[name].map { pool in pool.order.compactMap { pool.active[$0] } } ?? [] }
        }
    }

    public func droppedTargets(pool: String? = nil) -> [DroppedTarget] {
        pools.withLock { pools in
            orderedPools(pools, pool).flatMap { name in (pools[name]?.dropped ?? []).map { DroppedTarget(pool: name, discoveredLabels: $0) } }
        }
    }

    private func orderedPools(_ pools: [String: Pool], _ only: String?) -> [String] {
        let known = poolNames + pools.keys.filter { !poolNames.contains($0) }.sorted()
        return only.map { name in known.filter { $0 == name } } ?? known
    }
}
