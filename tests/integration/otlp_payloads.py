"""OTLP payloads built by hand: protobuf with the `opentelemetry-proto` generated classes,
and OTLP/JSON documents that use every field of the three signals."""

from __future__ import annotations

import base64
import copy
import itertools
import secrets
import time

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

_counter = itertools.count(1)


def unique_tag() -> str:
    return f"{next(_counter)}-{secrets.token_hex(4)}"


def new_trace_id() -> bytes:
    return secrets.token_bytes(15) + b"\x01"


def new_span_id() -> bytes:
    return secrets.token_bytes(7) + b"\x01"


def any_value(value) -> common_pb2.AnyValue:
    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    if isinstance(value, int):
        return common_pb2.AnyValue(int_value=value)
    if isinstance(value, float):
        return common_pb2.AnyValue(double_value=value)
    if isinstance(value, str):
        return common_pb2.AnyValue(string_value=value)
    if isinstance(value, bytes):
        return common_pb2.AnyValue(bytes_value=value)
    if isinstance(value, (list, tuple)):
        return common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=[any_value(v) for v in value]))
    if isinstance(value, dict):
        return common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList(values=attributes(value)))
    raise TypeError(value)


def attributes(mapping: dict) -> list[common_pb2.KeyValue]:
    return [common_pb2.KeyValue(key=k, value=any_value(v)) for k, v in mapping.items()]


def resource(service: str) -> resource_pb2.Resource:
    return resource_pb2.Resource(attributes=attributes({"service.name": service}))


def trace_request(spans: list[dict], service: str = "wire-tests") -> ExportTraceServiceRequest:
    """spans: dicts with trace_id, span_id, name, start (ns) and optional end, attributes."""
    pb_spans = [trace_pb2.Span(
        trace_id=s["trace_id"], span_id=s["span_id"], name=s["name"], kind=trace_pb2.Span.SPAN_KIND_SERVER,
        start_time_unix_nano=s["start"], end_time_unix_nano=s.get("end", s["start"] + 1_000_000),
        attributes=attributes(s.get("attributes", {}))) for s in spans]
    return ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        resource=resource(service),
        scope_spans=[trace_pb2.ScopeSpans(scope=common_pb2.InstrumentationScope(name="wire", version="1"), spans=pb_spans)])])


def simple_spans(count: int, start: int | None = None, step: int = 1_000, name: str = "span", trace_id: bytes | None = None,
                 attributes_per_span: dict | None = None) -> list[dict]:
    start = time.time_ns() if start is None else start
    trace_id = trace_id or new_trace_id()
    return [{"trace_id": trace_id, "span_id": new_span_id(), "name": f"{name}-{i}", "start": start + i * step,
             "attributes": attributes_per_span or {}} for i in range(count)]


def logs_request(records: list[dict], service: str = "wire-tests") -> ExportLogsServiceRequest:
    pb_records = [logs_pb2.LogRecord(
        time_unix_nano=r["time"], observed_time_unix_nano=r.get("observed", r["time"]),
        severity_number=logs_pb2.SEVERITY_NUMBER_INFO, severity_text="INFO", body=any_value(r["body"])) for r in records]
    return ExportLogsServiceRequest(resource_logs=[logs_pb2.ResourceLogs(
        resource=resource(service),
        scope_logs=[logs_pb2.ScopeLogs(scope=common_pb2.InstrumentationScope(name="wire"), log_records=pb_records)])])


def gauge_request(points: list[tuple[int, float]], name: str = "wire.gauge", service: str = "wire-tests") -> ExportMetricsServiceRequest:
    """points: (time ns, value)."""
    metric = metrics_pb2.Metric(name=name, unit="1", gauge=metrics_pb2.Gauge(data_points=[
        metrics_pb2.NumberDataPoint(time_unix_nano=t, as_double=v, attributes=attributes({"i": i}))
        for i, (t, v) in enumerate(points)]))
    return ExportMetricsServiceRequest(resource_metrics=[metrics_pb2.ResourceMetrics(
        resource=resource(service),
        scope_metrics=[metrics_pb2.ScopeMetrics(scope=common_pb2.InstrumentationScope(name="wire"), metrics=[metric])])])


# --------------------------------------------------------------------------------------
# OTLP/JSON documents using every field
# --------------------------------------------------------------------------------------

