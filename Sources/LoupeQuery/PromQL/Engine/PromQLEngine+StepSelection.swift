import LoupeModel

/// `topk`, `bottomk` and `limitk` over a range query, series by series (see PromQLEngine+Steps).
///
/// Step by step, each of these rebuilt the input vector of samples and sorted every group at
/// every step. Here the input's columns are read in place and each group keeps only its best
/// `k` positions per step; the output is the input series, present at the steps they were chosen.
extension Evaluator {
    func selectionSteps(_ aggregation: PromQLAggregation, grid: StepGrid) throws -> StepValue? {
        let op = aggregation.op
        guard op == .topk || op == .bottomk || op == .limitk, let parameterNode = aggregation.parameter else { return nil }
        guard case .scalar(let parameters)? = try stepValue(parameterNode, grid: grid) else { return nil }
        guard case .vector(let input)? = try stepValue(aggregation.expression, grid: grid) else { return nil }
        // As the step-by-step evaluator: a NaN parameter is an error, whether or not there is input.
        if parameters.contains(where: \.isNaN) { throw PromQLError(.execution, "Parameter value is NaN") }
        let counts = parameters.map { $0 >= 9.2e18 ? Int.max : Int(max($0, 0).rounded(.towardZero)) }

        let members = stepGroups(input, aggregation).members

        var chosen = [[Bool]](repeating: [], count: input.count)
        func choose(_ member: Int, at step: Int) {
            if chosen[member].isEmpty { chosen[member] = Array(repeating: false, count: grid.count) }
            chosen[member][step] = true
        }
        var best: [Int] = []
        for group in members {
            try checkTimeout()
            for step in 0..<grid.count {
                let k = counts[step]
                guard k >= 1 else { continue }
                if op == .limitk {
                    var taken = 0
                    for member in group where input[member].present[step] {
                        choose(member, at: step)
                        taken += 1
                        if taken == k { break }
                    }
                    continue
                }
                // The k best so far, best first; a later member displaces only a strictly
                // better-ranked one, so ties keep input order as the stable sort does.
                best.removeAll(keepingCapacity: true)
                for member in group where input[member].present[step] {
                    let value = input[member].values[step]
                    if best.count == k && !ranksBefore(value, input[best[k - 1]].values[step], top: op == .topk) { continue }
                    var position = best.count
                    while position > 0 && ranksBefore(value, input[best[position - 1]].values[step], top: op == .topk) {
                        position -= 1
                    }
                    best.insert(member, at: position)
                    if best.count > k { best.removeLast() }
                }
                for member in best { choose(member, at: step) }
            }
        }

        var output: [StepSeries] = []
        for (index, series) in input.enumerated() where !chosen[index].isEmpty {
            var result = series
            for step in 0..<grid.count where !chosen[index][step] { result.present[step] = false }
            output.append(result)
        }
        return .vector(output)
    }

    /// Whether `value` ranks strictly before `other` in `topk` (descending) or `bottomk`
    /// (ascending) order; NaN ranks after every number in both.
    private func ranksBefore(_ value: Double, _ other: Double, top: Bool) -> Bool {
        if value.isNaN { return false }
        if other.isNaN { return true }
        return top ? value > other : value < other
    }
}
