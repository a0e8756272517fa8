"""The Jaeger query API (as the Jaeger UI and Grafana's Jaeger data source call it) over spans the
OpenTelemetry Python SDK exported: services, operations, search by service, operation, tags and
duration, trace by ID, and the dependency graph, under the default prefix and a configured one."""

from __future__ import annotations

import json
import time

import requests

from test_tempo_api import TENANT, _send_trace


def _get(loupe, path: str, prefix: str = "/jaeger", **params):
    reply = requests.get(f"{loupe.http_url}{prefix}{path}", params=params, headers={"X-Scope-OrgID": TENANT}, timeout=10)
    return reply


def test_jaeger_query_api(loupe):
    trace_id, checkout_span = _send_trace(loupe)

    assert _get(loupe, "/api/services").json()["data"] == ["checkout", "frontend"]
    assert _get(loupe, "/api/services/checkout/operations").json()["data"] == ["charge card"]
    operations = _get(loupe, "/api/operations", service="frontend", spanKind="server").json()["data"]
    assert operations == [{"name": "GET /cart", "spanKind": "server"}]

    reply = _get(loupe, f"/api/traces/{trace_id}")
    assert reply.status_code == 200, reply.text
    trace = reply.json()["data"][0]
    assert trace["traceID"] == trace_id
    spans = {span["operationName"]: span for span in trace["spans"]}
    charge = spans["charge card"]
    assert charge["spanID"] == checkout_span
    assert charge["references"] == [{"refType": "CHILD_OF", "traceID": trace_id, "spanID": spans["GET /cart"]["spanID"]}]
    assert charge["duration"] >= 120_000
    tags = {tag["key"]: tag["value"] for tag in charge["tags"]}
    assert tags["payment.provider"] == "acme" and tags["retry"] == 2 and tags["error"] is True
    assert tags["otel.status_description"] == "card declined" and tags["span.kind"] == "server"
    assert trace["processes"][charge["processID"]]["serviceName"] == "checkout"

    now = int(time.time() * 1_000_000)
    window = {"start": str(now - 60_000_000), "end": str(now + 1_000_000)}
    def found(**params) -> list[str]:
        reply = _get(loupe, "/api/traces", **window, **params)
        assert reply.status_code == 200, reply.text
        return [t["traceID"] for t in reply.json()["data"]]
    assert found(service="checkout") == [trace_id]
    assert found(service="checkout", operation="charge card", tags=json.dumps({"payment.provider": "acme"})) == [trace_id]
    assert found(service="checkout", tags=json.dumps({"payment.provider": "other"})) == []
    assert found(service="checkout", minDuration="100ms") == [trace_id]
    assert found(service="frontend", operation="charge card") == [], "operation and service on one span"
    assert found(service="checkout", minDuration="10s") == []
    assert _get(loupe, "/api/traces", service="checkout", lookback="1h").json()["data"][0]["traceID"] == trace_id

    links = _get(loupe, "/api/dependencies", endTs=str(int(time.time() * 1000) + 1000), lookback="600000").json()["data"]
    assert links == [{"parent": "frontend", "child": "checkout", "callCount": 1}]

    missing = _get(loupe, "/api/traces/" + "0" * 31 + "1")
    assert missing.status_code == 404 and missing.json()["errors"][0]["msg"] == "trace not found"
    assert _get(loupe, "/api/traces", tags="{not json").status_code == 400


def test_configured_prefix(loupe_factory):
    loupe = loupe_factory.new(config="traces:\n  jaeger_path_prefix: /tracing/jaeger/\n")
    trace_id, _ = _send_trace(loupe)
    assert _get(loupe, f"/api/traces/{trace_id}", prefix="/tracing/jaeger").json()["data"][0]["traceID"] == trace_id
    assert _get(loupe, "/api/services", prefix="/jaeger").status_code == 404
