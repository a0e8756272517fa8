"""Differential test: the same data in a real Prometheus 2.42 (Debian package, remote-write
receiver enabled) and in Loupe, the same PromQL query set against both, answers compared.

Data: a deterministic (seeded), node-exporter-like and HTTP-service-like data set of ~210
series x 65 minutes at a 15 s interval: CPU/network counters, memory/load gauges, an info
metric, a classic histogram (`_bucket{le}`, `_sum`, `_count`) over two jobs x two instances x
two handlers, a counter reset, a process restart (every counter of one instance resets), a
host that goes away (staleness markers, StaleNaN bits 0x7ff0000000000002, then nothing), a
series with an 8-minute gap (no marker: it falls out of the 5 m lookback), and a gauge with
one NaN sample, and a series that appears half-way. It goes to both servers as the same snappy-compressed remote write 1.0
requests, in time order.

Every query runs as an instant query at five times and as two range queries (step 60 s over
the whole hour, step 15 s across the moment the host goes away); result type, label sets,
timestamps and values (relative tolerance 1e-9, NaN == NaN, -0 != 0) must match; for queries
Prometheus refuses, Loupe must refuse with the same errorType and HTTP status. Separately:
value strings on the wire (exact), range-query parameter spellings, /api/v1/series, /labels
and /label/<name>/values.

A genuine Loupe difference is marked xfail(strict=True) on that one query, with the reason, until fixed
(none is left).

Prometheus 2.x vs 3.x (Loupe implements 3.x):
- Range selectors and the lookback window are left-closed, [t-r, t], in 2.x and left-open,
  (t-r, t], in 3.x. Every sample is written 1.234 s off the 15 s grid (base + i*15 s + 1234 ms,
  base a whole minute) while every evaluation time, offset and `@` time is a whole multiple
  of 15 s, so no sample ever sits on a window boundary and the two rules select the same samples.
- Subqueries: 2.x evaluates the inner expression at every step-aligned time in [t-r, t], 3.x in
  (t-r, t]. The subquery ranges below are chosen so that t-r is never step-aligned for any
  evaluation time that is a multiple of 15 s (e.g. `[30m10s:1m]`).
- rate/increase extrapolation: 2.42 limits the extrapolation to a counter's zero point before
  deciding whether the series starts inside the window, 3.x after (prometheus/prometheus#13725,
  2.52). The two differ only for a counter that starts near 0 inside the window, so every counter
  here starts well above 0 (as a process that has been up a while does), including the one that
  appears half-way.
- `atan2` keeps the left-hand metric name in 2.42 (fixed in 2.46, prometheus/prometheus#12595):
  the query drops it on the left first.
- Not queried at all: holt_winters / double_exponential_smoothing (renamed in 3.0, and
  experimental there), limitk / limit_ratio, sort_by_label(_desc), mad_over_time,
  first_over_time, ts_of_*_over_time, info() (3.x only), native histograms and the
  histogram_* functions on them (not in 2.42 without a feature flag), `.` in regexes against
  values with newlines (matches newlines only in 3.x; the data has none), UTF-8 label names
  (3.x only), duration expressions (3.x experimental), and 2.42's own experimental flags.

Run alone: .venv-test/bin/pytest tests/integration/test_prometheus_differential.py -q
"""

from __future__ import annotations

import math
import os
import random
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from loupe_testlib import REQUEST_TIMEOUT, http_session
from remote_write import HEADERS, STALE, encode_request

PROMETHEUS = os.environ.get("PROMETHEUS_BIN", shutil.which("prometheus") or "/usr/bin/prometheus")
pytestmark = pytest.mark.skipif(not Path(PROMETHEUS).exists(),
                                reason="prometheus is not installed (scripts/test.sh installs Debian's 2.42)")

SEED = 20261122
STEP_MS = 15_000
OFF_GRID_MS = 1_234  # see the module docstring: no sample on a window boundary
STEPS = 260  # 65 minutes
STEPS_PER_REQUEST = 20
REL_TOL = 1e-9
ABS_TOL = 1e-12  # only for values that should be 0 but come out as float noise (e.g. deriv of a near-constant)

# Evaluation times, as seconds after `base` (all multiples of 15 s).
INSTANT_OFFSETS = (180, 1200, 2475, 3900, 4110)
# (start, end, step) in seconds after `base`.
RANGE_OFFSETS = ((0, 4200, 60), (2280, 3000, 15))
AT_OFFSET = 1800  # the `@` modifier's time

# The host that goes away: its series get a staleness marker at this step and no samples after.
GONE_INSTANCE = "host-3:9100"
GONE_AT_STEP = 160
# A gap with no marker (longer than the 5 m lookback).
GAP_STEPS = range(100, 132)
# Counter reset of one series, and a restart (every counter reset) of one HTTP instance.
RESET_AT_STEP = 100
RESTART_AT_STEP = 200
NAN_AT_STEP = 120
HOTPLUG_AT_STEP = 130

BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf")


# --------------------------------------------------------------------------------------
# The data set
# --------------------------------------------------------------------------------------

