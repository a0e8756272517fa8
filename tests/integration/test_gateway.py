"""`loupe gateway`: the OpenTelemetry Python SDK pushes traces (gRPC), logs and metrics (HTTP) to the
gateway; its pipelines filter by namespace, transform, queue and ship them to `loupe up`, where the
Tempo, Loki and Prometheus APIs find them."""

from __future__ import annotations

import re
import signal
import subprocess
import time

import requests
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GRPCSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HTTPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HTTPMetricExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from loupe_testlib import LOUPE_BINARY, OTLPSink, wait_for


def pipelines(server) -> str:
    head = "apiVersion: telemetry.loupe.dev/v1beta1\n"
    return f"""{head}kind: TracePipeline
metadata: {{name: traces}}
spec:
  transform:
    - statements: ['set(span.attributes["via"], "gateway")']
  output:
    otlp:
      protocol: http
      endpoint: {{value: "{server.otlp_http_url}"}}
---
{head}kind: LogPipeline
metadata: {{name: shop-logs}}
spec:
  input:
    otlp:
      namespaces: {{include: [shop]}}
  output:
    otlp:
      protocol: grpc
      endpoint: {{value: "{server.otlp_grpc_address}"}}
      tls: {{insecure: true}}
---
{head}kind: MetricPipeline
metadata: {{name: metrics}}
spec:
  filter:
    - conditions: ['metric.name == "gateway.noise"']
  output:
    otlp:
      protocol: http
      endpoint: {{value: "{server.otlp_http_url}"}}
"""


def test_sdk_to_gateway_to_loupe_up(tmp_path, loupe_factory):
    server = loupe_factory.new()
    (tmp_path / "pipelines.yaml").write_text(pipelines(server))
    log = tmp_path / "gateway.log"
    gateway = subprocess.Popen(
        [str(LOUPE_BINARY), "gateway", "--pipelines", str(tmp_path / "pipelines.yaml"), "--data-dir", str(tmp_path / "data"),
         "--otlp-grpc-address", "127.0.0.1:0", "--otlp-http-address", "127.0.0.1:0", "--http-address", "127.0.0.1:0",
         "--maximum-backoff", "1s"], stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    try:
        def port(name):
            found = re.findall(rf"(?<![a-z_]){name}=(\d+)", log.read_text(errors="replace"))
            return found[-1] if found else None
        grpc_port = wait_for(lambda: port("otlp_grpc_port"), what="the gRPC listener")
        http_port = wait_for(lambda: port("otlp_http_port"), what="the HTTP listener")
        http_url = f"http://127.0.0.1:{http_port}"

        resource = Resource.create({"service.name": "checkout", "k8s.namespace.name": "shop"})
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(SimpleSpanProcessor(GRPCSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True)))
        with tracer_provider.get_tracer("gateway.test").start_as_current_span("place order") as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
        tracer_provider.shutdown()

        for namespace, body in (("shop", "order placed"), ("other", "not for this pipeline")):
            provider = LoggerProvider(resource=Resource.create({"service.name": "checkout", "k8s.namespace.name": namespace}))
            provider.add_log_record_processor(SimpleLogRecordProcessor(HTTPLogExporter(endpoint=f"{http_url}/v1/logs")))
            provider.get_logger("gateway.test").emit(body=body, severity_number=SeverityNumber.INFO, timestamp=time.time_ns())
            provider.shutdown()

        reader = InMemoryMetricReader()
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        meter = meter_provider.get_meter("gateway.test")
        meter.create_counter("gateway.orders").add(3, {"route": "/checkout"})
        meter.create_counter("gateway.noise").add(1)
        HTTPMetricExporter(endpoint=f"{http_url}/v1/metrics").export(reader.get_metrics_data())
        meter_provider.shutdown()

        def trace():
            reply = requests.get(f"{server.http_url}/api/traces/{trace_id}", timeout=10)
            return reply.json() if reply.status_code == 200 else None
        found = wait_for(trace, what="the trace in loupe up")
        batches = found.get("batches") or found.get("resourceSpans") or []
        attributes = {a["key"]: a["value"] for batch in batches for scope in batch["scopeSpans"]
                      for span in scope["spans"] for a in span["attributes"]}
        assert attributes["via"] == {"stringValue": "gateway"}

        def lines():
            reply = requests.get(f"{server.http_url}/loki/api/v1/query_range",
                                 params={"query": '{service_name="checkout"}', "start": str(time.time_ns() - 3600 * 10**9),
                                         "end": str(time.time_ns() + 60 * 10**9)}, timeout=10)
            return [value[1] for stream in reply.json()["data"]["result"] for value in stream["values"]]
        assert wait_for(lambda: lines() == ["order placed"] and lines(), what="the shop log line") == ["order placed"]

        def series(name):
            reply = requests.get(f"{server.http_url}/api/v1/query", params={"query": name}, timeout=10)
            return reply.json()["data"]["result"]
        orders = wait_for(lambda: series("gateway_orders_total"), what="the metric in loupe up")
        assert orders[0]["value"][1] == "3"
        assert series("gateway_noise_total") == [], "the filter drops it"

        bad = requests.post(f"{http_url}/v1/traces", data=b"\x0a\xff", headers={"Content-Type": "application/x-protobuf"}, timeout=10)
        assert bad.status_code == 400 and "not an OTLP traces request" in bad.text
        status = requests.get(f"http://127.0.0.1:{port('port')}/api/v1/pipelines", timeout=10).json()
        assert {report["name"] for report in status} == {"traces", "shop-logs", "metrics"}
        conditions = {condition["type"]: condition["reason"] for condition in status[0]["conditions"]}
        assert conditions["ConfigurationGenerated"] == "GatewayConfigured" and conditions["GatewayHealthy"] == "GatewayReady", conditions
    finally:
        gateway.send_signal(signal.SIGTERM)
        assert gateway.wait(timeout=30) == 0, log.read_text(errors="replace")[-3000:]


