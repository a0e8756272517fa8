import LoupeModel

extension OTLPJSON {
    /// Encodes an `ExportTraceServiceRequest` as OTLP/JSON: lowercase hex IDs, integer enums,
    /// 64-bit integers as decimal strings, fields at their default value left out (as protobuf's
    /// JSON mapping does), while presence is kept for oneofs (AnyValue kinds, metric data kinds,
    /// number values), optional fields (histogram sum/min/max) and the log body.
    public static func encodeTraces(_ data: TraceData) -> [UInt8] {
        var encoder = OTLPJSONEncoder(capacity: 256 + data.itemCount * 512)
        encoder.traces(data)
        return encoder.writer.bytes
    }

    /// Encodes an `ExportLogsServiceRequest` as OTLP/JSON.
    public static func encodeLogs(_ data: LogsData) -> [UInt8] {
        var encoder = OTLPJSONEncoder(capacity: 256 + data.itemCount * 512)
        encoder.logs(data)
        return encoder.writer.bytes
    }

    /// Encodes an `ExportMetricsServiceRequest` as OTLP/JSON.
    public static func encodeMetrics(_ data: MetricsData) -> [UInt8] {
        var encoder = OTLPJSONEncoder(capacity: 256 + data.itemCount * 256)
        encoder.metrics(data)
        return encoder.writer.bytes
    }

    /// Encodes the export request of `data`'s signal as OTLP/JSON.
    public static func encode<Data: SignalData>(_ data: Data) -> [UInt8] {
        switch Data.signal {
        case .traces: encodeTraces(data as! TraceData)
        case .logs: encodeLogs(data as! LogsData)
        case .metrics: encodeMetrics(data as! MetricsData)
        }
    }

    /// An `Export*ServiceResponse`: `{}` on full success, otherwise
    /// `{"partialSuccess":{"rejectedSpans":"3","errorMessage":"..."}}` with the signal's field
    /// (`rejectedSpans`, `rejectedLogRecords`, `rejectedDataPoints`); zero and empty members are left out.
    public static func encodeExportResponse(signal: Signal, rejectedItems: Int64, errorMessage: String = "") -> [UInt8] {
        var writer = JSONWriter(capacity: 64 + errorMessage.utf8.count)
        writer.beginObject()
        if rejectedItems != 0 || !errorMessage.isEmpty {
            writer.key("partialSuccess")
            writer.beginObject()
            if rejectedItems != 0 {
                switch signal {
                case .traces: writer.key("rejectedSpans")
                case .logs: writer.key("rejectedLogRecords")
                case .metrics: writer.key("rejectedDataPoints")
                }
                writer.quoted(rejectedItems)
                writer.comma()
            }
            if !errorMessage.isEmpty {
                writer.key("errorMessage")
                writer.string(errorMessage)
                writer.comma()
            }
            writer.endObject()
        }
        writer.endObject()
        return writer.bytes
    }

    /// A `google.rpc.Status` as JSON, e.g. `{"code":3,"message":"..."}` (the body OTLP/HTTP sends
    /// with error responses); a zero code and an empty message are left out.
    public static func encodeStatus(code: Int32, message: String) -> [UInt8] {
        var writer = JSONWriter(capacity: 32 + message.utf8.count)
        writer.beginObject()
        if code != 0 {
            writer.key("code")
            writer.decimal(Int64(code))
            writer.comma()
        }
        if !message.isEmpty {
            writer.key("message")
            writer.string(message)
            writer.comma()
        }
        writer.endObject()
        return writer.bytes
    }
}

/// Writes the model as OTLP/JSON.
struct OTLPJSONEncoder {
    var writer: JSONWriter

    init(capacity: Int) {
        writer = JSONWriter(capacity: Swift.min(capacity, 64 << 20))
    }

    // MARK: - Field helpers (each writes `"name":value,` or nothing when the value is the default)

    @inline(__always)
    mutating func stringField(_ name: StaticString, _ value: String) {
        guard !value.isEmpty else { return }
        writer.key(name)
        writer.string(value)
        writer.comma()
    }

