import Dispatch
import LoupeModel
import LoupeWire
import Synchronization

/// An immutable set of whole traces: what one cut of a tenant's trace head becomes. One file,
/// read through a memory mapping:
///
///     "LTB1"
///     pages: traces in trace-ID order, a few thousand spans each, columnar and deflated (TracePageCodec)
///     index: version, cut sequence, time bounds, span count, a string table, service sets,
///            the page table (offset, length, CRC-32C, inflated length, trace count), the sorted
///            trace IDs, per trace its summary (start, duration, longest span, span and error
///            counts, root service and name, services, flags), a Bloom filter over the IDs, and
///            the tag names and values, operations and remote services of its spans
///     footer: index offset (u64), index length (u64), index CRC-32C (u32), "LTB1"
///
/// The index is read whole at open and stays in memory (about 70 bytes per trace): a trace by ID
/// is a Bloom test, a binary search and one page inflated; a search filters the summaries first
/// and inflates only the pages of traces that may match.
final class TraceBlock: Sendable {
    struct Page: Sendable {
        var offset: Int
        var length: Int
        var checksum: UInt32
        var rawLength: Int
        var firstTrace: Int
        var traceCount: Int
    }

    /// A trace's summary, compact: strings are indices into the block's string table.
    struct Entry: Sendable {
        var start: UInt64
        var end: UInt64
        var longest: UInt64
        var spanCount: UInt32
        var errorCount: UInt32
        /// -1: the root span is not in this block.
        var rootService: Int32
        var rootName: Int32
        var serviceSet: Int32
        var flags: UInt8

        static let servicesComplete: UInt8 = 1
        /// Other spans of the trace are in older blocks or heads.
        static let continued: UInt8 = 2
    }

    let path: String
    let file: MappedFile
    let sequence: UInt64
    let minTime: UInt64
    let maxTime: UInt64
    let spanCount: Int
    let traceIDs: [TraceID]
    let entries: [Entry]
    let strings: [String]
    let serviceSets: [[String]]
    let pages: [Page]
    let bloom: TraceIDBloom
    let catalog: TraceCatalog
    /// The resources and scopes the block's spans come from; pages name them by index.
    let origins: [SpanOrigin]
    var sizeBytes: Int { file.count }

    static let magic: [UInt8] = Array("LTB1".utf8)
    static let fileExtension = ".tblk"
    /// Spans per page: enough for deflate to find the repetition, few enough that a trace by ID inflates little.
    static let pageSpans = 4_096

    // MARK: Building

    /// One trace going into a block whose spans are still the stored OTLP protobuf they arrived
    /// as (`range` into the buffer given to `build`, `origin` into `origins`).
    struct StoredInput {
        var summary: TraceSummary
        var continued: Bool
        var spans: ArraySlice<LocatedSpan>
    }

    /// The file image of a block holding `traces`, read from the stored protobuf in `buffer`
    /// without building span values. Fails if the stored bytes no longer decode.
    static func build(
        sequence: UInt64, stored traces: [StoredInput], buffer: UnsafeRawBufferPointer, origins: [SpanOrigin], catalog: TraceCatalog
    ) throws(StorageError) -> [UInt8] {
        let sorted = traces.sorted { $0.summary.traceID < $1.summary.traceID }
        let shared = SharedBytes(buffer: buffer)
        return try build(
            sequence: sequence, summaries: sorted.map { ($0.summary, $0.continued, $0.spans.count) }, origins: origins, catalog: catalog
        ) { (traces: Range<Int>) throws(StorageError) in
            try TracePageCodec.encode(stored: sorted[traces].map { ($0.summary.traceID, $0.spans) }, buffer: shared.buffer)
        }.get()
    }

    /// Memory the caller keeps alive and unchanged while pages are encoded on several threads.
    struct SharedBytes: @unchecked Sendable {
        let buffer: UnsafeRawBufferPointer
    }

