import Dispatch
import LoupeModel
import Synchronization

/// The log store in Loki's model: per tenant, streams keyed by their label set, an inverted
/// index from label pairs to streams, and each stream's entries in compressed chunks.
///
/// New entries go to the head: per stream, an open run that is sealed into a chunk when full.
/// A cut moves the whole head into a `LogBlock` (queried from memory until it is written, then
/// from its file), after which the WAL records it came from can go. Entries arrive already
/// durable (the WAL holds them); out-of-order entries are accepted, a selection merges by time.
public final class LogStreamStore: Sendable {
    public struct Options: Sendable {
        /// An open run is sealed into a compressed chunk past this many line bytes...
        public var chunkBytes: Int
        /// ...or this many entries.
        public var chunkEntries: Int

        /// Tenants whose retention differs from everyone's (Loki's per-tenant `retention_period`
        /// and a size of their own).
        public var tenantRetention: [Tenant: TenantRetention]

        public init(chunkBytes: Int = 1 << 20, chunkEntries: Int = 16_384, tenantRetention: [Tenant: TenantRetention] = [:]) {
            self.chunkBytes = max(1, chunkBytes)
            self.chunkEntries = max(1, chunkEntries)
            self.tenantRetention = tenantRetention
        }
    }

    /// One tenant's retention, in place of the global one where set.
    public struct TenantRetention: Sendable, Equatable {
        /// Entries older than this (nanoseconds) go, shorter or longer than the global period;
        /// 0 keeps everything.
        public var periodNanoseconds: UInt64?
        /// The tenant's block files stay under this many bytes, oldest first.
        public var maximumBytes: Int?

        public init(periodNanoseconds: UInt64? = nil, maximumBytes: Int? = nil) {
            self.periodNanoseconds = periodNanoseconds
            self.maximumBytes = maximumBytes
        }
    }

    public struct Statistics: Sendable, Equatable {
        public var tenants = 0
        public var streams = 0
        public var entries = 0
        /// Bytes of the lines held.
        public var lineBytes = 0
        /// Bytes the store holds them in (compressed chunks, open runs, block files).
        public var storedBytes = 0
        /// Line bytes in the heads (not yet cut into blocks).
        public var headLineBytes = 0
        public var blocks = 0
        /// Bytes of block files on disk.
        public var blockFileBytes = 0

        public init() {}
    }

    struct Stream {
        let labels: Labels
        var chunks: [LogChunk] = []
        /// Runs being sealed outside the lock: still served from here until their chunk replaces them.
        var sealing: [(ticket: UInt64, entries: [LogEntry])] = []
        /// Not yet compressed, in time order.
        var open: [LogEntry] = []
        var openBytes = 0
        var minTime = Int64.max
        var maxTime = Int64.min

        var entryCount: Int { chunks.reduce(open.count + sealing.reduce(0) { $0 + $1.entries.count }) { $0 + $1.count } }
    }

    struct TenantState {
        var streams: [Stream] = []
        var indexByLabels: [Labels: Int] = [:]
        /// name -> value -> stream indices (ascending).
        var postings: [String: [String: [Int]]] = [:]
        var headLineBytes = 0
        /// Cut blocks, oldest first: in memory until written, then mapped from their files.
        var blocks: [LogBlock] = []
    }

    /// A run to seal outside the lock.
    private struct SealJob {
        let tenant: Tenant
        let labels: Labels
        let ticket: UInt64
        let entries: [LogEntry]
    }

    public let options: Options
    /// Where blocks live (`<data>/logs/<tenant>/*.lblk`), or nil for a memory-only store.
    public let directory: String?
    private let tenants = Mutex<[Tenant: TenantState]>([:])
    private let nextTicket = Atomic<UInt64>(1)
    /// Block files that could not be opened at start (moved aside as `.corrupt`), with why.
    public let openingProblems: [String]
    /// The last cut whose blocks are all written, read at start: replay uses it to skip what blocks hold.
    public let checkpoint: Mutex<LogCheckpoint?>

    public init(options: Options = Options()) {
        self.options = options
        self.directory = nil
        self.openingProblems = []
        self.checkpoint = Mutex(nil)
    }

