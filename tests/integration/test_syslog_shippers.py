"""Real log shippers from Debian's packages write to Loupe unchanged: rsyslog's
`omelasticsearch` and syslog-ng's `elasticsearch-http()` tail a file and post Elasticsearch
`_bulk` requests, as they would to an Elasticsearch cluster. Every line comes back through
LogQL with its fields mapped; a line over Loupe's size limit fails its own bulk item (rsyslog
writes it to its error file) while the rest of the batch is stored.

scripts/test.sh installs syslog-ng (and unpacks rsyslog beside it, the two packages conflict)
and sets LOUPE_REQUIRE_PEERS=1, so in CI a missing shipper fails instead of skipping.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
S = 1_000_000_000


def _rsyslog() -> tuple[str, str] | None:
    """rsyslogd and the folder of its modules: unpacked under .peers/rsyslog, or installed."""
    for root in (REPO / ".peers" / "rsyslog", Path("/")):
        daemon = root / "usr" / "sbin" / "rsyslogd"
        modules = glob.glob(str(root / "usr" / "lib" / "*" / "rsyslog" / "omelasticsearch.so"))
        if daemon.exists() and modules:
            return str(daemon), str(Path(modules[0]).parent)
    return None


def _syslog_ng() -> str | None:
    daemon = shutil.which("syslog-ng") or ("/usr/sbin/syslog-ng" if os.path.exists("/usr/sbin/syslog-ng") else None)
    if daemon and os.path.exists("/usr/share/syslog-ng/include/scl/elasticsearch/elastic-http.conf") \
            and glob.glob("/usr/lib/syslog-ng/*/libhttp.so"):
        return daemon
    return None


def _require(found, what: str):
    if found is None:
        message = f"{what} is not installed (scripts/test.sh installs it)"
        if os.environ.get("LOUPE_REQUIRE_PEERS"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def _query(loupe, query: str, start_ns: int, tenant: str | None = None) -> list[dict]:
    headers = {"X-Scope-OrgID": tenant} if tenant else {}
    params = {"query": query, "start": str(start_ns), "end": str(time.time_ns() + 60 * S), "limit": "1000",
              "direction": "forward"}
    reply = requests.get(f"{loupe.http_url}/loki/api/v1/query_range", params=params, headers=headers, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]["result"]


def _wait_for_lines(loupe, query: str, start_ns: int, count: int, process: subprocess.Popen, log: Path,
                    timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        result = _query(loupe, query, start_ns)
        if sum(len(stream["values"]) for stream in result) >= count:
            return result
        if process.poll() is not None:
            pytest.fail(f"the shipper exited with {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{count} lines did not arrive within {timeout}s; got {result}\n"
                        f"shipper output:\n{log.read_text(errors='replace')[-4000:]}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_rsyslog_omelasticsearch(loupe_factory, tmp_path):
    daemon, modules = _require(_rsyslog(), "rsyslog with omelasticsearch")
    loupe = loupe_factory.new(config="limits:\n  max_line_size: 200B\n")
    port = loupe.http_url.rsplit(":", 1)[1]
    source = tmp_path / "app.log"
    source.write_text("")
    errors = tmp_path / "es-errors.json"
    work = tmp_path / "rsyslog-work"
    work.mkdir()
    # The template is the one rsyslog's documentation gives for Elasticsearch, plus a service name.
    config = tmp_path / "rsyslog.conf"
    config.write_text(f"""
