/// Hands out one shared `String` for equal runs of bytes: metric names, label names and label values repeat on
/// almost every line of an exposition, so each distinct one is validated and allocated once.
///
/// An open-addressing hash table whose keys live in a byte arena. It can be kept across parses (a scrape loop
/// sees the same strings every time): `ExpositionParser` instances keep theirs, bounded by `maximumEntries` and
/// `maximumArenaBytes`; past either the table is emptied before the next parse.
///
/// Not thread-safe: one parse at a time.
final class ExpositionStringTable {
    static let maximumEntries = 1 << 16
    static let maximumArenaBytes = 4 << 20
    /// Strings longer than this are rarely repeated; they bypass the table.
    static let maximumLength = 256

    private struct Slot {
        /// 0 marks an empty slot (computed hashes always have the low bit set).
        var hash: UInt64
        var start: Int32
        var count: Int32
        var string: String
    }

    private var slots: UnsafeMutablePointer<Slot>
    private var slotCount: Int
    private var mask: Int
    private(set) var count = 0
    private var arena: UnsafeMutablePointer<UInt8>
    private var arenaCapacity: Int
    private var arenaCount = 0

    init(capacity: Int = 512) {
        var size = 64
        while size < capacity * 2 { size <<= 1 }
        slots = Self.emptySlots(size)
        slotCount = size
        mask = size - 1
        arenaCapacity = 4096
        arena = .allocate(capacity: arenaCapacity)
    }

    deinit {
        slots.deinitialize(count: slotCount)
        slots.deallocate()
        arena.deallocate()
    }

    private static func emptySlots(_ size: Int) -> UnsafeMutablePointer<Slot> {
        let slots = UnsafeMutablePointer<Slot>.allocate(capacity: size)
        slots.initialize(repeating: Slot(hash: 0, start: 0, count: 0, string: ""), count: size)
        return slots
    }

    /// `le` and `quantile` values already seen, to their canonical form.
    private var canonicalFloats: [String: String] = [:]

    /// The canonical form of a float label value (`1` → `1.0`, `+inf` → `+Inf`), as Prometheus rewrites `le` and
    /// `quantile`; the value itself when it is not a float.
    func canonicalFloat(_ raw: String) -> String {
        if let known = canonicalFloats[raw] { return known }
        var text = raw
        let parsed = text.withUTF8 { bytes -> Double? in
            guard let base = bytes.baseAddress else { return nil }
            if case .value(let value) = ExpositionNumbers.parseFloat(base, count: bytes.count) { return value }
            return nil
        }
        let canonical = parsed.map(ExpositionNumbers.openMetricsCanonical) ?? raw
        if canonicalFloats.count < 4096 { canonicalFloats[raw] = canonical }
        return canonical
    }

    /// Empties the table if it has grown past its bounds.
    func trimIfNeeded() {
        if canonicalFloats.count >= 4096 { canonicalFloats.removeAll() }
        guard count > Self.maximumEntries || arenaCount > Self.maximumArenaBytes else { return }
        slots.deinitialize(count: slotCount)
        slots.deallocate()
        slots = Self.emptySlots(1024)
        slotCount = 1024
        mask = 1023
        count = 0
        arenaCount = 0
    }

    /// The string for `count` bytes at `pointer`, which must be valid UTF-8.
    @inline(__always)
    func string(_ pointer: UnsafePointer<UInt8>, count length: Int) -> String {
        if length > Self.maximumLength || length == 0 {
            return String(decoding: UnsafeBufferPointer(start: pointer, count: length), as: UTF8.self)
        }
        let hash = Self.hash(pointer, count: length)
        let slots = self.slots
        let mask = self.mask
        var index = Int(truncatingIfNeeded: hash >> 7) & mask
        while true {
            let slotHash = slots[index].hash
            if slotHash == 0 { break }
            if slotHash == hash && Int(slots[index].count) == length
                && Self.equal(arena + Int(slots[index].start), pointer, count: length)
            {
                return slots[index].string
            }
            index = (index &+ 1) & mask
        }
        return insert(pointer, count: length, hash: hash, at: index)
    }

    @inline(never)
    private func insert(_ pointer: UnsafePointer<UInt8>, count length: Int, hash: UInt64, at slot: Int) -> String {
        let string = String(decoding: UnsafeBufferPointer(start: pointer, count: length), as: UTF8.self)
        if arenaCount + length > arenaCapacity {
            var newCapacity = arenaCapacity * 2
            while newCapacity < arenaCount + length { newCapacity *= 2 }
            let newArena = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
            newArena.update(from: arena, count: arenaCount)
            arena.deallocate()
            arena = newArena
            arenaCapacity = newCapacity
        }
        (arena + arenaCount).update(from: pointer, count: length)
        slots[slot] = Slot(hash: hash, start: Int32(arenaCount), count: Int32(length), string: string)
        arenaCount += length
        count += 1
        if count * 2 > slotCount { grow() }
        return string
    }

    private func grow() {
        let old = slots
        let oldCount = slotCount
        let size = oldCount * 2
        slots = Self.emptySlots(size)
        slotCount = size
        mask = size - 1
        for position in 0..<oldCount where old[position].hash != 0 {
            var index = Int(truncatingIfNeeded: old[position].hash >> 7) & mask
            while slots[index].hash != 0 { index = (index &+ 1) & mask }
            slots[index] = old[position]
        }
        old.deinitialize(count: oldCount)
        old.deallocate()
    }

    @inline(__always)
    static func hash(_ pointer: UnsafePointer<UInt8>, count: Int) -> UInt64 {
        let raw = UnsafeRawPointer(pointer)
        var hash = UInt64(truncatingIfNeeded: count) &* 0x9E37_79B9_7F4A_7C15
        if count >= 8 {
            var index = 0
            while index &+ 8 < count {
                hash = (hash ^ raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
                hash ^= hash >> 29
                index &+= 8
            }
            // The last eight bytes (overlapping the previous word when the length is not a multiple of eight).
            hash = (hash ^ raw.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self)) &* 0x94D0_49BB_1331_11EB
        } else {
            var word: UInt64 = 0
            for index in 0..<count { word |= UInt64(pointer[index]) << (UInt64(index) &* 8) }
            hash = (hash ^ word) &* 0x94D0_49BB_1331_11EB
        }
        hash ^= hash >> 32
        return hash | 1
    }

    @inline(__always)
    static func equal(_ lhs: UnsafePointer<UInt8>, _ rhs: UnsafePointer<UInt8>, count: Int) -> Bool {
        let left = UnsafeRawPointer(lhs)
        let right = UnsafeRawPointer(rhs)
        var index = 0
        while index &+ 8 <= count {
            if left.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                != right.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            {
                return false
            }
            index &+= 8
        }
        while index < count {
            if lhs[index] != rhs[index] { return false }
            index &+= 1
        }
        return true
    }
}
