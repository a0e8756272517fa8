import Foundation
import LoupeModel
import LoupeQuery
@testable import LoupeServer
import LoupeWire

/// A promqltest backend that goes through a running server: `load` is one remote write 1.0 request,
/// `clear` moves to a fresh tenant (`X-Scope-OrgID`), and evals are `POST /api/v1/query` and
/// `/api/v1/query_range`, whose JSON is turned back into `PromQLResult` / `PromQLError`.
///
/// Native histograms come back in the API's JSON shape (count, sum, and the non-empty buckets with their
/// boundaries), which has no schema, counter-reset hint, zero threshold of an empty zero bucket or empty
/// buckets. They are rebuilt from it (the schema from the boundaries; custom bounds from the boundaries seen),
/// and expected histograms are compared in the same form (`comparable` renders them through the same JSON):
/// so histograms compare by count, sum and non-empty buckets, and counter-reset hints are not compared.
struct PromQLWireTestBackend: PromQLAsyncTestBackend {
    let server: TestServer
    let tenantPrefix: String
    private(set) var tenant: String
    private var generation = 0
    /// Remote-write requests that were not answered 204, as "status: message".
    private(set) var loadErrors: [String] = []

    init(server: TestServer, tenantPrefix: String) {
        self.server = server
        self.tenantPrefix = tenantPrefix
        tenant = "\(tenantPrefix)-0"
    }

    mutating func clear() async {
        generation += 1
        tenant = "\(tenantPrefix)-\(generation)"
    }

    mutating func load(_ series: [SeriesSamples]) async {
        var request = RemoteWriteRequest()
        for one in series {
            // Floats and histograms of one series in time order, sent as runs of one kind (a remote-write
            // series carries its floats before its histograms).
            var points: [(timestamp: Int64, float: FloatSample?, histogram: HistogramSample?)] =
                one.floats.map { ($0.timestamp, $0, nil) } + one.histograms.map { ($0.timestamp, nil, $0) }
            points.sort { $0.timestamp < $1.timestamp }
            for point in points {
                if let float = point.float {
                    if let last = request.series.last, last.labels == one.labels, last.histograms.isEmpty {
                        request.series[request.series.count - 1].samples.append(float)
                    } else {
                        request.series.append(TimeSeries(labels: one.labels, samples: [float]))
                    }
                } else if let histogram = point.histogram {
                    if let last = request.series.last, last.labels == one.labels, last.samples.isEmpty {
                        request.series[request.series.count - 1].histograms.append(histogram)
                    } else {
                        request.series.append(TimeSeries(labels: one.labels, histograms: [histogram]))
                    }
                }
            }
        }
        guard !request.series.isEmpty else { return }
        do {
            let reply = try await server.request(
                "POST", server.httpBase + "/api/v1/write", body: Snappy.compress(RemoteWriteV1.encode(request)),
                headers: [
                    "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
                    "X-Prometheus-Remote-Write-Version": "0.1.0", "X-Scope-OrgID": tenant,
                ])
            if reply.status != 204 {
                loadErrors.append("\(reply.status): \(reply.text.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
        } catch {
            loadErrors.append("request failed: \(error)")
        }
    }

    func instantQuery(_ query: String, at time: Int64) async throws(PromQLError) -> PromQLResult {
        try await evaluate("/api/v1/query", query, [("query", query), ("time", Self.seconds(time))])
    }

    func rangeQuery(_ query: String, start: Int64, end: Int64, step: Int64) async throws(PromQLError) -> PromQLResult {
        try await evaluate("/api/v1/query_range", query, [
            ("query", query), ("start", Self.seconds(start)), ("end", Self.seconds(end)), ("step", Self.seconds(step)),
        ])
    }

    func comparable(_ expected: NativeHistogram) -> NativeHistogram { Self.throughJSON(expected) }

    /// A histogram as it comes back from the API: rendered as the server renders it, then rebuilt.
    static func throughJSON(_ expected: NativeHistogram) -> NativeHistogram {
        var json = PrometheusJSON()
        PrometheusHistogramJSON.write(expected, into: &json)
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.bytes)) as? [String: Any],
            let histogram = try? Self.histogram(object)
        else { return expected }
        return histogram
    }

    // MARK: HTTP and JSON

