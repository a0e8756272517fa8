import Logging
import LoupeModel
import Synchronization

/// One tenant's time-series database: the in-memory head for recent samples and the immutable,
/// memory-mapped blocks on disk for everything older (the Prometheus TSDB layout). Reads merge
/// both; a block that fails a checksum is moved to quarantine and the rest keeps serving.
public final class TenantTSDB: Sendable {
    public let tenant: Tenant
    public let head: TSDBHead
    /// Exemplars of the tenant's series (memory only; the WAL brings them back).
    public let exemplars = ExemplarStore()
    /// `<data>/metrics/<tenant>`: one subdirectory per block.
    public let directory: String
    let quarantineDirectory: String
    private let logger: Logger
    /// No directory: blocks are never cut.
    public let isInMemory: Bool

    /// Cut from the head but not yet on disk: served from memory meanwhile.
    public final class PendingBlock: Sendable {
        public let id: String
        let series: [BlockSeries]
        let minTime: Int64
        let maxTime: Int64
        /// The cut boundary: the block covers time up to it (exclusive), even if its last sample is earlier.
        let end: Int64

        init(id: String, series: [BlockSeries], end: Int64) {
            self.id = id
            self.series = series
            self.end = end
            minTime = series.lazy.compactMap { $0.chunks.first?.minTime }.min() ?? .max
            maxTime = series.lazy.compactMap { $0.chunks.last?.maxTime }.max() ?? .min
        }
    }

    private struct Blocks: Sendable {
        /// Sorted by (minTime, id).
        var persisted: [PersistedBlock] = []
        var pending: [PendingBlock] = []
    }

    private let blocks = Mutex(Blocks())

    /// Opens the tenant's blocks: leftovers of interrupted writes (`*.tmp`) and of interrupted
    /// compactions (blocks another block lists as merged) are deleted; unreadable blocks are
    /// quarantined. The head's lower bound is not set here (the WAL checkpoint sets it).
    /// `inMemory`: no directory; the head only (a store without a data directory).
    public init(
        tenant: Tenant, directory: String, quarantineDirectory: String, head: TSDBHead, logger: Logger, inMemory: Bool = false
    ) throws(StorageError) {
        self.tenant = tenant
        self.directory = directory
        self.quarantineDirectory = quarantineDirectory
        self.head = head
        self.logger = logger
        self.isInMemory = inMemory
        if inMemory { return }
        try WALFiles.createDirectories(directory)
        var opened: [PersistedBlock] = []
        for name in BlockFiles.list(directory) {
            let path = WALFiles.join(directory, name)
            if name.hasSuffix(".tmp") {
                logger.warning("removing an unfinished block write", metadata: ["path": "\(path)"])
                try BlockFiles.removeTree(path)
                continue
            }
            guard BlockFiles.isDirectory(path) else { continue }
            do {
                opened.append(try PersistedBlock(directory: path))
            } catch {
                quarantine(path: path, id: name, reason: error)
            }
        }
        let merged = Set(opened.flatMap(\.meta.compactedFrom))
        var kept: [PersistedBlock] = []
        for block in opened {
            if merged.contains(block.id) {
                logger.info("removing a block already merged by compaction", metadata: ["block": "\(block.id)"])
                try BlockFiles.removeTree(block.directory)
            } else {
                kept.append(block)
            }
        }
        blocks.withLock { $0.persisted = Self.sorted(kept) }
    }

    private static func sorted(_ blocks: [PersistedBlock]) -> [PersistedBlock] {
        blocks.sorted { $0.minTime != $1.minTime ? $0.minTime < $1.minTime : $0.id < $1.id }
    }

    public var persistedBlocks: [PersistedBlock] { blocks.withLock { $0.persisted } }

    /// The end of the newest block on disk (ms, exclusive), or nil without blocks.
    public var persistedMaxTime: Int64? { blocks.withLock { $0.persisted.map(\.meta.maxTime).max() } }

    // MARK: - Writes

    public func append(_ series: [TimeSeries]) -> HeadAppendResult {
        let result = head.append(series)
        for entry in series where !entry.exemplars.isEmpty { exemplars.add(entry.exemplars, series: entry.labels) }
        return result
    }

