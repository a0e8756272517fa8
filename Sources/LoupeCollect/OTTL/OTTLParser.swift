import LoupeModel

/// Recursive descent over OTTL's grammar: `editor(arguments) [where condition]` for statements, and
/// `or` over `and` over `not` over comparisons for conditions. Values are arithmetic over literals,
/// lists, maps, paths, enums and converter calls. Names are resolved later, by `OTTLBinder`.
struct OTTLParser {
    private let tokens: [OTTLToken]
    private var position = 0
    private var depth = 0
    /// Nesting beyond this is refused rather than risking the stack on hostile input.
    static let maximumDepth = 64

    private init(_ tokens: [OTTLToken]) {
        self.tokens = tokens
    }

    static func parseStatement(_ text: String) throws(OTTLError) -> OTTLSyntaxStatement {
        var parser = OTTLParser(try OTTLLexer.tokenize(text))
        return try parser.statement()
    }

    static func parseCondition(_ text: String) throws(OTTLError) -> OTTLSyntaxCondition {
        var parser = OTTLParser(try OTTLLexer.tokenize(text))
        if parser.current.kind == .end {
            throw OTTLError(.syntax, column: nil, "empty condition")
        }
        let condition = try parser.orCondition()
        if parser.current.kind != .end {
            throw parser.unexpected("after the condition")
        }
        return condition
    }

    // MARK: Tokens

    private var current: OTTLToken { tokens[position] }

    private func token(after offset: Int) -> OTTLToken {
        tokens[min(position + offset, tokens.count - 1)]
    }

    private mutating func advance() {
        if position < tokens.count - 1 { position += 1 }
    }

    private func isKeyword(_ word: String) -> Bool {
        current.kind == .identifier && current.text == word
    }

    private func unexpected(_ context: String) -> OTTLError {
        OTTLError(.syntax, column: current.column, "unexpected \(current.shown) \(context)")
    }

    private mutating func expect(_ kind: OTTLToken.Kind, _ what: String) throws(OTTLError) {
        guard current.kind == kind else {
            throw OTTLError(.syntax, column: current.column, "expected \(what), found \(current.shown)")
        }
        advance()
    }

    private mutating func nested<Result>(_ body: (inout OTTLParser) throws(OTTLError) -> Result) throws(OTTLError) -> Result {
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maximumDepth {
            throw OTTLError(.syntax, column: current.column, "nested more than \(Self.maximumDepth) levels deep")
        }
        return try body(&self)
    }

    // MARK: Statements

    private mutating func statement() throws(OTTLError) -> OTTLSyntaxStatement {
        guard current.kind == .identifier, token(after: 1).kind == .leftParen else {
            if current.kind == .end { throw OTTLError(.syntax, column: nil, "empty statement") }
            throw OTTLError(.syntax, column: current.column,
                            "a statement starts with an editor call such as set(...); found \(current.shown)")
        }
        let editor = try call()
        if let key = editor.keys.first {
            throw OTTLError(.syntax, column: key.column, "an editor's result cannot be indexed")
        }
        var condition: OTTLSyntaxCondition?
        if isKeyword("where") {
            advance()
            condition = try orCondition()
        }
        if current.kind != .end {
            throw unexpected(condition == nil ? "after the editor call; a condition follows \"where\"" : "after the condition")
        }
        return OTTLSyntaxStatement(editor: editor, condition: condition)
    }

    // MARK: Conditions

    private mutating func orCondition() throws(OTTLError) -> OTTLSyntaxCondition {
        var operands = [try andCondition()]
        while isKeyword("or") {
            advance()
            operands.append(try andCondition())
        }
        return operands.count == 1 ? operands[0] : .or(operands)
    }

    private mutating func andCondition() throws(OTTLError) -> OTTLSyntaxCondition {
        var operands = [try notCondition()]
        while isKeyword("and") {
            advance()
            operands.append(try notCondition())
        }
        return operands.count == 1 ? operands[0] : .and(operands)
    }

