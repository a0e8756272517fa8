/// A sequence of 64-bit integers as patched frame-of-reference bit packing: the building block of
/// `PackedFloatChunk` (timestamps, decimal mantissas, raw float bits).
///
/// Regular series make these sequences nearly constant once differenced: scrape timestamps step by
/// the interval, counters by their rate give or take some jitter, gauges wobble around a level.
/// Gorilla's XOR and delta-of-delta codes spend a control prefix on every sample; here every
/// item takes the same `width` bits, the width of the chunk's actual spread, so a constant step
/// costs nothing and a jitter of ±20 costs 6 bits. The few items that would widen everyone's
/// slot (a counter reset, a missed scrape, a spike) are stored apart as exceptions.
///
/// Layout, in a `BitWriter` stream:
/// - byte `transform`: 0 = delta (items are `x[i] - x[i-1]`, after a leading varint `x[0]`),
///   1 = frame (items are the integers themselves);
/// - varint `base`, uvarint `scale` (≥ 1), byte `width` (0...64);
/// - uvarint exception count, then per exception: uvarint gap from the previous exception's item
///   index (+1 after the first), varint value of the item;
/// - per item, `width` bits of `(item - base) / scale` (0 for an exception's slot).
/// All arithmetic wraps, so any Int64 sequence round-trips.
enum PackedIntegers {
    enum Transform: UInt8 {
        case delta = 0
        case frame = 1
    }

    /// How one sequence is packed.
    struct Plan {
        var transform: Transform
        var base: Int64
        var scale: UInt64
        var width: Int
        /// Item indices (in the item sequence) stored as exceptions, ascending.
        var exceptions: [Int]
        var bits: Int
    }

    /// Exception budgets tried when choosing a plan (the extremes left out of the frame).
    static let exceptionBudgets = [0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32]

    /// Writes `values` with whichever transform and exceptions take the fewest bits; returns the
    /// bit width per item it chose.
    @discardableResult
    static func write(_ values: [Int64], to writer: inout BitWriter) -> Int {
        if values.isEmpty {
            writer.writeByte(Transform.frame.rawValue)
            writer.writeVarint(0)
            writer.writeUVarint(1)
            writer.writeByte(0)
            writer.writeUVarint(0)
            return 0
        }
        var deltas: [Int64] = []
        deltas.reserveCapacity(values.count - 1)
        for index in values.indices.dropFirst() { deltas.append(values[index] &- values[index - 1]) }
        var delta = plan(deltas, transform: .delta)
        delta.bits += varintBits(values[0])
        if delta.width == 0 && delta.exceptions.isEmpty {
            // A constant step (or a single value): nothing is smaller.
            write(deltas, plan: delta, first: values[0], to: &writer)
            return 0
        }
        let frame = plan(values, transform: .frame)
        if delta.bits <= frame.bits {
            write(deltas, plan: delta, first: values[0], to: &writer)
            return delta.width
        } else {
            write(values, plan: frame, first: nil, to: &writer)
            return frame.width
        }
    }

    private static func write(_ items: [Int64], plan: Plan, first: Int64?, to writer: inout BitWriter) {
        writer.writeByte(plan.transform.rawValue)
        if let first { writer.writeVarint(first) }
        writer.writeVarint(plan.base)
        writer.writeUVarint(plan.scale)
        writer.writeByte(UInt8(plan.width))
        writer.writeUVarint(UInt64(plan.exceptions.count))
        var previous = -1
        for index in plan.exceptions {
            writer.writeUVarint(UInt64(index - previous - 1))
            writer.writeVarint(items[index])
            previous = index
        }
        if plan.width == 0 { return }
        var exceptionCursor = 0
        for (index, item) in items.enumerated() {
            if exceptionCursor < plan.exceptions.count, plan.exceptions[exceptionCursor] == index {
                exceptionCursor += 1
                writer.write(0, bitCount: plan.width)
            } else {
                writer.write(UInt64(bitPattern: item &- plan.base) / plan.scale, bitCount: plan.width)
            }
        }
    }

