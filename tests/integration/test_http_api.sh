#!/bin/bash
# The daemon's HTTP API as a client sees it: every endpoint's status and
# Content-Type, JSON errors for bad requests (bad escapes, huge and negative
# numbers, 64 KB headers, unknown paths and methods), bearer and basic
# authentication, secrets kept out of /api/v1/config and the logs, TLS checked
# against a self-signed CA with curl, and the status/anomalies commands.
set -u
. "$(dirname "$0")/lib.sh"
need_arthamon
need_tools "curl, openssl" curl openssl
T=$(mktemp -d /tmp/am-http-XXXXXX)
DAEMON_PID=""
cleanup() {
    [ -n "$DAEMON_PID" ] && stop_pids "$DAEMON_PID"
    rm -rf "$T"
}
trap cleanup EXIT

# code METHOD PATH [CURL ARGS...]: the status code; the body lands in $T/body, headers in $T/hdr
code() {
    local m=$1 p=$2
    shift 2
    curl -sS -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$m" "$@" "$URL$p"
}
expect() {
    local want=$1 got
    shift
    got=$(code "$@")
    [ "$got" = "$want" ] || fail "$* -> $got, want $want: $(head -c 300 "$T/body")"
}
ctype() { sed -n 's/^[Cc]ontent-[Tt]ype: \(.*\)\r$/\1/p' "$T/hdr"; }
json_error() { grep -q '^{"error":".*"}$' "$T/body" || fail "not a JSON error: $(head -c 200 "$T/body")"; }

# ---- open server: endpoints
daemon_config "$T/open.yaml" "$T"
start_daemon "$T/open.yaml" "$T/open.log"
sleep 2.5
expect 200 GET /healthz
grep -q '"status":"ok"' "$T/body" || fail "healthz: $(cat "$T/body")"
[ "$(ctype)" = "application/json" ] || fail "healthz content type $(ctype)"
expect 200 GET /api/v1/snapshot
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["node_id"]=="test-node"; assert "cpu" in d and "memory" in d' "$T/body" ||
    fail "snapshot is not the seed's JSON"
expect 200 GET "/api/v1/history?limit=2"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["count"]==2 and len(d["snapshots"])==2' "$T/body" ||
    fail "history limit=2: $(head -c 300 "$T/body")"
expect 200 GET /api/v1/anomalies
expect 200 GET /api/v1/report
ctype | grep -q '^text/markdown' || fail "report content type $(ctype)"
grep -q '^# Performance Monitoring Report' "$T/body" || fail "report: $(head -5 "$T/body")"
expect 200 GET /api/v1/config
expect 200 GET /metrics
[ "$(ctype)" = "text/plain; version=0.0.4; charset=utf-8" ] || fail "metrics content type $(ctype)"
expect 200 GET /metrics -H 'Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5'
[ "$(ctype)" = "application/openmetrics-text; version=1.0.0; charset=utf-8" ] || fail "OpenMetrics content type $(ctype)"
[ "$(tail -n1 "$T/body")" = "# EOF" ] || fail "OpenMetrics without # EOF"
expect 200 HEAD /api/v1/snapshot -I
ok "every endpoint answers 200 with its content type"

