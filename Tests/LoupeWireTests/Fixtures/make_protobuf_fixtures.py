#!/usr/bin/env python3
"""Regenerates the OTLP protobuf fixtures in otlp-examples/ from the OTLP/JSON examples.

The bytes are produced by the official Python protobuf runtime and the official OpenTelemetry
bindings, so the Swift decoder is checked against an independent encoder:

    python3 -m venv /tmp/otel && /tmp/otel/bin/pip install opentelemetry-proto protobuf
    /tmp/otel/bin/python Tests/LoupeWireTests/Fixtures/make_protobuf_fixtures.py [EXAMPLES_DIR]

EXAMPLES_DIR defaults to shared/conformance/otlp-examples beside the repository. OTLP/JSON writes
trace and span IDs as hex, which google.protobuf.json_format (the proto3 JSON mapping) does not
accept for bytes fields; they are converted to base64 first.
"""

import base64
import json
import os
import sys

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_EXAMPLES = os.path.normpath(os.path.join(HERE, "..", "..", "..", "..", "shared", "conformance", "otlp-examples"))
OUTPUT = os.path.join(HERE, "otlp-examples")

FIXTURES = {
    "trace": ExportTraceServiceRequest,
    "metrics": ExportMetricsServiceRequest,
    "logs": ExportLogsServiceRequest,
    "events": ExportLogsServiceRequest,
}

ID_KEYS = {"traceId", "spanId", "parentSpanId"}


def hex_ids_to_base64(node):
    """Rewrites every traceId/spanId/parentSpanId hex string in the tree as base64."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ID_KEYS and isinstance(value, str):
                node[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
            else:
                hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            hex_ids_to_base64(item)
    return node


def main():
    examples = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_EXAMPLES
    os.makedirs(OUTPUT, exist_ok=True)
    for name, message_type in FIXTURES.items():
        with open(os.path.join(examples, name + ".json"), encoding="utf-8") as file:
            document = hex_ids_to_base64(json.load(file))
        message = json_format.ParseDict(document, message_type())
        data = message.SerializeToString(deterministic=True)
        with open(os.path.join(OUTPUT, name + ".pb"), "wb") as file:
            file.write(data)
        print(f"{name}.pb: {len(data)} bytes ({message_type.DESCRIPTOR.full_name})")


if __name__ == "__main__":
    main()
