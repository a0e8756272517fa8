import LoupeModel

// The OTLP protobuf encoder: model values to export requests, and the export responses and gRPC status.
//
// Output is canonical protobuf as the official runtimes write it: fields in ascending field-number order,
// proto3 defaults left out, repeated scalars packed. Where the model distinguishes presence, so does the
// encoding: a set oneof member is written even when it holds its default (`AnyValue.string("")`,
// `NumberValue.int(0)`), `AnyValue.empty` is an `AnyValue` message with no member set, a nil `LogRecord.body`
// is no field at all, and optional doubles (`sum`, `min`, `max`) are written exactly when non-nil. So
// `decode(encode(x)) == x` for every model value.
//
// The writer works backwards (see `ProtobufWriter`): each function below prepends its message's fields from
// the highest field number down, and repeated fields from their last element to their first.

extension OTLPProtobuf {
    /// An `ExportTraceServiceRequest` (identical in layout to `TracesData`).
    public static func encodeTraces(_ data: TraceData) -> [UInt8] {
        var writer = ProtobufWriter(capacity: estimatedSize(items: data.itemCount))
        for resourceSpans in data.resourceSpans.reversed() {
            OTLPProtobufEncoding.prependResourceSpans(resourceSpans, field: 1, into: &writer)
        }
        return writer.finish()
    }

    /// An `ExportLogsServiceRequest` (identical in layout to `LogsData`).
    public static func encodeLogs(_ data: LogsData) -> [UInt8] {
        var writer = ProtobufWriter(capacity: estimatedSize(items: data.itemCount))
        for resourceLogs in data.resourceLogs.reversed() {
            OTLPProtobufEncoding.prependResourceLogs(resourceLogs, field: 1, into: &writer)
        }
        return writer.finish()
    }

    /// An `ExportMetricsServiceRequest` (identical in layout to `MetricsData`).
    public static func encodeMetrics(_ data: MetricsData) -> [UInt8] {
        var writer = ProtobufWriter(capacity: estimatedSize(items: data.itemCount))
        for resourceMetrics in data.resourceMetrics.reversed() {
            OTLPProtobufEncoding.prependResourceMetrics(resourceMetrics, field: 1, into: &writer)
        }
        return writer.finish()
    }

    /// The export request of `data`'s signal.
    public static func encode<Data: SignalData>(_ data: Data) -> [UInt8] {
        switch Data.signal {
        case .traces: encodeTraces(data as! TraceData)
        case .logs: encodeLogs(data as! LogsData)
        case .metrics: encodeMetrics(data as! MetricsData)
        }
    }

    /// An `Export{Trace,Metrics,Logs}ServiceResponse`. On full success (nothing rejected, no message) this is
    /// the empty message, as the spec requires `partial_success` to be unset then; otherwise `partial_success`
    /// (field 1) carries `rejected_spans` / `rejected_data_points` / `rejected_log_records` (field 1) and
    /// `error_message` (field 2). The three signals share this layout; `signal` only documents the caller's intent.
    public static func encodeExportResponse(signal: Signal, rejectedItems: Int64, errorMessage: String) -> [UInt8] {
        _ = signal
        if rejectedItems == 0 && errorMessage.isEmpty { return [] }
        var writer = ProtobufWriter(capacity: 32 + errorMessage.utf8.count)
        let mark = writer.count
        if !errorMessage.isEmpty { writer.prependStringField(2, errorMessage) }
        if rejectedItems != 0 { writer.prependInt64Field(1, rejectedItems) }
        writer.prependLengthAndTag(field: 1, since: mark)
        return writer.finish()
    }

    /// A `google.rpc.Status` (`code` = 1, `message` = 2, no details), as carried in `grpc-status-details-bin`
    /// and in OTLP/HTTP error bodies.
    public static func encodeStatus(code: Int32, message: String) -> [UInt8] {
        var writer = ProtobufWriter(capacity: 32 + message.utf8.count)
        if !message.isEmpty { writer.prependStringField(2, message) }
        if code != 0 { writer.prependInt32Field(1, code) }
        return writer.finish()
    }

    static func estimatedSize(items: Int) -> Int {
        Swift.min(Swift.max(items, 1) &* 256, 64 << 20)
    }
}

/// The encoding functions, one per message. Each prepends a whole field (`field`: the field number the
/// message has in its parent) or, for `...Body`, just the message's fields.
enum OTLPProtobufEncoding {
    // MARK: - IDs

    @inline(__always)
    static func prependTraceID(_ field: UInt32, _ id: TraceID, into writer: inout ProtobufWriter) {
        guard !id.isEmpty else { return }
        writer.prependBigEndian64(id.low)
        writer.prependBigEndian64(id.high)
        writer.prependVarint(16)
        writer.prependTag(field: field, wireType: .lengthDelimited)
    }

    @inline(__always)
    static func prependSpanID(_ field: UInt32, _ id: SpanID, into writer: inout ProtobufWriter) {
        guard !id.isEmpty else { return }
        writer.prependBigEndian64(id.value)
        writer.prependVarint(8)
        writer.prependTag(field: field, wireType: .lengthDelimited)
    }

    // MARK: - proto3 scalars, left out when default

    @inline(__always)
    static func prependString(_ field: UInt32, _ value: String, into writer: inout ProtobufWriter) {
        if !value.isEmpty { writer.prependStringField(field, value) }
    }

