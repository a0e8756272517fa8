import LoupeModel
@testable import LoupeStorage
import Testing

@Suite("TSDB head")
struct TSDBHeadTests {
    /// Selections come back in `Labels` order: the flat-byte comparison agrees with `Labels.<` on
    /// prefixes (of names and values), more and fewer labels, non-ASCII and already sorted input.
    @Test func selectionsAreSortedAsLabelsCompare() {
        var random = SystemRandomNumberGenerator()
        let texts = ["", "a", "ab", "abc", "b", "é", "e\u{301}", "zz", "a\u{0}b"]
        for round in 0..<50 {
            let series = (0..<(round == 0 ? 1 : 60)).map { _ in
                var labels: [Label] = []
                for name in ["__name__", "a", "ab", "b"] where Bool.random(using: &random) {
                    let value = texts.randomElement(using: &random)!
                    if !value.isEmpty { labels.append(Label(name, value)) }
                }
                return SeriesSamples(labels: Labels(presorted: labels))
            }
            let expected = series.map(\.labels).sorted()
            #expect(TSDBHead.sortedByLabels(series).map(\.labels) == expected)
            let sortedInput = series.sorted { $0.labels < $1.labels }
            #expect(TSDBHead.sortedByLabels(sortedInput).map(\.labels) == sortedInput.map(\.labels))
        }
    }
    /// Selections are sorted through the head's label ranks: series ranked when the ranks were
    /// worked out, series created since (merged in by their labels), after deletions, and once the
    /// ranks are worked out again.
    @Test func selectionsFromTheHeadAreInLabelOrderAsSeriesComeAndGo() throws {
        let head = TSDBHead()
        var random = SystemRandomNumberGenerator()
        var created: [Labels] = []
        func addSeries(_ count: Int) {
            var batch: [TimeSeries] = []
            for _ in 0..<count {
                let labels = Labels([
                    Label("__name__", "m"), Label("instance", "host-\(Int.random(in: 0..<100_000, using: &random))"),
                    Label("zone", ["a", "b", "ab", ""].randomElement(using: &random)!),
                ])
                created.append(labels)
                batch.append(TimeSeries(labels: labels, samples: [FloatSample(timestamp: 1_000, value: 1)]))
            }
            _ = head.append(batch)
        }
        let metric = try LabelMatcher("__name__", .equal, "m")
        func check(_ step: Comment) {
            let expected = Array(Set(created)).sorted()
            #expect(head.select([metric], minTime: 0, maxTime: 10_000).map(\.labels) == expected, step)
            #expect(head.selectNewest([metric], minTime: 0, maxTime: 10_000).map(\.labels) == expected, step)
        }
        addSeries(3_000)
        check("first selection: every series ranked")
        let ranked = head.currentLabelOrder()
        addSeries(200)
        check("200 series without a rank, merged in")
        #expect(head.currentLabelOrder() === ranked)
        let victims = Array(Set(created)).shuffled(using: &random).prefix(300)
        for victim in victims {
            // Every name, so that a series without `zone` does not take those with one along.
            let matchers = try ["__name__", "instance", "zone"].map { try LabelMatcher($0, .equal, victim[$0] ?? "") }
            #expect(head.delete(matchers) == 1)
            created.removeAll { $0 == victim }
        }
        check("after deleting ranked and unranked series")
        addSeries(1_500)
        check("ranks worked out again")
        #expect(head.currentLabelOrder() !== ranked)
    }

    static func series(_ name: String, _ labels: [(String, String)], samples: [(Int64, Double)]) -> TimeSeries {
        TimeSeries(
            labels: Labels([Label("__name__", name)] + labels.map { Label($0.0, $0.1) }),
            samples: samples.map { FloatSample(timestamp: $0.0, value: $0.1) })
    }

    static func populatedHead() -> TSDBHead {
        let head = TSDBHead()
        var batch: [TimeSeries] = []
        for job in ["api", "web", "db"] {
            for instance in 0..<3 {
                batch.append(series("http_requests_total", [("job", job), ("instance", "\(instance)")],
                                    samples: (0..<300).map { (Int64($0) * 15_000, Double($0 * instance)) }))
            }
        }
        batch.append(series("up", [("job", "api")], samples: [(0, 1), (15_000, 0)]))
        _ = head.append(batch)
        return head
    }

