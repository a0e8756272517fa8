import HTTPTypes
import Hummingbird
import LoupePipeline
import NIOCore
import Synchronization

/// Whether the process has finished starting (WAL replayed, listeners bound) and is not stopping.
public final class Readiness: Sendable {
    private let ready = Atomic<Bool>(false)
    public init() {}
    public var isReady: Bool { ready.load(ordering: .acquiring) }
    public func markReady() { ready.store(true, ordering: .releasing) }
    public func markNotReady() { ready.store(false, ordering: .releasing) }
}

/// `/metrics`, `/ready` and `/healthz` on the main address.
struct OperationalRoutes: Sendable {
    let pipeline: IngestPipeline
    let readiness: Readiness

    func register(on router: Router<BasicRequestContext>) {
        router.get("/metrics") { _, _ in
            await pipeline.refreshGauges()
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: pipeline.telemetry.exposition())))
        }
        router.get("/healthz") { _, _ in
            Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        router.get("/ready") { _, _ in
            readiness.isReady
                ? Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "ready\n")))
                : Response(status: .serviceUnavailable, body: ResponseBody(byteBuffer: ByteBuffer(string: "not ready\n")))
        }
    }
}
