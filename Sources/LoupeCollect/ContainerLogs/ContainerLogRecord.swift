import LoupeModel
import LoupeWire

/// Turns a whole container log line into an OTLP log record: a JSON object body is taken apart
/// (message, level, trace context, the rest as attributes), any other text is the body.
public struct ContainerLogRecordBuilder: Sendable {
    /// Keep the JSON line's text as `log.original` after taking it apart.
    public var keepOriginalBody: Bool

    public init(keepOriginalBody: Bool = true) { self.keepOriginalBody = keepOriginalBody }

    public func record(_ line: ContainerLogLine, observedUnixNano: UInt64) -> LogRecord {
        var record = LogRecord(
            timeUnixNano: line.timeUnixNano, observedTimeUnixNano: observedUnixNano, body: .string(line.text),
            attributes: [KeyValue("log.iostream", .string(line.stream.rawValue))])
        guard line.text.utf8.first == UInt8(ascii: "{"), let fields = Self.jsonObject(line.text) else { return record }
        var body: AnyValue?
        for field in fields {
            switch field.key {
            case "message", "msg":
                if body == nil {
                    body = field.value
                    continue
                }
            case "level", "log.level", "severity":
                if record.severityText.isEmpty, case .string(let text) = field.value {
                    record.severityText = text
                    record.severityNumber = Self.severity(text)
                    continue
                }
            case "trace_id", "traceId", "traceID":
                if case .string(let hex) = field.value, let id = TraceID(hex: hex), !id.isEmpty {
                    record.traceID = id
                    continue
                }
            case "span_id", "spanId", "spanID":
                if case .string(let hex) = field.value, let id = SpanID(hex: hex), !id.isEmpty {
                    record.spanID = id
                    continue
                }
            case "traceparent":
                if case .string(let header) = field.value, let context = Self.traceparent(header) {
                    if record.traceID.isEmpty { record.traceID = context.trace }
                    if record.spanID.isEmpty { record.spanID = context.span }
                    record.flags = context.flags
                    continue
                }
            default: break
            }
            record.attributes.append(field)
        }
        if keepOriginalBody { record.attributes.append(KeyValue("log.original", .string(line.text))) }
        record.body = body ?? .empty
        return record
    }

    /// OTLP severity numbers of the usual level names (TRACE 1, DEBUG 5, INFO 9, WARN 13, ERROR 17, FATAL 21).
    public static func severity(_ text: String) -> SeverityNumber {
        switch text.lowercased() {
        case "trace", "trc", "finest": .trace
        case "debug", "dbg", "fine", "finer": .debug
        case "info", "inf", "information", "informational", "notice": .info
        case "warn", "warning", "wrn": .warn
        case "error", "err", "eror": .error
        case "fatal", "critical", "crit", "panic", "emergency", "alert", "dpanic": SeverityNumber(rawValue: 21)
        default: .unspecified
        }
    }

    /// W3C `traceparent`: `00-<32 hex trace>-<16 hex span>-<2 hex flags>`.
    static func traceparent(_ header: String) -> (trace: TraceID, span: SpanID, flags: UInt32)? {
        let parts = header.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff", parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
            let trace = TraceID(hex: parts[1]), !trace.isEmpty, let span = SpanID(hex: parts[2]), !span.isEmpty,
            let flags = UInt32(parts[3], radix: 16)
        else { return nil }
        return (trace, span, flags)
    }

    /// The members of a JSON object as attributes (numbers as ints when integral, nested objects
    /// as maps); nil when the text is not exactly one JSON object.
    static func jsonObject(_ text: String) -> [KeyValue]? {
        var text = text
        return text.withUTF8 { buffer -> [KeyValue]? in
            var reader = JSONReader(UnsafeRawBufferPointer(buffer), maximumDepth: 32)
            do throws(WireError) {
                let value = try readValue(&reader)
                try reader.expectEnd()
                guard case .keyValueList(let fields) = value else { return nil }
                return fields
            } catch {
                return nil
            }
        }
    }

    private static func readValue(_ reader: inout JSONReader) throws(WireError) -> AnyValue {
        switch try reader.peekKind() {
        case .object:
            var members: [KeyValue] = []
            var object = try reader.beginObject()
            while try reader.nextMember(&object) {
                let key = reader.key
                members.append(KeyValue(key, try readValue(&reader)))
            }
            return .keyValueList(members)
        case .array:
            var elements: [AnyValue] = []
            var array = try reader.beginArray()
            while try reader.nextElement(&array) { elements.append(try readValue(&reader)) }
            return .array(elements)
        case .string: return .string(try reader.readString())
        case .bool: return .bool(try reader.readBool())
        case .null:
            try reader.readNull()
            return .empty
        case .number:
            let number = try reader.readNumber()
            if let integer = number.int64Value { return .int(integer) }
            return .double(number.doubleValue)
        }
    }
}

/// The resource of a container's logs, from its log path, what the node knows and, when the
/// Kubernetes API is reachable, what it says of the pod.
public struct ContainerResource: Sendable {
    public var nodeName: String?
    public var clusterName: String?
    /// Pod labels copied as `k8s.pod.label.<key>`: by exact key, or every key with a prefix
    /// (`enrichments.extractPodLabels`).
    public var podLabelKeys: [String] = []
    public var podLabelPrefixes: [String] = []

