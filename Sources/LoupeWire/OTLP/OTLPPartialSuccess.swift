/// What an OTLP receiver says it did not take from a request it accepted: the `partial_success`
/// of an `Export{Logs,Metrics,Trace}ServiceResponse` (field 1: `rejected_*` count as field 1,
/// `error_message` as field 2; the same shape for the three signals).
public struct OTLPPartialSuccess: Sendable, Equatable {
    public var rejected: Int64
    public var message: String

    public init(rejected: Int64, message: String) {
        self.rejected = rejected
        self.message = message
    }

    /// Nil for an empty response or one that rejects nothing and says nothing (full success);
    /// a response that does not decode is taken as full success too (the request was accepted).
    public static func decode(response bytes: [UInt8]) -> OTLPPartialSuccess? {
        bytes.withUnsafeBytes { raw in
            do throws(WireError) {
                var reader = ProtobufReader(raw)
                var found: OTLPPartialSuccess?
                while !reader.isAtEnd {
                    let tag = try reader.readTag()
                    guard tag == 1 << 3 | 2 else {
                        try reader.skipField(tag: tag)
                        continue
                    }
                    var partial = try reader.readMessage()
                    var result = OTLPPartialSuccess(rejected: 0, message: "")
                    while !partial.isAtEnd {
                        let inner = try partial.readTag()
                        switch inner {
                        case 1 << 3: result.rejected = try partial.readVarintInt64()
                        case 2 << 3 | 2: result.message = String(decoding: try partial.readBytes(), as: UTF8.self)
                        default: try partial.skipField(tag: inner)
                        }
                    }
                    found = result
                }
                guard let found, found.rejected > 0 || !found.message.isEmpty else { return nil }
                return found
            } catch {
                return nil
            }
        }
    }
}
