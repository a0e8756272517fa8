import LoupeModel

/// The label-set text Loki's push API carries in `StreamAdapter.labels`: `{app="api", env="prod"}`,
/// values as Go double-quoted strings. Empty values are dropped (a stream has no empty labels);
/// duplicate names are refused.
public enum LokiLabelsText {
    public static func parse(_ text: String) throws(WireError) -> Labels {
        let bytes = Array(text.utf8)
        var index = 0
        func skipSpaces() {
            while index < bytes.count, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") { index += 1 }
        }
        func fail(_ message: String) -> WireError {
            WireError(.invalidValue, "error parsing labels \(text.debugDescription): \(message)", offset: index)
        }
        skipSpaces()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { throw fail("expected {") }
        index += 1
        var labels: [Label] = []
        var names: Set<String> = []
        while true {
            skipSpaces()
            guard index < bytes.count else { throw fail("unterminated label set") }
            if bytes[index] == UInt8(ascii: "}") {
                index += 1
                break
            }
            let nameStart = index
            while index < bytes.count, isNameByte(bytes[index], first: index == nameStart) { index += 1 }
            guard index > nameStart else { throw fail("expected a label name") }
            let name = String(decoding: bytes[nameStart..<index], as: UTF8.self)
            skipSpaces()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else { throw fail("expected = after \(name)") }
            index += 1
            skipSpaces()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a quoted value for \(name)") }
            index += 1
            var value: [UInt8] = []
            var closed = false
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\"") {
                    closed = true
                    break
                }
                guard byte == UInt8(ascii: "\\") else {
                    value.append(byte)
                    continue
                }
                guard index < bytes.count else { break }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "n"): value.append(0x0A)
                case UInt8(ascii: "t"): value.append(0x09)
                case UInt8(ascii: "r"): value.append(0x0D)
                case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "'"): value.append(escaped)
                default: throw fail("unsupported escape \\\(Character(Unicode.Scalar(escaped)))")
                }
            }
            guard closed else { throw fail("unterminated value for \(name)") }
            guard names.insert(name).inserted else { throw fail("duplicate label name \(name)") }
            labels.append(Label(name, String(decoding: value, as: UTF8.self)))
            skipSpaces()
            if index < bytes.count, bytes[index] == UInt8(ascii: ",") { index += 1 }
        }
        skipSpaces()
        guard index == bytes.count else { throw fail("unexpected text after }") }
        return Labels(labels)
    }

    static func isNameByte(_ byte: UInt8, first: Bool) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || byte == UInt8(ascii: "_")
            || (!first && byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }
}
