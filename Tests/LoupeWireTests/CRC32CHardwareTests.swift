@testable import LoupeWire
import Testing

/// The CPU instruction and the table-driven loop give the same checksums, from every alignment.
@Suite("CRC-32C: instruction and tables agree")
struct CRC32CHardwareTests {
    @Test func softwareAndHardwareAgreeAtEveryLengthAndAlignment() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let data: [UInt8] = (0..<1_200).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        data.withUnsafeBytes { all in
            for start in 0..<16 {
                for length in 0..<(all.count - start) where length < 100 || length % 61 == 0 {
                    let bytes = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    let software = CRC32C.updateInSoftware(0, bytes)
                    #expect(CRC32C.update(0, bytes) == software)
                    // Extending a checksum, the way WAL records are summed (length, then the rest).
                    let split = length / 3
                    let first = CRC32C.update(0, UnsafeRawBufferPointer(rebasing: bytes[0..<split]))
                    #expect(CRC32C.update(first, UnsafeRawBufferPointer(rebasing: bytes[split...])) == software)
                }
            }
        }
        #expect(CRC32C.updateInSoftware(0, UnsafeRawBufferPointer(start: nil, count: 0)) == 0)
    }

    #if arch(x86_64)
    /// Every x86-64 machine Loupe runs on (x86-64-v2 and later) has SSE4.2; if detection broke, the
    /// instruction would silently never be used.
    @Test func theInstructionIsFoundOnX86() {
        #expect(CRC32C.hardwareAvailable)
    }
    #endif
}
