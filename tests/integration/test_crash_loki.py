"""Durability of the Loki push API: `kill -9` during ingest loses nothing acknowledged.

Several threads push log entries concurrently — snappy protobuf `PushRequest`s (encoded here by
hand and compressed by python-snappy, as Promtail and Alloy send them) and JSON bodies — each to
its own stream with strictly increasing timestamps; every push answered 204 is recorded. The
server is killed with SIGKILL at a random moment (seeded; LOUPE_CRASH_SEED repeats the timings),
restarted on the same data directory, three times. After every restart each stream is read back
through `query_range` (forward, no limit in practice) and:
- every acknowledged entry is there, with its exact timestamp and line;
- nothing is there that was never sent, and nothing twice (replay duplicates nothing);
- a push that was not acknowledged is there completely or not at all (one WAL record per push).
"""

from __future__ import annotations

import collections
import json
import os
import random
import threading
import time
from dataclasses import dataclass, field

import requests
import snappy

from loupe_testlib import kill_during_load, REQUEST_TIMEOUT, http_session

THREADS = 6
ENTRIES_PER_PUSH = 5
CYCLES = 3
SEED = int(os.environ.get("LOUPE_CRASH_SEED", str(int(time.time()))))


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def encode_push(streams: list[tuple[str, list[tuple[int, str]]]]) -> bytes:
    """A `logproto.PushRequest`, snappy-compressed (block format)."""
    body = b""
    for labels, entries in streams:
        stream = _field(1, labels.encode())
        for timestamp, line in entries:
            seconds, nanos = divmod(timestamp, 1_000_000_000)
            stamp = _varint(1 << 3) + _varint(seconds) + (_varint(2 << 3) + _varint(nanos) if nanos else b"")
            stream += _field(2, _field(1, stamp) + _field(2, line.encode()))
        body += _field(1, stream)
    return snappy.compress(body)


@dataclass
class SentPush:
    request_id: int
    thread: int
    entries: list[tuple[int, str]]
    acknowledged: bool = False


