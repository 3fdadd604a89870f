#!/bin/sh
# Installs what arthamon needs from the distribution's packages (Debian 12, Ubuntu 22.04+).
#   scripts/install-deps.sh [build] [test] [bench] [fuzz]     (default: build)
# Idempotent: asks apt only for packages that are missing; runs apt through sudo
# when not root. Prints one line when nothing is missing.
set -eu

pkgs_build="gcc libc6-dev make cmake pkg-config libyaml-dev libcmocka-dev libmicrohttpd-dev libcurl4-openssl-dev libcrypt-dev libgnutls28-dev libsqlite3-dev"
# test: the independent tools the accuracy tests compare against, clang (the tree
# must build warning-free with it too), and the
# network/disk plumbing they build (namespaces, veth, loop devices, nftables);
# the real peers of the HTTP side: Prometheus (and promtool), a strict
# OpenMetrics parser, curl and openssl (TLS), wrk (load); a StatsD client library
# (python3-statsd; python3-aiodogstatsd for DogStatsD tags, histograms and
# distributions) for the StatsD server's tests; the real receivers of the alert
# channels: Alertmanager and an SMTP server (aiosmtpd); tidy, which validates the HTML report;
# chromium, nodejs and npm for the dashboard test (headless Chromium driven by
# playwright-core from npm)
pkgs_test="sysstat procps iproute2 nftables util-linux e2fsprogs kmod valgrind python3 ca-certificates clang prometheus python3-prometheus-client curl openssl wrk sqlite3 python3-statsd python3-aiodogstatsd prometheus-alertmanager python3-aiosmtpd tidy chromium nodejs npm"
# bench: the tools the benchmarks compare against (sadc, collectd, node_exporter,
# Prometheus's TSDB, netdata's StatsD server) and the load they make (stress-ng)
pkgs_bench="sysstat collectd-core valgrind prometheus-node-exporter curl stress-ng prometheus sqlite3 netdata iproute2"
pkgs_fuzz="clang"

want=""
[ $# -eq 0 ] && set -- build
for group in "$@"; do
    case "$group" in
    build) want="$want $pkgs_build" ;;
    test) want="$want $pkgs_build $pkgs_test" ;;
    bench) want="$want $pkgs_build $pkgs_bench" ;;
    fuzz) want="$want $pkgs_build $pkgs_fuzz" ;;
    *) echo "install-deps: unknown group '$group' (build, test, bench, fuzz)" >&2; exit 2 ;;
    esac
done

installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

# a package whose program is already on PATH from elsewhere (Node.js from
# NodeSource bundles npm, and its nodejs conflicts with Debian's npm package)
# counts as present
provided() {
    case "$1" in
    nodejs) command -v node >/dev/null 2>&1 ;;
    npm) command -v npm >/dev/null 2>&1 ;;
    *) return 1 ;;
    esac
}

missing=""
for p in $want; do
    case " $missing " in *" $p "*) continue ;; esac
    installed "$p" || provided "$p" || missing="$missing $p"
done

fuzz_rt=""
case " $* " in *" fuzz "*)
    # libFuzzer ships apart from clang (libclang-rt-N-dev, N = clang's major version)
    v=$(clang --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n1)
    if [ -z "$v" ] || ! installed "libclang-rt-$v-dev"; then fuzz_rt=yes; fi
    ;;
esac

if [ -z "$missing" ] && [ -z "$fuzz_rt" ]; then
    echo "install-deps: all packages present ($*)"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: missing packages:$missing; install them with your package manager" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-deps: need root or sudo to install:$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if [ -n "$missing" ]; then
    echo "install-deps: installing$missing"
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
    # netdata (bench/ingest.sh), Alertmanager and Prometheus (the tests) are run by the
    # tests and benchmarks themselves, on loopback and free ports: the packages'
    # services, started and enabled by the install, are stopped and disabled again
    # (Alertmanager's would also gossip on every interface)
    for svc in netdata prometheus-alertmanager prometheus; do
        case " $missing " in *" $svc "*)
            if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
                if $SUDO systemctl disable --now "$svc" >/dev/null 2>&1; then
                    echo "install-deps: $svc's service stopped and disabled (the tests run their own)"
                fi
            fi
            ;;
        esac
    done
fi
if [ -n "$fuzz_rt" ]; then
    v=$(clang --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n1)
    echo "install-deps: installing libclang-rt-$v-dev (libFuzzer)"
    $SUDO apt-get install -y -qq --no-install-recommends "libclang-rt-$v-dev" >/dev/null
fi
echo "install-deps: done"
