/// Why a payload could not be decoded (or encoded): shared by the protobuf, JSON and compression codecs.
///
/// Carries a machine-readable `code`, a precise human `message`, the `path` of the offending field within the
/// message (OTLP/JSON field names, e.g. `resourceSpans[0].scopeSpans[1].spans[3].traceId`) and the byte
/// `offset` into the input where the problem was found.
///
/// Decoders build `path` lazily: the innermost code throws with the field it was reading, and each enclosing
/// level prefixes its own component (`prefixed(with:)`) while the error unwinds, so a successful decode never
/// formats a path.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of problem. Open for extension: other codecs may add codes with `extension WireError.Code`.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The input ended in the middle of a value (or a length points past the end of the input).
        public static let truncated = Code(rawValue: "truncated")
        /// A varint longer than 10 bytes or overflowing 64 bits (or a tag overflowing 32 bits).
        public static let malformedVarint = Code(rawValue: "malformed varint")
        /// A protobuf wire type that is not defined (6, 7), an unmatched end-group, or field number 0.
        public static let invalidWireType = Code(rawValue: "invalid wire type")
        /// A field whose length is not the one its type requires (e.g. a trace ID that is not 16 bytes).
        public static let invalidLength = Code(rawValue: "invalid length")
        /// A string field whose bytes are not valid UTF-8.
        public static let invalidUTF8 = Code(rawValue: "invalid UTF-8")
        /// A value that is well-formed on the wire but not acceptable (out of range, wrong kind, too deep).
        public static let invalidValue = Code(rawValue: "invalid value")
        /// Input that is not well-formed JSON.
        public static let invalidJSON = Code(rawValue: "invalid JSON")
        /// Input or output over a configured size limit.
        public static let tooLarge = Code(rawValue: "too large")
        /// A content or compression encoding that is not supported.
        public static let unsupportedEncoding = Code(rawValue: "unsupported encoding")

        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String
    /// Where in the message, as dotted field names with `[index]` for repeated fields; empty at the top level.
    public var path: String
    /// The byte offset into the input, when known.
    public var offset: Int?

    public init(_ code: Code, _ message: String, at path: String = "", offset: Int? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.offset = offset
    }

    /// `invalid length at resourceSpans[0].scopeSpans[0].spans[3].traceId (byte 1234): trace_id must be 16 bytes, got 5`
    public var description: String {
        var text = code.rawValue
        if !path.isEmpty { text += " at \(path)" }
        if let offset { text += path.isEmpty ? " at byte \(offset)" : " (byte \(offset))" }
        return text + ": " + message
    }

    /// This error as seen from one level up: `component` (a field name, optionally with `[index]`) is put in
    /// front of the path.
    public func prefixed(with component: String) -> WireError {
        var copy = self
        copy.prefixPath(with: component)
        return copy
    }

    /// Puts `component` in front of the path (see `prefixed(with:)`).
    public mutating func prefixPath(with component: String) {
        if component.isEmpty { return }
        if path.isEmpty {
            path = component
        } else if path.utf8.first == UInt8(ascii: "[") {
            path = component + path
        } else {
            path = component + "." + path
        }
    }

    /// This error with `name[index]` put in front of the path.
    public func prefixed(with name: String, index: Int) -> WireError {
        prefixed(with: "\(name)[\(index)]")
    }
}
