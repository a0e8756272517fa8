/// A 16-byte trace identifier. All zeroes means "absent" (OTLP's empty bytes).
public struct TraceID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The first eight bytes, big-endian.
    public var high: UInt64
    /// The last eight bytes, big-endian.
    public var low: UInt64

    public static let empty = TraceID(high: 0, low: 0)
    public static let byteCount = 16

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Reads 16 bytes; returns nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, byte) in bytes.enumerated() {
            if index < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
        }
        self.init(high: high, low: low)
    }

    public var isEmpty: Bool { high == 0 && low == 0 }

    public var bytes: [UInt8] { high.bigEndianBytes + low.bigEndianBytes }

    /// Lowercase hex, 32 characters: the form OTLP/JSON, Tempo and Jaeger use.
    public var hex: String { HexCoding.encode(bytes) }

    public init?(hex: some StringProtocol) {
        guard let bytes = HexCoding.decode(hex), let id = TraceID(bytes: bytes) else { return nil }
        self = id
    }

    public var description: String { hex }

    /// 1 to 32 hex digits in either case, left-padded with zeros: how Tempo, Jaeger and Zipkin take
    /// trace IDs in URLs and JSON (64-bit IDs are 16 digits).
    public init?(paddedHex text: some StringProtocol) {
        guard (1...32).contains(text.utf8.count), text.allSatisfy(\.isHexDigit) else { return nil }
        self.init(hex: String(repeating: "0", count: 32 - text.utf8.count) + text.lowercased())
    }

    public static func < (lhs: TraceID, rhs: TraceID) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }
}

/// An 8-byte span identifier. Zero means "absent".
public struct SpanID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: UInt64

    public static let empty = SpanID(value: 0)
    public static let byteCount = 8

    public init(value: UInt64) { self.value = value }

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var value: UInt64 = 0
        for byte in bytes { value = value << 8 | UInt64(byte) }
        self.init(value: value)
    }

    public var isEmpty: Bool { value == 0 }

    public var bytes: [UInt8] { value.bigEndianBytes }

    public var hex: String { HexCoding.encode(bytes) }

    public init?(hex: some StringProtocol) {
        guard let bytes = HexCoding.decode(hex), let id = SpanID(bytes: bytes) else { return nil }
        self = id
    }

    public var description: String { hex }

    public static func < (lhs: SpanID, rhs: SpanID) -> Bool { lhs.value < rhs.value }
}

extension UInt64 {
    var bigEndianBytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: self >> (56 - 8 * UInt64($0))) }
    }
}

/// Case-insensitive hex as RFC 4648 section 8 describes it.
public enum HexCoding {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    @inline(__always)
    public static func nibble(_ ascii: UInt8) -> UInt8? {
        switch ascii {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): ascii &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): ascii &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): ascii &- UInt8(ascii: "A") &+ 10
        default: nil
        }
    }
}
