import LoupeModel
import LoupeWire
import Synchronization

/// An in-memory store that keeps each accepted batch in its compact canonical protobuf
/// form, indexed by tenant and time bounds, and decodes only what a read touches.
///
/// It is the placeholder engine of the foundation: durable through the WAL (replayed on
/// start), readable by tenant and time range, and cheap to feed at full ingest rate.
public final class EmbeddedSignalStore<Data: SignalData>: Sendable {
    struct StoredChunk: Sendable {
        /// Stable for the chunk's life (a re-encoding by retention keeps it), so indexes can name it.
        var id: UInt64 = 0
        var bounds: TimeBounds
        var itemCount: Int
        var encoded: [UInt8]
    }

    struct State: Sendable {
        var chunksByTenant: [Tenant: [StoredChunk]] = [:]
        var nextID: UInt64 = 1
        var items = 0
        var bytes = 0
        /// Batches let go to stay within `maximumBytes`, and their items.
        var evictedChunks = 0
        var evictedItems = 0
    }

    private let state = Mutex(State())
    private let decode: @Sendable ([UInt8]) throws(WireError) -> Data
    private let encode: @Sendable (Data) -> [UInt8]
    /// When set, the oldest batches (of any tenant) are let go once the store holds more bytes:
    /// a window of the most recent batches, for stores whose data lives on elsewhere.
    public let maximumBytes: Int?

    init(
        maximumBytes: Int? = nil, decode: @escaping @Sendable ([UInt8]) throws(WireError) -> Data,
        encode: @escaping @Sendable (Data) -> [UInt8]
    ) {
        self.maximumBytes = maximumBytes
        self.decode = decode
        self.encode = encode
    }

    /// Returns the chunk's id (nil when the batch held nothing).
    @discardableResult
    func appendChunk(_ batch: DurableBatch<Data>) -> UInt64? {
        appendChunk(tenant: batch.tenant, encoded: batch.encoded, itemCount: batch.data.itemCount, timeBounds: batch.timeBounds)
    }

    /// A batch by its encoding alone, for a store that keeps what it needs of the items itself.
    @discardableResult
    func appendChunk(tenant: Tenant, encoded: [UInt8], itemCount: Int, timeBounds: TimeBounds) -> UInt64? {
        guard !timeBounds.isEmpty else { return nil }
        var chunk = StoredChunk(bounds: timeBounds, itemCount: itemCount, encoded: encoded)
        return state.withLock { state in
            chunk.id = state.nextID
            state.nextID += 1
            state.chunksByTenant[tenant, default: []].append(chunk)
            state.items += chunk.itemCount
            state.bytes += chunk.encoded.count
            if let maximumBytes { Self.evictOldest(&state, toFit: maximumBytes, keeping: chunk.id) }
            return chunk.id
        }
    }

    /// Lets the oldest batches go until the store fits in `maximumBytes` (the batch `keeping`,
    /// just added, stays even alone over the limit). A tenant's batches are in id order, so the
    /// oldest is the smallest first id among tenants.
    private static func evictOldest(_ state: inout State, toFit maximumBytes: Int, keeping newest: UInt64) {
        while state.bytes > maximumBytes {
            guard let (tenant, chunks) = state.chunksByTenant.min(by: { $0.value[0].id < $1.value[0].id }), chunks[0].id != newest else {
                return
            }
            let oldest = chunks[0]
            state.bytes -= oldest.encoded.count
            state.items -= oldest.itemCount
            state.evictedChunks += 1
            state.evictedItems += oldest.itemCount
            state.chunksByTenant[tenant] = chunks.count == 1 ? nil : Array(chunks.dropFirst())
        }
    }

    /// Batches and items let go so far to stay within `maximumBytes`.
    public var evicted: (chunks: Int, items: Int) { state.withLock { ($0.evictedChunks, $0.evictedItems) } }

    /// One tenant's batches as of a moment. Removals after it was taken leave it whole, so a reader
    /// that takes it together with an index naming batches (under the index's lock) finds every
    /// batch the index named, even if they move to a block meanwhile.
    struct ChunkSnapshot: Sendable {
        let tenant: Tenant
        /// In ascending id order.
        fileprivate let chunks: [StoredChunk]
    }

    /// The tenant's batches now: a copy-on-write share of the list, so cheap under any lock.
    func snapshot(tenant: Tenant) -> ChunkSnapshot {
        ChunkSnapshot(tenant: tenant, chunks: state.withLock { $0.chunksByTenant[tenant] ?? [] })
    }

    /// The tenant's chunks with these ids that still exist, as stored (canonical protobuf), in arrival order.
    func encodedChunks(tenant: Tenant, ids: Set<UInt64>) -> [[UInt8]] {
        snapshot(tenant: tenant).chunks.compactMap { ids.contains($0.id) ? $0.encoded : nil }
    }

    /// The snapshot's chunks with these ids, decoded, in arrival order.
    func decodeChunks(in snapshot: ChunkSnapshot, ids: Set<UInt64>) throws(StorageError) -> [(id: UInt64, data: Data)] {
        // A tenant's chunks are in ascending id order (appended so, retention keeps the order):
        // each id is found by binary search, not by a pass over every chunk.
        let all = snapshot.chunks
        var result: [(id: UInt64, data: Data)] = []
        for id in ids.sorted() {
            var low = 0
            var high = all.count
            while low < high {
                let middle = (low + high) / 2
                if all[middle].id < id { low = middle + 1 } else { high = middle }
            }
            guard low < all.count, all[low].id == id else { continue }
            do {
                result.append((id, try decode(all[low].encoded)))
            } catch {
                throw StorageError(.corrupt, "stored \(Data.signal) batch of tenant \(snapshot.tenant) no longer decodes: \(error)")
            }
        }
        return result
    }

