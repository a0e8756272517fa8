import LoupeModel

/// What search results show of a trace without reading its spans: the root's service and name,
/// the time it spans, how many spans arrived. Built up as spans arrive, in any order and in any
/// number of requests.
public struct TraceSummary: Sendable, Equatable {
    public static let missingRootName = "<root span not yet received>"

    public var traceID: TraceID
    public var startTimeUnixNano: UInt64 = .max
    public var endTimeUnixNano: UInt64 = 0
    /// The root span's (no parent) resource `service.name` and span name; nil until it arrives.
    public var rootServiceName: String?
    public var rootSpanName: String?
    public var spanCount = 0
    public var errorCount = 0
    /// The services (resource `service.name`) whose spans arrived, up to `maximumServices`; when
    /// full, more may exist (`servicesComplete` is then false).
    public var services: [String] = []
    public var servicesComplete = true
    /// The longest span, so searches by span duration skip traces without one long enough.
    public var longestSpanNanoseconds: UInt64 = 0

    public static let maximumServices = 32

    public init(traceID: TraceID) { self.traceID = traceID }

    mutating func addService(_ name: String) {
        guard !services.contains(name) else { return }
        if services.count < Self.maximumServices { services.append(name) } else { servicesComplete = false }
    }

    /// Merges what another request brought of the same trace.
    mutating func merge(_ other: TraceSummary) {
        startTimeUnixNano = min(startTimeUnixNano, other.startTimeUnixNano)
        endTimeUnixNano = max(endTimeUnixNano, other.endTimeUnixNano)
        spanCount += other.spanCount
        errorCount += other.errorCount
        longestSpanNanoseconds = max(longestSpanNanoseconds, other.longestSpanNanoseconds)
        for service in other.services { addService(service) }
        if !other.servicesComplete { servicesComplete = false }
        if other.rootSpanName != nil {
            rootServiceName = other.rootServiceName
            rootSpanName = other.rootSpanName
        }
    }

    /// False when no span of the trace can be from one of `names` (nil: any service).
    public func mayHaveService(in names: Set<String>?) -> Bool {
        guard let names, servicesComplete else { return true }
        return services.contains { names.contains($0) }
    }

    public var durationNanoseconds: UInt64 { endTimeUnixNano >= startTimeUnixNano ? endTimeUnixNano - startTimeUnixNano : 0 }

    /// Takes in span `span` of `batch`.
    mutating func include(_ span: SpanDigest, of batch: TraceBatchDigest) {
        startTimeUnixNano = min(startTimeUnixNano, span.startTimeUnixNano)
        endTimeUnixNano = max(endTimeUnixNano, span.endTimeUnixNano, span.startTimeUnixNano)
        spanCount += 1
        if span.statusCode == .error { errorCount += 1 }
        longestSpanNanoseconds = max(longestSpanNanoseconds, span.durationNanos)
        let service = batch.serviceNames[Int(span.resource)]
        addService(service)
        if span.parentSpanID.isEmpty {
            rootServiceName = service
            rootSpanName = batch.names[Int(span.name)]
        }
    }
}
