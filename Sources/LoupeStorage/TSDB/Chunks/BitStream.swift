import CPrefetch

/// Why a chunk could not be read.
public struct ChunkError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The bytes end before the data they announce.
        case truncated
        /// The bytes are complete but do not describe a valid chunk.
        case malformed
        /// The encoding byte names no encoding this build knows.
        case unknownEncoding
    }

    public var kind: Kind
    public var message: String
    /// Bit offset from the start of the chunk's bytes where the problem was found, when known.
    public var bitOffset: Int?

    public init(_ kind: Kind, _ message: String, bitOffset: Int? = nil) {
        self.kind = kind
        self.message = message
        self.bitOffset = bitOffset
    }

    public var description: String {
        let place = bitOffset.map { " at bit \($0) (byte \($0 / 8))" } ?? ""
        return "chunk \(kind): \(message)\(place)"
    }
}

/// Appends bits, most significant first, to a growable byte buffer.
///
/// Every write is one unaligned 64-bit load/store (plus at most one byte when the bits straddle
/// a word boundary): the storage always keeps at least 9 zero bytes beyond the last written bit.
public struct BitWriter: Sendable {
    var storage: [UInt8]
    /// Number of bits written so far.
    public private(set) var bitCount: Int
    /// Where `storage`'s bytes were at the last write, for `prefetchNextWrite`, which must not
    /// touch the array (asking an array for its address retains it, a write to its memory).
    /// Stale only until the next write should the storage move in between; a prefetch of a
    /// stale address is merely useless.
    private var storageAddress: UInt = 0

    public init(reservingBytes capacity: Int = 64) {
        storage = [UInt8](repeating: 0, count: max(capacity, 16))
        bitCount = 0
    }

    /// A writer holding no memory, for a placeholder that is never written to.
    static var unallocated: BitWriter { BitWriter(storage: [], bitCount: 0) }

    private init(storage: [UInt8], bitCount: Int) {
        self.storage = storage
        self.bitCount = bitCount
    }

    /// Continues after the first `bitCount` bits of `bytes` (later bits of the last byte are cleared).
    public init(bytes: [UInt8], bitCount: Int) {
        precondition(bitCount >= 0 && bitCount <= bytes.count * 8, "bitCount outside the bytes")
        let used = (bitCount + 7) / 8
        var storage = Array(bytes[0..<used])
        storage.append(contentsOf: repeatElement(0, count: max(16, used)))
        if bitCount & 7 != 0 { storage[used - 1] &= ~(0xFF as UInt8 >> UInt8(bitCount & 7)) }
        self.storage = storage
        self.bitCount = bitCount
    }

    /// Bytes holding the bits written so far; the last byte is padded with zero bits.
    public var byteCount: Int { (bitCount + 7) >> 3 }

    /// A copy of the written bytes (padded with zero bits to a whole byte).
    public var bytes: [UInt8] { Array(storage[0..<byteCount]) }

    /// Overwrites a whole byte that has already been written (headers patched after the fact).
    public mutating func setByte(_ value: UInt8, at index: Int) {
        precondition(index >= 0 && index < byteCount, "setByte outside the written bytes")
        storage[index] = value
    }

    /// Starts bringing in the bytes the next write touches and the array's header (its
    /// uniqueness check reads the reference count), from the address of the last write.
    /// Mutating only to be called in place: through an optional a read access copied the writer
    /// out, retaining its storage, and so waited for the very line it was to prefetch.
    @inline(__always)
    mutating func prefetchNextWrite() {
        guard let base = UnsafeRawPointer(bitPattern: storageAddress) else { return }
        // A Swift array's header (reference count, count) takes the 32 bytes before its elements.
        loupe_prefetch_for_write(base - 32)
        loupe_prefetch_for_write(base + (bitCount &>> 3))
    }

    public func byte(at index: Int) -> UInt8 {
        precondition(index >= 0 && index < byteCount, "byte outside the written bytes")
        return storage[index]
    }

