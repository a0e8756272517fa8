#!/usr/bin/env python3
"""Helper of scripts/bench-query.sh (Python standard library only).

Subcommands:
  histogram-follow  send a classic histogram family (`http_request_duration_seconds_bucket/_sum/_count`) by
                    remote write 1.0 alongside `loupe bench remote-write`, whose node-exporter catalog has no
                    `_bucket` family; it never runs ahead of the generator's newest sample (both receivers refuse
                    samples more than an hour older than their newest), and sends the rest once told to stop.
  data-end          print the timestamp (ms) of the newest sample of `node_load1`.
  queries           time a fixed PromQL set, instant at the end of the data and range over the 2 h before it.
  blocks            sizes and sample counts of the TSDB blocks under a directory (meta.json + stats.numSamples).
  report            the final table, from the per-server key/value files and query results.
"""
import argparse
import glob
import json
import math
import os
import random
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

SCRAPE_MS = 15_000

# --------------------------------------------------------------------------------------------- query set
# Every selector matches data the generator writes (NodeExporterCatalog in RemoteWriteLoadGenerator.swift,
# ~500 series per host `node-N.example.net:9100`, job="node") or the histogram family sent by
# histogram-follow. Series counts are for 100,000 generator series (200 hosts) and 100 histogram hosts.
QUERIES = [
    # (name, PromQL)
    ("rate", 'rate(node_network_receive_bytes_total[5m])'),  # 1,200 series
    ("sum by rate", 'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))'),  # 22,400 in, 200 out
    ("histogram_quantile", 'histogram_quantile(0.99, sum by (le, handler) (rate(http_request_duration_seconds_bucket[5m])))'),
    ("topk", 'topk(10, rate(node_network_transmit_bytes_total[5m]))'),
    ("subquery", 'max_over_time(rate(node_context_switches_total[5m])[30m:1m])'),  # 200 series
    ("net rx by instance", 'sum by (instance) (rate(node_network_receive_bytes_total[5m]))'),
    ("cpu avg by mode", 'avg by (mode) (rate(node_cpu_seconds_total[5m]))'),  # 25,600 in, 8 out
    ("count by", 'count by (fstype) (node_filesystem_avail_bytes)'),
    ("memory used ratio", '1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes'),  # one-to-one match
    ("filesystem used %", '100 * (1 - node_filesystem_avail_bytes{fstype!~"tmpfs|overlay"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay"})'),
    ("count by __name__ (all series)", 'count by (__name__) ({job="node"})'),  # touches all 100,000 series
]
# Range queries whose number of distinct series legitimately depends on the sample values (each run of the
# generator draws new values), so a count difference there is not a defect.
VALUE_DEPENDENT_SERIES = {("topk", "range")}