    /// The block around pages that `encodePage` makes of a run of `summaries` (sorted by trace ID).
    private static func build(
        sequence: UInt64, summaries sorted: [(summary: TraceSummary, continued: Bool, spanCount: Int)], origins: [SpanOrigin],
        catalog: TraceCatalog,
        encodePage: @Sendable (Range<Int>) throws(StorageError) -> (bytes: [UInt8], rawLength: Int)
    ) -> Result<[UInt8], StorageError> {
        var sink = ByteSink()
        sink.append(magic)
        // Whole traces per page, about `pageSpans` spans each; pages are encoded in parallel.
        var groups: [Range<Int>] = []
        var first = 0
        var pageSpanCount = 0
        for (index, trace) in sorted.enumerated() {
            pageSpanCount += trace.spanCount
            if pageSpanCount >= pageSpans {
                groups.append(first..<index + 1)
                first = index + 1
                pageSpanCount = 0
            }
        }
        if first < sorted.count { groups.append(first..<sorted.count) }
        let encoded = Mutex<[Int: Result<(bytes: [UInt8], rawLength: Int), StorageError>]>([:])
        let pageGroups = groups
        DispatchQueue.concurrentPerform(iterations: pageGroups.count) { number in
            let page = Result { () throws(StorageError) in try encodePage(pageGroups[number]) }
            encoded.withLock { $0[number] = page }
        }
        var pages: [Page] = []
        var firstTrace = 0
        let failure: StorageError? = encoded.withLock { encoded in
            for number in groups.indices {
                let bytes: [UInt8]
                let rawLength: Int
                switch encoded[number]! {
                case .success(let page): (bytes, rawLength) = page
                case .failure(let error): return error
                }
                pages.append(Page(
                    offset: sink.count, length: bytes.count, checksum: CRC32C.checksum(bytes), rawLength: rawLength,
                    firstTrace: firstTrace, traceCount: groups[number].count))
                sink.append(bytes)
                firstTrace += groups[number].count
            }
            return nil
        }
        if let failure { return .failure(failure) }

        var strings = InternTable<String>()
        var serviceSets = InternTable<[Int]>()
        var perTrace = ByteSink()
        var minTime = UInt64.max
        var maxTime: UInt64 = 0
        var spanCount = 0
        for trace in sorted {
            minTime = min(minTime, trace.summary.startTimeUnixNano)
            maxTime = max(maxTime, trace.summary.endTimeUnixNano)
            spanCount += trace.spanCount
        }
        if sorted.isEmpty { minTime = 0 }
        for trace in sorted {
            let summary = trace.summary
            let setIndex = serviceSets.index(of: summary.services.map { strings.index(of: $0) })
            perTrace.uvarint(summary.startTimeUnixNano &- minTime)
            perTrace.uvarint(summary.durationNanoseconds)
            perTrace.uvarint(summary.longestSpanNanoseconds)
            perTrace.uvarint(summary.spanCount)
            perTrace.uvarint(summary.errorCount)
            perTrace.uvarint(summary.rootSpanName == nil ? 0 : strings.index(of: summary.rootServiceName ?? "") + 1)
            perTrace.uvarint(summary.rootSpanName.map { strings.index(of: $0) + 1 } ?? 0)
            perTrace.uvarint(setIndex)
            perTrace.uvarint(UInt64((summary.servicesComplete ? Entry.servicesComplete : 0) | (trace.continued ? Entry.continued : 0)))
        }

        var index = ByteSink()
        index.uvarint(1)
        index.uvarint(sequence)
        index.uvarint(minTime)
        index.uvarint(maxTime)
        index.uvarint(spanCount)
        index.uvarint(strings.elements.count)
        for text in strings.elements { index.string(text) }
        index.uvarint(serviceSets.elements.count)
        for set in serviceSets.elements {
            index.uvarint(set.count)
            for member in set { index.uvarint(member) }
        }
        index.uvarint(pages.count)
        for page in pages {
            index.uvarint(page.offset)
            index.uvarint(page.length)
            index.uint32(page.checksum)
            index.uvarint(page.rawLength)
            index.uvarint(page.traceCount)
        }
        index.uvarint(sorted.count)
        for trace in sorted {
            index.uint64(trace.summary.traceID.high)
            index.uint64(trace.summary.traceID.low)
        }
        index.append(perTrace.bytes)
        // The spans' resources and scopes, once for the block (pages refer to them by index).
        index.append(TracePageCodec.encodeOrigins(origins))
        let bloom = TraceIDBloom(sorted.map(\.summary.traceID))
        index.uvarint(bloom.words.count)
        for word in bloom.words { index.uint64(word) }
        catalog.write(into: &index)

        let indexOffset = sink.count
        sink.append(index.bytes)
        sink.uint64(UInt64(indexOffset))
        sink.uint64(UInt64(index.count))
        sink.uint32(CRC32C.checksum(index.bytes))
        sink.append(magic)
        return .success(sink.bytes)
    }

