import Foundation
import HTTPTypes
import Hummingbird
import LoupeModel
import LoupeQuery
import LoupeStorage
import NIOCore

/// The Loki HTTP API's read side, shaped as Loki answers so Grafana's Loki data source and
/// `logcli` work: `query`, `query_range`, `labels`, `label/<name>/values`, `series`, `index/stats`.
/// Errors are plain text with 400, as Loki sends them.
struct LokiQueryRoutes: Sendable {
    let store: LogStreamStore
    let engine = LogQLEngine()
    /// Loki's default `limit` of a log query.
    static let defaultLimit = 100

    struct Failure: Error {
        var status: HTTPResponse.Status = .badRequest
        var message: String
    }

    /// A tenant's streams, as the LogQL engine reads them.
    struct StoreQueryable: LogQLQueryable {
        let store: LogStreamStore
        let tenant: Tenant

        func select(_ matchers: [LabelMatcher], start: Int64, end: Int64, hints: LogQLSelectionHints) throws -> [LogStream] {
            // `|=` filters (plain text, any `or` alternatives) let the store skip chunks by their content index.
            let required = hints.lineFilters.compactMap { filter -> [String]? in
                guard filter.op == .contains else { return nil }
                let texts = filter.values.compactMap { value -> String? in
                    if case .text(let text) = value, !text.isEmpty { return text }
                    return nil
                }
                return texts.count == filter.values.count ? texts : nil
            }
            return try store.select(tenant: tenant, matchers: matchers, start: start, end: end, requiredSubstrings: required)
        }
    }

    func register(on router: Router<BasicRequestContext>) {
        for prefix in ["/loki/api/v1", "/api/prom"] {
            for method in [HTTPRequest.Method.get, .post] {
                router.on("\(prefix)/query", method: method) { request, _ in await respond(request) { try query($0, $1) } }
                router.on("\(prefix)/query_range", method: method) { request, _ in await respond(request) { try queryRange($0, $1) } }
                router.on("\(prefix)/labels", method: method) { request, _ in await respond(request) { try labels($0, $1) } }
                router.on("\(prefix)/label", method: method) { request, _ in await respond(request) { try labels($0, $1) } }
                router.on("\(prefix)/label/{name}/values", method: method) { request, context in
                    let name = context.parameters.get("name") ?? ""
                    return await respond(request) { try labelValues(name, $0, $1) }
                }
                router.on("\(prefix)/series", method: method) { request, _ in await respond(request) { try series($0, $1) } }
                router.on("\(prefix)/index/stats", method: method) { request, _ in await respond(request, wrapped: false) { try stats($0, $1) } }
                router.on("\(prefix)/format_query", method: method) { request, _ in
                    await respond(request) { parameters, _ in
                        var json = PrometheusJSON()
                        json.string(LogQLPrinter.print(try Self.parse(try Self.required("query", parameters))))
                        return json
                    }
                }
            }
        }
    }

