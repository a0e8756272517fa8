# Process helpers shared by the side-by-side benchmark scripts (sourced, not run).
# They use $server_pid, the one server under test at a time.

# Stops the server (TERM, up to 30 s, then KILL).
stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 300); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_ready() { # url logfile
    for _ in $(seq 1 600); do
        if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
        kill -0 "$server_pid" 2>/dev/null || { echo "server exited during startup; log:" >&2; cat "$2" >&2; exit 1; }
        sleep 0.1
    done
    echo "server not ready after 60 s" >&2
    exit 1
}

clock_ticks=$(getconf CLK_TCK)
# utime+stime of a process, in clock ticks (fields 14 and 15; the command name may contain spaces).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
# A /proc/PID/status size in KiB: status_kib PID VmRSS|VmHWM.
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
