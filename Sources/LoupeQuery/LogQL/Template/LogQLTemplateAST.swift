// The parse tree of a template, shaped like Go's text/template/parse nodes. Each node keeps its byte
// position so execution errors can name "line:LINE:COL" and print the node as Go does.

extension LogQLTemplate {
    indirect enum Node: Sendable {
        case text(String)
        case action(Pipeline, position: Int)
        case branch(Branch)
        case invoke(name: String, pipeline: Pipeline?, position: Int)
        case breakLoop(position: Int)
        case continueLoop(position: Int)
    }

    struct Branch: Sendable {
        enum Kind: Sendable { case ifBranch, withBranch, rangeBranch }

        var kind: Kind
        var pipeline: Pipeline
        var list: [Node]
        var elseList: [Node]?
        var position: Int { pipeline.position }
    }

    struct Pipeline: Sendable {
        var position: Int
        var isAssign = false
        var declarations: [VariableName] = []
        var commands: [Command] = []
    }

    struct VariableName: Sendable {
        var name: String
        var position: Int
    }

    struct Command: Sendable {
        var position: Int
        var arguments: [Operand] = []
        /// The compiled regex of a string-literal pattern argument (regexReplaceAll and friends), built once.
        var literalRegex: CompiledRegex?
    }

    /// A number literal with every type it can take (Go's NumberNode simulates ideal constants).
    struct NumberLiteral: Sendable {
        /// What the constant is where no type is asked for (Go's idealConstant), decided at parse time.
        enum Ideal: Sendable { case int, float, overflowsInt, complex, none }

        var text: String
        var ideal: Ideal = .none
        var isInt = false
        var isUint = false
        var isFloat = false
        var isComplex = false
        var int: Int64 = 0
        var uint: UInt64 = 0
        var float: Double = 0
    }

    indirect enum Operand: Sendable {
        case field([String], position: Int)
        case variable([String], position: Int)
        case function(FunctionID, position: Int)
        case dot(position: Int)
        case nilConstant(position: Int)
        case bool(Bool, position: Int)
        case number(NumberLiteral, position: Int)
        case string(quoted: String, text: String, position: Int)
        case pipeline(Pipeline)
        case chain(Operand, fields: [String], position: Int)

        var position: Int {
            switch self {
            case .field(_, let position), .variable(_, let position), .function(_, let position), .dot(let position),
                .nilConstant(let position), .bool(_, let position), .number(_, let position), .string(_, _, let position),
                .chain(_, _, let position):
                return position
            case .pipeline(let pipeline):
                return pipeline.position
            }
        }
    }

    /// A function known to the parser, by its index in the function table.
    struct FunctionID: Sendable, Equatable {
        var index: Int
        var name: String { LogQLTemplate.functions[index].name }
    }
}

// MARK: - Printing nodes as Go does (error contexts)

extension LogQLTemplate.Operand {
    var goDescription: String {
        switch self {
        case .field(let names, _): return names.map { "." + $0 }.joined()
        case .variable(let names, _): return names.joined(separator: ".")
        case .function(let id, _): return id.name
        case .dot: return "."
        case .nilConstant: return "nil"
        case .bool(let flag, _): return flag ? "true" : "false"
        case .number(let literal, _): return literal.text
        case .string(let quoted, _, _): return quoted
        case .pipeline(let pipeline): return pipeline.goDescription
        case .chain(let operand, let fields, _):
            var text = operand.goDescription
            if case .pipeline = operand { text = "(" + text + ")" }
            return text + fields.map { "." + $0 }.joined()
        }
    }
}

extension LogQLTemplate.Command {
    var goDescription: String {
        arguments.map { argument in
            if case .pipeline(let pipeline) = argument { return "(" + pipeline.goDescription + ")" }
            return argument.goDescription
        }.joined(separator: " ")
    }
}

extension LogQLTemplate.Pipeline {
    var goDescription: String {
        var text = ""
        if !declarations.isEmpty {
            text = declarations.map(\.name).joined(separator: ", ") + (isAssign ? " = " : " := ")
        }
        return text + commands.map(\.goDescription).joined(separator: " | ")
    }
}

extension LogQLTemplate.Node {
    var goDescription: String {
        switch self {
        case .text(let text): return text
        case .action(let pipeline, _): return "{{" + pipeline.goDescription + "}}"
        case .branch(let branch):
            let keyword: String
            switch branch.kind {
            case .ifBranch: keyword = "if"
            case .withBranch: keyword = "with"
            case .rangeBranch: keyword = "range"
            }
            var text = "{{" + keyword + " " + branch.pipeline.goDescription + "}}" + branch.list.map(\.goDescription).joined()
            if let elseList = branch.elseList { text += "{{else}}" + elseList.map(\.goDescription).joined() }
            return text + "{{end}}"
        case .invoke(let name, let pipeline, _):
            var text = "{{template " + LogQLTemplate.GoText.quote(name)
            if let pipeline { text += " " + pipeline.goDescription }
            return text + "}}"
        case .breakLoop: return "{{break}}"
        case .continueLoop: return "{{continue}}"
        }
    }
}
