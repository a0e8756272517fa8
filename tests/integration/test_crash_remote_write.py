"""Durability of Prometheus remote write: `kill -9` during ingest loses nothing acknowledged.

Several threads send remote-write requests (1.0, and 2.0 from some threads) concurrently, each
with its own series and strictly increasing timestamps; every request answered 2xx is recorded.
The server is killed with SIGKILL at a random moment (seeded; LOUPE_CRASH_SEED repeats the
timings, as in test_crash.py), restarted on the same data directory, and three such cycles run
on one directory. After every restart, each thread's series are read back raw
(`series[2h]` as an instant query returns every stored sample with its exact timestamp) and:
- every acknowledged sample is there, with its exact timestamp and value;
- nothing is there that was never sent, nor with another value (no corruption), and no
  timestamp comes back twice (replay duplicates nothing);
- a request that was not acknowledged is there completely or not at all (one WAL record per
  request);
- `count_over_time(series[2h])` agrees with the raw read-back, and `query_range` evaluated
  exactly at sampled timestamps returns those samples' values.

Timestamps start 40 minutes before the test and advance 100 ms per sample, so with retention
"0" nothing is too old and nothing is in the future.
"""

from __future__ import annotations

import collections
import os
import random
import threading
import time
from dataclasses import dataclass, field

import pytest
import requests

from loupe_testlib import kill_during_load, REQUEST_TIMEOUT, http_session
from remote_write import HEADERS, HEADERS_V2, encode_request, encode_request_v2

THREADS = 6
SERIES_PER_THREAD = 3
SAMPLES_PER_REQUEST = 5  # per series
STEP_MS = 100
CYCLES = 3
METRIC = "crash_rw_samples"
SEED = int(os.environ.get("LOUPE_CRASH_SEED", str(int(time.time()))))


# --------------------------------------------------------------------------------------
# Bookkeeping
# --------------------------------------------------------------------------------------

def series_key(thread: int, index: int) -> tuple[str, str]:
    return (str(thread), str(index))


@dataclass
class SentRequest:
    request_id: int
    thread: int
    version: int
    samples: dict[tuple[str, str], list[tuple[int, float]]]
    acknowledged: bool = False

    @property
    def sample_count(self) -> int:
        return sum(len(s) for s in self.samples.values())


