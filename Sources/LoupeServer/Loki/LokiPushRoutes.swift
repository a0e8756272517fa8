import HTTPTypes
import Hummingbird
import LoupeModel
import LoupePipeline
import LoupeWire
import NIOCore

/// `POST /loki/api/v1/push` (and the legacy `/api/prom/push`): Loki's push API, protobuf
/// (snappy-compressed, as every Loki client sends it) or JSON (optionally gzip). 204 once durable.
struct LokiPushRoutes: Sendable {
    let pipeline: IngestPipeline
    let limits: IngestLimits

    func register(on router: Router<BasicRequestContext>) {
        router.post("/loki/api/v1/push") { request, _ in await handle(request) }
        router.post("/api/prom/push") { request, _ in await handle(request) }
    }

    func handle(_ request: Request) async -> Response {
        let telemetry = pipeline.telemetry
        func refuse(_ status: HTTPResponse.Status, _ reason: String, _ message: String, retryAfter: Int? = nil) -> Response {
            telemetry.recordRejected(signal: .logs, via: .lokiPush, reason: reason)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; charset=utf-8"
            if let retryAfter { headers[.retryAfter] = String(retryAfter) }
            return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: message + "\n")))
        }
        let contentType = (request.headers[.contentType] ?? "application/x-protobuf").lowercased()
        let isJSON = contentType.hasPrefix("application/json")
        guard isJSON || contentType.hasPrefix("application/x-protobuf") || contentType.hasPrefix("application/octet-stream") else {
            return refuse(.unsupportedMediaType, "unsupported_media_type",
                          "unsupported Content-Type \"\(contentType)\"; Loki push takes application/x-protobuf (snappy) or application/json")
        }
        let tenant: Tenant
        do {
            tenant = try Tenant.fromHeader(request.headers[HTTPField.Name.scopeOrgID])
        } catch {
            return refuse(.badRequest, "invalid_tenant", error.description)
        }
        var body: [UInt8]
        do {
            if isJSON {
                body = try await HTTPBody.collect(request, limit: limits.maximumRequestBytes)
            } else {
                // Protobuf bodies are snappy block-compressed whatever Content-Encoding says.
                body = try await HTTPBody.collectRaw(request, limit: limits.maximumRequestBytes)
            }
        } catch {
            return refuse(error.status, error.reason, error.message)
        }
        let requestBytes = body.count
        // The snappy protobuf as sent: the WAL keeps it as it is when nothing is changed.
        let sentProtobuf = isJSON ? nil : body
        if !isJSON {
            do {
                body = try Snappy.decompress(body, maximumOutputBytes: limits.maximumRequestBytes)
            } catch {
                if error.code == .outputTooLarge {
                    return refuse(.contentTooLarge, "too_large", "decompressed body exceeds the limit of \(limits.maximumRequestBytes) bytes: \(error)")
                }
                return refuse(.badRequest, "bad_request", "malformed snappy body: \(error)")
            }
        }
        let reservation: MemoryBudget.Reservation
        do {
            reservation = try pipeline.admit(bytes: body.count)
        } catch {
            return refuse(.serviceUnavailable, error.code.rawValue, error.message, retryAfter: error.retryAfterSeconds)
        }
        defer { pipeline.release(reservation) }
        var streams: [LogStream]
        do {
            streams = isJSON ? try LokiPush.decodeJSON(body) : try LokiPush.decodeProtobuf(body)
        } catch {
            return refuse(.badRequest, "bad_request", "malformed Loki push \(isJSON ? "JSON" : "PushRequest"): \(error)")
        }
        for (index, stream) in streams.enumerated() where stream.labels.isEmpty && !stream.entries.isEmpty {
            return refuse(.badRequest, "bad_request", "streams[\(index)]: a stream needs at least one label")
        }
        let truncated: Int
        do {
            truncated = try limits.logLineSize.apply(to: &streams)
        } catch {
            return refuse(.badRequest, "line_too_long", error.description)
        }
        if let limiter = limits.logIngestionRate {
            var lines = 0
            var bytes = 0
            for stream in streams {
                lines += stream.entries.count
                for entry in stream.entries { bytes += entry.line.utf8.count }
            }
            do {
                try limiter.admit(bytes, tenant: tenant)
            } catch {
                return refuse(
                    .tooManyRequests, "rate_limited",
                    "Ingestion rate limit exceeded for user \(tenant) (limit: \(Int(limiter.bytesPerSecond)) bytes/sec) while attempting to ingest '\(lines)' lines totaling '\(bytes)' bytes, reduce log volume or contact your Loupe administrator to see if the limit can be increased",
                    retryAfter: error.retryAfterSeconds)
            }
        }
        let receipt: LokiIngestReceipt
        do {
            receipt = try await pipeline.ingestLoki(
                streams, tenant: tenant, requestBytes: requestBytes, sentSnappyProtobuf: truncated == 0 ? sentProtobuf : nil)
        } catch {
            return refuse(HTTPErrorResponse.status(for: error.code), error.code.rawValue, error.message, retryAfter: error.retryAfterSeconds)
        }
        if receipt.tooOld > 0 {
            // As Loki does: what could be stored was; the rest is a client error, not retried.
            return refuse(.badRequest, IngestError.Code.badRequest.rawValue, receipt.message)
        }
        return Response(status: .noContent)
    }
}
