"""`loupe agent`: container log files in the kubelet's layout, tailed, enriched and shipped over
OTLP/HTTP to a recording sink (and to `loupe up`), through rotation, copytruncate, a backend outage
and a kill -9 of the agent, with every line arriving."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from loupe_testlib import LOUPE_BINARY, OTLPSink, reply_json, serve, wait_for

POD_UID = "0c6a9c1e-1111-2222-3333-444455556666"


class Agent:
    def __init__(self, tmp: Path, pipelines: str, root: Path) -> None:
        self.tmp = tmp
        self.pipelines = tmp / "pipelines.yaml"
        self.pipelines.write_text(pipelines)
        self.root = root
        self.data = tmp / "agent-data"
        self.log = tmp / "agent.log"
        self.process: subprocess.Popen | None = None

    def start(self, *extra_args: str) -> "Agent":
        self.process = subprocess.Popen(
            [str(LOUPE_BINARY), "agent", "--pipelines", str(self.pipelines), "--data-dir", str(self.data),
             "--pod-log-root", str(self.root), "--node-name", "node-1", "--maximum-backoff", "1s", "--log-level", "debug",
             "--http-address", "127.0.0.1:0", "--reload-interval", "200ms", *extra_args],
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=20)
        finally:
            self.process = None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def http_url(self) -> str:
        """The agent's own listener, from the line it logs once listening (the last start's)."""
        def port():
            found = re.findall(r"port=(\d+).*agent HTTP listening", self.output())
            return found[-1] if found and self.process is not None else None
        return f"http://127.0.0.1:{wait_for(port, what='the agent listening')}"

    def status(self) -> dict:
        reply = requests.get(self.http_url() + "/api/v1/pipelines", timeout=10)
        assert reply.status_code == 200, reply.text
        return {report["name"]: report for report in reply.json()}

    def metric(self, name: str) -> float:
        text = requests.get(self.http_url() + "/metrics", timeout=10).text
        match = re.search(rf'^{name}{{kind="LogPipeline",pipeline="backend"}} (\d+)$', text, re.M)
        assert match, text
        return float(match.group(1))


def pipeline(endpoint: str, extra: str = "") -> str:
    return f"""
apiVersion: telemetry.loupe.dev/v1beta1
kind: LogPipeline
metadata:
  name: backend
spec:
  input:
    runtime:
      containers:
        exclude: [istio-proxy]{extra}
  output:
    otlp:
      protocol: http
      endpoint:
        value: {endpoint}
"""


def container_log(root: Path, namespace: str, pod: str, container: str, number: int = 0) -> Path:
    directory = root / f"{namespace}_{pod}_{POD_UID}" / container
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{number}.log"


def cri(text: str, stream: str = "stdout", tag: str = "F", at: str = "2024-03-01T10:00:00.000000001Z") -> str:
    return f"{at} {stream} {tag} {text}\n"


def append(path: Path, text: str) -> None:
    with open(path, "a") as file:
        file.write(text)


@pytest.fixture
def sink():
    sink = OTLPSink()
    yield sink
    sink.close()


@pytest.fixture
def agents(tmp_path):
    started: list[Agent] = []

    def make(pipelines: str, root: Path) -> Agent:
        agent = Agent(tmp_path, pipelines, root)
        started.append(agent)
        return agent

    yield make
    for agent in started:
        if agent.process is not None:
            agent.stop(signal.SIGKILL)


def test_container_logs_arrive_joined_parsed_and_enriched(tmp_path, sink, agents):
    root = tmp_path / "pods"
    app = container_log(root, "shop", "checkout-7d9f8b6c4-x2k9p", "checkout")
    append(app, cri("plain line") + cri("split ", tag="P") + cri("in ", tag="P", stream="stdout") + cri("three") + cri("oops", stream="stderr"))
    append(app, cri(json.dumps({"level": "error", "msg": "payment failed", "order": 42,
                                "trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331"})))
    docker = container_log(root, "shop", "cart-0", "cart")
    append(docker, json.dumps({"log": "from docker\n", "stream": "stdout", "time": "2024-03-01T10:00:01Z"}) + "\n")
    append(container_log(root, "shop", "checkout-7d9f8b6c4-x2k9p", "istio-proxy"), cri("sidecar noise"))
    append(container_log(root, "kube-system", "coredns-5d78c9869d-abcde", "coredns"), cri("system noise"))

    agent = agents(pipeline(sink.url), root).start()
    bodies = wait_for(lambda: len(sink.bodies()) >= 5 and sink.bodies(), what="five records")
    time.sleep(1)
    assert sorted(sink.bodies()) == sorted(["plain line", "split in three", "oops", "payment failed", "from docker"]), agent.output()
    by_body = {record.body.string_value: (resource, record) for resource, record in sink.records}
    resource, record = by_body["payment failed"]
    assert resource["k8s.namespace.name"].string_value == "shop"
    assert resource["k8s.pod.name"].string_value == "checkout-7d9f8b6c4-x2k9p"
    assert resource["k8s.pod.uid"].string_value == POD_UID
    assert resource["k8s.container.name"].string_value == "checkout"
    assert resource["k8s.node.name"].string_value == "node-1"
    assert resource["service.name"].string_value == "checkout"
    assert record.severity_number == 17 and record.severity_text == "error"
    assert record.trace_id.hex() == "0af7651916cd43dd8448eb211c80319c" and record.span_id.hex() == "b7ad6b7169203331"
    attributes = {kv.key: kv.value for kv in record.attributes}
    assert attributes["order"].int_value == 42 and attributes["log.iostream"].string_value == "stdout"
    assert "log.original" in attributes
    assert by_body["oops"][1].attributes[0].value.string_value == "stderr"
    assert by_body["split in three"][1].time_unix_nano == 1709287200000000001
    assert by_body["from docker"][0]["service.name"].string_value == "cart"
    assert agent.stop() == 0


def test_rotation_by_rename_and_copytruncate_lose_and_repeat_nothing(tmp_path, sink, agents):
    root = tmp_path / "pods"
    renamed = container_log(root, "shop", "web-0", "web")
    truncated = container_log(root, "shop", "api-0", "api")
    agent = agents(pipeline(sink.url), root).start()
    expected: list[str] = []

    def write(path: Path, prefix: str, start: int, count: int) -> None:
        append(path, "".join(cri(f"{prefix} {n}") for n in range(start, start + count)))
        expected.extend(f"{prefix} {n}" for n in range(start, start + count))

    write(renamed, "web", 0, 100)
    write(truncated, "api", 0, 100)
    wait_for(lambda: len(sink.bodies()) >= 200, what="the first 200 lines")
    # Rename rotation: lines land in the old file just before the rename, then in the new file.
    write(renamed, "web", 100, 50)
    os.rename(renamed, str(renamed) + ".20240301-100000")
    write(renamed, "web", 150, 100)
    # Copytruncate: the file is copied aside, emptied in place and written on.
    wait_for(lambda: len(sink.bodies()) >= 250, what="lines before copytruncate")
    data = truncated.read_bytes()
    (truncated.parent / "0.log.1").write_bytes(data)
    with open(truncated, "r+") as file:
        file.truncate(0)
    write(truncated, "api", 100, 30)
    wait_for(lambda: len(sink.bodies()) >= len(expected), what=f"{len(expected)} lines")
    time.sleep(1.5)
    bodies = sink.bodies()
    assert sorted(bodies) == sorted(expected), (len(bodies), len(expected), agent.output()[-3000:])
    assert agent.stop() == 0


def test_a_line_split_by_rotation_survives_a_kill_9(tmp_path, sink, agents):
    """The runtime wrote the first piece of a line (P), the file was rotated by rename, the agent
    moved to the new file and was killed with kill -9 before the rest (F) came: the piece it held
    is in its checkpoint, so the line arrives whole after the restart."""
    root = tmp_path / "pods"
    path = container_log(root, "shop", "web-0", "web")
    checkpoints = tmp_path / "agent-data" / "pipelines" / "logpipeline" / "backend" / "checkpoints.json"
    agent = agents(pipeline(sink.url), root).start()
    append(path, cri("before"))
    wait_for(lambda: sink.bodies() == ["before"], what="the first line")
    append(path, cri("the first half, ", tag="P"))
    os.rename(path, str(path) + ".20240301-100000")
    path.write_text("")
    new_inode = path.stat().st_ino

    def carried():
        if not checkpoints.exists():
            return None
        entry = next(iter(json.loads(checkpoints.read_text())["files"].values()), None)
        return entry if entry and entry["inode"] == new_inode and entry.get("carried") else None

    entry = wait_for(carried, what="the checkpoint of the new file carrying the piece")
    assert [piece["text"] for piece in entry["carried"]] == ["the first half, "]
    agent.stop(signal.SIGKILL)
    append(path, cri("the second half"))
    agent.start()
    wait_for(lambda: len(sink.bodies()) >= 2, what="the joined line after the restart")
    time.sleep(1)
    assert sink.bodies() == ["before", "the first half, the second half"]
    assert agent.stop() == 0


def test_an_outage_and_a_kill_9_lose_nothing(tmp_path, sink, agents):
    root = tmp_path / "pods"
    path = container_log(root, "shop", "orders-0", "orders")
    sink.status = 503
    agent = agents(pipeline(sink.url), root).start()
    expected = [f"line {n} " + "x" * (n % 200) for n in range(3000)]
    for chunk in range(0, 1500, 100):
        append(path, "".join(cri(text) for text in expected[chunk:chunk + 100]))
    queue = agent.data / "pipelines" / "logpipeline" / "backend" / "queue"
    wait_for(lambda: sink.requests >= 2, what="failed delivery attempts")
    # Queued means on disk (the queue holds the requests gzip-compressed, as they are sent).
    wait_for(lambda: agent.metric("loupe_pipeline_received_items_total") >= 1500, what="lines queued on disk")
    assert sum(f.stat().st_size for f in queue.glob("*.queue")) > 1_000
    agent.stop(signal.SIGKILL)
    # While the agent is down the application goes on writing.
    for chunk in range(1500, 3000, 100):
        append(path, "".join(cri(text) for text in expected[chunk:chunk + 100]))
    agent.start()
    time.sleep(2)
    assert sink.bodies() == [], "nothing is delivered during the outage"
    flow = agent.status()["backend"]["conditions"][2]
    assert (flow["type"], flow["status"], flow["reason"]) == ("TelemetryFlowHealthy", "False", "NoLogsDelivered"), flow
    assert agent.metric("loupe_pipeline_failed_requests_total") > 0 and agent.metric("loupe_pipeline_queued_requests") >= 1
    sink.status = 200
    wait_for(lambda: len(set(sink.bodies())) >= len(expected), timeout=60, what="every line after the outage")
    bodies = sink.bodies()
    assert set(bodies) == set(expected)
    duplicates = len(bodies) - len(set(bodies))
    print(f"duplicates after kill -9: {duplicates}, requests: {sink.requests}")
    # At least once: lines queued but not yet checkpointed when killed may come twice, no more.
    assert duplicates <= 1500, duplicates
    wait_for(lambda: agent.metric("loupe_pipeline_queued_requests") == 0, what="an empty queue")
    assert agent.metric("loupe_pipeline_sent_items_total") >= 1500, "counted since the restart"
    status = subprocess.run([str(LOUPE_BINARY), "pipelines", "status", "--agent", agent.http_url()], capture_output=True, text=True, timeout=30)
    assert status.returncode == 0 and 'LogPipeline "backend"' in status.stdout and "TelemetryFlowHealthy" in status.stdout, status
    assert agent.stop() == 0


def _loki_lines(server, query: str) -> list[str]:
    reply = requests.get(f"{server.http_url}/loki/api/v1/query_range",
                         params={"query": query, "start": "1700000000000000000", "end": "1800000000000000000", "limit": 1000},
                         timeout=10)
    assert reply.status_code == 200, reply.text
    return [value[1] for stream in reply.json()["data"]["result"] for value in stream["values"]]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_the_agent_ships_to_loupe_up(tmp_path, agents, loupe_factory, protocol):
    server = loupe_factory.new()
    root = tmp_path / "pods"
    append(container_log(root, "shop", "checkout-7d9f8b6c4-x2k9p", "checkout"), "".join(cri(f"order {n} placed") for n in range(50)))
    if protocol == "http":
        text = pipeline(server.otlp_http_url)
    else:
        text = pipeline(server.otlp_grpc_address).replace("protocol: http", "protocol: grpc") + "      tls:\n        insecure: true\n"
    agent = agents(text, root).start()
    query = '{service_name="checkout"} |= "placed"'
    found = wait_for(lambda: len(_loki_lines(server, query)) >= 50 and _loki_lines(server, query), what="lines in Loupe")
    assert sorted(found) == sorted(f"order {n} placed" for n in range(50)), agent.output()[-2000:]
    assert agent.stop() == 0


@pytest.mark.parametrize("extra, message", [
    ("\n      namespaces:\n        include: [Bad]", 'spec.input.runtime.namespaces.include[0]: "Bad" is not a namespace name'),
])
def test_a_wrong_pipeline_is_refused_with_where_and_what(tmp_path, agents, extra, message):
    agent = agents(pipeline("http://127.0.0.1:1", extra), tmp_path / "pods").start()
    assert agent.process.wait(timeout=30) != 0
    agent.process = None
    output = agent.output()
    assert message in output and "pipelines.yaml:" in output, output


def test_oauth2_client_credentials_with_a_token_renewed_when_refused(tmp_path, sink, agents):
    """The token endpoint hands out tok-1, then tok-2; the backend takes only tok-2: the agent's
    first request is refused (401), it fetches a new token and delivers."""
    import base64
    from urllib.parse import parse_qs

    issued: list[dict] = []

    class TokenHandler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            issued.append({"auth": self.headers.get("Authorization"), "form": form})
            reply_json(self, {"access_token": f"tok-{len(issued)}", "token_type": "Bearer", "expires_in": 3600})

        def log_message(self, *args):
            pass

    token_server = serve(TokenHandler)
    try:
        sink.required_bearer = "tok-2"
        root = tmp_path / "pods"
        append(container_log(root, "shop", "web-0", "web"), cri("behind oauth2"))
        text = pipeline(sink.url) + f"""      authentication:
        oauth2:
          tokenURL: {{value: "http://127.0.0.1:{token_server.server_address[1]}/token"}}
          clientID: {{value: "agent id"}}
          clientSecret: {{value: "s3cret"}}
          scopes: [logs.write]
          params: {{audience: backend}}
