import AsyncHTTPClient
import LoupeWire
import NIOCore

/// One OTLP/HTTP request per payload (protobuf, already compressed as `compression` says). 2xx delivers; 429, 502, 503 and
/// 504 are retried (after `Retry-After` when given), as are connection failures and other 5xx;
/// any other 4xx is a refusal, as the OTLP specification says.
struct OTLPHTTPSender: OTLPSender {
    let client: HTTPClient
    let url: String
    let headers: [(name: String, value: String)]
    let compression: ContentEncoding
    let timeout: Duration

    func send(_ payload: ArraySlice<UInt8>, bearer: String?) async -> SendOutcome {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-protobuf")
        request.headers.add(name: "User-Agent", value: "loupe-agent")
        for header in headers { request.headers.add(name: header.name, value: header.value) }
        if let bearer { request.headers.replaceOrAdd(name: "Authorization", value: "Bearer " + bearer) }
        if compression == .identity {
            request.body = .bytes(ByteBuffer(bytes: payload))
        } else {
            request.headers.add(name: "Content-Encoding", value: compression.headerValue)
            request.body = .bytes(ByteBuffer(bytes: payload))
        }
        do {
            let response = try await client.execute(request, timeout: .seconds(max(1, timeout.components.seconds)))
            let body = try? await response.body.collect(upTo: 64 << 10)
            let text = body.map { String(buffer: $0) } ?? ""
            switch response.status.code {
            case 200..<300:
                // A JSON answer would be to a JSON request; this sends protobuf.
                guard let body, let partial = OTLPPartialSuccess.decode(response: Array(buffer: body)) else { return .delivered }
                return .partiallyDelivered(rejected: Int(clamping: partial.rejected), reason: partial.message)
            case 429, 502, 503, 504:
                let after = response.headers.first(name: "Retry-After").flatMap(Int.init).map { Duration.seconds(min($0, 300)) }
                return .retry("HTTP \(response.status.code): \(text.prefix(200))", after: after)
            case 401: return .unauthorized("HTTP 401: \(text.prefix(300))")
            case 400..<500: return .refused("HTTP \(response.status.code): \(text.prefix(300))")
            default: return .retry("HTTP \(response.status.code): \(text.prefix(200))", after: nil)
            }
        } catch {
            return .retry("\(error)", after: nil)
        }
    }
}