    /// Small buffers grow by a quarter, large ones double. The small ones are mostly open head
    /// chunks, a hundred thousand of them growing in step (their series are scraped together):
    /// doubling left them up to half empty, and a series' open chunk is the largest share of its
    /// RAM. The capacity is reserved first because `append(contentsOf:)` alone doubles it anyway.
    mutating func grow(toAtLeast needed: Int) {
        let count = storage.count
        let step = count < 4096 ? max(32, count / 4) : count
        let grown = max(needed, count + step)
        storage.reserveCapacity(grown)
        storage.append(contentsOf: repeatElement(0, count: grown - count))
    }

    /// Writes the low `count` bits of `value` (higher bits are ignored), most significant first. `count` is 0...64.
    public mutating func write(_ value: UInt64, bitCount count: Int) {
        precondition(count >= 0 && count <= 64, "1 to 64 bits at a time")
        if count == 0 { return }
        let top = value &<< UInt64(64 &- count)
        let byteIndex = bitCount &>> 3
        let shift = bitCount & 7
        if byteIndex &+ 9 > storage.count { grow(toAtLeast: byteIndex &+ 9) }
        storageAddress = storage.withUnsafeMutableBytes { raw in
            let old = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: byteIndex, as: UInt64.self))
            raw.storeBytes(of: (old | (top &>> UInt64(shift))).bigEndian, toByteOffset: byteIndex, as: UInt64.self)
            if shift &+ count > 64 {
                raw[byteIndex &+ 8] = UInt8(truncatingIfNeeded: top &<< UInt64(8 &- shift))
            }
            return UInt(bitPattern: raw.baseAddress)
        }
        bitCount &+= count
    }

    public mutating func writeBit(_ bit: Bool) {
        write(bit ? 1 : 0, bitCount: 1)
    }

    public mutating func writeByte(_ byte: UInt8) {
        write(UInt64(byte), bitCount: 8)
    }

    /// Go's `binary.PutUvarint`: 7 bits per byte, least significant group first.
    public mutating func writeUVarint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            writeByte(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        writeByte(UInt8(rest))
    }

    /// Go's `binary.PutVarint`: zig-zag, then uvarint.
    public mutating func writeVarint(_ value: Int64) {
        writeUVarint(UInt64(bitPattern: (value &<< 1) ^ (value >> 63)))
    }
}

/// Reads bits, most significant first, from a byte array. Never reads past the end: a read that
/// needs more bits than remain throws `ChunkError.truncated` and consumes nothing.
public struct BitReader: Sendable {
    let bytes: [UInt8]
    let endByte: Int
    /// Index of the next byte not yet loaded into `word`.
    var nextByte: Int
    /// Unread bits, left-aligned; bits below the `valid` top ones are zero.
    var word: UInt64 = 0
    var valid: Int = 0

    /// Reads `bytes` starting at `byteOffset` (clamped to the array).
    public init(_ bytes: [UInt8], byteOffset: Int = 0) {
        self.bytes = bytes
        self.endByte = bytes.count
        self.nextByte = min(max(byteOffset, 0), bytes.count)
    }

    /// Bits consumed from the start of the byte array.
    public var bitPosition: Int { nextByte &* 8 &- valid }

    /// Bits left to read.
    public var remainingBits: Int { (endByte &- nextByte) &* 8 &+ valid }

    /// Loads whole bytes into `word` until it holds more than 56 bits or the input ends.
    @inline(__always)
    mutating func refill() {
        if nextByte &+ 8 <= endByte {
            let take = (64 &- valid) &>> 3
            if take == 0 { return }
            // Byte by byte rather than one load inside `bytes.withUnsafeBytes`: that closure made
            // the caller retain and release the array on every refill, which cost more (a fifth
            // of decoding the head's open chunks in an instant query) than eight indexed loads.
            var loaded: UInt64 = 0
            for index in nextByte..<(nextByte &+ 8) { loaded = loaded &<< 8 | UInt64(bytes[index]) }
            let newValid = valid &+ take &* 8
            var add = loaded &>> UInt64(valid)
            if newValid < 64 { add &= ~(UInt64.max &>> UInt64(newValid)) }
            word |= add
            valid = newValid
            nextByte &+= take
        } else {
            while valid <= 56 && nextByte < endByte {
                word |= UInt64(bytes[nextByte]) &<< UInt64(56 &- valid)
                valid &+= 8
                nextByte &+= 1
            }
        }
    }