"""
        agent = agents(text, root).start()
        wait_for(lambda: sink.bodies() == ["behind oauth2"], what="delivery with the renewed token")
        assert len(issued) == 2, issued
        assert issued[0]["auth"] == "Basic " + base64.b64encode(b"agent+id:s3cret").decode()
        assert issued[0]["form"] == {"grant_type": ["client_credentials"], "scope": ["logs.write"], "audience": ["backend"]}
        append(container_log(root, "shop", "web-0", "web"), cri("second line"))
        wait_for(lambda: len(sink.bodies()) == 2, what="the second line")
        assert len(issued) == 2, "the token is kept while it is good"
        assert agent.stop() == 0
    finally:
        token_server.shutdown()


def test_pipelines_validate_names_the_file_line_and_field(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(pipeline("http://collector:4318"))
    result = subprocess.run([str(LOUPE_BINARY), "pipelines", "validate", str(good)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and 'LogPipeline "backend": valid' in result.stdout, result
    bad = tmp_path / "bad.yaml"
    bad.write_text(pipeline("collector"))
    result = subprocess.run([str(LOUPE_BINARY), "pipelines", "validate", str(bad)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert f'{bad}:15:16: LogPipeline "backend": spec.output.otlp.endpoint.value: "collector" is not an endpoint' in result.stdout, result.stdout


def test_transform_and_filter_rules_apply_before_shipping(tmp_path, sink, agents):
    root = tmp_path / "pods"
    append(container_log(root, "shop", "web-0", "web"),
           cri("GET /healthz 200") + cri(json.dumps({"level": "warning", "msg": "slow checkout"})) + cri("order placed"))
    rules = """
  transform:
    - conditions: ['log.severity_text == "warning"']
      statements: ['set(log.severity_text, "WARN")', 'set(log.attributes["team"], "payments")']
  filter:
    - conditions: ['IsMatch(log.body, ".*healthz.*")']
