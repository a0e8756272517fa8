// Execution of a parsed template, following Go's text/template exec: walk the tree appending text,
// evaluate pipelines command by command (the previous value becomes the final argument), resolve
// fields on the data (label lookups with Loki's missingkey=zero: a missing label is ""), call
// functions with Go's argument checking and conversions, and report errors as Go formats them.

extension LogQLTemplate {
    /// A parameter's Go type, for argument conversion and "wrong type" errors.
    enum ParameterType: Sendable, Equatable {
        case string
        case int
        case int64
        case float64
        case time
        /// interface{}: anything, untyped constants take their default type.
        case any
        /// reflect.Value: the builtins' raw operands.
        case value

        var goName: String {
            switch self {
            case .string: return "string"
            case .int: return "int"
            case .int64: return "int64"
            case .float64: return "float64"
            case .time: return "time.Time"
            case .any: return "interface {}"
            case .value: return "reflect.Value"
            }
        }
    }

    /// What a function sees of the entry besides its arguments.
    struct FunctionEnvironment {
        var line: String
        var timestampNanoseconds: Int64
        var nowNanoseconds: Int64?
        var literalRegex: CompiledRegex?
    }

    struct FunctionFailure: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    struct Function: Sendable {
        enum Special: Sendable { case none, and, or, call }

        var name: String
        var parameters: [ParameterType]
        var variadic: ParameterType?
        var special: Special = .none
        var body: @Sendable (inout FunctionEnvironment, [Value]) throws(FunctionFailure) -> Value
    }

    /// An execution error, before it is formatted with the template's name and the node's location.
    struct ExecutionFailure: Error {
        var message: String
        var position: Int
        var context: String
        /// The template executing when the error arose, when it is not the main one.
        var templateName: String?
    }

    /// The compiled template a render runs.
    struct Program: Sendable {
        var name: String
        var source: String
        var root: [Node]
        var definitions: [String: [Node]]
        /// The bytes of text in the main list: a lower bound of the output's size.
        var literalBytes: Int

        init(name: String, source: String, root: [Node], definitions: [String: [Node]]) {
            self.name = name
            self.source = source
            self.root = root
            self.definitions = definitions
            literalBytes = root.reduce(0) { total, node in
                if case .text(let text) = node { return total + text.utf8.count }
                return total
            }
        }
    }

    struct Evaluator {
        /// Go allows 100,000 nested {{template}} calls; a Swift thread's stack does not.
        static let maximumTemplateDepth = 100
        /// Nested branches, parenthesized pipelines and template calls, together: bounds the stack a render uses.
        static let maximumNesting = 128
        /// Beyond Go: a render stops rather than loop forever or fill memory (range over a huge number, repeat in a loop).
        static let maximumIterations = 10_000_000
        static let maximumOutputBytes = 64 << 20

        enum Flow { case normal, breakLoop, continueLoop }

        let program: Program
        let context: LogQLTemplateContext
        var environment: FunctionEnvironment
        var output = ""
        private var variables: [(name: String, value: Value)] = []
        private var templateName: String
        private var depth = 0
        /// Whether dot is an element of a fromJson slice or map: Go types it interface{} in error messages.
        private var dotIsInterfaceElement = false
        private var nesting = 0
        private var iterations = 0
        /// The main template's "$" once a template assigns to it.
        private var assignedRoot: Value?

        init(program: Program, context: LogQLTemplateContext) {
            self.program = program
            self.context = context
            environment = FunctionEnvironment(line: context.line, timestampNanoseconds: context.timestampNanoseconds,
                                              nowNanoseconds: context.nowNanoseconds)
            templateName = program.name
        }

        mutating func run() -> Result<String, LogQLTemplateError> {
            // "$" of the main template is the data; it is looked up last rather than stored.
            variables = []
            output.reserveCapacity(program.literalBytes + 32)
            do {
                _ = try walk(dot: .labels, program.root)
                return .success(output)
            } catch {
                return .failure(format(error))
            }
        }

        private func format(_ failure: ExecutionFailure) -> LogQLTemplateError {
            let source = Array(program.source.utf8)
            let position = min(max(0, failure.position), source.count)
            var line = 1
            var lineStart = 0
            for index in 0..<position where source[index] == UInt8(ascii: "\n") {
                line += 1
                lineStart = index + 1
            }
            let column = position - lineStart
            return LogQLTemplateError(
                "template: \(program.name):\(line):\(column): executing \(GoText.quote(failure.templateName ?? program.name)) at <\(failure.context)>: \(failure.message)")
        }

