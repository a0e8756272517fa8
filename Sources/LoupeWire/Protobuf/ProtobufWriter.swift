/// An encoder of the protobuf wire format that writes BACKWARDS, from the end of its buffer towards the start.
///
/// Writing back to front means the length of an embedded message is known as soon as its body has been
/// written, so it is simply prepended: one pass, no size pre-computation, no shifting of bytes. The price is
/// that everything is written in reverse order: the last field of a message first, repeated elements from
/// last to first, and for every field its value before its tag. To emit fields in ascending field-number order
/// (what the official runtimes do), prepend them in descending order.
///
///     var writer = ProtobufWriter()
///     // message Pair { string key = 1; Inner value = 2; }   written as: value, then key
///     let valueEnd = writer.count
///     writer.prependVarintField(1, 42)                 // Inner's fields...
///     writer.prependLengthAndTag(field: 2, since: valueEnd)
///     writer.prependStringField(1, "answer")
///     let bytes = writer.finish()
public struct ProtobufWriter: ~Copyable {
    @usableFromInline var storage: UnsafeMutableRawPointer
    @usableFromInline var capacity: Int
    /// Index of the first written byte; the output is `storage[head..<capacity]`.
    @usableFromInline var head: Int

    public init(capacity: Int = 1024) {
        let capacity = Swift.max(capacity, 16)
        self.storage = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        self.capacity = capacity
        self.head = capacity
    }

    deinit { storage.deallocate() }

    /// Bytes written so far. Take it before writing a message body and pass it to `prependLengthAndTag`.
    @inlinable
    public var count: Int {
        @inline(__always) get { capacity &- head }
    }

