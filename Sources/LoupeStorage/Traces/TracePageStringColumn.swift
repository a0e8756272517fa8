#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension TracePageCodec {
    /// Strings as references: 0 takes the next string of the table (stored in order of first
    /// use), n > 0 the (n-1)-th; so a value seen once costs its bytes and a tiny reference.
    ///
    /// Keyed by UTF-8 bytes, not `String`: block writing reads strings straight out of stored
    /// protobuf, and a `String` per name, key and value was most of what that cost. The lookup is
    /// an open-addressing table of table indices, hashed with a few multiplies rather than SipHash.
    struct StringColumn {
        var references = ByteSink()
        var table = ByteSink()
        /// Where each table string's bytes start in `table`, and their lengths.
        private var starts: [Int] = []
        private var lengths: [Int] = []
        /// Table index + 1 of the strings written through `write` (0: empty slot).
        private var slots = [Int32](repeating: 0, count: 64)
        private var indexed = 0

        /// Strings in the table.
        var count: Int { starts.count }

        /// Writes a reference to `bytes` and returns its index in the table.
        @discardableResult
        mutating func write(_ bytes: UnsafeRawBufferPointer) -> Int {
            let mask = slots.count - 1
            var slot = Int(truncatingIfNeeded: Self.hash(bytes)) & mask
            while slots[slot] != 0 {
                let index = Int(slots[slot]) - 1
                if matches(index, bytes) {
                    references.uvarint(index + 1)
                    return index
                }
                slot = (slot + 1) & mask
            }
            let index = appendUnindexed(bytes)
            slots[slot] = Int32(index + 1)
            indexed += 1
            if indexed * 2 > slots.count { grow() }
            return index
        }

        @discardableResult
        mutating func write(_ value: String) -> Int {
            var value = value
            return value.withUTF8 { write(UnsafeRawBufferPointer($0)) }
        }

        /// Adds `bytes` to the table without looking them up or remembering them: for values that
        /// hardly ever repeat (URLs, IDs), where the lookup costs more than it saves.
        mutating func appendUnindexed(_ bytes: UnsafeRawBufferPointer) -> Int {
            references.uvarint(0)
            table.uvarint(bytes.count)
            starts.append(table.count)
            lengths.append(bytes.count)
            table.bytes.append(contentsOf: bytes)
            return starts.count - 1
        }

        mutating func appendUnindexed(_ value: String) -> Int {
            var value = value
            return value.withUTF8 { appendUnindexed(UnsafeRawBufferPointer($0)) }
        }

        /// Writes a reference to a string already in the table.
        mutating func writeReference(_ index: Int) {
            references.uvarint(index + 1)
        }

        /// Whether the table's `index`-th string is `bytes`.
        func matches(_ index: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
            let length = lengths[index]
            guard length == bytes.count else { return false }
            guard length > 0 else { return true }
            let start = starts[index]
            return table.bytes.withUnsafeBytes { stored in
                memcmp(stored.baseAddress! + start, bytes.baseAddress!, length) == 0
            }
        }

        func matches(_ index: Int, _ value: String) -> Bool {
            var value = value
            return value.withUTF8 { matches(index, UnsafeRawBufferPointer($0)) }
        }

        private mutating func grow() {
            var larger = [Int32](repeating: 0, count: slots.count * 2)
            let mask = larger.count - 1
            for entry in slots where entry != 0 {
                let index = Int(entry) - 1
                let hash = table.bytes.withUnsafeBytes { stored in
                    Self.hash(UnsafeRawBufferPointer(rebasing: stored[starts[index]..<starts[index] + lengths[index]]))
                }
                var slot = Int(truncatingIfNeeded: hash) & mask
                while larger[slot] != 0 { slot = (slot + 1) & mask }
                larger[slot] = entry
            }
            slots = larger
        }

        /// A fast, well-mixed hash of a byte string: eight bytes at a time through a multiply and
        /// fold, the length mixed in. (Not for untrusted keys in long-lived tables; a page's table
        /// lives for one page.)
        @inline(__always)
        static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
            let count = bytes.count
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: count)
            guard let base = bytes.baseAddress else { return fold(state, 0) }
            var offset = 0
            while offset + 8 <= count {
                state = fold(state, base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                offset += 8
            }
            if offset < count {
                var tail: UInt64 = 0
                for index in offset..<count { tail |= UInt64(base.load(fromByteOffset: index, as: UInt8.self)) << UInt64((index - offset) * 8) }
                state = fold(state, tail)
            }
            return fold(state, 0x2545_F491_4F6C_DD1D)
        }

        @inline(__always)
        private static func fold(_ state: UInt64, _ word: UInt64) -> UInt64 {
            let product = (state ^ word).multipliedFullWidth(by: 0xBF58_476D_1CE4_E5B9)
            return product.high ^ product.low
        }
    }
}
