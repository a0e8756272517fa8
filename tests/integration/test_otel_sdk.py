"""The real OpenTelemetry Python SDK sends traces, logs and metrics to `loupe up` through
the OTLP/gRPC exporter and the OTLP/HTTP (protobuf) exporter, each to its own tenant,
and everything is read back and compared with what the SDK produced.

What the SDK produced is captured with its in-memory exporter/reader; the very same
objects are then handed to the OTLP exporters' `export()`, so the comparison is exact:
 * field by field against the SDK objects themselves (IDs, names, kinds, status,
   timestamps, typed attributes, events, links, resource, scope, log fields, metric
   points), independent of any encoder;
 * and item by item against the protobuf the exporters send (the SDK's own OTLP
   encoder), which catches any field the explicit checks do not name.
"""

from __future__ import annotations

import datetime
import secrets
import time
from dataclasses import dataclass, field

import pytest
from opentelemetry import trace as trace_api
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GRPCLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GRPCMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GRPCSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HTTPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HTTPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HTTPSpanExporter
from opentelemetry.metrics import Observation
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ExponentialHistogram as SDKExponentialHistogram,
    Gauge as SDKGauge,
    Histogram as SDKHistogram,
    InMemoryMetricReader,
    Sum as SDKSum,
)
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

try:
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter as InMemoryLogExporter
except ImportError:  # older SDKs
    from opentelemetry.sdk._logs.export import InMemoryLogExporter

from loupe_testlib import (
    assert_same_items,
    check_otlp_json_conventions,
    item_count,
    json_attributes,
    json_int,
    json_log_records,
    json_metrics,
    json_spans,
    python_attributes,
    tagged_json_value,
    tagged_python_value,
)

TRANSPORTS = ("grpc", "http")
TENANTS = {"grpc": "sdk-grpc-tenant", "http": "sdk-http-tenant"}
EXPORT_TIMEOUT = 20

_OTLP_SPAN_KIND = {SpanKind.INTERNAL: 1, SpanKind.SERVER: 2, SpanKind.CLIENT: 3, SpanKind.PRODUCER: 4, SpanKind.CONSUMER: 5}
_OTLP_STATUS = {StatusCode.UNSET: 0, StatusCode.OK: 1, StatusCode.ERROR: 2}


def _succeeded(result) -> bool:
    return getattr(result, "name", str(result)).upper().endswith("SUCCESS")


# --------------------------------------------------------------------------------------
# What the SDK produces
# --------------------------------------------------------------------------------------

@dataclass
class Produced:
    label: str
    spans: tuple = ()
    logs: tuple = ()
    metrics_data: object = None
    export_results: dict = field(default_factory=dict)


def _span_attributes(label: str) -> dict:
    return {
        "e2e.label": label,
        "http.request.method": "GET",
        "http.response.status_code": 200,
        "e2e.negative_int": -9007199254740993,  # beyond float precision: must stay an exact int
        "e2e.big_int": 2**63 - 1,
        "e2e.ratio": 0.125,
        "e2e.pi": 3.141592653589793,
        "e2e.flag_true": True,
        "e2e.flag_false": False,
        "e2e.empty_string": "",
        "e2e.unicode": "naïve café — 日本語 🚀",
        "e2e.strings": ("a", "b", ""),
        "e2e.ints": (1, -2, 3),
        "e2e.floats": (0.5, -1.25),
        "e2e.bools": (True, False),
        "e2e.empty_list": (),
    }


