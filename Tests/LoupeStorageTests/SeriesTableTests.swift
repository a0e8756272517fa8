import LoupeModel
@testable import LoupeStorage
import Testing

@Suite("Head series table")
struct SeriesTableTests {
    static func series(_ slot: Int) -> HeadSeries {
        let labels: Labels = ["__name__": "m", "slot": String(slot)]
        return HeadSeries(labels: labels)
    }

    static func slotLabel(_ series: HeadSeries) -> String? { series.labels["slot"] }

    @Test("slots across pages keep their series; removed slots read as empty and count down")
    func slotsAcrossPages() {
        var table = SeriesTable()
        let pageSize = SeriesTable.pageSize
        // Sparse and out of order: the last page grows, pages are added past the next one.
        let slots = [0, 1, 17, pageSize - 1, pageSize, 3 * pageSize + 5, 2 * pageSize, 40]
        for slot in slots { table[SeriesRef(slot)] = Self.series(slot) }
        #expect(table.count == slots.count)
        for slot in slots { #expect(table.labels(of: SeriesRef(slot))?["slot"] == String(slot)) }
        #expect(table[SeriesRef(2)] == nil)
        #expect(table[SeriesRef(4 * pageSize)] == nil)
        #expect(table.read(SeriesRef(10 * pageSize)) { _ in 1 } == nil)

        let removed = table.removeValue(forSlot: SeriesRef(pageSize))
        #expect(removed.flatMap(Self.slotLabel) == String(pageSize))
        #expect(table.removeValue(forSlot: SeriesRef(pageSize)) == nil)
        #expect(table[SeriesRef(pageSize)] == nil)
        #expect(table.count == slots.count - 1)
        table[SeriesRef(pageSize)] = nil
        #expect(table.count == slots.count - 1)
        // Setting nil past the allocated slots allocates nothing and changes nothing.
        table[SeriesRef(100 * pageSize)] = nil
        #expect(table.count == slots.count - 1)

        var visited: [String] = []
        table.forEach { visited.append($0.labels["slot"] ?? "?") }
        let expected = slots.filter { $0 != pageSize }.sorted().map(String.init)
        #expect(visited == expected)
    }

    @Test("a series stored in a page that grew keeps its samples and appends in place")
    func growingPageKeepsSeries() {
        var table = SeriesTable()
        table[0] = Self.series(0)
        let labels = table.labels(of: 0)!
        var tally = HeadSeries.AppendTally(minTime: .max, maxTime: .min)
        var entry = TimeSeries(labels: labels, samples: [FloatSample(timestamp: 1_000, value: 1)])
        #expect(table.append(&entry, to: 0, ifLabelsMatch: true, bounds: HeadSeries.Bounds(), tally: &tally))
        // Enough slots to grow the first page several times and start a second one.
        for slot in 1...(SeriesTable.pageSize + 3) { table[SeriesRef(slot)] = Self.series(slot) }
        entry = TimeSeries(labels: labels, samples: [FloatSample(timestamp: 2_000, value: 2)])
        #expect(table.append(&entry, to: 0, ifLabelsMatch: true, bounds: HeadSeries.Bounds(), tally: &tally))
        let elsewhere: Labels = ["__name__": "m", "slot": "elsewhere"]
        var mismatched = TimeSeries(labels: elsewhere, samples: [FloatSample(timestamp: 3_000, value: 3)])
        #expect(!table.append(&mismatched, to: 0, ifLabelsMatch: true, bounds: HeadSeries.Bounds(), tally: &tally))
        #expect(tally.floats == 2)
        let samples = table.read(0) { $0.samples(minTime: .min, maxTime: .max).floats }
        #expect(samples == [FloatSample(timestamp: 1_000, value: 1), FloatSample(timestamp: 2_000, value: 2)])
        #expect(table.count == SeriesTable.pageSize + 4)
    }

    /// Every series in the head costs its `HeadSeries` in the table: the plain float series must
    /// not pay for fields only histogram and out-of-order series use.
    @Test("a float series' slot stays small; histogram and out-of-order state lives out of line")
    func slotSize() {
        #expect(MemoryLayout<HeadSeries?>.stride <= 160)
        var series = Self.series(1)
        #expect(series.append(10_000, 1) == nil)
        #expect(series.append(5_000, 2, bounds: HeadSeries.Bounds(outOfOrderMinTime: 0)) == nil)
        var copy = series
        #expect(copy.append(4_000, 3, bounds: HeadSeries.Bounds(outOfOrderMinTime: 0)) == nil)
        // The copy's out-of-order sample did not reach the original (copy on write).
        #expect(series.outOfOrderFloats.map(\.timestamp) == [5_000])
        #expect(copy.outOfOrderFloats.map(\.timestamp) == [4_000, 5_000])
        #expect(series.lastFloat == 1)
    }
}
