/// An attribute or log-body value: every `AnyValue` kind of OTLP.
public enum AnyValue: Sendable, Hashable {
    /// A value with no kind set. OTLP allows it and it must survive a round trip.
    case empty
    case string(String)
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case bytes([UInt8])
    case array([AnyValue])
    case keyValueList([KeyValue])
}

/// One attribute: a key and its value.
public struct KeyValue: Sendable, Hashable {
    public var key: String
    public var value: AnyValue

    public init(key: String, value: AnyValue) {
        self.key = key
        self.value = value
    }

    public init(_ key: String, _ value: AnyValue) {
        self.init(key: key, value: value)
    }
}

extension Array where Element == KeyValue {
    /// The value of the first attribute with this key.
    public subscript(attribute key: String) -> AnyValue? {
        first(where: { $0.key == key })?.value
    }
}

extension AnyValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
