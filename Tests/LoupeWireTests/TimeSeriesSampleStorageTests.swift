import LoupeModel
import LoupeWire
import Testing

/// `TimeSeries` keeps a lone float sample without an array; nothing outside may tell the difference.
@Suite("TimeSeries: a lone sample stored without an array")
struct TimeSeriesSampleStorageTests {
    static let labels: Labels = ["__name__": "up", "job": "api"]
    static let first = FloatSample(timestamp: 1_000, value: 1.5)
    static let second = FloatSample(timestamp: 2_000, value: 2.5)

    @Test func aLoneSampleReadsEqualsAndHashesLikeAnArrayOfOne() {
        let lone = TimeSeries(labels: Self.labels, onlySample: Self.first)
        let array = TimeSeries(labels: Self.labels, samples: [Self.first])
        #expect(lone.samples == [Self.first])
        #expect(lone.sampleCount == 1)
        #expect(lone == array)
        #expect(lone.hashValue == array.hashValue)
        #expect(lone != TimeSeries(labels: Self.labels, onlySample: Self.second))
        #expect(lone != TimeSeries(labels: Self.labels, samples: [Self.first, Self.second]))
        #expect(lone != TimeSeries(labels: Self.labels))
        var visited: [FloatSample] = []
        lone.forEachSample { visited.append($0) }
        #expect(visited == [Self.first])
    }

    @Test func mutatingALoneSampleWorksAsOnAnArray() {
        var series = TimeSeries(labels: Self.labels, onlySample: Self.first)
        series.samples.append(Self.second)
        #expect(series.samples == [Self.first, Self.second])
        #expect(series.sampleCount == 2)
        series.samples.removeAll { $0.timestamp < 1_500 }
        #expect(series.samples == [Self.second])
        series = TimeSeries(labels: Self.labels, onlySample: Self.first)
        series.samples.removeAll()
        #expect(series.sampleCount == 0)
        #expect(series == TimeSeries(labels: Self.labels))
        series = TimeSeries(labels: Self.labels, onlySample: Self.first)
        series.samples = [Self.second, Self.first]
        #expect(series.samples == [Self.second, Self.first])
    }

    /// Histograms, exemplars, metadata, sample arrays and created timestamps share one box between
    /// copies until one of them changes.
    @Test func copiesOfASeriesChangeIndependently() {
        let histogram = HistogramSample(timestamp: 5, histogram: NativeHistogram(count: 1, sum: 2))
        let exemplar = PrometheusExemplar(labels: ["trace_id": "abc"], value: 1, timestamp: 3)
        let original = TimeSeries(
            labels: Self.labels, samples: [Self.first, Self.second], histograms: [histogram], exemplars: [exemplar],
            metadata: MetricMetadata(type: .counter, help: "h"), createdTimestamp: 7)
        var copy = original
        copy.histograms.removeAll()
        copy.exemplars.append(exemplar)
        copy.metadata = nil
        copy.createdTimestamp = 9
        copy.samples[0].value = 42
        #expect(original.histograms == [histogram])
        #expect(original.exemplars == [exemplar])
        #expect(original.metadata == MetricMetadata(type: .counter, help: "h"))
        #expect(original.createdTimestamp == 7)
        #expect(original.samples == [Self.first, Self.second])
        #expect(copy.histograms.isEmpty && copy.exemplars.count == 2 && copy.metadata == nil && copy.createdTimestamp == 9)
        #expect(copy.samples[0].value == 42)

        var lone = TimeSeries(labels: Self.labels, onlySample: Self.first)
        let loneCopy = lone
        lone.exemplars = [exemplar]
        lone.rawLabelsHash = 11
        lone.seriesRefHint = 0
        #expect(loneCopy.exemplars.isEmpty && loneCopy.rawLabelsHash == nil && loneCopy.seriesRefHint == nil)
        #expect(lone.samples == [Self.first] && lone.rawLabelsHash == 11 && lone.seriesRefHint == 0)
        #expect(lone != loneCopy)
        lone.exemplars = []
        lone.rawLabelsHash = nil
        lone.seriesRefHint = nil
        #expect(lone == loneCopy && lone.hashValue == loneCopy.hashValue)
        // Remote write's series: a request of 2,000 stays under malloc's default mmap threshold (128 KiB).
        #expect(MemoryLayout<TimeSeries>.stride <= 64)
    }

    /// The decoder stores a lone sample without an array, and any other count (including sample
    /// fields that are not back to back) as an array, with the same result either way.
    @Test func theDecoderGivesTheSameSamplesHoweverTheyAreStored() throws {
        let bytes = RW.v1Request([
            RW.v1Series([("__name__", "a")], [RW.sample(1, 10)]),
            RW.v1Series([("__name__", "b")], [RW.sample(1, 10), RW.sample(2, 20)]),
            .message(1, [RW.sample(1, 10), RW.label("__name__", "c"), RW.sample(2, 20)]),
            RW.v1Series([("__name__", "d")], []),
        ])
        for cache in [nil, RemoteWriteLabelCache()] {
            let decoded = try RemoteWriteV1.decode(bytes, labelCache: cache)
            #expect(decoded.series.map(\.samples) == [
                [FloatSample(timestamp: 10, value: 1)],
                [FloatSample(timestamp: 10, value: 1), FloatSample(timestamp: 20, value: 2)],
                [FloatSample(timestamp: 10, value: 1), FloatSample(timestamp: 20, value: 2)],
                [],
            ])
            #expect(decoded.sampleCount == 5)
            #expect(try RemoteWriteV1.decode(RemoteWriteV1.encode(decoded)) == RemoteWriteRequest(series: decoded.series.map {
                TimeSeries(labels: $0.labels, samples: $0.samples)
            }))
        }
    }

    @Test func aBadSecondSampleIsNamedByItsIndex() {
        // The second sample's value field (fixed64) is cut off after one byte.
        let bytes = RW.v1Request([.message(1, [RW.label("__name__", "a"), RW.sample(1, 10), .bytes(2, [0x09, 0x00])])])
        #expect { try RemoteWriteV1.decode(bytes, labelCache: nil) } throws: { error in
            String(describing: error).contains("samples[1]")
        }
    }
}
