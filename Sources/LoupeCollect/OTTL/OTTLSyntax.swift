/// The parse tree of one statement or condition, before names are resolved: paths are still dotted
/// names and calls still names, so every later error can point at the column where the name stands.
struct OTTLSyntaxNode: Sendable {
    indirect enum Kind: Sendable {
        case string(String)
        case integer(Int64)
        case float(Double)
        case bool(Bool)
        case nilLiteral
        case bytes([UInt8])
        case list([OTTLSyntaxNode])
        case map([OTTLSyntaxMapEntry])
        case path(OTTLSyntaxPath)
        case enumName(String)
        case call(OTTLSyntaxCall)
        case arithmetic(OTTLArithmeticOperator, OTTLSyntaxNode, OTTLSyntaxNode)
        case negation(OTTLSyntaxNode)
    }

    var kind: Kind
    var column: Int

    /// What the node is, for messages that refuse it.
    var summary: String {
        switch kind {
        case .string(let value): "the string \"\(value)\""
        case .integer(let value): "the int \(value)"
        case .float(let value): "the double \(value)"
        case .bool(let value): "\(value)"
        case .nilLiteral: "nil"
        case .bytes: "a byte literal"
        case .list: "a list"
        case .map: "a map literal"
        case .path(let path): path.dottedName
        case .enumName(let name): name
        case .call(let call): "\(call.name)(...)"
        case .arithmetic: "an arithmetic expression"
        case .negation: "a negated value"
        }
    }
}

struct OTTLSyntaxMapEntry: Sendable {
    var key: String
    var value: OTTLSyntaxNode
}

/// `log.attributes["a"]["b"]`: dotted segments, then the keys.
struct OTTLSyntaxPath: Sendable {
    var segments: [String]
    var keys: [OTTLSyntaxNode]

    var dottedName: String { segments.joined(separator: ".") }
}

/// `name(arguments)[keys]`; only converters may carry keys.
struct OTTLSyntaxCall: Sendable {
    var name: String
    var arguments: [OTTLSyntaxArgument]
    var keys: [OTTLSyntaxNode]
    var column: Int
}

struct OTTLSyntaxArgument: Sendable {
    /// The name of a named argument (`depth = 2`), nil for a positional one.
    var name: String?
    var value: OTTLSyntaxNode
    var column: Int
}

indirect enum OTTLSyntaxCondition: Sendable {
    /// A value standing alone: valid only as `true`, `false` or a boolean converter.
    case value(OTTLSyntaxNode)
    case comparison(OTTLSyntaxNode, OTTLComparisonOperator, OTTLSyntaxNode)
    case not(OTTLSyntaxCondition)
    case and([OTTLSyntaxCondition])
    case or([OTTLSyntaxCondition])
}

struct OTTLSyntaxStatement: Sendable {
    var editor: OTTLSyntaxCall
    var condition: OTTLSyntaxCondition?
}

enum OTTLComparisonOperator: String, Sendable {
    case equal = "=="
    case notEqual = "!="
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
}

enum OTTLArithmeticOperator: String, Sendable {
    case add = "+"
    case subtract = "-"
    case multiply = "*"
    case divide = "/"
}
