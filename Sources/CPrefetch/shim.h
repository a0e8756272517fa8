// The compiler's prefetch hint, which Swift does not expose. The ingest path looks up thousands of
// series per request in tables far larger than the caches; asking for the next series' memory while
// the current one is worked on overlaps the misses instead of waiting on each in turn.
#ifndef LOUPE_PREFETCH_H
#define LOUPE_PREFETCH_H

/// Brings the cache line holding `address` towards the core, to be read soon. Never faults, so a
/// stale or freed address costs nothing but the hint.
static inline void loupe_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }

/// As `loupe_prefetch`, for a line about to be written.
static inline void loupe_prefetch_for_write(const void *address) { __builtin_prefetch(address, 1, 3); }

#endif
