import LoupeModel

extension Array where Element: TimestampedSample {
    /// The samples with `after < timestamp <= through` (the array is sorted by time).
    func window(after minimum: Int64, through maximum: Int64) -> ArraySlice<Element> {
        let lower = firstIndex(after: minimum)
        let upper = firstIndex(after: maximum)
        return lower < upper ? self[lower..<upper] : []
    }

    /// The first index whose timestamp is greater than `time`.
    func firstIndex(after time: Int64) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if self[middle].timestamp <= time { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

/// A sample with a time, float or histogram.
protocol TimestampedSample {
    var timestamp: Int64 { get }
}

extension FloatSample: TimestampedSample {}
extension HistogramSample: TimestampedSample {}
