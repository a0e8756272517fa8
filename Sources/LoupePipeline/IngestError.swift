import LoupeModel

/// Why a write was refused. Each code maps to one HTTP status and one gRPC status,
/// so every protocol surface answers the same failure the same way.
public struct IngestError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// The request cannot be decoded or is invalid; retrying will not help (HTTP 400).
        case badRequest = "bad_request"
        /// The body exceeds the configured limit (HTTP 413).
        case tooLarge = "too_large"
        /// The write path is over its memory budget; retry after a pause (HTTP 503 + Retry-After).
        case overloaded = "overloaded"
        /// The server is shutting down or the WAL cannot take writes (HTTP 503).
        case unavailable = "unavailable"
        /// An unexpected failure writing the data (HTTP 500).
        case internalError = "internal"
    }

    public var code: Code
    public var message: String
    /// Seconds the client should wait before retrying, for retryable codes.
    public var retryAfterSeconds: Int?

    public init(_ code: Code, _ message: String, retryAfterSeconds: Int? = nil) {
        self.code = code
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { message }
}
