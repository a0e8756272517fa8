import LoupeModel
import LoupeWire

/// The resource and scope a span came from, with their schema URLs: what OTLP groups spans by.
public struct SpanOrigin: Sendable, Hashable {
    public var resource: Resource
    public var resourceSchemaURL: String
    public var scope: InstrumentationScope
    public var scopeSchemaURL: String

    public init(resource: Resource, resourceSchemaURL: String = "", scope: InstrumentationScope, scopeSchemaURL: String = "") {
        self.resource = resource
        self.resourceSchemaURL = resourceSchemaURL
        self.scope = scope
        self.scopeSchemaURL = scopeSchemaURL
    }
}

/// A trace's spans as a page holds them: each span with the index of its origin in the page.
struct PageTrace: Sendable {
    var id: TraceID
    var spans: [(span: Span, origin: Int)]
}

/// Whole traces' spans laid out by column, then deflated: one page of a trace block.
///
/// Spans repeat the same few keys, names and services, and their IDs and times are close to one
/// another, so each field gets its own stream: the trace ID once per trace, parents as the index
/// of a span of the same trace, times as deltas, strings as references into a table that grows in
/// order of first use, numbers as varints. Each stream is deflated on its own, so a reader that
/// needs only the span-level fields (IDs, parents, names, kinds, statuses, times and the resource)
/// inflates those streams alone and leaves attributes, events and links compressed.
/// Decoding gives back every field of every span exactly.
///
/// Page layout: version (2), trace, span and origin counts, the origins (OTLP protobuf of a
/// resource and scope each), the stream count, per stream its deflated and inflated lengths,
/// then the deflated streams; the first `coreStreams` streams are the span-level ones.
enum TracePageCodec {
    static let version: UInt64 = 2
    static let streamCount = 32
    static let coreStreams = 13
    /// Trace and link IDs: random bytes deflate cannot shrink, stored as they are.
    static let randomStreams: Set<Int> = [0, 19]

    /// What a reader needs of each span.
    enum Projection: Sendable {
        /// Every field.
        case full
        /// IDs, parent, name, kind, status, trace state, flags, times and the origin; no
        /// attributes, events or links (and their dropped counts read as 0).
        case core
    }

    // MARK: Encoding

    /// `origins` nil: the spans' origin indices refer to a table kept elsewhere (a block's), and
    /// the page stores none.
    ///
    /// `level` is deflate's. Level 1 finds nearly all the repetition the columns leave (56 bytes a
    /// span in the trace benchmark against 51 at level 6) for a third of the time, and deflating
    /// was the largest single cost of ingesting spans.
    static func encode(_ traces: [PageTrace], origins: [SpanOrigin]?, level: Int32 = 1) -> (bytes: [UInt8], rawLength: Int) {
        var writer = Writer()
        for trace in traces {
            writer.traceIDs.uint64(trace.id.high)
            writer.traceIDs.uint64(trace.id.low)
            writer.spanCounts.uvarint(trace.spans.count)
            var positions: [SpanID: Int] = [:]
            positions.reserveCapacity(trace.spans.count)
            for (index, entry) in trace.spans.enumerated() where positions[entry.span.spanID] == nil {
                positions[entry.span.spanID] = index
            }
            for (span, origin) in trace.spans {
                writer.add(span, origin: origin, positions: positions, traceID: trace.id)
            }
        }
        return finish(writer, traceCount: traces.count, spanCount: traces.reduce(0) { $0 + $1.spans.count }, origins: origins, level: level)
    }

    /// The page around the columns a writer holds: counts, origins, then each column deflated.
    static func finish(_ writer: Writer, traceCount: Int, spanCount: Int, origins: [SpanOrigin]?, level: Int32) -> (bytes: [UInt8], rawLength: Int) {
        var page = ByteSink()
        page.uvarint(version)
        page.uvarint(traceCount)
        page.uvarint(spanCount)
        page.append(encodeOrigins(origins ?? [], level: level))
        let streams = writer.streams
        assert(streams.count == streamCount)
        var deflater = Deflater(level: level)
        let compressed = streams.indices.map { index in
            streams[index].isEmpty ? [] : deflater.compress(streams[index], level: Self.randomStreams.contains(index) ? 0 : level)
        }
        page.uvarint(streams.count)
        for (raw, deflated) in zip(streams, compressed) {
            page.uvarint(deflated.count)
            page.uvarint(raw.count)
        }
        for deflated in compressed { page.append(deflated) }
        return (page.bytes, streams.reduce(0) { $0 + $1.count })
    }

