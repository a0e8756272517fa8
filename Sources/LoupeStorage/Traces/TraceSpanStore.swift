import Dispatch
import LoupeModel
import LoupeWire
import Synchronization

/// Spans by trace. New spans go to the head: the batches as they arrived (compact protobuf,
/// through `EmbeddedTraceStore`) plus, per tenant, a trace-ID index naming the batches that hold
/// each trace and a summary of it. A cut freezes the head; its traces are then written as one
/// immutable columnar `TraceBlock` (served from the frozen head until the file is there), and
/// the WAL records they came from can go.
///
/// A trace whose spans came in several requests is merged on read, whether the parts are in
/// the head, frozen heads or blocks: the newest part of such a trace is marked `continued`
/// when it is first seen, so a scan resolves the whole trace once, from its newest part.
public final class TraceSpanStore: Sendable {
    /// Distinct values kept per tag for `/api/search/tag/<name>/values`; a tag with more (an ID)
    /// stops collecting.
    public static let maximumValuesPerTag = 1_000
    /// Span attributes feed tag names and values from one span in this many (the first of each
    /// batch always); resource attributes from every resource.
    public static let tagSampling = TraceBatchDigest.attributeSampling

    public enum TagScope: String, Sendable, CaseIterable {
        case span, resource
    }

    public struct Operation: Sendable, Hashable {
        public var name: String
        public var kind: SpanKind
    }

    struct TraceEntry {
        var summary: TraceSummary
        /// The batches holding the trace's spans, in arrival order.
        var chunks: [UInt64]
        /// Older parts of the trace are in frozen heads or blocks.
        var continued: Bool
    }

    struct Head {
        var traces: [TraceID: TraceEntry] = [:]
        var chunks: [UInt64] = []
        /// What its spans show (the block keeps it, so the lists survive a restart).
        var catalog = TraceCatalog()
        /// Encoded bytes of its batches.
        var bytes = 0
    }

    struct FrozenHead {
        let sequence: UInt64
        var head: Head
    }

    struct TenantState {
        var head = Head()
        /// Cut, not yet written: oldest first.
        var frozen: [FrozenHead] = []
        /// Oldest first.
        var blocks: [TraceBlock] = []
        var catalog = TraceCatalog()

        func contains(_ id: TraceID) -> Bool {
            frozen.contains { $0.head.traces[id] != nil } || blocks.contains { $0.find(id) != nil }
        }
    }

    let batches = EmbeddedTraceStore()
    private let tenants = Mutex<[Tenant: TenantState]>([:])
    /// Where blocks live (`<data>/traces/<tenant>/*.tblk`), or nil for a memory-only store.
    public let directory: String?
    /// The last cut whose blocks are all written, read at start: replay uses it to skip what blocks hold.
    public let checkpoint: Mutex<TraceCheckpoint?>
    /// Block files that could not be opened at start (moved aside as `.corrupt`), with why.
    public let openingProblems: [String]
    private let nextSequence: Atomic<UInt64>

    public init() {
        directory = nil
        checkpoint = Mutex(nil)
        openingProblems = []
        nextSequence = Atomic(1)
    }

    /// Opens the store under `directory`: every tenant's block files. A file that fails its checks
    /// is renamed to `<name>.corrupt` and reported in `openingProblems`; the rest serve. Blocks of
    /// cuts after the checkpoint are removed: the WAL still holds their spans.
    public init(directory: String) throws(StorageError) {
        self.directory = directory
        try WALFiles.createDirectories(directory)
        let saved = try TraceCheckpoint.read(directory: directory)
        checkpoint = Mutex(saved)
        let covered = saved?.sequence ?? 0
        var highest = covered
        var problems: [String] = []
        var opened: [Tenant: TenantState] = [:]
        for (tenant, paths) in BlockFiles.tenantFiles(in: directory, fileExtension: TraceBlock.fileExtension) {
            var state = TenantState()
            for path in paths {
                do {
                    let block = try TraceBlock(opening: path)
                    guard block.sequence <= covered else {
                        try? WALFiles.unlink(path)
                        continue
                    }
                    highest = max(highest, block.sequence)
                    state.catalog.merge(block.catalog)
                    state.blocks.append(block)
                } catch {
                    problems.append("\(path): \(error)")
                    try? WALFiles.rename(path, path + ".corrupt")
                }
            }
            state.blocks.sort { $0.sequence < $1.sequence }
            if !state.blocks.isEmpty { opened[tenant] = state }
        }
        tenants.withLock { $0 = opened }
        openingProblems = problems
        nextSequence = Atomic(highest + 1)
    }

