import LoupeModel

/// Turns samples back into chunks: for blocks cut from a head with out-of-order samples, for
/// compaction of overlapping blocks, and for deletes of a time range.
enum ChunkEncoder {
    /// Chunks for the samples of one series (each list sorted by time, no timestamp in both),
    /// cut at `samplesPerChunk` samples, at every switch between floats and histograms, and
    /// wherever a histogram appender asks for a new chunk.
    static func encode(
        floats: [FloatSample], histograms: [HistogramSample], samplesPerChunk: Int = HeadSeries.samplesPerChunk
    ) -> [Chunk] {
        var chunks: [Chunk] = []
        var xor: XORChunkAppender?
        var integer: HistogramChunkAppender?
        var float: FloatHistogramChunkAppender?

        func flush() {
            if let appender = xor, appender.sampleCount > 0 { chunks.append(Chunk(appender.chunk)) }
            if let appender = integer, appender.chunk.sampleCount > 0 { chunks.append(Chunk(appender.chunk)) }
            if let appender = float, appender.chunk.sampleCount > 0 { chunks.append(Chunk(appender.chunk)) }
            xor = nil
            integer = nil
            float = nil
        }

        func appendFloat(_ sample: FloatSample) {
            if xor == nil || xor!.sampleCount >= samplesPerChunk {
                flush()
                xor = XORChunkAppender()
            }
            if case .appended = xor!.append(sample) { return }
            flush()
            var appender = XORChunkAppender()
            _ = appender.append(sample)
            xor = appender
        }

        func appendHistogram(_ sample: HistogramSample) {
            let encoding = ChunkEncoding.histogramEncoding(for: sample.histogram)
            var header = CounterResetHeader.unknown
            if encoding == .histogram, var appender = integer, appender.chunk.sampleCount < samplesPerChunk {
                switch appender.append(sample) {
                case .appended, .appendedAfterRecoding:
                    integer = appender
                    return
                case .newChunkNeeded(_, let needed): header = needed
                case .invalid: return
                default: break
                }
            } else if encoding == .floatHistogram, var appender = float, appender.chunk.sampleCount < samplesPerChunk {
                switch appender.append(sample) {
                case .appended, .appendedAfterRecoding:
                    float = appender
                    return
                case .newChunkNeeded(_, let needed): header = needed
                case .invalid: return
                default: break
                }
            }
            flush()
            if encoding == .histogram {
                var appender = HistogramChunkAppender(header: header)
                if case .invalid = appender.append(sample) { return }
                integer = appender
            } else {
                var appender = FloatHistogramChunkAppender(header: header)
                if case .invalid = appender.append(sample) { return }
                float = appender
            }
        }

        var f = 0
        var h = 0
        while f < floats.count || h < histograms.count {
            if h == histograms.count || (f < floats.count && floats[f].timestamp < histograms[h].timestamp) {
                appendFloat(floats[f])
                f += 1
            } else {
                appendHistogram(histograms[h])
                h += 1
            }
        }
        flush()
        return chunks
    }

    /// Every sample of `chunks` with `minTime <= t <= maxTime`, in chunk order.
    static func decode(_ chunks: [Chunk], minTime: Int64 = .min, maxTime: Int64 = .max, into result: inout SeriesSamples) {
        for chunk in chunks where chunk.overlaps(minTime: minTime, maxTime: maxTime) {
            // Float chunks skip the any-encoding iterator: its `ChunkSample` per sample costs a
            // copy and destroy of an enum with a histogram payload, more than the decoding.
            switch chunk.encoding {
            case .xor:
                var iterator = XORChunkIterator(chunk.bytes)
                appendFloats(from: &iterator, minTime: minTime, maxTime: maxTime, into: &result.floats)
                continue
            case .packedFloat:
                appendPackedFloats(chunk.bytes, minTime: minTime, maxTime: maxTime, into: &result.floats)
                continue
            case .histogram, .floatHistogram:
                break
            }
            var iterator = chunk.makeIterator()
            var sample = minTime == .min ? iterator.next() : iterator.seek(to: minTime)
            while let current = sample, current.timestamp <= maxTime {
                switch current {
                case .float(let float): result.floats.append(float)
                case .histogram(let histogram): result.histograms.append(histogram)
                }
                sample = iterator.next()
            }
        }
    }
}

extension ChunkEncoder {
    /// Appends the iterator's samples in `minTime...maxTime`; damage ends them (as the iterator's).
    static func appendFloats(from iterator: inout XORChunkIterator, minTime: Int64, maxTime: Int64, into floats: inout [FloatSample]) {
        var sample = minTime == .min ? iterator.next() : iterator.seek(to: minTime)
        while let current = sample, current.timestamp <= maxTime {
            floats.append(current)
            sample = iterator.next()
        }
    }

    /// Decodes the whole chunk at once (its layout is columnar) and appends the samples in
    /// `minTime...maxTime`; a damaged chunk adds nothing, as its iterator would.
    static func appendPackedFloats(_ bytes: [UInt8], minTime: Int64, maxTime: Int64, into floats: inout [FloatSample]) {
        guard let (timestamps, values) = try? PackedFloatChunk.decode(bytes) else { return }
        var low = 0
        var high = timestamps.count
        while low < high {
            let middle = (low + high) / 2
            if timestamps[middle] < minTime { low = middle + 1 } else { high = middle }
        }
        var index = low
        while index < timestamps.count && timestamps[index] <= maxTime {
            floats.append(FloatSample(timestamp: timestamps[index], value: values[index]))
            index += 1
        }
    }
}

extension SeriesSamples {
    /// Merges samples of the same series from several sources (blocks that overlap in time, the
    /// head): sorted by time, one sample per timestamp, the later source winning.
    mutating func merge(_ other: SeriesSamples) {
        floats = Self.merged(floats, other.floats, \.timestamp)
        histograms = Self.merged(histograms, other.histograms, \.timestamp)
    }

    var isEmpty: Bool { floats.isEmpty && histograms.isEmpty }

    static func merged<Sample>(_ left: [Sample], _ right: [Sample], _ time: KeyPath<Sample, Int64>) -> [Sample] {
        if right.isEmpty { return left }
        if left.isEmpty { return right }
        if left[left.count - 1][keyPath: time] < right[0][keyPath: time] { return left + right }
        var result: [Sample] = []
        result.reserveCapacity(left.count + right.count)
        var i = 0
        var j = 0
        while i < left.count || j < right.count {
            if j == right.count || (i < left.count && left[i][keyPath: time] < right[j][keyPath: time]) {
                result.append(left[i])
                i += 1
            } else if i == left.count || right[j][keyPath: time] < left[i][keyPath: time] {
                result.append(right[j])
                j += 1
            } else {
                result.append(right[j])
                i += 1
                j += 1
            }
        }
        return result
    }
}
