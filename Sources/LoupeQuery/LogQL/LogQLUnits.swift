/// The number formats LogQL reads, in queries and in label values: floats as Go's
/// `strconv.ParseFloat` reads them, Go durations (`time.ParseDuration`) and sizes
/// (go-humanize's `ParseBytes`). Errors carry Go's wording, which Loki puts in `__error_details__`.
public enum LogQLUnits {
    public struct ConversionError: Error, Equatable {
        public var message: String
    }

    /// `strconv.ParseFloat(text, 64)`: decimal and hex-float forms, `Inf`/`NaN` spelled out,
    /// underscores not allowed. Go's error: `strconv.ParseFloat: parsing "x": invalid syntax`.
    static func parseFloat(_ text: String) throws(ConversionError) -> Double {
        if let value = goFloat(text) { return value }
        throw ConversionError(message: "strconv.ParseFloat: parsing \(goQuote(text)): invalid syntax")
    }

    static func goFloat(_ text: String) -> Double? {
        var body = Substring(text)
        var negative = false
        if body.first == "+" || body.first == "-" {
            negative = body.first == "-"
            body = body.dropFirst()
        }
        guard let first = body.first else { return nil }
        let lower = body.lowercased()
        if lower == "inf" || lower == "infinity" { return negative ? -.infinity : .infinity }
        if lower == "nan" { return .nan }
        if lower.hasPrefix("0x") {
            // Go accepts hex only as a float with a binary exponent (`0x1.8p3`); `0x1A` is not a float.
            guard lower.contains("p") else { return nil }
            guard let value = hexFloat(lower.dropFirst(2)) else { return nil }
            return negative ? -value : value
        }
        guard first.isASCII, first.isNumber || first == "." else { return nil }
        for character in body where !(character.isASCII && (character.isNumber || character == "." || character == "e" || character == "E" || character == "+" || character == "-")) {
            return nil
        }
        guard let value = Double(body) else { return nil }
        return negative ? -value : value
    }

    private static func hexFloat(_ text: Substring) -> Double? {
        guard let p = text.firstIndex(of: "p") else { return nil }
        let mantissa = text[..<p]
        guard let exponent = Int(text[text.index(after: p)...]), !mantissa.isEmpty else { return nil }
        var value = 0.0
        var fractionScale: Double? = nil
        var digits = 0
        for character in mantissa {
            if character == "." {
                guard fractionScale == nil else { return nil }
                fractionScale = 1
                continue
            }
            guard let digit = character.hexDigitValue else { return nil }
            digits += 1
            if var scale = fractionScale {
                scale /= 16
                value += Double(digit) * scale
                fractionScale = scale
            } else {
                value = value * 16 + Double(digit)
            }
        }
        guard digits > 0 else { return nil }
        return value * pow2(exponent)
    }

    private static func pow2(_ exponent: Int) -> Double {
        if exponent > 2000 { return .infinity }
        if exponent < -2000 { return 0 }
        var result = 1.0
        let base = exponent < 0 ? 0.5 : 2.0
        for _ in 0..<abs(exponent) { result *= base }
        return result
    }

