// Go's text conventions that templates observe: unicode classes (IsLetter, IsDigit, IsPrint), strconv's
// quoting (Quote, QuoteRune, %#U) and unquoting of the template's string and character literals.
// Go strings are bytes; ours are valid UTF-8 Swift strings, so bytes a literal escapes into invalid
// UTF-8 ("\xff") decode to U+FFFD.

extension LogQLTemplate {
    enum GoText {
        /// unicode.IsLetter: categories Lu, Ll, Lt, Lm, Lo.
        static func isLetter(_ scalar: Unicode.Scalar) -> Bool {
            if scalar.value < 0x80 {
                let byte = UInt8(scalar.value) | 0x20
                return byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")
            }
            switch scalar.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
            default: return false
            }
        }

        /// unicode.IsDigit: category Nd.
        static func isDigit(_ scalar: Unicode.Scalar) -> Bool {
            if scalar.value < 0x80 { return scalar.value >= 0x30 && scalar.value <= 0x39 }
            return scalar.properties.generalCategory == .decimalNumber
        }

        /// unicode.IsPrint (and strconv.IsPrint): letters, marks, numbers, punctuation, symbols and ASCII space.
        static func isPrint(_ scalar: Unicode.Scalar) -> Bool {
            if scalar.value < 0x80 { return scalar.value >= 0x20 && scalar.value < 0x7F }
            switch scalar.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
                .nonspacingMark, .spacingMark, .enclosingMark,
                .decimalNumber, .letterNumber, .otherNumber,
                .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                .initialPunctuation, .finalPunctuation, .otherPunctuation,
                .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
                return true
            default:
                return false
            }
        }

        static let lowerHexDigits: [UInt8] = Array("0123456789abcdef".utf8)
        static let upperHexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

        static func appendHex(_ value: UInt32, digits: Int, upper: Bool = false, to out: inout String) {
            let table = upper ? upperHexDigits : lowerHexDigits
            var shift = (digits - 1) * 4
            while shift >= 0 {
                out.unicodeScalars.append(Unicode.Scalar(table[Int((value >> UInt32(shift)) & 0xF)]))
                shift -= 4
            }
        }

        /// strconv's appendEscapedRune.
        static func appendEscaped(_ scalar: Unicode.Scalar, quote: Unicode.Scalar, asciiOnly: Bool, to out: inout String) {
            if scalar == quote || scalar == "\\" {
                out.unicodeScalars.append("\\")
                out.unicodeScalars.append(scalar)
                return
            }
            if asciiOnly {
                if scalar.value < 0x80 && isPrint(scalar) {
                    out.unicodeScalars.append(scalar)
                    return
                }
            } else if isPrint(scalar) {
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
                    out += "\\x"
                    appendHex(scalar.value, digits: 2, to: &out)
                } else if scalar.value < 0x10000 {
                    out += "\\u"
                    appendHex(scalar.value, digits: 4, to: &out)
                } else {
                    out += "\\U"
                    appendHex(scalar.value, digits: 8, to: &out)
                }
            }
        }

        /// strconv.Quote (or QuoteToASCII).
        static func quote(_ text: String, asciiOnly: Bool = false) -> String {
            var out = "\""
            out.reserveCapacity(text.utf8.count + 2)
            for scalar in text.unicodeScalars {
                appendEscaped(scalar, quote: "\"", asciiOnly: asciiOnly, to: &out)
            }
            out += "\""
            return out
        }

        /// strconv.QuoteRune (or QuoteRuneToASCII); invalid runes print as U+FFFD.
        static func quoteRune(_ value: UInt64, asciiOnly: Bool = false) -> String {
            let scalar = value <= 0x10FFFF ? Unicode.Scalar(UInt32(value)) ?? "\u{FFFD}" : "\u{FFFD}"
            var out = "'"
            appendEscaped(scalar, quote: "'", asciiOnly: asciiOnly, to: &out)
            out += "'"
            return out
        }

        /// strconv.CanBackquote: no control characters but tab, no backquote, no U+FEFF.
        static func canBackquote(_ text: String) -> Bool {
            for scalar in text.unicodeScalars {
                if scalar == "`" || scalar == "\u{FEFF}" { return false }
                if scalar.value < 0x20 && scalar != "\t" { return false }
                if scalar.value == 0x7F { return false }
            }
            return true
        }

        /// Go's %#U: "U+0041 'A'" (the quoted character only when printable).
        static func unicodeNotation(_ scalar: Unicode.Scalar) -> String {
            var out = "U+"
            appendHex(scalar.value, digits: max(4, hexDigitCount(scalar.value)), upper: true, to: &out)
            if isPrint(scalar) {
                out += " '"
                out.unicodeScalars.append(scalar)
                out += "'"
            }
            return out
        }

        static func hexDigitCount(_ value: UInt32) -> Int {
            var count = 1
            var rest = value >> 4
            while rest != 0 { count += 1; rest >>= 4 }
            return count
        }

        /// The value of a hexadecimal digit byte, or nil.
        static func hexValue(_ byte: UInt8) -> UInt32? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
        }

        /// One unquoted character of strconv.UnquoteChar: either a rune or a raw byte (\x, octal).
        enum UnquotedCharacter {
            case scalar(Unicode.Scalar)
            case byte(UInt8)
        }

        /// strconv.UnquoteChar over UTF-8 bytes starting at `index`; nil on Go's ErrSyntax.
        static func unquoteCharacter(_ bytes: [UInt8], at index: Int, end: Int, quote: UInt8) -> (UnquotedCharacter, next: Int)? {
            guard index < end else { return nil }
            let first = bytes[index]
            if first == quote && (quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"")) { return nil }
            if first >= 0x80 {
                let (scalar, width) = decodeScalar(bytes, at: index, end: end)
                return (.scalar(scalar), index + width)
            }
            if first != UInt8(ascii: "\\") { return (.scalar(Unicode.Scalar(first)), index + 1) }
            guard index + 1 < end else { return nil }
            let escape = bytes[index + 1]
            var cursor = index + 2
            switch escape {
            case UInt8(ascii: "a"): return (.scalar("\u{07}"), cursor)
            case UInt8(ascii: "b"): return (.scalar("\u{08}"), cursor)
            case UInt8(ascii: "f"): return (.scalar("\u{0C}"), cursor)
            case UInt8(ascii: "n"): return (.scalar("\n"), cursor)
            case UInt8(ascii: "r"): return (.scalar("\r"), cursor)
            case UInt8(ascii: "t"): return (.scalar("\t"), cursor)
            case UInt8(ascii: "v"): return (.scalar("\u{0B}"), cursor)
            case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
                let count = escape == UInt8(ascii: "x") ? 2 : escape == UInt8(ascii: "u") ? 4 : 8
                guard cursor + count <= end else { return nil }
                var value: UInt32 = 0
                for offset in 0..<count {
                    guard let digit = hexValue(bytes[cursor + offset]) else { return nil }
                    value = value << 4 | digit
                }
                cursor += count
                if escape == UInt8(ascii: "x") { return (.byte(UInt8(value)), cursor) }
                guard let scalar = Unicode.Scalar(value) else { return nil }
                return (.scalar(scalar), cursor)
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                guard index + 4 <= end else { return nil }
                var value: UInt32 = 0
                for offset in 1...3 {
                    let digit = bytes[index + offset]
                    guard digit >= UInt8(ascii: "0") && digit <= UInt8(ascii: "7") else { return nil }
                    value = value << 3 | UInt32(digit - UInt8(ascii: "0"))
                }
                guard value <= 255 else { return nil }
                return (.byte(UInt8(value)), index + 4)
            case UInt8(ascii: "\\"): return (.scalar("\\"), cursor)
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                guard escape == quote else { return nil }
                return (.scalar(Unicode.Scalar(escape)), cursor)
            default:
                return nil
            }
        }

        /// strconv.Unquote for the template's "..." and `...` literals (the lexer guarantees the delimiters).
        static func unquote(_ literal: String) -> String? {
            let bytes = Array(literal.utf8)
            guard bytes.count >= 2, let first = bytes.first, first == bytes.last else { return nil }
            if first == UInt8(ascii: "`") {
                // Carriage returns inside raw strings are discarded, as in Go.
                let inner = bytes[1..<(bytes.count - 1)].filter { $0 != UInt8(ascii: "\r") }
                if inner.contains(UInt8(ascii: "`")) { return nil }
                return String(decoding: inner, as: UTF8.self)
            }
            guard first == UInt8(ascii: "\"") else { return nil }
            let end = bytes.count - 1
            if !bytes[1..<end].contains(UInt8(ascii: "\\")) {
                if bytes[1..<end].contains(UInt8(ascii: "\n")) || bytes[1..<end].contains(UInt8(ascii: "\"")) { return nil }
                return String(decoding: bytes[1..<end], as: UTF8.self)
            }
            var output: [UInt8] = []
            output.reserveCapacity(end)
            var index = 1
            while index < end {
                if bytes[index] == UInt8(ascii: "\n") { return nil }
                guard let (character, next) = unquoteCharacter(bytes, at: index, end: end, quote: UInt8(ascii: "\"")) else {
                    return nil
                }
                switch character {
                case .byte(let byte): output.append(byte)
                case .scalar(let scalar): output.append(contentsOf: String(Character(scalar)).utf8)
                }
                index = next
            }
            return String(decoding: output, as: UTF8.self)
        }

        /// Decodes one scalar; invalid UTF-8 yields U+FFFD of width 1, like Go's DecodeRune.
        static func decodeScalar(_ bytes: [UInt8], at index: Int, end: Int? = nil) -> (Unicode.Scalar, Int) {
            let end = end ?? bytes.count
            let first = bytes[index]
            if first < 0x80 { return (Unicode.Scalar(first), 1) }
            let length: Int
            var value: UInt32
            switch first {
            case 0xC2...0xDF: length = 2; value = UInt32(first & 0x1F)
            case 0xE0...0xEF: length = 3; value = UInt32(first & 0x0F)
            case 0xF0...0xF4: length = 4; value = UInt32(first & 0x07)
            default: return ("\u{FFFD}", 1)
            }
            guard index + length <= end else { return ("\u{FFFD}", 1) }
            for offset in 1..<length {
                let byte = bytes[index + offset]
                guard byte & 0xC0 == 0x80 else { return ("\u{FFFD}", 1) }
                value = value << 6 | UInt32(byte & 0x3F)
            }
            let minimum: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
            guard value >= minimum, let scalar = Unicode.Scalar(value) else { return ("\u{FFFD}", 1) }
            return (scalar, length)
        }

        /// Byte-wise equality and ordering: Go compares strings as bytes, Swift by canonical equivalence.
        static func bytesEqual(_ left: String, _ right: String) -> Bool {
            left.utf8.elementsEqual(right.utf8)
        }

        static func bytesLess(_ left: String, _ right: String) -> Bool {
            left.utf8.lexicographicallyPrecedes(right.utf8)
        }
    }
}
