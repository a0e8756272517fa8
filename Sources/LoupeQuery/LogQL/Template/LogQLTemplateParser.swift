// The parser of Go's text/template (parse.Tree), production for production: lists of text and
// actions, pipelines with declarations, commands, operands and terms, if/with/range with else (and
// "else if", "else with"), break/continue, define/template/block, and Go's error messages
// ("template: NAME:LINE: ..."). Nesting is capped well below Go's limits so a hostile template cannot
// exhaust the stack.

extension LogQLTemplate {
    struct Parser {
        /// What parse returns: the main list and every {{define}}d or {{block}} template.
        struct Output {
            var root: [Node]
            var definitions: [String: [Node]]
        }

        /// Go allows 10,000 nested parentheses; a Swift thread's stack does not.
        static let maximumDepth = 32

        private enum ListEnd {
            case end(position: Int)
            case elseMarker(position: Int)

            var goDescription: String {
                switch self {
                case .end: return "{{end}}"
                case .elseMarker: return "{{else}}"
                }
            }
        }

        private enum ActionResult {
            case node(Node)
            case end(ListEnd)
        }

        /// Per-tree state: a {{define}} or {{block}} body is parsed as its own tree on the shared scanner.
        private struct TreeState {
            var tokens: [Token] = Array(repeating: Token(kind: .eof, position: 0, text: "", line: 1), count: 3)
            var peekCount = 0
            var variables: [String] = ["$"]
            var rangeDepth = 0
        }

        private var lexer: Lexer
        private let name: String
        private var tree = TreeState()
        private var actionLine = 0
        private var depth = 0
        private var definitions: [String: [Node]] = [:]

        init(source: String, name: String) {
            lexer = Lexer(source)
            self.name = name
        }

        // MARK: Errors

        private func error(_ message: String) -> LogQLTemplateError {
            LogQLTemplateError("template: \(name):\(tree.tokens[0].line): \(message)")
        }

        private func unexpected(_ token: Token, _ context: String) -> LogQLTemplateError {
            if token.kind == .error {
                var extra = ""
                if actionLine != 0 && actionLine != token.line {
                    extra = " in action started at \(name):\(actionLine)"
                    if token.text.hasSuffix(" action") { extra = String(extra.dropFirst(" in action".count)) }
                }
                return error(token.text + extra)
            }
            return error("unexpected \(token.goDescription) in \(context)")
        }

        // MARK: Tokens (three-token lookahead, as Go's parser)

        private mutating func next() -> Token {
            if tree.peekCount > 0 {
                tree.peekCount -= 1
            } else {
                tree.tokens[0] = lexer.next()
            }
            return tree.tokens[tree.peekCount]
        }

        private mutating func backup() { tree.peekCount += 1 }

        private mutating func backup2(_ first: Token) {
            tree.tokens[1] = first
            tree.peekCount = 2
        }

        private mutating func backup3(_ second: Token, _ first: Token) {
            tree.tokens[1] = first
            tree.tokens[2] = second
            tree.peekCount = 3
        }

        private mutating func peek() -> Token {
            if tree.peekCount > 0 { return tree.tokens[tree.peekCount - 1] }
            tree.peekCount = 1
            tree.tokens[0] = lexer.next()
            return tree.tokens[0]
        }

        private mutating func nextNonSpace() -> Token {
            var token = next()
            while token.kind == .space { token = next() }
            return token
        }

        private mutating func peekNonSpace() -> Token {
            let token = nextNonSpace()
            backup()
            return token
        }

        private mutating func expect(_ kind: TokenKind, _ context: String) throws(LogQLTemplateError) -> Token {
            let token = nextNonSpace()
            if token.kind != kind { throw unexpected(token, context) }
            return token
        }

        // MARK: Templates

        mutating func parse() throws(LogQLTemplateError) -> Output {
            var root: [Node] = []
            while peek().kind != .eof {
                if peek().kind == .leftDelim {
                    let delimiter = next()
                    if nextNonSpace().kind == .define {
                        try parseDefinition()
                        continue
                    }
                    backup2(delimiter)
                }
                switch try textOrAction() {
                case .node(let node): root.append(node)
                case .end(let marker): throw error("unexpected \(marker.goDescription)")
                }
            }
            try add(name: name, body: root)
            let main = definitions[name] ?? root
            return Output(root: main, definitions: definitions)
        }