    /// The cheapest frame for `items`: for each exception budget, the narrowest window that leaves
    /// at most that many items out, divided by the kept items' common step. Only budgets that
    /// narrow the window are costed, and only the extremes are sorted.
    static func plan(_ items: [Int64], transform: Transform) -> Plan {
        let header = 8 + 8 + 8 // transform, scale (usually 1 byte), width
        if items.isEmpty { return Plan(transform: transform, base: 0, scale: 1, width: 0, exceptions: [], bits: header + 16) }
        let largestBudget = exceptionBudgets.last { $0 * 4 <= items.count } ?? 0
        let (lowest, highest) = extremes(items, count: largestBudget + 1)
        var best: Plan?
        var narrowestWidth = Int.max
        for budget in exceptionBudgets where budget <= largestBudget {
            // Windows keep all but `budget` items: the `start` lowest and `budget - start` highest go.
            var bestStart = 0
            var bestSpan = UInt64.max
            for start in 0...budget {
                let span = UInt64(bitPattern: highest[budget - start] &- lowest[start])
                if span < bestSpan {
                    bestSpan = span
                    bestStart = start
                }
            }
            let unscaledWidth = bitWidth(bestSpan)
            if budget > 0 && unscaledWidth >= narrowestWidth { continue }
            narrowestWidth = unscaledWidth
            let low = lowest[bestStart]
            let high = highest[budget - bestStart]
            var scale: UInt64 = 0
            var exceptions: [Int] = []
            var exceptionBits = 0
            var previous = -1
            for index in items.indices {
                let item = items[index]
                if item < low || item > high {
                    exceptions.append(index)
                    exceptionBits += uvarintBits(UInt64(index - previous - 1)) + varintBits(item)
                    previous = index
                } else if scale != 1 {
                    let offset = UInt64(bitPattern: item &- low)
                    // Most offsets are already multiples of the step found so far.
                    if scale == 0 || offset % scale != 0 { scale = binaryGCD(scale, offset) }
                }
            }
            if scale == 0 { scale = 1 }
            let width = bitWidth(bestSpan / scale)
            let bits = header + varintBits(low) + uvarintBits(scale) - 8 + uvarintBits(UInt64(exceptions.count)) + exceptionBits
                + width * items.count
            if best == nil || bits < best!.bits {
                best = Plan(transform: transform, base: low, scale: scale, width: width, exceptions: exceptions, bits: bits)
            }
            if bestSpan == 0 { break }
        }
        return best!
    }

    /// The `count` lowest items ascending and the `count` highest descending (`count` ≤ items).
    static func extremes(_ items: [Int64], count: Int) -> (lowest: [Int64], highest: [Int64]) {
        // Timestamps and counters (in frame) arrive sorted: nothing to select.
        var sorted = true
        for index in items.indices.dropFirst() where items[index] < items[index - 1] {
            sorted = false
            break
        }
        if sorted { return (Array(items[0..<count]), Array(items[(items.count - count)...].reversed())) }
        var buffer = items
        if items.count <= 4 * count {
            buffer.sort()
        } else {
            // Linear on average: put the `count` lowest first and the `count` highest last, then
            // sort just those.
            buffer.withUnsafeMutableBufferPointer { pointer in
                select(pointer, position: count - 1, in: 0..<pointer.count)
                select(pointer, position: pointer.count - count, in: count..<pointer.count)
                pointer[0..<count].sort()
                pointer[(pointer.count - count)...].sort()
            }
        }
        let lowest = Array(buffer[0..<count])
        let highest = Array(buffer[(buffer.count - count)...].reversed())
        return (lowest, highest)
    }

