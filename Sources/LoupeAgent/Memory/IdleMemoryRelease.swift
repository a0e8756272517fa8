import LoupeStorage
import ServiceLifecycle

/// Gives back what the agent holds without using, once start-up has settled and then every
/// `interval`: freed heap memory (`MemoryRelease.trimFreedMemory`; the exporter trims when its
/// queue drains, but the collectors and the HTTP client free their buffers later) and the code
/// pages it is not running (`MemoryRelease.releaseIdleCodePages`). Start-up touches most of the
/// binary's and the libraries' text; an idle agent runs a small part of it, and a busy one faults
/// its hot code back in within milliseconds, so its resident size follows what it actually uses.
public struct IdleMemoryRelease: Service {
    let settle: Duration
    let interval: Duration

    public init(settle: Duration = .seconds(10), interval: Duration = .seconds(60)) {
        self.settle = settle
        self.interval = interval
    }

    public func run() async throws {
        await pause(settle)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            _ = try? await BlockingIO.run {
                MemoryRelease.trimFreedMemory()
                MemoryRelease.releaseIdleCodePages()
            }
            await pause(interval)
        }
    }
}
