/// The digests of one batch of spans (an OTLP export request), with what they refer to: the
/// batch's resources and its distinct span names. The trace index, the catalog, span metrics and
/// the service graph are all fed from it.
public struct TraceBatchDigest: Sendable, Equatable {
    /// Span attributes are kept for one span in this many (the first of the batch always): tag
    /// autocompletion needs the values that recur, and hashing every attribute value of every span
    /// was most of the cost of indexing. Past the first `denseSampleLimit` spans of a batch, one
    /// in `sparseAttributeSampling`: a large batch repeats its values, and its catalog cost grew
    /// with it (a twentieth of the server's CPU at 1,000 spans a request).
    public static let attributeSampling = 8
    public static let denseSampleLimit = 256
    public static let sparseAttributeSampling = 64

    /// One per `ResourceSpans`, in order.
    public var resources: [Resource] = []
    /// Each resource's `service.name` ("" without one).
    public var serviceNames: [String] = []
    /// Distinct span names in order of first appearance.
    public var names: [String] = []
    public var spans: [SpanDigest] = []
    /// The attributes of the spans `samplesAttributes(ofSpan:)` picks, in order.
    public var sampledAttributes: [[KeyValue]] = []
    /// The smallest and largest span start time.
    public var timeBounds = TimeBounds()

    private var nameIndices: [String: Int32] = [:]

    public init() {}

    /// The digest of decoded spans: the same as that of their protobuf encoding.
    public init(_ data: TraceData) {
        for resourceSpans in data.resourceSpans {
            let resource = addResource(resourceSpans.resource)
            for scopeSpans in resourceSpans.scopeSpans {
                for span in scopeSpans.spans {
                    var peers = SpanPeerCollector()
                    for attribute in span.attributes { peers.note(attribute) }
                    if Self.samplesAttributes(ofSpan: spans.count) { sampledAttributes.append(span.attributes) }
                    append(SpanDigest(
                        traceID: span.traceID, spanID: span.spanID, parentSpanID: span.parentSpanID,
                        startTimeUnixNano: span.startTimeUnixNano, endTimeUnixNano: span.endTimeUnixNano, name: nameIndex(span.name),
                        resource: resource, kind: span.kind, statusCode: span.status.code, peer: peers.peer))
                }
            }
        }
    }

    public var isEmpty: Bool { spans.isEmpty }

    /// Whether span `index` is one whose attributes are sampled.
    @inline(__always)
    public static func samplesAttributes(ofSpan index: Int) -> Bool {
        index < denseSampleLimit ? index % attributeSampling == 0 : index % sparseAttributeSampling == 0
    }

    /// Adds a resource (its `ResourceSpans`' spans follow) and returns its index.
    public mutating func addResource(_ resource: Resource) -> Int32 {
        resources.append(resource)
        serviceNames.append(resource.serviceName ?? "")
        return Int32(resources.count - 1)
    }

    /// Replaces resource `index` (its message may come after its spans in the protobuf).
    public mutating func setResource(_ resource: Resource, at index: Int32) {
        resources[Int(index)] = resource
        serviceNames[Int(index)] = resource.serviceName ?? ""
    }

    public mutating func nameIndex(_ name: String) -> Int32 {
        if let index = nameIndices[name] { return index }
        let index = Int32(names.count)
        names.append(name)
        nameIndices[name] = index
        return index
    }

    public mutating func append(_ span: SpanDigest) {
        spans.append(span)
        timeBounds.include(span.startTimeUnixNano)
    }

    public static func == (lhs: TraceBatchDigest, rhs: TraceBatchDigest) -> Bool {
        lhs.resources == rhs.resources && lhs.names == rhs.names && lhs.spans == rhs.spans
            && lhs.sampledAttributes == rhs.sampledAttributes && lhs.timeBounds == rhs.timeBounds
    }
}