        // MARK: Labels

        private func labelPairs() -> [(name: String, value: String)] {
            guard let enumerate = context.labels else { return [] }
            return enumerate().sorted { GoText.bytesLess($0.name, $1.name) }
        }

        /// The data as a value a function or the printer can take apart.
        private func materialized(_ value: Value) -> Value {
            if case .labels = value { return .stringMap(labelPairs()) }
            return value
        }

        private func truth(_ value: Value) -> Bool {
            value.truth(labelCount: { context.labels?().count ?? 1 })
        }

        // MARK: Variables

        private func variable(_ name: String, at position: Int, context description: @autoclosure () -> String) throws(ExecutionFailure) -> Value {
            var index = variables.count - 1
            while index >= 0 {
                if variables[index].name == name { return variables[index].value }
                index -= 1
            }
            if name == "$" && depth == 0 { return assignedRoot ?? .labels }
            throw ExecutionFailure(message: "undefined variable: \(name)", position: position, context: description())
        }

        private mutating func assign(_ name: String, _ value: Value, at position: Int, context description: @autoclosure () -> String) throws(ExecutionFailure) {
            for index in variables.indices.reversed() where variables[index].name == name {
                variables[index].value = value
                return
            }
            if name == "$" && depth == 0 {
                assignedRoot = value
                return
            }
            throw ExecutionFailure(message: "undefined variable: \(name)", position: position, context: description())
        }

        // MARK: Walking

        mutating func walk(dot: Value, _ nodes: [Node]) throws(ExecutionFailure) -> Flow {
            for node in nodes {
                let flow = try walk(dot: dot, node)
                if flow != .normal { return flow }
            }
            return .normal
        }

        private mutating func walk(dot: Value, _ node: Node) throws(ExecutionFailure) -> Flow {
            switch node {
            case .text(let text):
                output += text
                try checkOutputSize(at: 0)
            case .action(let pipeline, let position):
                // Variables an action declares persist until the enclosing "end"; a declaration prints nothing.
                let value = try evaluatePipeline(dot: dot, pipeline)
                if pipeline.declarations.isEmpty {
                    if case .labels = value {
                        GoPrinter.appendActionValue(materialized(value), to: &output)
                    } else {
                        GoPrinter.appendActionValue(value, to: &output)
                    }
                    try checkOutputSize(at: position)
                }
            case .branch(let branch):
                return try walkBranch(dot: dot, branch)
            case .invoke(let name, let pipeline, let position):
                try walkTemplate(dot: dot, name: name, pipeline: pipeline, position: position, node: node)
            case .breakLoop:
                return .breakLoop
            case .continueLoop:
                return .continueLoop
            }
            return .normal
        }

        private mutating func checkOutputSize(at position: Int) throws(ExecutionFailure) {
            if output.utf8.count > Evaluator.maximumOutputBytes {
                throw ExecutionFailure(message: "output exceeds \(Evaluator.maximumOutputBytes) bytes", position: position, context: "")
            }
        }

        private mutating func enterNesting(at position: Int, context description: @autoclosure () -> String) throws(ExecutionFailure) {
            if nesting >= Evaluator.maximumNesting {
                throw ExecutionFailure(message: "exceeded maximum nesting depth (\(Evaluator.maximumNesting))", position: position,
                                       context: description())
            }
            nesting += 1
        }

        private mutating func walkBranch(dot: Value, _ branch: Branch) throws(ExecutionFailure) -> Flow {
            try enterNesting(at: branch.position, context: branch.pipeline.goDescription)
            defer { nesting -= 1 }
            let mark = variables.count
            defer { variables.removeSubrange(mark...) }
            if branch.kind == .rangeBranch { return try walkRange(dot: dot, branch) }
            let value = try evaluatePipeline(dot: dot, branch.pipeline)
            if truth(value) {
                if branch.kind == .withBranch {
                    let savedInterface = dotIsInterfaceElement
                    dotIsInterfaceElement = false
                    defer { dotIsInterfaceElement = savedInterface }
                    return try walk(dot: value, branch.list)
                }
                return try walk(dot: dot, branch.list)
            } else if let elseList = branch.elseList {
                return try walk(dot: dot, elseList)
            }
            return .normal
        }

