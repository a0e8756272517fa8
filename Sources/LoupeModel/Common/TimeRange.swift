/// A closed range of Unix nanoseconds, the unit OTLP uses for every timestamp.
public struct TimeRange: Sendable, Hashable, CustomStringConvertible {
    public var start: UInt64
    public var end: UInt64

    public static let all = TimeRange(start: 0, end: .max)

    public init(start: UInt64, end: UInt64) {
        self.start = start
        self.end = end
    }

    public func contains(_ timestamp: UInt64) -> Bool { timestamp >= start && timestamp <= end }

    public func overlaps(_ other: TimeRange) -> Bool { other.end >= start && other.start <= end }

    public var description: String { "[\(start), \(end)]" }
}

/// Tracks the smallest and largest timestamp seen, for batches and segments.
public struct TimeBounds: Sendable, Hashable {
    public private(set) var minimum: UInt64 = .max
    public private(set) var maximum: UInt64 = 0

    public init() {}

    public var isEmpty: Bool { minimum > maximum }

    public var range: TimeRange? { isEmpty ? nil : TimeRange(start: minimum, end: maximum) }

    public mutating func include(_ timestamp: UInt64) {
        if timestamp < minimum { minimum = timestamp }
        if timestamp > maximum { maximum = timestamp }
    }

    public mutating func include(_ other: TimeBounds) {
        guard !other.isEmpty else { return }
        include(other.minimum)
        include(other.maximum)
    }
}
