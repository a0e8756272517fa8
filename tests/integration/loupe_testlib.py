"""Shared helpers of the end-to-end tests: running `loupe up`, OTLP payloads, and
comparing what the server returns with what was sent.

Everything here talks only to 127.0.0.1 and bounds every wait with a timeout.
"""

from __future__ import annotations

import base64
import difflib
import gzip
import json
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable

import requests
from google.protobuf import json_format, text_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.metrics.v1 import metrics_pb2

# Never route loopback traffic through a proxy (requests and gRPC both honour these).
for _name in ("no_proxy", "NO_PROXY"):
    _existing = os.environ.get(_name, "")
    if "127.0.0.1" not in _existing:
        os.environ[_name] = ",".join(filter(None, [_existing, "127.0.0.1", "localhost"]))

REPO_ROOT = Path(__file__).resolve().parents[2]
LOUPE_BINARY = Path(os.environ.get("LOUPE_BINARY", str(REPO_ROOT / ".build" / "debug" / "loupe")))

STARTUP_TIMEOUT = float(os.environ.get("LOUPE_STARTUP_TIMEOUT", "90"))
SHUTDOWN_TIMEOUT = float(os.environ.get("LOUPE_SHUTDOWN_TIMEOUT", "30"))
REQUEST_TIMEOUT = float(os.environ.get("LOUPE_REQUEST_TIMEOUT", "30"))

SIGNALS = ("traces", "metrics", "logs")
REQUEST_TYPES = {
    "traces": ExportTraceServiceRequest,
    "metrics": ExportMetricsServiceRequest,
    "logs": ExportLogsServiceRequest,
}


def http_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxies, no netrc: loopback only
    return session


# --------------------------------------------------------------------------------------
# Running loupe
# --------------------------------------------------------------------------------------

_BANNER_PATTERNS = {
    "http": re.compile(r"^\s*HTTP API\s+(http://\S+)", re.MULTILINE),
    "otlp_grpc": re.compile(r"^\s*OTLP/gRPC\s+(\S+)", re.MULTILINE),
    "otlp_http": re.compile(r"^\s*OTLP/HTTP\s+(http://\S+)", re.MULTILINE),
}


class LoupeError(AssertionError):
    pass


