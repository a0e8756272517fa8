import Foundation
import LoupeModel
import LoupeWire
import Testing

@testable import LoupePipeline

@Suite struct LogIngestionLimitsTests {
    @Test func tokenBucketRefillsAtTheRateAndAllowsTheBurst() throws {
        let limiter = IngestionRateLimiter(bytesPerSecond: 1_000, burstBytes: 3_000)
        let tenant = Tenant.default
        let start = ContinuousClock.now
        try limiter.admit(2_000, tenant: tenant, now: start)
        try limiter.admit(1_000, tenant: tenant, now: start)
        // The burst is spent: 1,500 more bytes need 1.5 s of refill.
        #expect(throws: IngestionRateLimiter.Refusal(retryAfterSeconds: 2)) { try limiter.admit(1_500, tenant: tenant, now: start) }
        #expect(throws: Never.self) { try limiter.admit(1_500, tenant: tenant, now: start + .milliseconds(1_500)) }
        // Another tenant has its own bucket.
        #expect(throws: Never.self) { try limiter.admit(3_000, tenant: Tenant(uncheckedName: "other"), now: start) }
        // Never more than the burst, however long the pause.
        #expect(throws: IngestionRateLimiter.Refusal.self) {
            try limiter.admit(2_000, tenant: tenant, now: start + .seconds(100))
            try limiter.admit(1_001, tenant: tenant, now: start + .seconds(100))
        }
    }

    @Test func longLinesAreRefusedOrCutAtACharacterBoundary() throws {
        let stream = LogStream(labels: ["app": "api"], entries: [LogEntry(timestamp: 1, line: "ok"), LogEntry(timestamp: 2, line: "héllo wörld")])
        var refused = [stream]
        #expect(throws: LogLineSizeLimit.Violation.self) { try LogLineSizeLimit(maximumBytes: 5).apply(to: &refused) }
        var cut = [stream]
        // "héllo" is 6 bytes (é takes two): 5 bytes would split nothing but must not end mid-é at 2.
        #expect(try LogLineSizeLimit(maximumBytes: 2, truncate: true).apply(to: &cut) == 1)
        #expect(cut[0].entries.map(\.line) == ["ok", "h"])
        var unlimited = [stream]
        #expect(try LogLineSizeLimit(maximumBytes: 0).apply(to: &unlimited) == 0)
    }

    @Test func pushAnswers400ForLongLinesAnd429OverTheRate() async throws {
        try await TestServer.with(configure: { configuration in
            configuration.maximumLogLineBytes = 100
            // One byte a second: the burst is spent by the ten pushes, however slowly the machine runs them.
            configuration.logIngestionRateBytes = 1
            configuration.logIngestionBurstBytes = 1_000
        }) { server in
            func push(_ line: String, tenant: String) async throws -> TestServer.Reply {
                let body = #"{"streams":[{"stream":{"app":"x"},"values":[["1767225600000000000",\#(LokiAPITests.jsonString(line))]]}]}"#
                return try await server.request(
                    "POST", server.httpBase + "/loki/api/v1/push", body: Array(body.utf8),
                    headers: ["Content-Type": "application/json", "X-Scope-OrgID": tenant])
            }
            let long = try await push(String(repeating: "x", count: 101), tenant: "a")
            #expect(long.status == 400)
            #expect(long.text.contains("Max entry size '100' bytes exceeded"), "\(long.text)")
            for _ in 0..<10 {
                let reply = try await push(String(repeating: "y", count: 100), tenant: "b")
                #expect(reply.status == 204)
            }
            let limited = try await push(String(repeating: "z", count: 100), tenant: "b")
            #expect(limited.status == 429)
            #expect(limited.headers["retry-after"] != nil)
            #expect(limited.text.contains("Ingestion rate limit exceeded for user b"), "\(limited.text)")
        }
    }
}