def _json_attributes(tag: str) -> list[dict]:
    return [
        {"key": "string", "value": {"stringValue": f"value-{tag} ✓ \"quoted\" \\ back\nslash"}},
        {"key": "bool", "value": {"boolValue": True}},
        {"key": "bool.false", "value": {"boolValue": False}},
        {"key": "int", "value": {"intValue": "-9223372036854775808"}},
        {"key": "int.max", "value": {"intValue": "9223372036854775807"}},
        {"key": "double", "value": {"doubleValue": 637.704}},
        {"key": "double.tiny", "value": {"doubleValue": 5e-324}},
        {"key": "double.huge", "value": {"doubleValue": 1.7976931348623157e308}},
        {"key": "double.inf", "value": {"doubleValue": "Infinity"}},
        {"key": "double.whole", "value": {"doubleValue": 2.0}},
        {"key": "bytes", "value": {"bytesValue": base64.b64encode(b"\x00\x01\xfe\xff").decode()}},
        {"key": "array", "value": {"arrayValue": {"values": [
            {"stringValue": "many"}, {"intValue": "2"}, {"doubleValue": 0.5}, {"boolValue": False},
            {"arrayValue": {"values": [{"stringValue": "nested"}]}}]}}},
        {"key": "array.empty", "value": {"arrayValue": {}}},
        {"key": "map", "value": {"kvlistValue": {"values": [
            {"key": "some.map.key", "value": {"stringValue": "some value"}},
            {"key": "inner", "value": {"kvlistValue": {"values": [{"key": "deep", "value": {"intValue": "1"}}]}}}]}}},
        {"key": "empty.value", "value": {}},
    ]


def rich_trace_doc(tag: str) -> dict:
    trace_id, span_id, parent_id = new_trace_id().hex(), new_span_id().hex(), new_span_id().hex()
    other_trace = new_trace_id().hex().upper()  # hex is case-insensitive on input
    now = time.time_ns()
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": f"json-{tag}"}}] + _json_attributes(tag),
                     "droppedAttributesCount": 2},
        "schemaUrl": "https://opentelemetry.io/schemas/1.26.0",
        "scopeSpans": [{
            "scope": {"name": "my.library", "version": "1.0.0", "droppedAttributesCount": 1,
                      "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}]},
            "schemaUrl": "https://opentelemetry.io/schemas/1.25.0",
            "spans": [
                {"traceId": trace_id, "spanId": span_id, "parentSpanId": parent_id, "traceState": "rojo=00f067aa0ba902b7",
                 "flags": 769, "name": f"server span {tag}", "kind": 2,
                 "startTimeUnixNano": str(now), "endTimeUnixNano": str(now + 1_000_000_000),
                 "attributes": _json_attributes(tag), "droppedAttributesCount": 3,
                 "events": [{"timeUnixNano": str(now + 5), "name": "event-with-attrs",
                             "attributes": [{"key": "e", "value": {"intValue": "1"}}], "droppedAttributesCount": 1},
                            {"timeUnixNano": str(now + 6), "name": "event-without-attrs"}],
                 "droppedEventsCount": 4,
                 "links": [{"traceId": other_trace, "spanId": new_span_id().hex(), "traceState": "congo=t61rcWkgMzE",
                            "attributes": [{"key": "link.attr", "value": {"boolValue": True}}],
                            "droppedAttributesCount": 1, "flags": 257}],
                 "droppedLinksCount": 5,
                 "status": {"code": 2, "message": "it failed"}},
                {"traceId": trace_id, "spanId": new_span_id().hex(), "parentSpanId": span_id, "name": f"client span {tag}",
                 "kind": 3, "startTimeUnixNano": str(now + 10), "endTimeUnixNano": str(now + 20), "status": {"code": 1}},
                {"traceId": trace_id, "spanId": new_span_id().hex(), "name": f"minimal span {tag}",
                 "startTimeUnixNano": str(now + 30), "endTimeUnixNano": str(now + 30)},
            ]}]}]}


def rich_logs_doc(tag: str) -> dict:
    now = time.time_ns()
    return {"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": f"json-{tag}"}}]},
        "schemaUrl": "https://opentelemetry.io/schemas/1.26.0",
        "scopeLogs": [{
            "scope": {"name": "my.logger", "version": "2.0.0"},
            "logRecords": [
                {"timeUnixNano": str(now), "observedTimeUnixNano": str(now + 1), "severityNumber": 10,
                 "severityText": "Information", "traceId": new_trace_id().hex(), "spanId": new_span_id().hex(),
                 "flags": 1, "eventName": f"my.event.{tag}",
                 "body": {"stringValue": f"Example log record {tag}"}, "attributes": _json_attributes(tag),
                 "droppedAttributesCount": 2},
                {"timeUnixNano": str(now + 2), "severityNumber": 17,
                 "body": {"kvlistValue": {"values": [{"key": "message", "value": {"stringValue": "structured"}},
                                                     {"key": "n", "value": {"intValue": "42"}}]}}},
                {"timeUnixNano": str(now + 3), "body": {"arrayValue": {"values": [{"stringValue": "a"}, {"doubleValue": 1.5}]}}},
                {"timeUnixNano": str(now + 4), "body": {"bytesValue": base64.b64encode(b"\x7fELF").decode()}},
                {"timeUnixNano": str(now + 5), "observedTimeUnixNano": str(now + 6), "severityNumber": 24,
                 "severityText": "FATAL4"},
            ]}]}]}


