import CCRC32C

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by iSCSI, ext4, LevelDB/RocksDB logs.
///
/// The CPU's CRC-32C instruction where there is one (module `CCRC32C`: 8 bytes every 3 cycles), else
/// software slicing-by-8: eight bytes per step with eight 256-entry tables (about 1-2 GB/s).
/// `checksum("123456789") == 0xE3069283`.
public enum CRC32C: Sendable {
    /// The checksum of `bytes`.
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        update(0, bytes)
    }

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { update(0, $0) }
    }

    /// Extends a checksum: `update(checksum(a), b) == checksum(a + b)`.
    public static func update(_ crc: UInt32, _ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { update(crc, $0) }
    }

    /// Extends a checksum: `update(checksum(a), b) == checksum(a + b)`.
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let pointer = bytes.baseAddress, bytes.count > 0 else { return crc }
        if hardwareAvailable { return loupe_crc32c_hardware_update(crc, pointer, bytes.count) }
        return updateInSoftware(crc, bytes)
    }

    /// Whether `update` uses the CPU's CRC-32C instruction (SSE4.2 on x86-64, the ARMv8 CRC extension).
    public static let hardwareAvailable = loupe_crc32c_hardware_available() != 0

    /// The table-driven computation, for CPUs without the instruction (and to test it against).
    static func updateInSoftware(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard var pointer = bytes.baseAddress, bytes.count > 0 else { return crc }
        var remaining = bytes.count
        var c = ~crc
        let t = tables.baseAddress
        while remaining >= 8 {
            let word = UInt64(littleEndian: pointer.loadUnaligned(as: UInt64.self))
            let low = UInt32(truncatingIfNeeded: word) ^ c
            let high = UInt32(truncatingIfNeeded: word &>> 32)
            c = t[7 &* 256 &+ Int(low & 0xFF)]
                ^ t[6 &* 256 &+ Int((low &>> 8) & 0xFF)]
                ^ t[5 &* 256 &+ Int((low &>> 16) & 0xFF)]
                ^ t[4 &* 256 &+ Int(low &>> 24)]
                ^ t[3 &* 256 &+ Int(high & 0xFF)]
                ^ t[2 &* 256 &+ Int((high &>> 8) & 0xFF)]
                ^ t[1 &* 256 &+ Int((high &>> 16) & 0xFF)]
                ^ t[Int(high &>> 24)]
            pointer += 8
            remaining &-= 8
        }
        while remaining > 0 {
            c = t[Int((c ^ UInt32(pointer.load(as: UInt8.self))) & 0xFF)] ^ (c &>> 8)
            pointer += 1
            remaining &-= 1
        }
        return ~c
    }

    /// Eight 256-entry tables; table k maps a byte to its contribution k bytes further on.
    /// Allocated once and never freed (a process-wide constant).
    private static let tables: UnsafePointerBox = {
        let pointer = UnsafeMutablePointer<UInt32>.allocate(capacity: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 {
                c = c & 1 == 1 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1
            }
            pointer[i] = c
        }
        for k in 1..<8 {
            for i in 0..<256 {
                let previous = pointer[(k - 1) * 256 + i]
                pointer[k * 256 + i] = (previous >> 8) ^ pointer[Int(previous & 0xFF)]
            }
        }
        return UnsafePointerBox(baseAddress: UnsafePointer(pointer))
    }()

    private struct UnsafePointerBox: @unchecked Sendable {
        // Immutable after initialisation, so sharing it between threads is safe.
        let baseAddress: UnsafePointer<UInt32>
    }
}
