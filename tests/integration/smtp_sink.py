"""An SMTP server for the e-mail alert tests (Debian's python3-aiosmtpd): records every
message it accepts as one JSON line in LOG and answers 250.

    smtp_sink.py PORT LOG [--tls CERT KEY] [--auth USER PASSWORD_FILE]

PORT 0 binds a free port on 127.0.0.1; the port bound is printed on the first line of
stdout. With --tls, STARTTLS is offered with CERT/KEY and required before MAIL. With
--auth, AUTH (PLAIN or LOGIN, only after STARTTLS when --tls is given) is required
before MAIL, and only USER with the password on the first line of PASSWORD_FILE is
let in. Each line of LOG is one of
    {"event": "message", "peer", "helo", "mail_from", "rcpt_tos", "tls", "tls_version",
     "auth_user", "data"}
    {"event": "auth_failed", "user", "mechanism", "tls"}
(never a password). SIGTERM or SIGINT stops it with exit status 0.
"""
import argparse
import asyncio
import json
import signal
import ssl
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def record(log, rec):
    with open(log, "a") as f:
        f.write(json.dumps(rec) + "\n")


def tls_version(session):
    obj = session.ssl.get("ssl_object") if isinstance(session.ssl, dict) else None
    return obj.version() if obj else None


class Sink:
    def __init__(self, log):
        self.log = log

    async def handle_DATA(self, server, session, envelope):
        user = None
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            user = session.auth_data.login.decode("utf-8", "replace")
        content = envelope.content
        if isinstance(content, bytes):
            content = content.decode("utf-8", "replace")
        record(self.log, {
            "event": "message", "peer": session.peer[0], "helo": session.host_name,
            "mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None, "tls_version": tls_version(session),
            "auth_user": user, "data": content})
        return "250 OK"


def main():
    # aiosmtpd 1.4 warns about its own use of Session.login_data on every AUTH
    warnings.filterwarnings("ignore", message="Session.login_data")
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("log")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--auth", nargs=2, metavar=("USER", "PASSWORD_FILE"))
    a = ap.parse_args()

    kw = {"hostname": "sink.test"}
    if a.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*a.tls)
        kw.update(tls_context=ctx, require_starttls=True)
    if a.auth:
        user = a.auth[0].encode()
        with open(a.auth[1], "rb") as f:
            password = f.readline().rstrip(b"\r\n")

        def authenticator(server, session, envelope, mechanism, auth_data):
            good = (isinstance(auth_data, LoginPassword) and auth_data.login == user
                    and auth_data.password == password)
            if not good:
                login = getattr(auth_data, "login", b"") or b""
                record(a.log, {"event": "auth_failed", "user": login.decode("utf-8", "replace"),
                               "mechanism": mechanism, "tls": session.ssl is not None})
            # handled=False: aiosmtpd answers 535 on a failure (handled=True sends nothing)
            return AuthResult(success=good, handled=False, auth_data=auth_data if good else None)

        kw.update(authenticator=authenticator, auth_required=True, auth_require_tls=bool(a.tls))

    async def serve():
        loop = asyncio.get_running_loop()
        handler = Sink(a.log)
        server = await loop.create_server(lambda: SMTP(handler, loop=loop, **kw), "127.0.0.1", a.port)
        print(server.sockets[0].getsockname()[1], flush=True)
        stop = asyncio.Event()
        for s in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(s, stop.set)
        await stop.wait()
        server.close()
        await server.wait_closed()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
