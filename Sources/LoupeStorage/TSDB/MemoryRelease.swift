#if canImport(Glibc)
import CMalloc
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
}