    /// Runs `body` with the request's parameters and tenant; wraps its JSON in Loki's envelope.
    func respond(_ request: Request, wrapped: Bool = true, _ body: ([String: [String]], Tenant) throws -> PrometheusJSON) async -> Response {
        do {
            let tenant: Tenant
            do {
                tenant = try Tenant.fromHeader(request.headers[HTTPField.Name.scopeOrgID])
            } catch {
                throw Failure(message: error.description)
            }
            let parameters = try await PrometheusAPIRoutes.parameters(of: request)
            let data = try body(parameters, tenant)
            if !wrapped { return PrometheusAPIRoutes.jsonResponse(.ok, data.bytes) }
            var json = PrometheusJSON()
            json.raw(#"{"status":"success","data":"#)
            json.raw(String(decoding: data.bytes, as: UTF8.self))
            json.raw("}")
            return PrometheusAPIRoutes.jsonResponse(.ok, json.bytes)
        } catch let failure as Failure {
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(status: failure.status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: failure.message + "\n")))
        } catch {
            return Response(status: .internalServerError, body: ResponseBody(byteBuffer: ByteBuffer(string: "internal error\n")))
        }
    }

    // MARK: Queries

    func query(_ parameters: [String: [String]], _ tenant: Tenant) throws -> PrometheusJSON {
        let text = try Self.required("query", parameters)
        let time = try Self.time(parameters, "time") ?? Self.now()
        let queryable = StoreQueryable(store: store, tenant: tenant)
        let expression = try Self.parse(text)
        if expression.isLogQuery {
            // Loki answers an instant log query with the entries up to `time`, newest first by default.
            let direction = try Self.direction(parameters)
            let limit = try Self.limit(parameters)
            let result = try Self.evaluate { () throws(LogQLError) in
                try engine.rangeQuery(text, start: time - 3_600_000_000_000, end: time + 1, step: 1, limit: limit, direction: direction, queryable: queryable)
            }
            return Self.encode(result.value)
        }
        let result = try Self.evaluate { () throws(LogQLError) in try engine.instantQuery(text, at: time, queryable: queryable) }
        return Self.encode(result.value)
    }

    func queryRange(_ parameters: [String: [String]], _ tenant: Tenant) throws -> PrometheusJSON {
        let text = try Self.required("query", parameters)
        let end = try Self.time(parameters, "end") ?? Self.now()
        var start = try Self.time(parameters, "start") ?? (end - 3_600_000_000_000)
        if let since = parameters["since"]?.first, parameters["start"] == nil {
            start = end - Int64(try Self.duration(since, name: "since") * 1e9)
        }
        guard end >= start else { throw Failure(message: "end timestamp must not be before or equal to start time") }
        let step: Int64
        if let stepText = parameters["step"]?.first ?? parameters["interval"]?.first, !stepText.isEmpty {
            step = Int64((try Self.duration(stepText, name: "step") * 1e9).rounded())
        } else {
            // Loki's default: about 250 points over the range, at least a second.
            step = max(1, Int64((Double(end - start) / 1e9 / 250).rounded(.up))) * 1_000_000_000
        }
        guard step > 0 else { throw Failure(message: "zero or negative query resolution step widths are not accepted. Try a positive integer") }
        guard (end - start) / step <= 11_000 else {
            throw Failure(message: "maximum resolution of 11,000 points exceeded. Try increasing the value of the step parameter")
        }
        let limit = try Self.limit(parameters)
        let direction = try Self.direction(parameters)
        let queryable = StoreQueryable(store: store, tenant: tenant)
        let result = try Self.evaluate { () throws(LogQLError) in
            try engine.rangeQuery(text, start: start, end: end, step: step, limit: limit, direction: direction, queryable: queryable)
        }
        return Self.encode(result.value)
    }

    func labels(_ parameters: [String: [String]], _ tenant: Tenant) throws -> PrometheusJSON {
        let (start, end) = try Self.range(parameters)
        var json = PrometheusJSON()
        json.stringArray(store.labelNames(tenant: tenant, start: start, end: end))
        return json
    }

    func labelValues(_ name: String, _ parameters: [String: [String]], _ tenant: Tenant) throws -> PrometheusJSON {
        let (start, end) = try Self.range(parameters)
        var matchers: [LabelMatcher] = []
        if let query = parameters["query"]?.first, !query.isEmpty { matchers = try Self.selectorMatchers(query) }
        var json = PrometheusJSON()
        json.stringArray(store.labelValues(tenant: tenant, name: name, matchers: matchers, start: start, end: end))
        return json
    }

    func series(_ parameters: [String: [String]], _ tenant: Tenant) throws -> PrometheusJSON {
        let (start, end) = try Self.range(parameters)
        let selectors = (parameters["match[]"] ?? []) + (parameters["match"] ?? [])
        guard !selectors.isEmpty else { throw Failure(message: "at least one match[] argument must be provided") }
        var found: Set<Labels> = []
        for selector in selectors {
            for labels in store.series(tenant: tenant, matchers: try Self.selectorMatchers(selector), start: start, end: end) { found.insert(labels) }
        }
        var json = PrometheusJSON()
        json.raw("[")
        for (index, labels) in found.sorted().enumerated() {
            if index > 0 { json.raw(",") }
            json.labels(labels)
        }
        json.raw("]")
        return json
    }

    func stats(_ parameters: [String: [String]], _ tenant: Tenant) throws -> PrometheusJSON {
        let (start, end) = try Self.range(parameters)
        let matchers = try Self.selectorMatchers(try Self.required("query", parameters))
        let stats = store.stats(tenant: tenant, matchers: matchers, start: start, end: end)
        var json = PrometheusJSON()
        json.raw(#"{"streams":\#(stats.streams),"chunks":\#(stats.chunks),"entries":\#(stats.entries),"bytes":\#(stats.bytes)}"#)
        return json
    }

    // MARK: Encoding

    static func encode(_ value: LogQLValue) -> PrometheusJSON {
        var json = PrometheusJSON()
        switch value {
        case .streams(let streams):
            json.raw(#"{"resultType":"streams","result":"#)
            appendStreams(streams, to: &json)
        case .vector(let samples):
            json.raw(#"{"resultType":"vector","result":["#)
            for (index, sample) in samples.enumerated() {
                if index > 0 { json.raw(",") }
                json.raw(#"{"metric":"#)
                json.labels(sample.labels)
                json.raw(#","value":"#)
                json.point(sample.timestamp, sample.value)
                json.raw("}")
            }
            json.raw("]")
        case .matrix(let series):
            json.raw(#"{"resultType":"matrix","result":["#)
            for (index, one) in series.enumerated() {
                if index > 0 { json.raw(",") }
                json.raw(#"{"metric":"#)
                json.labels(one.labels)
                json.raw(#","values":["#)
                for (pointIndex, sample) in one.floats.enumerated() {
                    if pointIndex > 0 { json.raw(",") }
                    json.point(sample.timestamp, sample.value)
                }
                json.raw("]}")
            }
            json.raw("]")
        case .scalar(let timestamp, let value):
            json.raw(#"{"resultType":"scalar","result":"#)
            json.point(timestamp, value)
        }
        json.raw(#","stats":{}}"#)
        return json
    }

    /// `[{"stream":{...},"values":[["<ns>","<line>"],...]},...]`, as query results and tail messages carry streams.
    static func appendStreams(_ streams: [LogQLStreamResult], to json: inout PrometheusJSON) {
        json.raw("[")
        for (index, stream) in streams.enumerated() {
            if index > 0 { json.raw(",") }
            json.raw(#"{"stream":"#)
            json.labels(stream.labels)
            json.raw(#","values":["#)
            for (entryIndex, entry) in stream.entries.enumerated() {
                if entryIndex > 0 { json.raw(",") }
                json.raw("[\"\(entry.timestamp)\",")
                json.string(entry.line)
                // Structured metadata is already in the stream's labels, as Loki answers
                // clients that do not ask for categorized labels.
                json.raw("]")
            }
            json.raw("]}")
        }
        json.raw("]")
    }

    // MARK: Parameters

    static func required(_ name: String, _ parameters: [String: [String]]) throws(Failure) -> String {
        guard let value = parameters[name]?.first, !value.isEmpty else { throw Failure(message: "missing parameter \"\(name)\"") }
        return value
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1e9) }

    static func time(_ parameters: [String: [String]], _ name: String) throws(Failure) -> Int64? {
        do {
            return try TimeParameter.parse(parameters[name]?.first, name: name).map { Int64(clamping: $0) }
        } catch {
            throw Failure(message: error.message)
        }
    }

    /// `start`/`end` for the metadata endpoints: the last 6 hours by default, as Loki.
    static func range(_ parameters: [String: [String]]) throws(Failure) -> (Int64, Int64) {
        let end = try time(parameters, "end") ?? now()
        let start = try time(parameters, "start") ?? (end - 6 * 3_600_000_000_000)
        return (start, end)
    }

    /// A Prometheus duration (`5m`) or a number of seconds (`15`, `0.5`).
    static func duration(_ text: String, name: String) throws(Failure) -> Double {
        if let seconds = Double(text), seconds.isFinite { return seconds }
        switch PromQLDuration.parse(text) {
        case .success(let duration): return Double(duration.nanoseconds) / 1e9
        case .failure: throw Failure(message: "invalid parameter \(name)=\"\(text)\": not a duration or a number of seconds")
        }
    }

    static func limit(_ parameters: [String: [String]]) throws(Failure) -> Int {
        guard let text = parameters["limit"]?.first, !text.isEmpty else { return defaultLimit }
        guard let limit = Int(text), limit > 0 else { throw Failure(message: "invalid parameter limit=\"\(text)\": must be a positive whole number") }
        return limit
    }

    static func direction(_ parameters: [String: [String]]) throws(Failure) -> LogQLEngine.Direction {
        guard let text = parameters["direction"]?.first, !text.isEmpty else { return .backward }
        guard let direction = LogQLEngine.Direction(rawValue: text.lowercased()) else {
            throw Failure(message: "invalid parameter direction=\"\(text)\": use forward or backward")
        }
        return direction
    }

    static func parse(_ query: String) throws(Failure) -> LogQLExpression {
        do {
            return try LogQLParser.parse(query)
        } catch {
            throw Failure(message: error.description)
        }
    }

    static func selectorMatchers(_ query: String) throws(Failure) -> [LabelMatcher] {
        guard case .logs(let selector) = try parse(query) else { throw Failure(message: "\(query) is not a stream selector") }
        return selector.matchers
    }

    static func evaluate(_ body: () throws(LogQLError) -> LogQLResult) throws(Failure) -> LogQLResult {
        do {
            return try body()
        } catch {
            switch error.kind {
            case .timeout: throw Failure(status: .serviceUnavailable, message: error.description)
            default: throw Failure(message: error.description)
            }
        }
    }
}