    // MARK: Writing

    func index(_ batch: TraceBatchDigest, tenant: Tenant, bytes: Int, chunk: UInt64) {
        // Summaries and tags are gathered outside the lock, then merged under it.
        var summaries: [TraceID: TraceSummary] = [:]
        // By pointer: iterating by value copies (retains) each digest's strings.
        batch.spans.withUnsafeBufferPointer { spans in
            for index in spans.indices {
                summaries[spans[index].traceID, default: TraceSummary(traceID: spans[index].traceID)].include(spans[index], of: batch)
            }
        }
        var catalog = TraceCatalog()
        catalog.add(batch)
        tenants.withLock { all in
            var state = all.removeValue(forKey: tenant) ?? TenantState()
            let hasOlderParts = !state.frozen.isEmpty || !state.blocks.isEmpty
            for (traceID, incoming) in summaries {
                if var entry = state.head.traces.removeValue(forKey: traceID) {
                    entry.summary.merge(incoming)
                    entry.chunks.append(chunk)
                    state.head.traces[traceID] = entry
                } else {
                    state.head.traces[traceID] = TraceEntry(
                        summary: incoming, chunks: [chunk], continued: hasOlderParts && state.contains(traceID))
                }
            }
            state.head.chunks.append(chunk)
            state.head.bytes += bytes
            state.head.catalog.merge(catalog, alsoInto: &state.catalog)
            all[tenant] = state
        }
    }

    // MARK: Cutting heads into blocks

    /// Encoded bytes in the heads of all tenants.
    public var headBytes: Int {
        tenants.withLock { all in all.values.reduce(0) { $0 + $1.head.bytes } }
    }

    /// Encoded bytes not yet in block files: heads and frozen heads.
    public var unflushedBytes: Int {
        tenants.withLock { all in all.values.reduce(0) { $0 + $1.head.bytes + $1.frozen.reduce(0) { $0 + $1.head.bytes } } }
    }

    /// Above this many unflushed bytes the write path waits for blocks to be written (set by the
    /// process from its flush size; unlimited for a memory-only store).
    public let maximumUnflushedBytes = Atomic<Int>(.max)

    /// Whether the head may take more spans now.
    public var acceptsMoreSpans: Bool { unflushedBytes < maximumUnflushedBytes.load(ordering: .relaxed) }

    /// Freezes every tenant's head under one new sequence number (served from memory until
    /// `persistBlocks` writes it) and starts empty heads. Returns the sequence number. Run under
    /// the pipeline's cut gate, right after the WAL marker.
    public func cutHeads() -> UInt64 {
        let sequence = nextSequence.wrappingAdd(1, ordering: .relaxed).oldValue
        tenants.withLock { all in
            for tenant in Array(all.keys) where !all[tenant]!.head.chunks.isEmpty {
                let head = all[tenant]!.head
                all[tenant]!.frozen.append(FrozenHead(sequence: sequence, head: head))
                all[tenant]!.head = Head()
            }
        }
        return sequence
    }

    /// Writes every frozen head as a block file and serves it from there. Returns the blocks
    /// written; stops at the first failure (the head stays frozen and the next call retries).
    @discardableResult
    public func persistBlocks() throws(StorageError) -> Int {
        guard let directory else { return 0 }
        let pending: [(Tenant, FrozenHead)] = tenants.withLock { all in
            all.flatMap { tenant, state in state.frozen.map { (tenant, $0) } }
        }
        var written = 0
        for (tenant, frozen) in pending {
            let chunkIDs = Set(frozen.head.chunks)
            let block = try writeBlock(
                of: frozen, chunks: batches.encodedChunks(tenant: tenant, ids: chunkIDs), directory: WALFiles.join(directory, tenant.name))
            tenants.withLock { all in
                guard var state = all.removeValue(forKey: tenant) else { return }
                state.frozen.removeAll { $0.sequence == frozen.sequence }
                if let block {
                    state.blocks.append(block)
                    state.blocks.sort { $0.sequence < $1.sequence }
                }
                all[tenant] = state
            }
            batches.removeChunks(tenant: tenant, ids: chunkIDs)
            written += block == nil ? 0 : 1
        }
        return written
    }

