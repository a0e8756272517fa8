import LoupeModel

/// Calls between services, counted over whole traces (Zipkin's `/dependencies`, Jaeger's
/// `/api/dependencies`): a span whose parent belongs to another service is one call from that
/// service; a client span naming a `peer.service` that sent no spans of its own (a database) is
/// a call to it; messaging goes through the broker a producer or consumer span names
/// (producer's service -> broker -> consumer's service).
public struct ServiceDependencies: Sendable, Equatable {
    public struct Link: Sendable, Hashable {
        public var parent: String
        public var child: String

        public init(parent: String, child: String) {
            self.parent = parent
            self.child = child
        }
    }

    public struct Counts: Sendable, Equatable {
        public var calls = 0
        public var errors = 0

        public init(calls: Int = 0, errors: Int = 0) {
            self.calls = calls
            self.errors = errors
        }
    }

    public private(set) var links: [Link: Counts] = [:]

    public init() {}

    /// Adds the calls of one trace: its spans with their services.
    public mutating func add(trace spans: [(span: Span, service: String)]) {
        var byID: [SpanID: Int] = [:]
        var hasChildElsewhere = Set<SpanID>()
        for (index, entry) in spans.enumerated() { byID[entry.span.spanID] = index }
        for entry in spans where !entry.span.parentSpanID.isEmpty {
            if let parent = byID[entry.span.parentSpanID], spans[parent].service != entry.service {
                hasChildElsewhere.insert(entry.span.parentSpanID)
            }
        }
        for entry in spans {
            let span = entry.span
            let failed = span.status.code == .error
            let peer = Self.peerService(span).flatMap { $0 == entry.service ? nil : $0 }
            // Messaging goes through the broker: producer -> broker -> consumer, as Zipkin links it.
            if let peer, span.kind == .consumer {
                count(Link(parent: peer, child: entry.service), failed: failed)
                continue
            }
            if let peer, span.kind == .producer {
                count(Link(parent: entry.service, child: peer), failed: failed)
                continue
            }
            if let parent = byID[span.parentSpanID], spans[parent].service != entry.service {
                count(Link(parent: spans[parent].service, child: entry.service), failed: failed)
                continue
            }
            guard let peer else { continue }
            switch span.kind {
            case .client:
                if !hasChildElsewhere.contains(span.spanID) { count(Link(parent: entry.service, child: peer), failed: failed) }
            case .server:
                count(Link(parent: peer, child: entry.service), failed: failed)
            default:
                break
            }
        }
    }

    mutating func count(_ link: Link, failed: Bool) {
        guard !link.parent.isEmpty, !link.child.isEmpty else { return }
        links[link, default: Counts()].calls += 1
        if failed { links[link, default: Counts()].errors += 1 }
    }

    static func peerService(_ span: Span) -> String? {
        guard case .string(let name) = span.attributes[attribute: "peer.service"], !name.isEmpty else { return nil }
        return name
    }
}
