import LoupeModel

// Encoding of logs.proto messages (fields prepended from the highest number down; see OTLPProtobufEncoder).

extension OTLPProtobufEncoding {
    static func prependResourceLogs(_ resourceLogs: ResourceLogs, field: UInt32, into writer: inout ProtobufWriter) {
        let mark = writer.count
        prependString(3, resourceLogs.schemaURL, into: &writer)
        for scopeLogs in resourceLogs.scopeLogs.reversed() { prependScopeLogs(scopeLogs, field: 2, into: &writer) }
        prependResource(1, resourceLogs.resource, into: &writer)
        writer.prependLengthAndTag(field: field, since: mark)
    }

    static func prependScopeLogs(_ scopeLogs: ScopeLogs, field: UInt32, into writer: inout ProtobufWriter) {
        let mark = writer.count
        prependString(3, scopeLogs.schemaURL, into: &writer)
        scopeLogs.logRecords.withUnsafeBufferPointer { records in
            var index = records.count
            while index > 0 {
                index &-= 1
                prependLogRecord(records[index], field: 2, into: &writer)
            }
        }
        prependScope(1, scopeLogs.scope, into: &writer)
        writer.prependLengthAndTag(field: field, since: mark)
    }

    static func prependLogRecord(_ record: LogRecord, field: UInt32, into writer: inout ProtobufWriter) {
        let mark = writer.count
        prependString(12, record.eventName, into: &writer)
        prependFixed64(11, record.observedTimeUnixNano, into: &writer)
        prependSpanID(10, record.spanID, into: &writer)
        prependTraceID(9, record.traceID, into: &writer)
        prependFixed32(8, record.flags, into: &writer)
        prependUInt32(7, record.droppedAttributesCount, into: &writer)
        prependKeyValues(6, record.attributes, into: &writer)
        if let body = record.body {
            let bodyMark = writer.count
            prependAnyValueBody(body, into: &writer)
            writer.prependLengthAndTag(field: 5, since: bodyMark)
        }
        prependString(3, record.severityText, into: &writer)
        prependEnum(2, record.severityNumber.rawValue, into: &writer)
        prependFixed64(1, record.timeUnixNano, into: &writer)
        writer.prependLengthAndTag(field: field, since: mark)
    }
}
