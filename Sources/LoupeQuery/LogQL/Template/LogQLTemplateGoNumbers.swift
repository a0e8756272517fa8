// Go's strconv for numbers: ParseInt/ParseUint with base 0 (prefixes, underscores), ParseFloat's syntax,
// and FormatFloat ('e', 'f', 'g' with a precision or shortest). Fixed-precision formatting rounds the
// exact binary value half-to-even, as Go's decimal conversion does, using a small big-integer.

extension LogQLTemplate {
    enum GoNumbers {
        enum ParseFailure: Error {
            case syntax
            case range
        }

        private static func lower(_ byte: UInt8) -> UInt8 { byte | 0x20 }

        /// strconv's underscoreOK: underscores only between digits or after a base prefix.
        static func underscoresAllowed(_ bytes: ArraySlice<UInt8>) -> Bool {
            var text = bytes
            var saw: UInt8 = UInt8(ascii: "^")
            if let first = text.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") { text = text.dropFirst() }
            var hex = false
            var index = text.startIndex
            if text.count >= 2, text[index] == UInt8(ascii: "0") {
                let prefix = lower(text[index + 1])
                if prefix == UInt8(ascii: "b") || prefix == UInt8(ascii: "o") || prefix == UInt8(ascii: "x") {
                    index += 2
                    saw = UInt8(ascii: "0")
                    hex = prefix == UInt8(ascii: "x")
                }
            }
            while index < text.endIndex {
                let byte = text[index]
                index += 1
                if (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                    || (hex && lower(byte) >= UInt8(ascii: "a") && lower(byte) <= UInt8(ascii: "f")) {
                    saw = UInt8(ascii: "0")
                    continue
                }
                if byte == UInt8(ascii: "_") {
                    if saw != UInt8(ascii: "0") { return false }
                    saw = UInt8(ascii: "_")
                    continue
                }
                if saw == UInt8(ascii: "_") { return false }
                saw = UInt8(ascii: "!")
            }
            return saw != UInt8(ascii: "_")
        }

        /// strconv.ParseUint(s, 0, 64).
        static func parseUnsigned(_ text: String) -> Result<UInt64, ParseFailure> {
            parseUnsigned(Array(text.utf8)[...])
        }

        static func parseUnsigned(_ original: ArraySlice<UInt8>) -> Result<UInt64, ParseFailure> {
            guard !original.isEmpty else { return .failure(.syntax) }
            var digits = original
            var base: UInt64 = 10
            if digits.first == UInt8(ascii: "0") {
                let start = digits.startIndex
                if digits.count >= 3 && lower(digits[start + 1]) == UInt8(ascii: "b") {
                    base = 2; digits = digits.dropFirst(2)
                } else if digits.count >= 3 && lower(digits[start + 1]) == UInt8(ascii: "o") {
                    base = 8; digits = digits.dropFirst(2)
                } else if digits.count >= 3 && lower(digits[start + 1]) == UInt8(ascii: "x") {
                    base = 16; digits = digits.dropFirst(2)
                } else {
                    base = 8; digits = digits.dropFirst(1)
                }
            }
            var value: UInt64 = 0
            var sawUnderscore = false
            var overflow = false
            for byte in digits {
                let digit: UInt64
                if byte == UInt8(ascii: "_") {
                    sawUnderscore = true
                    continue
                } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                    digit = UInt64(byte - UInt8(ascii: "0"))
                } else if lower(byte) >= UInt8(ascii: "a") && lower(byte) <= UInt8(ascii: "z") {
                    digit = UInt64(lower(byte) - UInt8(ascii: "a")) + 10
                } else {
                    return .failure(.syntax)
                }
                if digit >= base { return .failure(.syntax) }
                if overflow { continue }
                let (product, productOverflow) = value.multipliedReportingOverflow(by: base)
                let (sum, sumOverflow) = product.addingReportingOverflow(digit)
                if productOverflow || sumOverflow { overflow = true } else { value = sum }
            }
            if sawUnderscore && !underscoresAllowed(original) { return .failure(.syntax) }
            return overflow ? .failure(.range) : .success(value)
        }

