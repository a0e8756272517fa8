/// Base64 for OTLP/JSON `bytes` fields: decodes the standard and URL-safe alphabets, with or
/// without padding; encodes the standard alphabet with padding (protobuf's JSON mapping).
enum JSONBase64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Sextet values; 0xFF marks bytes outside both alphabets. `+`/`-` are 62, `/`/`_` are 63.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        table[Int(UInt8(ascii: "-"))] = 62
        table[Int(UInt8(ascii: "_"))] = 63
        return table
    }()

    /// The decoded bytes, or nil when the text is not base64.
    static func decode(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var count = text.count
        // Padding: only as the last one or two characters, and only to a multiple of four.
        if count > 0 && text[count - 1] == UInt8(ascii: "=") {
            guard count % 4 == 0 else { return nil }
            count -= 1
            if text[count - 1] == UInt8(ascii: "=") { count -= 1 }
        }
        if count % 4 == 1 { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(count * 3 / 4)
        return values.withUnsafeBufferPointer { table -> [UInt8]? in
            var index = 0
            var invalid: UInt8 = 0
            while index + 4 <= count {
                let a = table[Int(text[index])], b = table[Int(text[index + 1])]
                let c = table[Int(text[index + 2])], d = table[Int(text[index + 3])]
                invalid |= a | b | c | d
                let bits = UInt32(a & 0x3F) << 18 | UInt32(b & 0x3F) << 12 | UInt32(c & 0x3F) << 6 | UInt32(d & 0x3F)
                out.append(UInt8(truncatingIfNeeded: bits >> 16))
                out.append(UInt8(truncatingIfNeeded: bits >> 8))
                out.append(UInt8(truncatingIfNeeded: bits))
                index += 4
            }
            let rest = count - index
            if rest >= 2 {
                let a = table[Int(text[index])], b = table[Int(text[index + 1])]
                invalid |= a | b
                var bits = UInt32(a & 0x3F) << 18 | UInt32(b & 0x3F) << 12
                if rest == 3 {
                    let c = table[Int(text[index + 2])]
                    invalid |= c
                    bits |= UInt32(c & 0x3F) << 6
                }
                out.append(UInt8(truncatingIfNeeded: bits >> 16))
                if rest == 3 { out.append(UInt8(truncatingIfNeeded: bits >> 8)) }
            }
            return invalid & 0xC0 == 0 ? out : nil
        }
    }

    /// Appends the padded standard base64 of `bytes` to `out`.
    static func encode(_ bytes: [UInt8], into out: inout [UInt8]) {
        alphabet.withUnsafeBufferPointer { alphabet in
            var index = 0
            let count = bytes.count
            while index + 3 <= count {
                let bits = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
                out.append(alphabet[Int(bits >> 18 & 0x3F)])
                out.append(alphabet[Int(bits >> 12 & 0x3F)])
                out.append(alphabet[Int(bits >> 6 & 0x3F)])
                out.append(alphabet[Int(bits & 0x3F)])
                index += 3
            }
            let rest = count - index
            if rest > 0 {
                var bits = UInt32(bytes[index]) << 16
                if rest == 2 { bits |= UInt32(bytes[index + 1]) << 8 }
                out.append(alphabet[Int(bits >> 18 & 0x3F)])
                out.append(alphabet[Int(bits >> 12 & 0x3F)])
                out.append(rest == 2 ? alphabet[Int(bits >> 6 & 0x3F)] : UInt8(ascii: "="))
                out.append(UInt8(ascii: "="))
            }
        }
    }
}
