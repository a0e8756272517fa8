import LoupeModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Prometheus remote write 1.0: `prometheus.WriteRequest` (prompb/remote.proto, prompb/types.proto), the body
/// of `Content-Type: application/x-protobuf` (or `;proto=prometheus.WriteRequest`) after Snappy (block format)
/// decompression.
///
/// Decoding follows the protobuf rules (unknown fields of every wire type skipped, packed and unpacked repeated
/// scalars accepted, the last value of a singular field sent twice wins) and then the label rules of
/// `RemoteWriteLabels` (empty or duplicate names rejected, empty values dropped, labels sorted). Problems are
/// `WireError`s with the path (`timeseries[3].labels[1]`) and byte offset. Samples keep their exact bits, so
/// stale markers (`StaleMarker`, NaN 0x7FF0000000000002) survive. Native histograms: see
/// `RemoteWriteHistograms`. An exemplar's timestamp is `nil` when the field is absent (a proto3 encoder leaves
/// out 0, so an exemplar at exactly the epoch also decodes as `nil`); the encoder writes it whenever it is set.
///
/// Encoding is canonical protobuf (fields in order, proto3 defaults left out, repeated scalars packed). The
/// request `metadata` is written sorted by family name. `TimeSeries.metadata` and `createdTimestamp` have no
/// place in 1.0 and are not written.
public enum RemoteWriteV1 {
    /// The `Content-Type` of a 1.0 request (`application/x-protobuf` alone also means 1.0).
    public static let contentType = "application/x-protobuf;proto=prometheus.WriteRequest"

    /// - Parameter labelCache: label sets the target head already holds; series whose label bytes
    ///   match one reuse it, and the others carry `rawLabelsHash` so the head can remember theirs.
    public static func decode(_ bytes: UnsafeRawBufferPointer, labelCache: RemoteWriteLabelCache? = nil) throws(WireError)
        -> RemoteWriteRequest
    {
        var decoding = RemoteWriteV1Decoding(labelCache: labelCache)
        defer { decoding.release() }
        var reader = ProtobufReader(bytes)
        return try decoding.decodeRequest(&reader)
    }

    public static func decode(_ bytes: [UInt8], labelCache: RemoteWriteLabelCache? = nil) throws(WireError) -> RemoteWriteRequest {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(WireError) -> RemoteWriteRequest in try decode(buffer, labelCache: labelCache) }
        }
        return try result.get()
    }

    public static func encode(_ request: RemoteWriteRequest) -> [UInt8] {
        var writer = ProtobufWriter(capacity: estimatedSize(request))
        for name in request.metadata.keys.sorted().reversed() {
            let metadata = request.metadata[name]!
            let mark = writer.count
            if !metadata.unit.isEmpty { writer.prependStringField(5, metadata.unit) }
            if !metadata.help.isEmpty { writer.prependStringField(4, metadata.help) }
            if !name.isEmpty { writer.prependStringField(2, name) }
            if metadata.type != .unknown { writer.prependVarintField(1, metadata.type.remoteWriteValue) }
            writer.prependLengthAndTag(field: 3, since: mark)
        }
        for series in request.series.reversed() {
            let mark = writer.count
            for histogram in series.histograms.reversed() {
                RemoteWriteHistograms.prepend(histogram, startTimestamp: 0, field: 4, into: &writer)
            }
            for exemplar in series.exemplars.reversed() {
                let exemplarMark = writer.count
                if let timestamp = exemplar.timestamp { writer.prependInt64Field(3, timestamp) }
                if exemplar.value.bitPattern != 0 { writer.prependDoubleField(2, exemplar.value) }
                prependLabels(exemplar.labels, into: &writer)
                writer.prependLengthAndTag(field: 3, since: exemplarMark)
            }
            for sample in series.samples.reversed() {
                let sampleMark = writer.count
                if sample.timestamp != 0 { writer.prependInt64Field(2, sample.timestamp) }
                if sample.value.bitPattern != 0 { writer.prependDoubleField(1, sample.value) }
                writer.prependLengthAndTag(field: 2, since: sampleMark)
            }
            prependLabels(series.labels, into: &writer)
            writer.prependLengthAndTag(field: 1, since: mark)
        }
        return writer.finish()
    }

    static func prependLabels(_ labels: Labels, into writer: inout ProtobufWriter) {
        for label in labels.storage.reversed() {
            let mark = writer.count
            if !label.value.isEmpty { writer.prependStringField(2, label.value) }
            if !label.name.isEmpty { writer.prependStringField(1, label.name) }
            writer.prependLengthAndTag(field: 1, since: mark)
        }
    }

    static func estimatedSize(_ request: RemoteWriteRequest) -> Int {
        var size = 64
        for series in request.series.prefix(64) {
            size += 16 + series.sampleCount * 20 + series.histograms.count * 128 + series.exemplars.count * 64
            for label in series.labels { size += label.name.utf8.count + label.value.utf8.count + 6 }
        }
        if request.series.count > 64 { size = size / 64 * request.series.count }
        return min(size, 64 << 20)
    }
}

