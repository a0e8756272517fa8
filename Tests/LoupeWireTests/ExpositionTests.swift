import Foundation
import LoupeModel
import LoupeWire
import Testing

// MARK: - Helpers

enum ExpositionFixtures {
    static func bytes(_ name: String) throws -> [UInt8] {
        let directory = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return try Array(Data(contentsOf: directory.appendingPathComponent("exposition/\(name)")))
    }

    static let textFixtures = ["python_client.prom", "python_client_utf8.prom", "node_exporter.prom"]
    static let openMetricsFixtures = ["python_client.om.txt", "python_client_utf8.om.txt"]

    struct ConformanceCase {
        var name: String
        var shouldParse: Bool
        var input: [UInt8]
    }

    /// The OpenMetrics project's parser test cases are third-party data and are not committed;
    /// `import_openmetrics_tests.py` assembles them locally from a checkout of that project.
    static var hasOpenMetricsSuite: Bool {
        guard let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else { return false }
        return FileManager.default.fileExists(atPath: directory.appendingPathComponent("exposition/openmetrics_parser_tests.json").path)
    }

    /// The OpenMetrics project's parser test cases (tests/testdata/parsers), assembled by import_openmetrics_tests.py.
    static func openMetricsConformance() throws -> [ConformanceCase] {
        let json = try JSONSerialization.jsonObject(with: Data(try bytes("openmetrics_parser_tests.json"))) as? [String: Any]
        let cases = try #require(json?["cases"] as? [[String: Any]])
        return try cases.map { entry in
            let name = try #require(entry["name"] as? String)
            let input: [UInt8]
            if let text = entry["input"] as? String {
                input = Array(text.utf8)
            } else {
                let encoded = try #require(entry["inputBase64"] as? String)
                input = Array(try #require(Data(base64Encoded: encoded)))
            }
            return ConformanceCase(name: name, shouldParse: try #require(entry["shouldParse"] as? Bool), input: input)
        }
    }
}

private func parse(
    _ text: String, _ format: ExpositionFormat = .prometheusText, options: ExpositionParser.Options = .init()
) throws(WireError) -> ScrapeResult {
    try ExpositionParser.parse(Array(text.utf8), format: format, defaultTimestamp: 1_000, options: options)
}

private func parseError(
    _ text: String, _ format: ExpositionFormat = .prometheusText, options: ExpositionParser.Options = .init()
) -> WireError? {
    do {
        _ = try parse(text, format, options: options)
        return nil
    } catch {
        return error
    }
}

/// The sample with these labels (metric name included as `__name__`).
private func sample(_ result: ScrapeResult, _ labels: Labels) -> ScrapedSample? {
    result.samples.first { $0.labels == labels }
}

private func value(_ result: ScrapeResult, _ labels: Labels) -> Double? {
    sample(result, labels)?.value
}

/// Samples equal, with NaN equal to NaN.
func expositionSamplesEqual(_ lhs: [ScrapedSample], _ rhs: [ScrapedSample]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    for (left, right) in zip(lhs, rhs) {
        guard left.labels == right.labels, left.timestamp == right.timestamp, left.createdTimestamp == right.createdTimestamp,
            left.value == right.value || (left.value.isNaN && right.value.isNaN),
            left.exemplar?.labels == right.exemplar?.labels, left.exemplar?.timestamp == right.exemplar?.timestamp,
            left.exemplar?.value == right.exemplar?.value || (left.exemplar?.value.isNaN == true && right.exemplar?.value.isNaN == true)
        else { return false }
    }
    return true
}

private let normalNaNBits: UInt64 = 0x7FF8_0000_0000_0001

// MARK: - Content type

@Suite("Exposition formats")
struct ExpositionFormatTests {
    @Test func contentTypeSelection() {
        #expect(ExpositionFormat(contentType: "application/openmetrics-text; version=1.0.0; charset=utf-8") == .openMetrics)
        #expect(ExpositionFormat(contentType: "application/openmetrics-text;version=0.0.1") == .openMetrics)
        #expect(ExpositionFormat(contentType: "Application/OpenMetrics-Text") == .openMetrics)
        #expect(ExpositionFormat(contentType: " application/openmetrics-text ;version=1.0.0") == .openMetrics)
        #expect(ExpositionFormat(contentType: "text/plain; version=0.0.4; charset=utf-8") == .prometheusText)
        #expect(ExpositionFormat(contentType: "text/plain;version=1.0.0;escaping=allow-utf-8") == .prometheusText)
        #expect(ExpositionFormat(contentType: nil) == .prometheusText)
        #expect(ExpositionFormat(contentType: "") == .prometheusText)
        #expect(ExpositionFormat(contentType: "application/json") == .prometheusText)
        #expect(ExpositionFormat(contentType: "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily") == .prometheusText)
        #expect(ExpositionFormat(recognizing: "application/json") == nil)
        #expect(ExpositionFormat(recognizing: "text/plain") == .prometheusText)
        #expect(ExpositionFormat.openMetrics.contentType == "application/openmetrics-text; version=1.0.0; charset=utf-8")
        #expect(ExpositionFormat.prometheusText.contentType == "text/plain; version=0.0.4; charset=utf-8")
        #expect(ExpositionFormat.scrapeAcceptHeader.hasPrefix("application/openmetrics-text;version=1.0.0"))
    }
}

// MARK: - Fixtures from the official Python client

@Suite("Exposition: Python client fixtures")
struct ExpositionPythonClientTests {
    @Test func textFormat() throws {
        let result = try ExpositionParser.parse(try ExpositionFixtures.bytes("python_client.prom"), format: .prometheusText, defaultTimestamp: 0)
        #expect(result.samples.count == 47)

        // Counters with escaped, multi-line and non-ASCII label values.
        #expect(value(result, ["__name__": "http_requests_total", "code": "200", "method": "GET", "path": "/"]) == 1027)
        #expect(value(result, ["__name__": "http_requests_total", "code": "400", "method": "POST", "path": "/api/v1/\"quoted\""]) == 3)
        #expect(value(result, ["__name__": "http_requests_total", "code": "500", "method": "GET", "path": "C:\\DIR\\FILE.TXT"]) == 2)
        #expect(value(result, ["__name__": "http_requests_total", "code": "200", "method": "GET", "path": "line one\nline two"]) == 1)
        #expect(value(result, ["__name__": "http_requests_total", "code": "200", "method": "GET", "path": "/grüße/路径/😀"]) == 5)
        #expect(value(result, ["__name__": "http_requests_created", "code": "200", "method": "GET", "path": "/"]) == 1_700_000_000.123)
        #expect(value(result, ["__name__": "rpc_calls_total", "service": "checkout"]) == 17)

        // Gauges: negative, NaN (Prometheus's quiet NaN), infinities, extremes.
        #expect(value(result, ["__name__": "room_temperature_celsius", "room": "freezer"]) == -18.25)
        let nan = try #require(value(result, ["__name__": "room_temperature_celsius", "room": "broken"]))
        #expect(nan.bitPattern == normalNaNBits)
        #expect(!StaleMarker.isStale(nan))
        #expect(value(result, ["__name__": "room_temperature_celsius", "room": "sun"]) == .infinity)
        #expect(value(result, ["__name__": "room_temperature_celsius", "room": "space"]) == -.infinity)
        #expect(value(result, ["__name__": "big_numbers", "kind": "large"]) == 1.5e300)
        #expect(value(result, ["__name__": "big_numbers", "kind": "small"]) == 2.5e-300)
        #expect(value(result, ["__name__": "big_numbers", "kind": "integer"]) == 9_007_199_254_740_992)
        #expect(value(result, ["__name__": "big_numbers", "kind": "million"]) == 1_234_567)

        // Histogram buckets, `le` in Prometheus's canonical form.
        let buckets = result.samples.filter { $0.name == "request_latency_seconds_bucket" }
        #expect(buckets.map { $0.labels["le"] } == ["0.005", "0.01", "0.1", "1.0", "10.0", "+Inf"])
        #expect(buckets.map(\.value) == [1, 1, 3, 5, 6, 6])
        #expect(value(result, ["__name__": "request_latency_seconds_sum", "handler": "/api"]) == 3.973)
        #expect(value(result, ["__name__": "payload_bytes_sum"]) == 4350)
        #expect(value(result, ["__name__": "build_info", "branch": "main", "revision": "abc\"def", "version": "1.2.3"]) == 1)
        #expect(value(result, ["__name__": "task_state", "task": "indexer", "task_state": "running"]) == 1)

        // Explicit timestamps in milliseconds; none elsewhere.
        #expect(sample(result, ["__name__": "batch_jobs_total", "queue": "default"])?.timestamp == 1_700_000_100_250)
        #expect(sample(result, ["__name__": "batch_jobs_total", "queue": "priority"])?.timestamp == 1_700_000_100_000)
        #expect(sample(result, ["__name__": "queue_depth", "queue": "default"])?.timestamp == 1_700_000_100_500)
        #expect(result.samples.filter { $0.timestamp != nil }.count == 3)
        #expect(result.samples.allSatisfy { $0.exemplar == nil && $0.createdTimestamp == nil })

        // Metadata by family name.
        #expect(result.metadata["http_requests_total"] == MetricMetadata(type: .counter, help: "Total HTTP requests."))
        #expect(result.metadata["http_requests_created"]?.type == .gauge)
        #expect(result.metadata["room_temperature_celsius"]?.help == "Temperature of the room.\nSecond line with \\ backslash and \"quotes\".")
        #expect(result.metadata["request_latency_seconds"]?.type == .histogram)
        #expect(result.metadata["payload_bytes"]?.type == .summary)
        #expect(result.metadata["build_info"]?.type == .gauge)
        #expect(result.metadata["inflight_request_size_bytes"]?.type == .histogram)
        #expect(result.metadata.count == 18)
        #expect(result.families.count == 18)
        #expect(result.families.first == ScrapedFamily(name: "http_requests_total", type: .counter, samples: 0..<5))
        #expect(result.families.map(\.samples.count).reduce(0, +) == result.samples.count)
    }

    @Test func openMetrics() throws {
        let result = try ExpositionParser.parse(try ExpositionFixtures.bytes("python_client.om.txt"), format: .openMetrics, defaultTimestamp: 0)
        #expect(result.samples.count == 47)

        // Counters: `_total` and `_created` samples in one family; the created time on the total.
        let total = try #require(sample(result, ["__name__": "http_requests_total", "code": "200", "method": "GET", "path": "/"]))
        #expect(total.value == 1027)
        #expect(total.createdTimestamp == 1_700_000_000_123)
        #expect(total.timestamp == nil)
        let created = try #require(sample(result, ["__name__": "http_requests_created", "code": "200", "method": "GET", "path": "/"]))
        #expect(created.value == 1_700_000_000.123)
        #expect(created.createdTimestamp == nil)
        #expect(sample(result, ["__name__": "http_requests_total", "code": "200", "method": "GET", "path": "line one\nline two"])?.createdTimestamp == 1_700_000_000_123)
        #expect(result.families.first == ScrapedFamily(name: "http_requests", type: .counter, samples: 0..<10))

        // Exemplars: labels, value, timestamp converted from seconds.
        let rpc = try #require(sample(result, ["__name__": "rpc_calls_total", "service": "checkout"]))
        #expect(rpc.exemplar == PrometheusExemplar(labels: ["span_id": "e7b5", "trace_id": "KOO5S4vxi0o"], value: 17, timestamp: 1_700_000_042_500))
        #expect(rpc.createdTimestamp == 1_700_000_000_123)
        let bucket = try #require(sample(result, ["__name__": "request_latency_seconds_bucket", "handler": "/api", "le": "0.1"]))
        #expect(bucket.value == 3)
        #expect(bucket.exemplar == PrometheusExemplar(labels: ["trace_id": "oHg5SJYRHA0"], value: 0.05, timestamp: 1_700_000_042_500))
        #expect(bucket.createdTimestamp == 1_700_000_000_123)
        #expect(sample(result, ["__name__": "request_latency_seconds_sum", "handler": "/api"])?.createdTimestamp == 1_700_000_000_123)
        #expect(result.samples.filter { $0.exemplar != nil }.count == 2)

        // Summary, info, stateset, gauge histogram.
        #expect(sample(result, ["__name__": "payload_bytes_count"])?.createdTimestamp == 1_700_000_000_123)
        #expect(value(result, ["__name__": "build_info", "branch": "main", "revision": "abc\"def", "version": "1.2.3"]) == 1)
        #expect(value(result, ["__name__": "task_state", "task": "indexer", "task_state": "stopped"]) == 0)
        #expect(value(result, ["__name__": "inflight_request_size_bytes_gsum"]) == 5230.5)
        #expect(value(result, ["__name__": "inflight_request_size_bytes_bucket", "le": "1000.0"]) == 9)

        // Timestamps in seconds, to milliseconds.
        #expect(sample(result, ["__name__": "batch_jobs_total", "queue": "default"])?.timestamp == 1_700_000_100_250)
        #expect(sample(result, ["__name__": "batch_jobs_total", "queue": "priority"])?.timestamp == 1_700_000_100_000)
        #expect(sample(result, ["__name__": "queue_depth", "queue": "default"])?.timestamp == 1_700_000_100_500)

        // Metadata: TYPE, UNIT, HELP (with \" unescaped, as OpenMetrics escapes it).
        #expect(result.metadata["http_requests"] == MetricMetadata(type: .counter, help: "Total HTTP requests."))
        #expect(result.metadata["room_temperature_celsius"] == MetricMetadata(
            type: .gauge, help: "Temperature of the room.\nSecond line with \\ backslash and \"quotes\".", unit: "celsius"))
        #expect(result.metadata["build"]?.type == .info)
        #expect(result.metadata["task_state"]?.type == .stateset)
        #expect(result.metadata["feature_flags"]?.type == .stateset)
        #expect(result.metadata["inflight_request_size_bytes"]?.type == .gaugehistogram)
        #expect(result.metadata["request_latency_seconds"]?.type == .histogram)
        #expect(result.metadata.count == 12)
        #expect(result.families.map(\.name) == [
            "http_requests", "rpc_calls", "room_temperature_celsius", "big_numbers", "request_latency_seconds", "payload_bytes",
            "build", "task_state", "batch_jobs", "queue_depth", "inflight_request_size_bytes", "feature_flags",
        ])

        // The same in strict mode: the Python client's output follows the specification.
        let strict = try ExpositionParser.parse(
            try ExpositionFixtures.bytes("python_client.om.txt"), format: .openMetrics, defaultTimestamp: 0, options: .init(validation: .strict))
        #expect(expositionSamplesEqual(strict.samples, result.samples))
    }

    @Test func openMetricsWithoutCreatedSeries() throws {
        let result = try ExpositionParser.parse(
            try ExpositionFixtures.bytes("python_client.om.txt"), format: .openMetrics, defaultTimestamp: 0,
            options: .init(dropCreatedSeries: true))
        #expect(!result.samples.contains { $0.name.hasSuffix("_created") })
        #expect(result.samples.count == 47 - 8)
        #expect(sample(result, ["__name__": "http_requests_total", "code": "500", "method": "GET", "path": "C:\\DIR\\FILE.TXT"])?.createdTimestamp == 1_700_000_000_123)
        #expect(result.families.first == ScrapedFamily(name: "http_requests", type: .counter, samples: 0..<5))
        #expect(result.families.map(\.samples.count).reduce(0, +) == result.samples.count)
    }

    @Test func utf8Names() throws {
        let text = try ExpositionParser.parse(try ExpositionFixtures.bytes("python_client_utf8.prom"), format: .prometheusText, defaultTimestamp: 0)
        #expect(value(text, ["__name__": "my.dotted.requests_total", "http.method": "GET"]) == 9)
        #expect(value(text, ["__name__": "odd \"name\" with spaces"]) == 1)
        #expect(text.metadata["my.dotted.requests_total"] == MetricMetadata(type: .counter, help: "Requests with a dotted name."))
        #expect(text.metadata["odd \"name\" with spaces"]?.type == .gauge)

        let om = try ExpositionParser.parse(try ExpositionFixtures.bytes("python_client_utf8.om.txt"), format: .openMetrics, defaultTimestamp: 0)
        let dotted = try #require(sample(om, ["__name__": "my.dotted.requests_total", "http.method": "GET"]))
        #expect(dotted.value == 9)
        #expect(dotted.createdTimestamp == 1_700_000_000_123)
        #expect(om.metadata["my.dotted.requests"]?.type == .counter)
        #expect(om.families.first { $0.name == "my.dotted.requests" }?.samples.count == 2)
        #expect(om.families.first { $0.name == "odd \"name\" with spaces" }?.type == .gauge)
    }
}