    @inline(__always)
    mutating func uint64Field(_ name: StaticString, _ value: UInt64) {
        guard value != 0 else { return }
        writer.key(name)
        writer.quoted(value)
        writer.comma()
    }

    @inline(__always)
    mutating func uint32Field(_ name: StaticString, _ value: UInt32) {
        guard value != 0 else { return }
        writer.key(name)
        writer.decimal(UInt64(value))
        writer.comma()
    }

    @inline(__always)
    mutating func int32Field(_ name: StaticString, _ value: Int32) {
        guard value != 0 else { return }
        writer.key(name)
        writer.decimal(Int64(value))
        writer.comma()
    }

    /// A plain (implicit-presence) double: left out only when it is +0.0, so -0.0 survives.
    @inline(__always)
    mutating func doubleField(_ name: StaticString, _ value: Double) {
        guard value.bitPattern != 0 else { return }
        writer.key(name)
        writer.double(value)
        writer.comma()
    }

    /// An `optional double`: written whenever it is set.
    @inline(__always)
    mutating func optionalDoubleField(_ name: StaticString, _ value: Double?) {
        guard let value else { return }
        writer.key(name)
        writer.double(value)
        writer.comma()
    }

    @inline(__always)
    mutating func traceIDField(_ name: StaticString, _ id: TraceID) {
        guard !id.isEmpty else { return }
        writer.key(name)
        writer.byte(UInt8(ascii: "\""))
        writer.hex(id.high)
        writer.hex(id.low)
        writer.byte(UInt8(ascii: "\""))
        writer.comma()
    }

    @inline(__always)
    mutating func spanIDField(_ name: StaticString, _ id: SpanID) {
        guard !id.isEmpty else { return }
        writer.key(name)
        writer.byte(UInt8(ascii: "\""))
        writer.hex(id.value)
        writer.byte(UInt8(ascii: "\""))
        writer.comma()
    }

    @inline(__always)
    mutating func attributesField(_ name: StaticString, _ attributes: [KeyValue]) {
        guard !attributes.isEmpty else { return }
        writer.key(name)
        keyValues(attributes)
        writer.comma()
    }

    @inline(__always)
    mutating func arrayField<Element>(_ name: StaticString, _ elements: [Element], _ write: (inout Self, Element) -> Void) {
        guard !elements.isEmpty else { return }
        writer.key(name)
        writer.beginArray()
        for element in elements {
            write(&self, element)
            writer.comma()
        }
        writer.endArray()
        writer.comma()
    }

    // MARK: - Common messages

    mutating func resourceField(_ resource: Resource) {
        guard !resource.attributes.isEmpty || resource.droppedAttributesCount != 0 || !resource.entityRefs.isEmpty else { return }
        writer.key("resource")
        writer.beginObject()
        attributesField("attributes", resource.attributes)
        uint32Field("droppedAttributesCount", resource.droppedAttributesCount)
        arrayField("entityRefs", resource.entityRefs) { encoder, ref in encoder.entityRef(ref) }
        writer.endObject()
        writer.comma()
    }

    mutating func entityRef(_ ref: EntityRef) {
        writer.beginObject()
        stringField("schemaUrl", ref.schemaURL)
        stringField("type", ref.type)
        arrayField("idKeys", ref.idKeys) { encoder, key in encoder.writer.string(key) }
        arrayField("descriptionKeys", ref.descriptionKeys) { encoder, key in encoder.writer.string(key) }
        writer.endObject()
    }

    mutating func scopeField(_ scope: InstrumentationScope) {
        guard !scope.name.isEmpty || !scope.version.isEmpty || !scope.attributes.isEmpty || scope.droppedAttributesCount != 0 else {
            return
        }
        writer.key("scope")
        writer.beginObject()
        stringField("name", scope.name)
        stringField("version", scope.version)
        attributesField("attributes", scope.attributes)
        uint32Field("droppedAttributesCount", scope.droppedAttributesCount)
        writer.endObject()
        writer.comma()
    }

    mutating func keyValues(_ attributes: [KeyValue]) {
        writer.beginArray()
        for attribute in attributes {
            writer.beginObject()
            stringField("key", attribute.key)
            writer.key("value")
            anyValue(attribute.value)
            writer.comma()
            writer.endObject()
            writer.comma()
        }
        writer.endArray()
    }

