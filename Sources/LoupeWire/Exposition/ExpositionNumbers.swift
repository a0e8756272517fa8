/// Number syntax of the Prometheus text formats.
///
/// Values are read as Prometheus reads them: Go's `strconv.ParseFloat` grammar without hexadecimal
/// floats and underscores (`[+-]digits[.digits][e[+-]digits]`, leading zeros and `1.`/`.5` allowed, plus
/// case-insensitive `Inf`/`Infinity` with an optional sign and `NaN` without one). A finite literal that
/// overflows a double is an error, as in Go; one that underflows becomes (signed) zero or a subnormal.
enum ExpositionNumbers {
    /// The quiet NaN Prometheus stores for a scraped `NaN` (`value.NormalNaN`), distinct from the stale marker.
    static let normalNaN = Double(bitPattern: 0x7FF8_0000_0000_0001)

    enum FloatResult {
        case value(Double)
        case invalid
        /// Syntactically fine, but beyond the range of a double.
        case outOfRange
    }

    /// Parses `count` bytes at `pointer` as a whole.
    @inline(__always)
    static func parseFloat(_ pointer: UnsafePointer<UInt8>, count: Int) -> FloatResult {
        guard count > 0 else { return .invalid }
        var index = 0
        var negative = false
        var signed = false
        let first = pointer[0]
        if first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            signed = true
            index = 1
            guard count > 1 else { return .invalid }
        }
        let lead = pointer[index]
        if lead | 0x20 == UInt8(ascii: "i") || lead | 0x20 == UInt8(ascii: "n") {
            return parseSpecial(pointer + index, count: count - index, negative: negative, signed: signed)
        }
        var significand: UInt64 = 0
        var significantDigits = 0
        var exponent = 0
        var sawDigit = false
        var sawPoint = false
        var truncated = false
        while index < count {
            let byte = pointer[index]
            let digit = byte &- UInt8(ascii: "0")
            if digit < 10 {
                sawDigit = true
                if significand == 0 && digit == 0 {
                    // Leading zeros carry no information (but do move the point).
                    if sawPoint { exponent -= 1 }
                } else if significantDigits < 19 {
                    significand = significand &* 10 &+ UInt64(digit)
                    significantDigits += 1
                    if sawPoint { exponent -= 1 }
                } else {
                    if digit != 0 { truncated = true }
                    if !sawPoint { exponent += 1 }
                }
                index += 1
            } else if byte == UInt8(ascii: ".") && !sawPoint {
                sawPoint = true
                index += 1
            } else {
                break
            }
        }
        guard sawDigit else { return .invalid }
        if index < count {
            guard pointer[index] | 0x20 == UInt8(ascii: "e") else { return .invalid }
            index += 1
            var exponentNegative = false
            if index < count && (pointer[index] == UInt8(ascii: "+") || pointer[index] == UInt8(ascii: "-")) {
                exponentNegative = pointer[index] == UInt8(ascii: "-")
                index += 1
            }
            guard index < count else { return .invalid }
            var explicit = 0
            while index < count {
                let digit = pointer[index] &- UInt8(ascii: "0")
                guard digit < 10 else { return .invalid }
                if explicit < 100_000_000 { explicit = explicit * 10 + Int(digit) }
                index += 1
            }
            exponent += exponentNegative ? -explicit : explicit
        }
        if significand == 0 { return .value(negative ? -0.0 : 0.0) }
        // Clinger's fast path: an exact significand and an exact power of ten round once, correctly.
        if !truncated && significand <= (UInt64(1) << 53) && exponent >= -22 && exponent <= 22 {
            var value = Double(significand)
            if exponent >= 0 { value *= powersOfTen[exponent] } else { value /= powersOfTen[-exponent] }
            return .value(negative ? -value : value)
        }
        return slowParse(pointer, count: count)
    }

    @inline(never)
    static func slowParse(_ pointer: UnsafePointer<UInt8>, count: Int) -> FloatResult {
        // The text matched the decimal grammar above, which the standard library's (correctly rounding) parser
        // accepts as well.
        let text = String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
        guard let value = Double(text) else { return .invalid }
        return value.isFinite ? .value(value) : .outOfRange
    }

    @inline(never)
    static func parseSpecial(_ pointer: UnsafePointer<UInt8>, count: Int, negative: Bool, signed: Bool) -> FloatResult {
        func matches(_ word: StaticString) -> Bool {
            guard count == word.utf8CodeUnitCount else { return false }
            for index in 0..<count where pointer[index] | 0x20 != word.utf8Start[index] { return false }
            return true
        }
        if matches("inf") || matches("infinity") { return .value(negative ? -.infinity : .infinity) }
        if !signed && matches("nan") { return .value(normalNaN) }
        return .invalid
    }

    /// Parses a decimal integer with an optional sign; nil when malformed or beyond Int64.
    @inline(__always)
    static func parseInt64(_ pointer: UnsafePointer<UInt8>, count: Int) -> Int64?? {
        guard count > 0 else { return nil }
        var index = 0
        var negative = false
        if pointer[0] == UInt8(ascii: "-") || pointer[0] == UInt8(ascii: "+") {
            negative = pointer[0] == UInt8(ascii: "-")
            index = 1
            guard count > 1 else { return nil }
        }
        var magnitude: UInt64 = 0
        var overflow = false
        while index < count {
            let digit = pointer[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            if !overflow {
                let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(digit))
                if o1 || o2 { overflow = true } else { magnitude = sum }
            }
            index += 1
        }
        // `.some(nil)`: well-formed but out of range.
        if overflow { return .some(nil) }
        if negative {
            guard magnitude <= UInt64(1) << 63 else { return .some(nil) }
            return Int64(bitPattern: 0 &- magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return .some(nil) }
        return Int64(magnitude)
    }

    /// `seconds × 1000` truncated toward zero, as Prometheus converts OpenMetrics timestamps
    /// (`int64(ts * 1000)`); values beyond Int64 saturate instead of trapping.
    @inline(__always)
    static func milliseconds(fromSeconds seconds: Double) -> Int64 {
        let milliseconds = seconds * 1000
        if milliseconds >= 9.223_372_036_854_775_807e18 { return .max }
        if milliseconds <= -9.223_372_036_854_775_808e18 { return .min }
        return Int64(milliseconds)
    }

    static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
        1e20, 1e21, 1e22,
    ]

    // MARK: - Formatting

    /// Go's `strconv.FormatFloat(value, 'g', -1, 64)`, with `+Inf`, `-Inf` and `NaN` spelled as Prometheus does:
    /// the shortest digits that round-trip, in exponent form when the exponent is below -4 or at least 6
    /// (`0.0001`, `1e-05`, `100000`, `1e+06`, `1.234567e+06`).
    static func goFormat(_ value: Double) -> String {
        var bytes: [UInt8] = []
        appendGoFormat(value, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Prometheus's canonical rendering of `le` and `quantile` label values (`labels.FormatOpenMetricsFloat`):
    /// Go's `%g`, with `.0` appended when that has neither a point nor an exponent (`1.0`, `0.005`, `1e+06`).
    static func openMetricsCanonical(_ value: Double) -> String {
        if value == 0 { return "0.0" }
        var bytes: [UInt8] = []
        appendGoFormat(value, to: &bytes)
        if value.isFinite && !bytes.contains(UInt8(ascii: ".")) && !bytes.contains(UInt8(ascii: "e")) {
            bytes.append(UInt8(ascii: "."))
            bytes.append(UInt8(ascii: "0"))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends Go's `%g` (shortest) rendering of `value`; see `goFormat`.
    static func appendGoFormat(_ value: Double, to out: inout [UInt8]) {
        if value.isNaN {
            out.append(contentsOf: "NaN".utf8)
            return
        }
        if value.isInfinite {
            out.append(contentsOf: (value < 0 ? "-Inf" : "+Inf").utf8)
            return
        }
        if value == 0 {
            if value.sign == .minus { out.append(UInt8(ascii: "-")) }
            out.append(UInt8(ascii: "0"))
            return
        }
        // Integers below 2^53 print their digits directly (the common case for counters).
        if value == value.rounded(.towardZero) && value.magnitude < 1e6 {
            if value < 0 { out.append(UInt8(ascii: "-")) }
            appendDecimal(UInt64(value.magnitude), to: &out)
            return
        }
        let (digits, point) = shortestDigits(value.magnitude)
        if value < 0 { out.append(UInt8(ascii: "-")) }
        let exponent = point - 1
        if exponent < -4 || exponent >= 6 {
            out.append(digits[0])
            if digits.count > 1 {
                out.append(UInt8(ascii: "."))
                out.append(contentsOf: digits[1...])
            }
            out.append(UInt8(ascii: "e"))
            out.append(exponent < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
            let magnitude = exponent.magnitude
            if magnitude < 10 { out.append(UInt8(ascii: "0")) }
            appendDecimal(UInt64(magnitude), to: &out)
            return
        }
        if point <= 0 {
            out.append(UInt8(ascii: "0"))
            out.append(UInt8(ascii: "."))
            for _ in 0 ..< -point { out.append(UInt8(ascii: "0")) }
            out.append(contentsOf: digits)
        } else if point >= digits.count {
            out.append(contentsOf: digits)
            for _ in 0 ..< point - digits.count { out.append(UInt8(ascii: "0")) }
        } else {
            out.append(contentsOf: digits[..<point])
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: digits[point...])
        }
    }

    static func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
        if value < 10 {
            out.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var buffer: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &buffer) { raw in
            var index = raw.count
            var rest = value
            while rest > 0 {
                index -= 1
                raw[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            out.append(contentsOf: raw[index...])
        }
    }

    /// The shortest decimal digits that round-trip to `value` (positive, finite, nonzero) and the position of the
    /// decimal point relative to them (`value = 0.d1d2d3… × 10^point`), taken from the standard library's
    /// shortest round-trip rendering (which `description` uses).
    static func shortestDigits(_ value: Double) -> (digits: [UInt8], point: Int) {
        var digits: [UInt8] = []
        var integerDigits = 0
        var exponent = 0
        var seenPoint = false
        var utf8 = Array(value.description.utf8)
        if let e = utf8.firstIndex(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            var sign = 1
            var index = e + 1
            if index < utf8.count && (utf8[index] == UInt8(ascii: "-") || utf8[index] == UInt8(ascii: "+")) {
                sign = utf8[index] == UInt8(ascii: "-") ? -1 : 1
                index += 1
            }
            while index < utf8.count {
                exponent = exponent * 10 + Int(utf8[index] &- UInt8(ascii: "0"))
                index += 1
            }
            exponent *= sign
            utf8.removeSubrange(e...)
        }
        for byte in utf8 {
            if byte == UInt8(ascii: ".") {
                seenPoint = true
                continue
            }
            guard byte &- UInt8(ascii: "0") < 10 else { continue }
            if digits.isEmpty && byte == UInt8(ascii: "0") {
                // A leading zero: before the point it is nothing; after it, it shifts the point left.
                if seenPoint { integerDigits -= 1 }
                continue
            }
            digits.append(byte)
            if !seenPoint { integerDigits += 1 }
        }
        while digits.count > 1 && digits.last == UInt8(ascii: "0") { digits.removeLast() }
        if digits.isEmpty { digits = [UInt8(ascii: "0")] }
        return (digits, integerDigits + exponent)
    }
}