// MARK: - A node exporter page

@Suite("Exposition: node exporter page")
struct ExpositionNodeExporterTests {
    @Test func nodeExporter() throws {
        let bytes = try ExpositionFixtures.bytes("node_exporter.prom")
        let result = try ExpositionParser.parse(bytes, format: .prometheusText, defaultTimestamp: 0)
        let lines = bytes.split(separator: UInt8(ascii: "\n"))
        #expect(result.samples.count == lines.filter { $0.first != UInt8(ascii: "#") }.count)
        #expect(result.metadata.count == lines.filter { $0.starts(with: Array("# TYPE".utf8)) }.count)
        #expect(result.families.count == result.metadata.count)

        #expect(result.samples.first?.labels == ["__name__": "go_gc_duration_seconds", "quantile": "0.0"])
        #expect(result.samples.first?.value == 2.4291e-05)
        #expect(result.samples.filter { $0.name == "go_gc_duration_seconds" }.map { $0.labels["quantile"] } == ["0.0", "0.25", "0.5", "0.75", "1.0"])
        #expect(value(result, ["__name__": "node_cpu_seconds_total", "cpu": "0", "mode": "idle"]) == 291_449.49)
        #expect(value(result, ["__name__": "node_filefd_maximum"]) == 9.223372036854776e18)
        #expect(value(result, ["__name__": "node_timex_offset_seconds"]) == -2.4e-05)
        #expect(value(result, ["__name__": "process_virtual_memory_max_bytes"]) == 1.8446744073709552e19)
        #expect(value(result, [
            "__name__": "node_uname_info", "domainname": "(none)", "machine": "x86_64", "nodename": "build-host-07",
            "release": "6.1.0-13-amd64", "sysname": "Linux", "version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)",
        ]) == 1)
        // An empty label value means no label.
        let info = try #require(result.samples.first { $0.name == "node_network_info" })
        #expect(info.labels["ifalias"] == nil)
        #expect(info.labels.count == 7)
        #expect(result.samples.filter { $0.name == "prometheus_http_request_duration_seconds_bucket" }.prefix(10).map { $0.labels["le"] } == [
            "0.1", "0.2", "0.4", "1.0", "3.0", "8.0", "20.0", "60.0", "120.0", "+Inf",
        ])
        #expect(result.metadata["node_vmstat_pgfault"] == MetricMetadata(type: .unknown, help: "/proc/vmstat information field pgfault."))
        #expect(result.metadata["node_cpu_seconds_total"]?.type == .counter)
        #expect(result.metadata["prometheus_http_request_duration_seconds"]?.type == .histogram)
        #expect(result.families.last == ScrapedFamily(
            name: "prometheus_http_request_duration_seconds", type: .histogram, samples: result.samples.count - 24..<result.samples.count))
        #expect(result.samples.allSatisfy { $0.timestamp == nil })
    }

    @Test func repeatedParsesShareStrings() throws {
        let bytes = try ExpositionFixtures.bytes("node_exporter.prom")
        let parser = ExpositionParser()
        let first = try parser.parse(bytes, format: .prometheusText, defaultTimestamp: 0)
        let second = try parser.parse(bytes, format: .prometheusText, defaultTimestamp: 0)
        #expect(expositionSamplesEqual(first.samples, second.samples))
        #expect(first.metadata == second.metadata)
    }
}

