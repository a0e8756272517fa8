import LoupeModel

/// The evaluation times of a range query: `start + i × step` for `i` in `0..<count`.
struct StepGrid: Sendable, Equatable {
    let start: Int64
    let step: Int64
    let count: Int

    init(start: Int64, end: Int64, step: Int64) {
        self.start = start
        self.step = step
        count = Int((end - start) / step) + 1
    }

    func time(_ index: Int) -> Int64 { start + Int64(index) * step }

    func index(of time: Int64) -> Int? {
        guard time >= start, (time - start) % step == 0 else { return nil }
        let index = (time - start) / step
        return index < count ? Int(index) : nil
    }
}

/// One series' float values at every step of a range query; absent where `present` is false.
struct StepSeries {
    var labels: Labels
    var dropName: Bool
    var values: [Double]
    var present: [Bool]

    init(labels: Labels, dropName: Bool, steps: Int) {
        self.labels = labels
        self.dropName = dropName
        values = Array(repeating: 0, count: steps)
        present = Array(repeating: false, count: steps)
    }

    mutating func set(_ index: Int, _ value: Double) {
        values[index] = value
        present[index] = true
    }

    /// Gives `body` the values and presence flags to write in place: `set` in a loop checks
    /// both arrays for uniqueness at every step.
    mutating func fill<Result>(_ body: (UnsafeMutableBufferPointer<Double>, UnsafeMutableBufferPointer<Bool>) -> Result) -> Result {
        values.withUnsafeMutableBufferPointer { values in
            present.withUnsafeMutableBufferPointer { present in body(values, present) }
        }
    }
}

/// A node's value at every step of a range query.
enum StepValue {
    case scalar([Double])
    case vector([StepSeries])
}

/// A computed node and the steps it was computed at.
struct StepGridValue {
    let grid: StepGrid
    let value: StepValue
}

/// A subquery's inner expression evaluated at every step of the grid that covers the windows asked
/// for so far: its series (names dropped, as the subquery returns them) and the samples each inner
/// step read.
struct SubqueryPoints {
    let grid: StepGrid
    let series: [PromQLSeries]
    let samplesRead: [Int]
}

/// Thrown when the data turn out to need the step-by-step evaluator (native histograms, vector
/// matching that could fail at some step, too many series for one matrix); that node is then
/// evaluated step by step instead, from whatever of its children could be computed at once.
struct StepEvaluationFallback: Error {}

/// Identifies an expression node within one query (its source range and kind).
struct StepNodeKey: Hashable {
    let start: Int
    let end: Int
    let kind: UInt8

    init(_ expression: PromQLExpression) {
        let position = expression.position
        start = position.start
        end = position.end
        switch expression {
        case .number: kind = 0
        case .string: kind = 1
        case .parenthesized: kind = 2
        case .vectorSelector: kind = 3
        case .matrixSelector: kind = 4
        case .subquery: kind = 5
        case .unary: kind = 6
        case .binary: kind = 7
        case .aggregation: kind = 8
        case .call: kind = 9
        }
    }
}
