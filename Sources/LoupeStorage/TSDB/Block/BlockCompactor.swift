import LoupeModel

/// Which blocks to merge, and the merge itself (pure: block contents in, block contents out).
public enum BlockCompactor {
    /// The compaction ranges for a block range `base`: ×3 each level (2 h, 6 h, 18 h, 54 h, ...),
    /// up to `maximum` (Prometheus caps blocks at 31 days or a tenth of the retention).
    public static func ranges(base: Int64, maximum: Int64) -> [Int64] {
        var ranges = [base]
        while let last = ranges.last, last <= maximum / 3 { ranges.append(last * 3) }
        return ranges
    }

    /// The next group to merge: blocks that overlap in time (out-of-order data), else the first
    /// window of one of the larger `ranges` that holds two or more blocks and is complete (the
    /// newest block ends at or after the window). Nil when nothing should be merged.
    static func plan(_ metas: [BlockMeta], ranges: [Int64]) -> [BlockMeta]? {
        let sorted = metas.sorted { $0.minTime != $1.minTime ? $0.minTime < $1.minTime : $0.id < $1.id }
        // Overlaps first: they make every query merge samples.
        var group: [BlockMeta] = []
        var groupEnd = Int64.min
        for meta in sorted {
            if !group.isEmpty && meta.minTime < groupEnd {
                group.append(meta)
                groupEnd = max(groupEnd, meta.maxTime)
            } else {
                if group.count > 1 { return group }
                group = [meta]
                groupEnd = meta.maxTime
            }
        }
        if group.count > 1 { return group }

        guard let newestEnd = sorted.map(\.maxTime).max() else { return nil }
        for range in ranges.dropFirst() {
            var windows: [Int64: [BlockMeta]] = [:]
            for meta in sorted {
                let start = HeadSeries.floorDiv(meta.minTime, range) * range
                guard meta.maxTime <= start + range else { continue }  // spans windows: already as large
                windows[start, default: []].append(meta)
            }
            for start in windows.keys.sorted() {
                let members = windows[start]!
                guard members.count > 1, start + range <= newestEnd else { continue }
                return members
            }
        }
        return nil
    }

    /// One block's series from several: series with equal labels are joined; where their chunks
    /// overlap in time the samples are merged (one per timestamp, the later block winning) and
    /// re-encoded, otherwise chunks are kept as they are. Output sorted by labels.
    static func merge(_ inputs: [[BlockSeries]]) -> [BlockSeries] {
        var chunksByLabels: [Labels: [Chunk]] = [:]
        var overlapping = Set<Labels>()
        for input in inputs {
            for series in input {
                if var existing = chunksByLabels[series.labels] {
                    chunksByLabels[series.labels] = nil
                    if let last = existing.last, let first = series.chunks.first, first.minTime <= last.maxTime {
                        overlapping.insert(series.labels)
                    }
                    existing += series.chunks
                    chunksByLabels[series.labels] = existing
                } else {
                    chunksByLabels[series.labels] = series.chunks
                }
            }
        }
        var result: [BlockSeries] = []
        result.reserveCapacity(chunksByLabels.count)
        for (labels, chunks) in chunksByLabels {
            let sortedChunks = chunks.sorted { $0.minTime < $1.minTime }
            if overlapping.contains(labels) || zip(sortedChunks, sortedChunks.dropFirst()).contains(where: { $0.maxTime >= $1.minTime }) {
                // Decode in input order so later blocks win on equal timestamps.
                var merged = SeriesSamples(labels: labels)
                for chunk in chunks {
                    var one = SeriesSamples(labels: labels)
                    ChunkEncoder.decode([chunk], into: &one)
                    merged.merge(one)
                }
                result.append(BlockSeries(labels: labels, chunks: BlockChunkPacker.pack(ChunkEncoder.encode(floats: merged.floats, histograms: merged.histograms))))
            } else {
                result.append(BlockSeries(labels: labels, chunks: BlockChunkPacker.pack(sortedChunks)))
            }
        }
        return result.sorted { $0.labels < $1.labels }
    }
}
