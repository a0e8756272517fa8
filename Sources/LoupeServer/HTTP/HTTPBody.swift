import Foundation
import HTTPTypes
import Hummingbird
import LoupeWire
import NIOCore

/// Reading a request body within the size limit, undoing its Content-Encoding.
enum HTTPBody {
    struct Failure: Error {
        var status: HTTPResponse.Status
        var reason: String
        var message: String
    }

    /// The body as sent, whatever its Content-Encoding (for formats that carry their own compression).
    static func collectRaw(_ request: Request, limit: Int) async throws(Failure) -> [UInt8] {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw Failure(status: .contentTooLarge, reason: "too_large", message: "request body of \(declared) bytes exceeds the limit of \(limit) bytes")
        }
        do {
            return Array(try await request.body.collect(upTo: limit).readableBytesView)
        } catch is NIOTooManyBytesError {
            throw Failure(status: .contentTooLarge, reason: "too_large", message: "request body exceeds the limit of \(limit) bytes")
        } catch {
            throw Failure(status: .badRequest, reason: "bad_request", message: "could not read the request body: \(error)")
        }
    }

    static func collect(_ request: Request, limit: Int) async throws(Failure) -> [UInt8] {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw Failure(status: .contentTooLarge, reason: "too_large", message: "request body of \(declared) bytes exceeds the limit of \(limit) bytes")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw Failure(status: .contentTooLarge, reason: "too_large", message: "request body exceeds the limit of \(limit) bytes")
        } catch {
            throw Failure(status: .badRequest, reason: "bad_request", message: "could not read the request body: \(error)")
        }
        let header = request.headers[.contentEncoding] ?? "identity"
        guard let encoding = ContentEncoding(header: header) else {
            throw Failure(
                status: .unsupportedMediaType, reason: "unsupported_media_type",
                message: "unsupported Content-Encoding \"\(header)\"; use \(ContentEncoding.supportedNames)")
        }
        if encoding == .identity { return Array(buffer.readableBytesView) }
        do throws(ContentEncoding.Failure) {
            return try encoding.decode(Array(buffer.readableBytesView), maximumOutputBytes: limit)
        } catch where error.tooLarge {
            throw Failure(status: .contentTooLarge, reason: "too_large", message: "decompressed request body exceeds the limit of \(limit) bytes")
        } catch {
            throw Failure(status: .badRequest, reason: "bad_request", message: "\(error.message)")
        }
    }
}