def test_a_metric_pipeline_with_delta_temporality_sends_differences(tmp_path):
    """Cumulative sums pushed to the gateway reach the backend as deltas (the backend here records
    what it receives)."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.metrics.v1.metrics_pb2 import AGGREGATION_TEMPORALITY_CUMULATIVE, AGGREGATION_TEMPORALITY_DELTA

    backend = OTLPSink()

    def received():
        return [(point.start_time_unix_nano, point.time_unix_nano, point.as_int, metric.sum.aggregation_temporality)
                for rm in backend.resource_metrics for sm in rm.scope_metrics for metric in sm.metrics for point in metric.sum.data_points]

    (tmp_path / "p.yaml").write_text(f"""apiVersion: telemetry.loupe.dev/v1beta1
kind: MetricPipeline
metadata: {{name: delta}}
spec:
  output:
    otlp:
      protocol: http
      endpoint: {{value: "{backend.url}"}}
      temporality: delta
""")
    log = tmp_path / "gateway.log"
    gateway = subprocess.Popen(
        [str(LOUPE_BINARY), "gateway", "--pipelines", str(tmp_path / "p.yaml"), "--data-dir", str(tmp_path / "data"),
         "--otlp-grpc-address", "127.0.0.1:0", "--otlp-http-address", "127.0.0.1:0", "--http-address", "127.0.0.1:0"],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    try:
        port = wait_for(lambda: (re.findall(r"otlp_http_port=(\d+)", log.read_text(errors="replace")) or [None])[-1],
                        what="the HTTP listener")
        start = time.time_ns()
        for offset, value in ((1, 10), (2, 15), (3, 22)):
            request = ExportMetricsServiceRequest()
            metric = request.resource_metrics.add().scope_metrics.add().metrics.add()
            metric.name = "orders"
            metric.sum.is_monotonic = True
            metric.sum.aggregation_temporality = AGGREGATION_TEMPORALITY_CUMULATIVE
            point = metric.sum.data_points.add()
            point.start_time_unix_nano = start
            point.time_unix_nano = start + offset * 10**9
            point.as_int = value
            reply = requests.post(f"http://127.0.0.1:{port}/v1/metrics", data=request.SerializeToString(),
                                  headers={"Content-Type": "application/x-protobuf"}, timeout=10)
            assert reply.status_code == 200, reply.text
        wait_for(lambda: len(received()) >= 3, what="three deltas")
        assert [value for _, _, value, _ in received()] == [10, 5, 7], received()
        assert {temporality for *_, temporality in received()} == {AGGREGATION_TEMPORALITY_DELTA}
        assert [(s - start, t - start) for s, t, _, _ in received()] == [(0, 10**9), (10**9, 2 * 10**9), (2 * 10**9, 3 * 10**9)]
    finally:
        gateway.send_signal(signal.SIGTERM)
        assert gateway.wait(timeout=30) == 0, log.read_text(errors="replace")[-3000:]
        backend.close()
