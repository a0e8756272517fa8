import LoupeModel

/// Prometheus remote write 2.0: `io.prometheus.write.v2.Request` (prompb/io/prometheus/write/v2/types.proto),
/// the body of `Content-Type: application/x-protobuf;proto=io.prometheus.write.v2.Request` after Snappy (block
/// format) decompression.
///
/// Strings travel once in the request's `symbols` table and are referenced by index; decoding resolves every
/// reference (each distinct string is validated and allocated once per request, then shared). On top of the
/// protobuf rules and the label rules of `RemoteWriteLabels`, the decoder checks what the 2.0 spec says MUST:
/// - `symbols[0]` is the empty string, and a request with series has a symbols table;
/// - every reference (`labels_refs`, exemplar `labels_refs`, `help_ref`, `unit_ref`) is an index into `symbols`
///   (a reference too large for `uint32` is out of range too, not truncated);
/// - `labels_refs` holds name/value pairs (an even count).
/// The field order on the wire does not matter: `symbols` may come after the series that use them.
///
/// Accepted although the spec forbids senders to send them (Prometheus's receiver accepts them too, and the
/// model holds them): a series with both samples and histograms, or with neither. Rejecting those, like
/// requiring metadata types or start timestamps, is left to the receiver's policy.
///
/// Start timestamps: 2.0 gives every sample and histogram a `start_timestamp` (0 = unset); the model has one
/// `createdTimestamp` per series. When all of a series' samples and histograms share one start timestamp (the
/// normal case) that is the series' `createdTimestamp`; when they differ, the series is split into consecutive
/// runs with equal start timestamps, each its own `TimeSeries` with the same labels and metadata (the spec
/// allows the same labels in several series "e.g. for different exemplars, metadata or start timestamp"); the
/// exemplars go with the first. The deprecated `created_timestamp = 6` of the 2.0 release candidates (now
/// reserved) is read when no sample or histogram has a start timestamp. The encoder writes `createdTimestamp`
/// as every sample's and histogram's `start_timestamp`.
///
/// `TimeSeries.metadata` is the series' `metadata` field, or `nil` when it is absent or says nothing (type
/// unspecified, no help, no unit): Prometheus always sends the field (it is non-nullable in its Go code), empty
/// when it knows nothing, and an empty one must not read as "type unknown" over metadata known from elsewhere.
/// Likewise `nil` and `MetricMetadata()` are both written as no field. The request-level `metadata` (1.0's) is
/// neither filled nor written. Exemplar timestamps: `nil` when the field is absent (as in 1.0).
public enum RemoteWriteV2 {
    /// The `Content-Type` of a 2.0 request.
    public static let contentType = "application/x-protobuf;proto=io.prometheus.write.v2.Request"

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> RemoteWriteRequest {
        var decoding = RemoteWriteV2Decoding()
        var reader = ProtobufReader(bytes)
        return try decoding.decodeRequest(&reader)
    }

