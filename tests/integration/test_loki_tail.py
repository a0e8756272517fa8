"""Loki's live tail over a WebSocket, as logcli `--tail` and Grafana's live view use it.

A client connects to `/loki/api/v1/tail` with a LogQL log query, gets the recent history first,
then every pushed entry the query keeps, with the pipeline applied (filters, parsers,
line_format); entries of other tenants, other streams and filtered lines never arrive. A bad
query, a metric query and a request without an upgrade get 400 and why.
"""

from __future__ import annotations

import json
import time
import urllib.parse

import requests
import websocket


def push(server, entries, labels=None, tenant=None):
    labels = labels or {"app": "tail", "env": "prod"}
    body = {"streams": [{"stream": labels, "values": [[str(t), line] for t, line in entries]}]}
    headers = {"Content-Type": "application/json"}
    if tenant:
        headers["X-Scope-OrgID"] = tenant
    response = requests.post(f"{server.http_url}/loki/api/v1/push", data=json.dumps(body), headers=headers, timeout=10)
    assert response.status_code == 204, response.text


def connect(server, query, **params):
    url = server.http_url.replace("http://", "ws://") + "/loki/api/v1/tail?" + urllib.parse.urlencode({"query": query, **params})
    ws = websocket.create_connection(url, timeout=10)
    return ws


def receive_until(ws, predicate, deadline=10.0):
    """Messages until `predicate(all entries so far)` holds; returns (entries, messages)."""
    entries, messages = [], []
    end = time.time() + deadline
    while time.time() < end and not predicate(entries):
        ws.settimeout(max(0.1, end - time.time()))
        message = json.loads(ws.recv())
        messages.append(message)
        assert set(message) == {"streams", "dropped_entries"}, message
        for stream in message["streams"]:
            for t, line in stream["values"]:
                entries.append((stream["stream"], int(t), line))
    return entries, messages


def test_tail_sends_history_then_live_entries_through_the_pipeline(loupe_factory):
    server = loupe_factory.new(retention="0", log_level="info")
    now = time.time_ns()
    push(server, [(now - 60_000_000_000, "level=info msg=old-one"), (now - 30_000_000_000, "level=debug msg=old-two")])
    push(server, [(now - 20_000_000_000, "level=info msg=other-stream")], labels={"app": "other"})

    ws = connect(server, '{app="tail"} |= "level=info" | logfmt | line_format "{{.msg}}"', start=str(now - 120_000_000_000))
    try:
        history, _ = receive_until(ws, lambda got: len(got) >= 1)
        assert [(labels["app"], line) for labels, _, line in history] == [("tail", "old-one")]
        assert history[0][0]["level"] == "info" and history[0][0]["msg"] == "old-one", "parsed labels are on the stream"

        push(server, [(now + 1, "level=info msg=live-1"), (now + 2, "level=warn msg=filtered-out")])
        push(server, [(now + 3, "level=info msg=wrong-stream")], labels={"app": "other"})
        push(server, [(now + 4, "level=info msg=wrong-tenant")], tenant="someone-else")
        push(server, [(now - 10_000_000_000, "level=info msg=late-but-new")])
        live, messages = receive_until(ws, lambda got: len(got) >= 2)
        assert [line for _, _, line in live] == ["live-1", "late-but-new"]
        assert [t for _, t, _ in live] == [now + 1, now - 10_000_000_000]
        assert all(m["dropped_entries"] is None for m in messages)
        # Nothing else is on its way: the filtered, foreign-stream and foreign-tenant entries never come.
        ws.settimeout(1.0)
        try:
            extra = ws.recv()
            raise AssertionError(f"unexpected message: {extra}")
        except websocket.WebSocketTimeoutException:
            pass
    finally:
        ws.close()


def test_tail_limits_history_and_refuses_bad_requests(loupe_factory):
    server = loupe_factory.new(retention="0", log_level="info")
    now = time.time_ns()
    push(server, [(now - 50_000_000_000 + i, f"line {i}") for i in range(10)])
    ws = connect(server, '{app="tail"}', limit="3", start=str(now - 100_000_000_000))
    try:
        history, _ = receive_until(ws, lambda got: len(got) >= 3)
        assert [line for _, _, line in history] == ["line 0", "line 1", "line 2"], "the oldest `limit` entries, oldest first"
    finally:
        ws.close()

    for query, fragment in [('{app="tail"', "parse error"), ('count_over_time({app="tail"}[1m])', "log query"), ("", "query")]:
        with __import__("pytest").raises(websocket.WebSocketBadStatusException) as refused:
            connect(server, query)
        assert refused.value.status_code == 400
        plain = requests.get(f"{server.http_url}/loki/api/v1/tail", params={"query": query}, timeout=10)
        assert plain.status_code == 400 and fragment in plain.text, plain.text
    plain = requests.get(f"{server.http_url}/loki/api/v1/tail", params={"query": '{app="tail"}'}, timeout=10)
    assert plain.status_code == 400 and "WebSocket" in plain.text
