#!/usr/bin/env python3
"""Regenerates the gzip/zlib/deflate fixtures of GzipTests.swift with Python's own gzip and zlib modules.

Run from this directory: python3 make_fixtures.py. The output is deterministic (mtime 0, fixed seed).
"""
import gzip
import io
import random
import zlib

rng = random.Random(20261121)
words = ["span", "trace", "resource", "service.name", "loupe", "otlp", "http.method", "GET", "POST", "200", "500"]
lines = []
for i in range(600):
    lines.append(f"{i:05d} " + " ".join(rng.choice(words) for _ in range(rng.randint(3, 12))))
text = ("\n".join(lines) + "\n").encode()
binary = bytes(rng.getrandbits(8) for _ in range(4096))
plain = text + binary

with open("plain.bin", "wb") as f:
    f.write(plain)

# One member, the way Python's gzip.compress writes it (no file name).
with open("plain.bin.gz", "wb") as f:
    f.write(gzip.compress(plain, compresslevel=9, mtime=0))

# One member with the optional FNAME header field, as GzipFile writes it.
buffer = io.BytesIO()
with gzip.GzipFile(filename="plain.bin", mode="wb", fileobj=buffer, mtime=0) as g:
    g.write(plain)
with open("plain-named.bin.gz", "wb") as f:
    f.write(buffer.getvalue())

# Two members, as `cat a.gz b.gz` makes them; they decompress to plain.bin.
half = len(plain) // 2
with open("plain-two-members.bin.gz", "wb") as f:
    f.write(gzip.compress(plain[:half], mtime=0) + gzip.compress(plain[half:], compresslevel=1, mtime=0))

# HTTP "deflate": zlib format (RFC 1950) and raw deflate (RFC 1951).
with open("plain.bin.zlib", "wb") as f:
    f.write(zlib.compress(plain, 6))
raw = zlib.compressobj(6, zlib.DEFLATED, -15)
with open("plain.bin.deflate", "wb") as f:
    f.write(raw.compress(plain) + raw.flush())

# An empty input, compressed.
with open("empty.gz", "wb") as f:
    f.write(gzip.compress(b"", mtime=0))