    struct Writer {
        var traceIDs = ByteSink()
        var spanCounts = ByteSink()
        var origins = ByteSink()
        var spanIDs = ByteSink()
        var parents = ByteSink()
        var rawParents = ByteSink()
        var names = StringColumn()
        var misc = StringColumn()
        var small = ByteSink()
        var starts = ByteSink()
        var durations = ByteSink()
        var dropped = ByteSink()
        var eventCounts = ByteSink()
        var eventTimes = ByteSink()
        var eventNames = StringColumn()
        var linkCounts = ByteSink()
        var linkIDs = ByteSink()
        var linkMisc = StringColumn()
        var linkSmall = ByteSink()
        var attributeCounts = ByteSink()
        var keys = StringColumn()
        var types = ByteSink()
        var strings = StringColumn()
        var ints = ByteSink()
        var doubles = ByteSink()
        var complex = ByteSink()
        var previousStart: UInt64 = 0

        /// The span-level streams first (`coreStreams` of them), then the details.
        var streams: [[UInt8]] {
            [
                traceIDs.bytes, spanCounts.bytes, origins.bytes, spanIDs.bytes, parents.bytes, rawParents.bytes,
                names.references.bytes, names.table.bytes, misc.references.bytes, misc.table.bytes, small.bytes, starts.bytes,
                durations.bytes,
                dropped.bytes, eventCounts.bytes, eventTimes.bytes, eventNames.references.bytes, eventNames.table.bytes,
                linkCounts.bytes, linkIDs.bytes, linkMisc.references.bytes, linkMisc.table.bytes, linkSmall.bytes,
                attributeCounts.bytes, keys.references.bytes, keys.table.bytes, types.bytes, strings.references.bytes,
                strings.table.bytes, ints.bytes, doubles.bytes, complex.bytes,
            ]
        }

        mutating func add(_ span: Span, origin: Int, positions: [SpanID: Int], traceID: TraceID) {
            origins.uvarint(origin)
            spanIDs.uint64(span.spanID.value)
            // 0: no parent; 1: a span not in the page (raw ID follows); 2 + i: the trace's i-th span.
            if span.parentSpanID.isEmpty {
                parents.uvarint(0)
            } else if let position = positions[span.parentSpanID] {
                parents.uvarint(2 + position)
            } else {
                parents.uvarint(1)
                rawParents.uint64(span.parentSpanID.value)
            }
            // The span's own trace ID is the trace's; one that differs (never from the store) is not representable.
            names.write(span.name)
            misc.write(span.traceState)
            misc.write(span.status.message)
            small.uvarint(UInt64(span.flags))
            small.varint(Int64(span.kind.rawValue))
            small.varint(Int64(span.status.code.rawValue))
            starts.varint(Int64(bitPattern: span.startTimeUnixNano &- previousStart))
            previousStart = span.startTimeUnixNano
            durations.varint(Int64(bitPattern: span.endTimeUnixNano &- span.startTimeUnixNano))
            dropped.uvarint(UInt64(span.droppedAttributesCount))
            dropped.uvarint(UInt64(span.droppedEventsCount))
            dropped.uvarint(UInt64(span.droppedLinksCount))
            addAttributes(span.attributes)
            eventCounts.uvarint(span.events.count)
            for event in span.events {
                eventTimes.varint(Int64(bitPattern: event.timeUnixNano &- span.startTimeUnixNano))
                eventNames.write(event.name)
                dropped.uvarint(UInt64(event.droppedAttributesCount))
                addAttributes(event.attributes)
            }
            linkCounts.uvarint(span.links.count)
            for link in span.links {
                linkIDs.uint64(link.traceID.high)
                linkIDs.uint64(link.traceID.low)
                linkIDs.uint64(link.spanID.value)
                linkMisc.write(link.traceState)
                linkSmall.uvarint(UInt64(link.flags))
                dropped.uvarint(UInt64(link.droppedAttributesCount))
                addAttributes(link.attributes)
            }
        }

