import LoupeModel
import LoupeWire
import Testing
@testable import LoupeScrape

@Suite struct ScrapeLoopTests {
    let target: Labels = ["instance": "127.0.0.1:9100", "job": "node"]

    func body(_ text: String) -> [UInt8] { Array(text.utf8) }

    func value(_ outcome: ScrapeOutcome, _ labels: Labels) -> FloatSample? {
        outcome.request.series.first { $0.labels == labels }?.samples.first
    }

    func series(_ name: String, _ extra: [String: String] = [:]) -> Labels {
        var labels = target
        labels.set("__name__", name)
        for (key, value) in extra { labels.set(key, value) }
        return labels
    }

    @Test func samplesGetTargetLabelsAndTheScrapeTime() {
        var loop = ScrapeLoop(targetLabels: target)
        let outcome = loop.process(body: body("# TYPE a gauge\na 1\nb{x=\"y\"} 2 1234\n"), contentType: "text/plain; version=0.0.4", timestamp: 5_000, duration: 0.25)
        #expect(outcome.error == nil)
        #expect(value(outcome, series("a")) == FloatSample(timestamp: 5_000, value: 1))
        // honor_timestamps (default true): the exposed timestamp is kept.
        #expect(value(outcome, series("b", ["x": "y"])) == FloatSample(timestamp: 1_234, value: 2))
        #expect(outcome.request.metadata["a"]?.type == .gauge)
    }

    @Test func reportSeries() {
        var loop = ScrapeLoop(targetLabels: target, options: .init(metricRelabelConfigs: [
            RelabelConfig(sourceLabels: ["__name__"], regex: try! RelabelRegex("drop_me"), action: .drop),
        ]))
        let outcome = loop.process(body: body("a 1\nb 2\ndrop_me 3\n"), contentType: nil, timestamp: 10_000, duration: 0.5)
        #expect(value(outcome, series("up")) == FloatSample(timestamp: 10_000, value: 1))
        #expect(value(outcome, series("scrape_duration_seconds"))?.value == 0.5)
        #expect(value(outcome, series("scrape_samples_scraped"))?.value == 3)
        #expect(value(outcome, series("scrape_samples_post_metric_relabeling"))?.value == 2)
        #expect(value(outcome, series("scrape_series_added"))?.value == 2)
        #expect(value(outcome, series("drop_me")) == nil)
        let again = loop.process(body: body("a 1\nb 2\nc 3\n"), contentType: nil, timestamp: 20_000, duration: 0.5)
        #expect(value(again, series("scrape_series_added"))?.value == 1)
    }

    @Test func disappearedSeriesGetStaleMarkers() throws {
        var loop = ScrapeLoop(targetLabels: target)
        _ = loop.process(body: body("a 1\nb 2\nexplicit 3 1000\n"), contentType: nil, timestamp: 10_000, duration: 0.1)
        let outcome = loop.process(body: body("a 1\n"), contentType: nil, timestamp: 20_000, duration: 0.1)
        let stale = try #require(value(outcome, series("b")))
        #expect(stale.timestamp == 20_000)
        #expect(StaleMarker.isStale(stale.value))
        // Series with explicit timestamps do not take part in staleness (as in Prometheus).
        #expect(value(outcome, series("explicit")) == nil)
        #expect(outcome.staleMarkers == 1)
        #expect(!StaleMarker.isStale(try #require(value(outcome, series("a"))).value))
    }

    @Test func failedScrapeMarksEverythingStaleAndUpZero() throws {
        var loop = ScrapeLoop(targetLabels: target)
        _ = loop.process(body: body("a 1\nb 2\n"), contentType: nil, timestamp: 10_000, duration: 0.1)
        let outcome = loop.failed(ScrapeError(.unreachable, "connection refused"), timestamp: 20_000, duration: 0.01)
        #expect(outcome.error?.code == .unreachable)
        #expect(value(outcome, series("up")) == FloatSample(timestamp: 20_000, value: 0))
        #expect(value(outcome, series("scrape_samples_scraped"))?.value == 0)
        #expect(StaleMarker.isStale(try #require(value(outcome, series("a"))).value))
        #expect(StaleMarker.isStale(try #require(value(outcome, series("b"))).value))
        // Recovery: no markers, all series are added again.
        let recovered = loop.process(body: body("a 1\n"), contentType: nil, timestamp: 30_000, duration: 0.1)
        #expect(recovered.staleMarkers == 0)
        #expect(value(recovered, series("scrape_series_added"))?.value == 1)
    }

    @Test func invalidBodyFailsTheScrape() {
        var loop = ScrapeLoop(targetLabels: target)
        let outcome = loop.process(body: body("a{ 1\n"), contentType: nil, timestamp: 1, duration: 0)
        #expect(outcome.error?.code == .invalidExposition)
        #expect(value(outcome, series("up"))?.value == 0)
        // OpenMetrics without # EOF is truncated.
        let openMetrics = loop.process(body: body("a 1\n"), contentType: "application/openmetrics-text; version=1.0.0", timestamp: 2, duration: 0)
        #expect(openMetrics.error?.code == .invalidExposition)
    }