@dataclass
class LoupeServer:
    """One `loupe up` process (restartable on the same data directory).

    Addresses are filled in from the banner `loupe up` prints on stdout once every
    listener is bound: `http_url` (main API), `otlp_http_url` and `otlp_grpc_address`.
    """

    data_dir: Path
    log_dir: Path
    retention: str = "0"
    config_file: Path | None = None
    log_level: str = "debug"
    extra_args: tuple[str, ...] = ()
    binary: Path = LOUPE_BINARY

    proc: subprocess.Popen | None = None
    http_url: str = ""
    otlp_http_url: str = ""
    otlp_grpc_address: str = ""
    starts: int = 0
    stop_requested: bool = False
    stdout_path: Path | None = None
    stderr_path: Path | None = None
    session: requests.Session = field(default_factory=http_session)

    # ---- lifecycle ----------------------------------------------------------------

    def command(self) -> list[str]:
        cmd = [
            str(self.binary), "up",
            "--data-dir", str(self.data_dir),
            "--http-address", "127.0.0.1:0",
            "--otlp-grpc-address", "127.0.0.1:0",
            "--otlp-http-address", "127.0.0.1:0",
            "--retention", self.retention,
            "--log-level", self.log_level,
        ]
        if self.config_file is not None:
            cmd += ["--config", str(self.config_file)]
        cmd += list(self.extra_args)
        return cmd

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = STARTUP_TIMEOUT) -> "LoupeServer":
        assert not self.running, "already running"
        self.starts += 1
        self.stop_requested = False
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = self.log_dir / f"loupe-{self.starts}.stdout"
        self.stderr_path = self.log_dir / f"loupe-{self.starts}.stderr"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        self.http_url = self.otlp_http_url = self.otlp_grpc_address = ""
        deadline = time.monotonic() + timeout
        addresses: dict[str, str] = {}
        while True:
            text = self.stdout()
            addresses = {name: m.group(1) for name, p in _BANNER_PATTERNS.items() if (m := p.search(text))}
            if len(addresses) == 3:
                break
            if self.proc.poll() is not None:
                self.stop_requested = True  # reported here; the fixture need not report it again
                raise LoupeError(
                    f"loupe exited with code {self.proc.returncode} before printing its addresses\n"
                    f"command: {' '.join(self.command())}\n--- stdout ---\n{text}\n--- stderr ---\n{self.stderr_tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise LoupeError(
                    f"loupe did not print its addresses within {timeout}s\n--- stdout ---\n{text}\n"
                    f"--- stderr ---\n{self.stderr_tail()}")
            time.sleep(0.05)
        self.http_url = addresses["http"].rstrip("/")
        self.otlp_http_url = addresses["otlp_http"].rstrip("/")
        self.otlp_grpc_address = addresses["otlp_grpc"]
        for url in (self.http_url, self.otlp_http_url, "http://" + self.otlp_grpc_address):
            assert re.fullmatch(r"http://127\.0\.0\.1:[1-9][0-9]*", url), f"unexpected listen address {url!r} in banner"
        # Ready means WAL replayed and listeners bound.
        while True:
            try:
                response = self.session.get(self.http_url + "/ready", timeout=5)
                if response.status_code == 200:
                    break
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                raise LoupeError(f"loupe exited with code {self.proc.returncode} before /ready\n{self.stderr_tail()}")
            if time.monotonic() > deadline:
                raise LoupeError(f"/ready did not return 200 within {timeout}s\n{self.stderr_tail()}")
            time.sleep(0.05)
        return self

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = SHUTDOWN_TIMEOUT, expect_clean: bool = True) -> int:
        """Sends SIGTERM (or SIGINT) and waits; kills it if it does not exit in time.

        With expect_clean, asserts the process exited on its own with code 0.
        """
        assert self.proc is not None
        self.stop_requested = True
        if self.proc.poll() is not None:
            code = self.proc.returncode
            if expect_clean:
                raise LoupeError(f"loupe had already exited (code {code}) before it was asked to stop\n{self.stderr_tail()}")
            return code
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
            raise LoupeError(f"loupe did not exit within {timeout}s of {signal.Signals(sig).name}; killed it\n{self.stderr_tail()}")
        if expect_clean and code != 0:
            raise LoupeError(f"loupe exited with code {code} after {signal.Signals(sig).name}, expected 0\n{self.stderr_tail()}")
        return code

    def kill(self) -> None:
        """SIGKILL: no chance to flush anything."""
        self.stop_requested = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def restart(self, **kwargs) -> "LoupeServer":
        if self.running:
            self.terminate()
        return self.start(**kwargs)

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace") if self.stdout_path and self.stdout_path.exists() else ""

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path and self.stderr_path.exists() else ""

    def stderr_tail(self, chars: int = 6000) -> str:
        text = self.stderr()
        return text[-chars:]

    # ---- HTTP helpers --------------------------------------------------------------

    def post(self, signal_name: str, body: bytes, *, content_type: str = "application/x-protobuf",
             tenant: str | None = None, encoding: str | None = None, otlp_port: bool = False,
             headers: dict[str, str] | None = None, timeout: float = REQUEST_TIMEOUT) -> requests.Response:
        base = self.otlp_http_url if otlp_port else self.http_url
        all_headers = {"Content-Type": content_type}
        if tenant is not None:
            all_headers["X-Scope-OrgID"] = tenant
        if encoding is not None:
            all_headers["Content-Encoding"] = encoding
        if headers:
            all_headers.update(headers)
        return self.session.post(f"{base}/v1/{signal_name}", data=body, headers=all_headers, timeout=timeout)

    def read_response(self, signal_name: str, tenant: str | None = None, start: Any = None, end: Any = None,
                      headers: dict[str, str] | None = None) -> requests.Response:
        assert signal_name in SIGNALS, signal_name
        params = {}
        if start is not None:
            params["start"] = str(start)
        if end is not None:
            params["end"] = str(end)
        all_headers = dict(headers or {})
        if tenant is not None:
            all_headers["X-Scope-OrgID"] = tenant
        return self.session.get(f"{self.http_url}/loupe/api/v1/{signal_name}", params=params, headers=all_headers,
                                timeout=REQUEST_TIMEOUT)

    def read(self, signal_name: str, tenant: str | None = None, start: Any = None, end: Any = None) -> dict:
        """The tenant's stored data of one signal in [start, end], as the OTLP/JSON export request it returns."""
        response = self.read_response(signal_name, tenant=tenant, start=start, end=end)
        assert response.status_code == 200, (
            f"GET /loupe/api/v1/{signal_name} (tenant={tenant}, start={start}, end={end}) -> "
            f"{response.status_code}: {response.text[:2000]}")
        try:
            return response.json()
        except ValueError as error:
            raise AssertionError(f"read API returned invalid JSON: {error}: {response.text[:2000]}")

    def metrics_text(self) -> str:
        response = self.session.get(self.http_url + "/metrics", timeout=REQUEST_TIMEOUT)
        assert response.status_code == 200, response.text
        return response.text


