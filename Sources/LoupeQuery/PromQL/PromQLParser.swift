/// PromQL's parser: recursive descent with precedence climbing, Prometheus 3.x syntax and semantics,
/// and Prometheus's error messages and positions for the errors a user meets.
///
/// Precedence, lowest first: `or`; `and` `unless`; comparisons (and `</` `>/`); `+` `-`; `*` `/` `%` `atan2`;
/// `^` (right-associative). Unary `+`/`-` binds like `*`, so `-2^2` is `-(2^2)` and `-a * b` is `(-a) * b`.
/// `[…]`, `offset`, `@`, `anchored` and `smoothed` bind tightest, to the operand just before them.
///
/// Like Prometheus, the whole query is checked for syntax first and only then for types
/// (function arguments, operand types, selectors that would select everything…).
public struct PromQLParser: Sendable {
    public struct Options: Sendable, Equatable {
        /// Functions and aggregations behind `promql-experimental-functions` (limitk, info, …).
        public var enableExperimentalFunctions: Bool
        /// Duration expressions: `[5m+1m]`, `offset (1h*2)`, `step()`, `min_of(…)`.
        public var enableDurationExpressions: Bool
        /// The `anchored` and `smoothed` modifiers.
        public var enableExtendedRangeSelectors: Bool
        /// `fill(…)`, `fill_left(…)`, `fill_right(…)` on binary operations.
        public var enableBinaryFillModifiers: Bool
        /// The deepest nesting the parser accepts (parentheses, calls, operators); deeper queries are refused
        /// with a parse error rather than risking the stack.
        public var maximumDepth: Int

        public init(
            enableExperimentalFunctions: Bool = true, enableDurationExpressions: Bool = true,
            enableExtendedRangeSelectors: Bool = true, enableBinaryFillModifiers: Bool = true, maximumDepth: Int = 256
        ) {
            self.enableExperimentalFunctions = enableExperimentalFunctions
            self.enableDurationExpressions = enableDurationExpressions
            self.enableExtendedRangeSelectors = enableExtendedRangeSelectors
            self.enableBinaryFillModifiers = enableBinaryFillModifiers
            self.maximumDepth = maximumDepth
        }
    }

    public var options: Options

    public init(options: Options = Options()) {
        self.options = options
    }

    /// Parses and type-checks a PromQL expression.
    public func parse(_ query: String) throws(PromQLError) -> PromQLExpression {
        do {
            var parser = Parser(query: query, options: options)
            let expression = try parser.parseQuery()
            var checker = Checker(query: query, bytes: parser.lexer.input)
            return try checker.check(expression)
        } catch {
            throw error.error
        }
    }

    /// Parses and type-checks a PromQL expression.
    public static func parse(_ query: String, options: Options = Options()) throws(PromQLError) -> PromQLExpression {
        try PromQLParser(options: options).parse(query)
    }

    /// Parses a series selector (`foo{a="b"}`, `{__name__=~"x.*"}`), as the `match[]` parameters of the
    /// HTTP API take, and returns its matchers (with the name matcher last when a name is written outside
    /// the braces). Like Prometheus, this does not require a non-empty matcher.
    public func parseSeriesSelector(_ query: String) throws(PromQLError) -> [PromQLLabelMatcher] {
        do {
            var parser = Parser(query: query, options: options)
            return try parser.parseSeriesSelectorOnly()
        } catch {
            throw error.error
        }
    }
}

// MARK: - Syntax

/// The parser's internal error: one reference, so that the many `try` sites of the recursive descent keep
/// their stack frames small (a typed throw of the whole PromQLError reserves room for it at each site).
final class ParseFailure: Error, Sendable {
    let error: PromQLError

    init(_ error: PromQLError) { self.error = error }
}

private struct Parser {
    var lexer: PromQLLexer
    let query: String
    let options: PromQLParser.Options
    private var lookahead: PromQLToken?
    private var lastEnd = 0
    private var depth = 0
    /// Contexts for "unexpected …" messages (Prometheus names the innermost construct with error recovery).
    private var contexts: [String] = []

    init(query: String, options: PromQLParser.Options) {
        self.lexer = PromQLLexer(query)
        self.query = query
        self.options = options
    }

    // MARK: Tokens

    mutating func peek() throws(ParseFailure) -> PromQLToken {
        if let lookahead { return lookahead }
        var token = lexer.next()
        while token.kind == .comment { token = lexer.next() }
        if token.kind == .error {
            throw ParseFailure(PromQLError(.parse, token.text, position: .init(start: token.start, end: token.end), in: query))
        }
        lookahead = token
        return token
    }

    @discardableResult
    mutating func advance() throws(ParseFailure) -> PromQLToken {
        let token = try peek()
        lookahead = nil
        lastEnd = token.end
        return token
    }

    func fail(_ message: String, _ position: PromQLError.Position) -> ParseFailure {
        ParseFailure(PromQLError(.parse, message, position: position, in: query))
    }

    mutating func unexpected(_ context: String?, _ expected: String?) throws(ParseFailure) -> ParseFailure {
        let token = try peek()
        var message = "unexpected " + token.description
        if let context, !context.isEmpty { message += " in " + context }
        if let expected { message += ", expected " + expected }
        return fail(message, token.range)
    }

    mutating func unexpectedHere() throws(ParseFailure) -> ParseFailure {
        try unexpected(contexts.last, nil)
    }

    mutating func enter() throws(ParseFailure) {
        depth += 1
        if depth > options.maximumDepth {
            let token = try peek()
            throw fail("query is nested too deeply (more than \(options.maximumDepth) levels)", token.range)
        }
    }

    mutating func leave() { depth -= 1 }

    // MARK: Entry points

    mutating func parseQuery() throws(ParseFailure) -> PromQLExpression {
        if try peek().kind == .eof { throw fail("no expression found in input", .init(start: 0, end: 0)) }
        let expression = try parseExpression(minimumPrecedence: 0).expression
        if try peek().kind != .eof { throw try unexpected(nil, nil) }
        return expression
    }

    mutating func parseSeriesSelectorOnly() throws(ParseFailure) -> [PromQLLabelMatcher] {
        let token = try peek()
        var selector: PromQLVectorSelector
        if token.kind == .leftBrace {
            selector = try parseSelector(name: nil)
        } else if Self.isMetricIdentifier(token.kind) {
            try advance()
            selector = try parseSelector(name: token)
        } else {
            throw try unexpected(nil, nil)
        }
        if try peek().kind != .eof { throw try unexpected(nil, nil) }
        return selector.matchers
    }

    // MARK: Expressions