    // MARK: - Reads

    /// Series matching every matcher with their samples in `[minTime, maxTime]`, from blocks and
    /// head merged (one sample per timestamp), sorted by labels.
    public func select(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64, shard: SeriesShard = .all) -> [SeriesSamples] {
        // The head first, then the blocks: a cut moves samples from the head to a pending block
        // while holding the blocks lock, so a sample is always seen in one place or both (merged).
        let fromHead = head.select(matchers, minTime: minTime, maxTime: maxTime, shard: shard)
        let (persisted, pending) = blocks.withLock { ($0.persisted, $0.pending) }
        var merged: [Labels: SeriesSamples] = [:]
        func add(_ samples: SeriesSamples) {
            if var existing = merged[samples.labels] {
                merged[samples.labels] = nil
                existing.merge(samples)
                merged[samples.labels] = existing
            } else {
                merged[samples.labels] = samples
            }
        }
        for block in persisted where block.overlaps(minTime: minTime, maxTime: maxTime) {
            do {
                for samples in try block.select(matchers, minTime: minTime, maxTime: maxTime, shard: shard) { add(samples) }
            } catch {
                quarantine(block, reason: error)
            }
        }
        for block in pending where block.minTime <= maxTime && minTime <= block.maxTime {
            for series in block.series
            where matchers.allSatisfy({ $0.matches(series.labels[$0.name] ?? "") }) && shard.contains(series.labels) {
                var samples = SeriesSamples(labels: series.labels)
                ChunkEncoder.decode(series.chunks, minTime: minTime, maxTime: maxTime, into: &samples)
                if !samples.isEmpty { add(samples) }
            }
        }
        if merged.isEmpty { return fromHead }
        for samples in fromHead { add(samples) }
        return merged.values.sorted { $0.labels < $1.labels }
    }

    /// `select`, with each series' newest sample in the range only: the head answers from its
    /// last appended samples; blocks are read only where they overlap the range.
    public func selectNewest(_ matchers: [LabelMatcher], minTime: Int64, maxTime: Int64) -> [SeriesSamples] {
        let fromHead = head.selectNewest(matchers, minTime: minTime, maxTime: maxTime)
        let (persisted, pending) = blocks.withLock { ($0.persisted, $0.pending) }
        let overlapping = persisted.contains { $0.overlaps(minTime: minTime, maxTime: maxTime) }
            || pending.contains { $0.minTime <= maxTime && minTime <= $0.maxTime }
        guard overlapping else { return fromHead }
        return select(matchers, minTime: minTime, maxTime: maxTime).map(\.newest)
    }

    /// Label sets of matching series (all without matchers) with samples in the range.
    public func series(_ matchers: [LabelMatcher], minTime: Int64 = .min, maxTime: Int64 = .max) -> [Labels] {
        var all = Set(head.series(matchers, minTime: minTime, maxTime: maxTime))
        let (persisted, pending) = blocks.withLock { ($0.persisted, $0.pending) }
        for block in persisted where block.overlaps(minTime: minTime, maxTime: maxTime) {
            do {
                all.formUnion(try block.seriesLabels(matchers, minTime: minTime, maxTime: maxTime))
            } catch {
                quarantine(block, reason: error)
            }
        }
        for block in pending where block.minTime <= maxTime && minTime <= block.maxTime {
            for series in block.series where matchers.allSatisfy({ $0.matches(series.labels[$0.name] ?? "") }) {
                all.insert(series.labels)
            }
        }
        return all.sorted()
    }

    public func labelNames(_ matchers: [LabelMatcher] = []) -> [String] {
        if !matchers.isEmpty { return Array(Set(series(matchers).flatMap { $0.map(\.name) })).sorted() }
        var names = Set(head.labelNames())
        let (persisted, pending) = blocks.withLock { ($0.persisted, $0.pending) }
        for block in persisted { names.formUnion(block.labelNames) }
        for block in pending { for series in block.series { names.formUnion(series.labels.map(\.name)) } }
        return names.sorted()
    }

