/// A small per-decode cache that hands out one shared `String` for equal runs of UTF-8 bytes.
///
/// Attribute keys (and many values and span names) repeat across the spans of a request. Strings of up to 15
/// bytes are stored inline in `String` and cost no allocation, but longer ones are heap objects; the cache lets
/// every repetition of `http.response.status_code` share one allocation, skipping UTF-8 validation, the
/// allocation and the copy. It is a small two-way set-associative cache (a newcomer evicts the least recently
/// used of its two slots), so high-cardinality values cost one hash and a miss, never unbounded memory.
///
/// Memory is manual: create one per decode and call `release()` when done (the decoder does this with `defer`).
/// Not thread-safe; it is only ever used by one decode call.
struct ProtobufStringInterner {
    /// Strings shorter than this live inline in `String`: nothing to save.
    static let minimumLength = 16
    /// Longer strings are unlikely to repeat and would make hashing and comparing cost more than they save.
    static let maximumLength = 256

    /// 0 marks an empty slot; computed hashes always have the low bit set.
    private let hashes: UnsafeMutablePointer<UInt64>
    /// Initialized exactly where `hashes` is non-zero.
    private let strings: UnsafeMutablePointer<String>
    private let mask: Int

    /// `slotCount` is rounded up to a power of two.
    init(slotCount: Int) {
        var size = 16
        while size < slotCount { size <<= 1 }
        mask = size - 1
        hashes = .allocate(capacity: size)
        hashes.initialize(repeating: 0, count: size)
        strings = .allocate(capacity: size)
    }

    func release() {
        for slot in 0...mask where hashes[slot] != 0 { (strings + slot).deinitialize(count: 1) }
        hashes.deallocate()
        strings.deallocate()
    }

    /// The string for `count` bytes at `pointer` (which sit at `offset` in the input); throws `.invalidUTF8`
    /// when they are not UTF-8.
    @inline(__always)
    func string(_ pointer: UnsafeRawPointer, count: Int, offset: Int) throws(WireError) -> String {
        if count < Self.minimumLength || count > Self.maximumLength {
            return try ProtobufReader.makeString(pointer, count: count, offset: offset)
        }
        return try lookUp(pointer, count: count, offset: offset)
    }

    private func lookUp(_ pointer: UnsafeRawPointer, count: Int, offset: Int) throws(WireError) -> String {
        let hash = Self.hash(pointer, count: count)
        // Two-way set associative with LRU order inside the set: way 0 is the most recently used.
        let first = Int(truncatingIfNeeded: hash >> 40) & mask & ~1
        let second = first | 1
        if hashes[first] == hash && matches(strings[first], pointer, count: count) { return strings[first] }
        if hashes[second] == hash && matches(strings[second], pointer, count: count) {
            swap(&strings[first], &strings[second])
            (hashes[first], hashes[second]) = (hashes[second], hashes[first])
            return strings[first]
        }
        let string = try ProtobufReader.makeString(pointer, count: count, offset: offset)
        // Demote way 0 to way 1 (dropping what was there) and put the newcomer in way 0.
        if hashes[second] != 0 { (strings + second).deinitialize(count: 1) }
        if hashes[first] != 0 {
            (strings + second).moveInitialize(from: strings + first, count: 1)
        }
        hashes[second] = hashes[first]
        (strings + first).initialize(to: string)
        hashes[first] = hash
        return string
    }

    @inline(__always)
    private func matches(_ cached: String, _ pointer: UnsafeRawPointer, count: Int) -> Bool {
        cached.utf8.withContiguousStorageIfAvailable { stored in
            stored.count == count && Self.equalBytes(UnsafeRawPointer(stored.baseAddress!), pointer, count: count)
        } == true
    }

    /// A cheap hash of `count >= 16` bytes from three words (start, middle, end) and the length: three
    /// independent multiplies, so it costs a few cycles whatever the length. Strings that share those words
    /// collide and merely miss the cache; equality is always checked on all bytes.
    @inline(__always)
    static func hash(_ pointer: UnsafeRawPointer, count: Int) -> UInt64 {
        let first = pointer.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        let middle = pointer.loadUnaligned(fromByteOffset: (count >> 1) &- 4, as: UInt64.self)
        let last = pointer.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self)
        var hash = (first &* 0x9E37_79B9_7F4A_7C15) ^ (middle &* 0xC2B2_AE3D_27D4_EB4F)
            ^ ((last ^ UInt64(truncatingIfNeeded: count)) &* 0x1656_67B1_9E37_79F9)
        hash ^= hash >> 29
        return hash | 1
    }

    /// Compares `count >= 8` bytes.
    @inline(__always)
    static func equalBytes(_ lhs: UnsafeRawPointer, _ rhs: UnsafeRawPointer, count: Int) -> Bool {
        var index = 0
        while index &+ 8 <= count {
            if lhs.loadUnaligned(fromByteOffset: index, as: UInt64.self) != rhs.loadUnaligned(fromByteOffset: index, as: UInt64.self) {
                return false
            }
            index &+= 8
        }
        if index < count {
            return lhs.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self)
                == rhs.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self)
        }
        return true
    }
}