"""
    agent = agents(pipeline(sink.url) + rules, root).start()
    wait_for(lambda: len(sink.bodies()) >= 2, what="two records")
    wait_for(lambda: agent.metric("loupe_pipeline_filtered_items_total") == 1, what="the filtered count")
    assert sorted(sink.bodies()) == ["order placed", "slow checkout"]
    record = next(record for _, record in sink.records if record.body.string_value == "slow checkout")
    assert record.severity_text == "WARN"
    assert {kv.key: kv.value.string_value for kv in record.attributes}["team"] == "payments"
    assert agent.stop() == 0


def disk_usage(top):
    """Bytes allocated to a tree, as du counts them: every entry with the top one, hard links once."""
    seen, total = set(), 0
    for directory, directories, files in os.walk(top):
        for path in [directory] + [os.path.join(directory, name) for name in files]:
            status = os.lstat(path)
            if status.st_nlink > 1 and not os.path.isdir(path):
                if (status.st_dev, status.st_ino) in seen:
                    continue
                seen.add((status.st_dev, status.st_ino))
            total += status.st_blocks * 512
    return total


def test_node_pod_and_container_metrics_from_proc_and_cgroups(tmp_path, agents):
    """A MetricPipeline's runtime input over a /proc and cgroup v2 tree laid out as on a node."""
    backend = OTLPSink()
    received = backend.resource_metrics
    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    (proc / "stat").write_text("cpu  1 2 3 4 5 6 7 8 0 0\ncpu0 100 0 50 1000 0 0 0 0 0 0\nbtime 1700000000\n")
    (proc / "meminfo").write_text("MemTotal: 1000 kB\nMemFree: 400 kB\nBuffers: 100 kB\nCached: 200 kB\n")
    (proc / "diskstats").write_text(" 253 0 vda 10 0 8 5 20 0 16 7 0 0 0\n")
    (proc / "net" / "dev").write_text("Inter-|\n face |\n  eth0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n")
    (proc / "mounts").write_text(f"/dev/vda1 {tmp_path} ext4 rw 0 0\n")
    uid = "0c6a9c1e-1111-2222-3333-444455556666"
    container_id = "ab" * 32
    pod_cgroup = tmp_path / "cgroup" / "kubepods.slice" / "kubepods-burstable.slice" / f"kubepods-burstable-pod{uid.replace('-', '_')}.slice"
    container_cgroup = pod_cgroup / f"cri-containerd-{container_id}.scope"
    container_cgroup.mkdir(parents=True)
    for directory, usec, memory in ((pod_cgroup, 3_000_000, 2048), (container_cgroup, 2_500_000, 1024)):
        (directory / "cpu.stat").write_text(f"usage_usec {usec}\nuser_usec 1\n")
        (directory / "memory.current").write_text(f"{memory}\n")
        (directory / "io.stat").write_text("253:0 rbytes=100 wbytes=200 rios=1 wios=2\n")
    # The pod's network namespace, seen through a process of its container (the pod cgroup itself holds none).
    (pod_cgroup / "cgroup.procs").write_text("")
    (container_cgroup / "cgroup.procs").write_text("4242\n4243\n")
    (proc / "4242" / "net").mkdir(parents=True)
    (proc / "4242" / "net" / "dev").write_text(
        "Inter-|\n face |\n    lo: 5 1 0 0 0 0 0 0 5 1 0 0 0 0 0 0\n  eth0: 3000 30 0 0 0 0 0 0 4000 40 0 0 0 0 0 0\n")
    # The container's root is an overlay; its writable layer (upperdir) holds what it wrote, a
    # file twice linked among it. The node's root is reached through its init process.
    upper = tmp_path / "snapshots" / "45" / "fs"
    (upper / "var" / "cache").mkdir(parents=True)
    (upper / "var" / "cache" / "index.db").write_bytes(os.urandom(40_000))
    (upper / "tmp").mkdir()
    (upper / "tmp" / "scratch").write_bytes(b"x" * 9_000)
    os.link(upper / "tmp" / "scratch", upper / "tmp" / "scratch-again")
    (proc / "4242" / "mountinfo").write_text(
        f"1201 1100 0:345 / / rw,relatime master:12 - overlay overlay rw,lowerdir={tmp_path}/snapshots/3/fs,upperdir={upper},workdir={tmp_path}/snapshots/45/work\n"
        "1202 1201 0:350 / /proc rw,nosuid - proc proc rw\n")
    (proc / "1").mkdir()
    os.symlink("/", proc / "1" / "root")
    pods = tmp_path / "pods"
    (pods / f"shop_checkout-7d9f8b6c4-x2k9p_{uid}" / "app").mkdir(parents=True)
    (pods / f"shop_checkout-7d9f8b6c4-x2k9p_{uid}" / "app" / "0.log").write_bytes(b"2024-01-01T00:00:00Z stdout F hello\n" * 300)
    links = tmp_path / "containers"
    links.mkdir()
    (links / f"checkout-7d9f8b6c4-x2k9p_shop_app-{container_id}.log").write_text("")
    # The pod's volumes as the kubelet mounts them; another pod's, of a system namespace, is left out.
    kubelet = tmp_path / "kubelet"
    volumes = kubelet / "pods" / uid / "volumes"
    (volumes / "kubernetes.io~empty-dir" / "cache").mkdir(parents=True)
    (volumes / "kubernetes.io~configmap" / "settings").mkdir(parents=True)
    (volumes / "kubernetes.io~empty-dir" / "cache" / "blob").write_bytes(os.urandom(20_000))
    system_uid = "0c6a9c1e-9999-2222-3333-444455556666"
    (pods / f"kube-system_coredns-1_{system_uid}" / "coredns").mkdir(parents=True)
    (kubelet / "pods" / system_uid / "volumes" / "kubernetes.io~empty-dir" / "tmp").mkdir(parents=True)
    text = f"""apiVersion: telemetry.loupe.dev/v1beta1
kind: MetricPipeline
metadata: {{name: backend}}
spec:
  input:
    runtime:
      enabled: true
      namespaces: {{exclude: [kube-system]}}
  output:
    otlp:
      protocol: http
      endpoint: {{value: "{backend.url}"}}
"""
    agent = agents(text, pods)
    agent.process = subprocess.Popen(
        [str(LOUPE_BINARY), "agent", "--pipelines", str(agent.pipelines), "--data-dir", str(agent.data), "--pod-log-root", str(pods),
         "--node-name", "node-1", "--http-address", "127.0.0.1:0", "--metric-interval", "1s", "--proc-root", str(proc),
         "--cgroup-root", str(tmp_path / "cgroup"), "--container-links-root", str(links), "--kubelet-root", str(kubelet),
         "--cluster-name", "prod"],
        stdout=open(agent.log, "ab"), stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: len(received) >= 5, what="node, pod, container and volume metrics")
        by_kind = {}
        for resource_metrics in received[:5]:
            attributes = {kv.key: kv.value.string_value for kv in resource_metrics.resource.attributes}
            names = {metric.name: metric for scope in resource_metrics.scope_metrics for metric in scope.metrics}
            kind = ("volume " + attributes["k8s.volume.name"] if "k8s.volume.name" in attributes else "container" if "container.id" in attributes
                    else "pod" if "k8s.pod.uid" in attributes else "node")
            by_kind[kind] = (attributes, names)
        assert set(by_kind) == {"node", "pod", "container", "volume cache", "volume settings"}, by_kind.keys()
        node_attributes, node = by_kind["node"]
        assert node_attributes["k8s.node.name"] == "node-1"
        assert {"system.cpu.time", "system.memory.usage", "system.disk.io", "system.network.io", "system.filesystem.usage"} <= set(node)
        cpu = {(p.attributes[0].value.string_value, p.attributes[1].value.string_value): p.as_double for p in node["system.cpu.time"].sum.data_points}
        assert cpu[("cpu0", "user")] == 1.0 and cpu[("cpu0", "idle")] == 10.0
        assert node["system.cpu.time"].sum.data_points[0].start_time_unix_nano == 1700000000 * 10**9
        memory = {p.attributes[0].value.string_value: p.as_int for p in node["system.memory.usage"].sum.data_points}
        assert memory == {"used": 300 * 1024, "free": 400 * 1024, "buffered": 100 * 1024, "cached": 200 * 1024}
        pod_attributes, pod = by_kind["pod"]
        assert pod_attributes == {"k8s.pod.uid": uid, "k8s.namespace.name": "shop", "k8s.pod.name": "checkout-7d9f8b6c4-x2k9p", "k8s.node.name": "node-1",
                                  "k8s.cluster.name": "prod", "service.name": "checkout"}, "as container logs' resources"
        assert pod["k8s.pod.cpu.time"].sum.data_points[0].as_double == 3.0
        assert pod["k8s.pod.memory.usage"].gauge.data_points[0].as_int == 2048
        network = {tuple(kv.value.string_value for kv in p.attributes): p.as_int for p in pod["k8s.pod.network.io"].sum.data_points}
        assert network == {("eth0", "receive"): 3000, ("eth0", "transmit"): 4000}
        assert pod["k8s.pod.network.io"].sum.is_monotonic
        container_attributes, container = by_kind["container"]
        assert container_attributes["k8s.container.name"] == "app" and container_attributes["container.id"] == container_id
        assert container["container.cpu.time"].sum.data_points[0].as_double == 2.5
        assert {p.attributes[0].value.string_value: p.as_int for p in container["container.disk.io"].sum.data_points} == {"read": 100, "write": 200}
        # Filesystem usage counted as du counts it (allocated blocks, a twice-linked file once).
        layer = disk_usage(upper)
        assert container["container.filesystem.usage"].gauge.data_points[0].as_int == layer
        image_filesystem = os.statvfs(upper)
        assert container["container.filesystem.capacity"].gauge.data_points[0].as_int == image_filesystem.f_blocks * image_filesystem.f_frsize
        assert 0 < container["container.filesystem.available"].gauge.data_points[0].as_int <= image_filesystem.f_blocks * image_filesystem.f_frsize
        # The pod's ephemeral storage: writable layers, its logs and its emptyDirs on the node's filesystem.
        ephemeral = layer + disk_usage(pods / f"shop_checkout-7d9f8b6c4-x2k9p_{uid}") + disk_usage(volumes / "kubernetes.io~empty-dir" / "cache")
        assert pod["k8s.pod.filesystem.usage"].gauge.data_points[0].as_int == ephemeral
        node_filesystem = os.statvfs(kubelet)
        assert pod["k8s.pod.filesystem.capacity"].gauge.data_points[0].as_int == node_filesystem.f_blocks * node_filesystem.f_frsize
        assert node["k8s.node.filesystem.capacity"].gauge.data_points[0].as_int == node_filesystem.f_blocks * node_filesystem.f_frsize
        assert 0 < node["k8s.node.filesystem.usage"].gauge.data_points[0].as_int < node_filesystem.f_blocks * node_filesystem.f_frsize
        cache_attributes, cache = by_kind["volume cache"]
        assert cache_attributes == {**pod_attributes, "k8s.volume.name": "cache", "k8s.volume.type": "emptyDir"}
        assert by_kind["volume settings"][0]["k8s.volume.type"] == "configMap"
        filesystem = os.statvfs(volumes / "kubernetes.io~empty-dir" / "cache")
        assert cache["k8s.volume.capacity"].gauge.data_points[0].as_int == filesystem.f_blocks * filesystem.f_frsize
        assert cache["k8s.volume.inodes"].gauge.data_points[0].as_int == filesystem.f_files
        assert 0 < cache["k8s.volume.available"].gauge.data_points[0].as_int <= filesystem.f_blocks * filesystem.f_frsize
        inodes = {name: cache[name].gauge.data_points[0].as_int for name in ("k8s.volume.inodes", "k8s.volume.inodes.free", "k8s.volume.inodes.used")}
        assert inodes["k8s.volume.inodes.used"] == inodes["k8s.volume.inodes"] - inodes["k8s.volume.inodes.free"]
        assert agent.stop() == 0
    finally:
        backend.close()