# --------------------------------------------------------------------------------------
# Prometheus text
# --------------------------------------------------------------------------------------

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str) -> list[tuple[str, dict[str, str], float]]:
    samples = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if not match:
            continue
        labels = dict(_LABEL.findall(match.group(2) or ""))
        samples.append((match.group(1), labels, float(match.group(3))))
    return samples


def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of every sample of `name` whose labels include `labels`."""
    return sum(value for sample_name, sample_labels, value in parse_prometheus(text)
               if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items()))


def has_metric(text: str, name: str) -> bool:
    return any(sample_name == name for sample_name, _, _ in parse_prometheus(text))


# --------------------------------------------------------------------------------------
# OTLP/JSON read-back -> protobuf, and exact comparison
# --------------------------------------------------------------------------------------

_ID_KEYS = {"traceId", "spanId", "parentSpanId"}
_HEX = re.compile(r"^(?:[0-9a-fA-F]{2})*$")

# OTLP/JSON: 64-bit integers are strings; enums are integers.
_INT64_KEYS = {
    "timeUnixNano", "startTimeUnixNano", "endTimeUnixNano", "observedTimeUnixNano", "intValue", "asInt", "count",
    "zeroCount", "rejectedSpans", "rejectedLogRecords", "rejectedDataPoints",
}
_INT64_LIST_KEYS = {"bucketCounts"}
_ENUM_KEYS = {"kind", "severityNumber", "aggregationTemporality"}


def check_otlp_json_conventions(doc: Any, path: str = "") -> None:
    """Asserts the OTLP/JSON conventions of the read API: hex IDs, 64-bit ints as strings, enums as ints."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            where = f"{path}.{key}" if path else key
            if key in _ID_KEYS:
                assert isinstance(value, str) and _HEX.match(value), f"{where} must be a hex string, got {value!r}"
            elif key in _INT64_KEYS and not isinstance(value, (dict, list)):
                assert isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value), \
                    f"{where} is a 64-bit integer and must be a decimal string, got {value!r}"
            elif key in _INT64_LIST_KEYS:
                assert isinstance(value, list) and all(isinstance(v, str) for v in value), \
                    f"{where} holds 64-bit integers and must be a list of decimal strings, got {value!r}"
            elif key in _ENUM_KEYS or (key == "code" and path.endswith("status")):
                assert isinstance(value, int) and not isinstance(value, bool), f"{where} is an enum and must be an integer, got {value!r}"
            else:
                check_otlp_json_conventions(value, where)
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            check_otlp_json_conventions(value, f"{path}[{index}]")


def _ids_hex_to_base64(doc: Any) -> Any:
    if isinstance(doc, dict):
        out = {}
        for key, value in doc.items():
            if key in _ID_KEYS and isinstance(value, str):
                assert _HEX.match(value), f"{key} {value!r} is not hex"
                out[key] = base64.b64encode(bytes.fromhex(value)).decode()
            else:
                out[key] = _ids_hex_to_base64(value)
        return out
    if isinstance(doc, list):
        return [_ids_hex_to_base64(v) for v in doc]
    return doc


def otlp_json_to_proto(signal_name: str, doc: dict):
    """Parses an OTLP/JSON export request (hex IDs) into the generated protobuf class, rejecting unknown fields."""
    message = REQUEST_TYPES[signal_name]()
    json_format.ParseDict(_ids_hex_to_base64(doc), message, ignore_unknown_fields=False)
    return message


def _key(message) -> bytes:
    return message.SerializeToString(deterministic=True)


def _text(message) -> str:
    return text_format.MessageToString(message, as_utf8=True).strip()


@dataclass(frozen=True)
class Item:
    """One span / log record / data point with the resource and scope it came with."""
    key: tuple
    description: str


