# shellcheck shell=bash
# Shared by the benchmark scripts (sourced, not run).

# alive PID: it exists and is not a zombie (kill -0 succeeds on a zombie until it is reaped)
alive() {
    local s
    { s=$(<"/proc/$1/stat"); } 2>/dev/null || return 1
    s=${s##*) }
    [ "${s%% *}" != Z ]
}

# stop_pids [-t TENTHS] PID...: TERM, up to TENTHS tenths of a second to go (default 20), then
# KILL; reaps those that are our children, and takes them off the PIDS array when there is one.
stop_pids() {
    local p q live tenths=20 keep=()
    if [ "${1:-}" = -t ]; then
        tenths=$2
        shift 2
    fi
    for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
    for ((q = 0; q < tenths; q++)); do
        live=0
        for p in "$@"; do alive "$p" && live=1; done
        [ "$live" = 0 ] && break
        sleep 0.1
    done
    for p in "$@"; do
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    declare -p PIDS >/dev/null 2>&1 || return 0
    for q in "${PIDS[@]}"; do
        for p in "$@"; do [ "$p" = "$q" ] && continue 2; done
        keep+=("$q")
    done
    PIDS=("${keep[@]}")
}

# tmp_done: removes $TMP, or keeps it when KEEP_TMP=1 and says so (with the caller's say).
tmp_done() {
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        say "kept $TMP"
    else
        rm -rf "$TMP"
    fi
}

# bench_cleanup: the EXIT trap of a benchmark that started the PIDS it lists and works in $TMP.
# shellcheck disable=SC2317 # run by the traps
bench_cleanup() {
    trap - EXIT INT TERM
    [ ${#PIDS[@]} -gt 0 ] && stop_pids "${PIDS[@]}"
    tmp_done
}

# float arithmetic
calc() { awk "BEGIN { printf \"%s\", $1 }" </dev/null; }

# utime+stime of PID's thread group, in clock ticks
stat_ticks() {
    local s
    { s=$(<"/proc/$1/stat"); } 2>/dev/null || return 1
    s=${s##*) } # after the command name, which may hold spaces and parentheses
    # shellcheck disable=SC2086
    set -- $s # $1 is field 3 (state): field 14 is $12, field 15 is $13
    echo $((${12} + ${13}))
}

# status_kb PID FIELD: a field of /proc/PID/status in kB (VmRSS, VmHWM); 0 when gone
status_kb() {
    local k v _u
    while read -r k v _u; do
        [ "$k" = "$2:" ] && { echo "$v"; return 0; }
    done 2>/dev/null <"/proc/$1/status"
    echo 0
}