# ---- bad requests: JSON errors with 4xx, and the daemon lives on
expect 404 GET /nope; json_error
expect 405 POST /api/v1/snapshot; json_error
grep -qi '^allow: GET, HEAD' "$T/hdr" || fail "405 without Allow"
expect 400 GET "/api/v1/history?limit=%zz"; json_error
expect 400 GET "/api/v1/history?limit=%00"; json_error
expect 400 GET "/api/v1/history?limit=-5"; json_error
expect 400 GET "/api/v1/history?limit=0"; json_error
expect 400 GET "/api/v1/history?limit=999999999999999999999999999999"; json_error
expect 400 GET "/api/v1/history?from=1e999"; json_error
expect 400 GET "/api/v1/history?from=20&to=10"; json_error
expect 400 GET "/api/v1/anomalies?min_severity=9"; json_error
expect 400 GET "/api/v1/snapshot?unknown=1"; json_error
expect 400 GET "/api%2Fv1%2Fconfig"; json_error
big=$(head -c 65536 /dev/zero | tr '\0' a)
got=$(code GET /api/v1/snapshot -H "X-Big: $big")
case $got in 4??) ;; *) fail "64 KB header -> $got, want 4xx" ;; esac
got=$(code GET "/api/v1/snapshot?x=$(head -c 9000 /dev/zero | tr '\0' b)")
case $got in 4??) ;; *) fail "9 KB target -> $got, want 4xx" ;; esac
# malformed requests on a raw socket: 4xx; a line that is not HTTP at all may
# instead be dropped (libmicrohttpd closes it without an answer)
"$PY" - "$URL" <<'PY' || fail "malformed requests not answered 4xx"
import socket, sys
host, port = sys.argv[1].split("//")[1].rsplit(":", 1)
cases = [(b"GET /healthz HTTP/1.1\r\nNoColonHere\r\n\r\n", False),
         (b"GET /healthz\r\n\r\n", False),
         (b"GET  HTTP/1.1\r\nHost: a\r\n\r\n", False),
         (b"GET /api/v1/history?limit=1%2 HTTP/1.1\r\nHost: a\r\n\r\n", False),
         (b"GARBAGE\r\n\r\n", True)]
for req, may_close in cases:
    s = socket.create_connection((host, int(port)))
    s.settimeout(5)
    s.sendall(req)
    line = s.recv(100).split(b"\r\n")[0]
    s.close()
    if line == b"" and may_close:
        continue
    if not line.startswith(b"HTTP/1.1 4"):
        sys.exit("%r -> %r" % (req, line))
PY
expect 200 GET /healthz
kill -0 "$DAEMON_PID" || fail "the daemon died on bad input"
ok "bad requests get JSON 4xx errors; the daemon survives"

# ---- SIGHUP: the listening socket passes to the new server; counters and uptime go on
"$PY" - "$URL" >"$T/poll.out" 2>&1 <<'PY' &
import http.client, sys, time
host, port = sys.argv[1].split("//")[1].rsplit(":", 1)
bad, n, end = 0, 0, time.time() + 3
while time.time() < end:
    try:
        c = http.client.HTTPConnection(host, int(port), timeout=2)
        c.request("GET", "/healthz")
        if c.getresponse().status != 200:
            bad += 1
        c.close()
    except OSError as e:
        bad += 1
    n += 1
print(n, bad)
PY
POLL=$!
curl -s "$URL/healthz" >"$T/h1"
sleep 0.5
kill -HUP "$DAEMON_PID"
sleep 0.5
kill -HUP "$DAEMON_PID"
wait "$POLL"
read -r polls bad <"$T/poll.out"
[ "$bad" = 0 ] || fail "$bad of $polls requests failed across two reloads: $(cat "$T/poll.out")"
sleep 1.2
curl -s "$URL/healthz" >"$T/h2"
"$PY" - "$T/h1" "$T/h2" <<'PY' || fail "reload reset the figures: $(cat "$T/h1") -> $(cat "$T/h2")"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
assert b["uptime_sec"] >= a["uptime_sec"] + 2, (a, b)
assert b["ticks"] >= a["ticks"] + 2, (a, b)
PY
grep -q "http_requests_total" <(curl -s "$URL/metrics") || fail "no request counter"
reqs=$(curl -s "$URL/metrics" | sed -n 's/^arthamon_http_requests_total{[^}]*} //p')
[ "${reqs:-0}" -gt "$polls" ] || fail "request counter restarted on reload: $reqs after $polls polls"
ok "SIGHUP: $polls requests across two reloads, none refused; uptime, ticks and counters go on"
# a reload the server cannot take (a certificate that is not one) keeps the running config
sed -i "s|^visualization: {dashboard_port: 0}|visualization: {dashboard_port: $(echo "$URL" | sed 's/.*://')}|" "$T/open.yaml"
echo "not a certificate" >"$T/bad.pem"
cp "$T/open.yaml" "$T/open.good"
echo "http: {tls: {cert_file: $T/bad.pem, key_file: $T/bad.pem}}" >>"$T/open.yaml"
kill -HUP "$DAEMON_PID"
sleep 1
expect 200 GET /healthz
grep -q "reload: keeping the running configuration" "$T/open.log" || fail "bad TLS reload not reported: $(tail -5 "$T/open.log")"
ok "a reload with an unusable certificate is refused; plain HTTP goes on serving"
cp "$T/open.good" "$T/open.yaml"
stop_pids "$DAEMON_PID"
DAEMON_PID=""

