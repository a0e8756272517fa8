// The CPU's CRC-32C instruction (SSE4.2 `crc32` on x86-64, the CRC extension on ARMv8), which Swift
// cannot name. Every WAL record is checksummed before it is acknowledged; a table-driven loop does
// about 1.5 GB/s, the instruction 8 bytes every 3 cycles.
#ifndef LOUPE_CRC32C_H
#define LOUPE_CRC32C_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>

/// 1 when this CPU has the instruction (checked once by the caller; `cpuid` is slow).
static inline int loupe_crc32c_hardware_available(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    return (ecx & bit_SSE4_2) != 0;
}

/// Extends `crc` (the finished checksum of what came before, 0 to start) over `count` bytes.
__attribute__((target("sse4.2")))
static inline uint32_t loupe_crc32c_hardware_update(uint32_t crc, const void *bytes, size_t count) {
    const unsigned char *p = (const unsigned char *)bytes;
    uint64_t c = (uint32_t)~crc;
    while (count >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = __builtin_ia32_crc32di(c, word);
        p += 8;
        count -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (count > 0) {
        c32 = __builtin_ia32_crc32qi(c32, *p);
        p += 1;
        count -= 1;
    }
    return ~c32;
}

#elif defined(__aarch64__) && defined(__ARM_FEATURE_CRC32)
#include <arm_acle.h>

static inline int loupe_crc32c_hardware_available(void) { return 1; }

static inline uint32_t loupe_crc32c_hardware_update(uint32_t crc, const void *bytes, size_t count) {
    const unsigned char *p = (const unsigned char *)bytes;
    uint32_t c = ~crc;
    while (count >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = __crc32cd(c, word);
        p += 8;
        count -= 8;
    }
    while (count > 0) {
        c = __crc32cb(c, *p);
        p += 1;
        count -= 1;
    }
    return ~c;
}

#else

static inline int loupe_crc32c_hardware_available(void) { return 0; }

/// Never called: the caller checks `loupe_crc32c_hardware_available` first.
static inline uint32_t loupe_crc32c_hardware_update(uint32_t crc, const void *bytes, size_t count) {
    (void)bytes;
    (void)count;
    return crc;
}

#endif

#endif
