import LoupeModel

/// Writes a `LogQLExpression` back as LogQL text in one canonical form (what `format_query`
/// answers): the text parses back to an equal expression.
public enum LogQLPrinter {
    public static func print(_ expression: LogQLExpression) -> String {
        switch expression {
        case .logs(let selector):
            return selectorText(selector)
        case .rangeAggregation(let aggregation):
            var text = aggregation.operation.rawValue + "("
            if let parameter = aggregation.parameter { text += number(parameter) + ", " }
            text += rangeText(aggregation.range) + ")"
            if let grouping = aggregation.grouping { text += " " + groupingText(grouping) }
            return text
        case .vectorAggregation(let aggregation):
            var text = aggregation.operation.rawValue
            if let grouping = aggregation.grouping { text += " " + groupingText(grouping) }
            text += " ("
            if let parameter = aggregation.parameter { text += number(parameter) + ", " }
            return text + print(aggregation.expression) + ")"
        case .binary(let binary):
            var text = operand(binary.lhs, of: binary, right: false) + " " + binary.op.rawValue
            if binary.returnBool { text += " bool" }
            if let matching = binary.matching {
                text += " \(matching.on ? "on" : "ignoring") (\(matching.labels.joined(separator: ", ")))"
                switch matching.cardinality {
                case .oneToOne: break
                case .manyToOne(let labels): text += " group_left (\(labels.joined(separator: ", ")))"
                case .oneToMany(let labels): text += " group_right (\(labels.joined(separator: ", ")))"
                }
            }
            return text + " " + operand(binary.rhs, of: binary, right: true)
        case .literal(let value):
            return number(value)
        case .vector(let value):
            return "vector(\(number(value)))"
        case .labelReplace(let replace):
            let arguments = [replace.destination, replace.replacement, replace.source, replace.regex].map(quoted)
            return "label_replace(\(print(replace.expression)), \(arguments.joined(separator: ", ")))"
        case .parenthesized(let inner):
            return "(\(print(inner)))"
        }
    }

    /// A binary operand, parenthesized where the tree says so (the parser keeps explicit
    /// parentheses as nodes, so none are added here) — except a negative literal on the left
    /// of `^`, which is written as is (`-2 ^ 2` parses as `(-2) ^ 2` in LogQL).
    static func operand(_ expression: LogQLExpression, of parent: LogQLBinaryExpression, right: Bool) -> String {
        print(expression)
    }

    static func selectorText(_ selector: LogQLLogSelector) -> String {
        var text = "{" + selector.matchers.map { "\($0.name)\($0.kind.rawValue)\(quoted($0.value))" }.joined(separator: ", ") + "}"
        for stage in selector.stages { text += " " + stageText(stage) }
        return text
    }

    static func rangeText(_ range: LogQLLogRange) -> String {
        var text = selectorText(range.selector)
        if let unwrap = range.unwrap {
            text += " | unwrap " + (unwrap.conversion == .none ? unwrap.label : "\(unwrap.conversion.rawValue)(\(unwrap.label))")
            for filter in unwrap.filters { text += " | " + labelFilterText(filter) }
        }
        text += " [\(duration(range.range))]"
        if range.offset != 0 { text += " offset \(duration(range.offset))" }
        return text
    }

    static func stageText(_ stage: LogQLStage) -> String {
        switch stage {
        case .lineFilter(let filter):
            return filter.op.rawValue + " " + filter.values.map { value in
                switch value {
                case .text(let text): return quoted(text)
                case .ip(let pattern): return "ip(\(quoted(pattern)))"
                }
            }.joined(separator: " or ")
        case .labelFilter(let filter):
            return "| " + labelFilterText(filter)
        case .json(let extractions):
            return "| json" + extractionsText(extractions)
        case .logfmt(let strict, let keepEmpty, let extractions):
            return "| logfmt" + (strict ? " --strict" : "") + (keepEmpty ? " --keep-empty" : "") + extractionsText(extractions)
        case .regexp(let regex):
            return "| regexp " + quoted(regex)
        case .pattern(let pattern):
            return "| pattern " + quoted(pattern)
        case .unpack:
            return "| unpack"
        case .lineFormat(let template):
            return "| line_format " + quoted(template)
        case .labelFormat(let formats):
            return "| label_format " + formats.map { format in
                switch format.source {
                case .label(let name): return "\(format.destination)=\(name)"
                case .template(let template): return "\(format.destination)=\(quoted(template))"
                }
            }.joined(separator: ", ")
        case .drop(let selections):
            return "| drop " + selectionsText(selections)
        case .keep(let selections):
            return "| keep " + selectionsText(selections)
        case .decolorize:
            return "| decolorize"
        }
    }

    static func extractionsText(_ extractions: [LogQLExtraction]) -> String {
        guard !extractions.isEmpty else { return "" }
        return " " + extractions.map { "\($0.label)=\(quoted($0.expression))" }.joined(separator: ", ")
    }

    static func selectionsText(_ selections: [LogQLLabelSelection]) -> String {
        selections.map { selection in
            guard let matcher = selection.matcher else { return selection.name }
            return "\(matcher.name)\(matcher.kind.rawValue)\(quoted(matcher.value))"
        }.joined(separator: ", ")
    }

    static func labelFilterText(_ filter: LogQLLabelFilter) -> String {
        switch filter {
        case .and(let left, let right): return labelFilterText(left) + " and " + labelFilterText(right)
        case .or(let left, let right): return labelFilterText(left) + " or " + labelFilterText(right)
        case .parenthesized(let inner): return "(" + labelFilterText(inner) + ")"
        case .string(let matcher): return "\(matcher.name)\(matcher.kind.rawValue)\(quoted(matcher.value))"
        case .number(let name, let op, let value): return "\(name) \(op.rawValue) \(number(value))"
        case .duration(let name, let op, let seconds): return "\(name) \(op.rawValue) \(duration(Int64((seconds * 1e9).rounded())))"
        case .bytes(let name, let op, let bytes): return "\(name) \(op.rawValue) \(bytesText(bytes))"
        case .ip(let name, let equal, let pattern): return "\(name) \(equal ? "=" : "!=") ip(\(quoted(pattern)))"
        }
    }

    static func groupingText(_ grouping: LogQLGrouping) -> String {
        "\(grouping.without ? "without" : "by") (\(grouping.labels.joined(separator: ", ")))"
    }

    /// Go's `%q` of the text: the lexer reads it back to the same bytes.
    static func quoted(_ text: String) -> String { LogQLUnits.goQuote(text) }

    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// A duration in the largest units that write it exactly (`1h30m`, `250ms`, `90s`).
    static func duration(_ nanoseconds: Int64) -> String {
        if nanoseconds == 0 { return "0s" }
        var rest = nanoseconds
        var text = nanoseconds < 0 ? "-" : ""
        rest = abs(rest)
        let units: [(String, Int64)] = [("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000), ("ns", 1)]
        for (unit, size) in units where rest >= size {
            text += "\(rest / size)\(unit)"
            rest %= size
        }
        return text
    }

    /// Sizes in bytes, written back with a unit the lexer takes as a size.
    static func bytesText(_ bytes: Double) -> String {
        if bytes == bytes.rounded(), bytes >= 0, bytes < 1e18 { return "\(Int64(bytes))B" }
        return "\(bytes)B"
    }
}
