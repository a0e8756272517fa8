import LoupeModel

/// How long data is kept. Zero keeps everything and accepts any timestamp, back to 1970,
/// so historical data and test suites can be loaded over the wire.
public struct RetentionPolicy: Sendable, Equatable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    public static let keepEverything = RetentionPolicy(nanoseconds: 0)
    public static let defaultPeriod = RetentionPolicy(nanoseconds: 15 * 86_400 * 1_000_000_000)

    /// Items with a timestamp before the cutoff are outside the retention period; nil when nothing expires.
    public func cutoff(nowUnixNano: UInt64) -> UInt64? {
        guard nanoseconds > 0 else { return nil }
        return nowUnixNano > nanoseconds ? nowUnixNano - nanoseconds : 0
    }

    public var description: String { nanoseconds == 0 ? "0 (keep everything)" : DurationText.format(nanoseconds: nanoseconds) }
}
