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

    /// The latest instant a parameter may name: the largest Unix nanosecond a UInt64 holds (year 2554).
    static let maximumSeconds = Double(UInt64.max / 1_000_000_000)

    static func parse(_ text: String?, name: String) throws(Failure) -> UInt64? {
        guard let text, !text.isEmpty else { return nil }
        let outOfRange = Failure(message: "parameter \(name)=\"\(text)\" is out of range (Unix time from 0 to \(UInt64(maximumSeconds)) seconds)")
        if text.allSatisfy(\.isASCII) && text.allSatisfy(\.isNumber) {
            guard let integer = UInt64(text) else { throw outOfRange }
            if text.count >= 16 { return integer }
            let (nanoseconds, overflow) = integer.multipliedReportingOverflow(by: 1_000_000_000)
            guard !overflow else { throw outOfRange }
            return nanoseconds
        }
        if let seconds = Double(text) {
            guard seconds.isFinite, seconds >= 0, seconds <= maximumSeconds else { throw outOfRange }
            return UInt64(seconds * 1e9)
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var date = formatter.date(from: text)
        if date == nil {
            formatter.formatOptions = [.withInternetDateTime]
            date = formatter.date(from: text)
        }
        guard let date else {
            throw Failure(message: "parameter \(name)=\"\(text)\" is not RFC 3339, Unix seconds or Unix nanoseconds")
        }
        let seconds = date.timeIntervalSince1970
        guard seconds >= 0, seconds <= maximumSeconds else { throw outOfRange }
        return UInt64(seconds * 1e9)
    }
}
