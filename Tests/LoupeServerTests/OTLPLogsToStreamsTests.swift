import LoupeModel
import Testing

@testable import LoupePipeline

@Suite struct OTLPLogsToStreamsTests {
    static func logs(resource: [KeyValue], records: [LogRecord]) -> LogsData {
        LogsData(resourceLogs: [
            ResourceLogs(
                resource: Resource(attributes: resource),
                scopeLogs: [ScopeLogs(scope: InstrumentationScope(name: "app.logger", version: "2.0"), logRecords: records)])
        ])
    }

    @Test func resourceAttributesSplitIntoStreamLabelsAndMetadata() throws {
        let data = Self.logs(
            resource: [
                KeyValue(key: "service.name", value: .string("checkout")), KeyValue(key: "k8s.pod.name", value: .string("checkout-7f9")),
                KeyValue(key: "host.name", value: .string("node-1")),
            ],
            records: [
                LogRecord(
                    timeUnixNano: 20, severityNumber: SeverityNumber(rawValue: 17), severityText: "ERROR", body: .string("payment failed"),
                    attributes: [KeyValue(key: "order.id", value: .int(42)), KeyValue(key: "http.request", value: .keyValueList([KeyValue(key: "path", value: .string("/pay"))]))],
                    traceID: TraceID(bytes: Array(1...16))!, spanID: SpanID(bytes: Array(1...8))!),
                LogRecord(observedTimeUnixNano: 10, body: .keyValueList([KeyValue(key: "n", value: .double(1.5)), KeyValue(key: "ok", value: .bool(true))])),
            ])
        let streams = OTLPLogsToStreams().convert(data)
        #expect(streams.count == 1)
        let stream = try #require(streams.first)
        #expect(stream.labels == ["service_name": "checkout", "k8s_pod_name": "checkout-7f9"])
        // Time order; a record without a time takes its observed time.
        #expect(stream.entries.map(\.timestamp) == [10, 20])
        #expect(stream.entries[0].line == #"{"n":1.5,"ok":true}"#)
        let metadata = stream.entries[1].metadata
        #expect(stream.entries[1].line == "payment failed")
        #expect(metadata["host_name"] == "node-1")
        #expect(metadata["order_id"] == "42")
        #expect(metadata["http_request"] == #"{"path":"/pay"}"#)
        #expect(metadata["trace_id"] == "0102030405060708090a0b0c0d0e0f10")
        #expect(metadata["span_id"] == "0102030405060708")
        #expect(metadata["severity_text"] == "ERROR")
        #expect(metadata["severity_number"] == "17")
        #expect(metadata["scope_name"] == "app.logger")
    }

    @Test func configuredLabelsAndTheUnknownServiceFallback() {
        let data = Self.logs(resource: [KeyValue(key: "team", value: .string("payments"))], records: [LogRecord(timeUnixNano: 1, body: .string("x"))])
        #expect(OTLPLogsToStreams().convert(data).first?.labels == ["service_name": "unknown_service"])
        #expect(OTLPLogsToStreams(streamLabelAttributes: ["team"]).convert(data).first?.labels == ["service_name": "unknown_service", "team": "payments"])
    }
}
