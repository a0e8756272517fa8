"""End-to-end: `loupe up` scraping real Prometheus client libraries' endpoints.

The targets are served by the official Python client (`prometheus_client`) on 127.0.0.1 with ports
chosen by the OS: a plain endpoint with a counter, a gauge, a histogram, a summary and an info metric;
one behind basic auth (http.server checking the header, serving the same library's exposition); one
over TLS with a self-signed certificate made with `openssl` (Loupe trusts it through `ca_file`); and
one that is stopped mid-test. Loupe scrapes every second; the assertions go through `/api/v1/query`
and `/api/v1/targets`.
"""

from __future__ import annotations

import base64
import http.server
import math
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, Summary, start_http_server
from prometheus_client.exposition import choose_encoder

from loupe_testlib import wait_until

SCRAPE_TIMEOUT = 30.0


def _registry(prefix: str) -> CollectorRegistry:
    registry = CollectorRegistry()
    requests = Counter(f"{prefix}_requests", "Requests handled.", ["path", "code"], registry=registry)
    requests.labels("/a", "200").inc(3)
    requests.labels("/b", "500").inc(1.5)
    Gauge(f"{prefix}_temperature_celsius", "Current temperature.", registry=registry).set(21.25)
    latency = Histogram(f"{prefix}_latency_seconds", "Request latency.", buckets=(0.1, 0.5, 1.0), registry=registry)
    for value in (0.05, 0.2, 0.3, 0.7, 3.0):
        latency.observe(value)
    size = Summary(f"{prefix}_response_size_bytes", "Response sizes.", registry=registry)
    for value in (100, 250):
        size.observe(value)
    Info(f"{prefix}_build", "Build information.", registry=registry).info({"version": "1.2.3", "commit": "abc"})
    return registry


def _exposed_samples(registry: CollectorRegistry) -> list[tuple[str, dict[str, str], float]]:
    return [(sample.name, dict(sample.labels), sample.value) for family in registry.collect() for sample in family.samples]


