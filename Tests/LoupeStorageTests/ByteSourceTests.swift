import LoupeModel
import Testing

@testable import LoupeStorage

/// The varint reader every block format uses: the one-byte fast path and skipping without decoding.
@Suite struct ByteSourceTests {
    /// Values of every encoded length, from one to ten bytes.
    static func values(_ count: Int, seed: UInt64) -> [UInt64] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            let bits = random.next() % 65
            return bits == 0 ? 0 : random.next() >> (64 - bits)
        }
    }

    @Test func skippingAnyNumberOfVarintsLandsWhereDecodingThemWould() throws {
        let values = Self.values(2_000, seed: 11)
        var sink = ByteSink()
        for value in values { sink.uvarint(value) }
        try sink.bytes.withBytes { bytes throws(StorageError) in
            var reader = ByteSource(bytes)
            var decoded: [UInt64] = []
            while !reader.isAtEnd { decoded.append(try reader.uvarint()) }
            #expect(decoded == values)
            for skip in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 999, 1_999] {
                var skipping = ByteSource(bytes)
                try skipping.skipUVarints(skip)
                #expect(try skipping.uvarint() == values[skip], "after skipping \(skip)")
            }
            var all = ByteSource(bytes)
            try all.skipUVarints(values.count)
            #expect(all.isAtEnd)
        }
    }

    @Test func skippingPastTheEndOrIntoAnUnfinishedVarintFails() throws {
        var sink = ByteSink()
        for value in Self.values(40, seed: 12) { sink.uvarint(value) }
        try (sink.bytes + [0x80, 0x80]).withBytes { bytes throws(StorageError) in
            var reader = ByteSource(bytes)
            #expect(throws: StorageError.self) { try reader.skipUVarints(41) }
            var decoding = ByteSource(bytes)
            try decoding.skipUVarints(40)
            #expect(throws: StorageError.self) { try decoding.uvarint() }
        }
        for length in 0..<12 {
            let bytes = [UInt8](repeating: 0xFF, count: length)
            try bytes.withBytes { raw throws(StorageError) in
                var reader = ByteSource(raw)
                #expect(throws: StorageError.self) { try reader.skipUVarints(1) }
            }
        }
    }
}
