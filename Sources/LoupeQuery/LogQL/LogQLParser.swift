import LoupeModel

/// Parses LogQL text into a `LogQLExpression`, with Loki's grammar and its validation rules
/// (which range aggregations take an unwrap or a grouping, literal legs of set operators, ...).
/// Errors read like Loki's, with the line and column of the offending token.
public enum LogQLParser {
    public static func parse(_ query: String) throws(LogQLError) -> LogQLExpression {
        var parser = LogQLParserState(tokens: try LogQLLexer.tokenize(query), source: Array(query.utf8))
        let expression = try parser.parseExpression(minimumPrecedence: 1)
        guard parser.current.kind == .end else { throw parser.unexpected() }
        try parser.validateTop(expression)
        return expression
    }
}

struct LogQLParserState {
    let tokens: [LogQLToken]
    let source: [UInt8]
    var index = 0

    init(tokens: [LogQLToken], source: [UInt8]) {
        self.tokens = tokens
        self.source = source
    }

    var current: LogQLToken { tokens[index] }
    var next: LogQLToken { tokens[min(index + 1, tokens.count - 1)] }

    mutating func advance() {
        if index < tokens.count - 1 { index += 1 }
    }

    func error(_ message: String, at token: LogQLToken? = nil) -> LogQLError {
        LogQLError.parse(message, at: (token ?? current).offset, in: source)
    }

    func unexpected(expecting: String? = nil) -> LogQLError {
        var message = "syntax error: unexpected \(current.displayName)"
        if let expecting { message += ", expecting \(expecting)" }
        return error(message)
    }

    func isKeyword(_ word: String) -> Bool { current.kind == .identifier && current.text == word }

    mutating func expect(_ kind: LogQLToken.Kind, _ name: String) throws(LogQLError) {
        guard current.kind == kind else { throw unexpected(expecting: name) }
        advance()
    }

    mutating func expectIdentifier() throws(LogQLError) -> String {
        guard current.kind == .identifier else { throw unexpected(expecting: "IDENTIFIER") }
        let text = current.text
        advance()
        return text
    }

    mutating func expectString() throws(LogQLError) -> String {
        guard current.kind == .string else { throw unexpected(expecting: "STRING") }
        let text = current.text
        advance()
        return text
    }

    // MARK: Metric expressions

    mutating func parseExpression(minimumPrecedence: Int) throws(LogQLError) -> LogQLExpression {
        var lhs = try parseUnary()
        while let op = binaryOperator(), op.precedence >= minimumPrecedence {
            let operatorToken = current
            advance()
            var returnBool = false
            if isKeyword("bool") {
                guard op.isComparison else { throw error("bool modifier can only be used on comparison operators") }
                returnBool = true
                advance()
            }
            var matching: LogQLBinaryExpression.Matching?
            if isKeyword("on") || isKeyword("ignoring") {
                let on = current.text == "on"
                advance()
                matching = LogQLBinaryExpression.Matching(on: on, labels: try parseLabelList())
                if isKeyword("group_left") || isKeyword("group_right") {
                    let left = current.text == "group_left"
                    advance()
                    let include = current.kind == .leftParen ? try parseLabelList() : []
                    matching?.cardinality = left ? .manyToOne(include) : .oneToMany(include)
                }
            }
            let rhs = try parseExpression(minimumPrecedence: op.isRightAssociative ? op.precedence : op.precedence + 1)
            if op.isSetOperator {
                if lhs.isScalar { throw error("unexpected literal for left leg of logical/set binary operation (\(op.rawValue))", at: operatorToken) }
                if rhs.isScalar { throw error("unexpected literal for right leg of logical/set binary operation (\(op.rawValue))", at: operatorToken) }
            }
            if lhs.isLogQuery || rhs.isLogQuery {
                throw error("binary operations are only allowed between metric queries (or literals), not log queries", at: operatorToken)
            }
            lhs = .binary(LogQLBinaryExpression(op: op, lhs: lhs, rhs: rhs, returnBool: returnBool, matching: matching))
        }
        return lhs
    }

    func binaryOperator() -> LogQLBinaryExpression.Operator? {
        switch current.kind {
        case .plus: return .add
        case .minus: return .subtract
        case .star: return .multiply
        case .slash: return .divide
        case .percent: return .modulo
        case .caret: return .power
        case .doubleEqual: return .equal
        case .notEqual: return .notEqual
        case .greater: return .greater
        case .greaterOrEqual: return .greaterOrEqual
        case .less: return .less
        case .lessOrEqual: return .lessOrEqual
        case .identifier:
            switch current.text {
            case "or": return .or
            case "and": return .and
            case "unless": return .unless
            default: return nil
            }
        default: return nil
        }
    }