    func truncated(_ needed: Int) -> ChunkError {
        ChunkError(.truncated, "needed \(needed) more bits, \(remainingBits) left", bitOffset: bitPosition)
    }

    /// Reads `count` bits (0...64) as the low bits of the result.
    public mutating func readBits(_ count: Int) throws(ChunkError) -> UInt64 {
        precondition(count >= 0 && count <= 64, "0 to 64 bits at a time")
        if count > valid {
            refill()
            if count > valid { return try readBitsSlow(count) }
        }
        if count == 0 { return 0 }
        let result = word &>> UInt64(64 &- count)
        word = count == 64 ? 0 : word &<< UInt64(count)
        valid &-= count
        return result
    }

    /// `count` is more than a refilled word holds: either the input ends, or `count` > 56 and the
    /// word holds 57...63 bits.
    mutating func readBitsSlow(_ count: Int) throws(ChunkError) -> UInt64 {
        guard remainingBits >= count else { throw truncated(count) }
        let first = valid
        let high = first == 0 ? 0 : word &>> UInt64(64 &- first)
        word = 0
        valid = 0
        refill()
        let rest = count &- first
        let low = word &>> UInt64(64 &- rest)
        word = rest == 64 ? 0 : word &<< UInt64(rest)
        valid &-= rest
        return rest == 64 ? low : (high &<< UInt64(rest)) | low
    }

    public mutating func readBit() throws(ChunkError) -> Bool {
        if valid == 0 {
            refill()
            if valid == 0 { throw truncated(1) }
        }
        let bit = word &>> 63
        word &<<= 1
        valid &-= 1
        return bit == 1
    }

    public mutating func readByte() throws(ChunkError) -> UInt8 {
        UInt8(truncatingIfNeeded: try readBits(8))
    }

    /// Reads a unary prefix: up to `limit` one bits, stopping after the first zero bit (which is
    /// consumed). Returns the number of one bits (== `limit` when no zero bit came).
    public mutating func readOnes(upTo limit: Int) throws(ChunkError) -> Int {
        if valid <= limit { refill() }
        if valid > limit {
            let ones = min((~word).leadingZeroBitCount, limit)
            let used = ones == limit ? limit : ones &+ 1
            word &<<= UInt64(used)
            valid &-= used
            return ones
        }
        var ones = 0
        while ones < limit {
            if try !readBit() { break }
            ones &+= 1
        }
        return ones
    }

    /// Go's `binary.ReadUvarint`, including its overflow rule (at most 10 bytes, the 10th at most 1).
    public mutating func readUVarint() throws(ChunkError) -> UInt64 {
        let start = bitPosition
        var result: UInt64 = 0
        var shift: UInt64 = 0
        for index in 0..<10 {
            let byte = try readByte()
            if byte < 0x80 {
                if index == 9 && byte > 1 { break }
                return result | UInt64(byte) << shift
            }
            result |= UInt64(byte & 0x7F) << shift
            shift += 7
        }
        throw ChunkError(.malformed, "varint overflows 64 bits", bitOffset: start)
    }

    /// Go's `binary.ReadVarint` (zig-zag).
    public mutating func readVarint() throws(ChunkError) -> Int64 {
        let raw = try readUVarint()
        let value = Int64(bitPattern: raw >> 1)
        return raw & 1 == 0 ? value : ~value
    }
}

extension BitReader {
    /// After the last field of a chunk only zero padding up to the next byte boundary may remain.
    mutating func expectPaddingOnly() throws(ChunkError) {
        let rest = remainingBits
        guard rest < 8 else {
            throw ChunkError(.malformed, "\(rest / 8) unexpected bytes after the last sample", bitOffset: bitPosition)
        }
        let start = bitPosition
        if rest > 0, try readBits(rest) != 0 {
            throw ChunkError(.malformed, "nonzero padding bits after the last sample", bitOffset: start)
        }
    }
}
