import LoupeModel
@testable import LoupeStorage
import Testing

/// An open chunk read from its middle checkpoint yields exactly what reading it from the start
/// does, for every window start: before the first sample, on and between samples, around the
/// checkpoint, after the last sample.
@Suite("XOR chunks: reading an open chunk from its checkpoint")
struct XORCheckpointTests {
    typealias Support = ChunkTestSupport

    static func fromStart(_ appender: XORChunkAppender, _ minTime: Int64) -> [FloatSample] {
        var iterator = appender.makeIterator()
        var floats: [FloatSample] = []
        ChunkEncoder.appendFloats(from: &iterator, minTime: minTime, maxTime: .max, into: &floats)
        return floats
    }

    static func fromCheckpoint(_ appender: XORChunkAppender, _ minTime: Int64) -> [FloatSample] {
        var iterator = appender.makeIterator(from: minTime)
        var floats: [FloatSample] = []
        ChunkEncoder.appendFloats(from: &iterator, minTime: minTime, maxTime: .max, into: &floats)
        return floats
    }

    @Test(arguments: [119, 120, 121, 180, 240])
    func windowsAgreeWithAFullDecode(count: Int) {
        // Irregular timestamps (every timestamp encoding) and values that change only late.
        var irregular: [FloatSample] = []
        var time = Support.start
        for index in 0..<count {
            time += 15_000 + Int64(index * index * 37 % 7_000) + (index % 40 == 39 ? 3_000_000_000 : 0)
            let value: Double = index < 125 ? 1 : Double(index) * 0.1
            irregular.append(FloatSample(timestamp: time, value: value))
        }
        let streams: [[FloatSample]] = [
            Support.counter(count), Support.floatWalk(count), Support.integerWalk(count), Support.constant(count), irregular,
        ]
        for samples in streams {
            var appender = XORChunkAppender()
            for sample in samples { #expect(appender.append(sample) == .appended) }
            #expect((appender.checkpoint != nil) == (count >= XORChunkAppender.checkpointSample))
            var starts = samples.map(\.timestamp) + samples.map { $0.timestamp + 1 } + [.min, Support.start - 1, .max]
            if let checkpoint = appender.checkpoint { starts += [checkpoint.time - 1, checkpoint.time, checkpoint.time + 1] }
            for minTime in starts {
                let expected = Self.fromStart(appender, minTime)
                #expect(Self.fromCheckpoint(appender, minTime) == expected, "\(count) samples from \(minTime)")
                #expect(expected == samples.filter { $0.timestamp >= minTime })
            }
        }
    }

    /// Appends after the checkpoint keep it valid (the checkpoint points into bytes that never change).
    @Test func theCheckpointSurvivesLaterAppends() {
        let samples = Support.floatWalk(240)
        var appender = XORChunkAppender()
        for (index, sample) in samples.enumerated() {
            _ = appender.append(sample)
            if index >= 120 && index % 17 == 0 {
                let minTime = samples[121].timestamp
                #expect(Self.fromCheckpoint(appender, minTime) == Array(samples[121...index]))
            }
        }
    }
}
