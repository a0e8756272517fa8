/// LogQL's `| decolorize` stage: removes ANSI escape sequences (colors, cursor moves, OSC titles).
///
/// Loki (pkg/logql/log/fmt.go `Decolorizer`) deletes every match of the stripansi expression
///
///     [\u001B\u009B][[\]()#;?]*(?:(?:(?:[a-zA-Z\d]*(?:;[a-zA-Z\d]*)*)?\u0007)|(?:(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PRZcf-ntqry=><~]))
///
/// This matches it by hand over the line's bytes, with the regex's leftmost-first choices: an introducer
/// (ESC, or the C1 CSI U+009B), intermediate characters `[ ] ( ) # ; ?`, then either a run of letters,
/// digits and `;` ended by BEL, or optional numeric parameters (1-4 digits, then `;` groups of 0-4 digits)
/// and a final character. An introducer that starts no sequence is kept.
public enum Decolorizer {
    public static func decolorize(_ line: String) -> String {
        LogLineBytes.withBytes(of: line) { bytes in
            guard let firstIntroducer = nextIntroducer(in: bytes, from: 0) else { return line }
            var output: [UInt8] = []
            output.reserveCapacity(bytes.count)
            var copiedUpTo = 0
            var introducer: Int? = firstIntroducer
            while let start = introducer {
                let introducerLength = bytes[start] == escape ? 1 : 2
                if let end = sequenceEnd(in: bytes, afterIntroducerAt: start + introducerLength) {
                    output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[copiedUpTo..<start]))
                    copiedUpTo = end
                    introducer = nextIntroducer(in: bytes, from: end)
                } else {
                    introducer = nextIntroducer(in: bytes, from: start + introducerLength)
                }
            }
            guard copiedUpTo > 0 else { return line }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[copiedUpTo...]))
            return String(decoding: output, as: UTF8.self)
        }
    }

    private static let escape: UInt8 = 0x1B
    private static let bell: UInt8 = 0x07

    /// The next ESC byte or U+009B (C2 9B in UTF-8).
    private static func nextIntroducer(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            if byte == escape { return index }
            if byte == 0xC2 && index + 1 < bytes.count && bytes[index + 1] == 0x9B { return index }
            index += 1
        }
        return nil
    }

    /// The end of the sequence whose body starts at `start`, or nil when the bytes there form none.
    ///
    /// Backtracking into the intermediate characters cannot produce a match the greedy choice missed:
    /// only `;` is shared with what follows, and giving it back leads to the same end.
    private static func sequenceEnd(in bytes: UnsafeBufferPointer<UInt8>, afterIntroducerAt start: Int) -> Int? {
        var index = start
        while index < bytes.count && isIntermediate(bytes[index]) { index += 1 }
        return bellTerminatedEnd(in: bytes, from: index) ?? parameterizedEnd(in: bytes, from: index)
    }

    /// `(?:[a-zA-Z\d]*(?:;[a-zA-Z\d]*)*)?\u0007`: any run of letters, digits and `;`, then BEL.
    private static func bellTerminatedEnd(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        var index = start
        while index < bytes.count && (isASCIIAlphanumeric(bytes[index]) || bytes[index] == UInt8(ascii: ";")) { index += 1 }
        return index < bytes.count && bytes[index] == bell ? index + 1 : nil
    }

    /// `(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PRZcf-ntqry=><~]`. Greedily the parameters take every digit group;
    /// when the byte after them is no final character, backtracking hands the last digit taken to the
    /// final character instead (digits are final characters).
    private static func parameterizedEnd(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard start < bytes.count else { return nil }
        guard LogLineBytes.isASCIIDigit(bytes[start]) else {
            return isFinal(bytes[start]) ? start + 1 : nil
        }
        var index = start
        var endOfLastDigit = start
        var digits = 0
        while index < bytes.count && digits < 4 && LogLineBytes.isASCIIDigit(bytes[index]) {
            index += 1
            digits += 1
            endOfLastDigit = index
        }
        while index < bytes.count && bytes[index] == UInt8(ascii: ";") {
            index += 1
            digits = 0
            while index < bytes.count && digits < 4 && LogLineBytes.isASCIIDigit(bytes[index]) {
                index += 1
                digits += 1
                endOfLastDigit = index
            }
        }
        if index < bytes.count && isFinal(bytes[index]) { return index + 1 }
        return endOfLastDigit
    }

    private static func isIntermediate(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "("), UInt8(ascii: ")"),
             UInt8(ascii: "#"), UInt8(ascii: ";"), UInt8(ascii: "?"):
            return true
        default:
            return false
        }
    }

    private static func isASCIIAlphanumeric(_ byte: UInt8) -> Bool {
        LogQLLabelName.isNameByte(byte) && byte != UInt8(ascii: "_")
    }

    /// `[\dA-PRZcf-ntqry=><~]`
    private static func isFinal(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "P"), UInt8(ascii: "R"), UInt8(ascii: "Z"),
             UInt8(ascii: "c"), UInt8(ascii: "f")...UInt8(ascii: "n"), UInt8(ascii: "q"), UInt8(ascii: "r"), UInt8(ascii: "t"),
             UInt8(ascii: "y"), UInt8(ascii: "="), UInt8(ascii: ">"), UInt8(ascii: "<"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}
