import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import LoupeModel
import LoupePipeline
import LoupeQuery
import LoupeStorage
import NIOCore

/// Loki's live tail, `GET /loki/api/v1/tail` (and `/api/prom/tail`) over a WebSocket: first the
/// entries from `start` (default an hour ago, at most `limit`, oldest first), then every entry
/// acknowledged from then on that the query keeps, one JSON message per write, as
/// `{"streams":[...],"dropped_entries":[...]}`. A request without a WebSocket upgrade, or with a
/// bad query, gets the plain HTTP answer (400 and why) from the router.
struct LokiTailRoutes: Sendable {
    let store: LogStreamStore
    let hub: LogTailHub
    let engine = LogQLEngine()

    static let paths: Set<String> = ["/loki/api/v1/tail", "/api/prom/tail"]
    /// Loki's cap on `limit` for a tail (`max_entries_limit_per_query`).
    static let maximumLimit = 5_000

    struct Request: Sendable {
        var query: String
        var tenant: Tenant
        var limit: Int
        var start: Int64
    }

    /// The tail a request asks for, or why it cannot be served.
    static func parse(path: String, tenantHeader: String?) throws(LokiQueryRoutes.Failure) -> Request {
        var parameters: [String: [String]] = [:]
        if let question = path.firstIndex(of: "?") {
            PrometheusAPIRoutes.addFormParameters(path[path.index(after: question)...], to: &parameters)
        }
        let tenant: Tenant
        do {
            tenant = try Tenant.fromHeader(tenantHeader)
        } catch {
            throw LokiQueryRoutes.Failure(message: error.description)
        }
        let query = try LokiQueryRoutes.required("query", parameters)
        guard try LokiQueryRoutes.parse(query).isLogQuery else {
            throw LokiQueryRoutes.Failure(message: "tail requires a log query, not a metric query: \(query)")
        }
        let limit = try LokiQueryRoutes.limit(parameters)
        guard limit <= maximumLimit else {
            throw LokiQueryRoutes.Failure(message: "max entries limit per query exceeded, limit > max_entries_limit (\(limit) > \(maximumLimit))")
        }
        let start = try LokiQueryRoutes.time(parameters, "start") ?? (LokiQueryRoutes.now() - 3_600_000_000_000)
        return Request(query: query, tenant: tenant, limit: limit, start: start)
    }

    /// The WebSocket upgrade decision for the HTTP/1 channel: tails upgrade, everything else goes
    /// on to the router.
    func shouldUpgrade(_ head: HTTPRequest) -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        let path = head.path ?? ""
        let route = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        guard Self.paths.contains(route), let request = try? Self.parse(path: path, tenantHeader: head.headerFields[.scopeOrgID]) else {
            return .dontUpgrade
        }
        return .upgrade([:]) { inbound, outbound, context in
            try await serve(request, inbound: inbound, outbound: outbound, logger: context.logger)
        }
    }

    /// Without an upgrade: Loki's answer to a plain GET, 400 with the query's problem or the need to upgrade.
    func register(on router: Router<BasicRequestContext>) {
        for path in Self.paths {
            router.get(RouterPath(path)) { request, _ -> Response in
                var headers = HTTPFields()
                headers[.contentType] = "text/plain; charset=utf-8"
                let message: String
                do {
                    _ = try Self.parse(path: request.uri.description, tenantHeader: request.headers[.scopeOrgID])
                    message = "tail needs a WebSocket connection (Connection: Upgrade, Upgrade: websocket)"
                } catch let failure as LokiQueryRoutes.Failure {
                    message = failure.message
                } catch {
                    message = "\(error)"
                }
                return Response(status: .badRequest, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: message + "\n")))
            }
        }
    }

    func serve(_ request: Request, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, logger: Logger) async throws {
        let subscription = hub.subscribe(tenant: request.tenant)
        defer { hub.unsubscribe(subscription.id) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The client closing (or going away) ends the tail.
            group.addTask {
                for try await _ in inbound {}
            }
            group.addTask {
                let queryable = LokiQueryRoutes.StoreQueryable(store: store, tenant: request.tenant)
                // Batches numbered up to here were in the store before the history was read.
                let seen = hub.sequence
                let now = LokiQueryRoutes.now()
                let history = try engine.rangeQuery(
                    request.query, start: request.start, end: max(now, request.start) + 1, step: 1, limit: request.limit, direction: .forward,
                    queryable: queryable)
                if case .streams(let streams) = history.value, !streams.isEmpty {
                    try await outbound.write(.text(Self.message(streams, dropped: [])))
                }
                for await batch in subscription.batches where batch.sequence > seen {
                    try Task.checkCancellation()
                    let times = batch.streams.flatMap { $0.entries.map(\.timestamp) }
                    guard let first = times.min(), let last = times.max() else { continue }
                    let result = try engine.rangeQuery(
                        request.query, start: first, end: last + 1, step: 1, limit: Int.max, direction: .forward,
                        queryable: InMemoryLogQLQueryable(streams: batch.streams))
                    let dropped = hub.takeDroppedEntries(subscription.id)
                    guard case .streams(let streams) = result.value, !streams.isEmpty || !dropped.isEmpty else { continue }
                    try await outbound.write(.text(Self.message(streams, dropped: dropped)))
                }
            }
            try await group.next()
            group.cancelAll()
        }
        logger.debug("live tail ended", metadata: ["query": "\(request.query)"])
    }

    /// One tail message, as Loki writes it.
    static func message(_ streams: [LogQLStreamResult], dropped: [LogTailHub.DroppedEntry]) -> String {
        var json = PrometheusJSON()
        json.raw(#"{"streams":"#)
        LokiQueryRoutes.appendStreams(streams, to: &json)
        json.raw(#","dropped_entries":"#)
        if dropped.isEmpty {
            json.raw("null")
        } else {
            json.raw("[")
            for (index, entry) in dropped.enumerated() {
                if index > 0 { json.raw(",") }
                json.raw(#"{"labels":"#)
                json.labels(entry.labels)
                json.raw(#","timestamp":"\#(entry.timestamp)"}"#)
            }
            json.raw("]")
        }
        json.raw("}")
        return String(decoding: json.bytes, as: UTF8.self)
    }
}