# ---- bearer token and basic authentication
TOKEN=tok-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
PASS=pw-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
HASH=$(printf '%s\n' "$PASS" | "$ARTHAMON_BIN" hash-password) || fail "hash-password failed"
case $HASH in '$y$'* | '$6$'*) ;; *) fail "hash-password printed '$HASH'" ;; esac
GRAFANA_KEY=glsa_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
daemon_config "$T/auth.yaml" "$T" \
    "http: {auth: {bearer_token: $TOKEN, basic_user: ops, basic_password_hash: '$HASH'}}"
sed -i "s/^visualization: {dashboard_port: 0}/visualization: {dashboard_port: 0, grafana: {api_key: $GRAFANA_KEY}}/" "$T/auth.yaml"
start_daemon "$T/auth.yaml" "$T/auth.log"
sleep 1.5
expect 401 GET /api/v1/snapshot; json_error
grep -qi '^www-authenticate: Bearer' "$T/hdr" || fail "401 without WWW-Authenticate"
expect 401 GET /api/v1/snapshot -H "Authorization: Bearer wrong"
expect 401 GET /metrics -H "Authorization: Bearer ${TOKEN}x"
expect 401 GET /api/v1/snapshot -H "Authorization: Basic !!!"
expect 401 GET /api/v1/snapshot -u "ops:wrong"
expect 401 GET /api/v1/snapshot -u "root:$PASS"
expect 200 GET /api/v1/snapshot -H "Authorization: Bearer $TOKEN"
expect 200 GET /metrics -H "Authorization: Bearer $TOKEN"
expect 200 GET /api/v1/snapshot -u "ops:$PASS"
expect 200 GET /healthz
ok "401 without or with wrong credentials, 200 with a right token or password; /healthz open"
# wrong passwords from many clients at once: each is refused (401, or 429 while another password
# is being checked) and the server keeps answering others promptly
storm=()
for i in $(seq 40); do
    curl -s -o /dev/null -w '%{http_code}\n' -u "ops:wrong$i" "$URL/api/v1/snapshot" >>"$T/codes" &
    storm+=($!)
