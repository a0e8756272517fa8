import LoupePipeline
import LoupeStorage
import Synchronization
import Testing

@testable import LoupePipeline

/// Between maintenance passes a full head must not wait out the whole interval.
@Suite struct HeadMaintenancePauseTests {
    typealias Service = HeadMaintenanceService<TraceSpanStore, ContinuousClock>

    @Test func aHeadThatFillsEndsThePauseAtTheNextCheck() async throws {
        let checks = Atomic<Int>(0)
        // Checked every 10 ms for up to 30 s: had the pause not ended at the third check, there
        // would be thousands. (No bound on the elapsed time: a loaded CI machine delays sleeps.)
        try await Service.pause(for: .seconds(30), checkingEvery: .milliseconds(10), on: ContinuousClock()) {
            checks.wrappingAdd(1, ordering: .relaxed).newValue >= 3
        }
        #expect(checks.load(ordering: .relaxed) == 3)
    }

    @Test func aHeadThatStaysSmallWaitsTheInterval() async throws {
        let checks = Atomic<Int>(0)
        let started = ContinuousClock.now
        try await Service.pause(for: .milliseconds(200), checkingEvery: .milliseconds(50), on: ContinuousClock()) {
            checks.wrappingAdd(1, ordering: .relaxed)
            return false
        }
        #expect(ContinuousClock.now - started >= .milliseconds(200))
        #expect(checks.load(ordering: .relaxed) == 4)
    }
}
