import LoupeModel

/// Parsed series by the bytes of their text (`name{label="value",...}`), so that a parser instance that sees the
/// same target again skips parsing, sorting and allocating their labels (as Prometheus's scrape cache does).
///
/// An entry is used only for the same format and the same family type (which decides the canonical `le` and
/// `quantile` values) as when it was made; the same bytes then parse to the same labels. Bounded by
/// `maximumEntries` and `maximumArenaBytes`; past either, it is emptied before the next parse.
///
/// Not thread-safe: one parse at a time.
final class ExpositionSeriesCache {
    static let maximumEntries = 1 << 17
    static let maximumArenaBytes = 16 << 20

    struct Entry {
        var labels: Labels
        var name: String
        var familyType: MetricMetadata.MetricType
        var openMetrics: Bool
    }

    private struct Slot {
        /// 0 marks an empty slot (computed hashes always have the low bit set).
        var hash: UInt64
        var start: Int
        var count: Int
        var entry: Int
    }

    private var slots: UnsafeMutablePointer<Slot>
    private var slotCount: Int
    private var mask: Int
    private var entries: [Entry] = []
    private var arena: UnsafeMutablePointer<UInt8>
    private var arenaCapacity: Int
    private var arenaCount = 0

    init() {
        slotCount = 1024
        mask = slotCount - 1
        slots = .allocate(capacity: slotCount)
        slots.initialize(repeating: Slot(hash: 0, start: 0, count: 0, entry: 0), count: slotCount)
        arenaCapacity = 16 << 10
        arena = .allocate(capacity: arenaCapacity)
    }

    deinit {
        slots.deallocate()
        arena.deallocate()
    }

    var count: Int { entries.count }

    /// Empties the cache if it has grown past its bounds.
    func trimIfNeeded() {
        guard entries.count > Self.maximumEntries || arenaCount > Self.maximumArenaBytes else { return }
        entries.removeAll()
        slots.update(repeating: Slot(hash: 0, start: 0, count: 0, entry: 0), count: slotCount)
        arenaCount = 0
    }

    @inline(__always)
    func lookup(_ pointer: UnsafePointer<UInt8>, count: Int, openMetrics: Bool) -> Entry? {
        let hash = ExpositionStringTable.hash(pointer, count: count)
        let slots = self.slots
        let mask = self.mask
        var index = Int(truncatingIfNeeded: hash >> 7) & mask
        while true {
            let slot = slots[index]
            if slot.hash == 0 { return nil }
            if slot.hash == hash && slot.count == count && ExpositionStringTable.equal(arena + slot.start, pointer, count: count) {
                let entry = entries[slot.entry]
                return entry.openMetrics == openMetrics ? entry : nil
            }
            index = (index &+ 1) & mask
        }
    }

    /// Adds or replaces the entry for these bytes.
    func insert(
        _ pointer: UnsafePointer<UInt8>, count: Int, labels: Labels, name: String, familyType: MetricMetadata.MetricType,
        openMetrics: Bool
    ) {
        let entry = Entry(labels: labels, name: name, familyType: familyType, openMetrics: openMetrics)
        let hash = ExpositionStringTable.hash(pointer, count: count)
        var index = Int(truncatingIfNeeded: hash >> 7) & mask
        while slots[index].hash != 0 {
            if slots[index].hash == hash && slots[index].count == count
                && ExpositionStringTable.equal(arena + slots[index].start, pointer, count: count)
            {
                entries[slots[index].entry] = entry
                return
            }
            index = (index &+ 1) & mask
        }
        if arenaCount + count > arenaCapacity {
            var newCapacity = arenaCapacity * 2
            while newCapacity < arenaCount + count { newCapacity *= 2 }
            let newArena = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
            newArena.update(from: arena, count: arenaCount)
            arena.deallocate()
            arena = newArena
            arenaCapacity = newCapacity
        }
        (arena + arenaCount).update(from: pointer, count: count)
        slots[index] = Slot(hash: hash, start: arenaCount, count: count, entry: entries.count)
        entries.append(entry)
        arenaCount += count
        if entries.count * 2 > slotCount { grow() }
    }

    private func grow() {
        let old = slots
        let oldCount = slotCount
        slotCount *= 2
        mask = slotCount - 1
        slots = .allocate(capacity: slotCount)
        slots.initialize(repeating: Slot(hash: 0, start: 0, count: 0, entry: 0), count: slotCount)
        for position in 0..<oldCount where old[position].hash != 0 {
            var index = Int(truncatingIfNeeded: old[position].hash >> 7) & mask
            while slots[index].hash != 0 { index = (index &+ 1) & mask }
            slots[index] = old[position]
        }
        old.deallocate()
    }
}