    mutating func parseUnary() throws(LogQLError) -> LogQLExpression {
        // LogQL allows a sign only directly on a number literal: `-2^2` is (-2)^2.
        if current.kind == .minus || current.kind == .plus {
            let negative = current.kind == .minus
            guard next.kind == .numeric else {
                advance()
                throw unexpected(expecting: "NUMBER")
            }
            advance()
            let value = try parseNumberLiteral()
            return .literal(negative ? -value : value)
        }
        return try parsePrimary()
    }

    mutating func parseNumberLiteral() throws(LogQLError) -> Double {
        guard current.kind == .numeric else { throw unexpected(expecting: "NUMBER") }
        guard let value = LogQLUnits.goFloat(current.text) else {
            throw error("unable to parse literal as a float: strconv.ParseFloat: parsing \(LogQLUnits.goQuote(current.text)): invalid syntax")
        }
        advance()
        return value
    }

    mutating func parsePrimary() throws(LogQLError) -> LogQLExpression {
        switch current.kind {
        case .numeric:
            return .literal(try parseNumberLiteral())
        case .leftParen:
            advance()
            let inner = try parseExpression(minimumPrecedence: 1)
            try expect(.rightParen, ")")
            return .parenthesized(inner)
        case .leftBrace:
            let selector = try parseSelector()
            let (stages, unwrap) = try parsePipeline(allowUnwrap: false)
            precondition(unwrap == nil)
            return .logs(LogQLLogSelector(matchers: selector, stages: stages))
        case .identifier:
            let name = current.text
            if let operation = LogQLRangeAggregation.Operation(rawValue: name), next.kind == .leftParen {
                return .rangeAggregation(try parseRangeAggregation(operation))
            }
            if let operation = LogQLVectorAggregation.Operation(rawValue: name), next.kind == .leftParen || (next.kind == .identifier && (next.text == "by" || next.text == "without")) {
                return .vectorAggregation(try parseVectorAggregation(operation))
            }
            if name == "vector", next.kind == .leftParen {
                advance()
                advance()
                let value = try parseSignedNumber()
                try expect(.rightParen, ")")
                return .vector(value)
            }
            if name == "label_replace", next.kind == .leftParen {
                return .labelReplace(try parseLabelReplace())
            }
            throw unexpected()
        default:
            throw unexpected()
        }
    }

    mutating func parseSignedNumber() throws(LogQLError) -> Double {
        var sign = 1.0
        if current.kind == .minus || current.kind == .plus {
            sign = current.kind == .minus ? -1 : 1
            advance()
        }
        return sign * (try parseNumberLiteral())
    }

    mutating func parseLabelList() throws(LogQLError) -> [String] {
        try expect(.leftParen, "(")
        var labels: [String] = []
        while current.kind != .rightParen {
            labels.append(try expectIdentifier())
            if current.kind == .comma {
                advance()
            } else if current.kind != .rightParen {
                throw unexpected(expecting: ", or )")
            }
        }
        advance()
        return labels
    }

    mutating func parseGrouping() throws(LogQLError) -> LogQLGrouping? {
        guard isKeyword("by") || isKeyword("without") else { return nil }
        let without = current.text == "without"
        advance()
        return LogQLGrouping(without: without, labels: try parseLabelList())
    }

    mutating func parseRangeAggregation(_ operation: LogQLRangeAggregation.Operation) throws(LogQLError) -> LogQLRangeAggregation {
        let nameToken = current
        advance()
        try expect(.leftParen, "(")
        var parameter: Double?
        if current.kind == .numeric {
            parameter = try parseNumberLiteral()
            try expect(.comma, ",")
        } else if operation == .quantileOverTime || current.kind == .minus || current.kind == .plus {
            throw unexpected(expecting: "NUMBER or { or (")
        }
        let range = try parseLogRange()
        try expect(.rightParen, ")")
        let grouping = try parseGrouping()
        let name = operation.rawValue
        if operation == .quantileOverTime, parameter == nil { throw error("syntax error: quantile_over_time requires a parameter", at: nameToken) }
        if operation != .quantileOverTime, parameter != nil { throw error("syntax error: \(name) takes no parameter", at: nameToken) }
        if range.unwrap != nil, operation.refusesUnwrap { throw error("invalid aggregation \(name) with unwrap", at: nameToken) }
        if range.unwrap == nil, operation.requiresUnwrap { throw error("invalid aggregation \(name) without unwrap", at: nameToken) }
        if grouping != nil, !operation.allowsGrouping { throw error("grouping not allowed for \(name) aggregation", at: nameToken) }
        if let parameter, operation == .quantileOverTime, !(0...1).contains(parameter), !parameter.isNaN {
            // Loki evaluates these (as Prometheus does: ±Inf); kept for fidelity.
            _ = parameter
        }
        return LogQLRangeAggregation(operation: operation, range: range, parameter: parameter, grouping: grouping)
    }