    struct Parsed {
        var expression: PromQLExpression
        /// Height of the tree, to refuse trees deeper than the limit (checked, printed and compared recursively).
        var height: Int
    }

    mutating func parseExpression(minimumPrecedence: Int) throws(ParseFailure) -> Parsed {
        try enter()
        defer { leave() }
        var lhs = try parseUnary()
        while true {
            let token = try peek()
            guard let op = token.kind.binaryOperator, op.precedence >= minimumPrecedence else { break }
            try advance()
            let (returnBool, matching) = try parseBinaryModifiers()
            let rhs = try parseExpression(minimumPrecedence: op.isRightAssociative ? op.precedence : op.precedence + 1)
            let binary = PromQLBinaryExpression(
                op: op, lhs: lhs.expression, rhs: rhs.expression, returnBool: returnBool, matching: matching)
            if !options.enableBinaryFillModifiers, matching.fillLeft != nil || matching.fillRight != nil {
                throw fail("binop fill modifiers are experimental and not enabled", binary.position)
            }
            let height = Swift.max(lhs.height, rhs.height) + 1
            if height > options.maximumDepth {
                throw fail(
                    "query is nested too deeply (more than \(options.maximumDepth) levels)", binary.position)
            }
            lhs = Parsed(expression: .binary(binary), height: height)
        }
        return lhs
    }

    mutating func parseBinaryModifiers() throws(ParseFailure) -> (Bool, PromQLVectorMatching) {
        var returnBool = false
        var matching = PromQLVectorMatching()
        if try peek().kind == .bool {
            try advance()
            returnBool = true
        }
        let token = try peek()
        if token.kind == .on || token.kind == .ignoring {
            try advance()
            matching.on = token.kind == .on
            matching.matchingLabels = try parseGroupingLabels()
            let group = try peek()
            if group.kind == .groupLeft || group.kind == .groupRight {
                try advance()
                matching.cardinality = group.kind == .groupLeft ? .manyToOne : .oneToMany
                if try peek().kind == .leftParen { matching.include = try parseGroupingLabels() }
            }
        }
        switch try peek().kind {
        case .fill:
            try advance()
            let value = try parseFillValue()
            matching.fillLeft = value
            matching.fillRight = value
        case .fillLeft:
            try advance()
            matching.fillLeft = try parseFillValue()
            if try peek().kind == .fillRight {
                try advance()
                matching.fillRight = try parseFillValue()
            }
        case .fillRight:
            try advance()
            matching.fillRight = try parseFillValue()
            if try peek().kind == .fillLeft {
                try advance()
                matching.fillLeft = try parseFillValue()
            }
        default:
            break
        }
        return (returnBool, matching)
    }

    mutating func parseFillValue() throws(ParseFailure) -> Double {
        guard try peek().kind == .leftParen else { throw try unexpectedHere() }
        try advance()
        var negate = false
        let sign = try peek()
        if sign.kind == .add || sign.kind == .sub {
            try advance()
            negate = sign.kind == .sub
        }
        let token = try peek()
        guard token.kind == .number || token.kind == .duration else { throw try unexpectedHere() }
        try advance()
        let literal = try numberLiteral(token)
        guard try peek().kind == .rightParen else { throw try unexpectedHere() }
        try advance()
        return negate ? -literal.value : literal.value
    }

    /// `( label, … )` after by/without/on/ignoring/group_left/group_right.
    mutating func parseGroupingLabels() throws(ParseFailure) -> [String] {
        guard try peek().kind == .leftParen else { throw try unexpected("grouping opts", "\"(\"") }
        try advance()
        var labels: [String] = []
        if try peek().kind == .rightParen {
            try advance()
            return labels
        }
        while true {
            let token = try peek()
            if Self.isMaybeLabel(token.kind) {
                try advance()
                labels.append(token.text)
            } else if token.kind == .string {
                try advance()
                let unquoted = unquote(token.text)
                guard !unquoted.isEmpty, let name = String(validating: unquoted, as: UTF8.self) else {
                    throw fail(
                        "invalid label name for grouping: \(goQuote(bytes: unquoted))",
                        .init(start: token.start, end: token.end))
                }
                labels.append(name)
            } else {
                throw try unexpected("grouping opts", "label")
            }
            let separator = try peek()
            if separator.kind == .comma {
                try advance()
                if try peek().kind == .rightParen {
                    try advance()
                    return labels
                }
                continue
            }
            if separator.kind == .rightParen {
                try advance()
                return labels
            }
            throw try unexpected("grouping opts", "\",\" or \")\"")
        }
    }

    static func isMaybeLabel(_ kind: PromQLTokenKind) -> Bool {
        switch kind {
        case .avg, .bool, .bottomk, .by, .count, .countValues, .group, .groupLeft, .groupRight, .fill, .fillLeft,
            .fillRight, .identifier, .ignoring, .land, .lor, .lunless, .max, .metricIdentifier, .min, .offset, .on,
            .quantile, .stddev, .stdvar, .sum, .topk, .start, .end, .atan2, .limitk, .limitRatio, .step, .range,
            .anchored, .smoothed, .maxOf, .minOf:
            return true
        default:
            return false
        }
    }

    /// Tokens that name a metric when they start an expression (keywords included, as in Prometheus).
    static func isMetricIdentifier(_ kind: PromQLTokenKind) -> Bool {
        switch kind {
        case .avg, .bottomk, .by, .count, .countValues, .fill, .fillLeft, .fillRight, .group, .identifier, .land,
            .lor, .lunless, .max, .metricIdentifier, .min, .offset, .quantile, .stddev, .stdvar, .sum, .topk,
            .without, .start, .end, .limitk, .limitRatio, .step, .range, .anchored, .smoothed, .maxOf, .minOf:
            return true
        default:
            return false
        }
    }

    mutating func parseUnary() throws(ParseFailure) -> Parsed {
        let token = try peek()
        if token.kind == .add || token.kind == .sub {
            try advance()
            // Unary operators bind like `*`: the operand takes in `^` and the postfix modifiers.
            let operand = try parseExpression(minimumPrecedence: PromQLBinaryOperator.power.precedence)
            if case .number(var literal) = operand.expression {
                if token.kind == .sub { literal.value = -literal.value }
                literal.position.start = token.start
                return Parsed(expression: .number(literal), height: operand.height)
            }
            let unary = PromQLUnaryExpression(
                op: token.kind == .sub ? .minus : .plus, operand: operand.expression,
                position: .init(start: token.start, end: operand.expression.position.end))
            return Parsed(expression: .unary(unary), height: operand.height + 1)
        }
        var parsed = try parsePrimary()
        parsed.expression = try parsePostfix(parsed.expression)
        return parsed
    }