    /// `not` binds tighter than `and`, and covers a whole comparison: `not a == b` is `not (a == b)`.
    private mutating func notCondition() throws(OTTLError) -> OTTLSyntaxCondition {
        guard isKeyword("not") else { return try primaryCondition() }
        advance()
        return .not(try nested { parser throws(OTTLError) in try parser.notCondition() })
    }

    private mutating func primaryCondition() throws(OTTLError) -> OTTLSyntaxCondition {
        if current.kind == .end {
            throw OTTLError(.syntax, column: current.column, "expected a condition, found end of text")
        }
        if current.kind == .leftParen, parenthesesEnclosingACondition() {
            let open = current.column
            advance()
            let inner = try nested { parser throws(OTTLError) in try parser.orCondition() }
            guard current.kind == .rightParen else {
                throw OTTLError(.syntax, column: current.column,
                                "expected \")\" to close the \"(\" at column \(open), found \(current.shown)")
            }
            advance()
            return inner
        }
        let left = try value()
        guard let comparison = comparisonOperator(current.kind) else { return .value(left) }
        advance()
        let right = try value()
        if comparisonOperator(current.kind) != nil {
            throw OTTLError(.syntax, column: current.column, "comparisons cannot be chained; join them with \"and\" or \"or\"")
        }
        return .comparison(left, comparison, right)
    }

    /// `(a == b) and c` groups a condition, `(1 + 2) * 3 == 9` groups a value: the token after the
    /// matching `)` tells which, so no backtracking is needed.
    private func parenthesesEnclosingACondition() -> Bool {
        var open = 0
        var index = position
        while index < tokens.count {
            switch tokens[index].kind {
            case .leftParen: open += 1
            case .rightParen:
                open -= 1
                if open == 0 {
                    let following = tokens[min(index + 1, tokens.count - 1)].kind
                    if comparisonOperator(following) != nil { return false }
                    switch following {
                    case .plus, .minus, .star, .slash: return false
                    default: return true
                    }
                }
            case .end: return true
            default: break
            }
            index += 1
        }
        return true
    }

    private func comparisonOperator(_ kind: OTTLToken.Kind) -> OTTLComparisonOperator? {
        switch kind {
        case .equal: .equal
        case .notEqual: .notEqual
        case .less: .less
        case .lessOrEqual: .lessOrEqual
        case .greater: .greater
        case .greaterOrEqual: .greaterOrEqual
        default: nil
        }
    }

    // MARK: Values

    private mutating func value() throws(OTTLError) -> OTTLSyntaxNode {
        var left = try product()
        while current.kind == .plus || current.kind == .minus {
            let operation: OTTLArithmeticOperator = current.kind == .plus ? .add : .subtract
            advance()
            let right = try product()
            left = OTTLSyntaxNode(kind: .arithmetic(operation, left, right), column: left.column)
        }
        return left
    }

    private mutating func product() throws(OTTLError) -> OTTLSyntaxNode {
        var left = try signed()
        while current.kind == .star || current.kind == .slash {
            let operation: OTTLArithmeticOperator = current.kind == .star ? .multiply : .divide
            advance()
            let right = try signed()
            left = OTTLSyntaxNode(kind: .arithmetic(operation, left, right), column: left.column)
        }
        return left
    }

    /// A sign before a number literal is part of it (so `-9223372036854775808` fits and a negative
    /// limit is still a literal to check); before anything else it negates at run time.
    private mutating func signed() throws(OTTLError) -> OTTLSyntaxNode {
        guard current.kind == .minus || current.kind == .plus else { return try primary() }
        let isMinus = current.kind == .minus
        let column = current.column
        advance()
        switch current.kind {
        case .integer:
            let literal = current
            advance()
            return OTTLSyntaxNode(kind: .integer(try integer(literal, negative: isMinus)), column: column)
        case .float:
            let literal = current
            advance()
            let magnitude = try float(literal)
            return OTTLSyntaxNode(kind: .float(isMinus ? -magnitude : magnitude), column: column)
        default:
            let operand = try nested { parser throws(OTTLError) in try parser.signed() }
            return isMinus ? OTTLSyntaxNode(kind: .negation(operand), column: column) : operand
        }
    }

