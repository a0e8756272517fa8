/// The canonical text of an expression, as Prometheus prints it (`/api/v1/format_query`, rule files,
/// promqltest): `sum by (job) (rate(http_requests_total{code="500"}[5m]))`.
///
/// Parsing the printed text gives back the same tree (positions aside).
extension PromQLExpression: CustomStringConvertible {
    public var description: String {
        var out = ""
        PromQLPrinter.write(self, to: &out)
        return out
    }

    /// The canonical text; with `pretty`, split over indented lines wherever a node's text is longer than
    /// `lineLength` (100) characters, as `promtool promql format` and the UI's "format" do.
    public func format(pretty: Bool = false, lineLength: Int = 100) -> String {
        pretty ? PromQLPrinter(maximumLineLength: lineLength).pretty(self, level: 0) : description
    }
}

extension PromQLDurationExpression: CustomStringConvertible {
    public var description: String {
        var out = ""
        PromQLPrinter.write(self, to: &out)
        return out
    }
}

extension PromQLLabelMatcher: CustomStringConvertible {
    /// `name="value"`, the name quoted when it is not a plain identifier.
    public var description: String {
        PromQLPrinter.labelMatcherName(name) + type.rawValue + goQuote(value)
    }
}

struct PromQLPrinter {
    var maximumLineLength = 100

    // MARK: Single line

    static func write(_ expression: PromQLExpression, to out: inout String) {
        switch expression {
        case .number(let literal):
            out += numberText(literal)
        case .string(let literal):
            out += goQuote(bytes: literal.bytes)
        case .vectorSelector(let selector):
            writeSelector(selector, to: &out)
        case .matrixSelector(let matrix):
            var bare = matrix.vectorSelector
            bare.offset = nil
            bare.at = nil
            bare.anchored = false
            bare.smoothed = false
            writeSelector(bare, to: &out)
            out += "["
            writeSpan(matrix.range, to: &out)
            out += "]"
            if matrix.vectorSelector.anchored {
                out += " anchored"
            } else if matrix.vectorSelector.smoothed {
                out += " smoothed"
            }
            writeAt(matrix.vectorSelector.at, to: &out)
            writeOffset(matrix.vectorSelector.offset, to: &out)
        case .subquery(let subquery):
            write(subquery.expression, to: &out)
            out += subquerySuffix(subquery)
        case .unary(let unary):
            out += unary.op.rawValue
            write(unary.operand, to: &out)
        case .binary(let binary):
            write(binary.lhs, to: &out)
            out += " " + binaryOperatorText(binary) + " "
            write(binary.rhs, to: &out)
        case .aggregation(let aggregation):
            out += aggregationPrefix(aggregation) + "("
            if aggregation.op.takesParameter, let parameter = aggregation.parameter {
                write(parameter, to: &out)
                out += ", "
            }
            write(aggregation.expression, to: &out)
            out += ")"
        case .call(let call):
            out += call.function.name + "("
            for (index, argument) in call.arguments.enumerated() {
                if index > 0 { out += ", " }
                write(argument, to: &out)
            }
            out += ")"
        case .parenthesized(let paren):
            out += "("
            write(paren.expression, to: &out)
            out += ")"
        }
    }

    static func numberText(_ literal: PromQLNumberLiteral) -> String {
        if literal.isDuration {
            if literal.value < 0 { return "-" + PromQLDuration(nanoseconds: goDurationNanoseconds(-literal.value)).description }
            return PromQLDuration(nanoseconds: goDurationNanoseconds(literal.value)).description
        }
        return goFormatFloat(literal.value)
    }

    /// Go's `time.Duration(seconds * 1e9)`: truncation toward zero.
    static func goDurationNanoseconds(_ seconds: Double) -> Int64 {
        PromQLDuration.saturatingInt64(seconds * 1e9)
    }

