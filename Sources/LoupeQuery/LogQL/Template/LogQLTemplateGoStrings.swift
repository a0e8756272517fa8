// Go's strings, encoding/base64, net/url and encoding/json as the template functions use them.
// Strings are handled as UTF-8 bytes where Go works on bytes (search, replace, prefixes) so that
// canonically equivalent but different strings stay different, as in Go.

extension LogQLTemplate {
    enum GoStrings {
        /// Outputs larger than this are refused rather than allocated (repeat, indent, alignLeft, ...).
        static let maximumOutputBytes = 16 << 20

        // MARK: Search

        static func index(of needle: [UInt8], in haystack: [UInt8], from start: Int = 0) -> Int? {
            if needle.isEmpty { return start <= haystack.count ? start : nil }
            guard haystack.count >= needle.count else { return nil }
            let first = needle[0]
            var index = start
            let last = haystack.count - needle.count
            while index <= last {
                if haystack[index] == first {
                    var matches = true
                    for offset in 1..<needle.count where haystack[index + offset] != needle[offset] {
                        matches = false
                        break
                    }
                    if matches { return index }
                }
                index += 1
            }
            return nil
        }

        static func contains(_ text: String, _ part: String) -> Bool {
            index(of: Array(part.utf8), in: Array(text.utf8)) != nil
        }

        static func hasPrefix(_ text: String, _ prefix: String) -> Bool {
            text.utf8.starts(with: prefix.utf8)
        }

        static func hasSuffix(_ text: String, _ suffix: String) -> Bool {
            text.utf8.count >= suffix.utf8.count && text.utf8.reversed().starts(with: suffix.utf8.reversed())
        }

        static func trimPrefix(_ text: String, _ prefix: String) -> String {
            guard !prefix.isEmpty, hasPrefix(text, prefix) else { return text }
            return String(decoding: Array(text.utf8).dropFirst(prefix.utf8.count), as: UTF8.self)
        }

        static func trimSuffix(_ text: String, _ suffix: String) -> String {
            guard !suffix.isEmpty, hasSuffix(text, suffix) else { return text }
            return String(decoding: Array(text.utf8).dropLast(suffix.utf8.count), as: UTF8.self)
        }

        /// strings.Replace: the first `limit` non-overlapping instances (all when limit < 0).
        static func replace(_ text: String, _ old: String, _ new: String, limit: Int) -> String {
            if limit == 0 || GoText.bytesEqual(old, new) { return text }
            let source = Array(text.utf8)
            let pattern = Array(old.utf8)
            let replacement = Array(new.utf8)
            var output: [UInt8] = []
            var start = 0
            var replaced = 0
            if pattern.isEmpty {
                // An empty pattern matches before every rune and at the end.
                while limit < 0 || replaced < limit {
                    if replaced > 0 {
                        guard start < source.count else { break }
                        let (_, width) = GoText.decodeScalar(source, at: start)
                        output.append(contentsOf: source[start..<(start + width)])
                        start += width
                    }
                    output.append(contentsOf: replacement)
                    replaced += 1
                    if start >= source.count { break }
                }
            } else {
                while limit < 0 || replaced < limit {
                    guard let found = index(of: pattern, in: source, from: start) else { break }
                    output.append(contentsOf: source[start..<found])
                    output.append(contentsOf: replacement)
                    start = found + pattern.count
                    replaced += 1
                }
                if replaced == 0 { return text }
            }
            output.append(contentsOf: source[start...])
            return String(decoding: output, as: UTF8.self)
        }

        // MARK: Trimming

        /// unicode.IsSpace.
        static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar.value {
            case 0x09...0x0D, 0x20, 0x85, 0xA0: return true
            case 0..<0x80: return false
            default: return scalar.properties.isWhitespace
            }
        }

        static func trimSpace(_ text: String) -> String {
            trim(text, left: true, right: true) { isSpace($0) }
        }

        static func trim(_ text: String, cutset: String, left: Bool, right: Bool) -> String {
            if text.isEmpty || cutset.isEmpty { return text }
            let set = Set(cutset.unicodeScalars.map(\.value))
            return trim(text, left: left, right: right) { set.contains($0.value) }
        }

        private static func trim(_ text: String, left: Bool, right: Bool, _ drop: (Unicode.Scalar) -> Bool) -> String {
            let scalars = text.unicodeScalars
            var lower = scalars.startIndex
            var upper = scalars.endIndex
            if left {
                while lower < upper && drop(scalars[lower]) { lower = scalars.index(after: lower) }
            }
            if right {
                while upper > lower {
                    let before = scalars.index(before: upper)
                    if !drop(scalars[before]) { break }
                    upper = before
                }
            }
            if lower == scalars.startIndex && upper == scalars.endIndex { return text }
            return String(scalars[lower..<upper])
        }