def produce(label: str) -> Produced:
    """Traces, logs and metrics made by the real SDK, captured in memory."""
    resource = Resource.create({
        "service.name": f"loupe-e2e-{label}",
        "service.namespace": "loupe-tests",
        "service.version": "9.8.7",
        "deployment.environment.name": "e2e",
        "host.cpu.count": 2,
        "e2e.resource.flag": True,
        "e2e.resource.ratio": 0.75,
        "e2e.resource.tags": ("x", "y"),
    })

    # ---- traces ----
    span_exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    tracer = tracer_provider.get_tracer(
        f"loupe.e2e.tracer.{label}", "1.2.3", schema_url="https://opentelemetry.io/schemas/1.26.0",
        attributes={"e2e.scope.attr": label, "e2e.scope.n": 7})
    other_tracer = tracer_provider.get_tracer("loupe.e2e.other-scope", "0.0.1")

    external = SpanContext(
        trace_id=int.from_bytes(secrets.token_bytes(16), "big") | 1, span_id=int.from_bytes(secrets.token_bytes(8), "big") | 1,
        is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED), trace_state=TraceState([("vendor", "opaque-value")]))

    with tracer.start_as_current_span("GET /checkout", kind=SpanKind.SERVER, attributes=_span_attributes(label)) as root:
        root.add_event("request.received", {"e2e.event.size": 512, "e2e.event.ok": True, "e2e.event.tags": ("p", "q")})
        root.add_event("explicit-time", {"e2e.event.ratio": 2.5}, timestamp=time.time_ns() - 1_000_000)
        root.add_event("no-attributes")
        with tracer.start_as_current_span(
                "SELECT orders", kind=SpanKind.CLIENT,
                links=[Link(external, {"e2e.link.reason": "batch", "e2e.link.n": 3}), Link(root.get_span_context())]) as client:
            client.set_attribute("db.system.name", "postgresql")
            client.set_status(Status(StatusCode.ERROR, "connection reset by peer"))
            try:
                raise ValueError("boom")
            except ValueError as error:
                client.record_exception(error, attributes={"e2e.exception.extra": "yes"})
        with tracer.start_as_current_span("publish order", kind=SpanKind.PRODUCER) as producer:
            producer.set_status(Status(StatusCode.OK))
        with tracer.start_as_current_span("internal step", kind=SpanKind.INTERNAL):
            pass
        root.set_status(Status(StatusCode.OK))

    # A consumer span continuing a remote trace (remote parent, trace state, flags).
    remote_context = trace_api.set_span_in_context(NonRecordingSpan(external))
    with other_tracer.start_as_current_span("consume order", context=remote_context, kind=SpanKind.CONSUMER,
                                             attributes={"messaging.system": "kafka"}):
        pass
    # Spans with explicit start and end times, far apart.
    explicit_start = (time.time_ns() // 1_000_000_000 - 3600) * 1_000_000_000 + 123_456_789
    explicit = tracer.start_span("explicit times", start_time=explicit_start, attributes={"e2e.explicit": True})
    explicit.end(end_time=explicit_start + 42_000_001)

    # ---- logs ----
    log_exporter = InMemoryLogExporter()
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    logger = logger_provider.get_logger(f"loupe.e2e.logger.{label}", "4.5.6",
                                        schema_url="https://opentelemetry.io/schemas/1.26.0",
                                        attributes={"e2e.logger.attr": label})
    now = time.time_ns()
    span_context = trace_api.set_span_in_context(NonRecordingSpan(root.get_span_context()))
    logger.emit(timestamp=now - 5_000, observed_timestamp=now, severity_number=SeverityNumber.WARN,
                severity_text="WARN", body=f"disk almost full ({label})", context=span_context,
                attributes={"e2e.disk.free_bytes": 1024, "e2e.disk.ratio": 0.01, "e2e.disk.ok": False,
                            "e2e.disk.mounts": ("/", "/data"), "e2e.disk.raw": b"\x00\xffbytes",
                            "e2e.disk.nested": {"device": "sda", "partitions": 2}},
                event_name="e2e.disk.warning")
    logger.emit(timestamp=now - 4_000, observed_timestamp=now + 1, severity_number=SeverityNumber.INFO,
                severity_text="INFO", body={"structured": True, "count": 3, "items": ["a", 1, 2.5]},
                attributes={"e2e.kind": "structured"})
    logger.emit(timestamp=now - 3_000, observed_timestamp=now + 2, severity_number=SeverityNumber.ERROR2,
                severity_text="ERROR", body=["list", "body", 7])
    logger.emit(observed_timestamp=now + 3, severity_number=SeverityNumber.DEBUG, body="no event timestamp")
    try:
        raise RuntimeError("log exception")
    except RuntimeError as error:
        logger.emit(timestamp=now - 1_000, observed_timestamp=now + 4, severity_number=SeverityNumber.FATAL,
                    severity_text="FATAL", body="crashed", exception=error)

    # ---- metrics ----
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(
        resource=resource, metric_readers=[reader],
        views=[View(instrument_name="e2e.exp_latency", aggregation=ExponentialBucketHistogramAggregation(max_size=40))])
    meter = meter_provider.get_meter(f"loupe.e2e.meter.{label}", "7.7.7",
                                     schema_url="https://opentelemetry.io/schemas/1.26.0")
    requests_counter = meter.create_counter("e2e.requests", unit="{request}", description="Requests served")
    requests_counter.add(5, {"http.route": "/checkout", "e2e.ok": True})
    requests_counter.add(3, {"http.route": "/cart", "e2e.ok": False})
    requests_counter.add(2, {"http.route": "/checkout", "e2e.ok": True})
    bytes_counter = meter.create_counter("e2e.bytes", unit="By", description="Bytes sent (float counter)")
    bytes_counter.add(1.5, {"e2e.dir": "out"})
    bytes_counter.add(2.25, {"e2e.dir": "out"})
    inflight = meter.create_up_down_counter("e2e.inflight", unit="{request}", description="In-flight requests")
    inflight.add(7, {"e2e.pool": "a"})
    inflight.add(-10, {"e2e.pool": "a"})
    inflight.add(4, {"e2e.pool": "b"})
    temperature = meter.create_gauge("e2e.temperature", unit="Cel", description="Synchronous gauge")
    temperature.set(21.5, {"e2e.room": "lab"})
    temperature.set(-3, {"e2e.room": "freezer"})
    meter.create_observable_gauge(
        "e2e.queue_depth", unit="{message}", description="Observable gauge",
        callbacks=[lambda options: [Observation(42, {"e2e.queue": "orders"}), Observation(0.5, {"e2e.queue": "mail"})]])
    meter.create_observable_counter(
        "e2e.cpu_time", unit="s", description="Observable counter",
        callbacks=[lambda options: [Observation(12.75, {"e2e.cpu": "0"})]])
    latency = meter.create_histogram("e2e.latency", unit="ms", description="Explicit-bucket histogram")
    for value, route in [(0.5, "/a"), (7, "/a"), (42, "/a"), (250, "/a"), (9000, "/a"), (3, "/b"), (0, "/b")]:
        latency.record(value, {"http.route": route})
    exp_latency = meter.create_histogram("e2e.exp_latency", unit="s", description="Exponential histogram")
    for value in (0.001, 0.002, 0.05, 1.0, 1.5, 2.0, 17.0, 0.0, 1234.5):
        exp_latency.record(value, {"e2e.region": "eu"})
    exp_latency.record(3.0, {"e2e.region": "us"})
    metrics_data = reader.get_metrics_data()

    produced = Produced(label=label, spans=tuple(span_exporter.get_finished_spans()),
                        logs=tuple(log_exporter.get_finished_logs()), metrics_data=metrics_data)
    tracer_provider.shutdown()
    logger_provider.shutdown()
    meter_provider.shutdown()
    assert len(produced.spans) == 6
    assert len(produced.logs) == 5
    return produced


def export(produced: Produced, transport: str, server, tenant: str) -> None:
    """Hands the captured SDK objects to the OTLP exporters of `transport`."""
    headers = {"x-scope-orgid": tenant}
    if transport == "grpc":
        endpoint = f"http://{server.otlp_grpc_address}"
        exporters = {
            "traces": GRPCSpanExporter(endpoint=endpoint, insecure=True, headers=headers, timeout=EXPORT_TIMEOUT),
            "logs": GRPCLogExporter(endpoint=endpoint, insecure=True, headers=headers, timeout=EXPORT_TIMEOUT),
            "metrics": GRPCMetricExporter(endpoint=endpoint, insecure=True, headers=headers, timeout=EXPORT_TIMEOUT),
        }
    else:
        base = server.otlp_http_url
        exporters = {
            "traces": HTTPSpanExporter(endpoint=f"{base}/v1/traces", headers=headers, timeout=EXPORT_TIMEOUT),
            "logs": HTTPLogExporter(endpoint=f"{base}/v1/logs", headers=headers, timeout=EXPORT_TIMEOUT),
            "metrics": HTTPMetricExporter(endpoint=f"{base}/v1/metrics", headers=headers, timeout=EXPORT_TIMEOUT),
        }
    try:
        produced.export_results["traces"] = exporters["traces"].export(produced.spans)
        produced.export_results["logs"] = exporters["logs"].export(produced.logs)
        produced.export_results["metrics"] = exporters["metrics"].export(produced.metrics_data, timeout_millis=EXPORT_TIMEOUT * 1000)
    finally:
        for exporter in exporters.values():
            exporter.shutdown()


@pytest.fixture(scope="module")
def sdk_run(module_loupe_factory):
    """One server; each transport's SDK data exported to its own tenant."""
    server = module_loupe_factory.new()
    produced = {transport: produce(transport) for transport in TRANSPORTS}
    for transport in TRANSPORTS:
        export(produced[transport], transport, server, TENANTS[transport])
    return server, produced


def _expected_requests(produced: Produced, signal_name: str):
    if signal_name == "traces":
        return [encode_spans(produced.spans)]
    if signal_name == "logs":
        return [encode_logs(produced.logs)]
    return [encode_metrics(produced.metrics_data)]


# --------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("signal_name", ["traces", "logs", "metrics"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_export_succeeds_and_reads_back_exactly(sdk_run, transport, signal_name):
    server, produced = sdk_run
    result = produced[transport].export_results.get(signal_name)
    assert _succeeded(result), f"{transport} {signal_name} exporter returned {result}\n{server.stderr_tail()}"
    doc = server.read(signal_name, tenant=TENANTS[transport])
    assert_same_items(signal_name, _expected_requests(produced[transport], signal_name), doc)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_spans_field_by_field(sdk_run, transport):
    server, produced = sdk_run
    sdk_spans = produced[transport].spans
    doc = server.read("traces", tenant=TENANTS[transport])
    check_otlp_json_conventions(doc)
    returned = {span["spanId"].lower(): (rs, ss, span) for rs, ss, span in json_spans(doc)}
    assert len(json_spans(doc)) == len(sdk_spans), "each span must come back exactly once"
    for sdk_span in sdk_spans:
        context = sdk_span.get_span_context()
        span_id = format(context.span_id, "016x")
        assert span_id in returned, f"span {sdk_span.name} ({span_id}) not returned"
        rs, ss, span = returned[span_id]
        where = f"span {sdk_span.name!r}"
        assert span["traceId"].lower() == format(context.trace_id, "032x"), where
        parent = sdk_span.parent
        assert (span.get("parentSpanId") or "").lower() == (format(parent.span_id, "016x") if parent else ""), where
        assert span["name"] == sdk_span.name
        assert span.get("kind", 0) == _OTLP_SPAN_KIND[sdk_span.kind], where
        assert json_int(span.get("startTimeUnixNano")) == sdk_span.start_time, where
        assert json_int(span.get("endTimeUnixNano")) == sdk_span.end_time, where
        assert span.get("traceState", "") == context.trace_state.to_header(), where
        status = span.get("status") or {}
        assert status.get("code", 0) == _OTLP_STATUS[sdk_span.status.status_code], where
        assert status.get("message", "") == (sdk_span.status.description or ""), where
        assert json_attributes(span.get("attributes")) == python_attributes(sdk_span.attributes), where
        # events, in order, with their attributes and times
        events = span.get("events") or []
        assert [e["name"] for e in events] == [e.name for e in sdk_span.events], where
        for event, sdk_event in zip(events, sdk_span.events):
            assert json_int(event.get("timeUnixNano")) == sdk_event.timestamp, f"{where} event {sdk_event.name}"
            assert json_attributes(event.get("attributes")) == python_attributes(sdk_event.attributes), f"{where} event {sdk_event.name}"
        # links
        links = span.get("links") or []
        assert len(links) == len(sdk_span.links), where
        for link, sdk_link in zip(links, sdk_span.links):
            assert link["traceId"].lower() == format(sdk_link.context.trace_id, "032x"), where
            assert link["spanId"].lower() == format(sdk_link.context.span_id, "016x"), where
            # (The Python OTLP encoder does not put a link's trace state on the wire; the exact
            # comparison with the encoded request covers what is sent.)
            assert json_attributes(link.get("attributes")) == python_attributes(sdk_link.attributes), where
        # resource and scope
        assert json_attributes((rs.get("resource") or {}).get("attributes")) == python_attributes(sdk_span.resource.attributes), where
        scope = ss.get("scope") or {}
        assert scope.get("name", "") == sdk_span.instrumentation_scope.name, where
        assert scope.get("version", "") == (sdk_span.instrumentation_scope.version or ""), where
        assert json_attributes(scope.get("attributes")) == python_attributes(sdk_span.instrumentation_scope.attributes), where
        assert ss.get("schemaUrl", "") == (sdk_span.instrumentation_scope.schema_url or ""), where

    # The shapes the SDK made are all there: every kind, remote parent with trace state, links, an exception event.
    by_name = {span["name"]: span for _, _, span in json_spans(doc)}
    assert {span.get("kind") for span in by_name.values()} == {1, 2, 3, 4, 5}
    assert by_name["consume order"]["traceState"] == "vendor=opaque-value"
    assert by_name["consume order"]["parentSpanId"]
    assert [e["name"] for e in by_name["SELECT orders"]["events"]] == ["exception"]
    assert by_name["SELECT orders"]["status"] == {"code": 2, "message": "connection reset by peer"}
    explicit = by_name["explicit times"]
    assert int(explicit["endTimeUnixNano"]) - int(explicit["startTimeUnixNano"]) == 42_000_001


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_logs_field_by_field(sdk_run, transport):
    server, produced = sdk_run
    sdk_logs = produced[transport].logs
    doc = server.read("logs", tenant=TENANTS[transport])
    check_otlp_json_conventions(doc)
    returned = json_log_records(doc)
    assert len(returned) == len(sdk_logs)
    by_observed = {json_int(record.get("observedTimeUnixNano")): (rl, sl, record) for rl, sl, record in returned}
    for readable in sdk_logs:
        sdk = readable.log_record
        assert sdk.observed_timestamp in by_observed, f"log record {sdk.body!r} not returned"
        rl, sl, record = by_observed[sdk.observed_timestamp]
        where = f"log record {sdk.body!r}"
        assert json_int(record.get("timeUnixNano")) == (sdk.timestamp or 0), where
        assert record.get("severityNumber", 0) == (sdk.severity_number.value if sdk.severity_number else 0), where
        assert record.get("severityText", "") == (sdk.severity_text or ""), where
        assert tagged_json_value(record.get("body")) == tagged_python_value(sdk.body), where
        assert json_attributes(record.get("attributes")) == python_attributes(sdk.attributes), where
        assert (record.get("traceId") or "").lower() == (format(sdk.trace_id, "032x") if sdk.trace_id else ""), where
        assert (record.get("spanId") or "").lower() == (format(sdk.span_id, "016x") if sdk.span_id else ""), where
        assert record.get("flags", 0) == int(sdk.trace_flags or 0), where
        assert record.get("eventName", "") == (getattr(sdk, "event_name", None) or ""), where
        assert json_attributes((rl.get("resource") or {}).get("attributes")) == python_attributes(readable.resource.attributes), where
        scope = sl.get("scope") or {}
        assert scope.get("name") == readable.instrumentation_scope.name, where
        assert scope.get("version", "") == (readable.instrumentation_scope.version or ""), where
    # The record tied to a span carries its IDs; the event name survived.
    first = next(record for _, _, record in returned if record.get("eventName"))
    assert first["eventName"] == "e2e.disk.warning"
    assert len(first["traceId"]) == 32 and len(first["spanId"]) == 16


def _sdk_point_value(point):
    return ("int", point.value) if isinstance(point.value, int) else ("double", float(point.value))


def _json_point_value(point):
    if "asInt" in point:
        return ("int", int(point["asInt"]))
    return ("double", float(point["asDouble"]))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_metrics_field_by_field(sdk_run, transport):
    server, produced = sdk_run
    doc = server.read("metrics", tenant=TENANTS[transport])
    check_otlp_json_conventions(doc)
    returned = {metric["name"]: (rm, sm, metric) for rm, sm, metric in json_metrics(doc)}
    seen_kinds = set()
    sdk_metric_count = 0
    for resource_metrics in produced[transport].metrics_data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for sdk_metric in scope_metrics.metrics:
                sdk_metric_count += 1
                assert sdk_metric.name in returned, f"metric {sdk_metric.name} not returned"
                rm, sm, metric = returned[sdk_metric.name]
                where = f"metric {sdk_metric.name}"
                assert metric.get("description", "") == sdk_metric.description, where
                assert metric.get("unit", "") == sdk_metric.unit, where
                assert json_attributes((rm.get("resource") or {}).get("attributes")) == \
                    python_attributes(resource_metrics.resource.attributes), where
                assert (sm.get("scope") or {}).get("name") == scope_metrics.scope.name, where
                assert (sm.get("scope") or {}).get("version", "") == (scope_metrics.scope.version or ""), where
                data = sdk_metric.data
                if isinstance(data, SDKSum):
                    kind = "sum"
                    assert metric["sum"].get("isMonotonic", False) == data.is_monotonic, where
                    assert metric["sum"].get("aggregationTemporality", 0) == data.aggregation_temporality.value, where
                elif isinstance(data, SDKGauge):
                    kind = "gauge"
                elif isinstance(data, SDKHistogram):
                    kind = "histogram"
                    assert metric["histogram"].get("aggregationTemporality", 0) == data.aggregation_temporality.value, where
                elif isinstance(data, SDKExponentialHistogram):
                    kind = "exponentialHistogram"
                    assert metric["exponentialHistogram"].get("aggregationTemporality", 0) == data.aggregation_temporality.value, where
                else:
                    raise AssertionError(f"unexpected SDK metric data {type(data)}")
                seen_kinds.add(kind)
                assert kind in metric, f"{where}: expected a {kind}, got {sorted(metric)}"
                points = metric[kind].get("dataPoints") or []
                assert len(points) == len(data.data_points), where
                by_attributes = {tuple(sorted(json_attributes(p.get("attributes")).items())): p for p in points}
                for sdk_point in data.data_points:
                    key = tuple(sorted(python_attributes(sdk_point.attributes).items()))
                    assert key in by_attributes, f"{where}: point with attributes {dict(sdk_point.attributes)} missing"
                    point = by_attributes[key]
                    pwhere = f"{where} {dict(sdk_point.attributes)}"
                    assert json_int(point.get("startTimeUnixNano")) == (sdk_point.start_time_unix_nano or 0), pwhere
                    assert json_int(point.get("timeUnixNano")) == (sdk_point.time_unix_nano or 0), pwhere
                    if kind in ("sum", "gauge"):
                        assert _json_point_value(point) == _sdk_point_value(sdk_point), pwhere
                    elif kind == "histogram":
                        assert json_int(point.get("count")) == sdk_point.count, pwhere
                        assert point.get("sum") == sdk_point.sum, pwhere
                        assert [int(c) for c in point.get("bucketCounts") or []] == list(sdk_point.bucket_counts), pwhere
                        assert [float(b) for b in point.get("explicitBounds") or []] == [float(b) for b in sdk_point.explicit_bounds], pwhere
                        assert point.get("min") == sdk_point.min, pwhere
                        assert point.get("max") == sdk_point.max, pwhere
                    else:
                        assert json_int(point.get("count")) == sdk_point.count, pwhere
                        assert point.get("sum") == sdk_point.sum, pwhere
                        assert point.get("scale", 0) == sdk_point.scale, pwhere
                        assert json_int(point.get("zeroCount")) == sdk_point.zero_count, pwhere
                        for side in ("positive", "negative"):
                            buckets = point.get(side) or {}
                            sdk_buckets = getattr(sdk_point, side)
                            sdk_counts = list(sdk_buckets.bucket_counts)
                            if sdk_counts:
                                assert buckets.get("offset", 0) == sdk_buckets.offset, f"{pwhere} {side}"
                            assert [int(c) for c in buckets.get("bucketCounts") or []] == sdk_counts, f"{pwhere} {side}"
                        assert point.get("min") == sdk_point.min, pwhere
                        assert point.get("max") == sdk_point.max, pwhere
                        assert float(point.get("zeroThreshold", 0)) == float(getattr(sdk_point, "zero_threshold", 0) or 0), pwhere
    assert sdk_metric_count == len(returned), "each metric must come back exactly once"
    assert seen_kinds == {"sum", "gauge", "histogram", "exponentialHistogram"}
    # The shapes the test means to cover.
    assert returned["e2e.requests"][2]["sum"]["isMonotonic"] is True
    assert returned["e2e.requests"][2]["sum"]["aggregationTemporality"] == 2
    assert not returned["e2e.inflight"][2]["sum"].get("isMonotonic", False)
    assert sorted(int(p["asInt"]) for p in returned["e2e.inflight"][2]["sum"]["dataPoints"]) == [-3, 4]
    latency_a = next(p for p in returned["e2e.latency"][2]["histogram"]["dataPoints"]
                     if json_attributes(p["attributes"]) == {"http.route": ("string", "/a")})
    assert latency_a["count"] == "5" and latency_a["min"] == 0.5 and latency_a["max"] == 9000
    exp_eu = next(p for p in returned["e2e.exp_latency"][2]["exponentialHistogram"]["dataPoints"]
                  if json_attributes(p["attributes"]) == {"e2e.region": ("string", "eu")})
    assert exp_eu["count"] == "9" and exp_eu["zeroCount"] == "1" and exp_eu["max"] == 1234.5


# --------------------------------------------------------------------------------------
# Tenants
# --------------------------------------------------------------------------------------

def _service_names(doc: dict, signal_name: str) -> set[str]:
    key = {"traces": "resourceSpans", "logs": "resourceLogs", "metrics": "resourceMetrics"}[signal_name]
    names = set()
    for resource in doc.get(key, []) or []:
        attributes = json_attributes((resource.get("resource") or {}).get("attributes"))
        if "service.name" in attributes:
            names.add(attributes["service.name"][1])
    return names


@pytest.mark.parametrize("signal_name", ["traces", "logs", "metrics"])
def test_tenant_isolation(sdk_run, signal_name):
    server, produced = sdk_run
    for transport in TRANSPORTS:
        doc = server.read(signal_name, tenant=TENANTS[transport])
        assert _service_names(doc, signal_name) == {f"loupe-e2e-{transport}"}, \
            f"tenant {TENANTS[transport]} must see only its own {signal_name}"
    for tenant in (None, "default", "someone-else"):
        doc = server.read(signal_name, tenant=tenant)
        assert item_count(signal_name, doc) == 0, f"tenant {tenant or '(no header)'} must see no {signal_name}: {doc}"
    # The header value is case-sensitive: another spelling is another tenant.
    doc = server.read(signal_name, tenant=TENANTS["grpc"].upper())
    assert item_count(signal_name, doc) == 0


def test_default_tenant_without_header(loupe):
    """No X-Scope-OrgID means the tenant "default" (for writes and reads)."""
    produced = produce("default-tenant")
    exporter = HTTPSpanExporter(endpoint=f"{loupe.otlp_http_url}/v1/traces", timeout=EXPORT_TIMEOUT)
    try:
        assert _succeeded(exporter.export(produced.spans))
    finally:
        exporter.shutdown()
    expected = [encode_spans(produced.spans)]
    assert_same_items("traces", expected, loupe.read("traces"))
    assert_same_items("traces", expected, loupe.read("traces", tenant="default"))
    assert item_count("traces", loupe.read("traces", tenant="other")) == 0


def test_compressed_exports(loupe):
    """gzip on both exporters (gRPC message compression and HTTP Content-Encoding)."""
    import grpc
    from opentelemetry.exporter.otlp.proto.http import Compression as HTTPCompression

    for transport in TRANSPORTS:
        produced = produce(f"gzip-{transport}")
        tenant = f"gzip-{transport}"
        headers = {"x-scope-orgid": tenant}
        if transport == "grpc":
            exporter = GRPCSpanExporter(endpoint=f"http://{loupe.otlp_grpc_address}", insecure=True, headers=headers,
                                        timeout=EXPORT_TIMEOUT, compression=grpc.Compression.Gzip)
        else:
            exporter = HTTPSpanExporter(endpoint=f"{loupe.otlp_http_url}/v1/traces", headers=headers,
                                        timeout=EXPORT_TIMEOUT, compression=HTTPCompression.Gzip)
        try:
            result = exporter.export(produced.spans)
        finally:
            exporter.shutdown()
        assert _succeeded(result), f"{transport} gzip export returned {result}\n{loupe.stderr_tail()}"
        assert_same_items("traces", [encode_spans(produced.spans)], loupe.read("traces", tenant=tenant))


# --------------------------------------------------------------------------------------
# Time ranges
# --------------------------------------------------------------------------------------

def _rfc3339(ns: int) -> str:
    seconds, fraction = divmod(ns, 1_000_000_000)
    stamp = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{fraction // 1_000_000:03d}Z"


@pytest.fixture(scope="module")
def time_range_run(module_loupe_factory):
    """Spans and log records 10 s apart, an hour ago, exported by the SDK to tenant "time-range"."""
    server = module_loupe_factory.new()
    base = (time.time_ns() // 1_000_000_000 - 3600) * 1_000_000_000  # whole second
    offsets = [0, 10, 20, 30, 40]
    span_exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "time-range"}))
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    tracer = provider.get_tracer("loupe.e2e.time-range")
    for offset in offsets:
        span = tracer.start_span(f"at+{offset}s", start_time=base + offset * 1_000_000_000)
        span.end(end_time=base + offset * 1_000_000_000 + 500_000_000)
    provider.shutdown()
    log_exporter = InMemoryLogExporter()
    logger_provider = LoggerProvider(resource=Resource.create({"service.name": "time-range"}))
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    logger = logger_provider.get_logger("loupe.e2e.time-range")
    for offset in offsets:
        logger.emit(timestamp=base + offset * 1_000_000_000, observed_timestamp=time.time_ns(),
                    severity_number=SeverityNumber.INFO, body=f"at+{offset}s")
    logger_provider.shutdown()
    spans = span_exporter.get_finished_spans()
    logs = log_exporter.get_finished_logs()
    headers = {"x-scope-orgid": "time-range"}
    span_out = HTTPSpanExporter(endpoint=f"{server.otlp_http_url}/v1/traces", headers=headers, timeout=EXPORT_TIMEOUT)
    log_out = GRPCLogExporter(endpoint=f"http://{server.otlp_grpc_address}", insecure=True, headers=headers, timeout=EXPORT_TIMEOUT)
    try:
        assert _succeeded(span_out.export(spans))
        assert _succeeded(log_out.export(logs))
    finally:
        span_out.shutdown()
        log_out.shutdown()
    return server, base, spans, logs


