/// A LogQL failure. Parse errors read like Loki's own (`parse error at line 1, col 15: syntax
/// error: unexpected ip`), which Grafana and logcli show as they are.
public struct LogQLError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The query does not parse or is not valid LogQL (HTTP 400).
        case parse
        /// The query parses but cannot be evaluated (HTTP 400, as Loki answers).
        case execution
        /// A metric query whose samples still carry `__error__` (Loki's "pipeline error", HTTP 400).
        case pipeline
        /// A limit was exceeded: series, entries, time (HTTP 400 / 503).
        case limit
        case timeout
    }

    public var kind: Kind
    public var message: String
    /// 1-based line and column of the offending token, for parse errors.
    public var line: Int?
    public var column: Int?

    public init(_ kind: Kind, _ message: String, line: Int? = nil, column: Int? = nil) {
        self.kind = kind
        self.message = message
        self.line = line
        self.column = column
    }

    /// A parse error at byte `offset` of `query`.
    static func parse(_ message: String, at offset: Int, in query: [UInt8]) -> LogQLError {
        var line = 1
        var column = 1
        for byte in query.prefix(offset) {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return LogQLError(.parse, message, line: line, column: column)
    }

    public var description: String {
        if kind == .parse, let line, let column { return "parse error at line \(line), col \(column): \(message)" }
        if kind == .parse { return "parse error : \(message)" }
        return message
    }
}
