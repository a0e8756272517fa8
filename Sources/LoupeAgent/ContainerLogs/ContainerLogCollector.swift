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
    /// its own thread; the encoded groups, concatenated, are one export request (its resources are
    /// a repeated field). Returns the request and how many records the filter dropped.
    static func encode(_ logs: LogsData, rules: CompiledRules) -> (request: [UInt8], filtered: Int) {
        let groups = logs.resourceLogs
        let results = Mutex([(bytes: [UInt8], filtered: Int)?](repeating: nil, count: groups.count))
        let work: @Sendable (Int) -> Void = { index in
            let (kept, filtered) = rules.process(LogsData(resourceLogs: [groups[index]]))
            let bytes = OTLPProtobuf.encodeLogs(kept)
            results.withLock { $0[index] = (bytes, filtered) }
        }
        if groups.count > 1 {
            DispatchQueue.concurrentPerform(iterations: groups.count, execute: work)
        } else if groups.count == 1 {
            work(0)
        }
        var request: [UInt8] = []
        var filtered = 0
        for result in results.withLock({ $0 }) {
            guard let result else { continue }
            request.append(contentsOf: result.bytes)
            filtered += result.filtered
        }
        return (request, filtered)
    }

    /// One harvest, queued and committed. Returns the records it held.
    func step() throws -> Int {
        try tail.withLock { tail throws -> Int in
            let harvest = tail.harvest(nowUnixNano: WallClock.system.nowUnixNano())
            guard !harvest.isEmpty else { return 0 }
            if harvest.records > 0 {
                var (request, filtered) = Self.encode(harvest.logs, rules: rules)
                for group in harvest.encoded { request.append(contentsOf: group) }
                let kept = harvest.records - filtered
                if kept > 0 {
                    do {
                        try queue.append(itemCount: kept, request: request)
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
