import LoupeModel
import Synchronization

/// Spans by trace: the batches as they arrived (compact protobuf, through `EmbeddedTraceStore`)
/// plus, per tenant, a trace-ID index naming the batches that hold each trace and a summary of
/// it, and the tag names and values seen. A trace whose spans came in several requests is
/// merged on read; a lookup decodes only the batches the index names.
///
/// This is the head of the trace engine: in memory, rebuilt from the WAL on start.
public final class TraceSpanStore: Sendable {
    /// Distinct values kept per tag for `/api/search/tag/<name>/values`; a tag with more (an ID)
    /// stops collecting.
    public static let maximumValuesPerTag = 1_000
    /// Span attributes feed tag names and values from one span in this many (the first of each
    /// batch always); resource attributes from every resource.
    public static let tagSampling = 8

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
    }

    struct TenantState {
        var traces: [TraceID: TraceEntry] = [:]
        var tagValues: [TagScope: [String: Set<String>]] = [:]
        /// service.name -> operations (span name and kind), and -> remote services (`peer.service`), for
        /// Zipkin's and Jaeger's lists.
        var operations: [String: Set<Operation>] = [:]
        var remoteServices: [String: Set<String>] = [:]
    }

    let batches = EmbeddedTraceStore()
    private let tenants = Mutex<[Tenant: TenantState]>([:])

    public init() {}

    // MARK: Writing

    func index(_ batch: DurableBatch<TraceData>, chunk: UInt64) {
        // Summaries and tags are gathered outside the lock, then merged under it.
        var summaries: [TraceID: TraceSummary] = [:]
        var tags: [TagScope: [String: Set<String>]] = [:]
        var operations: [String: Set<Operation>] = [:]
        var remoteServices: [String: Set<String>] = [:]
        var sampled = 0
        for resourceSpans in batch.data.resourceSpans {
            let service = resourceSpans.resource.serviceName
            for attribute in resourceSpans.resource.attributes {
                guard let text = attribute.value.scalarText else { continue }
                tags[.resource, default: [:]][attribute.key, default: []].insert(text)
            }
            var serviceOperations: Set<Operation> = []
            var previous: Operation?
            for scopeSpans in resourceSpans.scopeSpans {
                for span in scopeSpans.spans {
                    summaries[span.traceID, default: TraceSummary(traceID: span.traceID)].include(span, serviceName: service)
                    let operation = Operation(name: span.name, kind: span.kind)
                    if operation != previous {
                        serviceOperations.insert(operation)
                        previous = operation
                    }
                    // Span tag values come from every `tagSampling`-th span: hashing every attribute
                    // value of every span was most of the indexing cost, and autocompletion needs the
                    // values that recur, not every one.
                    defer { sampled += 1 }
                    if sampled % Self.tagSampling == 0 {
                        for attribute in span.attributes {
                            guard let text = attribute.value.scalarText else { continue }
                            tags[.span, default: [:]][attribute.key, default: []].insert(text)
                        }
                    }
                    for attribute in span.attributes where attribute.key == "peer.service" {
                        if case .string(let peer) = attribute.value { remoteServices[service ?? "", default: []].insert(peer) }
                    }
                }
            }
            operations[service ?? "", default: []].formUnion(serviceOperations)
        }
        tenants.withLock { all in
            Self.merge(summaries, tags: tags, chunk: chunk, into: &all[batch.tenant, default: TenantState()])
            Self.merge(operations, into: &all[batch.tenant, default: TenantState()].operations)
            Self.merge(remoteServices, into: &all[batch.tenant, default: TenantState()].remoteServices)
        }
    }

    private static func merge(
        _ summaries: [TraceID: TraceSummary], tags: [TagScope: [String: Set<String>]], chunk: UInt64, into state: inout TenantState
    ) {
        for (traceID, incoming) in summaries {
            if var entry = state.traces[traceID] {
                entry.summary.merge(incoming)
                entry.chunks.append(chunk)
                state.traces[traceID] = entry
            } else {
                state.traces[traceID] = TraceEntry(summary: incoming, chunks: [chunk])
            }
        }
        for (scope, names) in tags {
            for (name, values) in names {
                var known = state.tagValues[scope, default: [:]][name, default: []]
                guard known.count < maximumValuesPerTag else { continue }
                for value in values where known.count < maximumValuesPerTag { known.insert(value) }
                state.tagValues[scope, default: [:]][name] = known
            }
        }
    }

    private static func merge<Element>(_ incoming: [String: Set<Element>], into known: inout [String: Set<Element>]) {
        for (service, names) in incoming {
            var set = known[service, default: []]
            guard set.count < maximumValuesPerTag else { continue }
            for name in names where set.count < maximumValuesPerTag { set.insert(name) }
            known[service] = set
        }
    }

    // MARK: Reading

    /// The services seen (resource `service.name`), sorted.
    public func services(tenant: Tenant) -> [String] {
        tenants.withLock { all in (all[tenant]?.operations.keys.filter { !$0.isEmpty } ?? []).sorted() }
    }

    /// Span names seen for a service, sorted.
    public func spanNames(tenant: Tenant, service: String) -> [String] {
        Set(operations(tenant: tenant, service: service).map(\.name)).sorted()
    }

    /// Span names with their kinds seen for a service, sorted by name then kind.
    public func operations(tenant: Tenant, service: String) -> [Operation] {
        tenants.withLock { all in
            (all[tenant]?.operations[service] ?? []).sorted { ($0.name, $0.kind.rawValue) < ($1.name, $1.kind.rawValue) }
        }
    }

    /// Remote services (`peer.service`) a service's spans named, sorted.
    public func remoteServices(tenant: Tenant, service: String) -> [String] {
        tenants.withLock { all in (all[tenant]?.remoteServices[service] ?? []).sorted() }
    }

    /// Every stored span of the trace, grouped by resource and scope; nil when none is stored.
    /// With a window, only a trace overlapping it is returned.
    public func trace(tenant: Tenant, id: TraceID, start: UInt64 = 0, end: UInt64 = .max) throws(StorageError) -> TraceData? {
        guard let entry = tenants.withLock({ $0[tenant]?.traces[id] }),
            entry.summary.startTimeUnixNano <= end, entry.summary.endTimeUnixNano >= start
        else { return nil }
        let decoded = try batches.decodeChunks(tenant: tenant, ids: Set(entry.chunks))
        var result = TraceData()
        for (_, data) in decoded {
            for var resourceSpans in data.resourceSpans {
                resourceSpans.scopeSpans = resourceSpans.scopeSpans.compactMap { scopeSpans in
                    var scopeSpans = scopeSpans
                    scopeSpans.spans.removeAll { $0.traceID != id }
                    return scopeSpans.spans.isEmpty ? nil : scopeSpans
                }
                if !resourceSpans.scopeSpans.isEmpty { result.resourceSpans.append(resourceSpans) }
            }
        }
        return result.resourceSpans.isEmpty ? nil : result
    }

    public func summary(tenant: Tenant, id: TraceID) -> TraceSummary? {
        tenants.withLock { $0[tenant]?.traces[id]?.summary }
    }

    /// Traces matching the search (at most `limit`; the most recently arrived are looked at first),
    /// most recent start first.
    public func search(tenant: Tenant, _ search: TraceSearch) throws(StorageError) -> [TraceSearchHit] {
        guard search.limit > 0 else { return [] }
        if !search.inspectsSpans {
            let summaries = tenants.withLock { all -> [TraceSummary] in
                (all[tenant]?.traces.values ?? [:].values).map(\.summary).filter { search.admits($0) }
            }
            return summaries.sorted { ($0.startTimeUnixNano, $0.traceID) > ($1.startTimeUnixNano, $1.traceID) }
                .prefix(search.limit).map { TraceSearchHit(summary: $0, matchedSpans: [], matchedCount: 0) }
        }
        var hits: [TraceSearchHit] = []
        try scanTraces(tenant: tenant, admits: search.admits) { summary, spans in
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

    /// Calls between services in the traces overlapping the window.
    public func dependencies(tenant: Tenant, start: UInt64, end: UInt64) throws(StorageError) -> ServiceDependencies {
        let entries = tenants.withLock { all -> [TraceEntry] in
            (all[tenant]?.traces.values ?? [:].values).filter { $0.summary.startTimeUnixNano <= end && $0.summary.endTimeUnixNano >= start }
        }
        var chunkIDs = Set<UInt64>()
        for entry in entries { chunkIDs.formUnion(entry.chunks) }
        var spansByTrace: [TraceID: [(span: Span, service: String)]] = [:]
        for (_, data) in try batches.decodeChunks(tenant: tenant, ids: chunkIDs) {
            for resourceSpans in data.resourceSpans {
                let service = resourceSpans.resource.serviceName ?? ""
                for scopeSpans in resourceSpans.scopeSpans {
                    for span in scopeSpans.spans { spansByTrace[span.traceID, default: []].append((span, service)) }
                }
            }
        }
        var dependencies = ServiceDependencies()
        for entry in entries {
            if let spans = spansByTrace[entry.summary.traceID] { dependencies.add(trace: spans) }
        }
        return dependencies
    }

    /// One trace's spans with what produced them, as a scan hands them over.
    public typealias ScannedSpan = (span: Span, resource: Resource, scope: InstrumentationScope)

    /// Hands `visit` the spans of every trace whose summary `admits` accepts, until it returns
    /// false: the traces whose last batch arrived most recently first, batch by batch, so each
    /// batch is decoded about once however many traces it holds (a few dozen stay decoded).
    /// Callers wanting another order sort what they collect.
    public func scanTraces(
        tenant: Tenant, admits: (TraceSummary) -> Bool, visit: (TraceSummary, [ScannedSpan]) -> Bool
    ) throws(StorageError) {
        let candidates = tenants.withLock { all -> [(last: UInt64, entry: TraceEntry)] in
            (all[tenant]?.traces.values ?? [:].values).filter { admits($0.summary) }.map { ($0.chunks.max() ?? 0, $0) }
        }.sorted { ($0.last, $0.entry.summary.startTimeUnixNano, $0.entry.summary.traceID) > ($1.last, $1.entry.summary.startTimeUnixNano, $1.entry.summary.traceID) }
        var decoded: [UInt64: TraceData] = [:]
        var decodedOrder: [UInt64] = []
        for (_, candidate) in candidates {
            let missing = Set(candidate.chunks.filter { decoded[$0] == nil })
            if !missing.isEmpty {
                for (id, data) in try batches.decodeChunks(tenant: tenant, ids: missing) {
                    decoded[id] = data
                    decodedOrder.append(id)
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
                        for span in scopeSpans.spans where span.traceID == candidate.summary.traceID {
                            spans.append((span, resourceSpans.resource, scopeSpans.scope))
                        }
                    }
                }
            }
            guard visit(candidate.summary, spans) else { return }
        }
    }

    /// Tag names seen, per scope, sorted.
    public func tagNames(tenant: Tenant) -> [TagScope: [String]] {
        tenants.withLock { all in
            (all[tenant]?.tagValues ?? [:]).mapValues { $0.keys.sorted() }
        }
    }

    /// Values seen for a tag (in the given scope, or any), sorted; at most `maximumValuesPerTag` per scope.
    public func tagValues(tenant: Tenant, name: String, scope: TagScope? = nil) -> [String] {
        tenants.withLock { all in
            guard let state = all[tenant] else { return [] }
            var values: Set<String> = []
            for candidate in TagScope.allCases where scope == nil || scope == candidate {
                values.formUnion(state.tagValues[candidate]?[name] ?? [])
            }
            return values.sorted()
        }
    }
}

extension TraceSpanStore: TraceStore {
    public func append(_ batch: DurableBatch<TraceData>) async throws(StorageError) {
        guard let chunk = batches.appendChunk(batch) else { return }
        index(batch, chunk: chunk)
    }

    public func read(tenant: Tenant, range: TimeRange) async throws(StorageError) -> TraceData {
        try batches.readChunks(tenant: tenant, range: range)
    }

    public func removeItems(olderThan cutoffUnixNano: UInt64) async -> Int {
        let removed = batches.removeChunkItems(olderThan: cutoffUnixNano)
        // A trace goes once all of it is older; one straddling the cutoff keeps its summary.
        tenants.withLock { all in
            for tenant in Array(all.keys) {
                all[tenant]!.traces = all[tenant]!.traces.filter { $0.value.summary.endTimeUnixNano >= cutoffUnixNano }
                if all[tenant]!.traces.isEmpty { all[tenant] = nil }
            }
        }
        return removed
    }

    public func statistics() async -> StoreStatistics { batches.currentStatistics() }
}
