/// A PromQL failure with the position it refers to, so clients can point at it.
///
/// Parse errors read like Prometheus's own (`1:14: parse error: unexpected "}"`), which
/// Grafana and promtool show as they are.
public struct PromQLError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The expression does not parse (HTTP 400, errorType "bad_data").
        case parse
        /// The expression parses but cannot be evaluated as written (HTTP 422, errorType "execution").
        case execution
        /// The query ran past its timeout (HTTP 503, errorType "timeout").
        case timeout
        /// The query would load more samples than allowed (HTTP 422, errorType "execution").
        case tooManySamples
        /// The query was cancelled (HTTP 503, errorType "canceled").
        case canceled
        /// The expression parses but does not suit the request, e.g. a range vector for a range
        /// query (HTTP 400, errorType "bad_data", as Prometheus rejects it with the parameters).
        case invalidRequest
    }

    /// A span in the query text: byte offsets, end exclusive.
    public struct Position: Sendable, Equatable {
        public var start: Int
        public var end: Int

        public init(start: Int, end: Int) {
            self.start = start
            self.end = end
        }
    }

    public var kind: Kind
    public var message: String
    public var position: Position?
    /// "line:column" (1-based) of `position.start` in the query, when known.
    public var lineColumn: (line: Int, column: Int)?

    public init(_ kind: Kind, _ message: String, position: Position? = nil, in query: String? = nil) {
        self.kind = kind
        self.message = message
        self.position = position
        if let position, let query {
            var line = 1
            var column = 1
            for (offset, byte) in query.utf8.enumerated() where offset < position.start {
                if byte == UInt8(ascii: "\n") {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
            }
            lineColumn = (line, column)
        } else {
            lineColumn = nil
        }
    }

    public var description: String {
        switch kind {
        case .parse:
            if let lineColumn { return "\(lineColumn.line):\(lineColumn.column): parse error: \(message)" }
            return "parse error: \(message)"
        default:
            return message
        }
    }

    public static func == (lhs: PromQLError, rhs: PromQLError) -> Bool {
        lhs.kind == rhs.kind && lhs.message == rhs.message && lhs.position == rhs.position
            && lhs.lineColumn?.line == rhs.lineColumn?.line && lhs.lineColumn?.column == rhs.lineColumn?.column
    }
}
