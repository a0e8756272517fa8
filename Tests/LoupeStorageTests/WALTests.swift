import Foundation
import Logging
import LoupeModel
import LoupeWire
import ServiceLifecycle
import Synchronization
import Testing

@testable import LoupeStorage

// MARK: - Helpers

/// SplitMix64: reproducible randomness for payloads and fuzzing.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func randomBytes(_ count: Int, _ rng: inout SeededGenerator) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
}

/// Collects log entries so tests can check that a repair was logged.
private final class LogRecorder: Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
    }

    let entries = Mutex<[Entry]>([])

    var logger: Logger {
        let recorder = self
        return Logger(label: "wal-test") { _ in RecordingLogHandler(recorder: recorder) }
    }

    func entries(at level: Logger.Level) -> [Entry] {
        entries.withLock { $0.filter { $0.level == level } }
    }
}

private struct RecordingLogHandler: LogHandler {
    let recorder: LogRecorder
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let entry = LogRecorder.Entry(level: event.level, message: event.message.description, metadata: event.metadata ?? [:])
        recorder.entries.withLock { $0.append(entry) }
    }
}

/// A mutex on the heap, so closures can share it.
private final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}

private let quietLogger = Logger(label: "wal-test") { _ in SwiftLogNoOpLogHandler() }

private func makeTemporaryDirectory() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("loupe-wal-\(UUID().uuidString)").path
}

private func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async rethrows -> T {
    let directory = makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try await body(directory)
}

private func makeRecord(_ index: Int, payloadSize: Int, _ rng: inout SeededGenerator) -> WALRecord {
    let tenants = [Tenant.default, Tenant(uncheckedName: "acme"), Tenant(uncheckedName: "tenant-ü-✓"), Tenant(uncheckedName: "")]
    var bounds = TimeBounds()
    if index % 7 != 3 {  // some records carry no timestamps
        bounds.include(UInt64(index) * 1_000)
        bounds.include(UInt64(index) * 1_000 + UInt64.random(in: 0...999, using: &rng))
    }
    var payload = withUnsafeBytes(of: UInt64(index).littleEndian) { Array($0) }
    payload += randomBytes(max(0, payloadSize - 8), &rng)
    return WALRecord(
        signal: Signal.allCases[index % 3],
        tenant: tenants[index % tenants.count],
        timeBounds: bounds,
        payload: Array(payload.prefix(payloadSize))
    )
}

private func makeRecords(_ count: Int, payloadSizes: ClosedRange<Int> = 8...600, seed: UInt64 = 1) -> [WALRecord] {
    var rng = SeededGenerator(seed: seed)
    return (0..<count).map { makeRecord($0, payloadSize: Int.random(in: payloadSizes, using: &rng), &rng) }
}

/// Runs the log's writer while `body` runs, then shuts it down (cancellation drains like a graceful shutdown).
private func withRunning<T: Sendable>(_ wal: WriteAheadLog, _ body: () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await wal.run() }
        let result: T
        do {
            result = try await body()
        } catch {
            group.cancelAll()
            try? await group.waitForAll()
            throw error
        }
        group.cancelAll()
        try await group.waitForAll()
        return result
    }
}

/// Opens the log in `directory`, replays it and closes it again.
private func replayAll(
    _ directory: String,
    options: WALOptions = WALOptions(),
    logger: Logger = quietLogger
) throws -> (records: [WALRecord], report: WALReplayReport) {
    let wal = try WriteAheadLog(directory: directory, options: options, logger: logger)
    var records: [WALRecord] = []
    let report = try wal.replay { records.append($0) }
    return (records, report)
}

/// Appends `records` one after another to a fresh log in `directory` and shuts it down.
private func writeLog(_ directory: String, _ records: [WALRecord], options: WALOptions = WALOptions()) async throws {
    let wal = try WriteAheadLog(directory: directory, options: options, logger: quietLogger)
    _ = try wal.replay { _ in }
    try await withRunning(wal) {
        for record in records { try await wal.append(record) }
    }
}

private func segmentFiles(_ directory: String) -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    return names.filter { $0.hasSuffix(".seg") }.sorted().map { directory + "/" + $0 }
}

private func fileBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

private func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

private func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? -1
}

private func index(of record: WALRecord) -> Int {
    Int(record.payload.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
}

// MARK: - CRC-32C

@Suite("CRC-32C")
struct CRC32CTests {
    /// Bit-at-a-time reference.
    private func reference(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }

    @Test("standard check value")
    func checkValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
        // RFC 3720 (iSCSI) test vectors.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
    }

    @Test("matches the bitwise reference at every length and alignment; incremental equals whole")
    func reference() {
        var rng = SeededGenerator(seed: 42)
        let data = randomBytes(300, &rng)
        for start in 0..<9 {
            for length in 0..<(data.count - start) where length < 80 || length % 37 == 0 {
                let slice = Array(data[start..<(start + length)])
                #expect(CRC32C.checksum(slice) == reference(slice))
            }
        }
        for split in 0...data.count {
            #expect(CRC32C.update(CRC32C.checksum(Array(data[..<split])), Array(data[split...])) == CRC32C.checksum(data))
        }
    }
}

// MARK: - Record codec

@Suite("WAL record codec")
struct WALRecordCodecTests {
    @Test("round trip, including empty payloads, empty bounds and non-ASCII tenants")
    func roundTrip() throws {
        var records = makeRecords(200, payloadSizes: 0...3_000)
        records.append(WALRecord(signal: .logs, tenant: .default, timeBounds: TimeBounds(), payload: []))
        var bounds = TimeBounds()
        bounds.include(0)
        bounds.include(.max)
        records.append(WALRecord(signal: .metrics, tenant: Tenant(uncheckedName: String(repeating: "t", count: 150)), timeBounds: bounds, payload: [1]))
        for record in records {
            let bytes = try WALRecordCodec.encode(record)
            #expect(bytes.count == WALRecordCodec.encodedSize(of: record))
            let header = try WALRecordCodec.encodeHeader(record, maximumRecordBytes: .max)
            #expect(header + record.payload == bytes)
            let (decoded, size) = try WALRecordCodec.decode(bytes)
            #expect(decoded == record)
            #expect(size == bytes.count)
            // Followed by more data, only the first record is consumed.
            let (again, size2) = try WALRecordCodec.decode(bytes + [1, 2, 3])
            #expect(again == record && size2 == bytes.count)
        }
    }

