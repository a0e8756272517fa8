/// A TraceQL failure: a code saying which stage refused the query, a message, and for parse errors
/// the position of the offending token. Messages read like Tempo's own (`parse error at line 1, col 7:
/// syntax error: unexpected =`), which Grafana shows as they are.
public struct TraceQLError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The text is not TraceQL (HTTP 400).
        case parse
        /// The query parses but is not valid: mismatched types, an invalid regex, an aggregate over a
        /// constant (HTTP 400).
        case invalid
        /// The query is valid TraceQL that Tempo itself does not evaluate yet (`parent.` attributes,
        /// scalar filters between two aggregates); Tempo answers these with "... not yet supported".
        case unsupported
        /// The query is valid but cannot be evaluated by this engine (metrics queries in a search).
        case execution
    }

    public var code: Code
    public var message: String
    /// UTF-8 byte offset of the offending token in the query, for parse errors.
    public var offset: Int?
    /// 1-based line and column (in characters) of the offending token, for parse errors.
    public var line: Int?
    public var column: Int?

    public init(_ code: Code, _ message: String, offset: Int? = nil, line: Int? = nil, column: Int? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
        self.line = line
        self.column = column
    }

    /// A parse error at scalar index `index` of `source`, with the byte offset, line and column worked out from it.
    static func parse(_ message: String, at index: Int, in source: [Unicode.Scalar]) -> TraceQLError {
        var line = 1
        var column = 1
        var offset = 0
        for scalar in source.prefix(max(0, index)) {
            offset += UTF8.width(scalar)
            if scalar == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return TraceQLError(.parse, message, offset: offset, line: line, column: column)
    }

    public var description: String {
        switch code {
        case .parse:
            if let line, let column { return "parse error at line \(line), col \(column): \(message)" }
            return "parse error : \(message)"
        case .unsupported:
            return "\(message) not yet supported"
        case .invalid, .execution:
            return message
        }
    }
}
