import Foundation

/// Where tailing stopped in each file, saved after the lines before it are safely queued, so a
/// restart resumes exactly there. A file is known by its device and inode as well as its path: a
/// rotated file (renamed) is still found, a new file at the old path starts from its beginning.
struct TailCheckpoints: Codable, Equatable {
    struct Entry: Codable, Equatable {
        var device: UInt64
        var inode: UInt64
        var offset: Int
        /// Pieces of a line waiting for their rest that cannot be read again from `offset` (they
        /// were in a file rotated away, or truncated): saved themselves.
        var carried: [Piece]?
    }

    struct Piece: Codable, Equatable {
        var time: UInt64
        var stream: String
        var text: String
    }

    /// By path, as the file was first seen.
    var files: [String: Entry] = [:]

    static func load(_ path: String) throws -> TailCheckpoints {
        guard let data = FileManager.default.contents(atPath: path) else { return TailCheckpoints() }
        return try JSONDecoder().decode(TailCheckpoints.self, from: data)
    }

    /// Written to a temporary file, synced, renamed over the old one and the directory synced.
    func save(_ path: String) throws {
        let data = try JSONEncoder().encode(self)
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temporary])
        }
        let fd = open(temporary, O_RDONLY)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
        guard rename(temporary, path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        let directory = open((path as NSString).deletingLastPathComponent, O_RDONLY)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }
}