        /// The key reference last written at each attribute position: spans of one kind list the
        /// same keys in the same order, so most keys are found without hashing.
        var recentKeys: [Int] = []
        /// Per key reference, the reference of its last string value (a method, a route).
        var recentValues: [Int?] = []
        /// Per key reference, how often its string values were found in the table and not.
        var valueHits: [Int] = []
        var valueMisses: [Int] = []

        mutating func addAttributes(_ attributes: [KeyValue]) {
            attributeCounts.uvarint(attributes.count)
            for (position, attribute) in attributes.enumerated() {
                var key = attribute.key
                let keyReference = key.withUTF8 { addKey(UnsafeRawBufferPointer($0), position: position) }
                switch attribute.value {
                case .string(var text):
                    text.withUTF8 { addString(UnsafeRawBufferPointer($0), keyReference: keyReference) }
                case .bool(let flag): addBool(flag)
                case .int(let number): addInt(number)
                case .double(let number): addDouble(number)
                case .empty: types.bytes.append(ValueType.empty.rawValue)
                case .bytes, .array, .keyValueList: addComplex(attribute.value)
                }
            }
        }

        /// Writes the key of the attribute at `position` in its list; returns the key's reference.
        mutating func addKey(_ key: UnsafeRawBufferPointer, position: Int) -> Int {
            if position < recentKeys.count, keys.matches(recentKeys[position], key) {
                keys.writeReference(recentKeys[position])
                return recentKeys[position]
            }
            let reference = keys.write(key)
            if position < recentKeys.count {
                recentKeys[position] = reference
            } else if position == recentKeys.count {
                recentKeys.append(reference)
            }
            return reference
        }

        mutating func addString(_ text: UnsafeRawBufferPointer, keyReference: Int) {
            types.bytes.append(ValueType.string.rawValue)
            if keyReference < recentValues.count, let recent = recentValues[keyReference], strings.matches(recent, text) {
                strings.writeReference(recent)
                return
            }
            while recentValues.count <= keyReference {
                recentValues.append(nil)
                valueHits.append(0)
                valueMisses.append(0)
            }
            let reference: Int
            if valueMisses[keyReference] >= 64 && valueHits[keyReference] * 8 < valueMisses[keyReference] {
                // A high-cardinality key: its values go to the table unlooked-up.
                reference = strings.appendUnindexed(text)
            } else {
                let before = strings.count
                reference = strings.write(text)
                if strings.count > before { valueMisses[keyReference] += 1 } else { valueHits[keyReference] += 1 }
            }
            recentValues[keyReference] = reference
        }

        mutating func addBool(_ flag: Bool) {
            types.bytes.append(flag ? ValueType.boolTrue.rawValue : ValueType.boolFalse.rawValue)
        }

        mutating func addInt(_ number: Int64) {
            types.bytes.append(ValueType.int.rawValue)
            ints.varint(number)
        }

        mutating func addDouble(_ number: Double) {
            if let (scale, mantissa) = TracePageCodec.decimal(number) {
                // Most measured values are short decimals (0.25, 1.5e-3 s): a few bytes, not eight.
                types.bytes.append(ValueType.decimal.rawValue)
                doubles.bytes.append(scale)
                doubles.varint(mantissa)
            } else {
                types.bytes.append(ValueType.double.rawValue)
                doubles.uint64(number.bitPattern)
            }
        }

        /// Arrays, maps and bytes.
        mutating func addComplex(_ value: AnyValue) {
            types.bytes.append(ValueType.complex.rawValue)
            TracePageCodec.writeValue(value, into: &complex)
        }
    }

    enum ValueType: UInt8 {
        case empty = 0, string, boolFalse, boolTrue, int, double, complex
        /// A double that is exactly `mantissa / 10^scale`: scale (1 byte) and zig-zag mantissa.
        case decimal
    }

    static let powersOfTen: [Double] = (0...12).map { pow10($0) }

