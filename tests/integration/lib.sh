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
