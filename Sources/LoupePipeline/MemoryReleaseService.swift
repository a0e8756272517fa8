import LoupeStorage
import ServiceLifecycle

/// Hands freed heap memory back to the operating system every `interval` (see `MemoryRelease`).
///
/// The TSDB maintenance pass also trims, but once a minute: after a burst of ingest the process
/// showed the burst's peak as its resident size for up to a minute although the memory was free
/// (request buffers, decoded series), which is what users and memory limits see. A trim costs a
/// few milliseconds; every ten seconds that is noise.
public struct MemoryReleaseService<C: Clock<Duration>>: Service {
    let interval: Duration
    let clock: C
    let trim: @Sendable () -> Void

    public init(interval: Duration = .seconds(10), clock: C, trim: @escaping @Sendable () -> Void = { MemoryRelease.trimFreedMemory() }) {
        self.interval = interval
        self.clock = clock
        self.trim = trim
    }

    public func run() async throws {
        while !Task.isCancelledOrShuttingDown {
            do {
                try await cancelWhenGracefulShutdown { try await clock.sleep(for: interval) }
            } catch {
                return
            }
            // Right here rather than on the blocking-I/O pool: a trim takes milliseconds, and
            // that pool can be busy for seconds writing blocks, which is when trimming matters.
            trim()
        }
    }
}
