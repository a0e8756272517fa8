import LoupeModel

/// The canonical text of a TraceQL tree: it parses back to the same tree. The layout follows Tempo's
/// stringer (every operand that is not a literal, an attribute or a `{ }` filter is parenthesised), with
/// fixes that make the text parse back: strings are double-quoted with escapes (Tempo prints backquotes
/// without escaping), durations use units the lexer reads (`1h30m`, `1ms500us`), and attribute names
/// that would lex differently (`."5a"`, `parent."span.x"`, `.""`) are quoted.
enum TraceQLPrinter {
    static func query(_ query: TraceQLQuery) -> String {
        var text: String
        switch query.body {
        case .search(let pipeline):
            text = self.pipeline(pipeline)
        case .metrics(let expression, let secondStage):
            if case .pipeline(let metrics) = expression {
                // At the root, a metrics pipeline is written without parentheses, its stages after it.
                text = metricsPipelineBody(metrics) + stages(secondStage)
            } else {
                text = metricsExpression(expression) + stages(secondStage)
            }
        }
        if !query.hints.isEmpty {
            text += " with(" + query.hints.map { $0.name + "=" + value($0.value) }.joined(separator: ", ") + ")"
        }
        return text
    }

    // MARK: Pipelines

    static func pipeline(_ pipeline: TraceQLPipeline) -> String {
        pipeline.elements.map(element).joined(separator: " | ")
    }

    static func element(_ element: TraceQLPipelineElement) -> String {
        switch element {
        case .spanset(let spanset): spansetExpression(spanset)
        case .scalarFilter(let filter): scalarFilter(filter)
        case .groupBy(let expression): "by(" + fieldExpression(expression) + ")"
        case .coalesce: "coalesce()"
        case .select(let attributes): "select(" + attributes.map(attribute).joined(separator: ", ") + ")"
        case .aggregate(let aggregate): self.aggregate(aggregate)
        }
    }

    static func spansetExpression(_ expression: TraceQLSpansetExpression) -> String {
        switch expression {
        case .filter(let field): "{ " + fieldExpression(field) + " }"
        case .operation(let op, let lhs, let rhs): wrapSpanset(lhs) + " " + op.rawValue + " " + wrapSpanset(rhs)
        case .pipeline(let pipeline): self.pipeline(pipeline)
        }
    }

    private static func wrapSpanset(_ expression: TraceQLSpansetExpression) -> String {
        if case .filter = expression { return spansetExpression(expression) }
        return "(" + spansetExpression(expression) + ")"
    }

    static func scalarFilter(_ filter: TraceQLScalarFilter) -> String {
        wrapScalar(filter.lhs) + " " + filter.op.rawValue + " " + wrapScalar(filter.rhs)
    }

    static func scalarExpression(_ expression: TraceQLScalarExpression) -> String {
        switch expression {
        case .aggregate(let aggregate): self.aggregate(aggregate)
        case .value(let value): self.value(value)
        case .binary(let op, let lhs, let rhs): wrapScalar(lhs) + " " + op.rawValue + " " + wrapScalar(rhs)
        case .pipeline(let pipeline): self.pipeline(pipeline)
        }
    }

    private static func wrapScalar(_ expression: TraceQLScalarExpression) -> String {
        switch expression {
        case .aggregate, .value: scalarExpression(expression)
        case .binary, .pipeline: "(" + scalarExpression(expression) + ")"
        }
    }

    static func aggregate(_ aggregate: TraceQLAggregate) -> String {
        aggregate.function.rawValue + "(" + (aggregate.expression.map(fieldExpression) ?? "") + ")"
    }

    // MARK: Field expressions

    static func fieldExpression(_ expression: TraceQLFieldExpression) -> String {
        switch expression {
        case .value(let value): self.value(value)
        case .attribute(let attribute): self.attribute(attribute)
        case .binary(let op, let lhs, let rhs): wrapField(lhs) + " " + op.rawValue + " " + wrapField(rhs)
        case .unary(.exists, let operand): wrapField(operand) + " != nil"
        case .unary(.notExists, let operand): wrapField(operand) + " = nil"
        case .unary(let op, let operand): op.rawValue + wrapField(operand)
        }
    }