def _is_repeated(descriptor) -> bool:
    if hasattr(descriptor, "is_repeated"):
        return descriptor.is_repeated
    return descriptor.label == descriptor.LABEL_REPEATED


def _normalize(message) -> None:
    """Makes presence-only differences that mean nothing in OTLP compare equal:
    - an empty sub-message (`status {}`, `resource {}`, empty bucket sets) and an absent one;
    - an attribute whose value is an AnyValue with nothing set and one with no value at all.
    Presence that carries meaning is kept: oneof members (the kind of a metric or a value) and a
    log record's body (absent is not the same as an empty value)."""
    for descriptor, value in message.ListFields():
        if descriptor.type != descriptor.TYPE_MESSAGE:
            continue
        if _is_repeated(descriptor):
            for element in value:
                _normalize(element)
            continue
        _normalize(value)
        if value.ByteSize() == 0 and descriptor.containing_oneof is None and descriptor.name != "body":
            message.ClearField(descriptor.name)
    if message.DESCRIPTOR.full_name == "opentelemetry.proto.common.v1.KeyValue" and message.HasField("value") \
            and message.value.WhichOneof("value") is None:
        message.ClearField("value")


def flatten(signal_name: str, request) -> list[Item]:
    items: list[Item] = []
    copied = type(request)()
    copied.CopyFrom(request)
    _normalize(copied)
    request = copied
    if signal_name == "traces":
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    items.append(Item(
                        (_key(rs.resource), rs.schema_url, _key(ss.scope), ss.schema_url, _key(span)),
                        f"resource {{{_text(rs.resource)}}} schema={rs.schema_url!r}\nscope {{{_text(ss.scope)}}} "
                        f"schema={ss.schema_url!r}\nspan {{\n{_text(span)}\n}}"))
    elif signal_name == "logs":
        for rl in request.resource_logs:
            for sl in rl.scope_logs:
                for record in sl.log_records:
                    items.append(Item(
                        (_key(rl.resource), rl.schema_url, _key(sl.scope), sl.schema_url, _key(record)),
                        f"resource {{{_text(rl.resource)}}} schema={rl.schema_url!r}\nscope {{{_text(sl.scope)}}} "
                        f"schema={sl.schema_url!r}\nlogRecord {{\n{_text(record)}\n}}"))
    elif signal_name == "metrics":
        for rm in request.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    kind = metric.WhichOneof("data")
                    points = list(getattr(metric, kind).data_points) if kind else [None]
                    for point in points:
                        one = metrics_pb2.Metric()
                        one.CopyFrom(metric)
                        if kind:
                            container = getattr(one, kind)
                            del container.data_points[:]
                            container.data_points.add().CopyFrom(point)
                        items.append(Item(
                            (_key(rm.resource), rm.schema_url, _key(sm.scope), sm.schema_url, _key(one)),
                            f"resource {{{_text(rm.resource)}}} schema={rm.schema_url!r}\nscope {{{_text(sm.scope)}}} "
                            f"schema={sm.schema_url!r}\nmetric {{\n{_text(one)}\n}}"))
    else:
        raise ValueError(signal_name)
    return items


def assert_same_items(signal_name: str, expected_requests: Iterable, actual_doc: dict) -> None:
    """Asserts the read-back holds exactly the items of `expected_requests` (multiset), each with the
    same resource and scope, field for field (compared as protobuf)."""
    check_otlp_json_conventions(actual_doc)
    actual = flatten(signal_name, otlp_json_to_proto(signal_name, actual_doc))
    expected = [item for request in expected_requests for item in flatten(signal_name, request)]
    remaining: dict[tuple, list[Item]] = {}
    for item in actual:
        remaining.setdefault(item.key, []).append(item)
    missing = []
    for item in expected:
        bucket = remaining.get(item.key)
        if bucket:
            bucket.pop()
        else:
            missing.append(item)
    extra = [item for bucket in remaining.values() for item in bucket]
    if missing or extra:
        lines = [f"{signal_name}: read-back differs from what was sent: {len(missing)} sent item(s) not returned "
                 f"as sent, {len(extra)} returned item(s) not sent (sent {len(expected)}, returned {len(actual)})"]
        if missing and extra:
            # Show the difference between each missing item and the returned item most like it.
            for item in missing[:3]:
                closest = max(extra, key=lambda other: difflib.SequenceMatcher(
                    None, item.description, other.description, autojunk=False).quick_ratio())
                diff = difflib.unified_diff(item.description.splitlines(), closest.description.splitlines(),
                                            "sent", "returned", lineterm="", n=2)
                lines.append("--- sent item vs. the closest returned item ---\n" + "\n".join(diff))
        else:
            for item in missing[:3]:
                lines.append("--- SENT, NOT RETURNED ---\n" + item.description)
            for item in extra[:3]:
                lines.append("--- RETURNED, NOT SENT ---\n" + item.description)
        raise AssertionError("\n".join(lines))