    /// Opens the store under `directory`: every tenant's block files. A file that fails its checks
    /// is renamed to `<name>.corrupt` and reported in `openingProblems`; the rest serve.
    public init(directory: String, options: Options = Options()) throws(StorageError) {
        self.options = options
        self.directory = directory
        try WALFiles.createDirectories(directory)
        checkpoint = Mutex(try LogCheckpoint.read(directory: directory))
        var problems: [String] = []
        var opened: [Tenant: TenantState] = [:]
        for (tenant, paths) in BlockFiles.tenantFiles(in: directory, fileExtension: LogBlock.fileExtension) {
            var state = TenantState()
            for path in paths {
                do {
                    state.blocks.append(try LogBlock(opening: path))
                } catch {
                    problems.append("\(path): \(error)")
                    try? WALFiles.rename(path, path + ".corrupt")
                }
            }
            state.blocks.sort { ($0.minTime, $0.id) < ($1.minTime, $1.id) }
            if !state.blocks.isEmpty { opened[tenant] = state }
        }
        tenants.withLock { $0 = opened }
        openingProblems = problems
    }

    // MARK: Appending

    /// Adds entries (already durable). Returns how many were added.
    @discardableResult
    public func append(_ streams: [LogStream], tenant: Tenant) -> Int {
        let options = options
        var jobs: [SealJob] = []
        tenants.withLock { all in
            // In place: a copy of the state would share every stream's buffers with the dictionary,
            // and each append would then copy the whole open run (retaining every entry).
            Self.append(streams, tenant: tenant, to: &all[tenant, default: TenantState()], options: options) { entries in
                let ticket = nextTicket.wrappingAdd(1, ordering: .relaxed).oldValue
                jobs.append(SealJob(tenant: tenant, labels: entries.labels, ticket: ticket, entries: entries.entries))
                return ticket
            }
        }
        // Compression outside the lock, so appends of other streams and queries go on meanwhile.
        for job in jobs { seal(job) }
        return streams.reduce(0) { $0 + $1.entries.count }
    }

    private static func append(
        _ streams: [LogStream], tenant: Tenant, to state: inout TenantState, options: Options,
        startSealing: (_ run: (labels: Labels, entries: [LogEntry])) -> UInt64
    ) {
        for incoming in streams where !incoming.entries.isEmpty {
            let index: Int
            if let existing = state.indexByLabels[incoming.labels] {
                index = existing
            } else {
                index = state.streams.count
                state.streams.append(Stream(labels: incoming.labels))
                state.indexByLabels[incoming.labels] = index
                for label in incoming.labels { state.postings[label.name, default: [:]][label.value, default: []].append(index) }
            }
            let bytes = Self.add(incoming.entries, to: &state.streams[index], options: options) { entries in
                startSealing((incoming.labels, entries))
            }
            state.headLineBytes += bytes
        }
    }

    /// Adds entries to a stream's open run; full runs move to `sealing` under a ticket from
    /// `startSealing`. Returns the line bytes added.
    private static func add(
        _ entries: [LogEntry], to stream: inout Stream, options: Options, startSealing: ([LogEntry]) -> UInt64
    ) -> Int {
        var bytes = 0
        for entry in entries {
            stream.minTime = min(stream.minTime, entry.timestamp)
            stream.maxTime = max(stream.maxTime, entry.timestamp)
            if let last = stream.open.last, last.timestamp > entry.timestamp {
                // Out of order within the open run: keep it sorted (stable for equal times).
                var position = stream.open.count
                while position > 0, stream.open[position - 1].timestamp > entry.timestamp { position -= 1 }
                stream.open.insert(entry, at: position)
            } else {
                stream.open.append(entry)
            }
            let lineBytes = entry.line.utf8.count
            stream.openBytes += lineBytes
            bytes += lineBytes
            if stream.openBytes >= options.chunkBytes || stream.open.count >= options.chunkEntries {
                let run = stream.open
                stream.sealing.append((startSealing(run), run))
                stream.open.removeAll(keepingCapacity: true)
                stream.openBytes = 0
            }
        }
        return bytes
    }

    private func seal(_ job: SealJob) {
        let chunk = LogChunk(job.entries)
        tenants.withLock { all in
            // A cut (or retention) in between took the run already: the chunk is not needed.
            guard let index = all[job.tenant]?.indexByLabels[job.labels],
                let position = all[job.tenant]?.streams[index].sealing.firstIndex(where: { $0.ticket == job.ticket })
            else { return }
            all[job.tenant]!.streams[index].sealing.remove(at: position)
            all[job.tenant]!.streams[index].chunks.append(chunk)
        }
    }