/// The state of one 1.0 decode: string caches and a reusable scratch buffer.
struct RemoteWriteV1Decoding {
    struct Interners {
        /// Label names: few distinct, repeated in every series.
        let names = ProtobufStringInterner(slotCount: 512)
        /// Label values: many distinct, but most repeat across series (job, instance, namespace, pod...).
        let values = ProtobufStringInterner(slotCount: 4096)
    }

    /// Made on first use: a request whose series all hit the label cache decodes no label strings,
    /// and the interners' tables (~110 KiB) would be allocated and freed for nothing.
    private var interners: Interners?
    /// The byte offsets of the labels of the series being decoded (reused from series to series).
    var labelOffsets: [Int] = []
    let labelCache: RemoteWriteLabelCache?
    /// With a label cache: the label fields of the series being decoded, read once the samples are.
    var labelMessages: [ProtobufReader] = []
    /// With a label cache: series whose label sets are looked up once the whole request is read.
    var deferred: [DeferredLabels] = []

    /// A series whose label fields are back to back, as every sender writes them. Its label set is
    /// looked up after the request's last series is read (`resolveDeferredLabels`), a few series
    /// after the cache was asked to bring it in, rather than waited for series by series.
    struct DeferredLabels {
        var seriesIndex: Int
        var hash: UInt64
        /// The label fields, tags and lengths included, in offsets of the request.
        var fields: Range<Int>
        var count: Int
        var seriesOffset: Int
    }

    /// How many series ahead of its comparison a label set is prefetched: far enough for a miss to
    /// complete (a series' work takes longer than a trip to memory), near enough to stay cached.
    static let prefetchDistance = 4

    init(labelCache: RemoteWriteLabelCache? = nil) {
        self.labelCache = labelCache
    }

    func release() {
        interners?.names.release()
        interners?.values.release()
    }

    private mutating func internedStrings() -> Interners {
        if let interners { return interners }
        let made = Interners()
        interners = made
        return made
    }

