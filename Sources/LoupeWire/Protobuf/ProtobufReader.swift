/// The wire types of the protobuf encoding.
public enum ProtobufWireType: UInt32, Sendable {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5
}

/// A fast, non-allocating reader of the protobuf wire format over borrowed memory.
///
/// The reader is a cursor (`offset`, `end`) over a base pointer; a nested message gets its own reader over the
/// same base (`readMessage()`), so every `offset` — including the ones in thrown `WireError`s — is relative to
/// the start of the outermost buffer. The memory must stay valid while the reader and anything it returned
/// (raw byte views) are in use.
///
/// Typical loop:
///
///     while !reader.isAtEnd {
///         let tag = try reader.readTag()
///         switch tag {
///         case 1 << 3 | 2: name = try reader.readString()
///         case 2 << 3 | 0: count = try reader.readVarint()
///         default: try reader.skipField(tag: tag)
///         }
///     }
///
/// Tags are returned raw (`fieldNumber << 3 | wireType`), so one switch checks field number and wire type at
/// once. A known field that arrives with an unexpected wire type falls into `default` and is skipped as an
/// unknown field, as the official protobuf runtimes do.
public struct ProtobufReader {
    @usableFromInline let base: UnsafeRawPointer
    @usableFromInline var position: Int

    /// Position of the next byte to read, relative to the start of the outermost buffer.
    @inlinable
    public var offset: Int {
        @inline(__always) get { position }
    }
    /// One past the last byte this reader may read.
    public let end: Int

    /// How deeply groups (wire types 3/4) may nest when skipping them.
    public static let maximumGroupDepth = 64

