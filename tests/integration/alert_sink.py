"""A webhook receiver for the alert tests: records every POST as one JSON line
({"path", "headers", "body", "signature_ok"}) in LOG, answers 200.

    alert_sink.py PORT LOG [SECRET_FILE]

PORT 0 binds a free port; the port bound is printed on the first line of stdout.
With SECRET_FILE, signature_ok says whether X-Arthamon-Signature is the
HMAC-SHA256 of the body under the secret on the file's first line.
"""
import hashlib
import hmac
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, log = int(sys.argv[1]), sys.argv[2]
secret = None
if len(sys.argv) > 3:
    with open(sys.argv[3], "rb") as f:
        secret = f.readline().rstrip(b"\r\n")


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ok = None
        if secret is not None:
            want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(want, self.headers.get("X-Arthamon-Signature", ""))
        rec = {"path": self.path, "headers": dict(self.headers.items()),
               "body": body.decode("utf-8", "replace"), "signature_ok": ok}
        with open(log, "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", port), Sink)
print(server.server_address[1], flush=True)
server.serve_forever()
