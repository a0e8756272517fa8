#!/usr/bin/env bash
# Logs: ingest through the Loki push API, then the issue's two query shapes, on one `loupe up`.
#
# Usage: scripts/bench-logs.sh [LOUPE_BINARY] [MIB]
#   LOUPE_BINARY defaults to .build-release/release/loupe (swift build -c release --scratch-path .build-release --product loupe);
#   MIB (default 256) of raw log lines are pushed by `loupe bench logs` over 4 connections.
# Prints the generator's report, the server's CPU seconds during ingest, its peak RSS, the data
# directory's size, and three timings of each query (query_range over the whole span, step 60 s).
set -u
cd "$(dirname "$0")/.."
BIN=${1:-$PWD/.build-release/release/loupe}; MIB=${2:-256}
work=$(mktemp -d /tmp/bench-logs.XXXXXX); trap 'rm -rf "$work"' EXIT

$BIN up --data-dir $work/data --retention 0 --http-address 127.0.0.1:19081 --otlp-grpc-address 127.0.0.1:0 --otlp-http-address 127.0.0.1:0 --log-level warning > $work/log 2>&1 &
SP=$!
for i in $(seq 50); do curl -sf 127.0.0.1:19081/ready >/dev/null && break; sleep 0.2; done
t0=$(awk '{print $14+$15}' /proc/$SP/stat)
$BIN bench logs --endpoint http://127.0.0.1:19081/loki/api/v1/push --mib $MIB --concurrency 4 > $work/gen.out 2>&1
t1=$(awk '{print $14+$15}' /proc/$SP/stat)
cat $work/gen.out
echo "server CPU seconds during ingest: $(awk -v t=$((t1-t0)) 'BEGIN{printf "%.2f", t/100}')"
echo "VmHWM: $(grep VmHWM /proc/$SP/status)  VmRSS: $(grep VmRSS /proc/$SP/status)"
sleep 12 # one log maintenance pass (every 10 s) writes the cut blocks
echo "data dir: $(du -sb $work/data | cut -f1) bytes; log blocks: $(du -sb $work/data/logs | cut -f1); wal: $(du -sb $work/data/wal 2>/dev/null | cut -f1)"
NOW=$(date +%s%N); START=$((NOW - 4000*1000000000))
for q in '{app="checkout"} |= "rare-token"' 'sum by (level) (count_over_time({namespace="payments"} | json [1m]))' '{namespace="shop"} |= "rare-token"'; do
  for rep in 1 2 3; do
    s=$(date +%s%N)
    code=$(curl -s -o $work/q.json -w '%{http_code}' -G 127.0.0.1:19081/loki/api/v1/query_range --data-urlencode "query=$q" --data-urlencode "start=$START" --data-urlencode "end=$NOW" --data-urlencode "step=60" --data-urlencode "limit=100")
    e=$(date +%s%N)
    echo "query [$q] rep $rep: $(( (e-s)/1000000 )) ms, status $code, $(head -c 150 $work/q.json | tr -d '\n')"
  done
done
# A graceful stop cuts what the heads still hold into blocks (as a long-running server does every
# `logs.flush_size` or `logs.flush_age`): the data directory then shows the steady-state footprint.
kill -TERM $SP; wait $SP 2>/dev/null
echo "after stop: data dir $(du -sb $work/data | cut -f1) bytes; log blocks $(du -sb $work/data/logs | cut -f1); wal $(du -sb $work/data/wal | cut -f1)"