    // MARK: Primary expressions

    /// Reached only through `parseExpression`, which counts the nesting level.
    mutating func parsePrimary() throws(ParseFailure) -> Parsed {
        let token = try peek()
        switch token.kind {
        case .number:
            try advance()
            return Parsed(expression: .number(try numberLiteral(token)), height: 1)
        case .duration:
            try advance()
            return Parsed(expression: .number(try durationLiteral(token)), height: 1)
        case .string:
            try advance()
            let literal = PromQLStringLiteral(bytes: unquote(token.text), position: .init(start: token.start, end: token.end))
            return Parsed(expression: .string(literal), height: 1)
        case .leftParen:
            try advance()
            let inner = try parseExpression(minimumPrecedence: 0)
            guard try peek().kind == .rightParen else { throw try unexpectedHere() }
            let close = try advance()
            let paren = PromQLParenExpression(
                expression: inner.expression, position: .init(start: token.start, end: close.end))
            return Parsed(expression: .parenthesized(paren), height: inner.height + 1)
        case .leftBrace:
            return Parsed(expression: .vectorSelector(try parseSelector(name: nil)), height: 1)
        case .identifier:
            try advance()
            if try peek().kind == .leftParen { return try parseCall(name: token) }
            return Parsed(expression: .vectorSelector(try parseSelector(name: token)), height: 1)
        case .start, .end, .step, .range, .maxOf, .minOf:
            try advance()
            if try peek().kind == .leftParen { return try parseCall(name: token) }
            return Parsed(expression: .vectorSelector(try parseSelector(name: token)), height: 1)
        case _ where token.kind.isAggregator:
            try advance()
            switch try peek().kind {
            case .leftParen, .by, .without: return try parseAggregation(operatorToken: token)
            default: return Parsed(expression: .vectorSelector(try parseSelector(name: token)), height: 1)
            }
        case _ where Self.isMetricIdentifier(token.kind):
            try advance()
            return Parsed(expression: .vectorSelector(try parseSelector(name: token)), height: 1)
        default:
            throw try unexpectedHere()
        }
    }

    mutating func numberLiteral(_ token: PromQLToken) throws(ParseFailure) -> PromQLNumberLiteral {
        switch parseGoNumber(token.text) {
        case .success(let value):
            return PromQLNumberLiteral(value: value, position: token.range)
        case .failure(let error):
            throw fail("error parsing number: \(error.message)", token.range)
        }
    }

    mutating func durationLiteral(_ token: PromQLToken) throws(ParseFailure) -> PromQLNumberLiteral {
        switch PromQLDuration.parse(token.text) {
        case .success(let duration):
            return PromQLNumberLiteral(value: duration.seconds, isDuration: true, position: token.range)
        case .failure(let error):
            throw fail(error.message, token.range)
        }
    }

    mutating func parseCall(name: PromQLToken) throws(ParseFailure) -> Parsed {
        let (arguments, close, height) = try parseCallArguments()
        guard let function = PromQLFunction.named(name.text) else {
            throw fail("unknown function with name \(goQuote(name.text))", name.range)
        }
        if function.isExperimental, !options.enableExperimentalFunctions {
            throw fail("function \(goQuote(name.text)) is not enabled", name.range)
        }
        let call = PromQLCall(function: function, arguments: arguments, position: .init(start: name.start, end: close.end))
        return Parsed(expression: .call(call), height: height + 1)
    }

    /// `( expr, … )`; returns the arguments, the closing parenthesis and the tallest argument's height.
    mutating func parseCallArguments() throws(ParseFailure) -> ([PromQLExpression], PromQLToken, Int) {
        guard try peek().kind == .leftParen else { throw try unexpectedHere() }
        try advance()
        var arguments: [PromQLExpression] = []
        var height = 0
        if try peek().kind == .rightParen { return (arguments, try advance(), height) }
        while true {
            let argument = try parseExpression(minimumPrecedence: 0)
            arguments.append(argument.expression)
            height = Swift.max(height, argument.height)
            let token = try peek()
            if token.kind == .comma {
                try advance()
                let next = try peek()
                if next.kind == .rightParen || next.kind == .comma {
                    throw fail("trailing commas not allowed in function call args", token.range)
                }
                continue
            }
            if token.kind == .rightParen { return (arguments, try advance(), height) }
            throw try unexpectedHere()
        }
    }

    mutating func parseAggregation(operatorToken: PromQLToken) throws(ParseFailure) -> Parsed {
        guard let op = operatorToken.kind.aggregationOperator else { throw try unexpectedHere() }
        contexts.append("aggregation")
        defer { contexts.removeLast() }
        var grouping: [String] = []
        var without = false
        let arguments: [PromQLExpression]
        let height: Int
        let modifier = try peek()
        if modifier.kind == .by || modifier.kind == .without {
            try advance()
            without = modifier.kind == .without
            grouping = try parseGroupingLabels()
            (arguments, _, height) = try parseCallArguments()
        } else {
            (arguments, _, height) = try parseCallArguments()
            let trailing = try peek()
            if trailing.kind == .by || trailing.kind == .without {
                try advance()
                without = trailing.kind == .without
                grouping = try parseGroupingLabels()
            }
        }
        let position = PromQLError.Position(start: operatorToken.start, end: lastEnd)
        if arguments.isEmpty { throw fail("no arguments for aggregate expression provided", position) }
        var expected = 1
        var parameter: PromQLExpression?
        if op.takesParameter {
            if op.isExperimental, !options.enableExperimentalFunctions {
                throw fail(
                    "\(op.rawValue)() is experimental and must be enabled with --enable-feature=promql-experimental-functions",
                    position)
            }
            expected = 2
            parameter = arguments[0]
        }
        if arguments.count != expected {
            throw fail(
                "wrong number of arguments for aggregate expression provided, expected \(expected), got \(arguments.count)",
                position)
        }
        let aggregation = PromQLAggregation(
            op: op, expression: arguments[expected - 1], parameter: parameter, grouping: grouping, without: without,
            position: position)
        return Parsed(expression: .aggregation(aggregation), height: height + 1)
    }

    // MARK: Selectors

    /// A vector selector: the name token (already consumed) and/or `{…}`.
    mutating func parseSelector(name: PromQLToken?) throws(ParseFailure) -> PromQLVectorSelector {
        var matchers: [PromQLLabelMatcher] = []
        var start = name?.start ?? 0
        var end = name?.end ?? 0
        let brace = try peek()
        if brace.kind == .leftBrace {
            if name == nil { start = brace.start }
            (matchers, end) = try parseLabelMatchers()
        }
        if let name { matchers.append(PromQLLabelMatcher(name: "__name__", type: .equal, value: name.text)) }
        return PromQLVectorSelector(
            name: name?.text ?? "", matchers: matchers, position: .init(start: start, end: end))
    }

