"""OTLP logs from the OpenTelemetry Python SDK are Loki streams: queried with LogQL through the
Loki HTTP API, with the resource attributes Loki indexes as stream labels and everything else
(record attributes, trace context, severity) as structured metadata."""

from __future__ import annotations

import time

from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HTTPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource

S = 1_000_000_000


def test_sdk_logs_are_queryable_with_logql(loupe):
    base = (time.time_ns() // S - 600) * S
    provider = LoggerProvider(resource=Resource.create({
        "service.name": "checkout", "k8s.namespace.name": "shop", "host.name": "node-7"}))
    exporter = HTTPLogExporter(endpoint=f"{loupe.otlp_http_url}/v1/logs", headers={"x-scope-orgid": "otel"}, timeout=10)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("loupe.e2e.logql", "1.0.0")
    for i in range(6):
        logger.emit(timestamp=base + i * S, observed_timestamp=time.time_ns(),
                    severity_number=SeverityNumber.ERROR if i % 3 == 0 else SeverityNumber.INFO,
                    severity_text="ERROR" if i % 3 == 0 else "INFO",
                    body=f'{{"msg":"order {i}","status":{500 if i % 3 == 0 else 200}}}', attributes={"order.id": f"o-{i}"})
    provider.shutdown()

    session = loupe.session
    headers = {"X-Scope-OrgID": "otel"}
    params = {"start": str(base - S), "end": str(base + 10 * S), "limit": "100", "direction": "forward"}
    reply = session.get(f"{loupe.http_url}/loki/api/v1/query_range", headers=headers, timeout=10, params={
        **params, "query": '{service_name="checkout", k8s_namespace_name="shop"} | json | status >= 500 | line_format "{{.msg}}"'})
    assert reply.status_code == 200, reply.text
    data = reply.json()["data"]
    assert data["resultType"] == "streams"
    lines = sorted(line for stream in data["result"] for _, line in stream["values"])
    assert lines == ["order 0", "order 3"]
    for stream in data["result"]:
        labels = stream["stream"]
        # Resource attributes Loki indexes are stream labels; the rest is structured metadata,
        # which a client that does not ask for categorized labels sees among the labels.
        assert labels["service_name"] == "checkout" and labels["k8s_namespace_name"] == "shop"
        assert labels["host_name"] == "node-7"
        assert labels["severity_text"] == "ERROR"
        assert labels["order_id"] in ("o-0", "o-3")
        assert labels["scope_name"] == "loupe.e2e.logql"

    reply = session.get(f"{loupe.http_url}/loki/api/v1/query", headers=headers, timeout=10, params={
        "query": 'sum by (severity_text) (count_over_time({service_name="checkout"}[1m]))', "time": str(base + 10 * S)})
    assert reply.status_code == 200, reply.text
    counts = {item["metric"]["severity_text"]: item["value"][1] for item in reply.json()["data"]["result"]}
    assert counts == {"ERROR": "2", "INFO": "4"}

    reply = session.get(f"{loupe.http_url}/loki/api/v1/labels", headers=headers, timeout=10, params=params)
    names = reply.json()["data"]
    assert {"k8s_namespace_name", "service_name"} <= set(names), names
    # Structured metadata is not a stream label (the SDK may add service.instance.id, which Loki indexes).
    assert not {"host_name", "order_id", "severity_text", "telemetry_sdk_name"} & set(names), names
