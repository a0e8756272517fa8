import LoupeModel
import Synchronization

/// The log store in Loki's model: per tenant, streams keyed by their label set, an inverted
/// index from label pairs to streams, and each stream's entries in compressed chunks plus one
/// open run. Entries arrive already durable (the WAL holds them); out-of-order entries are
/// accepted, a selection merges by time.
public final class LogStreamStore: Sendable {
    public struct Options: Sendable {
        /// An open run is closed into a compressed chunk past this many line bytes...
        public var chunkBytes: Int
        /// ...or this many entries.
        public var chunkEntries: Int

        public init(chunkBytes: Int = 256 << 10, chunkEntries: Int = 8_192) {
            self.chunkBytes = max(1, chunkBytes)
            self.chunkEntries = max(1, chunkEntries)
        }
    }

    public struct Statistics: Sendable, Equatable {
        public var tenants = 0
        public var streams = 0
        public var entries = 0
        /// Bytes of the lines held.
        public var lineBytes = 0
        /// Bytes the store holds them in (compressed chunks plus open runs).
        public var storedBytes = 0

        public init() {}
    }

    struct Stream {
        let labels: Labels
        var chunks: [LogChunk] = []
        /// Not yet compressed, in time order.
        var open: [LogEntry] = []
        var openBytes = 0
        var minTime = Int64.max
        var maxTime = Int64.min

        var entryCount: Int { chunks.reduce(open.count) { $0 + $1.count } }
    }

    struct TenantState {
        var streams: [Stream] = []
        var indexByLabels: [Labels: Int] = [:]
        /// name -> value -> stream indices (ascending).
        var postings: [String: [String: [Int]]] = [:]
    }

    let options: Options
    private let tenants = Mutex<[Tenant: TenantState]>([:])

    public init(options: Options = Options()) {
        self.options = options
    }