    private func integer(_ literal: OTTLToken, negative: Bool) throws(OTTLError) -> Int64 {
        guard let magnitude = UInt64(literal.text) else {
            throw OTTLError(.syntax, column: literal.column, "integer \(literal.text) does not fit in 64 bits")
        }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return Int64.min }
            guard magnitude <= UInt64(Int64.max) else {
                throw OTTLError(.syntax, column: literal.column, "integer -\(literal.text) does not fit in 64 bits")
            }
            return -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else {
            throw OTTLError(.syntax, column: literal.column, "integer \(literal.text) does not fit in 64 bits")
        }
        return Int64(magnitude)
    }

    private func float(_ literal: OTTLToken) throws(OTTLError) -> Double {
        guard let value = Double(literal.text), value.isFinite else {
            throw OTTLError(.syntax, column: literal.column, "number \(literal.text) is out of range")
        }
        return value
    }

    private mutating func primary() throws(OTTLError) -> OTTLSyntaxNode {
        let literal = current
        let column = literal.column
        switch literal.kind {
        case .string:
            advance()
            return OTTLSyntaxNode(kind: .string(literal.text), column: column)
        case .integer:
            advance()
            return OTTLSyntaxNode(kind: .integer(try integer(literal, negative: false)), column: column)
        case .float:
            advance()
            return OTTLSyntaxNode(kind: .float(try float(literal)), column: column)
        case .bytes:
            advance()
            // The lexer has checked the digits, so decoding cannot fail.
            return OTTLSyntaxNode(kind: .bytes(HexCoding.decode(literal.text) ?? []), column: column)
        case .leftBracket:
            return try nested { parser throws(OTTLError) in try parser.list() }
        case .leftBrace:
            return try nested { parser throws(OTTLError) in try parser.mapLiteral() }
        case .leftParen:
            advance()
            let inner = try nested { parser throws(OTTLError) in try parser.value() }
            guard current.kind == .rightParen else {
                throw OTTLError(.syntax, column: current.column,
                                "expected \")\" to close the \"(\" at column \(column), found \(current.shown)")
            }
            advance()
            return inner
        case .identifier:
            return try identifierValue()
        case .end:
            throw OTTLError(.syntax, column: column, "expected a value, found end of text")
        default:
            throw OTTLError(.syntax, column: column, "expected a value, found \(literal.shown)")
        }
    }

    private mutating func identifierValue() throws(OTTLError) -> OTTLSyntaxNode {
        let name = current.text
        let column = current.column
        switch name {
        case "true", "false":
            advance()
            return OTTLSyntaxNode(kind: .bool(name == "true"), column: column)
        case "nil":
            advance()
            return OTTLSyntaxNode(kind: .nilLiteral, column: column)
        case "and", "or", "not", "where":
            throw OTTLError(.syntax, column: column, "expected a value, found the keyword \"\(name)\"")
        default:
            break
        }
        if token(after: 1).kind == .leftParen {
            return OTTLSyntaxNode(kind: .call(try call()), column: column)
        }
        if Self.isEnumName(name), token(after: 1).kind != .dot {
            advance()
            return OTTLSyntaxNode(kind: .enumName(name), column: column)
        }
        return OTTLSyntaxNode(kind: .path(try path()), column: column)
    }

    /// OTTL's enums are upper-case words (`SPAN_KIND_SERVER`); converters are capitalised but called.
    static func isEnumName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("A"..."Z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    private mutating func path() throws(OTTLError) -> OTTLSyntaxPath {
        var segments = [current.text]
        advance()
        while current.kind == .dot {
            advance()
            guard current.kind == .identifier else {
                throw OTTLError(.syntax, column: current.column, "expected a field name after \".\", found \(current.shown)")
            }
            segments.append(current.text)
            advance()
        }
        return OTTLSyntaxPath(segments: segments, keys: try keys())
    }

    private mutating func keys() throws(OTTLError) -> [OTTLSyntaxNode] {
        var keys: [OTTLSyntaxNode] = []
        while current.kind == .leftBracket {
            let open = current.column
            advance()
            let key = try nested { parser throws(OTTLError) in try parser.value() }
            guard current.kind == .rightBracket else {
                throw OTTLError(.syntax, column: current.column,
                                "expected \"]\" to close the \"[\" at column \(open), found \(current.shown)")
            }
            advance()
            keys.append(key)
        }
        return keys
    }

    private mutating func call() throws(OTTLError) -> OTTLSyntaxCall {
        let name = current.text
        let column = current.column
        advance()
        advance()  // the "(" the caller saw
        var arguments: [OTTLSyntaxArgument] = []
        if current.kind == .rightParen {
            advance()
        } else {
            while true {
                let argumentColumn = current.column
                var argumentName: String?
                if current.kind == .identifier, token(after: 1).kind == .assign {
                    argumentName = current.text
                    advance()
                    advance()
                } else if arguments.last?.name != nil {
                    throw OTTLError(.arguments, column: argumentColumn,
                                    "\(name): a positional argument cannot follow named ones")
                }
                let value = try nested { parser throws(OTTLError) in try parser.value() }
                arguments.append(OTTLSyntaxArgument(name: argumentName, value: value, column: argumentColumn))
                if current.kind == .comma {
                    advance()
                    continue
                }
                if current.kind == .rightParen {
                    advance()
                    break
                }
                if current.kind == .assign {
                    throw OTTLError(.syntax, column: current.column,
                                    "unexpected \"=\"; compare with \"==\", or name an argument with a plain name before \"=\"")
                }
                throw OTTLError(.syntax, column: current.column,
                                "expected \",\" or \")\" in the arguments of \(name), found \(current.shown)")
            }
        }
        return OTTLSyntaxCall(name: name, arguments: arguments, keys: try keys(), column: column)
    }

    private mutating func list() throws(OTTLError) -> OTTLSyntaxNode {
        let column = current.column
        advance()
        var elements: [OTTLSyntaxNode] = []
        if current.kind == .rightBracket {
            advance()
            return OTTLSyntaxNode(kind: .list(elements), column: column)
        }
        while true {
            elements.append(try value())
            if current.kind == .comma {
                advance()
                continue
            }
            guard current.kind == .rightBracket else {
                throw OTTLError(.syntax, column: current.column,
                                "expected \",\" or \"]\" in the list opened at column \(column), found \(current.shown)")
            }
            advance()
            return OTTLSyntaxNode(kind: .list(elements), column: column)
        }
    }

    private mutating func mapLiteral() throws(OTTLError) -> OTTLSyntaxNode {
        let column = current.column
        advance()
        var entries: [OTTLSyntaxMapEntry] = []
        if current.kind == .rightBrace {
            advance()
            return OTTLSyntaxNode(kind: .map(entries), column: column)
        }
        while true {
            guard current.kind == .string else {
                throw OTTLError(.syntax, column: current.column, "expected a string key in the map literal, found \(current.shown)")
            }
            let key = current.text
            advance()
            try expect(.colon, "\":\" after the map key \"\(key)\"")
            entries.append(OTTLSyntaxMapEntry(key: key, value: try value()))
            if current.kind == .comma {
                advance()
                continue
            }
            guard current.kind == .rightBrace else {
                throw OTTLError(.syntax, column: current.column,
                                "expected \",\" or \"}\" in the map opened at column \(column), found \(current.shown)")
            }
            advance()
            return OTTLSyntaxNode(kind: .map(entries), column: column)
        }
    }
}