    mutating func parseVectorAggregation(_ operation: LogQLVectorAggregation.Operation) throws(LogQLError) -> LogQLVectorAggregation {
        let nameToken = current
        advance()
        var grouping = try parseGrouping()
        try expect(.leftParen, "(")
        var parameter: Double?
        if operation.takesParameter {
            parameter = try parseNumberLiteral()
            try expect(.comma, ",")
        }
        let inner = try parseExpression(minimumPrecedence: 1)
        try expect(.rightParen, ")")
        if grouping == nil { grouping = try parseGrouping() }
        if inner.isLogQuery { throw error("syntax error: unexpected log query in \(operation.rawValue), expecting a metric query", at: nameToken) }
        if let parameter, operation.takesParameter {
            guard parameter == parameter.rounded(), parameter >= 1 else {
                throw error("invalid parameter (must be greater than 0) \(operation.rawValue)(\(LogQLFormat.number(parameter))", at: nameToken)
            }
        }
        return LogQLVectorAggregation(operation: operation, expression: inner, parameter: parameter, grouping: grouping)
    }

    mutating func parseLabelReplace() throws(LogQLError) -> LogQLLabelReplace {
        advance()
        try expect(.leftParen, "(")
        let inner = try parseExpression(minimumPrecedence: 1)
        var strings: [String] = []
        for _ in 0..<4 {
            try expect(.comma, ",")
            strings.append(try expectString())
        }
        try expect(.rightParen, ")")
        if inner.isLogQuery { throw error("syntax error: label_replace takes a metric query") }
        do {
            _ = try Regex("^(?s:\(strings[3]))$")
        } catch {
            throw self.error("invalid regex in label_replace: \(error)")
        }
        return LogQLLabelReplace(expression: inner, destination: strings[0], replacement: strings[1], source: strings[2], regex: strings[3])
    }

    // MARK: Log ranges

    /// The forms Loki accepts: the range after the selector or after the pipeline, the selector
    /// and pipeline in parentheses, the offset right after the range.
    mutating func parseLogRange() throws(LogQLError) -> LogQLLogRange {
        if current.kind == .leftParen {
            advance()
            let matchers = try parseSelector()
            let (stages, unwrap) = try parsePipeline(allowUnwrap: true)
            try expect(.rightParen, ")")
            let range = try parseRangeBrackets()
            let offset = try parseOffset()
            return LogQLLogRange(selector: LogQLLogSelector(matchers: matchers, stages: stages), range: range, offset: offset, unwrap: unwrap)
        }
        guard current.kind == .leftBrace else { throw unexpected(expecting: "{ or (") }
        let matchers = try parseSelector()
        if current.kind == .leftBracket {
            let range = try parseRangeBrackets()
            let offset = try parseOffset()
            let (stages, unwrap) = try parsePipeline(allowUnwrap: true)
            return LogQLLogRange(selector: LogQLLogSelector(matchers: matchers, stages: stages), range: range, offset: offset, unwrap: unwrap)
        }
        let (stages, unwrap) = try parsePipeline(allowUnwrap: true)
        guard current.kind == .leftBracket else { throw unexpected(expecting: "[") }
        let range = try parseRangeBrackets()
        let offset = try parseOffset()
        return LogQLLogRange(selector: LogQLLogSelector(matchers: matchers, stages: stages), range: range, offset: offset, unwrap: unwrap)
    }

    mutating func parseRangeBrackets() throws(LogQLError) -> Int64 {
        try expect(.leftBracket, "[")
        let nanoseconds = try parseDurationToken(extendedUnits: true)
        try expect(.rightBracket, "]")
        return nanoseconds
    }

