import LoupeModel
import LoupeStorage
import LoupeWire
import Testing

/// The head's series live in stripes with locks of their own: concurrent writers, readers and
/// deletes must neither lose nor duplicate a sample.
@Suite("TSDB head under concurrent appends, reads and deletes")
struct TSDBHeadConcurrencyTests {
    static let writers = 6
    static let seriesPerWriter = 150
    static let rounds = 40

    /// One writer's request for one round, decoded as the server does (so most series arrive
    /// with a ref hint from the label cache).
    static func request(writer: Int, round: Int, head: TSDBHead) throws -> [TimeSeries] {
        let series = (0..<seriesPerWriter).map { index in
            TimeSeries(
                labels: ["__name__": "m\(index % 7)", "writer": "\(writer)", "series": "\(index)"],
                samples: [FloatSample(timestamp: Int64(round) * 15_000, value: Double(round))])
        }
        return try RemoteWriteV1.decode(RemoteWriteV1.encode(RemoteWriteRequest(series: series)), labelCache: head.labelCache).series
    }

    @Test func concurrentWritersAndReadersLoseNothing() async throws {
        let head = TSDBHead()
        let appended = try await withThrowingTaskGroup(of: Int.self) { group in
            for writer in 0..<Self.writers {
                group.addTask {
                    var total = 0
                    for round in 0..<Self.rounds {
                        let result = head.append(try Self.request(writer: writer, round: round, head: head))
                        #expect(result.rejectedCount == 0)
                        total += result.samplesAppended
                    }
                    return total
                }
            }
            group.addTask {
                // A reader all along: whatever it sees is whole series, sorted by labels.
                for _ in 0..<Self.rounds {
                    let seen = head.select([try LabelMatcher("__name__", .regexMatch, "m.*")], minTime: .min, maxTime: .max)
                    #expect(seen.map(\.labels) == seen.map(\.labels).sorted())
                    await Task.yield()
                }
                return 0
            }
            return try await group.reduce(0, +)
        }
        let expected = Self.writers * Self.seriesPerWriter * Self.rounds
        #expect(appended == expected)
        let statistics = head.statistics()
        #expect(statistics.series == Self.writers * Self.seriesPerWriter)
        #expect(statistics.samples == expected)
        let all = head.select([try LabelMatcher("__name__", .regexMatch, "m.*")], minTime: .min, maxTime: .max)
        #expect(all.count == Self.writers * Self.seriesPerWriter)
        #expect(all.allSatisfy { $0.floats.map(\.value) == (0..<Self.rounds).map(Double.init) })
        #expect(head.series([]).count == Self.writers * Self.seriesPerWriter)
    }

    /// Deleting whole series while they are written to: every sample appended after the delete
    /// took a series is kept (the series is made again), and the totals agree with what is stored.
    @Test func deletesRacingWithAppendsKeepTheTotalsTrue() async throws {
        let head = TSDBHead()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<2 {
                group.addTask {
                    for round in 0..<Self.rounds { _ = head.append(try Self.request(writer: writer, round: round, head: head)) }
                }
            }
            group.addTask {
                for _ in 0..<20 {
                    head.delete([.equal("writer", "0"), try LabelMatcher("series", .regexMatch, "1.*")])
                    await Task.yield()
                }
            }
            try await group.waitForAll()
        }
        let all = head.select([try LabelMatcher("__name__", .regexMatch, "m.*")], minTime: .min, maxTime: .max)
        #expect(head.statistics().samples == all.reduce(0) { $0 + $1.floats.count })
        #expect(head.statistics().series == head.series([]).count)
        let untouched = all.filter { $0.labels["writer"] == "1" }
        #expect(untouched.count == Self.seriesPerWriter)
        #expect(untouched.allSatisfy { $0.floats.count == Self.rounds })
        // The last round of writer 0 was appended after (or alongside) the last delete at most once per series.
        #expect(all.filter { $0.labels["writer"] == "0" }.allSatisfy { Set($0.floats.map(\.timestamp)).count == $0.floats.count })
    }
}
