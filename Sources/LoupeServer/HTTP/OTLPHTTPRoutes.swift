import HTTPTypes
import Hummingbird
import LoupeModel
import LoupePipeline
import LoupeWire
import NIOCore

/// OTLP/HTTP: `POST /v1/traces`, `/v1/metrics`, `/v1/logs` with protobuf or JSON bodies,
/// optionally gzip- or deflate-compressed, per the OTLP specification.
struct OTLPHTTPRoutes: Sendable {
    let ingestor: OTLPIngestor

    func register(on router: Router<BasicRequestContext>) {
        for signal in Signal.allCases {
            router.post("/v1/\(signal)") { request, _ in
                await handle(request, signal: signal)
            }
        }
    }

    func handle(_ request: Request, signal: Signal) async -> Response {
        let telemetry = ingestor.pipeline.telemetry
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        let encoding: OTLPIngestor.Encoding
        if contentType.hasPrefix("application/x-protobuf") || contentType.hasPrefix("application/protobuf") {
            encoding = .protobuf
        } else if contentType.hasPrefix("application/json") {
            encoding = .json
        } else {
            telemetry.recordRejected(signal: signal, via: .otlpHTTPProtobuf, reason: "unsupported_media_type")
            return HTTPErrorResponse.make(
                status: .unsupportedMediaType, encoding: .json,
                message: "unsupported Content-Type \"\(contentType)\" for /v1/\(signal); use application/x-protobuf or application/json")
        }
        let ingestProtocol: IngestProtocol = encoding == .protobuf ? .otlpHTTPProtobuf : .otlpHTTPJSON

        let tenant: Tenant
        do {
            tenant = try Tenant.fromHeader(request.headers[HTTPField.Name.scopeOrgID])
        } catch {
            telemetry.recordRejected(signal: signal, via: ingestProtocol, reason: "invalid_tenant")
            return HTTPErrorResponse.make(status: .badRequest, encoding: encoding, message: error.description)
        }

        let body: [UInt8]
        do {
            body = try await HTTPBody.collect(request, limit: ingestor.limits.maximumRequestBytes)
        } catch {
            telemetry.recordRejected(signal: signal, via: ingestProtocol, reason: error.reason)
            return HTTPErrorResponse.make(status: error.status, encoding: encoding, message: error.message)
        }

        do {
            let receipt = try await ingestor.export(signal: signal, body: body, encoding: encoding, tenant: tenant, via: ingestProtocol)
            var headers = HTTPFields()
            headers[.contentType] = encoding == .protobuf ? "application/x-protobuf" : "application/json"
            return Response(
                status: .ok, headers: headers,
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: OTLPIngestor.responseBody(signal: signal, receipt: receipt, encoding: encoding))))
        } catch {
            return HTTPErrorResponse.make(for: error, encoding: encoding)
        }
    }
}

extension HTTPField.Name {
    static let scopeOrgID = HTTPField.Name("X-Scope-OrgID")!
}