def http_get(url, params, timeout):
    full = url + "?" + urllib.parse.urlencode(params)
    request = urllib.request.Request(full, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def parse_result(status, body):
    """(series count or None, error text or None)"""
    try:
        document = json.loads(body)
    except ValueError:
        return None, f"HTTP {status}: {body[:300]!r}"
    if status != 200 or document.get("status") != "success":
        return None, f"HTTP {status}: {document.get('errorType', '')}: {document.get('error', body[:300])}"
    data = document["data"]
    if data["resultType"] in ("vector", "matrix"):
        return len(data["result"]), None
    return 1, None


def percentile(values, fraction):
    """Nearest-rank percentile (p99 of 20 values is the largest)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def command_queries(arguments):
    base = arguments.url.rstrip("/")
    end = arguments.end_ms / 1000.0
    start = end - arguments.range_seconds
    results = []
    for name, query in QUERIES:
        for mode, repeat in (("instant", arguments.repeat_instant), ("range", arguments.repeat_range)):
            if mode == "instant":
                url, params = base + "/api/v1/query", {"query": query, "time": f"{end:.3f}"}
            else:
                url, params = base + "/api/v1/query_range", {
                    "query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": str(arguments.step)}
            entry = {"name": name, "query": query, "mode": mode, "seconds": [], "series": None, "error": None,
                     "bytes": 0}
            # Warm-up (not timed into the figures), which also decides how many repetitions fit the budget.
            began = time.perf_counter()
            try:
                status, body = http_get(url, params, arguments.timeout)
            except Exception as error:  # timeout, connection refused, ...
                status, body = 0, f"{type(error).__name__}: {error}".encode()
            warmup = time.perf_counter() - began
            entry["warmup_seconds"] = warmup
            series, error = parse_result(status, body)
            entry["series"], entry["error"], entry["bytes"] = series, error, len(body)
            runs = repeat
            if error is None and warmup * repeat > arguments.budget:
                runs = max(1, int(arguments.budget / max(warmup, 1e-9)))
            if error is None:
                for _ in range(runs):
                    began = time.perf_counter()
                    try:
                        status, body = http_get(url, params, arguments.timeout)
                    except Exception as error_:
                        entry["error"] = f"{type(error_).__name__}: {error_}"
                        break
                    elapsed = time.perf_counter() - began
                    count, error = parse_result(status, body)
                    if error is not None:
                        entry["error"] = error
                        break
                    if count != series:
                        entry["error"] = f"series count changed between repetitions: {series} then {count}"
                    entry["seconds"].append(elapsed)
            if entry["seconds"]:
                entry["median"] = median(entry["seconds"])
                entry["p99"] = percentile(entry["seconds"], 0.99)
            shown = (f"median {entry['median'] * 1000:9.1f} ms  p99 {entry['p99'] * 1000:9.1f} ms  n={len(entry['seconds'])}"
                     if entry["seconds"] else "no timings")
            print(f"  {mode:7s} {name:32s} {shown}  series={series}  {len(body) / 1024:8.0f} KiB"
                  + (f"  ERROR {entry['error']}" if entry["error"] else ""), file=sys.stderr, flush=True)
            results.append(entry)
    with open(arguments.out, "w") as handle:
        json.dump({"end_ms": arguments.end_ms, "range_seconds": arguments.range_seconds, "step": arguments.step,
                   "results": results}, handle, indent=1)


# --------------------------------------------------------------------------------------------- data end
def newest_sample_ms(base, lower_ms, timeout=30):
    """Newest `node_load1` sample at or after lower_ms (None when there is none yet)."""
    now = time.time()
    lower = max(lower_ms / 1000.0, now - 3 * 3600)
    params = {"query": "max(timestamp(node_load1))", "start": f"{lower:.3f}", "end": f"{now:.3f}", "step": "30"}
    status, body = http_get(base.rstrip("/") + "/api/v1/query_range", params, timeout)
    if status != 200:
        raise RuntimeError(f"progress query: HTTP {status}: {body[:200]!r}")
    result = json.loads(body)["data"]["result"]
    if not result:
        return None
    return int(max(float(value) for _, value in result[0]["values"]) * 1000)


def command_data_end(arguments):
    newest = newest_sample_ms(arguments.url, int((time.time() - 4 * 3600) * 1000), timeout=120)
    if newest is None:
        sys.exit("no node_load1 sample found")
    print(newest)


# --------------------------------------------------------------------------------------------- remote write
def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def length_delimited(field, payload):
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def snappy_literal_block(data):
    """A valid snappy block made of literals only (no compression; loopback does not care)."""
    out = bytearray(varint(len(data)))
    for offset in range(0, len(data), 65536):
        chunk = data[offset:offset + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + struct.pack("<H", n)
        out += chunk
    return bytes(out)


BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
HANDLERS = ["/api/v1/query", "/api/v1/write"]


class HistogramFamily:
    """`http_request_duration_seconds` for `instances` hosts × HANDLERS: cumulative `_bucket{le}`, `_sum`, `_count`,
    request counts per scrape drawn around a per-host rate, latencies log-normal around a per-host median."""

    def __init__(self, instances, seed=42):
        rng = random.Random(seed)
        self.rng = rng
        self.series = []  # [encoded labels, kind, state index, bucket fraction]
        self.states = []  # per (instance, handler): [rate per scrape, mean latency, cumulative count]
        self.counters = []  # cumulative value per series
        for host in range(instances):
            instance = f"node-{host}.example.net:9100"
            for handler in HANDLERS:
                median_latency = math.exp(rng.uniform(math.log(0.01), math.log(0.4)))
                sigma = rng.uniform(0.5, 1.2)
                state = len(self.states)
                self.states.append([rng.uniform(20, 400), median_latency * math.exp(sigma * sigma / 2)])

                def labels(name, extra=()):
                    pairs = sorted([("__name__", name), ("handler", handler), ("instance", instance), ("job", "api")]
                                   + list(extra))
                    return b"".join(length_delimited(1, length_delimited(1, k.encode()) + length_delimited(2, v.encode()))
                                    for k, v in pairs)

                for le in BUCKETS:
                    if le == "+Inf":
                        fraction = 1.0
                    else:
                        z = (math.log(float(le)) - math.log(median_latency)) / sigma
                        fraction = 0.5 * (1 + math.erf(z / math.sqrt(2)))
                    self.series.append((labels("http_request_duration_seconds_bucket", [("le", le)]), "bucket", state, fraction))
                self.series.append((labels("http_request_duration_seconds_count"), "count", state, 1.0))
                self.series.append((labels("http_request_duration_seconds_sum"), "sum", state, 0.0))
        self.counters = [0.0] * len(self.series)

    def encode(self, timestamps):
        """A WriteRequest with every series' samples at `timestamps` (in order)."""
        requests = []
        for timestamp in timestamps:
            requests.append([max(0, int(self.rng.gauss(rate, rate * 0.2))) for rate, _ in self.states])
        body = bytearray()
        for index, (labels, kind, state, fraction) in enumerate(self.series):
            samples = bytearray()
            value = self.counters[index]
            for step, timestamp in enumerate(timestamps):
                n = requests[step][state]
                if kind == "sum":
                    value += n * self.states[state][1]
                else:
                    value += math.floor(n * fraction + 1e-9)
                samples += length_delimited(2, b"\x09" + struct.pack("<d", value) + b"\x10" + varint(timestamp))
            self.counters[index] = value
            body += length_delimited(1, labels + samples)
        return bytes(body)


def send(url, body, timeout=60):
    request = urllib.request.Request(url, data=snappy_literal_block(body), method="POST", headers={
        "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
        "X-Prometheus-Remote-Write-Version": "0.1.0", "User-Agent": "bench-query-histograms"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def command_histogram_follow(arguments):
    family = HistogramFamily(arguments.instances)
    now_ms = int(time.time() * 1000)
    # The generator's own grid: `rounds` scrapes ending one interval before its start.
    first = (now_ms - (arguments.rounds + 1) * SCRAPE_MS) // SCRAPE_MS * SCRAPE_MS
    timestamps = [first + k * SCRAPE_MS for k in range(arguments.rounds)]
    write_url = arguments.url.rstrip("/") + "/api/v1/write"
    sent = 0
    accepted = failed = 0
    first_error = None
    progress = None
    while sent < len(timestamps):
        stopping = os.path.exists(arguments.stop_file)
        if stopping:
            limit = len(timestamps)
        else:
            try:
                progress = newest_sample_ms(arguments.url, first if progress is None else progress - 60_000)
            except Exception as error:  # the server is busy ingesting; try again
                print(f"histogram-follow: {error}", file=sys.stderr)
                time.sleep(1)
                continue
            limit = sent
            while progress is not None and limit < len(timestamps) and timestamps[limit] <= progress:
                limit += 1
        while sent < limit:
            chunk = timestamps[sent:min(limit, sent + 20)]
            status, body = send(write_url, family.encode(chunk))
            if 200 <= status < 300:
                accepted += len(chunk) * len(family.series)
            else:
                failed += len(chunk) * len(family.series)
                if first_error is None:
                    first_error = f"HTTP {status}: {body[:300].decode(errors='replace')}"
            sent += len(chunk)
        if sent < len(timestamps):
            time.sleep(arguments.poll)
    result = {"series": len(family.series), "samples_accepted": accepted, "samples_failed": failed,
              "first_error": first_error, "first_ms": first, "last_ms": timestamps[-1]}
    print(json.dumps(result))
    with open(arguments.out, "w") as handle:
        json.dump(result, handle)


# --------------------------------------------------------------------------------------------- blocks
def directory_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                pass
    return total


def command_blocks(arguments):
    blocks = []
    for meta_path in sorted(glob.glob(os.path.join(arguments.dir, arguments.pattern))):
        directory = os.path.dirname(meta_path)
        if ".tmp" in os.path.basename(directory):
            continue  # Prometheus's block being written (`<ULID>.tmp-for-creation`)
        try:
            with open(meta_path) as handle:
                meta = json.load(handle)
        except (OSError, ValueError):
            continue  # being written
        chunks = os.path.join(directory, "chunks")
        chunk_bytes = directory_bytes(chunks) if os.path.isdir(chunks) else (os.path.getsize(chunks) if os.path.exists(chunks) else 0)
        index_bytes = os.path.getsize(os.path.join(directory, "index")) if os.path.exists(os.path.join(directory, "index")) else 0
        blocks.append({"dir": directory, "bytes": directory_bytes(directory), "chunk_bytes": chunk_bytes, "index_bytes": index_bytes,
                       "samples": int(meta.get("stats", {}).get("numSamples", 0)),
                       "series": int(meta.get("stats", {}).get("numSeries", 0)),
                       "min_time": int(meta.get("minTime", 0)), "max_time": int(meta.get("maxTime", 0)),
                       "level": meta.get("compaction", {}).get("level")})
    total_bytes = sum(block["bytes"] for block in blocks)
    total_samples = sum(block["samples"] for block in blocks)
    print(json.dumps({"blocks": len(blocks), "bytes": total_bytes, "samples": total_samples,
                      "chunk_bytes": sum(block["chunk_bytes"] for block in blocks),
                      "index_bytes": sum(block["index_bytes"] for block in blocks),
                      "max_time": max((block["max_time"] for block in blocks), default=0),
                      "detail": blocks}))


# --------------------------------------------------------------------------------------------- report
def read_kv(path):
    values = {}
    if os.path.exists(path):
        with open(path) as handle:
            for line in handle:
                if " " in line.strip():
                    key, value = line.strip().split(" ", 1)
                    values[key] = value
    return values


def command_report(arguments):
    loupe, prometheus = read_kv(arguments.loupe_kv), read_kv(arguments.prometheus_kv)
    with open(arguments.loupe_queries) as handle:
        loupe_queries = json.load(handle)["results"]
    with open(arguments.prometheus_queries) as handle:
        prometheus_queries = json.load(handle)["results"]

    def ms(value):
        return f"{value * 1000:,.1f}" if value is not None else "—"

    def ratio(a, b, better_low=True):
        if a is None or b is None or b == 0:
            return "n/a"
        return f"{a / b:.2f}×"

    lines = []
    lines.append("### Query latency (client-side wall time, response read in full)")
    lines.append("")
    lines.append("| query | mode | series | Loupe median / p99 ms | Prometheus median / p99 ms | median ratio | p99 ratio |")
    lines.append("|---|---|---|---|---|---|---|")
    warnings = []
    log_ratios = {"instant": [], "range": []}
    for mine, theirs in zip(loupe_queries, prometheus_queries):
        assert mine["name"] == theirs["name"] and mine["mode"] == theirs["mode"]
        series = f"{mine['series']}" if mine["series"] == theirs["series"] else f"{mine['series']} vs {theirs['series']} ⚠"
        if mine["series"] != theirs["series"]:
            expected = (mine["name"], mine["mode"]) in VALUE_DEPENDENT_SERIES
            warnings.append(f"series count differs for {mine['mode']} `{mine['query']}`: Loupe {mine['series']}, "
                            f"Prometheus {theirs['series']}" + (" (expected: depends on the values)" if expected else ""))
        for side, entry in (("Loupe", mine), ("Prometheus", theirs)):
            if entry.get("error"):
                warnings.append(f"{side} {entry['mode']} `{entry['query']}`: {entry['error']}")
        m_med, m_p99 = mine.get("median"), mine.get("p99")
        t_med, t_p99 = theirs.get("median"), theirs.get("p99")
        if m_med and t_med:
            log_ratios[mine["mode"]].append(math.log(m_med / t_med))
        lines.append(f"| {mine['name']} | {mine['mode']} | {series} | {ms(m_med)} / {ms(m_p99)} | {ms(t_med)} / {ms(t_p99)} "
                     f"| {ratio(m_med, t_med)} | {ratio(m_p99, t_p99)} |")
    for mode, values in log_ratios.items():
        if values:
            lines.append(f"| **geometric mean of the median ratios** | {mode} | | | | **{math.exp(sum(values) / len(values)):.2f}×** | |")
    lines.append("")

    def num(values, key):
        value = values.get(key)
        return float(value) if value not in (None, "", "NA") else None

    rows = []

    def row(label, key, fmt, scale=1.0, target=""):
        a, b = num(loupe, key), num(prometheus, key)
        fa = fmt.format(a * scale) if a is not None else "—"
        fb = fmt.format(b * scale) if b is not None else "—"
        rows.append(f"| {label} | {fa} | {fb} | {ratio(a, b)} | {target} |")

    rows.append("| | Loupe | Prometheus 2.42 | Loupe / Prometheus | target |")
    rows.append("|---|---|---|---|---|")
    row("series in the query phase (generator + histogram family)", "series_total", "{:,.0f}")
    row("samples accepted in the query phase", "ingest_samples", "{:,.0f}")
    row("samples refused in the query phase", "ingest_refused", "{:,.0f}")
    row("backfill: seconds sending (generator wall time − its pre-build)", "ingest_seconds", "{:,.1f}")
    row("backfill: generator samples/s", "ingest_rate", "{:,.0f}")
    row("backfill: server CPU seconds per million samples", "ingest_cpu_per_million", "{:.3f}")
    row("RSS at start (VmRSS)", "rss_start_kib", "{:,.1f} MiB", 1 / 1024)
    row("RSS after the load (VmRSS)", "rss_loaded_kib", "{:,.1f} MiB", 1 / 1024)
    row("**RAM per active series** ((RSS after load − RSS at start) / series)", "bytes_per_series", "{:,.0f} B", 1.0, "≤ 2 KB")
    row("peak RSS after the load (VmHWM)", "hwm_loaded_kib", "{:,.1f} MiB", 1 / 1024)
    row("RSS after the queries (VmRSS)", "rss_queried_kib", "{:,.1f} MiB", 1 / 1024)
    row("peak RSS incl. queries (VmHWM)", "hwm_final_kib", "{:,.1f} MiB", 1 / 1024)
    row("blocks phase: samples accepted", "b_ingest_samples", "{:,.0f}")
    row("blocks phase: samples refused", "b_ingest_refused", "{:,.0f}")
    row("blocks phase: seconds sending", "b_ingest_seconds", "{:,.1f}")
    row("blocks phase: generator samples/s", "b_ingest_rate", "{:,.0f}")
    row("blocks phase: server CPU seconds per million samples", "b_ingest_cpu_per_million", "{:.3f}")
    row("blocks phase: peak RSS (VmHWM)", "b_hwm_kib", "{:,.1f} MiB", 1 / 1024)
    row("blocks on disk", "b_blocks", "{:,.0f}")
    row("samples in blocks (sum of stats.numSamples)", "b_block_samples", "{:,.0f}")
    row("block bytes (index + chunks + meta + tombstones)", "b_block_bytes", "{:,.0f}")
    row("**bytes per sample in blocks**", "b_bytes_per_sample", "{:.3f}", 1.0, "≤ 1.0")
    row("of which chunks, bytes per sample", "b_chunk_bytes_per_sample", "{:.3f}")
    row("of which index, bytes per series per block", "b_index_bytes_per_series", "{:.1f}")
    row("WAL bytes (information)", "b_wal_bytes", "{:,.0f}")
    row("head chunk files (Prometheus chunks_head; information)", "b_head_chunks_bytes", "{:,.0f}")
    row("seconds from the end of the backfill to the blocks settling", "b_block_wait", "{:,.0f}")
    lines.append("### Ingest, RAM and disk")
    lines.append("")
    lines += rows
    lines.append("")
    if warnings:
        lines.append("### Warnings")
        lines.append("")
        lines += [f"- {warning}" for warning in warnings]
        lines.append("")
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("histogram-follow")
    p.add_argument("--url", required=True)
    p.add_argument("--rounds", type=int, required=True)
    p.add_argument("--instances", type=int, default=100)
    p.add_argument("--stop-file", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--poll", type=float, default=2.0)
    p.set_defaults(run=command_histogram_follow)
    p = sub.add_parser("data-end")
    p.add_argument("--url", required=True)
    p.set_defaults(run=command_data_end)
    p = sub.add_parser("queries")
    p.add_argument("--url", required=True)
    p.add_argument("--end-ms", type=int, required=True)
    p.add_argument("--range-seconds", type=int, default=7200)
    p.add_argument("--step", type=int, default=60)
    p.add_argument("--repeat-instant", type=int, default=20)
    p.add_argument("--repeat-range", type=int, default=5)
    p.add_argument("--budget", type=float, default=60.0, help="seconds of timed repetitions per query and mode")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--out", required=True)
    p.set_defaults(run=command_queries)
    p = sub.add_parser("blocks")
    p.add_argument("--dir", required=True)
    p.add_argument("--pattern", required=True, help="glob of meta.json files under --dir")
    p.set_defaults(run=command_blocks)
    p = sub.add_parser("report")
    for name in ("loupe-kv", "prometheus-kv", "loupe-queries", "prometheus-queries"):
        p.add_argument("--" + name, required=True)
    p.set_defaults(run=command_report)
    arguments = parser.parse_args()
    arguments.run(arguments)


if __name__ == "__main__":
    main()
