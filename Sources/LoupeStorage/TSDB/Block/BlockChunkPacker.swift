import LoupeModel

/// Re-encodes a series' chunks for a block: runs of float chunks (XOR from the head, or packed
/// chunks of blocks being compacted) become `PackedFloatChunk`s of up to `maximumSamples` each,
/// split evenly; histogram chunks stay as they are. Larger chunks than the head's also spread each
/// chunk's fixed costs (its header, CRC and index entry) over more samples.
enum BlockChunkPacker {
    /// Samples per packed chunk in blocks: 2 h at a 7.5 s interval; a chunk is decoded whole.
    static let maximumSamples = 960

    static func pack(_ chunks: [Chunk], maximumSamples: Int = maximumSamples) -> [Chunk] {
        precondition(maximumSamples >= 1 && maximumSamples <= PackedFloatChunk.maximumSamples)
        // Already packed and nothing to merge with: keep (compaction of blocks written by Loupe).
        if chunks.count == 1, chunks[0].encoding == .packedFloat { return chunks }
        var result: [Chunk] = []
        result.reserveCapacity(chunks.count)
        var floats: [FloatSample] = []

        func flushFloats() {
            if floats.isEmpty { return }
            result += PackedFloatChunk.chunks(packing: floats, maximumSamples: maximumSamples).map(Chunk.init)
            floats.removeAll(keepingCapacity: true)
        }

        for chunk in chunks {
            switch chunk.encoding {
            case .xor, .packedFloat:
                var iterator = chunk.makeIterator()
                while let sample = iterator.next() {
                    guard case .float(let float) = sample else { continue }
                    // Chunks of a series come in time order; anything else is left to a new chunk.
                    if let last = floats.last, float.timestamp <= last.timestamp {
                        flushFloats()
                    }
                    floats.append(float)
                }
            case .histogram, .floatHistogram:
                flushFloats()
                result.append(chunk)
            }
        }
        flushFloats()
        return result
    }
}
