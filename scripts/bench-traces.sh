#!/usr/bin/env bash
# Traces: OTLP ingest into the trace store, then trace by ID and TraceQL searches, on one `loupe up`;
# then the same reads after a restart, when every span is in trace blocks on disk.
#
# Usage: scripts/bench-traces.sh [LOUPE_BINARY] [SECONDS] [ATTRIBUTES]
#   LOUPE_BINARY defaults to .build-release/release/loupe (swift build -c release --scratch-path .build-release --product loupe);
#   `loupe bench otlp --signal traces` sends for SECONDS (default 20) over 4 connections, 1,000 spans
#   of ATTRIBUTES (default 20) attributes per request.
# Prints the generator's report, the server's CPU seconds during ingest (spans per CPU second is
# the per-core figure), its peak RSS, bytes on disk per span once the heads are cut, and trace-by-ID
# latency percentiles over 200 traces spread over the whole ingest and three timings of TraceQL searches.
set -u
cd "$(dirname "$0")/.."
BIN=${1:-$PWD/.build-release/release/loupe}; SECONDS_TO_SEND=${2:-20}; ATTRIBUTES=${3:-20}
work=$(mktemp -d /tmp/bench-traces.XXXXXX); trap 'rm -rf "$work"' EXIT

start_server() {
  $BIN up --data-dir $work/data --retention 0 --http-address 127.0.0.1:19082 --otlp-grpc-address 127.0.0.1:0 --otlp-http-address 127.0.0.1:19083 --log-level warning >> $work/log 2>&1 &
  SP=$!
  for i in $(seq 600); do curl -sf 127.0.0.1:19082/ready >/dev/null && break; sleep 0.1; done
}

reads() {
python3 - "$1" "$2" <<'PY'
import json, random, sys, time, urllib.parse, urllib.request
base = "http://127.0.0.1:19082"
t0, t1 = int(sys.argv[1]), int(sys.argv[2])
def get(path, **params):
    url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as reply:
        body = reply.read()
    return time.perf_counter() - started, body
# The 200 traces that start last: the generator cycles its bodies, so they were sent all through
# the ingest and lie in old blocks as well as the head.
_, body = get("/api/search", start=t0 - 60, end=t1 + 60, limit=200)
ids = [t["traceID"] for t in json.loads(body)["traces"]]
random.shuffle(ids)
latencies = sorted(get(f"/api/traces/{i}")[0] * 1000 for i in ids)
if latencies:
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    print(f"trace by ID over {len(ids)} traces: p50 {p(0.5):.2f} ms, p99 {p(0.99):.2f} ms, max {latencies[-1]:.2f} ms")
for query in ['{ resource.service.name = "checkout" && duration > 500ms }',
              '{ resource.service.name = "checkout" && status = error }',
              '{ resource.service.name = "frontend-proxy" } >> { span.http.route = "/api/v1/checkout" && status = error }']:
    for rep in range(3):
        seconds, body = get("/api/search", q=query, limit=20, start=t0 - 60, end=t1 + 60)
        reply = json.loads(body)
        print(f"search [{query}] rep {rep + 1}: {seconds * 1000:.0f} ms, {len(reply['traces'])} traces, inspected {reply['metrics'].get('inspectedTraces')}")
# The issue's query again without a practical limit: every matching trace of the whole store.
query = '{ resource.service.name = "checkout" && duration > 500ms }'
for rep in range(2):
    seconds, body = get("/api/search", q=query, limit=1000000, start=t0 - 60, end=t1 + 60)
    reply = json.loads(body)
    print(f"search [{query}] limit 1000000 rep {rep + 1}: {seconds * 1000:.0f} ms, {len(reply['traces'])} traces, inspected {reply['metrics'].get('inspectedTraces')}")
PY
}

start_server
ingest_start=$(date +%s)
t0=$(awk '{print $14+$15}' /proc/$SP/stat)
$BIN bench otlp --endpoint http://127.0.0.1:19083 --signal traces --duration $SECONDS_TO_SEND --concurrency 4 --attributes $ATTRIBUTES > $work/gen.out 2>&1
t1=$(awk '{print $14+$15}' /proc/$SP/stat)
ingest_end=$(date +%s)
cat $work/gen.out
cpu=$(awk -v t=$((t1-t0)) 'BEGIN{printf "%.2f", t/100}')
echo "server CPU seconds during ingest: $cpu"
echo "VmHWM: $(grep VmHWM /proc/$SP/status)  VmRSS: $(grep VmRSS /proc/$SP/status)"
echo "--- reads while ingest's last head is in memory"
reads $ingest_start $ingest_end
kill -TERM $SP; wait $SP 2>/dev/null
echo "--- after shutdown (the final cut writes the head as a block)"
echo "data dir: $(du -sb $work/data | cut -f1) bytes; traces: $(du -sb $work/data/traces | cut -f1) bytes in $(find $work/data/traces -name '*.tblk' | wc -l) blocks; wal: $(du -sb $work/data/wal | cut -f1) bytes"
restart=$(date +%s.%N)
start_server
echo "restart to ready: $(awk -v a=$restart -v b=$(date +%s.%N) 'BEGIN{printf "%.2f", b-a}') s"
echo "--- reads with every span in blocks"
reads $ingest_start $ingest_end
echo "VmRSS after reads: $(grep VmRSS /proc/$SP/status)"
kill -TERM $SP; wait $SP 2>/dev/null
grep -i "error" $work/log | head -5
