#!/bin/bash
# Warnings are errors with GCC and with Clang: the suite's own build is GCC's, so
# this test builds the whole tree again with Clang (same flags, -Werror) in a
# scratch directory. Skips when clang is not installed.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
SRC=${ARTHAMON_SRC:?}
command -v clang >/dev/null 2>&1 || skip "clang not installed (scripts/install-deps.sh test installs it)"
T=$(mktemp -d /tmp/am-clang-XXXXXX)
trap 'rm -rf "$T"' EXIT
CC=clang cmake -S "$SRC" -B "$T" -DCMAKE_BUILD_TYPE=Debug >"$T/configure.log" 2>&1 ||
    { cat "$T/configure.log"; fail "cmake with clang failed"; }
cmake --build "$T" -j"$(nproc)" >"$T/build.log" 2>&1 ||
    { grep -E "error|warning" "$T/build.log" | head -40; fail "the tree does not build warning-free with $(clang --version | head -1)"; }
echo "ok: built with $(clang --version | head -1), -Werror, no warnings"
echo "PASS"