    /// An AnyValue object; its kind is always written, even at the default value.
    mutating func anyValue(_ value: AnyValue) {
        writer.beginObject()
        switch value {
        case .empty:
            break
        case .string(let string):
            writer.key("stringValue")
            writer.string(string)
        case .bool(let bool):
            writer.key("boolValue")
            writer.bool(bool)
        case .int(let int):
            writer.key("intValue")
            writer.quoted(int)
        case .double(let double):
            writer.key("doubleValue")
            writer.double(double)
        case .bytes(let bytes):
            writer.key("bytesValue")
            writer.byte(UInt8(ascii: "\""))
            JSONBase64.encode(bytes, into: &writer.bytes)
            writer.byte(UInt8(ascii: "\""))
        case .array(let values):
            writer.key("arrayValue")
            writer.beginObject()
            arrayField("values", values) { encoder, element in encoder.anyValue(element) }
            writer.endObject()
        case .keyValueList(let values):
            writer.key("kvlistValue")
            writer.beginObject()
            attributesField("values", values)
            writer.endObject()
        }
        writer.endObject()
    }

    // MARK: - Traces

    mutating func traces(_ data: TraceData) {
        writer.beginObject()
        arrayField("resourceSpans", data.resourceSpans) { encoder, resourceSpans in
            encoder.writer.beginObject()
            encoder.resourceField(resourceSpans.resource)
            encoder.arrayField("scopeSpans", resourceSpans.scopeSpans) { encoder, scopeSpans in
                encoder.writer.beginObject()
                encoder.scopeField(scopeSpans.scope)
                encoder.arrayField("spans", scopeSpans.spans) { encoder, span in encoder.span(span) }
                encoder.stringField("schemaUrl", scopeSpans.schemaURL)
                encoder.writer.endObject()
            }
            encoder.stringField("schemaUrl", resourceSpans.schemaURL)
            encoder.writer.endObject()
        }
        writer.endObject()
    }

    mutating func span(_ span: Span) {
        writer.beginObject()
        traceIDField("traceId", span.traceID)
        spanIDField("spanId", span.spanID)
        stringField("traceState", span.traceState)
        spanIDField("parentSpanId", span.parentSpanID)
        uint32Field("flags", span.flags)
        stringField("name", span.name)
        int32Field("kind", span.kind.rawValue)
        uint64Field("startTimeUnixNano", span.startTimeUnixNano)
        uint64Field("endTimeUnixNano", span.endTimeUnixNano)
        attributesField("attributes", span.attributes)
        uint32Field("droppedAttributesCount", span.droppedAttributesCount)
        arrayField("events", span.events) { encoder, event in
            encoder.writer.beginObject()
            encoder.uint64Field("timeUnixNano", event.timeUnixNano)
            encoder.stringField("name", event.name)
            encoder.attributesField("attributes", event.attributes)
            encoder.uint32Field("droppedAttributesCount", event.droppedAttributesCount)
            encoder.writer.endObject()
        }
        uint32Field("droppedEventsCount", span.droppedEventsCount)
        arrayField("links", span.links) { encoder, link in
            encoder.writer.beginObject()
            encoder.traceIDField("traceId", link.traceID)
            encoder.spanIDField("spanId", link.spanID)
            encoder.stringField("traceState", link.traceState)
            encoder.attributesField("attributes", link.attributes)
            encoder.uint32Field("droppedAttributesCount", link.droppedAttributesCount)
            encoder.uint32Field("flags", link.flags)
            encoder.writer.endObject()
        }
        uint32Field("droppedLinksCount", span.droppedLinksCount)
        if !span.status.message.isEmpty || span.status.code != .unset {
            writer.key("status")
            writer.beginObject()
            stringField("message", span.status.message)
            int32Field("code", span.status.code.rawValue)
            writer.endObject()
            writer.comma()
        }
        writer.endObject()
    }

    // MARK: - Logs

