#!/usr/bin/env python3
"""Regenerates the remote-write fixtures in this directory from the official protobuf definitions, so the
Swift codecs are checked against an independent encoder (the Python protobuf runtime):

    pip install grpcio-tools protobuf python-snappy
    python3 Tests/LoupeWireTests/Fixtures/remote-write/make_fixtures.py [PROMPB_DIR]

PROMPB_DIR defaults to shared/specs/prometheus/prompb beside the repository. The .proto files are copied to a
temporary directory with the gogoproto annotations removed (they only affect generated Go code, not the wire
format), compiled there with grpc_tools.protoc, and imported from there; no generated code is kept.

For every fixture NAME it writes NAME.bin (the serialized request) and, when python-snappy is installed,
NAME.snappy (snappy.compress(NAME.bin): a remote-write HTTP body). The expected decoded values are spelled
out in RemoteWriteTests.swift; keep the two in step.
"""

import glob
import importlib
import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROMPB = os.path.normpath(os.path.join(HERE, "..", "..", "..", "..", "..", "shared", "specs", "prometheus", "prompb"))

STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
OTHER_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000001))[0]
T0 = 1700000000000


def compile_protos(prompb, workdir):
    """Copies the protos without gogoproto, compiles them, and returns (prompb_v1 module, v2 module)."""
    sources = [
        ("types.proto", "types.proto"),
        ("remote.proto", "remote.proto"),
        (os.path.join("io", "prometheus", "write", "v2", "types.proto"), os.path.join("io", "prometheus", "write", "v2", "types.proto")),
    ]
    for source, target in sources:
        with open(os.path.join(prompb, source), encoding="utf-8") as file:
            text = file.read()
        text = re.sub(r'import "gogoproto/gogo.proto";\n', "", text)
        text = re.sub(r"\s*\[\(gogoproto\.[^\]]*\]", "", text)
        destination = os.path.join(workdir, "proto", target)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        with open(destination, "w", encoding="utf-8") as file:
            file.write(text)
    out = os.path.join(workdir, "py")
    os.makedirs(out)
    subprocess.check_call([
        sys.executable, "-m", "grpc_tools.protoc", "-I", os.path.join(workdir, "proto"), "--python_out", out,
        "types.proto", "remote.proto", "io/prometheus/write/v2/types.proto",
    ])
    sys.path.insert(0, out)
    remote = importlib.import_module("remote_pb2")
    types_v1 = importlib.import_module("types_pb2")
    # The 2.0 module lives under io/..., which would clash with the standard library's io: load it by path.
    spec = importlib.util.spec_from_file_location("writev2_types_pb2", os.path.join(out, "io", "prometheus", "write", "v2", "types_pb2.py"))
    types_v2 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(types_v2)
    return remote, types_v1, types_v2


# MARK: - Remote write 1.0

def v1_series(remote, types_v1, request, labels, samples=(), exemplars=(), histograms=()):
    series = request.timeseries.add()
    for name, value in labels:
        series.labels.add(name=name, value=value)
    for value, timestamp in samples:
        series.samples.add(value=value, timestamp=timestamp)
    for labels_, value, timestamp in exemplars:
        exemplar = series.exemplars.add(value=value, timestamp=timestamp)
        for name, label_value in labels_:
            exemplar.labels.add(name=name, value=label_value)
    for histogram in histograms:
        series.histograms.add().CopyFrom(histogram)
    return series


def histograms(module):
    """The three histogram kinds, as messages of `module.Histogram` (same fields 1-16 in both versions)."""
    H = module.Histogram
    integer = H(
        count_int=17, sum=18.4, schema=1, zero_threshold=1e-128, zero_count_int=2,
        negative_spans=[module.BucketSpan(offset=0, length=2)], negative_deltas=[1, 0],
        positive_spans=[module.BucketSpan(offset=0, length=4), module.BucketSpan(offset=2, length=1)],
        positive_deltas=[2, -1, 2, -1, 3],
        reset_hint=H.ResetHint.Value("NO" if module.__name__ == "types_pb2" else "RESET_HINT_NO"),
        timestamp=T0,
    )
    floating = H(
        count_float=17.5, sum=-3.25, schema=-2, zero_threshold=0.001, zero_count_float=1.5,
        negative_spans=[module.BucketSpan(offset=-1, length=1)], negative_counts=[2.0],
        positive_spans=[module.BucketSpan(offset=3, length=3)], positive_counts=[4.0, 0.0, 10.0],
        reset_hint=H.ResetHint.Value("GAUGE" if module.__name__ == "types_pb2" else "RESET_HINT_GAUGE"),
        timestamp=T0 + 15000,
    )
    custom = H(
        count_int=7, sum=1.5, schema=-53, zero_count_int=0,
        positive_spans=[module.BucketSpan(offset=0, length=2), module.BucketSpan(offset=1, length=2)],
        positive_deltas=[1, 1, -1, 2], custom_values=[0.1, 0.5, 1.0, 5.0],
        reset_hint=H.ResetHint.Value("YES" if module.__name__ == "types_pb2" else "RESET_HINT_YES"),
        timestamp=T0 + 30000,
    )
    return integer, floating, custom


