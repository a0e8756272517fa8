import LoupeModel
import LoupeWire

/// Documents sent to Elasticsearch's `_bulk` API as Loki streams:
/// - stream labels: `index` (the target index) and the document fields in `labelFields`, by
///   default the Kubernetes metadata Fluent Bit's and Filebeat's Kubernetes enrichment add
///   (`kubernetes.namespace_name` / `kubernetes.namespace` -> `namespace`, pod, container) and
///   `service.name` -> `service_name`;
/// - the line: the first of `message`, `log`, `msg` that is a string, else the whole document;
/// - the time: `@timestamp` (RFC 3339 or epoch milliseconds), `timestamp` or `time`, else now;
/// - every other field becomes structured metadata, its dotted path with `_` for `.`.
public struct ElasticsearchToStreams: Sendable {
    public static let defaultLabelFields: [String: String] = [
        "kubernetes.namespace_name": "namespace", "kubernetes.pod_name": "pod", "kubernetes.container_name": "container",
        "kubernetes.namespace": "namespace", "kubernetes.pod.name": "pod", "kubernetes.container.name": "container",
        "service.name": "service_name",
    ]
    static let lineFields = ["message", "log", "msg"]
    static let timeFields = ["@timestamp", "timestamp", "time"]

    public var labelFields: [String: String]

    public init(labelFields: [String: String] = ElasticsearchToStreams.defaultLabelFields) {
        self.labelFields = labelFields
    }

    /// The entry of one `index`/`create` item that parsed.
    public func entry(_ item: ElasticsearchBulk.Item, now: Int64) -> (labels: Labels, entry: LogEntry) {
        var labels = [Label("index", item.index)]
        var metadata: [Label] = []
        let lineField = Self.lineFields.first { name in item.fields.contains { $0.path == name } }
        let timeField = Self.timeFields.first { name in item.fields.contains { $0.path == name } }
        var line = item.source ?? ""
        var timestamp = now
        for (path, value) in item.fields {
            if path == lineField {
                line = value
            } else if path == timeField {
                if let parsed = Self.timestamp(value) { timestamp = parsed } else { metadata.append(Label(OTLPLogsToStreams.labelName(path), value)) }
            } else if let label = labelFields[path] {
                labels.append(Label(label, value))
            } else if lineField != nil {
                // With the line taken from a field, the other fields travel as structured metadata;
                // without one the whole document is the line, so they are in it already.
                metadata.append(Label(OTLPLogsToStreams.labelName(path), value))
            }
        }
        return (Labels(labels), LogEntry(timestamp: timestamp, line: line, metadata: Labels(metadata)))
    }

    /// RFC 3339 (`2026-01-02T03:04:05.123456789Z`, `+02:00` offsets, a space for `T`) or whole
    /// epoch milliseconds, as nanoseconds since the epoch.
    static func timestamp(_ text: String) -> Int64? {
        if let milliseconds = Int64(text) { return milliseconds.multipliedReportingOverflow(by: 1_000_000).overflow ? nil : milliseconds * 1_000_000 }
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            var value = 0
            for index in range {
                let digit = Int(bytes[index]) - 48
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard bytes.count >= 19, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: " ") || bytes[10] == UInt8(ascii: "t"),
            bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var nanoseconds = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < bytes.count, (48...57).contains(bytes[index]) {
                if digits < 9 {
                    nanoseconds = nanoseconds * 10 + Int(bytes[index]) - 48
                    digits += 1
                }
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<9 { nanoseconds *= 10 }
        }
        var offsetSeconds = 0
        if index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "Z"), UInt8(ascii: "z"):
                index += 1
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
                guard let hours = number(index + 1..<index + 3) else { return nil }
                var minutes = 0
                if index + 5 < bytes.count + 1, index + 3 < bytes.count, bytes[index + 3] == UInt8(ascii: ":") {
                    guard let parsed = number(index + 4..<index + 6) else { return nil }
                    minutes = parsed
                    index += 6
                } else if let parsed = number(index + 3..<index + 5) {
                    minutes = parsed
                    index += 5
                } else {
                    index += 3
                }
                offsetSeconds = sign * (hours * 3600 + minutes * 60)
            default:
                return nil
            }
        }
        guard index == bytes.count else { return nil }
        // Days from the civil date (proleptic Gregorian).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
        return seconds * 1_000_000_000 + Int64(nanoseconds)
    }
}
