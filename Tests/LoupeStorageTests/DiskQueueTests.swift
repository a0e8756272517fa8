import Foundation
import LoupeModel
import Testing

@testable import LoupeStorage

/// The output queue: what is appended comes out in order until acknowledged, across reopening,
/// torn tails and segment rotation; over its budget the oldest records are dropped and counted.
@Suite struct DiskQueueTests {
    static func directory() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-queue-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    static func record(_ number: Int, size: Int = 100) -> [UInt8] {
        var bytes = Array("record \(number) ".utf8)
        while bytes.count < size { bytes.append(UInt8(truncatingIfNeeded: number &+ bytes.count)) }
        return bytes
    }

    @Test func recordsComeOutInOrderUntilAcknowledgedAndSurviveReopening() throws {
        let path = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let queue = try DiskQueue(directory: path, maximumBytes: 1 << 20, segmentBytes: 1_000)
            for number in 0..<30 { try queue.append([Self.record(number)]) }
            #expect(queue.statistics.queuedRecords == 30 && queue.statistics.queuedBytes == 3_000)
            let first = try queue.peek(maximumRecords: 10)
            #expect(first.map(\.payload) == (0..<10).map { Self.record($0) })
            #expect(try queue.peek(maximumRecords: 10).map(\.payload) == first.map(\.payload), "peeking takes nothing")
            try queue.acknowledge(through: first[9].next)
            #expect(queue.statistics.queuedRecords == 20)
            let limited = try queue.peek(maximumBytes: 250)
            #expect(limited.count == 2, "at most about 250 bytes of payload")
            #expect(try queue.peek(maximumBytes: 1).count == 1, "always at least one")
        }
        let reopened = try DiskQueue(directory: path, maximumBytes: 1 << 20, segmentBytes: 1_000)
        #expect(try reopened.peek().map(\.payload) == (10..<30).map { Self.record($0) })
        let all = try reopened.peek()
        try reopened.acknowledge(through: all.last!.next)
        #expect(reopened.statistics.queuedRecords == 0 && reopened.statistics.queuedBytes == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".queue") }
        #expect(files.count == 1, "acknowledged segments are removed: \(files)")
        try reopened.append([Self.record(99)])
        #expect(try reopened.peek().map(\.payload) == [Self.record(99)])
    }

    @Test func aTornTailIsCutAndTheRestKept() throws {
        let path = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let queue = try DiskQueue(directory: path, maximumBytes: 1 << 20)
            try queue.append((0..<5).map { Self.record($0) })
        }
        let segment = try #require(try FileManager.default.contentsOfDirectory(atPath: path).first { $0.hasSuffix(".queue") })
        let handle = try #require(FileHandle(forWritingAtPath: path + "/" + segment))
        handle.seekToEndOfFile()
        // A crash in the middle of the next record: its header says 100 bytes, 10 are there.
        handle.write(Data([100, 0, 0, 0, 1, 2, 3, 4] + [UInt8](repeating: 7, count: 10)))
        handle.closeFile()
        let reopened = try DiskQueue(directory: path, maximumBytes: 1 << 20)
        #expect(try reopened.peek().map(\.payload) == (0..<5).map { Self.record($0) })
        try reopened.append([Self.record(5)])
        #expect(try DiskQueue.reopenAndPeek(reopened, path: path).count == 6)
    }

    @Test func overItsBudgetTheOldestRecordsAreDroppedAndCounted() throws {
        let path = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let queue = try DiskQueue(directory: path, maximumBytes: 10_000, segmentBytes: 2_000)
        for number in 0..<200 { try queue.append([Self.record(number)]) }
        let statistics = queue.statistics
        #expect(statistics.diskBytes <= 10_000)
        #expect(statistics.droppedRecords > 0 && statistics.droppedRecords + statistics.queuedRecords == 200)
        let left = try queue.peek()
        #expect(left.count == statistics.queuedRecords)
        #expect(left.map(\.payload) == ((200 - left.count)..<200).map { Self.record($0) }, "the newest are kept, in order")
        #expect(throws: StorageError.self) { try queue.append([[UInt8](repeating: 1, count: 20_000)]) }
    }

    @Test func oneQueueOneProcess() throws {
        let path = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let queue = try DiskQueue(directory: path, maximumBytes: 1 << 20)
        #expect { try DiskQueue(directory: path, maximumBytes: 1 << 20) } throws: { ($0 as? StorageError)?.code == .locked }
        _ = queue
    }

    /// A copy of the directory taken after any step (what a kill -9 leaves) reopens with every
    /// acknowledged record gone and every appended, unacknowledged one there, in order.
    @Test func aCopyTakenAtAnyStepHoldsExactlyTheUnacknowledgedRecords() throws {
        let path = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var random = SplitMix64(seed: 3)
        let queue = try DiskQueue(directory: path, maximumBytes: 1 << 20, segmentBytes: 1_500)
        var next = 0
        var expected: [Int] = []
        for step in 0..<60 {
            if random.next() % 3 != 0 {
                let count = 1 + Int(random.next() % 4)
                try queue.append((next..<next + count).map { Self.record($0, size: 50 + $0 % 150) })
                expected.append(contentsOf: next..<next + count)
                next += count
            } else {
                let taken = try queue.peek(maximumRecords: 1 + Int(random.next() % 5))
                if let last = taken.last {
                    try queue.acknowledge(through: last.next)
                    expected.removeFirst(taken.count)
                }
            }
            let copy = path + "-copy-\(step)"
            try FileManager.default.copyItem(atPath: path, toPath: copy)
            try? FileManager.default.removeItem(atPath: copy + "/LOCK")
            let reopened = try DiskQueue(directory: copy, maximumBytes: 1 << 20, segmentBytes: 1_500)
            #expect(try reopened.peek().map(\.payload) == expected.map { Self.record($0, size: 50 + $0 % 150) }, "step \(step)")
            try? FileManager.default.removeItem(atPath: copy)
        }
    }
}

extension DiskQueue {
    /// Closes nothing (the queue object lives on); reads a second view of the files as a fresh process would.
    static func reopenAndPeek(_ queue: DiskQueue, path: String) throws -> [Record] {
        let copy = path + "-view"
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        try? FileManager.default.removeItem(atPath: copy + "/LOCK")
        return try DiskQueue(directory: copy, maximumBytes: queue.maximumBytes).peek()
    }
}