    public static func decode(_ bytes: [UInt8]) throws(WireError) -> RemoteWriteRequest {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(WireError) -> RemoteWriteRequest in try decode(buffer) }
        }
        return try result.get()
    }

    /// Canonical protobuf: `symbols` (in order of first use, starting with "") then the series; proto3 defaults
    /// left out, repeated scalars packed.
    public static func encode(_ request: RemoteWriteRequest) -> [UInt8] {
        // First pass, forwards: the symbol table (in order of first use), and every reference in a flat list, so
        // the writing pass (backwards) hashes no string again. Per series: the label pairs, help and unit (when
        // metadata is written), each exemplar's label pairs.
        var symbols = SymbolTable()
        var references: [UInt32] = []
        var seriesStarts: [Int] = []
        seriesStarts.reserveCapacity(request.series.count)
        for series in request.series {
            seriesStarts.append(references.count)
            for label in series.labels {
                references.append(symbols.reference(label.name))
                references.append(symbols.reference(label.value))
            }
            if let metadata = series.metadata, metadata != MetricMetadata() {
                references.append(symbols.reference(metadata.help))
                references.append(symbols.reference(metadata.unit))
            }
            for exemplar in series.exemplars {
                for label in exemplar.labels {
                    references.append(symbols.reference(label.name))
                    references.append(symbols.reference(label.value))
                }
            }
        }

        var writer = ProtobufWriter(capacity: RemoteWriteV1.estimatedSize(request))
        var seriesIndex = request.series.count
        while seriesIndex > 0 {
            seriesIndex -= 1
            let series = request.series[seriesIndex]
            let labelReferences = seriesStarts[seriesIndex]
            var cursor = labelReferences + series.labels.count * 2
            let mark = writer.count
            if let metadata = series.metadata, metadata != MetricMetadata() {
                let metadataMark = writer.count
                let (help, unit) = (references[cursor], references[cursor + 1])
                cursor += 2
                if unit != 0 { writer.prependVarintField(4, UInt64(unit)) }
                if help != 0 { writer.prependVarintField(3, UInt64(help)) }
                if metadata.type != .unknown { writer.prependVarintField(1, metadata.type.remoteWriteValue) }
                writer.prependLengthAndTag(field: 5, since: metadataMark)
            }
            var exemplarStarts: [Int] = []
            if !series.exemplars.isEmpty {
                exemplarStarts.reserveCapacity(series.exemplars.count)
                for exemplar in series.exemplars {
                    exemplarStarts.append(cursor)
                    cursor += exemplar.labels.count * 2
                }
            }
            var exemplarIndex = series.exemplars.count
            while exemplarIndex > 0 {
                exemplarIndex -= 1
                let exemplar = series.exemplars[exemplarIndex]
                let exemplarMark = writer.count
                if let timestamp = exemplar.timestamp { writer.prependInt64Field(3, timestamp) }
                if exemplar.value.bitPattern != 0 { writer.prependDoubleField(2, exemplar.value) }
                prependLabelReferences(references, from: exemplarStarts[exemplarIndex], count: exemplar.labels.count * 2, into: &writer)
                writer.prependLengthAndTag(field: 4, since: exemplarMark)
            }
            for histogram in series.histograms.reversed() {
                RemoteWriteHistograms.prepend(histogram, startTimestamp: series.createdTimestamp, field: 3, into: &writer)
            }
            for sample in series.samples.reversed() {
                let sampleMark = writer.count
                if series.createdTimestamp != 0 { writer.prependInt64Field(3, series.createdTimestamp) }
                if sample.timestamp != 0 { writer.prependInt64Field(2, sample.timestamp) }
                if sample.value.bitPattern != 0 { writer.prependDoubleField(1, sample.value) }
                writer.prependLengthAndTag(field: 2, since: sampleMark)
            }
            prependLabelReferences(references, from: labelReferences, count: series.labels.count * 2, into: &writer)
            writer.prependLengthAndTag(field: 5, since: mark)
        }
        for symbol in symbols.strings.reversed() {
            let mark = writer.count
            writer.prependRawString(symbol)
            writer.prependLengthAndTag(field: 4, since: mark)
        }
        return writer.finish()
    }

    /// A packed `labels_refs` field of `references[start..<start + count]`; nothing when empty.
    static func prependLabelReferences(_ references: [UInt32], from start: Int, count: Int, into writer: inout ProtobufWriter) {
        guard count > 0 else { return }
        let mark = writer.count
        var index = start + count
        while index > start {
            index -= 1
            writer.prependVarint(UInt64(references[index]))
        }
        writer.prependLengthAndTag(field: 1, since: mark)
    }

    /// The symbols of a request being encoded: "" first, then every string in order of first use.
    struct SymbolTable {
        var strings: [String] = [""]
        var references: [String: UInt32] = ["": 0]

        /// The reference of `string`, added to the table if it is new.
        mutating func reference(_ string: String) -> UInt32 {
            if let existing = references[string] { return existing }
            let new = UInt32(strings.count)
            references[string] = new
            strings.append(string)
            return new
        }
    }
}

/// The state of one 2.0 decode: the symbols and reusable scratch buffers.
struct RemoteWriteV2Decoding {
    var symbols: [String] = []
    /// The current series' samples' and histograms' start timestamps.
    var sampleStarts: [Int64] = []
    var histogramStarts: [Int64] = []