        /// strconv.ParseInt(s, 0, 64).
        static func parseSigned(_ text: String) -> Result<Int64, ParseFailure> {
            // Fast path: a short plain decimal without a leading zero, the usual label value.
            let utf8 = text.utf8
            if utf8.count < 19, let first = utf8.first, first != UInt8(ascii: "0") {
                var value: Int64 = 0
                var negative = false
                var digits = 0
                var plain = true
                for (offset, byte) in utf8.enumerated() {
                    if offset == 0 && (byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+")) {
                        negative = byte == UInt8(ascii: "-")
                        continue
                    }
                    guard byte >= 0x30 && byte <= 0x39, !(digits == 0 && byte == 0x30) else {
                        plain = false
                        break
                    }
                    value = value * 10 + Int64(byte - 0x30)
                    digits += 1
                }
                if plain && digits > 0 { return .success(negative ? -value : value) }
            }
            let bytes = Array(utf8)
            guard !bytes.isEmpty else { return .failure(.syntax) }
            var body = bytes[...]
            var negative = false
            if bytes[0] == UInt8(ascii: "+") || bytes[0] == UInt8(ascii: "-") {
                negative = bytes[0] == UInt8(ascii: "-")
                body = body.dropFirst()
            }
            let magnitude: UInt64
            switch parseUnsigned(body) {
            case .success(let value): magnitude = value
            case .failure(let failure): return .failure(failure)
            }
            if body.contains(UInt8(ascii: "_")) && !underscoresAllowed(bytes[...]) { return .failure(.syntax) }
            if negative {
                if magnitude > UInt64(Int64.max) + 1 { return .failure(.range) }
                return .success(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))
            }
            if magnitude > UInt64(Int64.max) { return .failure(.range) }
            return .success(Int64(magnitude))
        }

