#!/usr/bin/env bash
# Remote-write ingestion, Loupe vs Prometheus, on this machine, loopback only.
#
# Starts `loupe up`, drives it with `loupe bench remote-write`, stops it; then the same against
# Prometheus (/usr/bin/prometheus, Debian's 2.42, with --web.enable-remote-write-receiver and no
# scrape targets). For each server it records accepted samples/s, peak RSS (VmHWM) and CPU time
# (utime+stime from /proc/PID/stat, over the bench run only), then prints both with the
# Loupe/Prometheus ratios.
#
# Usage: scripts/bench-remote-write.sh [loupe bench remote-write options]
#   default options: --series 10000 --duration 30 --concurrency 4
#   (--endpoint is set by the script; anything else is passed through unchanged to both runs)
# Environment: LOUPE_BIN (default .build-release/release/loupe, built when missing or too old),
#   PROMETHEUS_BIN (default /usr/bin/prometheus), LOUPE_PORT (19080), PROMETHEUS_PORT (19090),
#   KEEP_DIRS=1 to keep the data directories and logs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

loupe_bin=${LOUPE_BIN:-$root/.build-release/release/loupe}
prometheus_bin=${PROMETHEUS_BIN:-/usr/bin/prometheus}
loupe_port=${LOUPE_PORT:-19080}
prometheus_port=${PROMETHEUS_PORT:-19090}
if [ $# -gt 0 ]; then bench_args=("$@"); else bench_args=(--series 10000 --duration 30 --concurrency 4); fi

log() { printf '==> %s\n' "$*" >&2; }

# The release binary: build it when absent or when it predates `bench remote-write`.
if [ ! -x "$loupe_bin" ] || ! "$loupe_bin" bench remote-write --help >/dev/null 2>&1; then
    if [ -n "${LOUPE_BIN:-}" ]; then
        echo "LOUPE_BIN=$LOUPE_BIN is missing or has no 'bench remote-write'" >&2
        exit 1
    fi
    log "building the release binary (swift build -c release --scratch-path .build-release --product loupe)"
    swift build -c release --scratch-path .build-release --product loupe
fi
[ -x "$prometheus_bin" ] || { echo "no Prometheus at $prometheus_bin (apt-get install prometheus)" >&2; exit 1; }

work=$(mktemp -d /tmp/bench-remote-write.XXXXXX)
server_pid=""
# stop_server, port_in_use, wait_ready, cpu_ticks, status_kib
source "$root/scripts/lib/bench-process.sh"
cleanup() {
    stop_server
    if [ "${KEEP_DIRS:-0}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run_one NAME URL -> prints "samples_per_second accepted cpu_seconds peak_rss_kib" to $work/NAME.result
run_one() {
    local name=$1 endpoint=$2
    local ticks_before ticks_after peak peak_now bench_pid
    ticks_before=$(cpu_ticks "$server_pid")
    "$loupe_bin" bench remote-write --endpoint "$endpoint" "${bench_args[@]}" >"$work/$name.bench" 2>&1 &
    bench_pid=$!
    # VmHWM is already a high-water mark; sampled during the run in case the server dies before the end.
    peak=0
    while kill -0 "$bench_pid" 2>/dev/null; do
        peak_now=$(status_kib "$server_pid" VmHWM 2>/dev/null || echo 0)
        [ "${peak_now:-0}" -gt "$peak" ] && peak=$peak_now
        sleep 0.5
    done
    local bench_status=0
    wait "$bench_pid" || bench_status=$?
    kill -0 "$server_pid" 2>/dev/null || { echo "$name died during the run; log:" >&2; tail -20 "$work/$name.log" >&2; }
    ticks_after=$(cpu_ticks "$server_pid" 2>/dev/null || echo "$ticks_before")
    peak_now=$(status_kib "$server_pid" VmHWM 2>/dev/null || echo 0)
    [ "${peak_now:-0}" -gt "$peak" ] && peak=$peak_now
    echo "--- $name: loupe bench remote-write --endpoint $endpoint ${bench_args[*]}" >&2
    cat "$work/$name.bench" >&2
    [ "$bench_status" = 0 ] || { echo "the bench against $name failed (status $bench_status)" >&2; exit 1; }
    local summary accepted rate
    summary=$(grep '^summary ' "$work/$name.bench")
    accepted=$(sed -n 's/.*samples_accepted=\([0-9]*\).*/\1/p' <<<"$summary")
    rate=$(sed -n 's/.*samples_per_second=\([0-9]*\).*/\1/p' <<<"$summary")
    local cpu_seconds
    cpu_seconds=$(awk -v a="$ticks_after" -v b="$ticks_before" -v t="$clock_ticks" 'BEGIN { printf "%.2f", (a - b) / t }')
    echo "$rate $accepted $cpu_seconds $peak" >"$work/$name.result"
}

for port in "$loupe_port" "$prometheus_port"; do
    if port_in_use "$port"; then echo "port $port is in use; set LOUPE_PORT / PROMETHEUS_PORT" >&2; exit 1; fi
done

log "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"

# --- Loupe
log "starting loupe up on 127.0.0.1:$loupe_port"
mkdir -p "$work/loupe-data"
"$loupe_bin" up --data-dir "$work/loupe-data" --http-address "127.0.0.1:$loupe_port" \
    --otlp-grpc-address 127.0.0.1:0 --otlp-http-address 127.0.0.1:0 --log-level warning >"$work/loupe.log" 2>&1 &
server_pid=$!
wait_ready "http://127.0.0.1:$loupe_port/ready" "$work/loupe.log"
run_one loupe "http://127.0.0.1:$loupe_port/api/v1/write"
stop_server

# --- Prometheus
log "starting Prometheus ($("$prometheus_bin" --version 2>&1 | head -1 | awk '{ print $3 }')) on 127.0.0.1:$prometheus_port"
mkdir -p "$work/prometheus-data"
cat >"$work/prometheus.yml" <<'EOF'
# No scrape targets: the only samples are the ones written by the benchmark.
global:
  scrape_interval: 15s
scrape_configs: []
EOF
"$prometheus_bin" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus-data" \
    --web.listen-address="127.0.0.1:$prometheus_port" --web.enable-remote-write-receiver \
    --log.level=info >"$work/prometheus.log" 2>&1 &
server_pid=$!
wait_ready "http://127.0.0.1:$prometheus_port/-/ready" "$work/prometheus.log"
run_one prometheus "http://127.0.0.1:$prometheus_port/api/v1/write"
stop_server
# Simulated time runs far faster than wall time, so Prometheus cuts head blocks (every 2 h of sample time)
# during the run; that work is part of its CPU figure. Loupe's TSDB is head-only for now.
log "Prometheus wrote $(grep -c 'msg="write block"' "$work/prometheus.log" || true) block(s) during the run"
grep -m3 -E 'level=(warn|error)' "$work/prometheus.log" >&2 || true

# --- Table
read -r l_rate l_accepted l_cpu l_peak <"$work/loupe.result"
read -r p_rate p_accepted p_cpu p_peak <"$work/prometheus.result"
awk -v lr="$l_rate" -v la="$l_accepted" -v lc="$l_cpu" -v lp="$l_peak" \
    -v pr="$p_rate" -v pa="$p_accepted" -v pc="$p_cpu" -v pp="$p_peak" 'BEGIN {
    lcpm = la > 0 ? lc / (la / 1e6) : 0; pcpm = pa > 0 ? pc / (pa / 1e6) : 0
    ratio = "%.2f×"
    printf "\n| | Loupe | Prometheus 2.42 | Loupe / Prometheus |\n|---|---|---|---|\n"
    printf "| accepted samples/s | %d | %d | %s |\n", lr, pr, (pr > 0 ? sprintf(ratio, lr / pr) : "n/a")
    printf "| samples accepted | %d | %d | |\n", la, pa
    printf "| server CPU seconds during the run | %.2f | %.2f | %s |\n", lc, pc, (pc > 0 ? sprintf(ratio, lc / pc) : "n/a")
    printf "| CPU seconds per million samples | %.3f | %.3f | %s |\n", lcpm, pcpm, (pcpm > 0 ? sprintf(ratio, lcpm / pcpm) : "n/a")
    printf "| peak RSS (VmHWM) | %.1f MiB | %.1f MiB | %s |\n", lp / 1024, pp / 1024, (pp > 0 ? sprintf(ratio, lp / pp) : "n/a")
}'
