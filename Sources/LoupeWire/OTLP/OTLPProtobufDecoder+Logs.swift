import LoupeModel

// Decoding of logs.proto / logs_service.proto.

extension OTLPProtobufDecoding {
    /// `ExportLogsServiceRequest` / `LogsData`: `repeated ResourceLogs resource_logs = 1`.
    func decodeLogsData(_ reader: inout ProtobufReader) throws(WireError) -> LogsData {
        var data = LogsData()
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                if tag == 1 << 3 | 2 {
                    var nested = try reader.readMessage()
                    var resourceLogs = ResourceLogs()
                    try decodeResourceLogs(&nested, into: &resourceLogs)
                    data.resourceLogs.append(consume resourceLogs)
                } else {
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            throw tag >> 3 == 1 ? error.prefixed(with: "resourceLogs", index: data.resourceLogs.count) : error
        }
        return data
    }

    func decodeResourceLogs(_ reader: inout ProtobufReader, into resourceLogs: inout ResourceLogs) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2:  // resource
                    var nested = try reader.readMessage()
                    try decodeResource(&nested, into: &resourceLogs.resource)
                case 2 << 3 | 2:  // scope_logs
                    var nested = try reader.readMessage()
                    var scopeLogs = ScopeLogs()
                    try decodeScopeLogs(&nested, into: &scopeLogs)
                    resourceLogs.scopeLogs.append(consume scopeLogs)
                case 3 << 3 | 2:  // schema_url
                    resourceLogs.schemaURL = try reader.readString()
                default:
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "resource")
            case 2: throw error.prefixed(with: "scopeLogs", index: resourceLogs.scopeLogs.count)
            case 3: throw error.prefixed(with: "schemaUrl")
            default: throw error
            }
        }
    }

    func decodeScopeLogs(_ reader: inout ProtobufReader, into scopeLogs: inout ScopeLogs) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2:  // scope
                    var nested = try reader.readMessage()
                    try decodeScope(&nested, into: &scopeLogs.scope)
                case 2 << 3 | 2:  // log_records
                    var nested = try reader.readMessage()
                    if scopeLogs.logRecords.isEmpty { scopeLogs.logRecords.reserveCapacity(reader.estimatedRepeatCount(firstElement: nested)) }
                    var record = LogRecord()
                    try decodeLogRecord(&nested, into: &record)
                    scopeLogs.logRecords.append(consume record)
                case 3 << 3 | 2:  // schema_url
                    scopeLogs.schemaURL = try reader.readString()
                default:
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "scope")
            case 2: throw error.prefixed(with: "logRecords", index: scopeLogs.logRecords.count)
            case 3: throw error.prefixed(with: "schemaUrl")
            default: throw error
            }
        }
    }

    func decodeLogRecord(_ reader: inout ProtobufReader, into record: inout LogRecord) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 1: record.timeUnixNano = try reader.readFixed64()
                case 2 << 3 | 0: record.severityNumber = SeverityNumber(rawValue: try reader.readVarintInt32())
                case 3 << 3 | 2: record.severityText = try readValueString(&reader)
                case 5 << 3 | 2:  // body
                    var nested = try reader.readMessage()
                    record.body = try decodeAnyValue(&nested, depth: 0)
                case 6 << 3 | 2: try appendKeyValue(&reader, tag: tag, to: &record.attributes)
                case 7 << 3 | 0: record.droppedAttributesCount = try reader.readVarintUInt32()
                case 8 << 3 | 5: record.flags = try reader.readFixed32()
                case 9 << 3 | 2: record.traceID = try readTraceID(&reader, field: "trace_id")
                case 10 << 3 | 2: record.spanID = try readSpanID(&reader, field: "span_id")
                case 11 << 3 | 1: record.observedTimeUnixNano = try reader.readFixed64()
                case 12 << 3 | 2: record.eventName = try readValueString(&reader)
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            throw error.prefixed(with: Self.logRecordFieldName(tag, record))
        }
    }

    static func logRecordFieldName(_ tag: UInt32, _ record: LogRecord) -> String {
        switch tag >> 3 {
        case 1: "timeUnixNano"
        case 2: "severityNumber"
        case 3: "severityText"
        case 5: "body"
        case 6: "attributes[\(record.attributes.count)]"
        case 7: "droppedAttributesCount"
        case 8: "flags"
        case 9: "traceId"
        case 10: "spanId"
        case 11: "observedTimeUnixNano"
        case 12: "eventName"
        default: ""
        }
    }
}
