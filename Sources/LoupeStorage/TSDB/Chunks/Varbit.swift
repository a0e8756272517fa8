// Variable bit-width integers and Gorilla XOR floats, as the Prometheus chunk formats lay them out.

/// The bit-width buckets of `<varbit_ts>`, `<varbit_int>` and `<varbit_uint>`.
enum Varbit {
    /// Whether `value` fits the `bits`-wide bucket of the Prometheus schemes: -(2^(bits-1) - 1) ... 2^(bits-1).
    /// (The range is shifted by one against two's complement; decoders map raw > 2^(bits-1) to negative.)
    @inline(__always)
    static func fits(_ value: Int64, _ bits: Int) -> Bool {
        let half = Int64(1) << Int64(bits - 1)
        return value >= -(half - 1) && value <= half
    }

    /// Sign-extends a `bits`-wide raw value written by the bucket schemes above.
    @inline(__always)
    static func signed(_ raw: UInt64, _ bits: Int) -> Int64 {
        raw > UInt64(1) << UInt64(bits - 1) ? Int64(bitPattern: raw &- (UInt64(1) << UInt64(bits))) : Int64(bitPattern: raw)
    }

    /// Value width of `<varbit_int>` / `<varbit_uint>` after a prefix of `ones` one bits (0b10 → 3 ... 0b11111110 → 56;
    /// eight ones, 0b11111111, → raw 64 bits).
    @inline(__always)
    static func width(ones: Int) -> Int {
        switch ones {
        case 1: return 3
        case 2: return 6
        case 3: return 9
        case 4: return 12
        case 5: return 18
        case 6: return 25
        case 7: return 56
        default: return 64
        }
    }
}

extension BitWriter {
    /// Prometheus `<varbit_int>`: 0 as one zero bit, else a unary prefix of 1...8 ones and 3, 6, 9, 12, 18, 25, 56 or 64 value bits.
    public mutating func writeVarbitInt(_ value: Int64) {
        if value == 0 {
            write(0, bitCount: 1)
            return
        }
        var ones = 1
        while ones < 8 {
            let width = Varbit.width(ones: ones)
            if Varbit.fits(value, width) {
                let prefix = (UInt64(1) << UInt64(ones + 1)) - 2  // ones 1-bits then a 0
                let mask = (UInt64(1) << UInt64(width)) - 1
                write((prefix << UInt64(width)) | (UInt64(bitPattern: value) & mask), bitCount: ones + 1 + width)
                return
            }
            ones += 1
        }
        write(0xFF, bitCount: 8)
        write(UInt64(bitPattern: value), bitCount: 64)
    }

    /// Prometheus `<varbit_uint>`: same buckets as `<varbit_int>`, unsigned.
    public mutating func writeVarbitUInt(_ value: UInt64) {
        if value == 0 {
            write(0, bitCount: 1)
            return
        }
        var ones = 1
        while ones < 8 {
            let width = Varbit.width(ones: ones)
            if value >> UInt64(width) == 0 {
                let prefix = (UInt64(1) << UInt64(ones + 1)) - 2
                write((prefix << UInt64(width)) | value, bitCount: ones + 1 + width)
                return
            }
            ones += 1
        }
        write(0xFF, bitCount: 8)
        write(value, bitCount: 64)
    }
}

extension BitReader {
    public mutating func readVarbitInt() throws(ChunkError) -> Int64 {
        let ones = try readOnes(upTo: 8)
        if ones == 0 { return 0 }
        let width = Varbit.width(ones: ones)
        let raw = try readBits(width)
        return width == 64 ? Int64(bitPattern: raw) : Varbit.signed(raw, width)
    }

    public mutating func readVarbitUInt() throws(ChunkError) -> UInt64 {
        let ones = try readOnes(upTo: 8)
        if ones == 0 { return 0 }
        return try readBits(Varbit.width(ones: ones))
    }
}

/// Gorilla XOR state of one float field (Prometheus variant): the previous value and the window of
/// meaningful bits of the last XOR written with an explicit window.
struct XORState: Sendable, Hashable {
    var bits: UInt64
    /// 0xFF until the first explicit window is written (appender side), so the first XOR always carries one.
    var leading: UInt8
    var trailing: UInt8

    init(bits: UInt64 = 0, leading: UInt8 = 0, trailing: UInt8 = 0) {
        self.bits = bits
        self.leading = leading
        self.trailing = trailing
    }

    /// Appender-side state after the raw first value.
    static func appending(_ bits: UInt64) -> XORState { XORState(bits: bits, leading: 0xFF, trailing: 0) }

    /// `<varbit_xor>`: 0 when equal; 10 + meaningful bits in the previous window when it fits;
    /// 11 + 5-bit leading zeros (clamped to 31) + 6-bit length (64 written as 0) + the bits.
    mutating func write(_ newBits: UInt64, to writer: inout BitWriter) {
        let delta = newBits ^ bits
        bits = newBits
        if delta == 0 {
            writer.write(0, bitCount: 1)
            return
        }
        var lead = UInt8(truncatingIfNeeded: delta.leadingZeroBitCount)
        let trail = UInt8(truncatingIfNeeded: delta.trailingZeroBitCount)
        if lead >= 32 { lead = 31 }
        if leading != 0xFF && lead >= leading && trail >= trailing {
            let width = 64 - Int(leading) - Int(trailing)
            let payload = delta >> UInt64(trailing)
            if width <= 62 {
                writer.write((0b10 << UInt64(width)) | payload, bitCount: width + 2)
            } else {
                writer.write(0b10, bitCount: 2)
                writer.write(payload, bitCount: width)
            }
            return
        }
        leading = lead
        trailing = trail
        let width = 64 - Int(lead) - Int(trail)
        let header = (UInt64(0b11) << 11) | (UInt64(lead) << 6) | UInt64(width & 63)
        if width <= 51 {
            writer.write((header << UInt64(width)) | (delta >> UInt64(trail)), bitCount: 13 + width)
        } else {
            writer.write(header, bitCount: 13)
            writer.write(delta >> UInt64(trail), bitCount: width)
        }
    }

    /// Returns whether the value carried a new window (control bits 11).
    @discardableResult
    mutating func read(from reader: inout BitReader) throws(ChunkError) -> Bool {
        let control = try reader.readOnes(upTo: 2)
        if control == 0 { return false }
        if control == 2 {
            let start = reader.bitPosition
            let header = try reader.readBits(11)
            let lead = Int(header >> 6)
            var width = Int(header & 63)
            if width == 0 { width = 64 }
            guard lead + width <= 64 else {
                throw ChunkError(.malformed, "XOR window of \(lead) leading zeros and \(width) bits exceeds 64 bits", bitOffset: start)
            }
            leading = UInt8(lead)
            trailing = UInt8(64 - lead - width)
        }
        let width = 64 - Int(leading) - Int(trailing)
        let payload = try reader.readBits(width)
        bits ^= payload << UInt64(trailing)
        return control == 2
    }
}
