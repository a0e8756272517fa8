import LoupeModel

/// Parses TraceQL into a `TraceQLQuery`.
///
/// Tempo's grammar is an LALR(1) yacc grammar whose productions for spansets, scalar filters and
/// metrics math share the same operators. This parser works in two steps:
/// 1. a precedence-climbing parser builds a syntax tree with Tempo's precedence table (lowest first:
///    `|`; `&&` `||`; comparisons and structural operators; `+ -`; `!`; `* / %`; `^` right-associative;
///    unary minus), keeping parentheses;
/// 2. a conversion checks which of the grammar's productions each node can be (spanset expression,
///    scalar filter, metrics expression...) and builds the typed tree, refusing what the grammar refuses.
/// Inside `{ }`, `by()` and aggregates the field-expression grammar is parsed directly.
///
/// One deliberate leniency: Tempo's parser refuses a bare `{ }` filter next to a parenthesised pipeline
/// (`{ a } && ({ b } | count() > 1)`) and a parenthesised pipeline as the first element of a pipeline,
/// artefacts of its LALR conflicts; both are accepted here and mean the obvious thing.
struct TraceQLParser {
    private let tokens: [TraceQLToken]
    private let scalars: [Unicode.Scalar]
    private var index = 0

    private init(tokens: [TraceQLToken], scalars: [Unicode.Scalar]) {
        self.tokens = tokens
        self.scalars = scalars
    }

    static func parse(_ text: String) throws(TraceQLError) -> TraceQLQuery {
        let (tokens, scalars) = try TraceQLLexer.tokenize(text)
        var parser = TraceQLParser(tokens: tokens, scalars: scalars)
        let syntax = try parser.parseTop(minimum: 1)
        var hints: [TraceQLHint] = []
        while parser.peekKeyword(.with) {
            hints += try parser.parseHints()
        }
        guard parser.current.kind == .end else { throw parser.unexpected() }
        let body = try parser.convertRoot(syntax)
        return TraceQLQuery(body, hints: hints)
    }

    // MARK: Tokens

    private var current: TraceQLToken { tokens[index] }