    private static func wrapField(_ expression: TraceQLFieldExpression) -> String {
        switch expression {
        case .value, .attribute: fieldExpression(expression)
        case .binary, .unary: "(" + fieldExpression(expression) + ")"
        }
    }

    static func attribute(_ attribute: TraceQLAttribute) -> String {
        if let intrinsic = attribute.intrinsic { return intrinsic.canonicalName }
        var prefix = attribute.parent ? "parent." : ""
        if attribute.scope != .none {
            prefix += attribute.scope.rawValue + "."
        } else if !attribute.parent {
            prefix = "."
        }
        return prefix + (needsQuotes(attribute) ? quotedName(attribute.name) : attribute.name)
    }

    private static func needsQuotes(_ attribute: TraceQLAttribute) -> Bool {
        let name = attribute.name
        guard let first = name.unicodeScalars.first else { return true }
        if name.unicodeScalars.contains(where: { !TraceQLLexer.isAttributeRune($0) || $0 == "\"" }) { return true }
        if attribute.scope == .none && !attribute.parent && TraceQLLexer.isDecimalDigit(first) { return true }
        if attribute.scope == .none && attribute.parent && (name.hasPrefix("span.") || name.hasPrefix("resource.")) {
            return true
        }
        return false
    }

    private static func quotedName(_ name: String) -> String {
        var text = "\""
        for scalar in name.unicodeScalars {
            if scalar == "\\" || scalar == "\"" { text.unicodeScalars.append("\\") }
            text.unicodeScalars.append(scalar)
        }
        return text + "\""
    }

    // MARK: Values

    static func value(_ value: TraceQLStatic) -> String {
        switch value {
        case .nilValue: "nil"
        // Int64.min has no literal (its magnitude overflows), but the grammar names it.
        case .int(let int): int == .min ? "minInt" : String(int)
        case .float(let double): floatLiteral(double)
        case .string(let string): quoted(string)
        case .bool(let bool): bool ? "true" : "false"
        case .duration(let nanos): duration(nanos)
        case .status(let status): status.description
        case .kind(let kind): kind.description
        }
    }

    /// Go's strconv.FormatFloat(f, 'g', -1, 64) with ".0" added when it would read as an integer.
    static func floatLiteral(_ value: Double) -> String {
        let text = goNumber(value)
        if value.isFinite && !text.contains(".") && !text.contains("e") { return text + ".0" }
        return text
    }