    @Test func openMetricsBody() {
        var loop = ScrapeLoop(targetLabels: target)
        let outcome = loop.process(
            body: body("# TYPE requests counter\nrequests_total 7 2.5\n# EOF\n"),
            contentType: "application/openmetrics-text; version=1.0.0; charset=utf-8", timestamp: 9_000, duration: 0)
        #expect(outcome.error == nil)
        #expect(value(outcome, series("requests_total")) == FloatSample(timestamp: 2_500, value: 7))
    }

    @Test func sampleLimit() throws {
        var loop = ScrapeLoop(targetLabels: target, options: .init(sampleLimit: 2))
        let ok = loop.process(body: body("a 1\nb 2\n"), contentType: nil, timestamp: 1_000, duration: 0)
        #expect(ok.error == nil)
        let over = loop.process(body: body("a 1\nb 2\nc 3\n"), contentType: nil, timestamp: 2_000, duration: 0)
        #expect(over.error?.code == .limitExceeded)
        #expect(value(over, series("up"))?.value == 0)
        #expect(value(over, series("scrape_samples_scraped"))?.value == 3)
        #expect(value(over, series("c")) == nil)
        #expect(StaleMarker.isStale(try #require(value(over, series("a"))).value))
    }

    @Test func labelLimit() {
        var loop = ScrapeLoop(targetLabels: target, options: .init(labelLimit: 3))
        #expect(loop.process(body: body("a 1\n"), contentType: nil, timestamp: 1, duration: 0).error == nil)
        #expect(loop.process(body: body("a{x=\"1\"} 1\n"), contentType: nil, timestamp: 2, duration: 0).error?.code == .limitExceeded)
    }

    @Test func honorLabelsFalseKeepsExposedValuesAsExported() {
        var loop = ScrapeLoop(targetLabels: target)
        let outcome = loop.process(
            body: body("a{job=\"other\",exported_job=\"taken\",instance=\"i\"} 1\n"), contentType: nil, timestamp: 1, duration: 0)
        let labels = outcome.request.series[0].labels
        #expect(labels == [
            "__name__": "a", "job": "node", "instance": "127.0.0.1:9100", "exported_job": "taken",
            "exported_exported_job": "other", "exported_instance": "i",
        ])
    }

    @Test func honorLabelsTrueKeepsExposedValues() {
        var loop = ScrapeLoop(targetLabels: target, options: .init(honorLabels: true))
        let outcome = loop.process(body: body("a{job=\"other\"} 1\n"), contentType: nil, timestamp: 1, duration: 0)
        #expect(outcome.request.series[0].labels == ["__name__": "a", "job": "other", "instance": "127.0.0.1:9100"])
    }

    @Test func honorTimestampsFalseUsesTheScrapeTime() {
        var loop = ScrapeLoop(targetLabels: target, options: .init(honorTimestamps: false))
        let first = loop.process(body: body("a 1 1234\n"), contentType: nil, timestamp: 50_000, duration: 0)
        #expect(value(first, series("a")) == FloatSample(timestamp: 50_000, value: 1))
        // ... and such series do get stale markers.
        let second = loop.process(body: body(""), contentType: nil, timestamp: 60_000, duration: 0)
        #expect(second.staleMarkers == 1)
    }

    @Test func metricRelabelingCanRenameAndDropAll() {
        var loop = ScrapeLoop(targetLabels: target, options: .init(metricRelabelConfigs: [
            RelabelConfig(sourceLabels: ["__name__"], regex: try! RelabelRegex("old_(.*)"), targetLabel: "__name__", replacement: "new_$1"),
            RelabelConfig(regex: try! RelabelRegex("instance"), action: .labeldrop),
        ]))
        let outcome = loop.process(body: body("old_a 1\nold_a 2\n"), contentType: nil, timestamp: 1, duration: 0)
        #expect(outcome.request.series[0].labels == ["__name__": "new_a", "job": "node"])
        // The duplicate series within one scrape is ignored.
        #expect(outcome.request.series.filter { $0.labels.metricName == "new_a" }.count == 1)
        #expect(value(outcome, series("scrape_samples_post_metric_relabeling"))?.value == 1)
    }

    @Test func stopMarksSeriesAndReportSeriesStale() throws {
        var loop = ScrapeLoop(targetLabels: target)
        _ = loop.process(body: body("a 1\n"), contentType: nil, timestamp: 1_000, duration: 0)
        let request = loop.stop(timestamp: 2_000)
        let names = Set(request.series.map { $0.labels.metricName ?? "" })
        #expect(names == Set(["a"] + ScrapeReport.names))
        #expect(request.series.allSatisfy { StaleMarker.isStale($0.samples[0].value) && $0.samples[0].timestamp == 2_000 })
        #expect(loop.stop(timestamp: 3_000).series.isEmpty)
    }
}
