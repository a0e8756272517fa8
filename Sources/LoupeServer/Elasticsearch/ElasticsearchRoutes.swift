import Foundation
import HTTPTypes
import Hummingbird
import LoupeModel
import LoupePipeline
import LoupeWire
import NIOCore

/// Elasticsearch's `_bulk` API and the handful of endpoints log shippers probe before it (cluster
/// info, license, templates, ILM policies, index creation), so the Elasticsearch outputs of
/// Fluent Bit, Fluentd, Vector, Filebeat and the official clients write to Loupe unchanged.
/// Documents become Loki streams (`ElasticsearchToStreams`) and are as durable as a Loki push.
struct ElasticsearchRoutes: Sendable {
    let pipeline: IngestPipeline
    let limits: IngestLimits
    let mapping = ElasticsearchToStreams()

    /// The version shippers see: 8.x, so current clients use their current protocol.
    static let version = "8.11.0"

    func register(on router: Router<BasicRequestContext>) {
        router.on("/", method: .get) { _, _ in Self.json(.ok, Self.info) }
        router.on("/", method: .head) { _, _ in Self.json(.ok, "") }
        router.get("/_license") { _, _ in
            Self.json(.ok, #"{"license":{"status":"active","uid":"loupe","type":"basic","issue_date_in_millis":0,"max_nodes":1000}}"#)
        }
        router.get("/_xpack") { _, _ in
            Self.json(.ok, #"{"build":{},"license":{"status":"active","type":"basic","mode":"basic"},"features":{}}"#)
        }
        router.get("/_cluster/health") { _, _ in
            Self.json(.ok, #"{"cluster_name":"loupe","status":"green","number_of_nodes":1,"number_of_data_nodes":1,"active_shards_percent_as_number":100.0}"#)
        }
        for path in ["/_index_template/{name}", "/_template/{name}", "/_ilm/policy/{name}", "/_ingest/pipeline/{name}"] {
            for method in [HTTPRequest.Method.put, .post] {
                router.on(RouterPath(stringLiteral: path), method: method) { _, _ in Self.json(.ok, #"{"acknowledged":true}"#) }
            }
            // Loupe keeps no templates: "not found" makes a shipper install its own, which is acknowledged.
            router.on(RouterPath(stringLiteral: path), method: .get) { _, _ in Self.json(.notFound, "{}") }
            router.on(RouterPath(stringLiteral: path), method: .head) { _, _ in Self.json(.notFound, "") }
        }
        for method in [HTTPRequest.Method.post, .put] {
            router.on("/_bulk", method: method) { request, _ in await bulk(request, index: nil) }
            router.on("/{index}/_bulk", method: method) { request, context in await bulk(request, index: context.parameters.get("index")) }
        }
        // Index creation and existence checks: every index exists (documents are accepted into any).
        router.on("/{index}", method: .put) { _, context in
            Self.json(.ok, #"{"acknowledged":true,"shards_acknowledged":true,"index":\#(Self.quoted(context.parameters.get("index") ?? ""))}"#)
        }
        router.on("/{index}", method: .head) { _, _ in Self.json(.ok, "") }
    }

    static var info: String {
        #"{"name":"loupe","cluster_name":"loupe","cluster_uuid":"loupe","version":{"number":"\#(version)","build_flavor":"default","build_type":"loupe","build_hash":"loupe","build_date":"2026-01-01T00:00:00.000Z","build_snapshot":false,"lucene_version":"9.8.0","minimum_wire_compatibility_version":"7.17.0","minimum_index_compatibility_version":"7.0.0"},"tagline":"You Know, for Search"}"#
    }

    static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        // Official clients (7.14 and later) refuse a server that does not say this.
        headers[HTTPField.Name("X-Elastic-Product")!] = "Elasticsearch"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    /// Elasticsearch's error shape.
    static func error(_ status: HTTPResponse.Status, type: String, reason: String) -> Response {
        json(status, #"{"error":{"root_cause":[{"type":"\#(type)","reason":\#(quoted(reason))}],"type":"\#(type)","reason":\#(quoted(reason))},"status":\#(status.code)}"#)
    }

    static func quoted(_ text: String) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: [text]), as: UTF8.self).dropFirst().dropLast().description
    }

    func bulk(_ request: Request, index: String?) async -> Response {
        let started = ContinuousClock.now
        let telemetry = pipeline.telemetry
        func refuse(_ status: HTTPResponse.Status, _ reason: String, _ type: String, _ message: String, retryAfter: Int? = nil) -> Response {
            telemetry.recordRejected(signal: .logs, via: .elasticsearchBulk, reason: reason)
            var response = Self.error(status, type: type, reason: message)
            if let retryAfter { response.headers[.retryAfter] = String(retryAfter) }
            return response
        }
        let tenant: Tenant
        do {
            tenant = try Tenant.fromHeader(request.headers[HTTPField.Name.scopeOrgID])
        } catch {
            return refuse(.badRequest, "invalid_tenant", "illegal_argument_exception", error.description)
        }
        let body: [UInt8]
        do {
            body = try await HTTPBody.collect(request, limit: limits.maximumRequestBytes)
        } catch {
            return refuse(error.status, error.reason, "illegal_argument_exception", error.message)
        }
        let reservation: MemoryBudget.Reservation
        do {
            reservation = try pipeline.admit(bytes: body.count)
        } catch {
            return refuse(.serviceUnavailable, error.code.rawValue, "es_rejected_execution_exception", error.message, retryAfter: error.retryAfterSeconds)
        }
        defer { pipeline.release(reservation) }
        let items: [ElasticsearchBulk.Item]
        do {
            items = try ElasticsearchBulk.decode(body, defaultIndex: index)
        } catch {
            return refuse(.badRequest, "bad_request", "illegal_argument_exception", error.message)
        }
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        var order: [Labels] = []
        var byLabels: [Labels: [LogEntry]] = [:]
        // A line over the size limit or older than the retention fails its own item, as a mapping
        // error does in Elasticsearch: refusing the whole request would make shippers resend the
        // batch forever, and accepting it would claim entries that are not kept.
        var refused: [Int: String] = [:]
        let retention = pipeline.logRetention(tenant: tenant)
        let cutoff = retention.cutoff(nowUnixNano: UInt64(clamping: now)).map { Int64(clamping: $0) }
        for (position, item) in items.enumerated() where item.error == nil && (item.action == .index || item.action == .create) {
            var (labels, entry) = mapping.entry(item, now: now)
            do {
                _ = try limits.logLineSize.apply(to: &entry.line, of: labels)
            } catch {
                refused[position] = error.description
                continue
            }
            if let cutoff, entry.timestamp < cutoff {
                refused[position] = "the document's time \(entry.timestamp) ns is older than the retention period of \(retention)"
                continue
            }
            if byLabels[labels] == nil { order.append(labels) }
            byLabels[labels, default: []].append(entry)
        }
        let streams = order.map { LogStream(labels: $0, entries: byLabels[$0]!) }
        if let limiter = limits.logIngestionRate {
            let bytes = streams.reduce(0) { $0 + $1.entries.reduce(0) { $0 + $1.line.utf8.count } }
            do {
                try limiter.admit(bytes, tenant: tenant)
            } catch {
                return refuse(.tooManyRequests, "rate_limited", "es_rejected_execution_exception",
                              "ingestion rate limit of \(Int(limiter.bytesPerSecond)) bytes/s exceeded for tenant \(tenant)", retryAfter: error.retryAfterSeconds)
            }
        }
        do {
            _ = try await pipeline.ingestLoki(streams, tenant: tenant, requestBytes: body.count, via: .elasticsearchBulk)
        } catch {
            let status = HTTPErrorResponse.status(for: error.code)
            return refuse(status, error.code.rawValue, status == .serviceUnavailable ? "es_rejected_execution_exception" : "illegal_argument_exception",
                          error.message, retryAfter: error.retryAfterSeconds)
        }
        // Per-item results, in request order.
        var errors = false
        var out = ""
        for (position, item) in items.enumerated() {
            if position > 0 { out += "," }
            let id = item.id ?? Self.generatedID()
            let head = #"{"\#(item.action.rawValue)":{"_index":\#(Self.quoted(item.index)),"_id":\#(Self.quoted(id)),"#
            if let error = item.error {
                errors = true
                out += head + #""status":400,"error":{"type":"document_parsing_exception","reason":\#(Self.quoted(error))}}}"#
            } else if let reason = refused[position] {
                errors = true
                out += head + #""status":400,"error":{"type":"illegal_argument_exception","reason":\#(Self.quoted(reason))}}}"#
            } else if item.action == .update || item.action == .delete {
                errors = true
                let reason = "Loupe keeps logs append-only: \(item.action.rawValue) is not supported"
                out += head + #""status":400,"error":{"type":"illegal_argument_exception","reason":\#(Self.quoted(reason))}}}"#
            } else {
                out += head + #""_version":1,"result":"created","_shards":{"total":1,"successful":1,"failed":0},"_seq_no":\#(position),"_primary_term":1,"status":201}}"#
            }
        }
        let took = started.duration(to: .now).components
        let milliseconds = took.seconds * 1000 + took.attoseconds / 1_000_000_000_000_000
        return Self.json(.ok, #"{"took":\#(milliseconds),"errors":\#(errors),"items":[\#(out)]}"#)
    }

    static func generatedID() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        return String((0..<20).map { _ in alphabet.randomElement()! })
    }
}