    @Test("every strict prefix is incomplete, with the right byte count")
    func everyPrefix() throws {
        var rng = SeededGenerator(seed: 9)
        let record = makeRecord(5, payloadSize: 300, &rng)
        let bytes = try WALRecordCodec.encode(record)
        for length in 0..<bytes.count {
            #expect(throws: WALDecodeError.incomplete(needed: length < 8 ? 8 : bytes.count, available: length)) {
                try WALRecordCodec.decode(Array(bytes[0..<length]))
            }
        }
    }

    @Test("every single-bit flip is detected")
    func everyBitFlip() throws {
        var rng = SeededGenerator(seed: 10)
        let record = makeRecord(6, payloadSize: 64, &rng)
        let bytes = try WALRecordCodec.encode(record)
        for position in 0..<bytes.count {
            for bit in 0..<8 {
                var damaged = bytes
                damaged[position] ^= 1 << bit
                do {
                    let (decoded, _) = try WALRecordCodec.decode(damaged)
                    Issue.record("flip at \(position).\(bit) decoded as \(decoded.signal)")
                } catch {
                    // A damaged length either runs past the buffer or is invalid; anything else fails the CRC.
                    if position >= 4, case .checksumMismatch = error {
                    } else if position >= 4 {
                        Issue.record("flip at \(position).\(bit): \(error)")
                    }
                }
            }
        }
    }

    @Test("records over the limit are refused at encoding; the decoder honours its limit")
    func limits() throws {
        let record = WALRecord(signal: .traces, tenant: .default, timeBounds: TimeBounds(), payload: [UInt8](repeating: 7, count: 1_000))
        let size = WALRecordCodec.encodedSize(of: record)
        #expect(throws: StorageError.self) { try WALRecordCodec.encodeHeader(record, maximumRecordBytes: size - 1) }
        do {
            _ = try WALRecordCodec.encodeHeader(record, maximumRecordBytes: size - 1)
        } catch {
            #expect(error.code == .recordTooLarge)
        }
        let bytes = try WALRecordCodec.encode(record, maximumRecordBytes: size)
        #expect(throws: WALDecodeError.invalidLength(UInt32(size - 8))) { try WALRecordCodec.decode(bytes, maximumRecordBytes: size - 1) }
        let longTenant = WALRecord(signal: .logs, tenant: Tenant(uncheckedName: String(repeating: "x", count: 70_000)), timeBounds: TimeBounds(), payload: [])
        do {
            _ = try WALRecordCodec.encode(longTenant)
            Issue.record("a 70,000-byte tenant was encoded")
        } catch {
            #expect(error.code == .invalidRecord)
        }
    }

    @Test("invalid fields behind a valid CRC are rejected")
    func invalidFields() throws {
        func reseal(_ bytes: [UInt8]) -> [UInt8] {
            var bytes = bytes
            let crc = CRC32C.update(CRC32C.checksum(Array(bytes[0..<4])), Array(bytes[8...]))
            withUnsafeBytes(of: crc.littleEndian) { bytes.replaceSubrange(4..<8, with: $0) }
            return bytes
        }
        let record = WALRecord(signal: .traces, tenant: Tenant(uncheckedName: "ab"), timeBounds: TimeBounds(), payload: [1, 2, 3])
        let bytes = try WALRecordCodec.encode(record)
        var badSignal = bytes
        badSignal[8] = 99
        #expect(throws: WALDecodeError.invalidField("unknown record kind 99")) { try WALRecordCodec.decode(reseal(badSignal)) }
        var badTenantLength = bytes
        badTenantLength[9] = 200
        #expect(throws: WALDecodeError.self) { try WALRecordCodec.decode(reseal(badTenantLength)) }
        var badUTF8 = bytes
        badUTF8[11] = 0xFF
        #expect(throws: WALDecodeError.invalidField("tenant name is not valid UTF-8")) { try WALRecordCodec.decode(reseal(badUTF8)) }
        var badBounds = bytes
        badBounds.replaceSubrange(13..<21, with: withUnsafeBytes(of: UInt64(10).littleEndian) { Array($0) })
        badBounds.replaceSubrange(21..<29, with: withUnsafeBytes(of: UInt64(9).littleEndian) { Array($0) })
        #expect(throws: WALDecodeError.self) { try WALRecordCodec.decode(reseal(badBounds)) }
        var shortLength = bytes
        shortLength.replaceSubrange(0..<4, with: [18, 0, 0, 0])
        #expect(throws: WALDecodeError.invalidLength(18)) { try WALRecordCodec.decode(shortLength) }
    }

    @Test("fuzz: random and damaged bytes only ever produce errors")
    func fuzz() throws {
        var rng = SeededGenerator(seed: 77)
        for _ in 0..<20_000 {
            let bytes = randomBytes(Int.random(in: 0..<200, using: &rng), &rng)
            _ = try? WALRecordCodec.decode(bytes)
            _ = try? bytes.withUnsafeBytes { try WALRecordCodec.decodeSegmentHeader($0) }
        }
        // Plausible lengths, random contents.
        for _ in 0..<5_000 {
            var bytes = randomBytes(Int.random(in: 27..<120, using: &rng), &rng)
            let length = UInt32(bytes.count - 8 - Int.random(in: 0...3, using: &rng))
            withUnsafeBytes(of: length.littleEndian) { bytes.replaceSubrange(0..<4, with: $0) }
            #expect(throws: WALDecodeError.self) { try WALRecordCodec.decode(bytes) }
        }
        // Valid records with random damage.
        let records = makeRecords(50, payloadSizes: 0...200)
        for record in records {
            let bytes = try WALRecordCodec.encode(record)
            for _ in 0..<100 {
                var damaged = bytes
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    damaged[Int.random(in: 0..<damaged.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
                if damaged == bytes { continue }
                #expect(throws: WALDecodeError.self) { try WALRecordCodec.decode(damaged) }
            }
        }
    }

    @Test("segment header round trip and validation")
    func segmentHeader() throws {
        let header = WALRecordCodec.encodeSegmentHeader(sequence: 123_456_789)
        #expect(header.count == WALRecordCodec.segmentHeaderSize)
        #expect(try header.withUnsafeBytes { try WALRecordCodec.decodeSegmentHeader($0) } == 123_456_789)
        for position in 0..<header.count {
            var damaged = header
            damaged[position] ^= 0x10
            #expect(throws: WALDecodeError.self) { try damaged.withUnsafeBytes { try WALRecordCodec.decodeSegmentHeader($0) } }
        }
        #expect(throws: WALDecodeError.incomplete(needed: 24, available: 23)) {
            try Array(header.prefix(23)).withUnsafeBytes { try WALRecordCodec.decodeSegmentHeader($0) }
        }
    }
}