    /// Writes a frozen head's traces as a block file and opens it (nil when none of its traces has
    /// spans left). The spans are read from their stored protobuf without being decoded into values.
    private func writeBlock(of frozen: FrozenHead, chunks: [[UInt8]], directory tenantDirectory: String) throws(StorageError) -> TraceBlock? {
        let total = chunks.reduce(0) { $0 + $1.count }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 8)
        defer { buffer.deallocate() }
        var located: [LocatedSpan] = []
        var origins = InternTable<SpanOrigin>()
        var offset = 0
        for chunk in chunks {
            chunk.withUnsafeBytes { bytes in
                UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<offset + bytes.count]).copyMemory(from: bytes)
            }
            let first = located.count
            let chunkOrigins: [LocatedOrigin]
            do {
                chunkOrigins = try OTLPProtobuf.locateSpans(UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + chunk.count]), into: &located)
            } catch {
                throw StorageError(.corrupt, "a stored trace batch no longer decodes: \(error)")
            }
            let blockOrigins = chunkOrigins.map { origin in
                origins.index(of: SpanOrigin(
                    resource: origin.resource, resourceSchemaURL: origin.resourceSchemaURL, scope: origin.scope,
                    scopeSchemaURL: origin.scopeSchemaURL))
            }
            for index in first..<located.count {
                located[index].origin = blockOrigins[located[index].origin]
                located[index].range = located[index].range.lowerBound + offset..<located[index].range.upperBound + offset
            }
            offset += chunk.count
        }
        // By trace, each trace's spans in arrival order (buffer offsets grow with it).
        located.sort { ($0.traceID, $0.range.lowerBound) < ($1.traceID, $1.range.lowerBound) }
        var inputs: [TraceBlock.StoredInput] = []
        inputs.reserveCapacity(frozen.head.traces.count)
        var first = 0
        while first < located.count {
            var next = first + 1
            while next < located.count && located[next].traceID == located[first].traceID { next += 1 }
            if let entry = frozen.head.traces[located[first].traceID] {
                inputs.append(TraceBlock.StoredInput(summary: entry.summary, continued: entry.continued, spans: located[first..<next]))
            }
            first = next
        }
        guard !inputs.isEmpty else { return nil }
        try WALFiles.createDirectories(tenantDirectory)
        let image = try TraceBlock.build(
            sequence: frozen.sequence, stored: inputs, buffer: UnsafeRawBufferPointer(buffer), origins: origins.elements,
            catalog: frozen.head.catalog)
        let name = Self.hex16(frozen.sequence) + "-" + Self.hex16(UInt64.random(in: 0...UInt64.max))
        let path = WALFiles.join(tenantDirectory, name + TraceBlock.fileExtension)
        try BlockFiles.replaceFile(path, image, directory: tenantDirectory)
        return try TraceBlock(opening: path)
    }

    /// Sixteen hex digits, so file names sort by sequence.
    private static func hex16(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// Whether every cut head is in its block file.
    public var allBlocksPersisted: Bool {
        tenants.withLock { all in all.values.allSatisfy { $0.frozen.isEmpty } }
    }

    /// Records a cut whose blocks are all written, so replay skips the WAL records it holds.
    public func saveCheckpoint(_ new: TraceCheckpoint) throws(StorageError) {
        guard let directory else { return }
        try new.write(directory: directory)
        checkpoint.withLock { $0 = new }
    }

    // MARK: Reading: lists

    /// The services seen (resource `service.name`), sorted.
    public func services(tenant: Tenant) -> [String] {
        tenants.withLock { all in (all[tenant]?.catalog.operations.keys.filter { !$0.isEmpty } ?? []).sorted() }
    }

    /// Span names seen for a service, sorted.
    public func spanNames(tenant: Tenant, service: String) -> [String] {
        Set(operations(tenant: tenant, service: service).map(\.name)).sorted()
    }

    /// Span names with their kinds seen for a service, sorted by name then kind.
    public func operations(tenant: Tenant, service: String) -> [Operation] {
        tenants.withLock { all in
            (all[tenant]?.catalog.operations[service] ?? []).sorted { ($0.name, $0.kind.rawValue) < ($1.name, $1.kind.rawValue) }
        }
    }

    /// Remote services (`peer.service`) a service's spans named, sorted.
    public func remoteServices(tenant: Tenant, service: String) -> [String] {
        tenants.withLock { all in (all[tenant]?.catalog.remoteServices[service] ?? []).sorted() }
    }

    /// Tag names seen, per scope, sorted.
    public func tagNames(tenant: Tenant) -> [TagScope: [String]] {
        tenants.withLock { all in
            (all[tenant]?.catalog.tagValues ?? [:]).mapValues { $0.keys.sorted() }
        }
    }

    /// Values seen for a tag (in the given scope, or any), sorted; at most `maximumValuesPerTag` per scope.
    public func tagValues(tenant: Tenant, name: String, scope: TagScope? = nil) -> [String] {
        tenants.withLock { all in
            guard let state = all[tenant] else { return [] }
            var values: Set<String> = []
            for candidate in TagScope.allCases where scope == nil || scope == candidate {
                values.formUnion(state.catalog.tagValues[candidate]?[name] ?? [])
            }
            return values.sorted()
        }
    }

    // MARK: Reading: traces

    /// Where one part of a trace is.
    enum PartLocation {
        case chunks([UInt64])
        case block(TraceBlock, Int)
    }

    /// The parts of a trace, newest first, and the batches the head parts name (taken under the
    /// same lock: a head written to a block meanwhile lets its batches go, the snapshot keeps them).
    private func parts(tenant: Tenant, id: TraceID) -> (
        found: [(summary: TraceSummary, location: PartLocation)], batches: EmbeddedSignalStore<TraceData>.ChunkSnapshot
    ) {
        tenants.withLock { all -> (found: [(summary: TraceSummary, location: PartLocation)], batches: EmbeddedSignalStore<TraceData>.ChunkSnapshot) in
            let headBatches = self.batches.snapshot(tenant: tenant)
            guard let state = all[tenant] else { return ([], headBatches) }
            var found: [(summary: TraceSummary, location: PartLocation)] = []
            if let entry = state.head.traces[id] { found.append((entry.summary, .chunks(entry.chunks))) }
            for frozen in state.frozen.reversed() {
                if let entry = frozen.head.traces[id] { found.append((entry.summary, .chunks(entry.chunks))) }
            }
            for block in state.blocks.reversed() {
                if let index = block.find(id) { found.append((block.summary(index), .block(block, index))) }
            }
            return (found, headBatches)
        }
    }

    /// A whole trace: its merged summary and every span with its origin, grouped as stored.
    private func wholeTrace(tenant: Tenant, id: TraceID) throws(StorageError) -> (summary: TraceSummary, data: TraceData)? {
        let (found, snapshot) = parts(tenant: tenant, id: id)
        guard var summary = found.first?.summary else { return nil }
        for part in found.dropFirst() { summary.merge(part.summary) }
        var chunkIDs = Set<UInt64>()
        var data = TraceData()
        var groups: [SpanOrigin: Int] = [:]
        // Oldest first, so spans read back in arrival order.
        for part in found.reversed() {
            switch part.location {
            case .chunks(let ids): chunkIDs.formUnion(ids)
            case .block(let block, let index):
                let number = block.page(of: index)
                let (origins, traces) = try block.decodePage(number)
                Self.append(CollectionOfOne(traces[index - block.pages[number].firstTrace]), origins: origins, to: &data, groups: &groups)
            }
        }
        for (_, batch) in try batches.decodeChunks(in: snapshot, ids: chunkIDs) {
            for var resourceSpans in batch.resourceSpans {
                resourceSpans.scopeSpans = resourceSpans.scopeSpans.compactMap { scopeSpans in
                    var scopeSpans = scopeSpans
                    scopeSpans.spans.removeAll { $0.traceID != id }
                    return scopeSpans.spans.isEmpty ? nil : scopeSpans
                }
                if !resourceSpans.scopeSpans.isEmpty { data.resourceSpans.append(resourceSpans) }
            }
        }
        return data.resourceSpans.isEmpty ? nil : (summary, data)
    }

    /// Adds block traces' spans to `data`, one resource and scope group per origin (`groups`:
    /// where each origin's group is in `data`, kept across calls so traces share groups).
    private static func append(
        _ traces: some Sequence<PageTrace>, origins: [SpanOrigin], to data: inout TraceData, groups: inout [SpanOrigin: Int]
    ) {
        var positions = [Int?](repeating: nil, count: origins.count)
        for trace in traces {
            for (span, origin) in trace.spans {
                if let position = positions[origin] {
                    data.resourceSpans[position].scopeSpans[0].spans.append(span)
                    continue
                }
                let source = origins[origin]
                if let position = groups[source] {
                    positions[origin] = position
                    data.resourceSpans[position].scopeSpans[0].spans.append(span)
                    continue
                }
                let position = data.resourceSpans.count
                groups[source] = position
                positions[origin] = position
                data.resourceSpans.append(ResourceSpans(
                    resource: source.resource,
                    scopeSpans: [ScopeSpans(scope: source.scope, spans: [span], schemaURL: source.scopeSchemaURL)],
                    schemaURL: source.resourceSchemaURL))
            }
        }
    }

    private static func scanned(_ data: TraceData) -> [ScannedSpan] {
        var spans: [ScannedSpan] = []
        for resourceSpans in data.resourceSpans {
            for scopeSpans in resourceSpans.scopeSpans {
                for span in scopeSpans.spans { spans.append((span, resourceSpans.resource, scopeSpans.scope)) }
            }
        }
        return spans
    }

    /// Every stored span of the trace, grouped by resource and scope; nil when none is stored.
    /// With a window, only a trace overlapping it is returned.
    public func trace(tenant: Tenant, id: TraceID, start: UInt64 = 0, end: UInt64 = .max) throws(StorageError) -> TraceData? {
        guard let (summary, data) = try wholeTrace(tenant: tenant, id: id),
            summary.startTimeUnixNano <= end, summary.endTimeUnixNano >= start
        else { return nil }
        return data
    }

    /// The trace's summary, merged over all its parts.
    public func summary(tenant: Tenant, id: TraceID) -> TraceSummary? {
        let found = parts(tenant: tenant, id: id).found
        guard var summary = found.first?.summary else { return nil }
        for part in found.dropFirst() { summary.merge(part.summary) }
        return summary
    }

    /// Traces matching the search (at most `limit`; the most recently arrived are looked at first),
    /// most recent start first.
    public func search(tenant: Tenant, _ search: TraceSearch) throws(StorageError) -> [TraceSearchHit] {
        guard search.limit > 0 else { return [] }
        if !search.inspectsSpans {
            var newest = NewestSummaries(limit: search.limit)
            var resolved = Set<TraceID>()
            let (heads, _, blocks) = snapshot(tenant: tenant)
            func consider(_ summary: TraceSummary, continued: Bool) {
                if continued || resolved.contains(summary.traceID) {
                    // Spread over parts: judged once, whole, from its newest part.
                    guard resolved.insert(summary.traceID).inserted, let whole = self.summary(tenant: tenant, id: summary.traceID) else { return }
                    if search.admits(whole) { newest.add(whole) }
                } else if search.admits(summary) {
                    newest.add(summary)
                }
            }
            for entry in heads { consider(entry.summary, continued: entry.continued) }
            for block in blocks.reversed() {
                for index in block.entries.indices {
                    let entry = block.entries[index]
                    guard entry.flags & TraceBlock.Entry.continued != 0 || (entry.end >= search.start && entry.start <= search.end) else { continue }
                    consider(block.summary(index), continued: block.isContinued(index))
                }
            }
            return newest.sorted.map { TraceSearchHit(summary: $0, matchedSpans: [], matchedCount: 0) }
        }
        var hits: [TraceSearchHit] = []
        try scanTraces(tenant: tenant, bounds: search.scanBounds, admits: search.admits) { summary, spans in
            var matched: [Span] = []
            var count = 0
            for entry in spans where search.matches(entry.span, resource: entry.resource) {
                count += 1
                if matched.count < search.spansPerSpanSet { matched.append(entry.span) }
            }
            if count > 0 { hits.append(TraceSearchHit(summary: summary, matchedSpans: matched, matchedCount: count)) }
            return hits.count < search.limit
        }
        return hits.sorted { ($0.summary.startTimeUnixNano, $0.summary.traceID) > ($1.summary.startTimeUnixNano, $1.summary.traceID) }
    }

    /// The head and frozen heads' entries (newest head first), the batches they name and the
    /// blocks, as of now.
    private func snapshot(tenant: Tenant) -> (heads: [TraceEntry], batches: EmbeddedSignalStore<TraceData>.ChunkSnapshot, blocks: [TraceBlock]) {
        tenants.withLock { all in
            let headBatches = self.batches.snapshot(tenant: tenant)
            guard let state = all[tenant] else { return ([], headBatches, []) }
            var entries = Array(state.head.traces.values)
            for frozen in state.frozen.reversed() { entries.append(contentsOf: frozen.head.traces.values) }
            return (entries, headBatches, state.blocks)
        }
    }

    /// Calls between services in the traces overlapping the window.
    public func dependencies(tenant: Tenant, start: UInt64, end: UInt64) throws(StorageError) -> ServiceDependencies {
        let (heads, headBatches, blocks) = snapshot(tenant: tenant)
        var spansByTrace: [TraceID: [(span: Span, service: String)]] = [:]
        var inWindow = Set<TraceID>()
        var chunkIDs = Set<UInt64>()
        for entry in heads {
            chunkIDs.formUnion(entry.chunks)
            if entry.summary.startTimeUnixNano <= end && entry.summary.endTimeUnixNano >= start { inWindow.insert(entry.summary.traceID) }
        }
        for (_, data) in try batches.decodeChunks(in: headBatches, ids: chunkIDs) {
            for resourceSpans in data.resourceSpans {
                let service = resourceSpans.resource.serviceName ?? ""
                for scopeSpans in resourceSpans.scopeSpans {
                    for span in scopeSpans.spans { spansByTrace[span.traceID, default: []].append((span, service)) }
                }
            }
        }
        for block in blocks where block.overlaps(start: start, end: end) {
            for number in block.pages.indices {
                let (origins, traces) = try block.decodePage(number)
                for (offset, trace) in traces.enumerated() {
                    let entry = block.entries[block.pages[number].firstTrace + offset]
                    if entry.start <= end && entry.end >= start { inWindow.insert(trace.id) }
                    for (span, origin) in trace.spans {
                        spansByTrace[trace.id, default: []].append((span, origins[origin].resource.serviceName ?? ""))
                    }
                }
            }
        }
        var dependencies = ServiceDependencies()
        for id in inWindow {
            if let spans = spansByTrace[id] { dependencies.add(trace: spans) }
        }
        return dependencies
    }

    /// One trace's spans with what produced them, as a scan hands them over.
    public typealias ScannedSpan = (span: Span, resource: Resource, scope: InstrumentationScope)

    /// Hands `visit` the spans of every trace whose summary `admits` accepts, until it returns
    /// false: first the head's traces whose last batch arrived most recently, batch by batch (so
    /// each batch is decoded about once however many traces it holds; a few dozen stay decoded),
    /// then the blocks, newest first, page by page. Callers wanting another order sort what they collect.
    ///
    /// With `spanLevelOnly`, spans read from blocks lack attributes, events and links (their
    /// resource and scope are there): for visitors that look at nothing else, pages then inflate
    /// only their span-level columns.
    ///
    /// `bounds` are checked on a trace's figures before its summary is built for `admits`.
    public func scanTraces(
        tenant: Tenant, spanLevelOnly: Bool = false, bounds: TraceScanBounds = TraceScanBounds(), admits: (TraceSummary) -> Bool,
        visit: (TraceSummary, [ScannedSpan]) -> Bool
    ) throws(StorageError) {
        try scanTraces(
            tenant: tenant, spanLevelOnly: spanLevelOnly, bounds: bounds, admits: admits, evaluate: { summary, spans in (summary, spans) },
            visit: { visit($0.0, $0.1) })
    }

    /// `scanTraces` in two steps: `evaluate` judges one trace and may run on several threads at
    /// once (pages of blocks are decoded and judged in parallel), `visit` takes the outcomes one
    /// at a time, in the order of the scan above, until it returns false. Put the expensive part
    /// of the work (a TraceQL evaluation) in `evaluate`.
    public func scanTraces<Outcome: Sendable>(
        tenant: Tenant, spanLevelOnly: Bool = false, bounds: TraceScanBounds = TraceScanBounds(), admits: (TraceSummary) -> Bool,
        evaluate: @escaping @Sendable (TraceSummary, [ScannedSpan]) -> Outcome, visit: (Outcome) -> Bool
    ) throws(StorageError) {
        let (heads, headBatches, blocks) = snapshot(tenant: tenant)
        var resolved = Set<TraceID>()
        /// A trace spread over parts, judged and visited once, whole; nil when the scan should stop.
        func visitWhole(_ id: TraceID) throws(StorageError) -> Bool {
            guard resolved.insert(id).inserted, let (summary, data) = try wholeTrace(tenant: tenant, id: id), bounds.admits(summary),
                admits(summary)
            else {
                return true
            }
            return visit(evaluate(summary, Self.scanned(data)))
        }

        let candidates = heads.filter { $0.continued || (bounds.admits($0.summary) && admits($0.summary)) }.map { ($0.chunks.max() ?? 0, $0) }
            .sorted { ($0.0, $0.1.summary.startTimeUnixNano, $0.1.summary.traceID) > ($1.0, $1.1.summary.startTimeUnixNano, $1.1.summary.traceID) }
        var decoded: [UInt64: TraceData] = [:]
        var decodedOrder: [UInt64] = []
        for (_, candidate) in candidates {
            let id = candidate.summary.traceID
            if candidate.continued || resolved.contains(id) {
                guard try visitWhole(id) else { return }
                continue
            }
            let missing = Set(candidate.chunks.filter { decoded[$0] == nil })
            if !missing.isEmpty {
                for (chunk, data) in try batches.decodeChunks(in: headBatches, ids: missing) {
                    decoded[chunk] = data
                    decodedOrder.append(chunk)
                }
                // Oldest decoded first out: the scan moves through the batches in order.
                while decodedOrder.count > 64 { decoded[decodedOrder.removeFirst()] = nil }
            }
            var spans: [ScannedSpan] = []
            var seen = Set<UInt64>()
            for chunk in candidate.chunks where seen.insert(chunk).inserted {
                guard let data = decoded[chunk] else { continue }
                for resourceSpans in data.resourceSpans {
                    for scopeSpans in resourceSpans.scopeSpans {
                        for span in scopeSpans.spans where span.traceID == id {
                            spans.append((span, resourceSpans.resource, scopeSpans.scope))
                        }
                    }
                }
            }
            guard visit(evaluate(candidate.summary, spans)) else { return }
        }

        // Pages are decoded and their traces judged a few at a time on every core; a scan that
        // stops early (a limit) wastes at most one round, so rounds start small and grow.
        var round = 2
        for block in blocks.reversed() {
            var byPage: [Int: [Int]] = [:]
            for (index, entry) in block.entries.enumerated() {
                let passes = entry.flags & TraceBlock.Entry.continued != 0 || resolved.contains(block.traceIDs[index])
                    || (bounds.admits(start: entry.start, end: entry.end, longest: entry.longest, errors: Int(entry.errorCount))
                        && admits(block.summary(index)))
                if passes {
                    byPage[block.page(of: index), default: []].append(index)
                }
            }
            let numbers = byPage.keys.sorted()
            var next = 0
            while next < numbers.count {
                let batch = Array(numbers[next..<min(next + round, numbers.count)])
                next += batch.count
                round = min(round * 2, 16)
                let outcomes = try Self.evaluatePages(
                    batch.map { ($0, byPage[$0]!) }, of: block, spanLevelOnly: spanLevelOnly, skipping: resolved, evaluate: evaluate)
                for (number, pageOutcomes) in zip(batch, outcomes) {
                    for index in byPage[number]! {
                        let id = block.traceIDs[index]
                        if block.isContinued(index) || resolved.contains(id) {
                            guard try visitWhole(id) else { return }
                            continue
                        }
                        guard let outcome = pageOutcomes[index] else { continue }
                        guard visit(outcome) else { return }
                    }
                }
            }
        }
    }

    /// Decodes the pages and evaluates their wanted traces (not continued ones, nor `skipping`:
    /// those are resolved whole by the caller), in parallel. One outcome table per page, by entry index.
    private static func evaluatePages<Outcome: Sendable>(
        _ pages: [(number: Int, indices: [Int])], of block: TraceBlock, spanLevelOnly: Bool, skipping: Set<TraceID>,
        evaluate: @escaping @Sendable (TraceSummary, [ScannedSpan]) -> Outcome
    ) throws(StorageError) -> [[Int: Outcome]] {
        let results = Mutex<[Result<[Int: Outcome], StorageError>?]>(Array(repeating: nil, count: pages.count))
        let work = { @Sendable (slot: Int) in
            let (number, indices) = pages[slot]
            let result = Result { () throws(StorageError) -> [Int: Outcome] in
                let first = block.pages[number].firstTrace
                let wanted = indices.filter { !block.isContinued($0) && !skipping.contains(block.traceIDs[$0]) }
                guard !wanted.isEmpty else { return [:] }
                var kept = [Bool](repeating: false, count: block.pages[number].traceCount)
                for index in wanted where index - first < kept.count { kept[index - first] = true }
                let (origins, traces) = try block.decodePage(
                    number, projection: spanLevelOnly ? .core : .full, keep: { $0 < kept.count && kept[$0] })
                var outcomes: [Int: Outcome] = [:]
                for index in wanted {
                    outcomes[index] = evaluate(block.summary(index), TraceBlock.scanned(traces[index - first], origins: origins))
                }
                return outcomes
            }
            results.withLock { $0[slot] = result }
        }
        if pages.count > 1 {
            DispatchQueue.concurrentPerform(iterations: pages.count, execute: work)
        } else {
            for slot in pages.indices { work(slot) }
        }
        return try results.withLock { all throws(StorageError) in try all.map { result throws(StorageError) in try result!.get() } }
    }

    // MARK: Retention

    /// Removes each tenant's oldest blocks while its block files total more than `maximumBytesPerTenant`.
    /// Returns the bytes freed.
    @discardableResult
    public func applySizeRetention(maximumBytesPerTenant: Int?) -> Int {
        guard let maximumBytesPerTenant else { return 0 }
        let doomed: [TraceBlock] = tenants.withLock { all in
            var doomed: [TraceBlock] = []
            for tenant in Array(all.keys) {
                var total = all[tenant]!.blocks.reduce(0) { $0 + $1.sizeBytes }
                while total > maximumBytesPerTenant, let oldest = all[tenant]!.blocks.first {
                    all[tenant]!.blocks.removeFirst()
                    total -= oldest.sizeBytes
                    doomed.append(oldest)
                }
            }
            return doomed
        }
        for block in doomed { try? WALFiles.unlink(block.path) }
        return doomed.reduce(0) { $0 + $1.sizeBytes }
    }

    /// Bytes of block files on disk, all tenants.
    public var blockBytes: Int {
        tenants.withLock { all in all.values.reduce(0) { $0 + $1.blocks.reduce(0) { $0 + $1.sizeBytes } } }
    }

    public var blockCount: Int {
        tenants.withLock { all in all.values.reduce(0) { $0 + $1.blocks.count } }
    }
}

