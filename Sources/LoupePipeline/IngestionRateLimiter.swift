import LoupeModel
import Synchronization

/// A per-tenant token bucket over ingested bytes (Loki's `ingestion_rate_mb` and
/// `ingestion_burst_size_mb`): each tenant may send `bytesPerSecond` on average and `burstBytes`
/// at once. Time comes from the caller, so tests drive it without sleeping.
public final class IngestionRateLimiter: Sendable {
    public struct Refusal: Error, Sendable, Equatable {
        /// Seconds until the request would fit (rounded up, at least 1).
        public var retryAfterSeconds: Int
    }

    public let bytesPerSecond: Double
    public let burstBytes: Double
    private let buckets = Mutex<[Tenant: (tokens: Double, updated: ContinuousClock.Instant)]>([:])

    /// - Parameter bytesPerSecond: 0 or less turns the limit off.
    public init(bytesPerSecond: Double, burstBytes: Double) {
        self.bytesPerSecond = bytesPerSecond
        self.burstBytes = max(burstBytes, bytesPerSecond)
    }

    public var isEnabled: Bool { bytesPerSecond > 0 }

    /// Takes `bytes` from the tenant's bucket, or refuses without taking anything.
    public func admit(_ bytes: Int, tenant: Tenant, now: ContinuousClock.Instant = .now) throws(Refusal) {
        guard isEnabled else { return }
        let needed = Double(bytes)
        let outcome: Int? = buckets.withLock { buckets in
            var bucket = buckets[tenant] ?? (burstBytes, now)
            let elapsed = bucket.updated.duration(to: now)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(burstBytes, bucket.tokens + max(0, seconds) * bytesPerSecond)
            bucket.updated = now
            // A request larger than the burst can never fit: let it through on a full bucket, as
            // a token bucket with debt would, rather than refuse it forever.
            if bucket.tokens >= needed || bucket.tokens >= burstBytes {
                bucket.tokens -= needed
                buckets[tenant] = bucket
                return nil
            }
            buckets[tenant] = bucket
            return max(1, Int(((needed - bucket.tokens) / bytesPerSecond).rounded(.up)))
        }
        if let retryAfter = outcome { throw Refusal(retryAfterSeconds: retryAfter) }
    }
}

/// What happens to a log line longer than the limit (Loki's `max_line_size` and
/// `max_line_size_truncate`).
public struct LogLineSizeLimit: Sendable, Equatable {
    /// Bytes; 0 turns the limit off.
    public var maximumBytes: Int
    /// Cut long lines to the limit (at a character boundary) instead of refusing the request.
    public var truncate: Bool

    public init(maximumBytes: Int = 256 << 10, truncate: Bool = false) {
        self.maximumBytes = maximumBytes
        self.truncate = truncate
    }

    public struct Violation: Error, Sendable, Equatable, CustomStringConvertible {
        public var labels: Labels
        public var length: Int
        public var maximum: Int
        public var description: String {
            "Max entry size '\(maximum)' bytes exceeded for stream '\(labels.description)' while adding an entry with length '\(length)' bytes"
        }
    }

    /// The streams with long lines cut, or the first violation when lines are refused.
    /// Returns how many lines were truncated.
    public func apply(to streams: inout [LogStream]) throws(Violation) -> Int {
        guard maximumBytes > 0 else { return 0 }
        var truncated = 0
        for streamIndex in streams.indices {
            for entryIndex in streams[streamIndex].entries.indices
            where try apply(to: &streams[streamIndex].entries[entryIndex].line, of: streams[streamIndex].labels) {
                truncated += 1
            }
        }
        return truncated
    }

    /// One line cut to the limit, or its violation when lines are refused; true when it was cut.
    public func apply(to line: inout String, of labels: Labels) throws(Violation) -> Bool {
        guard maximumBytes > 0 else { return false }
        let length = line.utf8.count
        guard length > maximumBytes else { return false }
        guard truncate else { throw Violation(labels: labels, length: length, maximum: maximumBytes) }
        line = Self.prefix(line, bytes: maximumBytes)
        return true
    }

    /// The longest prefix of whole Unicode scalars within `bytes` UTF-8 bytes.
    static func prefix(_ line: String, bytes: Int) -> String {
        let utf8 = Array(line.utf8)
        guard bytes < utf8.count else { return line }
        var end = bytes
        // Back off continuation bytes (10xxxxxx) so no scalar is cut in half.
        while end > 0, utf8[end] & 0xC0 == 0x80 { end -= 1 }
        return String(decoding: utf8[0..<end], as: UTF8.self)
    }
}
