import LoupeModel

extension OTLPJSONDecoder {
    mutating func decodeLogsRequest() throws(WireError) -> LogsData {
        var data = LogsData()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .resourceLogs: data.resourceLogs = try decodeArray { (decoder) throws(WireError) in try decoder.decodeResourceLogs() }
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return data
    }

    mutating func decodeResourceLogs() throws(WireError) -> ResourceLogs {
        var resourceLogs = ResourceLogs()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .resource: resourceLogs.resource = try decodeResource()
                case .scopeLogs: resourceLogs.scopeLogs = try decodeArray { (decoder) throws(WireError) in try decoder.decodeScopeLogs() }
                case .schemaUrl: resourceLogs.schemaURL = try readInternedString()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return resourceLogs
    }

    mutating func decodeScopeLogs() throws(WireError) -> ScopeLogs {
        var scopeLogs = ScopeLogs()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .scope: scopeLogs.scope = try decodeScope()
                case .logRecords: scopeLogs.logRecords = try decodeArray { (decoder) throws(WireError) in try decoder.decodeLogRecord() }
                case .schemaUrl: scopeLogs.schemaURL = try readInternedString()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return scopeLogs
    }

    mutating func decodeLogRecord() throws(WireError) -> LogRecord {
        var record = LogRecord()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .timeUnixNano: record.timeUnixNano = try reader.readUInt64()
                case .observedTimeUnixNano: record.observedTimeUnixNano = try reader.readUInt64()
                case .severityNumber: record.severityNumber = SeverityNumber(rawValue: try readEnum(OTLPJSONEnumNames.severityNumber))
                case .severityText: record.severityText = try readInternedString()
                case .body: record.body = try decodeAnyValue()
                case .attributes: record.attributes = try decodeAttributes()
                case .droppedAttributesCount: record.droppedAttributesCount = try reader.readUInt32()
                case .flags: record.flags = try reader.readUInt32()
                case .traceId: record.traceID = try readTraceID()
                case .spanId: record.spanID = try readSpanID()
                case .eventName: record.eventName = try readInternedString()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return record
    }
}
