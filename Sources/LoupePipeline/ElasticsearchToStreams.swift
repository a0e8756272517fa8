import LoupeModel
import LoupeWire

/// Documents sent to Elasticsearch's `_bulk` API as Loki streams:
/// - stream labels: `index` (the target index) and the document fields in `labelFields`, by
///   default the Kubernetes metadata Fluent Bit's and Filebeat's Kubernetes enrichment add
///   (`kubernetes.namespace_name` / `kubernetes.namespace` -> `namespace`, pod, container) and
///   `service.name` -> `service_name`;
/// - the line: the first of `message`, `log`, `msg`, `MESSAGE` (syslog-ng and journald name
///   it so) that is a string, else the whole document;
/// - the time: `@timestamp` (RFC 3339 or epoch milliseconds), `timestamp` or `time`, else now;
/// - every other field becomes structured metadata, its dotted path with `_` for `.`.
public struct ElasticsearchToStreams: Sendable {
    public static let defaultLabelFields: [String: String] = [
        "kubernetes.namespace_name": "namespace", "kubernetes.pod_name": "pod", "kubernetes.container_name": "container",
        "kubernetes.namespace": "namespace", "kubernetes.pod.name": "pod", "kubernetes.container.name": "container",
        "service.name": "service_name",
    ]
    static let lineFields = ["message", "log", "msg", "MESSAGE"]
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

    /// RFC 3339 or whole epoch milliseconds, as nanoseconds since the epoch.
    static func timestamp(_ text: String) -> Int64? {
        if let milliseconds = Int64(text) { return milliseconds.multipliedReportingOverflow(by: 1_000_000).overflow ? nil : milliseconds * 1_000_000 }
        return RFC3339.nanoseconds(text)
    }
}