def _names(signal_name: str, doc: dict) -> list[str]:
    if signal_name == "traces":
        return sorted(span["name"] for _, _, span in json_spans(doc))
    return sorted(tagged_json_value(record.get("body"))[1] for _, _, record in json_log_records(doc))


S = 1_000_000_000


@pytest.mark.parametrize("signal_name", ["traces", "logs"])
@pytest.mark.parametrize("form", ["unix_seconds", "unix_nanoseconds", "rfc3339", "fractional_seconds"])
def test_time_range_returns_exactly_the_items_inside(time_range_run, signal_name, form):
    server, base, spans, logs = time_range_run
    start_ns, end_ns = base + 5 * S, base + 25 * S
    if form == "unix_seconds":
        start, end = start_ns // S, end_ns // S
    elif form == "unix_nanoseconds":
        start, end = start_ns, end_ns
    elif form == "fractional_seconds":
        start, end = f"{start_ns / S:.3f}", f"{end_ns / S:.3f}"
    else:
        start, end = _rfc3339(start_ns), _rfc3339(end_ns)
    doc = server.read(signal_name, tenant="time-range", start=start, end=end)
    assert _names(signal_name, doc) == ["at+10s", "at+20s"], f"window {start}..{end}"
    # The full range and the default (all time) return everything.
    everything = [f"at+{o}s" for o in (0, 10, 20, 30, 40)]
    assert _names(signal_name, server.read(signal_name, tenant="time-range")) == everything
    # Only a start, only an end.
    assert _names(signal_name, server.read(signal_name, tenant="time-range", start=start)) == ["at+10s", "at+20s", "at+30s", "at+40s"]
    assert _names(signal_name, server.read(signal_name, tenant="time-range", end=end)) == ["at+0s", "at+10s", "at+20s"]


