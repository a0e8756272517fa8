/// What the write path needs of one span to index it and derive metrics from it: IDs, times, name,
/// kind, status and the attributes that name what it called. Building it from the request bytes
/// costs no allocation per span, where a decoded `Span` costs one per attribute and then its freeing.
public struct SpanDigest: Sendable, Hashable {
    public var traceID: TraceID
    public var spanID: SpanID
    public var parentSpanID: SpanID
    public var startTimeUnixNano: UInt64
    public var endTimeUnixNano: UInt64
    /// Index into the batch's `names`.
    public var name: Int32
    /// Index into the batch's `resources` (the span's `ResourceSpans`).
    public var resource: Int32
    public var kind: SpanKind
    public var statusCode: StatusCode
    public var peer: SpanPeer

    public init(
        traceID: TraceID, spanID: SpanID, parentSpanID: SpanID, startTimeUnixNano: UInt64, endTimeUnixNano: UInt64, name: Int32,
        resource: Int32, kind: SpanKind, statusCode: StatusCode, peer: SpanPeer
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.startTimeUnixNano = startTimeUnixNano
        self.endTimeUnixNano = endTimeUnixNano
        self.name = name
        self.resource = resource
        self.kind = kind
        self.statusCode = statusCode
        self.peer = peer
    }

    public var durationNanos: UInt64 { endTimeUnixNano >= startTimeUnixNano ? endTimeUnixNano - startTimeUnixNano : 0 }
}

/// The string attributes by which a span names a remote peer: `peer.service` (the catalog's remote
/// services), and for the service graph's virtual nodes the best of the others.
public struct SpanPeer: Sendable, Hashable {
    public var peerService: String?
    /// `db.name`, else `db.namespace`, `server.address`, `net.peer.name`, `db.system`, `db.system.name`.
    public var otherPeer: String?
    /// A database attribute (`db.system`, `db.system.name`, `db.name`, `db.namespace`) is set.
    public var isDatabase = false

    public init(peerService: String? = nil, otherPeer: String? = nil, isDatabase: Bool = false) {
        self.peerService = peerService
        self.otherPeer = otherPeer
        self.isDatabase = isDatabase
    }

    /// What the service graph calls the peer: `peer.service` first.
    public var name: String? { peerService ?? otherPeer }
}

/// Collects a span's peer attributes as its attributes go by (the last of a repeated key wins, as
/// in a decoded span's attribute list read front to back).
public struct SpanPeerCollector {
    private var peerService, dbName, dbNamespace, dbSystem, dbSystemName, serverAddress, netPeerName: String?

    public init() {}

    /// Whether a key of `count` bytes can be one of the peer attributes: most keys are not, and
    /// looking at the length is cheaper than comparing with each name.
    @inline(__always)
    public static func mayBePeerKey(length count: Int) -> Bool {
        switch count {
        case 7, 9, 12, 13, 14: true
        default: false
        }
    }

    /// Notes one string attribute. `text` is asked for only when the key is a peer attribute; an
    /// empty value names nothing and leaves an earlier value in place.
    @inline(__always)
    public mutating func note<Failure: Error>(key: UnsafeRawBufferPointer, text: () throws(Failure) -> String) throws(Failure) {
        switch key.count {
        case 7:
            if Self.equals(key, "db.name") { try Self.keep(text(), in: &dbName) }
        case 9:
            if Self.equals(key, "db.system") { try Self.keep(text(), in: &dbSystem) }
        case 12:
            if Self.equals(key, "peer.service") {
                try Self.keep(text(), in: &peerService)
            } else if Self.equals(key, "db.namespace") {
                try Self.keep(text(), in: &dbNamespace)
            }
        case 13:
            if Self.equals(key, "net.peer.name") { try Self.keep(text(), in: &netPeerName) }
        case 14:
            if Self.equals(key, "db.system.name") {
                try Self.keep(text(), in: &dbSystemName)
            } else if Self.equals(key, "server.address") {
                try Self.keep(text(), in: &serverAddress)
            }
        default: break
        }
    }

    /// Notes a decoded attribute.
    public mutating func note(_ attribute: KeyValue) {
        guard Self.mayBePeerKey(length: attribute.key.utf8.count), case .string(let value) = attribute.value else { return }
        var key = attribute.key
        key.withUTF8 { bytes in
            note(key: UnsafeRawBufferPointer(bytes), text: { value })
        }
    }

    @inline(__always)
    private static func keep(_ text: String, in slot: inout String?) {
        if !text.isEmpty { slot = text }
    }

    public var peer: SpanPeer {
        SpanPeer(
            peerService: peerService, otherPeer: dbName ?? dbNamespace ?? serverAddress ?? netPeerName ?? dbSystem ?? dbSystemName,
            isDatabase: dbSystem != nil || dbSystemName != nil || dbName != nil || dbNamespace != nil)
    }

    @inline(__always)
    private static func equals(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        guard bytes.count == literal.utf8CodeUnitCount else { return false }
        let expected = literal.utf8Start
        for index in 0..<bytes.count where bytes[index] != expected[index] { return false }
        return true
    }
}