    mutating func parseLabelMatchers() throws(ParseFailure) -> ([PromQLLabelMatcher], Int) {
        let context = "label matching"
        try advance()  // {
        var matchers: [PromQLLabelMatcher] = []
        if try peek().kind == .rightBrace { return (matchers, try advance().end) }
        while true {
            let token = try peek()
            switch token.kind {
            case .identifier:
                try advance()
                guard let type = Self.matchType(try peek().kind) else {
                    throw try unexpected(context, "label matching operator")
                }
                try advance()
                let value = try peek()
                guard value.kind == .string else { throw try unexpected(context, "string") }
                try advance()
                matchers.append(try labelMatcher(name: token.text, nameStart: token.start, type: type, value: value))
            case .string:
                try advance()
                let name = String(decoding: unquote(token.text), as: UTF8.self)
                if let type = Self.matchType(try peek().kind) {
                    try advance()
                    let value = try peek()
                    guard value.kind == .string else { throw try unexpected(context, "string") }
                    try advance()
                    matchers.append(try labelMatcher(name: name, nameStart: token.start, type: type, value: value))
                } else {
                    matchers.append(PromQLLabelMatcher(name: "__name__", type: .equal, value: name))
                }
            default:
                throw try unexpected(context, "identifier or \"}\"")
            }
            let separator = try peek()
            if separator.kind == .comma {
                try advance()
                if try peek().kind == .rightBrace { return (matchers, try advance().end) }
                continue
            }
            if separator.kind == .rightBrace { return (matchers, try advance().end) }
            throw try unexpected(context, "\",\" or \"}\"")
        }
    }

    static func matchType(_ kind: PromQLTokenKind) -> PromQLMatchType? {
        switch kind {
        case .assign: return .equal
        case .neq: return .notEqual
        case .eqlRegex: return .regexMatch
        case .neqRegex: return .regexNoMatch
        default: return nil
        }
    }

    func labelMatcher(name: String, nameStart: Int, type: PromQLMatchType, value: PromQLToken) throws(ParseFailure)
        -> PromQLLabelMatcher
    {
        let text = String(decoding: unquote(value.text), as: UTF8.self)
        if type == .regexMatch || type == .regexNoMatch, let message = PromQLRegexSyntax.validate(text) {
            throw fail(message, .init(start: nameStart, end: value.start + value.text.utf8.count))
        }
        return PromQLLabelMatcher(name: name, type: type, value: text)
    }

    // MARK: Postfix modifiers

    mutating func parsePostfix(_ expression: PromQLExpression) throws(ParseFailure) -> PromQLExpression {
        var expression = expression
        while true {
            switch try peek().kind {
            case .leftBracket: expression = try parseRangeOrSubquery(expression)
            case .offset: expression = try parseOffset(expression)
            case .at: expression = try parseAt(expression)
            case .anchored, .smoothed: expression = try parseExtendedModifier(expression)
            default: return expression
            }
        }
    }

    mutating func parseRangeOrSubquery(_ expression: PromQLExpression) throws(ParseFailure) -> PromQLExpression {
        let open = try advance()
        let rangeContext = DurationContext(
            name: "subquery or range selector", expected: "number, duration, step(), or range()")
        let range = try parsePositiveDuration(rangeContext)
        let token = try peek()
        switch token.kind {
        case .rightBracket:
            let close = try advance()
            guard case .vectorSelector(let selector) = expression else {
                throw fail("ranges only allowed for vector selectors", .init(start: open.start, end: close.end))
            }
            if selector.hasOffset {
                throw fail("no offset modifiers allowed before range", .init(start: open.start, end: close.end))
            }
            if selector.at != nil {
                throw fail("no @ modifiers allowed before range", .init(start: open.start, end: close.end))
            }
            return .matrixSelector(
                PromQLMatrixSelector(
                    vectorSelector: selector, range: range,
                    position: .init(start: selector.position.start, end: close.end)))
        case .colon:
            try advance()
            var step: PromQLDurationSpec?
            if try peek().kind != .rightBracket {
                let stepContext = DurationContext(
                    name: "subquery selector", expected: "number, duration, step(), range(), or \"]\"")
                step = try parsePositiveDuration(stepContext)
                guard try peek().kind == .rightBracket else { throw try unexpected("subquery selector", "\"]\"") }
            }
            let close = try advance()
            return .subquery(
                PromQLSubquery(
                    expression: expression, range: range, step: step,
                    position: .init(start: expression.position.start, end: close.end)))
        default:
            throw try unexpected("subquery or range", "\":\" or \"]\"")
        }
    }