done
t0=$(date +%s%N)
expect 200 GET /healthz
t1=$(date +%s%N)
wait "${storm[@]}"
[ $(((t1 - t0) / 1000000)) -lt 1000 ] || fail "/healthz took $(((t1 - t0) / 1000000)) ms under a password storm"
grep -qv '^\(401\|429\)$' "$T/codes" && fail "password storm answers: $(sort "$T/codes" | uniq -c)"
ok "40 wrong passwords at once: $(sort "$T/codes" | uniq -c | tr -s ' \n' ' '); /healthz in $(((t1 - t0) / 1000000)) ms"
expect 200 GET /api/v1/snapshot -u "ops:$PASS"
expect 200 GET /api/v1/config -H "Authorization: Bearer $TOKEN"
grep -q '"bearer_token":"<redacted>"' "$T/body" || fail "token not redacted: $(cat "$T/body")"
for secret in "$TOKEN" "$GRAFANA_KEY" "$HASH" "$PASS"; do
    grep -qF -- "$secret" "$T/body" && fail "a secret appears in /api/v1/config"
    grep -rqF -- "$secret" "$T/auth.log" "$T"/*.log && fail "a secret appears in the logs"
done
ok "secrets stay out of /api/v1/config and the logs"
"$ARTHAMON_BIN" status -c "$T/auth.yaml" --url "$URL" >"$T/status.out" 2>&1 || fail "status: $(cat "$T/status.out")"
grep -q '"status":"ok"' "$T/status.out" || fail "status output: $(cat "$T/status.out")"
grep -qi 'cpu' "$T/status.out" || fail "status prints no snapshot: $(cat "$T/status.out")"
"$ARTHAMON_BIN" anomalies -c "$T/auth.yaml" --url "$URL" >"$T/an.out" 2>&1 || fail "anomalies: $(cat "$T/an.out")"
grep -q 'no anomalies' "$T/an.out" || fail "anomalies output: $(cat "$T/an.out")"
ARTHAMON_TOKEN=bad "$ARTHAMON_BIN" status -c "$T/auth.yaml" --url "$URL" >"$T/status.out" 2>&1 &&
    fail "status with a wrong token succeeded"
grep -q 'answered 401' "$T/status.out" || fail "status with a wrong token: $(cat "$T/status.out")"
ok "arthamon status and anomalies read the daemon with its config's token"
stop_pids "$DAEMON_PID"
DAEMON_PID=""

printf 'http: {auth: {bearer_token: "s3cr3t!tok"}}\n' >"$T/badtok.yaml"
"$ARTHAMON_BIN" check-config "$T/badtok.yaml" >"$T/out" 2>&1 && fail "a token curl cannot send was accepted"
grep -q "RFC 6750" "$T/out" || fail "bad token message: $(cat "$T/out")"
grep -q 's3cr3t' "$T/out" && fail "check-config echoed the token"
ok "a token that cannot be sent as a bearer token is refused at load, without echoing it"

# /metrics may be left open for scrapers
daemon_config "$T/mopen.yaml" "$T" "http: {auth: {bearer_token: $TOKEN, metrics_open: true}}"
start_daemon "$T/mopen.yaml" "$T/mopen.log"
expect 200 GET /metrics
expect 401 GET /api/v1/snapshot
ok "metrics_open serves /metrics without credentials, nothing else"
stop_pids "$DAEMON_PID"
DAEMON_PID=""

# ---- TLS with a self-signed CA
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" -days 2 \
    -subj /CN=arthamon-test-ca >/dev/null 2>&1 || fail "openssl: CA"
openssl req -newkey rsa:2048 -nodes -keyout "$T/srv.key" -out "$T/srv.csr" -subj /CN=127.0.0.1 \
    >/dev/null 2>&1 || fail "openssl: CSR"
printf 'subjectAltName=IP:127.0.0.1\n' >"$T/ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
    -out "$T/srv.pem" -days 2 -extfile "$T/ext" >/dev/null 2>&1 || fail "openssl: sign"
chmod 600 "$T/srv.key"
daemon_config "$T/tls.yaml" "$T" "http: {tls: {cert_file: $T/srv.pem, key_file: $T/srv.key}}"
start_daemon "$T/tls.yaml" "$T/tls.log"
case $URL in https://*) ;; *) fail "TLS daemon reports $URL" ;; esac
expect 200 GET /healthz --cacert "$T/ca.pem"
code GET /healthz >/dev/null 2>&1 && fail "curl trusted the self-signed server without its CA"
http_url=${URL/https:/http:}
curl -sS -o /dev/null "$http_url/healthz" 2>/dev/null && fail "plain HTTP answered on the TLS port"
"$ARTHAMON_BIN" status -c "$T/tls.yaml" --cacert "$T/ca.pem" --url "$URL" >"$T/status.out" 2>&1 ||
    fail "status over TLS: $(cat "$T/status.out")"
ok "TLS: verified against the CA, refused without it, no plain HTTP"
stop_pids "$DAEMON_PID"
DAEMON_PID=""

# ---- a port in use stops the daemon with a clear message
"$PY" -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(30)' >"$T/port" &
HOLD=$!
for i in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
daemon_config "$T/busy.yaml" "$T"
sed -i "s/dashboard_port: 0/dashboard_port: $(cat "$T/port")/" "$T/busy.yaml"
timeout 10 "$ARTHAMON_BIN" run -c "$T/busy.yaml" >"$T/busy.log" 2>&1
rc=$?
stop_pids "$HOLD"
[ $rc -eq 1 ] || fail "daemon on a taken port: exit $rc, want 1"
grep -q "cannot serve on 127.0.0.1 port" "$T/busy.log" || fail "no clear message: $(cat "$T/busy.log")"
ok "a taken port is reported and the daemon exits 1"
echo "PASS"