def rich_metrics_doc(tag: str) -> dict:
    now = time.time_ns()
    start = now - 60_000_000_000
    trace_id, span_id = new_trace_id().hex(), new_span_id().hex()
    exemplar = {"filteredAttributes": [{"key": "user", "value": {"stringValue": "alice"}}], "timeUnixNano": str(now - 5),
                "asDouble": 12.5, "spanId": span_id, "traceId": trace_id}
    attrs = [{"key": "host", "value": {"stringValue": f"h-{tag}"}}]
    return {"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": f"json-{tag}"}}]},
        "scopeMetrics": [{
            "scope": {"name": "my.meter", "version": "3.0.0"},
            "metrics": [
                {"name": "my.counter", "unit": "1", "description": "I am a Counter",
                 "metadata": [{"key": "m", "value": {"stringValue": "meta"}}],
                 "sum": {"aggregationTemporality": 2, "isMonotonic": True, "dataPoints": [
                     {"asDouble": 5, "startTimeUnixNano": str(start), "timeUnixNano": str(now), "attributes": attrs,
                      "exemplars": [exemplar]},
                     {"asInt": "-7", "startTimeUnixNano": str(start), "timeUnixNano": str(now + 1), "flags": 1}]}},
                {"name": "my.gauge", "unit": "1", "description": "I am a Gauge",
                 "gauge": {"dataPoints": [{"asDouble": 10.5, "timeUnixNano": str(now), "attributes": attrs},
                                          {"asInt": "9223372036854775807", "timeUnixNano": str(now + 2)}]}},
                {"name": "my.histogram", "unit": "ms", "description": "I am a Histogram",
                 "histogram": {"aggregationTemporality": 1, "dataPoints": [
                     {"startTimeUnixNano": str(start), "timeUnixNano": str(now), "count": "18446744073709551614",
                      "sum": 3.5, "bucketCounts": ["1", "0", "18446744073709551613"], "explicitBounds": [1.0, 2.5],
                      "min": 0.25, "max": 2.75, "attributes": attrs, "exemplars": [exemplar]},
                     {"startTimeUnixNano": str(start), "timeUnixNano": str(now + 1), "count": "0"}]}},
                {"name": "my.exponential.histogram", "unit": "s", "description": "I am an Exponential Histogram",
                 "exponentialHistogram": {"aggregationTemporality": 2, "dataPoints": [
                     {"startTimeUnixNano": str(start), "timeUnixNano": str(now), "count": "7", "sum": -33.5,
                      "scale": -1, "zeroCount": "1", "zeroThreshold": 1e-9,
                      "positive": {"offset": -1, "bucketCounts": ["1", "2"]},
                      "negative": {"offset": 2, "bucketCounts": ["3"]},
                      "min": -40.0, "max": 4.0, "attributes": attrs, "exemplars": [exemplar]}]}},
                {"name": "my.summary", "unit": "ms", "description": "I am a Summary",
                 "summary": {"dataPoints": [
                     {"startTimeUnixNano": str(start), "timeUnixNano": str(now), "count": "4", "sum": 10.0,
                      "quantileValues": [{"quantile": 0.0, "value": 1.0}, {"quantile": 0.5, "value": 2.0},
                                         {"quantile": 1.0, "value": 5.0}], "attributes": attrs}]}},
            ]}]}]}


RICH_DOCS = {"traces": rich_trace_doc, "logs": rich_logs_doc, "metrics": rich_metrics_doc}

_ID_KEYS = {"traceId", "spanId", "parentSpanId"}


def with_base64_ids(doc: dict) -> dict:
    """The same document with every trace/span ID in base64 (the protobuf JSON mapping of bytes)."""
    def convert(node):
        if isinstance(node, dict):
            return {k: (base64.b64encode(bytes.fromhex(v)).decode() if k in _ID_KEYS and isinstance(v, str) and v else convert(v))
                    for k, v in node.items()}
        if isinstance(node, list):
            return [convert(v) for v in node]
        return node
    return convert(copy.deepcopy(doc))
