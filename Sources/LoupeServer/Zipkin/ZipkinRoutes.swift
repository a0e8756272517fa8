import Foundation
import HTTPTypes
import Hummingbird
import LoupeModel
import LoupePipeline
import LoupeStorage
import LoupeWire
import NIOCore

/// Zipkin's v2 API: `POST /api/v2/spans` (JSON or protobuf, 202 once durable) and the query
/// side the Zipkin UI and Grafana's Zipkin data source use (`services`, `spans`,
/// `remoteServices`, `traces`, `trace/{id}`, `traceMany`, `dependencies`, `autocompleteKeys`,
/// `autocompleteValues`). Spans are stored as OTLP (`ZipkinMapping`) and read back as sent.
struct ZipkinRoutes: Sendable {
    let pipeline: IngestPipeline
    let limits: IngestLimits
    var store: TraceSpanStore { pipeline.stores.traceSpans }

    typealias Failure = QueryFailure

    func register(on router: Router<BasicRequestContext>) {
        router.post("/api/v2/spans") { request, _ in await ingest(request) }
        router.get("/api/v2/services") { request, _ in await respond(request) { _, tenant in Self.strings(store.services(tenant: tenant)) } }
        router.get("/api/v2/spans") { request, _ in
            await respond(request) { parameters, tenant in
                Self.strings(store.spanNames(tenant: tenant, service: try Self.required("serviceName", parameters)))
            }
        }
        router.get("/api/v2/remoteServices") { request, _ in
            await respond(request) { parameters, tenant in
                Self.strings(store.remoteServices(tenant: tenant, service: try Self.required("serviceName", parameters)))
            }
        }
        router.get("/api/v2/traces") { request, _ in await respond(request) { try traces($0, $1) } }
        router.get("/api/v2/trace/{id}") { request, context in
            await respond(request) { _, tenant in
                let text = context.parameters.get("id") ?? ""
                guard let trace = try store.trace(tenant: tenant, id: try Self.traceID(text)) else {
                    throw Failure(status: .notFound, message: "trace \(text) not found")
                }
                return ZipkinJSON.encode(ZipkinMapping.zipkinSpans(trace))
            }
        }
        router.get("/api/v2/traceMany") { request, _ in
            await respond(request) { parameters, tenant in
                let ids = try Self.required("traceIds", parameters).split(separator: ",").map { try Self.traceID(String($0)) }
                var out: [UInt8] = Array("[".utf8)
                var first = true
                for id in ids {
                    guard let trace = try store.trace(tenant: tenant, id: id) else { continue }
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    out += ZipkinJSON.encode(ZipkinMapping.zipkinSpans(trace))
                }
                return out + Array("]".utf8)
            }
        }
        router.get("/api/v2/dependencies") { request, _ in await respond(request) { try dependencies($0, $1) } }
        router.get("/api/v2/autocompleteKeys") { request, _ in
            await respond(request) { _, tenant in Self.strings(store.tagNames(tenant: tenant)[.span] ?? []) }
        }
        router.get("/api/v2/autocompleteValues") { request, _ in
            await respond(request) { parameters, tenant in
                Self.strings(store.tagValues(tenant: tenant, name: try Self.required("key", parameters), scope: .span))
            }
        }
    }

    // MARK: Ingest

    func ingest(_ request: Request) async -> Response {
        let telemetry = pipeline.telemetry
        func refuse(_ status: HTTPResponse.Status, _ reason: String, _ message: String, retryAfter: Int? = nil) -> Response {
            telemetry.recordRejected(signal: .traces, via: .zipkin, reason: reason)
            var response = QueryAPI.plainText(status, message)
            if let retryAfter { response.headers[.retryAfter] = String(retryAfter) }
            return response
        }
        let contentType = (request.headers[.contentType] ?? "application/json").lowercased()
        let isProtobuf = contentType.hasPrefix("application/x-protobuf") || contentType.hasPrefix("application/protobuf")
        guard isProtobuf || contentType.hasPrefix("application/json") || contentType.hasPrefix("text/plain") else {
            return refuse(.unsupportedMediaType, "unsupported_media_type",
                          "unsupported Content-Type \"\(contentType)\"; Zipkin spans are application/json or application/x-protobuf")
        }
        let tenant: Tenant
        do {
            tenant = try Tenant.fromHeader(request.headers[HTTPField.Name.scopeOrgID])
        } catch {
            return refuse(.badRequest, "invalid_tenant", error.description)
        }
        let body: [UInt8]
        do {
            body = try await HTTPBody.collect(request, limit: limits.maximumRequestBytes)
        } catch {
            return refuse(error.status, error.reason, error.message)
        }
        let reservation: MemoryBudget.Reservation
        do {
            reservation = try pipeline.admit(bytes: body.count)
        } catch {
            return refuse(.serviceUnavailable, error.code.rawValue, error.message, retryAfter: error.retryAfterSeconds)
        }
        defer { pipeline.release(reservation) }
        let spans: [ZipkinSpan]
        do {
            spans = isProtobuf ? try ZipkinProtobuf.decode(body) : try ZipkinJSON.decode(body)
        } catch {
            return refuse(.badRequest, "bad_request", "malformed Zipkin \(isProtobuf ? "ListOfSpans" : "JSON"): \(error)")
        }
        do {
            let receipt = try await pipeline.ingest(
                ZipkinMapping.traceData(spans), tenant: tenant, canonicalEncoding: nil, via: .zipkin, requestBytes: body.count)
            if receipt.rejectedItems > 0 {
                return refuse(.badRequest, "too_old", receipt.message)
            }
        } catch {
            return refuse(HTTPErrorResponse.status(for: error.code), error.code.rawValue, error.message, retryAfter: error.retryAfterSeconds)
        }
        return Response(status: .accepted)
    }

