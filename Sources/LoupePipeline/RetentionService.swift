import Logging
import LoupeModel
import LoupeStorage
import ServiceLifecycle

/// Periodically forgets data older than the retention period, in the stores and in the WAL.
public struct RetentionService<C: Clock<Duration>>: Service {
    let pipeline: IngestPipeline
    let interval: Duration
    let clock: C
    let wallClock: WallClock
    let logger: Logger

    public init(pipeline: IngestPipeline, interval: Duration = .seconds(60), clock: C, wallClock: WallClock = .system, logger: Logger) {
        self.pipeline = pipeline
        self.interval = interval
        self.clock = clock
        self.wallClock = wallClock
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelledOrShuttingDown {
            await enforceOnce()
            do {
                try await cancelWhenGracefulShutdown { try await clock.sleep(for: interval) }
            } catch {
                return
            }
        }
    }

    /// One retention pass; returns the number of items removed from the stores.
    @discardableResult
    public func enforceOnce() async -> Int {
        guard let cutoff = pipeline.retention.cutoff(nowUnixNano: wallClock.nowUnixNano()) else { return 0 }
        let removed = await pipeline.stores.removeItems(olderThan: cutoff)
        var freed = 0
        do {
            for wal in pipeline.allWALs { freed += try wal.removeSegments(olderThan: cutoff) }
        } catch {
            logger.warning("could not remove expired WAL segments", metadata: ["error": "\(error)"])
        }
        if removed > 0 || freed > 0 {
            logger.info("retention removed expired data", metadata: ["items": "\(removed)", "walBytesFreed": "\(freed)"])
        }
        return removed
    }
}

extension Task where Success == Never, Failure == Never {
    static var isCancelledOrShuttingDown: Bool { isCancelled || isShuttingDownGracefully }
}