# --------------------------------------------------------------------------------------
# Read-back navigation helpers
# --------------------------------------------------------------------------------------

def json_spans(doc: dict) -> list[tuple[dict, dict, dict]]:
    """(resourceSpans, scopeSpans, span) for every span of a read-back."""
    return [(rs, ss, span)
            for rs in doc.get("resourceSpans", []) or []
            for ss in rs.get("scopeSpans", []) or []
            for span in ss.get("spans", []) or []]


def json_log_records(doc: dict) -> list[tuple[dict, dict, dict]]:
    return [(rl, sl, record)
            for rl in doc.get("resourceLogs", []) or []
            for sl in rl.get("scopeLogs", []) or []
            for record in sl.get("logRecords", []) or []]


def json_metrics(doc: dict) -> list[tuple[dict, dict, dict]]:
    return [(rm, sm, metric)
            for rm in doc.get("resourceMetrics", []) or []
            for sm in rm.get("scopeMetrics", []) or []
            for metric in sm.get("metrics", []) or []]


def item_count(signal_name: str, doc: dict) -> int:
    if signal_name == "traces":
        return len(json_spans(doc))
    if signal_name == "logs":
        return len(json_log_records(doc))
    total = 0
    for _, _, metric in json_metrics(doc):
        for kind in ("gauge", "sum", "histogram", "exponentialHistogram", "summary"):
            if kind in metric:
                total += len(metric[kind].get("dataPoints", []) or [])
    return total


def tagged_json_value(value: dict) -> tuple:
    """An OTLP/JSON AnyValue as a typed tuple, so that True != 1 and 1 != 1.0."""
    if value is None or value == {}:
        return ("empty",)
    (kind, inner), = value.items()
    if kind == "stringValue":
        return ("string", inner)
    if kind == "boolValue":
        return ("bool", inner)
    if kind == "intValue":
        return ("int", int(inner))
    if kind == "doubleValue":
        return ("double", float(inner))
    if kind == "bytesValue":
        return ("bytes", base64.b64decode(inner))
    if kind == "arrayValue":
        return ("array", tuple(tagged_json_value(v) for v in (inner.get("values") or [])))
    if kind == "kvlistValue":
        return ("kvlist", tuple((kv["key"], tagged_json_value(kv.get("value"))) for kv in (inner.get("values") or [])))
    raise AssertionError(f"unknown AnyValue kind {kind!r}")


def tagged_python_value(value: Any) -> tuple:
    """A Python attribute/body value as the SDK hands it to the exporter, as a typed tuple."""
    if value is None:
        return ("empty",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("double", value)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, (bytes, bytearray)):
        return ("bytes", bytes(value))
    if isinstance(value, (list, tuple)):
        return ("array", tuple(tagged_python_value(v) for v in value))
    if isinstance(value, dict) or hasattr(value, "items"):
        return ("kvlist", tuple((k, tagged_python_value(v)) for k, v in value.items()))
    raise TypeError(f"unsupported attribute value {value!r}")


def json_attributes(attributes: list | None) -> dict[str, tuple]:
    return {kv["key"]: tagged_json_value(kv.get("value")) for kv in (attributes or [])}


def python_attributes(attributes) -> dict[str, tuple]:
    return {key: tagged_python_value(value) for key, value in dict(attributes or {}).items()}


def json_int(value: Any, default: int = 0) -> int:
    return default if value is None else int(value)


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data)