/// The `limit` summaries with the latest start, kept sorted as they come.
struct NewestSummaries {
    let limit: Int
    private(set) var sorted: [TraceSummary] = []

    init(limit: Int) { self.limit = limit }

    private static func before(_ a: TraceSummary, _ b: TraceSummary) -> Bool {
        (a.startTimeUnixNano, a.traceID) > (b.startTimeUnixNano, b.traceID)
    }

    mutating func add(_ summary: TraceSummary) {
        if sorted.count == limit, let last = sorted.last, !Self.before(summary, last) { return }
        var low = 0
        var high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if Self.before(sorted[middle], summary) { low = middle + 1 } else { high = middle }
        }
        sorted.insert(summary, at: low)
        if sorted.count > limit { sorted.removeLast() }
    }
}

extension TraceSpanStore: TraceStore {
    public func append(_ batch: DurableBatch<TraceData>) async throws(StorageError) {
        append(encoded: batch.encoded, digest: TraceBatchDigest(batch.data), tenant: batch.tenant)
    }

    /// Takes a durable batch by its OTLP protobuf encoding and its digest (the same spans): what
    /// the write path has when it never decoded the request.
    public func append(encoded: [UInt8], digest: TraceBatchDigest, tenant: Tenant) {
        guard let chunk = batches.appendChunk(tenant: tenant, encoded: encoded, itemCount: digest.spans.count, timeBounds: digest.timeBounds)
        else { return }
        index(digest, tenant: tenant, bytes: encoded.count, chunk: chunk)
    }

