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

    public init(traceID: TraceID) { self.traceID = traceID }

    public var durationNanoseconds: UInt64 { endTimeUnixNano >= startTimeUnixNano ? endTimeUnixNano - startTimeUnixNano : 0 }

    mutating func include(_ span: Span, serviceName: String?) {
        startTimeUnixNano = min(startTimeUnixNano, span.startTimeUnixNano)
        endTimeUnixNano = max(endTimeUnixNano, span.endTimeUnixNano, span.startTimeUnixNano)
        spanCount += 1
        if span.status.code == .error { errorCount += 1 }
        if span.parentSpanID.isEmpty {
            rootServiceName = serviceName ?? ""
            rootSpanName = span.name
        }
    }
}
