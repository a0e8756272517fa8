/// The last trace-head cut whose blocks are all written: its id (the WAL marker record says where
/// in the log it happened), the first WAL segment that may hold records written after it, and its
/// sequence number. On replay, trace records before the marker are skipped (blocks hold them); at
/// open, blocks of later cuts are dropped, since the WAL replays their spans.
public struct TraceCheckpoint: Sendable, Equatable {
    public var cutID: UInt64
    /// WAL segments numbered below this hold only records written before the cut's marker.
    public var walSegmentsBefore: UInt64
    /// Blocks numbered up to this are complete and covered.
    public var sequence: UInt64

    public init(cutID: UInt64, walSegmentsBefore: UInt64, sequence: UInt64) {
        self.cutID = cutID
        self.walSegmentsBefore = walSegmentsBefore
        self.sequence = sequence
    }

    static let magic: [UInt8] = Array("LTC1".utf8)
    static let fileName = "checkpoint"

    static func read(directory: String) throws(StorageError) -> TraceCheckpoint? {
        try ChecksummedFile.read(WALFiles.join(directory, fileName), magic: magic, what: "Loupe trace checkpoint") {
            (source: inout ByteSource) throws(StorageError) in
            TraceCheckpoint(cutID: try source.uvarint(), walSegmentsBefore: try source.uvarint(), sequence: try source.uvarint())
        }
    }

    func write(directory: String) throws(StorageError) {
        try ChecksummedFile.write(WALFiles.join(directory, Self.fileName), magic: Self.magic, directory: directory) { sink in
            sink.uvarint(cutID)
            sink.uvarint(walSegmentsBefore)
            sink.uvarint(sequence)
        }
    }
}