    public init(nodeName: String? = nil, clusterName: String? = nil) {
        self.nodeName = nodeName
        self.clusterName = clusterName
    }

    /// `k8s.*` attributes, the workload and `service.name`: the `app.kubernetes.io/name` label,
    /// else the `app` label, else the workload's name, else the pod's.
    public func resource(for path: PodLogPath, pod: PodMetadata? = nil) -> Resource {
        Resource(attributes: podAttributes(namespace: path.namespace, name: path.pod, uid: path.uid, pod: pod, container: [
            KeyValue("k8s.container.name", .string(path.container)),
            KeyValue("k8s.container.restart_count", .int(Int64(path.restartCount))),
        ]))
    }

    /// A pod's resource attributes (with `container`'s after the pod's own), without a container's
    /// log path: for what is scraped from the pod.
    public func podAttributes(namespace: String, name: String, uid: String, pod: PodMetadata?, container: [KeyValue] = []) -> [KeyValue] {
        var attributes = [
            KeyValue("k8s.namespace.name", .string(namespace)),
            KeyValue("k8s.pod.name", .string(name)),
            KeyValue("k8s.pod.uid", .string(uid)),
        ] + container
        if let nodeName { attributes.append(KeyValue("k8s.node.name", .string(nodeName))) }
        if let clusterName { attributes.append(KeyValue("k8s.cluster.name", .string(clusterName))) }
        var workload: String?
        if let pod {
            for (kind, name) in pod.workloads { attributes.append(KeyValue("k8s.\(kind).name", .string(name))) }
            workload = pod.workloads.first?.name
            for (key, value) in pod.labels.sorted(by: { $0.key < $1.key })
            where podLabelKeys.contains(key) || podLabelPrefixes.contains(where: { key.hasPrefix($0) }) {
                attributes.append(KeyValue("k8s.pod.label.\(key)", .string(value)))
            }
        }
        let service = pod?.labels["app.kubernetes.io/name"] ?? pod?.labels["app"] ?? workload ?? PodLogPath.workloadName(ofPod: name) ?? name
        attributes.append(KeyValue("service.name", .string(service)))
        return attributes
    }
}

/// What the Kubernetes API says of a pod that enrichment uses.
public struct PodMetadata: Sendable, Hashable {
    public struct Owner: Sendable, Hashable {
        public var kind: String
        public var name: String

        public init(kind: String, name: String) {
            self.kind = kind
            self.name = name
        }
    }

    /// A port a container declares (`spec.containers[].ports[]`).
    public struct ContainerPort: Sendable, Hashable {
        public var container: String
        public var name: String
        public var number: Int
        public var `protocol`: String

        public init(container: String, name: String = "", number: Int, protocol: String = "TCP") {
            self.container = container
            self.name = name
            self.number = number
            self.protocol = `protocol`
        }
    }

    public var namespace: String
    public var name: String
    public var uid: String
    public var labels: [String: String]
    public var owners: [Owner]
    public var annotations: [String: String] = [:]
    /// `status.podIP`; nil before the pod has one.
    public var ip: String?
    /// `status.phase`: `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`.
    public var phase: String?
    public var ports: [ContainerPort] = []
    /// The names of the pod's containers (`spec.containers[].name`).
    public var containers: [String] = []
    /// `spec.hostNetwork`: the pod has its node's address.
    public var hostNetwork = false

    public init(
        namespace: String, name: String, uid: String, labels: [String: String] = [:], owners: [Owner] = [],
        annotations: [String: String] = [:], ip: String? = nil, phase: String? = nil, ports: [ContainerPort] = [],
        containers: [String] = []
    ) {
        self.containers = containers
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.labels = labels
        self.owners = owners
        self.annotations = annotations
        self.ip = ip
        self.phase = phase
        self.ports = ports
    }

    /// The workloads (`deployment`, `replicaset`, `statefulset`, `daemonset`, `job`, `cronjob`) and
    /// their names, the one in charge first: a ReplicaSet's Deployment is its name without the
    /// `pod-template-hash`; a Job named `<name>-<8 or more digits>` is a CronJob's.
    public var workloads: [(kind: String, name: String)] {
        guard let owner = owners.first else { return [] }
        switch owner.kind {
        case "ReplicaSet":
            if let hash = labels["pod-template-hash"], owner.name.hasSuffix("-" + hash) {
                return [("deployment", String(owner.name.dropLast(hash.count + 1))), ("replicaset", owner.name)]
            }
            return [("replicaset", owner.name)]
        case "StatefulSet": return [("statefulset", owner.name)]
        case "DaemonSet": return [("daemonset", owner.name)]
        case "Job":
            if let dash = owner.name.lastIndex(of: "-") {
                let suffix = owner.name[owner.name.index(after: dash)...]
                if suffix.count >= 8, suffix.allSatisfy(\.isNumber) { return [("cronjob", String(owner.name[..<dash])), ("job", owner.name)] }
            }
            return [("job", owner.name)]
        default: return []
        }
    }
}