    public func labelValues(_ name: String, _ matchers: [LabelMatcher] = []) -> [String] {
        if !matchers.isEmpty { return Array(Set(series(matchers).compactMap { $0[name] })).sorted() }
        var values = Set(head.labelValues(name))
        let (persisted, pending) = blocks.withLock { ($0.persisted, $0.pending) }
        for block in persisted { values.formUnion(block.labelValues(name)) }
        for block in pending { for series in block.series { if let value = series.labels[name] { values.insert(value) } } }
        return values.sorted()
    }

    /// Deletes matching series' samples in `interval` (everything when nil): from the head at
    /// once, from blocks through tombstones (applied on read and dropped by compaction).
    @discardableResult
    public func delete(_ matchers: [LabelMatcher], interval: DeletedInterval? = nil) throws(StorageError) -> Int {
        var touched = head.delete(matchers, interval: interval)
        let everything = interval ?? DeletedInterval(minTime: .min, maxTime: .max)
        for block in persistedBlocks {
            touched += try block.delete(matchers, interval: everything)
        }
        return touched
    }

    public func statistics() -> HeadStatistics { head.statistics() }

    // MARK: - Maintenance (called by the TSDB maintenance service)

    /// Moves the head's samples before `boundary` into a pending block (served from memory
    /// until `persist` has written it). Nil when there was nothing to move.
    @discardableResult
    public func cutHead(before boundary: Int64, nowMilliseconds: Int64) -> PendingBlock? {
        // Under the blocks lock, so no reader finds the samples in neither place (see `select`).
        blocks.withLock { state -> PendingBlock? in
            let series = head.cut(before: boundary)
            guard !series.isEmpty else { return nil }
            let block = PendingBlock(id: BlockMeta.newID(nowMilliseconds: nowMilliseconds), series: series, end: boundary)
            state.pending.append(block)
            return block
        }
    }

    /// Writes a pending block to disk and serves it from there.
    public func persist(_ pending: PendingBlock) throws(StorageError) {
        let series = pending.series.map { BlockSeries(labels: $0.labels, chunks: BlockChunkPacker.pack($0.chunks)) }
        let meta = try BlockWriter(parentDirectory: directory).write(
            series, meta: BlockMeta(id: pending.id, minTime: 0, maxTime: pending.end, seriesCount: 0, sampleCount: 0, chunkCount: 0))
        let block = try PersistedBlock(directory: WALFiles.join(directory, meta.id))
        blocks.withLock { state in
            state.pending.removeAll { $0 === pending }
            state.persisted = Self.sorted(state.persisted + [block])
        }
        logger.info("wrote block", metadata: [
            "tenant": "\(tenant)", "block": "\(meta.id)", "minTime": "\(meta.minTime)", "maxTime": "\(meta.maxTime)",
            "series": "\(meta.seriesCount)", "samples": "\(meta.sampleCount)", "bytes": "\(block.sizeBytes)",
        ])
    }

    /// Merges one group of blocks if the plan finds one: overlapping blocks first, then adjacent
    /// blocks that together fill one of `ranges`. Returns whether it merged anything.
    public func compactOnce(ranges: [Int64], nowMilliseconds: Int64) throws(StorageError) -> Bool {
        let persisted = persistedBlocks
        guard let group = BlockCompactor.plan(persisted.map(\.meta), ranges: ranges) else { return false }
        let sources = persisted.filter { block in group.contains { $0.id == block.id } }
        var inputs: [[BlockSeries]] = []
        for block in sources {
            do {
                inputs.append(try block.allSeries())
            } catch {
                quarantine(block, reason: error)
                return true
            }
        }
        let merged = BlockCompactor.merge(inputs)
        let meta = try BlockWriter(parentDirectory: directory).write(
            merged,
            meta: BlockMeta(
                id: BlockMeta.newID(nowMilliseconds: nowMilliseconds), minTime: 0, maxTime: sources.map(\.meta.maxTime).max() ?? 1, seriesCount: 0, sampleCount: 0,
                chunkCount: 0, level: (sources.map(\.meta.level).max() ?? 0) + 1, compactedFrom: sources.map(\.id)))
        let block = try PersistedBlock(directory: WALFiles.join(directory, meta.id))
        let ids = Set(sources.map(\.id))
        blocks.withLock { state in state.persisted = Self.sorted(state.persisted.filter { !ids.contains($0.id) } + [block]) }
        for source in sources { try BlockFiles.removeTree(source.directory) }
        logger.info("compacted blocks", metadata: [
            "tenant": "\(tenant)", "block": "\(meta.id)", "sources": "\(sources.map(\.id))", "level": "\(meta.level)",
            "series": "\(meta.seriesCount)", "samples": "\(meta.sampleCount)", "bytes": "\(block.sizeBytes)",
        ])
        return true
    }

