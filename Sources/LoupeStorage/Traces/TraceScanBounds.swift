/// Limits on a trace's summary figures that a scan checks on a block's index entries before it
/// builds their summaries: most traces of a selective search fail them, at the cost of a few
/// comparisons instead of a summary with its strings. They must follow from the scan's `admits`
/// (they only spare work, never decide).
public struct TraceScanBounds: Sendable, Equatable {
    /// The trace must overlap `[start, end]` (Unix nanoseconds).
    public var start: UInt64
    public var end: UInt64
    /// Bounds on the trace's duration (last end − first start), inclusive.
    public var minimumDuration: UInt64
    public var maximumDuration: UInt64
    /// Some span must last at least this long.
    public var minimumLongestSpan: UInt64
    /// Some span must have the error status.
    public var requiresError: Bool

    public init(
        start: UInt64 = 0, end: UInt64 = .max, minimumDuration: UInt64 = 0, maximumDuration: UInt64 = .max,
        minimumLongestSpan: UInt64 = 0, requiresError: Bool = false
    ) {
        self.start = start
        self.end = end
        self.minimumDuration = minimumDuration
        self.maximumDuration = maximumDuration
        self.minimumLongestSpan = minimumLongestSpan
        self.requiresError = requiresError
    }

    @inline(__always)
    func admits(start first: UInt64, end last: UInt64, longest: UInt64, errors: Int) -> Bool {
        guard first <= end, last >= start, longest >= minimumLongestSpan, !requiresError || errors > 0 else { return false }
        let duration = last >= first ? last - first : 0
        return duration >= minimumDuration && duration <= maximumDuration
    }

    func admits(_ summary: TraceSummary) -> Bool {
        admits(
            start: summary.startTimeUnixNano, end: summary.endTimeUnixNano, longest: summary.longestSpanNanoseconds,
            errors: summary.errorCount)
    }
}