        // MARK: Case

        /// Go's per-rune case mapping: a mapping to several scalars (German ß to "SS") is not a simple mapping, so the rune stays.
        static func mapCase(_ text: String, _ mapping: (Unicode.Scalar.Properties) -> String) -> String {
            var output = ""
            output.unicodeScalars.reserveCapacity(text.utf8.count)
            for scalar in text.unicodeScalars {
                output.unicodeScalars.append(simpleMapping(scalar, mapping))
            }
            return output
        }

        private static func simpleMapping(_ scalar: Unicode.Scalar, _ mapping: (Unicode.Scalar.Properties) -> String) -> Unicode.Scalar {
            let mapped = mapping(scalar.properties).unicodeScalars
            if mapped.count == 1, let only = mapped.first { return only }
            return scalar
        }

        static func lower(_ text: String) -> String {
            if text.utf8.allSatisfy({ $0 < 0x80 }) {
                return String(decoding: text.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
            }
            return mapCase(text) { $0.lowercaseMapping }
        }

        static func upper(_ text: String) -> String {
            if text.utf8.allSatisfy({ $0 < 0x80 }) {
                return String(decoding: text.utf8.map { $0 >= 0x61 && $0 <= 0x7A ? $0 & ~0x20 : $0 }, as: UTF8.self)
            }
            return mapCase(text) { $0.uppercaseMapping }
        }

        /// strings.Title: the first letter of each word in title case.
        static func title(_ text: String) -> String {
            var previous: Unicode.Scalar = " "
            var output = ""
            for scalar in text.unicodeScalars {
                if isWordSeparator(previous) {
                    output.unicodeScalars.append(simpleMapping(scalar) { $0.titlecaseMapping })
                } else {
                    output.unicodeScalars.append(scalar)
                }
                previous = scalar
            }
            return output
        }

        private static func isWordSeparator(_ scalar: Unicode.Scalar) -> Bool {
            if scalar.value <= 0x7F {
                switch scalar {
                case "0"..."9", "a"..."z", "A"..."Z", "_": return false
                default: return true
                }
            }
            if GoText.isLetter(scalar) || GoText.isDigit(scalar) { return false }
            return isSpace(scalar)
        }

        // MARK: Slicing (Go byte semantics)

        /// s[lower:upper] on bytes; a cut inside a UTF-8 sequence decodes to U+FFFD as Swift strings must be valid.
        static func slice(_ text: String, _ lower: Int, _ upper: Int) -> String {
            String(decoding: Array(text.utf8)[lower..<upper], as: UTF8.self)
        }

        // MARK: base64

        private static let base64Alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

        private static let base64Decoding: [Int8] = {
            var table = [Int8](repeating: -1, count: 256)
            for (index, byte) in base64Alphabet.enumerated() { table[Int(byte)] = Int8(index) }
            return table
        }()

        static func base64Encode(_ text: String) -> String {
            let bytes = Array(text.utf8)
            var output: [UInt8] = []
            output.reserveCapacity((bytes.count + 2) / 3 * 4)
            var index = 0
            while index + 3 <= bytes.count {
                let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
                for shift in [18, 12, 6, 0] { output.append(base64Alphabet[Int((value >> UInt32(shift)) & 0x3F)]) }
                index += 3
            }
            let remaining = bytes.count - index
            if remaining > 0 {
                var value = UInt32(bytes[index]) << 16
                if remaining == 2 { value |= UInt32(bytes[index + 1]) << 8 }
                output.append(base64Alphabet[Int((value >> 18) & 0x3F)])
                output.append(base64Alphabet[Int((value >> 12) & 0x3F)])
                output.append(remaining == 2 ? base64Alphabet[Int((value >> 6) & 0x3F)] : UInt8(ascii: "="))
                output.append(UInt8(ascii: "="))
            }
            return String(decoding: output, as: UTF8.self)
        }

        /// base64.StdEncoding.DecodeString: padding required, CR and LF ignored; errors as Go's CorruptInputError.
        static func base64Decode(_ text: String) -> Result<[UInt8], LogQLTemplateError> {
            let source = Array(text.utf8)
            func corrupt(_ offset: Int) -> Result<[UInt8], LogQLTemplateError> {
                .failure(LogQLTemplateError("illegal base64 data at input byte \(offset)"))
            }
            func isNewline(_ byte: UInt8) -> Bool { byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") }
            var output: [UInt8] = []
            var index = 0
            while true {
                var quantum = [UInt32](repeating: 0, count: 4)
                var length = 4
                var trailingError: Int?
                var position = 0
                quantumLoop: while position < 4 {
                    if index == source.count {
                        if position == 0 { return .success(output) }
                        return corrupt(index - position)
                    }
                    let byte = source[index]
                    index += 1
                    let decoded = base64Decoding[Int(byte)]
                    if decoded >= 0 {
                        quantum[position] = UInt32(decoded)
                        position += 1
                        continue
                    }
                    if isNewline(byte) { continue }
                    if byte != UInt8(ascii: "=") { return corrupt(index - 1) }
                    // Padding: the quantum ends here.
                    switch position {
                    case 0, 1:
                        return corrupt(index - 1)
                    case 2:
                        while index < source.count && isNewline(source[index]) { index += 1 }
                        if index == source.count { return corrupt(source.count) }
                        if source[index] != UInt8(ascii: "=") { return corrupt(index - 1) }
                        index += 1
                    default:
                        break
                    }
                    while index < source.count && isNewline(source[index]) { index += 1 }
                    if index < source.count { trailingError = index }
                    length = position
                    break quantumLoop
                }
                let value = quantum[0] << 18 | quantum[1] << 12 | quantum[2] << 6 | quantum[3]
                switch length {
                case 4:
                    output.append(UInt8((value >> 16) & 0xFF))
                    output.append(UInt8((value >> 8) & 0xFF))
                    output.append(UInt8(value & 0xFF))
                case 3:
                    output.append(UInt8((value >> 16) & 0xFF))
                    output.append(UInt8((value >> 8) & 0xFF))
                case 2:
                    output.append(UInt8((value >> 16) & 0xFF))
                default:
                    break
                }
                if let trailingError { return corrupt(trailingError) }
                if length < 4 { return .success(output) }
            }
        }

        // MARK: URLs

        /// url.QueryEscape.
        static func queryEscape(_ text: String) -> String {
            var output = ""
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                    output.unicodeScalars.append(Unicode.Scalar(byte))
                case UInt8(ascii: " "):
                    output += "+"
                default:
                    output += "%"
                    GoText.appendHex(UInt32(byte), digits: 2, upper: true, to: &output)
                }
            }
            return output
        }