        /// Go's Tree.add: an empty tree never replaces a definition; two non-empty ones clash.
        private mutating func add(name: String, body: [Node]) throws(LogQLTemplateError) {
            if let existing = definitions[name], !Parser.isEmptyTree(existing) {
                if !Parser.isEmptyTree(body) { throw error("template: multiple definition of template \(GoText.quote(name))") }
                return
            }
            definitions[name] = body
        }

        /// parse.IsEmptyTree: nothing but white space.
        static func isEmptyTree(_ nodes: [Node]) -> Bool {
            nodes.allSatisfy { node in
                if case .text(let text) = node {
                    return text.unicodeScalars.allSatisfy { $0.properties.isWhitespace }
                }
                return false
            }
        }

        private mutating func withNewTree<Result>(_ body: (inout Parser) throws(LogQLTemplateError) -> Result) throws(LogQLTemplateError) -> Result {
            let saved = tree
            tree = TreeState()
            defer { tree = saved }
            return try body(&self)
        }

        private mutating func parseDefinition() throws(LogQLTemplateError) {
            let context = "define clause"
            try enterNesting()
            defer { depth -= 1 }
            try withNewTree { (parser: inout Parser) throws(LogQLTemplateError) in
                let token = parser.nextNonSpace()
                guard token.kind == .string || token.kind == .rawString else { throw parser.unexpected(token, context) }
                guard let definitionName = GoText.unquote(token.text) else { throw parser.error("invalid syntax") }
                _ = try parser.expect(.rightDelim, context)
                let (body, end) = try parser.itemList()
                guard case .end = end else { throw parser.error("unexpected \(end.goDescription) in \(context)") }
                try parser.add(name: definitionName, body: body)
            }
        }

        private mutating func enterNesting() throws(LogQLTemplateError) {
            if depth >= Parser.maximumDepth { throw error("max expression depth exceeded") }
            depth += 1
        }

        // MARK: Lists and actions

        private mutating func itemList() throws(LogQLTemplateError) -> ([Node], ListEnd) {
            var list: [Node] = []
            while peekNonSpace().kind != .eof {
                switch try textOrAction() {
                case .node(let node): list.append(node)
                case .end(let marker): return (list, marker)
                }
            }
            throw error("unexpected EOF")
        }

        private mutating func textOrAction() throws(LogQLTemplateError) -> ActionResult {
            let token = nextNonSpace()
            switch token.kind {
            case .text:
                return .node(.text(token.text))
            case .leftDelim:
                actionLine = token.line
                defer { actionLine = 0 }
                return try action()
            default:
                throw unexpected(token, "input")
            }
        }

        private mutating func action() throws(LogQLTemplateError) -> ActionResult {
            let token = nextNonSpace()
            switch token.kind {
            case .block: return .node(try blockControl())
            case .breakKeyword: return .node(try loopControl(token, keyword: "break"))
            case .continueKeyword: return .node(try loopControl(token, keyword: "continue"))
            case .elseKeyword: return .end(try elseControl())
            case .end: return .end(.end(position: try expect(.rightDelim, "end").position))
            case .ifKeyword: return .node(try branchControl(.ifBranch))
            case .range: return .node(try branchControl(.rangeBranch))
            case .template: return .node(try templateControl())
            case .with: return .node(try branchControl(.withBranch))
            default: break
            }
            backup()
            let first = peek()
            // Variables declared here persist until the enclosing "end".
            return .node(.action(try pipeline("command", end: .rightDelim), position: first.position))
        }

        private mutating func loopControl(_ keywordToken: Token, keyword: String) throws(LogQLTemplateError) -> Node {
            let token = nextNonSpace()
            if token.kind != .rightDelim { throw unexpected(token, "{{\(keyword)}}") }
            if tree.rangeDepth == 0 { throw error("{{\(keyword)}} outside {{range}}") }
            return keyword == "break" ? .breakLoop(position: keywordToken.position) : .continueLoop(position: keywordToken.position)
        }

        private mutating func elseControl() throws(LogQLTemplateError) -> ListEnd {
            // "{{else if ..." and "{{else with ..." leave the keyword for the enclosing branch.
            let following = peekNonSpace()
            if following.kind == .ifKeyword || following.kind == .with { return .elseMarker(position: following.position) }
            return .elseMarker(position: try expect(.rightDelim, "else").position)
        }