    private static func pow10(_ exponent: Int) -> Double {
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// `value` as mantissa / 10^scale with the fewest decimals (up to 12), when that gives back
    /// exactly the same bits; nil otherwise (NaN, infinities, -0, long fractions).
    static func decimal(_ value: Double) -> (scale: UInt8, mantissa: Int64)? {
        guard value.isFinite, !(value == 0 && value.sign == .minus), abs(value) < 1e15 else { return nil }
        for scale in powersOfTen.indices {
            let scaled = (value * powersOfTen[scale]).rounded()
            guard abs(scaled) < 9e15 else { return nil }
            let mantissa = Int64(scaled)
            if (Double(mantissa) / powersOfTen[scale]).bitPattern == value.bitPattern { return (UInt8(scale), mantissa) }
        }
        return nil
    }

    /// Arrays, maps and bytes (rare in spans): a self-describing recursive form.
    static func writeValue(_ value: AnyValue, into sink: inout ByteSink) {
        switch value {
        case .empty: sink.uvarint(0)
        case .string(let text):
            sink.uvarint(1)
            sink.string(text)
        case .bool(let flag): sink.uvarint(flag ? 3 : 2)
        case .int(let number):
            sink.uvarint(4)
            sink.varint(number)
        case .double(let number):
            sink.uvarint(5)
            sink.uint64(number.bitPattern)
        case .bytes(let bytes):
            sink.uvarint(6)
            sink.uvarint(bytes.count)
            sink.append(bytes)
        case .array(let values):
            sink.uvarint(7)
            sink.uvarint(values.count)
            for element in values { writeValue(element, into: &sink) }
        case .keyValueList(let pairs):
            sink.uvarint(8)
            sink.uvarint(pairs.count)
            for pair in pairs {
                sink.string(pair.key)
                writeValue(pair.value, into: &sink)
            }
        }
    }

    /// Origins as OTLP protobuf, deflated together: they differ in a value or two (an instance
    /// ID) and repeat the rest. Count, deflated length, inflated length, bytes.
    static func encodeOrigins(_ origins: [SpanOrigin], level: Int32 = 6) -> [UInt8] {
        var raw = ByteSink()
        for origin in origins {
            let encoded = OTLPProtobuf.encodeTraces(TraceData(resourceSpans: [
                ResourceSpans(
                    resource: origin.resource, scopeSpans: [ScopeSpans(scope: origin.scope, schemaURL: origin.scopeSchemaURL)],
                    schemaURL: origin.resourceSchemaURL)
            ]))
            raw.uvarint(encoded.count)
            raw.append(encoded)
        }
        let deflated = origins.isEmpty ? [] : Gzip.compressDeflate(raw.bytes, level: level)
        var sink = ByteSink()
        sink.uvarint(origins.count)
        sink.uvarint(deflated.count)
        sink.uvarint(raw.count)
        sink.append(deflated)
        return sink.bytes
    }

    static func decodeOrigins(from header: inout ByteSource) throws(StorageError) -> [SpanOrigin] {
        let limit = header.end - header.offset
        let originCount = try header.uvarintInt(limit: limit)
        let deflatedLength = try header.uvarintInt(limit: limit)
        let rawLength = try header.uvarintInt(limit: 1 << 30)
        guard originCount > 0 else { return [] }
        let deflated = try header.bytes(deflatedLength)
        let raw: [UInt8]
        do {
            raw = try Gzip.decompressDeflate(deflated, maximumOutputBytes: rawLength)
        } catch {
            throw StorageError(.corrupt, "span origins do not inflate: \(error)")
        }
        guard raw.count == rawLength else { throw StorageError(.corrupt, "span origins inflate to the wrong length") }
        return try raw.withBytes { (bytes: UnsafeRawBufferPointer) throws(StorageError) -> [SpanOrigin] in
            var source = ByteSource(bytes)
            var origins: [SpanOrigin] = []
            for _ in 0..<originCount {
                let length = try source.uvarintInt(limit: bytes.count)
                let encoded = Array(try source.bytes(length))
                let data: TraceData
                do {
                    data = try OTLPProtobuf.decodeTraces(encoded)
                } catch {
                    throw StorageError(.corrupt, "a span origin does not decode: \(error)")
                }
                guard let resourceSpans = data.resourceSpans.first, let scopeSpans = resourceSpans.scopeSpans.first else {
                    throw StorageError(.corrupt, "a span origin is empty")
                }
                origins.append(SpanOrigin(
                    resource: resourceSpans.resource, resourceSchemaURL: resourceSpans.schemaURL, scope: scopeSpans.scope,
                    scopeSchemaURL: scopeSpans.schemaURL))
            }
            return origins
        }
    }

    // MARK: Decoding

    /// The traces of a page, in the order they were written, and the origins their spans name
    /// (the page's own, or `sharedOrigins` when it has none).
    /// With `keep`, traces it declines come back without spans (cheaply skipped with `.core`).
    static func decode(
        _ page: UnsafeRawBufferPointer, rawLength: Int, sharedOrigins: [SpanOrigin]? = nil, projection: Projection = .full,
        keep: ((Int) -> Bool)? = nil
    ) throws(StorageError) -> (origins: [SpanOrigin], traces: [PageTrace]) {
        var header = ByteSource(page)
        let pageVersion = try header.uvarint()
        guard pageVersion == version else { throw StorageError(.unsupportedFormat, "trace page version \(pageVersion) is unknown to this Loupe") }
        let traceCount = try header.uvarintInt(limit: page.count)
        let spanCount = try header.uvarintInt(limit: max(rawLength, 0))
        var origins = try decodeOrigins(from: &header)
        if origins.isEmpty, let sharedOrigins { origins = sharedOrigins }
        let originCount = origins.count
        let streams = try header.uvarintInt(limit: 64)
        guard streams == streamCount else { throw StorageError(.corrupt, "a trace page has \(streams) streams, not \(streamCount)") }
        var lengths: [(compressed: Int, raw: Int)] = []
        var totalRaw = 0
        for _ in 0..<streams {
            let compressed = try header.uvarintInt(limit: page.count)
            let raw = try header.uvarintInt(limit: max(rawLength - totalRaw, 0))
            totalRaw += raw
            lengths.append((compressed, raw))
        }
        guard totalRaw == rawLength else {
            throw StorageError(.corrupt, "trace page streams inflate to \(totalRaw) bytes, not the \(rawLength) its index records")
        }
        let wanted = projection == .core ? coreStreams : streamCount
        var inflated: [[UInt8]] = []
        inflated.reserveCapacity(streamCount)
        for (index, length) in lengths.enumerated() {
            let compressed = try header.bytes(length.compressed)
            guard index < wanted, length.raw > 0 else {
                inflated.append([])
                continue
            }
            let raw: [UInt8]
            do {
                raw = try Gzip.inflateStored(compressed, length: length.raw)
            } catch {
                throw StorageError(.corrupt, "trace page stream \(index) does not inflate: \(error)")
            }
            guard raw.count == length.raw else {
                throw StorageError(.corrupt, "trace page stream \(index) inflates to \(raw.count) bytes, not \(length.raw)")
            }
            inflated.append(raw)
        }
        return try withPinned(inflated, 0, []) { (buffers: [UnsafeRawBufferPointer]) throws(StorageError) in
            var reader = Reader(streams: buffers.map { ByteSource($0) })
            var traces: [PageTrace] = []
            traces.reserveCapacity(traceCount)
            var decodedSpans = 0
            for traceIndex in 0..<traceCount {
                let id = TraceID(high: try reader.traceIDs.uint64(), low: try reader.traceIDs.uint64())
                let count = try reader.spanCounts.uvarintInt(limit: spanCount - decodedSpans)
                decodedSpans += count
                if projection == .core, let keep, !keep(traceIndex) {
                    try reader.skipCore(spans: count)
                    traces.append(PageTrace(id: id, spans: []))
                    continue
                }
                var spans: [(span: Span, origin: Int)] = []
                spans.reserveCapacity(count)
                var parentPositions: [Int] = []
                for _ in 0..<count {
                    guard originCount > 0 else { throw StorageError(.corrupt, "a trace page has spans but no origins") }
                    let origin = try reader.origins.uvarintInt(limit: originCount - 1)
                    let (span, parent) = try reader.span(traceID: id, details: projection == .full)
                    spans.append((span, origin))
                    parentPositions.append(parent)
                }
                for (index, position) in parentPositions.enumerated() where position >= 0 {
                    guard position < spans.count else { throw StorageError(.corrupt, "a span's parent index \(position) is outside its trace") }
                    spans[index].span.parentSpanID = spans[position].span.spanID
                }
                traces.append(PageTrace(id: id, spans: keep.map { $0(traceIndex) } ?? true ? spans : []))
            }
            return (origins, traces)
        }
    }

    /// Runs `body` with every buffer pinned (recursion keeps each `withUnsafeBytes` open).
    private static func withPinned<R>(
        _ buffers: [[UInt8]], _ index: Int, _ pinned: [UnsafeRawBufferPointer],
        _ body: ([UnsafeRawBufferPointer]) throws(StorageError) -> R
    ) throws(StorageError) -> R {
        if index == buffers.count { return try body(pinned) }
        return try buffers[index].withBytes { (bytes: UnsafeRawBufferPointer) throws(StorageError) -> R in
            try withPinned(buffers, index + 1, pinned + [bytes], body)
        }
    }

    struct StringReader {
        var references: ByteSource
        var table: ByteSource
        var known: [String] = []

        mutating func read() throws(StorageError) -> String {
            let reference = try references.uvarintInt(limit: known.count)
            if reference == 0 {
                let value = try table.string()
                known.append(value)
                return value
            }
            return known[reference - 1]
        }

        /// Moves past one reference; a new string is still made (later references may name it).
        mutating func skip() throws(StorageError) {
            if try references.uvarintInt(limit: known.count) == 0 { known.append(try table.string()) }
        }
    }

    struct Reader {
        var traceIDs, spanCounts, origins, spanIDs, parents, rawParents: ByteSource
        var names, misc: StringReader
        var small, starts, durations: ByteSource
        var dropped, eventCounts, eventTimes: ByteSource
        var eventNames: StringReader
        var linkCounts, linkIDs: ByteSource
        var linkMisc: StringReader
        var linkSmall, attributeCounts: ByteSource
        var keys: StringReader
        var types: ByteSource
        var strings: StringReader
        var ints, doubles, complex: ByteSource
        var previousStart: UInt64 = 0

        init(streams s: [ByteSource]) {
            traceIDs = s[0]; spanCounts = s[1]; origins = s[2]; spanIDs = s[3]; parents = s[4]; rawParents = s[5]
            names = StringReader(references: s[6], table: s[7]); misc = StringReader(references: s[8], table: s[9])
            small = s[10]; starts = s[11]; durations = s[12]
            dropped = s[13]; eventCounts = s[14]; eventTimes = s[15]; eventNames = StringReader(references: s[16], table: s[17])
            linkCounts = s[18]; linkIDs = s[19]; linkMisc = StringReader(references: s[20], table: s[21]); linkSmall = s[22]
            attributeCounts = s[23]; keys = StringReader(references: s[24], table: s[25]); types = s[26]
            strings = StringReader(references: s[27], table: s[28]); ints = s[29]; doubles = s[30]; complex = s[31]
        }

        /// Moves past the span-level fields of `count` spans without building them, column by column.
        mutating func skipCore(spans count: Int) throws(StorageError) {
            try origins.skipUVarints(count)
            _ = try spanIDs.bytes(8 * count)
            for _ in 0..<count {
                if try parents.uvarint() == 1 { _ = try rawParents.bytes(8) }
            }
            for _ in 0..<count { try names.skip() }
            for _ in 0..<2 * count { try misc.skip() }
            try small.skipUVarints(3 * count)
            // Starts are deltas from the previous span's, so they are summed, not skipped.
            for _ in 0..<count { previousStart = previousStart &+ UInt64(bitPattern: try starts.varint()) }
            try durations.skipUVarints(count)
        }

        /// A span (with attributes, events and links when `details`), and the index of its
        /// parent within the trace (-1: none or given raw).
        mutating func span(traceID: TraceID, details: Bool) throws(StorageError) -> (Span, Int) {
            var span = Span(traceID: traceID, spanID: SpanID(value: try spanIDs.uint64()))
            var parent = -1
            switch try parents.uvarint() {
            case 0: break
            case 1: span.parentSpanID = SpanID(value: try rawParents.uint64())
            case let code: parent = Int(clamping: code - 2)
            }
            span.name = try names.read()
            span.traceState = try misc.read()
            span.status.message = try misc.read()
            span.flags = UInt32(truncatingIfNeeded: try small.uvarint())
            span.kind = SpanKind(rawValue: Int32(truncatingIfNeeded: try small.varint()))
            span.status.code = StatusCode(rawValue: Int32(truncatingIfNeeded: try small.varint()))
            span.startTimeUnixNano = previousStart &+ UInt64(bitPattern: try starts.varint())
            previousStart = span.startTimeUnixNano
            span.endTimeUnixNano = span.startTimeUnixNano &+ UInt64(bitPattern: try durations.varint())
            guard details else { return (span, parent) }
            span.droppedAttributesCount = UInt32(truncatingIfNeeded: try dropped.uvarint())
            span.droppedEventsCount = UInt32(truncatingIfNeeded: try dropped.uvarint())
            span.droppedLinksCount = UInt32(truncatingIfNeeded: try dropped.uvarint())
            span.attributes = try attributes()
            let eventCount = try eventCounts.uvarintInt(limit: eventTimes.end - eventTimes.offset)
            for _ in 0..<eventCount {
                var event = SpanEvent(timeUnixNano: span.startTimeUnixNano &+ UInt64(bitPattern: try eventTimes.varint()))
                event.name = try eventNames.read()
                event.droppedAttributesCount = UInt32(truncatingIfNeeded: try dropped.uvarint())
                event.attributes = try attributes()
                span.events.append(event)
            }
            let linkCount = try linkCounts.uvarintInt(limit: (linkIDs.end - linkIDs.offset) / 24)
            for _ in 0..<linkCount {
                let linked = TraceID(high: try linkIDs.uint64(), low: try linkIDs.uint64())
                var link = SpanLink(traceID: linked, spanID: SpanID(value: try linkIDs.uint64()))
                link.traceState = try linkMisc.read()
                link.flags = UInt32(truncatingIfNeeded: try linkSmall.uvarint())
                link.droppedAttributesCount = UInt32(truncatingIfNeeded: try dropped.uvarint())
                link.attributes = try attributes()
                span.links.append(link)
            }
            return (span, parent)
        }

        mutating func attributes() throws(StorageError) -> [KeyValue] {
            let count = try attributeCounts.uvarintInt(limit: types.end - types.offset)
            var result: [KeyValue] = []
            result.reserveCapacity(count)
            for _ in 0..<count {
                let key = try keys.read()
                let rawType = try types.bytes(1)[0]
                let value: AnyValue
                switch ValueType(rawValue: rawType) {
                case .string: value = .string(try strings.read())
                case .boolFalse: value = .bool(false)
                case .boolTrue: value = .bool(true)
                case .int: value = .int(try ints.varint())
                case .double: value = .double(Double(bitPattern: try doubles.uint64()))
                case .decimal:
                    let scale = Int(try doubles.bytes(1)[0])
                    guard scale < TracePageCodec.powersOfTen.count else { throw StorageError(.corrupt, "decimal scale \(scale) is out of range") }
                    value = .double(Double(try doubles.varint()) / TracePageCodec.powersOfTen[scale])
                case .empty: value = .empty
                case .complex: value = try TracePageCodec.readValue(from: &complex, depth: 0)
                case nil: throw StorageError(.corrupt, "attribute value type \(rawType) is unknown")
                }
                result.append(KeyValue(key, value))
            }
            return result
        }
    }

    static func readValue(from source: inout ByteSource, depth: Int) throws(StorageError) -> AnyValue {
        guard depth < 64 else { throw StorageError(.corrupt, "attribute value nests deeper than 64") }
        switch try source.uvarint() {
        case 0: return .empty
        case 1: return .string(try source.string())
        case 2: return .bool(false)
        case 3: return .bool(true)
        case 4: return .int(try source.varint())
        case 5: return .double(Double(bitPattern: try source.uint64()))
        case 6:
            let count = try source.uvarintInt(limit: source.end - source.offset)
            return .bytes(Array(try source.bytes(count)))
        case 7:
            let count = try source.uvarintInt(limit: source.end - source.offset)
            var values: [AnyValue] = []
            for _ in 0..<count { values.append(try readValue(from: &source, depth: depth + 1)) }
            return .array(values)
        case 8:
            let count = try source.uvarintInt(limit: source.end - source.offset)
            var pairs: [KeyValue] = []
            for _ in 0..<count {
                let key = try source.string()
                pairs.append(KeyValue(key, try readValue(from: &source, depth: depth + 1)))
            }
            return .keyValueList(pairs)
        case let other: throw StorageError(.corrupt, "attribute value type \(other) is unknown")
        }
    }
}