    @inline(__always)
    static func prependUInt32(_ field: UInt32, _ value: UInt32, into writer: inout ProtobufWriter) {
        if value != 0 { writer.prependVarintField(field, UInt64(value)) }
    }

    @inline(__always)
    static func prependEnum(_ field: UInt32, _ value: Int32, into writer: inout ProtobufWriter) {
        if value != 0 { writer.prependInt32Field(field, value) }
    }

    @inline(__always)
    static func prependFixed64(_ field: UInt32, _ value: UInt64, into writer: inout ProtobufWriter) {
        if value != 0 { writer.prependFixed64Field(field, value) }
    }

    @inline(__always)
    static func prependFixed32(_ field: UInt32, _ value: UInt32, into writer: inout ProtobufWriter) {
        if value != 0 { writer.prependFixed32Field(field, value) }
    }

    /// A non-optional double: left out only when it is +0.0 (so -0.0 survives).
    @inline(__always)
    static func prependDouble(_ field: UInt32, _ value: Double, into writer: inout ProtobufWriter) {
        if value.bitPattern != 0 { writer.prependDoubleField(field, value) }
    }

    /// An `optional double`: written exactly when present.
    @inline(__always)
    static func prependOptionalDouble(_ field: UInt32, _ value: Double?, into writer: inout ProtobufWriter) {
        if let value { writer.prependDoubleField(field, value) }
    }

    // MARK: - AnyValue, KeyValue

    static func prependKeyValues(_ field: UInt32, _ values: [KeyValue], into writer: inout ProtobufWriter) {
        // Through a buffer pointer: subscripting the array would copy (retain) each element.
        values.withUnsafeBufferPointer { buffer in
            var index = buffer.count
            while index > 0 {
                index &-= 1
                prependKeyValue(field, buffer[index], into: &writer)
            }
        }
    }

    @inline(__always)
    static func prependKeyValue(_ field: UInt32, _ keyValue: KeyValue, into writer: inout ProtobufWriter) {
        let mark = writer.count
        // The value is always written, so an `.empty` value is an AnyValue message with nothing set.
        let valueMark = writer.count
        prependAnyValueBody(keyValue.value, into: &writer)
        writer.prependLengthAndTag(field: 2, since: valueMark)
        prependString(1, keyValue.key, into: &writer)
        writer.prependLengthAndTag(field: field, since: mark)
    }

    /// An AnyValue's fields: the set oneof member (even when it holds its default), nothing for `.empty`.
    static func prependAnyValueBody(_ value: AnyValue, into writer: inout ProtobufWriter) {
        switch value {
        case .empty:
            break
        case .string(let string):
            writer.prependStringField(1, string)
        case .bool(let bool):
            writer.prependBoolField(2, bool)
        case .int(let int):
            writer.prependInt64Field(3, int)
        case .double(let double):
            writer.prependDoubleField(4, double)
        case .array(let values):
            let mark = writer.count
            var index = values.count
            while index > 0 {
                index &-= 1
                let elementMark = writer.count
                prependAnyValueBody(values[index], into: &writer)
                writer.prependLengthAndTag(field: 1, since: elementMark)
            }
            writer.prependLengthAndTag(field: 5, since: mark)
        case .keyValueList(let values):
            let mark = writer.count
            prependKeyValues(1, values, into: &writer)
            writer.prependLengthAndTag(field: 6, since: mark)
        case .bytes(let bytes):
            let mark = writer.count
            bytes.withUnsafeBytes { writer.prependRawBytes($0) }
            writer.prependLengthAndTag(field: 7, since: mark)
        }
    }

    // MARK: - Resource, InstrumentationScope, EntityRef

    /// The resource field; left out when the resource is empty.
    static func prependResource(_ field: UInt32, _ resource: Resource, into writer: inout ProtobufWriter) {
        guard !resource.attributes.isEmpty || resource.droppedAttributesCount != 0 || !resource.entityRefs.isEmpty else { return }
        let mark = writer.count
        for entity in resource.entityRefs.reversed() { prependEntityRef(3, entity, into: &writer) }
        prependUInt32(2, resource.droppedAttributesCount, into: &writer)
        prependKeyValues(1, resource.attributes, into: &writer)
        writer.prependLengthAndTag(field: field, since: mark)
    }

    static func prependEntityRef(_ field: UInt32, _ entity: EntityRef, into writer: inout ProtobufWriter) {
        let mark = writer.count
        for key in entity.descriptionKeys.reversed() { writer.prependStringField(4, key) }
        for key in entity.idKeys.reversed() { writer.prependStringField(3, key) }
        prependString(2, entity.type, into: &writer)
        prependString(1, entity.schemaURL, into: &writer)
        writer.prependLengthAndTag(field: field, since: mark)
    }

    /// The scope field; left out when the scope is empty.
    static func prependScope(_ field: UInt32, _ scope: InstrumentationScope, into writer: inout ProtobufWriter) {
        guard !scope.name.isEmpty || !scope.version.isEmpty || !scope.attributes.isEmpty || scope.droppedAttributesCount != 0 else {
            return
        }
        let mark = writer.count
        prependUInt32(4, scope.droppedAttributesCount, into: &writer)
        prependKeyValues(3, scope.attributes, into: &writer)
        prependString(2, scope.version, into: &writer)
        prependString(1, scope.name, into: &writer)
        writer.prependLengthAndTag(field: field, since: mark)
    }
}