    /// Go's strconv.FormatFloat(f, 'g', -1, 64): the shortest digits that read back to the same double,
    /// in exponent form when the decimal exponent is below -4 or at least 6 (`1e+06`, `1e-05`).
    static func goNumber(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        if value == 0 { return value.sign == .minus ? "-0" : "0" }
        // Swift's description also gives the shortest round-tripping digits; take them apart.
        var text = Swift.abs(value).description
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = String(text[..<e])
        }
        var digits = ""
        var pointPosition = 0
        if let dot = text.firstIndex(of: ".") {
            let whole = text[..<dot]
            digits = String(whole) + String(text[text.index(after: dot)...])
            pointPosition = whole.count
        } else {
            digits = text
            pointPosition = text.count
        }
        // Normalise to 0.DIGITS × 10^decimalPoint with no leading or trailing zeros.
        var decimalPoint = pointPosition + exponent
        while digits.hasPrefix("0") {
            digits.removeFirst()
            decimalPoint -= 1
        }
        while digits.hasSuffix("0") { digits.removeLast() }
        let sign = value < 0 ? "-" : ""
        let exp = decimalPoint - 1
        if exp < -4 || exp >= 6 {
            var mantissa = String(digits.first!)
            if digits.count > 1 { mantissa += "." + digits.dropFirst() }
            let magnitude = Swift.abs(exp)
            return sign + mantissa + "e" + (exp < 0 ? "-" : "+") + (magnitude < 10 ? "0" : "") + String(magnitude)
        }
        if decimalPoint <= 0 { return sign + "0." + String(repeating: "0", count: -decimalPoint) + digits }
        if decimalPoint >= digits.count { return sign + digits + String(repeating: "0", count: decimalPoint - digits.count) }
        let split = digits.index(digits.startIndex, offsetBy: decimalPoint)
        return sign + digits[..<split] + "." + digits[split...]
    }

    /// `1h30m`, `1s500ms`, `250us`, `0s`: whole units from hours down to nanoseconds.
    static func duration(_ nanos: Int64) -> String {
        if nanos == 0 { return "0s" }
        var text = nanos < 0 ? "-" : ""
        var rest = nanos.magnitude
        for (unit, size) in [("h", 3_600_000_000_000 as UInt64), ("m", 60_000_000_000), ("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000), ("ns", 1)] {
            let count = rest / size
            if count > 0 {
                text += String(count) + unit
                rest -= count * size
            }
        }
        return text
    }

    static func quoted(_ string: String) -> String {
        var text = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    text.unicodeScalars.append(scalar)
                }
            }
        }
        return text + "\""
    }

    // MARK: Metrics

    static func metricsExpression(_ expression: TraceQLMetricsExpression) -> String {
        switch expression {
        case .pipeline(let metrics):
            return "(" + metricsPipelineBody(metrics) + ")"
        case .binary(let op, let lhs, let rhs):
            return wrapMetrics(lhs) + " " + op.rawValue + " " + wrapMetrics(rhs)
        case .scalar(let op, let scalar, let operand, let scalarOnLeft):
            return scalarOnLeft
                ? goNumber(scalar) + " " + op.rawValue + " " + wrapMetrics(operand)
                : wrapMetrics(operand) + " " + op.rawValue + " " + goNumber(scalar)
        }
    }

    private static func wrapMetrics(_ expression: TraceQLMetricsExpression) -> String {
        if case .pipeline = expression { return metricsExpression(expression) }
        return "(" + metricsExpression(expression) + ")"
    }

    static func metricsPipelineBody(_ metrics: TraceQLMetricsPipeline) -> String {
        pipeline(metrics.pipeline) + " | " + metricsFunction(metrics.function) + stages(metrics.secondStage)
    }

    static func metricsFunction(_ function: TraceQLMetricsFunction) -> String {
        var text = function.kind.rawValue + "("
        if let attribute = function.attribute { text += self.attribute(attribute) }
        for quantile in function.quantiles { text += ", " + goNumber(quantile) }
        if let comparison = function.comparison {
            text += "{ " + fieldExpression(comparison) + " }"
            text += function.compareArguments.map { ", " + String($0) }.joined()
        }
        text += ")"
        if !function.by.isEmpty { text += " by (" + function.by.map(attribute).joined(separator: ", ") + ")" }
        return text
    }

    static func stages(_ stages: [TraceQLSecondStage]) -> String {
        stages.map { stage in
            switch stage {
            case .topK(let limit): " | topk(\(limit))"
            case .bottomK(let limit): " | bottomk(\(limit))"
            case .filter(let op, let value): " " + op.rawValue + " " + goNumber(value)
            }
        }.joined()
    }
}

extension TraceQLQuery: CustomStringConvertible {
    /// The canonical text (see `TraceQLPrinter`): `TraceQLEngine().parse(query.description) == query`.
    public var description: String { TraceQLPrinter.query(self) }
}

extension TraceQLFieldExpression: CustomStringConvertible {
    public var description: String { TraceQLPrinter.fieldExpression(self) }
}

extension TraceQLSpansetExpression: CustomStringConvertible {
    public var description: String { TraceQLPrinter.spansetExpression(self) }
}

extension TraceQLPipeline: CustomStringConvertible {
    public var description: String { TraceQLPrinter.pipeline(self) }
}

extension TraceQLAttribute: CustomStringConvertible {
    public var description: String { TraceQLPrinter.attribute(self) }
}

extension TraceQLStatic: CustomStringConvertible {
    public var description: String { TraceQLPrinter.value(self) }
}
