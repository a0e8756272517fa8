import LoupeModel

/// OTTL's comparison rules (pkg/ottl LANGUAGE.md): nil equals only nil; ints and doubles compare as
/// numbers; strings byte-wise; bools with false before true; bytes byte-wise; maps and lists only for
/// equality. Any other pairing is unequal, so only `!=` holds.
enum OTTLComparison {
    static func holds(_ lhs: AnyValue?, _ operation: OTTLComparisonOperator, _ rhs: AnyValue?) -> Bool {
        let left = lhs.flatMap(normalized)
        let right = rhs.flatMap(normalized)
        switch (left, right) {
        case (nil, nil):
            return operation == .equal || operation == .lessOrEqual || operation == .greaterOrEqual
        case (nil, _), (_, nil):
            return operation == .notEqual
        case (.int(let a)?, .int(let b)?):
            return ordered(a, b, operation)
        case (.int(let a)?, .double(let b)?):
            return ordered(Double(a), b, operation)
        case (.double(let a)?, .int(let b)?):
            return ordered(a, Double(b), operation)
        case (.double(let a)?, .double(let b)?):
            return ordered(a, b, operation)
        case (.string(let a)?, .string(let b)?):
            return ordered(bytewise(a, b), 0, operation)
        case (.bool(let a)?, .bool(let b)?):
            return ordered(a ? 1 : 0, b ? 1 : 0, operation)
        case (.bytes(let a)?, .bytes(let b)?):
            return ordered(bytewise(a, b), 0, operation)
        case (.keyValueList(let a)?, .keyValueList(let b)?):
            return equalityOnly(deepEqual(.keyValueList(a), .keyValueList(b)), operation)
        case (.array(let a)?, .array(let b)?):
            return equalityOnly(deepEqual(.array(a), .array(b)), operation)
        default:
            return operation == .notEqual
        }
    }

    private static func equalityOnly(_ equal: Bool, _ operation: OTTLComparisonOperator) -> Bool {
        switch operation {
        case .equal: equal
        case .notEqual: !equal
        default: false
        }
    }

    private static func normalized(_ value: AnyValue) -> AnyValue? {
        if case .empty = value { return nil }
        return value
    }

    private static func ordered<T: Comparable>(_ a: T, _ b: T, _ operation: OTTLComparisonOperator) -> Bool {
        switch operation {
        case .equal: a == b
        case .notEqual: a != b
        case .less: a < b
        case .lessOrEqual: a <= b
        case .greater: a > b
        case .greaterOrEqual: a >= b
        }
    }

    /// Go compares strings as bytes; Swift's `<` and `==` use canonical equivalence, which differ.
    static func bytewise(_ a: String, _ b: String) -> Int {
        bytewise(Array(a.utf8), Array(b.utf8))
    }

    static func bytewise(_ a: [UInt8], _ b: [UInt8]) -> Int {
        for (x, y) in zip(a, b) where x != y { return x < y ? -1 : 1 }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    /// pcommon's `Value.Equal`: same types all the way down (an int is not a double here), maps
    /// regardless of order.
    static func deepEqual(_ a: AnyValue, _ b: AnyValue) -> Bool {
        switch (a, b) {
        case (.empty, .empty): return true
        case (.string(let x), .string(let y)): return bytewise(x, y) == 0
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y
        case (.bytes(let x), .bytes(let y)): return x == y
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { deepEqual($0, $1) }
        case (.keyValueList(let x), .keyValueList(let y)):
            guard x.count == y.count else { return false }
            for entry in x {
                guard let other = y.first(where: { bytewise($0.key, entry.key) == 0 }), deepEqual(entry.value, other.value) else {
                    return false
                }
            }
            return true
        default:
            return false
        }
    }
}

/// Values as text, the way OTTL's string-like getters write them (`String`, `Concat`, `IsMatch`).
enum OTTLFormat {
    static func stringLike(_ value: AnyValue) -> String {
        switch value {
        case .empty: ""
        case .string(let text): text
        case .bool(let flag): flag ? "true" : "false"
        case .int(let number): String(number)
        case .double(let number): double(number)
        case .bytes(let bytes): HexCoding.encode(bytes)
        case .array, .keyValueList: json(value)
        }
    }

