import Foundation
import LoupeModel
import LoupeQuery
@testable import LoupeServer
import LoupeWire

/// A logqltest backend that goes through a running server: `load` is one Loki push (protobuf,
/// snappy), `clear` moves to a fresh tenant (`X-Scope-OrgID`), and evals are `POST
/// /loki/api/v1/query` and `/loki/api/v1/query_range`, whose JSON is turned back into values.
struct LogQLWireTestBackend: LogQLTestBackend {
    let server: TestServer
    let tenantPrefix: String
    private(set) var tenant: String
    private var generation = 0
    /// Pushes that were not answered 204, as "status: message".
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

    mutating func load(_ entries: [LogQLTestScript.LoadedEntry]) async {
        var order: [Labels] = []
        var byStream: [Labels: [LogEntry]] = [:]
        for entry in entries {
            let labels = Labels(entry.labels)
            if byStream[labels] == nil { order.append(labels) }
            byStream[labels, default: []].append(LogEntry(timestamp: entry.timestamp, line: entry.line, metadata: entry.metadata))
        }
        let streams = order.map { LogStream(labels: $0, entries: byStream[$0]!) }
        guard !streams.isEmpty else { return }
        do {
            let reply = try await server.request(
                "POST", server.httpBase + "/loki/api/v1/push", body: Snappy.compress(LokiPush.encodeProtobuf(streams)),
                headers: ["Content-Type": "application/x-protobuf", "X-Scope-OrgID": tenant])
            if reply.status != 204 { loadErrors.append("\(reply.status): \(reply.text.trimmingCharacters(in: .whitespacesAndNewlines))") }
        } catch {
            loadErrors.append("request failed: \(error)")
        }
    }

    func evaluate(_ query: String, kind: LogQLTestScript.Eval.Kind) async -> Result<LogQLValue, LogQLTestFailure> {
        let path: String
        var parameters = [("query", query)]
        switch kind {
        case .instant(let time):
            path = "/loki/api/v1/query"
            parameters.append(("time", String(time)))
        case .range(let start, let end, let step):
            path = "/loki/api/v1/query_range"
            parameters += [("start", String(start)), ("end", String(end)), ("step", String(Double(step) / 1e9))]
        }
        let body = parameters.map { "\($0.0)=\(PromQLWireTestBackend.formEncode($0.1))" }.joined(separator: "&")
        do {
            let reply = try await server.request(
                "POST", server.httpBase + path, body: Array(body.utf8),
                headers: ["Content-Type": "application/x-www-form-urlencoded", "X-Scope-OrgID": tenant])
            guard reply.status == 200 else { return .failure(LogQLTestFailure(reply.text)) }
            return .success(try Self.value(reply.body))
        } catch {
            return .failure(LogQLTestFailure("\(error)"))
        }
    }

    struct DecodingFailure: Error, CustomStringConvertible {
        var description: String
    }

    static func value(_ body: [UInt8]) throws -> LogQLValue {
        guard let root = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], root["status"] as? String == "success",
            let data = root["data"] as? [String: Any], let type = data["resultType"] as? String
        else { throw DecodingFailure(description: "unexpected reply: \(String(decoding: body, as: UTF8.self))") }
        switch type {
        case "scalar":
            let point = try Self.point(data["result"])
            return .scalar(timestamp: point.timestamp, value: point.value)
        case "vector":
            let result = data["result"] as? [[String: Any]] ?? []
            return .vector(try result.map { item in
                let point = try Self.point(item["value"])
                return PromQLSample(labels: try Self.labels(item["metric"]), value: point.value, timestamp: point.timestamp)
            })
        case "matrix":
            let result = data["result"] as? [[String: Any]] ?? []
            return .matrix(try result.map { item in
                let values = item["values"] as? [Any] ?? []
                return PromQLSeries(labels: try Self.labels(item["metric"]), floats: try values.map { value in
                    let point = try Self.point(value)
                    return FloatSample(timestamp: point.timestamp, value: point.value)
                })
            })
        default:
            throw DecodingFailure(description: "unexpected resultType \(type)")
        }
    }

    /// `[<seconds>, "<value>"]`, timestamps to milliseconds.
    static func point(_ any: Any?) throws -> (timestamp: Int64, value: Double) {
        guard let pair = any as? [Any], pair.count == 2, let seconds = (pair[0] as? NSNumber)?.doubleValue, let text = pair[1] as? String,
            let value = SeriesDescription.parseNumber(text)
        else { throw DecodingFailure(description: "bad point \(String(describing: any))") }
        return (Int64((seconds * 1000).rounded()), value)
    }

    /// Label sets with empty values kept (they are significant in LogQL results).
    static func labels(_ any: Any?) throws -> Labels {
        guard let object = any as? [String: String] else { throw DecodingFailure(description: "bad label set \(String(describing: any))") }
        return Labels(presorted: object.map { Label($0.key, $0.value) }.sorted { Labels.compareBytes($0.name, $1.name) < 0 })
    }
}
