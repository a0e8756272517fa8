/// Wall-clock time in Unix nanoseconds, injected wherever "now" decides something
/// (retention cutoffs) so tests can move time.
public struct WallClock: Sendable {
    private let read: @Sendable () -> UInt64

    public init(_ read: @escaping @Sendable () -> UInt64) { self.read = read }

    public func nowUnixNano() -> UInt64 { read() }

    public static let system = WallClock {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    public static func fixed(_ unixNano: UInt64) -> WallClock { WallClock { unixNano } }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
