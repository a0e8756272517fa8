#!/usr/bin/env python3
"""fdatasync after appending 24 KiB to a file vs after overwriting 24 KiB of zeros already written
and synced (what `wal.reserved_space` gives the WAL). Prints median and p99 in ms, two rounds.
Usage: scripts/fsync-append-vs-overwrite.py [DIRECTORY]  (default: the current one; use the data disk)"""
import os, statistics, sys, time

def run(preallocated: bool, directory: str, count: int = 2000, size: int = 24 * 1024) -> tuple[float, float]:
    path = os.path.join(directory, "fsync-test.bin")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        if preallocated:
            zeros = b"\0" * (1 << 20)
            for _ in range((count * size >> 20) + 2):
                os.write(fd, zeros)
            os.fsync(fd)
        block = os.urandom(size)
        times = []
        for index in range(count):
            os.pwrite(fd, block, index * size)
            started = time.perf_counter()
            os.fdatasync(fd)
            times.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        os.unlink(path)
    return statistics.median(times) * 1e3, sorted(times)[int(count * 0.99)] * 1e3

directory = sys.argv[1] if len(sys.argv) > 1 else "."
for _ in range(2):
    print("append    median %.3f ms  p99 %.3f ms" % run(False, directory))
    print("overwrite median %.3f ms  p99 %.3f ms" % run(True, directory))
