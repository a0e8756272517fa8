import Foundation
import Hummingbird
import Logging
import LoupeModel
import ServiceLifecycle

/// The agent's own HTTP listener: `/metrics`, `/api/v1/pipelines` (status as JSON), `/ready`, `/healthz`.
public enum AgentHTTPServer {
    public static func application(
        host: String, port: Int, status: AgentStatus, logger: Logger, onListening: @escaping @Sendable (Int) async -> Void
    ) -> some Service {
        let router = Router()
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: status.metricsText())))
        }
        router.get("/api/v1/pipelines") { _, _ in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = (try? encoder.encode(status.reports())) ?? Data("[]".utf8)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("/ready") { _, _ in "ready\n" }
        router.get("/healthz") { _, _ in "ok\n" }
        return Application(
            router: router, configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "loupe-agent"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) }, logger: logger)
    }
}

/// Samples the counters every `interval`, so conditions look at a recent window.
public struct AgentStatusSampler: Service {
    let status: AgentStatus
    let interval: Duration
    let clock: WallClock

    public init(status: AgentStatus, interval: Duration = .seconds(10), clock: WallClock = .system) {
        self.status = status
        self.interval = interval
        self.clock = clock
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            status.sample(nowUnixNano: clock.nowUnixNano())
            await pause(interval)
        }
    }
}
