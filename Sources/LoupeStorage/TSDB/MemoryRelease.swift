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
}