    mutating func logs(_ data: LogsData) {
        writer.beginObject()
        arrayField("resourceLogs", data.resourceLogs) { encoder, resourceLogs in
            encoder.writer.beginObject()
            encoder.resourceField(resourceLogs.resource)
            encoder.arrayField("scopeLogs", resourceLogs.scopeLogs) { encoder, scopeLogs in
                encoder.writer.beginObject()
                encoder.scopeField(scopeLogs.scope)
                encoder.arrayField("logRecords", scopeLogs.logRecords) { encoder, record in encoder.logRecord(record) }
                encoder.stringField("schemaUrl", scopeLogs.schemaURL)
                encoder.writer.endObject()
            }
            encoder.stringField("schemaUrl", resourceLogs.schemaURL)
            encoder.writer.endObject()
        }
        writer.endObject()
    }

    mutating func logRecord(_ record: LogRecord) {
        writer.beginObject()
        uint64Field("timeUnixNano", record.timeUnixNano)
        uint64Field("observedTimeUnixNano", record.observedTimeUnixNano)
        int32Field("severityNumber", record.severityNumber.rawValue)
        stringField("severityText", record.severityText)
        if let body = record.body {
            writer.key("body")
            anyValue(body)
            writer.comma()
        }
        attributesField("attributes", record.attributes)
        uint32Field("droppedAttributesCount", record.droppedAttributesCount)
        uint32Field("flags", record.flags)
        traceIDField("traceId", record.traceID)
        spanIDField("spanId", record.spanID)
        stringField("eventName", record.eventName)
        writer.endObject()
    }

    // MARK: - Metrics

    mutating func metrics(_ data: MetricsData) {
        writer.beginObject()
        arrayField("resourceMetrics", data.resourceMetrics) { encoder, resourceMetrics in
            encoder.writer.beginObject()
            encoder.resourceField(resourceMetrics.resource)
            encoder.arrayField("scopeMetrics", resourceMetrics.scopeMetrics) { encoder, scopeMetrics in
                encoder.writer.beginObject()
                encoder.scopeField(scopeMetrics.scope)
                encoder.arrayField("metrics", scopeMetrics.metrics) { encoder, metric in encoder.metric(metric) }
                encoder.stringField("schemaUrl", scopeMetrics.schemaURL)
                encoder.writer.endObject()
            }
            encoder.stringField("schemaUrl", resourceMetrics.schemaURL)
            encoder.writer.endObject()
        }
        writer.endObject()
    }

    mutating func metric(_ metric: Metric) {
        writer.beginObject()
        stringField("name", metric.name)
        stringField("description", metric.description)
        stringField("unit", metric.unit)
        switch metric.data {
        case .none:
            break
        case .gauge(let gauge):
            writer.key("gauge")
            writer.beginObject()
            arrayField("dataPoints", gauge.dataPoints) { encoder, point in encoder.numberDataPoint(point) }
            writer.endObject()
            writer.comma()
        case .sum(let sum):
            writer.key("sum")
            writer.beginObject()
            arrayField("dataPoints", sum.dataPoints) { encoder, point in encoder.numberDataPoint(point) }
            int32Field("aggregationTemporality", sum.aggregationTemporality.rawValue)
            if sum.isMonotonic {
                writer.key("isMonotonic")
                writer.bool(true)
                writer.comma()
            }
            writer.endObject()
            writer.comma()
        case .histogram(let histogram):
            writer.key("histogram")
            writer.beginObject()
            arrayField("dataPoints", histogram.dataPoints) { encoder, point in encoder.histogramDataPoint(point) }
            int32Field("aggregationTemporality", histogram.aggregationTemporality.rawValue)
            writer.endObject()
            writer.comma()
        case .exponentialHistogram(let histogram):
            writer.key("exponentialHistogram")
            writer.beginObject()
            arrayField("dataPoints", histogram.dataPoints) { encoder, point in encoder.exponentialHistogramDataPoint(point) }
            int32Field("aggregationTemporality", histogram.aggregationTemporality.rawValue)
            writer.endObject()
            writer.comma()
        case .summary(let summary):
            writer.key("summary")
            writer.beginObject()
            arrayField("dataPoints", summary.dataPoints) { encoder, point in encoder.summaryDataPoint(point) }
            writer.endObject()
            writer.comma()
        }
        attributesField("metadata", metric.metadata)
        writer.endObject()
    }

