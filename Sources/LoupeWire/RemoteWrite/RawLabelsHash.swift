/// A fast 64-bit hash of a series' label fields as they appear on the wire (tags, lengths and
/// bytes), for `RemoteWriteLabelCache`. Not cryptographic: a collision only costs a decode, since a
/// cached label set is used only after its bytes are compared. Only ever compared within one
/// process, so the byte order of the loads does not matter.
struct RawLabelsHash {
    private(set) var value: UInt64 = 0x243F_6A88_85A3_08D3

    /// Two independent lanes of 8 bytes each, so the multiplies do not wait on each other; the
    /// last 1...7 bytes are read with one overlapping load where the run allows it.
    @inline(__always)
    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        let count = bytes.count
        var left = (value ^ UInt64(truncatingIfNeeded: count)) &* 0xFF51_AFD7_ED55_8CCD
        var right = value &+ 0x9E37_79B9_7F4A_7C15
        var index = 0
        while index &+ 16 <= count {
            left = (left ^ bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
            right = (right ^ bytes.loadUnaligned(fromByteOffset: index &+ 8, as: UInt64.self)) &* 0xC2B2_AE3D_27D4_EB4F
            left ^= left >> 29
            right ^= right >> 31
            index &+= 16
        }
        if index &+ 8 <= count {
            left = (left ^ bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
            left ^= left >> 29
            index &+= 8
        }
        if index < count {
            var tail: UInt64 = 0
            if count >= 8 {
                // The last 8 bytes, shifted so only the ones not hashed yet remain (the earliest
                // bytes of the load are its low bits on a little-endian machine).
                let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self))
                tail = word >> UInt64(8 &* (8 &- (count &- index)))
            } else {
                var shift: UInt64 = 0
                while index < count {
                    tail |= UInt64(bytes[index]) << shift
                    shift &+= 8
                    index &+= 1
                }
            }
            right = (right ^ tail) &* 0xC2B2_AE3D_27D4_EB4F
            right ^= right >> 31
        }
        let hash = (left ^ (right &* 0xFF51_AFD7_ED55_8CCD)) &* 0x9E37_79B9_7F4A_7C15
        value = hash ^ (hash >> 32)
    }
}
