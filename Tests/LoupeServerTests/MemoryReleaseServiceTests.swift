import LoupePipeline
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@Suite("Memory release service")
struct MemoryReleaseServiceTests {
    /// It trims once per interval and stops on shutdown.
    @Test func trimsEveryIntervalUntilShutdown() async throws {
        let trims = Atomic<Int>(0)
        let service = MemoryReleaseService(interval: .milliseconds(20), clock: ContinuousClock()) {
            trims.add(1, ordering: .relaxed)
        }
        let group = ServiceGroup(services: [service], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // Waits for at least three trims, however slow the machine: the fuzz suites can hold
            // both cooperative threads for a minute or more when the whole suite runs at once.
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: .seconds(600))
            while trims.load(ordering: .relaxed) < 3 && clock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            #expect(trims.load(ordering: .relaxed) >= 3)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let afterShutdown = trims.load(ordering: .relaxed)
        try await Task.sleep(for: .milliseconds(100))
        #expect(trims.load(ordering: .relaxed) == afterShutdown)
    }
}