    // MARK: Opening

    /// Opens a block file: checks the footer and the index checksum, reads the index.
    init(opening path: String) throws(StorageError) {
        let file = try MappedFile(path: path)
        let all = file.bytes
        let (indexOffset, indexLength) = try BlockFiles.checkedIndex(all, magic: Self.magic, path: path, what: "trace block")
        var source = ByteSource(all, offset: indexOffset, end: indexOffset + indexLength)
        do throws(StorageError) {
            let version = try source.uvarint()
            guard version == 1 else {
                throw StorageError(.unsupportedFormat, "trace block version \(version) is newer than this Loupe reads")
            }
            sequence = try source.uvarint()
            minTime = try source.uvarint()
            maxTime = try source.uvarint()
            spanCount = try source.uvarintInt()
            var strings: [String] = []
            for _ in 0..<(try source.uvarintInt(limit: indexLength)) { strings.append(try source.string()) }
            var sets: [[String]] = []
            for _ in 0..<(try source.uvarintInt(limit: indexLength)) {
                var set: [String] = []
                for _ in 0..<(try source.uvarintInt(limit: indexLength)) {
                    set.append(strings[try source.uvarintInt(limit: strings.count - 1)])
                }
                sets.append(set)
            }
            var pages: [Page] = []
            var traceTotal = 0
            for _ in 0..<(try source.uvarintInt(limit: indexLength)) {
                let offset = try source.uvarintInt(limit: indexOffset)
                let length = try source.uvarintInt(limit: indexOffset - offset)
                let pageChecksum = try source.uint32()
                let rawLength = try source.uvarintInt(limit: 1 << 30)
                let traceCount = try source.uvarintInt(limit: indexLength)
                pages.append(Page(
                    offset: offset, length: length, checksum: pageChecksum, rawLength: rawLength, firstTrace: traceTotal,
                    traceCount: traceCount))
                traceTotal += traceCount
            }
            let traceCount = try source.uvarintInt(limit: indexLength / 16)
            guard traceCount == traceTotal else {
                throw StorageError(.corrupt, "the pages hold \(traceTotal) traces but the index lists \(traceCount)")
            }
            var ids: [TraceID] = []
            ids.reserveCapacity(traceCount)
            for _ in 0..<traceCount { ids.append(TraceID(high: try source.uint64(), low: try source.uint64())) }
            var entries: [Entry] = []
            entries.reserveCapacity(traceCount)
            for _ in 0..<traceCount {
                let start = minTime &+ (try source.uvarint())
                let end = start &+ (try source.uvarint())
                let longest = try source.uvarint()
                let spans = UInt32(truncatingIfNeeded: try source.uvarint())
                let errors = UInt32(truncatingIfNeeded: try source.uvarint())
                let rootService = try source.uvarintInt(limit: strings.count)
                let rootName = try source.uvarintInt(limit: strings.count)
                let serviceSet = try source.uvarintInt(limit: max(sets.count - 1, 0))
                let flags = UInt8(truncatingIfNeeded: try source.uvarint())
                guard !sets.isEmpty else { throw StorageError(.corrupt, "traces without service sets") }
                entries.append(Entry(
                    start: start, end: end, longest: longest, spanCount: spans, errorCount: errors, rootService: Int32(rootService) - 1,
                    rootName: Int32(rootName) - 1, serviceSet: Int32(serviceSet), flags: flags))
            }
            origins = try TracePageCodec.decodeOrigins(from: &source)
            var words: [UInt64] = []
            let wordCount = try source.uvarintInt(limit: indexLength / 8)
            guard wordCount.nonzeroBitCount == 1 else { throw StorageError(.corrupt, "a Bloom filter of \(wordCount) words") }
            for _ in 0..<wordCount { words.append(try source.uint64()) }
            catalog = try TraceCatalog(reading: &source)
            self.strings = strings
            self.serviceSets = sets
            self.pages = pages
            self.traceIDs = ids
            self.entries = entries
            self.bloom = TraceIDBloom(words: words)
        } catch {
            throw StorageError(error.code, "\(path): \(error.message)", path: path)
        }
        self.path = path
        self.file = file
    }

