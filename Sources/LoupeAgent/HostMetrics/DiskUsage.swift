#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What a directory tree holds on disk, counted as `du` and the container runtimes count it
/// (containerd's and cAdvisor's `DiskUsage`): allocated blocks of every entry, the top directory
/// included, a file with several links once, without crossing into other filesystems.
struct DiskUsage: Equatable, Sendable {
    var bytes: Int64 = 0
    var inodes: Int64 = 0

    /// Nil when `path` cannot be read at all; entries that vanish during the walk (a container
    /// deleting files) are skipped.
    static func of(_ path: String) -> DiskUsage? {
        var top = stat()
        guard lstat(path, &top) == 0 else { return nil }
        var usage = DiskUsage()
        var seen = Set<FileIdentity>()
        usage.count(top, seen: &seen)
        guard (top.st_mode & S_IFMT) == S_IFDIR else { return usage }
        usage.walk(directory: path, device: top.st_dev, seen: &seen, depth: 0)
        return usage
    }

    private struct FileIdentity: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    private mutating func count(_ status: stat, seen: inout Set<FileIdentity>) {
        if status.st_nlink > 1 && (status.st_mode & S_IFMT) != S_IFDIR {
            guard seen.insert(FileIdentity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))).inserted else { return }
        }
        bytes += Int64(status.st_blocks) * 512
        inodes += 1
    }

    /// Entries are opened relative to their directory, so names that are not UTF-8 and paths
    /// longer than PATH_MAX count too. Deep trees end in a bound rather than in a stack overflow
    /// or running out of descriptors: past 128 levels (far beyond any real layer) nothing is counted.
    private mutating func walk(directory path: String, device: dev_t, seen: inout Set<FileIdentity>, depth: Int) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        walk(descriptor: descriptor, device: device, seen: &seen, depth: depth)
    }

    /// Takes ownership of `descriptor`.
    private mutating func walk(descriptor: Int32, device: dev_t, seen: inout Set<FileIdentity>, depth: Int) {
        guard let handle = fdopendir(descriptor) else {
            close(descriptor)
            return
        }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            var name = entry.pointee.d_name
            let size = MemoryLayout.size(ofValue: name)
            withUnsafePointer(to: &name) { tuple in
                tuple.withMemoryRebound(to: CChar.self, capacity: size) { name in
                    if name[0] == 0x2E && (name[1] == 0 || (name[1] == 0x2E && name[2] == 0)) { return }
                    var status = stat()
                    guard fstatat(descriptor, name, &status, AT_SYMLINK_NOFOLLOW) == 0, status.st_dev == device else { return }
                    count(status, seen: &seen)
                    guard (status.st_mode & S_IFMT) == S_IFDIR, depth < 128 else { return }
                    let child = openat(descriptor, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    if child >= 0 { walk(descriptor: child, device: device, seen: &seen, depth: depth + 1) }
                }
            }
        }
    }
}
