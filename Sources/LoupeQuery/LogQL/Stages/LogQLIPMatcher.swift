/// `ip("...")` in line and label filters: a single address, a range `a-b` or a CIDR block,
/// IPv4 or IPv6. Addresses are compared as 128-bit numbers (IPv4 mapped into `::ffff:0:0/96`).
struct LogQLIPMatcher: Sendable, Equatable {
    private let lower: UInt128
    private let upper: UInt128

    init(_ pattern: String) throws(LogQLError) {
        let invalid = LogQLError(.parse, "ip: invalid pattern: \(pattern)")
        if let slash = pattern.firstIndex(of: "/") {
            guard let (address, isV4) = Self.parse(pattern[..<slash]), let bits = Int(pattern[pattern.index(after: slash)...]) else { throw invalid }
            let width = isV4 ? 32 : 128
            guard bits >= 0, bits <= width else { throw invalid }
            let hostBits = width - bits
            let mask: UInt128 = hostBits == 128 ? ~0 : (UInt128(1) << UInt128(hostBits)) - 1
            lower = address & ~mask
            upper = address | mask
        } else if let dash = pattern.firstIndex(of: "-") {
            guard let (start, startV4) = Self.parse(pattern[..<dash]), let (end, endV4) = Self.parse(pattern[pattern.index(after: dash)...]),
                startV4 == endV4, start <= end
            else { throw invalid }
            lower = start
            upper = end
        } else {
            guard let (address, _) = Self.parse(Substring(pattern)) else { throw invalid }
            lower = address
            upper = address
        }
    }

    func matches(address text: Substring) -> Bool {
        guard let (address, _) = Self.parse(text) else { return false }
        return lower <= address && address <= upper
    }

    /// Whether any address written in `line` falls in the pattern.
    func matchesAny(in line: String) -> Bool {
        let utf8 = line.utf8
        var index = utf8.startIndex
        while index < utf8.endIndex {
            guard Self.isAddressByte(utf8[index]) else {
                index = utf8.index(after: index)
                continue
            }
            var end = index
            while end < utf8.endIndex, Self.isAddressByte(utf8[end]) { end = utf8.index(after: end) }
            let candidate = Substring(line[index..<end])
            if matches(address: candidate) || matches(address: Self.trimmed(candidate)) { return true }
            // An IPv4 address followed by a port (`10.0.0.7:80`) or joined to other tokens by colons.
            if candidate.contains("."), candidate.contains(":") {
                for piece in candidate.split(separator: ":") where piece.contains(".") && matches(address: Self.trimmed(piece)) { return true }
            }
            index = end
        }
        return false
    }

    private static func trimmed(_ text: Substring) -> Substring {
        var text = text
        while let last = text.last, last == "." || last == ":" { text = text.dropLast() }
        while let first = text.first, first == "." || first == ":" && !text.hasPrefix("::") { text = text.dropFirst() }
        return text
    }

    private static func isAddressByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F")) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":")
    }

    /// An address as a 128-bit number, and whether it was IPv4.
    static func parse(_ text: Substring) -> (UInt128, Bool)? {
        let text = text.trimmingSpaces
        if let v4 = parseIPv4(text) { return (UInt128(0xFFFF) << 32 | UInt128(v4), true) }
        if let v6 = parseIPv6(text) { return (v6, false) }
        return nil
    }

    static func parseIPv4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }), let octet = UInt32(part), octet <= 255 else { return nil }
            // Go's parser refuses leading zeros ("010.0.0.1").
            if part.count > 1, part.first == "0" { return nil }
            value = value << 8 | octet
        }
        return value
    }

    static func parseIPv6(_ text: Substring) -> UInt128? {
        guard text.contains(":") else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawGap = false
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: Substring, allowIPv4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if allowIPv4Tail, index == pieces.count - 1, piece.contains(".") {
                    guard let v4 = parseIPv4(piece) else { return nil }
                    out.append(UInt16(v4 >> 16))
                    out.append(UInt16(v4 & 0xFFFF))
                    continue
                }
                guard !piece.isEmpty, piece.count <= 4, let group = UInt16(piece, radix: 16) else { return nil }
                out.append(group)
            }
            return out
        }
        if halves.count == 2 {
            sawGap = true
            guard let first = groups(halves[0], allowIPv4Tail: false), let second = groups(halves[1], allowIPv4Tail: true) else { return nil }
            head = first
            tail = second
            guard head.count + tail.count <= 7 else { return nil }
        } else {
            guard let all = groups(halves[0], allowIPv4Tail: true), all.count == 8 else { return nil }
            head = all
        }
        var value: UInt128 = 0
        let all = sawGap ? head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail : head
        for group in all { value = value << 16 | UInt128(group) }
        return value
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return text
    }

    func components(separatedBy separator: String) -> [Substring] {
        var parts: [Substring] = []
        var start = startIndex
        var index = startIndex
        let separatorCount = separator.count
        while index < endIndex {
            if self[index...].hasPrefix(separator) {
                parts.append(self[start..<index])
                index = self.index(index, offsetBy: separatorCount)
                start = index
            } else {
                index = self.index(after: index)
            }
        }
        parts.append(self[start..<endIndex])
        return parts
    }
}