// MARK: - Write-ahead log

@Suite("Write-ahead log")
struct WriteAheadLogTests {
    @Test("append then replay returns every record in order, across segment rotations and restarts")
    func appendReplay() async throws {
        try await withTemporaryDirectory { directory in
            let records = makeRecords(400, payloadSizes: 0...3_000)
            let options = WALOptions(segmentSizeBytes: 16 << 10)
            do {
                let wal = try WriteAheadLog(directory: directory, options: options, logger: quietLogger)
                let report = try wal.replay { _ in Issue.record("an empty log replayed a record") }
                #expect(report == WALReplayReport())
                try await withRunning(wal) {
                    for record in records[..<300] { try await wal.append(record) }
                }
                let files = segmentFiles(directory)
                #expect(files.count > 10)
                #expect(wal.diskUsageBytes == files.reduce(0) { $0 + fileSize($1) })
                #expect(wal.segmentCount == files.count)
                #expect(wal.statistics.recordsAcknowledged == 300)
                #expect(wal.statistics.fsyncs >= 300)  // sequential appends: one group each
                for file in files.dropLast() {
                    #expect(fileSize(file) <= 16 << 10)
                }
            }
            // A restart appends to a new segment after the existing ones.
            let before = segmentFiles(directory)
            do {
                let wal = try WriteAheadLog(directory: directory, options: options, logger: quietLogger)
                var replayed: [WALRecord] = []
                let report = try wal.replay { replayed.append($0) }
                #expect(replayed == Array(records[..<300]))
                #expect(report.records == 300)
                #expect(report.segments == before.count)
                #expect(report.bytes == records[..<300].reduce(0) { $0 + WALRecordCodec.encodedSize(of: $1) })
                #expect(report.repairs.isEmpty && report.removedFiles.isEmpty && report.quarantinedFiles.isEmpty)
                try await withRunning(wal) {
                    for record in records[300...] { try await wal.append(record) }
                }
            }
            let after = segmentFiles(directory)
            #expect(Array(after.prefix(before.count)) == before)
            let (replayed, report) = try replayAll(directory, options: options)
            #expect(replayed == records)
            #expect(report.repairs.isEmpty)
        }
    }

    @Test("space reserved ahead of the records: the live file is longer, closed segments end at their last record, a crash copy replays cleanly")
    func reservedSpace() async throws {
        try await withTemporaryDirectory { directory in
            let live = directory + "/live"
            let records = makeRecords(200, payloadSizes: 1_000...1_000)
            let options = WALOptions(segmentSizeBytes: 64 << 10, reservedSpaceBytes: 16 << 10)
            let wal = try WriteAheadLog(directory: live, options: options, logger: quietLogger)
            _ = try wal.replay { _ in }
            try await withRunning(wal) {
                for record in records { try await wal.append(record) }
                // The writer reserves between commits, so wait for the last one's reservation.
                let clock = ContinuousClock()
                let deadline = clock.now + .seconds(5)
                while segmentFiles(live).reduce(0, { $0 + fileSize($1) }) <= wal.diskUsageBytes, clock.now < deadline {
                    try await Task.sleep(for: .milliseconds(5))
                }
                let files = segmentFiles(live)
                #expect(files.count == 4)
                #expect(files.reduce(0) { $0 + fileSize($1) } > wal.diskUsageBytes)
                #expect(wal.statistics.reservedBytes >= 16 << 10)
                // A kill -9 now leaves these files.
                let copy = directory + "/copy"
                try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
                for file in files { try writeFile(copy + "/" + (file as NSString).lastPathComponent, try fileBytes(file)) }
                let recorder = LogRecorder()
                let (replayed, report) = try replayAll(copy, logger: recorder.logger)
                #expect(replayed == records)
                #expect(report.repairs.count == 1 && report.truncatedTail != nil)
                #expect(report.quarantinedFiles.isEmpty)
                #expect(recorder.entries(at: .warning).isEmpty && recorder.entries(at: .error).isEmpty)
            }
            // A clean shutdown cuts the reserved space off.
            #expect(segmentFiles(live).reduce(0) { $0 + fileSize($1) } == wal.diskUsageBytes)
            let (replayed, report) = try replayAll(live)
            #expect(replayed == records)
            #expect(report.repairs.isEmpty)
        }
    }