    /// Deletes blocks wholly before `cutoff` (ms), blocks whose every sample is deleted, and then
    /// the oldest blocks while the tenant's blocks take more than `maximumBytes`.
    /// Returns the ids removed.
    @discardableResult
    public func applyRetention(cutoff: Int64?, maximumBytes: Int?) throws(StorageError) -> [String] {
        var removed: [PersistedBlock] = []
        var remaining = persistedBlocks
        remaining.removeAll { block in
            let expired = cutoff.map { block.meta.maxTime <= $0 } ?? false
            if expired || block.isFullyDeleted { removed.append(block) }
            return expired || block.isFullyDeleted
        }
        if let maximumBytes {
            var sizes = remaining.map(\.sizeBytes)
            var total = sizes.reduce(0, +)
            while total > maximumBytes, !remaining.isEmpty {
                total -= sizes.removeFirst()
                removed.append(remaining.removeFirst())
            }
        }
        guard !removed.isEmpty else { return [] }
        let ids = Set(removed.map(\.id))
        blocks.withLock { $0.persisted.removeAll { ids.contains($0.id) } }
        for block in removed { try BlockFiles.removeTree(block.directory) }
        logger.info("removed blocks past retention", metadata: ["tenant": "\(tenant)", "blocks": "\(removed.map(\.id))"])
        return removed.map(\.id)
    }

    /// Removes the named blocks (retention by size, decided across tenants).
    public func removeBlocks(_ ids: Set<String>) throws(StorageError) {
        let removed = blocks.withLock { state in
            let removed = state.persisted.filter { ids.contains($0.id) }
            state.persisted.removeAll { ids.contains($0.id) }
            return removed
        }
        for block in removed { try BlockFiles.removeTree(block.directory) }
        if !removed.isEmpty {
            logger.info("removed blocks over the size limit", metadata: ["tenant": "\(tenant)", "blocks": "\(removed.map(\.id))"])
        }
    }

    /// Blocks cut from the head whose write failed; retried before the next cut.
    public var unpersistedBlocks: [PendingBlock] { blocks.withLock { $0.pending } }

    public var blocksSizeBytes: Int { persistedBlocks.reduce(0) { $0 + $1.sizeBytes } }

    // MARK: - Quarantine

    /// Moves a damaged block out of the way (kept for inspection, never read again).
    func quarantine(_ block: PersistedBlock, reason: any Error) {
        let wasServing = blocks.withLock { state in
            let count = state.persisted.count
            state.persisted.removeAll { $0 === block }
            return state.persisted.count != count
        }
        if wasServing { quarantine(path: block.directory, id: block.id, reason: reason) }
    }

    private func quarantine(path: String, id: String, reason: any Error) {
        let target = WALFiles.join(quarantineDirectory, "\(tenant.name).\(id)")
        do {
            try WALFiles.createDirectories(quarantineDirectory)
            if BlockFiles.exists(target) { try BlockFiles.removeTree(target) }
            try WALFiles.rename(path, target)
            logger.error("quarantined a damaged block; the other blocks keep serving", metadata: [
                "tenant": "\(tenant)", "block": "\(id)", "moved_to": "\(target)", "error": "\(reason)",
            ])
        } catch {
            logger.error("a damaged block could not be moved to quarantine; it is no longer read", metadata: [
                "tenant": "\(tenant)", "block": "\(id)", "path": "\(path)", "error": "\(reason)", "move_error": "\(error)",
            ])
        }
    }
}