    // MARK: Reading

    func overlaps(start: UInt64, end: UInt64) -> Bool { maxTime >= start && minTime <= end }

    /// The index of the trace in this block, if it is here.
    func find(_ id: TraceID) -> Int? {
        guard bloom.mayContain(id) else { return nil }
        var low = 0
        var high = traceIDs.count
        while low < high {
            let middle = (low + high) / 2
            if traceIDs[middle] < id { low = middle + 1 } else { high = middle }
        }
        return low < traceIDs.count && traceIDs[low] == id ? low : nil
    }

    func isContinued(_ index: Int) -> Bool { entries[index].flags & Entry.continued != 0 }

    func summary(_ index: Int) -> TraceSummary {
        let entry = entries[index]
        var summary = TraceSummary(traceID: traceIDs[index])
        summary.startTimeUnixNano = entry.start
        summary.endTimeUnixNano = entry.end
        summary.longestSpanNanoseconds = entry.longest
        summary.spanCount = Int(entry.spanCount)
        summary.errorCount = Int(entry.errorCount)
        if entry.rootName >= 0 {
            summary.rootSpanName = strings[Int(entry.rootName)]
            summary.rootServiceName = entry.rootService >= 0 ? strings[Int(entry.rootService)] : ""
        }
        summary.services = serviceSets[Int(entry.serviceSet)]
        summary.servicesComplete = entry.flags & Entry.servicesComplete != 0
        return summary
    }

    /// The page holding trace `index`.
    func page(of index: Int) -> Int {
        var low = 0
        var high = pages.count
        while low < high {
            let middle = (low + high) / 2
            if pages[middle].firstTrace + pages[middle].traceCount <= index { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// A page's traces (checksum verified), in trace-ID order, each with its spans' origins.
    func decodePage(
        _ number: Int, projection: TracePageCodec.Projection = .full, keep: ((Int) -> Bool)? = nil
    ) throws(StorageError) -> (origins: [SpanOrigin], traces: [PageTrace]) {
        let page = pages[number]
        let all = file.bytes
        guard page.offset >= 0, page.length >= 0, page.offset + page.length <= all.count else {
            throw StorageError(.corrupt, "\(path): page \(number) lies outside the file", path: path)
        }
        let bytes = UnsafeRawBufferPointer(rebasing: all[page.offset..<(page.offset + page.length)])
        guard CRC32C.checksum(bytes) == page.checksum else {
            throw StorageError(.corrupt, "\(path): page \(number)'s checksum does not match", path: path)
        }
        do throws(StorageError) {
            let decoded = try TracePageCodec.decode(
                bytes, rawLength: page.rawLength, sharedOrigins: origins, projection: projection, keep: keep)
            guard decoded.traces.count == page.traceCount else {
                throw StorageError(.corrupt, "page \(number) holds \(decoded.traces.count) traces, not \(page.traceCount)")
            }
            return decoded
        } catch {
            throw StorageError(error.code, "\(path): \(error.message)", path: path)
        }
    }

    static func scanned(_ trace: PageTrace, origins: [SpanOrigin]) -> [TraceSpanStore.ScannedSpan] {
        trace.spans.map { entry in (entry.span, origins[entry.origin].resource, origins[entry.origin].scope) }
    }
}
