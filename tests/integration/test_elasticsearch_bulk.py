"""Elasticsearch's `_bulk` API with the official Python client (which checks the product header
and speaks Elasticsearch 8's compatibility media types), as shippers use it; documents become
Loki streams queried with LogQL, and per-item results say which items failed and why."""

from __future__ import annotations

import json
import time

import requests
from elasticsearch import Elasticsearch, helpers

S = 1_000_000_000


def test_official_client_bulk_then_logql(loupe):
    client = Elasticsearch(loupe.http_url, headers={"X-Scope-OrgID": "es"}, request_timeout=10)
    info = client.info()
    assert info["version"]["number"].startswith("8.")
    base = time.time_ns() // S * S - 300 * S
    actions = []
    for i in range(20):
        actions.append({
            "_index": "app-logs",
            "_source": {
                "@timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((base + i * S) // S)) + f".{i:03d}Z",
                "message": f"GET /item/{i} {500 if i % 5 == 0 else 200}",
                "kubernetes": {"namespace_name": "shop", "pod_name": f"web-{i % 2}", "container_name": "nginx"},
                "http": {"status": 500 if i % 5 == 0 else 200},
            },
        })
    succeeded, errors = helpers.bulk(client, actions, refresh=False)
    assert succeeded == 20 and not errors

    params = {"start": str(base - S), "end": str(base + 60 * S), "limit": "100", "direction": "forward",
              "query": '{index="app-logs", namespace="shop"} | http_status >= 500'}
    reply = requests.get(f"{loupe.http_url}/loki/api/v1/query_range", params=params, headers={"X-Scope-OrgID": "es"}, timeout=10)
    assert reply.status_code == 200, reply.text
    result = reply.json()["data"]["result"]
    lines = [line for stream in result for _, line in stream["values"]]
    assert sorted(lines) == sorted(f"GET /item/{i} 500" for i in (0, 5, 10, 15))
    for stream in result:
        assert stream["stream"]["container"] == "nginx" and stream["stream"]["pod"] in ("web-0", "web-1")
    # @timestamp became the entry's time (to the millisecond).
    times = sorted(int(t) for stream in result for t, _ in stream["values"])
    assert times == [base + i * S + i * 1_000_000 for i in (0, 5, 10, 15)]


def test_per_item_errors_and_handshakes(loupe):
    headers = {"Content-Type": "application/x-ndjson"}
    body = (
        '{"index":{"_index":"a","_id":"1"}}\n{"message":"ok"}\n'
        '{"create":{"_index":"a"}}\n{"message": broken}\n'
        '{"delete":{"_index":"a","_id":"1"}}\n'
    )
    reply = requests.post(f"{loupe.http_url}/_bulk", data=body, headers=headers, timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.headers["X-Elastic-Product"] == "Elasticsearch"
    doc = reply.json()
    assert doc["errors"] is True
    statuses = [(next(iter(item)), item[next(iter(item))]["status"]) for item in doc["items"]]
    assert statuses == [("index", 201), ("create", 400), ("delete", 400)]
    assert doc["items"][0]["index"]["_id"] == "1"

    malformed = requests.post(f"{loupe.http_url}/_bulk", data='{"index":oops}\n{}\n', headers=headers, timeout=10)
    assert malformed.status_code == 400
    assert "Malformed action/metadata line [1]" in malformed.json()["error"]["reason"]

    assert requests.head(loupe.http_url, timeout=10).status_code == 200
    assert requests.get(f"{loupe.http_url}/_license", timeout=10).json()["license"]["status"] == "active"
    assert requests.put(f"{loupe.http_url}/_index_template/logs", json={}, timeout=10).json()["acknowledged"] is True
    assert requests.put(f"{loupe.http_url}/my-index", json={}, timeout=10).status_code == 200


def test_items_older_than_the_retention_fail_alone(loupe_factory):
    loupe = loupe_factory.new(retention="1h")
    now = time.time()
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 7200))
    fresh = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60))
    body = (
        '{"index":{"_index":"ret"}}\n' + json.dumps({"@timestamp": old, "message": "two hours ago"}) + "\n"
        '{"index":{"_index":"ret"}}\n' + json.dumps({"@timestamp": fresh, "message": "a minute ago"}) + "\n"
    )
    reply = requests.post(f"{loupe.http_url}/_bulk", data=body, headers={"Content-Type": "application/x-ndjson"}, timeout=10)
    assert reply.status_code == 200, reply.text
    doc = reply.json()
    assert doc["errors"] is True
    assert [item["index"]["status"] for item in doc["items"]] == [400, 201]
    assert "older than the retention period" in doc["items"][0]["index"]["error"]["reason"]
    params = {"query": '{index="ret"}', "start": str(int((now - 3600) * S)), "end": str(int((now + 60) * S))}
    result = requests.get(f"{loupe.http_url}/loki/api/v1/query_range", params=params, timeout=10).json()["data"]["result"]
    assert [line for stream in result for _, line in stream["values"]] == ["a minute ago"]