    static func writeSelector(_ selector: PromQLVectorSelector, to out: inout String) {
        var matchers: [String] = []
        for matcher in selector.matchers {
            if matcher.name == "__name__", matcher.type == .equal, matcher.value == selector.name, !matcher.value.isEmpty {
                continue
            }
            matchers.append(matcher.description)
        }
        out += selector.name
        if !matchers.isEmpty {
            matchers.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            out += "{" + matchers.joined(separator: ",") + "}"
        }
        writeAt(selector.at, to: &out)
        if selector.anchored {
            out += " anchored"
        } else if selector.smoothed {
            out += " smoothed"
        }
        writeOffset(selector.offset, to: &out)
    }

    static func writeAt(_ at: PromQLAtModifier?, to out: inout String) {
        switch at {
        case nil: break
        case .timestamp(let milliseconds): out += " @ " + timestampText(milliseconds)
        case .start: out += " @ start()"
        case .end: out += " @ end()"
        }
    }

    /// `%.3f` of milliseconds / 1000, exactly.
    static func timestampText(_ milliseconds: Int64) -> String {
        let negative = milliseconds < 0
        let magnitude = milliseconds.magnitude
        var fraction = String(magnitude % 1000)
        while fraction.count < 3 { fraction = "0" + fraction }
        return (negative ? "-" : "") + String(magnitude / 1000) + "." + fraction
    }

    static func writeOffset(_ offset: PromQLDurationSpec?, to out: inout String) {
        switch offset {
        case nil: break
        case .expression(let expression):
            out += " offset "
            write(expression, to: &out)
        case .fixed(let duration):
            if duration.nanoseconds > 0 {
                out += " offset " + duration.description
            } else if duration.nanoseconds < 0 {
                out += " offset -" + PromQLDuration(nanoseconds: duration.nanoseconds == .min ? .max : -duration.nanoseconds).description
            }
        }
    }

    static func writeSpan(_ span: PromQLDurationSpec, to out: inout String) {
        switch span {
        case .fixed(let duration): out += duration.description
        case .expression(let expression): write(expression, to: &out)
        }
    }

    static func subquerySuffix(_ subquery: PromQLSubquery) -> String {
        var out = "["
        writeSpan(subquery.range, to: &out)
        out += ":"
        switch subquery.step {
        case nil: break
        case .fixed(let duration): if duration.nanoseconds != 0 { out += duration.description }
        case .expression(let expression): write(expression, to: &out)
        }
        out += "]"
        writeAt(subquery.at, to: &out)
        writeOffset(subquery.offset, to: &out)
        return out
    }

    static func write(_ expression: PromQLDurationExpression, to out: inout String) {
        switch expression {
        case .number(let literal): out += numberText(literal)
        case .step: out += "step()"
        case .range: out += "range()"
        case .minOf(let lhs, let rhs, _), .maxOf(let lhs, let rhs, _):
            if case .minOf = expression { out += "min_of(" } else { out += "max_of(" }
            write(lhs, to: &out)
            out += ", "
            write(rhs, to: &out)
            out += ")"
        case .negate(let operand, _):
            out += "-"
            write(operand, to: &out)
        case .binary(let op, let lhs, let rhs):
            write(lhs, to: &out)
            out += " " + op.rawValue + " "
            write(rhs, to: &out)
        case .parenthesized(let inner, _):
            out += "("
            write(inner, to: &out)
            out += ")"
        }
    }

    /// A label name as Prometheus writes it in grouping lists: quoted unless a legacy identifier.
    static func groupingLabel(_ name: String) -> String {
        isLegacyLabelName(name) ? name : goQuote(name)
    }

