import HTTPTypes
import Hummingbird
import LoupePipeline
import LoupeWire
import NIOCore

/// Error responses as OTLP prescribes: a `google.rpc.Status` body in the request's encoding.
enum HTTPErrorResponse {
    static func make(for error: IngestError, encoding: OTLPIngestor.Encoding) -> Response {
        var response = make(status: status(for: error.code), encoding: encoding, message: error.message)
        if let retryAfter = error.retryAfterSeconds {
            response.headers[.retryAfter] = String(retryAfter)
        }
        return response
    }

    static func status(for code: IngestError.Code) -> HTTPResponse.Status {
        switch code {
        case .badRequest: .badRequest
        case .tooLarge: .contentTooLarge
        case .overloaded, .unavailable: .serviceUnavailable
        case .internalError: .internalServerError
        }
    }

    static func make(status: HTTPResponse.Status, encoding: OTLPIngestor.Encoding, message: String) -> Response {
        var headers = HTTPFields()
        let body: [UInt8]
        // google.rpc.Status codes: 3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED, 14 UNAVAILABLE, 13 INTERNAL.
        let rpcCode: Int32 = switch status.code {
        case 400, 415: 3
        case 413: 8
        case 503: 14
        default: 13
        }
        switch encoding {
        case .protobuf:
            headers[.contentType] = "application/x-protobuf"
            body = OTLPProtobuf.encodeStatus(code: rpcCode, message: message)
        case .json:
            headers[.contentType] = "application/json"
            body = OTLPJSON.encodeStatus(code: rpcCode, message: message)
        }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