    mutating func parseOffset() throws(LogQLError) -> Int64 {
        guard isKeyword("offset") else { return 0 }
        advance()
        return try parseDurationToken(extendedUnits: true)
    }

    mutating func parseDurationToken(extendedUnits: Bool) throws(LogQLError) -> Int64 {
        guard current.kind == .numeric else { throw unexpected(expecting: "DURATION") }
        do {
            let seconds = try LogQLUnits.parseDuration(current.text, extendedUnits: extendedUnits)
            advance()
            return Int64((seconds * 1e9).rounded())
        } catch {
            throw self.error(error.message)
        }
    }

    // MARK: Selectors and pipelines

    mutating func parseSelector() throws(LogQLError) -> [LabelMatcher] {
        let open = current
        try expect(.leftBrace, "{")
        var matchers: [LabelMatcher] = []
        while current.kind != .rightBrace {
            matchers.append(try parseMatcher())
            if current.kind == .comma {
                advance()
            } else if current.kind != .rightBrace {
                throw unexpected(expecting: ", or }")
            }
        }
        advance()
        if matchers.isEmpty || matchers.allSatisfy(\.matchesEmpty) {
            throw error(
                "queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will",
                at: open)
        }
        return matchers
    }

    mutating func parseMatcher() throws(LogQLError) -> LabelMatcher {
        let name = try expectIdentifier()
        let kind: LabelMatcher.Kind
        switch current.kind {
        case .equal: kind = .equal
        case .notEqual: kind = .notEqual
        case .regexMatch: kind = .regexMatch
        case .regexNoMatch: kind = .regexNoMatch
        default: throw unexpected(expecting: "= or != or =~ or !~")
        }
        advance()
        let valueToken = current
        let value = try expectString()
        do {
            return try LabelMatcher(name, kind, value)
        } catch {
            throw self.error("error parsing regexp: \(error.reason)", at: valueToken)
        }
    }

    /// Stages until the pipeline ends; with `allowUnwrap`, an `| unwrap` and the label filters after it.
    mutating func parsePipeline(allowUnwrap: Bool) throws(LogQLError) -> ([LogQLStage], LogQLUnwrap?) {
        var stages: [LogQLStage] = []
        var unwrap: LogQLUnwrap?
        while true {
            switch current.kind {
            case .pipeContains, .notEqual, .pipeRegex, .regexNoMatch, .pipePattern, .notPattern:
                if unwrap != nil { throw unexpected() }
                stages.append(.lineFilter(try parseLineFilter()))
            case .pipe:
                advance()
                if isKeyword("unwrap") && next.kind != .equal && next.kind != .notEqual {
                    guard allowUnwrap, unwrap == nil else { throw unexpected() }
                    unwrap = try parseUnwrap()
                    continue
                }
                if unwrap != nil {
                    unwrap!.filters.append(try parseLabelFilterOr())
                    continue
                }
                stages.append(try parseStage())
            default:
                return (stages, unwrap)
            }
        }
    }

    mutating func parseLineFilter() throws(LogQLError) -> LogQLLineFilter {
        let op: LogQLLineFilter.Operator
        switch current.kind {
        case .pipeContains: op = .contains
        case .notEqual: op = .notContains
        case .pipeRegex: op = .matchesRegex
        case .regexNoMatch: op = .notMatchesRegex
        case .pipePattern: op = .matchesPattern
        default: op = .notMatchesPattern
        }
        advance()
        var values = [try parseLineFilterValue(op)]
        while isKeyword("or"), next.kind == .string || (next.kind == .identifier && next.text == "ip") {
            advance()
            values.append(try parseLineFilterValue(op))
        }
        return LogQLLineFilter(op: op, values: values)
    }

    mutating func parseLineFilterValue(_ op: LogQLLineFilter.Operator) throws(LogQLError) -> LogQLLineFilter.Value {
        if isKeyword("ip") {
            guard op == .contains || op == .notContains else { throw error("ip: invalid operation: ip() only works with |= and != line filters, not \(op.rawValue)") }
            advance()
            try expect(.leftParen, "(")
            let pattern = try expectString()
            try expect(.rightParen, ")")
            return .ip(pattern)
        }
        return .text(try expectString())
    }