    mutating func parseOffset(_ expression: PromQLExpression) throws(ParseFailure) -> PromQLExpression {
        try advance()  // offset
        let context = DurationContext(name: "offset", expected: "number, duration, step(), or range()")
        let value = try parseOffsetDuration(context)
        let spec: PromQLDurationSpec
        if case .number(let literal) = value {
            spec = .fixed(PromQLDuration(seconds: literal.value))
        } else {
            spec = .expression(value)
        }
        switch expression {
        case .vectorSelector(var selector):
            if selector.hasOffset { throw fail("offset may not be set multiple times", selector.position) }
            selector.offset = spec
            selector.position.end = lastEnd
            return .vectorSelector(selector)
        case .matrixSelector(var matrix):
            if matrix.vectorSelector.hasOffset { throw fail("offset may not be set multiple times", matrix.position) }
            matrix.vectorSelector.offset = spec
            matrix.position.end = lastEnd
            return .matrixSelector(matrix)
        case .subquery(var subquery):
            if subquery.hasOffset { throw fail("offset may not be set multiple times", subquery.position) }
            subquery.offset = spec
            subquery.position.end = lastEnd
            return .subquery(subquery)
        default:
            throw fail(
                "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                expression.position)
        }
    }

    mutating func parseAt(_ expression: PromQLExpression) throws(ParseFailure) -> PromQLExpression {
        try advance()  // @
        let context = "@"
        let expected = "timestamp"
        var token = try peek()
        var modifier: PromQLAtModifier
        switch token.kind {
        case .start, .end:
            try advance()
            guard try peek().kind == .leftParen else { throw try unexpected(context, expected) }
            try advance()
            guard try peek().kind == .rightParen else { throw try unexpected(context, expected) }
            try advance()
            modifier = token.kind == .start ? .start : .end
        default:
            var negate = false
            if token.kind == .add || token.kind == .sub {
                try advance()
                negate = token.kind == .sub
                token = try peek()
            }
            let literal: PromQLNumberLiteral
            switch token.kind {
            case .number:
                try advance()
                literal = try numberLiteral(token)
            case .duration:
                try advance()
                literal = try durationLiteral(token)
            default:
                throw try unexpected(context, expected)
            }
            let seconds = negate ? -literal.value : literal.value
            if seconds.isNaN || seconds.isInfinite || seconds >= 9.223372036854775807e18
                || seconds <= -9.223372036854775808e18
            {
                throw fail(
                    "timestamp out of bounds for @ modifier: \(goFormatFloatFixed6(seconds))", expression.position)
            }
            modifier = .timestamp(milliseconds: PromQLDuration.saturatingInt64((seconds * 1000).rounded()))
        }
        let mustBeSelector =
            "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery"
        let setTwice = "@ <timestamp> may not be set multiple times"
        switch expression {
        case .vectorSelector(var selector):
            if selector.at != nil { throw fail(setTwice, selector.position) }
            selector.at = modifier
            selector.position.end = lastEnd
            return .vectorSelector(selector)
        case .matrixSelector(var matrix):
            if matrix.vectorSelector.at != nil { throw fail(setTwice, matrix.position) }
            matrix.vectorSelector.at = modifier
            matrix.position.end = lastEnd
            return .matrixSelector(matrix)
        case .subquery(var subquery):
            if subquery.at != nil { throw fail(setTwice, subquery.position) }
            subquery.at = modifier
            subquery.position.end = lastEnd
            return .subquery(subquery)
        default:
            throw fail(mustBeSelector, expression.position)
        }
    }

    mutating func parseExtendedModifier(_ expression: PromQLExpression) throws(ParseFailure) -> PromQLExpression {
        let token = try advance()
        let anchored = token.kind == .anchored
        let name = anchored ? "anchored" : "smoothed"
        if !options.enableExtendedRangeSelectors {
            throw fail("\(name) modifier is experimental and not enabled", expression.position)
        }
        let conflict = "anchored and smoothed modifiers cannot be used together"
        switch expression {
        case .vectorSelector(var selector):
            if anchored { selector.anchored = true } else { selector.smoothed = true }
            if selector.anchored && selector.smoothed { throw fail(conflict, selector.position) }
            return .vectorSelector(selector)
        case .matrixSelector(var matrix):
            if anchored { matrix.vectorSelector.anchored = true } else { matrix.vectorSelector.smoothed = true }
            if matrix.vectorSelector.anchored && matrix.vectorSelector.smoothed { throw fail(conflict, matrix.position) }
            return .matrixSelector(matrix)
        case .subquery:
            throw fail("\(name) modifier is not supported for subqueries", expression.position)
        default:
            throw fail("\(name) modifier not implemented", expression.position)
        }
    }

    // MARK: Duration expressions

    struct DurationContext {
        var name: String
        var expected: String
    }

    mutating func durationUnexpected(_ context: DurationContext) throws(ParseFailure) -> ParseFailure {
        try unexpected(context.name, context.expected)
    }

    /// A range or step: a duration expression that, when it is a plain literal, must be positive.
    mutating func parsePositiveDuration(_ context: DurationContext) throws(ParseFailure) -> PromQLDurationSpec {
        let expression = try parseDurationExpression(minimumPrecedence: 0, context)
        if case .number(let literal) = expression {
            if !(literal.value > 0) && !literal.value.isNaN {
                throw fail("duration must be greater than 0", literal.position)
            }
            return .fixed(PromQLDuration(seconds: literal.value))
        }
        return .expression(expression)
    }

    /// The duration after `offset`: a literal, a signed literal, `step()`, `range()`, `min_of(…)`/`max_of(…)`
    /// or a parenthesised expression, optionally signed. A plain or signed literal ends the offset, so
    /// `foo offset 5m * 2` is `(foo offset 5m) * 2` and `foo offset -1^2` is `(foo offset -1)^2`.
    mutating func parseOffsetDuration(_ context: DurationContext) throws(ParseFailure) -> PromQLDurationExpression {
        let token = try peek()
        switch token.kind {
        case .number, .duration:
            return try parseDurationLiteral(context)
        case .step, .range, .maxOf, .minOf:
            return try parseDurationPrimary(context)
        case .leftParen:
            let paren = try parseDurationPrimary(context)
            return try parseDurationBinaryTail(paren, minimumPrecedence: 0, context)
        case .add, .sub:
            try advance()
            let next = try peek()
            switch next.kind {
            case .number, .duration:
                let literal = try parseDurationLiteral(context)
                return try applyDurationSign(token, literal, wrapped: false)
            case .step, .range, .maxOf, .minOf:
                let primary = try parseDurationPrimary(context)
                return try applyDurationSign(token, primary, wrapped: false)
            case .leftParen:
                let paren = try parseDurationPrimary(context)
                return try applyDurationSign(token, paren, wrapped: true)
            default:
                let operand = try parseDurationExpression(
                    minimumPrecedence: PromQLDurationOperator.power.precedence, context)
                let signed = try applyDurationSign(token, operand, wrapped: false)
                return try parseDurationBinaryTail(signed, minimumPrecedence: 0, context)
            }
        default:
            throw try durationUnexpected(context)
        }
    }

    mutating func parseDurationExpression(minimumPrecedence: Int, _ context: DurationContext) throws(ParseFailure)
        -> PromQLDurationExpression
    {
        try enter()
        defer { leave() }
        let lhs = try parseDurationUnary(context)
        return try parseDurationBinaryTail(lhs, minimumPrecedence: minimumPrecedence, context)
    }

    mutating func parseDurationBinaryTail(
        _ lhs: PromQLDurationExpression, minimumPrecedence: Int, _ context: DurationContext
    ) throws(ParseFailure) -> PromQLDurationExpression {
        var lhs = lhs
        var chain = 0
        while true {
            let token = try peek()
            guard let op = Self.durationOperator(token.kind), op.precedence >= minimumPrecedence else { return lhs }
            try advance()
            chain += 1
            if chain + depth > options.maximumDepth {
                throw fail("query is nested too deeply (more than \(options.maximumDepth) levels)", token.range)
            }
            let rhs = try parseDurationExpression(
                minimumPrecedence: op == .power ? op.precedence : op.precedence + 1, context)
            try requireDurationExpressions(lhs.position)
            if op == .divide || op == .modulo, case .number(let literal) = rhs, literal.value == 0 {
                throw fail(op == .divide ? "division by zero" : "modulo by zero", token.range)
            }
            lhs = .binary(op, lhs, rhs)
        }
    }

    static func durationOperator(_ kind: PromQLTokenKind) -> PromQLDurationOperator? {
        switch kind {
        case .add: return .add
        case .sub: return .subtract
        case .mul: return .multiply
        case .div: return .divide
        case .mod: return .modulo
        case .pow: return .power
        default: return nil
        }
    }

    mutating func parseDurationUnary(_ context: DurationContext) throws(ParseFailure) -> PromQLDurationExpression {
        let token = try peek()
        if token.kind == .add || token.kind == .sub {
            try advance()
            let operand = try parseDurationExpression(
                minimumPrecedence: PromQLDurationOperator.power.precedence, context)
            return try applyDurationSign(token, operand, wrapped: false)
        }
        return try parseDurationPrimary(context)
    }

    mutating func parseDurationLiteral(_ context: DurationContext) throws(ParseFailure) -> PromQLDurationExpression {
        let token = try advance()
        let literal = token.kind == .number ? try numberLiteral(token) : try durationLiteral(token)
        if Self.durationOutOfRange(literal.value) { throw fail("duration out of range", literal.position) }
        return .number(literal)
    }

    mutating func parseDurationPrimary(_ context: DurationContext) throws(ParseFailure) -> PromQLDurationExpression {
        let token = try peek()
        switch token.kind {
        case .number, .duration:
            return try parseDurationLiteral(context)
        case .step, .range:
            try advance()
            guard try peek().kind == .leftParen else { throw try durationUnexpected(context) }
            try advance()
            guard try peek().kind == .rightParen else { throw try durationUnexpected(context) }
            let close = try advance()
            let position = PromQLError.Position(start: token.start, end: close.end)
            try requireDurationExpressions(position)
            return token.kind == .step ? .step(position) : .range(position)
        case .maxOf, .minOf:
            try advance()
            guard try peek().kind == .leftParen else { throw try durationUnexpected(context) }
            try advance()
            let lhs = try parseDurationExpression(minimumPrecedence: 0, context)
            guard try peek().kind == .comma else { throw try durationUnexpected(context) }
            try advance()
            let rhs = try parseDurationExpression(minimumPrecedence: 0, context)
            guard try peek().kind == .rightParen else { throw try durationUnexpected(context) }
            let close = try advance()
            let position = PromQLError.Position(start: token.start, end: close.end)
            try requireDurationExpressions(position)
            return token.kind == .maxOf ? .maxOf(lhs, rhs, position) : .minOf(lhs, rhs, position)
        case .leftParen:
            try advance()
            let inner = try parseDurationExpression(minimumPrecedence: 0, context)
            guard try peek().kind == .rightParen else { throw try durationUnexpected(context) }
            let close = try advance()
            try requireDurationExpressions(inner.position)
            return Self.wrap(inner, start: token.start, end: close.end)
        default:
            throw try durationUnexpected(context)
        }
    }

    /// Marks an expression as parenthesised; nested parentheses collapse, as in Prometheus's printing.
    static func wrap(_ expression: PromQLDurationExpression, start: Int, end: Int) -> PromQLDurationExpression {
        switch expression {
        case .parenthesized: return expression
        case .number(let literal):
            return .parenthesized(expression, .init(start: start, end: literal.position.end))
        default:
            return .parenthesized(expression, expression.position)
        }
    }

    /// Applies a unary sign: folded into a literal (with a range check), dropped for `+`, `.negate` otherwise.
    mutating func applyDurationSign(_ sign: PromQLToken, _ expression: PromQLDurationExpression, wrapped: Bool)
        throws(ParseFailure) -> PromQLDurationExpression
    {
        var expression = expression
        if wrapped {
            let position = expression.position
            expression = Self.wrap(expression, start: position.start, end: position.end)
        }
        if case .number(var literal) = expression {
            if sign.kind == .sub { literal.value = -literal.value }
            if Self.durationOutOfRange(literal.value) { throw fail("duration out of range", sign.range) }
            literal.position.start = sign.start
            return .number(literal)
        }
        return sign.kind == .sub ? .negate(expression, start: sign.start) : expression
    }

    func requireDurationExpressions(_ position: PromQLError.Position) throws(ParseFailure) {
        if !options.enableDurationExpressions {
            throw fail("experimental duration expression is not enabled", position)
        }
    }

    static func durationOutOfRange(_ seconds: Double) -> Bool {
        seconds > 9_223_372_036.854775807 || seconds < -9_223_372_036.854775808
    }
}

// MARK: - Type checking

private struct Checker {
    let query: String
    let bytes: [UInt8]

