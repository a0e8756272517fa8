/// An XOR decoder's state between two samples of a chunk: enough to go on decoding from there.
struct XORCheckpoint: Sendable, Hashable {
    /// Where the next sample's bits start, counted from the start of the chunk's bytes.
    var bitPosition: UInt32
    /// Samples before that point.
    var sampleCount: UInt16
    /// The timestamp of the last sample before that point.
    var time: Int64
    var tDelta: UInt64
    var value: XORState
    var sawWindow: Bool
}
