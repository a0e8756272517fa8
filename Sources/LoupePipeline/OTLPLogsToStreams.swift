import LoupeModel

/// OTLP log records as Loki streams, the way Loki's OTLP endpoint maps them, so LogQL queries
/// them like pushed logs:
/// - the resource attributes in `streamLabelAttributes` become stream labels, their names
///   normalized as Prometheus label names (`k8s.namespace.name` -> `k8s_namespace_name`);
///   a resource without `service.name` gets `service_name="unknown_service"`;
/// - every other attribute — resource, scope and record — becomes structured metadata, as do
///   `scope_name`/`scope_version`, `trace_id`/`span_id` (hex), `severity_text`,
///   `severity_number` and `flags` when set;
/// - the line is the body: a string as is, anything else as JSON (`AnyValue`'s text form);
/// - the time is the record's time, or its observed time when it has none.
public struct OTLPLogsToStreams: Sendable {
    /// Loki's default `default_resource_attributes_as_index_labels`.
    public static let defaultStreamLabelAttributes = [
        "service.name", "service.namespace", "service.instance.id", "deployment.environment", "deployment.environment.name",
        "cloud.region", "cloud.availability_zone", "k8s.cluster.name", "k8s.namespace.name", "k8s.pod.name", "k8s.container.name",
        "container.name", "k8s.replicaset.name", "k8s.deployment.name", "k8s.statefulset.name", "k8s.daemonset.name",
        "k8s.cronjob.name", "k8s.job.name",
    ]

    public var streamLabelAttributes: Set<String>

    public init(streamLabelAttributes: [String] = OTLPLogsToStreams.defaultStreamLabelAttributes) {
        self.streamLabelAttributes = Set(streamLabelAttributes)
    }

    public func convert(_ logs: LogsData) -> [LogStream] {
        var order: [Labels] = []
        var byLabels: [Labels: [LogEntry]] = [:]
        for resourceLogs in logs.resourceLogs {
            var labels: [Label] = []
            var resourceMetadata: [Label] = []
            for attribute in resourceLogs.resource.attributes {
                let name = Self.labelName(attribute.key)
                if streamLabelAttributes.contains(attribute.key) {
                    labels.append(Label(name, Self.text(attribute.value)))
                } else {
                    resourceMetadata.append(Label(name, Self.text(attribute.value)))
                }
            }
            if !labels.contains(where: { $0.name == "service_name" }) { labels.append(Label("service_name", "unknown_service")) }
            let streamLabels = Labels(labels)
            for scopeLogs in resourceLogs.scopeLogs {
                var scopeMetadata = resourceMetadata
                if !scopeLogs.scope.name.isEmpty { scopeMetadata.append(Label("scope_name", scopeLogs.scope.name)) }
                if !scopeLogs.scope.version.isEmpty { scopeMetadata.append(Label("scope_version", scopeLogs.scope.version)) }
                for attribute in scopeLogs.scope.attributes { scopeMetadata.append(Label(Self.labelName(attribute.key), Self.text(attribute.value))) }
                for record in scopeLogs.logRecords {
                    var metadata = scopeMetadata
                    for attribute in record.attributes { metadata.append(Label(Self.labelName(attribute.key), Self.text(attribute.value))) }
                    if !record.traceID.isEmpty { metadata.append(Label("trace_id", record.traceID.hex)) }
                    if !record.spanID.isEmpty { metadata.append(Label("span_id", record.spanID.hex)) }
                    if !record.severityText.isEmpty { metadata.append(Label("severity_text", record.severityText)) }
                    if record.severityNumber != .unspecified { metadata.append(Label("severity_number", String(record.severityNumber.rawValue))) }
                    if record.flags != 0 { metadata.append(Label("flags", String(record.flags))) }
                    let time = record.timeUnixNano != 0 ? record.timeUnixNano : record.observedTimeUnixNano
                    let entry = LogEntry(timestamp: Int64(clamping: time), line: record.body.map(Self.text) ?? "", metadata: Labels(metadata))
                    if byLabels[streamLabels] == nil { order.append(streamLabels) }
                    byLabels[streamLabels, default: []].append(entry)
                }
            }
        }
        return order.map { LogStream(labels: $0, entries: byLabels[$0]!.sorted { $0.timestamp < $1.timestamp }) }
    }

    /// A Prometheus-style label name: characters other than letters, digits and `_` become `_`,
    /// and a leading digit gets a `_` in front.
    static func labelName(_ key: String) -> String {
        var name = ""
        for scalar in key.unicodeScalars {
            let isAllowed = (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || (scalar >= "0" && scalar <= "9") || scalar == "_"
            name.unicodeScalars.append(isAllowed ? scalar : "_")
        }
        if let first = name.unicodeScalars.first, first >= "0" && first <= "9" { name = "_" + name }
        return name
    }

    /// A value as text, as the OpenTelemetry collector's `AsString` gives it: strings as they are,
    /// numbers and booleans in decimal, bytes in base64, arrays and maps as JSON.
    static func text(_ value: AnyValue) -> String { OTLPToPrometheus.attributeValueString(value) }
}