@dataclass
class Ledger:
    start_ms: int
    step_ms: int = STEP_MS
    requests: dict[int, SentRequest] = field(default_factory=dict)
    # series -> timestamp -> (value, request id)
    sent: dict[tuple[str, str], dict[int, tuple[float, int]]] = field(default_factory=lambda: collections.defaultdict(dict))
    next_index: dict[int, int] = field(default_factory=lambda: collections.defaultdict(int))  # per thread
    statuses: collections.Counter = field(default_factory=collections.Counter)
    errors: collections.Counter = field(default_factory=collections.Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_id: int = 0

    def new_request(self, thread: int, version: int) -> SentRequest:
        """The thread's next SAMPLES_PER_REQUEST scrapes of each of its series. Values are distinct,
        non-trivial doubles, so a sample read back with another value is caught."""
        with self.lock:
            self.next_id += 1
            request_id = self.next_id
            first = self.next_index[thread]
            self.next_index[thread] = first + SAMPLES_PER_REQUEST
        samples = {}
        for index in range(SERIES_PER_THREAD):
            key = series_key(thread, index)
            samples[key] = [(self.start_ms + n * self.step_ms, n * 1.1 + thread * 1e-3 + index / 7)
                            for n in range(first, first + SAMPLES_PER_REQUEST)]
        sent = SentRequest(request_id, thread, version, samples)
        with self.lock:
            self.requests[request_id] = sent
            for key, points in samples.items():
                for timestamp, value in points:
                    assert timestamp not in self.sent[key]
                    self.sent[key][timestamp] = (value, request_id)
        return sent

    def acknowledged(self) -> list[SentRequest]:
        with self.lock:
            return [r for r in self.requests.values() if r.acknowledged]


def post_request(server, session, ledger: Ledger, thread: int, version: int) -> SentRequest:
    sent = ledger.new_request(thread, version)
    series = [((("__name__", METRIC), ("thread", key[0]), ("series", key[1]), ("job", "crash")), points)
              for key, points in sent.samples.items()]
    body, headers = (encode_request(series), HEADERS) if version == 1 else (encode_request_v2(series), HEADERS_V2)
    response = session.post(f"{server.http_url}/api/v1/write", data=body, headers=headers, timeout=REQUEST_TIMEOUT)
    with ledger.lock:
        ledger.statuses[response.status_code] += 1
        if 200 <= response.status_code < 300:
            sent.acknowledged = True
    return sent


# --------------------------------------------------------------------------------------
# Reading back
# --------------------------------------------------------------------------------------

def _get(server, path: str, params: dict) -> dict:
    response = server.session.get(server.http_url + path, params=params, timeout=REQUEST_TIMEOUT)
    assert response.status_code == 200, f"{path} {params}: {response.status_code} {response.text[:1000]}"
    doc = response.json()
    assert doc["status"] == "success", doc
    return doc["data"]


def read_back(server, at: float) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """Every stored sample of every test series: series -> [(timestamp ms, value)] in the order returned."""
    found: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for thread in range(THREADS):
        data = _get(server, "/api/v1/query", {"query": f'{METRIC}{{thread="{thread}"}}[2h]', "time": f"{at:.3f}"})
        assert data["resultType"] == "matrix", data["resultType"]
        for series in data["result"]:
            key = (series["metric"]["thread"], series["metric"]["series"])
            assert key not in found, f"series {key} returned twice"
            assert series["metric"] == {"__name__": METRIC, "thread": key[0], "series": key[1], "job": "crash"}, series["metric"]
            found[key] = [(round(float(t) * 1000), float(v)) for t, v in series["values"]]
    return found


def verify(server, ledger: Ledger, rng: random.Random, context: str) -> tuple[int, int]:
    """The checks of the module docstring. Returns (samples returned, samples of unacknowledged requests returned)."""
    at = time.time() + 1
    found = read_back(server, at)
    acknowledged = ledger.acknowledged()

    problems: list[str] = []
    returned_by_request: collections.Counter = collections.Counter()
    for key, points in found.items():
        timestamps = [t for t, _ in points]
        if timestamps != sorted(set(timestamps)):
            dupes = [t for t, n in collections.Counter(timestamps).items() if n > 1]
            problems.append(f"series {key}: timestamps not strictly increasing (duplicated: {dupes[:5]})")
        sent = ledger.sent.get(key, {})
        for timestamp, value in points:
            if timestamp not in sent:
                problems.append(f"series {key}: sample at {timestamp} was never sent (value {value})")
            elif sent[timestamp][0] != value:
                problems.append(f"series {key}: sample at {timestamp} came back as {value!r}, sent {sent[timestamp][0]!r}")
            else:
                returned_by_request[sent[timestamp][1]] += 1
    assert not problems, f"{context} (seed {SEED}): {len(problems)} problem(s):\n" + "\n".join(problems[:20])

    lost = [r for r in acknowledged if returned_by_request[r.request_id] != r.sample_count]
    assert not lost, (
        f"{context} (seed {SEED}): {len(lost)} of {len(acknowledged)} acknowledged request(s) not fully returned, e.g. "
        f"request {lost[0].request_id} (thread {lost[0].thread}, remote write {lost[0].version}.0): "
        f"{returned_by_request[lost[0].request_id]} of {lost[0].sample_count} samples returned; "
        f"first sample {next(iter(lost[0].samples.values()))[0]}")
    partial = [(request_id, count, ledger.requests[request_id].sample_count)
               for request_id, count in returned_by_request.items() if count != ledger.requests[request_id].sample_count]
    assert not partial, f"{context}: requests returned only in part (request, returned, sent): {partial[:5]}"

    # count_over_time agrees with the raw read-back.
    for thread in range(THREADS):
        data = _get(server, "/api/v1/query", {"query": f'count_over_time({METRIC}{{thread="{thread}"}}[2h])', "time": f"{at:.3f}"})
        counts = {(s["metric"]["thread"], s["metric"]["series"]): int(float(s["value"][1])) for s in data["result"]}
        expected = {key: len(points) for key, points in found.items() if key[0] == str(thread) and points}
        assert counts == expected, f"{context}: count_over_time {counts} but the raw read-back has {expected}"

    # query_range evaluated exactly at a few acknowledged samples' timestamps returns them.
    samples = [(key, t, v) for r in acknowledged for key, points in r.samples.items() for t, v in points]
    for key, timestamp, value in rng.sample(samples, min(10, len(samples))):
        data = _get(server, "/api/v1/query_range", {
            "query": f'{METRIC}{{thread="{key[0]}", series="{key[1]}"}}',
            "start": f"{timestamp / 1000:.3f}", "end": f"{timestamp / 1000:.3f}", "step": "1"})
        assert len(data["result"]) == 1 and data["result"][0]["values"] == [[timestamp / 1000, data["result"][0]["values"][0][1]]], \
            f"{context}: query_range at {timestamp} ms: {data['result']}"
        got = float(data["result"][0]["values"][0][1])
        assert got == value, f"{context}: query_range at {timestamp} ms for {key} returned {got!r}, sent {value!r}"

    total = sum(len(points) for points in found.values())
    unacknowledged = sum(count for request_id, count in returned_by_request.items()
                         if not ledger.requests[request_id].acknowledged)
    return total, unacknowledged


# --------------------------------------------------------------------------------------
# kill -9 under concurrent load, three times on one data directory
# --------------------------------------------------------------------------------------

def _load(server, ledger: Ledger, stop: threading.Event, crashing: threading.Event, thread: int, unexpected: list) -> None:
    session = http_session()
    version = 2 if thread % 3 == 2 else 1  # threads 2 and 5 speak remote write 2.0
    latest_allowed = int(time.time() * 1000) - 60_000
    while not stop.is_set():
        if ledger.start_ms + (ledger.next_index[thread] + SAMPLES_PER_REQUEST) * ledger.step_ms > latest_allowed:
            unexpected.append(f"thread {thread} ran out of past timestamps")
            break
        try:
            sent = post_request(server, session, ledger, thread, version)
            if not sent.acknowledged and not crashing.is_set():
                unexpected.append(f"request {sent.request_id} refused while the server was up: {dict(ledger.statuses)}")
        except requests.RequestException as error:
            with ledger.lock:
                ledger.errors[type(error).__name__] += 1
            if not crashing.is_set():
                unexpected.append(f"{type(error).__name__}: {error}")
            time.sleep(0.02)
    session.close()


# With one-minute blocks and a maintenance pass every second, heads are cut into blocks on disk,
# and blocks compacted, while the load runs and the kills land: replay must then combine the
# blocks with the WAL (skipping what the blocks hold) without losing or duplicating a sample.
# Threads advance their timestamps at different speeds, so a cut driven by the fastest leaves the
# slowest behind the head's lower bound: the out-of-order window takes those samples (into
# overlapping blocks that compaction merges), as a Prometheus with the same window would.
BLOCKS_CONFIG = "tsdb:\n  block_duration: 1m\n  maintenance_interval: 1s\n  out_of_order_time_window: 1h\n"


@pytest.mark.parametrize("with_blocks", [False, True], ids=["head-only", "blocks-cut-during-load"])
def test_kill_9_during_remote_write_loses_no_acknowledged_sample(loupe_factory, with_blocks):
    rng = random.Random(SEED)
    print(f"remote-write crash test seed: {SEED} (set LOUPE_CRASH_SEED to repeat)")
    server = loupe_factory.new(retention="0", log_level="info", start=False, config=BLOCKS_CONFIG if with_blocks else None)
    # With blocks, samples are 0.5 s apart (from 90 min back; the read-back window is 2 h) and each cycle waits for more acknowledgements, so the data
    # spans well over the 1.5 block ranges (90 s) after which a head is cut.
    history_minutes = 90 if with_blocks else 40
    ledger = Ledger(start_ms=(int(time.time() * 1000) - history_minutes * 60_000) // 1000 * 1000,
                    step_ms=500 if with_blocks else STEP_MS)
    for cycle in range(1, CYCLES + 1):
        server.start()
        verify(server, ledger, rng, context=f"after restart {cycle - 1}")
        stop, crashing = threading.Event(), threading.Event()
        unexpected: list[str] = []
        threads = [threading.Thread(target=_load, args=(server, ledger, stop, crashing, i, unexpected), daemon=True)
                   for i in range(THREADS)]
        # Let some writes through, then kill at a random moment while requests are in flight.
        kill_during_load(server, ledger, rng, threads, stop, crashing, unexpected, cycle, minimum=rng.randint(10, 60) + (120 if with_blocks else 0))
        assert all(200 <= code < 300 for code in ledger.statuses), f"only successes expected while up: {dict(ledger.statuses)}"
    server.start()
    total, from_unacknowledged = verify(server, ledger, rng, context=f"after the last of {CYCLES} kill -9 cycles")
    acknowledged_samples = sum(r.sample_count for r in ledger.acknowledged())
    print(f"{len(ledger.acknowledged())} acknowledged requests ({acknowledged_samples} samples) all returned exactly; "
          f"{from_unacknowledged} samples of unacknowledged requests also made it ({total} samples in all)")
    assert total == acknowledged_samples + from_unacknowledged
    # A clean stop after all that keeps everything too.
    server.terminate()
    server.start()
    assert verify(server, ledger, rng, context="after a clean restart") == (total, from_unacknowledged)
    if with_blocks:
        blocks_dir = server.data_dir / "metrics" / "default"
        blocks = [p for p in blocks_dir.iterdir() if (p / "meta.json").exists()] if blocks_dir.exists() else []
        assert blocks, f"no block was cut into {blocks_dir}\n{server.stderr_tail()}"
        assert (server.data_dir / "metrics" / "checkpoint").exists(), "a completed cut leaves a checkpoint"