    mutating func numberValueFields(_ value: NumberValue?) {
        switch value {
        case .none:
            break
        case .double(let double):
            writer.key("asDouble")
            writer.double(double)
            writer.comma()
        case .int(let int):
            writer.key("asInt")
            writer.quoted(int)
            writer.comma()
        }
    }

    mutating func exemplarsField(_ exemplars: [Exemplar]) {
        arrayField("exemplars", exemplars) { encoder, exemplar in
            encoder.writer.beginObject()
            encoder.attributesField("filteredAttributes", exemplar.filteredAttributes)
            encoder.uint64Field("timeUnixNano", exemplar.timeUnixNano)
            encoder.numberValueFields(exemplar.value)
            encoder.spanIDField("spanId", exemplar.spanID)
            encoder.traceIDField("traceId", exemplar.traceID)
            encoder.writer.endObject()
        }
    }

    mutating func numberDataPoint(_ point: NumberDataPoint) {
        writer.beginObject()
        attributesField("attributes", point.attributes)
        uint64Field("startTimeUnixNano", point.startTimeUnixNano)
        uint64Field("timeUnixNano", point.timeUnixNano)
        numberValueFields(point.value)
        exemplarsField(point.exemplars)
        uint32Field("flags", point.flags.rawValue)
        writer.endObject()
    }

    mutating func histogramDataPoint(_ point: HistogramDataPoint) {
        writer.beginObject()
        attributesField("attributes", point.attributes)
        uint64Field("startTimeUnixNano", point.startTimeUnixNano)
        uint64Field("timeUnixNano", point.timeUnixNano)
        uint64Field("count", point.count)
        optionalDoubleField("sum", point.sum)
        arrayField("bucketCounts", point.bucketCounts) { encoder, count in encoder.writer.quoted(count) }
        arrayField("explicitBounds", point.explicitBounds) { encoder, bound in encoder.writer.double(bound) }
        exemplarsField(point.exemplars)
        uint32Field("flags", point.flags.rawValue)
        optionalDoubleField("min", point.min)
        optionalDoubleField("max", point.max)
        writer.endObject()
    }

    mutating func bucketsField(_ name: StaticString, _ buckets: ExponentialHistogramDataPoint.Buckets) {
        guard buckets.offset != 0 || !buckets.bucketCounts.isEmpty else { return }
        writer.key(name)
        writer.beginObject()
        int32Field("offset", buckets.offset)
        arrayField("bucketCounts", buckets.bucketCounts) { encoder, count in encoder.writer.quoted(count) }
        writer.endObject()
        writer.comma()
    }

    mutating func exponentialHistogramDataPoint(_ point: ExponentialHistogramDataPoint) {
        writer.beginObject()
        attributesField("attributes", point.attributes)
        uint64Field("startTimeUnixNano", point.startTimeUnixNano)
        uint64Field("timeUnixNano", point.timeUnixNano)
        uint64Field("count", point.count)
        optionalDoubleField("sum", point.sum)
        int32Field("scale", point.scale)
        uint64Field("zeroCount", point.zeroCount)
        bucketsField("positive", point.positive)
        bucketsField("negative", point.negative)
        uint32Field("flags", point.flags.rawValue)
        exemplarsField(point.exemplars)
        optionalDoubleField("min", point.min)
        optionalDoubleField("max", point.max)
        doubleField("zeroThreshold", point.zeroThreshold)
        writer.endObject()
    }

    mutating func summaryDataPoint(_ point: SummaryDataPoint) {
        writer.beginObject()
        attributesField("attributes", point.attributes)
        uint64Field("startTimeUnixNano", point.startTimeUnixNano)
        uint64Field("timeUnixNano", point.timeUnixNano)
        uint64Field("count", point.count)
        doubleField("sum", point.sum)
        arrayField("quantileValues", point.quantileValues) { encoder, quantile in
            encoder.writer.beginObject()
            encoder.doubleField("quantile", quantile.quantile)
            encoder.doubleField("value", quantile.value)
            encoder.writer.endObject()
        }
        uint32Field("flags", point.flags.rawValue)
        writer.endObject()
    }
}