def test_loupe_up_runs_pipelines_into_its_own_storage(tmp_path, loupe_factory):
    """`loupe up --pipelines`: container logs of this machine go into Loupe's own storage (`output.loupe`)."""
    root = tmp_path / "pods"
    append(container_log(root, "shop", "checkout-7d9f8b6c4-x2k9p", "checkout"), "".join(cri(f"local order {n}") for n in range(20)))
    pipelines = tmp_path / "local.yaml"
    pipelines.write_text("""apiVersion: telemetry.loupe.dev/v1beta1
kind: LogPipeline
metadata: {name: local}
spec:
  output:
    loupe: {}
""")
    server = loupe_factory.new(extra_args=("--pipelines", str(pipelines), "--pod-log-root", str(root)))
    query = '{service_name="checkout"} |= "local order"'
    found = wait_for(lambda: len(_loki_lines(server, query)) >= 20 and _loki_lines(server, query), what="the lines in loupe up")
    assert sorted(found) == sorted(f"local order {n}" for n in range(20))
    append(container_log(root, "shop", "checkout-7d9f8b6c4-x2k9p", "checkout"), cri("after a restart"))
    server.terminate()
    server.start()
    wait_for(lambda: len(_loki_lines(server, '{service_name="checkout"}')) == 21, what="exactly one more line after the restart")


def test_changed_pipelines_apply_without_a_restart_and_without_loss(tmp_path, sink, agents):
    root = tmp_path / "pods"
    path = container_log(root, "shop", "web-0", "web")
    append(path, cri("one"))
    agent = agents(pipeline(sink.url), root)
    agent.start()
    pid = agent.process.pid
    wait_for(lambda: sink.bodies() == ["one"], what="the first line")
    agent.pipelines.write_text(pipeline(sink.url) + """  filter:
    - conditions: ['IsMatch(log.body, ".*noise.*")']
""")
    wait_for(lambda: "pipelines reloaded" in agent.output(), what="the reload")
    append(path, cri("noise two") + cri("three"))
    wait_for(lambda: "three" in sink.bodies(), what="a line after the reload")
    agent.pipelines.write_text("apiVersion: telemetry.loupe.dev/v1beta1\nkind: LogPipeline\nmetadata: {name: backend}\nspec: {}\n")
    wait_for(lambda: "the running pipelines go on" in agent.output(), what="the broken file refused")
    append(path, cri("noise five") + cri("four"))
    wait_for(lambda: "four" in sink.bodies(), what="a line after the broken change")
    time.sleep(0.5)
    assert sink.bodies() == ["one", "three", "four"], "every line once; the filter of the reloaded pipeline applied"
    assert agent.process.pid == pid and agent.process.poll() is None, "no restart"
    assert "spec.output: required" in agent.output()

    def generated():
        return {c["type"]: c for c in agent.status()["backend"]["conditions"]}["ConfigurationGenerated"]

    refused = generated()
    assert refused["status"] == "False" and refused["reason"] == "ValidationFailed" and "spec.output: required" in refused["message"], refused
    running = pipeline(sink.url) + """  filter:
    - conditions: ['IsMatch(log.body, ".*noise.*")']
"""
    agent.pipelines.write_text(running.replace("IsMatch", "IsMatches"))
    wait_for(lambda: generated()["reason"] == "OTTLSpecInvalid", what="the OTTL mistake in the status")
    agent.pipelines.write_text(running)
    wait_for(lambda: generated()["reason"] == "AgentConfigured", what="the files as they run again")
    assert agent.process.pid == pid
    assert agent.stop() == 0


