#!/usr/bin/env python3
"""Regenerates the Snappy fixtures in this directory with python-snappy (an independent implementation: the
Rust `snap` crate through cramjam), so the Swift decoder is checked against someone else's encoder:

    pip install python-snappy
    python3 Tests/LoupeWireTests/Fixtures/snappy/make_fixtures.py

For every input NAME it writes
    NAME.raw.gz    the original bytes, gzipped (mtime 0, so regeneration is byte-stable)
    NAME.snappy    snappy.compress(original): the block format (remote write, Loki push)
    NAME.sz        snappy.StreamCompressor: the framing format
and manifest.json with each input's length and SHA-256 (the tests compare bytes; the hashes document them).
Inputs are deterministic (seeded), so rerunning reproduces the same originals.
"""

import gzip
import hashlib
import json
import os
import random

import snappy

HERE = os.path.dirname(os.path.abspath(__file__))


def exposition_text(size, seed):
    """Prometheus text exposition: the kind of data remote write bodies resemble (labels repeat a lot)."""
    rng = random.Random(seed)
    methods = ["GET", "POST", "PUT", "DELETE"]
    codes = ["200", "201", "204", "400", "404", "500", "503"]
    handlers = ["/api/v1/query", "/api/v1/query_range", "/api/v1/write", "/metrics", "/-/ready", "/loki/api/v1/push"]
    lines = []
    total = 0
    while total < size:
        line = 'http_requests_total{method="%s",code="%s",handler="%s",instance="10.0.%d.%d:9090"} %d %d\n' % (
            rng.choice(methods), rng.choice(codes), rng.choice(handlers), rng.randrange(256), rng.randrange(256),
            rng.randrange(10**9), 1700000000000 + rng.randrange(10**6),
        )
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()[:size]


def english_text(size, seed):
    rng = random.Random(seed)
    words = ("the quick brown fox jumps over a lazy dog while snappy compresses every block of sixty four "
             "kibibytes with a hash table of sixteen thousand entries and emits literals and copies").split()
    out = []
    total = 0
    while total < size:
        word = rng.choice(words)
        out.append(word)
        total += len(word) + 1
    return " ".join(out).encode()[:size]


def random_bytes(size, seed):
    return random.Random(seed).randbytes(size)


def inputs():
    yield "empty", b""
    yield "one-byte", b"a"
    yield "short-text", b"Hello, Snappy! Hello, Snappy! Hello, Snappy!"
    yield "text", english_text(20000, 1)
    yield "random", random_bytes(10000, 2)
    yield "zeros", bytes(100000)
    yield "repetitive", b"abc" * 40000
    yield "pattern-7", bytes(range(7)) * 3000
    yield "exposition-1mib", exposition_text(1 << 20, 3)
    # Around the 64 KiB block boundary of the compressor.
    yield "block-65535", english_text(65535, 4)
    yield "block-65536", english_text(65536, 5)
    yield "block-65537", english_text(65537, 6)
    yield "random-70000", random_bytes(70000, 7)
    yield "mixed-200000", english_text(60000, 8) + random_bytes(20000, 9) + bytes(50000) + exposition_text(70000, 10)
    # Long literals (tags 60-63 with 1-4 length bytes) come from incompressible runs.
    yield "random-300", random_bytes(300, 11)


def main():
    manifest = []
    for name, data in inputs():
        with open(os.path.join(HERE, name + ".raw.gz"), "wb") as file:
            file.write(gzip.compress(data, mtime=0))
        block = snappy.compress(data)
        assert snappy.decompress(block) == data
        with open(os.path.join(HERE, name + ".snappy"), "wb") as file:
            file.write(block)
        framed = snappy.StreamCompressor().add_chunk(data) if data else b"\xff\x06\x00\x00sNaPpY"
        assert snappy.StreamDecompressor().decompress(framed) == data
        with open(os.path.join(HERE, name + ".sz"), "wb") as file:
            file.write(framed)
        manifest.append({
            "name": name, "length": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "snappy": len(block), "framed": len(framed),
        })
        print(f"{name}: {len(data)} bytes -> {len(block)} block, {len(framed)} framed")
    with open(os.path.join(HERE, "manifest.json"), "w") as file:
        json.dump(manifest, file, indent=1)
        file.write("\n")


if __name__ == "__main__":
    main()