    public func read(tenant: Tenant, range: TimeRange) async throws(StorageError) -> TraceData {
        var result = TraceData()
        var groups: [SpanOrigin: Int] = [:]
        // Together, so a head written to a block meanwhile is read from one or the other.
        let (blocks, headBatches) = tenants.withLock { ($0[tenant]?.blocks ?? [], batches.snapshot(tenant: tenant)) }
        for block in blocks where block.overlaps(start: range.start, end: range.end) {
            for number in block.pages.indices {
                var (origins, traces) = try block.decodePage(number)
                for index in traces.indices { traces[index].spans.removeAll { !range.contains($0.span.startTimeUnixNano) } }
                Self.append(traces, origins: origins, to: &result, groups: &groups)
            }
        }
        result.append(contentsOf: try batches.readChunks(in: headBatches, range: range))
        return result
    }

    public func removeItems(olderThan cutoffUnixNano: UInt64) async -> Int {
        var removed = batches.removeChunkItems(olderThan: cutoffUnixNano)
        // A trace goes once all of it is older; one straddling the cutoff keeps its summary.
        let doomed: [TraceBlock] = tenants.withLock { all in
            var doomed: [TraceBlock] = []
            for tenant in Array(all.keys) {
                var state = all.removeValue(forKey: tenant)!
                state.head.traces = state.head.traces.filter { $0.value.summary.endTimeUnixNano >= cutoffUnixNano }
                for index in state.frozen.indices {
                    state.frozen[index].head.traces = state.frozen[index].head.traces.filter { $0.value.summary.endTimeUnixNano >= cutoffUnixNano }
                }
                state.blocks.removeAll { block in
                    guard block.maxTime < cutoffUnixNano else { return false }
                    doomed.append(block)
                    return true
                }
                if !state.head.traces.isEmpty || !state.frozen.isEmpty || !state.blocks.isEmpty { all[tenant] = state }
            }
            return doomed
        }
        for block in doomed {
            try? WALFiles.unlink(block.path)
            removed += block.spanCount
        }
        return removed
    }

    public func statistics() async -> StoreStatistics {
        var statistics = batches.currentStatistics()
        tenants.withLock { all in
            statistics.tenants = max(statistics.tenants, all.count)
            for state in all.values {
                for block in state.blocks {
                    statistics.items += block.spanCount
                    statistics.bytes += block.sizeBytes
                }
            }
        }
        return statistics
    }
}