    private mutating func advance() -> TraceQLToken {
        let token = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    private func error(_ message: String, at start: Int) -> TraceQLError {
        TraceQLError.parse(message, at: start, in: scalars)
    }

    private func unexpected(expecting: String? = nil) -> TraceQLError {
        var message = "syntax error: unexpected \(current.display)"
        if let expecting { message += ", expecting \(expecting)" }
        return error(message, at: current.start)
    }

    private func peekSymbol(_ symbol: TraceQLSymbol) -> Bool { current.kind == .symbol(symbol) }
    private func peekKeyword(_ keyword: TraceQLKeyword) -> Bool { current.kind == .keyword(keyword) }

    private mutating func expect(_ symbol: TraceQLSymbol) throws(TraceQLError) {
        guard peekSymbol(symbol) else { throw unexpected(expecting: symbol.rawValue) }
        _ = advance()
    }

    // MARK: Syntax tree (step 1)

    /// A node of the query-level syntax tree, before it is known what the grammar makes of it.
    private indirect enum Node {
        case filter(TraceQLFieldExpression)
        case aggregate(TraceQLAggregate)
        case groupBy(TraceQLFieldExpression)
        case select([TraceQLAttribute])
        case coalesce
        case metricsFunction(TraceQLMetricsFunction)
        /// `topk(n)` / `bottomk(n)`.
        case rank(TraceQLSecondStage)
        case number(TraceQLStatic)
        case negate(Syntax)
        case parenthesized(Syntax)
        case binary(TraceQLSymbol, Syntax, Syntax, operatorStart: Int)
        case pipe([Syntax])
    }

    private struct Syntax {
        let node: Node
        let start: Int
        /// Worked out once from the children's, so classifying a deep tree stays linear.
        let category: Category

        init(node: Node, start: Int) {
            self.node = node
            self.start = start
            self.category = TraceQLParser.category(of: node)
        }
    }

    /// Binding strength of query-level operators, as in Tempo's yacc declarations.
    private static func topPrecedence(_ symbol: TraceQLSymbol) -> (Int, rightAssociative: Bool)? {
        switch symbol {
        case .pipe: (1, false)
        case .and, .or: (2, false)
        case .equal, .notEqual, .greater, .greaterOrEqual, .less, .lessOrEqual, .descendant, .ancestor, .tilde, .tildeNot,
            .notChild, .notParent, .notDescendant, .notAncestor, .unionChild, .unionParent, .unionDescendant,
            .unionAncestor, .unionSibling:
            (3, false)
        case .plus, .minus: (5, false)
        case .star, .slash, .percent: (7, false)
        case .caret: (8, true)
        default: nil
        }
    }

    private mutating func parseTop(minimum: Int) throws(TraceQLError) -> Syntax {
        var lhs = try parseTopPrimary()
        while case .symbol(let symbol) = current.kind, let (precedence, right) = Self.topPrecedence(symbol),
            precedence >= minimum
        {
            let operatorStart = advance().start
            let rhs = try parseTop(minimum: right ? precedence : precedence + 1)
            if symbol == .pipe {
                if case .pipe(let elements) = lhs.node {
                    lhs = Syntax(node: .pipe(elements + [rhs]), start: lhs.start)
                } else {
                    lhs = Syntax(node: .pipe([lhs, rhs]), start: lhs.start)
                }
            } else {
                lhs = try binary(symbol, lhs, rhs, operatorStart: operatorStart)
            }
        }
        return lhs
    }

    private mutating func binary(_ symbol: TraceQLSymbol, _ lhs: Syntax, _ rhs: Syntax, operatorStart: Int) throws(TraceQLError) -> Syntax {
        var rhs = rhs
        if symbol == .percent || symbol == .caret, category(lhs) == .constant {
            // Tempo's grammar has no `constant % constant` or `constant ^ constant`, so its parser keeps
            // reading the right operand until it holds an aggregate: `1 ^ 2 * count()` is
            // `1 ^ (2 * count())`. Extend the right operand the same way while it is constant.
            while category(rhs) == .constant, case .symbol(let next) = current.kind,
                [.plus, .minus, .star, .slash, .percent, .caret].contains(next),
                let (nextPrecedence, nextRight) = Self.topPrecedence(next)
            {
                let nextStart = advance().start
                let operand = try parseTop(minimum: nextRight ? nextPrecedence : nextPrecedence + 1)
                rhs = try binary(next, rhs, operand, operatorStart: nextStart)
            }
        }
        return Syntax(node: .binary(symbol, lhs, rhs, operatorStart: operatorStart), start: lhs.start)
    }

    private mutating func parseTopPrimary() throws(TraceQLError) -> Syntax {
        let start = current.start
        switch current.kind {
        case .symbol(.openBrace):
            return Syntax(node: .filter(try parseFilterBody()), start: start)
        case .symbol(.openParen):
            _ = advance()
            let inner = try parseTop(minimum: 1)
            try expect(.closeParen)
            return Syntax(node: .parenthesized(inner), start: start)
        case .symbol(.minus):
            // Unary minus binds tightest and applies to constants only (`-1`, `-(2 * 3)`).
            _ = advance()
            return Syntax(node: .negate(try parseTopPrimary()), start: start)
        case .integer(let value):
            _ = advance()
            return Syntax(node: .number(.int(value)), start: start)
        case .float(let value):
            _ = advance()
            return Syntax(node: .number(.float(value)), start: start)
        case .duration(let value):
            _ = advance()
            return Syntax(node: .number(.duration(value)), start: start)
        case .keyword(let keyword):
            switch keyword {
            case .count, .avg, .max, .min, .sum:
                return Syntax(node: .aggregate(try parseAggregate()), start: start)
            case .by:
                _ = advance()
                try expect(.openParen)
                let expression = try parseField(minimum: 1)
                try expect(.closeParen)
                return Syntax(node: .groupBy(expression), start: start)
            case .select:
                _ = advance()
                try expect(.openParen)
                let attributes = try parseAttributeList()
                try expect(.closeParen)
                return Syntax(node: .select(attributes), start: start)
            case .coalesce:
                _ = advance()
                try expect(.openParen)
                try expect(.closeParen)
                return Syntax(node: .coalesce, start: start)
            case .rate, .countOverTime, .minOverTime, .maxOverTime, .avgOverTime, .sumOverTime, .quantileOverTime,
                .histogramOverTime, .compare:
                return Syntax(node: .metricsFunction(try parseMetricsFunction()), start: start)
            case .topk, .bottomk:
                _ = advance()
                try expect(.openParen)
                guard case .integer(let limit) = current.kind, let limit = Int(exactly: limit) else {
                    throw unexpected(expecting: "an integer")
                }
                _ = advance()
                try expect(.closeParen)
                return Syntax(node: .rank(keyword == .topk ? .topK(limit) : .bottomK(limit)), start: start)
            default:
                throw unexpected()
            }
        default:
            throw unexpected()
        }
    }

    private mutating func parseFilterBody() throws(TraceQLError) -> TraceQLFieldExpression {
        try expect(.openBrace)
        if peekSymbol(.closeBrace) {
            _ = advance()
            return .value(.bool(true))
        }
        let expression = try parseField(minimum: 1)
        try expect(.closeBrace)
        return expression
    }

    private mutating func parseAggregate() throws(TraceQLError) -> TraceQLAggregate {
        guard case .keyword(let keyword) = advance().kind, let function = TraceQLAggregate.Function(rawValue: keyword.rawValue)
        else { throw unexpected() }
        try expect(.openParen)
        if function == .count {
            try expect(.closeParen)
            return TraceQLAggregate(.count)
        }
        let expression = try parseField(minimum: 1)
        try expect(.closeParen)
        return TraceQLAggregate(function, expression)
    }

    private mutating func parseMetricsFunction() throws(TraceQLError) -> TraceQLMetricsFunction {
        guard case .keyword(let keyword) = advance().kind, let kind = TraceQLMetricsFunction.Kind(rawValue: keyword.rawValue)
        else { throw unexpected() }
        try expect(.openParen)
        var function = TraceQLMetricsFunction(kind)
        switch kind {
        case .rate, .countOverTime:
            break
        case .minOverTime, .maxOverTime, .avgOverTime, .sumOverTime, .histogramOverTime:
            function.attribute = try parseAttribute()
        case .quantileOverTime:
            function.attribute = try parseAttribute()
            try expect(.comma)
            repeat {
                switch current.kind {
                case .integer(let value): function.quantiles.append(Double(value))
                case .float(let value): function.quantiles.append(value)
                default: throw unexpected(expecting: "a number")
                }
                _ = advance()
            } while try consume(.comma)
        case .compare:
            function.comparison = try parseFilterBody()
            var arguments: [Int] = []
            while try consume(.comma) {
                guard case .integer(let value) = current.kind, let int = Int(exactly: value) else {
                    throw unexpected(expecting: "an integer")
                }
                arguments.append(int)
                _ = advance()
            }
            // The grammar takes compare(f), compare(f, topN) or compare(f, topN, start, end).
            guard arguments.count <= 1 || arguments.count == 3 else { throw unexpected(expecting: ",") }
            let topN = arguments.first ?? 10
            let (startTime, endTime) = arguments.count == 3 ? (arguments[1], arguments[2]) : (0, 0)
            function.compareArguments =
                startTime == 0 && endTime == 0 ? (topN == 10 ? [] : [topN]) : [topN, startTime, endTime]
        }
        try expect(.closeParen)
        if peekKeyword(.by) && kind != .compare {
            _ = advance()
            try expect(.openParen)
            function.by = try parseAttributeList()
            try expect(.closeParen)
        }
        return function
    }

    private mutating func consume(_ symbol: TraceQLSymbol) throws(TraceQLError) -> Bool {
        guard peekSymbol(symbol) else { return false }
        _ = advance()
        return true
    }

    private mutating func parseHints() throws(TraceQLError) -> [TraceQLHint] {
        _ = advance()
        try expect(.openParen)
        var hints: [TraceQLHint] = []
        repeat {
            guard case .identifier(let name) = current.kind else { throw unexpected(expecting: "a hint name") }
            _ = advance()
            try expect(.equal)
            guard let value = try parseStatic() else { throw unexpected(expecting: "a value") }
            hints.append(TraceQLHint(name: name, value: value))
        } while try consume(.comma)
        try expect(.closeParen)
        return hints
    }

    // MARK: Field expressions

    private static func fieldOperator(_ symbol: TraceQLSymbol) -> (TraceQLBinaryOperator, Int, rightAssociative: Bool)? {
        switch symbol {
        case .and: (.and, 2, false)
        case .or: (.or, 2, false)
        case .equal: (.equal, 3, false)
        case .notEqual: (.notEqual, 3, false)
        case .regexMatch: (.regexMatch, 3, false)
        case .tildeNot: (.regexNotMatch, 3, false)
        case .greater: (.greater, 3, false)
        case .greaterOrEqual: (.greaterOrEqual, 3, false)
        case .less: (.less, 3, false)
        case .lessOrEqual: (.lessOrEqual, 3, false)
        case .plus: (.add, 5, false)
        case .minus: (.subtract, 5, false)
        case .star: (.multiply, 7, false)
        case .slash: (.divide, 7, false)
        case .percent: (.modulo, 7, false)
        case .caret: (.power, 8, true)
        default: nil
        }
    }

    private mutating func parseField(minimum: Int) throws(TraceQLError) -> TraceQLFieldExpression {
        var lhs = try parseFieldPrimary()
        while case .symbol(let symbol) = current.kind, let (op, precedence, right) = Self.fieldOperator(symbol),
            precedence >= minimum
        {
            _ = advance()
            // `x = nil` and `x != nil` test for presence (the grammar's own productions, binding like `nil`).
            if (op == .equal || op == .notEqual) && peekKeyword(.nil) {
                _ = advance()
                lhs = .unary(op == .equal ? .notExists : .exists, lhs)
                continue
            }
            let rhs = try parseField(minimum: right ? precedence : precedence + 1)
            lhs = .binary(op, lhs, rhs)
        }
        return lhs
    }

    private mutating func parseFieldPrimary() throws(TraceQLError) -> TraceQLFieldExpression {
        switch current.kind {
        case .symbol(.openParen):
            _ = advance()
            let inner = try parseField(minimum: 1)
            try expect(.closeParen)
            return inner
        case .symbol(.minus):
            // Unary minus has the precedence of binary minus: `-a * b` is `-(a * b)`, `-a + b` is `(-a) + b`.
            _ = advance()
            return .unary(.negate, try parseField(minimum: 6))
        case .symbol(.bang):
            // `!` binds tighter than `+` and looser than `*`, as in Tempo's grammar.
            _ = advance()
            return .unary(.not, try parseField(minimum: 7))
        case .keyword(.nil):
            // `nil = x`, `nil != x`, `nil = nil` (false): nil exists only in these comparisons.
            _ = advance()
            guard case .symbol(let symbol) = current.kind, symbol == .equal || symbol == .notEqual else {
                throw unexpected(expecting: "= or !=")
            }
            _ = advance()
            if peekKeyword(.nil) {
                _ = advance()
                return .value(.bool(false))
            }
            return .unary(symbol == .equal ? .notExists : .exists, try parseField(minimum: 4))
        case .attribute(let attribute):
            _ = advance()
            return .attribute(attribute)
        case .scopeColon, .keyword(.duration), .keyword(.name), .keyword(.status), .keyword(.statusMessage),
            .keyword(.kind), .keyword(.parent), .keyword(.rootName), .keyword(.rootServiceName),
            .keyword(.traceDuration), .keyword(.nestedSetLeft), .keyword(.nestedSetRight), .keyword(.nestedSetParent):
            return .attribute(try parseAttribute())
        default:
            if let value = try parseStatic() { return .value(value) }
            throw unexpected()
        }
    }

    /// A literal (the grammar's `static`), or nil when the current token is none.
    private mutating func parseStatic() throws(TraceQLError) -> TraceQLStatic? {
        let value: TraceQLStatic
        switch current.kind {
        case .string(let string): value = .string(string)
        case .integer(let int): value = .int(int)
        case .float(let double): value = .float(double)
        case .duration(let nanos): value = .duration(nanos)
        case .keyword(.true): value = .bool(true)
        case .keyword(.false): value = .bool(false)
        case .keyword(.ok): value = .status(.ok)
        case .keyword(.error): value = .status(.error)
        case .keyword(.unset): value = .status(.unset)
        case .keyword(.unspecified): value = .kind(.unspecified)
        case .keyword(.internal): value = .kind(.internal)
        case .keyword(.server): value = .kind(.server)
        case .keyword(.client): value = .kind(.client)
        case .keyword(.producer): value = .kind(.producer)
        case .keyword(.consumer): value = .kind(.consumer)
        case .identifier(let name):
            switch name {
            case "minInt": value = .int(.min)
            case "maxInt": value = .int(.max)
            default: throw error("unknown identifier: \(name)", at: current.start)
            }
        default:
            return nil
        }
        _ = advance()
        return value
    }

    /// An intrinsic (`duration`, `span:id`) or an attribute (`.a`, `resource.service.name`).
    private mutating func parseAttribute() throws(TraceQLError) -> TraceQLAttribute {
        let token = advance()
        switch token.kind {
        case .attribute(let attribute):
            return attribute
        case .keyword(let keyword):
            let unscoped: [TraceQLKeyword: TraceQLIntrinsic] = [
                .duration: .duration, .name: .name, .status: .status, .statusMessage: .statusMessage, .kind: .kind,
                .parent: .parent, .rootName: .rootName, .rootServiceName: .rootServiceName,
                .traceDuration: .traceDuration, .nestedSetLeft: .nestedSetLeft, .nestedSetRight: .nestedSetRight,
                .nestedSetParent: .nestedSetParent,
            ]
            if let intrinsic = unscoped[keyword] { return TraceQLAttribute(intrinsic: intrinsic) }
        case .scopeColon(let scope):
            if case .keyword(let keyword) = current.kind, let intrinsic = Self.scopedIntrinsic(scope, keyword) {
                _ = advance()
                return TraceQLAttribute(intrinsic: intrinsic)
            }
            throw unexpected(expecting: "an intrinsic of \(scope):")
        default:
            break
        }
        index -= 1
        throw unexpected(expecting: "an attribute")
    }

    /// The scoped intrinsics the grammar lists (`trace:status` and `span:rootName` are not among them).
    private static func scopedIntrinsic(_ scope: String, _ keyword: TraceQLKeyword) -> TraceQLIntrinsic? {
        switch (scope, keyword) {
        case ("trace", .duration): .traceDuration
        case ("trace", .rootName): .rootName
        case ("trace", .rootService): .rootServiceName
        case ("trace", .id): .traceID
        case ("span", .duration): .duration
        case ("span", .name): .name
        case ("span", .kind): .kind
        case ("span", .status): .status
        case ("span", .statusMessage): .statusMessage
        case ("span", .id): .spanID
        case ("span", .parentID): .parentID
        case ("span", .childCount): .childCount
        case ("event", .name): .eventName
        case ("event", .timeSinceStart): .eventTimeSinceStart
        case ("link", .traceID): .linkTraceID
        case ("link", .spanID): .linkSpanID
        case ("instrumentation", .name): .instrumentationName
        case ("instrumentation", .version): .instrumentationVersion
        default: nil
        }
    }

    private mutating func parseAttributeList() throws(TraceQLError) -> [TraceQLAttribute] {
        var attributes = [try parseAttribute()]
        while try consume(.comma) { attributes.append(try parseAttribute()) }
        return attributes
    }

    // MARK: Conversion (step 2)

    /// What a syntax node can stand for in the grammar.
    private enum Category: Equatable {
        /// `{ }` filters, spanset operations, parenthesised spanset pipelines.
        case spanset
        /// Aggregate-containing arithmetic (`count()`, `avg(duration) * 2`): the grammar's scalarExpression.
        case aggregateScalar
        /// Parenthesised pipelines ending in an aggregate and arithmetic between them.
        case pipelineScalar
        /// Literal arithmetic, folded at parse time.
        case constant
        /// Parenthesised metrics pipelines and arithmetic between them.
        case metrics
        case comparison
        case other
    }

    private func category(_ syntax: Syntax) -> Category { syntax.category }

    private static func category(of node: Node) -> Category {
        switch node {
        case .filter: return .spanset
        case .aggregate: return .aggregateScalar
        case .number: return .constant
        case .negate(let operand): return operand.category == .constant ? .constant : .other
        case .groupBy, .select, .coalesce, .metricsFunction, .rank, .pipe: return .other
        case .parenthesized(let inner):
            switch inner.node {
            case .pipe(let elements):
                if elements.contains(where: { Self.head($0).isMetricsFunction }) { return .metrics }
                if case .aggregate = elements.last?.node { return .pipelineScalar }
                return .spanset
            case .groupBy, .select:
                return .spanset
            default:
                let innerCategory = inner.category
                if innerCategory == .comparison {
                    // `(count() > 1)` is a one-element spanset pipeline.
                    return Self.isAggregateFilter(inner) ? .spanset : .other
                }
                return innerCategory
            }
        case .binary(let symbol, let lhs, let rhs, _):
            let left = lhs.category
            let right = rhs.category
            if let _ = Self.spansetOperator(symbol), left == .spanset && right == .spanset { return .spanset }
            switch symbol {
            case .equal, .notEqual, .greater, .greaterOrEqual, .less, .lessOrEqual:
                return .comparison
            case .plus, .minus, .star, .slash, .percent, .caret:
                let basic = symbol == .plus || symbol == .minus || symbol == .star || symbol == .slash
                switch (left, right) {
                case (.constant, .constant): return basic ? .constant : .other
                case (.aggregateScalar, .aggregateScalar), (.aggregateScalar, .constant), (.constant, .aggregateScalar):
                    return .aggregateScalar
                case (.pipelineScalar, .pipelineScalar): return .pipelineScalar
                case (.metrics, .metrics), (.metrics, .constant), (.constant, .metrics): return basic ? .metrics : .other
                default: return .other
                }
            default:
                return .other
            }
        }
    }

    private static func spansetOperator(_ symbol: TraceQLSymbol) -> TraceQLSpansetOperator? {
        switch symbol {
        case .and: .and
        case .or: .union
        case .greater: .child
        case .less: .parent
        case .descendant: .descendant
        case .ancestor: .ancestor
        case .tilde: .sibling
        case .notChild: .notChild
        case .notParent: .notParent
        case .notDescendant: .notDescendant
        case .notAncestor: .notAncestor
        case .tildeNot: .notSibling
        case .unionChild: .unionChild
        case .unionParent: .unionParent
        case .unionDescendant: .unionDescendant
        case .unionAncestor: .unionAncestor
        case .unionSibling: .unionSibling
        default: nil
        }
    }

    private static func comparisonOperator(_ symbol: TraceQLSymbol) -> TraceQLBinaryOperator? {
        switch symbol {
        case .equal: .equal
        case .notEqual: .notEqual
        case .greater: .greater
        case .greaterOrEqual: .greaterOrEqual
        case .less: .less
        case .lessOrEqual: .lessOrEqual
        default: nil
        }
    }

    private static func arithmeticOperator(_ symbol: TraceQLSymbol) -> TraceQLBinaryOperator? {
        switch symbol {
        case .plus: .add
        case .minus: .subtract
        case .star: .multiply
        case .slash: .divide
        case .percent: .modulo
        case .caret: .power
        default: nil
        }
    }

    /// The node a chain of trailing metrics filters (`rate() > 10 > 5`) hangs on, and those filters.
    private struct Head {
        var syntax: Syntax
        var filters: [(TraceQLSymbol, Syntax, Int)]

        var isMetricsFunction: Bool {
            if case .metricsFunction = syntax.node { return true }
            return false
        }
    }

    private static func head(_ syntax: Syntax) -> Head {
        if case .binary(let symbol, let lhs, let rhs, let at) = syntax.node, comparisonOperator(symbol) != nil {
            var inner = head(lhs)
            inner.filters.append((symbol, rhs, at))
            return inner
        }
        return Head(syntax: syntax, filters: [])
    }

    private static func isAggregateFilter(_ syntax: Syntax) -> Bool {
        guard case .binary(let symbol, let lhs, let rhs, _) = syntax.node, comparisonOperator(symbol) != nil else {
            return false
        }
        switch (lhs.category, rhs.category) {
        case (.aggregateScalar, .aggregateScalar), (.aggregateScalar, .constant), (.constant, .aggregateScalar): return true
        default: return false
        }
    }

    private func convertRoot(_ syntax: Syntax) throws(TraceQLError) -> TraceQLQuery.Body {
        if case .pipe(let elements) = syntax.node {
            if elements.contains(where: { Self.head($0).isMetricsFunction }) {
                return .metrics(.pipeline(try metricsPipeline(elements, at: syntax.start)), secondStage: [])
            }
            let first = Self.head(elements[0])
            if category(first.syntax) == .metrics {
                var stages = try filterStages(first.filters)
                for element in elements.dropFirst() { stages += try rankStages(element) }
                return metricsRoot(try metrics(first.syntax), stages)
            }
            return .search(try pipeline(elements, wrapped: false))
        }
        let head = Self.head(syntax)
        if !head.filters.isEmpty && category(head.syntax) == .metrics {
            return metricsRoot(try metrics(head.syntax), try filterStages(head.filters))
        }
        switch category(syntax) {
        case .comparison:
            return .search(TraceQLPipeline([.scalarFilter(try scalarFilter(syntax, pipelinesAllowed: true))]))
        case .spanset:
            // A parenthesised pipeline at the root is the root pipeline itself, as Tempo makes it.
            var inner = syntax
            while case .parenthesized(let wrapped) = inner.node { inner = wrapped }
            if case .pipe(let elements) = inner.node { return .search(try pipeline(elements, wrapped: false)) }
            return .search(TraceQLPipeline([try element(inner, first: true)]))
        case .metrics:
            return metricsRoot(try metrics(syntax), [])
        default:
            switch syntax.node {
            case .groupBy, .select: return .search(TraceQLPipeline([try element(syntax, first: true)]))
            default: throw misplaced(syntax)
            }
        }
    }

    private func metricsRoot(_ expression: TraceQLMetricsExpression, _ stages: [TraceQLSecondStage]) -> TraceQLQuery.Body {
        // Stages after a lone metrics pipeline belong to it: `({} | rate()) > 10` is `{} | rate() > 10`.
        if case .pipeline(var metrics) = expression {
            metrics.secondStage += stages
            return .metrics(.pipeline(metrics), secondStage: [])
        }
        return .metrics(expression, secondStage: stages)
    }

    /// An error that says why a node cannot stand where it is.
    private func misplaced(_ syntax: Syntax) -> TraceQLError {
        let message: String
        switch syntax.node {
        case .aggregate: message = "an aggregate must be compared to a value (count() > 1)"
        case .coalesce: message = "coalesce() cannot start a pipeline"
        case .metricsFunction: message = "a metrics function must follow a spanset pipeline ({ } | rate())"
        case .rank: message = "topk() and bottomk() must follow a metrics function"
        case .number, .negate: message = "a constant is not a query"
        case .pipe: message = "a pipeline cannot be used here"
        case .binary(let symbol, _, _, let at):
            return error("syntax error: unexpected \(symbol.rawValue): its operands cannot be combined this way", at: at)
        default:
            switch category(syntax) {
            case .aggregateScalar, .pipelineScalar: message = "a scalar expression must be compared to a value"
            case .metrics: message = "a metrics query cannot be used here"
            case .spanset: message = "a spanset cannot be used here"
            default: message = "this expression cannot be used here"
            }
        }
        return error("syntax error: \(message)", at: syntax.start)
    }

    // MARK: Spansets and pipelines

    private func pipeline(_ elements: [Syntax], wrapped: Bool) throws(TraceQLError) -> TraceQLPipeline {
        var converted: [TraceQLPipelineElement] = []
        for (offset, syntax) in elements.enumerated() {
            if wrapped, offset == elements.count - 1, offset > 0, case .aggregate(let aggregate) = syntax.node {
                converted.append(.aggregate(aggregate))
            } else {
                let next = try element(syntax, first: offset == 0)
                // `a | (b | c) | d` is `a | b | c | d`: pipelines compose element by element.
                if case .spanset(.pipeline(let inner)) = next {
                    converted += inner.elements
                } else {
                    converted.append(next)
                }
            }
        }
        return TraceQLPipeline(converted)
    }

    private func element(_ syntax: Syntax, first: Bool) throws(TraceQLError) -> TraceQLPipelineElement {
        switch syntax.node {
        case .groupBy(let expression): return .groupBy(expression)
        case .select(let attributes): return .select(attributes)
        case .coalesce:
            if first { throw misplaced(syntax) }
            return .coalesce
        default:
            switch category(syntax) {
            case .spanset: return .spanset(try spanset(syntax))
            case .comparison: return .scalarFilter(try scalarFilter(syntax, pipelinesAllowed: false))
            default: throw misplaced(syntax)
            }
        }
    }

    private func spanset(_ syntax: Syntax) throws(TraceQLError) -> TraceQLSpansetExpression {
        switch syntax.node {
        case .filter(let expression):
            return .filter(expression)
        case .parenthesized(let inner):
            let elements: [Syntax]
            switch inner.node {
            case .pipe(let list): elements = list
            case .groupBy, .select: elements = [inner]
            case .binary where category(inner) == .comparison: elements = [inner]
            default: return try spanset(inner)
            }
            let wrapped = try pipeline(elements, wrapped: false)
            // A parenthesised single spanset expression is that expression.
            if wrapped.elements.count == 1, case .spanset(let only) = wrapped.elements[0] { return only }
            return .pipeline(wrapped)
        case .binary(let symbol, let lhs, let rhs, _):
            guard let op = Self.spansetOperator(symbol) else { throw misplaced(syntax) }
            return .operation(op, try spanset(lhs), try spanset(rhs))
        default:
            throw misplaced(syntax)
        }
    }

    // MARK: Scalars

    /// `lhs op rhs` where one side holds an aggregate (or, at the root only, a parenthesised scalar pipeline).
    private func scalarFilter(_ syntax: Syntax, pipelinesAllowed: Bool) throws(TraceQLError) -> TraceQLScalarFilter {
        guard case .binary(let symbol, let lhs, let rhs, let at) = syntax.node,
            let op = Self.comparisonOperator(symbol)
        else { throw misplaced(syntax) }
        switch (category(lhs), category(rhs)) {
        case (.aggregateScalar, .aggregateScalar), (.aggregateScalar, .constant), (.constant, .aggregateScalar):
            return TraceQLScalarFilter(op, try scalar(lhs), try scalar(rhs))
        case (.pipelineScalar, .pipelineScalar) where pipelinesAllowed, (.pipelineScalar, .constant) where pipelinesAllowed:
            return TraceQLScalarFilter(op, try scalar(lhs), try scalar(rhs))
        default:
            throw error("syntax error: unexpected \(symbol.rawValue): a comparison needs an aggregate on one side", at: at)
        }
    }

    private func scalar(_ syntax: Syntax) throws(TraceQLError) -> TraceQLScalarExpression {
        if category(syntax) == .constant { return .value(try fold(syntax)) }
        switch syntax.node {
        case .aggregate(let aggregate):
            return .aggregate(aggregate)
        case .parenthesized(let inner):
            if case .pipe(let elements) = inner.node { return .pipeline(try pipeline(elements, wrapped: true)) }
            return try scalar(inner)
        case .binary(let symbol, let lhs, let rhs, _):
            guard let op = Self.arithmeticOperator(symbol) else { throw misplaced(syntax) }
            return .binary(op, try scalar(lhs), try scalar(rhs))
        default:
            throw misplaced(syntax)
        }
    }

    /// Folds literal arithmetic as Tempo's grammar does: integers stay integers (`1/2` is 0), anything with
    /// a float is a float, and durations may not take part in arithmetic.
    private func fold(_ syntax: Syntax) throws(TraceQLError) -> TraceQLStatic {
        switch syntax.node {
        case .number(let value):
            return value
        case .parenthesized(let inner):
            return try fold(inner)
        case .negate(let operand):
            switch try fold(operand) {
            case .int(let value): return .int(0 &- value)
            case .float(let value): return .float(-value)
            case .duration(let value): return .duration(0 &- value)
            default: throw misplaced(syntax)
            }
        case .binary(let symbol, let lhs, let rhs, let at):
            let left = try fold(lhs)
            let right = try fold(rhs)
            if case .duration = left { throw error("duration cannot be used in scalar arithmetic", at: at) }
            if case .duration = right { throw error("duration cannot be used in scalar arithmetic", at: at) }
            if case .int(let a) = left, case .int(let b) = right {
                switch symbol {
                case .plus: return .int(a &+ b)
                case .minus: return .int(a &- b)
                case .star: return .int(a &* b)
                case .slash:
                    guard b != 0 else { throw error("division by zero", at: at) }
                    return .int(a == .min && b == -1 ? .min : a / b)
                default: throw misplaced(syntax)
                }
            }
            let a = Self.number(left)
            let b = Self.number(right)
            switch symbol {
            case .plus: return .float(a + b)
            case .minus: return .float(a - b)
            case .star: return .float(a * b)
            case .slash: return .float(a / b)
            default: throw misplaced(syntax)
            }
        default:
            throw misplaced(syntax)
        }
    }

    private static func number(_ value: TraceQLStatic) -> Double {
        switch value {
        case .int(let int): Double(int)
        case .float(let double): double
        case .duration(let nanos): Double(nanos)
        default: .nan
        }
    }

    // MARK: Metrics

    private func metrics(_ syntax: Syntax) throws(TraceQLError) -> TraceQLMetricsExpression {
        switch syntax.node {
        case .parenthesized(let inner):
            if case .pipe(let elements) = inner.node { return .pipeline(try metricsPipeline(elements, at: inner.start)) }
            return try metrics(inner)
        case .binary(let symbol, let lhs, let rhs, let at):
            guard let op = Self.arithmeticOperator(symbol), op != .modulo, op != .power else { throw misplaced(syntax) }
            switch (category(lhs), category(rhs)) {
            case (.metrics, .metrics):
                return .binary(op, try metrics(lhs), try metrics(rhs))
            case (.metrics, .constant):
                return .scalar(op, try metricsScalar(rhs, at: at), try metrics(lhs), scalarOnLeft: false)
            case (.constant, .metrics):
                return .scalar(op, try metricsScalar(lhs, at: at), try metrics(rhs), scalarOnLeft: true)
            default:
                throw misplaced(syntax)
            }
        default:
            throw misplaced(syntax)
        }
    }

    private func metricsScalar(_ syntax: Syntax, at: Int) throws(TraceQLError) -> Double {
        let value = try fold(syntax)
        if case .duration = value { throw error("duration cannot be used as a scalar operand in metric arithmetic", at: at) }
        return Self.number(value)
    }

    /// `spanset pipeline | metrics function [second stages]`.
    private func metricsPipeline(_ elements: [Syntax], at start: Int) throws(TraceQLError) -> TraceQLMetricsPipeline {
        guard let functionIndex = elements.firstIndex(where: { Self.head($0).isMetricsFunction }) else {
            throw error("syntax error: expected a metrics function", at: start)
        }
        let head = Self.head(elements[functionIndex])
        guard functionIndex > 0, case .metricsFunction(let function) = head.syntax.node else { throw misplaced(head.syntax) }
        let spans = try pipeline(Array(elements[..<functionIndex]), wrapped: false)
        var stages = try filterStages(head.filters)
        for element in elements[(functionIndex + 1)...] { stages += try rankStages(element) }
        return TraceQLMetricsPipeline(pipeline: spans, function: function, secondStage: stages)
    }

    /// `| topk(n)` optionally followed by filters.
    private func rankStages(_ syntax: Syntax) throws(TraceQLError) -> [TraceQLSecondStage] {
        let head = Self.head(syntax)
        guard case .rank(let stage) = head.syntax.node else {
            throw error("syntax error: only topk(), bottomk() or a comparison may follow a metrics function", at: head.syntax.start)
        }
        return [stage] + (try filterStages(head.filters))
    }

    private func filterStages(_ filters: [(TraceQLSymbol, Syntax, Int)]) throws(TraceQLError) -> [TraceQLSecondStage] {
        var stages: [TraceQLSecondStage] = []
        for (symbol, value, at) in filters {
            guard let op = Self.comparisonOperator(symbol), category(value) == .constant else {
                throw error("syntax error: a metrics result can only be compared to a number", at: at)
            }
            // Durations compare as seconds, the unit of metrics over durations.
            switch try fold(value) {
            case .duration(let nanos): stages.append(.filter(op, Double(nanos) / 1e9))
            case let other: stages.append(.filter(op, Self.number(other)))
            }
        }
        return stages
    }
}
