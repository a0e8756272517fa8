#if canImport(Glibc)
import CMalloc
import Glibc
#endif

/// Hands freed heap memory back to the operating system.
///
/// glibc keeps what requests and queries freed in its per-thread arenas, so after a burst of
/// ingest or a large query the resident size stays at the burst's peak although the memory is
/// free. The TSDB maintenance pass (once a minute) trims it, so RSS follows what the process
/// actually holds: the head, the block indexes, the caches.
public enum MemoryRelease {
    /// Returns whether any memory was released (always false where glibc is not the allocator).
    @discardableResult
    public static func trimFreedMemory() -> Bool {
        #if canImport(Glibc)
        return malloc_trim(0) != 0
        #else
        return false
        #endif
    }

    /// Caps glibc's malloc arenas: by default it makes up to eight per core, and each keeps the
    /// memory its thread freed, which for a small process (the agent) multiplies its footprint.
    /// Applies to threads that have not allocated yet: call it before others start.
    public static func limitArenas(_ count: Int32) {
        #if canImport(Glibc)
        _ = mallopt(M_ARENA_MAX, count)
        #endif
    }

    /// Serves allocations up to `bytes` from the heap rather than from fresh mappings, and keeps
    /// up to `bytes` of freed heap: a process that builds and drops multi-megabyte buffers in a
    /// loop (the agent's requests) otherwise maps, faults in and unmaps them every time. Freed
    /// memory still goes back with `trimFreedMemory` when the process goes idle.
    public static func keepLargeAllocationsInHeap(upTo bytes: Int32) {
        #if canImport(Glibc)
        _ = mallopt(M_MMAP_THRESHOLD, bytes)
        _ = mallopt(M_TRIM_THRESHOLD, bytes)
        #endif
    }

    /// Unmaps the pages of code this process has in memory but is not running: the dynamic
    /// loader, the runtime's start-up and every library touch far more of their text than an idle
    /// process executes, and the kernel maps 64 KiB around each page it faults in. Executable
    /// file mappings without private (modified) pages are dropped with `MADV_DONTNEED`; what runs
    /// next faults back in from the page cache. Mappings with modified pages (text relocations)
    /// are left alone: dropping them would lose the modifications. Returns the bytes unmapped.
    @discardableResult
    public static func releaseIdleCodePages(smapsPath: String = "/proc/self/smaps") -> Int {
        #if os(Linux)
        guard let file = fopen(smapsPath, "r") else { return 0 }
        defer { fclose(file) }
        struct Mapping {
            var start: UInt
            var end: UInt
            var executableFile: Bool
            var privateDirty = 0
            var anonymous = 0
            var resident = 0
        }
        var mappings: [Mapping] = []
        var line = [CChar](repeating: 0, count: 4096)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(cString: line)
            if let dash = text.firstIndex(of: "-"), let start = UInt(text[..<dash], radix: 16) {
                let rest = text[text.index(after: dash)...]
                let fields = rest.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count >= 5, let end = UInt(fields[0], radix: 16) else { continue }
                let named = fields.count >= 6 && fields[5].hasPrefix("/")
                mappings.append(Mapping(start: start, end: end, executableFile: fields[1] == "r-xp" && named))
            } else if var last = mappings.popLast() {
                func kilobytes() -> Int { Int(text.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0 }
                if text.hasPrefix("Private_Dirty:") { last.privateDirty = kilobytes() }
                if text.hasPrefix("Anonymous:") { last.anonymous = kilobytes() }
                if text.hasPrefix("Rss:") { last.resident = kilobytes() }
                mappings.append(last)
            }
        }
        var released = 0
        for mapping in mappings where mapping.executableFile && mapping.privateDirty == 0 && mapping.anonymous == 0 && mapping.resident > 0 {
            guard let address = UnsafeMutableRawPointer(bitPattern: mapping.start) else { continue }
            if madvise(address, Int(mapping.end - mapping.start), MADV_DONTNEED) == 0 { released += mapping.resident * 1024 }
        }
        return released
        #else
        return 0
        #endif
    }
}
