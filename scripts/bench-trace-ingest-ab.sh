#!/usr/bin/env bash
# Trace ingest A/B: spans per server CPU second over a 40 s OTLP load (4 connections, 1,000 spans
# of 20 attributes per request), two `loupe` binaries alternating, ROUNDS times (default 2).
# Usage: scripts/bench-trace-ingest-ab.sh OLD_BINARY NEW_BINARY [ROUNDS]
set -u
old=$1; new=$2; rounds=${3:-2}
for round in $(seq "$rounds"); do
  for bin in "$old" "$new"; do
    d=$(mktemp -d /tmp/trace-ingest-ab.XXXX)
    "$bin" up --data-dir "$d/data" --retention 0 --http-address 127.0.0.1:19582 --otlp-grpc-address 127.0.0.1:0 \
      --otlp-http-address 127.0.0.1:19583 --log-level warning > "$d/log" 2>&1 &
    pid=$!
    for i in $(seq 100); do curl -sf 127.0.0.1:19582/ready >/dev/null && break; sleep 0.1; done
    t0=$(awk '{print $14+$15}' /proc/$pid/stat)
    out=$("$bin" bench otlp --endpoint http://127.0.0.1:19583 --signal traces --duration 40 --concurrency 4 --attributes 20 2>&1 | grep accepted)
    t1=$(awk '{print $14+$15}' /proc/$pid/stat)
    kill $pid; wait $pid 2>/dev/null
    spans=$(echo "$out" | awk '{gsub(",","",$2); print $2}')
    echo "$bin spans=$spans server_cpu=$(( t1 - t0 ))cs spans_per_cpu_second=$(( spans * 100 / (t1 - t0) ))"
    rm -rf "$d"
  done
done