    @Test("a record larger than the segment size gets a segment of its own")
    func oversizedRecord() async throws {
        try await withTemporaryDirectory { directory in
            var records = makeRecords(3, payloadSizes: 100...100)
            records.insert(WALRecord(signal: .logs, tenant: .default, timeBounds: TimeBounds(), payload: [UInt8](repeating: 1, count: 10_000)), at: 1)
            try await writeLog(directory, records, options: WALOptions(segmentSizeBytes: 1_000))
            #expect(try replayAll(directory).records == records)
            #expect(segmentFiles(directory).count == 3)
        }
    }

    @Test("64 tasks × 50 appends: every record is replayed, each task's in its order, in shared group commits")
    func concurrentAppends() async throws {
        try await withTemporaryDirectory { directory in
            let commits = Locked<[WALGroupCommit]>([])
            let fsyncs = Locked(0)
            let options = WALOptions(
                segmentSizeBytes: 256 << 10,
                fsyncObserver: { _ in fsyncs.withLock { $0 += 1 } },
                groupCommitObserver: { commit in commits.withLock { $0.append(commit) } }
            )
            let wal = try WriteAheadLog(directory: directory, options: options, logger: quietLogger)
            _ = try wal.replay { _ in }
            try await withRunning(wal) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for task in 0..<64 {
                        group.addTask {
                            var rng = SeededGenerator(seed: UInt64(task))
                            for i in 0..<50 {
                                var record = makeRecord(task * 1_000 + i, payloadSize: Int.random(in: 8...2_000, using: &rng), &rng)
                                record.tenant = Tenant(uncheckedName: "task-\(task)")
                                try await wal.append(record)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let statistics = wal.statistics
            #expect(statistics.recordsAcknowledged == 3_200)
            #expect(statistics.recordsFailed == 0)
            #expect(statistics.groupCommits < 3_200)
            #expect(statistics.largestGroupCommit > 1)
            let observed = commits.withLock { $0 }
            #expect(observed.reduce(0) { $0 + $1.records } == 3_200)
            #expect(observed.allSatisfy { $0.succeeded && $0.fsyncDuration != nil })
            #expect(observed.count == statistics.groupCommits)
            #expect(fsyncs.withLock { $0 } == statistics.fsyncs)
            #expect(statistics.bytesAcknowledged == observed.reduce(0) { $0 + $1.bytes })

            let (replayed, _) = try replayAll(directory, options: options)
            #expect(replayed.count == 3_200)
            var perTask: [String: [Int]] = [:]
            for record in replayed { perTask[record.tenant.name, default: []].append(index(of: record) % 1_000) }
            #expect(perTask.count == 64)
            for (_, indices) in perTask { #expect(indices == Array(0..<50)) }
        }
    }

    @Test("a torn last record, cut at every offset: the intact prefix is replayed, the file truncated, appends go on")
    func tornTailEveryOffset() async throws {
        try await withTemporaryDirectory { directory in
            let records = makeRecords(4, payloadSizes: 40...60)
            let source = directory + "/source"
            try await writeLog(source, records)
            let segment = try #require(segmentFiles(source).first)
            let bytes = try fileBytes(segment)
            let lastStart = bytes.count - WALRecordCodec.encodedSize(of: records[3])
            var rng = SeededGenerator(seed: 4)
            let extra = makeRecord(99, payloadSize: 30, &rng)

            for cut in lastStart..<bytes.count {
                let target = directory + "/cut-\(cut)"
                try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
                let path = target + "/00000001.seg"
                try writeFile(path, Array(bytes[..<cut]))
                let recorder = LogRecorder()
                do {
                    let wal = try WriteAheadLog(directory: target, logger: recorder.logger)
                    var replayed: [WALRecord] = []
                    let report = try wal.replay { replayed.append($0) }
                    #expect(replayed == Array(records[..<3]), "cut at \(cut)")
                    #expect(fileSize(path) == lastStart, "cut at \(cut)")
                    if cut > lastStart {
                        let tail = try #require(report.truncatedTail, "cut at \(cut)")
                        #expect(tail.offset == lastStart && tail.discardedBytes == cut - lastStart && tail.truncated)
                        #expect(tail.quarantinePath == nil)  // a short write, not damage
                        #expect(recorder.entries(at: .warning).count == 1)
                    } else {
                        #expect(report.repairs.isEmpty)
                        #expect(recorder.entries(at: .warning).isEmpty)
                    }
                    try await withRunning(wal) { try await wal.append(extra) }
                }
                let (again, report) = try replayAll(target)
                #expect(again == Array(records[..<3]) + [extra], "cut at \(cut)")
                #expect(report.repairs.isEmpty)
                try? FileManager.default.removeItem(atPath: target)
            }
        }
    }

    @Test("a damaged byte in the last record: truncated with a warning, the damaged bytes saved")
    func corruptLastRecord() async throws {
        try await withTemporaryDirectory { directory in
            let records = makeRecords(5, payloadSizes: 100...100)
            let source = directory + "/source"
            try await writeLog(source, records)
            let bytes = try fileBytes(try #require(segmentFiles(source).first))
            let lastStart = bytes.count - WALRecordCodec.encodedSize(of: records[4])
            for position in stride(from: lastStart, to: bytes.count, by: 3) {
                let target = directory + "/flip-\(position)"
                try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
                var damaged = bytes
                damaged[position] ^= 0x5A
                try writeFile(target + "/00000001.seg", damaged)
                let recorder = LogRecorder()
                let (replayed, report) = try replayAll(target, logger: recorder.logger)
                #expect(replayed == Array(records[..<4]))
                #expect(fileSize(target + "/00000001.seg") == lastStart)
                let tail = try #require(report.truncatedTail)
                #expect(tail.offset == lastStart)
                #expect(recorder.entries(at: .warning).count == 1)
                if let saved = tail.quarantinePath {
                    #expect(try fileBytes(saved) == Array(damaged[lastStart...]))
                } else {
                    // Only a damaged length that now runs past the end of the file looks like a short write.
                    #expect(position < lastStart + 4)
                }
                try? FileManager.default.removeItem(atPath: target)
            }
        }
    }

    @Test("garbage or zeros after the last record are cut off")
    func garbageAfterRecords() async throws {
        try await withTemporaryDirectory { directory in
            let records = makeRecords(20)
            try await writeLog(directory, records)
            let path = try #require(segmentFiles(directory).first)
            let original = try fileBytes(path)
            var rng = SeededGenerator(seed: 31)

            for trial in 0..<20 {
                let garbage = trial == 0 ? [UInt8](repeating: 0, count: 4096) : randomBytes(Int.random(in: 1...3_000, using: &rng), &rng)
                try writeFile(path, original + garbage)
                let recorder = LogRecorder()
                let (replayed, report) = try replayAll(directory, logger: recorder.logger)
                #expect(replayed == records)
                #expect(try fileBytes(path) == original)
                #expect(report.truncatedTail?.offset == original.count)
                if trial == 0 {
                    // What the writer reserves ahead of its records, after a crash: nothing to warn about or keep.
                    #expect(recorder.entries(at: .warning).isEmpty)
                    #expect(recorder.entries(at: .info).filter { $0.message.contains("reserved") }.count == 1)
                    #expect(report.quarantinedFiles.isEmpty)
                } else {
                    #expect(recorder.entries(at: .warning).count == 1)
                }
                for saved in report.quarantinedFiles { try FileManager.default.removeItem(atPath: saved) }
            }
        }
    }

    @Test("empty and header-less segments are removed; a segment with a damaged header is moved aside")
    func emptyAndDamagedSegments() async throws {
        try await withTemporaryDirectory { directory in
            // Only an empty segment.
            let lonely = directory + "/lonely"
            try FileManager.default.createDirectory(atPath: lonely, withIntermediateDirectories: true)
            try writeFile(lonely + "/00000001.seg", [])
            let (none, emptyReport) = try replayAll(lonely)
            #expect(none.isEmpty)
            #expect(emptyReport.removedFiles == [lonely + "/00000001.seg"])
            #expect(segmentFiles(lonely).isEmpty)

            let records = makeRecords(10)
            try await writeLog(directory, Array(records[..<5]))
            let first = try #require(segmentFiles(directory).first)
            try writeFile(directory + "/00000002.seg", Array(WALRecordCodec.encodeSegmentHeader(sequence: 2).prefix(10)))
            var rng = SeededGenerator(seed: 3)
            try writeFile(directory + "/00000003.seg", randomBytes(100, &rng))
            try writeFile(directory + "/00000004.seg", [])
            // A later intact segment.
            try writeFile(
                directory + "/00000005.seg",
                WALRecordCodec.encodeSegmentHeader(sequence: 5) + records[5...].flatMap { try! WALRecordCodec.encode($0) }
            )
            let recorder = LogRecorder()
            let wal = try WriteAheadLog(directory: directory, logger: recorder.logger)
            var replayed: [WALRecord] = []
            let report = try wal.replay { replayed.append($0) }
            #expect(replayed == records)
            #expect(report.removedFiles == [directory + "/00000002.seg", directory + "/00000004.seg"])
            #expect(report.quarantinedFiles == [directory + "/00000003.seg.corrupt"])
            #expect(FileManager.default.fileExists(atPath: directory + "/00000003.seg.corrupt"))
            #expect(segmentFiles(directory) == [first, directory + "/00000005.seg"])
            #expect(recorder.entries(at: .error).count == 1)
            #expect(recorder.entries(at: .warning).count == 2)
            // New appends go after the highest sequence number seen.
            try await withRunning(wal) { try await wal.append(records[0]) }
            #expect(segmentFiles(directory).last == directory + "/00000006.seg")
        }
    }

    @Test("a segment of a newer format version stops the replay instead of being discarded")
    func newerVersion() async throws {
        try await withTemporaryDirectory { directory in
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var header = WALRecordCodec.segmentMagic
            WALRecordCodec.appendLE(UInt32(2), to: &header)
            WALRecordCodec.appendLE(UInt64(1), to: &header)
            WALRecordCodec.appendLE(CRC32C.checksum(header), to: &header)
            try writeFile(directory + "/00000001.seg", header + [1, 2, 3])
            do {
                _ = try replayAll(directory)
                Issue.record("replay accepted a version 2 segment")
            } catch let error as StorageError {
                #expect(error.code == .unsupportedFormat)
            }
            #expect(try fileBytes(directory + "/00000001.seg") == header + [1, 2, 3])
        }
    }

    @Test("corruption in an earlier segment: that segment is cut, its rest saved, later segments still replayed")
    func corruptionInEarlierSegment() async throws {
        try await withTemporaryDirectory { directory in
            let records = makeRecords(60, payloadSizes: 50...150)
            try await writeLog(directory, records, options: WALOptions(segmentSizeBytes: 1_024))
            let files = segmentFiles(directory)
            #expect(files.count >= 4)
            // Count the records of segments 1 and 2 with the codec.
            func decodeAll(_ bytes: [UInt8]) throws -> [(offset: Int, record: WALRecord)] {
                var result: [(Int, WALRecord)] = []
                var offset = WALRecordCodec.segmentHeaderSize
                while offset < bytes.count {
                    let (record, size) = try WALRecordCodec.decode(Array(bytes[offset...]))
                    result.append((offset, record))
                    offset += size
                }
                return result
            }
            let inFirst = try decodeAll(try fileBytes(files[0])).count
            let second = try fileBytes(files[1])
            let inSecond = try decodeAll(second)
            #expect(inSecond.count >= 3)
            var damaged = second
            damaged[inSecond[1].offset + 20] ^= 0xFF
            try writeFile(files[1], damaged)

            let recorder = LogRecorder()
            let (replayed, report) = try replayAll(directory, logger: recorder.logger)
            let expected = Array(records[..<(inFirst + 1)]) + Array(records[(inFirst + inSecond.count)...])
            #expect(replayed == expected)
            #expect(report.repairs.count == 1)
            let repair = try #require(report.repairs.first)
            #expect(!repair.isLastSegment && repair.segment == files[1] && repair.offset == inSecond[1].offset)
            let saved = try #require(repair.quarantinePath)
            #expect(try fileBytes(saved) == Array(damaged[inSecond[1].offset...]))
            #expect(fileSize(files[1]) == inSecond[1].offset)
            #expect(recorder.entries(at: .error).count == 1)
            // A second replay finds nothing more to repair.
            let (again, secondReport) = try replayAll(directory)
            #expect(again == expected && secondReport.repairs.isEmpty)
        }
    }

    @Test("append refuses oversized records at once, before any I/O")
    func recordTooLarge() async throws {
        try await withTemporaryDirectory { directory in
            let wal = try WriteAheadLog(directory: directory, options: WALOptions(maximumRecordBytes: 1_000), logger: quietLogger)
            let record = WALRecord(signal: .traces, tenant: .default, timeBounds: TimeBounds(), payload: [UInt8](repeating: 0, count: 1_000))
            do throws(StorageError) {
                try await wal.append(record)  // the writer is not running: this would wait forever if it queued
                Issue.record("accepted")
            } catch {
                #expect(error.code == .recordTooLarge)
                #expect(error.description.contains("1000"))
            }
        }
    }

    @Test("retention removes closed segments whose records are all older than the cutoff")
    func retention() async throws {
        try await withTemporaryDirectory { directory in
            let records = makeRecords(100, payloadSizes: 100...100)
            let options = WALOptions(segmentSizeBytes: 2_048)
            try await writeLog(directory, records, options: options)
            let files = segmentFiles(directory)
            #expect(files.count > 5)

            // Not replayed: time bounds unknown, nothing is removed.
            do {
                let wal = try WriteAheadLog(directory: directory, options: options, logger: quietLogger)
                #expect(try wal.removeSegments(olderThan: .max) == 0)
                #expect(segmentFiles(directory) == files)
            }

            let cutoff: UInt64 = 50_000  // records 0..<50 end before it (index * 1000 + < 1000)
            let wal = try WriteAheadLog(directory: directory, options: options, logger: quietLogger)
            _ = try wal.replay { _ in }
            let usageBefore = wal.diskUsageBytes
            // Which files hold only records ending before the cutoff? Decode each to find out.
            var expectedRemoved: [String] = []
            var expectedFreed = 0
            for file in files {
                let bytes = try fileBytes(file)
                var offset = WALRecordCodec.segmentHeaderSize
                var maximum: UInt64 = 0
                while offset < bytes.count {
                    let (record, size) = try WALRecordCodec.decode(Array(bytes[offset...]))
                    maximum = max(maximum, record.timeBounds.maximum)
                    offset += size
                }
                if maximum < cutoff {
                    expectedRemoved.append(file)
                    expectedFreed += bytes.count
                }
            }
            #expect(!expectedRemoved.isEmpty)
            let freed = try wal.removeSegments(olderThan: cutoff)
            #expect(freed == expectedFreed)
            #expect(wal.diskUsageBytes == usageBefore - freed)
            #expect(segmentFiles(directory) == files.filter { !expectedRemoved.contains($0) })

            // While running, closed segments can go; the active one stays.
            try await withRunning(wal) {
                for record in records.prefix(30) { try await wal.append(record) }
                _ = try wal.removeSegments(olderThan: .max)
                #expect(segmentFiles(directory).count == 1)
                #expect(wal.segmentCount == 1)
                try await wal.append(records[0])
            }
        }
    }

    @Test(
        "each sync policy acknowledges and replays everything",
        arguments: [WALSyncPolicy.groupCommit, .interval(.milliseconds(20)), .never]
    )
    func syncPolicies(policy: WALSyncPolicy) async throws {
        try await withTemporaryDirectory { directory in
            let records = makeRecords(100)
            let commits = Locked<[WALGroupCommit]>([])
            let options = WALOptions(syncPolicy: policy, groupCommitObserver: { c in commits.withLock { $0.append(c) } })
            let wal = try WriteAheadLog(directory: directory, options: options, logger: quietLogger)
            _ = try wal.replay { _ in }
            let fsyncsWhileRunning = try await withRunning(wal) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for chunk in 0..<10 {
                        group.addTask {
                            for record in records[(chunk * 10)..<(chunk * 10 + 10)] { try await wal.append(record) }
                        }
                    }
                    try await group.waitForAll()
                }
                if case .interval = policy {
                    try await Task.sleep(for: .milliseconds(200))
                }
                return wal.statistics.fsyncs
            }
            let observed = commits.withLock { $0 }
            switch policy {
            case .groupCommit:
                #expect(observed.allSatisfy { $0.fsyncDuration != nil })
                #expect(fsyncsWhileRunning >= observed.count)
            case .interval:
                #expect(fsyncsWhileRunning >= 1)  // the periodic fsync ran (alone, or with a group it met)
            case .never:
                #expect(observed.allSatisfy { $0.fsyncDuration == nil })
                #expect(fsyncsWhileRunning == 0)
                #expect(wal.statistics.fsyncs == 1)  // the one at shutdown
            }
            #expect(wal.statistics.recordsAcknowledged == 100)
            let (replayed, _) = try replayAll(directory)
            #expect(replayed.map(index(of:)).sorted() == Array(0..<100))
        }
    }

    @Test("enqueue returns before the write; tickets wait for durability; records keep queue order")
    func enqueueThenWait() async throws {
        try await withTemporaryDirectory { directory in
            let records = makeRecords(120)
            let wal = try WriteAheadLog(directory: directory, logger: quietLogger)
            _ = try wal.replay { _ in }
            // Queued before the writer runs: nothing can be durable yet, and enqueue still returns.
            let early = try records[..<20].map { record throws(StorageError) in try wal.enqueue(record) }
            #expect(wal.queuedAppends.records == 20)
            #expect(wal.statistics.recordsAcknowledged == 0)
            try await withRunning(wal) {
                for ticket in early { try await ticket.durable() }
                #expect(wal.statistics.recordsAcknowledged == 20)
                var late: [WALCommitTicket] = []
                for record in records[20...] { late.append(try wal.enqueue(record)) }
                for ticket in late.reversed() { try await ticket.durable() }
                // A finished ticket answers at once, again.
                try await late[0].durable()
                #expect(wal.statistics.recordsAcknowledged == records.count)
            }
            do throws(StorageError) {
                _ = try wal.enqueue(records[0])
                Issue.record("enqueue after shutdown succeeded")
            } catch {
                #expect(error.code == .closed)
            }
            #expect(try replayAll(directory).records == records)
        }
    }

    @Test("graceful shutdown (ServiceGroup) writes everything queued, then refuses appends")
    func gracefulShutdown() async throws {
        try await withTemporaryDirectory { directory in
            let records = makeRecords(200)
            let wal = try WriteAheadLog(directory: directory, logger: quietLogger)
            _ = try wal.replay { _ in }
            // Queue appends before the writer runs; they wait for it.
            let appends = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for record in records { group.addTask { try await wal.append(record) } }
                    try await group.waitForAll()
                }
            }
            while wal.queuedAppends.records < records.count { try await Task.sleep(for: .milliseconds(1)) }
            #expect(wal.queuedAppends.bytes == records.reduce(0) { $0 + WALRecordCodec.encodedSize(of: $1) })

            let group = ServiceGroup(configuration: .init(services: [wal], logger: quietLogger))
            let running = Task { try await group.run() }
            await group.triggerGracefulShutdown()
            try await running.value
            try await appends.value
            #expect(wal.statistics.recordsAcknowledged == records.count)
            do throws(StorageError) {
                try await wal.append(records[0])
                Issue.record("append after shutdown succeeded")
            } catch {
                #expect(error.code == .closed)
            }
            let (replayed, _) = try replayAll(directory)
            #expect(replayed.map(index(of:)).sorted() == Array(0..<records.count))
        }
    }

    @Test("a second instance on the same directory is refused")
    func lock() async throws {
        try await withTemporaryDirectory { directory in
            let wal = try WriteAheadLog(directory: directory, logger: quietLogger)
            do throws(StorageError) {
                _ = try WriteAheadLog(directory: directory, logger: quietLogger)
                Issue.record("opened twice")
            } catch {
                #expect(error.code == .locked)
            }
            withExtendedLifetime(wal) {}
        }
    }

    @Test("run() and replay() out of order are refused")
    func misuse() async throws {
        try await withTemporaryDirectory { directory in
            let wal = try WriteAheadLog(directory: directory, logger: quietLogger)
            try await withRunning(wal) {
                try await wal.append(makeRecords(1)[0])  // the writer is running once this returns
                #expect(throws: StorageError.self) { try wal.replay { _ in } }
                await #expect(throws: StorageError.self) { try await wal.run() }
            }
        }
    }

    @Test("a failed write fails its group only; the partial write is cut off and the log goes on")
    func writeFailure() async throws {
        try await withTemporaryDirectory { directory in
            let records = makeRecords(3)
            let calls = Locked(0)
            var options = WALOptions()
            options.faultInjection = WALFaultInjection(
                writeError: { _ in calls.withLock { $0 += 1; return $0 == 2 ? ENOSPC : nil } },
                syncError: nil
            )
            let recorder = LogRecorder()
            let wal = try WriteAheadLog(directory: directory, options: options, logger: recorder.logger)
            _ = try wal.replay { _ in }
            try await withRunning(wal) {
                try await wal.append(records[0])
                do throws(StorageError) {
                    try await wal.append(records[1])
                    Issue.record("the failed write was acknowledged")
                } catch {
                    #expect(error.code == .io && error.errno == ENOSPC && error.isOutOfSpace)
                    #expect(error.description.contains("00000001.seg"))
                }
                try await wal.append(records[2])
            }
            #expect(wal.statistics.recordsFailed == 1 && wal.statistics.recordsAcknowledged == 2)
            #expect(recorder.entries(at: .error).count == 1)
            #expect(segmentFiles(directory).count == 1)
            let (replayed, report) = try replayAll(directory)
            #expect(replayed == [records[0], records[2]])
            #expect(report.repairs.isEmpty)
        }
    }

    @Test("a failed fsync fails its group and moves on to a new segment")
    func fsyncFailure() async throws {
        try await withTemporaryDirectory { directory in
            let records = makeRecords(3)
            let calls = Locked(0)
            var options = WALOptions()
            options.faultInjection = WALFaultInjection(
                writeError: nil,
                syncError: { _ in calls.withLock { $0 += 1; return $0 == 2 ? EIO : nil } }
            )
            let wal = try WriteAheadLog(directory: directory, options: options, logger: quietLogger)
            _ = try wal.replay { _ in }
            try await withRunning(wal) {
                try await wal.append(records[0])
                do throws(StorageError) {
                    try await wal.append(records[1])
                    Issue.record("the failed fsync was acknowledged")
                } catch {
                    #expect(error.code == .io && error.errno == EIO)
                }
                try await wal.append(records[2])
            }
            #expect(wal.statistics.fsyncFailures == 1)
            #expect(segmentFiles(directory).count == 2)
            // The unacknowledged record was written before its fsync failed, so it may come back on
            // replay (at-least-once); acknowledged ones always do, in order.
            let (replayed, _) = try replayAll(directory)
            #expect(replayed.filter { $0 != records[1] } == [records[0], records[2]])
        }
    }

    @Test("a segment that cannot be created fails its group; the next group gets the next name")
    func segmentCreationFailure() async throws {
        try await withTemporaryDirectory { directory in
            let records = makeRecords(2)
            let wal = try WriteAheadLog(directory: directory, logger: quietLogger)
            _ = try wal.replay { _ in }
            // A stray file where the first segment would go (created after the directory was scanned).
            try writeFile(directory + "/00000001.seg", [])
            try await withRunning(wal) {
                do throws(StorageError) {
                    try await wal.append(records[0])
                    Issue.record("acknowledged without a segment")
                } catch {
                    #expect(error.code == .io && error.errno == EEXIST)
                }
                try await wal.append(records[1])
            }
            let (replayed, report) = try replayAll(directory)
            #expect(replayed == [records[1]])
            #expect(report.removedFiles == [directory + "/00000001.seg"])
        }
    }

    @Test(
        "crash simulation: a copy of the files taken at any moment replays every record acknowledged before it",
        arguments: [WALSyncPolicy.groupCommit, .interval(.milliseconds(5)), .never]
    )
    func crashSnapshots(policy: WALSyncPolicy) async throws {
        // A kill -9 leaves exactly what write(2) put into the page cache; copying the files while
        // appends are in flight sees the same thing, torn records included.
        try await withTemporaryDirectory { directory in
            let live = directory + "/live"
            let options = WALOptions(syncPolicy: policy, segmentSizeBytes: 64 << 10)
            let wal = try WriteAheadLog(directory: live, options: options, logger: quietLogger)
            _ = try wal.replay { _ in }
            let acknowledged = Locked(Set<Int>())
            try await withRunning(wal) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for task in 0..<16 {
                        group.addTask {
                            var rng = SeededGenerator(seed: UInt64(task) + 100)
                            for i in 0..<40 {
                                let id = task * 1_000 + i
                                try await wal.append(makeRecord(id, payloadSize: Int.random(in: 8...4_000, using: &rng), &rng))
                                _ = acknowledged.withLock { $0.insert(id) }
                            }
                        }
                    }
                    for snapshot in 0..<6 {
                        try await Task.sleep(for: .milliseconds(15))
                        let before = acknowledged.withLock { $0 }
                        let copy = directory + "/snapshot-\(snapshot)"
                        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
                        for file in segmentFiles(live) {
                            let bytes = (try? fileBytes(file)) ?? []
                            try writeFile(copy + "/" + (file as NSString).lastPathComponent, bytes)
                        }
                        let (replayed, _) = try replayAll(copy)
                        let ids = Set(replayed.map(index(of:)))
                        #expect(before.isSubset(of: ids), "snapshot \(snapshot) lost \(before.subtracting(ids).count) acknowledged records")
                    }
                    try await group.waitForAll()
                }
            }
            let (replayed, _) = try replayAll(live)
            #expect(Set(replayed.map(index(of:))) == acknowledged.withLock { $0 })
            #expect(replayed.count == 640)
        }
    }
}

