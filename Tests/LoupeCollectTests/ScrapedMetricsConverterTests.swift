import LoupeModel
import LoupeScrape
import LoupeWire
import Testing

@testable import LoupeCollect

/// Scraped expositions (through the scrape loop, as the agent gets them) turned into OTLP metrics.
@Suite struct ScrapedMetricsConverterTests {
    let target: Labels = ["instance": "10.1.2.3:9100", "job": "node"]

    func scrape(
        _ text: String, loop: inout ScrapeLoop, converter: inout ScrapedMetricsConverter, at timestamp: Int64 = 1_700_000_000_000,
        contentType: String = "text/plain; version=0.0.4"
    ) -> [String: Metric] {
        let outcome = loop.process(body: Array(text.utf8), contentType: contentType, timestamp: timestamp, duration: 0.1)
        let data = converter.convert(outcome.request)
        var metrics: [String: Metric] = [:]
        for resource in data.resourceMetrics {
            for scope in resource.scopeMetrics {
                for metric in scope.metrics { metrics[metric.name] = metric }
            }
        }
        return metrics
    }

    func attributes(_ pairs: [String: String]) -> [KeyValue] {
        pairs.sorted { $0.key < $1.key }.map { KeyValue($0.key, .string($0.value)) }
    }

    @Test func theTargetIsTheResourceAndOtherLabelsAreAttributes() {
        var loop = ScrapeLoop(targetLabels: target)
        var converter = ScrapedMetricsConverter()
        let outcome = loop.process(body: Array("# TYPE temperature gauge\ntemperature{room=\"a\"} 21.5\n".utf8), contentType: nil, timestamp: 5_000, duration: 0.1)
        let data = converter.convert(outcome.request)
        #expect(data.resourceMetrics.count == 1)
        let resource = data.resourceMetrics[0].resource.attributes
        #expect(resource == [
            KeyValue("service.name", .string("node")), KeyValue("service.instance.id", .string("10.1.2.3:9100")),
            KeyValue("server.address", .string("10.1.2.3")), KeyValue("server.port", .int(9100)),
        ])
        let metrics = data.resourceMetrics[0].scopeMetrics[0].metrics
        #expect(metrics.map(\.name) == ["temperature"], "no up or scrape_* without diagnosticMetrics")
        guard case .gauge(let gauge) = metrics[0].data else {
            Issue.record("not a gauge: \(metrics[0].data)")
            return
        }
        #expect(gauge.dataPoints == [NumberDataPoint(attributes: attributes(["room": "a"]), timeUnixNano: 5_000_000_000, value: .double(21.5))])
    }

    @Test func diagnosticMetricsKeepTheReportSeries() {
        var loop = ScrapeLoop(targetLabels: target)
        var converter = ScrapedMetricsConverter(diagnosticMetrics: true)
        let metrics = scrape("a 1\n", loop: &loop, converter: &converter)
        #expect(Set(metrics.keys) == ["a", "up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_series_added"])
    }

    @Test func theCallersResourceAttributesWin() {
        var loop = ScrapeLoop(targetLabels: target)
        var converter = ScrapedMetricsConverter(resourceAttributes: [KeyValue("service.name", .string("checkout")), KeyValue("k8s.pod.name", .string("p"))])
        let outcome = loop.process(body: Array("a 1\n".utf8), contentType: nil, timestamp: 5_000, duration: 0.1)
        let resource = converter.convert(outcome.request).resourceMetrics[0].resource.attributes
        #expect(resource.first { $0.key == "service.name" }?.value == .string("checkout"))
        #expect(resource.first { $0.key == "k8s.pod.name" }?.value == .string("p"))
        #expect(resource.filter { $0.key == "service.name" }.count == 1)
    }

    @Test func countersAreMonotonicCumulativeSumsThatKeepTheirStartAcrossScrapesAndRestartAfterAReset() {
        var loop = ScrapeLoop(targetLabels: target)
        var converter = ScrapedMetricsConverter()
        let text = { (value: Int) in "# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} \(value)\n" }
        func point(_ metrics: [String: Metric]) -> (NumberDataPoint, Sum)? {
            guard case .sum(let sum) = metrics["http_requests_total"]?.data, let point = sum.dataPoints.first else { return nil }
            return (point, sum)
        }
        let first = point(scrape(text(10), loop: &loop, converter: &converter, at: 1_000))
        #expect(first?.1.isMonotonic == true && first?.1.aggregationTemporality == .cumulative)
        #expect(first?.0.startTimeUnixNano == 0, "unknown start: the counter may have run long before")
        #expect(first?.0.value == .double(10) && first?.0.attributes == attributes(["code": "200"]))
        let second = point(scrape(text(15), loop: &loop, converter: &converter, at: 2_000))
        #expect(second?.0.startTimeUnixNano == 0 && second?.0.value == .double(15))
        let reset = point(scrape(text(3), loop: &loop, converter: &converter, at: 3_000))
        #expect(reset?.0.startTimeUnixNano == 2_001_000_000, "restarted after the scrape before")
        let after = point(scrape(text(4), loop: &loop, converter: &converter, at: 4_000))
        #expect(after?.0.startTimeUnixNano == 2_001_000_000)
    }

    @Test func processStartTimeStartsCounters() {
        var loop = ScrapeLoop(targetLabels: target)
        var converter = ScrapedMetricsConverter()
        let metrics = scrape("""
            # TYPE process_start_time_seconds gauge
            process_start_time_seconds 1000.5
            # TYPE jobs_total counter
            jobs_total 7

            """, loop: &loop, converter: &converter, at: 2_000_000)
        guard case .sum(let sum) = metrics["jobs_total"]?.data else {
            Issue.record("no sum")
            return
        }
        #expect(sum.dataPoints.first?.startTimeUnixNano == 1_000_500_000_000)
    }

    @Test func openMetricsCountersTakeTheirCreatedTime() {
        var loop = ScrapeLoop(targetLabels: target)
        var converter = ScrapedMetricsConverter()
        let metrics = scrape("""
            # TYPE jobs counter
            # HELP jobs Jobs done.
            jobs_total 7
            jobs_created 1500.25
            # EOF

            """, loop: &loop, converter: &converter, contentType: "application/openmetrics-text; version=1.0.0")
        #expect(metrics.keys.sorted() == ["jobs_total"])
        guard case .sum(let sum) = metrics["jobs_total"]?.data else {
            Issue.record("no sum")
            return
        }
        #expect(metrics["jobs_total"]?.description == "Jobs done.")
        #expect(sum.dataPoints.map(\.startTimeUnixNano) == [1_500_250_000_000])
        #expect(sum.dataPoints.map(\.value) == [.double(7)])
    }

    @Test func histogramBucketsBecomeExplicitBoundsWithPerBucketCounts() {
        var loop = ScrapeLoop(targetLabels: target)
        var converter = ScrapedMetricsConverter()
        let metrics = scrape("""
            # HELP latency_seconds Request latency.
            # TYPE latency_seconds histogram
            latency_seconds_bucket{path="/a",le="0.1"} 2
            latency_seconds_bucket{path="/a",le="0.5"} 5
            latency_seconds_bucket{path="/a",le="+Inf"} 6
            latency_seconds_sum{path="/a"} 1.75
            latency_seconds_count{path="/a"} 6
            latency_seconds_bucket{path="/b",le="0.1"} 0
            latency_seconds_bucket{path="/b",le="0.5"} 0
            latency_seconds_bucket{path="/b",le="+Inf"} 1
            latency_seconds_sum{path="/b"} 3
            latency_seconds_count{path="/b"} 1

            """, loop: &loop, converter: &converter, at: 9_000)
        #expect(metrics.keys.sorted() == ["latency_seconds"])
        guard case .histogram(let histogram) = metrics["latency_seconds"]?.data else {
            Issue.record("no histogram")
            return
        }
        #expect(histogram.aggregationTemporality == .cumulative)
        #expect(histogram.dataPoints == [
            HistogramDataPoint(attributes: attributes(["path": "/a"]), timeUnixNano: 9_000_000_000, count: 6, sum: 1.75, bucketCounts: [2, 3, 1], explicitBounds: [0.1, 0.5]),
            HistogramDataPoint(attributes: attributes(["path": "/b"]), timeUnixNano: 9_000_000_000, count: 1, sum: 3, bucketCounts: [0, 0, 1], explicitBounds: [0.1, 0.5]),
        ])
    }

    @Test func summariesKeepTheirQuantiles() {
        var loop = ScrapeLoop(targetLabels: target)
        var converter = ScrapedMetricsConverter()
        let metrics = scrape("""
            # TYPE rpc_seconds summary
            rpc_seconds{quantile="0.99"} 0.9
            rpc_seconds{quantile="0.5"} 0.2
            rpc_seconds_sum 12
            rpc_seconds_count 40

            """, loop: &loop, converter: &converter, at: 9_000)
        guard case .summary(let summary) = metrics["rpc_seconds"]?.data else {
            Issue.record("no summary")
            return
        }
        #expect(summary.dataPoints == [SummaryDataPoint(
            timeUnixNano: 9_000_000_000, count: 40, sum: 12,
            quantileValues: [.init(quantile: 0.5, value: 0.2), .init(quantile: 0.99, value: 0.9)])])
    }

    @Test func aSeriesThatGoesAwayIsFlaggedWithNoRecordedValue() {
        var loop = ScrapeLoop(targetLabels: target)
        var converter = ScrapedMetricsConverter()
        _ = scrape("# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\"} 2\n", loop: &loop, converter: &converter, at: 1_000)
        let metrics = scrape("# TYPE a gauge\na{x=\"1\"} 1\n", loop: &loop, converter: &converter, at: 2_000)
        guard case .gauge(let gauge) = metrics["a"]?.data else {
            Issue.record("no gauge")
            return
        }
        let gone = gauge.dataPoints.first { $0.attributes == attributes(["x": "2"]) }
        #expect(gone?.flags == .noRecordedValue)
        #expect(gauge.dataPoints.first { $0.attributes == attributes(["x": "1"]) }?.flags == [])
    }

    @Test func untypedAndInfoSamplesAreGaugesUnderTheirOwnNames() {
        var loop = ScrapeLoop(targetLabels: target)
        var converter = ScrapedMetricsConverter()
        let metrics = scrape("""
            # TYPE build info
            build_info{version="1.2"} 1
            mystery_total 3
            # EOF

            """, loop: &loop, converter: &converter, contentType: "application/openmetrics-text; version=1.0.0")
        #expect(metrics.keys.sorted() == ["build_info", "mystery_total"])
        for name in ["build_info", "mystery_total"] {
            guard case .gauge = metrics[name]?.data else {
                Issue.record("\(name) is not a gauge")
                continue
            }
        }
    }

    @Test func exemplarsCarryTheirTrace() {
        var loop = ScrapeLoop(targetLabels: target)
        var converter = ScrapedMetricsConverter()
        let metrics = scrape("""
            # TYPE hits counter
            hits_total 5 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"} 1 1.5
            # EOF

            """, loop: &loop, converter: &converter, contentType: "application/openmetrics-text; version=1.0.0")
        guard case .sum(let sum) = metrics["hits_total"]?.data, let exemplar = sum.dataPoints.first?.exemplars.first else {
            Issue.record("no exemplar")
            return
        }
        #expect(exemplar.traceID == TraceID(hex: "4bf92f3577b34da6a3ce929d0e0e4736"))
        #expect(exemplar.spanID == SpanID(hex: "00f067aa0ba902b7"))
        #expect(exemplar.value == .double(1) && exemplar.timeUnixNano == 1_500_000_000)
    }

    @Test func aFailedScrapeGivesOnlyStaleMarkersAndNothingWhenThereWereNone() {
        var loop = ScrapeLoop(targetLabels: target)
        var converter = ScrapedMetricsConverter()
        let failed = loop.failed(ScrapeError(.unreachable, "down"), timestamp: 1_000, duration: 0.1)
        #expect(converter.convert(failed.request).resourceMetrics.isEmpty)
    }
}