def generate(base_ms: int) -> list[tuple[tuple[tuple[str, str], ...], list[tuple[int, object]]]]:
    """Every series with all its samples (timestamp ms, value or STALE), deterministic for SEED."""
    rng = random.Random(SEED)
    series: list[tuple[tuple[tuple[str, str], ...], list[tuple[int, object]]]] = []

    def ts(step: int) -> int:
        return base_ms + step * STEP_MS + OFF_GRID_MS

    def add(name: str, labels: dict[str, str], values: list[object]) -> None:
        all_labels = tuple(sorted({"__name__": name, **labels}.items()))
        samples = [(ts(step), value) for step, value in enumerate(values) if value is not None]
        series.append((all_labels, samples))

    def gone(instance: str, values: list[object]) -> list[object]:
        """The series of the host that goes away: a staleness marker, then nothing."""
        if instance != GONE_INSTANCE:
            return values
        return values[:GONE_AT_STEP] + [STALE] + [None] * (STEPS - GONE_AT_STEP - 1)

    def counter(start: float, increment) -> list[object]:
        values, value = [], start
        for _ in range(STEPS):
            values.append(value)
            value += increment()
        return values

    def walk(start: float, sigma: float, low: float, high: float, digits: int) -> list[object]:
        values, value = [], start
        for _ in range(STEPS):
            values.append(round(value, digits))
            value = min(high, max(low, value + rng.gauss(0, sigma)))
        return values

    hosts = [f"host-{n}:9100" for n in range(4)]
    for n, instance in enumerate(hosts):
        node = {"job": "node", "instance": instance}
        for cpu in ("0", "1"):
            shares = {"user": 0.2 + 0.1 * n, "system": 0.05 + 0.02 * n, "iowait": 0.01}
            shares["idle"] = 1 - sum(shares.values())
            for mode, share in shares.items():
                add("node_cpu_seconds_total", {**node, "cpu": cpu, "mode": mode},
                    gone(instance, counter(round(rng.uniform(1e4, 1e5), 2),
                                           lambda s=share: round(15 * s * rng.uniform(0.6, 1.4), 3))))
        for device in ("eth0", "lo"):
            scale = 1e6 if device == "eth0" else 2e4
            for direction in ("receive", "transmit"):
                add(f"node_network_{direction}_bytes_total", {**node, "device": device},
                    gone(instance, counter(float(rng.randrange(10**9)), lambda sc=scale: float(int(rng.uniform(0.2, 1.8) * sc)))))
        total = float((8 << 30) * (1 + n % 2))
        add("node_memory_MemTotal_bytes", node, gone(instance, [total] * STEPS))
        add("node_memory_MemAvailable_bytes", node,
            gone(instance, [float(int(v) // 4096 * 4096) for v in walk(total * 0.5, total * 0.01, total * 0.1, total * 0.9, 0)]))
        for name, sigma in (("node_load1", 0.15), ("node_load5", 0.06), ("node_load15", 0.03)):
            add(name, node, gone(instance, walk(0.3 + 0.25 * n, sigma, 0.0, 4.0, 2)))
        add("node_uname_info", {**node, "nodename": instance.split(":")[0], "release": f"6.1.0-{20 + n}-amd64"},
            gone(instance, [1.0] * STEPS))
        add("up", node, gone(instance, [1.0] * STEPS))
        if n < 2:
            temps = walk(45.0 + 5 * n, 0.4, 30.0, 90.0, 1)
            if n == 0:
                temps = [None if step in GAP_STEPS else value for step, value in enumerate(temps)]
            add("node_hwmon_temp_celsius", {**node, "chip": "platform_coretemp_0", "sensor": "temp1"}, temps)

    for job in ("api", "web"):
        for instance in ("10.0.0.1:8080", "10.0.0.2:8080"):
            target = {"job": job, "instance": instance}
            add("up", target, [1.0] * STEPS)
            restarts = job == "web" and instance == "10.0.0.2:8080"
            for handler in ("/", "/api/v1/items"):
                buckets = [0.0] * len(BUCKETS)
                total_sum, total_count = 0.0, 0.0
                rows: list[tuple[list[float], float, float]] = []
                mu = -3.0 if handler == "/" else -1.5
                # The process has been up for a while: the counters do not start at 0. (Counters that start
                # near 0 inside a rate window take 2.42's pre-3.0 order of the zero-point and threshold clamps
                # in extrapolatedRate, which 3.0 changed; realistic data mostly avoids that corner.)
                for _ in range(400):
                    latency = rng.lognormvariate(mu, 1.0)
                    total_sum += 25 * latency
                    total_count += 25
                    for index, bound in enumerate(BUCKETS):
                        if latency <= float(bound):
                            buckets[index] += 25
                for step in range(STEPS):
                    if restarts and step == RESTART_AT_STEP:
                        buckets, total_sum, total_count = [0.0] * len(BUCKETS), 0.0, 0.0
                    for _ in range(rng.randint(3, 40)):
                        latency = rng.lognormvariate(mu, 1.0)
                        total_sum += latency
                        total_count += 1
                        for index, bound in enumerate(BUCKETS):
                            if latency <= float(bound):
                                buckets[index] += 1
                    rows.append((list(buckets), round(total_sum, 6), total_count))
                for index, bound in enumerate(BUCKETS):
                    add("http_request_duration_seconds_bucket", {**target, "handler": handler, "le": bound},
                        [row[0][index] for row in rows])
                add("http_request_duration_seconds_sum", {**target, "handler": handler}, [row[1] for row in rows])
                add("http_request_duration_seconds_count", {**target, "handler": handler}, [row[2] for row in rows])
            for code in ("200", "500"):
                for method in ("GET", "POST"):
                    rate = (20.0 if code == "200" else 0.5) * (2 if method == "GET" else 1)
                    values = counter(float(rng.randrange(1000, 100000)), lambda r=rate: float(rng.randint(0, int(r * 30))))
                    if (job, instance, code, method) == ("api", "10.0.0.1:8080", "200", "GET"):
                        # A counter reset: the process behind this one series restarted.
                        values = values[:RESET_AT_STEP] + [v - values[RESET_AT_STEP] + 7.0 for v in values[RESET_AT_STEP:]]
                    if restarts:
                        values = values[:RESTART_AT_STEP] + [v - values[RESTART_AT_STEP] for v in values[RESTART_AT_STEP:]]
                    add("http_requests_total", {**target, "code": code, "method": method}, values)

    for target in ("https://example.org", "https://example.net"):
        probe = {"job": "blackbox", "instance": target}
        add("up", probe, [1.0] * STEPS)
        durations = walk(0.25, 0.02, 0.05, 2.0, 4)
        if target == "https://example.org":
            durations[NAN_AT_STEP] = math.nan
        add("probe_duration_seconds", probe, durations)
        add("probe_success", probe, [float(rng.random() > 0.1) for _ in range(STEPS)])

    # A NIC plugged in half-way: a series that starts inside the data (with a counter that does not
    # start near 0; see the histogram comment above).
    add("node_network_receive_bytes_total", {"job": "node", "instance": "host-0:9100", "device": "eth1"},
        [None] * HOTPLUG_AT_STEP + counter(5e8, lambda: float(rng.randrange(10**5, 10**6)))[:STEPS - HOTPLUG_AT_STEP])
    return series


def write_requests(base_ms: int, series) -> list[bytes]:
    """The data as remote write requests in time order: each request holds STEPS_PER_REQUEST
    consecutive scrapes of every series (both servers accept only in-order samples per series)."""
    bodies = []
    for first in range(0, STEPS, STEPS_PER_REQUEST):
        low, high = base_ms + first * STEP_MS, base_ms + (first + STEPS_PER_REQUEST) * STEP_MS
        window = [(labels, part) for labels, samples in series
                  if (part := [(t, v) for t, v in samples if low <= t < high])]
        bodies.append(encode_request(window))
    return bodies


# --------------------------------------------------------------------------------------
# Prometheus 2.42
# --------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrometheusServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.session = http_session()

    def start(self, timeout: float = 60) -> None:
        config = self.root / "prometheus.yml"
        config.write_text("")  # no scrape targets: the only samples are the ones written below
        for attempt in range(5):
            port = _free_port()
            log = open(self.root / f"prometheus-{attempt}.log", "wb")
            self.proc = subprocess.Popen(
                [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={self.root / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}", "--web.enable-remote-write-receiver", "--log.level=warn"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            log.close()
            self.url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if self.session.get(self.url + "/-/ready", timeout=2).status_code == 200:
                        return
                except requests.RequestException:
                    pass
                time.sleep(0.1)
            self.stop()
            text = (self.root / f"prometheus-{attempt}.log").read_text(errors="replace")
            if "address already in use" not in text:
                raise AssertionError(f"Prometheus did not become ready:\n{text[-4000:]}")
        raise AssertionError("Prometheus: no free port after 5 attempts")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


# --------------------------------------------------------------------------------------
# Both servers, loaded
# --------------------------------------------------------------------------------------

@dataclass
class Loaded:
    prometheus_url: str
    loupe_url: str
    base: int  # seconds; a whole minute
    series_count: int
    sample_count: int
    session: requests.Session


@pytest.fixture(scope="module")
def servers(module_loupe_factory, tmp_path_factory):
    prometheus = PrometheusServer(tmp_path_factory.mktemp("prometheus"))
    try:
        prometheus.start()
        loupe = module_loupe_factory.new(retention="0", log_level="warning")
        now_ms = int(time.time() * 1000)
        # now - 70 min .. now - 5 min: Prometheus's head accepts it (no block is cut in 70 minutes).
        base_ms = (now_ms - 70 * 60_000) // 60_000 * 60_000
        series = generate(base_ms)
        bodies = write_requests(base_ms, series)
        session = http_session()
        for body in bodies:
            for name, url in (("Prometheus", prometheus.url), ("Loupe", loupe.http_url)):
                response = session.post(url + "/api/v1/write", data=body, headers=HEADERS, timeout=REQUEST_TIMEOUT)
                assert response.status_code in (200, 204), f"{name} refused a remote write: {response.status_code} {response.text[:500]}"
        yield Loaded(prometheus.url, loupe.http_url, base_ms // 1000, len(series),
                     sum(len(samples) for _, samples in series), session)
    finally:
        prometheus.stop()


# --------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------

ORDERED = "ordered"  # the result order is part of the answer (sort, sort_desc, topk, bottomk)



def q(expr: str, *marks, ordered: bool = False, errors: bool = False, id: str | None = None):
    """A query. `ordered`: the order of an instant vector is part of the answer. `errors`: Prometheus
    answers some or all of its evaluations with an error; Loupe must then answer with an error of the
    same type and HTTP status."""
    return pytest.param(expr, ordered, errors, marks=marks, id=id or expr)


QUERIES = [
    # --- selectors and matchers
    q("up"),
    q('node_load1{instance="host-1:9100"}'),
    q('node_cpu_seconds_total{mode!="idle", cpu="0"}'),
    q('node_network_receive_bytes_total{device=~"eth.*"}'),
    q('http_requests_total{code!~"2..", method=~"GET|POST"}'),
    q('{__name__=~"node_load.*", instance!="host-0:9100"}'),
    q("node_hwmon_temp_celsius"),
    q("probe_duration_seconds"),
    q('http_request_duration_seconds_bucket{job="web", handler="/", le=~"0.1|1|\\\\+Inf"}'),
    # --- counters and gauges over ranges
    q('rate(node_cpu_seconds_total{mode="user"}[5m])'),
    q("irate(node_network_transmit_bytes_total[2m])"),
    q("increase(http_requests_total[10m])"),
    q("rate(http_request_duration_seconds_count[5m])"),
    q("delta(node_memory_MemAvailable_bytes[10m])"),
    q("idelta(node_load5[3m])"),
    q("deriv(node_memory_MemAvailable_bytes[15m])"),
    q("resets(http_requests_total[30m])"),
    q("changes(node_load1[10m])"),
    q("sum(rate(node_cpu_seconds_total[1h]))"),
    # --- *_over_time
    q("avg_over_time(node_load1[10m])"),
    q("min_over_time(node_load5[7m])"),
    q("max_over_time(node_hwmon_temp_celsius[5m])"),
    q("sum_over_time(probe_success[10m])"),
    q("count_over_time(up[15m])"),
    q("count_over_time(node_cpu_seconds_total{instance=\"host-3:9100\", cpu=\"0\"}[1h])"),
    q("quantile_over_time(0.9, node_load1[20m])"),
    q("stddev_over_time(node_load15[10m])"),
    q("stdvar_over_time(node_memory_MemAvailable_bytes[10m])"),
    q("last_over_time(node_hwmon_temp_celsius[10m])"),
    q("present_over_time(up[2m])"),
    q("max_over_time(probe_duration_seconds[10m])"),
    q("avg_over_time(probe_duration_seconds[10m])"),
    # --- aggregations
    q("sum by (instance) (rate(node_cpu_seconds_total[5m]))"),
    q("avg without (cpu) (rate(node_cpu_seconds_total[5m]))"),
    q("min by (job) (up)"),
    q("max(node_memory_MemAvailable_bytes)"),
    q("count by (mode) (node_cpu_seconds_total)"),
    q("stddev by (job) (rate(http_requests_total[5m]))"),
    q("stdvar(node_load1)"),
    q("topk(3, rate(node_network_receive_bytes_total[5m]))", ordered=True),
    q("bottomk(2, node_load1)", ordered=True),
    q("topk by (job) (1, rate(http_requests_total[5m]))"),
    q("quantile(0.75, node_load5)"),
    q("quantile by (job) (0.5, rate(http_requests_total[5m]))"),
    q('count_values("cpus", count by (instance) (node_cpu_seconds_total{mode="idle"}))'),
    q("group by (job) (up)"),
    q("sum without (le) (http_request_duration_seconds_bucket)"),
    q("count(up == 1)"),
    # --- binary operators and vector matching
    q("node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes"),
    q("rate(node_cpu_seconds_total[5m]) * on(instance) group_left(nodename) node_uname_info"),
    q("node_uname_info * on(instance) group_right(nodename, release) rate(node_network_receive_bytes_total[5m])"),
    q("rate(node_cpu_seconds_total[5m]) / ignoring(mode) group_left sum without (mode) (rate(node_cpu_seconds_total[5m]))"),
    q('rate(http_requests_total{code="500"}[5m]) / ignoring(code) rate(http_requests_total{code="200"}[5m])'),
    q("node_load1 > bool 0.8"),
    q("node_load1 > 0.5"),
    q("node_load5 <= node_load1"),
    q("up == on(job, instance) group_left node_load1 > 0"),
    q("up and on(instance) node_load1 > 0.5"),
    q("node_load1 or node_hwmon_temp_celsius"),
    q("up unless on(instance) node_load1 > 1"),
    q("-node_load1 + 2 * node_load5 - node_load15 / 3"),
    q("node_load1 ^ 2 % 0.7"),
    # 2.42 keeps the left-hand metric name on `atan2` (fixed in 2.46, prometheus/prometheus#12595;
    # 3.x drops it like every arithmetic operator): the `+ 0` drops it on both sides first.
    q("(node_load1 + 0) atan2 node_load5"),
    q('1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))'),
    # --- classic histograms
    q("histogram_quantile(0.9, sum by (le, job) (rate(http_request_duration_seconds_bucket[5m])))"),
    q("histogram_quantile(0.5, rate(http_request_duration_seconds_bucket[10m]))"),
    q("sum by (job) (rate(http_request_duration_seconds_sum[5m])) / sum by (job) (rate(http_request_duration_seconds_count[5m]))"),
    # --- offset and @
    q("rate(node_network_receive_bytes_total[5m] offset 10m)"),
    q("node_load1 offset -5m"),
    q("node_load1 @ {at}", id="node_load1 @ AT"),
    q("rate(http_requests_total[5m] @ end())"),
    q("max_over_time(node_load1[10m] @ start())"),
    # --- subqueries (ranges chosen so that t - range is never step-aligned: see the docstring)
    q('max_over_time(rate(node_cpu_seconds_total{mode="system"}[5m])[30m10s:1m])'),
    q("avg_over_time(sum by (job) (rate(http_requests_total[2m]))[20m10s:30s])"),
    q("min_over_time(deriv(node_memory_MemAvailable_bytes[10m])[15m10s:1m])"),
    # --- math and other functions
    q("abs(delta(node_load1[5m]))"),
    q("ceil(node_load1)"),
    q("floor(node_load5 * 3)"),
    q("round(node_load1, 0.25)"),
    q("clamp(node_load1, 0.3, 0.9)"),
    q("clamp_min(node_load5, 0.5)"),
    q("clamp_max(node_load5, 0.5)"),
    q("ln(node_load5)"),
    q("log2(node_memory_MemAvailable_bytes)"),
    q("log10(node_load15)"),
    q("exp(node_load1)"),
    q("sqrt(node_memory_MemAvailable_bytes)"),
    q("sgn(delta(node_load1[5m]))"),
    q("sin(node_load1) + cos(node_load5)"),
    q("timestamp(node_load1)"),
    q('label_replace(up, "host", "$1", "instance", "([^:]+):.*")'),
    q('label_join(node_uname_info, "id", "/", "nodename", "release")'),
    q("sort(node_load1)", ordered=True),
    q("sort_desc(sum by (instance) (rate(node_network_receive_bytes_total[5m])))", ordered=True),
    q('absent(up{job="nonexistent"})'),
    q('absent(up{job="node"})'),
    q('absent_over_time(node_hwmon_temp_celsius{instance="host-0:9100"}[3m])'),
    q("predict_linear(node_memory_MemAvailable_bytes[30m], 3600)"),
    q("vector(1)"),
    q("scalar(sum(up))"),
    q("time()"),
    q('node_load1 * 0 + scalar(node_memory_MemTotal_bytes{instance="host-0:9100"})'),
    q("hour() + minute() / 60"),
    q("minute(timestamp(up))"),
    q("day_of_week() + day_of_month() + days_in_month() + month() + year()"),
    # --- more corners: NaN samples, staleness, short windows, number formatting, precedence
    q("changes(probe_duration_seconds[10m])"),
    q("resets(probe_duration_seconds[10m])"),
    q("min_over_time(probe_duration_seconds[10m])"),
    q("quantile_over_time(0.5, probe_duration_seconds[10m])"),
    q("stddev_over_time(probe_duration_seconds[10m])"),
    q("sum(probe_duration_seconds)"),
    q("max by (job) (probe_duration_seconds)"),
    q("min by (job) (probe_duration_seconds)"),
    q("topk(1, probe_duration_seconds)", ordered=True),
    q("bottomk(1, probe_duration_seconds)", ordered=True),
    q("sort(probe_duration_seconds)", ordered=True),
    q("sort_desc(probe_duration_seconds)", ordered=True),
    q("quantile(0.5, probe_duration_seconds)"),
    q('count_values("v", probe_duration_seconds)'),
    q('count_values("v", node_load1)'),
    q('count_values("v", node_load1 * 1e-7)'),
    q('count_values("v", node_memory_MemTotal_bytes * 1e15)'),
    q('count_values("v", -node_load15 / 3)'),
    q("quantile(1.5, node_load1)"),
    q("quantile(-0.5, node_load1)"),
    q("histogram_quantile(1, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"),
    q("histogram_quantile(0, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"),
    q("histogram_quantile(1.5, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"),
    q("histogram_quantile(0.99, sum by (le, handler) (increase(http_request_duration_seconds_bucket[1m])))"),
    q('last_over_time(up{instance="host-3:9100"}[10m])'),
    q('timestamp(up{instance="host-3:9100"})'),
    q('absent_over_time(up{instance="host-3:9100"}[5m])'),
    q("timestamp(node_load1 offset 5m)"),
    q("timestamp(node_load1 @ {at})", id="timestamp(node_load1 @ AT)"),
    q('node_network_receive_bytes_total{device="eth1"}'),
    q('rate(node_network_receive_bytes_total{device="eth1"}[10m])'),
    q('increase(node_network_receive_bytes_total{device="eth1"}[1h])'),
    q("irate(http_requests_total[1m])"),
    q("increase(http_requests_total[45s])"),
    q("rate(http_requests_total[20s])"),
    q("deriv(node_load1[20s])"),
    q("delta(node_load1[15s])"),
    q("rate(node_cpu_seconds_total[5m10s:1m])"),
    q("max_over_time(rate(http_requests_total[5m])[10m10s:1m] offset 5m)"),
    q('max_over_time(deriv(rate(node_cpu_seconds_total{mode="user"}[1m])[5m10s:1m])[20m10s:2m])'),
    q("stdvar_over_time(node_network_receive_bytes_total[10m])"),
    q("stddev(node_network_receive_bytes_total)"),
    q("avg(node_network_receive_bytes_total)"),
    q("sum_over_time(node_network_receive_bytes_total[30m])"),
    q("deriv(node_memory_MemTotal_bytes[10m])"),
    q("predict_linear(node_load1[10m], -600)"),
    q('label_replace(up{instance="host-0:9100"}, "instance", "", "instance", ".*")'),
    q('label_replace(up{job="node"}, "foo", "$1-$2", "instance", "host-(\\\\d+):(\\\\d+)")'),
    q('label_replace(up, "foo", "bar", "nonexistent", "")'),
    q('label_replace(up, "foo", "bar", "instance", "nomatch")'),
    q('label_join(up, "all", ",")'),
    q('sum(up) by (job)'),
    q("count(count by (le) (http_request_duration_seconds_bucket))"),
    q("node_load1 == bool on(instance) node_load5"),
    q("vector(1) and on() absent(nonexistent)"),
    q('absent(nonexistent{job="a", instance=~"x.*"})'),
    q("1 > bool 2"),
    q("2 ^ 3 ^ 2"),
    q("-2 ^ 2"),
    q("1 + 2 * 3 % 4 - 5 / 2"),
    q("node_load1 > bool 0.5 * 2"),
    q("-node_load1"),
    q("scalar(node_load1)"),
    q('node_load1 / scalar(node_load1{instance="host-1:9100"})'),
    q("NaN"),
    q("-Inf"),
    q("node_load1 / 0"),
    q("-node_load1 / 0"),
    q("0 * node_load1 / 0"),
    q("node_load1 % 0"),
    q('count by (__name__) ({job="node"})'),
    q('{__name__=~"node_load1|node_load5"} offset 1m'),
    q("max_over_time(up[1h]) - min_over_time(up[1h])"),
    q("timestamp(vector(1))"),
    q("absent(sum(nonexistent))"),
    q("sum by (job) (up) > bool on(job) count by (job) (up) - 1"),
    q("node_load1 > on(instance) group_left node_load5"),
    q('label_replace(up{job="node"}, "x", "${1}_$1x", "instance", "(host)-.*")'),
    q('label_replace(up{job="node"}, "x", "$0/$2", "instance", "(host)-(.*)")'),
    q('count_values("instance", node_load1 > 1)'),
    q("topk by (job) (2, up)"),
    q("stddev_over_time(node_memory_MemTotal_bytes[10m])"),
    q("rate(node_memory_MemTotal_bytes[5m])"),
    q("increase(up[1h])"),
    q("changes(up[1h])"),
    q("last_over_time(node_load1[1m] offset 2m)"),
    q('histogram_quantile(0.9, rate(http_request_duration_seconds_bucket{le!="+Inf"}[5m]))'),
    q("sum by (le) (http_request_duration_seconds_bucket) / ignoring(le) group_left sum(http_request_duration_seconds_count)"),
    q("predict_linear(node_load1[5m], 0)"),
    q("deriv(node_load1[10m] @ {at})", id="deriv(node_load1[10m] @ AT)"),
    q("sum without () (up)"),
    q("avg by (instance) (node_load1 offset 30m)"),
    # --- errors: same errorType and HTTP status as Prometheus
    q('rate({__name__=~"node_network_.*_bytes_total"}[5m])', errors=True),  # same labels once the name is gone
    q("rate(http_requests_total[5m]) @ 100", errors=True),
    q('label_replace(up, "instance", "", "instance", ".*")', errors=True),  # duplicate output series
    q("node_cpu_seconds_total * on(instance) node_cpu_seconds_total", errors=True),  # many-to-many
    q("node_uname_info * on(instance) group_left rate(node_cpu_seconds_total[5m])", errors=True),
    q("rate(node_load1)", errors=True),
    q("sum(node_load1", errors=True),
    q("topk(node_load1, node_load1)", errors=True),
    q('{job=~".*"}', errors=True),
    q("node_load1[5m]", errors=True),  # a matrix as an instant query; an error as a range query
    q('"hello"', errors=True),  # a string as an instant query; an error as a range query
]


# --------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------

def _value(text: str) -> float:
    return float(text)  # "NaN", "+Inf", "-Inf" included


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    if a == 0 and b == 0:
        return math.copysign(1, a) == math.copysign(1, b)  # "-0" and "0" are different answers
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def _labels(metric: dict) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items())) + "}"


def _query(session, url: str, path: str, params: dict) -> dict:
    response = session.get(url + path, params=params, timeout=REQUEST_TIMEOUT)
    try:
        doc = response.json()
    except ValueError:
        raise AssertionError(f"{url}{path} {params}: HTTP {response.status_code}, not JSON: {response.text[:500]}")
    doc["_http_status"] = response.status_code
    return doc


def compare(expected: dict, actual: dict, ordered: bool, errors: bool = False) -> list[str]:
    """Differences between Prometheus's answer (`expected`) and Loupe's, as readable lines."""
    if expected.get("status") != "success":
        if not errors:
            return [f"Prometheus answered with an error (fix the query): {expected}"]
        if actual.get("status") == "success":
            return [f"Prometheus: {expected['_http_status']} {expected.get('errorType')}: {expected.get('error')}; "
                    f"Loupe succeeded: {str(actual.get('data'))[:300]}"]
        if (expected.get("errorType"), expected["_http_status"]) != (actual.get("errorType"), actual["_http_status"]):
            return [f"error: Prometheus {expected['_http_status']} {expected.get('errorType')}: {expected.get('error')}; "
                    f"Loupe {actual['_http_status']} {actual.get('errorType')}: {actual.get('error')}"]
        return []
    if actual.get("status") != "success":
        return [f"Loupe answered with an error: {actual['_http_status']} {actual.get('errorType')}: {actual.get('error')}"]
    e, a = expected["data"], actual["data"]
    if e["resultType"] != a["resultType"]:
        return [f"result type: Prometheus {e['resultType']}, Loupe {a['resultType']}"]
    kind = e["resultType"]
    if kind in ("scalar", "string"):
        et, ev = e["result"]
        at, av = a["result"]
        diffs = []
        if float(et) != float(at):
            diffs.append(f"timestamp: Prometheus {et}, Loupe {at}")
        if (ev != av) if kind == "string" else not _same(_value(ev), _value(av)):
            diffs.append(f"value: Prometheus {ev}, Loupe {av}")
        return diffs
    diffs: list[str] = []
    if kind == "vector":
        exp = [(_labels(s["metric"]), float(s["value"][0]), s["value"][1]) for s in e["result"]]
        act = [(_labels(s["metric"]), float(s["value"][0]), s["value"][1]) for s in a["result"]]
        if ordered:
            # The order of values must match (ties may come in either order); labels are checked below.
            ev = [_value(v) for _, _, v in exp]
            av = [_value(v) for _, _, v in act]
            if len(ev) == len(av) and not all(_same(x, y) for x, y in zip(ev, av)):
                diffs.append(f"order: Prometheus {[(l, v) for l, _, v in exp]}\n            Loupe {[(l, v) for l, _, v in act]}")
        exp_map, act_map = {}, {}
        for labels, t, v in exp:
            exp_map.setdefault(labels, []).append((t, v))
        for labels, t, v in act:
            act_map.setdefault(labels, []).append((t, v))
        for labels, values in act_map.items():
            if len(values) > 1:
                diffs.append(f"Loupe returned {labels} {len(values)} times")
    else:  # matrix
        exp_map = {_labels(s["metric"]): [(float(t), v) for t, v in s["values"]] for s in e["result"]}
        act_map = {}
        for s in a["result"]:
            labels = _labels(s["metric"])
            if labels in act_map:
                diffs.append(f"Loupe returned series {labels} twice")
            act_map[labels] = [(float(t), v) for t, v in s["values"]]
    for labels in sorted(set(exp_map) - set(act_map)):
        diffs.append(f"only in Prometheus: {labels} {_short(exp_map[labels])}")
    for labels in sorted(set(act_map) - set(exp_map)):
        diffs.append(f"only in Loupe:      {labels} {_short(act_map[labels])}")
    for labels in sorted(set(exp_map) & set(act_map)):
        ep, ap = exp_map[labels], act_map[labels]
        et, at = [t for t, _ in ep], [t for t, _ in ap]
        if et != at:
            missing = sorted(set(et) - set(at))
            extra = sorted(set(at) - set(et))
            diffs.append(f"{labels}: timestamps differ; only Prometheus has {_times(missing)}; only Loupe has {_times(extra)}")
        bad = [(t, ev, dict(ap).get(t)) for t, ev in ep if t in dict(ap) and not _same(_value(ev), _value(dict(ap)[t]))]
        if bad:
            diffs.append(f"{labels}: {len(bad)} value(s) differ, e.g. " +
                         "; ".join(f"@{t}: Prometheus {ev}, Loupe {av}" for t, ev, av in bad[:4]))
    return diffs


def _short(points) -> str:
    if len(points) <= 3:
        return str(points)
    return f"[{points[0]}, ... {len(points)} points ..., {points[-1]}]"


def _times(times) -> str:
    if len(times) <= 4:
        return str(times)
    return f"{len(times)} times from {times[0]} to {times[-1]}"


RESULTS: dict[str, int] = {"evaluations": 0, "matched": 0}


@pytest.mark.parametrize("expr, ordered, errors", QUERIES)
def test_query(servers: Loaded, expr: str, ordered: bool, errors: bool):
    expr = expr.replace("{at}", str(servers.base + AT_OFFSET))
    problems = []
    evaluations = [("/api/v1/query", {"query": expr, "time": str(servers.base + offset)}, f"instant @ base+{offset}s")
                   for offset in INSTANT_OFFSETS]
    evaluations += [("/api/v1/query_range", {"query": expr, "start": str(servers.base + start), "end": str(servers.base + end),
                                             "step": str(step)}, f"range base+{start}s..base+{end}s step {step}s")
                    for start, end, step in RANGE_OFFSETS]
    for path, params, where in evaluations:
        expected = _query(servers.session, servers.prometheus_url, path, params)
        actual = _query(servers.session, servers.loupe_url, path, params)
        diffs = compare(expected, actual, ordered and path == "/api/v1/query", errors)
        RESULTS["evaluations"] += 1
        if diffs:
            problems.append(f"--- {where} (params {params}):\n  " + "\n  ".join(diffs[:12]))
        else:
            RESULTS["matched"] += 1
    assert not problems, f"{expr!r}: Loupe differs from Prometheus 2.42 (base={servers.base}):\n" + "\n".join(problems)


# --------------------------------------------------------------------------------------
# Value strings on the wire
# --------------------------------------------------------------------------------------

# Prometheus writes a sample value as Go's strconv.AppendFloat(f, 'f', -1, 64), switching to 'e' only
# below 1e-6 and from 1e21 on (web/api/v1 marshalFloat, the same in 3.x): "0.00001", "1000000000000000",
# "150000000000000000000", "-0", "1e-07", "1e+21". These queries compute each value with one exact IEEE
# operation, so both servers hold the same double and the strings must be identical.

VALUE_STRING_QUERIES = [
    pytest.param("node_load1 * 2", id="plain"),
    pytest.param("vector(123456789.125)", id="fraction"),
    pytest.param("vector(0.00001)", id="1e-5"),
    pytest.param("node_load1 * 1e-5", id="small"),
    pytest.param("vector(1e-7)", id="1e-7"),
    pytest.param("node_memory_MemTotal_bytes * 1e6", id="integral>=1e15"),
    pytest.param("vector(1.5e20)", id="1.5e20"),
    pytest.param("vector(1e21)", id="1e21"),
    pytest.param("-vector(0)", id="-0"),
    pytest.param("scalar(vector(0.00001))", id="scalar-1e-5"),
]


@pytest.mark.parametrize("expr", VALUE_STRING_QUERIES)
def test_value_strings(servers: Loaded, expr: str):
    params = {"query": expr, "time": str(servers.base + 1200)}
    expected = _query(servers.session, servers.prometheus_url, "/api/v1/query", params)
    actual = _query(servers.session, servers.loupe_url, "/api/v1/query", params)
    assert expected["status"] == "success" and actual["status"] == "success", (expected, actual)

    def strings(doc):
        result = doc["data"]["result"]
        if doc["data"]["resultType"] == "scalar":
            return [("scalar", result[1])]
        return sorted((_labels(s["metric"]), s["value"][1]) for s in result)
    assert strings(actual) == strings(expected), f"{expr}: Prometheus {strings(expected)}, Loupe {strings(actual)}"


# --------------------------------------------------------------------------------------
# Parameter forms
# --------------------------------------------------------------------------------------

def _rfc3339(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


@pytest.mark.parametrize("form", ["rfc3339", "duration-step", "float-times", "post-form"])
def test_parameter_forms(servers: Loaded, form: str):
    """The same range query with the parameters spelled the other ways the API accepts."""
    start, end = servers.base + 600, servers.base + 1800
    expr = "sum by (instance) (rate(node_cpu_seconds_total[5m]))"
    if form == "rfc3339":
        params = {"query": expr, "start": _rfc3339(start), "end": _rfc3339(end), "step": "60"}
    elif form == "duration-step":
        params = {"query": expr, "start": str(start), "end": str(end), "step": "1m"}
    else:
        params = {"query": expr, "start": f"{start}.000", "end": f"{end}.0", "step": "60.0"}
    docs = []
    for url in (servers.prometheus_url, servers.loupe_url):
        if form == "post-form":
            response = servers.session.post(url + "/api/v1/query_range", data=params, timeout=REQUEST_TIMEOUT)
        else:
            response = servers.session.get(url + "/api/v1/query_range", params=params, timeout=REQUEST_TIMEOUT)
        doc = response.json()
        doc["_http_status"] = response.status_code
        docs.append(doc)
    assert docs[0]["status"] == "success", docs[0]
    diffs = compare(docs[0], docs[1], False)
    assert not diffs, "\n".join(diffs)


# --------------------------------------------------------------------------------------
# Metadata endpoints
# --------------------------------------------------------------------------------------

def _both(servers: Loaded, path: str, params: list[tuple[str, str]]) -> tuple[dict, dict]:
    docs = []
    for url in (servers.prometheus_url, servers.loupe_url):
        response = servers.session.get(url + path, params=params, timeout=REQUEST_TIMEOUT)
        assert response.status_code == 200, f"{url}{path} {params}: {response.status_code} {response.text[:500]}"
        docs.append(response.json())
    return docs[0], docs[1]


def _window(servers: Loaded, start: int, end: int) -> list[tuple[str, str]]:
    return [("start", str(servers.base + start)), ("end", str(servers.base + end))]


@pytest.mark.parametrize("matchers, window", [
    (["up"], None),
    (['{__name__=~"node_.*", instance="host-3:9100"}'], None),
    (['http_requests_total{code="500"}', "node_load1"], (0, 4200)),
    (['{job="node"}'], (2700, 4200)),  # host-3 has no samples after 40 minutes
    (['{__name__=~".+"}'], (600, 1200)),  # the eth1 series starts later
    (['{__name__=~".+"}'], None),
    (['{__name__!=""}'], (4000, 4200)),
], ids=["up", "host-3", "two-matchers", "after-host-3-left", "all-early", "all", "all-late"])
def test_series(servers: Loaded, matchers, window):
    params = [("match[]", m) for m in matchers] + (_window(servers, *window) if window else [])
    expected, actual = _both(servers, "/api/v1/series", params)
    key = lambda series: _labels(series)  # noqa: E731
    exp = sorted(map(key, expected["data"]))
    act = sorted(map(key, actual["data"]))
    assert act == exp, (f"/api/v1/series {params}: only in Prometheus {sorted(set(exp) - set(act))[:10]}, "
                        f"only in Loupe {sorted(set(act) - set(exp))[:10]}; counts {len(exp)} vs {len(act)}")
    if matchers == ['{__name__=~".+"}'] and window is None:
        assert len(exp) == servers.series_count


@pytest.mark.parametrize("params", [
    [],
    [("match[]", "http_request_duration_seconds_bucket")],
    [("match[]", "up"), ("match[]", "node_hwmon_temp_celsius")],
], ids=["all", "histogram", "two-matchers"])
def test_labels(servers: Loaded, params):
    expected, actual = _both(servers, "/api/v1/labels", params)
    assert sorted(actual["data"]) == sorted(expected["data"]), (expected["data"], actual["data"])


@pytest.mark.parametrize("name, params", [
    ("job", []),
    ("job", [("match[]", "node_load1")]),
    ("instance", []),
    ("__name__", []),
    ("le", []),
    ("mode", "window"),
])
def test_label_values(servers: Loaded, name, params):
    if params == "window":
        params = _window(servers, 0, 4200)
    expected, actual = _both(servers, f"/api/v1/label/{name}/values", params)
    assert sorted(actual["data"]) == sorted(expected["data"]), (expected["data"], actual["data"])


def test_zz_summary(servers: Loaded):
    """Prints how many evaluations were compared (run with -s to see it)."""
    print(f"\ndifferential: {servers.series_count} series, {servers.sample_count} samples, {len(QUERIES)} queries, "
          f"{RESULTS['matched']} / {RESULTS['evaluations']} evaluations matched Prometheus 2.42")