        /// strconv.ParseFloat(s, 64): Go's syntax is checked here (Swift's parser accepts more), then the
        /// correctly rounded conversion is Swift's. Out of range is an error, as in Go.
        static func parseFloat(_ text: String) -> Result<Double, ParseFailure> {
            let bytes = Array(text.utf8)
            guard !bytes.isEmpty else { return .failure(.syntax) }
            var index = 0
            var negative = false
            if bytes[0] == UInt8(ascii: "+") || bytes[0] == UInt8(ascii: "-") {
                negative = bytes[0] == UInt8(ascii: "-")
                index = 1
            }
            // Infinity and NaN, case-insensitively; NaN takes no sign.
            let rest = String(decoding: bytes[index...], as: UTF8.self).lowercased()
            if rest == "inf" || rest == "infinity" { return .success(negative ? -.infinity : .infinity) }
            if rest == "nan" { return index == 0 ? .success(.nan) : .failure(.syntax) }

            var cleaned: [UInt8] = bytes.filter { $0 != UInt8(ascii: "_") }
            let hasUnderscore = cleaned.count != bytes.count
            var hex = false
            if bytes.count >= index + 2, bytes[index] == UInt8(ascii: "0"), lower(bytes[index + 1]) == UInt8(ascii: "x") {
                hex = true
                index += 2
            }
            var mantissaDigits = 0
            var sawDot = false
            var sawExponent = false
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "_") {
                    index += 1
                    continue
                }
                let isDecimal = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
                let isHexLetter = hex && lower(byte) >= UInt8(ascii: "a") && lower(byte) <= UInt8(ascii: "f")
                if isDecimal || isHexLetter {
                    mantissaDigits += 1
                    index += 1
                } else if byte == UInt8(ascii: ".") && !sawDot {
                    sawDot = true
                    index += 1
                } else {
                    break
                }
            }
            guard mantissaDigits > 0 else { return .failure(.syntax) }
            if index < bytes.count {
                let marker = lower(bytes[index])
                guard (!hex && marker == UInt8(ascii: "e")) || (hex && marker == UInt8(ascii: "p")) else { return .failure(.syntax) }
                index += 1
                if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) { index += 1 }
                var exponentDigits = 0
                while index < bytes.count {
                    let byte = bytes[index]
                    if byte == UInt8(ascii: "_") {
                        index += 1
                        continue
                    }
                    guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return .failure(.syntax) }
                    exponentDigits += 1
                    index += 1
                }
                guard exponentDigits > 0 else { return .failure(.syntax) }
                sawExponent = true
            }
            // A hexadecimal mantissa requires a 'p' exponent.
            if hex && !sawExponent { return .failure(.syntax) }
            if hasUnderscore && !underscoresAllowed(bytes[...]) { return .failure(.syntax) }
            if cleaned.first == UInt8(ascii: "+") { cleaned.removeFirst() }
            guard let value = Double(String(decoding: cleaned, as: UTF8.self)) else { return .failure(.syntax) }
            if value.isInfinite { return .failure(.range) }
            return .success(value)
        }

        /// Go's float64 to int64 conversion: truncation, and what amd64 yields (the minimum) out of range.
        static func truncatingInt64(_ value: Double) -> Int64 {
            guard value.isFinite, value > -9.3e18, value < 9.3e18 else { return Int64.min }
            let truncated = value.rounded(.towardZero)
            if truncated >= 9223372036854775807.0 || truncated < -9223372036854775808.0 { return Int64.min }
            return Int64(truncated)
        }

        // MARK: - Decimal digits of a float64

        /// A decimal digit string d1 d2 ... dn with the value 0.d1d2...dn × 10^decimalPoint (strconv's decimal).
        struct Digits {
            var digits: [UInt8]      // ASCII digits, no leading or trailing zeros
            var decimalPoint: Int

            var count: Int { digits.count }

            mutating func trim() {
                while let last = digits.last, last == UInt8(ascii: "0") { digits.removeLast() }
                if digits.isEmpty { decimalPoint = 0 }
            }

            /// Rounds to `count` digits, half to even on the exact value (strconv's decimal.Round).
            mutating func round(to keep: Int) {
                guard keep >= 0, keep < digits.count else { return }
                if shouldRoundUp(keep) { roundUp(keep) } else { roundDown(keep) }
            }

            private func shouldRoundUp(_ keep: Int) -> Bool {
                if digits[keep] == UInt8(ascii: "5") && keep + 1 == digits.count {
                    return keep > 0 && (digits[keep - 1] - UInt8(ascii: "0")) % 2 == 1
                }
                return digits[keep] >= UInt8(ascii: "5")
            }

            private mutating func roundDown(_ keep: Int) {
                digits.removeSubrange(keep...)
                trim()
            }

            private mutating func roundUp(_ keep: Int) {
                var index = keep - 1
                while index >= 0 {
                    if digits[index] < UInt8(ascii: "9") {
                        digits[index] += 1
                        digits.removeSubrange((index + 1)...)
                        return
                    }
                    index -= 1
                }
                digits = [UInt8(ascii: "1")]
                decimalPoint += 1
            }
        }

        /// The shortest digits that read back as `value` (finite, sign ignored). Swift's description
        /// produces the shortest round-tripping digits, as Go's 'g' -1 does.
        static func shortestDigits(_ value: Double) -> Digits {
            if value == 0 { return Digits(digits: [], decimalPoint: 0) }
            let text = Array(abs(value).description.utf8)
            var mantissa: [UInt8] = []
            var integerDigits = 0
            var sawDot = false
            var exponent = 0
            var index = 0
            while index < text.count {
                let byte = text[index]
                if byte == UInt8(ascii: ".") {
                    sawDot = true
                } else if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                    var sign = 1
                    index += 1
                    if index < text.count && (text[index] == UInt8(ascii: "+") || text[index] == UInt8(ascii: "-")) {
                        sign = text[index] == UInt8(ascii: "-") ? -1 : 1
                        index += 1
                    }
                    var magnitude = 0
                    while index < text.count {
                        magnitude = magnitude * 10 + Int(text[index] - UInt8(ascii: "0"))
                        index += 1
                    }
                    exponent = sign * magnitude
                    break
                } else {
                    mantissa.append(byte)
                    if !sawDot { integerDigits += 1 }
                }
                index += 1
            }
            var result = Digits(digits: mantissa, decimalPoint: integerDigits + exponent)
            var leading = 0
            while leading < result.digits.count && result.digits[leading] == UInt8(ascii: "0") { leading += 1 }
            result.digits.removeFirst(leading)
            result.decimalPoint -= leading
            result.trim()
            return result
        }

        /// The exact decimal expansion of a finite float64 (sign ignored).
        static func exactDigits(_ value: Double) -> Digits {
            if value == 0 { return Digits(digits: [], decimalPoint: 0) }
            let magnitude = abs(value)
            let exponentBits = Int(magnitude.exponentBitPattern)
            var mantissa = magnitude.significandBitPattern
            var binaryExponent: Int
            if exponentBits == 0 {
                binaryExponent = -1074
            } else {
                mantissa |= 1 << 52
                binaryExponent = exponentBits - 1075
            }
            // Strip factors of two to keep the big integer small.
            while mantissa & 1 == 0 && binaryExponent < 0 {
                mantissa >>= 1
                binaryExponent += 1
            }
            var number = BigUnsigned(mantissa)
            var decimalShift = 0
            if binaryExponent >= 0 {
                number.shiftLeft(binaryExponent)
            } else {
                // m × 2^-k = m × 5^k / 10^k
                let power = -binaryExponent
                var remaining = power
                while remaining > 0 {
                    let step = min(remaining, 13)
                    var factor: UInt32 = 1
                    for _ in 0..<step { factor *= 5 }
                    number.multiply(by: factor)
                    remaining -= step
                }
                decimalShift = power
            }
            let text = number.decimalDigits()
            var result = Digits(digits: text, decimalPoint: text.count - decimalShift)
            result.trim()
            return result
        }

        /// A little-endian base-2^32 unsigned integer, enough for exact float64 expansions.
        struct BigUnsigned {
            var limbs: [UInt32]

            init(_ value: UInt64) {
                limbs = [UInt32(truncatingIfNeeded: value), UInt32(truncatingIfNeeded: value >> 32)]
                normalize()
            }

            mutating func normalize() {
                while let last = limbs.last, last == 0 { limbs.removeLast() }
            }

            mutating func multiply(by factor: UInt32) {
                var carry: UInt64 = 0
                for index in limbs.indices {
                    let product = UInt64(limbs[index]) * UInt64(factor) + carry
                    limbs[index] = UInt32(truncatingIfNeeded: product)
                    carry = product >> 32
                }
                if carry != 0 { limbs.append(UInt32(carry)) }
            }

            mutating func shiftLeft(_ bits: Int) {
                let whole = bits / 32
                let partial = bits % 32
                if partial != 0 {
                    var carry: UInt32 = 0
                    for index in limbs.indices {
                        let limb = limbs[index]
                        limbs[index] = limb << UInt32(partial) | carry
                        carry = limb >> UInt32(32 - partial)
                    }
                    if carry != 0 { limbs.append(carry) }
                }
                if whole > 0 { limbs.insert(contentsOf: repeatElement(0, count: whole), at: 0) }
            }

            /// Divides in place by `divisor`, returning the remainder.
            mutating func divide(by divisor: UInt32) -> UInt32 {
                var remainder: UInt64 = 0
                var index = limbs.count - 1
                while index >= 0 {
                    let current = remainder << 32 | UInt64(limbs[index])
                    limbs[index] = UInt32(current / UInt64(divisor))
                    remainder = current % UInt64(divisor)
                    index -= 1
                }
                normalize()
                return UInt32(remainder)
            }

            func decimalDigits() -> [UInt8] {
                var copy = self
                if copy.limbs.isEmpty { return [UInt8(ascii: "0")] }
                var chunks: [UInt32] = []
                while !copy.limbs.isEmpty { chunks.append(copy.divide(by: 1_000_000_000)) }
                var out: [UInt8] = []
                for (position, chunk) in chunks.reversed().enumerated() {
                    var text = Array(String(chunk).utf8)
                    if position > 0 { text = Array(repeating: UInt8(ascii: "0"), count: 9 - text.count) + text }
                    out.append(contentsOf: text)
                }
                return out
            }
        }

        // MARK: - FormatFloat

        /// strconv.FormatFloat(value, format, precision, 64) for 'e', 'E', 'f', 'g', 'G' (precision < 0 means shortest),
        /// plus 'b' and 'x'/'X'.
        static func formatFloat(_ value: Double, format: UInt8, precision requested: Int) -> String {
            if value.isNaN { return "NaN" }
            if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
            let negative = value.sign == .minus
            if format == UInt8(ascii: "b") { return binaryExponentForm(value) }
            if format == UInt8(ascii: "x") || format == UInt8(ascii: "X") {
                return hexForm(value, precision: requested, upper: format == UInt8(ascii: "X"))
            }
            var precision = requested
            let shortest = precision < 0
            var digits: Digits
            if shortest {
                digits = shortestDigits(value)
                switch format {
                case UInt8(ascii: "e"), UInt8(ascii: "E"): precision = digits.count - 1
                case UInt8(ascii: "f"): precision = max(digits.count - digits.decimalPoint, 0)
                default: precision = digits.count
                }
            } else {
                digits = exactDigits(value)
                switch format {
                case UInt8(ascii: "e"), UInt8(ascii: "E"):
                    digits.round(to: precision + 1)
                case UInt8(ascii: "f"):
                    digits.round(to: digits.decimalPoint + precision)
                default:
                    if precision == 0 { precision = 1 }
                    digits.round(to: precision)
                }
            }
            switch format {
            case UInt8(ascii: "e"), UInt8(ascii: "E"):
                return formatE(negative: negative, digits: digits, precision: precision, marker: format)
            case UInt8(ascii: "f"):
                return formatF(negative: negative, digits: digits, precision: precision)
            default:
                var exponentPrecision = precision
                if exponentPrecision > digits.count && digits.count >= digits.decimalPoint { exponentPrecision = digits.count }
                if shortest { exponentPrecision = 6 }
                let exponent = digits.decimalPoint - 1
                if exponent < -4 || exponent >= exponentPrecision {
                    if precision > digits.count { precision = digits.count }
                    let marker = format == UInt8(ascii: "G") ? UInt8(ascii: "E") : UInt8(ascii: "e")
                    return formatE(negative: negative, digits: digits, precision: precision - 1, marker: marker)
                }
                if precision > digits.decimalPoint { precision = digits.count }
                return formatF(negative: negative, digits: digits, precision: max(precision - digits.decimalPoint, 0))
            }
        }

        private static func formatE(negative: Bool, digits: Digits, precision: Int, marker: UInt8) -> String {
            var out: [UInt8] = []
            if negative { out.append(UInt8(ascii: "-")) }
            out.append(digits.count > 0 ? digits.digits[0] : UInt8(ascii: "0"))
            if precision > 0 {
                out.append(UInt8(ascii: "."))
                var index = 1
                let available = min(digits.count, precision + 1)
                while index < available {
                    out.append(digits.digits[index])
                    index += 1
                }
                while index <= precision {
                    out.append(UInt8(ascii: "0"))
                    index += 1
                }
            }
            out.append(marker)
            var exponent = digits.count == 0 ? 0 : digits.decimalPoint - 1
            if exponent < 0 {
                out.append(UInt8(ascii: "-"))
                exponent = -exponent
            } else {
                out.append(UInt8(ascii: "+"))
            }
            if exponent < 10 {
                out.append(UInt8(ascii: "0"))
                out.append(UInt8(ascii: "0") + UInt8(exponent))
            } else {
                out.append(contentsOf: String(exponent).utf8)
            }
            return String(decoding: out, as: UTF8.self)
        }

        private static func formatF(negative: Bool, digits: Digits, precision: Int) -> String {
            var out: [UInt8] = []
            if negative { out.append(UInt8(ascii: "-")) }
            if digits.decimalPoint > 0 {
                let available = min(digits.count, digits.decimalPoint)
                out.append(contentsOf: digits.digits[0..<available])
                if available < digits.decimalPoint {
                    out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits.decimalPoint - available))
                }
            } else {
                out.append(UInt8(ascii: "0"))
            }
            if precision > 0 {
                out.append(UInt8(ascii: "."))
                for offset in 0..<precision {
                    let position = digits.decimalPoint + offset
                    out.append(position >= 0 && position < digits.count ? digits.digits[position] : UInt8(ascii: "0"))
                }
            }
            return String(decoding: out, as: UTF8.self)
        }

        /// %b: -ddddp±ddd with a binary exponent.
        private static func binaryExponentForm(_ value: Double) -> String {
            let magnitude = abs(value)
            var mantissa = magnitude.significandBitPattern
            var exponent = Int(magnitude.exponentBitPattern)
            if exponent == 0 {
                exponent = -1074
            } else {
                mantissa |= 1 << 52
                exponent -= 1075
            }
            if value == 0 { exponent = -1074 }
            var out = value.sign == .minus ? "-" : ""
            out += String(mantissa) + "p"
            if exponent >= 0 { out += "+" }
            out += String(exponent)
            return out
        }

        /// %x: -0x1.yyyyp±dd (strconv's fmtX).
        private static func hexForm(_ value: Double, precision: Int, upper: Bool) -> String {
            let magnitude = abs(value)
            var mantissa = magnitude.significandBitPattern
            var exponent = Int(magnitude.exponentBitPattern)
            if exponent == 0 {
                exponent = -1022
            } else {
                mantissa |= 1 << 52
                exponent -= 1023
            }
            if mantissa == 0 { exponent = 0 }
            // Shift so the leading 1 (if any) is at bit 60.
            mantissa <<= 60 - 52
            while mantissa != 0 && mantissa & (1 << 60) == 0 {
                mantissa <<= 1
                exponent -= 1
            }
            if precision >= 0 && precision < 15 {
                let shift = UInt64(precision * 4)
                let extra = (mantissa << shift) & ((1 << 60) - 1)
                mantissa >>= 60 - shift
                if extra | (mantissa & 1) > 1 << 59 { mantissa += 1 }
                mantissa <<= 60 - shift
                if mantissa & (1 << 61) != 0 {
                    mantissa >>= 1
                    exponent += 1
                }
            }
            let table = upper ? GoText.upperHexDigits : GoText.lowerHexDigits
            var out: [UInt8] = []
            if value.sign == .minus { out.append(UInt8(ascii: "-")) }
            out.append(UInt8(ascii: "0"))
            out.append(upper ? UInt8(ascii: "X") : UInt8(ascii: "x"))
            out.append(UInt8(ascii: "0") + UInt8((mantissa >> 60) & 1))
            mantissa <<= 4
            if precision < 0 && mantissa != 0 {
                out.append(UInt8(ascii: "."))
                while mantissa != 0 {
                    out.append(table[Int((mantissa >> 60) & 15)])
                    mantissa <<= 4
                }
            } else if precision > 0 {
                out.append(UInt8(ascii: "."))
                for _ in 0..<precision {
                    out.append(table[Int((mantissa >> 60) & 15)])
                    mantissa <<= 4
                }
            }
            out.append(upper ? UInt8(ascii: "P") : UInt8(ascii: "p"))
            if exponent < 0 {
                out.append(UInt8(ascii: "-"))
                exponent = -exponent
            } else {
                out.append(UInt8(ascii: "+"))
            }
            if exponent < 10 { out.append(UInt8(ascii: "0")) }
            out.append(contentsOf: String(exponent).utf8)
            return String(decoding: out, as: UTF8.self)
        }

        /// Go's %v of a float64.
        static func formatShortest(_ value: Double) -> String {
            formatFloat(value, format: UInt8(ascii: "g"), precision: -1)
        }
    }
}
