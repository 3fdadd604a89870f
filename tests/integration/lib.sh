# shellcheck shell=bash
# Shared by the integration tests (sourced, not run): outcomes ctest understands,
# and a way into a network namespace that works everywhere the tests run.

# skip MESSAGE: the test cannot run here (not root, a tool missing); ctest counts it as skipped.
skip() {
    echo "SKIP: $*"
    exit 77
}

# fail MESSAGE
fail() {
    echo "FAIL: $*"
    exit 1
}

# ok MESSAGE: a check that passed, with its figures
ok() { echo "ok: $*"; }

PY=/usr/bin/python3

# need_arthamon: the binary under test (ctest sets ARTHAMON_BIN) must be there.
need_arthamon() {
    [ -x "${ARTHAMON_BIN:-}" ] || fail "ARTHAMON_BIN is not set to the arthamon binary"
}

# need_root WHY: skip unless root.
need_root() {
    [ "$(id -u)" -eq 0 ] || skip "needs root ($*)"
}

# need_tools PACKAGES TOOL...: skip unless every TOOL and Debian's python3 are installed;
# PACKAGES names where they come from, for the message.
need_tools() {
    local packages=$1 tool
    shift
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || skip "$tool not installed ($packages)"
    done
    [ -x "$PY" ] || skip "$PY not installed"
}

# stop_pids PID...: signal them all, then reap them all (for cleanup traps).
stop_pids() {
    local p
    for p in "$@"; do
        kill "$p" 2>/dev/null
    done
    for p in "$@"; do
        wait "$p" 2>/dev/null
    done
}

# snapshot_config FILE WORKDIR [AGENT_LINE...]: a configuration for `arthamon snapshot`
# in a test: no console summary, state and logs in WORKDIR, errors only, and each
# AGENT_LINE (e.g. "disk_path: /mnt") added under agent:.
snapshot_config() {
    local file=$1 work=$2 line
    shift 2
    {
        echo "agent:"
        echo "  console_summary: false"
        echo "  data_dir: $work"
        echo "  net_exclude: [lo]"
        for line in "$@"; do
            echo "  $line"
        done
        echo "monitoring:"
        echo "  logging: {level: error, output_dir: $work}"
    } >"$file"
}

# in_ns NAMESPACE COMMAND...: runs COMMAND in the network namespace that `ip netns add`
# made, and in nothing else. `ip netns exec` and `ip -n` also unshare the mount namespace
# and remount /sys, which needs / to be a mount point: not so in a chroot (a fresh Debian
# test system), where they fail with '"mount --make-rslave /" failed'. Everything these
# tests read (/proc/net/*, sockets, sysctls under /proc/sys/net) follows the network
# namespace alone. A command started in the background is better written
# `nsenter --net=/run/netns/NS -- CMD &`, so that $! is CMD itself (nsenter execs it),
# not a subshell around this function.
in_ns() {
    local ns=$1
    shift
    nsenter --net="/run/netns/$ns" -- "$@"
}

# start_daemon CONFIG LOG: starts `arthamon run -c CONFIG` in the background with its
# output in LOG, waits (up to 10 s) for it to print where it serves, and sets
# DAEMON_PID and URL (e.g. http://127.0.0.1:40123). Fails the test if it does not.
start_daemon() {
    local cfg=$1 log=$2 i
    # emptied here, not only by the child's redirection: the loop below must
    # never read the address a previous daemon wrote to the same file
    : >"$log"
    "$ARTHAMON_BIN" run -c "$cfg" >"$log" 2>&1 &
    DAEMON_PID=$!
    URL=""
    for i in $(seq 100); do
        URL=$(sed -n 's|^arthamon: dashboard and API at \(https\{0,1\}://[^/]*\)/$|\1|p' "$log" | head -n1)
        [ -n "$URL" ] && return 0
        kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$log"; fail "the daemon exited at start"; }
        sleep 0.1
    done
    cat "$log"
    fail "the daemon did not report its address within 10 s"
}

# daemon_config FILE WORKDIR [YAML...]: a daemon config for a test: a free port on
# loopback, 1 s sampling, state and logs in WORKDIR, no console summary, StatsD on a
# free loopback port (tests run side by side); each YAML argument is appended as
# top-level text (e.g. "http: {auth: {bearer_token: x}}"; a statsd: one replaces ours).
daemon_config() {
    local file=$1 work=$2 extra statsd='statsd: {listen: "127.0.0.1:0"}'
    shift 2
    for extra in "$@"; do
        case "$extra" in statsd:*) statsd="" ;; esac
    done
    {
        echo "monitoring:"
        echo "  sampling_interval_ms: 1000"
        echo "  logging: {level: info, output_dir: $work, stdout: true}"
        echo "visualization: {dashboard_port: 0}"
        echo "agent: {console_summary: false, data_dir: $work, node_id: test-node}"
        [ -n "$statsd" ] && echo "$statsd"
        for extra in "$@"; do
            echo "$extra"
        done
    } >"$file"
}
