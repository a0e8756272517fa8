import LoupeModel

/// The converters. Arguments OTTL reads with a typed getter (a string for `ToLowerCase`, an int for
/// `Substring`) fail on any other type; the converting ones (`Int`, `String`, `IsMatch`'s target) convert.
extension OTTLEvaluator {
    static func apply<Item: OTTLItemAccess>(_ converter: OTTLConverter, in item: Item) throws(OTTLRuntimeFailure) -> AnyValue? {
        switch converter {
        case .isMatch(let target, let regex):
            guard let subject = try value(target, in: item) else { return .bool(false) }
            return .bool(regex.matches(OTTLFormat.stringLike(subject)))
        case .isType(let target, let type):
            return .bool(isOfType(try value(target, in: item), type))
        case .concat(let values, let delimiter):
            let separator = try string(delimiter, in: item, for: "Concat")
            guard case .array(let elements)? = try value(values, in: item) else {
                throw OTTLRuntimeFailure("Concat needs a list of values")
            }
            return .string(elements.map { element in
                if case .empty = element { return "<nil>" }
                return OTTLFormat.stringLike(element)
            }.joined(separator: separator))
        case .split(let target, let delimiter):
            let text = try string(target, in: item, for: "Split")
            return .array(split(text, by: try string(delimiter, in: item, for: "Split")).map(AnyValue.string))
        case .substring(let target, let start, let length):
            return .string(try substring(
                try string(target, in: item, for: "Substring"), start: try int(start, in: item, for: "Substring"),
                length: try int(length, in: item, for: "Substring")))
        case .toLowerCase(let target):
            return .string(try string(target, in: item, for: "ToLowerCase").lowercased())
        case .toUpperCase(let target):
            return .string(try string(target, in: item, for: "ToUpperCase").uppercased())
        case .int(let target):
            return intConversion(try value(target, in: item))
        case .double(let target):
            return doubleConversion(try value(target, in: item))
        case .string(let target):
            return try value(target, in: item).map { .string(OTTLFormat.stringLike($0)) }
        case .len(let target):
            switch try value(target, in: item) {
            case .string(let text)?: return .int(Int64(text.utf8.count))
            case .array(let elements)?: return .int(Int64(elements.count))
            case .keyValueList(let entries)?: return .int(Int64(entries.count))
            case let other: throw OTTLRuntimeFailure("Len needs a string, list or map, not \(OTTLFormat.typeName(other))")
            }
        case .parseJSON(let target):
            let text = try string(target, in: item, for: "ParseJSON")
            switch OTTLJSON.parse(text) {
            case let parsed? where isOfType(parsed, .map) || isOfType(parsed, .list): return parsed
            default: throw OTTLRuntimeFailure("ParseJSON needs a JSON object or array")
            }
        case .trim(let target, let characters):
            let text = try string(target, in: item, for: "Trim")
            let cutset = try characters.map { (expression) throws(OTTLRuntimeFailure) in try string(expression, in: item, for: "Trim") } ?? " "
            return .string(trim(text, cutset: cutset))
        case .hex(let target):
            return .string(HexCoding.encode(try byteSliceLike(try value(target, in: item))))
        case .traceID(let target):
            return .bytes(try identifier(try value(target, in: item), byteCount: TraceID.byteCount, name: "TraceID"))
        case .spanID(let target):
            return .bytes(try identifier(try value(target, in: item), byteCount: SpanID.byteCount, name: "SpanID"))
        case .containsValue(let target, let element):
            guard case .array(let elements)? = try value(target, in: item) else {
                throw OTTLRuntimeFailure("ContainsValue needs a list")
            }
            let wanted = try value(element, in: item)
            return .bool(elements.contains { OTTLComparison.holds($0, .equal, wanted) })
        case .hasPrefix(let target, let prefix):
            let text = try string(target, in: item, for: "HasPrefix")
            return .bool(text.utf8.starts(with: try string(prefix, in: item, for: "HasPrefix").utf8))
        case .hasSuffix(let target, let suffix):
            let text = try string(target, in: item, for: "HasSuffix")
            return .bool(text.utf8.reversed().starts(with: try string(suffix, in: item, for: "HasSuffix").utf8.reversed()))
        }
    }

    /// OTTL's `StringGetter`: a string, and nothing else (not even nil).
    static func string<Item: OTTLItemAccess>(_ expression: OTTLExpression, in item: Item, for function: String) throws(OTTLRuntimeFailure) -> String {
        let result = try value(expression, in: item)
        guard case .string(let text)? = result else {
            throw OTTLRuntimeFailure("\(function) needs a string, not \(OTTLFormat.typeName(result))")
        }
        return text
    }

    private static func int<Item: OTTLItemAccess>(_ expression: OTTLExpression, in item: Item, for function: String) throws(OTTLRuntimeFailure) -> Int64 {
        let result = try value(expression, in: item)
        guard case .int(let number)? = result else {
            throw OTTLRuntimeFailure("\(function) needs an int, not \(OTTLFormat.typeName(result))")
        }
        return number
    }

