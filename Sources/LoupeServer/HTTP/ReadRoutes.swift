import Foundation
import HTTPTypes
import Hummingbird
import LoupeModel
import LoupePipeline
import LoupeStorage
import LoupeWire
import NIOCore

/// `GET /loupe/api/v1/{traces,logs,metrics}?start=&end=`: what the tenant's store holds in a
/// time range, as an OTLP export request (JSON by default, protobuf when the client
/// asks for `application/x-protobuf`). The per-signal query APIs of later issues build
/// on the same store protocols.
struct ReadRoutes: Sendable {
    let stores: Stores

    func register(on router: Router<BasicRequestContext>) {
        for signal in Signal.allCases {
            router.get("/loupe/api/v1/\(signal)") { request, _ in
                await handle(request, signal: signal)
            }
        }
    }

    func handle(_ request: Request, signal: Signal) async -> Response {
        let wantsProtobuf = (request.headers[.accept] ?? "").contains("application/x-protobuf")
        let encoding: OTLPIngestor.Encoding = wantsProtobuf ? .protobuf : .json
        let tenant: Tenant
        let range: TimeRange
        do {
            tenant = try Tenant.fromHeader(request.headers[HTTPField.Name.scopeOrgID])
        } catch {
            return HTTPErrorResponse.make(status: .badRequest, encoding: encoding, message: error.description)
        }
        do {
            range = TimeRange(
                start: try TimeParameter.parse(request.uri.queryParameters["start"].map(String.init), name: "start") ?? 0,
                end: try TimeParameter.parse(request.uri.queryParameters["end"].map(String.init), name: "end") ?? .max)
        } catch {
            return HTTPErrorResponse.make(status: .badRequest, encoding: encoding, message: error.message)
        }
        let body: [UInt8]
        do {
            switch signal {
            case .traces:
                let data = try await stores.traces.read(tenant: tenant, range: range)
                body = wantsProtobuf ? OTLPProtobuf.encodeTraces(data) : OTLPJSON.encodeTraces(data)
            case .logs:
                let data = try await stores.logs.read(tenant: tenant, range: range)
                body = wantsProtobuf ? OTLPProtobuf.encodeLogs(data) : OTLPJSON.encodeLogs(data)
            case .metrics:
                let data = try await stores.metrics.read(tenant: tenant, range: range)
                body = wantsProtobuf ? OTLPProtobuf.encodeMetrics(data) : OTLPJSON.encodeMetrics(data)
            }
        } catch {
            return HTTPErrorResponse.make(status: .internalServerError, encoding: encoding, message: error.description)
        }
        var headers = HTTPFields()
        headers[.contentType] = wantsProtobuf ? "application/x-protobuf" : "application/json"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Time parameters as Prometheus and Loki accept them: RFC 3339, Unix seconds with an
/// optional fraction, or Unix nanoseconds (an integer of 16 digits or more).
enum TimeParameter {
    struct Failure: Error {
        var message: String
    }

    static func parse(_ text: String?, name: String) throws(Failure) -> UInt64? {
        guard let text, !text.isEmpty else { return nil }
        if text.allSatisfy(\.isNumber) {
            guard let integer = UInt64(text) else { throw Failure(message: "parameter \(name)=\"\(text)\" is out of range") }
            return text.count >= 16 ? integer : integer * 1_000_000_000
        }
        if let seconds = Double(text), seconds.isFinite, seconds >= 0 {
            return UInt64(seconds * 1e9)
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var date = formatter.date(from: text)
        if date == nil {
            formatter.formatOptions = [.withInternetDateTime]
            date = formatter.date(from: text)
        }
        guard let date, date.timeIntervalSince1970 >= 0 else {
            throw Failure(message: "parameter \(name)=\"\(text)\" is not RFC 3339, Unix seconds or Unix nanoseconds")
        }
        return UInt64(date.timeIntervalSince1970 * 1e9)
    }
}
