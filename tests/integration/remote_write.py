"""Prometheus remote write 1.0 for the end-to-end tests: a WriteRequest encoded by hand
(protobuf wire format, prometheus/prompb/remote.proto and types.proto) and compressed with
python-snappy (block format), exactly as Prometheus sends it.

    message WriteRequest { repeated TimeSeries timeseries = 1; ... }
    message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; ... }
    message Label        { string name = 1; string value = 2; }
    message Sample       { double value = 1; int64 timestamp = 2; }   // timestamp in ms
"""

from __future__ import annotations

import struct
from typing import Iterable, Sequence

import snappy

# Prometheus's staleness marker: a NaN with this exact bit pattern (value.StaleNaN).
STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]

HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": "loupe-integration-tests",
}


class Stale:
    """Marks a sample as the staleness marker (encoded with the exact StaleNaN bits)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "StaleNaN"


STALE = Stale()


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 as two's complement, ten bytes
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _length_delimited(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _double_bytes(value) -> bytes:
    if value is STALE:
        return struct.pack("<Q", STALE_NAN_BITS)
    return struct.pack("<d", value)


def encode_series(labels: Sequence[tuple[str, str]], samples: Iterable[tuple[int, object]]) -> bytes:
    """One TimeSeries (field 1 of WriteRequest). Labels are sorted by name, as the spec requires;
    a sample value may be a float or STALE."""
    body = bytearray()
    for name, value in sorted(labels):
        body += _length_delimited(1, _length_delimited(1, name.encode()) + _length_delimited(2, value.encode()))
    for timestamp, value in samples:
        sample = b"\x09" + _double_bytes(value) + b"\x10" + _varint(timestamp)
        body += _length_delimited(2, sample)
    return _length_delimited(1, bytes(body))


def encode_request(series: Iterable[tuple[Sequence[tuple[str, str]], Iterable[tuple[int, object]]]]) -> bytes:
    """A snappy-compressed WriteRequest body ready to POST."""
    return snappy.compress(b"".join(encode_series(labels, samples) for labels, samples in series))


# --------------------------------------------------------------------------------------
# Remote write 2.0 (io.prometheus.write.v2.Request): interned label strings
# --------------------------------------------------------------------------------------

HEADERS_V2 = {
    "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "2.0.0",
    "User-Agent": "loupe-integration-tests",
}


def encode_request_v2(series: Iterable[tuple[Sequence[tuple[str, str]], Iterable[tuple[int, object]]]]) -> bytes:
    """A snappy-compressed remote write 2.0 Request: `symbols` (field 4, the first one "") and
    `timeseries` (field 5) whose `labels_refs` (field 1, packed uint32) point into them."""
    symbols: dict[str, int] = {"": 0}

    def ref(text: str) -> int:
        if text not in symbols:
            symbols[text] = len(symbols)
        return symbols[text]

    body = bytearray()
    for labels, samples in series:
        refs = b"".join(_varint(ref(part)) for name, value in sorted(labels) for part in (name, value))
        one = bytearray(_length_delimited(1, refs))
        for timestamp, value in samples:
            one += _length_delimited(2, b"\x09" + _double_bytes(value) + b"\x10" + _varint(timestamp))
        body += _length_delimited(5, bytes(one))
    head = b"".join(_length_delimited(4, text.encode()) for text in symbols)  # dicts keep insertion order
    return snappy.compress(head + bytes(body))
