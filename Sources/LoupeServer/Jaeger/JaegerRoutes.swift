import Foundation
import HTTPTypes
import Hummingbird
import LoupeModel
import LoupeQuery
import LoupeStorage
import LoupeWire
import NIOCore

/// The Jaeger query service's HTTP API as the Jaeger UI and Grafana's Jaeger data source use it,
/// under a path prefix (`traces.jaeger_path_prefix`, default `/jaeger`: Tempo's
/// `/api/traces/<id>` answers differently at the root): `/api/services`,
/// `/api/services/{service}/operations`, `/api/operations`, `/api/traces` (search),
/// `/api/traces/{id}`, `/api/dependencies`.
struct JaegerRoutes: Sendable {
    let store: TraceSpanStore
    let prefix: String
    static let defaultLimit = 20

    typealias Failure = QueryFailure

    func register(on router: Router<BasicRequestContext>) {
        let base = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        router.get("\(base)/api/services") { request, _ in await respond(request) { _, tenant in JaegerJSON.encodeStrings(store.services(tenant: tenant)) } }
        router.get("\(base)/api/services/{service}/operations") { request, context in
            await respond(request) { _, tenant in
                JaegerJSON.encodeStrings(store.spanNames(tenant: tenant, service: context.parameters.get("service") ?? ""))
            }
        }
        router.get("\(base)/api/operations") { request, _ in await respond(request) { try operations($0, $1) } }
        router.get("\(base)/api/traces") { request, _ in await respond(request) { try search($0, $1) } }
        router.get("\(base)/api/traces/{id}") { request, context in
            await respond(request) { _, tenant in
                let text = context.parameters.get("id") ?? ""
                guard let id = TraceID(paddedHex: text) else { throw Failure(message: "malformed trace ID \(text.debugDescription)") }
                guard let trace = try store.trace(tenant: tenant, id: id) else { throw Failure(status: .notFound, message: "trace not found") }
                return JaegerJSON.encodeTraces([trace])
            }
        }
        router.get("\(base)/api/dependencies") { request, _ in await respond(request) { try dependencies($0, $1) } }
    }

    func respond(_ request: Request, _ body: ([String: [String]], Tenant) throws -> [UInt8]) async -> Response {
        await QueryAPI.run(request, refusal: { failure in
            PrometheusAPIRoutes.jsonResponse(failure.status, JaegerJSON.encodeError(code: Int(failure.status.code), message: failure.message))
        }) { parameters, tenant in
            PrometheusAPIRoutes.jsonResponse(.ok, try body(parameters, tenant))
        }
    }