def test_pods_are_enriched_from_the_kubernetes_api(tmp_path, sink, agents):
    """A fake API server lists this node's pods (and then holds a watch open); records carry the
    workload, the chosen labels and service.name from app.kubernetes.io/name."""
    uid = "0c6a9c1e-1111-2222-3333-444455556666"
    seen: list[dict] = []

    class API(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append({"path": self.path, "auth": self.headers.get("Authorization")})
            if "watch=1" in self.path:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                time.sleep(2)
                return
            reply_json(self, {"kind": "PodList", "metadata": {"resourceVersion": "42"}, "items": [{"metadata": {
                "name": "checkout-7d9f8b6c4-x2k9p", "namespace": "shop", "uid": uid,
                "labels": {"app.kubernetes.io/name": "checkout-api", "team": "payments", "pod-template-hash": "7d9f8b6c4"},
                "ownerReferences": [{"kind": "ReplicaSet", "name": "checkout-7d9f8b6c4", "controller": True}]}}]})

        def log_message(self, *args):
            pass

    api = serve(API)
    token = tmp_path / "token"
    token.write_text("sa-token\n")
    root = tmp_path / "pods"
    path = root / f"shop_checkout-7d9f8b6c4-x2k9p_{uid}" / "app" / "0.log"
    path.parent.mkdir(parents=True)
    # The installation's settings as a Telemetry resource beside the pipeline (the flags' equivalents:
    # --extract-pod-label, --cluster-name).
    settings = """---
apiVersion: telemetry.loupe.dev/v1beta1
kind: Telemetry
metadata: {name: default}
spec:
  enrichments:
    extractPodLabels: [{key: team}]
    cluster: {name: prod-eu}
"""
    agent = agents(pipeline(sink.url) + settings, root)
    agent.process = subprocess.Popen(
        [str(LOUPE_BINARY), "agent", "--pipelines", str(agent.pipelines), "--data-dir", str(agent.data), "--pod-log-root", str(root),
         "--node-name", "node-1", "--http-address", "127.0.0.1:0", "--kubernetes-api", f"http://127.0.0.1:{api.server_address[1]}",
         "--kubernetes-token-file", str(token), "--cluster-name", "from-the-flag"],
        stdout=open(agent.log, "ab"), stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: any("watch=1" in request["path"] for request in seen), what="the list and the watch")
        assert seen[0]["path"].startswith("/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1") and seen[0]["auth"] == "Bearer sa-token"
        append(path, cri("enriched line"))
        wait_for(lambda: sink.bodies() == ["enriched line"], what="the enriched line")
        resource = sink.records[0][0]
        assert resource["service.name"].string_value == "checkout-api"
        assert resource["k8s.deployment.name"].string_value == "checkout"
        assert resource["k8s.pod.label.team"].string_value == "payments"
        assert "k8s.pod.label.pod-template-hash" not in resource
        assert resource["k8s.cluster.name"].string_value == "prod-eu", "the Telemetry resource over the flag"
        assert agent.stop() == 0
    finally:
        api.shutdown()


def test_over_its_memory_limit_the_agent_pushes_back_instead_of_dropping(tmp_path, sink, agents):
    """--memory-limit below what the process holds: pushed OTLP gets a retryable 503 and container
    lines stay in their files; started again without the limit, the lines arrive (none was dropped)."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    root = tmp_path / "pods"
    append(container_log(root, "shop", "checkout-7d9f8b6c4-x2k9p", "checkout"), cri("line that waits"))
    agent = agents(pipeline(sink.url), root).start("--memory-limit", "1MiB", "--otlp-http-address", "127.0.0.1:0")

    def otlp_port():
        found = re.findall(r"otlp_http_port=(\d+).*OTLP/HTTP listening|OTLP/HTTP listening.*otlp_http_port=(\d+)", agent.output())
        return next((a or b for a, b in reversed(found)), None)

    port = wait_for(otlp_port, what="the agent's OTLP/HTTP listener")
    request = ExportLogsServiceRequest()
    request.resource_logs.add().scope_logs.add().log_records.add().body.string_value = "pushed"
    reply = requests.post(f"http://127.0.0.1:{port}/v1/logs", data=request.SerializeToString(),
                          headers={"Content-Type": "application/x-protobuf"}, timeout=10)
    assert reply.status_code == 503, reply.text
    assert reply.headers.get("Retry-After") and "memory limit" in reply.text

    def pushbacks():
        text = requests.get(agent.http_url() + "/metrics", timeout=10).text
        assert "loupe_agent_memory_limit_bytes 1048576" in text, text
        match = re.search(r"^loupe_agent_memory_pushbacks_total (\d+)$", text, re.M)
        return int(match.group(1)) if match and int(match.group(1)) >= 3 else None

    wait_for(pushbacks, what="tailing rounds skipped under the memory limit")
    time.sleep(1)
    assert sink.bodies() == [] and agent.metric("loupe_pipeline_received_items_total") == 0
    assert agent.metric("loupe_pipeline_throttled_total") >= 3
    flow = {condition["type"]: condition for condition in agent.status()["backend"]["conditions"]}["TelemetryFlowHealthy"]
    assert flow["status"] == "False" and flow["reason"] == "Throttling", flow
    assert agent.stop() == 0

    agent.start("--memory-limit", "0")
    wait_for(lambda: sink.bodies() == ["line that waits"], what="the line once the limit is gone")
    assert agent.stop() == 0


def _scrape_registry():
    """A real client library's endpoint: a counter, a gauge, a histogram and a summary."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, start_http_server

    registry = CollectorRegistry()
    requests_counter = Counter("shop_requests", "Requests handled.", ["path"], registry=registry)
    requests_counter.labels("/a").inc(3)
    Gauge("shop_temperature_celsius", "Current temperature.", registry=registry).set(21.25)
    latency = Histogram("shop_latency_seconds", "Request latency.", buckets=(0.1, 0.5, 1.0), registry=registry)
    for value in (0.05, 0.2, 0.3, 0.7, 3.0):
        latency.observe(value)
    size = Summary("shop_response_size_bytes", "Response sizes.", registry=registry)
    for value in (100, 250):
        size.observe(value)
    server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    return server


def _metrics_by_name(resource_metrics) -> dict:
    return {metric.name: metric for scope in resource_metrics.scope_metrics for metric in scope.metrics}


def _attributes(items) -> dict:
    def plain(value):
        kind = value.WhichOneof("value")
        return getattr(value, kind) if kind else None
    return {kv.key: plain(kv.value) for kv in items}


def _scrape_pipeline(endpoint: str, prometheus: str, output: str | None = None) -> str:
    output = output or f"""otlp:
      protocol: http
      endpoint: {{value: "{endpoint}"}}"""
    return f"""apiVersion: telemetry.loupe.dev/v1beta1
kind: MetricPipeline
metadata: {{name: backend}}
spec:
  input:
    prometheus:
      enabled: true
      interval: 1s
{prometheus}
  output:
    {output}
"""


def test_static_prometheus_targets_are_scraped_into_otlp_metrics(tmp_path, agents):
    """`input.prometheus.staticTargets`: the Python client's endpoint, scraped every second and
    shipped as OTLP: counters as monotonic cumulative sums started at their `_created` time, the
    histogram with its bounds and per-bucket counts, the summary, the target's labels."""
    target = _scrape_registry()
    backend = OTLPSink()
    port = target.server_address[1]
    agent = agents(_scrape_pipeline(backend.url, f"""      staticTargets:
        - targets: ["127.0.0.1:{port}"]
          job: shop
          labels: {{env: dev}}"""), tmp_path / "pods")
    agent.start()
    try:
        received = wait_for(
            lambda: [r for r in backend.resource_metrics if "shop_latency_seconds" in _metrics_by_name(r)], what="a scrape")
        resource = _attributes(received[0].resource.attributes)
        assert resource == {"service.name": "shop", "service.instance.id": f"127.0.0.1:{port}", "server.address": "127.0.0.1", "server.port": port}
        metrics = _metrics_by_name(received[0])
        assert "up" not in metrics and "scrape_duration_seconds" not in metrics, "diagnostic metrics are off by default"
        counter = metrics["shop_requests_total"]
        assert counter.sum.is_monotonic and counter.sum.aggregation_temporality == 2
        [point] = counter.sum.data_points
        assert _attributes(point.attributes) == {"path": "/a", "env": "dev"} and point.as_double == 3.0
        assert point.start_time_unix_nano > 1_600_000_000 * 10**9, "started at the counter's _created time"
        assert point.start_time_unix_nano <= point.time_unix_nano
        assert metrics["shop_temperature_celsius"].gauge.data_points[0].as_double == 21.25
        histogram = metrics["shop_latency_seconds"].histogram
        assert histogram.aggregation_temporality == 2
        [h] = histogram.data_points
        assert list(h.explicit_bounds) == [0.1, 0.5, 1.0] and list(h.bucket_counts) == [1, 2, 1, 1]
        assert h.count == 5 and abs(h.sum - 4.25) < 1e-9
        [s] = metrics["shop_response_size_bytes"].summary.data_points
        assert s.count == 2 and s.sum == 350.0
        assert metrics["shop_requests_total"].description == "Requests handled."
        assert agent.stop() == 0
    finally:
        backend.close()
        target.shutdown()


def _fake_pod_api(pods: list[dict], services: list[dict] = (), slices: list[dict] = ()):
    """An API server that lists these pods of the node (and Services and EndpointSlices of the
    cluster), then holds each watch open a while."""
    class API(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if "watch=1" in self.path:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                time.sleep(2)
                return
            items = (list(services) if self.path.startswith("/api/v1/services")
                     else list(slices) if self.path.startswith("/apis/discovery.k8s.io/v1/endpointslices") else pods)
            reply_json(self, {"kind": "List", "metadata": {"resourceVersion": "7"}, "items": items})

        def log_message(self, *args):
            pass

    return serve(API)


def _kubernetes_arguments(api, tmp_path: Path) -> list[str]:
    token = tmp_path / "token"
    token.write_text("sa-token\n")
    return ["--kubernetes-api", f"http://127.0.0.1:{api.server_address[1]}", "--kubernetes-token-file", str(token)]


def test_annotated_pods_are_scraped_with_the_pods_resource(tmp_path, agents):
    """Pods of this node from the Kubernetes API: the one annotated `prometheus.io/scrape` (port and
    path annotations) is scraped, with `k8s.*` and `service.name` of the pod; one without the
    annotation and one in kube-system are not."""
    target = _scrape_registry()
    port = target.server_address[1]
    backend = OTLPSink()

    def pod(name, namespace, annotations, uid):
        return {"metadata": {"name": name, "namespace": namespace, "uid": uid, "annotations": annotations,
                             "labels": {"app.kubernetes.io/name": name + "-app"}},
                "spec": {"containers": [{"name": "app", "ports": [{"containerPort": port, "protocol": "TCP"}]}]},
                "status": {"podIP": "127.0.0.1", "phase": "Running"}}

    api = _fake_pod_api([
        pod("shop-0", "shop", {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": "/metrics"}, "uid-shop"),
        pod("quiet-0", "shop", {}, "uid-quiet"),
        pod("dns-0", "kube-system", {"prometheus.io/scrape": "true"}, "uid-dns"),
    ])
    agent = agents(_scrape_pipeline(backend.url, "      diagnosticMetrics: {enabled: true}"), tmp_path / "pods")
    agent.start(*_kubernetes_arguments(api, tmp_path))
    try:
        received = wait_for(
            lambda: [r for r in backend.resource_metrics if "shop_requests_total" in _metrics_by_name(r)], what="the annotated pod's metrics")
        resource = _attributes(received[0].resource.attributes)
        assert resource["k8s.pod.name"] == "shop-0" and resource["k8s.namespace.name"] == "shop"
        assert resource["k8s.pod.uid"] == "uid-shop" and resource["k8s.node.name"] == "node-1"
        assert resource["service.name"] == "shop-0-app"
        assert resource["service.instance.id"] == f"127.0.0.1:{port}"
        metrics = _metrics_by_name(received[0])
        assert metrics["up"].gauge.data_points[0].as_double == 1.0, "diagnosticMetrics on: up is shipped"
        time.sleep(2.5)
        pods_seen = {_attributes(r.resource.attributes).get("k8s.pod.name") for r in backend.resource_metrics}
        assert pods_seen == {"shop-0"}, "neither the unannotated pod nor kube-system's"
        assert agent.stop() == 0
    finally:
        backend.close()
        api.shutdown()
        target.shutdown()


def test_loupe_up_scrapes_static_targets_through_a_metric_pipeline(tmp_path, loupe_factory):
    """`loupe up --pipelines` with `output.loupe`: scraped metrics land in Loupe's own store and
    read back through PromQL under their Prometheus names."""
    target = _scrape_registry()
    port = target.server_address[1]
    pipelines = tmp_path / "local.yaml"
    pipelines.write_text(_scrape_pipeline("", f"""      staticTargets:
        - targets: ["127.0.0.1:{port}"]
          job: shop""", output="loupe: {}"))
    server = loupe_factory.new(extra_args=("--pipelines", str(pipelines), "--pod-log-root", str(tmp_path / "pods")))
    try:
        def query(expression):
            reply = server.session.get(server.http_url + "/api/v1/query", params={"query": expression}, timeout=10)
            assert reply.status_code == 200, reply.text
            return reply.json()["data"]["result"]
        result = wait_for(lambda: query('shop_requests_total{path="/a"}'), what="the scraped counter in PromQL")
        assert float(result[0]["value"][1]) == 3.0
        assert result[0]["metric"]["job"] == "shop" and result[0]["metric"]["instance"] == f"127.0.0.1:{port}"
        buckets = wait_for(lambda: query('shop_latency_seconds_bucket{le="0.5"}'), what="the histogram's buckets")
        assert float(buckets[0]["value"][1]) == 3.0
    finally:
        target.shutdown()


def test_istio_sidecars_are_scraped_for_istio_metrics_only(tmp_path, agents):
    """`input.istio`: the sidecar of a meshed pod (a stand-in serving Envoy's merged statistics on
    the proxy's port, at a loopback address of its own) is scraped at /stats/prometheus; only
    `istio_*` is shipped without `envoyMetrics`, with the pod's resource; an unmeshed pod is not."""
    import random

    exposition = (
        b"# TYPE istio_requests_total counter\n"
        b'istio_requests_total{reporter="destination",destination_workload="shop",response_code="200"} 12\n'
        b"# TYPE envoy_cluster_upstream_rq_total counter\n"
        b'envoy_cluster_upstream_rq_total{cluster_name="inbound"} 40\n'
        b"# TYPE go_goroutines gauge\ngo_goroutines 30\n")
    paths: list[str] = []

    class Sidecar(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            paths.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(exposition)))
            self.end_headers()
            self.wfile.write(exposition)

        def log_message(self, *args):
            pass

    address = f"127.{random.randint(1, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"
    try:
        sidecar = ThreadingHTTPServer((address, 15090), Sidecar)
    except OSError as error:
        pytest.skip(f"cannot listen on {address}:15090 here: {error}")
    threading.Thread(target=sidecar.serve_forever, daemon=True).start()
    backend = OTLPSink()

    def pod(name, containers):
        return {"metadata": {"name": name, "namespace": "shop", "uid": "uid-" + name, "labels": {"app": name}},
                "spec": {"containers": [{"name": c} for c in containers]},
                "status": {"podIP": address, "phase": "Running"}}

    api = _fake_pod_api([pod("meshed-0", ["app", "istio-proxy"]), pod("plain-0", ["app"])])
    agent = agents(f"""apiVersion: telemetry.loupe.dev/v1beta1
kind: MetricPipeline
metadata: {{name: backend}}
spec:
  input:
    istio: {{enabled: true}}
  output:
    otlp:
      protocol: http
      endpoint: {{value: "{backend.url}"}}
""", tmp_path / "pods")
    agent.start("--metric-interval", "1s", *_kubernetes_arguments(api, tmp_path))
    try:
        received = wait_for(lambda: backend.resource_metrics[:1], what="the sidecar's metrics")
        resource = _attributes(received[0].resource.attributes)
        assert resource["k8s.pod.name"] == "meshed-0" and resource["service.name"] == "meshed-0"
        assert resource["service.instance.id"] == f"{address}:15090"
        assert set(_metrics_by_name(received[0])) == {"istio_requests_total"}, "only Istio's metrics without envoyMetrics"
        [point] = _metrics_by_name(received[0])["istio_requests_total"].sum.data_points
        assert point.as_double == 12.0 and _attributes(point.attributes)["destination_workload"] == "shop"
        assert set(paths) == {"/stats/prometheus"}
        time.sleep(1.5)
        assert {_attributes(r.resource.attributes)["k8s.pod.name"] for r in backend.resource_metrics} == {"meshed-0"}
        assert agent.stop() == 0
    finally:
        backend.close()
        api.shutdown()
        sidecar.shutdown()


def test_annotated_services_are_scraped_through_their_endpoints_on_this_node(tmp_path, agents):
    """A Service annotated `prometheus.io/scrape`: its ready endpoint on this node is scraped (on
    the port annotation), with the resource of the pod behind it; its endpoint on another node is
    left to that node's agent."""
    target = _scrape_registry()
    port = target.server_address[1]
    backend = OTLPSink()
    pods = [{"metadata": {"name": "cart-a", "namespace": "shop", "uid": "uid-cart-a", "labels": {"app": "cart"}},
             "spec": {"containers": [{"name": "app"}]}, "status": {"podIP": "127.0.0.1", "phase": "Running"}}]
    services = [{"metadata": {"name": "cart", "namespace": "shop", "annotations": {
        "prometheus.io/scrape": "true", "prometheus.io/port": str(port)}}}]
    slices = [{"metadata": {"name": "cart-x1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "cart"}},
               "addressType": "IPv4",
               "endpoints": [
                   {"addresses": ["127.0.0.1"], "conditions": {"ready": True}, "nodeName": "node-1",
                    "targetRef": {"kind": "Pod", "name": "cart-a", "namespace": "shop", "uid": "uid-cart-a"}},
                   {"addresses": ["127.0.0.9"], "conditions": {"ready": True}, "nodeName": "node-2",
                    "targetRef": {"kind": "Pod", "name": "cart-b", "namespace": "shop", "uid": "uid-cart-b"}}],
               "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]
    api = _fake_pod_api(pods, services, slices)
    agent = agents(_scrape_pipeline(backend.url, ""), tmp_path / "pods")
    agent.start(*_kubernetes_arguments(api, tmp_path))
    try:
        received = wait_for(
            lambda: [r for r in backend.resource_metrics if "shop_requests_total" in _metrics_by_name(r)], what="the Service's endpoint scraped")
        resource = _attributes(received[0].resource.attributes)
        assert resource["k8s.pod.name"] == "cart-a" and resource["k8s.pod.uid"] == "uid-cart-a" and resource["service.name"] == "cart"
        assert resource["service.instance.id"] == f"127.0.0.1:{port}"
        time.sleep(1.5)
        instances = {_attributes(r.resource.attributes)["service.instance.id"] for r in backend.resource_metrics}
        assert instances == {f"127.0.0.1:{port}"}, "only this node's endpoint"
        assert agent.stop() == 0
    finally:
        backend.close()
        api.shutdown()
        target.shutdown()


@pytest.mark.parametrize("compression", ["snappy", "zstd", "none", "gzip"])
def test_output_compression_as_declared(tmp_path, sink, agents, compression):
    """`output.otlp.compression` over HTTP: the sink (decoding snappy with python-snappy and zstd
    with zstandard) sees the declared Content-Encoding and every line."""
    root = tmp_path / "pods"
    append(container_log(root, "shop", "web-0", "web"), "".join(cri(f"compressed {n}") for n in range(50)))
    agent = agents(pipeline(sink.url).replace("      protocol: http\n", f"      protocol: http\n      compression: {compression}\n"), root)
    agent.start()
    wait_for(lambda: len(sink.bodies()) >= 50, what="the lines")
    assert sorted(sink.bodies()) == sorted(f"compressed {n}" for n in range(50))
    expected = {"snappy": "snappy", "zstd": "zstd", "none": None, "gzip": "gzip"}[compression]
    assert set(sink.encodings) == {expected}
    assert agent.stop() == 0


def test_snappy_over_grpc_is_refused_at_start(tmp_path, agents):
    agent = agents(pipeline("127.0.0.1:4317").replace("      protocol: http\n", "      protocol: grpc\n      compression: snappy\n      tls: {insecure: true}\n"),
                   tmp_path / "pods")
    agent.start()
    assert agent.process.wait(timeout=20) != 0
    agent.process = None
    assert "spec.output.otlp.compression" in agent.output() and "protocol http" in agent.output()


LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/telemetry/leases/loupe-agent-cluster-metrics"
WORKLOADS = {
    "/apis/apps/v1/deployments": [
        {"metadata": {"name": "checkout", "namespace": "shop", "uid": "d-1"}, "spec": {"replicas": 3}, "status": {"availableReplicas": 2}},
        {"metadata": {"name": "coredns", "namespace": "kube-system", "uid": "d-2"}, "spec": {"replicas": 2}, "status": {"availableReplicas": 2}},
    ],
    "/apis/apps/v1/statefulsets": [
        {"metadata": {"name": "db", "namespace": "shop", "uid": "s-1"}, "spec": {"replicas": 3},
         "status": {"readyReplicas": 2, "currentReplicas": 3, "updatedReplicas": 1}},
    ],
    "/apis/apps/v1/daemonsets": [
        {"metadata": {"name": "loupe-agent", "namespace": "shop", "uid": "a-1"},
         "status": {"currentNumberScheduled": 2, "desiredNumberScheduled": 2, "numberReady": 1}},
    ],
    "/apis/batch/v1/jobs": [
        {"metadata": {"name": "nightly", "namespace": "shop", "uid": "j-1"}, "spec": {"completions": 5, "parallelism": 2},
         "status": {"active": 2, "succeeded": 3}},
    ],
}


class FakeLeaseAPI(BaseHTTPRequestHandler):
    """A Kubernetes API with one Lease (conditional writes on its resource version, as the API
    server makes them), the workloads above and no pods."""
    lock = threading.Lock()
    lease: dict | None = None
    version = 0
    writes: list[dict] = []
    workload_lists = 0

    @classmethod
    def reset(cls) -> None:
        cls.lease, cls.version, cls.writes, cls.workload_lists = None, 0, [], 0

    @classmethod
    def holder(cls) -> str | None:
        with cls.lock:
            return cls.lease["spec"].get("holderIdentity") if cls.lease else None

    def do_GET(self):  # noqa: N802
        path = self.path.split("?")[0]
        if path == LEASE_PATH:
            with self.lock:
                lease = self.lease
            return reply_json(self, lease) if lease else reply_json(self, {"kind": "Status", "code": 404, "reason": "NotFound"}, 404)
        if path in WORKLOADS:
            with self.lock:
                type(self).workload_lists += 1
            return reply_json(self, {"kind": "List", "metadata": {"resourceVersion": "7"}, "items": WORKLOADS[path]})
        if "watch=1" in self.path:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            time.sleep(1)
            return
        reply_json(self, {"kind": "PodList", "metadata": {"resourceVersion": "7"}, "items": []})

    def _write(self, create: bool):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            if create:
                if self.path != LEASE_PATH.rsplit("/", 1)[0] or self.lease is not None:
                    return reply_json(self, {"kind": "Status", "code": 409, "reason": "AlreadyExists"}, 409)
            elif self.path != LEASE_PATH or self.lease is None:
                return reply_json(self, {"kind": "Status", "code": 404, "reason": "NotFound"}, 404)
            elif body["metadata"].get("resourceVersion") != self.lease["metadata"]["resourceVersion"]:
                return reply_json(self, {"kind": "Status", "code": 409, "reason": "Conflict"}, 409)
            type(self).version += 1
            body["metadata"]["resourceVersion"] = str(self.version)
            type(self).lease = body
            self.writes.append(dict(body["spec"]))
        reply_json(self, body, 201 if create else 200)

    def do_POST(self):  # noqa: N802
        self._write(create=True)

    def do_PUT(self):  # noqa: N802
        self._write(create=False)

    def log_message(self, *args):
        pass


def test_one_agent_of_the_cluster_leads_and_collects_workload_metrics(tmp_path):
    """Agents of two nodes elect a leader through a Lease; only the leader lists Deployments,
    StatefulSets, DaemonSets and Jobs into the k8s_cluster receiver's metrics. Stopped, the leader
    gives the lease up and the other takes over; killed with kill -9, its lease expires and the
    other takes over."""
    FakeLeaseAPI.reset()
    api = serve(FakeLeaseAPI)
    token = tmp_path / "token"
    token.write_text("sa-token\n")
    sinks = {node: OTLPSink() for node in ("node-1", "node-2")}
    agents: dict[str, Agent] = {}

    def start(node: str) -> Agent:
        text = f"""apiVersion: telemetry.loupe.dev/v1beta1
kind: MetricPipeline
metadata: {{name: backend}}
spec:
  input:
    runtime:
      enabled: true
      resources: {{node: {{enabled: false}}, pod: {{enabled: false}}, container: {{enabled: false}}, volume: {{enabled: false}}}}
  output:
    otlp:
      protocol: http
      endpoint: {{value: "{sinks[node].url}"}}
"""
        (tmp_path / node).mkdir(exist_ok=True)
        agent = agents.get(node) or Agent(tmp_path / node, text, tmp_path / "pods")
        agents[node] = agent
        agent.process = subprocess.Popen(
            [str(LOUPE_BINARY), "agent", "--pipelines", str(agent.pipelines), "--data-dir", str(agent.data), "--pod-log-root", str(tmp_path / "pods"),
             "--node-name", node, "--cluster-name", "prod", "--http-address", "127.0.0.1:0", "--metric-interval", "300ms",
             "--kubernetes-api", f"http://127.0.0.1:{api.server_address[1]}", "--kubernetes-token-file", str(token),
             "--leader-election-namespace", "telemetry", "--leader-election-lease-duration", "2s", "--log-level", "debug"],
            stdout=open(agent.log, "ab"), stderr=subprocess.STDOUT)
        return agent

    def workloads(node: str, since: int = 0) -> dict:
        found = {}
        for resource_metrics in sinks[node].resource_metrics[since:]:
            attributes = {kv.key: kv.value.string_value for kv in resource_metrics.resource.attributes}
            kind = next(key.split(".")[1] for key in attributes if key.endswith(".uid"))
            figures = {metric.name: metric.gauge.data_points[0].as_int for scope in resource_metrics.scope_metrics for metric in scope.metrics}
            found[(kind, attributes["k8s.namespace.name"], attributes[f"k8s.{kind}.name"])] = (attributes, figures)
        return found

    try:
        start("node-1")
        wait_for(lambda: FakeLeaseAPI.holder() == "node-1", what="node-1 holding the lease")
        start("node-2")
        found = wait_for(lambda: len(workloads("node-1")) >= 4 and workloads("node-1"), what="the leader's workload metrics")
        assert set(found) == {("deployment", "shop", "checkout"), ("statefulset", "shop", "db"), ("daemonset", "shop", "loupe-agent"),
                              ("job", "shop", "nightly")}, "kube-system is left out by default"
        attributes, deployment = found[("deployment", "shop", "checkout")]
        assert attributes == {"k8s.namespace.name": "shop", "k8s.deployment.name": "checkout", "k8s.deployment.uid": "d-1", "k8s.cluster.name": "prod"}
        assert deployment == {"k8s.deployment.desired": 3, "k8s.deployment.available": 2}
        assert found[("statefulset", "shop", "db")][1] == {
            "k8s.statefulset.desired_pods": 3, "k8s.statefulset.ready_pods": 2, "k8s.statefulset.current_pods": 3, "k8s.statefulset.updated_pods": 1}
        assert found[("daemonset", "shop", "loupe-agent")][1] == {
            "k8s.daemonset.current_scheduled_nodes": 2, "k8s.daemonset.desired_scheduled_nodes": 2, "k8s.daemonset.misscheduled_nodes": 0,
            "k8s.daemonset.ready_nodes": 1}
        assert found[("job", "shop", "nightly")][1] == {
            "k8s.job.active_pods": 2, "k8s.job.desired_successful_pods": 5, "k8s.job.failed_pods": 0, "k8s.job.max_parallel_pods": 2,
            "k8s.job.successful_pods": 3}
        # The follower reads the lease, never writes it, and collects nothing (for several of its
        # retry periods, 2 s × 2/15, and metric intervals).
        time.sleep(2)
        assert FakeLeaseAPI.holder() == "node-1"
        assert all(write["holderIdentity"] == "node-1" for write in FakeLeaseAPI.writes), FakeLeaseAPI.writes
        assert sinks["node-2"].resource_metrics == []

        # A graceful stop gives the lease up (no holder); node-2 takes it at once.
        assert agents["node-1"].stop() == 0
        assert any(write["holderIdentity"] == "" for write in FakeLeaseAPI.writes), FakeLeaseAPI.writes
        wait_for(lambda: FakeLeaseAPI.holder() == "node-2", what="node-2 taking over", timeout=10)
        wait_for(lambda: len(workloads("node-2")) >= 4, what="the new leader's workload metrics")
        assert FakeLeaseAPI.lease["spec"]["leaseTransitions"] == 1

        # node-1 back follows; node-2 killed with kill -9 stops renewing, and its lease expires.
        start("node-1")
        agents["node-1"].http_url()
        time.sleep(1)
        assert FakeLeaseAPI.holder() == "node-2"
        seen = len(sinks["node-1"].resource_metrics)
        agents["node-2"].stop(signal.SIGKILL)
        wait_for(lambda: FakeLeaseAPI.holder() == "node-1", what="node-1 taking over the expired lease", timeout=15)
        assert FakeLeaseAPI.lease["spec"]["leaseTransitions"] == 2
        wait_for(lambda: len(workloads("node-1", seen)) >= 4, what="workload metrics from node-1 again")
        assert agents["node-1"].stop() == 0
    finally:
        for agent in agents.values():
            if agent.process is not None:
                agent.stop(signal.SIGKILL)
        for sink in sinks.values():
            sink.close()
        api.shutdown()


def test_the_status_warns_of_a_client_certificate_about_to_expire(tmp_path, agents):
    """An output's TLS client certificate valid for three more days: ConfigurationGenerated says
    TLSCertificateAboutToExpire with its date, and the pipeline runs (queueing while the backend
    is away)."""
    cert, key = tmp_path / "client.crt", tmp_path / "client.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "3",
                    "-subj", "/CN=loupe-agent"], check=True, capture_output=True)
    expiry = subprocess.run(["openssl", "x509", "-enddate", "-noout", "-in", str(cert)], check=True, capture_output=True, text=True).stdout
    valid_until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.strptime(expiry.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y %Z"))
    indent = "\n" + " " * 14
    text = f"""apiVersion: telemetry.loupe.dev/v1beta1
kind: LogPipeline
metadata: {{name: backend}}
spec:
  output:
    otlp:
      protocol: http
      endpoint: {{value: "https://127.0.0.1:9"}}
      tls:
        cert:
          value: |{indent}{indent.join(cert.read_text().splitlines())}
        key:
          value: |{indent}{indent.join(key.read_text().splitlines())}
"""
    agent = agents(text, tmp_path / "pods").start()
    conditions = {condition["type"]: condition for condition in agent.status()["backend"]["conditions"]}
    generated = conditions["ConfigurationGenerated"]
    assert generated["status"] == "True" and generated["reason"] == "TLSCertificateAboutToExpire", generated
    assert generated["message"].endswith(f"valid until {valid_until}"), (generated, valid_until)
    assert conditions["AgentHealthy"]["reason"] == "AgentReady"
    assert agent.stop() == 0


def test_a_pipeline_waits_for_a_missing_secret_while_the_others_run(tmp_path, sink, agents):
    """A pipeline whose header references a secret not yet there does not run, and its status says
    ReferencedSecretMissing; the other pipeline ships meanwhile. Once the secret is written, the
    waiting pipeline starts without a restart and delivers, authenticated with it; when the secret
    is rotated, the new value is used, still without a restart."""
    secured = OTLPSink()
    secured.required_bearer = "s3cret"
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    root = tmp_path / "pods"
    append(container_log(root, "shop", "web-0", "web"), cri("for both"))
    text = pipeline(sink.url) + f"""---
apiVersion: telemetry.loupe.dev/v1beta1
kind: LogPipeline
metadata: {{name: secured}}
spec:
  output:
    otlp:
      protocol: http
      endpoint: {{value: "{secured.url}"}}
      headers:
        - name: Authorization
          prefix: Bearer
          valueFrom: {{secretKeyRef: {{name: backend-token, namespace: telemetry, key: token}}}}
"""
    agent = agents(text, root).start("--secrets-dir", str(secrets))
    try:
        wait_for(lambda: sink.bodies() == ["for both"], what="the pipeline that runs")
        report = agent.status()["secured"]
        conditions = {condition["type"]: condition for condition in report["conditions"]}
        assert conditions["ConfigurationGenerated"]["status"] == "False"
        assert conditions["ConfigurationGenerated"]["reason"] == "ReferencedSecretMissing"
        assert "backend-token" in conditions["ConfigurationGenerated"]["message"], conditions
        assert conditions["TelemetryFlowHealthy"]["status"] == "Unknown"
        assert secured.bodies() == []
        pid = agent.process.pid

        (secrets / "telemetry" / "backend-token").mkdir(parents=True)
        (secrets / "telemetry" / "backend-token" / "token").write_text("s3cret")
        wait_for(lambda: secured.bodies() == ["for both"], what="the waiting pipeline started and delivering")
        generated = {condition["type"]: condition for condition in agent.status()["secured"]["conditions"]}["ConfigurationGenerated"]
        assert generated["status"] == "True" and generated["reason"] == "AgentConfigured", generated
        time.sleep(0.5)
        assert sink.bodies() == ["for both"], "the running pipeline handed over without repeating"

        # The token is rotated: the backend takes only the new one, and so does the agent, unrestarted.
        (secrets / "telemetry" / "backend-token" / "token").write_text("n3w")
        secured.required_bearer = "n3w"
        wait_for(lambda: "a secret the pipelines reference changed" in agent.output(), what="the rotated secret applied")
        append(container_log(root, "shop", "web-0", "web"), cri("after rotation"))
        wait_for(lambda: secured.bodies() == ["for both", "after rotation"], what="the line sent with the new token")
        assert agent.process.pid == pid
        assert agent.stop() == 0
    finally:
        secured.close()


def test_records_a_backend_rejects_in_a_partial_success_are_counted_as_refused(tmp_path, sink, agents):
    """A backend that takes a request but answers with partial_success (2 rejected): the agent
    counts those as refused, not sent, and says so."""
    sink.partial_success = (2, "two records too old")
    root = tmp_path / "pods"
    append(container_log(root, "shop", "web-0", "web"), "".join(cri(f"line {n}") for n in range(5)))
    agent = agents(pipeline(sink.url), root).start()
    wait_for(lambda: len(sink.bodies()) == 5, what="the five lines at the backend")
    wait_for(lambda: agent.metric("loupe_pipeline_refused_items_total") == 2, what="two refused")
    assert agent.metric("loupe_pipeline_sent_items_total") == 3
    assert "rejected part of it" in agent.output() and "two records too old" in agent.output()
    assert agent.stop() == 0


def _certificates(directory: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by the CA."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    paths = {name: directory / f"{name}.pem" for name in ("ca", "ca-key", "server", "server-key", "client", "client-key")}
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(paths["ca-key"]), "-out", str(paths["ca"]), "-days", "2",
        "-subj", "/CN=loupe test CA")
    for name, subject, extension in (("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1"), ("client", "/CN=loupe-agent", "extendedKeyUsage=clientAuth")):
        request = directory / f"{name}.csr"
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(paths[f"{name}-key"]), "-out", str(request), "-subj", subject)
        (directory / f"{name}.ext").write_text(extension + "\n")
        run("x509", "-req", "-in", str(request), "-CA", str(paths["ca"]), "-CAkey", str(paths["ca-key"]), "-CAcreateserial",
            "-out", str(paths[name]), "-days", "2", "-extfile", str(directory / f"{name}.ext"))
    return paths


def test_tls_with_a_ca_a_client_certificate_basic_auth_and_a_path(tmp_path, agents):
    """An HTTPS backend that wants a client certificate from its CA: the pipeline that gives the CA,
    the client certificate and key, basic auth and its own path delivers; one with
    insecureSkipVerify and the client certificate delivers without the CA; one without a client
    certificate is turned away at the handshake and says no logs are delivered."""
    import base64
    import ssl

    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    paths = _certificates(tmp_path)
    arrived: list[dict] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                import gzip
                body = gzip.decompress(body)
            request = ExportLogsServiceRequest()
            request.ParseFromString(body)
            peer = self.connection.getpeercert()
            with lock:
                for resource_logs in request.resource_logs:
                    for scope_logs in resource_logs.scope_logs:
                        for record in scope_logs.log_records:
                            arrived.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": record.body.string_value,
                                            "client": dict(item[0] for item in peer["subject"])["commonName"]})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(paths["server"], paths["server-key"])
    context.load_verify_locations(paths["ca"])
    context.verify_mode = ssl.CERT_REQUIRED
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}"

    def block(text: str) -> str:
        indent = "\n" + " " * 12
        return "|" + indent + indent.join(text.splitlines())

    def resource(name: str, tls: str, extra: str = "") -> str:
        return f"""---
apiVersion: telemetry.loupe.dev/v1beta1
kind: LogPipeline
metadata: {{name: {name}}}
spec:
  input:
    runtime:
      containers: {{include: [{name}]}}
  output:
    otlp:
      protocol: http
      endpoint: {{value: "{url}"}}{extra}
      tls:
{tls}
"""
    client = f"""        cert:
          value: {block(paths["client"].read_text())}
        key:
          value: {block(paths["client-key"].read_text())}
"""
    text = (resource("full", f"""        ca:
          value: {block(paths["ca"].read_text())}
{client}""", """
      path: /custom/logs
      authentication:
        basic:
          user: {value: agent}
          password: {value: "s3cret"}""")
            + resource("skipverify", "        insecureSkipVerify: true\n" + client)
            + resource("nocert", f"""        ca:
          value: {block(paths["ca"].read_text())}
"""))
    root = tmp_path / "pods"
    for name in ("full", "skipverify", "nocert"):
        append(container_log(root, "shop", f"{name}-0", name), cri(f"{name} line"))
    agent = agents(text, root).start()
    try:
        wait_for(lambda: len(arrived) == 2, what="the two pipelines that can connect")
        by_body = {entry["body"]: entry for entry in arrived}
        assert by_body["full line"]["path"] == "/custom/logs"
        assert by_body["full line"]["auth"] == "Basic " + base64.b64encode(b"agent:s3cret").decode()
        assert by_body["full line"]["client"] == "loupe-agent"
        assert by_body["skipverify line"]["path"] == "/v1/logs" and by_body["skipverify line"]["client"] == "loupe-agent"
        flow = wait_for(lambda: (lambda c: c if c["reason"] == "NoLogsDelivered" else None)(
            {c["type"]: c for c in agent.status()["nocert"]["conditions"]}["TelemetryFlowHealthy"]), what="the pipeline without a certificate failing")
        assert flow["status"] == "False"
        assert all(entry["body"] != "nocert line" for entry in arrived)
        assert agent.stop() == 0
    finally:
        server.shutdown()


def test_past_its_disk_budget_the_queue_drops_the_oldest_and_says_so(tmp_path, sink, agents):
    """The backend is away and the queue has a 256 KiB budget: past it the oldest requests are
    dropped and counted, the status says AllDataDropped; once the backend is back, the newest
    lines arrive and the oldest do not."""
    sink.status = 503
    root = tmp_path / "pods"
    path = container_log(root, "shop", "web-0", "web")
    agent = agents(pipeline(sink.url), root).start("--queue-size", "256KiB")
    for batch in range(40):
        # Random text: gzip cannot make it small, so the budget fills.
        append(path, "".join(cri(f"batch {batch} line {n} " + os.urandom(300).hex()) for n in range(50)))
        time.sleep(0.05)
    wait_for(lambda: agent.metric("loupe_pipeline_queue_dropped_requests_total") > 0, what="requests dropped over the budget")
    wait_for(lambda: agent.metric("loupe_pipeline_received_items_total") == 2000, what="every line read")
    flow = {c["type"]: c for c in agent.status()["backend"]["conditions"]}["TelemetryFlowHealthy"]
    assert flow["status"] == "False" and flow["reason"] == "AllDataDropped", flow
    assert agent.metric("loupe_pipeline_queued_bytes") <= 256 * 1024
    sink.status = 200
    wait_for(lambda: any(body.startswith("batch 39 line 49 ") for body in sink.bodies()), what="the newest line")
    bodies = sink.bodies()
    assert not any(body.startswith("batch 0 line 0 ") for body in bodies), "the oldest were dropped"
    assert 0 < len(bodies) < 2000
    assert agent.stop() == 0