        private mutating func branchControl(_ kind: Branch.Kind) throws(LogQLTemplateError) -> Node {
            let context: String
            switch kind {
            case .ifBranch: context = "if"
            case .withBranch: context = "with"
            case .rangeBranch: context = "range"
            }
            try enterNesting()
            defer { depth -= 1 }
            let variableCount = tree.variables.count
            defer { tree.variables.removeSubrange(variableCount...) }
            let pipe = try pipeline(context, end: .rightDelim)
            if kind == .rangeBranch { tree.rangeDepth += 1 }
            let (list, end) = try itemList()
            if kind == .rangeBranch { tree.rangeDepth -= 1 }
            var elseList: [Node]?
            if case .elseMarker = end {
                if kind == .ifBranch && peek().kind == .ifKeyword {
                    _ = next()
                    elseList = [try branchControl(.ifBranch)]
                } else if kind == .withBranch && peek().kind == .with {
                    _ = next()
                    elseList = [try branchControl(.withBranch)]
                } else {
                    let (otherwise, finalEnd) = try itemList()
                    guard case .end = finalEnd else { throw error("expected end; found \(finalEnd.goDescription)") }
                    elseList = otherwise
                }
            }
            return .branch(Branch(kind: kind, pipeline: pipe, list: list, elseList: elseList))
        }

        private mutating func templateName(_ token: Token, _ context: String) throws(LogQLTemplateError) -> String {
            guard token.kind == .string || token.kind == .rawString else { throw unexpected(token, context) }
            guard let text = GoText.unquote(token.text) else { throw error("invalid syntax") }
            return text
        }

        private mutating func templateControl() throws(LogQLTemplateError) -> Node {
            let context = "template clause"
            let token = nextNonSpace()
            let templateName = try templateName(token, context)
            var pipe: Pipeline?
            if nextNonSpace().kind != .rightDelim {
                backup()
                pipe = try pipeline(context, end: .rightDelim)
            }
            return .invoke(name: templateName, pipeline: pipe, position: token.position)
        }

        private mutating func blockControl() throws(LogQLTemplateError) -> Node {
            let context = "block clause"
            let token = nextNonSpace()
            let blockName = try templateName(token, context)
            let pipe = try pipeline(context, end: .rightDelim)
            try enterNesting()
            defer { depth -= 1 }
            let body = try withNewTree { (parser: inout Parser) throws(LogQLTemplateError) -> [Node] in
                let (body, end) = try parser.itemList()
                guard case .end = end else { throw parser.error("unexpected \(end.goDescription) in \(context)") }
                return body
            }
            try add(name: blockName, body: body)
            return .invoke(name: blockName, pipeline: pipe, position: token.position)
        }

        // MARK: Pipelines and commands

        private mutating func pipeline(_ context: String, end: TokenKind) throws(LogQLTemplateError) -> Pipeline {
            var pipe = Pipeline(position: peekNonSpace().position)
            declarations: while true {
                let variable = peekNonSpace()
                guard variable.kind == .variable else { break }
                _ = next()
                // "$x foo" needs three tokens of look-ahead to tell an argument from a declaration.
                let afterVariable = peek()
                let following = peekNonSpace()
                if following.kind == .assign || following.kind == .declare {
                    pipe.isAssign = following.kind == .assign
                    _ = nextNonSpace()
                    pipe.declarations.append(VariableName(name: variable.text, position: variable.position))
                    tree.variables.append(variable.text)
                } else if following.kind == .char && following.text == "," {
                    _ = nextNonSpace()
                    pipe.declarations.append(VariableName(name: variable.text, position: variable.position))
                    tree.variables.append(variable.text)
                    if context == "range" && pipe.declarations.count < 2 {
                        switch peekNonSpace().kind {
                        case .variable, .rightDelim, .rightParen:
                            continue declarations
                        default:
                            throw error("range can only initialize variables")
                        }
                    }
                    throw error("too many declarations in \(context)")
                } else if afterVariable.kind == .space {
                    backup3(variable, afterVariable)
                } else {
                    backup2(variable)
                }
                break
            }
            while true {
                let token = nextNonSpace()
                if token.kind == end {
                    try checkPipeline(pipe, context)
                    return pipe
                }
                switch token.kind {
                case .bool, .charConstant, .complex, .dot, .field, .identifier, .number, .nilKeyword, .rawString, .string,
                    .variable, .leftParen:
                    backup()
                    pipe.commands.append(try command())
                default:
                    throw unexpected(token, context)
                }
            }
        }