global(workDirectory="{work}")
module(load="imfile")
module(load="omelasticsearch")
input(type="imfile" File="{source}" Tag="checkout:" ruleset="to-loupe")
template(name="plain-syslog" type="list") {{
  constant(value="{{")
  constant(value="\\"@timestamp\\":\\"")  property(name="timereported" dateFormat="rfc3339")
  constant(value="\\",\\"host\\":\\"")     property(name="hostname")
  constant(value="\\",\\"severity\\":\\"") property(name="syslogseverity-text")
  constant(value="\\",\\"tag\\":\\"")      property(name="syslogtag" format="json")
  constant(value="\\",\\"service\\":{{\\"name\\":\\"checkout\\"}}")
  constant(value=",\\"message\\":\\"")     property(name="msg" format="json")
  constant(value="\\"}}")
}}
ruleset(name="to-loupe") {{
  action(type="omelasticsearch" server="127.0.0.1" serverport="{port}" template="plain-syslog"
         searchIndex="rsyslog-app" bulkmode="on" errorfile="{errors}"
         action.resumeRetryCount="-1" action.resumeInterval="1")
}}
""")
    started = time.time_ns() - S
    log = tmp_path / "rsyslog.out"
    with log.open("wb") as out:
        process = subprocess.Popen([daemon, "-n", "-f", str(config), "-i", str(tmp_path / "rsyslog.pid"), "-M", modules],
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        lines = [f'order {i} placed "quoted" ünïcode \\ slash user=u{i}' for i in range(40)]
        long_line = "x" * 300
        with source.open("a") as handle:
            for line in lines[:20]:
                handle.write(line + "\n")
            handle.write(long_line + "\n")
            for line in lines[20:]:
                handle.write(line + "\n")
        result = _wait_for_lines(loupe, '{index="rsyslog-app"}', started, len(lines), process, log)
        deadline = time.monotonic() + 15
        while not (errors.exists() and errors.stat().st_size > 0) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        _stop(process)

    assert [stream["stream"]["service_name"] for stream in result] == ["checkout"]
    got = [line for stream in result for _, line in stream["values"]]
    assert got == lines, "every line once, in order, escapes undone"
    stream = result[0]["stream"]
    assert stream["index"] == "rsyslog-app" and stream["tag"] == "checkout:" and stream["severity"] == "notice"
    times = [int(t) for t, _ in result[0]["values"]]
    assert all(started <= t <= time.time_ns() for t in times), "@timestamp became the entry's time"

    # The 300-byte line failed its own item and nothing else: rsyslog logged the request and reply.
    assert errors.exists(), f"rsyslog wrote no error file; output:\n{log.read_text(errors='replace')[-4000:]}"
    record = errors.read_text()
    assert "Max entry size '200' bytes exceeded" in record
    assert long_line not in got
    total = sum(len(stream["values"]) for stream in _query(loupe, '{index="rsyslog-app"}', started))
    assert total == len(lines)


def test_syslog_ng_elasticsearch_http(loupe, tmp_path):
    daemon = _require(_syslog_ng(), "syslog-ng with elasticsearch-http()")
    source = tmp_path / "app.log"
    source.write_text("")
    config = tmp_path / "syslog-ng.conf"
    config.write_text(f"""@version: 3.38
@include "scl.conf"
source s_app {{ file("{source}" follow-freq(0.2) flags(no-parse) program-override("payments")); }};
destination d_loupe {{
  elasticsearch-http(
    url("{loupe.http_url}/_bulk")
    index("syslog-ng")
    type("")
    headers("X-Scope-OrgID: team-a")
    batch_lines(25)
    batch_timeout(200)
    workers(2)
  );
}};
log {{ source(s_app); destination(d_loupe); }};
""")
    started = time.time_ns() - S
    log = tmp_path / "syslog-ng.out"
    with log.open("wb") as out:
        process = subprocess.Popen([daemon, "-F", "-e", "-f", str(config),
                                    f"--persist-file={tmp_path / 'persist'}", f"--pidfile={tmp_path / 'pid'}",
                                    f"--control={tmp_path / 'ctl'}"], stdout=out, stderr=subprocess.STDOUT)
    try:
        lines = [f"payment {i} settled amount={i * 3}.50 currency=EUR" for i in range(100)]
        with source.open("a") as handle:
            for line in lines:
                handle.write(line + "\n")
        deadline = time.monotonic() + 30
        while True:
            result = _query(loupe, '{index="syslog-ng"}', started, tenant="team-a")
            if sum(len(stream["values"]) for stream in result) >= len(lines) or time.monotonic() > deadline:
                break
            if process.poll() is not None:
                pytest.fail(f"syslog-ng exited with {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
            time.sleep(0.2)
    finally:
        _stop(process)

    got = sorted((line for stream in result for _, line in stream["values"]), key=lambda text: int(text.split()[1]))
    assert got == lines, f"syslog-ng output:\n{log.read_text(errors='replace')[-3000:]}"
    # syslog-ng names its fields in capitals (MESSAGE, PROGRAM, HOST): MESSAGE is the line, the rest metadata.
    for stream in result:
        assert stream["stream"]["index"] == "syslog-ng" and stream["stream"]["PROGRAM"] == "payments"
    # The tenant header syslog-ng sent kept the lines out of the default tenant.
    assert _query(loupe, '{index="syslog-ng"}', started) == []
    # A LogQL metric query over them: logfmt-parsed amounts summed.
    reply = requests.get(f"{loupe.http_url}/loki/api/v1/query", headers={"X-Scope-OrgID": "team-a"}, timeout=10, params={
        "query": 'sum(sum_over_time({index="syslog-ng"} | logfmt | unwrap amount [10m]))', "time": str(time.time_ns())})
    assert reply.status_code == 200, reply.text
    value = float(reply.json()["data"]["result"][0]["value"][1])
    assert value == pytest.approx(sum(i * 3 + 0.5 for i in range(100)))
