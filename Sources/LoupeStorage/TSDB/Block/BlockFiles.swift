import LoupeModel
import LoupeWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// File-system steps of block persistence, on top of the WAL's `WALFiles` primitives.
enum BlockFiles {
    /// Writes `bytes` to a new file and fsyncs it.
    static func writeFile(_ path: String, _ bytes: [UInt8]) throws(StorageError) {
        let fd = try WALFiles.open(path, O_WRONLY | O_CREAT | O_TRUNC)
        defer { close(fd) }
        try bytes.withBytes { (raw: UnsafeRawBufferPointer) throws(StorageError) in
            if raw.count > 0 { try WALFiles.write(fd, raw, at: 0, path: path) }
        }
        try WALFiles.sync(fd, path: path)
    }

    /// Writes a file by way of a temporary name, so a crash leaves the old or the new content.
    static func replaceFile(_ path: String, _ bytes: [UInt8], directory: String) throws(StorageError) {
        let temporary = path + ".tmp"
        try writeFile(temporary, bytes)
        try WALFiles.rename(temporary, path)
        try WALFiles.syncDirectory(directory)
    }

    static func readFile(_ path: String) throws(StorageError) -> [UInt8] {
        let fd = try WALFiles.open(path, O_RDONLY)
        defer { close(fd) }
        let size = try WALFiles.fileSize(fd, path: path)
        var bytes = [UInt8](repeating: 0, count: size)
        let read = try bytes.withMutableBytes { (buffer: UnsafeMutableRawBufferPointer) throws(StorageError) in
            try WALFiles.read(fd, into: buffer, at: 0, path: path)
        }
        if read < size { bytes.removeLast(size - read) }
        return bytes
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// The index of a file framed as `magic`, data, index, then a footer of index offset (u64),
    /// index length (u64), index CRC-32C (u32) and `magic` (log and trace blocks): where it is,
    /// once the magic, the bounds and the checksum hold.
    static func checkedIndex(
        _ all: UnsafeRawBufferPointer, magic: [UInt8], path: String, what: String
    ) throws(StorageError) -> (offset: Int, length: Int) {
        let footerBytes = 8 + 8 + 4 + magic.count
        guard all.count >= magic.count + footerBytes, Array(all[0..<magic.count]) == magic,
            Array(all[(all.count - magic.count)...]) == magic
        else {
            throw StorageError(.corrupt, "\(path) is not a Loupe \(what) (bad magic or too short)", path: path)
        }
        var footer = ByteSource(all, offset: all.count - footerBytes)
        let offset = try footer.offset(limit: all.count - footerBytes)
        let length = try footer.offset(limit: all.count - footerBytes - offset)
        let checksum = try footer.uint32()
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: all[offset..<(offset + length)])) == checksum else {
            throw StorageError(.corrupt, "\(path): the index's checksum does not match", path: path)
        }
        return (offset, length)
    }

    /// Per tenant directory under `directory`, the paths of its files ending in `fileExtension`.
    /// Leftover `.tmp` files (a write the process did not finish; the WAL still holds their data)
    /// are deleted on the way.
    static func tenantFiles(in directory: String, fileExtension: String) -> [(tenant: Tenant, paths: [String])] {
        var result: [(tenant: Tenant, paths: [String])] = []
        for name in list(directory) where isDirectory(WALFiles.join(directory, name)) {
            guard let tenant = try? Tenant(validating: name) else { continue }
            let tenantDirectory = WALFiles.join(directory, name)
            var paths: [String] = []
            for file in list(tenantDirectory) {
                let path = WALFiles.join(tenantDirectory, file)
                if file.hasSuffix(".tmp") {
                    try? WALFiles.unlink(path)
                } else if file.hasSuffix(fileExtension) {
                    paths.append(path)
                }
            }
            result.append((tenant, paths))
        }
        return result
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Names in a directory, without `.` and `..`; empty when it does not exist.
    static func list(_ directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) {
                    String(cString: $0)
                }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Removes a directory tree (files and subdirectories).
    static func removeTree(_ path: String) throws(StorageError) {
        if isDirectory(path) {
            for name in list(path) { try removeTree(WALFiles.join(path, name)) }
            guard rmdir(path) == 0 || errno == ENOENT else { throw StorageError.io("rmdir", path: path, errno: errno) }
        } else {
            try WALFiles.unlink(path)
        }
    }

    /// Bytes used by the files of a directory tree.
    static func treeSize(_ path: String) -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        if (info.st_mode & S_IFMT) != S_IFDIR { return Int(info.st_size) }
        return list(path).reduce(0) { $0 + treeSize(WALFiles.join(path, $1)) }
    }
}

/// A read-only memory mapping of a whole file; unmapped when the last reference goes.
///
/// Blocks are immutable once written, so queries read them straight from the page cache and
/// the kernel, not the process, decides what stays in memory.
final class MappedFile: @unchecked Sendable {
    // @unchecked: the mapping is read-only and never changes after init; it is unmapped only in deinit.
    let path: String
    let count: Int
    private let base: UnsafeRawPointer?

    init(path: String) throws(StorageError) {
        let fd = try WALFiles.open(path, O_RDONLY)
        defer { close(fd) }
        let size = try WALFiles.fileSize(fd, path: path)
        self.path = path
        self.count = size
        if size == 0 {
            base = nil
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0)
        guard let address, address != MAP_FAILED else { throw StorageError.io("mmap", path: path, errno: errno) }
        base = UnsafeRawPointer(address)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// The file's bytes, valid while `self` is alive.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}

/// Small files framed as magic, body, CRC-32C of both (a block's tombstones, the TSDB checkpoint):
/// replaced atomically, and read back only if whole.
enum ChecksummedFile {
    /// The body of the file at `path`, or nil when there is no file; `corrupt` when the magic or the
    /// checksum is wrong.
    static func read<Result>(
        _ path: String, magic: [UInt8], what: String, _ parse: (inout ByteSource) throws(StorageError) -> Result
    ) throws(StorageError) -> Result? {
        guard BlockFiles.exists(path) else { return nil }
        let bytes = try BlockFiles.readFile(path)
        return try bytes.withBytes { (raw: UnsafeRawBufferPointer) throws(StorageError) -> Result in
            guard raw.count >= magic.count + 4, Array(raw[0..<magic.count]) == magic else {
                throw StorageError(.corrupt, "\(path) is not a \(what)", path: path)
            }
            var tail = ByteSource(raw, offset: raw.count - 4)
            guard try tail.uint32() == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<(raw.count - 4)])) else {
                throw StorageError(.corrupt, "\(path): checksum mismatch", path: path)
            }
            var body = ByteSource(raw, offset: magic.count, end: raw.count - 4)
            return try parse(&body)
        }
    }

    static func write(_ path: String, magic: [UInt8], directory: String, _ body: (inout ByteSink) -> Void) throws(StorageError) {
        var sink = ByteSink()
        sink.append(magic)
        body(&sink)
        sink.uint32(CRC32C.checksum(sink.bytes))
        try BlockFiles.replaceFile(path, sink.bytes, directory: directory)
    }
}