    func readChunks(in snapshot: ChunkSnapshot, range: TimeRange) throws(StorageError) -> Data {
        let tenant = snapshot.tenant
        let chunks = snapshot.chunks.filter { $0.bounds.range.map(range.overlaps) ?? false }
        var result = Data()
        for chunk in chunks {
            var data: Data
            do {
                data = try decode(chunk.encoded)
            } catch {
                throw StorageError(.corrupt, "stored \(Data.signal) batch of tenant \(tenant) no longer decodes: \(error)")
            }
            if let bounds = chunk.bounds.range, bounds.start < range.start || bounds.end > range.end {
                data.filterItems { range.contains($0) }
            }
            result.append(contentsOf: data)
        }
        return result
    }

    func removeChunkItems(olderThan cutoff: UInt64) -> Int {
        // Chunks wholly older than the cutoff go at once; chunks straddling it are re-encoded without the old items.
        let straddling: [(Tenant, Int, StoredChunk)] = state.withLock { state in
            var straddling: [(Tenant, Int, StoredChunk)] = []
            for (tenant, chunks) in state.chunksByTenant {
                for (index, chunk) in chunks.enumerated() where chunk.bounds.minimum < cutoff && chunk.bounds.maximum >= cutoff {
                    straddling.append((tenant, index, chunk))
                }
            }
            return straddling
        }
        var replacements: [Tenant: [Int: StoredChunk?]] = [:]
        for (tenant, index, chunk) in straddling {
            guard var data = try? decode(chunk.encoded) else { continue }
            data.filterItems { $0 >= cutoff }
            replacements[tenant, default: [:]][index] = data.isEmpty
                ? StoredChunk?.none
                : StoredChunk(id: chunk.id, bounds: data.timeBounds, itemCount: data.itemCount, encoded: encode(data))
        }
        return state.withLock { state in
            var removed = 0
            for tenant in Array(state.chunksByTenant.keys) {
                var kept: [StoredChunk] = []
                for (index, chunk) in state.chunksByTenant[tenant]!.enumerated() {
                    if let replacement = replacements[tenant]?[index] {
                        removed += chunk.itemCount - (replacement?.itemCount ?? 0)
                        state.bytes -= chunk.encoded.count - (replacement?.encoded.count ?? 0)
                        if let replacement { kept.append(replacement) }
                    } else if chunk.bounds.maximum < cutoff {
                        removed += chunk.itemCount
                        state.bytes -= chunk.encoded.count
                    } else {
                        kept.append(chunk)
                    }
                }
                state.chunksByTenant[tenant] = kept.isEmpty ? nil : kept
            }
            state.items -= removed
            return removed
        }
    }

    /// Forgets the tenant's chunks with these ids (a store that moved them elsewhere). Returns the items removed.
    @discardableResult
    func removeChunks(tenant: Tenant, ids: Set<UInt64>) -> Int {
        state.withLock { state in
            guard var chunks = state.chunksByTenant[tenant] else { return 0 }
            var removed = 0
            chunks.removeAll { chunk in
                guard ids.contains(chunk.id) else { return false }
                removed += chunk.itemCount
                state.bytes -= chunk.encoded.count
                return true
            }
            state.items -= removed
            state.chunksByTenant[tenant] = chunks.isEmpty ? nil : chunks
            return removed
        }
    }

    func currentStatistics() -> StoreStatistics {
        state.withLock { StoreStatistics(tenants: $0.chunksByTenant.count, items: $0.items, bytes: $0.bytes) }
    }
}

extension EmbeddedSignalStore: SignalStore {
    public func append(_ batch: DurableBatch<Data>) async throws(StorageError) { appendChunk(batch) }
    public func read(tenant: Tenant, range: TimeRange) async throws(StorageError) -> Data { try readChunks(in: snapshot(tenant: tenant), range: range) }
    public func removeItems(olderThan cutoffUnixNano: UInt64) async -> Int { removeChunkItems(olderThan: cutoffUnixNano) }
    public func statistics() async -> StoreStatistics { currentStatistics() }
}

extension EmbeddedSignalStore: TraceStore where Data == TraceData {}
extension EmbeddedSignalStore: LogStore where Data == LogsData {}
extension EmbeddedSignalStore: MetricStore where Data == MetricsData {}

public typealias EmbeddedTraceStore = EmbeddedSignalStore<TraceData>
public typealias EmbeddedLogStore = EmbeddedSignalStore<LogsData>
public typealias EmbeddedMetricStore = EmbeddedSignalStore<MetricsData>

extension EmbeddedSignalStore where Data == TraceData {
    public convenience init() {
        self.init(decode: { bytes throws(WireError) in try OTLPProtobuf.decodeTraces(bytes) }, encode: { OTLPProtobuf.encodeTraces($0) })
    }
}

extension EmbeddedSignalStore where Data == LogsData {
    /// - Parameter maximumBytes: keep only the most recent batches up to this size (nil: all).
    public convenience init(maximumBytes: Int? = nil) {
        self.init(
            maximumBytes: maximumBytes, decode: { bytes throws(WireError) in try OTLPProtobuf.decodeLogs(bytes) },
            encode: { OTLPProtobuf.encodeLogs($0) })
    }
}

extension EmbeddedSignalStore where Data == MetricsData {
    /// - Parameter maximumBytes: keep only the most recent batches up to this size (nil: all).
    public convenience init(maximumBytes: Int? = nil) {
        self.init(
            maximumBytes: maximumBytes, decode: { bytes throws(WireError) in try OTLPProtobuf.decodeMetrics(bytes) },
            encode: { OTLPProtobuf.encodeMetrics($0) })
    }
}
