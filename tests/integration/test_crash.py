"""Durability: writes are acknowledged only once they are in the fsynced WAL, so a
`kill -9` at any moment loses nothing that was acknowledged, replay duplicates nothing,
and a damaged WAL tail (garbage appended, last bytes cut off) does not stop a restart.

Each test drives a real `loupe up` through kill/restart cycles on one data directory.
"""

from __future__ import annotations

import collections
import json
import os
import random
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
import requests

import otlp_payloads as P
from loupe_testlib import kill_during_load, http_session, json_spans

THREADS = 8
SPANS_PER_REQUEST = 4
TENANTS = ("crash-a", "crash-b")
CYCLES = 3
SEED = int(os.environ.get("LOUPE_CRASH_SEED", str(int(time.time()))))


# --------------------------------------------------------------------------------------
# Bookkeeping of what was sent and what was acknowledged
# --------------------------------------------------------------------------------------

@dataclass
class SentRequest:
    request_id: int
    tenant: str
    span_ids: tuple[str, ...]
    names: tuple[str, ...]
    acknowledged: bool = False


@dataclass
class Ledger:
    requests: dict[int, SentRequest] = field(default_factory=dict)
    span_owner: dict[str, int] = field(default_factory=dict)
    statuses: collections.Counter = field(default_factory=collections.Counter)
    errors: collections.Counter = field(default_factory=collections.Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_id: int = 0

    def new_request(self, tenant: str) -> tuple[SentRequest, list[dict]]:
        with self.lock:
            self.next_id += 1
            request_id = self.next_id
        spans = P.simple_spans(SPANS_PER_REQUEST, name=f"req{request_id}")
        sent = SentRequest(request_id, tenant, tuple(s["span_id"].hex() for s in spans), tuple(s["name"] for s in spans))
        with self.lock:
            self.requests[request_id] = sent
            for span_id in sent.span_ids:
                assert span_id not in self.span_owner, "span IDs must be unique"
                self.span_owner[span_id] = request_id
        return sent, spans

    def acknowledged(self) -> list[SentRequest]:
        with self.lock:
            return [r for r in self.requests.values() if r.acknowledged]


def post_request(server, session, ledger: Ledger, tenant: str, as_json: bool = False, timeout: float = 30,
                 via_grpc: bool = False) -> SentRequest:
    """Sends one request of SPANS_PER_REQUEST new spans (OTLP/HTTP protobuf or JSON, or OTLP/gRPC);
    marks it acknowledged on success (HTTP 200 / gRPC OK)."""
    sent, spans = ledger.new_request(tenant)
    request = P.trace_request(spans, service=f"crash-{tenant}")
    if via_grpc:
        try:
            call = _grpc_call(server)
            call(request.SerializeToString(), metadata=[("x-scope-orgid", tenant)], timeout=timeout)
            code = 200
        except grpc.RpcError as error:
            code = f"grpc:{error.code().name}"
            if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED,
                                grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL):
                with ledger.lock:
                    ledger.errors[code] += 1
                raise requests.ConnectionError(f"gRPC {error.code().name}: {error.details()}") from None
        with ledger.lock:
            ledger.statuses[code] += 1
            sent.acknowledged = code == 200
        return sent
    if as_json:
        body = json.dumps(_to_json(request)).encode()
        content_type = "application/json"
    else:
        body = request.SerializeToString()
        content_type = "application/x-protobuf"
    response = session.post(f"{server.http_url}/v1/traces", data=body, timeout=timeout,
                            headers={"Content-Type": content_type, "X-Scope-OrgID": tenant})
    with ledger.lock:
        ledger.statuses[response.status_code] += 1
        if response.status_code == 200:
            sent.acknowledged = True
    return sent


_channels: dict[str, grpc.Channel] = {}
_channels_lock = threading.Lock()


def _grpc_call(server):
    with _channels_lock:
        channel = _channels.get(server.otlp_grpc_address)
        if channel is None:
            channel = grpc.insecure_channel(server.otlp_grpc_address, options=[("grpc.enable_http_proxy", 0)])
            _channels[server.otlp_grpc_address] = channel
    return channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                               request_serializer=None, response_deserializer=None)


