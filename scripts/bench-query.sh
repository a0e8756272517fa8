#!/usr/bin/env bash
# Prometheus TSDB targets, Loupe vs Prometheus 2.42, on this machine, loopback only (issue 3):
#   1. PromQL query latency (median and p99, instant and range) over SERIES series × ROUNDS scrapes,
#   2. RAM per active series ((VmRSS after the load − VmRSS at start) / series) and peak RSS (VmHWM),
#   3. bytes per sample in compacted blocks, after a second, longer backfill (SERIES_B × ROUNDS_B),
#   4. ingest samples/s and server CPU per sample of both backfills.
#
# The servers never run at the same time: for each of Loupe and Prometheus (one after the other, fresh
# temporary data directories), phase 1 backfills with `loupe bench remote-write --rounds` (history ending now)
# plus a classic histogram family from scripts/bench_query.py (the generator's node-exporter catalog has none),
# measures RSS and CPU from /proc, then times the query set; phase 2 restarts the server on an empty directory,
# backfills more history so that blocks are cut, waits until the blocks settle and sums their sizes and
# stats.numSamples. Prometheus is Debian's /usr/bin/prometheus 2.42 with --web.enable-remote-write-receiver
# and no scrape targets; Loupe is `loupe up --config` with tsdb.block_duration 2h and no out-of-order window.
#
# Usage: scripts/bench-query.sh
# Environment (defaults in brackets):
#   SERIES [100000] ROUNDS [480 = 2 h]     phase 1 load (generator series; 15 s per round)
#   HIST_INSTANCES [100]                    hosts of the histogram family (28 series each: 2 handlers × 14)
#   REPEAT_INSTANT [20] REPEAT_RANGE [5]    timed repetitions per query after one warm-up
#   STEP [60]                               range query step, seconds (range = the ROUNDS × 15 s before the end)
#   QUERY_BUDGET [60]                       seconds of timed repetitions per query and mode (fewer when slow)
#   QUERY_TIMEOUT [120]                     seconds per query request
#   SERIES_B [20000] ROUNDS_B [1440 = 6 h]  phase 2 load
#   BLOCK_WAIT [300]                        seconds to wait for the blocks to settle after phase 2's load
#   CONCURRENCY [4]                         generator connections
#   PHASES ["query blocks"]                 run only some phases
#   LOUPE_BIN (.build-release/release/loupe), PROMETHEUS_BIN (/usr/bin/prometheus),
#   LOUPE_PORT (19080), PROMETHEUS_PORT (19090), KEEP_DIRS=1 keeps the data directories and logs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

loupe_bin=${LOUPE_BIN:-$root/.build-release/release/loupe}
prometheus_bin=${PROMETHEUS_BIN:-/usr/bin/prometheus}
loupe_port=${LOUPE_PORT:-19080}
prometheus_port=${PROMETHEUS_PORT:-19090}
series=${SERIES:-100000}
rounds=${ROUNDS:-480}
hist_instances=${HIST_INSTANCES:-100}
repeat_instant=${REPEAT_INSTANT:-20}
repeat_range=${REPEAT_RANGE:-5}
step=${STEP:-60}
query_budget=${QUERY_BUDGET:-60}
query_timeout=${QUERY_TIMEOUT:-120}
series_b=${SERIES_B:-20000}
rounds_b=${ROUNDS_B:-1440}
block_wait=${BLOCK_WAIT:-300}
concurrency=${CONCURRENCY:-4}
phases=${PHASES:-query blocks}
helper="python3 $root/scripts/bench_query.py"
range_seconds=$((rounds * 15))

log() { printf '==> %s\n' "$*" >&2; }
began=$(date +%s)

if [ ! -x "$loupe_bin" ] || ! "$loupe_bin" bench remote-write --help 2>/dev/null | grep -q -- '--rounds'; then
    echo "$loupe_bin is missing or its 'bench remote-write' has no --rounds;" \
        "build it: swift build -c release --scratch-path .build-release --product loupe" >&2
    exit 1
fi
[ -x "$prometheus_bin" ] || { echo "no Prometheus at $prometheus_bin (apt-get install prometheus)" >&2; exit 1; }

