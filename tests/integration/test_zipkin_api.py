"""Zipkin's v2 API over the wire. py_zipkin (a Zipkin client library) sends its spans as v2 JSON
and as v2 protobuf; the Zipkin fixtures of real systems (../shared/conformance/zipkin) are
posted as they are and read back equal; the query side answers as the Zipkin UI expects."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from py_zipkin.encoding import Encoding
from py_zipkin.transport import BaseTransportHandler
from py_zipkin.zipkin import zipkin_span

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "zipkin"


class LoupeTransport(BaseTransportHandler):
    def __init__(self, url: str, content_type: str):
        self.url = url
        self.content_type = content_type
        self.statuses: list[int] = []

    def get_max_payload_bytes(self):
        return None

    def send(self, payload):
        reply = requests.post(self.url, data=payload, headers={"Content-Type": self.content_type}, timeout=10)
        self.statuses.append(reply.status_code)


def _normalized(spans: list[dict]) -> list[dict]:
    return sorted(spans, key=lambda s: (s["id"], s.get("kind", ""), s.get("localEndpoint", {}).get("serviceName", "")))


def _get(loupe, path: str, **params):
    reply = requests.get(f"{loupe.http_url}/api/v2/{path}", params=params, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


@pytest.mark.parametrize(("encoding", "content_type"), [(Encoding.V2_JSON, "application/json"),
                                                        (Encoding.V2_PROTO3, "application/x-protobuf")])
def test_py_zipkin_client(loupe, encoding, content_type):
    transport = LoupeTransport(f"{loupe.http_url}/api/v2/spans", content_type)
    service = f"checkout-{encoding.name.lower()}"
    with zipkin_span(service_name=service, span_name="place order", transport_handler=transport,
                     sample_rate=100.0, encoding=encoding, binary_annotations={"order.id": "o-17"}) as root:
        with zipkin_span(service_name=service, span_name="charge card", binary_annotations={"amount": "12.50"}):
            time.sleep(0.02)
        root.add_annotation("order placed")
        trace_id = root.zipkin_attrs.trace_id
    assert transport.statuses and set(transport.statuses) == {202}

    trace = _get(loupe, f"trace/{trace_id}")
    names = sorted(span["name"] for span in trace)
    assert names == ["charge card", "place order"]
    root_span = next(span for span in trace if span["name"] == "place order")
    assert root_span["localEndpoint"]["serviceName"] == service
    assert root_span["tags"]["order.id"] == "o-17"
    assert [a["value"] for a in root_span.get("annotations", [])] == ["order placed"]
    child = next(span for span in trace if span["name"] == "charge card")
    assert child["parentId"] == root_span["id"] and child["duration"] >= 20_000

    assert service in _get(loupe, "services")
    assert _get(loupe, "spans", serviceName=service) == ["charge card", "place order"]
    found = _get(loupe, "traces", serviceName=service, spanName="charge card", minDuration="10000", limit="5")
    assert [trace[0]["traceId"] for trace in found] == [trace_id]
    assert _get(loupe, "traces", serviceName=service, minDuration="10000000") == []
    assert [t[0]["traceId"] for t in _get(loupe, "traces", annotationQuery="order.id=o-17")] == [trace_id]


@pytest.mark.skipif(not FIXTURES.exists(), reason="needs ../shared/conformance/zipkin")
def test_fixtures_of_real_systems_read_back_as_sent(loupe):
    sent_by_trace: dict[str, list[dict]] = {}
    for path in sorted(FIXTURES.glob("*.json")):
        spans = json.loads(path.read_text())
        reply = requests.post(f"{loupe.http_url}/api/v2/spans", data=path.read_bytes(),
                              headers={"Content-Type": "application/json"}, timeout=10)
        assert reply.status_code == 202, f"{path.name}: {reply.text}"
        for span in spans:
            sent_by_trace.setdefault(span["traceId"], []).append(span)
    assert len(sent_by_trace) >= 4
    for trace_id, sent in sent_by_trace.items():
        assert _normalized(_get(loupe, f"trace/{trace_id}")) == _normalized(sent), trace_id
    many = _get(loupe, "traceMany", traceIds=",".join(sent_by_trace))
    assert sorted(len(trace) for trace in many) == sorted(len(spans) for spans in sent_by_trace.values())

    # The fixtures are years old: search them with an explicit window.
    services = _get(loupe, "services")
    assert {"servicea", "serviceb", "mobile-gateway", "auth-service"} <= set(services)
    assert "kafka" in _get(loupe, "remoteServices", serviceName="servicea")
    kafka = _get(loupe, "traces", serviceName="serviceb", endTs="1541405398000", lookback="10000")
    assert [t[0]["traceId"] for t in kafka] == ["0562809467078eab"]
    errors = _get(loupe, "traces", annotationQuery="error", endTs="1541405398000", lookback="10000")
    assert [t[0]["traceId"] for t in errors] == ["0562809467078eab"]

    links = {(l["parent"], l["child"]): l for l in _get(loupe, "dependencies", endTs="1541405398000", lookback="10000")}
    assert ("servicea", "kafka") in links and ("kafka", "serviceb") in links
    assert links[("kafka", "serviceb")]["callCount"] >= 1
    gateway = {(l["parent"], l["child"]) for l in _get(loupe, "dependencies", endTs="1531282089000", lookback="10000")}
    assert {("mobile-gateway", "content-service"), ("mobile-gateway", "auth-service")} <= gateway

    assert "kafka.topic" in _get(loupe, "autocompleteKeys")
    assert "messages" in _get(loupe, "autocompleteValues", key="kafka.topic")


def test_bad_spans_say_what_and_where(loupe):
    url = f"{loupe.http_url}/api/v2/spans"
    reply = requests.post(url, data='[{"traceId":"zz","id":"1"}]', headers={"Content-Type": "application/json"}, timeout=10)
    assert reply.status_code == 400 and "[0].traceId" in reply.text
    reply = requests.post(url, data=b"\x0a\x05\x0a\x03abc", headers={"Content-Type": "application/x-protobuf"}, timeout=10)
    assert reply.status_code == 400 and "trace_id" in reply.text
    assert requests.get(f"{loupe.http_url}/api/v2/trace/00000000000000ff", timeout=10).status_code == 404
    assert requests.get(f"{loupe.http_url}/api/v2/spans", timeout=10).status_code == 400, "serviceName is required"