@dataclass
class Ledger:
    start_ns: int
    requests: dict[int, SentPush] = field(default_factory=dict)
    next_index: dict[int, int] = field(default_factory=lambda: collections.defaultdict(int))
    statuses: collections.Counter = field(default_factory=collections.Counter)
    errors: collections.Counter = field(default_factory=collections.Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_id: int = 0

    def new_push(self, thread: int) -> SentPush:
        with self.lock:
            first = self.next_index[thread]
            self.next_index[thread] += ENTRIES_PER_PUSH
            request_id = self.next_id
            self.next_id += 1
        entries = [(self.start_ns + (first + i) * 1_000_000, f"thread={thread} entry={first + i} push={request_id} msg=\"hello \\\"world\\\"\"")
                   for i in range(ENTRIES_PER_PUSH)]
        push = SentPush(request_id, thread, entries)
        with self.lock:
            self.requests[request_id] = push
        return push

    def acknowledged(self) -> list[SentPush]:
        with self.lock:
            return [r for r in self.requests.values() if r.acknowledged]


def post_push(server, session, ledger: Ledger, thread: int) -> SentPush:
    push = ledger.new_push(thread)
    labels = f'{{app="crash", thread="{thread}"}}'
    if push.request_id % 2 == 0:
        body = encode_push([(labels, push.entries)])
        headers = {"Content-Type": "application/x-protobuf"}
    else:
        body = json.dumps({"streams": [{"stream": {"app": "crash", "thread": str(thread)},
                                        "values": [[str(t), line] for t, line in push.entries]}]}).encode()
        headers = {"Content-Type": "application/json"}
    response = session.post(f"{server.http_url}/loki/api/v1/push", data=body, headers=headers, timeout=REQUEST_TIMEOUT)
    with ledger.lock:
        ledger.statuses[response.status_code] += 1
        if response.status_code == 204:
            push.acknowledged = True
    return push


def read_back(server, ledger: Ledger) -> dict[int, list[tuple[int, str]]]:
    end = ledger.start_ns + (max(ledger.next_index.values(), default=0) + 10) * 1_000_000
    response = server.session.get(server.http_url + "/loki/api/v1/query_range", params={
        "query": '{app="crash"}', "start": str(ledger.start_ns - 1), "end": str(end), "limit": "10000000", "direction": "forward",
    }, timeout=REQUEST_TIMEOUT)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["resultType"] == "streams"
    found: dict[int, list[tuple[int, str]]] = collections.defaultdict(list)
    for stream in data["result"]:
        thread = int(stream["stream"]["thread"])
        found[thread].extend((int(t), line) for t, line in stream["values"])
    return found


def verify(server, ledger: Ledger, context: str) -> int:
    found = read_back(server, ledger)
    total = 0
    for thread, entries in found.items():
        times = [t for t, _ in entries]
        assert times == sorted(times), f"{context}: thread {thread}: entries not in time order"
        assert len(set(times)) == len(times), f"{context}: thread {thread}: an entry came back twice"
        total += len(entries)
    present = {(thread, t, line) for thread, entries in found.items() for t, line in entries}
    sent = {(r.thread, t, line) for r in ledger.requests.values() for t, line in r.entries}
    assert present <= sent, f"{context}: entries that were never sent: {list(present - sent)[:3]}"
    for push in ledger.requests.values():
        mine = [(push.thread, t, line) in present for t, line in push.entries]
        if push.acknowledged:
            assert all(mine), f"{context}: acknowledged push {push.request_id} lost {mine.count(False)} entries"
        else:
            assert all(mine) or not any(mine), f"{context}: unacknowledged push {push.request_id} is partly there"
    return total


def _load(server, ledger: Ledger, stop: threading.Event, crashing: threading.Event, thread: int, unexpected: list) -> None:
    session = http_session()
    while not stop.is_set():
        try:
            push = post_push(server, session, ledger, thread)
            if not push.acknowledged and not crashing.is_set():
                unexpected.append(f"push {push.request_id} refused while the server was up: {dict(ledger.statuses)}")
        except requests.RequestException as error:
            with ledger.lock:
                ledger.errors[type(error).__name__] += 1
            if not crashing.is_set():
                unexpected.append(f"{type(error).__name__}: {error}")
            time.sleep(0.02)
    session.close()


def test_kill_9_during_loki_push_loses_no_acknowledged_entry(loupe_factory):
    rng = random.Random(SEED)
    print(f"Loki push crash test seed: {SEED} (set LOUPE_CRASH_SEED to repeat)")
    # Cuts every 16 KiB of lines and every 200 ms, small WAL segments: kills land during cuts,
    # block writes, checkpoint saves and WAL truncation too, not only during appends.
    config = "logs:\n  flush_size: 16KiB\n  maintenance_interval: 200ms\nwal:\n  segment_size: 256KiB\n"
    server = loupe_factory.new(retention="0", log_level="info", start=False, config=config)
    ledger = Ledger(start_ns=(time.time_ns() - 3_600_000_000_000) // 1_000_000_000 * 1_000_000_000)
    for cycle in range(1, CYCLES + 1):
        server.start()
        verify(server, ledger, context=f"after restart {cycle - 1}")
        stop, crashing = threading.Event(), threading.Event()
        unexpected: list[str] = []
        threads = [threading.Thread(target=_load, args=(server, ledger, stop, crashing, i, unexpected), daemon=True)
                   for i in range(THREADS)]
        kill_during_load(server, ledger, rng, threads, stop, crashing, unexpected, cycle, minimum=rng.randint(10, 60))
        assert all(code == 204 for code in ledger.statuses), f"only 204 expected while up: {dict(ledger.statuses)}"
    server.start()
    total = verify(server, ledger, context=f"after the last of {CYCLES} kill -9 cycles")
    acknowledged = sum(len(r.entries) for r in ledger.acknowledged())
    print(f"{len(ledger.acknowledged())} acknowledged pushes ({acknowledged} entries) all returned exactly; {total} entries in all")
    assert total >= acknowledged
    server.terminate()
    blocks = list((server.data_dir / "logs").rglob("*.lblk"))
    assert blocks, "the heads were cut into log blocks"
    server.start()
    assert verify(server, ledger, context="after a clean restart") == total
    print(f"{len(blocks)} log blocks")