def dumps(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def wait_until(predicate, timeout: float, interval: float = 0.05, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def wait_for(condition, timeout: float = 30.0, what: str = "condition", interval: float = 0.1):
    """Polls `condition` until it returns something truthy, and returns that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class StopFlag:
    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


def kill_during_load(server, ledger, rng, threads, stop, crashing, unexpected: list, cycle: int, minimum: int) -> None:
    """Lets `minimum` more requests be acknowledged, then SIGKILLs the server at a random moment while
    the load `threads` still send, stops them, and checks none failed while the server was up.
    `ledger` has `acknowledged()`, `requests` (with `.acknowledged`), `statuses` and `errors`."""
    acknowledged_before = len(ledger.acknowledged())
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(ledger.acknowledged()) - acknowledged_before < minimum:
        assert time.monotonic() < deadline, f"cycle {cycle}: fewer than {minimum} acknowledgements in 60 s"
        assert server.running, f"cycle {cycle}: loupe died under load\n{server.stderr_tail()}"
        time.sleep(0.005)
    time.sleep(rng.uniform(0.0, 1.5))
    crashing.set()
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(timeout=90)
        assert not thread.is_alive(), "a load thread did not stop"
    assert not unexpected, f"cycle {cycle}: failures while the server was up: {unexpected[:5]}"
    acknowledged = len(ledger.acknowledged()) - acknowledged_before
    unacknowledged = sum(1 for r in ledger.requests.values() if not r.acknowledged)
    print(f"cycle {cycle}: {acknowledged} requests acknowledged before kill -9; {unacknowledged} unacknowledged so far; "
          f"statuses {dict(ledger.statuses)}, errors {dict(ledger.errors)}")


class OTLPSink:
    """An OTLP/HTTP receiver that records what arrives (log records with their resources, and
    metrics' resource groups), and can be told to fail (503) or to want a bearer token (401)."""

    def __init__(self) -> None:
        self.records: list[tuple[dict, object]] = []
        self.resource_metrics: list = []
        self.status = 200
        self.requests = 0
        self.encodings: list[str | None] = []
        self.required_bearer: str | None = None
        # (rejected, message): answer log requests with an OTLP partial_success.
        self.partial_success: tuple[int, str] | None = None
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with sink.lock:
                    sink.requests += 1
                    status = sink.status
                    if sink.required_bearer is not None and self.headers.get("Authorization") != f"Bearer {sink.required_bearer}":
                        status = 401
                if status == 200:
                    encoding = self.headers.get("Content-Encoding")
                    with sink.lock:
                        sink.encodings.append(encoding)
                    if encoding == "gzip":
                        body = gzip.decompress(body)
                    elif encoding == "zstd":
                        import zstandard
                        body = zstandard.ZstdDecompressor().decompressobj().decompress(body)
                    elif encoding in ("snappy", "x-snappy-framed"):
                        # Framed or block, told apart by the stream identifier (as the Collector does).
                        import snappy
                        body = (snappy.StreamDecompressor().decompress(body) if body.startswith(b"\xff\x06\x00\x00sNaPpY")
                                else snappy.uncompress(body))
                    if self.path.endswith("/v1/metrics"):
                        metrics = ExportMetricsServiceRequest()
                        metrics.ParseFromString(body)
                        with sink.lock:
                            sink.resource_metrics.extend(metrics.resource_metrics)
                    else:
                        request = ExportLogsServiceRequest()
                        request.ParseFromString(body)
                        with sink.lock:
                            for resource_logs in request.resource_logs:
                                resource = {kv.key: kv.value for kv in resource_logs.resource.attributes}
                                for scope_logs in resource_logs.scope_logs:
                                    for record in scope_logs.log_records:
                                        sink.records.append((resource, record))
                answer = b""
                if status == 200 and sink.partial_success is not None and not self.path.endswith("/v1/metrics"):
                    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
                    response = ExportLogsServiceResponse()
                    response.partial_success.rejected_log_records, response.partial_success.error_message = sink.partial_success
                    answer = response.SerializeToString()
                self.send_response(status)
                if status != 200:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def bodies(self) -> list[str]:
        with self.lock:
            return [record.body.string_value for _, record in self.records]

    def close(self) -> None:
        self.server.shutdown()


def reply_json(handler: BaseHTTPRequestHandler, document: Any, status: int = 200) -> None:
    """Answers a request of a test server with a JSON document."""
    body = json.dumps(document).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def serve(handler: type) -> ThreadingHTTPServer:
    """A test HTTP server on 127.0.0.1 and a free port, serving from a thread; `shutdown()` it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
