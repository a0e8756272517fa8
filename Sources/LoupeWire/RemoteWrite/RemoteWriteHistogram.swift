import LoupeModel

/// The `Histogram` message, identical in both versions for fields 1...16 (2.0 adds `start_timestamp = 17`).
///
/// Integer histograms (`count_int`) carry their buckets as deltas (`positive_deltas`, `negative_deltas`:
/// each bucket's count minus the previous bucket's, the first against 0) and integer `count`/`zero_count`;
/// float histograms (`count_float`) carry absolute `positive_counts`/`negative_counts` and float
/// `count`/`zero_count`. The model keeps absolute `Double` counts for both and remembers the kind in
/// `isIntegerCounts`; the encoder writes each kind back as it came, so `decode(encode(h)) == h`.
///
/// The kind is decided by the `count` oneof, as Prometheus does (`IsFloatHistogram`): `count_float` makes a
/// float histogram, `count_int` or no count an integer one. Beyond the protobuf rules, the decoder rejects
/// (`invalidValue`) what would otherwise silently lose data:
/// - fields of the other kind: `positive_counts`/`negative_counts`/`zero_count_float` in an integer histogram,
///   `positive_deltas`/`negative_deltas`/`zero_count_int` in a float one (Prometheus reads only the fields of
///   the histogram's kind and ignores the rest);
/// - spans that do not cover exactly as many buckets as there are counts (Prometheus rejects these at append
///   time: "spans need N buckets, have M buckets").
/// Other semantic checks of `histogram.Validate` (schema range, non-negative buckets, count >= sum of buckets,
/// custom-bucket constraints) are the appender's business, as in Prometheus: the codec is lossless either way.
enum RemoteWriteHistograms {
    /// Decodes one `Histogram`. `startTimestamp` receives field 17 (2.0 only; 0 when absent).
    static func decode(_ reader: inout ProtobufReader, isVersion2: Bool, startTimestamp: inout Int64) throws(WireError) -> HistogramSample {
        let messageStart = reader.offset
        var histogram = NativeHistogram()
        var timestamp: Int64 = 0
        var countIsFloat = false
        var zeroCountKind: UInt8 = 0  // 0 absent, 1 int, 2 float
        var positiveKind: UInt8 = 0  // 0 none, 1 deltas, 2 counts, 3 both
        var negativeKind: UInt8 = 0
        var positiveRunning: Int64 = 0
        var negativeRunning: Int64 = 0
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 0:
                    histogram.count = Double(try reader.readVarint())
                    countIsFloat = false
                case 2 << 3 | 1:
                    histogram.count = try reader.readDouble()
                    countIsFloat = true
                case 3 << 3 | 1: histogram.sum = try reader.readDouble()
                case 4 << 3 | 0: histogram.schema = try reader.readSInt32()
                case 5 << 3 | 1: histogram.zeroThreshold = try reader.readDouble()
                case 6 << 3 | 0:
                    histogram.zeroCount = Double(try reader.readVarint())
                    zeroCountKind = 1
                case 7 << 3 | 1:
                    histogram.zeroCount = try reader.readDouble()
                    zeroCountKind = 2
                case 8 << 3 | 2:
                    var nested = try reader.readMessage()
                    histogram.negativeSpans.append(try decodeSpan(&nested))
                case 9 << 3 | 2, 9 << 3 | 0:
                    try appendDeltas(&reader, tag: tag, running: &negativeRunning, to: &histogram.negativeBuckets)
                    negativeKind |= 1
                case 10 << 3 | 2, 10 << 3 | 1:
                    try appendDoubles(&reader, tag: tag, to: &histogram.negativeBuckets)
                    negativeKind |= 2
                case 11 << 3 | 2:
                    var nested = try reader.readMessage()
                    histogram.positiveSpans.append(try decodeSpan(&nested))
                case 12 << 3 | 2, 12 << 3 | 0:
                    try appendDeltas(&reader, tag: tag, running: &positiveRunning, to: &histogram.positiveBuckets)
                    positiveKind |= 1
                case 13 << 3 | 2, 13 << 3 | 1:
                    try appendDoubles(&reader, tag: tag, to: &histogram.positiveBuckets)
                    positiveKind |= 2
                case 14 << 3 | 0:
                    let raw = try reader.readVarintInt32()
                    histogram.counterResetHint = NativeHistogram.CounterResetHint(rawValue: raw) ?? .unknown
                case 15 << 3 | 0: timestamp = try reader.readVarintInt64()
                case 16 << 3 | 2, 16 << 3 | 1: try appendDoubles(&reader, tag: tag, to: &histogram.customValues)
                case 17 << 3 | 0 where isVersion2: startTimestamp = try reader.readVarintInt64()
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            throw error.prefixed(with: fieldName(tag >> 3, spans: tag >> 3 == 8 ? histogram.negativeSpans.count : histogram.positiveSpans.count))
        }