    // MARK: Queries

    func traces(_ parameters: [String: [String]], _ tenant: Tenant) throws -> [UInt8] {
        var search = TraceSearch()
        if let service = Self.optional("serviceName", parameters) { search.conditions.append(.init(key: "service.name", value: service, match: .exact)) }
        if let remote = Self.optional("remoteServiceName", parameters) { search.conditions.append(.init(key: "peer.service", value: remote, match: .exact)) }
        if let name = Self.optional("spanName", parameters), name != "all" { search.conditions.append(.init(key: "name", value: name, match: .exact)) }
        if let query = Self.optional("annotationQuery", parameters) {
            for term in query.components(separatedBy: " and ").map({ $0.trimmingCharacters(in: .whitespaces) }) where !term.isEmpty {
                if let equals = term.firstIndex(of: "=") {
                    search.conditions.append(.init(key: String(term[..<equals]), value: String(term[term.index(after: equals)...]), match: .exact))
                } else {
                    search.conditions.append(.init(key: term, value: "", match: .exists))
                }
            }
        }
        let minimum = try Self.number("minDuration", parameters).map { $0 * 1_000 }
        let maximum = try Self.number("maxDuration", parameters).map { $0 * 1_000 }
        if minimum != nil || maximum != nil {
            search.spanFilter = { span, _ in
                let duration = span.durationNanos
                return duration >= (minimum ?? 0) && duration <= (maximum ?? .max)
            }
        }
        let (start, end) = try Self.window(parameters)
        search.start = start
        search.end = end
        search.limit = Int(clamping: try Self.number("limit", parameters) ?? 10)
        var out: [UInt8] = Array("[".utf8)
        for (index, hit) in try store.search(tenant: tenant, search).enumerated() {
            guard let trace = try store.trace(tenant: tenant, id: hit.summary.traceID) else { continue }
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out += ZipkinJSON.encode(ZipkinMapping.zipkinSpans(trace))
        }
        return out + Array("]".utf8)
    }

    func dependencies(_ parameters: [String: [String]], _ tenant: Tenant) throws -> [UInt8] {
        _ = try Self.required("endTs", parameters)
        let (start, end) = try Self.window(parameters)
        let links = try store.dependencies(tenant: tenant, start: start, end: end).links
        var json = PrometheusJSON()
        json.raw("[")
        for (index, (link, counts)) in links.sorted(by: { ($0.key.parent, $0.key.child) < ($1.key.parent, $1.key.child) }).enumerated() {
            if index > 0 { json.raw(",") }
            json.raw(#"{"parent":"#)
            json.string(link.parent)
            json.raw(#","child":"#)
            json.string(link.child)
            json.raw(#","callCount":\#(counts.calls)"#)
            if counts.errors > 0 { json.raw(#","errorCount":\#(counts.errors)"#) }
            json.raw("}")
        }
        json.raw("]")
        return json.bytes
    }

    // MARK: Helpers

    func respond(_ request: Request, _ body: ([String: [String]], Tenant) throws -> [UInt8]) async -> Response {
        await QueryAPI.run(request, refusal: QueryAPI.plainText) { parameters, tenant in
            PrometheusAPIRoutes.jsonResponse(.ok, try body(parameters, tenant))
        }
    }

    static func strings(_ values: [String]) -> [UInt8] {
        var json = PrometheusJSON()
        json.stringArray(values)
        return json.bytes
    }

    static func optional(_ name: String, _ parameters: [String: [String]]) -> String? {
        guard let value = parameters[name]?.first, !value.isEmpty else { return nil }
        return value
    }

    static func required(_ name: String, _ parameters: [String: [String]]) throws(Failure) -> String {
        guard let value = optional(name, parameters) else { throw Failure(message: "\(name) is required") }
        return value
    }

    static func number(_ name: String, _ parameters: [String: [String]]) throws(Failure) -> UInt64? {
        guard let text = optional(name, parameters) else { return nil }
        guard let value = UInt64(text) else { throw Failure(message: "\(name)=\(text.debugDescription) is not a non-negative whole number") }
        return value
    }

    /// `endTs` (ms, default now) and `lookback` (ms, default `endTs`: since the epoch), as a window in ns.
    static func window(_ parameters: [String: [String]]) throws(Failure) -> (UInt64, UInt64) {
        let endMilliseconds = try number("endTs", parameters) ?? UInt64(Date().timeIntervalSince1970 * 1000)
        let lookback = try number("lookback", parameters) ?? endMilliseconds
        let startMilliseconds = endMilliseconds > lookback ? endMilliseconds - lookback : 0
        let end = endMilliseconds.multipliedReportingOverflow(by: 1_000_000)
        return (startMilliseconds * 1_000_000, end.overflow ? .max : end.partialValue + 999_999)
    }

    static func traceID(_ text: String) throws(Failure) -> TraceID {
        guard let id = TraceID(paddedHex: text) else { throw Failure(message: "\(text.debugDescription) is not a trace ID of 16 or 32 hex digits") }
        return id
    }
}
