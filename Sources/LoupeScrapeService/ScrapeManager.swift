import Foundation
import Logging
import LoupeModel
import LoupeScrape
import LoupeWire
import ServiceLifecycle
import Synchronization

/// Where scraped samples go, with the target they came from: `loupe up`'s write path
/// (`IngestPipeline.ingestPrometheus`, WAL first) or a MetricPipeline's queue. Returns nil when
/// everything was written, otherwise what was refused and why (logged; the scrape itself stays up).
public typealias ScrapeAppender = @Sendable (RemoteWriteRequest, ScrapeTarget, Tenant) async -> String?

/// Targets found by something other than the configuration (the Kubernetes API, say), by pool (job)
/// name; asked again every `discoveryInterval`.
public typealias TargetDiscovery = @Sendable (_ job: String) -> [TargetGroup]

/// Scrapes every target of every `scrape_configs` entry, as a `Service`.
///
/// One task per scrape pool keeps its targets in step with discovery (static_configs once; file_sd files
/// re-read when their modification time or size changes, and at least every `refresh_interval`); one task per
/// target scrapes it every interval, at a start offset derived from the target's hash (so targets spread over
/// the interval and keep their phase across restarts), each scrape bounded by the timeout. The scraped
/// samples, stale markers and report series of a scrape go to `append` as one request. A target that
/// disappears from discovery gets stale markers for all its series; on shutdown none are written (as in
/// Prometheus, so a restart leaves no gap).
public final class ScrapeManager<C: Clock>: Service, Sendable where C.Duration == Duration {
    public let configuration: ScrapeConfiguration
    public let status: ScrapeStatus
    let append: ScrapeAppender
    let clock: C
    let wallClock: @Sendable () -> Int64
    let logger: Logger
    let userAgent: String
    let discovery: TargetDiscovery?
    let discoveryInterval: Duration

    /// - Parameters:
    ///   - clock: drives intervals, timeouts and durations.
    ///   - wallClock: milliseconds since the epoch, for sample timestamps and start offsets.
    ///   - discovery: targets each pool has besides its static and file_sd ones.
    public init(
        configuration: ScrapeConfiguration, append: @escaping ScrapeAppender, clock: C, logger: Logger,
        userAgent: String = "Loupe", wallClock: @escaping @Sendable () -> Int64 = ScrapeClock.nowMilliseconds,
        discovery: TargetDiscovery? = nil, discoveryInterval: Duration = .seconds(5)
    ) {
        self.discovery = discovery
        self.discoveryInterval = discoveryInterval
        self.configuration = configuration
        self.status = ScrapeStatus(poolNames: configuration.scrapeConfigs.map(\.jobName))
        self.append = append
        self.clock = clock
        self.wallClock = wallClock
        self.logger = logger
        self.userAgent = userAgent
    }

