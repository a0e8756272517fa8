import LoupeQuery
/// A small JSON writer for Prometheus API responses (`{"status":"success","data":...}`).
struct PrometheusJSON {
    private(set) var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(256) }

    mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }

    /// What another writer wrote (a part encoded elsewhere, e.g. on another thread).
    mutating func append(_ other: PrometheusJSON) { bytes.append(contentsOf: other.bytes) }

    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [92, 92])
            case 10: bytes.append(contentsOf: [92, 110])
            case 13: bytes.append(contentsOf: [92, 114])
            case 9: bytes.append(contentsOf: [92, 116])
            case 0..<32:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [92, 117, 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func stringArray(_ values: [String]) {
        raw("[")
        for (index, value) in values.enumerated() {
            if index > 0 { raw(",") }
            string(value)
        }
        raw("]")
    }

    mutating func labels(_ labels: Labels) {
        raw("{")
        for (index, label) in labels.enumerated() {
            if index > 0 { raw(",") }
            string(label.name)
            raw(":")
            string(label.value)
        }
        raw("}")
    }

    /// A sample value as Prometheus writes it: a string, with NaN and infinities spelled out, in
    /// plain decimal unless tiny (< 1e-6) or huge (>= 1e21), where Go's shortest exponent form is used.
    static func formatValue(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == .infinity { return "+Inf" }
        if value == -.infinity { return "-Inf" }
        let magnitude = abs(value)
        if magnitude != 0 && (magnitude < 1e-6 || magnitude >= 1e21) { return "\(value)" }
        return formatGoFloat(value)
    }

    /// `[<unix seconds>,"<value>"]`, written straight into the buffer: range query results are
    /// mostly points, and integral values and whole-millisecond times need no intermediate strings.
    mutating func point(_ milliseconds: Int64, _ value: Double) {
        bytes.append(UInt8(ascii: "["))
        if milliseconds >= 0 {
            appendDecimal(UInt64(milliseconds / 1000))
            var remainder = Int(milliseconds % 1000)
            if remainder != 0 {
                bytes.append(UInt8(ascii: "."))
                var digits = 3
                while remainder % 10 == 0 {
                    remainder /= 10
                    digits -= 1
                }
                var divisor = digits == 3 ? 100 : digits == 2 ? 10 : 1
                while divisor > 0 {
                    bytes.append(UInt8(ascii: "0") + UInt8(remainder / divisor % 10))
                    divisor /= 10
                }
            }
        } else {
            raw(Self.formatTimestamp(milliseconds))
        }
        bytes.append(UInt8(ascii: ","))
        bytes.append(UInt8(ascii: "\""))
        if value.isFinite, value == value.rounded(), abs(value) < 1e15, value != 0 || value.sign == .plus {
            if value < 0 { bytes.append(UInt8(ascii: "-")) }
            appendDecimal(UInt64(abs(value)))
        } else if !appendFixedPointDigits(value) {
            raw(Self.formatValue(value))
        }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: "]"))
    }

    /// Writes a non-integral value of ordinary magnitude as Swift's shortest round-trip digits,
    /// which are Go's, straight into the buffer (`Double.write(to:)` hands them to `_writeASCII`):
    /// going through `description` allocated a string per value longer than 15 bytes, a sixth of
    /// a range query's time. False, having written nothing, where Swift would use an exponent.
    private mutating func appendFixedPointDigits(_ value: Double) -> Bool {
        let magnitude = abs(value)
        guard value.isFinite, magnitude >= 1e-4, magnitude < 1e15, value != value.rounded() else { return false }
        let start = bytes.count
        value.write(to: &self)
        if bytes[start...].contains(UInt8(ascii: "e")) {
            bytes.removeSubrange(start...)
            return false
        }
        return true
    }

    private mutating func appendDecimal(_ value: UInt64) {
        if value < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for the 20 digits of UInt64.max
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 {
                buffer[count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            }
            for index in stride(from: count - 1, through: 0, by: -1) { bytes.append(buffer[index]) }
        }
    }

    /// Unix seconds with millisecond precision, as a JSON number.
    static func formatTimestamp(_ milliseconds: Int64) -> String {
        let seconds = milliseconds / 1000
        let remainder = abs(milliseconds % 1000)
        if remainder == 0 { return String(seconds) }
        let sign = milliseconds < 0 && seconds == 0 ? "-" : ""
        var fraction = String(remainder)
        while fraction.count < 3 { fraction = "0" + fraction }
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(sign)\(seconds).\(fraction)"
    }
}

import LoupeModel

extension PrometheusJSON: TextOutputStream {
    mutating func write(_ string: String) { raw(string) }

    /// What `Double.write(to:)` calls with its digits (an underscored requirement of
    /// `TextOutputStream`; without it the default turns them into a `String` first).
    mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) { bytes.append(contentsOf: buffer) }
}
