/// HTTP `Content-Encoding`s of OTLP/HTTP bodies, as OpenTelemetry's SDKs and Collector send them:
/// `gzip` (and `x-gzip`), `deflate` (zlib), `zstd`, `snappy` and `x-snappy-framed`. For `snappy` the
/// Collector long sent the framing format and now sends the block format; a body is read as framed
/// when it starts with the framing format's stream identifier, otherwise as a block, as the
/// Collector itself reads it.
public enum ContentEncoding: Sendable, Equatable {
    case identity, gzip, deflate, zstd, snappy, snappyFramed

    /// The encoding a header value names (case-insensitive, spaces ignored); nil when unknown.
    public init?(header: String) {
        switch header.lowercased().filter({ $0 != " " }) {
        case "", "identity": self = .identity
        case "gzip", "x-gzip": self = .gzip
        case "deflate": self = .deflate
        case "zstd": self = .zstd
        case "snappy": self = .snappy
        case "x-snappy-framed": self = .snappyFramed
        default: return nil
        }
    }

    /// What a `Content-Encoding` header says for this encoding.
    public var headerValue: String {
        switch self {
        case .identity: "identity"
        case .gzip: "gzip"
        case .deflate: "deflate"
        case .zstd: "zstd"
        case .snappy: "snappy"
        case .snappyFramed: "x-snappy-framed"
        }
    }

    public static let supportedNames = "gzip, deflate, zstd, snappy, x-snappy-framed or identity"

    /// Why a body did not decode.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// Decoded, the body is over the limit (HTTP 413).
        public var tooLarge: Bool
        public var message: String
        public var description: String { message }
    }

    /// The body, decoded, of at most `maximumOutputBytes` bytes.
    public func decode(_ body: [UInt8], maximumOutputBytes: Int) throws(Failure) -> [UInt8] {
        switch self {
        case .identity:
            guard body.count <= maximumOutputBytes else { throw Failure(tooLarge: true, message: "the body is over \(maximumOutputBytes) bytes") }
            return body
        case .gzip, .deflate:
            do throws(GzipError) {
                return self == .gzip ? try Gzip.decompress(body, maximumOutputBytes: maximumOutputBytes)
                    : try Gzip.decompressDeflate(body, maximumOutputBytes: maximumOutputBytes)
            } catch {
                throw Failure(tooLarge: error.code == .outputTooLarge, message: "malformed \(headerValue) body: \(error)")
            }
        case .zstd:
            do throws(ZstdError) {
                return try Zstd.decompress(body, maximumOutputBytes: maximumOutputBytes)
            } catch {
                throw Failure(tooLarge: error.code == .outputTooLarge, message: "malformed zstd body: \(error)")
            }
        case .snappy, .snappyFramed:
            do throws(SnappyError) {
                let framed = self == .snappyFramed || body.starts(with: Snappy.streamIdentifier)
                return framed ? try Snappy.decompressFramed(body, maximumOutputBytes: maximumOutputBytes)
                    : try Snappy.decompress(body, maximumOutputBytes: maximumOutputBytes)
            } catch {
                throw Failure(tooLarge: error.code == .outputTooLarge, message: "malformed \(headerValue) body: \(error)")
            }
        }
    }

    /// The body encoded (gzip at level 1: the agent's requests are sent once, soon). `snappy` is
    /// written in the framing format, which Collectors of every version read under that name.
    public func encode(_ body: ArraySlice<UInt8>) -> [UInt8] {
        switch self {
        case .identity: Array(body)
        case .gzip: Gzip.compress(body, level: 1)
        case .deflate: Gzip.compressDeflate(Array(body))
        case .zstd: Zstd.compress(body)
        case .snappy, .snappyFramed: Snappy.compressFramed(Array(body))
        }
    }
}
