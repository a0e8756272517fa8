"""Large traces: a trace of 100,000 spans sent in 100 requests, and a span with an 8 MiB attribute,
are stored and served whole by ID — from the head, and from trace blocks after a restart — while a
request over `limits.max_request_bytes` gets 413 and the server stays up."""

from __future__ import annotations

import os

import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, TracesData

TRACE_ID = bytes.fromhex("5ca1ab1e" * 4)
BASE = 1_700_000_000_000_000_000


def _request(first: int, count: int, service: str = "big", attribute: tuple[str, str] | None = None) -> bytes:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value=service)))
    scope_spans = resource_spans.scope_spans.add()
    for index in range(first, first + count):
        span = scope_spans.spans.add()
        span.trace_id = TRACE_ID if attribute is None else os.urandom(16)
        span.span_id = (index + 1).to_bytes(8, "big")
        if index > 0 and attribute is None:
            span.parent_span_id = ((index - 1) // 10 + 1).to_bytes(8, "big")
        span.name = f"step {index % 50}"
        span.kind = Span.SPAN_KIND_INTERNAL
        span.start_time_unix_nano = BASE + index * 1_000
        span.end_time_unix_nano = BASE + index * 1_000 + 500
        span.attributes.append(KeyValue(key="index", value=AnyValue(int_value=index)))
        if attribute is not None:
            span.attributes.append(KeyValue(key=attribute[0], value=AnyValue(string_value=attribute[1])))
    return request.SerializeToString()


def _post(loupe, body: bytes) -> requests.Response:
    return requests.post(f"{loupe.otlp_http_url}/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf"}, timeout=60)


def _trace(loupe, trace_id: bytes) -> TracesData:
    reply = requests.get(f"{loupe.http_url}/api/traces/{trace_id.hex()}", headers={"Accept": "application/protobuf"}, timeout=120)
    assert reply.status_code == 200, reply.text[:300]
    data = TracesData()
    data.ParseFromString(reply.content)
    return data


def _spans(data: TracesData) -> list[Span]:
    return [span for resource in data.resource_spans for scope in resource.scope_spans for span in scope.spans]


def test_a_trace_of_100000_spans_and_a_span_of_8_mib(loupe_factory):
    server = loupe_factory.new(log_level="info", config="limits:\n  max_request_bytes: 16MiB\ntraces:\n  flush_size: 4MiB\n")
    for first in range(0, 100_000, 1_000):
        reply = _post(server, _request(first, 1_000))
        assert reply.status_code == 200, reply.text[:300]
    huge = "x" * (8 << 20)
    reply = _post(server, _request(0, 1, service="huge", attribute=("payload", huge)))
    assert reply.status_code == 200, reply.text[:300]
    # A body over the request limit: 413, and nothing else changes.
    over = _post(server, _request(0, 1, service="huge", attribute=("payload", "y" * (17 << 20))))
    assert over.status_code == 413, over.status_code

    def check(context: str) -> None:
        spans = _spans(_trace(server, TRACE_ID))
        assert len(spans) == 100_000, f"{context}: {len(spans)} spans"
        assert sorted(int.from_bytes(span.span_id, "big") for span in spans) == list(range(1, 100_001)), context
        search = requests.get(f"{server.http_url}/api/search", params={"tags": "service.name=huge", "limit": 5}, timeout=30).json()
        assert len(search["traces"]) == 1, f"{context}: {search}"
        found = _spans(_trace(server, bytes.fromhex(search["traces"][0]["traceID"])))
        assert len(found) == 1 and found[0].attributes[1].value.string_value == huge, context

    check("from the head and the first blocks")
    server.terminate()
    server.start()
    check("after a restart, from trace blocks")
    blocks = [name for _, _, files in os.walk(server.data_dir / "traces") for name in files if name.endswith(".tblk")]
    assert len(blocks) > 1, blocks