def v1_fixtures(remote, types_v1):
    fixtures = {}

    request = remote.WriteRequest()
    v1_series(remote, types_v1, request, [("__name__", "up"), ("instance", "localhost:9090"), ("job", "prometheus")],
              samples=[(1.0, T0), (1.0, T0 + 15000)])
    v1_series(remote, types_v1, request,
              [("__name__", "http_requests_total"), ("code", "200"), ("handler", "/api/v1/write"), ("job", "loupe")],
              samples=[(1027.0, T0), (1043.5, T0 + 15000), (STALE_NAN, T0 + 30000)])
    v1_series(remote, types_v1, request, [("__name__", "temperature_celsius"), ("sensor", "ünïcödé ✓")],
              samples=[(-0.0, -1000), (float("inf"), 0), (float("-inf"), 1), (OTHER_NAN, 2), (5e-324, 2**63 - 1)])
    fixtures["v1-floats"] = request

    request = remote.WriteRequest()
    integer, floating, custom = histograms(types_v1)
    v1_series(remote, types_v1, request, [("__name__", "request_duration_seconds"), ("job", "api")], histograms=[integer, floating])
    v1_series(remote, types_v1, request, [("__name__", "request_size_bytes"), ("job", "api")], histograms=[custom])
    fixtures["v1-histograms"] = request

    request = remote.WriteRequest()
    v1_series(remote, types_v1, request,
              [("__name__", "http_request_duration_seconds_bucket"), ("job", "api"), ("le", "0.5")],
              samples=[(42.0, T0)],
              exemplars=[([("span_id", "00f067aa0ba902b7"), ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")], 0.43, T0 + 123),
                         ([], 0.1, T0 + 456)])
    # Sorted by family name: the order the Swift encoder writes (it keeps metadata in a dictionary).
    M = types_v1.MetricMetadata
    request.metadata.add(type=M.MetricType.Value("HISTOGRAM"), metric_family_name="http_request_duration_seconds",
                         help="Request latency.", unit="seconds")
    request.metadata.add(type=M.MetricType.Value("COUNTER"), metric_family_name="http_requests_total", help="Total HTTP requests.")
    request.metadata.add(type=M.MetricType.Value("GAUGE"), metric_family_name="temperature_celsius", help="Temperature.", unit="celsius")
    fixtures["v1-exemplars-metadata"] = request
    return {name: message.SerializeToString(deterministic=True) for name, message in fixtures.items()}


# MARK: - Remote write 2.0

class Symbols:
    """Symbols in order of first use, starting with "" (the order the Swift encoder uses too)."""

    def __init__(self):
        self.table = [""]
        self.index = {"": 0}

    def ref(self, string):
        if string not in self.index:
            self.index[string] = len(self.table)
            self.table.append(string)
        return self.index[string]


def v2_series(v2, request, symbols, labels, samples=(), histograms=(), exemplars=(), metadata=None):
    """labels sorted by name; samples (value, timestamp, start); histograms (message, start);
    exemplars (labels, value, timestamp); metadata (type name, help, unit)."""
    series = request.timeseries.add()
    for name, value in labels:
        series.labels_refs.extend([symbols.ref(name), symbols.ref(value)])
    if metadata is not None:
        type_name, help_text, unit = metadata
        series.metadata.type = v2.Metadata.MetricType.Value(type_name)
        help_ref = symbols.ref(help_text)
        unit_ref = symbols.ref(unit)
        if help_ref:
            series.metadata.help_ref = help_ref
        if unit_ref:
            series.metadata.unit_ref = unit_ref
    for labels_, value, timestamp in exemplars:
        exemplar = series.exemplars.add(value=value, timestamp=timestamp)
        for name, label_value in labels_:
            exemplar.labels_refs.extend([symbols.ref(name), symbols.ref(label_value)])
    for value, timestamp, start in samples:
        series.samples.add(value=value, timestamp=timestamp, start_timestamp=start)
    for histogram, start in histograms:
        message = series.histograms.add()
        message.CopyFrom(histogram)
        message.start_timestamp = start
    return series


def v2_fixtures(v2):
    fixtures = {}

    request = v2.Request()
    symbols = Symbols()
    v2_series(v2, request, symbols, [("__name__", "up"), ("instance", "localhost:9090"), ("job", "prometheus")],
              samples=[(1.0, T0, 0), (1.0, T0 + 15000, 0)], metadata=("METRIC_TYPE_GAUGE", "", ""))
    v2_series(v2, request, symbols,
              [("__name__", "http_requests_total"), ("code", "200"), ("handler", "/api/v1/write"), ("job", "loupe")],
              samples=[(1027.0, T0, T0 - 3600000), (1043.5, T0 + 15000, T0 - 3600000), (STALE_NAN, T0 + 30000, T0 - 3600000)],
              metadata=("METRIC_TYPE_COUNTER", "Total HTTP requests.", ""))
    v2_series(v2, request, symbols, [("__name__", "temperature_celsius"), ("sensor", "ünïcödé ✓")],
              samples=[(-0.0, -1000, 0), (float("inf"), 0, 0), (float("-inf"), 1, 0), (OTHER_NAN, 2, 0), (5e-324, 2**63 - 1, 0)],
              metadata=("METRIC_TYPE_GAUGE", "Temperature.", "celsius"))
    request.symbols.extend(symbols.table)
    fixtures["v2-floats"] = request

    request = v2.Request()
    symbols = Symbols()
    integer, floating, custom = histograms(v2)
    v2_series(v2, request, symbols, [("__name__", "request_duration_seconds"), ("job", "api")],
              histograms=[(integer, T0 - 60000), (floating, T0 - 60000)],
              metadata=("METRIC_TYPE_HISTOGRAM", "Request latency.", "seconds"))
    v2_series(v2, request, symbols, [("__name__", "request_size_bytes"), ("job", "api")],
              histograms=[(custom, 0)], metadata=("METRIC_TYPE_HISTOGRAM", "Request size.", "bytes"))
    request.symbols.extend(symbols.table)
    fixtures["v2-histograms"] = request

    request = v2.Request()
    symbols = Symbols()
    v2_series(v2, request, symbols, [("__name__", "http_request_duration_seconds_bucket"), ("job", "api"), ("le", "0.5")],
              samples=[(42.0, T0, T0 - 1000)],
              exemplars=[([("span_id", "00f067aa0ba902b7"), ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")], 0.43, T0 + 123),
                         ([], 0.1, T0 + 456)],
              metadata=("METRIC_TYPE_COUNTER", "Request latency.", "seconds"))
    request.symbols.extend(symbols.table)
    fixtures["v2-exemplars"] = request

    # Start timestamps that change within one series (a counter reset): the decoder splits the series.
    request = v2.Request()
    symbols = Symbols()
    v2_series(v2, request, symbols, [("__name__", "jobs_total"), ("job", "batch")],
              samples=[(5.0, T0, T0 - 100000), (9.0, T0 + 15000, T0 - 100000), (1.0, T0 + 30000, T0 + 20000), (2.0, T0 + 45000, T0 + 20000)],
              exemplars=[([("trace_id", "abc")], 5.0, T0)],
              metadata=("METRIC_TYPE_COUNTER", "", ""))
    request.symbols.extend(symbols.table)
    fixtures["v2-start-timestamps"] = request

    encoded = {name: message.SerializeToString(deterministic=True) for name, message in fixtures.items()}

    # The same floats request with the series before the symbols: two messages concatenated merge into one.
    floats = fixtures["v2-floats"]
    series_only = v2.Request()
    series_only.timeseries.extend(floats.timeseries)
    symbols_only = v2.Request()
    symbols_only.symbols.extend(floats.symbols)
    encoded["v2-symbols-last"] = series_only.SerializeToString(deterministic=True) + symbols_only.SerializeToString(deterministic=True)
    merged = v2.Request()
    merged.ParseFromString(encoded["v2-symbols-last"])
    assert merged == floats
    return encoded


def main():
    prompb = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_PROMPB
    try:
        import snappy
    except ImportError:
        snappy = None
        print("python-snappy is not installed: writing .bin files only")
    workdir = tempfile.mkdtemp(prefix="loupe-prompb-")
    try:
        remote, types_v1, types_v2 = compile_protos(prompb, workdir)
        outputs = {}
        outputs.update(v1_fixtures(remote, types_v1))
        outputs.update(v2_fixtures(types_v2))
    finally:
        shutil.rmtree(workdir)
    for path in glob.glob(os.path.join(HERE, "*.bin")) + glob.glob(os.path.join(HERE, "*.snappy")):
        os.remove(path)
    for name, data in sorted(outputs.items()):
        assert struct.pack("<Q", 0x7FF0000000000002) in data or "floats" not in name and "symbols" not in name, name
        with open(os.path.join(HERE, name + ".bin"), "wb") as file:
            file.write(data)
        line = f"{name}.bin: {len(data)} bytes"
        if snappy is not None:
            compressed = snappy.compress(data)
            with open(os.path.join(HERE, name + ".snappy"), "wb") as file:
                file.write(compressed)
            line += f", {name}.snappy: {len(compressed)} bytes"
        print(line)


if __name__ == "__main__":
    main()