    @Test("appended samples read back exactly, across chunk boundaries")
    func roundTrip() throws {
        let head = Self.populatedHead()
        let selected = head.select([.equal("__name__", "http_requests_total"), .equal("job", "api"), .equal("instance", "2")],
                                   minTime: 0, maxTime: .max)
        #expect(selected.count == 1)
        let samples = try #require(selected.first).floats
        #expect(samples.count == 300)
        #expect(samples.map(\.value) == (0..<300).map { Double($0 * 2) })
        #expect(head.statistics().chunks > 10, "300 samples per series are cut into 120-sample chunks")
        let window = head.select([.equal("__name__", "up")], minTime: 10_000, maxTime: 20_000)
        #expect(window.first?.floats == [FloatSample(timestamp: 15_000, value: 0)])
    }

    @Test("windows over closed and open chunks return exactly the samples in range; shards partition the series")
    func windowsAndShards() throws {
        let head = Self.populatedHead()  // 300 samples per series: packed closed chunks and an open XOR chunk
        let matchers: [LabelMatcher] = [.equal("__name__", "http_requests_total")]
        for (minTime, maxTime) in [(0 as Int64, Int64.max), (15_000, 15_000), (3_599_999, 3_600_000), (3_600_001, 4_485_000),
                                   (4_470_000, 9_000_000), (-5, -1), (4_485_001, .max), (1_000, 4_000_000)] {
            for selected in head.select(matchers, minTime: minTime, maxTime: maxTime) {
                let instance = Double(try #require(Int(selected.labels["instance"] ?? "")))
                let expected = (0..<300).map { FloatSample(timestamp: Int64($0) * 15_000, value: Double($0) * instance) }
                    .filter { minTime <= $0.timestamp && $0.timestamp <= maxTime }
                #expect(selected.floats == expected, "\(selected.labels) in \(minTime)...\(maxTime)")
            }
        }
        let any = [try LabelMatcher("__name__", .notEqual, "")]
        let everything = head.select(any, minTime: .min, maxTime: .max).map(\.labels)
        #expect(everything.count == 10)
        for count in [2, 3, 7] {
            var seen: [Labels] = []
            for index in 0..<count {
                let shard = SeriesShard(index: index, of: count)
                let part = head.select(any, minTime: .min, maxTime: .max, shard: shard).map(\.labels)
                #expect(part.allSatisfy(shard.contains), "the head's kept hash agrees with Labels.stableHash")
                seen += part
            }
            #expect(seen.sorted() == everything.sorted())
        }
    }

    @Test("matchers: equality, negation, regex, and matchers that also select series without the label")
    func matchers() throws {
        let head = Self.populatedHead()
        func names(_ matchers: [LabelMatcher]) -> [String] {
            head.select(matchers, minTime: .min, maxTime: .max).map { "\($0.labels["job"] ?? "")/\($0.labels["instance"] ?? "")" }
        }
        #expect(names([.equal("__name__", "http_requests_total"), try LabelMatcher("job", .regexMatch, "api|db"), .equal("instance", "0")]) == ["api/0", "db/0"])
        #expect(names([.equal("__name__", "http_requests_total"), try LabelMatcher("job", .notEqual, "api"), .equal("instance", "1")]) == ["db/1", "web/1"])
        #expect(names([try LabelMatcher("job", .regexMatch, "a.*"), try LabelMatcher("instance", .regexNoMatch, "1|2")]) == ["api/0", "api/"], "sorted by labels: http_requests_total before up")
        // instance="" selects the series that lack the label: only `up`.
        #expect(names([.equal("instance", ""), .equal("job", "api")]) == ["api/"])
        #expect(head.select([.equal("job", "nope")], minTime: .min, maxTime: .max).isEmpty)
        #expect(head.labelValues("job") == ["api", "db", "web"])
        #expect(head.labelNames() == ["__name__", "instance", "job"])
        #expect(head.labelValues("instance", [.equal("job", "web")]) == ["0", "1", "2"])
    }

    @Test("out-of-order and duplicate samples are rejected and counted; equal duplicates are idempotent")
    func ordering() {
        let head = TSDBHead()
        _ = head.append([Self.series("m", [], samples: [(1_000, 1), (2_000, 2)])])
        let result = head.append([Self.series("m", [], samples: [(500, 9), (2_000, 2), (2_000, 3), (3_000, 4)])])
        #expect(result.floatsAppended == 2, "the equal duplicate counts as appended, as in Prometheus")
        #expect(result.rejected == [.outOfOrder: 1, .duplicateTimestamp: 1])
        #expect(head.select([.equal("__name__", "m")], minTime: .min, maxTime: .max).first?.floats.map(\.value) == [1, 2, 4])
    }

    @Test("stale markers keep their exact bit pattern")
    func staleness() {
        let head = TSDBHead()
        _ = head.append([Self.series("m", [], samples: [(1_000, 1), (2_000, StaleMarker.value)])])
        let value = head.select([.equal("__name__", "m")], minTime: .min, maxTime: .max).first?.floats.last?.value
        #expect(value.map(StaleMarker.isStale) == true)
    }

    @Test("native histograms are stored and read back")
    func histograms() throws {
        let head = TSDBHead()
        let histogram = NativeHistogram(
            schema: 0, zeroThreshold: 0.001, zeroCount: 1, count: 6, sum: 12.5,
            positiveSpans: [.init(offset: 0, length: 2)], positiveBuckets: [2, 3], isIntegerCounts: true)
        var later = histogram
        later.count = 9
        later.positiveBuckets = [3, 5]
        _ = head.append([TimeSeries(labels: ["__name__": "latency"], histograms: [
            HistogramSample(timestamp: 1_000, histogram: histogram), HistogramSample(timestamp: 2_000, histogram: later),
        ])])
        let read = try #require(head.select([.equal("__name__", "latency")], minTime: .min, maxTime: .max).first)
        #expect(read.histograms.count == 2)
        #expect(read.histograms.map(\.histogram.count) == [6, 9])
        #expect(read.histograms.last?.histogram.positiveBuckets == [3, 5])
    }

    @Test("delete removes series and their postings")
    func delete() {
        let head = Self.populatedHead()
        #expect(head.delete([.equal("job", "web")]) == 3)
        #expect(head.labelValues("job") == ["api", "db"])
        #expect(head.statistics().series == 7)
        #expect(head.statistics().seriesCountByMetricName.first?.name == "http_requests_total")
    }

    @Test("the head remembers its own label sets for the remote-write decoder, and forgets them when series leave")
    func remoteWriteLabelCache() throws {
        let head = TSDBHead()
        var first = Self.series("up", [("job", "api")], samples: [(0, 1)])
        first.rawLabelsHash = 42
        _ = head.append([first])
        let remembered = try #require(head.labelCache.candidate(for: 42))
        #expect(remembered.labels == first.labels)
        // A later request whose labels came from the cache (no hash) appends to the same series.
        var reused = TimeSeries(labels: remembered.labels, samples: [FloatSample(timestamp: 15_000, value: 2)])
        reused.seriesRefHint = remembered.seriesRef
        let result = head.append([reused])
        #expect(result.seriesCreated == 0 && result.floatsAppended == 1)
        // A hint naming another series (a stale cache) is not trusted: the labels decide.
        var misdirected = Self.series("other", [], samples: [(0, 5)])
        misdirected.seriesRefHint = remembered.seriesRef
        misdirected.rawLabelsHash = 7
        #expect(head.append([misdirected]).seriesCreated == 1)
        // The entry is written for the series the labels named, not the hint.
        let corrected = try #require(head.labelCache.candidate(for: 7))
        #expect(corrected.labels == misdirected.labels && corrected.seriesRef != remembered.seriesRef)
        // A confirmed hint leaves its entry as it was.
        var confirmed = TimeSeries(labels: remembered.labels, samples: [FloatSample(timestamp: 30_000, value: 3)])
        confirmed.seriesRefHint = remembered.seriesRef
        confirmed.rawLabelsHash = 42
        #expect(head.append([confirmed]).floatsAppended == 1)
        #expect(head.labelCache.candidate(for: 42)?.seriesRef == remembered.seriesRef)
        #expect(head.select([.equal("__name__", "other")], minTime: .min, maxTime: .max).first?.floats.count == 1)
        #expect(head.select([.equal("__name__", "up")], minTime: .min, maxTime: .max).first?.floats.count == 3)
        // Series leaving the head must not stay alive in the cache.
        head.delete([.equal("__name__", "up")])
        #expect(head.labelCache.candidate(for: 42) == nil)
    }
}
