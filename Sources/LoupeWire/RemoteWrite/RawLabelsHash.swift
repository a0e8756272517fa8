/// A fast 64-bit hash of a series' label fields as they appear on the wire (each field's bytes
/// and length), for `RemoteWriteLabelCache`. Not cryptographic: a collision only costs a decode,
/// since a cached label set is used only after its bytes are compared.
struct RawLabelsHash {
    private(set) var value: UInt64 = 0x243F_6A88_85A3_08D3

    @inline(__always)
    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var hash = (value ^ UInt64(bytes.count)) &* 0xFF51_AFD7_ED55_8CCD
        var index = 0
        while index &+ 8 <= bytes.count {
            hash = (hash ^ bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
            hash ^= hash >> 29
            index &+= 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.count {
            tail |= UInt64(bytes[index]) << shift
            shift &+= 8
            index &+= 1
        }
        hash = (hash ^ tail) &* 0x9E37_79B9_7F4A_7C15
        value = hash ^ (hash >> 32)
    }
}