def _to_json(request) -> dict:
    import base64
    from google.protobuf import json_format

    def hex_ids(node):
        if isinstance(node, dict):
            return {k: (base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId") else hex_ids(v))
                    for k, v in node.items()}
        if isinstance(node, list):
            return [hex_ids(v) for v in node]
        return node
    return hex_ids(json_format.MessageToDict(request, use_integers_for_enums=True))


def returned_spans(server) -> dict[str, list[tuple[str, str]]]:
    """span ID -> [(tenant, name)] for every span the server returns, over all test tenants."""
    found: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    for tenant in TENANTS:
        for _, _, span in json_spans(server.read("traces", tenant=tenant)):
            found[span["spanId"].lower()].append((tenant, span["name"]))
    return found


def verify(server, ledger: Ledger, *, must_have: list[SentRequest] | None = None, context: str = "") -> dict:
    """Every acknowledged request's spans are returned, exactly once, in the right tenant; nothing
    that was never sent is returned; and each request is all there or not at all (a WAL record is
    one whole request)."""
    found = returned_spans(server)
    must_have = ledger.acknowledged() if must_have is None else must_have
    duplicated = {span_id: where for span_id, where in found.items() if len(where) > 1}
    assert not duplicated, f"{context}: {len(duplicated)} span(s) returned more than once, e.g. {list(duplicated.items())[:3]}"
    unknown = [span_id for span_id in found if span_id not in ledger.span_owner]
    assert not unknown, f"{context}: {len(unknown)} span(s) returned that were never sent: {unknown[:5]}"
    misplaced = [(span_id, found[span_id][0]) for span_id in found
                 if found[span_id][0][0] != ledger.requests[ledger.span_owner[span_id]].tenant]
    assert not misplaced, f"{context}: spans returned in the wrong tenant: {misplaced[:5]}"
    lost = [r for r in must_have if not all(span_id in found for span_id in r.span_ids)]
    assert not lost, (
        f"{context}: {len(lost)} of {len(must_have)} acknowledged request(s) lost (seed {SEED}), e.g. request "
        f"{lost[0].request_id} tenant {lost[0].tenant} spans {lost[0].span_ids}; "
        f"{sum(1 for s in lost[0].span_ids if s in found)} of its {SPANS_PER_REQUEST} spans returned")
    partial = []
    by_request = collections.Counter(ledger.span_owner[span_id] for span_id in found)
    for request_id, count in by_request.items():
        if count != SPANS_PER_REQUEST:
            partial.append((request_id, count))
    assert not partial, f"{context}: requests returned only in part (request, spans returned): {partial[:5]}"
    for span_id, [(tenant, name)] in found.items():
        sent = ledger.requests[ledger.span_owner[span_id]]
        assert name == sent.names[sent.span_ids.index(span_id)], f"{context}: span {span_id} came back named {name!r}"
    return found


# --------------------------------------------------------------------------------------
# kill -9 under concurrent load, three times on one data directory
# --------------------------------------------------------------------------------------

def _load(server, ledger: Ledger, stop: threading.Event, crashing: threading.Event, index: int, unexpected: list) -> None:
    session = http_session()
    tenant = TENANTS[index % len(TENANTS)]
    as_json = index % 2 == 1
    via_grpc = index % 4 == 2  # threads 2 and 6 use OTLP/gRPC
    while not stop.is_set():
        try:
            sent = post_request(server, session, ledger, tenant, as_json, via_grpc=via_grpc)
            if not sent.acknowledged and not crashing.is_set():
                unexpected.append(f"request {sent.request_id} refused while the server was up")
        except requests.RequestException as error:
            with ledger.lock:
                ledger.errors[type(error).__name__] += 1
            if not crashing.is_set():
                # The server is up, so this is not the crash: note it and go on.
                unexpected.append(f"{type(error).__name__}: {error}")
            time.sleep(0.02)
    session.close()


def test_kill_9_under_load_loses_no_acknowledged_write(loupe_factory):
    rng = random.Random(SEED)
    print(f"crash test seed: {SEED} (set LOUPE_CRASH_SEED to repeat)")
    server = loupe_factory.new(log_level="info", start=False)
    ledger = Ledger()
    for cycle in range(1, CYCLES + 1):
        server.start()
        verify(server, ledger, context=f"after restart {cycle - 1}")
        stop, crashing = threading.Event(), threading.Event()
        unexpected: list[str] = []
        threads = [threading.Thread(target=_load, args=(server, ledger, stop, crashing, i, unexpected), daemon=True)
                   for i in range(THREADS)]
        # Let some writes through, then kill at a random moment while requests are in flight.
        kill_during_load(server, ledger, rng, threads, stop, crashing, unexpected, cycle, minimum=rng.randint(10, 60))
        assert set(ledger.statuses) <= {200}, f"only successes expected while up: {dict(ledger.statuses)}"
    server.start()
    found = verify(server, ledger, context=f"after the last of {CYCLES} kill -9 cycles")
    acknowledged_spans = sum(len(r.span_ids) for r in ledger.acknowledged())
    print(f"{len(ledger.acknowledged())} acknowledged requests ({acknowledged_spans} spans) all returned; "
          f"{len(found) - acknowledged_spans} spans of unacknowledged requests also made it")
    # A clean stop after all that.
    server.terminate()
    server.start()
    verify(server, ledger, context="after a clean restart")


def test_sigterm_then_restart_keeps_everything(loupe_factory):
    server = loupe_factory.new(log_level="info")
    ledger = Ledger()
    session = http_session()
    for index in range(20):
        assert post_request(server, session, ledger, TENANTS[index % 2], as_json=index % 3 == 0).acknowledged
    server.terminate()  # asserts exit code 0
    server.start()
    verify(server, ledger, context="after SIGTERM and restart")
    server.terminate(sig=signal.SIGINT)  # Ctrl-C is graceful too
    server.start()
    verify(server, ledger, context="after SIGINT and restart")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_graceful_stop_under_load(loupe_factory, sig):
    """SIGTERM/SIGINT while requests are in flight: loupe exits 0 within the timeout, and every
    request it acknowledged is there after a restart."""
    server = loupe_factory.new(log_level="info")
    ledger = Ledger()
    stop, crashing = threading.Event(), threading.Event()
    unexpected: list[str] = []
    threads = [threading.Thread(target=_load, args=(server, ledger, stop, crashing, i, unexpected), daemon=True)
               for i in range(THREADS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(ledger.acknowledged()) < 100:
        assert time.monotonic() < deadline and server.running, f"too few acknowledgements\n{server.stderr_tail()}"
        time.sleep(0.005)
    crashing.set()  # from here on, refusals and closed connections are expected
    server.terminate(sig=sig)  # asserts exit code 0
    stop.set()
    for thread in threads:
        thread.join(timeout=90)
        assert not thread.is_alive(), "a load thread did not stop"
    assert not unexpected, unexpected[:5]
    refused = {code: count for code, count in ledger.statuses.items() if code != 200}
    assert set(refused) <= {503}, f"while stopping, refusals must be 503 (retryable): {refused}"
    server.start()
    verify(server, ledger, context=f"after {signal.Signals(sig).name} under load and a restart")


def test_second_server_on_the_same_data_directory_is_refused(loupe_factory):
    """Two processes appending to one WAL would corrupt it: the second `loupe up` must refuse to start."""
    first = loupe_factory.new(log_level="info")
    ledger = Ledger()
    _fill(first, ledger, 5)
    second = loupe_factory.new(data_dir=first.data_dir, log_level="info", start=False)
    with pytest.raises(AssertionError) as refused:
        second.start(timeout=30)
    assert second.proc.returncode not in (0, None), "the second server must exit with an error"
    assert re.search(r"in use|lock", second.stderr(), re.I), f"it must say why:\n{second.stderr_tail()}"
    assert "exited with code" in str(refused.value)
    assert first.running
    _fill(first, ledger, 5)
    verify(first, ledger, context="first server after a second one was refused")


# --------------------------------------------------------------------------------------
# A damaged WAL tail
# --------------------------------------------------------------------------------------

def newest_segment(data_dir: Path) -> Path:
    """The spans' WAL segment written last: the file under DATA/wal-traces/ (spans have a log of
    their own) with the highest sequence number in its "LOUPEWAL" header (damaged copies the
    server sets aside are not segments)."""
    wal = data_dir / "wal-traces"
    assert wal.is_dir(), f"no WAL directory at {wal}: {sorted(p.name for p in data_dir.iterdir())}"
    candidates = []
    for path in wal.iterdir():
        if not path.is_file() or "corrupt" in path.name:
            continue
        with open(path, "rb") as handle:
            header = handle.read(24)
        if header[:8] == b"LOUPEWAL":
            candidates.append((int.from_bytes(header[12:20], "little"), path.name, path))
    assert candidates, f"no WAL segment under {wal}: {sorted(p.name for p in wal.iterdir())}"
    return max(candidates)[2]


def records_end(segment: Path) -> int:
    """Where the segment's records end. The WAL keeps zeros written ahead of its records (reserved
    space, so a commit's fdatasync journals no file growth), so after a kill -9 the file is longer
    than its records; a crash mid-write leaves the damage there, not at the end of the file."""
    data = segment.read_bytes()
    offset = 24
    while offset + 8 <= len(data):
        length = int.from_bytes(data[offset:offset + 4], "little")
        if length == 0 or offset + 8 + length > len(data):
            break
        offset += 8 + length
    return offset


def _warning_about_wal(stderr: str) -> bool:
    return any(re.search(r"\bwarn(ing)?\b", line, re.I) and re.search(r"wal|write-ahead|torn|truncat|corrupt", line, re.I)
               for line in stderr.splitlines())


def _fill(server, ledger: Ledger, count: int) -> list[SentRequest]:
    session = http_session()
    sent = [post_request(server, session, ledger, TENANTS[i % 2], as_json=i % 2 == 1) for i in range(count)]
    assert all(r.acknowledged for r in sent), dict(ledger.statuses)
    return sent


@pytest.mark.parametrize("damage", ["random-garbage", "zeros", "torn-record-prefix"])
def test_garbage_appended_to_the_wal_tail(loupe_factory, damage):
    server = loupe_factory.new(log_level="info")
    ledger = Ledger()
    sent = _fill(server, ledger, 30)
    server.kill()
    segment = newest_segment(server.data_dir)
    end = records_end(segment)
    rng = random.Random(SEED)
    if damage == "random-garbage":
        garbage = bytes(rng.randrange(256) for _ in range(333))
    elif damage == "zeros":
        garbage = bytes(4096)
    else:
        # What a crash mid-write leaves: a record header promising more bytes than follow.
        garbage = (1000).to_bytes(4, "little") + (0xDEADBEEF).to_bytes(4, "little") + bytes(rng.randrange(256) for _ in range(60))
    with open(segment, "r+b") as handle:
        handle.seek(end)
        handle.write(garbage)
    assert segment.stat().st_size >= end + len(garbage)

    server.start()
    verify(server, ledger, must_have=sent, context=f"after {damage} was written after the records of {segment.name}")
    assert len(returned_spans(server)) == len(sent) * SPANS_PER_REQUEST
    if damage == "zeros":
        # Zeros after the records are the space the WAL reserves ahead of them: what every kill -9 leaves.
        assert not _warning_about_wal(server.stderr()), f"zeros after the records are no damage:\n{server.stderr_tail()}"
        assert "reserved" in server.stderr(), f"loupe must say it cut the reserved space:\n{server.stderr_tail()}"
    else:
        assert _warning_about_wal(server.stderr()), f"loupe must log a warning about the damaged WAL tail:\n{server.stderr_tail()}"
    # The repaired log takes new writes, and they survive another crash: nothing was appended after garbage.
    more = _fill(server, ledger, 10)
    server.kill()
    server.start()
    verify(server, ledger, must_have=sent + more, context="after writing to the repaired WAL and kill -9")
    assert len(returned_spans(server)) == (len(sent) + len(more)) * SPANS_PER_REQUEST


@pytest.mark.parametrize("cut", [1, 5, 40])
def test_truncated_wal_tail(loupe_factory, cut):
    server = loupe_factory.new(log_level="info")
    ledger = Ledger()
    sent = _fill(server, ledger, 30)
    server.kill()
    segment = newest_segment(server.data_dir)
    os.truncate(segment, records_end(segment) - cut)

    server.start()
    # The last request's record lost its last bytes; every record before it is intact.
    found = verify(server, ledger, must_have=sent[:-1], context=f"after cutting {cut} bytes off {segment.name}")
    last_returned = sum(1 for span_id in sent[-1].span_ids if span_id in found)
    assert last_returned in (0, SPANS_PER_REQUEST), "the torn record must not come back in part"
    assert _warning_about_wal(server.stderr()), f"loupe must log a warning about the torn WAL tail:\n{server.stderr_tail()}"
    more = _fill(server, ledger, 10)
    server.terminate()
    server.start()
    verify(server, ledger, must_have=sent[:-1] + more, context="after writing to the repaired WAL and a restart")
    # Later restarts find nothing more to repair.
    server.terminate()
    server.start()
    assert not _warning_about_wal(server.stderr()), f"a repaired WAL must replay cleanly:\n{server.stderr_tail()}"