    mutating func decodeRequest(_ reader: inout ProtobufReader) throws(WireError) -> RemoteWriteRequest {
        var request = RemoteWriteRequest()
        var metadataIndex = 0
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2:
                    var nested = try reader.readMessage()
                    if request.series.isEmpty { request.series.reserveCapacity(reader.estimatedRepeatCount(firstElement: nested)) }
                    request.series.append(try decodeTimeSeries(&nested, index: request.series.count))
                case 3 << 3 | 2:
                    var nested = try reader.readMessage()
                    let (name, metadata) = try decodeMetadata(&nested)
                    request.metadata[name] = metadata
                    metadataIndex += 1
                default:
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "timeseries", index: request.series.count)
            case 3: throw error.prefixed(with: "metadata", index: metadataIndex)
            default: throw error
            }
        }
        try resolveDeferredLabels(&request, reader)
        return request
    }

    /// Gives every deferred series its label set: the cached one when the bytes match it, else one
    /// decoded from the bytes. Each cached label set is prefetched `prefetchDistance` series ahead.
    mutating func resolveDeferredLabels(_ request: inout RemoteWriteRequest, _ reader: ProtobufReader) throws(WireError) {
        guard let labelCache, !deferred.isEmpty else { return }
        let distance = Self.prefetchDistance
        for step in 0..<(deferred.count &+ distance) {
            if step < deferred.count { labelCache.prefetchLabels(for: deferred[step].hash, count: deferred[step].count) }
            guard step >= distance else { continue }
            let item = deferred[step &- distance]
            let fields = reader.bytes(item.fields)
            if let known = labelCache.match(item.hash, { Self.matches($0, fields: fields, count: item.count) }) {
                request.series[item.seriesIndex].labels = known.labels
                request.series[item.seriesIndex].seriesRefHint = known.seriesRef
                continue
            }
            do {
                request.series[item.seriesIndex].labels = try decodeLabels(item, base: reader.base)
            } catch {
                throw error.prefixed(with: "timeseries", index: item.seriesIndex)
            }
            request.series[item.seriesIndex].rawLabelsHash = item.hash
        }
    }

    /// Decodes a deferred series' label fields (already read once, so only label errors remain).
    mutating func decodeLabels(_ item: DeferredLabels, base: UnsafeRawPointer) throws(WireError) -> Labels {
        var fields = ProtobufReader(base: base, offset: item.fields.lowerBound, end: item.fields.upperBound)
        labelOffsets.removeAll(keepingCapacity: true)
        var labels: [Label] = []
        labels.reserveCapacity(item.count)
        while !fields.isAtEnd {
            _ = try fields.readTag()
            var nested = try fields.readMessage()
            labelOffsets.append(nested.offset)
            do {
                labels.append(try decodeLabel(&nested))
            } catch {
                throw error.prefixed(with: "labels", index: labels.count)
            }
        }
        let offsets = labelOffsets
        return try RemoteWriteLabels.makeLabels(
            labels, isSeries: true, component: { "labels[\($0)]" }, offset: { offsets[$0] }, seriesOffset: item.seriesOffset
        )
    }

    mutating func decodeTimeSeries(_ reader: inout ProtobufReader, index: Int) throws(WireError) -> TimeSeries {
        let seriesOffset = reader.offset
        labelOffsets.removeAll(keepingCapacity: true)
        labelMessages.removeAll(keepingCapacity: true)
        var rawHash = RawLabelsHash()
        // The label fields' raw bytes (tags and lengths included) are hashed run by run: senders
        // write them back to back, so usually one run covers them all.
        var labelRun = 0..<0
        var labelRuns = 0
        var labels: [Label] = []
        var samples: [FloatSample] = []
        var onlySample: FloatSample?
        var exemplars: [PrometheusExemplar] = []
        var histograms: [HistogramSample] = []
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                let fieldStart = reader.offset
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2:
                    var nested = try reader.readMessage()
                    labelOffsets.append(nested.offset)
                    if labelCache != nil {
                        if labelRun.upperBound == fieldStart {
                            labelRun = labelRun.lowerBound..<nested.end
                        } else {
                            if !labelRun.isEmpty { rawHash.add(reader.bytes(labelRun)) }
                            labelRun = fieldStart..<nested.end
                            labelRuns &+= 1
                        }
                        labelMessages.append(nested)
                    } else {
                        if labels.isEmpty { labels.reserveCapacity(reader.countLengthDelimitedRun(tag: tag)) }
                        labels.append(try decodeLabel(&nested))
                    }
                case 2 << 3 | 2:
                    // A lone sample (the usual case) stays out of an array: see `TimeSeries.samples`.
                    let run = samples.isEmpty && onlySample == nil ? reader.countLengthDelimitedRun(tag: tag) : 0
                    var nested = try reader.readMessage()
                    let sample = try decodeSample(&nested)
                    if run == 1 {
                        onlySample = sample
                    } else {
                        if run > 1 { samples.reserveCapacity(run) }
                        if let only = onlySample {
                            // Sample fields that are not back to back.
                            samples.append(only)
                            onlySample = nil
                        }
                        samples.append(sample)
                    }
                case 3 << 3 | 2:
                    var nested = try reader.readMessage()
                    exemplars.append(try decodeExemplar(&nested))
                case 4 << 3 | 2:
                    var nested = try reader.readMessage()
                    var ignored: Int64 = 0
                    histograms.append(try RemoteWriteHistograms.decode(&nested, isVersion2: false, startTimestamp: &ignored))
                default:
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "labels", index: labels.count)
            case 2: throw error.prefixed(with: "samples", index: samples.count + (onlySample == nil ? 0 : 1))
            case 3: throw error.prefixed(with: "exemplars", index: exemplars.count)
            case 4: throw error.prefixed(with: "histograms", index: histograms.count)
            default: throw error
            }
        }
        var rawLabelsHash: UInt64?
        if let labelCache {
            if !labelRun.isEmpty { rawHash.add(reader.bytes(labelRun)) }
            if labelRuns <= 1 {
                labelCache.prefetch(for: rawHash.value)
                deferred.append(
                    DeferredLabels(seriesIndex: index, hash: rawHash.value, fields: labelRun, count: labelMessages.count, seriesOffset: seriesOffset))
                return Self.makeSeries(Labels(), onlySample, samples, histograms, exemplars)
            }
            if let known = labelCache.candidate(for: rawHash.value), Self.matches(known.labels, labelMessages) {
                var series = Self.makeSeries(known.labels, onlySample, samples, histograms, exemplars)
                series.seriesRefHint = known.seriesRef
                return series
            }
            labels.reserveCapacity(labelMessages.count)
            for index in labelMessages.indices {
                var message = labelMessages[index]
                do {
                    labels.append(try decodeLabel(&message))
                } catch {
                    throw error.prefixed(with: "labels", index: index)
                }
            }
            rawLabelsHash = rawHash.value
        }
        let offsets = labelOffsets
        let seriesLabels = try RemoteWriteLabels.makeLabels(
            labels, isSeries: true, component: { "labels[\($0)]" }, offset: { offsets[$0] }, seriesOffset: seriesOffset
        )
        var series = Self.makeSeries(seriesLabels, onlySample, samples, histograms, exemplars)
        series.rawLabelsHash = rawLabelsHash
        return series
    }

    @inline(__always)
    static func makeSeries(
        _ labels: Labels, _ onlySample: FloatSample?, _ samples: [FloatSample], _ histograms: [HistogramSample], _ exemplars: [PrometheusExemplar]
    ) -> TimeSeries {
        if let onlySample { return TimeSeries(labels: labels, onlySample: onlySample, histograms: histograms, exemplars: exemplars) }
        return TimeSeries(labels: labels, samples: samples, histograms: histograms, exemplars: exemplars)
    }

    /// Whether the label fields decode to exactly `labels` (same order, no empty values, no unknown fields).
    static func matches(_ labels: Labels, _ messages: [ProtobufReader]) -> Bool {
        guard labels.count == messages.count else { return false }
        return labels.storage.withUnsafeBufferPointer { stored in
            for index in messages.indices where !matches(stored[index], messages[index]) { return false }
            return true
        }
    }

    /// `matches(_:_:)` for `count` label fields back to back in `fields`.
    static func matches(_ labels: Labels, fields: UnsafeRawBufferPointer, count: Int) -> Bool {
        guard labels.count == count else { return false }
        var reader = ProtobufReader(fields)
        return labels.storage.withUnsafeBufferPointer { stored in
            for index in 0..<count {
                guard (try? reader.readTag()) == 1 << 3 | 2, let message = try? reader.readMessage(), matches(stored[index], message) else {
                    return false
                }
            }
            return reader.isAtEnd
        }
    }

    /// Whether one label field decodes to exactly `label`.
    @inline(__always)
    static func matches(_ label: Label, _ message: ProtobufReader) -> Bool {
        // What every sender writes: the name field, then a non-empty value field, each shorter
        // than 128 bytes. Read in place, without the general field loop below.
        let bytes = message.remainingBytes
        if bytes.count >= 4, bytes[0] == 1 << 3 | 2, bytes[1] < 0x80 {
            let valueField = 2 + Int(bytes[1])
            if valueField + 2 < bytes.count, bytes[valueField] == 2 << 3 | 2, bytes[valueField + 1] < 0x80,
                valueField + 2 + Int(bytes[valueField + 1]) == bytes.count
            {
                return Labels.utf8(of: label.name, equals: UnsafeRawBufferPointer(rebasing: bytes[2..<valueField]))
                    && Labels.utf8(of: label.value, equals: UnsafeRawBufferPointer(rebasing: bytes[(valueField + 2)...]))
            }
        }
        var message = message
        var name: UnsafeRawBufferPointer?
        var value: UnsafeRawBufferPointer?
        while !message.isAtEnd {
            switch try? message.readTag() {
            case 1 << 3 | 2:
                guard let bytes = try? message.readBytesView() else { return false }
                name = bytes
            case 2 << 3 | 2:
                guard let bytes = try? message.readBytesView() else { return false }
                value = bytes
            default: return false
            }
        }
        guard let name, let value, !value.isEmpty else { return false }
        return Labels.utf8(of: label.name, equals: name) && Labels.utf8(of: label.value, equals: value)
    }

    /// `Label`: `name = 1`, `value = 2`.
    @inline(__always)
    mutating func decodeLabel(_ reader: inout ProtobufReader) throws(WireError) -> Label {
        let interners = internedStrings()
        var name = ""
        var value = ""
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2:
                    let bytes = try reader.readBytesView()
                    if let base = bytes.baseAddress { name = try interners.names.string(base, count: bytes.count, offset: reader.offset &- bytes.count) }
                case 2 << 3 | 2:
                    let bytes = try reader.readBytesView()
                    if let base = bytes.baseAddress { value = try interners.values.string(base, count: bytes.count, offset: reader.offset &- bytes.count) }
                default:
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            throw error.prefixed(with: tag >> 3 == 1 ? "name" : tag >> 3 == 2 ? "value" : "")
        }
        return Label(name, value)
    }

    /// `Sample`: `value = 1` (double), `timestamp = 2` (int64).
    @inline(__always)
    func decodeSample(_ reader: inout ProtobufReader) throws(WireError) -> FloatSample {
        var sample = FloatSample(timestamp: 0, value: 0)
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 1: sample.value = try reader.readDouble()
                case 2 << 3 | 0: sample.timestamp = try reader.readVarintInt64()
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            throw error.prefixed(with: tag >> 3 == 1 ? "value" : tag >> 3 == 2 ? "timestamp" : "")
        }
        return sample
    }

    /// `Exemplar`: `labels = 1`, `value = 2`, `timestamp = 3`.
    mutating func decodeExemplar(_ reader: inout ProtobufReader) throws(WireError) -> PrometheusExemplar {
        var exemplarLabels: [Label] = []
        var offsets: [Int] = []
        var value = 0.0
        var timestamp: Int64?
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2:
                    var nested = try reader.readMessage()
                    offsets.append(nested.offset)
                    exemplarLabels.append(try decodeLabel(&nested))
                case 2 << 3 | 1: value = try reader.readDouble()
                case 3 << 3 | 0: timestamp = try reader.readVarintInt64()
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "labels", index: exemplarLabels.count)
            case 2: throw error.prefixed(with: "value")
            case 3: throw error.prefixed(with: "timestamp")
            default: throw error
            }
        }
        let labels = try RemoteWriteLabels.makeLabels(
            exemplarLabels, isSeries: false, component: { "labels[\($0)]" }, offset: { offsets[$0] }, seriesOffset: reader.offset
        )
        return PrometheusExemplar(labels: labels, value: value, timestamp: timestamp)
    }

    /// `MetricMetadata`: `type = 1`, `metric_family_name = 2`, `help = 4`, `unit = 5`.
    func decodeMetadata(_ reader: inout ProtobufReader) throws(WireError) -> (String, MetricMetadata) {
        var name = ""
        var metadata = MetricMetadata()
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 0: metadata.type = MetricMetadata.MetricType(remoteWriteValue: try reader.readVarint())
                case 2 << 3 | 2: name = try reader.readString()
                case 4 << 3 | 2: metadata.help = try reader.readString()
                case 5 << 3 | 2: metadata.unit = try reader.readString()
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "type")
            case 2: throw error.prefixed(with: "metricFamilyName")
            case 4: throw error.prefixed(with: "help")
            case 5: throw error.prefixed(with: "unit")
            default: throw error
            }
        }
        return (name, metadata)
    }
}
