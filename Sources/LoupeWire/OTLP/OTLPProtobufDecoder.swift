import LoupeModel

/// The OTLP protobuf codec (OTLP v1.11.0): export requests of all three signals in, model values out, and back.
///
/// Decoding accepts `ExportTraceServiceRequest` / `ExportLogsServiceRequest` / `ExportMetricsServiceRequest`
/// (the same field layout as `TracesData` / `LogsData` / `MetricsData`) and follows the protobuf rules:
/// unknown fields (of every wire type, groups included) are skipped, as is a known field that arrives with an
/// unexpected wire type; repeated scalars are accepted packed and unpacked; for a singular field seen twice the
/// last value wins and embedded messages merge. On top of that it checks what OTLP requires: strings are UTF-8,
/// trace IDs are empty or 16 bytes and span IDs empty or 8 bytes. Problems are reported as `WireError` with the
/// path of the offending field (`resourceSpans[0].scopeSpans[1].spans[3].traceId`) and its byte offset.
///
/// `KeyValue.key_strindex` and `AnyValue.string_value_strindex` refer to the profiles dictionary and mean
/// nothing in traces, logs or metrics. The spec asks receivers to treat them as a non-fatal issue and process
/// the data as if they were absent, so they are ignored: a `KeyValue` with only `key_strindex` gets an empty
/// key, and an `AnyValue` whose oneof is `string_value_strindex` decodes as `.empty`.
public enum OTLPProtobuf {
    /// How deeply `AnyValue`s (arrays and key-value lists) may nest; deeper input is rejected so hostile
    /// payloads cannot exhaust the stack. The same as the protobuf runtimes' default recursion limit.
    public static let maximumNestingDepth = 100

    // MARK: - Requests

    /// Decodes an `ExportTraceServiceRequest` (or `TracesData`).
    public static func decodeTraces(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> TraceData {
        let decoding = OTLPProtobufDecoding()
        defer { decoding.release() }
        var reader = ProtobufReader(bytes)
        return try decoding.decodeTraceData(&reader)
    }

    /// Decodes an `ExportLogsServiceRequest` (or `LogsData`).
    public static func decodeLogs(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> LogsData {
        let decoding = OTLPProtobufDecoding()
        defer { decoding.release() }
        var reader = ProtobufReader(bytes)
        return try decoding.decodeLogsData(&reader)
    }

    /// Decodes an `ExportMetricsServiceRequest` (or `MetricsData`).
    public static func decodeMetrics(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> MetricsData {
        let decoding = OTLPProtobufDecoding()
        defer { decoding.release() }
        var reader = ProtobufReader(bytes)
        return try decoding.decodeMetricsData(&reader)
    }

    public static func decodeTraces(_ bytes: [UInt8]) throws(WireError) -> TraceData {
        try withBytes(bytes) { (buffer) throws(WireError) in try decodeTraces(buffer) }
    }

    public static func decodeLogs(_ bytes: [UInt8]) throws(WireError) -> LogsData {
        try withBytes(bytes) { (buffer) throws(WireError) in try decodeLogs(buffer) }
    }

    public static func decodeMetrics(_ bytes: [UInt8]) throws(WireError) -> MetricsData {
        try withBytes(bytes) { (buffer) throws(WireError) in try decodeMetrics(buffer) }
    }

    /// Decodes the export request of `Data`'s signal.
    public static func decode<Data: SignalData>(_ type: Data.Type, from bytes: UnsafeRawBufferPointer) throws(WireError) -> Data {
        switch Data.signal {
        case .traces: return try decodeTraces(bytes) as! Data
        case .logs: return try decodeLogs(bytes) as! Data
        case .metrics: return try decodeMetrics(bytes) as! Data
        }
    }

    // MARK: - Responses

    /// Decodes an `Export*ServiceResponse` of any signal: the `partial_success` counts (0 and "" when absent).
    public static func decodeExportResponse(_ bytes: [UInt8]) throws(WireError) -> (rejectedItems: Int64, errorMessage: String) {
        try withBytes(bytes) { (buffer) throws(WireError) in
            var reader = ProtobufReader(buffer)
            var rejected: Int64 = 0
            var message = ""
            while !reader.isAtEnd {
                let tag = try reader.readTag()
                guard tag == 1 << 3 | 2 else {
                    try reader.skipField(tag: tag)
                    continue
                }
                var partial = try reader.readMessage()
                do throws(WireError) {
                    while !partial.isAtEnd {
                        let inner = try partial.readTag()
                        switch inner {
                        case 1 << 3 | 0: rejected = try partial.readVarintInt64()
                        case 2 << 3 | 2: message = try partial.readString()
                        default: try partial.skipField(tag: inner)
                        }
                    }
                } catch {
                    throw error.prefixed(with: "partialSuccess")
                }
            }
            return (rejected, message)
        }
    }

    /// Decodes a `google.rpc.Status` (`code` = 1, `message` = 2; `details` are skipped).
    public static func decodeStatus(_ bytes: [UInt8]) throws(WireError) -> (code: Int32, message: String) {
        try withBytes(bytes) { (buffer) throws(WireError) in
            var reader = ProtobufReader(buffer)
            var code: Int32 = 0
            var message = ""
            while !reader.isAtEnd {
                let tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 0: code = try reader.readVarintInt32()
                case 2 << 3 | 2: message = try reader.readString()
                default: try reader.skipField(tag: tag)
                }
            }
            return (code, message)
        }
    }

    static func withBytes<Result>(
        _ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(WireError) -> Result
    ) throws(WireError) -> Result {
        let result: Swift.Result<Result, WireError> = bytes.withUnsafeBytes { buffer in
            do throws(WireError) { return .success(try body(buffer)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}

/// The state of one decode call: the string caches. Every message decoder is a method on it.
struct OTLPProtobufDecoding {
    /// Attribute keys: few distinct, repeated in every span.
    let keys = ProtobufStringInterner(slotCount: 256)
    /// String attribute values, span and event names: more distinct values, many repeated.
    let values = ProtobufStringInterner(slotCount: 1024)

    func release() {
        keys.release()
        values.release()
    }
}
