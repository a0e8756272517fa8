/// Little-endian integers and LEB128 varints, the vocabulary of Loupe's block files.
struct ByteSink {
    var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    var count: Int { bytes.count }

    mutating func uvarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func uvarint(_ value: Int) { uvarint(UInt64(value)) }

    /// Zig-zag, so small negative deltas stay small.
    mutating func varint(_ value: Int64) { uvarint(UInt64(bitPattern: (value << 1) ^ (value >> 63))) }

    mutating func uint32(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    mutating func uint64(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func append(_ other: [UInt8]) { bytes.append(contentsOf: other) }

    mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            uvarint(utf8.count)
            bytes.append(contentsOf: utf8)
        }
    }
}

/// Reads what `ByteSink` wrote, from memory that may be damaged: every read is bounds-checked
/// and fails with a `StorageError` naming the offset, never a trap.
struct ByteSource {
    let base: UnsafeRawBufferPointer
    var offset: Int
    /// Reads stop here (the end of the section being read).
    let end: Int

    init(_ base: UnsafeRawBufferPointer, offset: Int = 0, end: Int? = nil) {
        self.base = base
        self.offset = offset
        self.end = min(end ?? base.count, base.count)
    }

    var isAtEnd: Bool { offset >= end }

    @inline(__always)
    mutating func uvarint() throws(StorageError) -> UInt64 {
        // Most values in blocks (references, small counts, flags) take one byte.
        if offset < end {
            let byte = base[offset]
            if byte < 0x80 {
                offset += 1
                return UInt64(byte)
            }
        }
        return try uvarintOfSeveralBytes()
    }

    private mutating func uvarintOfSeveralBytes() throws(StorageError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < end else { throw StorageError(.corrupt, "varint runs past the end of its section at byte \(offset)") }
            let byte = base[offset]
            offset += 1
            if shift == 63 && byte > 1 { throw StorageError(.corrupt, "varint overflows 64 bits at byte \(offset - 1)") }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
            if shift > 63 { throw StorageError(.corrupt, "varint longer than 10 bytes at byte \(offset - 1)") }
        }
    }

    /// Moves past `count` varints without decoding them: each byte below 0x80 ends one, so eight
    /// bytes are looked at together where they end fewer varints than are left to skip.
    mutating func skipUVarints(_ count: Int) throws(StorageError) {
        var remaining = count
        var position = offset
        while remaining > 8, end - position >= 8 {
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: position, as: UInt64.self))
            remaining -= (~word & 0x8080_8080_8080_8080).nonzeroBitCount
            position += 8
        }
        while remaining > 0 {
            guard position < end else { throw StorageError(.corrupt, "varints run past the end of their section at byte \(position)") }
            if base[position] < 0x80 { remaining -= 1 }
            position += 1
        }
        offset = position
    }

    mutating func uvarintInt(limit: Int = .max) throws(StorageError) -> Int {
        let at = offset
        let value = try uvarint()
        guard limit >= 0, value <= UInt64(limit) else { throw StorageError(.corrupt, "value \(value) at byte \(at) is over its limit \(limit)") }
        return Int(value)
    }

    mutating func varint() throws(StorageError) -> Int64 {
        let raw = try uvarint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    mutating func uint32() throws(StorageError) -> UInt32 {
        guard end - offset >= 4 else { throw StorageError(.corrupt, "4-byte integer runs past the end at byte \(offset)") }
        var value: UInt32 = 0
        for index in 0..<4 { value |= UInt32(base[offset + index]) << UInt32(8 * index) }
        offset += 4
        return value
    }

    mutating func uint64() throws(StorageError) -> UInt64 {
        guard end - offset >= 8 else { throw StorageError(.corrupt, "8-byte integer runs past the end at byte \(offset)") }
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(base[offset + index]) << UInt64(8 * index) }
        offset += 8
        return value
    }

    /// A 64-bit offset or count that must fit in `Int` and stay within `limit`.
    mutating func offset(limit: Int) throws(StorageError) -> Int {
        let at = offset
        let value = try uint64()
        guard value <= UInt64(max(limit, 0)) else {
            throw StorageError(.corrupt, "offset \(value) at byte \(at) is beyond \(limit)")
        }
        return Int(value)
    }

    mutating func bytes(_ count: Int) throws(StorageError) -> UnsafeRawBufferPointer {
        guard count >= 0, end - offset >= count else {
            throw StorageError(.corrupt, "\(count) bytes run past the end of their section at byte \(offset)")
        }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: base[offset..<(offset + count)])
    }

    mutating func string() throws(StorageError) -> String {
        let length = try uvarintInt(limit: end - offset)
        let raw = try bytes(length)
        return String(decoding: raw, as: UTF8.self)
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` for bodies that throw `StorageError` (the standard one rethrows untyped).
    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws(StorageError) -> Result) throws(StorageError) -> Result {
        let outcome: Swift.Result<Result, StorageError> = withUnsafeBytes { raw in
            do throws(StorageError) {
                return .success(try body(raw))
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    mutating func withMutableBytes<Result>(
        _ body: (UnsafeMutableRawBufferPointer) throws(StorageError) -> Result
    ) throws(StorageError) -> Result {
        let outcome: Swift.Result<Result, StorageError> = withUnsafeMutableBytes { raw in
            do throws(StorageError) {
                return .success(try body(raw))
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }
}
