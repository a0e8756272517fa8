/// An OTTL statement or condition that cannot run: it does not parse, names a path, enum or function
/// this context does not have, or passes a function arguments it refuses. Every such mistake is found
/// when the text is parsed, so a pipeline is refused before any telemetry reaches it.
public struct OTTLError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// Not OTTL's grammar: an unexpected token, an unterminated string, a bad escape or number.
        case syntax
        /// A path no context has (`log.atributes`, or `attributes` without its context).
        case unknownPath
        /// A path or enum of another context (`span.name` in a log statement).
        case wrongContext
        /// A function name OTTL does not have, or this build does not support.
        case unknownFunction
        /// An upper-case name that is no enum of this context.
        case unknownEnum
        /// An editor where a value or condition belongs, or a converter where a statement's editor belongs.
        case misplacedFunction
        /// Too few or too many arguments, an unknown or repeated argument name, or a literal of the wrong type.
        case arguments
        /// A literal argument of the right type that the function refuses: an invalid regex or glob, a negative limit.
        case invalidArgument
        /// A target that cannot be written (`metric.type`, a converter's result, a literal).
        case notSettable
        /// A value where a condition belongs (a path or string alone, a converter that is not boolean).
        case notACondition
    }

    public var code: Code
    /// 1-based, counted in Unicode scalars of the statement text; nil when no single place is at fault.
    public var column: Int?
    public var message: String

    public init(_ code: Code, column: Int?, _ message: String) {
        self.code = code
        self.column = column
        self.message = message
    }

    public var description: String {
        guard let column else { return message }
        return "column \(column): \(message)"
    }
}