    public func run() async throws {
        guard !configuration.scrapeConfigs.isEmpty else {
            try? await gracefulShutdown()
            return
        }
        let pools = configuration.scrapeConfigs
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for config in pools {
                    group.addTask { await self.runPool(config) }
                }
            }
        }
    }

    // MARK: - Pools

    /// A running target: its task and whether stopping it should write stale markers.
    private final class RunningTarget: Sendable {
        let target: ScrapeTarget
        let staleOnStop = Mutex(false)
        let task = Mutex<Task<Void, Never>?>(nil)

        init(target: ScrapeTarget) { self.target = target }

        func stop(stale: Bool) -> Task<Void, Never>? {
            staleOnStop.withLock { $0 = stale }
            let task = task.withLock { $0 }
            task?.cancel()
            return task
        }
    }

    func runPool(_ config: ScrapeConfig) async {
        let fetcher = ScrapeFetcher(config: config, userAgent: userAgent)
        if let error = fetcher.clientError {
            logger.error("scrape pool cannot scrape", metadata: ["job": "\(config.jobName)", "error": "\(error)"])
        }
        var running: [String: RunningTarget] = [:]
        // Targets that left discovery, finishing their last scrape and stale markers.
        var leaving: [Task<Void, Never>] = []
        var files = FileSDState(configs: config.fileSDConfigs)
        var lastGroups: [TargetGroup]?
        while !Task.isCancelled {
            let now = clock.now
            files.refresh(now: wallClock(), logger: logger, job: config.jobName)
            let groups = config.staticConfigs + files.groups + (discovery?(config.jobName) ?? [])
            if groups != lastGroups {
                lastGroups = groups
                leaving += sync(config, groups: groups, running: &running, fetcher: fetcher)
            }
            guard !config.fileSDConfigs.isEmpty || discovery != nil else {
                // Static targets only: nothing to poll; wait for shutdown.
                while !Task.isCancelled { try? await clock.sleep(for: .seconds(3600)) }
                break
            }
            var poll = discoveryInterval
            if !config.fileSDConfigs.isEmpty { poll = min(poll, .milliseconds(files.pollInterval)) }
            if discovery == nil { poll = .milliseconds(files.pollInterval) }
            try? await clock.sleep(until: now.advanced(by: poll), tolerance: nil)
        }
        // Shutdown: no stale markers (a restart continues the series).
        let tasks = running.values.compactMap { $0.stop(stale: false) }
        for task in tasks + leaving { await task.value }
        await fetcher.shutdown()
    }

    /// Starts and stops target tasks to match `groups`; returns the tasks of targets that left.
    private func sync(
        _ config: ScrapeConfig, groups: [TargetGroup], running: inout [String: RunningTarget], fetcher: ScrapeFetcher
    ) -> [Task<Void, Never>] {
        var active: [ScrapeTarget] = []
        var dropped: [Labels] = []
        for discovered in config.targets(from: groups) {
            switch discovered {
            case .active(let target): active.append(target)
            case .dropped(let labels): dropped.append(labels)
            case .invalid(let labels, let error):
                logger.warning("invalid scrape target", metadata: ["job": "\(config.jobName)", "target": "\(labels)", "error": "\(error)"])
            }
        }
        status.setTargets(pool: config.jobName, active: active, dropped: dropped)
        var wanted: [String: ScrapeTarget] = [:]
        for target in active { wanted[ScrapeStatus.key(target)] = target }
        var stopped: [Task<Void, Never>] = []
        for (key, entry) in running where wanted[key] == nil || wanted[key]!.interval != entry.target.interval
            || wanted[key]!.timeout != entry.target.timeout {
            if let task = entry.stop(stale: true) { stopped.append(task) }
            running[key] = nil
        }
        for (key, target) in wanted where running[key] == nil {
            let entry = RunningTarget(target: target)
            let task = Task { await self.runTarget(target, config: config, fetcher: fetcher, entry: entry) }
            entry.task.withLock { $0 = task }
            running[key] = entry
        }
        return stopped
    }

    // MARK: - Targets

    private func runTarget(_ target: ScrapeTarget, config: ScrapeConfig, fetcher: ScrapeFetcher, entry: RunningTarget) async {
        var loop = ScrapeLoop(targetLabels: target.labels, options: ScrapeLoop.Options(config))
        let delay = ScrapeSchedule.initialDelay(hash: target.hash, interval: target.interval, now: wallClock())
        do {
            try await clock.sleep(for: .milliseconds(delay))
        } catch {
            return
        }
        let interval = Duration.milliseconds(target.interval)
        var next = clock.now
        while !Task.isCancelled {
            let timestamp = wallClock()
            let started = clock.now
            let body = await fetcher.fetch(target, clock: clock)
            if Task.isCancelled { break }
            let elapsed = started.duration(to: clock.now)
            let duration = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let outcome: ScrapeOutcome
            switch body {
            case .success(let response):
                outcome = loop.process(body: response.bytes, contentType: response.contentType, timestamp: timestamp, duration: duration)
            case .failure(let error):
                outcome = loop.failed(error, timestamp: timestamp, duration: duration)
            }
            if let refused = await append(outcome.request, target, config.tenant) {
                logger.warning("scraped samples refused", metadata: ["job": "\(config.jobName)", "target": "\(target.url)", "reason": "\(refused)"])
            }
            status.record(
                pool: config.jobName, target: target, timestamp: timestamp, duration: duration, error: outcome.error?.message,
                metadata: outcome.error == nil ? loop.metadata : nil)
            if let error = outcome.error {
                logger.debug("scrape failed", metadata: ["job": "\(config.jobName)", "target": "\(target.url)", "error": "\(error)"])
            }
            next = next.advanced(by: interval)
            let now = clock.now
            while next < now { next = next.advanced(by: interval) }
            do {
                try await clock.sleep(until: next, tolerance: nil)
            } catch {
                break
            }
        }
        if entry.staleOnStop.withLock({ $0 }) {
            let request = loop.stop(timestamp: wallClock())
            if !request.series.isEmpty, let refused = await append(request, target, config.tenant) {
                logger.warning("stale markers refused", metadata: ["job": "\(config.jobName)", "target": "\(target.url)", "reason": "\(refused)"])
            }
        }
    }
}