        private mutating func walkRange(dot: Value, _ branch: Branch) throws(ExecutionFailure) -> Flow {
            let pipeline = branch.pipeline
            let value = materialized(try evaluatePipeline(dot: dot, pipeline))
            let mark = variables.count
            let declarations = pipeline.declarations

            // One iteration: set the range variables, walk the body; false stops the loop ({{break}}).
            func iterate(_ evaluator: inout Evaluator, index: Value, element: Value) throws(ExecutionFailure) -> Bool {
                if !declarations.isEmpty {
                    if pipeline.isAssign {
                        let target = declarations[0]
                        try evaluator.assign(target.name, declarations.count > 1 ? index : element, at: target.position,
                                             context: target.name)
                    } else {
                        evaluator.variables[evaluator.variables.count - 1].value = element
                    }
                }
                if declarations.count > 1 {
                    if pipeline.isAssign {
                        try evaluator.assign(declarations[1].name, element, at: declarations[1].position, context: declarations[1].name)
                    } else {
                        evaluator.variables[evaluator.variables.count - 2].value = index
                    }
                }
                defer { evaluator.variables.removeSubrange(mark...) }
                evaluator.iterations += 1
                if evaluator.iterations > Evaluator.maximumIterations {
                    throw ExecutionFailure(message: "range exceeded \(Evaluator.maximumIterations) iterations", position: pipeline.position,
                                           context: pipeline.goDescription)
                }
                let savedInterface = evaluator.dotIsInterfaceElement
                evaluator.dotIsInterfaceElement = interfaceElements
                defer { evaluator.dotIsInterfaceElement = savedInterface }
                return try evaluator.walk(dot: element, branch.list) != .breakLoop
            }

            var interfaceElements = false
            switch value {
            case .list, .map: interfaceElements = true
            default: break
            }
            var ran = false
            switch value {
            case .integer(let count, let kind):
                if declarations.count > 1 {
                    let last = Evaluator.lastEvaluated(pipeline)
                    throw ExecutionFailure(message: "can't use \(GoPrinter.sprint([value])) to iterate over more than one variable",
                                           position: last.position, context: last.goDescription)
                }
                var number: Int64 = 0
                while number < count {
                    ran = true
                    if try !iterate(&self, index: .missing, element: .integer(number, kind)) { break }
                    number += 1
                }
            case .list(let items):
                for (index, item) in items.enumerated() {
                    ran = true
                    if try !iterate(&self, index: .int(Int64(index)), element: item.isMissing ? .nilInterface : item) { break }
                }
            case .map(let entries):
                for key in entries.keys.sorted(by: GoText.bytesLess) {
                    ran = true
                    let element = entries[key] ?? .missing
                    if try !iterate(&self, index: .string(key), element: element.isMissing ? .nilInterface : element) { break }
                }
            case .stringMap(let entries):
                for entry in entries {
                    ran = true
                    if try !iterate(&self, index: .string(entry.name), element: .string(entry.value)) { break }
                }
            case .missing:
                break
            default:
                let last = Evaluator.lastEvaluated(pipeline)
                throw ExecutionFailure(message: "range can't iterate over \(GoPrinter.sprint([value]))", position: last.position,
                                       context: last.goDescription)
            }
            if !ran, let elseList = branch.elseList { return try walk(dot: dot, elseList) }
            return .normal
        }

