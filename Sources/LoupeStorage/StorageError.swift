#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An error of the storage layer, with a message precise enough to act on (path, offset, errno).
public struct StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// A system call failed (open, write, fsync, rename, ...); `errno` says why.
        case io
        /// A record is larger than `WALOptions.maximumRecordBytes`; the server answers 413.
        case recordTooLarge
        /// A record cannot be represented (for example a tenant name longer than 65535 bytes).
        case invalidRecord
        /// Data on disk is corrupt in a way that cannot be repaired by truncation.
        case corrupt
        /// A file was written by an incompatible (newer) version of Loupe.
        case unsupportedFormat
        /// Another process (or another open instance) holds the directory's lock.
        case locked
        /// The log has shut down; the record was not written.
        case closed
        /// The API was used out of order (for example `replay` while `run` is writing).
        case misuse
    }

    public var code: Code
    public var message: String
    /// The file or directory concerned, if any.
    public var path: String?
    /// The `errno` of a failed system call, if any.
    public var errno: Int32?

    public init(_ code: Code, _ message: String, path: String? = nil, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.errno = errno
    }

    public var description: String { message }

    /// A failed system call: "fsync /var/lib/loupe/wal/00000003.seg: No space left on device (errno 28)".
    static func io(_ operation: String, path: String, errno: Int32, detail: String? = nil) -> StorageError {
        let reason = String(cString: strerror(errno))
        let detailText = detail.map { " (\($0))" } ?? ""
        return StorageError(
            .io,
            "\(operation) \(path)\(detailText): \(reason) (errno \(errno))",
            path: path,
            errno: errno
        )
    }

    static func closed(_ directory: String) -> StorageError {
        StorageError(.closed, "the write-ahead log in \(directory) has shut down; the record was not written", path: directory)
    }

    /// True for errors that mean the disk is full (the server should answer 507/503, not 500).
    public var isOutOfSpace: Bool {
        errno == ENOSPC || errno == EDQUOT
    }
}