    mutating func decodeRequest(_ reader: inout ProtobufReader) throws(WireError) -> RemoteWriteRequest {
        // First pass: the symbols, and where each series is (the series may come before the symbols).
        var seriesReaders: [ProtobufReader] = []
        var firstSymbolOffset = 0
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 4 << 3 | 2:
                    if symbols.isEmpty {
                        symbols.reserveCapacity(reader.countLengthDelimitedRun(tag: tag))
                        firstSymbolOffset = reader.offset
                    }
                    symbols.append(try reader.readString())
                case 5 << 3 | 2:
                    if seriesReaders.isEmpty { seriesReaders.reserveCapacity(reader.countLengthDelimitedRun(tag: tag)) }
                    seriesReaders.append(try reader.readMessage())
                default:
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 4: throw error.prefixed(with: "symbols", index: symbols.count)
            case 5: throw error.prefixed(with: "timeseries", index: seriesReaders.count)
            default: throw error
            }
        }
        if let first = symbols.first, !first.isEmpty {
            throw WireError(
                .invalidValue, "the first symbol must be the empty string, got \"\(first)\"", at: "symbols[0]", offset: firstSymbolOffset
            )
        }
        if symbols.isEmpty && !seriesReaders.isEmpty {
            throw WireError(
                .invalidValue, "the request has \(seriesReaders.count) series but no symbols (symbols[0] must be the empty string)",
                at: "symbols", offset: seriesReaders[0].offset
            )
        }

        var request = RemoteWriteRequest()
        request.series.reserveCapacity(seriesReaders.count)
        for index in seriesReaders.indices {
            do {
                try decodeTimeSeries(&seriesReaders[index], into: &request.series)
            } catch {
                throw error.prefixed(with: "timeseries", index: index)
            }
        }
        return request
    }

    /// A symbol reference just read at `offset`, checked against a table of `symbolCount` entries.
    @inline(__always)
    static func checkedReference(_ value: UInt64, symbolCount: Int, offset: Int) throws(WireError) -> Int {
        guard value < UInt64(symbolCount) else {
            throw WireError(
                .invalidValue, "symbol reference \(value) is out of range (the symbols table has \(symbolCount) entries)", offset: offset
            )
        }
        return Int(truncatingIfNeeded: value)
    }

    /// Label references resolved into labels as they are read: every second reference completes a label.
    struct PendingLabels {
        var labels: [Label] = []
        /// The name of a label whose value has not been read yet, or -1.
        var pendingName = -1
        /// References read so far.
        var count = 0
        /// Where the first `labels_refs` field starts.
        var offset: Int

        init(offset: Int) { self.offset = offset }
    }

    /// Reads a `labels_refs` field (packed, or a single unpacked value) whose tag was just read. Errors carry
    /// the path `[index]` of the offending reference.
    @inline(__always)
    func readReferences(_ reader: inout ProtobufReader, tag: UInt32, into pending: inout PendingLabels) throws(WireError) {
        if pending.count == 0 { pending.offset = reader.offset }
        if tag & 7 == 0 {
            try readReference(&reader, into: &pending)
            return
        }
        var packed = try reader.readMessage()
        if pending.count == 0 { pending.labels.reserveCapacity(packed.remaining >> 1) }
        while !packed.isAtEnd { try readReference(&packed, into: &pending) }
    }

    @inline(__always)
    func readReference(_ reader: inout ProtobufReader, into pending: inout PendingLabels) throws(WireError) {
        let start = reader.offset
        let index: Int
        do {
            index = try Self.checkedReference(try reader.readVarint(), symbolCount: symbols.count, offset: start)
        } catch {
            throw error.prefixed(with: "[\(pending.count)]")
        }
        if pending.pendingName < 0 {
            pending.pendingName = index
        } else {
            pending.labels.append(Label(symbols[pending.pendingName], symbols[index]))
            pending.pendingName = -1
        }
        pending.count &+= 1
    }

    /// Validates the labels read (see `RemoteWriteLabels`).
    @inline(__always)
    func finishLabels(_ pending: PendingLabels, isSeries: Bool) throws(WireError) -> Labels {
        guard pending.pendingName < 0 else {
            throw WireError(
                .invalidValue, "labels_refs has \(pending.count) entries; it must hold name/value pairs", at: "labelsRefs", offset: pending.offset
            )
        }
        let offset = pending.offset
        return try RemoteWriteLabels.makeLabels(
            pending.labels, isSeries: isSeries, component: { "labelsRefs[\($0 * 2)]" }, offset: { _ in offset }, seriesOffset: offset
        )
    }

    mutating func decodeTimeSeries(_ reader: inout ProtobufReader, into output: inout [TimeSeries]) throws(WireError) {
        var pendingLabels = PendingLabels(offset: reader.offset)
        sampleStarts.removeAll(keepingCapacity: true)
        histogramStarts.removeAll(keepingCapacity: true)
        var samples: [FloatSample] = []
        var histograms: [HistogramSample] = []
        var exemplars: [PrometheusExemplar] = []
        var metadata: MetricMetadata?
        var legacyCreatedTimestamp: Int64 = 0
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2, 1 << 3 | 0:
                    try readReferences(&reader, tag: tag, into: &pendingLabels)
                case 2 << 3 | 2:
                    if samples.isEmpty {
                        let count = reader.countLengthDelimitedRun(tag: tag)
                        samples.reserveCapacity(count)
                        sampleStarts.reserveCapacity(count)
                    }
                    var nested = try reader.readMessage()
                    try decodeSample(&nested, into: &samples)
                case 3 << 3 | 2:
                    var nested = try reader.readMessage()
                    var start: Int64 = 0
                    histograms.append(try RemoteWriteHistograms.decode(&nested, isVersion2: true, startTimestamp: &start))
                    histogramStarts.append(start)
                case 4 << 3 | 2:
                    var nested = try reader.readMessage()
                    exemplars.append(try decodeExemplar(&nested))
                case 5 << 3 | 2:
                    var nested = try reader.readMessage()
                    var merged = metadata ?? MetricMetadata()
                    try decodeMetadata(&nested, into: &merged)
                    metadata = merged == MetricMetadata() ? nil : merged
                case 6 << 3 | 0:
                    legacyCreatedTimestamp = try reader.readVarintInt64()
                default:
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "labelsRefs")
            case 2: throw error.prefixed(with: "samples", index: samples.count)
            case 3: throw error.prefixed(with: "histograms", index: histograms.count)
            case 4: throw error.prefixed(with: "exemplars", index: exemplars.count)
            case 5: throw error.prefixed(with: "metadata")
            case 6: throw error.prefixed(with: "createdTimestamp")
            default: throw error
            }
        }
        let labels = try finishLabels(pendingLabels, isSeries: true)

        // One start timestamp for everything (the normal case), or runs of equal ones.
        var common: Int64?
        var uniform = true
        for start in sampleStarts where start != common {
            if common == nil { common = start } else { uniform = false }
        }
        for start in histogramStarts where start != common {
            if common == nil { common = start } else { uniform = false }
        }
        if uniform {
            let created = common ?? 0
            output.append(
                TimeSeries(
                    labels: labels, samples: samples, histograms: histograms, exemplars: exemplars, metadata: metadata,
                    createdTimestamp: created != 0 ? created : legacyCreatedTimestamp
                )
            )
            return
        }
        var pendingExemplars = exemplars
        var start = 0
        while start < samples.count {
            var end = start + 1
            while end < samples.count && sampleStarts[end] == sampleStarts[start] { end += 1 }
            output.append(
                TimeSeries(
                    labels: labels, samples: Array(samples[start..<end]), exemplars: pendingExemplars, metadata: metadata,
                    createdTimestamp: sampleStarts[start]
                )
            )
            pendingExemplars = []
            start = end
        }
        start = 0
        while start < histograms.count {
            var end = start + 1
            while end < histograms.count && histogramStarts[end] == histogramStarts[start] { end += 1 }
            output.append(
                TimeSeries(
                    labels: labels, histograms: Array(histograms[start..<end]), exemplars: pendingExemplars, metadata: metadata,
                    createdTimestamp: histogramStarts[start]
                )
            )
            pendingExemplars = []
            start = end
        }
    }

    /// `Sample`: `value = 1`, `timestamp = 2`, `start_timestamp = 3`.
    @inline(__always)
    mutating func decodeSample(_ reader: inout ProtobufReader, into samples: inout [FloatSample]) throws(WireError) {
        var sample = FloatSample(timestamp: 0, value: 0)
        var start: Int64 = 0
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 1: sample.value = try reader.readDouble()
                case 2 << 3 | 0: sample.timestamp = try reader.readVarintInt64()
                case 3 << 3 | 0: start = try reader.readVarintInt64()
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            throw error.prefixed(with: tag >> 3 == 1 ? "value" : tag >> 3 == 2 ? "timestamp" : tag >> 3 == 3 ? "startTimestamp" : "")
        }
        samples.append(sample)
        sampleStarts.append(start)
    }

    /// `Exemplar`: `labels_refs = 1`, `value = 2`, `timestamp = 3`.
    mutating func decodeExemplar(_ reader: inout ProtobufReader) throws(WireError) -> PrometheusExemplar {
        var pendingLabels = PendingLabels(offset: reader.offset)
        var value = 0.0
        var timestamp: Int64?
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2, 1 << 3 | 0:
                    try readReferences(&reader, tag: tag, into: &pendingLabels)
                case 2 << 3 | 1: value = try reader.readDouble()
                case 3 << 3 | 0: timestamp = try reader.readVarintInt64()
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            throw error.prefixed(with: tag >> 3 == 1 ? "labelsRefs" : tag >> 3 == 2 ? "value" : tag >> 3 == 3 ? "timestamp" : "")
        }
        let labels = try finishLabels(pendingLabels, isSeries: false)
        return PrometheusExemplar(labels: labels, value: value, timestamp: timestamp)
    }

    /// `Metadata`: `type = 1`, `help_ref = 3`, `unit_ref = 4`.
    func decodeMetadata(_ reader: inout ProtobufReader, into metadata: inout MetricMetadata) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 0:
                    metadata.type = MetricMetadata.MetricType(remoteWriteValue: try reader.readVarint())
                case 3 << 3 | 0:
                    let start = reader.offset
                    metadata.help = symbols[try Self.checkedReference(try reader.readVarint(), symbolCount: symbols.count, offset: start)]
                case 4 << 3 | 0:
                    let start = reader.offset
                    metadata.unit = symbols[try Self.checkedReference(try reader.readVarint(), symbolCount: symbols.count, offset: start)]
                default:
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            throw error.prefixed(with: tag >> 3 == 1 ? "type" : tag >> 3 == 3 ? "helpRef" : tag >> 3 == 4 ? "unitRef" : "")
        }
    }
}