        /// url.QueryUnescape: "+" is a space; a bad escape is Go's EscapeError.
        static func queryUnescape(_ text: String) -> Result<String, LogQLTemplateError> {
            let source = Array(text.utf8)
            var output: [UInt8] = []
            output.reserveCapacity(source.count)
            var index = 0
            while index < source.count {
                let byte = source[index]
                if byte == UInt8(ascii: "%") {
                    guard index + 2 < source.count, let high = GoText.hexValue(source[index + 1]),
                          let low = GoText.hexValue(source[index + 2]) else {
                        let bad = String(decoding: source[index..<min(source.count, index + 3)], as: UTF8.self)
                        return .failure(LogQLTemplateError("invalid URL escape \(GoText.quote(bad))"))
                    }
                    output.append(UInt8(high << 4 | low))
                    index += 3
                } else {
                    output.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                    index += 1
                }
            }
            return .success(String(decoding: output, as: UTF8.self))
        }

        // MARK: html and js escapers (text/template builtins)

        static func htmlEscape(_ text: String) -> String {
            var output = ""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\0": output += "\u{FFFD}"
                case "\"": output += "&#34;"
                case "'": output += "&#39;"
                case "&": output += "&amp;"
                case "<": output += "&lt;"
                case ">": output += "&gt;"
                default: output.unicodeScalars.append(scalar)
                }
            }
            return output
        }

        static func jsEscape(_ text: String) -> String {
            var output = ""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\\": output += "\\\\"
                case "'": output += "\\'"
                case "\"": output += "\\\""
                case "<": output += "\\u003C"
                case ">": output += "\\u003E"
                case "&": output += "\\u0026"
                case "=": output += "\\u003D"
                default:
                    if scalar.value < 0x20 {
                        output += "\\u00"
                        GoText.appendHex(scalar.value, digits: 2, upper: true, to: &output)
                    } else if scalar.value >= 0x80 && !GoText.isPrint(scalar) {
                        output += "\\u"
                        GoText.appendHex(scalar.value, digits: 4, upper: true, to: &output)
                    } else {
                        output.unicodeScalars.append(scalar)
                    }
                }
            }
            return output
        }
    }

    // MARK: - JSON (fromJson)

    /// encoding/json into interface{}: objects, arrays, float64 numbers, strings, booleans and null.
    /// Nesting deeper than `maximumDepth` (64) is treated as invalid (Go allows 10,000).
    struct JSONDecoder {
        static let maximumDepth = 64

        private let bytes: [UInt8]
        private var index = 0

        private init(_ text: String) { bytes = Array(text.utf8) }

        /// The decoded value, or nil when the text is not one valid JSON value.
        static func decode(_ text: String) -> Value? {
            var decoder = JSONDecoder(text)
            decoder.skipSpace()
            guard let value = decoder.value(depth: 0) else { return nil }
            decoder.skipSpace()
            return decoder.index == decoder.bytes.count ? value : nil
        }

        private mutating func skipSpace() {
            while index < bytes.count,
                  bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D { index += 1 }
        }

        private mutating func literal(_ word: String) -> Bool {
            let expected = Array(word.utf8)
            guard index + expected.count <= bytes.count, Array(bytes[index..<(index + expected.count)]) == expected else { return false }
            index += expected.count
            return true
        }

        private mutating func value(depth: Int) -> Value? {
            guard index < bytes.count, depth <= JSONDecoder.maximumDepth else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var entries: [String: Value] = [:]
                skipSpace()
                if index < bytes.count && bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .map(entries)
                }
                while true {
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), let key = string() else { return nil }
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
                    index += 1
                    skipSpace()
                    guard let element = value(depth: depth + 1) else { return nil }
                    entries[key] = element
                    skipSpace()
                    guard index < bytes.count else { return nil }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    if bytes[index] == UInt8(ascii: "}") {
                        index += 1
                        return .map(entries)
                    }
                    return nil
                }
            case UInt8(ascii: "["):
                index += 1
                var items: [Value] = []
                skipSpace()
                if index < bytes.count && bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .list(items)
                }
                while true {
                    skipSpace()
                    guard let element = value(depth: depth + 1) else { return nil }
                    items.append(element)
                    skipSpace()
                    guard index < bytes.count else { return nil }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    if bytes[index] == UInt8(ascii: "]") {
                        index += 1
                        return .list(items)
                    }
                    return nil
                }
            case UInt8(ascii: "\""):
                return string().map { .string($0) }
            case UInt8(ascii: "t"):
                return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"):
                return literal("false") ? .bool(false) : nil
            case UInt8(ascii: "n"):
                return literal("null") ? .missing : nil
            default:
                return number()
            }
        }

        private mutating func number() -> Value? {
            let start = index
            func digits() -> Int {
                let begin = index
                while index < bytes.count && bytes[index] >= 0x30 && bytes[index] <= 0x39 { index += 1 }
                return index - begin
            }
            if index < bytes.count && bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else if digits() == 0 {
                return nil
            }
            if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
                index += 1
                if digits() == 0 { return nil }
            }
            if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
                index += 1
                if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) { index += 1 }
                if digits() == 0 { return nil }
            }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            // A number out of float64's range leaves that element nil, as Go's decoder does.
            guard let number = Double(text), number.isFinite else { return .missing }
            return .float(number)
        }

        private mutating func hex4() -> UInt32? {
            guard index + 4 <= bytes.count else { return nil }
            var value: UInt32 = 0
            for offset in 0..<4 {
                guard let digit = GoText.hexValue(bytes[index + offset]) else { return nil }
                value = value << 4 | digit
            }
            index += 4
            return value
        }

        private mutating func string() -> String? {
            index += 1
            var output: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    return String(decoding: output, as: UTF8.self)
                }
                if byte < 0x20 { return nil }
                if byte != UInt8(ascii: "\\") {
                    output.append(byte)
                    index += 1
                    continue
                }
                index += 1
                guard index < bytes.count else { return nil }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(escape)
                case UInt8(ascii: "b"): output.append(0x08)
                case UInt8(ascii: "f"): output.append(0x0C)
                case UInt8(ascii: "n"): output.append(0x0A)
                case UInt8(ascii: "r"): output.append(0x0D)
                case UInt8(ascii: "t"): output.append(0x09)
                case UInt8(ascii: "u"):
                    guard var code = hex4() else { return nil }
                    if code >= 0xD800 && code < 0xDC00 {
                        // A surrogate pair, or U+FFFD for a lone half.
                        let save = index
                        if index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                            index += 2
                            if let low = hex4(), low >= 0xDC00 && low < 0xE000 {
                                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                index = save
                                code = 0xFFFD
                            }
                        } else {
                            code = 0xFFFD
                        }
                    } else if code >= 0xDC00 && code < 0xE000 {
                        code = 0xFFFD
                    }
                    let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                    output.append(contentsOf: String(Character(scalar)).utf8)
                default:
                    return nil
                }
            }
            return nil
        }
    }
}