// MARK: - Throughput (opt-in: LOUPE_WAL_BENCH=1)

@Suite("WAL throughput")
struct WALThroughputTests {
    @Test(
        "group commit throughput with fsync before ack",
        .enabled(if: ProcessInfo.processInfo.environment["LOUPE_WAL_BENCH"] != nil)
    )
    func throughput() async throws {
        let environment = ProcessInfo.processInfo.environment
        let connections = Int(environment["LOUPE_WAL_BENCH_CONNECTIONS"] ?? "") ?? 32
        let payloadBytes = Int(environment["LOUPE_WAL_BENCH_PAYLOAD"] ?? "") ?? 200_000
        let seconds = Int(environment["LOUPE_WAL_BENCH_SECONDS"] ?? "") ?? 5
        let spansPerRecord = 1_000
        try await withTemporaryDirectory { directory in
            let wal = try WriteAheadLog(directory: directory, logger: quietLogger)
            _ = try wal.replay { _ in }
            var rng = SeededGenerator(seed: 1)
            let payload = randomBytes(payloadBytes, &rng)
            let clock = ContinuousClock()
            let start = clock.now
            let deadline = start + .seconds(seconds)
            let latencies = Locked<[Duration]>([])
            try await withRunning(wal) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<connections {
                        group.addTask {
                            var local: [Duration] = []
                            var bounds = TimeBounds()
                            bounds.include(1)
                            while clock.now < deadline {
                                let t0 = clock.now
                                try await wal.append(WALRecord(signal: .traces, tenant: .default, timeBounds: bounds, payload: payload))
                                local.append(clock.now - t0)
                            }
                            latencies.withLock { $0 += local }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let elapsed = clock.now - start
            let s = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let stats = wal.statistics
            let sorted = latencies.withLock { $0 }.sorted()
            func ms(_ d: Duration) -> String {
                String(format: "%.2f", Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15)
            }
            let p50 = sorted[sorted.count / 2]
            let p99 = sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
            let fsyncAverage = stats.fsyncs > 0 ? stats.fsyncTotalDuration / stats.fsyncs : .zero
            print(
                """
                WAL throughput: \(connections) connections, \(payloadBytes)-byte records, \(String(format: "%.1f", s)) s
                  records/s: \(String(format: "%.0f", Double(stats.recordsAcknowledged) / s))  \
                spans/s (1000/record): \(String(format: "%.0f", Double(stats.recordsAcknowledged * spansPerRecord) / s))  \
                MB/s: \(String(format: "%.1f", Double(stats.bytesAcknowledged) / s / 1e6))
                  group commits: \(stats.groupCommits), mean group \(String(format: "%.1f", Double(stats.recordsAcknowledged) / Double(max(stats.groupCommits, 1)))), largest \(stats.largestGroupCommit)
                  fsyncs: \(stats.fsyncs), mean \(ms(fsyncAverage)) ms, max \(ms(stats.fsyncMaximumDuration)) ms
                  append latency p50 \(ms(p50)) ms, p99 \(ms(p99)) ms
                """
            )
            #expect(stats.recordsFailed == 0)
        }
    }
}