work=$(mktemp -d /tmp/bench-query.XXXXXX)
server_pid=""
follower_pid=""
# stop_server, port_in_use, wait_ready, cpu_ticks, status_kib
source "$root/scripts/lib/bench-process.sh"
cleanup() {
    if [ -n "$follower_pid" ]; then kill "$follower_pid" 2>/dev/null || true; fi
    stop_server
    if [ "${KEEP_DIRS:-0}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME PHASE -> server_pid, base_url, data_dir
start_server() {
    local name=$1 phase=$2
    data_dir="$work/$name-$phase-data"
    mkdir -p "$data_dir"
    if [ "$name" = loupe ]; then
        local maintenance=1m
        [ "$phase" = blocks ] && maintenance=5s
        cat >"$work/loupe-$phase.yml" <<EOF
tsdb:
  block_duration: 2h
  out_of_order_time_window: 0s
  maintenance_interval: $maintenance
EOF
        server_cmd=("$loupe_bin" up --config "$work/loupe-$phase.yml" --data-dir "$data_dir"
            --http-address "127.0.0.1:$loupe_port" --otlp-grpc-address 127.0.0.1:0 --otlp-http-address 127.0.0.1:0
            --log-level warning)
        base_url="http://127.0.0.1:$loupe_port"
        ready_url="$base_url/ready"
    else
        cat >"$work/prometheus.yml" <<'EOF'
# No scrape targets: the only samples are the ones written by the benchmark.
global:
  scrape_interval: 15s
scrape_configs: []
EOF
        server_cmd=("$prometheus_bin" --config.file="$work/prometheus.yml" --storage.tsdb.path="$data_dir"
            --web.listen-address="127.0.0.1:$prometheus_port" --web.enable-remote-write-receiver --log.level=info)
        base_url="http://127.0.0.1:$prometheus_port"
        ready_url="$base_url/-/ready"
    fi
    echo "${server_cmd[*]}" >"$work/$name-$phase.cmd"
    log "$name ($phase phase): ${server_cmd[*]}"
    "${server_cmd[@]}" >"$work/$name-$phase.log" 2>&1 &
    server_pid=$!
    wait_ready "$ready_url" "$work/$name-$phase.log"
}

kv() { echo "$2 $3" >>"$work/$1.kv"; } # name key value

# backfill NAME PHASE SERIES ROUNDS HIST_INSTANCES: runs the generator (and the histogram follower when
# HIST_INSTANCES > 0) against the running server; records samples, samples/s and CPU per million samples.
backfill() {
    local name=$1 phase=$2 n_series=$3 n_rounds=$4 n_hist=$5 prefix=""
    [ "$phase" = blocks ] && prefix=b_
    local gen_cmd=("$loupe_bin" bench remote-write --endpoint "$base_url/api/v1/write" --series "$n_series"
        --rounds "$n_rounds" --duration 3600 --concurrency "$concurrency")
    echo "${gen_cmd[*]}" >"$work/$name-$phase.gen.cmd"
    local ticks_before ticks_after gen_pid peak=0 now
    ticks_before=$(cpu_ticks "$server_pid")
    rm -f "$work/stop-follower"
    local wall_start wall_end
    wall_start=$(date +%s.%N)
    "${gen_cmd[@]}" >"$work/$name-$phase.bench" 2>&1 &
    gen_pid=$!
    if [ "$n_hist" -gt 0 ]; then
        $helper histogram-follow --url "$base_url" --rounds "$n_rounds" --instances "$n_hist" \
            --stop-file "$work/stop-follower" --out "$work/$name-$phase.hist.json" >"$work/$name-$phase.hist.log" 2>&1 &
        follower_pid=$!
    fi
    while kill -0 "$gen_pid" 2>/dev/null; do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 1
    done
    local gen_status=0
    wait "$gen_pid" || gen_status=$?
    wall_end=$(date +%s.%N)
    touch "$work/stop-follower"
    if [ -n "$follower_pid" ]; then wait "$follower_pid" || log "the histogram follower failed: $(tail -3 "$work/$name-$phase.hist.log")"; follower_pid=""; fi
    kill -0 "$server_pid" 2>/dev/null || { echo "$name died during the backfill; log:" >&2; tail -30 "$work/$name-$phase.log" >&2; exit 1; }
    ticks_after=$(cpu_ticks "$server_pid")
    echo "--- $name: ${gen_cmd[*]}" >&2
    cat "$work/$name-$phase.bench" >&2
    [ "$gen_status" = 0 ] || { echo "the generator against $name failed (status $gen_status)" >&2; exit 1; }
    local summary accepted rate refused hist_accepted=0 hist_failed=0 hist_series=0
    summary=$(grep '^summary ' "$work/$name-$phase.bench")
    accepted=$(sed -n 's/.*samples_accepted=\([0-9]*\).*/\1/p' <<<"$summary")
    # With --rounds, the generator's own elapsed time (and so samples_per_second) is the --duration cap, not
    # the time the rounds took; rate = samples / (wall time of the generator - its pre-build time).
    local prebuild
    prebuild=$(sed -n 's/^prepared .* in \([0-9.,]*\)\(ms\|s\|µs\) before the clock.*/\1 \2/p' "$work/$name-$phase.bench" \
        | awk '{ gsub(",", "", $1); print ($2 == "s" ? $1 : ($2 == "ms" ? $1 / 1e3 : $1 / 1e6)) }')
    rate=$(awk -v n="$accepted" -v a="$wall_start" -v b="$wall_end" -v p="${prebuild:-0}" 'BEGIN { printf "%.0f", n / (b - a - p) }')
    kv "$name" "${prefix}ingest_seconds" "$(awk -v a="$wall_start" -v b="$wall_end" -v p="${prebuild:-0}" 'BEGIN { printf "%.1f", b - a - p }')"
    kv "$name" "${prefix}generator_prebuild_seconds" "${prebuild:-NA}"
    refused=$(sed -n 's/^accepted .*; \([0-9,]*\) in failed requests.*/\1/p' "$work/$name-$phase.bench" | tr -d ,)
    if [ "$n_hist" -gt 0 ] && [ -f "$work/$name-$phase.hist.json" ]; then
        cat "$work/$name-$phase.hist.json" >&2; echo >&2
        read -r hist_series hist_accepted hist_failed < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["series"], d["samples_accepted"], d["samples_failed"])' "$work/$name-$phase.hist.json")
    fi
    kv "$name" "${prefix}series_total" $((n_series + hist_series))
    kv "$name" "${prefix}ingest_samples" $((accepted + hist_accepted))
    kv "$name" "${prefix}ingest_refused" $((${refused:-0} + hist_failed))
    kv "$name" "${prefix}ingest_rate" "$rate"
    kv "$name" "${prefix}ingest_cpu_seconds" "$(awk -v a="$ticks_after" -v b="$ticks_before" -v t="$clock_ticks" 'BEGIN { printf "%.2f", (a - b) / t }')"
    kv "$name" "${prefix}ingest_cpu_per_million" "$(awk -v a="$ticks_after" -v b="$ticks_before" -v t="$clock_ticks" -v s=$((accepted + hist_accepted)) 'BEGIN { printf "%.4f", (s > 0 ? (a - b) / t / (s / 1e6) : 0) }')"
}

phase_query() {
    local name=$1
    start_server "$name" query
    sleep 2
    kv "$name" rss_start_kib "$(status_kib "$server_pid" VmRSS)"
    backfill "$name" query "$series" "$rounds" "$hist_instances"
    sleep 5 # let the last appends and any deferred work finish
    kv "$name" rss_loaded_kib "$(status_kib "$server_pid" VmRSS)"
    kv "$name" hwm_loaded_kib "$(status_kib "$server_pid" VmHWM)"
    awk -v name="$name" '$1 == "rss_start_kib" { s = $2 } $1 == "rss_loaded_kib" { l = $2 } $1 == "series_total" { n = $2 }
        END { printf "bytes_per_series %.0f\n", (n > 0 ? (l - s) * 1024 / n : 0) }' "$work/$name.kv" >>"$work/$name.kv"
    local end_ms
    end_ms=$($helper data-end --url "$base_url")
    log "$name: newest sample at $(date -u -d "@$((end_ms / 1000))" +%H:%M:%S) UTC; timing the queries"
    local query_cmd=($helper queries --url "$base_url" --end-ms "$end_ms" --range-seconds "$range_seconds" --step "$step"
        --repeat-instant "$repeat_instant" --repeat-range "$repeat_range" --budget "$query_budget" --timeout "$query_timeout"
        --out "$work/$name.queries.json")
    "${query_cmd[@]}"
    kill -0 "$server_pid" 2>/dev/null || { echo "$name died during the queries; log:" >&2; tail -30 "$work/$name-query.log" >&2; exit 1; }
    kv "$name" rss_queried_kib "$(status_kib "$server_pid" VmRSS)"
    kv "$name" hwm_final_kib "$(status_kib "$server_pid" VmHWM)"
    grep -m5 -iE 'level=(warn|error)|error|warning' "$work/$name-query.log" >&2 || true
    stop_server
}

blocks_of() { # name data_dir -> JSON
    if [ "$1" = loupe ]; then $helper blocks --dir "$2" --pattern 'metrics/*/*/meta.json'
    else $helper blocks --dir "$2" --pattern '*/meta.json'; fi
}
json_field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

phase_blocks() {
    local name=$1
    start_server "$name" blocks
    backfill "$name" blocks "$series_b" "$rounds_b" 0
    kv "$name" b_hwm_kib "$(status_kib "$server_pid" VmHWM)"
    local end_ms waited=0 blocks previous="" stable=0 block_max head_span
    end_ms=$($helper data-end --url "$base_url")
    # Settled: the head holds at most 1.5 block ranges (3 h) past the newest block, and the block list has not
    # changed for 15 s.
    while :; do
        blocks=$(blocks_of "$name" "$data_dir")
        block_max=$(json_field "$blocks" max_time)
        head_span=$(( (end_ms - block_max) / 1000 ))
        local listing
        listing=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["blocks"], d["bytes"], d["samples"])' "$blocks")
        if [ "$listing" = "$previous" ]; then stable=$((stable + 1)); else stable=0; previous=$listing; fi
        if [ "$(json_field "$blocks" blocks)" -gt 0 ] && [ "$head_span" -le 10800 ] && [ "$stable" -ge 3 ]; then break; fi
        if [ "$waited" -ge "$block_wait" ]; then log "$name: blocks not settled after $block_wait s (head span ${head_span}s); measuring what is there"; break; fi
        sleep 5
        waited=$((waited + 5))
    done
    kv "$name" b_block_wait "$waited"
    log "$name blocks: $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("; ".join("%s: %d samples, %d series, %d bytes, level %s, %.1f h" % (b["dir"].rsplit("/",1)[-1], b["samples"], b["series"], b["bytes"], b["level"], (b["max_time"]-b["min_time"])/3.6e6) for b in d["detail"]))' "$blocks")"
    kv "$name" b_blocks "$(json_field "$blocks" blocks)"
    kv "$name" b_block_samples "$(json_field "$blocks" samples)"
    kv "$name" b_block_bytes "$(json_field "$blocks" bytes)"
    kv "$name" b_bytes_per_sample "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%.4f" % (d["bytes"] / d["samples"]) if d["samples"] else "NA")' "$blocks")"
    kv "$name" b_chunk_bytes_per_sample "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%.4f" % (d["chunk_bytes"] / d["samples"]) if d["samples"] else "NA")' "$blocks")"
    kv "$name" b_index_bytes_per_series "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); n=sum(b["series"] for b in d["detail"]); print("%.2f" % (d["index_bytes"] / n) if n else "NA")' "$blocks")"
    local wal=0 head_chunks=0
    if [ "$name" = loupe ]; then
        wal=$(find "$data_dir" -type d -iname '*wal*' -prune -exec du -sb {} + 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
        head_chunks=NA
    else
        wal=$(du -sb "$data_dir/wal" 2>/dev/null | awk '{ print $1 }')
        head_chunks=$(du -sb "$data_dir/chunks_head" 2>/dev/null | awk '{ print $1 }')
    fi
    kv "$name" b_wal_bytes "${wal:-0}"
    kv "$name" b_head_chunks_bytes "${head_chunks:-NA}"
    (cd "$data_dir" && find . -maxdepth 4 -type d | sort | head -40) >"$work/$name-blocks.tree"
    grep -m5 -iE 'level=(warn|error)|error|warning' "$work/$name-blocks.log" >&2 || true
    stop_server
}