@pytest.mark.parametrize("signal_name", ["traces", "logs"])
def test_time_range_edges(time_range_run, signal_name):
    server, base, spans, logs = time_range_run
    # Closed range at nanosecond precision: an item exactly at start or end is inside.
    doc = server.read(signal_name, tenant="time-range", start=base + 10 * S, end=base + 30 * S)
    assert _names(signal_name, doc) == ["at+10s", "at+20s", "at+30s"]
    doc = server.read(signal_name, tenant="time-range", start=base + 10 * S + 1, end=base + 30 * S - 1)
    assert _names(signal_name, doc) == ["at+20s"]
    # A window between items, and one in the future, are empty.
    assert _names(signal_name, server.read(signal_name, tenant="time-range", start=base + 11 * S, end=base + 19 * S)) == []
    future = time.time_ns() + 3600 * S
    assert _names(signal_name, server.read(signal_name, tenant="time-range", start=future)) == []
    # The span inside a narrow window is the very span the SDK made.
    if signal_name == "traces":
        returned = {span["name"]: span for _, _, span in json_spans(
            server.read("traces", tenant="time-range", start=base + 15 * S, end=base + 25 * S))}
        sdk = {span.name: span for span in spans}
        assert set(returned) == {"at+20s"}
        assert returned["at+20s"]["spanId"].lower() == format(sdk["at+20s"].get_span_context().span_id, "016x")


def test_time_range_invalid_parameter(time_range_run):
    server, *_ = time_range_run
    response = server.read_response("traces", tenant="time-range", start="yesterday-ish")
    assert response.status_code == 400, response.text
    assert "start" in response.text


# --------------------------------------------------------------------------------------
# After a restart (WAL replay), everything is still exactly as sent
# --------------------------------------------------------------------------------------

def test_everything_reads_back_exactly_after_a_restart(sdk_run):
    server, produced = sdk_run
    server.terminate()  # SIGTERM: exit code 0
    server.start()
    for transport in TRANSPORTS:
        for signal_name in ("traces", "logs", "metrics"):
            assert _succeeded(produced[transport].export_results.get(signal_name))
            assert_same_items(signal_name, _expected_requests(produced[transport], signal_name),
                              server.read(signal_name, tenant=TENANTS[transport]))
    for signal_name in ("traces", "logs", "metrics"):
        assert item_count(signal_name, server.read(signal_name)) == 0
