// Text conventions of Go that Prometheus's messages and printed queries follow:
// strconv.Quote / QuoteRune, %#U, and float formatting ('f' shortest, %v, %f).

/// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
func goIsPrint(_ scalar: Unicode.Scalar) -> Bool {
    if scalar.value < 0x80 { return scalar.value >= 0x20 && scalar.value < 0x7F }
    switch scalar.properties.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
        .nonspacingMark, .spacingMark, .enclosingMark,
        .decimalNumber, .letterNumber, .otherNumber,
        .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
        .finalPunctuation, .otherPunctuation,
        .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
        return true
    default:
        return false
    }
}

private let lowerHex: [Character] = Array("0123456789abcdef")

private func hexDigits(_ value: UInt32, count: Int) -> String {
    var text = ""
    for shift in stride(from: (count - 1) * 4, through: 0, by: -4) {
        text.append(lowerHex[Int((value >> UInt32(shift)) & 0xF)])
    }
    return text
}

/// Appends `scalar` escaped as Go's strconv does inside a quoted literal.
private func appendEscaped(_ scalar: Unicode.Scalar, quote: Unicode.Scalar, to out: inout String) {
    if scalar == quote || scalar == "\\" {
        out.append("\\")
        out.unicodeScalars.append(scalar)
        return
    }
    if goIsPrint(scalar) {
        out.unicodeScalars.append(scalar)
        return
    }
    switch scalar {
    case "\u{07}": out += "\\a"
    case "\u{08}": out += "\\b"
    case "\u{0C}": out += "\\f"
    case "\n": out += "\\n"
    case "\r": out += "\\r"
    case "\t": out += "\\t"
    case "\u{0B}": out += "\\v"
    default:
        if scalar.value < 0x20 || scalar.value == 0x7F {
            out += "\\x" + hexDigits(scalar.value, count: 2)
        } else if scalar.value < 0x10000 {
            out += "\\u" + hexDigits(scalar.value, count: 4)
        } else {
            out += "\\U" + hexDigits(scalar.value, count: 8)
        }
    }
}

/// Decodes one UTF-8 sequence at `index`; invalid input yields (nil, 1) like Go's RuneError of width 1.
func goDecodeRune(_ bytes: [UInt8], at index: Int) -> (scalar: Unicode.Scalar?, width: Int) {
    let first = bytes[index]
    if first < 0x80 { return (Unicode.Scalar(first), 1) }
    let length: Int
    var value: UInt32
    switch first {
    case 0xC2...0xDF: length = 2; value = UInt32(first & 0x1F)
    case 0xE0...0xEF: length = 3; value = UInt32(first & 0x0F)
    case 0xF0...0xF4: length = 4; value = UInt32(first & 0x07)
    default: return (nil, 1)
    }
    guard index + length <= bytes.count else { return (nil, 1) }
    for offset in 1..<length {
        let byte = bytes[index + offset]
        guard byte & 0xC0 == 0x80 else { return (nil, 1) }
        value = value << 6 | UInt32(byte & 0x3F)
    }
    let minimum: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
    guard value >= minimum, let scalar = Unicode.Scalar(value) else { return (nil, 1) }
    return (scalar, length)
}

/// Go's strconv.Quote over raw bytes (invalid UTF-8 bytes become `\xNN`).
func goQuote(bytes: [UInt8]) -> String {
    var out = "\""
    var index = 0
    while index < bytes.count {
        let (scalar, width) = goDecodeRune(bytes, at: index)
        if let scalar {
            appendEscaped(scalar, quote: "\"", to: &out)
        } else {
            out += "\\x" + hexDigits(UInt32(bytes[index]), count: 2)
        }
        index += width
    }
    return out + "\""
}

/// Go's strconv.Quote / `%q` of a string.
func goQuote(_ text: String) -> String { goQuote(bytes: Array(text.utf8)) }

/// Go's `%.Nq`: the first `limit` runes, quoted.
func goQuote(_ text: String, limit: Int) -> String {
    goQuote(String(String.UnicodeScalarView(text.unicodeScalars.prefix(limit))))
}

/// Go's strconv.QuoteRune / `%q` of a rune; nil stands for an invalid rune (U+FFFD).
func goQuoteRune(_ scalar: Unicode.Scalar?) -> String {
    var out = "'"
    appendEscaped(scalar ?? "\u{FFFD}", quote: "'", to: &out)
    return out + "'"
}

/// Go's `%#U`: `U+0063 'c'`, without the character when it is not printable.
func goRuneDescription(_ scalar: Unicode.Scalar?) -> String {
    let value = (scalar ?? "\u{FFFD}").value
    var hex = String(value, radix: 16, uppercase: true)
    while hex.count < 4 { hex = "0" + hex }
    var text = "U+" + hex
    if let scalar, goIsPrint(scalar) { text += " '\(Character(scalar))'" }
    return text
}

