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
        metrics = requests.get(f"http://127.0.0.1:{port('port')}/metrics", timeout=10).text
        for family in ("received_items_total", "sent_items_total", "failed_requests_total", "refused_items_total", "queued_requests"):
            assert f'loupe_pipeline_{family}{{kind="LogPipeline",pipeline="shop-logs"}}' in metrics, family
        sent = re.search(r'^loupe_pipeline_sent_items_total\{kind="TracePipeline",pipeline="traces"\} (\d+)$', metrics, re.M)
        assert sent and int(sent.group(1)) >= 1, metrics
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


def test_pushed_resources_get_the_metadata_of_the_pod_they_came_from(tmp_path):
    """The gateway watches every pod (no node selector) and adds to pushed resources the metadata
    of their pod: found by k8s.pod.ip, by k8s.pod.uid, or by the address the request came from
    (a host-network pod sharing that address is not taken for it); the cluster's name always.
    What the application set stays, except the SDK's unknown_service default."""
    import threading
    from http.server import BaseHTTPRequestHandler

    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GRPCLogExporter
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    from loupe_testlib import reply_json, serve

    pods = [
        {"metadata": {"name": "checkout-7d9f8b6c4-x2k9p", "namespace": "shop", "uid": "uid-1",
                      "labels": {"app.kubernetes.io/name": "checkout-api", "team": "payments", "pod-template-hash": "7d9f8b6c4"},
                      "ownerReferences": [{"kind": "ReplicaSet", "name": "checkout-7d9f8b6c4", "controller": True}]},
         "status": {"podIP": "10.1.2.3"}},
        {"metadata": {"name": "local-0", "namespace": "dev", "uid": "uid-2",
                      "ownerReferences": [{"kind": "StatefulSet", "name": "local", "controller": True}]},
         "status": {"podIP": "127.0.0.1"}},
        {"metadata": {"name": "node-exporter-b5n4c", "namespace": "monitoring", "uid": "uid-3"},
         "spec": {"hostNetwork": True}, "status": {"podIP": "127.0.0.1"}},
    ]
    paths: list[str] = []
    lock = threading.Lock()

    class API(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            with lock:
                paths.append(self.path)
            if "watch=1" in self.path:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                time.sleep(1)
                return
            reply_json(self, {"kind": "PodList", "metadata": {"resourceVersion": "3"}, "items": pods})

        def log_message(self, *args):
            pass

    api = serve(API)
    token = tmp_path / "token"
    token.write_text("gateway-token\n")
    backend = OTLPSink()
    (tmp_path / "p.yaml").write_text(f"""apiVersion: telemetry.loupe.dev/v1beta1
kind: LogPipeline
metadata: {{name: logs}}
spec:
  output:
    otlp:
      protocol: http
      endpoint: {{value: "{backend.url}"}}
""")
    log = tmp_path / "gateway.log"
    gateway = subprocess.Popen(
        [str(LOUPE_BINARY), "gateway", "--pipelines", str(tmp_path / "p.yaml"), "--data-dir", str(tmp_path / "data"),
         "--otlp-grpc-address", "127.0.0.1:0", "--otlp-http-address", "127.0.0.1:0", "--http-address", "127.0.0.1:0",
         "--kubernetes-api", f"http://127.0.0.1:{api.server_address[1]}", "--kubernetes-token-file", str(token),
         "--cluster-name", "prod", "--extract-pod-label", "team"],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    try:
        http_port = wait_for(lambda: (re.findall(r"otlp_http_port=(\d+)", log.read_text(errors="replace")) or [None])[-1], what="the HTTP listener")
        grpc_port = wait_for(lambda: (re.findall(r"otlp_grpc_port=(\d+)", log.read_text(errors="replace")) or [None])[-1], what="the gRPC listener")
        wait_for(lambda: any("watch=1" in path for path in paths), what="the pod list and watch")
        assert paths[0] == "/api/v1/pods", "every node's pods"

        def push(body: str, **attributes: str) -> None:
            request = ExportLogsServiceRequest()
            resource_logs = request.resource_logs.add()
            for key, value in attributes.items():
                attribute = resource_logs.resource.attributes.add()
                attribute.key = key.replace("_", ".")
                attribute.value.string_value = value
            resource_logs.scope_logs.add().log_records.add().body.string_value = body
            reply = requests.post(f"http://127.0.0.1:{http_port}/v1/logs", data=request.SerializeToString(),
                                  headers={"Content-Type": "application/x-protobuf"}, timeout=10)
            assert reply.status_code == 200, reply.text

        push("by ip", k8s_pod_ip="10.1.2.3", service_name="unknown_service:python")
        push("by peer", service_name="mine")
        push("unknown pod", k8s_pod_uid="uid-unknown")
        provider = LoggerProvider(resource=Resource.create({}))
        provider.add_log_record_processor(SimpleLogRecordProcessor(GRPCLogExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True)))
        provider.get_logger("test").emit(body="over grpc", severity_number=SeverityNumber.INFO)
        provider.shutdown()

        wait_for(lambda: len(backend.bodies()) == 4, what="the four records")
        resources = {record.body.string_value: {key: value.string_value for key, value in resource.items()} for resource, record in backend.records}
        by_ip = resources["by ip"]
        assert by_ip["k8s.namespace.name"] == "shop" and by_ip["k8s.pod.name"] == "checkout-7d9f8b6c4-x2k9p" and by_ip["k8s.pod.uid"] == "uid-1"
        assert by_ip["k8s.deployment.name"] == "checkout" and by_ip["k8s.pod.label.team"] == "payments"
        assert by_ip["service.name"] == "checkout-api" and by_ip["k8s.cluster.name"] == "prod"
        by_peer = resources["by peer"]
        assert by_peer["k8s.pod.name"] == "local-0" and by_peer["k8s.statefulset.name"] == "local", "not the host-network pod"
        assert by_peer["service.name"] == "mine", "what the application said stays"
        assert resources["unknown pod"] == {"k8s.pod.uid": "uid-unknown", "k8s.cluster.name": "prod"}
        over_grpc = resources["over grpc"]
        assert over_grpc["k8s.pod.name"] == "local-0" and over_grpc["service.name"] == "local" and over_grpc["k8s.namespace.name"] == "dev"
    finally:
        gateway.send_signal(signal.SIGTERM)
        assert gateway.wait(timeout=30) == 0, log.read_text(errors="replace")[-3000:]
        backend.close()
        api.shutdown()
