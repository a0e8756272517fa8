import Foundation
import Logging
import LoupeModel
import LoupeStorage
import LoupeWire
import Synchronization
import Testing

@testable import LoupeAgent

/// Output queues store requests compressed as their output sends them; whatever a queue holds
/// (older uncompressed records, another encoding after a configuration change) is sent in the
/// output's encoding.
@Suite struct OutputQueueTests {
    static let request: [UInt8] = Array(String(repeating: "an OTLP export request, more or less. ", count: 200).utf8)

    @Test func framesKeepTheCountTheEncodingAndTheRequest() throws {
        for encoding in [ContentEncoding.identity, .gzip, .deflate, .zstd, .snappy, .snappyFramed] {
            let frame = QueuedRequest.frame(itemCount: 1_234, request: Self.request, encoding: encoding)
            let (count, stored, bytes) = try #require(QueuedRequest.unframe(frame))
            #expect(count == 1_234 && stored == encoding)
            #expect(try encoding.decode(Array(bytes), maximumOutputBytes: 1 << 20) == Self.request)
            if encoding == .gzip || encoding == .zstd { #expect(bytes.count < Self.request.count / 4, "stored compressed") }
        }
    }

    @Test func recordsQueuedBeforeEncodingsWereStoredReadAsUncompressed() throws {
        let legacy: [UInt8] = [7, 1, 0, 0] + Self.request
        let (count, stored, bytes) = try #require(QueuedRequest.unframe(legacy))
        #expect(count == 263 && stored == .identity && Array(bytes) == Self.request)
        #expect(QueuedRequest.unframe([1, 0, 0, 0x80, 99, 1, 2]) == nil, "an unknown encoding is damage")
        #expect(QueuedRequest.unframe([1, 0, 0, 0x80]) == nil)
    }

    @Test func aHarvestIsSplitIntoRequestsOfAboutEqualSize() throws {
        let groups: [(bytes: [UInt8], records: Int)] = [
            ([1, 1, 1, 1, 1, 1], 6), ([2, 2], 2), ([], 0), ([3, 3, 3], 3), ([4], 1), ([5, 5], 2),
        ]
        let two = ContainerLogCollector.requests(of: groups, parts: 2)
        // Each group goes to the lighter request (the first of equals): 6 + 2 bytes and 2 + 3 + 1.
        #expect(two.map(\.request) == [[1, 1, 1, 1, 1, 1, 5, 5], [2, 2, 3, 3, 3, 4]])
        #expect(two.map(\.itemCount) == [8, 6])
        let one = ContainerLogCollector.requests(of: groups, parts: 1)
        #expect(one.count == 1 && one[0].itemCount == 14 && one[0].request == groups.flatMap(\.bytes))
        #expect(ContainerLogCollector.requests(of: [([9], 1)], parts: 4).map(\.itemCount) == [1])
        #expect(ContainerLogCollector.requests(of: [([], 0)], parts: 2).isEmpty)
        // Large harvests make more requests, each under the byte limit.
        #expect(ContainerLogCollector.parts(forBytes: 1_000) == ContainerLogCollector.requestsPerHarvest)
        #expect(ContainerLogCollector.parts(forBytes: 9 * ContainerLogCollector.maximumRequestBytes + 1) == 10)
    }

    @Test func requestsQueuedTogetherAreEachFramedAndCompressed() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-output-queue-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let queue = OutputQueue(disk: try DiskQueue(directory: directory, maximumBytes: 1 << 20), encoding: .gzip)
        try queue.append([(2, Self.request), (3, Self.request + [7]), (4, [])])
        let records = try queue.disk.peek()
        #expect(records.count == 3)
        let frames = try records.map { try #require(QueuedRequest.unframe($0.payload)) }
        #expect(frames.map(\.itemCount) == [2, 3, 4] && frames.allSatisfy { $0.encoding == .gzip })
        #expect(try frames.map { try Gzip.decompress(Array($0.request), maximumOutputBytes: 1 << 20) } == [Self.request, Self.request + [7], []])
    }

    @Test func anExporterSendsEachRecordInItsOwnEncoding() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-output-queue-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = try DiskQueue(directory: directory, maximumBytes: 1 << 20)
        // Queued while the output was OTLP/HTTP with gzip, then as it is now (in process, uncompressed).
        try OutputQueue(disk: disk, encoding: .gzip).append(itemCount: 2, request: Self.request)
        try OutputQueue(disk: disk, encoding: .identity).append(itemCount: 3, request: Self.request + [1])
        let received = Mutex<[[UInt8]]>([])
        var settings = OTLPExporter.Settings(
            destination: .local({ _, payload in
                received.withLock { $0.append(Array(payload)) }
                return .delivered
            }), signal: .logs)
        settings.idlePoll = .milliseconds(10)
        let counters = PipelineCounters()
        let exporter = OTLPExporter(
            settings: settings, queue: OutputQueue(disk: disk, encoding: settings.storedEncoding), counters: counters,
            logger: Logger(label: "test"))
        let running = Task { try await exporter.run() }
        for _ in 0..<500 where received.withLock({ $0.count }) < 2 { try await Task.sleep(for: .milliseconds(10)) }
        running.cancel()
        _ = await running.result
        // Both small: sent as one request, each converted from its own encoding.
        #expect(received.withLock { $0 } == [Self.request + Self.request + [1]])
        #expect(counters.sent.load(ordering: .relaxed) == 5)
    }

    @Test func smallRequestsAreBatchedByBytesAndLargeOnesGoAlone() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-output-queue-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let queue = OutputQueue(disk: try DiskQueue(directory: directory, maximumBytes: 64 << 20), encoding: .gzip)
        var settings = OTLPExporter.Settings(destination: .http(url: "http://127.0.0.1:9/v1/logs", tls: nil), signal: .logs)
        settings.batchBytes = 30_000
        settings.batchedRequestBytes = 4_000
        let exporter = OTLPExporter(settings: settings, queue: queue, counters: PipelineCounters(), logger: Logger(label: "test"))
        // Eleven small requests of 7,600 bytes (gzip makes them far smaller), then a large one.
        let small = (0..<11).map { n in [UInt8](repeating: UInt8(n), count: 7_600) }
        var random = SplitMix64(seed: 7)
        let large = (0..<20_000).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        try queue.append(small.map { (2, $0) } + [(5, large)])
        var records = try queue.disk.peek(maximumBytes: settings.batchBytes)
        var sent: [(items: Int, request: [UInt8])] = []
        while !records.isEmpty {
            let (items, request, through) = try #require(exporter.batch(records))
            sent.append((items, try Gzip.decompress(Array(request), maximumOutputBytes: 1 << 20)))
            try queue.disk.acknowledge(through: through.next)
            records = try queue.disk.peek(maximumBytes: settings.batchBytes)
        }
        // Three fit in 30,000 bytes; the large one goes alone, as it was stored.
        #expect(sent.map(\.items) == [6, 6, 6, 4, 5])
        let batches: [[UInt8]] = [Array(small[0..<3].joined()), Array(small[3..<6].joined()), Array(small[6..<9].joined()), Array(small[9..<11].joined()), large]
        #expect(sent.map(\.request) == batches)
    }
}