    func fail(_ message: String, _ position: PromQLError.Position) -> ParseFailure {
        ParseFailure(PromQLError(.parse, message, position: position, in: query))
    }

    /// Checks the tree as Prometheus's checkAST does (children first, in source order) and returns it with
    /// vector matching normalised: removed unless both sides are instant vectors, many-to-many for set operators.
    mutating func check(_ expression: PromQLExpression, bypassEmptyMatcherCheck: Bool = false) throws(ParseFailure)
        -> PromQLExpression
    {
        switch expression {
        case .number, .string:
            return expression
        case .vectorSelector(let selector):
            try checkSelector(selector, bypassEmptyMatcherCheck: bypassEmptyMatcherCheck)
            return expression
        case .matrixSelector(let matrix):
            try checkSelector(matrix.vectorSelector, bypassEmptyMatcherCheck: false)
            return expression
        case .subquery(var subquery):
            subquery.expression = try check(subquery.expression)
            let type = subquery.expression.valueType
            if type != .vector {
                throw fail("subquery is only allowed on instant vector, got \(type.rawValue) instead", subquery.position)
            }
            return .subquery(subquery)
        case .parenthesized(var paren):
            paren.expression = try check(paren.expression)
            return .parenthesized(paren)
        case .unary(var unary):
            unary.operand = try check(unary.operand)
            let type = unary.operand.valueType
            if type != .scalar && type != .vector {
                throw fail(
                    "unary expression only allowed on expressions of type scalar or instant vector, got \(goQuote(type.documentedName))",
                    unary.position)
            }
            return .unary(unary)
        case .aggregation(var aggregation):
            aggregation.expression = try expectType(aggregation.expression, .vector, "aggregation expression")
            if let parameter = aggregation.parameter {
                switch aggregation.op {
                case .topk, .bottomk, .quantile, .limitk, .limitRatio:
                    aggregation.parameter = try expectType(parameter, .scalar, "aggregation parameter")
                case .countValues:
                    aggregation.parameter = try expectType(parameter, .string, "aggregation parameter")
                default:
                    break
                }
            }
            return .aggregation(aggregation)
        case .call(let call):
            return .call(try checkCall(call))
        case .binary(let binary):
            return .binary(try checkBinary(binary))
        }
    }

