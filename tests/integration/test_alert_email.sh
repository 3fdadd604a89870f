#!/bin/bash
# E-mail alerts into a real SMTP server (smtp_sink.py, on Debian's python3-aiosmtpd),
# the anomaly raised by a detection rule on a StatsD gauge:
#  A. plain SMTP (smtp_starttls off, no login): the firing and then the resolved
#     message arrive, to every recipient; each parses as multipart/alternative with a
#     base64 text/plain and text/html part, the right Subject, From, To and
#     X-Arthamon-Idempotency-Key; the description's markup is plain text in both (in
#     the HTML escaped, &lt;b&gt;, never a <b> element);
#  B. STARTTLS required, the server's certificate from a private CA (smtp_ca_file), and
#     AUTH as alice with the password from smtp_password_file: the message arrives over
#     TLS, logged in as alice; the password is nowhere in what the daemon writes (log,
#     alerts.jsonl, its state directory), in the messages or in /api/v1/config;
#  C. the same server checked against another CA: verification fails; the daemon stays
#     up, says why in the log and in /api/v1/alerts (email pending, last_error), keeps
#     retrying with back-off at under 1 % of a core, and `arthamon alerts test` fails.
set -u
. "$(dirname "$0")/lib.sh"
need_arthamon
need_tools "curl, openssl" curl openssl
"$PY" -c 'import statsd' 2>/dev/null || skip "python3-statsd is not installed (scripts/install-deps.sh test)"
"$PY" -c 'import aiosmtpd' 2>/dev/null || skip "python3-aiosmtpd is not installed (scripts/install-deps.sh test)"
HERE=$(cd "$(dirname "$0")" && pwd)
[ -r "$HERE/smtp_sink.py" ] || fail "cannot read $HERE/smtp_sink.py"
T=$(mktemp -d /tmp/am-email-XXXXXX)
DAEMON_PID=""
SENDER_PID=""
SINK_A=""
SINK_B=""
cleanup() {
    local p
    for p in "$SENDER_PID" "$DAEMON_PID" "$SINK_A" "$SINK_B"; do
        [ -n "$p" ] && stop_pids "$p"
    done
    rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/pki" "$T/secret" "$T/a" "$T/b" "$T/c"
FROM=arthamon@example.test
RULE='detection:
  builtin_rules: false
  rules:
    - {name: pool_high, series: node.mempool_size, condition: ">", trigger: 100, severity: 4, description: "mempool <b>too</b> big", actions: ["drain the pool"]}'

# start_sink NAME ARGS...: smtp_sink.py on a free port, logging to $T/NAME.jsonl;
# sets SINK_PID and SINK_PORT
start_sink() {
    local name=$1
    shift
    "$PY" -u "$HERE/smtp_sink.py" 0 "$T/$name.jsonl" "$@" >"$T/$name.port" 2>"$T/$name.err" &
    SINK_PID=$!
    for _ in $(seq 50); do
        [ -s "$T/$name.port" ] && break
        kill -0 "$SINK_PID" 2>/dev/null || fail "smtp_sink.py exited: $(cat "$T/$name.err")"
        sleep 0.1
    done
    [ -s "$T/$name.port" ] || fail "smtp_sink.py did not say its port"
    SINK_PORT=$(head -n1 "$T/$name.port")
}

# start_alerting NAME ALERTS_YAML: a daemon working in $T/NAME with the pool_high rule
# and the given alerts: section, and the gauge sender aimed at its StatsD port
start_alerting() {
    local name=$1 alerts=$2
    daemon_config "$T/$name.yaml" "$T/$name" "$RULE" "$alerts"
    sed -i 's/^  sampling_interval_ms: 1000$/  sampling_interval_ms: 500/' "$T/$name.yaml"
    "$ARTHAMON_BIN" check-config "$T/$name.yaml" >"$T/check.out" 2>&1 || fail "check-config $name: $(cat "$T/check.out")"
    start_daemon "$T/$name.yaml" "$T/$name/run.log"
    start_sender "$(statsd_port "$T/$name/run.log")"
}

# stop_alerting: stops the gauge sender and the daemon
stop_alerting() {
    stop_pids "$SENDER_PID" "$DAEMON_PID"
    SENDER_PID=""
    DAEMON_PID=""
}

# node.mempool.size sent every 200 ms to PORT, the value read from $T/gauge each time
cat >"$T/sender.py" <<'PY'
import sys, time
import statsd
c = statsd.StatsClient("127.0.0.1", int(sys.argv[1]))
while True:
    try:
        with open(sys.argv[2]) as f:
            v = int(f.read().strip())
        c.gauge("node.mempool.size", v)
    except (OSError, ValueError):
        pass
    time.sleep(0.2)
PY
start_sender() {
    "$PY" "$T/sender.py" "$1" "$T/gauge" 2>"$T/sender.err" &
    SENDER_PID=$!
}

# Waits for and checks the messages: mail.py URL SINK_LOG EVENT RCPTS [tls USER]
# The message of EVENT (firing, resolved, test) for the open or latest pool_high alert,
# its headers and both parts; prints ok: lines.
cat >"$T/mail.py" <<'PY'
import base64, email, email.policy, email.utils, json, re, sys, time, urllib.request
from html.parser import HTMLParser

url, log, event, rcpts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
want_tls = len(sys.argv) > 5 and sys.argv[5] == "tls"
want_user = sys.argv[6] if len(sys.argv) > 6 else None
FROM = "arthamon@example.test"
TAG = {"firing": "FIRING", "resolved": "RESOLVED", "test": "TEST"}[event]


def get(path):
    with urllib.request.urlopen(url + path, timeout=10) as r:
        return json.loads(r.read().decode())


def messages():
    try:
        lines = open(log).read().splitlines()
    except OSError:
        return []
    recs = [json.loads(l) for l in lines]
    return [r for r in recs if r["event"] == "message" and r["mail_from"] == FROM]


def subject_of(r):
    return email.message_from_string(r["data"], policy=email.policy.default)["Subject"] or ""


deadline = time.time() + 30
while True:
    got = [r for r in messages() if subject_of(r).startswith("[%s]" % TAG)]
    if got:
        break
    if time.time() > deadline:
        print("no [%s] message within 30 s; the server got %r" % (TAG, [subject_of(r) for r in messages()]))
        print("daemon: %s" % json.dumps(get("/api/v1/alerts"))[:3000])
        sys.exit(1)
    time.sleep(0.2)
time.sleep(0.5)  # a duplicate would come right after
got = [r for r in messages() if subject_of(r).startswith("[%s]" % TAG)]
errors = []
if len(got) != 1:
    errors.append("%d [%s] messages" % (len(got), TAG))
r = got[0]
if sorted(r["rcpt_tos"]) != sorted(rcpts):
    errors.append("envelope recipients %r, want %r" % (r["rcpt_tos"], rcpts))
if r["tls"] != want_tls or (want_tls and r.get("tls_version") not in ("TLSv1.2", "TLSv1.3")):
    errors.append("tls %r (%s), want %r" % (r["tls"], r.get("tls_version"), want_tls))
if r["auth_user"] != want_user:
    errors.append("logged in as %r, want %r" % (r["auth_user"], want_user))
raw = r["data"]
if any(len(l) > 998 for l in raw.split("\r\n")) or re.search(r"(?<!\r)\n", raw):
    errors.append("lines longer than 998 characters or not ending in CRLF")
m = email.message_from_string(raw, policy=email.policy.default)
if event == "test":
    key_re = r"test-node:test-\d+:test"
    subject = "[TEST] %s test on alerts (test-node)"
else:
    anom = [a for a in get("/api/v1/anomalies?min_severity=1")["anomalies"] if a["anomaly_type"] == "pool_high"]
    anom = max(anom, key=lambda a: a["detected_at_ms"]) if anom else None
    if not anom:
        print("the daemon has no pool_high anomaly")
        sys.exit(1)
    key_re = re.escape("test-node:%s:%s" % (anom["id"], event))
    subject = "[%s] high pool_high on node (test-node)" % TAG
if event == "test":
    if not re.fullmatch(r"\[TEST\] \w+ test on alerts \(test-node\)", m["Subject"]):
        errors.append("Subject %r" % m["Subject"])
elif m["Subject"] != subject:
    errors.append("Subject %r, want %r" % (m["Subject"], subject))
if email.utils.parseaddr(m["From"])[1] != FROM:
    errors.append("From %r" % m["From"])
if sorted(a for _, a in email.utils.getaddresses([m["To"]])) != sorted(rcpts):
    errors.append("To %r, want %r" % (m["To"], rcpts))
key = m["X-Arthamon-Idempotency-Key"]
if not key or not re.fullmatch(key_re, key):
    errors.append("X-Arthamon-Idempotency-Key %r, want /%s/" % (key, key_re))
if not m["Message-ID"] or not m["Date"]:
    errors.append("no Message-ID or Date: %r %r" % (m["Message-ID"], m["Date"]))
elif abs(email.utils.parsedate_to_datetime(m["Date"]).timestamp() - time.time()) > 120:
    errors.append("Date %r" % m["Date"])
if m.get_content_type() != "multipart/alternative":
    errors.append("Content-Type %r" % m["Content-Type"])
parts = {p.get_content_type(): p for p in m.iter_parts()} if m.is_multipart() else {}
if sorted(parts) != ["text/html", "text/plain"]:
    errors.append("parts %r, want text/plain and text/html" % sorted(parts))
    parts = {}
texts = {}
for ctype, p in parts.items():
    if p["Content-Transfer-Encoding"] != "base64" or p.get_content_charset() != "utf-8":
        errors.append("%s: %r, charset %r" % (ctype, p["Content-Transfer-Encoding"], p.get_content_charset()))
    try:  # strictly: every line valid base64
        base64.b64decode("".join(p.get_payload().split()), validate=True)
        texts[ctype] = p.get_content()
    except Exception as e:
        errors.append("%s does not decode: %s" % (ctype, e))
if "text/plain" in texts:
    t = texts["text/plain"]
    want = ["A test notification"] if event == "test" else \
        ["mempool <b>too</b> big", "drain the pool", "node:      test-node", key or "?"]
    if event == "resolved":
        want.append("ended:")
    for w in want:
        if w not in t:
            errors.append("text/plain lacks %r: %r" % (w, t))
if "text/html" in texts:
    h = texts["text/html"]

    class Scan(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.tags, self.text = set(), []

        def handle_starttag(self, tag, attrs):
            self.tags.add(tag)

        def handle_data(self, data):
            self.text.append(data)

    s = Scan()
    s.feed(h)
    s.close()
    shown = "".join(s.text)
    if event != "test":
        if "mempool &lt;b&gt;too&lt;/b&gt; big" not in h or "<b>" in h or "b" in s.tags:
            errors.append("text/html does not escape the description: %r" % h)
        for w in ("mempool <b>too</b> big", "drain the pool", "test-node", key or "?"):
            if w not in shown:
                errors.append("text/html does not show %r: %r" % (w, shown))
    elif "A test notification" not in shown:
        errors.append("text/html does not show the test's text: %r" % shown)
for e in errors:
    print(e)
if errors:
    print("the message:\n" + raw[:4000])
    sys.exit(1)
print("ok: %s message: Subject %r, To %s, X-Arthamon-Idempotency-Key %s; text/plain and text/html "
      "(base64) decode%s; tls %s, login %s" %
      (event, m["Subject"], ",".join(rcpts), key,
       "" if event == "test" else ", the description's markup shown as text (&lt;b&gt; in the HTML)",
       "on (%s)" % r["tls_version"] if r["tls"] else "off", want_user or "none"))
PY

# ---- the certificates: a CA, the server's certificate for 127.0.0.1 and localhost
# signed by it, and another CA that signed nothing
mkca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$T/pki/$1.key" -out "$T/pki/$1.pem" -days 2 -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        >"$T/pki/openssl.out" 2>&1 || fail "openssl: $(cat "$T/pki/openssl.out")"
}
mkca ca "arthamon test CA"
mkca other "another test CA"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$T/pki/server.key" -out "$T/pki/server.csr" -subj "/CN=localhost" \
    >"$T/pki/openssl.out" 2>&1 || fail "openssl: $(cat "$T/pki/openssl.out")"
printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$T/pki/server.ext"
openssl x509 -req -in "$T/pki/server.csr" -CA "$T/pki/ca.pem" -CAkey "$T/pki/ca.key" -set_serial 2 \
    -days 2 -extfile "$T/pki/server.ext" -out "$T/pki/server.pem" >"$T/pki/openssl.out" 2>&1 ||
    fail "openssl: $(cat "$T/pki/openssl.out")"
openssl verify -CAfile "$T/pki/ca.pem" "$T/pki/server.pem" >/dev/null 2>&1 || fail "the server certificate does not verify"
openssl verify -CAfile "$T/pki/other.pem" "$T/pki/server.pem" >/dev/null 2>&1 && fail "the other CA verifies the server certificate"
ok "a CA, a server certificate for 127.0.0.1 signed by it, and another CA"

# =============== A: plain SMTP
start_sink a
SINK_A=$SINK_PID
echo 300 >"$T/gauge"
start_alerting a "alerts: {console: false, log_file: true, email: \"ops@example.test, oncall@example.test\", \
smtp_url: \"smtp://127.0.0.1:$SINK_PORT\", smtp_from: $FROM, smtp_starttls: false, hold_down_sec: 1, \
retry_max_sec: 3, timeout_ms: 3000}"
"$PY" "$T/mail.py" "$URL" "$T/a.jsonl" firing ops@example.test,oncall@example.test || fail "A: the firing message (above)"
echo 10 >"$T/gauge"
"$PY" "$T/mail.py" "$URL" "$T/a.jsonl" resolved ops@example.test,oncall@example.test || fail "A: the resolved message (above)"
stop_alerting
stop_pids "$SINK_A"
SINK_A=""

# =============== B: STARTTLS, the private CA, AUTH
PW="Pw:$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')@%&"
printf '%s\n' "$PW" >"$T/secret/pw"
chmod 600 "$T/secret/pw"
start_sink b --tls "$T/pki/server.pem" "$T/pki/server.key" --auth alice "$T/secret/pw"
SINK_B=$SINK_PID
# the server as curl sees it: TLS and the login work, without STARTTLS it refuses
printf 'Subject: probe\r\n\r\nprobe\r\n' >"$T/probe.txt"
curl -sS --url "smtp://127.0.0.1:$SINK_PORT/probe.test" --ssl-reqd --cacert "$T/pki/ca.pem" \
    --user "alice:$PW" --mail-from probe@example.test --mail-rcpt ops@example.test -T "$T/probe.txt" \
    >"$T/curl.out" 2>&1 || fail "B: curl cannot send through the STARTTLS server: $(cat "$T/curl.out")"
curl -sS --url "smtp://127.0.0.1:$SINK_PORT/probe.test" --mail-from probe@example.test \
    --mail-rcpt ops@example.test -T "$T/probe.txt" >"$T/curl.out" 2>&1 &&
    fail "B: the server takes mail without STARTTLS"
ok "B: the server requires STARTTLS and AUTH (checked with curl)"

echo 300 >"$T/gauge"
B_ALERTS="alerts: {console: false, log_file: true, email: ops@example.test, \
smtp_url: \"smtp://127.0.0.1:$SINK_PORT\", smtp_from: $FROM, smtp_user: alice, \
smtp_password_file: $T/secret/pw, smtp_ca_file: $T/pki/ca.pem, hold_down_sec: 1, retry_max_sec: 3, timeout_ms: 3000}"
daemon_config "$T/b-test.yaml" "$T/b" "$B_ALERTS"
"$ARTHAMON_BIN" alerts test -c "$T/b-test.yaml" --channel email >"$T/b/alerts-test.out" 2>&1
rc=$?
if [ $rc -ne 0 ] || ! grep -qx 'email: ok' "$T/b/alerts-test.out"; then
    fail "B: alerts test --channel email: exit $rc: $(cat "$T/b/alerts-test.out")"
fi
ok "B: alerts test --channel email: 'email: ok'"
start_alerting b "$B_ALERTS"
"$PY" "$T/mail.py" "$URL" "$T/b.jsonl" test ops@example.test tls alice || fail "B: the test message (above)"
"$PY" "$T/mail.py" "$URL" "$T/b.jsonl" firing ops@example.test tls alice || fail "B: the firing message (above)"
curl -fsS "$URL/api/v1/config" >"$T/b/api-config.json" || fail "B: GET /api/v1/config"
curl -fsS "$URL/api/v1/alerts" >"$T/b/api-alerts.json" || fail "B: GET /api/v1/alerts"
grep -q smtp_user "$T/b/api-config.json" || fail "B: /api/v1/config has no alerts: $(head -c 2000 "$T/b/api-config.json")"
stop_alerting
# everything the daemon wrote (its log, alerts.jsonl, its state), what it served, and
# what the server received: neither the password nor its base64 forms on the wire
"$PY" - "$PW" "$T/b" "$T/b.jsonl" <<'PY' || fail "B: the password leaked (above)"
import base64, os, sys
pw, where = sys.argv[1].encode(), sys.argv[2:]
forms = {"the password": pw, "base64(password)": base64.b64encode(pw),
         "base64(AUTH PLAIN)": base64.b64encode(b"\0alice\0" + pw)}
files, leaks = [], []
for w in where:
    if os.path.isdir(w):
        files += [os.path.join(d, f) for d, _, fs in os.walk(w) for f in fs]
    else:
        files.append(w)
for path in files:
    data = open(path, "rb").read()
    for what, b in forms.items():
        if b in data:
            leaks.append("%s in %s" % (what, path))
for l in leaks:
    print(l)
if leaks:
    sys.exit(1)
print("ok: B: neither the password nor its base64 forms is in any of %d files: %s" %
      (len(files), ", ".join(sorted(os.path.basename(f) for f in files))))
PY

# =============== C: the server's certificate checked against the wrong CA
C_ALERTS="alerts: {console: false, log_file: true, email: ops@example.test, \
smtp_url: \"smtp://127.0.0.1:$SINK_PORT\", smtp_from: $FROM, smtp_user: alice, \
smtp_password_file: $T/secret/pw, smtp_ca_file: $T/pki/other.pem, hold_down_sec: 1, retry_max_sec: 3, timeout_ms: 3000}"
daemon_config "$T/c-test.yaml" "$T/c" "$C_ALERTS"
"$ARTHAMON_BIN" alerts test -c "$T/c-test.yaml" --channel email >"$T/c/alerts-test.out" 2>&1
rc=$?
if [ $rc -ne 1 ] || ! grep -q '^email: FAILED: .*\(certificate\|SSL\)' "$T/c/alerts-test.out"; then
    fail "C: alerts test --channel email: exit $rc (want 1): $(cat "$T/c/alerts-test.out")"
fi
ok "C: alerts test --channel email exits 1: $(head -n1 "$T/c/alerts-test.out")"
MSGS_BEFORE=$(grep -c '"event": "message"' "$T/b.jsonl")
echo 300 >"$T/gauge"
start_alerting c "$C_ALERTS"
"$PY" - "$URL" <<'PY' || fail "C: the failing channel (above)"
import json, re, sys, time, urllib.request
url = sys.argv[1]
deadline = time.time() + 20
while True:
    with urllib.request.urlopen(url + "/api/v1/alerts", timeout=10) as r:
        d = json.loads(r.read().decode())
    ch = [c for c in d["channels"] if c["name"] == "email"]
    if ch and ch[0]["last_error"] and (ch[0]["pending"] or 0) >= 1 and ch[0]["errors"] >= 2:
        break
    if time.time() > deadline:
        print("no pending e-mail with an error (after 2 attempts) within 20 s: %s" % json.dumps(d)[:3000])
        sys.exit(1)
    time.sleep(0.25)
c = ch[0]
if not re.search(r"certificate|SSL", c["last_error"], re.I) or c["sent"] != 0 or c["failed"] != 0:
    print("the email channel: %r" % c)
    sys.exit(1)
notes = [n for n in d["notifications"] if n["channel"] == "email"]
if not any(n["event"] == "firing" and n["state"] == "pending" and n["attempts"] >= 1 for n in notes):
    print("no pending firing e-mail among %r" % notes)
    sys.exit(1)
print("ok: C: /api/v1/alerts: email pending %d, sent 0, %d attempts, last_error %r" %
      (c["pending"], c["attempts"], c["last_error"]))
PY
grep -E ' warn +alert .*email: .*(certificate|SSL)' "$T/c/run.log" >"$T/c/warn.txt" ||
    fail "C: the daemon did not log the e-mail error: $(tail -5 "$T/c/run.log")"
ok "C: the daemon logs: $(head -n1 "$T/c/warn.txt" | cut -c1-200)"

# CPU while it keeps failing: utime + stime of the daemon over 10 s
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
attempts() {
    curl -fsS "$URL/api/v1/alerts" | "$PY" -c 'import json,sys
print([c for c in json.load(sys.stdin)["channels"] if c["name"] == "email"][0]["attempts"])'
}
HZ=$(getconf CLK_TCK)
A0=$(attempts)
C0=$(cpu_ticks "$DAEMON_PID")
S0=$(date +%s.%N)
sleep 10
C1=$(cpu_ticks "$DAEMON_PID")
S1=$(date +%s.%N)
A1=$(attempts)
kill -0 "$DAEMON_PID" 2>/dev/null || fail "C: the daemon died: $(tail -5 "$T/c/run.log")"
read -r PCT TRIES < <("$PY" -c "print('%.2f' % (($C1 - $C0) / $HZ / ($S1 - $S0) * 100), $A1 - $A0)")
[ "$TRIES" -ge 2 ] || fail "C: only $TRIES delivery attempts in 10 s (retry_max_sec 3)"
"$PY" -c "import sys; sys.exit(0 if $PCT < 1 else 1)" ||
    fail "C: the daemon used $PCT % of a core over 10 s while failing ($((C1 - C0)) ticks, $TRIES attempts)"
ok "C: $TRIES attempts in 10 s with back-off, the daemon at $PCT % of a core ($((C1 - C0)) ticks of 1/$HZ s), still up"
MSGS_AFTER=$(grep -c '"event": "message"' "$T/b.jsonl")
[ "$MSGS_AFTER" -eq "$MSGS_BEFORE" ] || fail "C: the server received a message through the failing TLS"
stop_alerting
stop_pids "$SINK_B"
SINK_B=""
echo "PASS"
