#!/usr/bin/env bash
# Runs every Loupe test suite from a fresh clone: installs the test peers it needs,
# builds, runs the Swift suites, then the end-to-end suites against the real
# OpenTelemetry Python SDK and a real `loupe up` process.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { printf '\n==> %s\n' "$*"; }

# System packages: zlib, zstd and libdeflate headers (gzip, zstd), python3-venv and prometheus (test peers).
need_apt=()
[ -f /usr/include/zlib.h ] || need_apt+=(zlib1g-dev)
[ -f /usr/include/zstd.h ] || need_apt+=(libzstd-dev)
[ -f /usr/include/libdeflate.h ] || need_apt+=(libdeflate-dev)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
# promtool (Prometheus 2.42) queries Loupe's Prometheus API in the end-to-end suite.
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
# openssl makes the self-signed certificate of the TLS scrape target (tests/integration/test_scrape.py).
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# syslog-ng's elasticsearch-http() and rsyslog's omelasticsearch are real shippers for the
# _bulk API (tests/integration/test_syslog_shippers.py). The two daemons' packages conflict, so
# syslog-ng is installed and rsyslog unpacked under .peers/rsyslog with its libraries installed.
[ -f /usr/share/syslog-ng/include/scl/elasticsearch/elastic-http.conf ] && ls /usr/lib/syslog-ng/*/libhttp.so >/dev/null 2>&1 \
    || need_apt+=(syslog-ng-core syslog-ng-mod-http syslog-ng-scl)
rsyslog_root="$root/.peers/rsyslog"
if [ ! -x "$rsyslog_root/usr/sbin/rsyslogd" ]; then
    need_apt+=(libestr0 libfastjson4 liblognorm5 libcurl4 libzstd1 libuuid1)
    fetch_rsyslog=1
fi
if [ ${#need_apt[@]} -gt 0 ]; then
    log "installing ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
fi
if [ "${fetch_rsyslog:-0}" = 1 ]; then
    log "unpacking rsyslog and omelasticsearch into $rsyslog_root"
    debs=$(mktemp -d) && chmod 777 "$debs"
    (cd "$debs" && apt-get download -qq rsyslog rsyslog-elasticsearch 2>/dev/null)
    mkdir -p "$rsyslog_root"
    for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$rsyslog_root"; done
    rm -rf "$debs"
fi
# In this run a missing peer fails its tests instead of skipping them.
export LOUPE_REQUIRE_PEERS=1

# Python test peers: OpenTelemetry SDK and exporters, prometheus_client (scrape targets), pytest.
venv="$root/.venv-test"
if [ ! -x "$venv/bin/pytest" ] || ! "$venv/bin/python" -c 'import opentelemetry.exporter.otlp.proto.grpc, opentelemetry.exporter.otlp.proto.http, requests, snappy, prometheus_client, elasticsearch, websocket, logging_loki, py_zipkin, yaml' 2>/dev/null; then
    log "installing Python test peers into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r tests/integration/requirements.txt
fi

log "building"
# Progress lines ("[12/345] Compiling ...") are dropped; diagnostics are kept.
build_status=0
swift build --build-tests > "${TMPDIR:-/tmp}/loupe-build.log" 2>&1 || build_status=$?
grep -v '^\[[0-9]*/[0-9]*\]' "${TMPDIR:-/tmp}/loupe-build.log" || true
if [ "$build_status" -ne 0 ]; then echo "FAILED: the build failed"; exit 1; fi

log "Swift test suites"
swift_status=0
swift test --skip-build 2>&1 | tee /tmp/loupe-swift-test.log || swift_status=$?

log "end-to-end suites (OpenTelemetry Python SDK -> loupe up)"
e2e_status=0
LOUPE_BINARY="$root/.build/debug/loupe" "$venv/bin/pytest" tests/integration -q -p no:cacheprovider || e2e_status=$?

if [ "$swift_status" -ne 0 ] || [ "$e2e_status" -ne 0 ]; then
    echo "FAILED: swift test exit $swift_status, pytest exit $e2e_status"
    exit 1
fi