    mutating func expectType(_ expression: PromQLExpression, _ type: PromQLValueType, _ context: String)
        throws(ParseFailure) -> PromQLExpression
    {
        let checked = try check(expression)
        let actual = checked.valueType
        if actual != type {
            throw fail(
                "expected type \(type.documentedName) in \(context), got \(actual.documentedName)", checked.position)
        }
        return checked
    }

    func checkSelector(_ selector: PromQLVectorSelector, bypassEmptyMatcherCheck: Bool) throws(ParseFailure) {
        if !selector.name.isEmpty {
            for matcher in selector.matchers.dropLast() where matcher.name == "__name__" {
                throw fail(
                    "metric name must not be set twice: \(goQuote(selector.name)) or \(goQuote(matcher.value))",
                    selector.position)
            }
            return
        }
        if bypassEmptyMatcherCheck { return }
        let selectsSomething = selector.matchers.contains { matcher in
            switch matcher.type {
            case .equal: return !matcher.value.isEmpty
            case .notEqual: return matcher.value.isEmpty
            case .regexMatch: return !PromQLRegexSyntax.matchesEmpty(matcher.value)
            case .regexNoMatch: return PromQLRegexSyntax.matchesEmpty(matcher.value)
            }
        }
        if !selectsSomething {
            throw fail("vector selector must contain at least one non-empty matcher", selector.position)
        }
    }

    mutating func checkCall(_ call: PromQLCall) throws(ParseFailure) -> PromQLCall {
        var call = call
        let function = call.function
        let count = call.arguments.count
        let declared = function.argumentTypes.count
        let name = goQuote(function.name)
        if function.variadic == 0 {
            if declared != count {
                throw fail("expected \(declared) argument(s) in call to \(name), got \(count)", call.position)
            }
        } else {
            let minimum = declared - 1
            if minimum > count {
                throw fail("expected at least \(minimum) argument(s) in call to \(name), got \(count)", call.position)
            } else if function.variadic > 0, minimum + function.variadic < count {
                throw fail(
                    "expected at most \(minimum + function.variadic) argument(s) in call to \(name), got \(count)",
                    call.position)
            }
        }
        var bypassSecond = false
        if function.name == "info", count > 1 {
            let second = call.arguments[1]
            if second.valueType != .vector {
                throw fail(
                    "expected type instant vector in call to function \(name), got \(second.valueType.documentedName)",
                    call.position)
            }
            if case .vectorSelector(let selector) = second {
                if !selector.name.isEmpty {
                    throw fail("expected label selectors only, got vector selector instead", second.position)
                }
                bypassSecond = true
            } else {
                throw fail("expected label selectors only", second.position)
            }
        }
        for index in call.arguments.indices {
            guard let expected = function.argumentType(at: index) else { break }
            let checked = try check(call.arguments[index], bypassEmptyMatcherCheck: index == 1 && bypassSecond)
            call.arguments[index] = checked
            let actual = checked.valueType
            if actual != expected {
                throw fail(
                    "expected type \(expected.documentedName) in call to function \(name), got \(actual.documentedName)",
                    checked.position)
            }
        }
        return call
    }

    /// The operator's position as Prometheus reports it: from the first non-space after the left operand to
    /// the last non-space before the right operand (that last index inclusive, as Prometheus does).
    func operatorRange(_ binary: PromQLBinaryExpression) -> PromQLError.Position {
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        var start = binary.lhs.position.end
        while start < bytes.count, isSpace(bytes[start]) { start += 1 }
        var end = binary.rhs.position.start - 1
        while end > start, end < bytes.count, isSpace(bytes[end]) { end -= 1 }
        return .init(start: start, end: end)
    }

    mutating func checkBinary(_ binary: PromQLBinaryExpression) throws(ParseFailure) -> PromQLBinaryExpression {
        var binary = binary
        binary.lhs = try check(binary.lhs)
        binary.rhs = try check(binary.rhs)
        let leftType = binary.lhs.valueType
        let rightType = binary.rhs.valueType
        let op = binary.op
        if binary.returnBool && !op.isComparison {
            throw fail("bool modifier can only be used on comparison operators", operatorRange(binary))
        }
        if op.isComparison && !binary.returnBool && leftType == .scalar && rightType == .scalar {
            throw fail("comparisons between scalars must use BOOL modifier", operatorRange(binary))
        }
        var matching = binary.matching ?? PromQLVectorMatching()
        if op.isSetOperator && matching.cardinality == .oneToOne { matching.cardinality = .manyToMany }
        if matching.on {
            for label in matching.matchingLabels where matching.include.contains(label) {
                throw fail(
                    "label \(goQuote(label)) must not occur in ON and GROUP clause at once", operatorRange(binary))
            }
        }
        if leftType != .scalar && leftType != .vector {
            throw fail("binary expression must contain only scalar and instant vector types", binary.lhs.position)
        }
        if rightType != .scalar && rightType != .vector {
            throw fail("binary expression must contain only scalar and instant vector types", binary.rhs.position)
        }
        let hasFill = matching.fillLeft != nil || matching.fillRight != nil
        if leftType != .vector || rightType != .vector {
            if !matching.matchingLabels.isEmpty {
                throw fail("vector matching only allowed between instant vectors", binary.position)
            }
            if hasFill {
                throw fail("filling in missing series only allowed between instant vectors", binary.position)
            }
            binary.matching = nil
        } else {
            if op.isSetOperator {
                if matching.cardinality == .oneToMany || matching.cardinality == .manyToOne {
                    throw fail("no grouping allowed for \(goQuote(op.rawValue)) operation", binary.position)
                }
                if matching.cardinality != .manyToMany {
                    throw fail("set operations must always be many-to-many", binary.position)
                }
                if hasFill { throw fail("filling in missing series not allowed for set operators", binary.position) }
            }
            binary.matching = matching
        }
        if (leftType == .scalar || rightType == .scalar) && op.isSetOperator {
            throw fail("set operator \(goQuote(op.rawValue)) not allowed in binary scalar expression", binary.position)
        }
        return binary
    }
}

// MARK: - Literals

fileprivate struct GoNumberError: Error {
    var message: String
}

/// Parses a number token as Prometheus does: Go's strconv.ParseInt(s, 0, 64) (decimal, `0x` hex, leading-0
/// octal, `_` separators), falling back to strconv.ParseFloat (decimal floats, `Inf`, `NaN`).
fileprivate func parseGoNumber(_ text: String) -> Result<Double, GoNumberError> {
    if let integer = parseGoInteger(text) { return .success(Double(integer)) }
    let lowered = text.lowercased()
    switch lowered {
    case "inf", "+inf", "infinity", "+infinity": return .success(.infinity)
    case "-inf", "-infinity": return .success(-.infinity)
    case "nan": return .success(.nan)
    default: break
    }
    let invalid = GoNumberError(message: "strconv.ParseFloat: parsing \(goQuote(text)): invalid syntax")
    let bytes = Array(text.utf8)
    // Decimal float syntax only: digits, one '.', an exponent; '_' only between digits.
    var index = 0
    var sawDigit = false
    var sawDot = false
    var sawExponent = false
    var previous: UInt8 = 0
    var cleaned: [UInt8] = []
    if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
        cleaned.append(bytes[index])
        index += 1
    }
    let mantissaStart = index
    while index < bytes.count {
        let byte = bytes[index]
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            sawDigit = true
            cleaned.append(byte)
        case UInt8(ascii: "_"):
            let next = index + 1 < bytes.count ? bytes[index + 1] : 0
            guard previous >= 0x30 && previous <= 0x39, next >= 0x30 && next <= 0x39 else { return .failure(invalid) }
        case UInt8(ascii: "."):
            if sawDot || sawExponent { return .failure(invalid) }
            sawDot = true
            cleaned.append(byte)
        case UInt8(ascii: "e"), UInt8(ascii: "E"):
            if sawExponent || !sawDigit || index == mantissaStart { return .failure(invalid) }
            sawExponent = true
            cleaned.append(byte)
            if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "+") || bytes[index + 1] == UInt8(ascii: "-") {
                index += 1
                cleaned.append(bytes[index])
            }
            guard index + 1 < bytes.count, bytes[index + 1] >= 0x30, bytes[index + 1] <= 0x39 else {
                return .failure(invalid)
            }
        default:
            return .failure(invalid)
        }
        previous = byte
        index += 1
    }
    guard sawDigit, let value = Double(String(decoding: cleaned, as: UTF8.self)) else { return .failure(invalid) }
    if value.isInfinite {
        return .failure(GoNumberError(message: "strconv.ParseFloat: parsing \(goQuote(text)): value out of range"))
    }
    return .success(value)
}

