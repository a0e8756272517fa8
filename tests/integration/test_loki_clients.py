"""python-logging-loki, a Loki client library, pushes through Python's logging module in both
of its wire shapes: version "1" posts `{"streams":[{"stream":{...},"values":[...]}]}` to
/loki/api/v1/push, version "0" posts Loki's legacy `{"streams":[{"labels":"{...}","entries":[...]}]}`
to /api/prom/push. Both land as Loki streams (the handler's tags and level become labels)."""

from __future__ import annotations

import logging
import time

import logging_loki
import pytest
import requests

S = 1_000_000_000


@pytest.mark.parametrize(("version", "path"), [("1", "/loki/api/v1/push"), ("0", "/api/prom/push")])
def test_python_logging_loki(loupe, version, path):
    started = time.time_ns() - S
    handler = logging_loki.LokiHandler(url=loupe.http_url + path, tags={"app": f"shop-v{version}"},
                                       version=version)
    failures = []
    handler.handleError = lambda record: failures.append(record)  # the handler swallows errors otherwise
    logger = logging.getLogger(f"loupe-test-{version}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        for i in range(5):
            logger.info("order %d placed", i, extra={"tags": {"region": "eu"}})
        logger.error("payment failed: card declined")
    finally:
        logger.removeHandler(handler)
    assert not failures, "the push was refused"

    params = {"query": f'{{app="shop-v{version}"}}', "start": str(started), "end": str(time.time_ns() + S),
              "direction": "forward", "limit": "100"}
    reply = requests.get(f"{loupe.http_url}/loki/api/v1/query_range", params=params, timeout=10)
    assert reply.status_code == 200, reply.text
    streams = {stream["stream"]["severity"]: stream for stream in reply.json()["data"]["result"]}
    assert sorted(streams) == ["error", "info"]
    assert [line for _, line in streams["info"]["values"]] == [f"order {i} placed" for i in range(5)]
    assert streams["info"]["stream"]["region"] == "eu" and streams["info"]["stream"]["logger"] == f"loupe-test-{version}"
    assert [line for _, line in streams["error"]["values"]] == ["payment failed: card declined"]
    for stream in streams.values():
        for timestamp, _ in stream["values"]:
            # Version 0 sends RFC 3339 with microseconds, version 1 nanoseconds as text: both kept.
            assert started <= int(timestamp) <= time.time_ns()


def test_legacy_push_refusals_say_where(loupe):
    url = loupe.http_url + "/api/prom/push"
    bad_time = {"streams": [{"labels": '{app="x"}', "entries": [{"ts": "yesterday", "line": "a"}]}]}
    reply = requests.post(url, json=bad_time, timeout=10)
    assert reply.status_code == 400 and "streams[0].entries[0].ts" in reply.text, reply.text
    no_labels = {"streams": [{"entries": [{"ts": "2026-01-01T00:00:00Z", "line": "a"}]}]}
    reply = requests.post(url, json=no_labels, timeout=10)
    assert reply.status_code == 400 and "at least one label" in reply.text, reply.text
