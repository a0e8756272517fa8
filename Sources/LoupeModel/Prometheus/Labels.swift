#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One Prometheus label.
public struct Label: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    /// Byte-wise, as Prometheus orders labels (Go compares strings by bytes).
    public static func < (lhs: Label, rhs: Label) -> Bool {
        let byName = Labels.compareBytes(lhs.name, rhs.name)
        return byName != 0 ? byName < 0 : Labels.compareBytes(lhs.value, rhs.value) < 0
    }

    public var description: String { "\(name)=\"\(value)\"" }
}

/// A series' identity: labels sorted by name, names unique, no empty values
/// (an empty value means the label is absent, as in Prometheus).
public struct Labels: Sendable, Hashable, Comparable, RandomAccessCollection, CustomStringConvertible {
    public private(set) var storage: [Label]

    public static let metricNameLabel = "__name__"

    public init() { storage = [] }

    /// Sorts, drops empty values, and keeps the last of duplicate names.
    public init(_ labels: some Sequence<Label>) {
        var sorted = labels.filter { !$0.value.isEmpty }
        sorted.sort { $0.name < $1.name }
        var unique: [Label] = []
        unique.reserveCapacity(sorted.count)
        for label in sorted {
            if unique.last?.name == label.name { unique[unique.count - 1] = label } else { unique.append(label) }
        }
        storage = unique
    }

