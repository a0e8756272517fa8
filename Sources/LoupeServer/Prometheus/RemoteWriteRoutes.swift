import HTTPTypes
import Hummingbird
import LoupeModel
import LoupePipeline
import LoupeWire
import NIOCore

/// `POST /api/v1/write`: Prometheus remote write 1.0 and 2.0 (snappy-compressed protobuf).
struct RemoteWriteRoutes: Sendable {
    let pipeline: IngestPipeline
    let limits: IngestLimits

    enum Version {
        case v1
        case v2
    }

    func register(on router: Router<BasicRequestContext>) {
        router.post("/api/v1/write") { request, _ in await handle(request) }
    }

    /// The message type from Content-Type (remote write 2.0: `proto=io.prometheus.write.v2.Request`).
    static func version(contentType: String?) -> Version? {
        let contentType = (contentType ?? "application/x-protobuf").lowercased()
        guard contentType.hasPrefix("application/x-protobuf") else { return nil }
        if contentType.contains("proto=io.prometheus.write.v2.request") { return .v2 }
        if contentType.contains("proto=") && !contentType.contains("proto=prometheus.writerequest") { return nil }
        return .v1
    }

    func handle(_ request: Request) async -> Response {
        let telemetry = pipeline.telemetry
        func refuse(_ status: HTTPResponse.Status, _ reason: String, _ message: String, retryAfter: Int? = nil) -> Response {
            telemetry.recordRejected(signal: .metrics, via: .prometheusRemoteWrite, reason: reason)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; charset=utf-8"
            if let retryAfter { headers[.retryAfter] = String(retryAfter) }
            return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: message + "\n")))
        }
        guard let version = Self.version(contentType: request.headers[.contentType]) else {
            return refuse(.unsupportedMediaType, "unsupported_media_type",
                          "unsupported Content-Type \"\(request.headers[.contentType] ?? "")\"; remote write takes application/x-protobuf with proto=prometheus.WriteRequest or proto=io.prometheus.write.v2.Request")
        }
        let encoding = request.headers[.contentEncoding]?.lowercased() ?? "snappy"
        guard encoding == "snappy" else {
            return refuse(.unsupportedMediaType, "unsupported_media_type", "unsupported Content-Encoding \"\(encoding)\"; remote write bodies are snappy-compressed")
        }
        let tenant: Tenant
        do {
            tenant = try Tenant.fromHeader(request.headers[HTTPField.Name.scopeOrgID])
        } catch {
            return refuse(.badRequest, "invalid_tenant", error.description)
        }
        let compressed: ByteBuffer
        do {
            compressed = try await request.body.collect(upTo: limits.maximumRequestBytes)
        } catch is NIOTooManyBytesError {
            return refuse(.contentTooLarge, "too_large", "request body exceeds the limit of \(limits.maximumRequestBytes) bytes")
        } catch {
            return refuse(.badRequest, "bad_request", "could not read the request body: \(error)")
        }
        let body: [UInt8]
        do {
            body = try compressed.withUnsafeReadableBytes { raw throws(SnappyError) in
                try Snappy.decompress(raw, maximumOutputBytes: limits.maximumRequestBytes)
            }
        } catch {
            if error.code == .outputTooLarge {
                return refuse(.contentTooLarge, "too_large", "decompressed body exceeds the limit of \(limits.maximumRequestBytes) bytes: \(error)")
            }
            return refuse(.badRequest, "bad_request", "malformed snappy body: \(error)")
        }
        let reservation: MemoryBudget.Reservation
        do {
            reservation = try pipeline.admit(bytes: body.count)
        } catch {
            return refuse(.serviceUnavailable, error.code.rawValue, error.message, retryAfter: error.retryAfterSeconds)
        }
        defer { pipeline.release(reservation) }
        let decoded: RemoteWriteRequest
        do {
            decoded = version == .v1
                ? try RemoteWriteV1.decode(body, labelCache: pipeline.stores.prometheus.remoteWriteLabelCache(for: tenant))
                : try RemoteWriteV2.decode(body)
        } catch {
            return refuse(.badRequest, "bad_request", "malformed remote write \(version == .v1 ? "1.0 WriteRequest" : "2.0 Request"): \(error)")
        }
        let receipt: PrometheusIngestReceipt
        do {
            receipt = try await pipeline.ingestPrometheus(
                decoded, tenant: tenant, canonicalEncoding: version == .v1 ? body : nil,
                compressedEncoding: version == .v1 ? Array(compressed.readableBytesView) : nil, requestBytes: body.count)
        } catch {
            return refuse(HTTPErrorResponse.status(for: error.code), error.code.rawValue, error.message, retryAfter: error.retryAfterSeconds)
        }
        var headers = HTTPFields()
        if version == .v2 {
            // Remote write 2.0: what was written, so senders can tell partial writes apart.
            headers[HTTPField.Name("X-Prometheus-Remote-Write-Samples-Written")!] = String(receipt.result.floatsAppended)
            headers[HTTPField.Name("X-Prometheus-Remote-Write-Histograms-Written")!] = String(receipt.result.histogramsAppended)
            headers[HTTPField.Name("X-Prometheus-Remote-Write-Exemplars-Written")!] = "0"
        }
        if receipt.refusedSamples > 0 {
            // As Prometheus and Mimir do: what could be appended was; the rest is reported as a
            // client error, which senders do not retry.
            telemetry.recordRejected(signal: .metrics, via: .prometheusRemoteWrite, reason: IngestError.Code.badRequest.rawValue)
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(status: .badRequest, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: receipt.message + "\n")))
        }
        return Response(status: .noContent, headers: headers)
    }
}