        private mutating func walkTemplate(dot: Value, name: String, pipeline: Pipeline?, position: Int, node: Node) throws(ExecutionFailure) {
            guard let body = program.definitions[name] else {
                throw ExecutionFailure(message: "template \(GoText.quote(name)) not defined", position: position, context: node.goDescription)
            }
            if depth >= Evaluator.maximumTemplateDepth {
                throw ExecutionFailure(message: "exceeded maximum template depth (\(Evaluator.maximumTemplateDepth))", position: position,
                                       context: node.goDescription, templateName: templateName)
            }
            try enterNesting(at: position, context: node.goDescription)
            defer { nesting -= 1 }
            // Variables the pipeline declares stay in the caller's scope.
            var newDot: Value = .missing
            if let pipeline { newDot = try evaluatePipeline(dot: dot, pipeline) }
            // No dynamic scoping: the called template sees only $.
            let savedVariables = variables
            let savedName = templateName
            let savedInterface = dotIsInterfaceElement
            dotIsInterfaceElement = false
            defer { dotIsInterfaceElement = savedInterface }
            variables = [("$", newDot)]
            templateName = name
            depth += 1
            defer {
                variables = savedVariables
                templateName = savedName
                depth -= 1
            }
            do {
                _ = try walk(dot: newDot, body)
            } catch {
                var failure = error
                if failure.templateName == nil { failure.templateName = name }
                throw failure
            }
        }

        // MARK: Pipelines and commands

        mutating func evaluatePipeline(dot: Value, _ pipeline: Pipeline) throws(ExecutionFailure) -> Value {
            var value: Value?
            for command in pipeline.commands {
                value = try evaluateCommand(dot: dot, command, final: value, in: pipeline)
                // Each command's value is unwrapped from interface{}: a nil interface becomes no value.
                if case .nilInterface? = value { value = .missing }
            }
            let result = value ?? .missing
            for declaration in pipeline.declarations {
                if pipeline.isAssign {
                    let last = Evaluator.lastEvaluated(pipeline)
                    try assign(declaration.name, result, at: last.position, context: last.goDescription)
                } else {
                    variables.append((declaration.name, result))
                }
            }
            return result
        }

        private func notAFunction(_ command: Command, final: Value?) throws(ExecutionFailure) {
            if command.arguments.count > 1 || final != nil {
                let first = command.arguments[0]
                throw ExecutionFailure(message: "can't give argument to non-function \(first.goDescription)", position: first.position,
                                       context: first.goDescription)
            }
        }

        /// The node Go's executor last stood on after evaluating `pipeline`: where it reports later errors.
        static func lastEvaluated(_ pipeline: Pipeline) -> Operand {
            guard let command = pipeline.commands.last, let last = command.arguments.last else { return .pipeline(pipeline) }
            return lastEvaluated(last)
        }

        static func lastEvaluated(_ operand: Operand) -> Operand {
            switch operand {
            case .pipeline(let pipeline): return lastEvaluated(pipeline)
            case .chain(let base, _, _): return lastEvaluated(base)
            default: return operand
            }
        }

        private mutating func evaluateCommand(dot: Value, _ command: Command, final: Value?, in enclosing: Pipeline) throws(ExecutionFailure) -> Value {
            let first = command.arguments[0]
            switch first {
            case .field(let names, let position):
                return try evaluateFieldChain(dot: dot, receiver: dot, names: names[...], node: first, position: position,
                                              arguments: command.arguments, final: final, startsAsInterface: dotIsInterfaceElement)
            case .chain(let base, let fields, let position):
                let receiver = try evaluateChainBase(dot: dot, base, node: first)
                return try evaluateFieldChain(dot: dot, receiver: receiver, names: fields[...], node: first, position: position,
                                              arguments: command.arguments, final: final, errorNode: Evaluator.lastEvaluated(base))
            case .function(let id, let position):
                return try call(dot: dot, LogQLTemplate.functions[id.index], identifierPosition: position,
                                callPosition: command.position, callContext: command.goDescription,
                                arguments: command.arguments.dropFirst(), final: final, receiver: nil, literalRegex: command.literalRegex)
            case .pipeline(let pipeline):
                if command.arguments.count > 1 || final != nil {
                    throw ExecutionFailure(message: "can't give argument to non-function \(first.goDescription)",
                                           position: enclosing.position, context: enclosing.goDescription)
                }
                try enterNesting(at: pipeline.position, context: pipeline.goDescription)
                defer { nesting -= 1 }
                return try evaluatePipeline(dot: dot, pipeline)
            case .variable(let names, let position):
                let value = try variable(names[0], at: position, context: first.goDescription)
                if names.count == 1 {
                    try notAFunction(command, final: final)
                    return value
                }
                return try evaluateFieldChain(dot: dot, receiver: value, names: names.dropFirst(), node: first, position: position,
                                              arguments: command.arguments, final: final)
            case .bool(let flag, _):
                try notAFunction(command, final: final)
                return .bool(flag)
            case .dot:
                try notAFunction(command, final: final)
                return dot
            case .nilConstant(let position):
                try notAFunction(command, final: final)
                throw ExecutionFailure(message: "nil is not a command", position: position, context: "nil")
            case .number(let literal, let position):
                try notAFunction(command, final: final)
                return try idealConstant(literal, position: position)
            case .string(_, let text, _):
                try notAFunction(command, final: final)
                return .string(text)
            }
        }