// MARK: - Floats

/// The shortest decimal digits that round-trip, and the decimal point position:
/// value = 0.d1d2d3… × 10^point.
private func shortestDigits(_ value: Double) -> (digits: [UInt8], point: Int) {
    let text = abs(value).description  // shortest round-trip, e.g. "1.234e-05", "100.0", "5e-324"
    var mantissa = Substring(text)
    var exponent = 0
    if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        mantissa = text[..<e]
        exponent = Int(text[text.index(after: e)...]) ?? 0
    }
    var digits: [UInt8] = []
    var point = 0
    var seenPoint = false
    for character in mantissa {
        if character == "." {
            seenPoint = true
            continue
        }
        digits.append(character.asciiValue! - 48)
        if !seenPoint { point += 1 }
    }
    while let first = digits.first, first == 0, digits.count > 1 {
        digits.removeFirst()
        point -= 1
    }
    while let last = digits.last, last == 0, digits.count > 1 { digits.removeLast() }
    if digits == [0] { return ([0], 1) }
    return (digits, point + exponent)
}

/// Go's strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent.
func goFormatFloat(_ value: Double) -> String {
    if value.isNaN { return "NaN" }
    if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
    let sign = value.sign == .minus ? "-" : ""
    if value == 0 { return sign + "0" }
    let (digits, point) = shortestDigits(value)
    var text = ""
    if point <= 0 {
        text = "0." + String(repeating: "0", count: -point) + digits.map { String($0) }.joined()
    } else if point >= digits.count {
        text = digits.map { String($0) }.joined() + String(repeating: "0", count: point - digits.count)
    } else {
        text = digits[..<point].map { String($0) }.joined() + "." + digits[point...].map { String($0) }.joined()
    }
    return sign + text
}

/// Go's `%v` of a float64: shortest 'g', with an exponent when it is below -4 or at least 6.
func goFormatFloatV(_ value: Double) -> String {
    if value.isNaN { return "NaN" }
    if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
    let sign = value.sign == .minus ? "-" : ""
    if value == 0 { return sign + "0" }
    let (digits, point) = shortestDigits(value)
    let exponent = point - 1
    if exponent < -4 || exponent >= 6 {
        var text = String(digits[0])
        if digits.count > 1 { text += "." + digits[1...].map { String($0) }.joined() }
        let magnitude = abs(exponent)
        text += (exponent < 0 ? "e-" : "e+") + (magnitude < 10 ? "0" : "") + String(magnitude)
        return sign + text
    }
    return goFormatFloat(value)
}

/// Go's `%f` (six decimals) for the values Prometheus's messages show: infinities, NaN and large numbers.
func goFormatFloatFixed6(_ value: Double) -> String {
    if value.isNaN { return "NaN" }
    if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
    let sign = value.sign == .minus ? "-" : ""
    let magnitude = abs(value)
    if magnitude >= 9_007_199_254_740_992 {  // 2^53 and above: an exact integer
        return sign + exactIntegerDecimal(magnitude) + ".000000"
    }
    let scaled = (magnitude * 1_000_000).rounded()
    let whole = UInt64(scaled) / 1_000_000
    var fraction = String(UInt64(scaled) % 1_000_000)
    while fraction.count < 6 { fraction = "0" + fraction }
    return sign + String(whole) + "." + fraction
}

/// The exact decimal digits of an integral double.
private func exactIntegerDecimal(_ value: Double) -> String {
    // value = significand × 2^(exponent - 52) with a 53-bit integer significand.
    var limbs: [UInt32] = []  // little-endian base 2^32
    var significand = value.significandBitPattern | (1 << 52)
    var shift = Int(value.exponent) - 52
    if shift < 0 {
        significand >>= UInt64(-shift)
        shift = 0
    }
    limbs = [UInt32(truncatingIfNeeded: significand), UInt32(truncatingIfNeeded: significand >> 32)]
    for _ in 0..<shift {
        var carry: UInt32 = 0
        for index in limbs.indices {
            let doubled = UInt64(limbs[index]) << 1 | UInt64(carry)
            limbs[index] = UInt32(truncatingIfNeeded: doubled)
            carry = UInt32(doubled >> 32)
        }
        if carry != 0 { limbs.append(carry) }
    }
    var digits: [Character] = []
    while limbs.contains(where: { $0 != 0 }) {
        var remainder: UInt64 = 0
        for index in limbs.indices.reversed() {
            let current = remainder << 32 | UInt64(limbs[index])
            limbs[index] = UInt32(current / 10)
            remainder = current % 10
        }
        digits.append(Character(String(remainder)))
    }
    return digits.isEmpty ? "0" : String(digits.reversed())
}
