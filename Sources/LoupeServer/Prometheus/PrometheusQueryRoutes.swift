import Foundation
import HTTPTypes
import Hummingbird
import LoupeModel
import LoupeQuery
import LoupeStorage
import NIOCore

/// `query`, `query_range` and `format_query` of the Prometheus HTTP API, evaluated by the
/// PromQL engine over the tenant's TSDB head.
struct PrometheusQueryRoutes: Sendable {
    let store: PrometheusStore
    let engine = PromQLEngine()

    typealias Failure = PrometheusAPIRoutes.Failure

    /// Reads a tenant's head for the engine; a tenant that never wrote has no series.
    struct HeadQueryable: PromQLQueryable {
        let head: TenantTSDB?
        func select(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) throws -> [SeriesSamples] {
            head?.select(matchers, minTime: minTime, maxTime: maxTime) ?? []
        }

        func select(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64, shard: SeriesShard) throws -> [SeriesSamples] {
            head?.select(matchers, minTime: minTime, maxTime: maxTime, shard: shard) ?? []
        }

        func selectNewest(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) throws -> [SeriesSamples] {
            head?.selectNewest(matchers, minTime: minTime, maxTime: maxTime) ?? []
        }
    }

    func register(on router: Router<BasicRequestContext>, api: PrometheusAPIRoutes) {
        for method in [HTTPRequest.Method.get, .post] {
            router.on("/api/v1/query", method: method) { request, _ in
                await api.respond(request, withAnnotations: true) { parameters, head in
                    let query = try Self.required("query", parameters)
                    let time = try Self.time(parameters["time"]?.first, name: "time") ?? Self.nowMilliseconds()
                    let result = try evaluate { () throws(PromQLError) in
                        try engine.instantQuery(query, at: time, queryable: HeadQueryable(head: head))
                    }
                    return (Self.encode(result.value), result.annotations)
                }
            }
            router.on("/api/v1/query_range", method: method) { request, _ in
                await api.respond(request, withAnnotations: true) { parameters, head in
                    let query = try Self.required("query", parameters)
                    guard let start = try Self.time(parameters["start"]?.first, name: "start") else { throw Failure.badData("missing parameter \"start\"") }
                    guard let end = try Self.time(parameters["end"]?.first, name: "end") else { throw Failure.badData("missing parameter \"end\"") }
                    let step = try Self.step(try Self.required("step", parameters))
                    guard end >= start else { throw Failure.badData("end timestamp must not be before start time") }
                    guard (end - start) / step <= 11_000 else {
                        throw Failure.badData("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
                    }
                    let result = try evaluate { () throws(PromQLError) in
                        try engine.rangeQuery(query, start: start, end: end, step: step, queryable: HeadQueryable(head: head))
                    }
                    return (Self.encode(result.value), result.annotations)
                }
            }
            router.on("/api/v1/query_exemplars", method: method) { request, _ in
                await api.respond(request) { parameters, database in
                    let query = try Self.required("query", parameters)
                    let (start, end) = try PrometheusAPIRoutes.timeRange(parameters)
                    guard start <= end else { throw Failure.badData("end timestamp must not be before start time") }
                    let selectors: [[LabelMatcher]]
                    do throws(PromQLError) {
                        selectors = try PromQLParser.parse(query).selectorMatchers()
                    } catch {
                        throw Failure.badData(error.description)
                    }
                    // One entry per series, even when several selectors match it.
                    var found: [Labels: [PrometheusExemplar]] = [:]
                    for matchers in selectors {
                        for series in database?.exemplars.select(matchers, minTime: start, maxTime: end) ?? [] {
                            found[series.seriesLabels] = series.exemplars
                        }
                    }
                    var json = PrometheusJSON()
                    json.raw("[")
                    for (index, labels) in found.keys.sorted().enumerated() {
                        if index > 0 { json.raw(",") }
                        json.raw(#"{"seriesLabels":"#)
                        json.labels(labels)
                        json.raw(#","exemplars":["#)
                        for (position, exemplar) in found[labels]!.enumerated() {
                            if position > 0 { json.raw(",") }
                            json.raw(#"{"labels":"#)
                            json.labels(exemplar.labels)
                            json.raw(#","value":"#)
                            json.string(PrometheusJSON.formatValue(exemplar.value))
                            json.raw(#","timestamp":"#)
                            json.raw(PrometheusJSON.formatTimestamp(exemplar.timestamp ?? 0))
                            json.raw("}")
                        }
                        json.raw("]}")
                    }
                    json.raw("]")
                    return json
                }
            }
            router.on("/api/v1/format_query", method: method) { request, _ in
                await api.respond(request) { parameters, _ in
                    let query = try Self.required("query", parameters)
                    do throws(PromQLError) {
                        var json = PrometheusJSON()
                        json.string(try PromQLParser.parse(query).description)
                        return json
                    } catch {
                        throw Failure.badData(error.description)
                    }
                }
            }
        }
    }

    func evaluate(_ body: () throws(PromQLError) -> PromQLResult) throws(Failure) -> PromQLResult {
        do {
            return try body()
        } catch {
            switch error.kind {
            case .parse, .invalidRequest: throw Failure.badData(error.description)
            case .execution, .tooManySamples: throw Failure(status: .unprocessableContent, type: "execution", message: error.description)
            case .timeout: throw Failure(status: .serviceUnavailable, type: "timeout", message: error.description)
            case .canceled: throw Failure(status: .serviceUnavailable, type: "canceled", message: error.description)
            }
        }
    }

    static func nowMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    static func required(_ name: String, _ parameters: [String: [String]]) throws(Failure) -> String {
        guard let value = parameters[name]?.first, !value.isEmpty else { throw Failure.badData("missing parameter \"\(name)\"") }
        return value
    }

    /// A time parameter in milliseconds (RFC 3339 or Unix seconds with a fraction).
    static func time(_ text: String?, name: String) throws(Failure) -> Int64? {
        guard let text, !text.isEmpty else { return nil }
        if let seconds = Double(text), seconds.isFinite {
            return Int64((seconds * 1000).rounded())
        }
        do {
            return try TimeParameter.parse(text, name: name).map { Int64(clamping: $0 / 1_000_000) }
        } catch {
            throw Failure.badData("invalid parameter \"\(name)\": \(error.message)")
        }
    }

    /// A step: float seconds or a Prometheus duration, in milliseconds.
    static func step(_ text: String) throws(Failure) -> Int64 {
        var milliseconds: Int64?
        if let seconds = Double(text), seconds.isFinite { milliseconds = Int64((seconds * 1000).rounded()) }
        if milliseconds == nil, let nanoseconds = try? DurationText.parseNanoseconds(text) { milliseconds = Int64(clamping: nanoseconds / 1_000_000) }
        guard let milliseconds else { throw Failure.badData("invalid parameter \"step\": cannot parse \"\(text)\" to a valid duration") }
        guard milliseconds > 0 else {
            throw Failure.badData("zero or negative query resolution step widths are not accepted. Try a positive integer")
        }
        return milliseconds
    }

    /// `{"resultType":...,"result":...}` in Prometheus's shapes.
    static func encode(_ value: PromQLValue) -> PrometheusJSON {
        var json = PrometheusJSON()
        func point(_ timestamp: Int64, _ value: Double) {
            json.point(timestamp, value)
        }
        func histogramPoint(_ timestamp: Int64, _ histogram: NativeHistogram) {
            json.raw("[\(PrometheusJSON.formatTimestamp(timestamp)),")
            PrometheusHistogramJSON.write(histogram, into: &json)
            json.raw("]")
        }
        switch value {
        case .scalar(let timestamp, let scalar):
            json.raw(#"{"resultType":"scalar","result":"#)
            point(timestamp, scalar)
            json.raw("}")
        case .string(let timestamp, let string):
            json.raw(#"{"resultType":"string","result":["#)
            json.raw("\(PrometheusJSON.formatTimestamp(timestamp)),")
            json.string(string)
            json.raw("]}")
        case .vector(let samples):
            json.raw(#"{"resultType":"vector","result":["#)
            for (index, sample) in samples.enumerated() {
                if index > 0 { json.raw(",") }
                json.raw(#"{"metric":"#)
                json.labels(sample.labels)
                if let histogram = sample.histogram {
                    json.raw(#","histogram":"#)
                    histogramPoint(sample.timestamp, histogram)
                } else {
                    json.raw(#","value":"#)
                    point(sample.timestamp, sample.value)
                }
                json.raw("}")
            }
            json.raw("]}")
        case .matrix(let series):
            json.raw(#"{"resultType":"matrix","result":["#)
            for (index, one) in series.enumerated() {
                if index > 0 { json.raw(",") }
                json.raw(#"{"metric":"#)
                json.labels(one.labels)
                if !one.floats.isEmpty {
                    json.raw(#","values":["#)
                    for (pointIndex, sample) in one.floats.enumerated() {
                        if pointIndex > 0 { json.raw(",") }
                        point(sample.timestamp, sample.value)
                    }
                    json.raw("]")
                }
                if !one.histograms.isEmpty {
                    json.raw(#","histograms":["#)
                    for (pointIndex, sample) in one.histograms.enumerated() {
                        if pointIndex > 0 { json.raw(",") }
                        histogramPoint(sample.timestamp, sample.histogram)
                    }
                    json.raw("]")
                }
                json.raw("}")
            }
            json.raw("]}")
        }
        return json
    }
}

/// Native histograms as the Prometheus API renders them: count, sum and buckets with
/// their boundaries (`[boundaryRule, lower, upper, count]`; rule 0 = open left, closed right).
enum PrometheusHistogramJSON {
    static func write(_ histogram: NativeHistogram, into json: inout PrometheusJSON) {
        json.raw(#"{"count":"#)
        json.string(PrometheusJSON.formatValue(histogram.count))
        json.raw(#","sum":"#)
        json.string(PrometheusJSON.formatValue(histogram.sum))
        var buckets: [(rule: Int, lower: Double, upper: Double, count: Double)] = []
        for (index, count) in NativeHistogram.bucketMap(spans: histogram.negativeSpans, buckets: histogram.negativeBuckets).sorted(by: { $0.key > $1.key })
        where count != 0 {
            let (lower, upper) = bounds(index: index, histogram: histogram)
            buckets.append((1, -upper, -lower, count))
        }
        if histogram.zeroCount != 0 {
            buckets.append((3, -histogram.zeroThreshold, histogram.zeroThreshold, histogram.zeroCount))
        }
        for (index, count) in NativeHistogram.bucketMap(spans: histogram.positiveSpans, buckets: histogram.positiveBuckets).sorted(by: { $0.key < $1.key })
        where count != 0 {
            let (lower, upper) = bounds(index: index, histogram: histogram)
            buckets.append((0, lower, upper, count))
        }
        if !buckets.isEmpty {
            json.raw(#","buckets":["#)
            for (position, bucket) in buckets.enumerated() {
                if position > 0 { json.raw(",") }
                json.raw("[\(bucket.rule),")
                json.string(PrometheusJSON.formatValue(bucket.lower))
                json.raw(",")
                json.string(PrometheusJSON.formatValue(bucket.upper))
                json.raw(",")
                json.string(PrometheusJSON.formatValue(bucket.count))
                json.raw("]")
            }
            json.raw("]")
        }
        json.raw("}")
    }

    /// (lower, upper] of bucket `index`: exponential `base^(index-1)..base^index` with
    /// base = 2^(2^-schema), or the custom boundaries of schema -53.
    static func bounds(index: Int32, histogram: NativeHistogram) -> (Double, Double) {
        if histogram.usesCustomBuckets {
            let values = histogram.customValues
            let upper = Int(index) < values.count ? values[Int(index)] : .infinity
            let lower = index == 0 ? -.infinity : (Int(index) - 1 < values.count ? values[Int(index) - 1] : .infinity)
            return (lower, upper)
        }
        let exponent = pow(2.0, -Double(histogram.schema))
        return (pow(2.0, Double(index - 1) * exponent), pow(2.0, Double(index) * exponent))
    }
}