    /// A reader over all of `buffer`.
    @inlinable
    public init(_ buffer: UnsafeRawBufferPointer) {
        // An empty buffer may have no base address; any non-null pointer does since nothing is ever read from it.
        self.base = buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 0x10)!
        self.position = 0
        self.end = buffer.count
    }

    @inlinable
    init(base: UnsafeRawPointer, offset: Int, end: Int) {
        self.base = base
        self.position = offset
        self.end = end
    }

    /// The bytes this reader has yet to read, borrowed from the input.
    @inlinable
    public var remainingBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + position, count: end &- position)
    }

    /// The bytes at `range`, in offsets of the outermost buffer (as `offset` and `end` count them).
    @inlinable
    public func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    @inlinable
    public var isAtEnd: Bool {
        @inline(__always) get { position >= end }
    }

    @inlinable
    public var remaining: Int {
        @inline(__always) get { end &- position }
    }

    @inlinable @inline(__always)
    func byte(at index: Int) -> UInt8 {
        base.load(fromByteOffset: index, as: UInt8.self)
    }

    // MARK: - Tags and varints

    /// Reads a field tag (`fieldNumber << 3 | wireType`). Rejects field number 0 and tags over 32 bits.
    @inlinable @inline(__always)
    public mutating func readTag() throws(WireError) -> UInt32 {
        if position < end {
            let first = byte(at: position)
            if first < 0x80 && first >= 0x08 {
                position &+= 1
                return UInt32(first)
            }
        }
        return try readTagSlow()
    }

    @usableFromInline
    mutating func readTagSlow() throws(WireError) -> UInt32 {
        let start = position
        let value = try readVarint()
        guard value <= UInt64(UInt32.max) else {
            throw WireError(.malformedVarint, "field tag \(value) does not fit in 32 bits", offset: start)
        }
        guard value >> 3 != 0 else {
            throw WireError(.invalidValue, "field number 0 is not allowed (tag byte \(value))", offset: start)
        }
        return UInt32(truncatingIfNeeded: value)
    }

    /// Reads a base-128 varint of up to 10 bytes.
    @inlinable @inline(__always)
    public mutating func readVarint() throws(WireError) -> UInt64 {
        if position < end {
            let first = byte(at: position)
            if first < 0x80 {
                position &+= 1
                return UInt64(first)
            }
        }
        return try readVarintSlow()
    }

    @usableFromInline
    mutating func readVarintSlow() throws(WireError) -> UInt64 {
        var index = position
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while index < end {
            let current = byte(at: index)
            index &+= 1
            if shift == 63 {
                // The tenth byte may only contribute the top bit and must end the varint.
                guard current <= 1 else {
                    throw WireError(.malformedVarint, "varint is longer than 10 bytes or overflows 64 bits", offset: position)
                }
                position = index
                return result | UInt64(current) << 63
            }
            result |= UInt64(current & 0x7F) << shift
            if current < 0x80 {
                position = index
                return result
            }
            shift &+= 7
        }
        throw WireError(.truncated, "varint runs past the end of the input", offset: position)
    }

    /// A `uint32` field (or enum): the low 32 bits of the varint, as protobuf parsers do.
    @inlinable @inline(__always)
    public mutating func readVarintUInt32() throws(WireError) -> UInt32 {
        UInt32(truncatingIfNeeded: try readVarint())
    }

    /// An `int32` field or an enum: the low 32 bits of the (possibly sign-extended) varint.
    @inlinable @inline(__always)
    public mutating func readVarintInt32() throws(WireError) -> Int32 {
        Int32(truncatingIfNeeded: try readVarint())
    }

    /// An `int64` field.
    @inlinable @inline(__always)
    public mutating func readVarintInt64() throws(WireError) -> Int64 {
        Int64(bitPattern: try readVarint())
    }

    @inlinable @inline(__always)
    public mutating func readBool() throws(WireError) -> Bool {
        try readVarint() != 0
    }

    /// A `sint32` field (zigzag).
    @inlinable @inline(__always)
    public mutating func readSInt32() throws(WireError) -> Int32 {
        let raw = UInt32(truncatingIfNeeded: try readVarint())
        return Int32(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// A `sint64` field (zigzag).
    @inlinable @inline(__always)
    public mutating func readSInt64() throws(WireError) -> Int64 {
        let raw = try readVarint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    // MARK: - Fixed-width

    @inlinable @inline(__always)
    public mutating func readFixed64() throws(WireError) -> UInt64 {
        guard end &- position >= 8 else { throw truncation(needed: 8, what: "fixed64") }
        let value = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: position, as: UInt64.self))
        position &+= 8
        return value
    }

    @inlinable @inline(__always)
    public mutating func readFixed32() throws(WireError) -> UInt32 {
        guard end &- position >= 4 else { throw truncation(needed: 4, what: "fixed32") }
        let value = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: position, as: UInt32.self))
        position &+= 4
        return value
    }

    @inlinable @inline(__always)
    public mutating func readSFixed64() throws(WireError) -> Int64 {
        Int64(bitPattern: try readFixed64())
    }

    @inlinable @inline(__always)
    public mutating func readDouble() throws(WireError) -> Double {
        Double(bitPattern: try readFixed64())
    }

    @inlinable @inline(__always)
    public mutating func readFloat() throws(WireError) -> Float {
        Float(bitPattern: try readFixed32())
    }

    @usableFromInline
    func truncation(needed: Int, what: String) -> WireError {
        WireError(.truncated, "\(what) needs \(needed) bytes but only \(end - position) remain", offset: position)
    }

    // MARK: - Length-delimited

    /// Reads a length prefix and checks that that many bytes remain.
    @inlinable @inline(__always)
    public mutating func readLength() throws(WireError) -> Int {
        let start = position
        let length = try readVarint()
        guard length <= UInt64(end &- position) else { throw lengthError(length, start: start) }
        return Int(truncatingIfNeeded: length)
    }

    @usableFromInline
    func lengthError(_ length: UInt64, start: Int) -> WireError {
        WireError(.truncated, "length \(length) runs past the end of the input (\(end - position) bytes remain)", offset: start)
    }

    /// The contents of a length-delimited field, borrowed from the input. Its start is `offset - result.count`.
    @inlinable @inline(__always)
    public mutating func readBytesView() throws(WireError) -> UnsafeRawBufferPointer {
        let length = try readLength()
        let view = UnsafeRawBufferPointer(start: base + position, count: length)
        position &+= length
        return view
    }

    /// A `bytes` field, copied.
    @inlinable
    public mutating func readBytes() throws(WireError) -> [UInt8] {
        let view = try readBytesView()
        return view.isEmpty ? [] : [UInt8](view)
    }

    /// A reader over an embedded message; this reader moves past it.
    @inlinable @inline(__always)
    public mutating func readMessage() throws(WireError) -> ProtobufReader {
        let length = try readLength()
        let nested = ProtobufReader(base: base, offset: position, end: position &+ length)
        position &+= length
        return nested
    }

    /// A `string` field; throws `.invalidUTF8` (with the offset of the first bad byte) if it is not UTF-8.
    @inlinable @inline(__always)
    public mutating func readString() throws(WireError) -> String {
        let length = try readLength()
        let start = position
        position &+= length
        return try ProtobufReader.makeString(base + start, count: length, offset: start)
    }

    /// Validates `count` bytes at `pointer` as UTF-8 and makes a String of them.
    ///
    /// (`String(validating:as:)` is not specialized in the standard library and instantiates generic metadata on
    /// every call; validating here and then using the UTF-8 fast path of `String(decoding:as:)` is much faster.)
    @inlinable @inline(__always)
    public static func makeString(_ pointer: UnsafeRawPointer, count: Int, offset: Int) throws(WireError) -> String {
        if count == 0 { return "" }
        let bytes = UnsafeBufferPointer(start: pointer.assumingMemoryBound(to: UInt8.self), count: count)
        guard UTF8Validation.isValid(pointer, count: count) else { throw utf8Error(bytes, offset: offset) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The error for bytes that failed UTF-8 validation, pointing at the first bad byte.
    @usableFromInline
    static func utf8Error(_ bytes: UnsafeBufferPointer<UInt8>, offset: Int) -> WireError {
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var index = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar):
                index += scalar.count
            case .error(let length):
                let bad = bytes[index]
                return WireError(
                    .invalidUTF8,
                    "string is not valid UTF-8: bad sequence of \(length) byte(s) starting with 0x\(String(bad, radix: 16)) at index \(index) of \(bytes.count)",
                    offset: offset + index
                )
            case .emptyInput:
                return WireError(.invalidUTF8, "string is not valid UTF-8", offset: offset)
            }
        }
    }

    // MARK: - Repeated scalars (packed and unpacked)

    /// Appends the values of a packed `repeated fixed64` field (wire type 2); the tag was just read.
    @inlinable
    public mutating func readPackedFixed64(into values: inout [UInt64]) throws(WireError) {
        let start = position
        let view = try readBytesView()
        guard view.count % 8 == 0 else {
            throw WireError(.invalidLength, "packed fixed64 field has \(view.count) bytes, not a multiple of 8", offset: start)
        }
        let count = view.count / 8
        values.reserveCapacity(values.count + count)
        for index in 0..<count {
            values.append(UInt64(littleEndian: view.loadUnaligned(fromByteOffset: index &* 8, as: UInt64.self)))
        }
    }

    /// Appends the values of a packed `repeated double` field (wire type 2); the tag was just read.
    @inlinable
    public mutating func readPackedDouble(into values: inout [Double]) throws(WireError) {
        let start = position
        let view = try readBytesView()
        guard view.count % 8 == 0 else {
            throw WireError(.invalidLength, "packed double field has \(view.count) bytes, not a multiple of 8", offset: start)
        }
        let count = view.count / 8
        values.reserveCapacity(values.count + count)
        for index in 0..<count {
            values.append(Double(bitPattern: UInt64(littleEndian: view.loadUnaligned(fromByteOffset: index &* 8, as: UInt64.self))))
        }
    }

    /// Appends the values of a packed `repeated uint64` (varint) field (wire type 2); the tag was just read.
    @inlinable
    public mutating func readPackedVarint(into values: inout [UInt64]) throws(WireError) {
        var packed = try readMessage()
        var terminators = 0
        for index in packed.position..<packed.end where packed.byte(at: index) < 0x80 { terminators &+= 1 }
        values.reserveCapacity(values.count + terminators)
        while !packed.isAtEnd { values.append(try packed.readVarint()) }
    }

    // MARK: - Skipping

    /// Skips the value of a field whose tag was just read: any of wire types 0, 1, 2, 5, and whole groups (3);
    /// rejects an unmatched end-group (4) and the undefined wire types 6 and 7.
    @inlinable
    public mutating func skipField(tag: UInt32) throws(WireError) {
        switch tag & 7 {
        case 0:
            _ = try readVarint()
        case 1:
            guard end &- position >= 8 else { throw truncation(needed: 8, what: "fixed64 field \(tag >> 3)") }
            position &+= 8
        case 2:
            let length = try readLength()
            position &+= length
        case 5:
            guard end &- position >= 4 else { throw truncation(needed: 4, what: "fixed32 field \(tag >> 3)") }
            position &+= 4
        case 3:
            try skipGroup(fieldNumber: tag >> 3, depth: 1)
        default:
            throw wireTypeError(tag: tag)
        }
    }

    @usableFromInline
    func wireTypeError(tag: UInt32) -> WireError {
        let tagOffset = position - ProtobufWriter.varintSize(UInt64(tag))
        if tag & 7 == 4 {
            return WireError(.invalidWireType, "end-group for field \(tag >> 3) without a matching start-group", offset: tagOffset)
        }
        return WireError(.invalidWireType, "wire type \(tag & 7) (field \(tag >> 3)) does not exist", offset: tagOffset)
    }

    @usableFromInline
    mutating func skipGroup(fieldNumber: UInt32, depth: Int) throws(WireError) {
        guard depth <= Self.maximumGroupDepth else {
            throw WireError(.invalidValue, "groups nested more than \(Self.maximumGroupDepth) deep", offset: position)
        }
        let start = position
        while !isAtEnd {
            let tag = try readTag()
            switch tag & 7 {
            case 4:
                guard tag >> 3 == fieldNumber else {
                    throw WireError(
                        .invalidWireType, "end-group for field \(tag >> 3) inside the group of field \(fieldNumber)",
                        offset: position - ProtobufWriter.varintSize(UInt64(tag))
                    )
                }
                return
            case 3:
                try skipGroup(fieldNumber: tag >> 3, depth: depth + 1)
            default:
                try skipField(tag: tag)
            }
        }
        throw WireError(.truncated, "group of field \(fieldNumber) has no end-group", offset: start)
    }

    // MARK: - Sizing repeated fields

    /// A guess at how many elements a repeated message field has, made when its first element (`firstElement`)
    /// has just been read: the bytes left in this reader divided by the first element's size, plus one. It
    /// reads nothing (counting exactly would touch every element's header, a cache miss each in a large
    /// request). Elements are assumed to take at least 64 bytes, which bounds the over-reservation when the
    /// first element is much smaller than the rest.
    @inlinable
    public func estimatedRepeatCount(firstElement: ProtobufReader) -> Int {
        let elementSize = Swift.max(firstElement.end &- firstElement.position &+ 3, 64)
        return (end &- position) / elementSize &+ 1
    }

    /// How many length-delimited fields with `tag` follow one another from here, where the reader has just read
    /// such a tag (so the answer is at least 1). Used to reserve array capacity up front; reads nothing, never
    /// throws and stops at anything unexpected (the real decode then reports it).
    @inlinable
    public func countLengthDelimitedRun(tag: UInt32) -> Int {
        var position = self.position
        var count = 0
        while true {
            // The length varint.
            var length: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard position < end, shift < 64 else { return Swift.max(count, 1) }
                let current = byte(at: position)
                position &+= 1
                length |= UInt64(current & 0x7F) << shift
                if current < 0x80 { break }
                shift &+= 7
            }
            guard length <= UInt64(end &- position) else { return Swift.max(count, 1) }
            position &+= Int(truncatingIfNeeded: length)
            count &+= 1
            // The next tag must be the same.
            var remainingTag = tag
            while remainingTag >= 0x80 {
                guard position < end, byte(at: position) == UInt8(truncatingIfNeeded: remainingTag) | 0x80 else { return count }
                position &+= 1
                remainingTag >>= 7
            }
            guard position < end, byte(at: position) == UInt8(truncatingIfNeeded: remainingTag) else { return count }
            position &+= 1
        }
    }
}