        private func checkPipeline(_ pipe: Pipeline, _ context: String) throws(LogQLTemplateError) {
            if pipe.commands.isEmpty { throw error("missing value for \(context)") }
            // Only the first command of a pipeline may start with a non-executable operand.
            for (index, command) in pipe.commands.enumerated().dropFirst() {
                switch command.arguments[0] {
                case .bool, .dot, .nilConstant, .number, .string:
                    throw error("non executable command in pipeline stage \(index + 1)")
                default:
                    continue
                }
            }
        }

        private mutating func command() throws(LogQLTemplateError) -> Command {
            var command = Command(position: peekNonSpace().position)
            loop: while true {
                _ = peekNonSpace()
                if let operand = try operand() { command.arguments.append(operand) }
                let token = next()
                switch token.kind {
                case .space:
                    continue loop
                case .rightDelim, .rightParen:
                    backup()
                case .pipe:
                    break
                default:
                    throw unexpected(token, "operand")
                }
                break loop
            }
            if command.arguments.isEmpty { throw error("empty command") }
            command.literalRegex = LogQLTemplate.precompiledRegex(for: command)
            return command
        }

        private mutating func operand() throws(LogQLTemplateError) -> Operand? {
            guard let term = try term() else { return nil }
            guard peek().kind == .field else { return term }
            let chainPosition = peek().position
            var fields: [String] = []
            while peek().kind == .field { fields.append(String(next().text.dropFirst())) }
            switch term {
            case .field(let names, _):
                return .field(names + fields, position: chainPosition)
            case .variable(let names, _):
                return .variable(names + fields, position: chainPosition)
            case .bool, .string, .number, .nilConstant, .dot:
                throw error("unexpected . after term \(GoText.quote(term.goDescription))")
            default:
                return .chain(term, fields: fields, position: chainPosition)
            }
        }

        private mutating func term() throws(LogQLTemplateError) -> Operand? {
            let token = nextNonSpace()
            switch token.kind {
            case .identifier:
                guard let index = LogQLTemplate.functionIndex[token.text] else {
                    throw error("function \(GoText.quote(token.text)) not defined")
                }
                return .function(FunctionID(index: index), position: token.position)
            case .dot:
                return .dot(position: token.position)
            case .nilKeyword:
                return .nilConstant(position: token.position)
            case .variable:
                if !tree.variables.contains(token.text) { throw error("undefined variable \(GoText.quote(token.text))") }
                return .variable([token.text], position: token.position)
            case .field:
                return .field([String(token.text.dropFirst())], position: token.position)
            case .bool:
                return .bool(token.text == "true", position: token.position)
            case .charConstant, .complex, .number:
                switch Parser.numberLiteral(token.text, kind: token.kind) {
                case .success(let literal): return .number(literal, position: token.position)
                case .failure(let failure): throw error(failure.message)
                }
            case .leftParen:
                try enterNesting()
                defer { depth -= 1 }
                return .pipeline(try pipeline("parenthesized pipeline", end: .rightParen))
            case .string, .rawString:
                guard let text = GoText.unquote(token.text) else { throw error("invalid syntax") }
                return .string(quoted: token.text, text: text, position: token.position)
            default:
                backup()
                return nil
            }
        }

        // MARK: Numbers

        /// parse.newNumber: the literal under every type that can hold it, and its ideal type.
        static func numberLiteral(_ text: String, kind: TokenKind) -> Result<NumberLiteral, LogQLTemplateError> {
            guard case .success(var literal) = typedNumberLiteral(text, kind: kind) else { return typedNumberLiteral(text, kind: kind) }
            // exec's idealConstant: the syntax decides between float and int.
            let isHexInt = text.utf8.count > 2 && text.hasPrefix("0") && (text.dropFirst().hasPrefix("x") || text.dropFirst().hasPrefix("X"))
                && !text.contains(where: { $0 == "p" || $0 == "P" })
            if literal.isComplex {
                literal.ideal = .complex
            } else if literal.isFloat && !isHexInt && !text.hasPrefix("'") && text.contains(where: { ".eEpP".contains($0) }) {
                literal.ideal = .float
            } else if literal.isInt {
                literal.ideal = .int
            } else if literal.isUint {
                literal.ideal = .overflowsInt
            }
            return .success(literal)
        }