for port in "$loupe_port" "$prometheus_port"; do
    if port_in_use "$port"; then echo "port $port is in use; set LOUPE_PORT / PROMETHEUS_PORT" >&2; exit 1; fi
done

machine="$(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
log "machine: $machine; load $(cut -d' ' -f1-3 /proc/loadavg)"
log "Prometheus: $("$prometheus_bin" --version 2>&1 | head -1)"
for name in loupe prometheus; do : >"$work/$name.kv"; done
for name in loupe prometheus; do
    case " $phases " in *" query "*) phase_query "$name" ;; esac
    case " $phases " in *" blocks "*) phase_blocks "$name" ;; esac
done
for name in loupe prometheus; do [ -f "$work/$name.queries.json" ] || echo '{"results": []}' >"$work/$name.queries.json"; done

finished=$(date +%s)
{
    echo
    echo "## Results ($(date -u '+%Y-%m-%d %H:%M UTC'), total runtime $(( (finished - began) / 60 )) min $(( (finished - began) % 60 )) s)"
    echo
    echo "Machine: $machine; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    $helper report --loupe-kv "$work/loupe.kv" --prometheus-kv "$work/prometheus.kv" \
        --loupe-queries "$work/loupe.queries.json" --prometheus-queries "$work/prometheus.queries.json"
    echo "### Commands"
    echo
    echo '```sh'
    for f in "$work"/*.cmd; do echo "$(basename "$f" .cmd): $(cat "$f")"; done
    echo "queries: scripts/bench_query.py queries --end-ms <newest sample> --range-seconds $range_seconds --step $step --repeat-instant $repeat_instant --repeat-range $repeat_range --budget $query_budget"
    echo "histograms: scripts/bench_query.py histogram-follow --rounds $rounds --instances $hist_instances"
    echo '```'
    echo
    echo "Raw key/values:"
    for name in loupe prometheus; do echo "$name: $(tr '\n' ' ' <"$work/$name.kv")"; done
} | tee "$work/report.md"
[ -n "${REPORT_OUT:-}" ] && cp "$work/report.md" "$REPORT_OUT"
exit 0