        /// The value of an untyped number constant where no type is asked for: its syntax decides.
        private func idealConstant(_ literal: NumberLiteral, position: Int) throws(ExecutionFailure) -> Value {
            switch literal.ideal {
            case .int: return .int(literal.int)
            case .float: return .float(literal.float)
            case .overflowsInt:
                throw ExecutionFailure(message: "\(literal.text) overflows int", position: position, context: literal.text)
            case .complex:
                throw ExecutionFailure(message: "complex constants are not supported", position: position, context: literal.text)
            case .none: return .missing
            }
        }

        private mutating func evaluateChainBase(dot: Value, _ base: Operand, node: Operand) throws(ExecutionFailure) -> Value {
            if case .nilConstant = base {
                throw ExecutionFailure(message: "indirection through explicit nil in \(node.goDescription)", position: node.position,
                                       context: node.goDescription)
            }
            return try evaluateArgument(dot: dot, base, as: nil)
        }

        // MARK: Fields and methods

        private mutating func evaluateFieldChain(dot: Value, receiver start: Value, names: ArraySlice<String>, node: Operand, position: Int,
                                                 arguments: [Operand], final: Value?, errorNode: Operand? = nil,
                                                 startsAsInterface: Bool = false) throws(ExecutionFailure) -> Value {
            var receiver = start
            var cameFromMap = startsAsInterface
            var index = names.startIndex
            while index < names.endIndex - 1 {
                let next = try evaluateField(dot: dot, names[index], receiver: receiver, node: node, arguments: [], final: nil,
                                             errorNode: errorNode ?? node, receiverFromMap: cameFromMap)
                if case .map = receiver { cameFromMap = true } else { cameFromMap = false }
                receiver = next
                index += 1
            }
            return try evaluateField(dot: dot, names[names.endIndex - 1], receiver: receiver, node: node, arguments: arguments,
                                     final: final, errorNode: errorNode ?? node, receiverFromMap: cameFromMap)
        }

        private mutating func evaluateField(dot: Value, _ name: String, receiver: Value, node: Operand, arguments: [Operand],
                                            final: Value?, errorNode: Operand,
                                            receiverFromMap: Bool) throws(ExecutionFailure) -> Value {
            func failure(_ message: String) -> ExecutionFailure {
                ExecutionFailure(message: message, position: errorNode.position, context: errorNode.goDescription)
            }
            let hasArguments = arguments.count > 1 || final != nil
            // A value taken from a map[string]interface{} in the same chain has the static type interface{}.
            let receiverType = receiverFromMap ? "interface {}" : receiver.goTypeName
            switch receiver {
            case .missing:
                // Loki executes with missingkey=zero: a field of nothing is nothing.
                return .missing
            case .labels:
                if hasArguments { throw failure("\(name) is not a method but has arguments") }
                return .string(context.label(name) ?? "")
            case .stringMap(let entries):
                if hasArguments { throw failure("\(name) is not a method but has arguments") }
                return .string(entries.first(where: { GoText.bytesEqual($0.name, name) })?.value ?? "")
            case .map(let entries):
                if hasArguments { throw failure("\(name) is not a method but has arguments") }
                // Loki's missingkey=zero: a missing key is the element type's zero, a nil interface{}.
                let value = entries[name] ?? .missing
                if case .missing = value { return .nilInterface }
                return value
            case .nilInterface:
                throw failure("nil pointer evaluating interface {}.\(name)")
            case .time, .integer(_, .month), .integer(_, .weekday):
                guard let method = LogQLTemplate.method(named: name, on: receiver) else {
                    throw failure("can't evaluate field \(name) in type \(receiverType)")
                }
                return try call(dot: dot, method, identifierPosition: errorNode.position, identifierContext: errorNode.goDescription,
                                callPosition: node.position, callContext: node.goDescription, arguments: arguments.dropFirst(), final: final,
                                receiver: receiver)
            default:
                throw failure("can't evaluate field \(name) in type \(receiverType)")
            }
        }