    func operations(_ parameters: [String: [String]], _ tenant: Tenant) throws -> [UInt8] {
        guard let service = parameters["service"]?.first, !service.isEmpty else { throw Failure(message: "parameter 'service' is required") }
        let kind = parameters["spanKind"]?.first ?? ""
        var json = PrometheusJSON()
        json.raw(#"{"data":["#)
        var count = 0
        for operation in store.operations(tenant: tenant, service: service) where kind.isEmpty || operation.kind.description == kind {
            if count > 0 { json.raw(",") }
            count += 1
            json.raw(#"{"name":"#)
            json.string(operation.name)
            json.raw(#","spanKind":"#)
            json.string(operation.kind == .unspecified ? "" : operation.kind.description)
            json.raw("}")
        }
        json.raw(#"],"total":\#(count),"limit":0,"offset":0,"errors":null}"#)
        return json.bytes
    }

    /// `service`, `operation`, `tags` (a JSON object, or `tag=key:value` pairs), `start`/`end`
    /// (Unix µs), `lookback`, `minDuration`/`maxDuration` (Go durations, on the matching span), `limit`.
    func search(_ parameters: [String: [String]], _ tenant: Tenant) throws -> [UInt8] {
        var search = TraceSearch()
        if let service = parameters["service"]?.first, !service.isEmpty {
            search.conditions.append(.init(key: "service.name", value: service, match: .exact))
        }
        if let operation = parameters["operation"]?.first, !operation.isEmpty {
            search.conditions.append(.init(key: "name", value: operation, match: .exact))
        }
        for (key, value) in try Self.tags(parameters) {
            search.conditions.append(.init(key: key, value: value, match: .exact))
        }
        let minimum = try Self.duration(parameters, "minDuration")
        let maximum = try Self.duration(parameters, "maxDuration")
        if minimum != nil || maximum != nil {
            search.spanFilter = { span, _ in span.durationNanos >= (minimum ?? 0) && span.durationNanos <= (maximum ?? .max) }
        }
        let now = UInt64(Date().timeIntervalSince1970 * 1e6)
        let end = try Self.microseconds(parameters, "end") ?? now
        var start = try Self.microseconds(parameters, "start")
        if start == nil, let lookback = parameters["lookback"]?.first, !lookback.isEmpty, lookback != "custom" {
            let nanoseconds = try Self.goDuration(lookback, name: "lookback")
            start = end > nanoseconds / 1_000 ? end - nanoseconds / 1_000 : 0
        }
        search.start = (start ?? 0).multipliedReportingOverflow(by: 1_000).partialValue
        let endNanoseconds = end.multipliedReportingOverflow(by: 1_000)
        search.end = endNanoseconds.overflow ? .max : endNanoseconds.partialValue + 999
        if let text = parameters["limit"]?.first, !text.isEmpty {
            guard let limit = Int(text), limit >= 0 else { throw Failure(message: "malformed limit \(text.debugDescription)") }
            search.limit = limit == 0 ? Self.defaultLimit : limit
        } else {
            search.limit = Self.defaultLimit
        }
        var traces: [TraceData] = []
        for hit in try store.search(tenant: tenant, search) {
            if let trace = try store.trace(tenant: tenant, id: hit.summary.traceID) { traces.append(trace) }
        }
        return JaegerJSON.encodeTraces(traces)
    }

    func dependencies(_ parameters: [String: [String]], _ tenant: Tenant) throws -> [UInt8] {
        let nowMilliseconds = UInt64(Date().timeIntervalSince1970 * 1000)
        let endMilliseconds = try Self.integer(parameters, "endTs") ?? nowMilliseconds
        let lookback = try Self.integer(parameters, "lookback") ?? 86_400_000
        let start = (endMilliseconds > lookback ? endMilliseconds - lookback : 0) * 1_000_000
        let links = try store.dependencies(tenant: tenant, start: start, end: endMilliseconds * 1_000_000 + 999_999).links
        var json = PrometheusJSON()
        json.raw(#"{"data":["#)
        for (index, (link, counts)) in links.sorted(by: { ($0.key.parent, $0.key.child) < ($1.key.parent, $1.key.child) }).enumerated() {
            if index > 0 { json.raw(",") }
            json.raw(#"{"parent":"#)
            json.string(link.parent)
            json.raw(#","child":"#)
            json.string(link.child)
            json.raw(#","callCount":\#(counts.calls)}"#)
        }
        json.raw(#"],"total":\#(links.count),"limit":0,"offset":0,"errors":null}"#)
        return json.bytes
    }

    // MARK: Parameters

    /// `tags={"http.status_code":"500","error":"true"}` (the UI) or repeated `tag=key:value`.
    static func tags(_ parameters: [String: [String]]) throws(Failure) -> [(String, String)] {
        var pairs: [(String, String)] = []
        if let text = parameters["tags"]?.first, !text.isEmpty {
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                throw Failure(message: "malformed 'tags' parameter: expected a JSON object of strings, got \(text.debugDescription)")
            }
            for key in object.keys.sorted() {
                switch object[key] {
                case let value as String: pairs.append((key, value))
                case let value as NSNumber: pairs.append((key, value.stringValue))
                default: throw Failure(message: "malformed 'tags' parameter: the value of \(key.debugDescription) is not a string")
                }
            }
        }
        for tag in parameters["tag"] ?? [] {
            guard let colon = tag.firstIndex(of: ":") else { throw Failure(message: "malformed 'tag' parameter \(tag.debugDescription): expected key:value") }
            pairs.append((String(tag[..<colon]), String(tag[tag.index(after: colon)...])))
        }
        return pairs
    }

    static func integer(_ parameters: [String: [String]], _ name: String) throws(Failure) -> UInt64? {
        guard let text = parameters[name]?.first, !text.isEmpty else { return nil }
        guard let value = UInt64(text) else { throw Failure(message: "malformed \(name) \(text.debugDescription)") }
        return value
    }

    static func microseconds(_ parameters: [String: [String]], _ name: String) throws(Failure) -> UInt64? {
        try integer(parameters, name)
    }

    static func duration(_ parameters: [String: [String]], _ name: String) throws(Failure) -> UInt64? {
        guard let text = parameters[name]?.first, !text.isEmpty else { return nil }
        return try goDuration(text, name: name)
    }

    static func goDuration(_ text: String, name: String) throws(Failure) -> UInt64 {
        let seconds: Double
        do {
            seconds = try LogQLUnits.parseDuration(text)
        } catch {
            throw Failure(message: "malformed \(name) \(text.debugDescription): \(error.message)")
        }
        guard seconds >= 0, seconds < 1e10 else { throw Failure(message: "malformed \(name) \(text.debugDescription): out of range") }
        return UInt64(seconds * 1e9)
    }
}
