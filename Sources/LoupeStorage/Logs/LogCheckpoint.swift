/// The last log-head cut whose blocks are all written: its id (the WAL marker record says where
/// in the log it happened) and the first WAL segment that may hold records written after it.
/// On replay, log records before the marker are skipped: the blocks hold them.
public struct LogCheckpoint: Sendable, Equatable {
    public var cutID: UInt64
    /// WAL segments numbered below this hold only records written before the cut's marker.
    public var walSegmentsBefore: UInt64

    public init(cutID: UInt64, walSegmentsBefore: UInt64) {
        self.cutID = cutID
        self.walSegmentsBefore = walSegmentsBefore
    }

    static let magic: [UInt8] = Array("LLC1".utf8)
    static let fileName = "checkpoint"

    static func read(directory: String) throws(StorageError) -> LogCheckpoint? {
        try ChecksummedFile.read(WALFiles.join(directory, fileName), magic: magic, what: "Loupe log checkpoint") {
            (source: inout ByteSource) throws(StorageError) in
            LogCheckpoint(cutID: try source.uvarint(), walSegmentsBefore: try source.uvarint())
        }
    }

    func write(directory: String) throws(StorageError) {
        try ChecksummedFile.write(WALFiles.join(directory, Self.fileName), magic: Self.magic, directory: directory) { sink in
            sink.uvarint(cutID)
            sink.uvarint(walSegmentsBefore)
        }
    }
}