    private static func isOfType(_ value: AnyValue?, _ type: OTTLTypeCheck) -> Bool {
        switch (type, value) {
        case (.string, .string?), (.int, .int?), (.double, .double?), (.bool, .bool?), (.map, .keyValueList?), (.list, .array?): true
        default: false
        }
    }

    /// Go's `strings.Split`: every separator splits, empty pieces stay, an empty separator splits
    /// between characters (Unicode scalars, Go's runes).
    static func split(_ text: String, by separator: String) -> [String] {
        if separator.isEmpty { return text.unicodeScalars.map { String($0) } }
        let bytes = Array(text.utf8)
        let separatorBytes = Array(separator.utf8)
        var pieces: [String] = []
        var pieceStart = 0
        var index = 0
        while index + separatorBytes.count <= bytes.count {
            if bytes[index..<(index + separatorBytes.count)].elementsEqual(separatorBytes) {
                pieces.append(String(decoding: bytes[pieceStart..<index], as: UTF8.self))
                index += separatorBytes.count
                pieceStart = index
            } else {
                index += 1
            }
        }
        pieces.append(String(decoding: bytes[pieceStart...], as: UTF8.self))
        return pieces
    }

    /// Byte offsets, as OTTL counts them; a cut inside a character yields U+FFFD there.
    static func substring(_ text: String, start: Int64, length: Int64) throws(OTTLRuntimeFailure) -> String {
        let bytes = Array(text.utf8)
        guard start >= 0 else { throw OTTLRuntimeFailure("Substring start \(start) is negative") }
        guard length > 0 else { throw OTTLRuntimeFailure("Substring length \(length) is not positive") }
        guard start <= bytes.count, length <= Int64(bytes.count) - start else {
            throw OTTLRuntimeFailure("Substring \(start)+\(length) is beyond the \(bytes.count) bytes of the text")
        }
        return String(decoding: bytes[Int(start)..<Int(start + length)], as: UTF8.self)
    }

    /// Go's `strings.Trim`: strips leading and trailing characters that are in the cutset.
    static func trim(_ text: String, cutset: String) -> String {
        let cut = Set(cutset.unicodeScalars)
        var scalars = Substring(text).unicodeScalars
        while let first = scalars.first, cut.contains(first) { scalars.removeFirst() }
        while let last = scalars.last, cut.contains(last) { scalars.removeLast() }
        return String(scalars)
    }

    /// `Int`: doubles truncate toward zero, strings parse as base-10 ints, bools are 1 and 0; anything
    /// else (and a string or double that does not fit) is nil.
    static func intConversion(_ value: AnyValue?) -> AnyValue? {
        switch value {
        case .int(let number)?: .int(number)
        case .double(let number)?: Int64(exactly: number.rounded(.towardZero)).map(AnyValue.int)
        case .bool(let flag)?: .int(flag ? 1 : 0)
        case .string(let text)?: Int64(text).map(AnyValue.int)
        default: nil
        }
    }

    /// `Double`: ints convert, strings parse as Go's `ParseFloat` would, bools are 1.0 and 0.0.
    static func doubleConversion(_ value: AnyValue?) -> AnyValue? {
        switch value {
        case .double(let number)?: .double(number)
        case .int(let number)?: .double(Double(number))
        case .bool(let flag)?: .double(flag ? 1 : 0)
        case .string(let text)?: Double(text).map(AnyValue.double)
        default: nil
        }
    }

    /// OTTL's byte-slice-like getter: strings as their UTF-8, ints and doubles as 8 big-endian bytes, bools as one byte.
    private static func byteSliceLike(_ value: AnyValue?) throws(OTTLRuntimeFailure) -> [UInt8] {
        switch value {
        case .bytes(let bytes)?: return bytes
        case .string(let text)?: return Array(text.utf8)
        case .int(let number)?: return bigEndian(UInt64(bitPattern: number))
        case .double(let number)?: return bigEndian(number.bitPattern)
        case .bool(let flag)?: return [flag ? 1 : 0]
        case let other: throw OTTLRuntimeFailure("Hex cannot take \(OTTLFormat.typeName(other))")
        }
    }

    private static func bigEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
    }

    /// `TraceID` and `SpanID`: bytes of the exact length, or hex text of twice that length.
    private static func identifier(_ value: AnyValue?, byteCount: Int, name: String) throws(OTTLRuntimeFailure) -> [UInt8] {
        switch value {
        case .bytes(let bytes)? where bytes.count == byteCount:
            return bytes
        case .string(let text)? where text.utf8.count == 2 * byteCount:
            if let bytes = HexCoding.decode(text) { return bytes }
        default:
            break
        }
        throw OTTLRuntimeFailure("\(name) needs \(byteCount) bytes or \(2 * byteCount) hex digits")
    }
}