    // MARK: Cutting heads into blocks

    /// Line bytes in the heads of all tenants.
    public var headLineBytes: Int {
        tenants.withLock { all in all.values.reduce(0) { $0 + $1.headLineBytes } }
    }

    /// Moves every tenant's head into a new in-memory block (served from memory until
    /// `persistBlocks` writes it) and empties the heads. Returns how many blocks were made.
    /// Run under the pipeline's cut gate, right after the WAL marker.
    @discardableResult
    public func cutHeads() -> Int {
        tenants.withLock { all in
            var made = 0
            for (tenant, state) in all {
                var streams: [LogBlock.Stream] = []
                for stream in state.streams {
                    var chunks = stream.chunks
                    for run in stream.sealing { chunks.append(LogChunk(run.entries)) }
                    if !stream.open.isEmpty { chunks.append(LogChunk(stream.open)) }
                    guard !chunks.isEmpty else { continue }
                    chunks.sort { $0.minTime < $1.minTime }
                    streams.append(LogBlock.Stream(labels: stream.labels, chunks: chunks))
                }
                var next = TenantState()
                next.blocks = state.blocks
                if !streams.isEmpty {
                    let id = String(UInt64.random(in: 0...UInt64.max), radix: 16)
                    next.blocks.append(LogBlock(id: id, path: nil, streams: streams))
                    made += 1
                }
                all[tenant] = next
            }
            return made
        }
    }

    /// Writes every in-memory block to its file and serves it from there. Returns the blocks
    /// written; stops at the first failure (the block stays in memory and the next call retries).
    @discardableResult
    public func persistBlocks() throws(StorageError) -> Int {
        guard let directory else { return 0 }
        let pending: [(Tenant, LogBlock)] = tenants.withLock { all in
            all.flatMap { tenant, state in state.blocks.filter { $0.path == nil }.map { (tenant, $0) } }
        }
        var written = 0
        for (tenant, block) in pending {
            let tenantDirectory = WALFiles.join(directory, tenant.name)
            try WALFiles.createDirectories(tenantDirectory)
            let onDisk = try block.write(directory: tenantDirectory)
            tenants.withLock { all in
                guard let position = all[tenant]?.blocks.firstIndex(where: { $0 === block }) else { return }
                all[tenant]!.blocks[position] = onDisk
            }
            written += 1
        }
        return written
    }

    /// Whether every cut block is in its file.
    public var allBlocksPersisted: Bool {
        tenants.withLock { all in all.values.allSatisfy { $0.blocks.allSatisfy { $0.path != nil } } }
    }

    /// Records a cut whose blocks are all written, so replay skips the WAL records it holds.
    public func saveCheckpoint(_ new: LogCheckpoint) throws(StorageError) {
        guard let directory else { return }
        try new.write(directory: directory)
        checkpoint.withLock { $0 = new }
    }

    // MARK: Reading

