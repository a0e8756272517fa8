/// Appends JSON to a byte buffer. Members are written as `"key":value,`; closing an object or
/// array replaces a trailing comma, so callers never track "first member" state.
struct JSONWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 1024) {
        bytes.reserveCapacity(capacity)
    }

    @inline(__always)
    mutating func raw(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    @inline(__always)
    mutating func byte(_ value: UInt8) {
        bytes.append(value)
    }

    /// Writes `"name":`.
    @inline(__always)
    mutating func key(_ name: StaticString) {
        bytes.append(UInt8(ascii: "\""))
        raw(name)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    @inline(__always)
    mutating func comma() {
        bytes.append(UInt8(ascii: ","))
    }

    @inline(__always)
    mutating func beginObject() {
        bytes.append(UInt8(ascii: "{"))
    }

    /// Closes an object, dropping a trailing comma.
    @inline(__always)
    mutating func endObject() {
        close(UInt8(ascii: "}"))
    }

    @inline(__always)
    mutating func beginArray() {
        bytes.append(UInt8(ascii: "["))
    }

    @inline(__always)
    mutating func endArray() {
        close(UInt8(ascii: "]"))
    }

    @inline(__always)
    private mutating func close(_ bracket: UInt8) {
        if bytes.last == UInt8(ascii: ",") {
            bytes[bytes.count - 1] = bracket
        } else {
            bytes.append(bracket)
        }
    }

    // MARK: - Scalars

    /// A JSON string with the escapes RFC 8259 requires (`"`, `\` and control characters).
    mutating func string(_ value: String) {
        var value = value
        bytes.append(UInt8(ascii: "\""))
        value.withUTF8 { utf8 in
            guard let base = utf8.baseAddress else { return }
            let count = utf8.count
            var index = 0
            var runStart = 0
            while index < count {
                // Skip eight bytes at a time while none needs escaping.
                while index &+ 8 <= count, !jsonWordNeedsAttention(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)) {
                    index &+= 8
                }
                guard index < count else { break }
                let byte = base[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else {
                    index &+= 1
                    continue
                }
                if runStart < index { bytes.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: index - runStart)) }
                switch byte {
                case UInt8(ascii: "\""): raw("\\\"")
                case UInt8(ascii: "\\"): raw("\\\\")
                case 0x0A: raw("\\n")
                case 0x0D: raw("\\r")
                case 0x09: raw("\\t")
                case 0x08: raw("\\b")
                case 0x0C: raw("\\f")
                default:
                    raw("\\u00")
                    bytes.append(Self.hexDigits[Int(byte >> 4)])
                    bytes.append(Self.hexDigits[Int(byte & 0x0F)])
                }
                index &+= 1
                runStart = index
            }
            if runStart < count { bytes.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: count - runStart)) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Decimal digits of `value`.
    @inline(__always)
    mutating func decimal(_ value: UInt64) {
        if value < 10 {
            bytes.append(UInt8(truncatingIfNeeded: value) &+ UInt8(ascii: "0"))
            return
        }
        var buffer: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for 20 digits
        withUnsafeMutableBytes(of: &buffer) { digits in
            var position = digits.count
            var rest = value
            while rest > 0 {
                position -= 1
                digits[position] = UInt8(truncatingIfNeeded: rest % 10) &+ UInt8(ascii: "0")
                rest /= 10
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: digits[position...]))
        }
    }

    @inline(__always)
    mutating func decimal(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        decimal(value.magnitude)
    }

    /// A 64-bit integer as protobuf's JSON mapping writes it: a quoted decimal string.
    @inline(__always)
    mutating func quoted(_ value: UInt64) {
        bytes.append(UInt8(ascii: "\""))
        decimal(value)
        bytes.append(UInt8(ascii: "\""))
    }

    @inline(__always)
    mutating func quoted(_ value: Int64) {
        bytes.append(UInt8(ascii: "\""))
        decimal(value)
        bytes.append(UInt8(ascii: "\""))
    }

    @inline(__always)
    mutating func bool(_ value: Bool) {
        if value { raw("true") } else { raw("false") }
    }

    /// A double in its shortest round-tripping form; non-finite values as the strings
    /// `"NaN"`, `"Infinity"` and `"-Infinity"`.
    mutating func double(_ value: Double) {
        if !value.isFinite {
            if value.isNaN {
                raw("\"NaN\"")
            } else {
                raw(value < 0 ? "\"-Infinity\"" : "\"Infinity\"")
            }
            return
        }
        if value.magnitude < 1e15, value == value.rounded(.towardZero) {
            if value.sign == .minus { bytes.append(UInt8(ascii: "-")) }
            decimal(UInt64(value.magnitude))
            return
        }
        // `description` is the shortest text that reads back to the same value ("1.5", "1e-07",
        // "1.2345678901234568e+17"); all of it is valid JSON number syntax.
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
    }

    /// Lowercase hex of a big-endian 64-bit value: sixteen characters.
    @inline(__always)
    mutating func hex(_ value: UInt64) {
        Self.hexDigits.withUnsafeBufferPointer { digits in
            var shift: UInt64 = 60
            while true {
                bytes.append(digits[Int(truncatingIfNeeded: (value >> shift) & 0x0F)])
                if shift == 0 { break }
                shift -= 4
            }
        }
    }
}
