import Foundation
import HTTPTypes
import Hummingbird
import LoupeModel
import LoupeScrape
import LoupeScrapeService
import LoupeStorage
import NIOCore

/// `status/*`, `metadata`, `targets` and `admin/tsdb/delete_series` of the Prometheus API.
struct PrometheusStatusRoutes: Sendable {
    let store: PrometheusStore
    let api: PrometheusAPIRoutes
    let flags: [String: String]
    /// The scraper's targets; nil when Loupe runs without one (then no targets are reported).
    var scrapeStatus: ScrapeStatus?
    let startTime = Date()

    /// The Prometheus API version Loupe answers to; Grafana picks its features from it.
    static let compatibleVersion = "3.0.0"

    typealias Failure = PrometheusAPIRoutes.Failure

    func register(on router: Router<BasicRequestContext>, loupeVersion: String) {
        router.get("/api/v1/status/buildinfo") { request, _ in
            await api.respond(request) { _, _ in
                var json = PrometheusJSON()
                json.raw("{")
                for (index, (key, value)) in [
                    ("version", Self.compatibleVersion), ("revision", "loupe-\(loupeVersion)"), ("branch", "loupe"),
                    ("buildUser", "loupe"), ("buildDate", ""), ("goVersion", "swift"),
                ].enumerated() {
                    if index > 0 { json.raw(",") }
                    json.string(key)
                    json.raw(":")
                    json.string(value)
                }
                json.raw("}")
                return json
            }
        }
        router.get("/api/v1/status/runtimeinfo") { request, _ in
            await api.respond(request) { _, _ in
                var json = PrometheusJSON()
                let formatter = ISO8601DateFormatter()
                formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                json.raw(#"{"startTime":"#)
                json.string(formatter.string(from: startTime))
                json.raw(#","CWD":"#)
                json.string(FileManager.default.currentDirectoryPath)
                json.raw(#","reloadConfigSuccess":true,"lastConfigTime":"#)
                json.string(formatter.string(from: startTime))
                json.raw(#","corruptionCount":0,"goroutineCount":0,"GOMAXPROCS":\#(ProcessInfo.processInfo.activeProcessorCount),"GOGC":"","GODEBUG":"","storageRetention":"#)
                json.string(flags["storage.tsdb.retention.time"] ?? "")
                json.raw("}")
                return json
            }
        }
        router.get("/api/v1/status/flags") { request, _ in
            await api.respond(request) { _, _ in
                var json = PrometheusJSON()
                json.raw("{")
                for (index, key) in flags.keys.sorted().enumerated() {
                    if index > 0 { json.raw(",") }
                    json.string(key)
                    json.raw(":")
                    json.string(flags[key]!)
                }
                json.raw("}")
                return json
            }
        }
        router.get("/api/v1/status/tsdb") { request, _ in
            await api.respond(request) { _, head in
                let statistics = head?.statistics() ?? HeadStatistics()
                var json = PrometheusJSON()
                json.raw(#"{"headStats":{"numSeries":\#(statistics.series),"numLabelPairs":0,"chunkCount":\#(statistics.chunks),"#)
                json.raw(#""minTime":\#(statistics.series == 0 ? 0 : statistics.minTime),"maxTime":\#(statistics.series == 0 ? 0 : statistics.maxTime)},"#)
                func list(_ name: String, _ entries: [(name: String, count: Int)]) {
                    json.string(name)
                    json.raw(":[")
                    for (index, entry) in entries.enumerated() {
                        if index > 0 { json.raw(",") }
                        json.raw(#"{"name":"#)
                        json.string(entry.name)
                        json.raw(#","value":\#(entry.count)}"#)
                    }
                    json.raw("]")
                }
                list("seriesCountByMetricName", statistics.seriesCountByMetricName)
                json.raw(",")
                list("labelValueCountByLabelName", statistics.labelValueCountByLabelName)
                json.raw(#","memoryInBytesByLabelName":[],"seriesCountByLabelValuePair":[]}"#)
                return json
            }
        }
        router.get("/api/v1/metadata") { request, _ in
            await api.respond(request) { parameters, _ in
                let tenant = (try? Tenant.fromHeader(request.headers[HTTPField.Name.scopeOrgID])) ?? .default
                var metadata = store.metadata(for: tenant)
                if let metric = parameters["metric"]?.first, !metric.isEmpty { metadata = metadata.filter { $0.key == metric } }
                var names = metadata.keys.sorted()
                if let limit = parameters["limit"]?.first.flatMap(Int.init), limit >= 0 { names = Array(names.prefix(limit)) }
                var json = PrometheusJSON()
                json.raw("{")
                for (index, name) in names.enumerated() {
                    let entry = metadata[name]!
                    if index > 0 { json.raw(",") }
                    json.string(name)
                    json.raw(#":[{"type":"#)
                    json.string(entry.type.rawValue)
                    json.raw(#","help":"#)
                    json.string(entry.help)
                    json.raw(#","unit":"#)
                    json.string(entry.unit)
                    json.raw("}]")
                }
                json.raw("}")
                return json
            }
        }
        router.get("/api/v1/targets") { request, _ in
            await api.respond(request) { parameters, _ in
                Self.targetsJSON(scrapeStatus, state: parameters["state"]?.first ?? "", pool: parameters["scrapePool"]?.first)
            }
        }
        router.get("/api/v1/targets/metadata") { request, _ in
            await api.respond(request) { parameters, _ in
                try Self.targetMetadataJSON(scrapeStatus, parameters: parameters)
            }
        }
        for method in [HTTPRequest.Method.post, .put] {
            router.on("/api/v1/admin/tsdb/delete_series", method: method) { request, _ in
                let response = await api.respond(request) { parameters, head in
                    let sets = try PrometheusAPIRoutes.matcherSets(parameters["match[]"] ?? [])
                    guard !sets.isEmpty else { throw Failure.badData("no match[] parameter provided") }
                    // Without start and end, everything; otherwise the inclusive range (as Prometheus).
                    var interval: DeletedInterval?
                    if parameters["start"] != nil || parameters["end"] != nil {
                        let (start, end) = try PrometheusAPIRoutes.timeRange(parameters)
                        guard start <= end else { throw Failure.badData("end timestamp must not be before start time") }
                        interval = DeletedInterval(minTime: start, maxTime: end)
                    }
                    for matchers in sets {
                        do {
                            try head?.delete(matchers, interval: interval)
                        } catch {
                            throw Failure(status: .internalServerError, type: "internal", message: "deleting series failed: \(error)")
                        }
                    }
                    return PrometheusJSON()
                }
                return response.status == .ok ? Response(status: .noContent) : response
            }
        }
    }
}

extension PrometheusStatusRoutes {
    /// `/api/v1/targets`: `state` is `active`, `dropped` or anything else for both (as in Prometheus, filtered-out
    /// lists stay as empty arrays); `scrapePool` picks one pool.
    static func targetsJSON(_ status: ScrapeStatus?, state: String, pool: String?) -> PrometheusJSON {
        let pool = pool.flatMap { $0.isEmpty ? nil : $0 }
        let showActive = state.lowercased() != "dropped"
        let showDropped = state.lowercased() != "active"
        var json = PrometheusJSON()
        json.raw(#"{"activeTargets":["#)
        if showActive, let status {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            for (index, entry) in status.activeTargets(pool: pool).enumerated() {
                if index > 0 { json.raw(",") }
                json.raw(#"{"discoveredLabels":"#)
                json.labels(entry.target.discoveredLabels)
                json.raw(#","labels":"#)
                json.labels(entry.target.labels)
                json.raw(#","scrapePool":"#)
                json.string(entry.pool)
                json.raw(#","scrapeUrl":"#)
                json.string(entry.target.url)
                json.raw(#","globalUrl":"#)
                json.string(entry.target.url)
                json.raw(#","lastError":"#)
                json.string(entry.lastError)
                json.raw(#","lastScrape":"#)
                json.string(entry.lastScrape.map { formatter.string(from: Date(timeIntervalSince1970: Double($0) / 1000)) } ?? "0001-01-01T00:00:00Z")
                json.raw(#","lastScrapeDuration":\#(entry.lastScrapeDuration),"health":"#)
                json.string(entry.health.rawValue)
                json.raw(#","scrapeInterval":"#)
                json.string(PrometheusDuration.format(milliseconds: entry.target.interval))
                json.raw(#","scrapeTimeout":"#)
                json.string(PrometheusDuration.format(milliseconds: entry.target.timeout))
                json.raw("}")
            }
        }
        json.raw(#"],"droppedTargets":["#)
        if showDropped, let status {
            for (index, entry) in status.droppedTargets(pool: pool).enumerated() {
                if index > 0 { json.raw(",") }
                json.raw(#"{"discoveredLabels":"#)
                json.labels(entry.discoveredLabels)
                json.raw(#","scrapePool":"#)
                json.string(entry.pool)
                json.raw("}")
            }
        }
        json.raw(#"],"droppedTargetCounts":{"#)
        // Required by Prometheus's API schema, whatever the state filter.
        for (index, name) in (status?.poolNames ?? []).filter({ pool == nil || pool == $0 }).enumerated() {
            if index > 0 { json.raw(",") }
            json.string(name)
            json.raw(":\(status?.droppedTargets(pool: name).count ?? 0)")
        }
        json.raw("}}")
        return json
    }

    /// `/api/v1/targets/metadata`: the metadata of each active target's last successful scrape, filtered by
    /// `match_target` (a series selector over target labels), `metric` and `limit` (targets).
    static func targetMetadataJSON(_ status: ScrapeStatus?, parameters: [String: [String]]) throws -> PrometheusJSON {
        var matchers: [LabelMatcher] = []
        if let selector = parameters["match_target"]?.first, !selector.isEmpty {
            do {
                matchers = try PrometheusAPIRoutes.matcherSets([selector]).first ?? []
            } catch {
                throw Failure.badData(error.message.replacingOccurrences(of: "match[]", with: "match_target"))
            }
        }
        let metric = parameters["metric"]?.first ?? ""
        var limit = Int.max
        if let text = parameters["limit"]?.first, !text.isEmpty {
            guard let value = Int(text) else { throw Failure.badData("invalid limit \"\(text)\"") }
            if value >= 0 { limit = value }
        }
        var json = PrometheusJSON()
        json.raw("[")
        var first = true
        var targets = 0
        for entry in status?.activeTargets() ?? [] where matchers.allSatisfy({ $0.matches(entry.target.labels[$0.name] ?? "") }) {
            guard targets < limit else { break }
            targets += 1
            for name in entry.metadata.keys.sorted() where metric.isEmpty || name == metric {
                let metadata = entry.metadata[name]!
                if !first { json.raw(",") }
                first = false
                json.raw(#"{"target":"#)
                json.labels(entry.target.labels)
                if metric.isEmpty {
                    json.raw(#","metric":"#)
                    json.string(name)
                }
                json.raw(#","type":"#)
                json.string(metadata.type.rawValue)
                json.raw(#","help":"#)
                json.string(metadata.help)
                json.raw(#","unit":"#)
                json.string(metadata.unit)
                json.raw("}")
            }
        }
        json.raw("]")
        return json
    }
}