    /// Streams of `tenant` matching every matcher, each with its entries in `[start, end]`
    /// (nanoseconds) in time order; streams without such entries are left out.
    ///
    /// `requiredSubstrings`: groups of alternatives of which every kept line holds at least one
    /// per group (`|=` filters); chunks whose content index rules a group out are skipped. Entries
    /// of other chunks are returned as they are: the caller still filters.
    public func select(
        tenant: Tenant, matchers: [LabelMatcher], start: Int64, end: Int64, requiredSubstrings: [[String]] = []
    ) throws(StorageError) -> [LogStream] {
        struct Candidate {
            var chunks: [LogChunk] = []
            var raw: [[LogEntry]] = []
        }
        var order: [Labels] = []
        var candidates: [Labels: Candidate] = [:]
        func take(_ labels: Labels, chunks: [LogChunk], raw: [[LogEntry]]) {
            let chunks = chunks.filter { chunk in
                chunk.maxTime >= start && chunk.minTime <= end && requiredSubstrings.allSatisfy { chunk.mayContainAny(of: $0) }
            }
            guard !chunks.isEmpty || raw.contains(where: { !$0.isEmpty }) else { return }
            if candidates[labels] == nil { order.append(labels) }
            candidates[labels, default: Candidate()].chunks.append(contentsOf: chunks)
            candidates[labels, default: Candidate()].raw.append(contentsOf: raw)
        }
        tenants.withLock { all in
            guard let state = all[tenant] else { return }
            for block in state.blocks where block.overlaps(start: start, end: end) {
                for index in block.matching(matchers) {
                    take(block.streams[index].labels, chunks: block.streams[index].chunks, raw: [])
                }
            }
            for index in Self.matching(matchers, in: state) {
                let stream = state.streams[index]
                guard stream.maxTime >= start, stream.minTime <= end else { continue }
                take(stream.labels, chunks: stream.chunks, raw: stream.sealing.map(\.entries) + [stream.open])
            }
        }
        // Decompression outside the lock, streams spread over the cores.
        let work = order.compactMap { labels in candidates[labels].map { (labels, $0) } }
        var decoded = [Result<LogStream, StorageError>](repeating: .success(LogStream(labels: Labels(), entries: [])), count: work.count)
        decoded.withUnsafeMutableBufferPointer { buffer in
            let slots = DisjointSlots(buffer)
            let decode: @Sendable (Int) -> Void = { index in
                let (labels, candidate) = work[index]
                slots[index] = Result { () throws(StorageError) in
                    LogStream(labels: labels, entries: try Self.merge(candidate.chunks, candidate.raw, start: start, end: end))
                }
            }
            if work.count > 1 && candidates.values.reduce(0, { $0 + $1.chunks.count }) > 1 {
                DispatchQueue.concurrentPerform(iterations: work.count, execute: decode)
            } else {
                for index in work.indices { decode(index) }
            }
        }
        var result: [LogStream] = []
        for outcome in decoded {
            let stream = try outcome.get()
            if !stream.entries.isEmpty { result.append(stream) }
        }
        return result
    }

