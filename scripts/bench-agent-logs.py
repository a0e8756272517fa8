#!/usr/bin/env python3
"""Agent throughput: tail + parse + enrich + export of CRI container log lines.

Writes SIZE_MB of CRI lines (a mix of plain text and JSON bodies, ~200 bytes each) into
PODS pod directories under a kubelet-style root, starts a sink that answers every OTLP/HTTP
request with 200 (counting bytes, decoding nothing), starts `loupe agent` on the files, and
times until the agent's sent counter covers every line. Prints MB/s of log file bytes, the
agent's CPU seconds and its peak RSS, and its idle RSS 3 s and 68 s after the run.

Usage: scripts/bench-agent-logs.py LOUPE_BINARY [SIZE_MB] [PODS]
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

binary = sys.argv[1]
size_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 500
pods = int(sys.argv[3]) if len(sys.argv) > 3 else 8
work = tempfile.mkdtemp(prefix="agent-bench-")
root = os.path.join(work, "pods")

lines_total = 0
bytes_total = 0
per_pod = size_mb * 1_000_000 // pods
for pod in range(pods):
    directory = os.path.join(root, f"shop_checkout-7d9f8b6c4-x{pod:04d}_0c6a9c1e-1111-2222-3333-44445555{pod:04d}", "app")
    os.makedirs(directory)
    chunk = []
    for n in range(2000):
        if n % 2:
            text = json.dumps({"level": "info", "msg": f"request {n} served", "route": "/api/v1/orders", "status": 200,
                               "duration_ms": n % 97, "trace_id": f"{n:032x}", "user": f"user-{n % 113}"})
        else:
            text = f"GET /api/v1/orders/{n} 200 {n % 97}ms client=10.0.{n % 250}.{n % 13} agent=Mozilla/5.0 (X11; Linux x86_64)"
        chunk.append(f"2024-03-01T10:00:{n % 60:02d}.{n:09d}Z stdout F {text}\n")
    block = "".join(chunk).encode()
    written = 0
    with open(os.path.join(directory, "0.log"), "wb") as file:
        while written < per_pod:
            file.write(block)
            written += len(block)
            lines_total += len(chunk)
    bytes_total += written

received = {"bytes": 0, "requests": 0}


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        received["bytes"] += len(body)
        received["requests"] += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
threading.Thread(target=sink.serve_forever, daemon=True).start()
pipeline = os.path.join(work, "pipeline.yaml")
with open(pipeline, "w") as file:
    file.write(f"""apiVersion: telemetry.loupe.dev/v1beta1
kind: LogPipeline
metadata: {{name: bench}}
spec:
  output:
    otlp:
      protocol: http
      endpoint: {{value: "http://127.0.0.1:{sink.server_address[1]}"}}
""")
log = open(os.path.join(work, "agent.log"), "wb")
start = time.time()
agent = subprocess.Popen(os.environ.get("AGENT_WRAPPER", "").split() + [binary, "agent", "--pipelines", pipeline, "--data-dir", os.path.join(work, "data"), "--pod-log-root", root,
                          "--http-address", "127.0.0.1:0", "--queue-size", "4GiB"], stdout=log, stderr=subprocess.STDOUT)


def agent_port():
    for _ in range(200):
        found = re.findall(rb"port=(\d+).*agent HTTP listening", open(os.path.join(work, "agent.log"), "rb").read())
        if found:
            return int(found[-1])
        time.sleep(0.05)
    raise SystemExit("agent did not start")


port = agent_port()


def sent():
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    return int(re.search(r'^loupe_pipeline_sent_items_total\{.*\} (\d+)$', text, re.M).group(1))


peak = 0
while True:
    with open(f"/proc/{agent.pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) // 1024
    if sent() >= lines_total:
        break
    time.sleep(0.2)
elapsed = time.time() - start
with open(f"/proc/{agent.pid}/stat") as stat:
    fields = stat.read().split(")")[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
def resident() -> str:
    with open(f"/proc/{agent.pid}/status") as status:
        values = {line.split(":")[0]: int(line.split()[1]) // 1024 for line in status if line.startswith(("VmRSS:", "RssAnon:", "RssFile:"))}
    return f"{values['VmRSS']} MB (anonymous {values['RssAnon']}, file {values['RssFile']})"


time.sleep(3)
idle = resident()
# The agent unmaps code it is not running once a minute (IdleCodeRelease): idle again after that.
time.sleep(65)
idle_later = resident()
agent.terminate()
agent.wait(timeout=30)
sink.shutdown()
print(f"lines {lines_total:,}  bytes {bytes_total / 1e6:.0f} MB  elapsed {elapsed:.2f} s  -> {bytes_total / 1e6 / elapsed:.1f} MB/s, "
      f"{lines_total / elapsed:,.0f} lines/s")
print(f"agent CPU {cpu:.2f} s ({bytes_total / 1e6 / cpu:.1f} MB per CPU-second)  peak RSS {peak} MB")
print(f"RSS idle 3 s after the run {idle}; 68 s after {idle_later}")
print(f"sink received {received['requests']} requests, {received['bytes'] / 1e6:.1f} MB on the wire")
shutil.rmtree(work)
