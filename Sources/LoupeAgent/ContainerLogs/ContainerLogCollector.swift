import Foundation
import Dispatch
import Logging
import LoupeCollect
import LoupeModel
import LoupeStorage
import LoupeWire
import ServiceLifecycle
import Synchronization

/// Tails container logs into a pipeline's queue: each harvest is encoded as one OTLP logs request,
/// queued durably, and only then are the files' positions committed.
public final class ContainerLogCollector: Service {
    private let tail: Mutex<ContainerLogTail>
    private let rules: CompiledRules
    private let queue: OutputQueue
    private let counters: PipelineCounters
    private let pollInterval: Duration
    private let memoryLimiter: MemoryLimiter?
    private let logger: Logger

    init(
        tail: sending ContainerLogTail, rules: CompiledRules, queue: OutputQueue, counters: PipelineCounters, pollInterval: Duration,
        memoryLimiter: MemoryLimiter? = nil, logger: Logger
    ) {
        self.tail = Mutex(tail)
        self.memoryLimiter = memoryLimiter
        self.rules = rules
        self.queue = queue
        self.counters = counters
        self.pollInterval = pollInterval
        self.logger = logger
    }

    public func run() async throws {
        var failures = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            // Over the memory limit, lines wait in their files (the checkpoints stay where they are).
            if memoryLimiter?.refusal() != nil {
                counters.throttled.add(1, ordering: .relaxed)
                await pause(pollInterval)
                continue
            }
            let outcome: Result<Int, any Error>
            do {
                outcome = .success(try await BlockingIO.run { try self.step() })
            } catch {
                outcome = .failure(error)
            }
            switch outcome {
            case .success(let records):
                failures = 0
                if records == 0 { await pause(pollInterval) }
            case .failure(let error):
                failures += 1
                // The queue's disk failing: nothing was committed, the same lines are read again.
                logger.error("container logs could not be queued; retrying", metadata: ["error": "\(error)"])
                await pause(pollInterval * min(failures, 20))
            }
        }
    }

    /// Transforms, filters (a filter match drops the record) and encodes each file's records on
    /// its own thread. Returns each file's `ResourceLogs` message(s), with the records kept and
    /// those the filter dropped.
    static func encode(_ logs: LogsData, rules: CompiledRules) -> [(bytes: [UInt8], records: Int, filtered: Int)] {
        let groups = logs.resourceLogs
        let results = Mutex([(bytes: [UInt8], records: Int, filtered: Int)?](repeating: nil, count: groups.count))
        let work: @Sendable (Int) -> Void = { index in
            let (kept, filtered) = rules.process(LogsData(resourceLogs: [groups[index]]))
            let bytes = OTLPProtobuf.encodeLogs(kept)
            results.withLock { $0[index] = (bytes, kept.itemCount, filtered) }
        }
        if groups.count > 1 {
            DispatchQueue.concurrentPerform(iterations: groups.count, execute: work)
        } else if groups.count == 1 {
            work(0)
        }
        return results.withLock { $0 }.compactMap { $0 }
    }

    /// Export requests made of `groups` (`ResourceLogs` messages: concatenated, they are a request,
    /// the field being repeated), one per core at most so they are compressed side by side, each
    /// about as large as the others. Groups keep their order within a request.
    static func requests(of groups: [(bytes: [UInt8], records: Int)], parts: Int) -> [(itemCount: Int, request: [UInt8])] {
        let count = max(1, min(parts, groups.count))
        var requests = [(itemCount: Int, request: [UInt8])](repeating: (0, []), count: count)
        for group in groups where group.records > 0 {
            let lightest = requests.indices.min { requests[$0].request.count < requests[$1].request.count }!
            requests[lightest].itemCount += group.records
            requests[lightest].request.append(contentsOf: group.bytes)
        }
        return requests.filter { $0.itemCount > 0 }
    }

    /// Requests per harvest: the cores, at most four (more, smaller requests cost the sender more
    /// round trips and queue acknowledgements than they save).
    static let requestsPerHarvest = min(4, max(1, ProcessInfo.processInfo.activeProcessorCount))

    /// Batching by bytes: no request over about this much (uncompressed), well under the 4 MiB
    /// that gRPC servers take by default (the OpenTelemetry Collector's `max_recv_msg_size_mib`).
    /// A harvest's groups are one file's read each (at most `chunkBytes` of lines), so requests
    /// end near it.
    static let maximumRequestBytes = 2 << 20

    /// How many requests a harvest of `bytes` makes: one per core, more when it is large.
    static func parts(forBytes bytes: Int) -> Int {
        max(requestsPerHarvest, (bytes + maximumRequestBytes - 1) / maximumRequestBytes)
    }

    /// One harvest, queued and committed. Returns the records it held.
    func step() throws -> Int {
        try tail.withLock { tail throws -> Int in
            let harvest = tail.harvest(nowUnixNano: WallClock.system.nowUnixNano())
            guard !harvest.isEmpty else { return 0 }
            if harvest.records > 0 {
                let processed = Self.encode(harvest.logs, rules: rules)
                let filtered = processed.reduce(0) { $0 + $1.filtered }
                let groups = processed.map { ($0.bytes, $0.records) } + harvest.encoded
                let requests = Self.requests(of: groups, parts: Self.parts(forBytes: groups.reduce(0) { $0 + $1.bytes.count }))
                if !requests.isEmpty {
                    do {
                        try queue.append(requests)
                    } catch {
                        tail.discard(harvest)
                        throw error
                    }
                }
                counters.received.add(harvest.records, ordering: .relaxed)
                counters.filtered.add(filtered, ordering: .relaxed)
            }
            try tail.commit(harvest)
            return harvest.records
        }
    }
}