// MARK: - Text format details

@Suite("Exposition: Prometheus text format")
struct ExpositionTextFormatTests {
    @Test func documentationExample() throws {
        // The example of the exposition format documentation (the UTF-8 line there lacks its value; one is added).
        let text = #"""
            # HELP http_requests_total The total number of HTTP requests.
            # TYPE http_requests_total counter
            http_requests_total{method="post",code="200"} 1027 1395066363000
            http_requests_total{method="post",code="400"}    3 1395066363000

            # Escaping in label values:
            msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

            # UTF-8 metric and label names:
            {"my.dotted.metric", "error.message"="Not Found"} 1

            # Minimalistic line:
            metric_without_timestamp_and_labels 12.47

            # A weird metric from before the epoch:
            something_weird{problem="division by zero"} +Inf -3982045

            # A histogram, which has a pretty complex representation in the text format:
            # HELP http_request_duration_seconds A histogram of the request duration.
            # TYPE http_request_duration_seconds histogram
            http_request_duration_seconds_bucket{le="0.05"} 24054
            http_request_duration_seconds_bucket{le="0.1"} 33444
            http_request_duration_seconds_bucket{le="0.2"} 100392
            http_request_duration_seconds_bucket{le="0.5"} 129389
            http_request_duration_seconds_bucket{le="1"} 133988
            http_request_duration_seconds_bucket{le="+Inf"} 144320
            http_request_duration_seconds_sum 53423
            http_request_duration_seconds_count 144320

            # Finally a summary, which has a complex representation, too:
            # HELP rpc_duration_seconds A summary of the RPC duration in seconds.
            # TYPE rpc_duration_seconds summary
            rpc_duration_seconds{quantile="0.01"} 3102
            rpc_duration_seconds{quantile="0.05"} 3272
            rpc_duration_seconds{quantile="0.5"} 4773
            rpc_duration_seconds{quantile="0.9"} 9001
            rpc_duration_seconds{quantile="0.99"} 76656
            rpc_duration_seconds_sum 1.7560473e+07
            rpc_duration_seconds_count 2693

            """#
        let result = try parse(text)
        #expect(result.samples.count == 21)
        #expect(sample(result, ["__name__": "http_requests_total", "method": "post", "code": "400"])?.timestamp == 1_395_066_363_000)
        #expect(value(result, ["__name__": "msdos_file_access_time_seconds", "path": #"C:\DIR\FILE.TXT"#, "error": "Cannot find file:\n\"FILE.TXT\""]) == 1.458255915e9)
        #expect(value(result, ["__name__": "my.dotted.metric", "error.message": "Not Found"]) == 1)
        #expect(value(result, ["__name__": "metric_without_timestamp_and_labels"]) == 12.47)
        #expect(sample(result, ["__name__": "something_weird", "problem": "division by zero"])?.timestamp == -3_982_045)
        #expect(value(result, ["__name__": "http_request_duration_seconds_bucket", "le": "1.0"]) == 133_988)
        #expect(value(result, ["__name__": "rpc_duration_seconds", "quantile": "0.99"]) == 76656)
        #expect(value(result, ["__name__": "rpc_duration_seconds_sum"]) == 1.7560473e7)
        #expect(result.metadata["http_request_duration_seconds"] == MetricMetadata(type: .histogram, help: "A histogram of the request duration."))
        #expect(result.families.map(\.name) == [
            "http_requests_total", "msdos_file_access_time_seconds", "my.dotted.metric", "metric_without_timestamp_and_labels",
            "something_weird", "http_request_duration_seconds", "rpc_duration_seconds",
        ])
    }

    @Test func whitespaceAndCommas() throws {
        let text = "  \t# HELP go_gc   A\thelp  \n"
            + "#\tTYPE go_gc   summary  \n"
            + "go_gc{quantile=\"0.25\",} 7.4241e-05\n"
            + "go_gc{ quantile=\"0.9\", a=\"b\"} 1\n"
            + "go_gc { quantile = \"1.0\" , a = \"c\" } 2\n"
            + "go_gc{quantile=\"0.5\" a=\"d\"}3\n"
            + "\t  some:aggregate:rate5m{a_b=\"c\"}\t1  \t123123  \n"
            + "\n\n   \n"
            + "_underscore 1"
        let result = try parse(text)
        #expect(result.samples.count == 6)
        #expect(result.metadata["go_gc"] == MetricMetadata(type: .summary, help: "  A\thelp  "))
        #expect(value(result, ["__name__": "go_gc", "quantile": "0.25"]) == 7.4241e-05)
        #expect(value(result, ["__name__": "go_gc", "quantile": "0.9", "a": "b"]) == 1)
        #expect(value(result, ["__name__": "go_gc", "quantile": "1.0", "a": "c"]) == 2)
        #expect(value(result, ["__name__": "go_gc", "quantile": "0.5", "a": "d"]) == 3)
        #expect(sample(result, ["__name__": "some:aggregate:rate5m", "a_b": "c"])?.timestamp == 123_123)
        #expect(value(result, ["__name__": "_underscore"]) == 1)
    }

    @Test func comments() throws {
        let text = """
            # Hrandom comment starting with prefix of HELP
            #
            #HELP not_metadata because there is no blank after the hash
            # HELPER is a comment too
            # HELP nohelp1
            # HELP nohelp2 \("")
            # comment with escaped \\n newline and \\ backslash
            # TYPE x gauge
            x 1
            # TYPE y counter
            # HELP y Help after type.
            y 2
            """
        let result = try parse(text)
        #expect(result.samples.map(\.value) == [1, 2])
        #expect(result.metadata["nohelp1"] == MetricMetadata(help: ""))
        #expect(result.metadata["nohelp2"] == MetricMetadata(help: ""))
        #expect(result.metadata["not_metadata"] == nil)
        #expect(result.metadata["x"]?.type == .gauge)
        #expect(result.metadata["y"] == MetricMetadata(type: .counter, help: "Help after type."))
    }

    @Test func escapes() throws {
        let text = #"""
            # HELP a Help with \\ backslash, \n newline, \" kept, \t kept.
            a{v="q\"uote", w="back\\slash", x="new\nline", y="tab\tkept", z="\\n"} 1
            b{v="a\u0000b", e=""} 2
            """#
        let result = try parse(text)
        #expect(result.metadata["a"]?.help == "Help with \\ backslash, \n newline, \\\" kept, \\t kept.")
        #expect(result.samples[0].labels == ["__name__": "a", "v": "q\"uote", "w": "back\\slash", "x": "new\nline", "y": "tab\\tkept", "z": "\\n"])
        #expect(result.samples[1].labels == ["__name__": "b", "v": "a\\u0000b"])
        // A NUL byte in a label value is allowed, as in Prometheus.
        let nul = try parse("c{v=\"a\u{0}b\"} 3\n")
        #expect(nul.samples[0].labels["v"] == "a\u{0}b")
    }

    @Test func values() throws {
        let cases: [(String, Double)] = [
            ("1", 1), ("-1", -1), ("+1", 1), ("0012", 12), (".5", 0.5), ("5.", 5), ("1e3", 1000), ("1E3", 1000), ("-2.5e-3", -0.0025),
            ("1.7560473e+07", 17_560_473), ("Inf", .infinity), ("+Inf", .infinity), ("-Inf", -.infinity), ("inf", .infinity),
            ("+infinity", .infinity), ("-INFINITY", -.infinity), ("1e-400", 0), ("9007199254740993", 9_007_199_254_740_992),
            ("0.1234567890123456789012345", 0.1234567890123456789012345), ("123456789012345678901234567890", 1.2345678901234568e29),
            ("4.9e-324", .leastNonzeroMagnitude), ("1.7976931348623157e308", .greatestFiniteMagnitude), ("0e999999999", 0),
        ]
        for (text, expected) in cases {
            let result = try parse("a \(text)\n")
            #expect(result.samples.first?.value == expected, "\(text)")
        }
        #expect(try parse("a -0\n").samples[0].value.sign == .minus)
        for nan in ["NaN", "nan", "NAN"] {
            #expect(try parse("a \(nan)").samples[0].value.bitPattern == normalNaNBits)
        }
        for bad in ["1_000", "0x1p-3", "0x1P-3", "0x10", "+NaN", "-nan", "1e", "1e+", "e3", ".", "-", "1.2.3", "infin", "true", "1,5"] {
            let error = parseError("a \(bad)\n")
            #expect(error?.code == .invalidExposition, "\(bad)")
            #expect(error?.path == "line 1, column 3", "\(bad)")
        }
        #expect(parseError("a 1e400")?.code == .invalidValue)
        #expect(parseError("a -1e309")?.message.contains("out of the range") == true)
    }

    @Test func timestamps() throws {
        #expect(try parse("a 1 0").samples[0].timestamp == 0)
        #expect(try parse("a 1 -5").samples[0].timestamp == -5)
        #expect(try parse("a 1 9223372036854775807").samples[0].timestamp == .max)
        #expect(try parse("a 1 -9223372036854775808").samples[0].timestamp == .min)
        #expect(parseError("a 1 9223372036854775808")?.code == .invalidValue)
        #expect(parseError("a 1 1.5")?.path == "line 1, column 5")
        #expect(parseError("a 1 1e3")?.code == .invalidExposition)
        #expect(parseError("a 1 12 13")?.message.contains("end of the line") == true)
    }

    @Test func labelsAreSortedAndNamesChecked() throws {
        let result = try parse(#"z{b="2",a="1",C="0",_x="3",__name__x="4"} 1"#)
        #expect(result.samples[0].labels.map(\.name) == ["C", "__name__", "__name__x", "_x", "a", "b"])
        #expect(try parse(#"{"a", b="1"} 1"#).samples[0].labels == ["__name__": "a", "b": "1"])
        #expect(try parse(#"{ "a" } 1"#).samples[0].labels == ["__name__": "a"])
        #expect(try parse(#"a{"label with space"="v", "ü"="x"} 1"#).samples[0].labels == ["__name__": "a", "label with space": "v", "ü": "x"])
        #expect(try parse("{\"a\\\"q\"} 1").samples[0].name == "a\"q")
        #expect(try parse(#"a{} 1"#).samples[0].labels == ["__name__": "a"])
        // A UTF-8 byte order mark is skipped.
        #expect(try ExpositionParser.parse([0xEF, 0xBB, 0xBF] + Array("a 1\n".utf8), format: .prometheusText, defaultTimestamp: 0).samples.count == 1)
        // Empty input and comments only.
        #expect(try parse("").samples.isEmpty)
        #expect(try parse("# just a comment\n\n").samples.isEmpty)
    }

    @Test func familiesAndCanonicalLabels() throws {
        let text = """
            # TYPE h histogram
            h_bucket{le="1"} 1
            h_bucket{le="1e6"} 2
            h_bucket{le="100000"} 2
            h_bucket{le="0.00001"} 2
            h_bucket{le="+inf"} 3
            h_bucket{le="x"} 3
            h_sum 4
            h_count 3
            other{le="1"} 1
            # TYPE s summary
            s{quantile="0"} 1
            s{quantile="1e-10"} 1
            s_count 1
            # TYPE g gauge
            g{le="1", quantile="1"} 1
            """
        let result = try parse(text)
        #expect(result.samples.filter { $0.name == "h_bucket" }.map { $0.labels["le"] } == ["1.0", "1e+06", "100000.0", "1e-05", "+Inf", "x"])
        #expect(sample(result, ["__name__": "other", "le": "1"]) != nil)
        #expect(result.samples.filter { $0.name == "s" }.map { $0.labels["quantile"] } == ["0.0", "1e-10"])
        #expect(sample(result, ["__name__": "g", "le": "1", "quantile": "1"]) != nil)
        #expect(result.families == [
            ScrapedFamily(name: "h", type: .histogram, samples: 0..<8),
            ScrapedFamily(name: "other", type: .unknown, samples: 8..<9),
            ScrapedFamily(name: "s", type: .summary, samples: 9..<12),
            ScrapedFamily(name: "g", type: .gauge, samples: 12..<13),
        ])
    }
}

// MARK: - OpenMetrics details

@Suite("Exposition: OpenMetrics")
struct ExpositionOpenMetricsTests {
    @Test func specificationExamples() throws {
        let text = """
            # TYPE acme_http_router_request_seconds summary
            # UNIT acme_http_router_request_seconds seconds
            # HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.
            acme_http_router_request_seconds_sum{path="/api/v1",method="GET"} 9036.32
            acme_http_router_request_seconds_count{path="/api/v1",method="GET"} 807283.0
            acme_http_router_request_seconds_created{path="/api/v1",method="GET"} 1605281325.0
            acme_http_router_request_seconds_sum{path="/api/v2",method="POST"} 479.3
            acme_http_router_request_seconds_count{path="/api/v2",method="POST"} 34.0
            acme_http_router_request_seconds_created{path="/api/v2",method="POST"} 1605281325.0
            # TYPE go_goroutines gauge
            # HELP go_goroutines Number of goroutines that currently exist.
            go_goroutines 69
            # TYPE process_cpu_seconds counter
            # UNIT process_cpu_seconds seconds
            # HELP process_cpu_seconds Total user and system CPU time spent in seconds.
            process_cpu_seconds_total 4.20072246e+06
            # TYPE foo histogram
            foo_bucket{le="0.01"} 0
            foo_bucket{le="0.1"} 8 # {} 0.054
            foo_bucket{le="1"} 11 # {trace_id="KOO5S4vxi0o"} 0.67
            foo_bucket{le="10"} 17 # {trace_id="oHg5SJYRHA0"} 9.8 1520879607.789
            foo_bucket{le="+Inf"} 17
            foo_count 17
            foo_sum 324789.3
            foo_created 1520430000.123
            # TYPE bar gauge
            bar{a="b"} 17.0 1520879607.789
            # EOF
            """
        for validation in [ExpositionParser.Options.Validation.prometheus, .strict] {
            let result = try parse(text, .openMetrics, options: .init(validation: validation))
            #expect(result.samples.count == 17)
            #expect(result.metadata["acme_http_router_request_seconds"] == MetricMetadata(
                type: .summary, help: "Latency though all of ACME's HTTP request router.", unit: "seconds"))
            #expect(sample(result, ["__name__": "acme_http_router_request_seconds_sum", "path": "/api/v2", "method": "POST"])?.createdTimestamp == 1_605_281_325_000)
            #expect(value(result, ["__name__": "process_cpu_seconds_total"]) == 4_200_722.46)
            let buckets = result.samples.filter { $0.name == "foo_bucket" }
            #expect(buckets.map { $0.labels["le"] } == ["0.01", "0.1", "1.0", "10.0", "+Inf"])
            #expect(buckets.map { $0.exemplar } == [
                nil,
                PrometheusExemplar(labels: [:], value: 0.054, timestamp: 1_000),
                PrometheusExemplar(labels: ["trace_id": "KOO5S4vxi0o"], value: 0.67, timestamp: 1_000),
                PrometheusExemplar(labels: ["trace_id": "oHg5SJYRHA0"], value: 9.8, timestamp: 1_520_879_607_789),
                nil,
            ])
            #expect(buckets.allSatisfy { $0.createdTimestamp == 1_520_430_000_123 })
            #expect(sample(result, ["__name__": "bar", "a": "b"])?.timestamp == 1_520_879_607_789)
        }
    }

    @Test func exemplarTimestampDefaults() throws {
        let result = try parse("a_total 1 5 # {x=\"y\"} 2\nb_total 1 # {x=\"y\"} 2\n# EOF", .openMetrics)
        #expect(result.samples[0].exemplar?.timestamp == 5_000)
        #expect(result.samples[1].exemplar?.timestamp == 1_000)  // the default timestamp
        #expect(result.samples[1].timestamp == nil)
        #expect(result.samples[0].exemplar?.labels == ["x": "y"])
        // Exemplar label values are unescaped; quoted names are allowed.
        let escaped = try parse("a_total 1 # {\"trace.id\"=\"q\\\"x\"} 2\n# EOF\n", .openMetrics)
        #expect(escaped.samples[0].exemplar?.labels == ["trace.id": "q\"x"])
    }

    @Test func eofHandling() throws {
        #expect(try parse("a 1\n# EOF", .openMetrics).samples.count == 1)
        #expect(try parse("a 1\n# EOF\n", .openMetrics).samples.count == 1)
        #expect(try parse("# EOF\n", .openMetrics).samples.isEmpty)
        let missing = parseError("a 1\n", .openMetrics)
        #expect(missing?.code == .truncated)
        #expect(missing?.path == "line 2, column 1")
        #expect(missing?.message.contains("# EOF") == true)
        #expect(parseError("", .openMetrics)?.code == .truncated)
        #expect(parseError("a 1", .openMetrics)?.code == .truncated)
        #expect(parseError("a 1\n# EOF\n\n", .openMetrics)?.message.contains("after \"# EOF\"") == true)
        #expect(parseError("a 1\n# EOF\nb 2\n", .openMetrics)?.path == "line 3, column 1")
        #expect(parseError("a 1\n# EOFx", .openMetrics)?.path == "line 2, column 6")
    }

    @Test func stricterSyntax() {
        let cases: [(String, String)] = [
            ("a 1\n\n# EOF\n", "line 2, column 1"),  // blank line
            ("a  1\n# EOF\n", "line 1, column 3"),  // two spaces
            ("a\t1\n# EOF\n", "line 1, column 2"),  // tab
            (" a 1\n# EOF\n", "line 1, column 1"),  // leading space
            ("a 1 \n# EOF\n", "line 1, column 5"),  // trailing space
            ("a{b=\"c\" } 1\n# EOF\n", "line 1, column 8"),  // space in braces
            ("a {b=\"c\"} 1\n# EOF\n", "line 1, column 3"),  // space before braces
            ("a{b=\"c\"}1\n# EOF\n", "line 1, column 9"),
            ("# random comment\n# EOF\n", "line 1, column 1"),
            ("#a 1\n# EOF\n", "line 1, column 2"),
            ("# HELP a\n# EOF\n", "line 1, column 9"),
            ("# TYPE a untyped\n# EOF\n", "line 1, column 10"),
            ("# TYPE a gauge \n# EOF\n", "line 1, column 10"),
            ("# UNIT a_seconds second\n# EOF\n", "line 1, column 18"),
            ("a 1 NaN\n# EOF\n", "line 1, column 5"),
            ("a 1 Inf\n# EOF\n", "line 1, column 5"),
            ("a_total 1 # {a=\"b\"} 1 NaN\n# EOF\n", "line 1, column 23"),
            ("a_total 1 #{} 1\n# EOF\n", "line 1, column 11"),
            ("a_total 1 # {}1\n# EOF\n", "line 1, column 15"),
            ("a_total 1 # {} 1 \n# EOF\n", "line 1, column 18"),
            ("a{b=\"x\ny\"} 1\n# EOF\n", "line 1, column 7"),
            ("a 1\r\n# EOF\n", "line 1, column 3"),
        ]
        for (text, location) in cases {
            let error = parseError(text, .openMetrics)
            #expect(error != nil, "\(text.debugDescription)")
            #expect(error?.path == location, "\(text.debugDescription): \(error?.description ?? "")")
        }
    }

    @Test func trailingCommaAndQuotedNames() throws {
        // Prometheus accepts a trailing comma and quoted names in OpenMetrics too.
        let result = try parse("a{b=\"1\",} 1\n{\"c.d\",e=\"2\"} 2\n# TYPE \"f.g\" gauge\n{\"f.g\"} 3\n# EOF\n", .openMetrics)
        #expect(result.samples.map(\.labels) == [["__name__": "a", "b": "1"], ["__name__": "c.d", "e": "2"], ["__name__": "f.g"]])
        #expect(result.metadata["f.g"]?.type == .gauge)
        #expect(parseError("a{b=\"1\",} 1\n# EOF\n", .openMetrics, options: .init(validation: .strict))?.code == .invalidValue)
    }

    @Test func createdMatching() throws {
        let text = """
            # TYPE h histogram
            h_bucket{a="1",le="1"} 1
            h_bucket{a="1",le="+Inf"} 2
            h_count{a="1"} 2
            h_sum{a="1"} 3
            h_created{a="1"} 100.5
            h_bucket{a="2",le="1"} 1
            h_bucket{a="2",le="+Inf"} 2
            h_count{a="2"} 2
            h_sum{a="2"} 3
            # TYPE c counter
            c_total{x="1"} 1
            c_created{x="2"} 200
            c_total{x="2"} 2
            # TYPE g gauge
            g_created 5
            # EOF
            """
        let result = try parse(text, .openMetrics)
        #expect(result.samples.filter { $0.labels["a"] == "1" && $0.name != "h_created" }.allSatisfy { $0.createdTimestamp == 100_500 })
        #expect(result.samples.filter { $0.labels["a"] == "2" }.allSatisfy { $0.createdTimestamp == nil })
        #expect(sample(result, ["__name__": "c_total", "x": "1"])?.createdTimestamp == nil)
        #expect(sample(result, ["__name__": "c_total", "x": "2"])?.createdTimestamp == 200_000)
        #expect(sample(result, ["__name__": "g_created"])?.createdTimestamp == nil)
        // `g_created` is no sample name of a gauge: a family of its own.
        #expect(result.families.map(\.name) == ["h", "c", "g", "g_created"])
        let dropped = try parse(text, .openMetrics, options: .init(dropCreatedSeries: true))
        #expect(dropped.samples.count == result.samples.count - 2)
        #expect(sample(dropped, ["__name__": "g_created"]) != nil)
        #expect(dropped.families.map(\.samples) == [0..<8, 8..<10, 10..<10, 10..<11])
    }

    @Test func unitMustBeSuffix() {
        #expect(parseError("# UNIT a seconds\n# EOF\n", .openMetrics)?.message == "unit \"seconds\" is not a suffix of the metric name \"a\"")
        #expect(parseError("# UNIT a_seconds seconds\n# EOF\n", .openMetrics) == nil)
        #expect(parseError("# UNIT seconds seconds\n# EOF\n", .openMetrics) != nil)
        #expect(parseError("# UNIT a_seconds \n# EOF\n", .openMetrics) == nil)
    }

    @Test func timestampsInSeconds() throws {
        let result = try parse("a 1 1.5\nb 1 -1.5\nc 1 12345678901234567890.1\nd 1 1520879607.789\n# EOF\n", .openMetrics)
        #expect(result.samples.map(\.timestamp) == [1_500, -1_500, .max, 1_520_879_607_789])
    }
}

// MARK: - Errors

@Suite("Exposition: errors")
struct ExpositionErrorTests {
    @Test func locationAndText() throws {
        let text = "metric_a 1\nhttp_requests_total{code 200} 1\n"
        let error = try #require(parseError(text))
        #expect(error.code == .invalidExposition)
        #expect(error.path == "line 2, column 26")
        #expect(error.offset == 36)
        #expect(error.message == "expected \"=\" after label name \"code\", got \"200\"")
        #expect(error.description == "invalid exposition at line 2, column 26 (byte 36): expected \"=\" after label name \"code\", got \"200\"")
    }

    @Test func columnsCountCharacters() throws {
        let error = try #require(parseError("a{b=\"äöü\",b=\"x\"} 1"))
        #expect(error.code == .invalidValue)
        #expect(error.path == "line 1, column 11")
        #expect(error.message == "duplicate label name \"b\"")
    }

    @Test func cases() {
        let cases: [(String, ExpositionFormat, WireError.Code, String, String)] = [
            ("a", .prometheusText, .truncated, "line 1, column 2", "expected a value after metric name \"a\", got the end of the input"),
            ("a\n", .prometheusText, .invalidExposition, "line 1, column 2", "expected \"{\" or a blank and a value after metric name \"a\", got a line feed"),
            ("a{b='c'} 1\n", .prometheusText, .invalidExposition, "line 1, column 5", "expected a quoted label value after \"b=\", got \"'\""),
            ("a{b=\n", .prometheusText, .invalidExposition, "line 1, column 5", "expected a quoted label value after \"b=\", got a line feed"),
            ("a{\u{FF}=\"foo\"} 1\n", .prometheusText, .invalidValue, "line 1, column 3", "invalid label name \"ÿ\": label names are [a-zA-Z_][a-zA-Z0-9_]*, or quoted"),
            ("a true\n", .prometheusText, .invalidExposition, "line 1, column 3", "invalid value \"true\": expected a float such as 1, -2.5e-3, NaN or +Inf"),
            ("something_weird{problem=\"", .prometheusText, .truncated, "line 1, column 26", "unterminated quoted string (opened at line 1, column 25)"),
            ("empty_label_name{=\"\"} 0", .prometheusText, .invalidExposition, "line 1, column 18", "expected a label name or \"}\", got \"=\""),
            ("{A}0", .prometheusText, .invalidExposition, "line 1, column 3", "expected \"=\" after label name \"A\", got \"}\""),
            ("{a=\"ok\"} 1", .prometheusText, .invalidValue, "line 1, column 1", "the sample has no metric name"),
            ("{\"a\",\"b\"} 1", .prometheusText, .invalidValue, "line 1, column 6", "the metric name is already set (to \"a\"); expected \"=\" after label name \"b\""),
            ("a{__name__=\"b\"} 1", .prometheusText, .invalidValue, "line 1, column 3", "label \"__name__\" repeats the metric name"),
            ("a{\"\"=\"b\"} 1", .prometheusText, .invalidValue, "line 1, column 3", "empty label name"),
            ("{\"\"} 1", .prometheusText, .invalidValue, "line 1, column 2", "empty metric name"),
            ("0a 1", .prometheusText, .invalidExposition, "line 1, column 1", "expected a metric name, \"{\" or \"#\", got \"0a\""),
            ("a.b 1", .prometheusText, .invalidExposition, "line 1, column 2", "expected \"{\" or a blank and a value after metric name \"a\", got \".\""),
            ("a{b.c=\"1\"} 1", .prometheusText, .invalidValue, "line 1, column 4", "invalid character \".\" in label name \"b\" (quote names that are not [a-zA-Z_][a-zA-Z0-9_]*)"),
            ("# TYPE a gaugehistogram\n", .prometheusText, .invalidValue, "line 1, column 10", "invalid metric type \"gaugehistogram\" for \"a\"; expected counter, gauge, histogram, summary or untyped"),
            ("# TYPE #\n", .prometheusText, .invalidExposition, "line 1, column 8", "expected a metric name after TYPE, got \"#\""),
            ("# HELP \"a\n", .prometheusText, .invalidExposition, "line 1, column 10", "unterminated quoted string: line feeds in strings must be escaped as \\n"),
            ("a{b=\"c", .prometheusText, .truncated, "line 1, column 7", "unterminated quoted string (opened at line 1, column 5)"),
            ("a 1\r\n", .prometheusText, .invalidExposition, "line 1, column 3", "invalid value \"1\\r\": expected a float such as 1, -2.5e-3, NaN or +Inf"),
            ("a 1 # {} 1\n", .prometheusText, .invalidExposition, "line 1, column 5", "expected an integer timestamp (milliseconds) or the end of the line, got \"#\""),
            ("a{b=\"c\\\nd\"} 1", .prometheusText, .invalidExposition, "line 1, column 7", "a backslash may not escape a line feed"),
            ("a{b=\"1\",,c=\"2\"} 1", .prometheusText, .invalidExposition, "line 1, column 9", "expected a label name or \"}\", got \",\""),
            ("a 1\n# EOF\n", .openMetrics, .invalidExposition, "", ""),
            ("# TYPE a counter\n# TYPE a counter\n# EOF\n", .openMetrics, .invalidValue, "line 2, column 1", "a second TYPE line for \"a\""),
        ]
        for (text, format, code, location, message) in cases {
            guard let error = parseError(text, format, options: .init(validation: .strict)) else {
                if !location.isEmpty { Issue.record("no error for \(text.debugDescription)") }
                continue
            }
            #expect(error.code == code, "\(text.debugDescription): \(error)")
            #expect(error.path == location, "\(text.debugDescription): \(error)")
            if !message.isEmpty { #expect(error.message == message, "\(text.debugDescription)") }
            #expect(error.offset != nil)
        }
        // Invalid UTF-8 is its own code.
        let utf8 = try? ExpositionParser.parse(Array("a{b=\"".utf8) + [0xFF] + Array("\"} 1\n".utf8), format: .prometheusText, defaultTimestamp: 0)
        #expect(utf8 == nil)
        do {
            _ = try ExpositionParser.parse(Array("a{b=\"".utf8) + [0xC3, 0x28] + Array("\"} 1\n".utf8), format: .prometheusText, defaultTimestamp: 0)
            Issue.record("invalid UTF-8 accepted")
        } catch {
            #expect(error.code == .invalidUTF8)
            #expect(error.path == "line 1, column 6")
        }
        do {
            _ = try ExpositionParser.parse(Array("# HELP a ".utf8) + [0xFF] + [0x0A], format: .prometheusText, defaultTimestamp: 0)
            Issue.record("invalid UTF-8 help accepted")
        } catch {
            #expect(error.code == .invalidUTF8)
        }
    }
}

// MARK: - OpenMetrics conformance suite

@Suite("Exposition: OpenMetrics parser test suite")
struct ExpositionConformanceTests {
    /// Cases the specification rejects but the Prometheus scraper accepts: they fail only with `.strict`. Each is
    /// a rule Prometheus's parser does not check (values, structure of histograms/summaries/statesets/infos,
    /// metadata placement and repetition, exemplar placement and size, timestamp order, trailing commas).
    static let acceptedByPrometheus: Set<String> = [
        "bad_clashing_names_0", "bad_clashing_names_1", "bad_clashing_names_2",
        "bad_counter_values_0", "bad_counter_values_1", "bad_counter_values_10", "bad_counter_values_11", "bad_counter_values_12",
        "bad_counter_values_13", "bad_counter_values_14", "bad_counter_values_15", "bad_counter_values_16", "bad_counter_values_17",
        "bad_counter_values_18", "bad_counter_values_19", "bad_counter_values_2", "bad_counter_values_3", "bad_counter_values_4",
        "bad_counter_values_5", "bad_counter_values_6", "bad_counter_values_7", "bad_counter_values_8", "bad_counter_values_9",
        "bad_exemplar_complex_chars", "bad_exemplars_6",
        "bad_exemplars_on_unallowed_metric_types_0", "bad_exemplars_on_unallowed_metric_types_1", "bad_exemplars_on_unallowed_metric_types_2",
        "bad_exemplars_on_unallowed_samples_0", "bad_exemplars_on_unallowed_samples_1", "bad_exemplars_on_unallowed_samples_2",
        "bad_exemplars_on_unallowed_samples_3",
        "bad_grouping_or_ordering_0", "bad_grouping_or_ordering_10", "bad_grouping_or_ordering_2", "bad_grouping_or_ordering_3",
        "bad_grouping_or_ordering_4", "bad_grouping_or_ordering_5", "bad_grouping_or_ordering_6", "bad_grouping_or_ordering_7",
        "bad_grouping_or_ordering_8", "bad_grouping_or_ordering_9",
        "bad_histograms_0", "bad_histograms_1", "bad_histograms_10", "bad_histograms_11", "bad_histograms_12", "bad_histograms_13",
        "bad_histograms_14", "bad_histograms_2", "bad_histograms_3", "bad_histograms_6", "bad_histograms_7", "bad_histograms_8",
        "bad_histograms_9",
        "bad_info_and_stateset_values_0", "bad_info_and_stateset_values_1",
        "bad_metadata_in_wrong_place_0", "bad_metadata_in_wrong_place_1", "bad_metadata_in_wrong_place_2",
        "bad_missing_or_extra_commas_2",
        "bad_missing_or_invalid_labels_for_a_type_0", "bad_missing_or_invalid_labels_for_a_type_1",
        "bad_missing_or_invalid_labels_for_a_type_2", "bad_missing_or_invalid_labels_for_a_type_3",
        "bad_missing_or_invalid_labels_for_a_type_4", "bad_missing_or_invalid_labels_for_a_type_5",
        "bad_missing_or_invalid_labels_for_a_type_6", "bad_missing_or_invalid_labels_for_a_type_7",
        "bad_repeated_metadata_0", "bad_repeated_metadata_1", "bad_repeated_metadata_3",
        "bad_stateset_info_values_0", "bad_stateset_info_values_1", "bad_stateset_info_values_2", "bad_stateset_info_values_3",
        "bad_unit_6", "bad_unit_7",
    ]

    @Test(.enabled(if: ExpositionFixtures.hasOpenMetricsSuite)) func strictValidation() throws {
        var failures: [String] = []
        let cases = try ExpositionFixtures.openMetricsConformance()
        #expect(cases.count == 211)
        for testCase in cases {
            let outcome: String
            do {
                _ = try ExpositionParser.parse(testCase.input, format: .openMetrics, defaultTimestamp: 0, options: .init(validation: .strict))
                outcome = "parsed"
            } catch {
                outcome = "\(error)"
            }
            if (outcome == "parsed") != testCase.shouldParse { failures.append("\(testCase.name): \(outcome)") }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(cases.count) cases:\n\(failures.joined(separator: "\n"))")
    }

    @Test(.enabled(if: ExpositionFixtures.hasOpenMetricsSuite)) func prometheusValidation() throws {
        var failures: [String] = []
        for testCase in try ExpositionFixtures.openMetricsConformance() {
            let parsed = (try? ExpositionParser.parse(testCase.input, format: .openMetrics, defaultTimestamp: 0)) != nil
            let expected = testCase.shouldParse || Self.acceptedByPrometheus.contains(testCase.name)
            if parsed != expected { failures.append("\(testCase.name): \(parsed ? "parsed" : "rejected")") }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }
}

// MARK: - Writer

@Suite("Exposition writer")
struct ExpositionWriterTests {
    @Test func textOutput() throws {
        let samples = [
            ScrapedSample(labels: ["__name__": "http_requests_total", "code": "200", "path": "/a\"b\\c\nd"], value: 1027, timestamp: 1_395_066_363_000),
            ScrapedSample(labels: ["__name__": "http_requests_total", "code": "500", "path": "/"], value: 3),
            ScrapedSample(labels: ["__name__": "my.metric", "label.name": "v", "b": "ü"], value: 1.5e6),
            ScrapedSample(labels: ["__name__": "temp"], value: .nan),
            ScrapedSample(labels: ["__name__": "temp", "x": "y"], value: -.infinity),
            ScrapedSample(labels: ["__name__": "small"], value: 0.000012),
            ScrapedSample(labels: ["__name__": "h_bucket", "le": "0.5"], value: 1),
            ScrapedSample(labels: ["__name__": "h_bucket", "le": "+Inf"], value: 2),
            ScrapedSample(labels: ["__name__": "h_sum"], value: 0.75),
            ScrapedSample(labels: ["__name__": "h_count"], value: 2),
        ]
        let metadata: [String: MetricMetadata] = [
            "http_requests_total": MetricMetadata(type: .counter, help: "Requests.\nWith a \\ and \"quotes\"."),
            "my.metric": MetricMetadata(type: .gauge),
            "h": MetricMetadata(type: .histogram, help: "A histogram."),
            "unused": MetricMetadata(type: .gauge, help: "No samples."),
        ]
        let text = String(decoding: ExpositionWriter.prometheusText(samples: samples, metadata: metadata), as: UTF8.self)
        #expect(text == #"""
            # HELP http_requests_total Requests.\nWith a \\ and "quotes".
            # TYPE http_requests_total counter
            http_requests_total{code="200",path="/a\"b\\c\nd"} 1027 1395066363000
            http_requests_total{code="500",path="/"} 3
            # TYPE "my.metric" gauge
            {"my.metric",b="ü","label.name"="v"} 1.5e+06
            temp NaN
            temp{x="y"} -Inf
            small 1.2e-05
            # HELP h A histogram.
            # TYPE h histogram
            h_bucket{le="0.5"} 1
            h_bucket{le="+Inf"} 2
            h_sum 0.75
            h_count 2
            # HELP unused No samples.
            # TYPE unused gauge

            """#)
        let reparsed = try ExpositionParser.parse(Array(text.utf8), format: .prometheusText, defaultTimestamp: 0)
        #expect(expositionSamplesEqual(reparsed.samples, samples))
        #expect(reparsed.metadata == metadata)
    }

    @Test func openMetricsOutput() throws {
        let samples = [
            ScrapedSample(labels: ["__name__": "rpc_total", "service": "a"], value: 17, timestamp: 1_700_000_000_123,
                          exemplar: PrometheusExemplar(labels: ["trace_id": "abc"], value: 0.5, timestamp: 1_700_000_042_500)),
            ScrapedSample(labels: ["__name__": "rpc_created", "service": "a"], value: 1_700_000_000.25),
            ScrapedSample(labels: ["__name__": "temperature_celsius"], value: -3.25, timestamp: -1_500),
        ]
        let metadata: [String: MetricMetadata] = [
            "rpc": MetricMetadata(type: .counter, help: "Calls with \"quotes\"."),
            "temperature_celsius": MetricMetadata(type: .gauge, help: "", unit: "celsius"),
        ]
        let text = String(decoding: ExpositionWriter.openMetrics(samples: samples, metadata: metadata), as: UTF8.self)
        #expect(text == #"""
            # TYPE rpc counter
            # HELP rpc Calls with \"quotes\".
            rpc_total{service="a"} 17 1700000000.123 # {trace_id="abc"} 0.5 1700000042.5
            rpc_created{service="a"} 1.70000000025e+09
            # TYPE temperature_celsius gauge
            # UNIT temperature_celsius celsius
            temperature_celsius -3.25 -1.5
            # EOF

            """#)
        let reparsed = try ExpositionParser.parse(Array(text.utf8), format: .openMetrics, defaultTimestamp: 0, options: .init(validation: .strict))
        var expected = samples
        expected[0].createdTimestamp = 1_700_000_000_250
        #expect(expositionSamplesEqual(reparsed.samples, expected))
        #expect(reparsed.metadata == metadata)
    }

    @Test func roundTrips() throws {
        for name in ExpositionFixtures.textFixtures {
            let original = try ExpositionParser.parse(try ExpositionFixtures.bytes(name), format: .prometheusText, defaultTimestamp: 0)
            let written = ExpositionWriter.prometheusText(original)
            let reparsed = try ExpositionParser.parse(written, format: .prometheusText, defaultTimestamp: 0)
            #expect(expositionSamplesEqual(reparsed.samples, original.samples), "\(name)")
            #expect(reparsed.metadata == original.metadata, "\(name)")
            #expect(ExpositionWriter.prometheusText(reparsed) == written, "\(name)")
        }
        for name in ExpositionFixtures.openMetricsFixtures {
            let original = try ExpositionParser.parse(try ExpositionFixtures.bytes(name), format: .openMetrics, defaultTimestamp: 0)
            // OpenMetrics → OpenMetrics keeps everything.
            let written = ExpositionWriter.openMetrics(original)
            let reparsed = try ExpositionParser.parse(written, format: .openMetrics, defaultTimestamp: 0, options: .init(validation: .strict))
            #expect(expositionSamplesEqual(reparsed.samples, original.samples), "\(name)")
            #expect(reparsed.metadata == original.metadata, "\(name)")
            #expect(reparsed.families == original.families, "\(name)")
            // OpenMetrics → text keeps the samples (regrouped as the Python client does) and loses exemplars and created
            // timestamps, which the text format cannot carry.
            let text = try ExpositionParser.parse(ExpositionWriter.prometheusText(original), format: .prometheusText, defaultTimestamp: 0)
            let stripped = original.samples.map { ScrapedSample(labels: $0.labels, value: $0.value, timestamp: $0.timestamp) }
            #expect(expositionSamplesEqual(
                text.samples.sorted { $0.labels < $1.labels }, stripped.sorted { $0.labels < $1.labels }), "\(name)")
            #expect(text.metadata["http_requests_total"]?.type == .counter)
            #expect(text.metadata["http_requests_created"]?.type == .gauge)
        }
    }
}

// MARK: - Throughput

/// `LOUPE_EXPOSITION_BENCHMARK=1 swift test -c release --filter ExpositionBenchmark` prints parse throughput.
@Suite("ExpositionBenchmark", .enabled(if: ProcessInfo.processInfo.environment["LOUPE_EXPOSITION_BENCHMARK"] != nil))
struct ExpositionBenchmark {
    static func measure(_ name: String, bytes: [UInt8], format: ExpositionFormat, reuse: Bool, options: ExpositionParser.Options = .init()) throws {
        let lines = bytes.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        let parser = ExpositionParser(options: options)
        var samples = 0
        // Warm up, then time enough rounds for about half a second.
        for _ in 0..<20 { samples = try parser.parse(bytes, format: format, defaultTimestamp: 0).samples.count }
        // Thread CPU time, so that other processes on a busy machine do not count.
        func cpuSeconds() -> Double {
            var time = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
            return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
        }
        var rounds = 0
        let start = cpuSeconds()
        var seconds = 0.0
        try bytes.withUnsafeBytes { buffer in
            repeat {
                for _ in 0..<10 {
                    let result = reuse
                        ? try parser.parse(buffer, format: format, defaultTimestamp: 0)
                        : try ExpositionParser.parse(buffer, format: format, defaultTimestamp: 0, options: options)
                    samples = result.samples.count
                }
                rounds += 10
                seconds = cpuSeconds() - start
            } while seconds < 0.5
        }
        let perParse = seconds / Double(rounds)
        print(String(
            format: "%@: %d lines, %d samples, %.1f KB: %.1f µs per parse, %.2f M lines/s, %.0f MB/s%@", name, lines, samples,
            Double(bytes.count) / 1024, perParse * 1e6, Double(lines) / perParse / 1e6, Double(bytes.count) / perParse / 1e6,
            reuse ? " (reused parser)" : ""))
    }

    @Test func throughput() throws {
        let node = try ExpositionFixtures.bytes("node_exporter.prom")
        try Self.measure("node_exporter.prom", bytes: node, format: .prometheusText, reuse: false)
        try Self.measure("node_exporter.prom", bytes: node, format: .prometheusText, reuse: true)
        let python = try ExpositionFixtures.bytes("python_client.om.txt")
        try Self.measure("python_client.om.txt", bytes: python, format: .openMetrics, reuse: false)
        try Self.measure("python_client.om.txt strict", bytes: python, format: .openMetrics, reuse: false, options: .init(validation: .strict))
        // A large page: 20 copies of the node exporter's series under different instances.
        var big: [UInt8] = []
        let text = String(decoding: node, as: UTF8.self)
        for copy in 0..<20 { big += Array(text.replacingOccurrences(of: "{", with: "{shard=\"\(copy)\",").utf8) }
        try Self.measure("20 × node_exporter (with duplicate metadata)", bytes: big, format: .prometheusText, reuse: false)
        try Self.measure("20 × node_exporter (with duplicate metadata)", bytes: big, format: .prometheusText, reuse: true)
        let openMetrics = ExpositionWriter.openMetrics(try ExpositionParser.parse(node, format: .prometheusText, defaultTimestamp: 0))
        try Self.measure("node_exporter as OpenMetrics", bytes: openMetrics, format: .openMetrics, reuse: false)
    }
}
