/// OTTL's enum names per context, with the OTLP numbers they stand for.
enum OTTLEnums {
    static let log: [String: Int64] = {
        var table: [String: Int64] = ["SEVERITY_NUMBER_UNSPECIFIED": 0]
        for (offset, level) in ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"].enumerated() {
            let base = Int64(offset * 4 + 1)
            table["SEVERITY_NUMBER_\(level)"] = base
            for step in 2...4 { table["SEVERITY_NUMBER_\(level)\(step)"] = base + Int64(step - 1) }
        }
        return table
    }()

    static let span: [String: Int64] = [
        "SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3,
        "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5,
        "STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2,
    ]

    static let datapoint: [String: Int64] = [
        "METRIC_DATA_TYPE_NONE": 0, "METRIC_DATA_TYPE_GAUGE": 1, "METRIC_DATA_TYPE_SUM": 2, "METRIC_DATA_TYPE_HISTOGRAM": 3,
        "METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM": 4, "METRIC_DATA_TYPE_SUMMARY": 5,
        "AGGREGATION_TEMPORALITY_UNSPECIFIED": 0, "AGGREGATION_TEMPORALITY_DELTA": 1, "AGGREGATION_TEMPORALITY_CUMULATIVE": 2,
        "FLAG_NONE": 0, "FLAG_NO_RECORDED_VALUE": 1,
    ]

    static func table(of context: OTTLContextKind) -> [String: Int64] {
        switch context {
        case .log: log
        case .span: span
        case .datapoint: datapoint
        }
    }

    static func resolve(_ name: String, context: OTTLContextKind, column: Int) throws(OTTLError) -> Int64 {
        if let value = table(of: context)[name] { return value }
        for other in [OTTLContextKind.log, .span, .datapoint] where other != context && table(of: other)[name] != nil {
            throw OTTLError(.wrongContext, column: column, "enum \(name) belongs to \(other) statements, not \(context) statements")
        }
        var message = "unknown enum \(name)"
        if let suggestion = OTTLSpelling.closest(to: name, among: table(of: context).keys) {
            message += " (did you mean \(suggestion)?)"
        }
        throw OTTLError(.unknownEnum, column: column, message)
    }
}
