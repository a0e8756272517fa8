/// Fast UTF-8 validation: eight bytes at a time while the text is ASCII, then the well-formedness rules of
/// Unicode 15 table 3-7 (no overlong forms, no surrogates, nothing above U+10FFFF).
public enum UTF8Validation {
    @inlinable @inline(__always)
    public static func isValid(_ pointer: UnsafeRawPointer, count: Int) -> Bool {
        var index = 0
        while index &+ 8 <= count {
            if pointer.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { break }
            index &+= 8
        }
        while index < count {
            if pointer.load(fromByteOffset: index, as: UInt8.self) >= 0x80 {
                return isValidNonASCII(pointer, from: index, count: count)
            }
            index &+= 1
        }
        return true
    }

    @usableFromInline
    static func isValidNonASCII(_ pointer: UnsafeRawPointer, from start: Int, count: Int) -> Bool {
        var index = start
        @inline(__always) func byte(_ at: Int) -> UInt8 { pointer.load(fromByteOffset: at, as: UInt8.self) }
        @inline(__always) func isContinuation(_ value: UInt8) -> Bool { value & 0xC0 == 0x80 }
        while index < count {
            let lead = byte(index)
            if lead < 0x80 {
                index &+= 1
                continue
            }
            if lead < 0xC2 { return false }  // continuation byte or overlong 2-byte lead
            if lead < 0xE0 {
                guard index &+ 1 < count, isContinuation(byte(index &+ 1)) else { return false }
                index &+= 2
                continue
            }
            if lead < 0xF0 {
                guard index &+ 2 < count else { return false }
                let second = byte(index &+ 1)
                switch lead {
                case 0xE0: guard second >= 0xA0 && second <= 0xBF else { return false }  // overlong
                case 0xED: guard second >= 0x80 && second <= 0x9F else { return false }  // surrogates
                default: guard isContinuation(second) else { return false }
                }
                guard isContinuation(byte(index &+ 2)) else { return false }
                index &+= 3
                continue
            }
            if lead < 0xF5 {
                guard index &+ 3 < count else { return false }
                let second = byte(index &+ 1)
                switch lead {
                case 0xF0: guard second >= 0x90 && second <= 0xBF else { return false }  // overlong
                case 0xF4: guard second >= 0x80 && second <= 0x8F else { return false }  // above U+10FFFF
                default: guard isContinuation(second) else { return false }
                }
                guard isContinuation(byte(index &+ 2)), isContinuation(byte(index &+ 3)) else { return false }
                index &+= 4
                continue
            }
            return false
        }
        return true
    }
}
