"""A token server for the registry tests: the distribution token
authentication protocol, with tokens the registry really verifies (RS256
JWTs signed by a key whose self-signed certificate is the registry's
rootcertbundle, sent in the x5c header).

usage: tokenserver.py --users FILE --cert-out FILE --log FILE
                      [--issuer NAME] [--service NAME] [--expires-in SECONDS]
Writes the certificate, prints its port (127.0.0.1) on stdout, serves.

The users file is JSON:
  {"alice": {"password": "...", "refresh_token": "...",
             "pull": ["prefix", ...], "push": ["prefix", ...]},
   "": {"pull": ["public/"]}}          <- the anonymous user
A repository is granted an action when its name starts with one of the
prefixes listed for it ("" grants every repository).

Endpoints (the realm is http://127.0.0.1:PORT/token):
  GET  /token?service=S&scope=A&scope=B    Basic credentials or anonymous
  POST /token  grant_type=refresh_token&refresh_token=R&service=S&scope=A B
               grant_type=password&username=U&password=P&service=S&scope=...
The log gets one JSON line per request: method, grant, user, requested
and granted scopes, status, and the token issued (so that tests can make
sure no token ever reaches cachectl's output).
"""
import argparse
import base64
import datetime
import http.server
import json
import os
import socketserver
import sys
import threading
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
    def __init__(self, cert_out):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cachectl test token issuer")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder()
                     .subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=2))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        with open(cert_out, "wb") as f:
            f.write(self.cert.public_bytes(serialization.Encoding.PEM))
        self.x5c = base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()

    def jwt(self, claims):
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        sig = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(sig)


def parse_scope(scope):
    """repository:team/app:pull,push -> ("repository", "team/app", ["pull", "push"])"""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    return kind, name, [a for a in actions.split(",") if a]


class State:
    def __init__(self, args):
        with open(args.users) as f:
            self.users = json.load(f)
        self.signer = Signer(args.cert_out)
        self.issuer = args.issuer
        self.service = args.service
        self.expires_in = args.expires_in
        self.log = open(args.log, "a")
        self.lock = threading.Lock()
        self.counter = 0

    def record(self, entry):
        with self.lock:
            self.log.write(json.dumps(entry) + "\n")
            self.log.flush()

    def granted(self, user, scopes):
        rules = self.users.get(user, {})
        access = []
        for scope in scopes:
            kind, name, actions = parse_scope(scope)
            if kind != "repository" or not name:
                continue
            ok = [a for a in actions
                  if any(name.startswith(p) for p in rules.get("pull" if a == "pull" else "push", []))]
            if ok:
                access.append({"type": kind, "name": name, "actions": ok})
        return access

    def issue(self, user, access):
        with self.lock:
            self.counter += 1
            n = self.counter
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": user, "aud": self.service, "exp": now + self.expires_in,
                  "nbf": now - 10, "iat": now, "jti": "t%d-%s" % (n, os.urandom(4).hex()), "access": access}
        return self.signer.jwt(claims)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, doc):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def deny(self, entry, why):
        entry["status"] = 401
        self.server.state.record(entry)
        self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": why}]})

    def grant(self, entry, user, scopes, refresh=None):
        st = self.server.state
        access = st.granted(user, scopes)
        token = st.issue(user, access)
        doc = {"token": token, "access_token": token, "expires_in": st.expires_in,
               "issued_at": datetime.datetime.now(datetime.timezone.utc).isoformat()}
        if refresh:
            doc["refresh_token"] = refresh
        entry.update(status=200, user=user, granted=access, token=token)
        st.record(entry)
        self.reply(200, doc)

    def do_GET(self):
        st = self.server.state
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        scopes = q.get("scope", [])
        entry = {"method": "GET", "grant": "basic" if self.headers.get("Authorization") else "anonymous",
                 "service": (q.get("service") or [""])[0], "scopes": scopes}
        if url.path != "/token":
            return self.reply(404, {"errors": [{"code": "NOT_FOUND", "message": "no such endpoint"}]})
        if entry["service"] != st.service:
            return self.deny(entry, "unknown service")
        user = ""
        auth = self.headers.get("Authorization")
        if auth:
            if not auth.startswith("Basic "):
                return self.deny(entry, "Basic credentials expected")
            name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            rules = st.users.get(name)
            if not name or rules is None or rules.get("password") != password:
                entry["user"] = name
                return self.deny(entry, "wrong user name or password")
            user = name
        self.grant(entry, user, scopes)

    def do_POST(self):
        st = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        get = lambda k: (form.get(k) or [""])[0]  # noqa: E731
        scopes = get("scope").split() if get("scope") else []
        entry = {"method": "POST", "grant": get("grant_type"), "service": get("service"), "scopes": scopes,
                 "client_id": get("client_id")}
        if self.path != "/token":
            return self.reply(404, {"errors": [{"code": "NOT_FOUND", "message": "no such endpoint"}]})
        if entry["service"] != st.service:
            return self.deny(entry, "unknown service")
        if entry["grant"] == "refresh_token":
            r = get("refresh_token")
            for name, rules in st.users.items():
                if name and r and rules.get("refresh_token") == r:
                    return self.grant(entry, name, scopes, refresh=r)
            return self.deny(entry, "unknown refresh token")
        if entry["grant"] == "password":
            name = get("username")
            rules = st.users.get(name)
            if name and rules is not None and rules.get("password") == get("password"):
                return self.grant(entry, name, scopes, refresh=rules.get("refresh_token"))
            return self.deny(entry, "wrong user name or password")
        entry["status"] = 400
        st.record(entry)
        self.reply(400, {"error": "unsupported_grant_type"})


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", required=True)
    ap.add_argument("--cert-out", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--issuer", default="cachectl-test-issuer")
    ap.add_argument("--service", default="cachectl-test-registry")
    ap.add_argument("--expires-in", type=int, default=300)
    args = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.state = State(args)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