        // MARK: Calls

        /// Go's evalCall: argument count, conversion of each argument, the final (piped) value last.
        private mutating func call(dot: Value, _ function: Function, identifierPosition: Int,
                                   identifierContext: @autoclosure () -> String? = nil,
                                   callPosition: Int, callContext: @autoclosure () -> String,
                                   arguments: ArraySlice<Operand>, final: Value?, receiver: Value?,
                                   literalRegex: CompiledRegex? = nil) throws(ExecutionFailure) -> Value {
            let name = function.name
            func identifierDescription() -> String { identifierContext() ?? name }
            let argumentCount = arguments.count + (final == nil ? 0 : 1)
            var fixedCount = arguments.count
            if function.variadic != nil {
                fixedCount = function.parameters.count
                if argumentCount < fixedCount {
                    throw ExecutionFailure(message: "wrong number of args for \(name): want at least \(fixedCount) got \(arguments.count)",
                                           position: identifierPosition, context: identifierDescription())
                }
            } else if argumentCount != function.parameters.count {
                throw ExecutionFailure(message: "wrong number of args for \(name): want \(function.parameters.count) got \(argumentCount)",
                                       position: identifierPosition, context: identifierDescription())
            }

            // The position Go reports for a bad piped value: the last node it evaluated.
            var lastPosition = identifierPosition
            var lastOperand: Operand?

            // and/or short-circuit and return an operand itself.
            if function.special == .and || function.special == .or {
                var result: Value = .missing
                for argument in arguments {
                    result = try evaluateArgument(dot: dot, argument, as: .value)
                    if truth(result) == (function.special == .or) { return result }
                }
                if let final { result = final }
                return result
            }

            var values: [Value] = []
            values.reserveCapacity(argumentCount + 1)
            if let receiver { values.append(receiver) }
            var index = arguments.startIndex
            var position = 0
            while index < arguments.endIndex {
                let type = position < fixedCount ? function.parameters[position] : function.variadic ?? .any
                values.append(try evaluateArgument(dot: dot, arguments[index], as: type))
                let last = Evaluator.lastEvaluated(arguments[index])
                lastPosition = last.position
                lastOperand = last
                index += 1
                position += 1
            }
            if let final {
                var type = function.parameters.last ?? .any
                if let variadic = function.variadic {
                    type = argumentCount - 1 < fixedCount ? function.parameters[argumentCount - 1] : variadic
                }
                values.append(try check(final, as: type, position: lastPosition, context: lastOperand?.goDescription ?? identifierDescription()))
            }

            if function.special == .call {
                let calleeName: String
                if let first = arguments.first { calleeName = first.goDescription } else { calleeName = GoPrinter.sprint([final ?? .missing]) }
                let message: String
                if case .missing = values[0] {
                    message = "call of nil"
                } else {
                    message = "non-function \(calleeName) of type \(values[0].goTypeName)"
                }
                throw ExecutionFailure(message: "error calling call: \(message)", position: callPosition, context: callContext())
            }

            environment.literalRegex = literalRegex
            defer { environment.literalRegex = nil }
            do {
                return try function.body(&environment, values)
            } catch {
                throw ExecutionFailure(message: "error calling \(name): \(error.message)", position: callPosition, context: callContext())
            }
        }

