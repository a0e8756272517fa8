import LoupeModel

/// The labels of the line being parsed, in manually managed memory so that they can be sorted and then moved into
/// the sample's `Labels` without reference-counting traffic.
///
/// Each label carries a sort key (its first eight name bytes, big-endian) so that sorting ASCII names rarely
/// needs a string comparison, and the byte offset of its name for error messages.
struct ExpositionLabelScratch: ~Copyable {
    private(set) var labels: UnsafeMutablePointer<Label>
    private var keys: UnsafeMutablePointer<UInt64>
    private(set) var offsets: UnsafeMutablePointer<Int>
    /// Whether the key orders the name (ASCII names, where byte order is `String` order).
    private var ordered: UnsafeMutablePointer<Bool>
    private(set) var count = 0
    private var capacity: Int

    init() {
        capacity = 32
        labels = .allocate(capacity: capacity)
        keys = .allocate(capacity: capacity)
        offsets = .allocate(capacity: capacity)
        ordered = .allocate(capacity: capacity)
    }

    deinit {
        labels.deinitialize(count: count)
        labels.deallocate()
        keys.deallocate()
        offsets.deallocate()
        ordered.deallocate()
    }

    /// The sort key of a name given as bytes.
    @inline(__always)
    static func key(_ pointer: UnsafePointer<UInt8>, count: Int) -> UInt64 {
        var key: UInt64 = 0
        let limit = min(count, 8)
        for index in 0..<limit { key |= UInt64(pointer[index]) << UInt64(56 - 8 * index) }
        return key
    }

    /// The keys of `__name__`, `le` and `quantile` (see `key(_:count:)`).
    static let metricNameKey: UInt64 = 0x5F5F_6E61_6D65_5F5F
    static let leKey: UInt64 = 0x6C65_0000_0000_0000
    static let quantileKey: UInt64 = 0x7175_616E_7469_6C65

    @inline(__always)
    mutating func append(_ label: consuming Label, key: UInt64, ascii: Bool, offset: Int) {
        if count == capacity { grow() }
        (labels + count).initialize(to: label)
        keys[count] = key
        ordered[count] = ascii
        offsets[count] = offset
        count += 1
    }

    mutating func removeAll() {
        labels.deinitialize(count: count)
        count = 0
    }

    @inline(__always)
    func key(at index: Int) -> UInt64 { keys[index] }

    @inline(__always)
    mutating func setValue(_ value: String, at index: Int) { labels[index].value = value }

    private mutating func grow() {
        let newCapacity = capacity * 2
        let newLabels = UnsafeMutablePointer<Label>.allocate(capacity: newCapacity)
        newLabels.moveInitialize(from: labels, count: count)
        labels.deallocate()
        labels = newLabels
        let newKeys = UnsafeMutablePointer<UInt64>.allocate(capacity: newCapacity)
        newKeys.update(from: keys, count: count)
        keys.deallocate()
        keys = newKeys
        let newOffsets = UnsafeMutablePointer<Int>.allocate(capacity: newCapacity)
        newOffsets.update(from: offsets, count: count)
        offsets.deallocate()
        offsets = newOffsets
        let newOrdered = UnsafeMutablePointer<Bool>.allocate(capacity: newCapacity)
        newOrdered.update(from: ordered, count: count)
        ordered.deallocate()
        ordered = newOrdered
        capacity = newCapacity
    }

    @inline(__always)
    private func less(_ a: Int, _ b: Int) -> Bool {
        if ordered[a] && ordered[b] && keys[a] != keys[b] { return keys[a] < keys[b] }
        return labels[a].name < labels[b].name
    }

    @inline(__always)
    private func sameName(_ a: Int, _ b: Int) -> Bool {
        (!(ordered[a] && ordered[b]) || keys[a] == keys[b]) && labels[a].name == labels[b].name
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        let pointer = labels
        let saved = (pointer + a).move()
        (pointer + a).moveInitialize(from: pointer + b, count: 1)
        (pointer + b).initialize(to: saved)
        (keys[a], keys[b]) = (keys[b], keys[a])
        (offsets[a], offsets[b]) = (offsets[b], offsets[a])
        (ordered[a], ordered[b]) = (ordered[b], ordered[a])
    }

    /// Sorts by name; returns the index of a label whose name repeats (the later one in the input), if any.
    mutating func sort() -> Int? {
        if count > 24 {
            // Many labels: a real sort, so that a hostile line cannot make this quadratic.
            var order = Array(0..<count)
            order.sort { less($0, $1) || (!less($1, $0) && $0 < $1) }
            let sortedLabels = order.map { labels[$0] }
            let sortedKeys = order.map { keys[$0] }
            let sortedOffsets = order.map { offsets[$0] }
            let sortedOrdered = order.map { ordered[$0] }
            for index in 0..<count {
                labels[index] = sortedLabels[index]
                keys[index] = sortedKeys[index]
                offsets[index] = sortedOffsets[index]
                ordered[index] = sortedOrdered[index]
            }
        } else if count > 1 {
            // Insertion sort: expositions list labels sorted, or nearly so.
            for index in 1..<count where less(index, index - 1) {
                var slot = index
                while slot > 0 && less(slot, slot - 1) {
                    swapAt(slot, slot - 1)
                    slot -= 1
                }
            }
        }
        if count > 1 {
            for index in 1..<count where sameName(index - 1, index) {
                return offsets[index - 1] > offsets[index] ? index - 1 : index
            }
        }
        return nil
    }

    /// Moves the (sorted) labels out as `Labels`, leaving out empty values; the scratch is empty afterwards.
    mutating func take() -> Labels {
        let total = count
        var kept = 0
        for index in 0..<total where !labels[index].value.isEmpty { kept += 1 }
        let source = labels
        let result = [Label](unsafeUninitializedCapacity: kept) { buffer, initialized in
            var target = buffer.baseAddress!
            for index in 0..<total {
                if source[index].value.isEmpty {
                    (source + index).deinitialize(count: 1)
                } else {
                    target.moveInitialize(from: source + index, count: 1)
                    target += 1
                }
            }
            initialized = kept
        }
        count = 0
        return Labels(presorted: result)
    }
}
