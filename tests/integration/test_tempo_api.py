"""Tempo's query API over spans the OpenTelemetry Python SDK sends through its OTLP exporters:
a trace whose services export separately (two requests, two transports) comes back whole by ID
as OTLP JSON and as protobuf (parsed with opentelemetry-proto), search by tags and duration
finds it, and tag names and values list what arrived."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry import trace as trace_api
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GRPCSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HTTPSpanExporter
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from loupe_testlib import assert_same_items

TENANT = "shop"


def _provider(service: str, exporter) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service, "deployment.environment": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _send_trace(loupe) -> tuple[str, str]:
    """frontend (OTLP/HTTP) calls checkout (OTLP/gRPC), which fails; returns (trace ID, checkout span ID)."""
    headers = {"X-Scope-OrgID": TENANT}
    frontend = _provider("frontend", HTTPSpanExporter(endpoint=f"{loupe.otlp_http_url}/v1/traces", headers=headers))
    checkout = _provider("checkout", GRPCSpanExporter(endpoint=loupe.otlp_grpc_address, insecure=True, headers=(("x-scope-orgid", TENANT),)))
    with frontend.get_tracer("web").start_as_current_span("GET /cart", kind=SpanKind.SERVER,
                                                          attributes={"http.method": "GET", "http.route": "/cart"}) as root:
        context = trace_api.set_span_in_context(root)
        with checkout.get_tracer("svc").start_as_current_span("charge card", context=context, kind=SpanKind.SERVER,
                                                              attributes={"payment.provider": "acme", "retry": 2}) as child:
            time.sleep(0.12)
            child.set_status(Status(StatusCode.ERROR, "card declined"))
            checkout_span = child.get_span_context().span_id
        trace_id = root.get_span_context().trace_id
    frontend.shutdown()
    checkout.shutdown()
    return f"{trace_id:032x}", f"{checkout_span:016x}"


def _get(loupe, path: str, **params):
    return requests.get(f"{loupe.http_url}{path}", params=params, headers={"X-Scope-OrgID": TENANT}, timeout=10)


def test_trace_by_id_search_and_tags(loupe):
    trace_id, checkout_span = _send_trace(loupe)

    reply = _get(loupe, f"/api/traces/{trace_id}")
    assert reply.status_code == 200, reply.text
    spans = {span["name"]: (resource, span) for resource in reply.json()["resourceSpans"]
             for scope in resource["scopeSpans"] for span in scope["spans"]}
    assert sorted(spans) == ["GET /cart", "charge card"]
    resource, charge = spans["charge card"]
    services = {a["value"]["stringValue"] for a in resource["resource"]["attributes"] if a["key"] == "service.name"}
    assert services == {"checkout"}
    assert charge["traceId"] == trace_id and charge["spanId"] == checkout_span
    assert charge["parentSpanId"] == spans["GET /cart"][1]["spanId"]
    assert charge["status"] == {"code": 2, "message": "card declined"}

    # Protobuf, as Grafana asks for it: tempopb.Trace has TracesData's wire shape.
    reply = requests.get(f"{loupe.http_url}/api/traces/{trace_id}", headers={"X-Scope-OrgID": TENANT, "Accept": "application/protobuf"}, timeout=10)
    assert reply.status_code == 200 and reply.headers["Content-Type"] == "application/protobuf"
    decoded = TracesData.FromString(reply.content)
    assert sorted(span.name for rs in decoded.resource_spans for ss in rs.scope_spans for span in ss.spans) == ["GET /cart", "charge card"]

    v2 = _get(loupe, f"/api/v2/traces/{trace_id}").json()
    assert sum(len(scope["spans"]) for resource in v2["trace"]["resourceSpans"] for scope in resource["scopeSpans"]) == 2
    # 64-bit IDs are left-padded, as Tempo does; unknown IDs are 404; junk is 400.
    assert _get(loupe, "/api/traces/" + "0" * 31 + "1").status_code == 404
    assert _get(loupe, "/api/traces/not-hex").status_code == 400
    assert requests.get(f"{loupe.http_url}/api/traces/{trace_id}", timeout=10).status_code == 404, "other tenant"

    now = int(time.time())
    found = _get(loupe, "/api/search", tags="payment.provider=ACME status=error", start=now - 60, end=now + 60).json()
    assert [t["traceID"] for t in found["traces"]] == [trace_id]
    hit = found["traces"][0]
    assert hit["rootServiceName"] == "frontend" and hit["rootTraceName"] == "GET /cart" and hit["durationMs"] >= 120
    assert hit["spanSets"][0]["matched"] == 1 and hit["spanSets"][0]["spans"][0]["spanID"] == checkout_span
    assert _get(loupe, "/api/search", tags="http.method=GET status=error").json()["traces"] == [], "one span must match all"
    assert [t["traceID"] for t in _get(loupe, "/api/search", minDuration="100ms").json()["traces"]] == [trace_id]
    assert _get(loupe, "/api/search", minDuration="5s").json()["traces"] == []
    assert _get(loupe, "/api/search", maxDuration="1ms", minDuration="1s").status_code == 400
    assert _get(loupe, "/api/search", tags='broken="open').status_code == 400

    names = _get(loupe, "/api/search/tags").json()["tagNames"]
    assert {"service.name", "http.method", "payment.provider", "retry"} <= set(names)
    scopes = {scope["name"]: scope["tags"] for scope in _get(loupe, "/api/v2/search/tags").json()["scopes"]}
    assert "service.name" in scopes["resource"] and "payment.provider" in scopes["span"] and "status" in scopes["intrinsic"]
    assert _get(loupe, "/api/search/tag/service.name/values").json()["tagValues"] == ["checkout", "frontend"]
    typed = _get(loupe, "/api/v2/search/tag/resource.service.name/values").json()["tagValues"]
    assert typed == [{"type": "string", "value": "checkout"}, {"type": "string", "value": "frontend"}]
    assert _get(loupe, "/api/v2/search/tag/span.retry/values").json()["tagValues"] == [{"type": "string", "value": "2"}]


def test_traces_survive_a_restart(loupe):
    trace_id, _ = _send_trace(loupe)
    loupe.restart()
    reply = _get(loupe, f"/api/traces/{trace_id}")
    assert reply.status_code == 200, reply.text
    assert sum(len(scope["spans"]) for resource in reply.json()["resourceSpans"] for scope in resource["scopeSpans"]) == 2
    assert [t["traceID"] for t in _get(loupe, "/api/search", tags="service.name=checkout").json()["traces"]] == [trace_id]


def _send_client_server_trace(loupe) -> None:
    """frontend's server span calls checkout through a client span; checkout's server span fails."""
    headers = {"X-Scope-OrgID": TENANT}
    frontend = _provider("frontend", HTTPSpanExporter(endpoint=f"{loupe.otlp_http_url}/v1/traces", headers=headers))
    checkout = _provider("checkout", GRPCSpanExporter(endpoint=loupe.otlp_grpc_address, insecure=True, headers=(("x-scope-orgid", TENANT),)))
    tracer = frontend.get_tracer("web")
    with tracer.start_as_current_span("GET /cart", kind=SpanKind.SERVER):
        with tracer.start_as_current_span("POST /charge", kind=SpanKind.CLIENT) as client:
            context = trace_api.set_span_in_context(client)
            with checkout.get_tracer("svc").start_as_current_span("charge card", context=context, kind=SpanKind.SERVER) as server:
                time.sleep(0.12)
                server.set_status(Status(StatusCode.ERROR, "card declined"))
    frontend.shutdown()
    checkout.shutdown()


def test_span_metrics_and_service_graph_reach_promql(loupe_factory):
    loupe = loupe_factory.new(config="traces:\n  metrics_interval: 200ms\n")
    _send_client_server_trace(loupe)

    def query(expression: str) -> list[dict]:
        reply = requests.get(f"{loupe.http_url}/api/v1/query", params={"query": expression},
                             headers={"X-Scope-OrgID": TENANT}, timeout=10)
        assert reply.status_code == 200, reply.text
        return reply.json()["data"]["result"]

    deadline = time.monotonic() + 15
    # The pair frontend -> checkout arrived in two requests (HTTP and gRPC exporters), and the
    # root span in a third: a collection (every 200 ms) can fall between them, so wait for all three.
    edge = 'traces_service_graph_request_total{client="frontend",server="checkout"}'
    while not (query(edge) and len(query("traces_spanmetrics_calls_total")) >= 3) and time.monotonic() < deadline:
        time.sleep(0.2)
    calls = {(r["metric"]["service"], r["metric"]["span_name"], r["metric"]["span_kind"], r["metric"]["status_code"]): float(r["value"][1])
             for r in query("traces_spanmetrics_calls_total")}
    assert calls == {
        ("frontend", "GET /cart", "SPAN_KIND_SERVER", "STATUS_CODE_UNSET"): 1.0,
        ("frontend", "POST /charge", "SPAN_KIND_CLIENT", "STATUS_CODE_UNSET"): 1.0,
        ("checkout", "charge card", "SPAN_KIND_SERVER", "STATUS_CODE_ERROR"): 1.0,
    }
    assert [float(r["value"][1]) for r in query(edge)] == [1.0]
    assert [float(r["value"][1]) for r in query('traces_service_graph_request_failed_total{client="frontend"}')] == [1.0]
    server_seconds = query('traces_service_graph_request_server_seconds_sum{client="frontend",server="checkout"}')
    assert 0.12 <= float(server_seconds[0]["value"][1]) < 1
    latency = query('histogram_quantile(0.5, sum by (le) (traces_spanmetrics_latency_bucket{service="checkout"}))')
    assert 0.064 < float(latency[0]["value"][1]) <= 0.256
    assert query('traces_service_graph_request_total{client="user",server="frontend"}'), "the root span's caller is the user"


TEMPO_TRACES = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "tempo-traces"


@pytest.mark.skipif(not TEMPO_TRACES.exists(), reason="needs ../shared/conformance/tempo-traces")
def test_tempo_conformance_traces_read_back_equal(loupe):
    """Tempo's own OTLP/JSON traces (IDs in base64, protobuf's JSON form for bytes) go in as OTLP
    protobuf and come back by ID, span for span, through /api/traces/<id>."""
    files = sorted(TEMPO_TRACES.glob("*.json"))
    assert len(files) >= 5
    for path in files:
        request = ExportTraceServiceRequest()
        json_format.Parse(path.read_text(), request)
        # Several files are variants of one trace (same IDs): a tenant each keeps them apart.
        tenant = {"X-Scope-OrgID": path.stem}
        reply = requests.post(f"{loupe.otlp_http_url}/v1/traces", data=request.SerializeToString(),
                              headers={"Content-Type": "application/x-protobuf", **tenant}, timeout=10)
        assert reply.status_code == 200, f"{path.name}: {reply.text}"
        trace_ids = {span.trace_id.hex() for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans}
        combined = {"resourceSpans": []}
        for trace_id in sorted(trace_ids):
            read = requests.get(f"{loupe.http_url}/api/traces/{trace_id}", headers=tenant, timeout=10)
            assert read.status_code == 200, f"{path.name} {trace_id}: {read.text}"
            combined["resourceSpans"] += read.json()["resourceSpans"]
        assert_same_items("traces", [request], combined)


def test_traceql_search(loupe):
    trace_id, checkout_span = _send_trace(loupe)
    _send_client_server_trace(loupe)
    now = int(time.time())

    def search(query: str, **params) -> list[dict]:
        reply = _get(loupe, "/api/search", q=query, start=now - 60, end=now + 60, **params)
        assert reply.status_code == 200, reply.text
        return reply.json()["traces"]

    hits = search('{ resource.service.name = "checkout" && status = error && span.payment.provider = "acme" }')
    assert [h["traceID"] for h in hits] == [trace_id]
    assert hits[0]["spanSets"][0]["spans"][0]["spanID"] == checkout_span and hits[0]["spanSets"][0]["matched"] == 1
    assert len(search('{ resource.service.name = "checkout" }')) == 2
    assert [h["traceID"] for h in search('{ .retry = 2 } && { name = "GET /cart" }')] == [trace_id]
    assert len(search('{ resource.service.name = "frontend" } >> { resource.service.name = "checkout" }')) == 2
    assert len(search('{ kind = client } > { kind = server }')) == 1, "only the second trace has a client span"
    assert search('{ duration > 10s }') == []
    assert len(search('{ duration > 100ms }')) == 2
    counted = search('{ resource.service.name = "frontend" } | count() > 1')
    assert len(counted) == 1, "two frontend spans only in the client/server trace"
    assert len(search("{}", limit=1)) == 1
    bad = _get(loupe, "/api/search", q="{ .a = }")
    assert bad.status_code == 400 and "TraceQL" in bad.text