        /// Go's evalArg: an operand converted to the parameter's type (nil means untyped).
        private mutating func evaluateArgument(dot: Value, _ operand: Operand, as type: ParameterType?) throws(ExecutionFailure) -> Value {
            let position = operand.position
            func failure(_ message: String) -> ExecutionFailure {
                ExecutionFailure(message: message, position: position, context: operand.goDescription)
            }
            switch operand {
            case .dot:
                return try check(dot, as: type, position: position, context: ".")
            case .nilConstant:
                if type == nil || type == .any || type == .value { return .missing }
                throw failure("cannot assign nil to \(type?.goName ?? "")")
            case .field(let names, let fieldPosition):
                let value = try evaluateFieldChain(dot: dot, receiver: dot, names: names[...], node: operand, position: fieldPosition,
                                                   arguments: [operand], final: nil, startsAsInterface: dotIsInterfaceElement)
                return try check(value, as: type, position: position, context: operand.goDescription)
            case .variable(let names, let variablePosition):
                var value = try variable(names[0], at: variablePosition, context: operand.goDescription)
                if names.count > 1 {
                    value = try evaluateFieldChain(dot: dot, receiver: value, names: names.dropFirst(), node: operand,
                                                   position: variablePosition, arguments: [], final: nil)
                }
                return try check(value, as: type, position: position, context: operand.goDescription)
            case .pipeline(let pipeline):
                try enterNesting(at: pipeline.position, context: pipeline.goDescription)
                defer { nesting -= 1 }
                let value = try evaluatePipeline(dot: dot, pipeline)
                let last = Evaluator.lastEvaluated(pipeline)
                return try check(value, as: type, position: last.position, context: last.goDescription)
            case .function(let id, let functionPosition):
                let value = try call(dot: dot, LogQLTemplate.functions[id.index], identifierPosition: functionPosition,
                                     callPosition: functionPosition, callContext: id.name, arguments: [], final: nil, receiver: nil)
                return try check(value, as: type, position: position, context: operand.goDescription)
            case .chain(let base, let fields, let chainPosition):
                let receiver = try evaluateChainBase(dot: dot, base, node: operand)
                let value = try evaluateFieldChain(dot: dot, receiver: receiver, names: fields[...], node: operand, position: chainPosition,
                                                   arguments: [], final: nil, errorNode: Evaluator.lastEvaluated(base))
                let last = Evaluator.lastEvaluated(base)
                return try check(value, as: type, position: last.position, context: last.goDescription)
            case .bool(let flag, _):
                switch type {
                case nil, .any?, .value?: return .bool(flag)
                case .int?, .int64?: throw failure("expected integer; found \(operand.goDescription)")
                case .float64?: throw failure("expected float; found \(operand.goDescription)")
                case .string?: throw failure("expected string; found \(operand.goDescription)")
                case .time?: throw failure("can't handle \(operand.goDescription) for arg of type time.Time")
                }
            case .number(let literal, _):
                switch type {
                case nil, .any?, .value?:
                    return try idealConstant(literal, position: position)
                case .int?, .int64?:
                    guard literal.isInt else { throw failure("expected integer; found \(literal.text)") }
                    return .integer(literal.int, type == .int ? .int : .int64)
                case .float64?:
                    guard literal.isFloat else { throw failure("expected float; found \(literal.text)") }
                    return .float(literal.float)
                case .string?:
                    throw failure("expected string; found \(literal.text)")
                case .time?:
                    throw failure("can't handle \(literal.text) for arg of type time.Time")
                }
            case .string(let quoted, let text, _):
                switch type {
                case nil, .any?, .value?, .string?: return .string(text)
                case .int?, .int64?: throw failure("expected integer; found \(quoted)")
                case .float64?: throw failure("expected float; found \(quoted)")
                case .time?: throw failure("can't handle \(quoted) for arg of type time.Time")
                }
            }
        }

        /// Go's validateType: a computed value must be assignable to the parameter.
        private func check(_ value: Value, as type: ParameterType?, position: Int, context description: @autoclosure () -> String) throws(ExecutionFailure) -> Value {
            guard let type else { return value }
            if case .missing = value {
                if type == .any || type == .value { return .missing }
                throw ExecutionFailure(message: "invalid value; expected \(type.goName)", position: position, context: description())
            }
            if case .nilInterface = value {
                if type == .any || type == .value { return .missing }
                throw ExecutionFailure(message: "wrong type for value; expected \(type.goName); got interface {}", position: position,
                                       context: description())
            }
            let assignable: Bool
            switch (type, value) {
            case (.any, _), (.value, _): return materialized(value)
            case (.string, .string): assignable = true
            case (.int, .integer(_, .int)): assignable = true
            case (.int64, .integer(_, .int64)): assignable = true
            case (.float64, .float): assignable = true
            case (.time, .time): assignable = true
            default: assignable = false
            }
            if !assignable {
                throw ExecutionFailure(message: "wrong type for value; expected \(type.goName); got \(value.goTypeName)", position: position,
                                       context: description())
            }
            return value
        }
    }
}