    /// The shortest digits that read back as the same double, laid out as Go's encoding/json does:
    /// plain decimals from 1e-6 up to 1e21, exponent form outside.
    static func double(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        if value == 0 { return value.sign == .minus ? "-0" : "0" }
        let (digits, point) = shortestDigits(value.magnitude)
        let sign = value < 0 ? "-" : ""
        if value.magnitude < 1e-6 || value.magnitude >= 1e21 {
            let exponent = point - 1
            var mantissa = String(digits.first!)
            if digits.count > 1 { mantissa += "." + digits.dropFirst() }
            return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + String(exponent.magnitude)
        }
        if point <= 0 { return sign + "0." + String(repeating: "0", count: -point) + digits }
        if point >= digits.count { return sign + digits + String(repeating: "0", count: point - digits.count) }
        return sign + digits.prefix(point) + "." + digits.dropFirst(point)
    }

    /// The significant digits of Swift's shortest round-trip form and where the decimal point goes:
    /// value = 0.DIGITS × 10^point.
    private static func shortestDigits(_ magnitude: Double) -> (digits: String, point: Int) {
        let text = "\(magnitude)"
        let parts = text.split(separator: "e", maxSplits: 1)
        let exponent = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        let mantissa = parts[0].split(separator: ".", maxSplits: 1)
        let integerPart = String(mantissa[0])
        let fraction = mantissa.count > 1 ? String(mantissa[1]) : ""
        var digits = Substring(integerPart + fraction)
        var point = integerPart.count + exponent
        while digits.first == "0" {
            digits = digits.dropFirst()
            point -= 1
        }
        while digits.last == "0" { digits = digits.dropLast() }
        return (String(digits), point)
    }

    /// JSON as Go's encoding/json writes `AsRaw()`: map keys sorted by byte, HTML characters escaped,
    /// bytes in base64, and the empty value as null.
    static func json(_ value: AnyValue) -> String {
        var output = ""
        appendJSON(value, to: &output)
        return output
    }

    private static func appendJSON(_ value: AnyValue, to output: inout String) {
        switch value {
        case .empty: output += "null"
        case .string(let text): appendJSONString(text, to: &output)
        case .bool(let flag): output += flag ? "true" : "false"
        case .int(let number): output += String(number)
        case .double(let number): output += number.isFinite ? double(number) : "null"
        case .bytes(let bytes): appendJSONString(base64(bytes), to: &output)
        case .array(let elements):
            output += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { output += "," }
                appendJSON(element, to: &output)
            }
            output += "]"
        case .keyValueList(let entries):
            // A Go map keeps the last of duplicate keys.
            var latest: [String: AnyValue] = [:]
            for entry in entries { latest[entry.key] = entry.value }
            let keys = latest.keys.sorted { OTTLComparison.bytewise($0, $1) < 0 }
            output += "{"
            for (index, key) in keys.enumerated() {
                if index > 0 { output += "," }
                appendJSONString(key, to: &output)
                output += ":"
                appendJSON(latest[key]!, to: &output)
            }
            output += "}"
        }
    }

    private static func appendJSONString(_ text: String, to output: inout String) {
        output += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                output += "\\u" + hex4(scalar.value)
            default:
                if scalar.value < 0x20 {
                    output += "\\u" + hex4(scalar.value)
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        output += "\""
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".unicodeScalars)
        var output = ""
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var bits: UInt32 = 0
            for byte in chunk { bits = bits << 8 | UInt32(byte) }
            bits <<= UInt32(8 * (3 - chunk.count))
            for position in 0..<4 {
                if position <= chunk.count {
                    output.unicodeScalars.append(alphabet[Int(bits >> UInt32(18 - 6 * position) & 0x3F)])
                } else {
                    output += "="
                }
            }
            index += 3
        }
        return output
    }

    /// "an int", "a string": how messages name a type.
    static func withArticle(_ typeName: String) -> String {
        if typeName == "bytes" { return typeName }
        return (typeName.first.map { "aeiou".contains($0) } ?? false ? "an " : "a ") + typeName
    }

    /// How messages name a value's type.
    static func typeName(_ value: AnyValue?) -> String {
        switch value {
        case nil, .empty?: "nil"
        case .string?: "string"
        case .bool?: "bool"
        case .int?: "int"
        case .double?: "double"
        case .bytes?: "bytes"
        case .array?: "list"
        case .keyValueList?: "map"
        }
    }
}

extension Array where Element == KeyValue {
    /// Sets the first entry with this key, or appends one: a pcommon map's `Put`.
    mutating func upsert(_ key: String, _ value: AnyValue) {
        if let index = firstIndex(where: { $0.key == key }) {
            self[index].value = value
        } else {
            append(KeyValue(key: key, value: value))
        }
    }
}
