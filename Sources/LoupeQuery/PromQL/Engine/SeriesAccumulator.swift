import LoupeModel

/// Builds a range vector from instant vectors evaluated step after step (a range query's steps, a
/// subquery's inner steps): one series per label set, its points in step order.
struct SeriesAccumulator {
    private var slots: [Labels: Int] = [:]
    private(set) var series: [PromQLSeries] = []

    /// Adds the samples evaluated at `time` (names already dropped, label sets unique).
    mutating func add(_ samples: [PromQLSample], at time: Int64) {
        for sample in samples {
            let slot: Int
            if let existing = slots[sample.labels] {
                slot = existing
            } else {
                slot = series.count
                slots[sample.labels] = slot
                series.append(PromQLSeries(labels: sample.labels))
            }
            if let histogram = sample.histogram {
                series[slot].histograms.append(HistogramSample(timestamp: time, histogram: histogram))
            } else {
                series[slot].floats.append(FloatSample(timestamp: time, value: sample.value))
            }
        }
    }

    /// The series sorted by labels.
    var sorted: [PromQLSeries] { series.sorted { $0.labels < $1.labels } }
}
