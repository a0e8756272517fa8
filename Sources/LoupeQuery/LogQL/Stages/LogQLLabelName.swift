/// How Loki turns a key found in a log line (json and logfmt keys, unpack keys, regexp group names) into a
/// label name: `sanitizeLabelKey` and `appendSanitized` in Loki's pkg/logql/log/util.go.
///
/// - Unicode white space around the key is trimmed (Go's `strings.TrimSpace`);
/// - a key that then starts with an ASCII digit gets a leading `_` (`9x` becomes `_9x`);
/// - every character other than an ASCII letter, digit or `_` becomes one `_` (a multi-byte character too).
///   Loki's documentation allows `:`, but its code replaces it as well; this follows the code.
///
/// A key that is empty after trimming sanitizes to "", which the parsers skip.
public enum LogQLLabelName {
    public static func sanitize(_ key: String) -> String {
        LogLineBytes.withBytes(of: key) { bytes in
            if isAlreadyValid(bytes) {
                return key
            }
            var name: [UInt8] = []
            name.reserveCapacity(bytes.count + 1)
            appendPart(bytes, to: &name)
            return String(decoding: name, as: UTF8.self)
        }
    }

    /// Appends one key (or one level of a nested json key) to a name under construction, the way Loki
    /// builds flattened json names: a part that is blank after trimming adds nothing; otherwise a `_`
    /// separates it from what `name` already holds, and only the first part of a name gets the leading
    /// `_` before a digit.
    static func appendPart(_ part: UnsafeBufferPointer<UInt8>, to name: inout [UInt8]) {
        guard let trimmed = trimmedRange(part) else { return }
        if !name.isEmpty {
            name.append(underscore)
        } else if LogLineBytes.isASCIIDigit(part[trimmed.lowerBound]) {
            name.append(underscore)
        }
        let trimmedPart = UnsafeBufferPointer(rebasing: part[trimmed])
        if trimmedPart.allSatisfy(isNameByte) {
            name.append(contentsOf: trimmedPart)
            return
        }
        var index = trimmed.lowerBound
        while index < trimmed.upperBound {
            let byte = part[index]
            if byte < 0x80 {
                name.append(isNameByte(byte) ? byte : underscore)
                index += 1
            } else {
                // One replacement per character, as Go maps runes.
                name.append(underscore)
                index += UTF8Scalar.length(leadingByte: byte)
            }
        }
    }

    /// The fast path: a key made only of `[A-Za-z0-9_]` that does not start with a digit is its own name.
    static func isAlreadyValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = bytes.first, !LogLineBytes.isASCIIDigit(first) else { return false }
        for byte in bytes where !isNameByte(byte) {
            return false
        }
        return true
    }

    static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39) || byte == underscore
    }

    private static let underscore = UInt8(ascii: "_")

    /// The part without leading and trailing Unicode white space, or nil when nothing else is left.
    private static func trimmedRange(_ bytes: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        var start = 0
        while start < bytes.count {
            let (scalar, length) = UTF8Scalar.decode(bytes, at: start)
            guard isGoSpace(scalar) else { break }
            start += length
        }
        guard start < bytes.count else { return nil }
        var end = bytes.count
        while end > start {
            var lead = end - 1
            while lead > start && bytes[lead] & 0xC0 == 0x80 { lead -= 1 }
            let (scalar, _) = UTF8Scalar.decode(bytes, at: lead)
            guard isGoSpace(scalar) else { break }
            end = lead
        }
        return start..<end
    }

    /// Go's `unicode.IsSpace`.
    private static func isGoSpace(_ scalar: UInt32) -> Bool {
        switch scalar {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }
}

/// Minimal UTF-8 decoding for bytes that come from Swift strings (always well formed); malformed input
/// still decodes to something, one byte at a time, rather than trapping.
enum UTF8Scalar {
    static func length(leadingByte byte: UInt8) -> Int {
        switch byte {
        case 0xC0...0xDF: return 2
        case 0xE0...0xEF: return 3
        case 0xF0...0xF7: return 4
        default: return 1
        }
    }

    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (scalar: UInt32, length: Int) {
        let lead = bytes[index]
        if lead < 0x80 { return (UInt32(lead), 1) }
        let length = length(leadingByte: lead)
        guard length > 1, index + length <= bytes.count else { return (0xFFFD, 1) }
        var scalar = UInt32(lead) & (0xFF >> (length + 1))
        for offset in 1..<length {
            let continuation = bytes[index + offset]
            guard continuation & 0xC0 == 0x80 else { return (0xFFFD, 1) }
            scalar = scalar << 6 | UInt32(continuation & 0x3F)
        }
        return (scalar, length)
    }

    static func append(_ scalar: UInt32, to bytes: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            bytes.append(UInt8(scalar))
        case 0x80..<0x800:
            bytes.append(UInt8(0xC0 | scalar >> 6))
            bytes.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            bytes.append(UInt8(0xE0 | scalar >> 12))
            bytes.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            bytes.append(UInt8(0x80 | scalar & 0x3F))
        default:
            bytes.append(UInt8(0xF0 | scalar >> 18))
            bytes.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            bytes.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            bytes.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Go's `utf8.EncodeRune` writes U+FFFD for surrogates and values past U+10FFFF.
    static func appendEncodingInvalidAsReplacement(_ scalar: UInt32, to bytes: inout [UInt8]) {
        if (0xD800...0xDFFF).contains(scalar) || scalar > 0x10FFFF {
            append(0xFFFD, to: &bytes)
        } else {
            append(scalar, to: &bytes)
        }
    }
}
