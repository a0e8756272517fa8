import LoupeModel

/// A Zipkin v2 span as the API carries it (zipkin2-api.yaml, zipkin.proto): what both the JSON
/// and the protobuf decoder produce and the JSON encoder writes, so the mapping to and from
/// OTLP (`ZipkinMapping`) is written once.
public struct ZipkinSpan: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case client = "CLIENT", server = "SERVER", producer = "PRODUCER", consumer = "CONSUMER"
    }

    public var traceID: TraceID
    public var parentID: SpanID = .empty
    public var id: SpanID
    public var kind: Kind?
    public var name: String?
    /// Microseconds since the epoch.
    public var timestamp: UInt64?
    /// Microseconds.
    public var duration: UInt64?
    public var localEndpoint: ZipkinEndpoint?
    public var remoteEndpoint: ZipkinEndpoint?
    public var annotations: [ZipkinAnnotation] = []
    /// In the order they came (JSON objects are ordered on the wire).
    public var tags: [(key: String, value: String)] = []
    public var debug = false
    public var shared = false

    public init(traceID: TraceID, id: SpanID) {
        self.traceID = traceID
        self.id = id
    }

    public static func == (lhs: ZipkinSpan, rhs: ZipkinSpan) -> Bool {
        lhs.traceID == rhs.traceID && lhs.parentID == rhs.parentID && lhs.id == rhs.id && lhs.kind == rhs.kind
            && lhs.name == rhs.name && lhs.timestamp == rhs.timestamp && lhs.duration == rhs.duration
            && lhs.localEndpoint == rhs.localEndpoint && lhs.remoteEndpoint == rhs.remoteEndpoint
            && lhs.annotations == rhs.annotations && lhs.tags.elementsEqual(rhs.tags, by: { $0 == $1 })
            && lhs.debug == rhs.debug && lhs.shared == rhs.shared
    }
}

public struct ZipkinEndpoint: Sendable, Hashable {
    public var serviceName: String?
    /// Dotted quad, as JSON carries it.
    public var ipv4: String?
    /// Textual IPv6, as JSON carries it.
    public var ipv6: String?
    public var port: Int32?

    public init(serviceName: String? = nil, ipv4: String? = nil, ipv6: String? = nil, port: Int32? = nil) {
        self.serviceName = serviceName
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.port = port
    }

    public var isEmpty: Bool { serviceName == nil && ipv4 == nil && ipv6 == nil && port == nil }
}

public struct ZipkinAnnotation: Sendable, Hashable {
    /// Microseconds since the epoch.
    public var timestamp: UInt64
    public var value: String

    public init(timestamp: UInt64, value: String) {
        self.timestamp = timestamp
        self.value = value
    }
}