    static func isLegacyLabelName(_ name: String) -> Bool {
        guard !name.isEmpty else { return false }
        for (index, byte) in name.utf8.enumerated() {
            let letter = (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || byte == 0x5F
            let digit = byte >= 0x30 && byte <= 0x39
            if !(letter || (digit && index > 0)) { return false }
        }
        return true
    }

    /// A matcher's label name: quoted unless made of letters, `_` and (not first) digits.
    static func labelMatcherName(_ name: String) -> String {
        isLegacyLabelName(name) ? name : goQuote(name)
    }

    static func groupingList(_ labels: [String]) -> String {
        labels.map(groupingLabel).joined(separator: ", ")
    }

    static func aggregationPrefix(_ aggregation: PromQLAggregation) -> String {
        var out = aggregation.op.rawValue
        if aggregation.without {
            out += " without (" + groupingList(aggregation.grouping) + ") "
        } else if !aggregation.grouping.isEmpty {
            out += " by (" + groupingList(aggregation.grouping) + ") "
        }
        return out
    }

    /// `op[ bool][ on|ignoring (…)][ group_left|group_right (…)][ fill…]`.
    static func binaryOperatorText(_ binary: PromQLBinaryExpression) -> String {
        var out = binary.op.rawValue
        if binary.returnBool { out += " bool" }
        guard let matching = binary.matching else { return out }
        let grouped = matching.cardinality == .manyToOne || matching.cardinality == .oneToMany
        if !matching.matchingLabels.isEmpty || matching.on || grouped {
            out += (matching.on ? " on (" : " ignoring (") + groupingList(matching.matchingLabels) + ")"
        }
        if grouped {
            out += (matching.cardinality == .manyToOne ? " group_left (" : " group_right (")
                + groupingList(matching.include) + ")"
        }
        switch (matching.fillLeft, matching.fillRight) {
        case (let left?, let right?) where left == right || (left.isNaN && right.isNaN):
            out += " fill (" + goFormatFloatV(left) + ")"
        default:
            if let left = matching.fillLeft { out += " fill_left (" + goFormatFloatV(left) + ")" }
            if let right = matching.fillRight { out += " fill_right (" + goFormatFloatV(right) + ")" }
        }
        return out
    }

    // MARK: Pretty

    static func indent(_ level: Int) -> String { String(repeating: "  ", count: level) }

    func needsSplit(_ expression: PromQLExpression) -> Bool {
        expression.description.utf8.count > maximumLineLength
    }

    func pretty(_ expression: PromQLExpression, level: Int) -> String {
        switch expression {
        case .aggregation(let aggregation):
            guard needsSplit(expression) else { return Self.indent(level) + expression.description }
            var out = Self.indent(level) + Self.aggregationPrefix(aggregation) + "(\n"
            if aggregation.op.takesParameter, let parameter = aggregation.parameter {
                out += pretty(parameter, level: level + 1) + ",\n"
            }
            out += pretty(aggregation.expression, level: level + 1) + "\n" + Self.indent(level) + ")"
            return out
        case .binary(let binary):
            guard needsSplit(expression) else { return Self.indent(level) + expression.description }
            return pretty(binary.lhs, level: level + 1) + "\n" + Self.indent(level) + Self.binaryOperatorText(binary) + "\n"
                + pretty(binary.rhs, level: level + 1)
        case .call(let call):
            guard needsSplit(expression) else { return Self.indent(level) + expression.description }
            let arguments = call.arguments.map { pretty($0, level: level + 1) }.joined(separator: ",\n")
            return Self.indent(level) + call.function.name + "(\n" + arguments + "\n" + Self.indent(level) + ")"
        case .parenthesized(let paren):
            guard needsSplit(expression) else { return Self.indent(level) + expression.description }
            return Self.indent(level) + "(\n" + pretty(paren.expression, level: level + 1) + "\n" + Self.indent(level) + ")"
        case .subquery(let subquery):
            // As Prometheus: an unsplit subquery is not indented.
            guard needsSplit(expression) else { return expression.description }
            return pretty(subquery.expression, level: level) + Self.subquerySuffix(subquery)
        case .unary(let unary):
            let child = pretty(unary.operand, level: level)
            return Self.indent(level) + unary.op.rawValue + Self.trimmingSpaces(child)
        case .number, .string, .vectorSelector, .matrixSelector:
            return Self.indent(level) + expression.description
        }
    }

    /// Go's strings.TrimSpace for the whitespace the printer produces.
    static func trimmingSpaces(_ text: String) -> String {
        let scalars = text.unicodeScalars
        let isSpace: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
            let last = scalars.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(scalars[first...last])
    }
}
