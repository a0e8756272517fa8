import Foundation
import HTTPTypes
import Hummingbird
import LoupeModel
import LoupeQuery
import LoupeStorage
import NIOCore

/// The metadata half of the Prometheus HTTP API: `series`, `labels`, `label/<name>/values`
/// (GET and POST form), shaped as Prometheus answers so Grafana and promtool work.
struct PrometheusAPIRoutes: Sendable {
    let store: PrometheusStore

    struct Failure: Error {
        var status: HTTPResponse.Status
        var type: String
        var message: String

        static func badData(_ message: String) -> Failure { Failure(status: .badRequest, type: "bad_data", message: message) }
    }

    func register(on router: Router<BasicRequestContext>) {
        for method in [HTTPRequest.Method.get, .post] {
            router.on("/api/v1/series", method: method) { request, _ in
                await respond(request) { parameters, head in
                    let matchers = try Self.matcherSets(parameters["match[]"] ?? [])
                    guard !matchers.isEmpty else { throw Failure.badData("no match[] parameter provided") }
                    let (start, end) = try Self.timeRange(parameters)
                    var seen = Set<Labels>()
                    for set in matchers { for labels in head?.series(set, minTime: start, maxTime: end) ?? [] { seen.insert(labels) } }
                    var json = PrometheusJSON()
                    json.raw("[")
                    for (index, labels) in seen.sorted().enumerated() {
                        if index > 0 { json.raw(",") }
                        json.labels(labels)
                    }
                    json.raw("]")
                    return json
                }
            }
            router.on("/api/v1/labels", method: method) { request, _ in
                await respond(request) { parameters, head in
                    let matchers = try Self.matcherSets(parameters["match[]"] ?? [])
                    let names: [String]
                    if matchers.isEmpty {
                        names = head?.labelNames() ?? []
                    } else {
                        names = Array(Set(matchers.flatMap { head?.labelNames($0) ?? [] })).sorted()
                    }
                    var json = PrometheusJSON()
                    json.stringArray(names)
                    return json
                }
            }
            router.on("/api/v1/label/:name/values", method: method) { request, context in
                let name = context.parameters.get("name") ?? ""
                return await respond(request) { parameters, head in
                    let matchers = try Self.matcherSets(parameters["match[]"] ?? [])
                    let values: [String]
                    if matchers.isEmpty {
                        values = head?.labelValues(name) ?? []
                    } else {
                        values = Array(Set(matchers.flatMap { head?.labelValues(name, $0) ?? [] })).sorted()
                    }
                    var json = PrometheusJSON()
                    json.stringArray(values)
                    return json
                }
            }
        }
    }

    /// Runs `body` with the request's parameters (query string and form body) and the tenant's head.
    func respond(
        _ request: Request, _ body: ([String: [String]], TenantTSDB?) throws -> PrometheusJSON
    ) async -> Response {
        await respond(request, withAnnotations: false) { parameters, head in (try body(parameters, head), []) }
    }

    /// Like `respond`, with PromQL warnings and infos added as Prometheus does.
    func respond(
        _ request: Request, withAnnotations: Bool,
        _ body: ([String: [String]], TenantTSDB?) throws -> (PrometheusJSON, [PromQLAnnotation])
    ) async -> Response {
        do {
            let tenant: Tenant
            do {
                tenant = try Tenant.fromHeader(request.headers[HTTPField.Name.scopeOrgID])
            } catch {
                throw Failure.badData(error.description)
            }
            let parameters = try await Self.parameters(of: request)
            let (data, annotations) = try body(parameters, store.existingDatabase(for: tenant))
            var json = PrometheusJSON()
            json.raw(#"{"status":"success","data":"#)
            json.raw(String(decoding: data.bytes, as: UTF8.self))
            let warnings = annotations.filter { $0.kind == .warning }.map(\.message)
            let infos = annotations.filter { $0.kind == .info }.map(\.message)
            if !warnings.isEmpty {
                json.raw(#","warnings":"#)
                json.stringArray(warnings)
            }
            if !infos.isEmpty {
                json.raw(#","infos":"#)
                json.stringArray(infos)
            }
            json.raw("}")
            return Self.jsonResponse(.ok, json.bytes)
        } catch let failure as Failure {
            var json = PrometheusJSON()
            json.raw(#"{"status":"error","errorType":"#)
            json.string(failure.type)
            json.raw(#","error":"#)
            json.string(failure.message)
            json.raw("}")
            return Self.jsonResponse(failure.status, json.bytes)
        } catch {
            return Self.jsonResponse(.internalServerError, Array(#"{"status":"error","errorType":"internal","error":"internal error"}"#.utf8))
        }
    }

    static func jsonResponse(_ status: HTTPResponse.Status, _ bytes: [UInt8]) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Query-string parameters merged with an `application/x-www-form-urlencoded` body.
    static func parameters(of request: Request) async throws -> [String: [String]] {
        var parameters: [String: [String]] = [:]
        if let query = request.uri.query { addFormParameters(Substring(query), to: &parameters) }
        if request.method == .post, (request.headers[.contentType] ?? "").hasPrefix("application/x-www-form-urlencoded") {
            let body = try await request.body.collect(upTo: 1 << 20)
            addFormParameters(Substring(String(buffer: body)), to: &parameters)
        }
        return parameters
    }

    /// Adds the pairs of a URL query or form body (`a=1&b=x+y`).
    static func addFormParameters(_ encoded: Substring, to parameters: inout [String: [String]]) {
        for pair in encoded.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(parts[0])
            let value = parts.count > 1 ? decode(parts[1]) : ""
            parameters[name, default: []].append(value)
        }
    }

    static func decode(_ text: Substring) -> String {
        String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text)
    }

    static func matcherSets(_ selectors: [String]) throws(Failure) -> [[LabelMatcher]] {
        var sets: [[LabelMatcher]] = []
        for selector in selectors {
            let parsed: [PromQLLabelMatcher]
            do {
                parsed = try PromQLParser().parseSeriesSelector(selector)
            } catch {
                throw Failure.badData("invalid parameter \"match[]\": \(error)")
            }
            var set: [LabelMatcher] = []
            for matcher in parsed {
                do {
                    set.append(try LabelMatcher(matcher.name, LabelMatcher.Kind(rawValue: matcher.type.rawValue)!, matcher.value))
                } catch {
                    throw Failure.badData("invalid parameter \"match[]\": \(error)")
                }
            }
            sets.append(set)
        }
        return sets
    }

    /// `start` and `end` in milliseconds; absent means unbounded.
    static func timeRange(_ parameters: [String: [String]]) throws(Failure) -> (Int64, Int64) {
        func parse(_ name: String) throws(Failure) -> Int64? {
            guard let text = parameters[name]?.first else { return nil }
            do {
                return try TimeParameter.parse(text, name: name).map { Int64(clamping: $0 / 1_000_000) }
            } catch {
                throw Failure.badData(error.message)
            }
        }
        return (try parse("start") ?? .min, try parse("end") ?? .max)
    }
}