    /// The bytes written, in order.
    public consuming func finish() -> [UInt8] {
        let used = count
        let start = storage + head
        return [UInt8](unsafeUninitializedCapacity: used) { buffer, initialized in
            if used > 0 { UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: start, byteCount: used) }
            initialized = used
        }
    }

    /// Makes room for `byteCount` more bytes in front of what was written.
    @inlinable @inline(__always)
    mutating func reserve(_ byteCount: Int) {
        if head < byteCount { grow(minimumFree: byteCount) }
    }

    @usableFromInline
    mutating func grow(minimumFree byteCount: Int) {
        let used = count
        var newCapacity = capacity &* 2
        while newCapacity &- used < byteCount { newCapacity &*= 2 }
        let newStorage = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 8)
        (newStorage + (newCapacity &- used)).copyMemory(from: storage + head, byteCount: used)
        storage.deallocate()
        storage = newStorage
        head = newCapacity &- used
        capacity = newCapacity
    }

    // MARK: - Raw values

    /// How many bytes the varint encoding of `value` takes (1...10).
    @inlinable @inline(__always)
    public static func varintSize(_ value: UInt64) -> Int {
        let bits = 64 &- (value | 1).leadingZeroBitCount
        return (bits &* 9 &+ 64) >> 6
    }

    @inlinable @inline(__always)
    public mutating func prependVarint(_ value: UInt64) {
        if value < 0x80 {
            reserve(1)
            head &-= 1
            storage.storeBytes(of: UInt8(truncatingIfNeeded: value), toByteOffset: head, as: UInt8.self)
            return
        }
        prependMultiByteVarint(value)
    }

    @usableFromInline
    mutating func prependMultiByteVarint(_ value: UInt64) {
        let size = Self.varintSize(value)
        reserve(size)
        head &-= size
        var remaining = value
        var position = head
        while remaining >= 0x80 {
            storage.storeBytes(of: UInt8(truncatingIfNeeded: remaining) | 0x80, toByteOffset: position, as: UInt8.self)
            remaining >>= 7
            position &+= 1
        }
        storage.storeBytes(of: UInt8(truncatingIfNeeded: remaining), toByteOffset: position, as: UInt8.self)
    }

    @inlinable @inline(__always)
    public mutating func prependTag(field: UInt32, wireType: ProtobufWireType) {
        prependVarint(UInt64(field << 3 | wireType.rawValue))
    }

    @inlinable @inline(__always)
    public mutating func prependFixed64(_ value: UInt64) {
        reserve(8)
        head &-= 8
        storage.storeBytes(of: value.littleEndian, toByteOffset: head, as: UInt64.self)
    }

    @inlinable @inline(__always)
    public mutating func prependFixed32(_ value: UInt32) {
        reserve(4)
        head &-= 4
        storage.storeBytes(of: value.littleEndian, toByteOffset: head, as: UInt32.self)
    }

    /// Eight bytes, most significant first (for IDs, which OTLP carries as big-endian byte strings).
    @inlinable @inline(__always)
    public mutating func prependBigEndian64(_ value: UInt64) {
        reserve(8)
        head &-= 8
        storage.storeBytes(of: value.bigEndian, toByteOffset: head, as: UInt64.self)
    }

    @inlinable @inline(__always)
    public mutating func prependRawBytes(_ bytes: UnsafeRawBufferPointer) {
        let length = bytes.count
        guard length > 0 else { return }
        reserve(length)
        head &-= length
        (storage + head).copyMemory(from: bytes.baseAddress!, byteCount: length)
    }

    /// The UTF-8 bytes of `string`, without a length.
    @inlinable
    public mutating func prependRawString(_ string: String) {
        var string = string
        string.withUTF8 { prependRawBytes(UnsafeRawBufferPointer($0)) }
    }

    /// The length of everything written since `mark` (a `count` taken earlier), as a varint.
    @inlinable @inline(__always)
    public mutating func prependLength(since mark: Int) {
        prependVarint(UInt64(count &- mark))
    }

    // MARK: - Whole fields (each always written; leaving out proto3 defaults is the caller's choice)

    @inlinable @inline(__always)
    public mutating func prependVarintField(_ field: UInt32, _ value: UInt64) {
        prependVarint(value)
        prependTag(field: field, wireType: .varint)
    }

    /// An `int32` or enum field: negative values are sign-extended to 10 bytes, as protobuf requires.
    @inlinable @inline(__always)
    public mutating func prependInt32Field(_ field: UInt32, _ value: Int32) {
        prependVarintField(field, UInt64(bitPattern: Int64(value)))
    }

    @inlinable @inline(__always)
    public mutating func prependInt64Field(_ field: UInt32, _ value: Int64) {
        prependVarintField(field, UInt64(bitPattern: value))
    }

    /// A `sint32` field (zigzag).
    @inlinable @inline(__always)
    public mutating func prependSInt32Field(_ field: UInt32, _ value: Int32) {
        prependVarintField(field, UInt64(UInt32(bitPattern: (value << 1) ^ (value >> 31))))
    }

    /// A `sint64` field (zigzag).
    @inlinable @inline(__always)
    public mutating func prependSInt64Field(_ field: UInt32, _ value: Int64) {
        prependVarintField(field, UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    @inlinable @inline(__always)
    public mutating func prependBoolField(_ field: UInt32, _ value: Bool) {
        prependVarintField(field, value ? 1 : 0)
    }

    @inlinable @inline(__always)
    public mutating func prependFixed64Field(_ field: UInt32, _ value: UInt64) {
        prependFixed64(value)
        prependTag(field: field, wireType: .fixed64)
    }

    @inlinable @inline(__always)
    public mutating func prependFixed32Field(_ field: UInt32, _ value: UInt32) {
        prependFixed32(value)
        prependTag(field: field, wireType: .fixed32)
    }

    @inlinable @inline(__always)
    public mutating func prependDoubleField(_ field: UInt32, _ value: Double) {
        prependFixed64Field(field, value.bitPattern)
    }

    @inlinable
    public mutating func prependStringField(_ field: UInt32, _ value: String) {
        let mark = count
        prependRawString(value)
        prependLengthAndTag(field: field, since: mark)
    }

    @inlinable
    public mutating func prependBytesField(_ field: UInt32, _ value: UnsafeRawBufferPointer) {
        prependRawBytes(value)
        prependVarint(UInt64(value.count))
        prependTag(field: field, wireType: .lengthDelimited)
    }

    /// Closes a length-delimited field whose contents (a message body, packed values, bytes) were written since
    /// `mark`: prepends their length and the field's tag.
    @inlinable @inline(__always)
    public mutating func prependLengthAndTag(field: UInt32, since mark: Int) {
        prependLength(since: mark)
        prependTag(field: field, wireType: .lengthDelimited)
    }

    /// A packed `repeated fixed64` field; nothing when `values` is empty.
    @inlinable
    public mutating func prependPackedFixed64Field(_ field: UInt32, _ values: [UInt64]) {
        guard !values.isEmpty else { return }
        let mark = count
        let byteCount = values.count &* 8
        reserve(byteCount)
        head &-= byteCount
        var position = head
        for value in values {
            storage.storeBytes(of: value.littleEndian, toByteOffset: position, as: UInt64.self)
            position &+= 8
        }
        prependLengthAndTag(field: field, since: mark)
    }

    /// A packed `repeated double` field; nothing when `values` is empty.
    @inlinable
    public mutating func prependPackedDoubleField(_ field: UInt32, _ values: [Double]) {
        guard !values.isEmpty else { return }
        let mark = count
        let byteCount = values.count &* 8
        reserve(byteCount)
        head &-= byteCount
        var position = head
        for value in values {
            storage.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: position, as: UInt64.self)
            position &+= 8
        }
        prependLengthAndTag(field: field, since: mark)
    }

    /// A packed `repeated uint64` (varint) field; nothing when `values` is empty.
    @inlinable
    public mutating func prependPackedVarintField(_ field: UInt32, _ values: [UInt64]) {
        guard !values.isEmpty else { return }
        let mark = count
        for value in values.reversed() { prependVarint(value) }
        prependLengthAndTag(field: field, since: mark)
    }
}