    /// Adds entries (already durable). Returns how many were added.
    @discardableResult
    public func append(_ streams: [LogStream], tenant: Tenant) -> Int {
        var added = 0
        let options = options
        tenants.withLock { all in
            var state = all[tenant] ?? TenantState()
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
                Self.add(incoming.entries, to: &state.streams[index], options: options)
                added += incoming.entries.count
            }
            all[tenant] = state
        }
        return added
    }

    private static func add(_ entries: [LogEntry], to stream: inout Stream, options: Options) {
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
            stream.openBytes += entry.line.utf8.count
            if stream.openBytes >= options.chunkBytes || stream.open.count >= options.chunkEntries {
                stream.chunks.append(LogChunk(stream.open))
                stream.open.removeAll(keepingCapacity: true)
                stream.openBytes = 0
            }
        }
    }

    /// Streams of `tenant` matching every matcher, each with its entries in `[start, end]`
    /// (nanoseconds) in time order; streams without such entries are left out.
    public func select(tenant: Tenant, matchers: [LabelMatcher], start: Int64, end: Int64) -> [LogStream] {
        let candidates: [(labels: Labels, chunks: [LogChunk], open: [LogEntry])] = tenants.withLock { all in
            guard let state = all[tenant] else { return [] }
            return Self.matching(matchers, in: state).compactMap { index in
                let stream = state.streams[index]
                guard stream.maxTime >= start, stream.minTime <= end else { return nil }
                return (stream.labels, stream.chunks.filter { $0.maxTime >= start && $0.minTime <= end }, stream.open)
            }
        }
        // Decompression outside the lock.
        var result: [LogStream] = []
        for candidate in candidates {
            var entries: [LogEntry] = []
            var sorted = true
            for chunk in candidate.chunks {
                let decoded = chunk.entries(from: start, through: end)
                if let last = entries.last, let first = decoded.first, first.timestamp < last.timestamp { sorted = false }
                entries.append(contentsOf: decoded)
            }
            let open = candidate.open.filter { $0.timestamp >= start && $0.timestamp <= end }
            if let last = entries.last, let first = open.first, first.timestamp < last.timestamp { sorted = false }
            entries.append(contentsOf: open)
            if !sorted {
                entries = entries.enumerated().sorted { ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset) }.map(\.element)
            }
            if !entries.isEmpty { result.append(LogStream(labels: candidate.labels, entries: entries)) }
        }
        return result
    }

    /// Indices of the streams matching all matchers, narrowed through the postings of the
    /// equality matchers first.
    static func matching(_ matchers: [LabelMatcher], in state: TenantState) -> [Int] {
        var candidates: [Int]?
        for matcher in matchers where matcher.kind == .equal && !matcher.value.isEmpty {
            let list = state.postings[matcher.name]?[matcher.value] ?? []
            if let current = candidates {
                let set = Set(list)
                candidates = current.filter { set.contains($0) }
            } else {
                candidates = list
            }
        }
        let pool = candidates ?? Array(state.streams.indices)
        return pool.filter { index in
            let labels = state.streams[index].labels
            return matchers.allSatisfy { $0.matches(labels[$0.name] ?? "") }
        }
    }

    /// Label names of the tenant's streams with entries in `[start, end]`, sorted.
    public func labelNames(tenant: Tenant, start: Int64, end: Int64) -> [String] {
        tenants.withLock { all in
            guard let state = all[tenant] else { return [] }
            var names: Set<String> = []
            for stream in state.streams where stream.maxTime >= start && stream.minTime <= end {
                for label in stream.labels { names.insert(label.name) }
            }
            return names.sorted()
        }
    }

    /// Values of one label across the tenant's streams with entries in `[start, end]` (and
    /// matching `matchers`), sorted.
    public func labelValues(tenant: Tenant, name: String, matchers: [LabelMatcher] = [], start: Int64, end: Int64) -> [String] {
        tenants.withLock { all in
            guard let state = all[tenant] else { return [] }
            var values: Set<String> = []
            for index in Self.matching(matchers, in: state) {
                let stream = state.streams[index]
                guard stream.maxTime >= start, stream.minTime <= end, let value = stream.labels[name] else { continue }
                values.insert(value)
            }
            return values.sorted()
        }
    }

    /// Label sets of the streams matching `matchers` with entries in `[start, end]`.
    public func series(tenant: Tenant, matchers: [LabelMatcher], start: Int64, end: Int64) -> [Labels] {
        tenants.withLock { all in
            guard let state = all[tenant] else { return [] }
            return Self.matching(matchers, in: state).compactMap { index in
                let stream = state.streams[index]
                return stream.maxTime >= start && stream.minTime <= end ? stream.labels : nil
            }.sorted()
        }
    }

    /// Streams, chunks, entries and bytes of the streams matching `matchers` in `[start, end]`
    /// (Loki's `index/stats`; counts whole chunks that overlap the range, as Loki's index does).
    public func stats(tenant: Tenant, matchers: [LabelMatcher], start: Int64, end: Int64) -> (streams: Int, chunks: Int, entries: Int, bytes: Int) {
        tenants.withLock { all in
            guard let state = all[tenant] else { return (0, 0, 0, 0) }
            var result = (streams: 0, chunks: 0, entries: 0, bytes: 0)
            for index in Self.matching(matchers, in: state) {
                let stream = state.streams[index]
                guard stream.maxTime >= start, stream.minTime <= end else { continue }
                result.streams += 1
                for chunk in stream.chunks where chunk.maxTime >= start && chunk.minTime <= end {
                    result.chunks += 1
                    result.entries += chunk.count
                    result.bytes += chunk.lineBytes
                }
                let open = stream.open.filter { $0.timestamp >= start && $0.timestamp <= end }
                if !open.isEmpty {
                    result.chunks += 1
                    result.entries += open.count
                    result.bytes += open.reduce(0) { $0 + $1.line.utf8.count }
                }
            }
            return result
        }
    }

    /// Drops entries older than the cutoff (retention); streams left empty go. Returns how many entries went.
    @discardableResult
    public func removeEntries(olderThan cutoff: Int64) -> Int {
        tenants.withLock { all in
            var removed = 0
            for (tenant, state) in all {
                var kept = TenantState()
                for var stream in state.streams {
                    let before = stream.entryCount
                    stream.chunks.removeAll { $0.maxTime < cutoff }
                    // A chunk straddling the cutoff keeps its older entries until it is wholly expired.
                    stream.open.removeAll { $0.timestamp < cutoff }
                    stream.openBytes = stream.open.reduce(0) { $0 + $1.line.utf8.count }
                    removed += before - stream.entryCount
                    guard stream.entryCount > 0 else { continue }
                    stream.minTime = min(stream.chunks.first?.minTime ?? .max, stream.open.first?.timestamp ?? .max)
                    let index = kept.streams.count
                    kept.indexByLabels[stream.labels] = index
                    for label in stream.labels { kept.postings[label.name, default: [:]][label.value, default: []].append(index) }
                    kept.streams.append(stream)
                }
                all[tenant] = kept.streams.isEmpty ? nil : kept
            }
            return removed
        }
    }

    public func statistics() -> Statistics {
        tenants.withLock { all in
            var statistics = Statistics()
            statistics.tenants = all.count
            for state in all.values {
                statistics.streams += state.streams.count
                for stream in state.streams {
                    statistics.entries += stream.entryCount
                    statistics.lineBytes += stream.chunks.reduce(stream.openBytes) { $0 + $1.lineBytes }
                    statistics.storedBytes += stream.chunks.reduce(stream.openBytes) { $0 + $1.compressedBytes }
                }
            }
            return statistics
        }
    }
}