    /// A stream's entries in `[start, end]` from its chunks and raw runs, in time order.
    private static func merge(_ chunks: [LogChunk], _ raw: [[LogEntry]], start: Int64, end: Int64) throws(StorageError) -> [LogEntry] {
        var entries: [LogEntry] = []
        var sorted = true
        func add(_ more: [LogEntry]) {
            if let last = entries.last, let first = more.first, first.timestamp < last.timestamp { sorted = false }
            entries.append(contentsOf: more)
        }
        for chunk in chunks.sorted(by: { $0.minTime < $1.minTime }) {
            add(try chunk.entries(from: start, through: end))
        }
        for run in raw { add(run.filter { $0.timestamp >= start && $0.timestamp <= end }) }
        if !sorted {
            entries = entries.enumerated().sorted { ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset) }.map(\.element)
        }
        return entries
    }

    /// Indices of the head streams matching all matchers.
    static func matching(_ matchers: [LabelMatcher], in state: TenantState) -> [Int] {
        matching(matchers, postings: state.postings, count: state.streams.count) { state.streams[$0].labels }
    }

    /// Indices of the streams matching all matchers, narrowed through the postings of the
    /// equality matchers first.
    static func matching(
        _ matchers: [LabelMatcher], postings: [String: [String: [Int]]], count: Int, labels: (Int) -> Labels
    ) -> [Int] {
        var candidates: [Int]?
        for matcher in matchers where matcher.kind == .equal && !matcher.value.isEmpty {
            let list = postings[matcher.name]?[matcher.value] ?? []
            if let current = candidates {
                let set = Set(list)
                candidates = current.filter { set.contains($0) }
            } else {
                candidates = list
            }
        }
        let pool = candidates ?? Array(0..<count)
        return pool.filter { index in
            let streamLabels = labels(index)
            return matchers.allSatisfy { $0.matches(streamLabels[$0.name] ?? "") }
        }
    }

    /// Label sets (with entries in `[start, end]`) of the tenant's streams matching `matchers`, head and blocks.
    private func streamLabels(tenant: Tenant, matchers: [LabelMatcher], start: Int64, end: Int64) -> Set<Labels> {
        tenants.withLock { all in
            guard let state = all[tenant] else { return [] }
            var found: Set<Labels> = []
            for block in state.blocks where block.overlaps(start: start, end: end) {
                for index in block.matching(matchers) {
                    let stream = block.streams[index]
                    if stream.chunks.contains(where: { $0.maxTime >= start && $0.minTime <= end }) { found.insert(stream.labels) }
                }
            }
            for index in Self.matching(matchers, in: state) {
                let stream = state.streams[index]
                if stream.maxTime >= start && stream.minTime <= end { found.insert(stream.labels) }
            }
            return found
        }
    }

    /// Label names of the tenant's streams with entries in `[start, end]`, sorted.
    public func labelNames(tenant: Tenant, start: Int64, end: Int64) -> [String] {
        var names: Set<String> = []
        for labels in streamLabels(tenant: tenant, matchers: [], start: start, end: end) {
            for label in labels { names.insert(label.name) }
        }
        return names.sorted()
    }

    /// Values of one label across the tenant's streams with entries in `[start, end]` (and
    /// matching `matchers`), sorted.
    public func labelValues(tenant: Tenant, name: String, matchers: [LabelMatcher] = [], start: Int64, end: Int64) -> [String] {
        Set(streamLabels(tenant: tenant, matchers: matchers, start: start, end: end).compactMap { $0[name] }).sorted()
    }

    /// Label sets of the streams matching `matchers` with entries in `[start, end]`.
    public func series(tenant: Tenant, matchers: [LabelMatcher], start: Int64, end: Int64) -> [Labels] {
        streamLabels(tenant: tenant, matchers: matchers, start: start, end: end).sorted()
    }

    /// Streams, chunks, entries and bytes of the streams matching `matchers` in `[start, end]`
    /// (Loki's `index/stats`; counts whole chunks that overlap the range, as Loki's index does).
    public func stats(tenant: Tenant, matchers: [LabelMatcher], start: Int64, end: Int64) -> (streams: Int, chunks: Int, entries: Int, bytes: Int) {
        tenants.withLock { all in
            guard let state = all[tenant] else { return (0, 0, 0, 0) }
            var result = (streams: 0, chunks: 0, entries: 0, bytes: 0)
            var streams: Set<Labels> = []
            func count(_ chunk: LogChunk) {
                guard chunk.maxTime >= start && chunk.minTime <= end else { return }
                result.chunks += 1
                result.entries += chunk.count
                result.bytes += chunk.lineBytes
            }
            for block in state.blocks where block.overlaps(start: start, end: end) {
                for index in block.matching(matchers) {
                    let stream = block.streams[index]
                    let before = result.chunks
                    stream.chunks.forEach(count)
                    if result.chunks > before { streams.insert(stream.labels) }
                }
            }
            for index in Self.matching(matchers, in: state) {
                let stream = state.streams[index]
                guard stream.maxTime >= start, stream.minTime <= end else { continue }
                streams.insert(stream.labels)
                stream.chunks.forEach(count)
                for run in stream.sealing.map(\.entries) + [stream.open] {
                    let inRange = run.filter { $0.timestamp >= start && $0.timestamp <= end }
                    guard !inRange.isEmpty else { continue }
                    result.chunks += 1
                    result.entries += inRange.count
                    result.bytes += inRange.reduce(0) { $0 + $1.line.utf8.count }
                }
            }
            result.streams = streams.count
            return result
        }
    }

    // MARK: Retention

    /// Drops entries older than the cutoff (the global retention) from every tenant without a
    /// period of its own: head entries one by one, blocks once wholly expired (their files
    /// deleted). Returns how many entries went.
    @discardableResult
    public func removeEntries(olderThan cutoff: Int64) -> Int {
        let overrides = options.tenantRetention
        return removeEntries { tenant in overrides[tenant]?.periodNanoseconds == nil ? cutoff : nil }
    }

    /// Applies the tenants' own retention periods at wall time `nowUnixNano`. Returns how many entries went.
    @discardableResult
    public func applyTenantRetention(nowUnixNano: Int64) -> Int {
        let overrides = options.tenantRetention
        guard overrides.values.contains(where: { $0.periodNanoseconds != nil }) else { return 0 }
        return removeEntries { tenant in
            guard let period = overrides[tenant]?.periodNanoseconds, period > 0 else { return nil }
            return nowUnixNano - Int64(clamping: period)
        }
    }

    /// The entries older than `cutoff(tenant)` go; nil leaves a tenant alone.
    private func removeEntries(olderThan cutoff: (Tenant) -> Int64?) -> Int {
        let (removed, doomed) = tenants.withLock { all -> (Int, [LogBlock]) in
            var removed = 0
            var doomed: [LogBlock] = []
            for (tenant, state) in all {
                guard let cutoff = cutoff(tenant) else { continue }
                var kept = TenantState()
                kept.blocks = state.blocks.filter { block in
                    guard block.maxTime < cutoff else { return true }
                    removed += block.entryCount
                    doomed.append(block)
                    return false
                }
                for var stream in state.streams {
                    let before = stream.entryCount
                    // A chunk straddling the cutoff keeps its older entries until it is wholly expired.
                    stream.chunks.removeAll { $0.maxTime < cutoff }
                    stream.open.removeAll { $0.timestamp < cutoff }
                    stream.openBytes = stream.open.reduce(0) { $0 + $1.line.utf8.count }
                    removed += before - stream.entryCount
                    guard stream.entryCount > 0 else { continue }
                    stream.minTime = min(
                        stream.chunks.map(\.minTime).min() ?? .max, stream.sealing.compactMap(\.entries.first?.timestamp).min() ?? .max,
                        stream.open.first?.timestamp ?? .max)
                    kept.headLineBytes += stream.chunks.reduce(stream.openBytes) { $0 + $1.lineBytes }
                        + stream.sealing.reduce(0) { $0 + $1.entries.reduce(0) { $0 + $1.line.utf8.count } }
                    let index = kept.streams.count
                    kept.indexByLabels[stream.labels] = index
                    for label in stream.labels { kept.postings[label.name, default: [:]][label.value, default: []].append(index) }
                    kept.streams.append(stream)
                }
                all[tenant] = kept.streams.isEmpty && kept.blocks.isEmpty ? nil : kept
            }
            return (removed, doomed)
        }
        for block in doomed { if let path = block.path { try? WALFiles.unlink(path) } }
        return removed
    }

    /// Deletes each tenant's oldest written blocks while its block files exceed its own
    /// `TenantRetention.maximumBytes`, else `maximumBytesPerTenant` (nil: no limit).
    /// Returns the bytes freed.
    @discardableResult
    public func applySizeRetention(maximumBytesPerTenant: Int?) -> Int {
        let overrides = options.tenantRetention
        let doomed = tenants.withLock { all -> [LogBlock] in
            var doomed: [LogBlock] = []
            for (tenant, state) in all {
                guard let maximumBytes = overrides[tenant]?.maximumBytes ?? maximumBytesPerTenant else { continue }
                var total = state.blocks.reduce(0) { $0 + ($1.path == nil ? 0 : $1.sizeBytes) }
                guard total > maximumBytes else { continue }
                var blocks = state.blocks
                // Oldest data first, as Loki's and Prometheus's size retention do.
                for block in state.blocks.filter({ $0.path != nil }).sorted(by: { $0.maxTime < $1.maxTime }) where total > maximumBytes {
                    total -= block.sizeBytes
                    blocks.removeAll { $0 === block }
                    doomed.append(block)
                }
                all[tenant]!.blocks = blocks
            }
            return doomed
        }
        var freed = 0
        for block in doomed {
            guard let path = block.path else { continue }
            if (try? WALFiles.unlink(path)) != nil { freed += block.sizeBytes }
        }
        return freed
    }

    public func statistics() -> Statistics {
        tenants.withLock { all in
            var statistics = Statistics()
            statistics.tenants = all.count
            for state in all.values {
                var labels: Set<Labels> = []
                for stream in state.streams {
                    labels.insert(stream.labels)
                    let sealingBytes = stream.sealing.reduce(0) { $0 + $1.entries.reduce(0) { $0 + $1.line.utf8.count } }
                    statistics.entries += stream.entryCount
                    statistics.lineBytes += stream.chunks.reduce(stream.openBytes + sealingBytes) { $0 + $1.lineBytes }
                    statistics.storedBytes += stream.chunks.reduce(stream.openBytes + sealingBytes) { $0 + $1.compressedBytes }
                }
                statistics.headLineBytes += state.headLineBytes
                for block in state.blocks {
                    for stream in block.streams { labels.insert(stream.labels) }
                    statistics.entries += block.entryCount
                    statistics.lineBytes += block.lineBytes
                    statistics.storedBytes += block.sizeBytes
                    statistics.blocks += 1
                    if block.path != nil { statistics.blockFileBytes += block.sizeBytes }
                }
                statistics.streams += labels.count
            }
            return statistics
        }
    }
}
