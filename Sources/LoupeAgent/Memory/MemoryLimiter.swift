#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Pushes back instead of dropping when the process holds more memory than it may: while its
/// resident memory is over the limit, pushed OTLP is refused as retryable (503 + Retry-After,
/// gRPC UNAVAILABLE, so senders keep it and retry) and container logs stay unread in their files.
/// Nothing taken in is dropped; what waits, waits where it already is.
///
/// The resident size is read at most every `checkInterval` (a request does not pay for a read of
/// `/proc/self/statm` each).
public final class MemoryLimiter: Sendable {
    public let limitBytes: Int
    private let residentBytes: @Sendable () -> Int
    private let checkInterval: Duration
    private let last = Mutex<(at: ContinuousClock.Instant, resident: Int)?>(nil)
    /// Requests refused and tailing rounds skipped because of the limit.
    public let pushbacks = Atomic<Int>(0)

    public init(
        limitBytes: Int, checkInterval: Duration = .milliseconds(100),
        residentBytes: @escaping @Sendable () -> Int = MemoryLimiter.processResidentBytes
    ) {
        self.limitBytes = limitBytes
        self.checkInterval = checkInterval
        self.residentBytes = residentBytes
    }

    /// The resident size as last read (read again when older than `checkInterval`).
    public var currentResidentBytes: Int {
        let now = ContinuousClock.now
        if let last = last.withLock({ $0 }), now - last.at < checkInterval { return last.resident }
        let resident = residentBytes()
        last.withLock { $0 = (now, resident) }
        return resident
    }

    /// nil when there is room; otherwise why the caller must wait (and the pushback is counted).
    public func refusal() -> String? {
        let resident = currentResidentBytes
        guard resident > limitBytes else { return nil }
        pushbacks.add(1, ordering: .relaxed)
        return "the \(Self.processName) is over its memory limit (\(resident) of \(limitBytes) bytes resident); retry later"
    }

    static let processName = "agent"

    /// This process's resident set from `/proc/self/statm` (0 when it cannot be read).
    public static func processResidentBytes() -> Int {
        let descriptor = open("/proc/self/statm", O_RDONLY)
        guard descriptor >= 0 else { return 0 }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return 0 }
        // "size resident shared text lib data dt", in pages.
        let fields = buffer[0..<count].split(separator: UInt8(ascii: " "))
        guard fields.count >= 2, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// 80 % of the memory limit of the cgroup this process runs in (a container's limit), if it has one.
    public static func defaultLimit(cgroupMemoryMax path: String = "/sys/fs/cgroup/memory.max") -> Int? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[0..<count], as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        guard let bytes = Int(text), bytes > 0 else { return nil }  // "max": no limit
        return bytes / 5 * 4
    }
}