    /// Go's `time.ParseDuration`, in seconds; with `extendedUnits` also Prometheus's `d`, `w`, `y`
    /// (range and offset durations).
    public static func parseDuration(_ text: String, extendedUnits: Bool = false) throws(ConversionError) -> Double {
        let quoted = goQuote(text)
        var bytes = Substring(text)
        var negative = false
        if bytes.first == "+" || bytes.first == "-" {
            negative = bytes.first == "-"
            bytes = bytes.dropFirst()
        }
        if bytes == "0" { return 0 }
        guard !bytes.isEmpty else { throw ConversionError(message: "time: invalid duration \(quoted)") }
        var total = 0.0
        var rest = bytes
        while !rest.isEmpty {
            // The number.
            let numberEnd = rest.firstIndex { !($0.isASCII && ($0.isNumber || $0 == ".")) } ?? rest.endIndex
            let number = rest[..<numberEnd]
            guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1, let value = Double(number) ?? (number.hasSuffix(".") ? Double(number.dropLast()) : nil)
            else {
                throw ConversionError(message: "time: invalid duration \(quoted)")
            }
            rest = rest[numberEnd...]
            // The unit.
            let unitEnd = rest.firstIndex { $0.isASCII && ($0.isNumber || $0 == ".") } ?? rest.endIndex
            let unit = rest[..<unitEnd]
            if unit.isEmpty { throw ConversionError(message: "time: missing unit in duration \(quoted)") }
            let scale: Double
            switch unit {
            case "ns": scale = 1e-9
            case "us", "µs", "μs": scale = 1e-6
            case "ms": scale = 1e-3
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            case "d" where extendedUnits: scale = 86400
            case "w" where extendedUnits: scale = 7 * 86400
            case "y" where extendedUnits: scale = 365 * 86400
            default: throw ConversionError(message: "time: unknown unit \(goQuote(String(unit))) in duration \(quoted)")
            }
            total += value * scale
            rest = rest[unitEnd...]
        }
        return negative ? -total : total
    }

    /// go-humanize's `ParseBytes`: a number, optional spaces, an optional unit (SI `kB`/`MB`/...,
    /// IEC `KiB`/`MiB`/..., bare `K`/`M`/... as SI), case-insensitive.
    static func parseBytes(_ text: String) throws(ConversionError) -> Double {
        let characters = Array(text)
        var index = 0
        while index < characters.count, characters[index].isASCII, characters[index].isNumber || characters[index] == "." || characters[index] == "," {
            index += 1
        }
        let numberText = String(characters[0..<index]).replacingAll(",", with: "")
        guard let number = Double(numberText) else {
            throw ConversionError(message: "strconv.ParseFloat: parsing \(goQuote(numberText)): invalid syntax")
        }
        while index < characters.count, characters[index] == " " { index += 1 }
        let unit = String(characters[index...]).lowercased()
        let multiplier: Double
        switch unit {
        case "", "b": multiplier = 1
        case "k", "kb": multiplier = 1e3
        case "ki", "kib": multiplier = 1024
        case "m", "mb": multiplier = 1e6
        case "mi", "mib": multiplier = 1024 * 1024
        case "g", "gb": multiplier = 1e9
        case "gi", "gib": multiplier = 1024 * 1024 * 1024
        case "t", "tb": multiplier = 1e12
        case "ti", "tib": multiplier = 1024 * 1024 * 1024 * 1024
        case "p", "pb": multiplier = 1e15
        case "pi", "pib": multiplier = 1024 * 1024 * 1024 * 1024 * 1024
        case "e", "eb": multiplier = 1e18
        case "ei", "eib": multiplier = 1024 * 1024 * 1024 * 1024 * 1024 * 1024
        default: throw ConversionError(message: "unhandled size name: \(unit)")
        }
        return number * multiplier
    }

    /// Whether a numeric word is a size literal (`20KB`, `1.5KiB`, `20B`) rather than a duration.
    static func isBytesLiteral(_ text: String) -> Bool {
        guard let unitStart = text.firstIndex(where: { !($0.isASCII && ($0.isNumber || $0 == ".")) }) else { return false }
        let unit = text[unitStart...]
        // Case matters: `1mb` is not a size (Loki's lexer reads it as the duration 1m and a stray b).
        return ["B", "kB", "KB", "KiB", "MB", "MiB", "GB", "GiB", "TB", "TiB", "PB", "PiB", "EB", "EiB"].contains(String(unit))
    }

    /// Go's `%q` of a string (strconv.Quote).
    static func goQuote(_ text: String) -> String { LoupeQuery.goQuote(text) }
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for character in self {
            if character == target { out += replacement } else { out.append(character) }
        }
        return out
    }
}