    /// Quickselect: afterwards every item before `position` is at most, and every item after at
    /// least, the one at `position` (within `range`).
    private static func select(_ items: UnsafeMutableBufferPointer<Int64>, position: Int, in range: Range<Int>) {
        var low = range.lowerBound
        var high = range.upperBound - 1
        while low < high {
            // Median of three as the pivot keeps sorted input (counters, timestamps) linear.
            let middle = low + (high - low) / 2
            if items[middle] < items[low] { items.swapAt(middle, low) }
            if items[high] < items[low] { items.swapAt(high, low) }
            if items[high] < items[middle] { items.swapAt(high, middle) }
            let pivot = items[middle]
            var i = low
            var j = high
            while i <= j {
                while items[i] < pivot { i += 1 }
                while items[j] > pivot { j -= 1 }
                if i <= j {
                    items.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if position <= j {
                high = j
            } else if position >= i {
                low = i
            } else {
                return
            }
        }
    }

    /// Reads `count` integers written by `write` (count is stored by the caller).
    static func read(count: Int, from reader: inout BitReader, into values: inout [Int64]) throws(ChunkError) {
        let start = reader.bitPosition
        guard let transform = Transform(rawValue: try reader.readByte()) else {
            throw ChunkError(.malformed, "unknown integer transform", bitOffset: start)
        }
        var previousValue: Int64 = 0
        var itemCount = count
        if transform == .delta {
            guard count > 0 else { throw ChunkError(.malformed, "delta transform of an empty sequence", bitOffset: start) }
            previousValue = try reader.readVarint()
            values.append(previousValue)
            itemCount = count - 1
        }
        let base = try reader.readVarint()
        let scale = try reader.readUVarint()
        let width = Int(try reader.readByte())
        guard scale >= 1 else { throw ChunkError(.malformed, "integer scale 0", bitOffset: start) }
        guard width <= 64 else { throw ChunkError(.malformed, "integer width \(width) over 64", bitOffset: start) }
        let exceptionCount = try reader.readUVarint()
        guard exceptionCount <= UInt64(itemCount) else {
            throw ChunkError(.malformed, "\(exceptionCount) exceptions for \(itemCount) integers", bitOffset: start)
        }
        var exceptionIndices: [Int] = []
        var exceptionValues: [Int64] = []
        exceptionIndices.reserveCapacity(Int(exceptionCount))
        exceptionValues.reserveCapacity(Int(exceptionCount))
        var previousIndex = -1
        for _ in 0..<Int(exceptionCount) {
            let gap = try reader.readUVarint()
            guard gap < UInt64(itemCount) else { throw ChunkError(.malformed, "exception index out of range", bitOffset: reader.bitPosition) }
            let index = previousIndex + 1 + Int(gap)
            guard index < itemCount else { throw ChunkError(.malformed, "exception index out of range", bitOffset: reader.bitPosition) }
            exceptionIndices.append(index)
            exceptionValues.append(try reader.readVarint())
            previousIndex = index
        }
        guard reader.remainingBits >= width * itemCount else {
            throw ChunkError(.truncated, "needed \(width * itemCount) bits of packed integers, \(reader.remainingBits) left", bitOffset: reader.bitPosition)
        }
        values.reserveCapacity(values.count + itemCount)
        var exceptionCursor = 0
        for index in 0..<itemCount {
            let slot = width == 0 ? 0 : try reader.readBits(width)
            var item: Int64
            if exceptionCursor < exceptionIndices.count, exceptionIndices[exceptionCursor] == index {
                item = exceptionValues[exceptionCursor]
                exceptionCursor += 1
            } else {
                item = base &+ Int64(bitPattern: slot &* scale)
            }
            if transform == .delta {
                previousValue = previousValue &+ item
                item = previousValue
            }
            values.append(item)
        }
    }

    /// Stein's algorithm: shifts and subtractions, no division.
    static func binaryGCD(_ a: UInt64, _ b: UInt64) -> UInt64 {
        if a == 0 { return b }
        if b == 0 { return a }
        let shift = (a | b).trailingZeroBitCount
        var a = a >> a.trailingZeroBitCount
        var b = b >> b.trailingZeroBitCount
        while a != b {
            if a > b { swap(&a, &b) }
            b -= a
            b >>= b.trailingZeroBitCount
        }
        return a << shift
    }

    /// Bits needed for `value` as an unsigned number (0 for 0).
    static func bitWidth(_ value: UInt64) -> Int { 64 - value.leadingZeroBitCount }

    static func uvarintBits(_ value: UInt64) -> Int { 8 * max(1, (bitWidth(value) + 6) / 7) }

    static func varintBits(_ value: Int64) -> Int { uvarintBits(UInt64(bitPattern: (value &<< 1) ^ (value >> 63))) }
}