    mutating func parseStage() throws(LogQLError) -> LogQLStage {
        guard current.kind == .identifier else {
            if current.kind == .leftParen { return .labelFilter(try parseLabelFilterOr()) }
            throw unexpected()
        }
        // A label filter may use a stage keyword as its label name (`| json="x"`).
        let isLabelFilter: Bool
        switch next.kind {
        case .equal, .notEqual, .regexMatch, .regexNoMatch, .doubleEqual, .greater, .greaterOrEqual, .less, .lessOrEqual: isLabelFilter = true
        default: isLabelFilter = false
        }
        if isLabelFilter { return .labelFilter(try parseLabelFilterOr()) }
        switch current.text {
        case "json":
            advance()
            return .json(try parseExtractions())
        case "logfmt":
            advance()
            var strict = false
            var keepEmpty = false
            while current.kind == .flag {
                switch current.text {
                case "--strict": strict = true
                case "--keep-empty": keepEmpty = true
                default: throw error("syntax error: unexpected flag \(current.text)")
                }
                advance()
            }
            return .logfmt(strict: strict, keepEmpty: keepEmpty, try parseExtractions())
        case "regexp":
            advance()
            return .regexp(try expectString())
        case "pattern":
            advance()
            return .pattern(try expectString())
        case "unpack":
            advance()
            return .unpack
        case "decolorize":
            advance()
            return .decolorize
        case "line_format":
            advance()
            return .lineFormat(try expectString())
        case "label_format":
            advance()
            return .labelFormat(try parseLabelFormats())
        case "drop", "keep":
            let isDrop = current.text == "drop"
            advance()
            let selections = try parseLabelSelections()
            return isDrop ? .drop(selections) : .keep(selections)
        default:
            return .labelFilter(try parseLabelFilterOr())
        }
    }

    /// `a="expr", b` after `json` / `logfmt` (none at all is the "extract everything" form).
    mutating func parseExtractions() throws(LogQLError) -> [LogQLExtraction] {
        var extractions: [LogQLExtraction] = []
        while current.kind == .identifier, next.kind == .equal || next.kind == .comma || extractions.count > 0 || Self.endsStage(next.kind) {
            let label = try expectIdentifier()
            if current.kind == .equal {
                advance()
                extractions.append(LogQLExtraction(label: label, expression: try expectString()))
            } else {
                extractions.append(LogQLExtraction(label: label, expression: label))
            }
            guard current.kind == .comma else { break }
            advance()
        }
        var seen: Set<String> = []
        for extraction in extractions where !seen.insert(extraction.label).inserted {
            throw error("duplicate extracted label name '\(extraction.label)'")
        }
        return extractions
    }

    static func endsStage(_ kind: LogQLToken.Kind) -> Bool {
        switch kind {
        case .pipe, .pipeContains, .notEqual, .pipeRegex, .regexNoMatch, .pipePattern, .notPattern, .leftBracket, .rightParen, .end: return true
        default: return false
        }
    }

    mutating func parseLabelFormats() throws(LogQLError) -> [LogQLLabelFormat] {
        var formats: [LogQLLabelFormat] = []
        repeat {
            if current.kind == .comma { advance() }
            let destination = try expectIdentifier()
            try expect(.equal, "=")
            if current.kind == .string {
                formats.append(LogQLLabelFormat(destination: destination, source: .template(try expectString())))
            } else {
                formats.append(LogQLLabelFormat(destination: destination, source: .label(try expectIdentifier())))
            }
        } while current.kind == .comma
        var seen: Set<String> = []
        for format in formats where !seen.insert(format.destination).inserted {
            throw error("multiple label name '\(format.destination)' in one label_format expression")
        }
        return formats
    }

    mutating func parseLabelSelections() throws(LogQLError) -> [LogQLLabelSelection] {
        var selections: [LogQLLabelSelection] = []
        repeat {
            if current.kind == .comma { advance() }
            guard current.kind == .identifier else { throw unexpected(expecting: "IDENTIFIER") }
            if next.kind == .equal || next.kind == .notEqual || next.kind == .regexMatch || next.kind == .regexNoMatch {
                let matcher = try parseMatcher()
                selections.append(LogQLLabelSelection(name: matcher.name, matcher: matcher))
            } else {
                selections.append(LogQLLabelSelection(name: try expectIdentifier()))
            }
        } while current.kind == .comma
        return selections
    }

    mutating func parseUnwrap() throws(LogQLError) -> LogQLUnwrap {
        advance()  // unwrap
        let name = try expectIdentifier()
        if current.kind == .leftParen, let conversion = LogQLUnwrap.Conversion(rawValue: name), conversion != .none {
            advance()
            let label = try expectIdentifier()
            try expect(.rightParen, ")")
            return LogQLUnwrap(label: label, conversion: conversion)
        }
        return LogQLUnwrap(label: name)
    }