    /// Trusts that `sorted` is already sorted by name with unique names and no empty values.
    public init(presorted sorted: [Label]) { storage = sorted }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements.map { Label($0.0, $0.1) })
    }

    public var startIndex: Int { storage.startIndex }
    public var endIndex: Int { storage.endIndex }
    public subscript(position: Int) -> Label { storage[position] }

    public subscript(name: String) -> String? {
        var low = 0
        var high = storage.count
        while low < high {
            let middle = (low + high) / 2
            if storage[middle].name < name { low = middle + 1 } else { high = middle }
        }
        return low < storage.count && storage[low].name == name ? storage[low].value : nil
    }

    public var metricName: String? { self[Self.metricNameLabel] }

    /// Sets or, with an empty value, removes a label.
    public mutating func set(_ name: String, _ value: String) {
        var low = 0
        var high = storage.count
        while low < high {
            let middle = (low + high) / 2
            if storage[middle].name < name { low = middle + 1 } else { high = middle }
        }
        let exists = low < storage.count && storage[low].name == name
        switch (exists, value.isEmpty) {
        case (true, true): storage.remove(at: low)
        case (true, false): storage[low].value = value
        case (false, false): storage.insert(Label(name, value), at: low)
        case (false, true): break
        }
    }

    public func removing(_ names: Set<String>) -> Labels {
        Labels(presorted: storage.filter { !names.contains($0.name) })
    }

    public func keeping(_ names: Set<String>) -> Labels {
        Labels(presorted: storage.filter { names.contains($0.name) })
    }

    /// Byte-wise, as Prometheus compares label sets (and consistent with `hash(into:)`).
    public static func == (lhs: Labels, rhs: Labels) -> Bool {
        guard lhs.storage.count == rhs.storage.count else { return false }
        // The same stored label set (the head's, handed out by `RemoteWriteLabelCache`): equal without comparing.
        if lhs.storage.withUnsafeBufferPointer({ left in rhs.storage.withUnsafeBufferPointer { $0.baseAddress == left.baseAddress } }) {
            return true
        }
        for index in lhs.storage.indices {
            let left = lhs.storage[index]
            let right = rhs.storage[index]
            guard Self.sameBytes(left.name, right.name), Self.sameBytes(left.value, right.value) else { return false }
        }
        return true
    }

    /// The UTF-8 bytes of every name and value, one `combine` per string: series lookups hash label
    /// sets on every write, and this is several times cheaper than hashing `String`s one by one.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(storage.count)
        for label in storage {
            Self.combineBytes(label.name, into: &hasher)
            Self.combineBytes(label.value, into: &hasher)
        }
    }

    /// Calls `body` with the string's UTF-8 bytes: borrowed for native strings (no copy, no
    /// retain), copied to the stack for small inline strings (which have no storage to borrow).
    @inline(__always)
    static func withUTF8<Result>(_ string: String, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        if let result = string.utf8.withContiguousStorageIfAvailable(body) { return result }
        var copy = string
        return copy.withUTF8(body)
    }

    /// Whether the string's UTF-8 bytes are exactly `bytes`.
    @inline(__always)
    public static func utf8(of string: String, equals bytes: UnsafeRawBufferPointer) -> Bool {
        guard string.utf8.count == bytes.count else { return false }
        if bytes.isEmpty { return true }
        return withUTF8(string) { equalBytes(UnsafeRawPointer($0.baseAddress!), bytes.baseAddress!, bytes.count) }
    }

    /// `memcmp(...) == 0`, inline for the short runs label names and values are (a call to
    /// `memcmp` per name and per value was a twentieth of remote-write ingestion).
    @inline(__always)
    static func equalBytes(_ left: UnsafeRawPointer, _ right: UnsafeRawPointer, _ count: Int) -> Bool {
        if count >= 8 {
            var offset = 0
            while offset &+ 8 <= count {
                if left.loadUnaligned(fromByteOffset: offset, as: UInt64.self) != right.loadUnaligned(fromByteOffset: offset, as: UInt64.self) {
                    return false
                }
                offset &+= 8
            }
            // The last 1...7 bytes, in one load that overlaps bytes already compared.
            return offset == count
                || left.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self) == right.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self)
        }
        if count >= 4 {
            return left.loadUnaligned(as: UInt32.self) == right.loadUnaligned(as: UInt32.self)
                && left.loadUnaligned(fromByteOffset: count &- 4, as: UInt32.self) == right.loadUnaligned(fromByteOffset: count &- 4, as: UInt32.self)
        }
        var offset = 0
        while offset < count {
            if left.load(fromByteOffset: offset, as: UInt8.self) != right.load(fromByteOffset: offset, as: UInt8.self) { return false }
            offset &+= 1
        }
        return true
    }

    @inline(__always)
    static func combineBytes(_ string: String, into hasher: inout Hasher) {
        withUTF8(string) { bytes in
            hasher.combine(bytes.count)
            hasher.combine(bytes: UnsafeRawBufferPointer(bytes))
        }
    }

    @inline(__always)
    static func sameBytes(_ left: String, _ right: String) -> Bool {
        guard left.utf8.count == right.utf8.count else { return false }
        return withUTF8(left) { leftBytes in utf8(of: right, equals: UnsafeRawBufferPointer(leftBytes)) }
    }

    /// Byte-wise, label by label, reading the labels where they lie (iterating copied each label
    /// out, retaining its strings). Not `String`'s `<`: that one compares Unicode-canonically.
    public static func < (lhs: Labels, rhs: Labels) -> Bool {
        lhs.storage.withUnsafeBufferPointer { left in
            rhs.storage.withUnsafeBufferPointer { right in
                for index in 0..<Swift.min(left.count, right.count) {
                    let byName = compareBytes(left[index].name, right[index].name)
                    if byName != 0 { return byName < 0 }
                    let byValue = compareBytes(left[index].value, right[index].value)
                    if byValue != 0 { return byValue < 0 }
                }
                return left.count < right.count
            }
        }
    }

    /// Negative, zero or positive as `left` sorts before, with or after `right`, byte-wise (a
    /// prefix first).
    public static func compareBytes(_ left: UnsafeRawBufferPointer, _ right: UnsafeRawBufferPointer) -> Int {
        let common = Swift.min(left.count, right.count)
        let order = common == 0 ? 0 : Int(memcmp(left.baseAddress!, right.baseAddress!, common))
        return order != 0 ? order : left.count - right.count
    }

    /// Negative, zero or positive as `left`'s UTF-8 bytes sort before, with or after `right`'s.
    @inline(__always)
    public static func compareBytes(_ left: String, _ right: String) -> Int {
        withUTF8(left) { leftBytes in
            withUTF8(right) { rightBytes in compareBytes(UnsafeRawBufferPointer(leftBytes), UnsafeRawBufferPointer(rightBytes)) }
        }
    }

    /// `{a="1", b="2"}`, with the metric name in front when present, as Prometheus prints series.
    public var description: String {
        let rest = storage.filter { $0.name != Self.metricNameLabel }
        let inner = rest.map { "\($0.name)=\"\(Self.escape($0.value))\"" }.joined(separator: ", ")
        if let name = metricName { return rest.isEmpty ? name : "\(name){\(inner)}" }
        return "{\(inner)}"
    }

    static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }
}

extension Labels: ExpressibleByDictionaryLiteral {}