        histogram.isIntegerCounts = !countIsFloat
        if countIsFloat {
            if zeroCountKind == 1 { throw kindError("zeroCountInt", "a float histogram (count_float) has zero_count_int", messageStart) }
            if positiveKind & 1 != 0 { throw kindError("positiveDeltas", "a float histogram (count_float) has positive_deltas", messageStart) }
            if negativeKind & 1 != 0 { throw kindError("negativeDeltas", "a float histogram (count_float) has negative_deltas", messageStart) }
        } else {
            if zeroCountKind == 2 { throw kindError("zeroCountFloat", "an integer histogram (count_int) has zero_count_float", messageStart) }
            if positiveKind & 2 != 0 { throw kindError("positiveCounts", "an integer histogram (count_int) has positive_counts", messageStart) }
            if negativeKind & 2 != 0 { throw kindError("negativeCounts", "an integer histogram (count_int) has negative_counts", messageStart) }
        }
        try checkSpans(histogram.positiveSpans, buckets: histogram.positiveBuckets.count, side: "positive", at: messageStart)
        try checkSpans(histogram.negativeSpans, buckets: histogram.negativeBuckets.count, side: "negative", at: messageStart)
        return HistogramSample(timestamp: timestamp, histogram: histogram)
    }

    static func fieldName(_ field: UInt32, spans: Int) -> String {
        switch field {
        case 1: "countInt"
        case 2: "countFloat"
        case 3: "sum"
        case 4: "schema"
        case 5: "zeroThreshold"
        case 6: "zeroCountInt"
        case 7: "zeroCountFloat"
        case 8: "negativeSpans[\(spans)]"
        case 9: "negativeDeltas"
        case 10: "negativeCounts"
        case 11: "positiveSpans[\(spans)]"
        case 12: "positiveDeltas"
        case 13: "positiveCounts"
        case 14: "resetHint"
        case 15: "timestamp"
        case 16: "customValues"
        case 17: "startTimestamp"
        default: ""
        }
    }

    static func kindError(_ field: String, _ message: String, _ offset: Int) -> WireError {
        WireError(.invalidValue, message + ": fields of the two kinds cannot be mixed", at: field, offset: offset)
    }

    static func checkSpans(_ spans: [NativeHistogram.BucketSpan], buckets: Int, side: String, at offset: Int) throws(WireError) {
        var covered: UInt64 = 0
        for span in spans { covered &+= UInt64(span.length) }
        guard covered == UInt64(buckets) else {
            throw WireError(
                .invalidValue, "\(side) spans cover \(covered) buckets but there are \(buckets) bucket counts",
                at: "\(side)Spans", offset: offset
            )
        }
    }

    static func decodeSpan(_ reader: inout ProtobufReader) throws(WireError) -> NativeHistogram.BucketSpan {
        var span = NativeHistogram.BucketSpan(offset: 0, length: 0)
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 0: span.offset = try reader.readSInt32()
                case 2 << 3 | 0: span.length = try reader.readVarintUInt32()
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            throw error.prefixed(with: tag >> 3 == 1 ? "offset" : tag >> 3 == 2 ? "length" : "")
        }
        return span
    }

    /// `repeated sint64` deltas, packed or not, turned into absolute counts.
    @inline(__always)
    static func appendDeltas(_ reader: inout ProtobufReader, tag: UInt32, running: inout Int64, to buckets: inout [Double]) throws(WireError) {
        if tag & 7 == 0 {
            running &+= try reader.readSInt64()
            buckets.append(Double(running))
            return
        }
        var packed = try reader.readMessage()
        buckets.reserveCapacity(buckets.count + packed.remaining)
        while !packed.isAtEnd {
            running &+= try packed.readSInt64()
            buckets.append(Double(running))
        }
    }

    /// `repeated double`, packed or not.
    @inline(__always)
    static func appendDoubles(_ reader: inout ProtobufReader, tag: UInt32, to values: inout [Double]) throws(WireError) {
        if tag & 7 == 1 {
            values.append(try reader.readDouble())
        } else {
            try reader.readPackedDouble(into: &values)
        }
    }

    // MARK: - Encoding

    /// Whether `histogram` can be written as an integer histogram: it says so, and every count is an integer
    /// the wire can carry (`count`, `zero_count` as uint64, buckets as int64). Otherwise it is written as a float
    /// histogram, which carries any value.
    static func isEncodableAsInteger(_ histogram: NativeHistogram) -> Bool {
        guard histogram.isIntegerCounts, UInt64(exactly: histogram.count) != nil, UInt64(exactly: histogram.zeroCount) != nil else {
            return false
        }
        for bucket in histogram.positiveBuckets where Int64(exactly: bucket) == nil { return false }
        for bucket in histogram.negativeBuckets where Int64(exactly: bucket) == nil { return false }
        return true
    }

    /// Prepends a whole `Histogram` field. Proto3 defaults are left out, except the `count` and `zero_count`
    /// oneof members, which are always written (their presence tells the kind), as Prometheus does.
    static func prepend(_ sample: HistogramSample, startTimestamp: Int64, field: UInt32, into writer: inout ProtobufWriter) {
        let histogram = sample.histogram
        let mark = writer.count
        let isInteger = isEncodableAsInteger(histogram)
        if startTimestamp != 0 { writer.prependInt64Field(17, startTimestamp) }
        writer.prependPackedDoubleField(16, histogram.customValues)
        if sample.timestamp != 0 { writer.prependInt64Field(15, sample.timestamp) }
        if histogram.counterResetHint != .unknown { writer.prependInt32Field(14, histogram.counterResetHint.rawValue) }
        if isInteger {
            prependDeltas(12, histogram.positiveBuckets, into: &writer)
        } else {
            writer.prependPackedDoubleField(13, histogram.positiveBuckets)
        }
        for span in histogram.positiveSpans.reversed() { prependSpan(11, span, into: &writer) }
        if isInteger {
            prependDeltas(9, histogram.negativeBuckets, into: &writer)
        } else {
            writer.prependPackedDoubleField(10, histogram.negativeBuckets)
        }
        for span in histogram.negativeSpans.reversed() { prependSpan(8, span, into: &writer) }
        if isInteger {
            writer.prependVarintField(6, UInt64(histogram.zeroCount))
        } else {
            writer.prependDoubleField(7, histogram.zeroCount)
        }
        if histogram.zeroThreshold.bitPattern != 0 { writer.prependDoubleField(5, histogram.zeroThreshold) }
        if histogram.schema != 0 { writer.prependSInt32Field(4, histogram.schema) }
        if histogram.sum.bitPattern != 0 { writer.prependDoubleField(3, histogram.sum) }
        if isInteger {
            writer.prependVarintField(1, UInt64(histogram.count))
        } else {
            writer.prependDoubleField(2, histogram.count)
        }
        writer.prependLengthAndTag(field: field, since: mark)
    }

    static func prependSpan(_ field: UInt32, _ span: NativeHistogram.BucketSpan, into writer: inout ProtobufWriter) {
        let mark = writer.count
        if span.length != 0 { writer.prependVarintField(2, UInt64(span.length)) }
        if span.offset != 0 { writer.prependSInt32Field(1, span.offset) }
        writer.prependLengthAndTag(field: field, since: mark)
    }

    /// Absolute counts (known to be integers) as packed zigzag deltas; nothing when empty.
    static func prependDeltas(_ field: UInt32, _ buckets: [Double], into writer: inout ProtobufWriter) {
        guard !buckets.isEmpty else { return }
        let mark = writer.count
        var index = buckets.count - 1
        while index >= 0 {
            let current = Int64(buckets[index])
            let previous = index > 0 ? Int64(buckets[index - 1]) : 0
            let delta = current &- previous
            writer.prependVarint(UInt64(bitPattern: (delta << 1) ^ (delta >> 63)))
            index -= 1
        }
        writer.prependLengthAndTag(field: field, since: mark)
    }
}