        private static func typedNumberLiteral(_ text: String, kind: TokenKind) -> Result<NumberLiteral, LogQLTemplateError> {
            var literal = NumberLiteral(text: text)
            if kind == .charConstant {
                let bytes = Array(text.utf8)
                guard bytes.count >= 2,
                      let (character, next) = GoText.unquoteCharacter(bytes, at: 1, end: bytes.count, quote: UInt8(ascii: "'")) else {
                    return .failure(LogQLTemplateError("invalid syntax"))
                }
                guard next == bytes.count - 1, bytes[next] == UInt8(ascii: "'") else {
                    return .failure(LogQLTemplateError("malformed character constant: \(text)"))
                }
                let value: Int64
                switch character {
                case .scalar(let scalar): value = Int64(scalar.value)
                case .byte(let byte): value = Int64(byte)
                }
                literal.isInt = true
                literal.int = value
                literal.isUint = true
                literal.uint = UInt64(value)
                literal.isFloat = true
                literal.float = Double(value)
                return .success(literal)
            }
            if kind == .complex {
                guard let (real, imaginary) = complexParts(text) else { return .failure(LogQLTemplateError("expected integer")) }
                literal.isComplex = true
                simplifyComplex(&literal, real: real, imaginary: imaginary)
                return .success(literal)
            }
            // Imaginary constants are complex unless they are zero.
            if text.hasSuffix("i"), case .success(let imaginary) = GoNumbers.parseFloat(String(text.dropLast())) {
                literal.isComplex = true
                simplifyComplex(&literal, real: 0, imaginary: imaginary)
                return .success(literal)
            }
            let unsigned = GoNumbers.parseUnsigned(text)
            if case .success(let value) = unsigned {
                literal.isUint = true
                literal.uint = value
            }
            if case .success(let value) = GoNumbers.parseSigned(text) {
                literal.isInt = true
                literal.int = value
                if value == 0 {
                    // "-0" fails as unsigned.
                    literal.isUint = true
                    literal.uint = 0
                }
            }
            if literal.isInt {
                literal.isFloat = true
                literal.float = Double(literal.int)
            } else if literal.isUint {
                literal.isFloat = true
                literal.float = Double(literal.uint)
            } else if case .success(let value) = GoNumbers.parseFloat(text) {
                // Parsed as a float but looking like an integer: an integer too large for int64.
                if !text.contains(where: { ".eEpP".contains($0) }) {
                    return .failure(LogQLTemplateError("integer overflow: \(GoText.quote(text))"))
                }
                literal.isFloat = true
                literal.float = value
                if value == value.rounded(.towardZero) && abs(value) < 9.2e18 {
                    literal.isInt = true
                    literal.int = Int64(value)
                }
                if value >= 0 && value == value.rounded(.towardZero) && value < 1.8e19 {
                    literal.isUint = true
                    literal.uint = UInt64(value)
                }
            }
            if !literal.isInt && !literal.isUint && !literal.isFloat {
                return .failure(LogQLTemplateError("illegal number syntax: \(GoText.quote(text))"))
            }
            return .success(literal)
        }

        private static func simplifyComplex(_ literal: inout NumberLiteral, real: Double, imaginary: Double) {
            literal.isFloat = imaginary == 0
            guard literal.isFloat else { return }
            literal.float = real
            if real == real.rounded(.towardZero) && abs(real) < 9.2e18 {
                literal.isInt = true
                literal.int = Int64(real)
            }
            if real >= 0 && real == real.rounded(.towardZero) && real < 1.8e19 {
                literal.isUint = true
                literal.uint = UInt64(real)
            }
        }

        /// Splits "1+2i" into its parts.
        private static func complexParts(_ text: String) -> (Double, Double)? {
            let bytes = Array(text.utf8)
            guard bytes.last == UInt8(ascii: "i") else { return nil }
            var split = bytes.count - 2
            while split > 0 {
                let byte = bytes[split]
                if byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") {
                    let previous = bytes[split - 1] | 0x20
                    if previous != UInt8(ascii: "e") && previous != UInt8(ascii: "p") { break }
                }
                split -= 1
            }
            guard split > 0 else { return nil }
            let realText = String(decoding: bytes[0..<split], as: UTF8.self)
            let imaginaryText = String(decoding: bytes[split..<(bytes.count - 1)], as: UTF8.self)
            guard case .success(let real) = GoNumbers.parseFloat(realText),
                  case .success(let imaginary) = GoNumbers.parseFloat(imaginaryText) else { return nil }
            return (real, imaginary)
        }
    }
}