/// Go's strconv.ParseInt(text, 0, 64) for the forms the lexer produces; nil when it would fail.
private func parseGoInteger(_ text: String) -> Int64? {
    var bytes = Array(text.utf8)
    guard !bytes.isEmpty else { return nil }
    var base: Int64 = 10
    var digits: ArraySlice<UInt8>
    var prefixed = false
    if bytes.count >= 2, bytes[0] == UInt8(ascii: "0") {
        switch bytes[1] {
        case UInt8(ascii: "x"), UInt8(ascii: "X"):
            base = 16
            prefixed = true
            digits = bytes[2...]
        case UInt8(ascii: "o"), UInt8(ascii: "O"):
            base = 8
            prefixed = true
            digits = bytes[2...]
        case UInt8(ascii: "b"), UInt8(ascii: "B"):
            base = 2
            prefixed = true
            digits = bytes[2...]
        default:
            base = 8
            digits = bytes[1...]
        }
    } else {
        digits = bytes[...]
    }
    // Underscores: only between digits, or between a base prefix and a digit (a leading octal 0 is a digit).
    if bytes.contains(UInt8(ascii: "_")) {
        var previousIsDigit = prefixed || base == 8
        for byte in digits {
            if byte == UInt8(ascii: "_") {
                if !previousIsDigit { return nil }
                previousIsDigit = false
            } else {
                previousIsDigit = true
            }
        }
        if !previousIsDigit { return nil }
        bytes.removeAll { $0 == UInt8(ascii: "_") }
        digits = digits.filter { $0 != UInt8(ascii: "_") }[...]
    }
    if digits.isEmpty { return base == 8 && !prefixed ? 0 : nil }
    var value: Int64 = 0
    for byte in digits {
        let digit: Int64
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Int64(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = Int64(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = Int64(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
        if digit >= base { return nil }
        let (times, overflow1) = value.multipliedReportingOverflow(by: base)
        let (plus, overflow2) = times.addingReportingOverflow(digit)
        if overflow1 || overflow2 { return nil }
        value = plus
    }
    return value
}

/// Unquotes a string token (`"…"`, `'…'` with Go escapes, or `` `…` `` raw) to its bytes.
/// The lexer has already rejected bad escapes.
fileprivate func unquote(_ token: String) -> [UInt8] {
    let bytes = Array(token.utf8)
    guard bytes.count >= 2 else { return [] }
    let quote = bytes[0]
    let body = bytes[1..<(bytes.count - 1)]
    if quote == UInt8(ascii: "`") { return Array(body) }
    var out: [UInt8] = []
    out.reserveCapacity(body.count)
    var index = body.startIndex
    func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
    while index < body.endIndex {
        let byte = body[index]
        if byte != UInt8(ascii: "\\") {
            out.append(byte)
            index += 1
            continue
        }
        index += 1
        guard index < body.endIndex else { break }
        let escape = body[index]
        index += 1
        switch escape {
        case UInt8(ascii: "a"): out.append(0x07)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "v"): out.append(0x0B)
        case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = escape == UInt8(ascii: "x") ? 2 : escape == UInt8(ascii: "u") ? 4 : 8
            var value: UInt32 = 0
            var consumed = 0
            while consumed < count, index < body.endIndex, let digit = hexValue(body[index]) {
                value = value << 4 | digit
                index += 1
                consumed += 1
            }
            if escape == UInt8(ascii: "x") {
                out.append(UInt8(truncatingIfNeeded: value))
            } else if let scalar = Unicode.Scalar(value) {
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            } else {
                out.append(contentsOf: [0xEF, 0xBF, 0xBD])
            }
        case UInt8(ascii: "0")...UInt8(ascii: "7"):
            var value = UInt32(escape - UInt8(ascii: "0"))
            var consumed = 1
            while consumed < 3, index < body.endIndex, body[index] >= UInt8(ascii: "0"), body[index] <= UInt8(ascii: "7") {
                value = value * 8 + UInt32(body[index] - UInt8(ascii: "0"))
                index += 1
                consumed += 1
            }
            out.append(UInt8(truncatingIfNeeded: value))
        default:
            out.append(escape)  // \\, \", \'
        }
    }
    return out
}