def _selector(name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def _query(loupe, query: str) -> list[dict]:
    response = loupe.session.get(loupe.http_url + "/api/v1/query", params={"query": query}, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def _value(loupe, query: str) -> float | None:
    result = _query(loupe, query)
    if not result:
        return None
    assert len(result) == 1, f"{query}: {result}"
    return float(result[0]["value"][1])


class _Serving:
    """A started server (prometheus_client's or http.server's) that the test stops."""

    def __init__(self, server) -> None:
        self.server = server
        self.port = server.server_address[1]
        self.stopped = False

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.server.shutdown()
            self.server.server_close()


def _basic_auth_server(registry: CollectorRegistry, username: str, password: str, token: str) -> _Serving:
    """Answers with the registry's exposition to `Basic username:password` or `Bearer token`, 401 otherwise."""
    accepted = {"Basic " + base64.b64encode(f"{username}:{password}".encode()).decode(), f"Bearer {token}"}
    seen: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(dict(self.headers.items()))
            if self.headers.get("Authorization") not in accepted:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="metrics"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            body = encoder(registry)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    serving = _Serving(server)
    serving.seen = seen
    return serving


def _self_signed(directory: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed (scripts/test.sh installs it)", pytrace=False)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:scrape.test"],
        check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def targets(tmp_path):
    started: list[_Serving] = []

    def plain(registry):
        server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
        started.append(_Serving(server))
        return started[-1]

    def tls(registry, cert, key):
        server, _ = start_http_server(0, addr="127.0.0.1", registry=registry, certfile=str(cert), keyfile=str(key))
        started.append(_Serving(server))
        return started[-1]

    def basic(registry, username, password, token):
        started.append(_basic_auth_server(registry, username, password, token))
        return started[-1]

    yield type("Targets", (), {"plain": staticmethod(plain), "tls": staticmethod(tls), "basic": staticmethod(basic)})
    for serving in started:
        serving.stop()


def test_scrapes_prometheus_client_targets(loupe_factory, targets, tmp_path):
    main_registry = _registry("demo")
    auth_registry = _registry("authed")
    tls_registry = _registry("secure")
    doomed_registry = CollectorRegistry()
    Counter("doomed_events", "Events.", registry=doomed_registry).inc(5)

    main = targets.plain(main_registry)
    doomed = targets.plain(doomed_registry)
    authed = targets.basic(auth_registry, "scraper", "s3cret", "t0ken")
    cert, key = _self_signed(tmp_path)
    secure = targets.tls(tls_registry, cert, key)
    password_file = tmp_path / "password"
    password_file.write_text("s3cret\n")

    config = f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: python
    static_configs:
      - targets: ["127.0.0.1:{main.port}"]
        labels: {{env: e2e}}
  - job_name: doomed
    static_configs:
      - targets: ["127.0.0.1:{doomed.port}"]
  - job_name: authed
    basic_auth:
      username: scraper
      password_file: {password_file}
    static_configs:
      - targets: ["127.0.0.1:{authed.port}"]
  - job_name: wrong-password
    basic_auth: {{username: scraper, password: nope}}
    static_configs:
      - targets: ["127.0.0.1:{authed.port}"]
  - job_name: bearer
    authorization: {{credentials: t0ken}}
    static_configs:
      - targets: ["127.0.0.1:{authed.port}"]
  - job_name: secure-by-name
    scheme: https
    tls_config: {{ca_file: {cert}, server_name: scrape.test}}
    static_configs:
      - targets: ["127.0.0.1:{secure.port}"]
  - job_name: secure-unverified
    scheme: https
    tls_config: {{insecure_skip_verify: true}}
    static_configs:
      - targets: ["127.0.0.1:{secure.port}"]
  - job_name: secure-untrusted
    scheme: https
    static_configs:
      - targets: ["127.0.0.1:{secure.port}"]
  - job_name: secure
    scheme: https
    tls_config:
      ca_file: {cert}
    static_configs:
      - targets: ["127.0.0.1:{secure.port}"]
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: secure_build_info
        action: drop
"""
    loupe = loupe_factory.new(config=config)

    def up(job: str) -> float | None:
        return _value(loupe, f'up{{job="{job}"}}')

    wait_until(lambda: up("python") == 1 and up("authed") == 1 and up("secure") == 1 and up("doomed") == 1,
               SCRAPE_TIMEOUT, 0.2, "all targets up")
    # Each target scrapes at its own offset within the interval, so the refused one may not have been tried yet.
    wait_until(lambda: up("wrong-password") == 0, SCRAPE_TIMEOUT, 0.2, "wrong-password target scraped and down")
    wait_until(lambda: up("bearer") == 1 and up("secure-by-name") == 1 and up("secure-unverified") == 1,
               SCRAPE_TIMEOUT, 0.2, "bearer and TLS variants up")
    # Without the CA, the self-signed certificate is refused.
    wait_until(lambda: up("secure-untrusted") == 0, SCRAPE_TIMEOUT, 0.2, "untrusted TLS target down")

    # Every sample the client library exposes is stored with its value, under the target's labels.
    for job, registry, port, extra in (("python", main_registry, main.port, {"env": "e2e"}),
                                       ("authed", auth_registry, authed.port, {}),
                                       ("secure", tls_registry, secure.port, {})):
        expected = _exposed_samples(registry)
        assert len(expected) >= 15
        for name, labels, value in expected:
            if job == "secure" and name == "secure_build_info":
                assert _value(loupe, f'{name}{{job="secure"}}') is None, "dropped by metric_relabel_configs"
                continue
            target_labels = {"job": job, "instance": f"127.0.0.1:{port}", **extra}
            got = _value(loupe, _selector(name, {**labels, **target_labels}))
            assert got is not None, f"{job}: {name}{labels} not found"
            assert math.isclose(got, value, rel_tol=1e-9), f"{job}: {name}{labels} = {got}, exposed {value}"

    # Report series.
    exposed = len(_exposed_samples(main_registry))
    assert _value(loupe, 'scrape_samples_scraped{job="python"}') == exposed
    assert _value(loupe, 'scrape_samples_post_metric_relabeling{job="python"}') == exposed
    assert _value(loupe, 'scrape_samples_post_metric_relabeling{job="secure"}') == len(_exposed_samples(tls_registry)) - 1
    duration = _value(loupe, 'scrape_duration_seconds{job="python"}')
    assert duration is not None and 0 < duration < 1
    assert _value(loupe, 'scrape_series_added{job="python"}') is not None
    # The client library chose OpenMetrics from our Accept header: counters carry their _created series.
    assert _value(loupe, 'demo_requests_created{path="/a",code="200"}') is not None
    # Basic auth was sent as configured (and the wrong password was refused by the target).
    assert any(h.get("Authorization", "").startswith("Basic ") for h in authed.seen)
    assert any(h.get("Authorization") == "Bearer t0ken" for h in authed.seen)
    assert any(h.get("X-Prometheus-Scrape-Timeout-Seconds") == "1" for h in authed.seen)

    # /api/v1/targets in Prometheus's shape.
    targets_json = loupe.session.get(loupe.http_url + "/api/v1/targets", timeout=10).json()
    assert targets_json["status"] == "success"
    active = {t["scrapePool"]: t for t in targets_json["data"]["activeTargets"]}
    assert set(active) == {"python", "doomed", "authed", "wrong-password", "bearer", "secure-by-name", "secure-unverified",
                           "secure-untrusted", "secure"}
    assert active["python"]["health"] == "up"
    assert active["python"]["labels"] == {"env": "e2e", "instance": f"127.0.0.1:{main.port}", "job": "python"}
    assert active["python"]["scrapeUrl"] == f"http://127.0.0.1:{main.port}/metrics"
    assert active["python"]["scrapeInterval"] == "1s" and active["python"]["scrapeTimeout"] == "1s"
    assert active["secure"]["scrapeUrl"].startswith("https://")
    assert active["wrong-password"]["health"] == "down"
    assert "401" in active["wrong-password"]["lastError"]
    assert active["secure-untrusted"]["health"] == "down" and active["secure-untrusted"]["lastError"]
    dropped = loupe.session.get(loupe.http_url + "/api/v1/targets", params={"state": "dropped"}, timeout=10).json()
    assert dropped["data"]["activeTargets"] == [] and dropped["data"]["droppedTargets"] == []

    # A target that goes down: up flips to 0, its series go stale (an instant query no longer returns them).
    assert _value(loupe, "doomed_events_total") == 5
    doomed.stop()
    wait_until(lambda: up("doomed") == 0, SCRAPE_TIMEOUT, 0.2, "up{job=doomed} == 0")
    assert _query(loupe, "doomed_events_total") == []
    assert up("python") == 1
