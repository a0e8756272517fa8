"""promtool (Prometheus 2.42, Debian package) querying Loupe's Prometheus HTTP API for real.

Data goes in through remote write 1.0: a WriteRequest encoded by hand (protobuf wire
format) and compressed with python-snappy, as Prometheus sends it.
"""
import shutil
import struct
import subprocess
import time
import urllib.request

import pytest
import snappy

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (scripts/test.sh installs Debian's prometheus)")


def _varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number, wire_type, payload):
    return _varint(number << 3 | wire_type) + payload


def _length_delimited(number, data):
    return _field(number, 2, _varint(len(data)) + data)


def _series(labels, samples):
    body = b"".join(_length_delimited(1, _length_delimited(1, n.encode()) + _length_delimited(2, v.encode())) for n, v in labels)
    for timestamp, value in samples:
        body += _length_delimited(2, _field(1, 1, struct.pack("<d", value)) + _field(2, 0, _varint(timestamp)))
    return _length_delimited(1, body)


def _remote_write(address, payload):
    request = urllib.request.Request(
        f"{address}/api/v1/write", data=snappy.compress(payload), method="POST",
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy", "X-Prometheus-Remote-Write-Version": "0.1.0"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def _promtool(*args):
    result = subprocess.run([PROMTOOL, "query", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"promtool {' '.join(args)} failed: {result.stderr}"
    return result.stdout


@pytest.fixture
def loaded(loupe):
    start = (int(time.time()) - 300) * 1000
    samples = [(start + i * 15_000, float(i * 10)) for i in range(20)]
    payload = b"".join(
        _series([("__name__", "http_requests_total"), ("job", "api"), ("code", code)], samples) for code in ("200", "500"))
    payload += _series([("__name__", "up"), ("job", "api"), ("instance", "a:9100")], [(start, 1.0)])
    assert _remote_write(loupe.http_url, payload) == 204
    return loupe, start


def test_promtool_query_instant(loaded):
    loupe, start = loaded
    at = (start + 19 * 15_000) / 1000
    output = _promtool("instant", "--time", str(at), loupe.http_url, "sum by (code) (http_requests_total)")
    lines = sorted(line for line in output.splitlines() if line.strip())
    assert lines == [f'{{code="200"}} => 190 @[{int(at)}]', f'{{code="500"}} => 190 @[{int(at)}]'], output


def test_promtool_query_range(loaded):
    loupe, start = loaded
    output = _promtool(
        "range", "--start", str(start // 1000 + 60), "--end", str(start // 1000 + 240), "--step", "60s",
        loupe.http_url, 'rate(http_requests_total{code="500"}[1m])')
    assert '{code="500", job="api"} =>' in output, output
    values = [float(line.split(" @[")[0]) for line in output.splitlines() if " @[" in line]
    assert len(values) == 4, output
    for value in values:
        assert abs(value - 10 / 15) < 1e-9, output


def test_promtool_query_series_and_labels(loaded):
    loupe, _ = loaded
    series = _promtool("series", "--match", 'http_requests_total{code="500"}', loupe.http_url)
    assert series.strip() == '{__name__="http_requests_total", code="500", job="api"}', series
    labels = _promtool("labels", loupe.http_url, "code")
    assert labels.split() == ["200", "500"], labels
    names = _promtool("labels", loupe.http_url, "__name__")
    assert names.split() == ["http_requests_total", "up"], names