    struct DecodingFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// Milliseconds as the API's seconds with a fraction.
    static func seconds(_ milliseconds: Int64) -> String { PrometheusJSON.formatTimestamp(milliseconds) }

    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    func evaluate(_ path: String, _ query: String, _ parameters: [(String, String)]) async throws(PromQLError) -> PromQLResult {
        let body = parameters.map { "\($0.0)=\(Self.formEncode($0.1))" }.joined(separator: "&")
        let reply: TestServer.Reply
        do {
            reply = try await server.request(
                "POST", server.httpBase + path, body: Array(body.utf8),
                headers: ["Content-Type": "application/x-www-form-urlencoded", "X-Scope-OrgID": tenant])
        } catch {
            throw PromQLError(.execution, "wire: request failed: \(error)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any] else {
            throw PromQLError(.execution, "wire: HTTP \(reply.status) with a body that is not JSON: \(reply.text)")
        }
        if object["status"] as? String == "error" {
            throw Self.error(type: object["errorType"] as? String ?? "", message: object["error"] as? String ?? "", query: query)
        }
        do {
            guard let data = object["data"] as? [String: Any] else { throw DecodingFailure(description: "no data") }
            var annotations: [PromQLAnnotation] = []
            for warning in object["warnings"] as? [String] ?? [] { annotations.append(PromQLAnnotation(kind: .warning, message: warning)) }
            for info in object["infos"] as? [String] ?? [] { annotations.append(PromQLAnnotation(kind: .info, message: info)) }
            return PromQLResult(value: try Self.value(data), annotations: annotations)
        } catch {
            throw PromQLError(.execution, "wire: cannot read the response (\(error)): \(reply.text)")
        }
    }

    /// The server's error back as the engine's: bad_data is a parse error (its "line:column: parse error: "
    /// prefix turned back into a position), execution an execution error, and so on.
    static func error(type: String, message: String, query: String) -> PromQLError {
        switch type {
        case "bad_data":
            let prefix = "parse error: "
            if message.hasPrefix(prefix) { return PromQLError(.parse, String(message.dropFirst(prefix.count))) }
            let parts = message.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            if parts.count == 3, let line = Int(parts[0]), let column = Int(parts[1]), parts[2].hasPrefix(" " + prefix) {
                var offset = 0
                var currentLine = 1
                for (index, byte) in query.utf8.enumerated() where currentLine < line && byte == UInt8(ascii: "\n") {
                    currentLine += 1
                    offset = index + 1
                }
                offset += column - 1
                return PromQLError(
                    .parse, String(parts[2].dropFirst(prefix.count + 1)), position: .init(start: offset, end: offset), in: query)
            }
            return PromQLError(.parse, message)
        case "timeout": return PromQLError(.timeout, message)
        case "canceled": return PromQLError(.canceled, message)
        default: return PromQLError(.execution, message)
        }
    }

    static func number(_ any: Any?) throws(DecodingFailure) -> Double {
        if let number = any as? NSNumber { return number.doubleValue }
        if let double = any as? Double { return double }
        if let int = any as? Int { return Double(int) }
        throw DecodingFailure(description: "not a number: \(String(describing: any))")
    }

    static func timestamp(_ any: Any?) throws(DecodingFailure) -> Int64 {
        Int64((try number(any) * 1000).rounded())
    }

    static func sampleValue(_ any: Any?) throws(DecodingFailure) -> Double {
        guard let text = any as? String else { throw DecodingFailure(description: "not a value string: \(String(describing: any))") }
        switch text {
        case "NaN": return .nan
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        default:
            guard let value = Double(text) else { throw DecodingFailure(description: "not a value: \(text)") }
            return value
        }
    }

    /// `[timestamp, "value"]`.
    static func floatPoint(_ any: Any?) throws(DecodingFailure) -> FloatSample {
        guard let pair = any as? [Any], pair.count == 2 else { throw DecodingFailure(description: "not a point: \(String(describing: any))") }
        return FloatSample(timestamp: try timestamp(pair[0]), value: try sampleValue(pair[1]))
    }

    /// `[timestamp, {histogram}]`.
    static func histogramPoint(_ any: Any?) throws(DecodingFailure) -> HistogramSample {
        guard let pair = any as? [Any], pair.count == 2, let object = pair[1] as? [String: Any] else {
            throw DecodingFailure(description: "not a histogram point: \(String(describing: any))")
        }
        return HistogramSample(timestamp: try timestamp(pair[0]), histogram: try histogram(object))
    }

    static func labels(_ any: Any?) throws(DecodingFailure) -> Labels {
        guard let metric = any as? [String: String] else { throw DecodingFailure(description: "not a label set: \(String(describing: any))") }
        return Labels(metric.map { Label($0.key, $0.value) })
    }

    static func value(_ data: [String: Any]) throws(DecodingFailure) -> PromQLValue {
        let result = data["result"]
        switch data["resultType"] as? String {
        case "scalar":
            let point = try floatPoint(result)
            return .scalar(timestamp: point.timestamp, value: point.value)
        case "string":
            guard let pair = result as? [Any], pair.count == 2, let text = pair[1] as? String else {
                throw DecodingFailure(description: "not a string result")
            }
            return .string(timestamp: try timestamp(pair[0]), value: text)
        case "vector":
            guard let items = result as? [[String: Any]] else { throw DecodingFailure(description: "not a vector") }
            var samples: [PromQLSample] = []
            for item in items {
                let labels = try labels(item["metric"])
                if let histogram = item["histogram"] {
                    let point = try histogramPoint(histogram)
                    samples.append(PromQLSample(labels: labels, histogram: point.histogram, timestamp: point.timestamp))
                } else {
                    let point = try floatPoint(item["value"])
                    samples.append(PromQLSample(labels: labels, value: point.value, timestamp: point.timestamp))
                }
            }
            return .vector(samples)
        case "matrix":
            guard let items = result as? [[String: Any]] else { throw DecodingFailure(description: "not a matrix") }
            var series: [PromQLSeries] = []
            for item in items {
                var one = PromQLSeries(labels: try labels(item["metric"]))
                for point in item["values"] as? [Any] ?? [] { one.floats.append(try floatPoint(point)) }
                for point in item["histograms"] as? [Any] ?? [] { one.histograms.append(try histogramPoint(point)) }
                series.append(one)
            }
            return .matrix(series)
        default:
            throw DecodingFailure(description: "unknown resultType \(String(describing: data["resultType"]))")
        }
    }

    /// A histogram from `{"count":..,"sum":..,"buckets":[[rule, lower, upper, count], ...]}`: exponential when every
    /// bucket's boundaries fit one schema (-4...8), else custom bounds (the finite boundaries seen).
    static func histogram(_ object: [String: Any]) throws(DecodingFailure) -> NativeHistogram {
        var histogram = NativeHistogram()
        histogram.count = try sampleValue(object["count"])
        histogram.sum = try sampleValue(object["sum"])
        var positive: [(lower: Double, upper: Double, count: Double)] = []
        var negative: [(lower: Double, upper: Double, count: Double)] = []  // by magnitude
        for any in object["buckets"] as? [Any] ?? [] {
            guard let bucket = any as? [Any], bucket.count == 4 else { throw DecodingFailure(description: "not a bucket") }
            let rule = Int(try number(bucket[0]))
            let lower = try sampleValue(bucket[1])
            let upper = try sampleValue(bucket[2])
            let count = try sampleValue(bucket[3])
            switch rule {
            case 3:
                histogram.zeroThreshold = upper
                histogram.zeroCount = count
            case 1 where upper <= 0 && lower < 0: negative.append((-upper, -lower, count))
            default: positive.append((lower, upper, count))
            }
        }
        if positive.isEmpty && negative.isEmpty { return histogram }

        func exponentialIndex(_ bucket: (lower: Double, upper: Double, count: Double)) -> (schema: Int32, index: Int32)? {
            guard bucket.lower.isFinite, bucket.upper.isFinite, bucket.lower > 0, bucket.upper > bucket.lower else { return nil }
            let schemaEstimate = -log2(log2(bucket.upper / bucket.lower))
            guard schemaEstimate.isFinite else { return nil }
            let schema = schemaEstimate.rounded()
            guard abs(schema - schemaEstimate) < 1e-6, schema >= -4, schema <= 8 else { return nil }
            let indexEstimate = log2(bucket.upper) * pow(2, schema)
            let index = indexEstimate.rounded()
            guard abs(index - indexEstimate) < 1e-6, abs(index) < Double(Int32.max) else { return nil }
            return (Int32(schema), Int32(index))
        }
        var exponential: (schema: Int32, positive: [Int32: Double], negative: [Int32: Double])?
        var schema: Int32?
        var positiveMap: [Int32: Double] = [:]
        var negativeMap: [Int32: Double] = [:]
        var fits = true
        for (isNegative, buckets) in [(false, positive), (true, negative)] {
            for bucket in buckets {
                guard let found = exponentialIndex(bucket), schema == nil || schema == found.schema else {
                    fits = false
                    break
                }
                schema = found.schema
                if isNegative { negativeMap[found.index, default: 0] += bucket.count } else { positiveMap[found.index, default: 0] += bucket.count }
            }
        }
        if fits, let schema { exponential = (schema, positiveMap, negativeMap) }
        if let exponential {
            histogram.schema = exponential.schema
            (histogram.positiveSpans, histogram.positiveBuckets) = NativeHistogram.spansAndBuckets(from: exponential.positive)
            (histogram.negativeSpans, histogram.negativeBuckets) = NativeHistogram.spansAndBuckets(from: exponential.negative)
            return histogram
        }
        histogram.schema = NativeHistogram.customBucketsSchema
        let bounds = Set((positive + negative).flatMap { [$0.lower, $0.upper] }.filter(\.isFinite)).sorted()
        histogram.customValues = bounds
        var map: [Int32: Double] = [:]
        for bucket in positive + negative {
            let index = bucket.upper.isFinite ? bounds.firstIndex(of: bucket.upper)! : bounds.count
            map[Int32(index), default: 0] += bucket.count
        }
        (histogram.positiveSpans, histogram.positiveBuckets) = NativeHistogram.spansAndBuckets(from: map)
        return histogram
    }
}