/// The wall clock scrapes are stamped with.
public enum ScrapeClock {
    @Sendable public static func nowMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}

/// file_sd state of one scrape pool: the groups of every matching file, re-read when a file changes.
struct FileSDState {
    struct FileVersion: Equatable {
        var modified: Date?
        var size: Int
    }

    let configs: [FileSDConfig]
    private var versions: [String: FileVersion] = [:]
    private var contents: [String: [TargetGroup]] = [:]
    private var lastFullRead: [Int: Int64] = [:]

    init(configs: [FileSDConfig]) { self.configs = configs }

    /// How often modification times are checked: the shortest refresh interval, at most 5 s.
    var pollInterval: Int64 { min(configs.map(\.refreshInterval).min() ?? 5_000, 5_000) }

    /// All groups, by file path order.
    var groups: [TargetGroup] { contents.keys.sorted().flatMap { contents[$0]! } }

    mutating func refresh(now: Int64, logger: Logger, job: String) {
        var seen: Set<String> = []
        for (index, config) in configs.enumerated() {
            let fullRead = now - (lastFullRead[index] ?? .min / 2) >= config.refreshInterval
            if fullRead { lastFullRead[index] = now }
            for path in Self.expand(config.files) {
                seen.insert(path)
                let attributes = try? FileManager.default.attributesOfItem(atPath: path)
                let size = attributes?[.size]
                let version = FileVersion(
                    modified: attributes?[.modificationDate] as? Date,
                    size: (size as? Int) ?? (size as? UInt64).map { Int(clamping: $0) } ?? (size as? NSNumber)?.intValue ?? -1)
                guard fullRead || versions[path] != version || contents[path] == nil else { continue }
                versions[path] = version
                guard let data = FileManager.default.contents(atPath: path) else {
                    logger.warning("file_sd: cannot read file", metadata: ["job": "\(job)", "file": "\(path)"])
                    contents[path] = []
                    continue
                }
                do {
                    contents[path] = try FileSD.parse(String(decoding: data, as: UTF8.self), path: path)
                } catch {
                    // Keep the last good contents, as Prometheus does.
                    logger.warning("file_sd: invalid file", metadata: ["job": "\(job)", "error": "\(error)"])
                    if contents[path] == nil { contents[path] = [] }
                }
            }
        }
        for path in contents.keys where !seen.contains(path) {
            contents[path] = nil
            versions[path] = nil
        }
    }

    /// The files a list of patterns names (a `*`/`?` glob only in the last path element).
    static func expand(_ patterns: [String]) -> [String] {
        var paths: [String] = []
        for pattern in patterns {
            let name = (pattern as NSString).lastPathComponent
            guard name.contains("*") || name.contains("?") else {
                paths.append(pattern)
                continue
            }
            let directory = (pattern as NSString).deletingLastPathComponent
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory)) ?? []
            for entry in entries.sorted() where FileSD.nameMatches(entry, glob: name) {
                paths.append(directory.isEmpty ? entry : (directory as NSString).appendingPathComponent(entry))
            }
        }
        return paths
    }
}
