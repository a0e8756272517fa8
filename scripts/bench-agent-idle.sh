#!/usr/bin/env bash
# Idle resident memory of `loupe agent`: one LogPipeline and one MetricPipeline (runtime metrics
# every 30 s), an empty pod log root, an OTLP endpoint that refuses connections (nothing to send).
# Prints VmRSS, RssAnon and RssFile (/proc/PID/status) at the given seconds after the start.
#
# Usage: scripts/bench-agent-idle.sh [LOUPE_BINARY] [SECONDS...]   (default: 5 15 30 75 135)
set -u
cd "$(dirname "$0")/.."
BIN=${1:-$PWD/.build-release/release/loupe}; shift || true
POINTS=${*:-5 15 30 75 135}
work=$(mktemp -d /tmp/bench-agent-idle.XXXXXX); trap 'kill $PID 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p $work/pods
cat > $work/pipelines.yaml <<YAML
apiVersion: telemetry.loupe.dev/v1beta1
kind: LogPipeline
metadata: {name: logs}
spec:
  output:
    otlp:
      protocol: http
      endpoint: {value: "http://127.0.0.1:9"}
---
apiVersion: telemetry.loupe.dev/v1beta1
kind: MetricPipeline
metadata: {name: metrics}
spec:
  input:
    runtime: {enabled: true}
  output:
    otlp:
      protocol: http
      endpoint: {value: "http://127.0.0.1:9"}
YAML
$BIN agent --pipelines $work/pipelines.yaml --data-dir $work/data --pod-log-root $work/pods --http-address 127.0.0.1:0 --log-level warning > $work/log 2>&1 &
PID=$!
previous=0
for point in $POINTS; do
  sleep $((point - previous)); previous=$point
  echo "t=${point}s $(grep -E '^(VmRSS|RssAnon|RssFile):' /proc/$PID/status | awk '{printf "%s %d MB  ", $1, $2/1024}')"
done
