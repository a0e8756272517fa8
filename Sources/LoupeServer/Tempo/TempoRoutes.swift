import Foundation
import HTTPTypes
import Hummingbird
import LoupeModel
import LoupeQuery
import LoupeStorage
import LoupeWire
import NIOCore

/// Tempo's query API, shaped as Tempo answers so Grafana's Tempo data source works: trace by ID
/// (`/api/traces/<id>`, `/api/v2/traces/<id>`, OTLP JSON or, with `Accept: application/protobuf`,
/// protobuf), tag-based search (`/api/search` with `tags`, `minDuration`, `maxDuration`, `limit`,
/// `start`, `end`, `spss`), and tag names and values (v1 and v2). Errors are plain text, as Tempo
/// sends them.
struct TempoRoutes: Sendable {
    let store: TraceSpanStore
    static let defaultLimit = 20

    typealias Failure = QueryFailure

    func register(on router: Router<BasicRequestContext>) {
        router.get("/api/traces/{id}") { request, context in
            await respond(request) { parameters, tenant in try traceByID(context.parameters.get("id") ?? "", version: 1, parameters, tenant, request) }
        }
        router.get("/api/v2/traces/{id}") { request, context in
            await respond(request) { parameters, tenant in try traceByID(context.parameters.get("id") ?? "", version: 2, parameters, tenant, request) }
        }
        router.get("/api/search") { request, _ in await respond(request) { try search($0, $1) } }
        router.get("/api/search/tags") { request, _ in await respond(request) { try tags(version: 1, $0, $1) } }
        router.get("/api/v2/search/tags") { request, _ in await respond(request) { try tags(version: 2, $0, $1) } }
        router.get("/api/search/tag/{name}/values") { request, context in
            await respond(request) { try tagValues(context.parameters.get("name") ?? "", version: 1, $0, $1) }
        }
        router.get("/api/v2/search/tag/{name}/values") { request, context in
            await respond(request) { try tagValues(context.parameters.get("name") ?? "", version: 2, $0, $1) }
        }
        router.get("/api/echo") { _, _ in Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "echo"))) }
    }

    func respond(_ request: Request, _ body: ([String: [String]], Tenant) throws -> Response) async -> Response {
        await QueryAPI.run(request, refusal: QueryAPI.plainText, body)
    }

    // MARK: Trace by ID

    func traceByID(_ text: String, version: Int, _ parameters: [String: [String]], _ tenant: Tenant, _ request: Request) throws -> Response {
        guard let id = TraceID(paddedHex: text) else {
            throw Failure(message: "invalid trace id \(text.debugDescription): expected up to 32 hex digits")
        }
        let start = try Self.seconds(parameters, "start") ?? 0
        let end = try Self.seconds(parameters, "end") ?? .max
        guard let trace = try store.trace(tenant: tenant, id: id, start: start, end: end) else {
            return QueryAPI.plainText(.notFound, "trace not found")
        }
        let accept = request.headers[.accept] ?? ""
        if accept.contains("application/protobuf") || accept.contains("application/x-protobuf") {
            // tempopb.Trace (v1) is TracesData's wire shape (field 1, repeated ResourceSpans);
            // TraceByIDResponse (v2) holds it in its field 1.
            var body = OTLPProtobuf.encodeTraces(trace)
            if version == 2 { body = Self.lengthDelimitedField(1, body) }
            var headers = HTTPFields()
            headers[.contentType] = "application/protobuf"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        }
        let otlp = OTLPJSON.encodeTraces(trace)
        var json = PrometheusJSON()
        if version == 2 {
            json.raw(#"{"trace":"#)
            json.raw(String(decoding: otlp, as: UTF8.self))
            json.raw(#","metrics":{}}"#)
        } else {
            json.raw(String(decoding: otlp, as: UTF8.self))
        }
        return PrometheusAPIRoutes.jsonResponse(.ok, json.bytes)
    }


    static func lengthDelimitedField(_ field: UInt32, _ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [UInt8(field << 3 | 2)]
        var length = UInt64(payload.count)
        while length >= 0x80 {
            out.append(UInt8(length & 0x7F) | 0x80)
            length >>= 7
        }
        out.append(UInt8(length))
        return out + payload
    }

    // MARK: Search

    func search(_ parameters: [String: [String]], _ tenant: Tenant) throws -> Response {
        var request = TraceSearch(conditions: try Self.tagConditions(parameters["tags"]?.first ?? ""))
        request.start = try Self.seconds(parameters, "start") ?? 0
        request.end = try Self.seconds(parameters, "end").map { $0 == 0 ? .max : $0 + 999_999_999 } ?? .max
        request.minimumDurationNanoseconds = try Self.duration(parameters, "minDuration")
        request.maximumDurationNanoseconds = try Self.duration(parameters, "maxDuration")
        if let minimum = request.minimumDurationNanoseconds, let maximum = request.maximumDurationNanoseconds, maximum < minimum {
            throw Failure(message: "invalid maxDuration: must be greater than minDuration")
        }
        request.limit = try Self.count(parameters, "limit") ?? Self.defaultLimit
        request.spansPerSpanSet = try Self.count(parameters, "spss") ?? 3
        if let query = parameters["q"]?.first, !query.trimmingCharacters(in: .whitespaces).isEmpty {
            return try traceQLSearch(query, request, tenant)
        }
        let hits = try store.search(tenant: tenant, request)
        var json = PrometheusJSON()
        json.raw(#"{"traces":["#)
        for (index, hit) in hits.enumerated() {
            if index > 0 { json.raw(",") }
            Self.encode(hit, into: &json)
        }
        json.raw(#"],"metrics":{"inspectedTraces":\#(hits.count),"completedJobs":1,"totalJobs":1}}"#)
        return PrometheusAPIRoutes.jsonResponse(.ok, json.bytes)
    }

    /// `q`: a TraceQL query, evaluated trace by trace (most recent first) over the traces the
    /// window, the duration bounds and the query's own requirements (root service and name,
    /// trace duration) admit; each result carries its spansets.
    func traceQLSearch(_ text: String, _ request: TraceSearch, _ tenant: Tenant) throws -> Response {
        let engine = TraceQLEngine()
        let query: TraceQLQuery
        do {
            query = try engine.compile(text)
        } catch {
            throw Failure(message: "invalid TraceQL query: \(error)")
        }
        let requirements = engine.requirements(of: query)
        var json = PrometheusJSON()
        json.raw(#"{"traces":["#)
        var found = 0
        var inspected = 0
        var failure: String?
        let spansPerSpanSet = request.spansPerSpanSet
        var bounds = request.scanBounds
        if let minimum = requirements.minimumTraceDuration { bounds.minimumDuration = max(bounds.minimumDuration, UInt64(clamping: minimum)) }
        if let maximum = requirements.maximumTraceDuration { bounds.maximumDuration = min(bounds.maximumDuration, UInt64(clamping: maximum)) }
        bounds.minimumLongestSpan = UInt64(clamping: requirements.minimumSpanDuration ?? 0)
        bounds.requiresError = requirements.spans.contains { $0.statuses == [.error] }
        if !requirements.matchesNothing {
            try store.scanTraces(tenant: tenant, spanLevelOnly: query.readsOnlySpanLevelFields, bounds: bounds, admits: { summary in
                // The bounds took care of the window, the durations, the longest span and errors.
                guard summary.spanCount > 0 else { return false }
                if let names = requirements.rootServiceNames, !names.contains(summary.rootServiceName ?? "") { return false }
                if let names = requirements.rootNames, !names.contains(summary.rootSpanName ?? "") { return false }
                // Each span requirement needs a span of one of its services.
                return requirements.spans.allSatisfy { summary.mayHaveService(in: $0.serviceNames) }
            }, evaluate: { summary, spans -> TraceJudgement in
                // Runs on several threads at once: the evaluation and the trace's JSON.
                let inputs = spans.map { TraceQLSpanInput(span: $0.span, resource: $0.resource, scope: $0.scope) }
                guard requirements.admits(inputs) else { return .rejected }
                do {
                    let spansets = try engine.evaluate(query, trace: inputs)
                    guard !spansets.isEmpty else { return .rejected }
                    var encoded = PrometheusJSON()
                    Self.encode(summary, spansets: spansets, inputs: inputs, spansPerSpanSet: spansPerSpanSet, into: &encoded)
                    return .matched(encoded)
                } catch {
                    return .failed("\(error)")
                }
            }) { judgement in
                inspected += 1
                switch judgement {
                case .rejected: return true
                case .failed(let message):
                    failure = message
                    return false
                case .matched(let encoded):
                    if found > 0 { json.raw(",") }
                    found += 1
                    json.append(encoded)
                    return found < request.limit
                }
            }
        }
        if let failure { throw Failure(message: "TraceQL evaluation failed: \(failure)") }
        json.raw(#"],"metrics":{"inspectedTraces":\#(inspected),"completedJobs":1,"totalJobs":1}}"#)
        return PrometheusAPIRoutes.jsonResponse(.ok, json.bytes)
    }

    static func encode(
        _ summary: TraceSummary, spansets: [TraceQLSpanset], inputs: [TraceQLSpanInput], spansPerSpanSet: Int, into json: inout PrometheusJSON
    ) {
        encodeSummary(summary, into: &json)
        json.raw(#","spanSets":["#)
        for (setIndex, spanset) in spansets.enumerated() {
            if setIndex > 0 { json.raw(",") }
            json.raw(#"{"spans":["#)
            for (index, spanIndex) in spanset.spans.prefix(spansPerSpanSet).enumerated() {
                if index > 0 { json.raw(",") }
                let span = inputs[spanIndex].span
                json.raw(#"{"spanID":"#)
                json.string(span.spanID.hex)
                json.raw(#","name":"#)
                json.string(span.name)
                json.raw(#","startTimeUnixNano":"\#(span.startTimeUnixNano)","durationNanos":"\#(span.durationNanos)""#)
                let selected = spanset.selections.filter { $0.span == spanIndex }
                if !selected.isEmpty {
                    json.raw(#","attributes":"#)
                    encodeAttributes(selected.map { ($0.name, $0.value) }, into: &json)
                }
                json.raw("}")
            }
            json.raw(#"],"matched":\#(spanset.spans.count)"#)
            if !spanset.attributes.isEmpty {
                json.raw(#","attributes":"#)
                encodeAttributes(spanset.attributes.map { ($0.name, $0.value) }, into: &json)
            }
            json.raw("}")
        }
        json.raw("]}")
    }

    /// `[{"key":"by(resource.service.name)","value":{"stringValue":"api"}}]`, as Tempo writes them.
    static func encodeAttributes(_ attributes: [(String, TraceQLStatic)], into json: inout PrometheusJSON) {
        json.raw("[")
        for (index, (name, value)) in attributes.enumerated() {
            if index > 0 { json.raw(",") }
            json.raw(#"{"key":"#)
            json.string(name)
            json.raw(#","value":"#)
            switch value {
            case .nilValue: json.raw("{}")
            case .int(let number): json.raw(#"{"intValue":"\#(number)"}"#)
            case .float(let number): json.raw(#"{"doubleValue":\#(number.isFinite ? "\(number)" : "0")}"#)
            case .string(let text):
                json.raw(#"{"stringValue":"#)
                json.string(text)
                json.raw("}")
            case .bool(let flag): json.raw(#"{"boolValue":\#(flag)}"#)
            case .duration(let nanoseconds): json.raw(#"{"stringValue":"\#(DurationText.format(nanoseconds: UInt64(max(0, nanoseconds))))"}"#)
            case .status(let status): json.raw(#"{"stringValue":"\#(status.description)"}"#)
            case .kind(let kind): json.raw(#"{"stringValue":"\#(kind.description)"}"#)
            }
            json.raw("}")
        }
        json.raw("]")
    }

    static func encode(_ hit: TraceSearchHit, into json: inout PrometheusJSON) {
        encodeSummary(hit.summary, into: &json)
        if hit.matchedCount > 0 {
            json.raw(#","spanSets":[{"spans":["#)
            for (index, span) in hit.matchedSpans.enumerated() {
                if index > 0 { json.raw(",") }
                json.raw(#"{"spanID":"#)
                json.string(span.spanID.hex)
                json.raw(#","name":"#)
                json.string(span.name)
                json.raw(#","startTimeUnixNano":"\#(span.startTimeUnixNano)","durationNanos":"\#(span.durationNanos)"}"#)
            }
            json.raw(#"],"matched":\#(hit.matchedCount)}]"#)
        }
        json.raw("}")
    }

    /// `{"traceID":..,"rootServiceName":..,"rootTraceName":..,"startTimeUnixNano":..,"durationMs":..` (left open).
    static func encodeSummary(_ summary: TraceSummary, into json: inout PrometheusJSON) {
        json.raw(#"{"traceID":"#)
        json.string(summary.traceID.hex)
        json.raw(#","rootServiceName":"#)
        json.string(summary.rootServiceName ?? TraceSummary.missingRootName)
        if let name = summary.rootSpanName {
            json.raw(#","rootTraceName":"#)
            json.string(name)
        }
        json.raw(#","startTimeUnixNano":"\#(summary.startTimeUnixNano)""#)
        // Tempo rounds down to whole milliseconds and leaves a zero out.
        let milliseconds = summary.durationNanoseconds / 1_000_000
        if milliseconds > 0 { json.raw(#","durationMs":\#(milliseconds)"#) }
    }

    /// `tags` is logfmt: `service.name=cart http.url="/api/a b"`.
    static func tagConditions(_ text: String) throws(Failure) -> [TraceSearch.Condition] {
        var conditions: [TraceSearch.Condition] = []
        var characters = Substring(text)
        func skipSpaces() { while characters.first?.isWhitespace == true { characters = characters.dropFirst() } }
        skipSpaces()
        while !characters.isEmpty {
            let key = characters.prefix { $0 != "=" && !$0.isWhitespace }
            characters = characters.dropFirst(key.count)
            guard !key.isEmpty, characters.first == "=" else {
                throw Failure(message: "invalid tags \(text.debugDescription): expected key=value at \(String(key).debugDescription)")
            }
            characters = characters.dropFirst()
            var value = ""
            if characters.first == "\"" {
                characters = characters.dropFirst()
                var closed = false
                while let character = characters.first {
                    characters = characters.dropFirst()
                    if character == "\\", let escaped = characters.first {
                        characters = characters.dropFirst()
                        value.append(escaped == "n" ? "\n" : escaped == "t" ? "\t" : escaped)
                    } else if character == "\"" {
                        closed = true
                        break
                    } else {
                        value.append(character)
                    }
                }
                guard closed else { throw Failure(message: "invalid tags \(text.debugDescription): unterminated quoted value of \(key)") }
            } else {
                let raw = characters.prefix { !$0.isWhitespace }
                value = String(raw)
                characters = characters.dropFirst(raw.count)
            }
            conditions.append(TraceSearch.Condition(key: String(key), value: value))
            skipSpaces()
        }
        return conditions
    }

    // MARK: Tags

    func tags(version: Int, _ parameters: [String: [String]], _ tenant: Tenant) throws -> Response {
        let names = store.tagNames(tenant: tenant)
        var json = PrometheusJSON()
        if version == 1 {
            json.raw(#"{"tagNames":"#)
            json.stringArray(Array(Set(names.values.joined())).sorted())
            json.raw("}")
        } else {
            let scope = parameters["scope"]?.first ?? "all"
            guard ["all", "span", "resource", "intrinsic"].contains(scope) else {
                throw Failure(message: "invalid scope \(scope.debugDescription): expected span, resource, intrinsic or all")
            }
            var scopes: [(String, [String])] = []
            for candidate in TraceSpanStore.TagScope.allCases where scope == "all" || scope == candidate.rawValue {
                scopes.append((candidate.rawValue, names[candidate] ?? []))
            }
            if scope == "all" || scope == "intrinsic" {
                scopes.append(("intrinsic", ["duration", "kind", "name", "rootName", "rootServiceName", "status", "statusMessage", "traceDuration"]))
            }
            json.raw(#"{"scopes":["#)
            for (index, (name, tags)) in scopes.enumerated() {
                if index > 0 { json.raw(",") }
                json.raw(#"{"name":"#)
                json.string(name)
                json.raw(#","tags":"#)
                json.stringArray(tags)
                json.raw("}")
            }
            json.raw("]}")
        }
        return PrometheusAPIRoutes.jsonResponse(.ok, json.bytes)
    }

    /// v1 names are bare (`service.name`); v2 names are scoped (`resource.service.name`,
    /// `span.http.method`, `.http.method` for any scope, or an intrinsic such as `status`).
    func tagValues(_ name: String, version: Int, _ parameters: [String: [String]], _ tenant: Tenant) throws -> Response {
        guard !name.isEmpty else { throw Failure(message: "please provide a non-empty tagName") }
        var json = PrometheusJSON()
        if version == 1 {
            json.raw(#"{"tagValues":"#)
            json.stringArray(store.tagValues(tenant: tenant, name: name))
            json.raw("}")
            return PrometheusAPIRoutes.jsonResponse(.ok, json.bytes)
        }
        let typed: [(type: String, value: String)]
        switch name {
        case "status": typed = ["error", "ok", "unset"].map { ("keyword", $0) }
        case "kind": typed = ["client", "consumer", "internal", "producer", "server", "unspecified"].map { ("keyword", $0) }
        default:
            let values: [String]
            if name.hasPrefix("resource.") {
                values = store.tagValues(tenant: tenant, name: String(name.dropFirst(9)), scope: .resource)
            } else if name.hasPrefix("span.") {
                values = store.tagValues(tenant: tenant, name: String(name.dropFirst(5)), scope: .span)
            } else if name.hasPrefix(".") {
                values = store.tagValues(tenant: tenant, name: String(name.dropFirst()))
            } else {
                throw Failure(message: "invalid tag \(name.debugDescription): expected a scoped attribute (resource.x, span.x, .x) or status or kind")
            }
            typed = values.map { ("string", $0) }
        }
        json.raw(#"{"tagValues":["#)
        for (index, value) in typed.enumerated() {
            if index > 0 { json.raw(",") }
            json.raw(#"{"type":"#)
            json.string(value.type)
            json.raw(#","value":"#)
            json.string(value.value)
            json.raw("}")
        }
        json.raw("]}")
        return PrometheusAPIRoutes.jsonResponse(.ok, json.bytes)
    }

    // MARK: Parameters

    /// Tempo's `start`/`end` are Unix seconds.
    static func seconds(_ parameters: [String: [String]], _ name: String) throws(Failure) -> UInt64? {
        guard let text = parameters[name]?.first, !text.isEmpty else { return nil }
        guard let seconds = UInt64(text), seconds <= UInt64.max / 1_000_000_000 else {
            throw Failure(message: "invalid \(name) \(text.debugDescription): expected Unix seconds")
        }
        return seconds * 1_000_000_000
    }

    static func duration(_ parameters: [String: [String]], _ name: String) throws(Failure) -> UInt64? {
        guard let text = parameters[name]?.first, !text.isEmpty else { return nil }
        let seconds: Double
        do {
            seconds = try LogQLUnits.parseDuration(text)
        } catch {
            throw Failure(message: "invalid \(name) \(text.debugDescription): \(error.message)")
        }
        guard seconds >= 0, seconds < 1e10 else { throw Failure(message: "invalid \(name) \(text.debugDescription): out of range") }
        return UInt64(seconds * 1e9)
    }

    static func count(_ parameters: [String: [String]], _ name: String) throws(Failure) -> Int? {
        guard let text = parameters[name]?.first, !text.isEmpty else { return nil }
        guard let value = Int(text), value > 0 else { throw Failure(message: "invalid \(name) \(text.debugDescription): expected a positive integer") }
        return value
    }
}

/// What a TraceQL search made of one trace.
private enum TraceJudgement: Sendable {
    case rejected
    /// The trace's entry in the response.
    case matched(PrometheusJSON)
    case failed(String)
}