    // MARK: Label filters

    mutating func parseLabelFilterOr() throws(LogQLError) -> LogQLLabelFilter {
        var lhs = try parseLabelFilterAnd()
        while isKeyword("or") {
            advance()
            lhs = .or(lhs, try parseLabelFilterAnd())
        }
        return lhs
    }

    mutating func parseLabelFilterAnd() throws(LogQLError) -> LogQLLabelFilter {
        var lhs = try parseLabelFilterPrimary()
        while true {
            if isKeyword("and") || current.kind == .comma {
                advance()
            } else if (current.kind == .identifier && !isKeyword("or") && !isKeyword("offset")) || current.kind == .leftParen {
                // Juxtaposition means `and`.
            } else {
                return lhs
            }
            lhs = .and(lhs, try parseLabelFilterPrimary())
        }
    }

    mutating func parseLabelFilterPrimary() throws(LogQLError) -> LogQLLabelFilter {
        if current.kind == .leftParen {
            advance()
            let inner = try parseLabelFilterOr()
            try expect(.rightParen, ")")
            return .parenthesized(inner)
        }
        let name = try expectIdentifier()
        let opToken = current
        let comparison: LogQLComparison?
        var matcherKind: LabelMatcher.Kind?
        switch current.kind {
        case .equal:
            comparison = .equal
            matcherKind = .equal
        case .doubleEqual: comparison = .equal
        case .notEqual:
            comparison = .notEqual
            matcherKind = .notEqual
        case .regexMatch:
            comparison = nil
            matcherKind = .regexMatch
        case .regexNoMatch:
            comparison = nil
            matcherKind = .regexNoMatch
        case .greater: comparison = .greater
        case .greaterOrEqual: comparison = .greaterOrEqual
        case .less: comparison = .less
        case .lessOrEqual: comparison = .lessOrEqual
        default: throw unexpected()
        }
        advance()
        if current.kind == .string, let matcherKind {
            let valueToken = current
            let value = try expectString()
            do {
                return .string(try LabelMatcher(name, matcherKind, value))
            } catch {
                throw self.error("error parsing regexp: \(error.reason)", at: valueToken)
            }
        }
        if isKeyword("ip") {
            guard opToken.kind == .equal || opToken.kind == .notEqual else { throw unexpected() }
            advance()
            try expect(.leftParen, "(")
            let pattern = try expectString()
            try expect(.rightParen, ")")
            return .ip(name: name, equal: opToken.kind == .equal, pattern: pattern)
        }
        guard let comparison, current.kind == .numeric else { throw unexpected() }
        let text = current.text
        if let value = LogQLUnits.goFloat(text) {
            advance()
            return .number(name: name, op: comparison, value: value)
        }
        if LogQLUnits.isBytesLiteral(text) {
            do {
                let bytes = try LogQLUnits.parseBytes(text)
                advance()
                return .bytes(name: name, op: comparison, bytes: bytes)
            } catch {
                throw self.error(error.message)
            }
        }
        if text.hasPrefix("0x") || text.hasPrefix("0X") || text.hasPrefix("0o") || text.hasPrefix("0b") {
            throw error("unable to parse literal as a float: strconv.ParseFloat: parsing \(LogQLUnits.goQuote(text)): invalid syntax")
        }
        if text.first?.isNumber == true || text.first == "." {
            // Literals accept Prometheus's d/w/y too; label values are parsed as Go durations.
            guard let seconds = try? LogQLUnits.parseDuration(text, extendedUnits: true) else {
                throw error("syntax error: unexpected \(text)")
            }
            advance()
            return .duration(name: name, op: comparison, seconds: seconds)
        }
        throw error("unable to parse literal as a float: strconv.ParseFloat: parsing \(LogQLUnits.goQuote(text)): invalid syntax")
    }

    // MARK: Validation

    func validateTop(_ expression: LogQLExpression) throws(LogQLError) {
        if case .binary(let binary) = expression, binary.lhs.isLogQuery || binary.rhs.isLogQuery {
            throw LogQLError(.parse, "binary operations are only allowed between metric queries (or literals), not log queries")
        }
    }
}

/// Number formatting shared by error messages and printing.
enum LogQLFormat {
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
