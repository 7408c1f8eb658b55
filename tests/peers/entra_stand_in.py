"""A stand-in for Microsoft Entra ID in front of azurite, for the azblob
credential tests: the token endpoint of the client-credentials grant, and a
storage front that accepts only the bearer tokens it issued.

usage: entra_stand_in.py --scenario FILE --upstream http://127.0.0.1:PORT
                         --account NAME --key BASE64 [--log FILE]
Prints its port (127.0.0.1) on stdout, then serves.

The scenario is JSON: {"tenant": T, "client_id": C, "client_secret": S,
"assertion": JWT, "expires_in": SECONDS, "storage_delay": SECONDS}
(the delay slows every storage request down, so a run outlives a token).

  POST /authority/<tenant>/oauth2/v2.0/token     (form-encoded, as Entra ID)
      grant_type=client_credentials, client_id=C,
      scope=https://storage.azure.com/.default, and either client_secret=S or
      client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
      with client_assertion=JWT; answers {"token_type": "Bearer",
      "expires_in": N, "access_token": <fresh random token>}, else 400/401
      with {"error": ..., "error_description": "AADSTS..."}.
  anything else: the storage account.  "Authorization: Bearer <issued,
      unexpired token>" is required (401 InvalidAuthenticationInfo
      otherwise); the request goes on to azurite with the Authorization
      removed and an account SAS of its own appended, as Azure Storage would
      accept the token itself.
The log gets one JSON line per request: what it was, status, the token
issued or presented (so tests can make sure no token reaches cachectl's
output).
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import http.server
import json
import secrets
import socketserver
import sys
import threading
import time
import urllib.parse

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailers", "upgrade", "authorization",
       "content-length"}
SCOPE = "https://storage.azure.com/.default"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class State:
    def __init__(self, args):
        with open(args.scenario) as f:
            self.scenario = json.load(f)
        u = urllib.parse.urlsplit(args.upstream)
        self.host, self.port = u.hostname, u.port
        self.account = args.account
        self.key = base64.b64decode(args.key)
        self.tokens = {}
        self.lock = threading.Lock()
        self.log = open(args.log, "a") if args.log else None

    def record(self, entry):
        if self.log:
            with self.lock:
                self.log.write(json.dumps(entry) + "\n")
                self.log.flush()

    def sas(self):
        se = datetime.datetime.fromtimestamp(time.time() + 3600, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        sts = "\n".join([self.account, "rwdlacup", "b", "sco", "", se, "", "https,http", "2019-02-02", ""])
        sig = base64.b64encode(hmac.new(self.key, sts.encode(), hashlib.sha256).digest()).decode()
        return urllib.parse.urlencode({"sv": "2019-02-02", "ss": "b", "srt": "sco", "sp": "rwdlacup", "se": se,
                                       "spr": "https,http", "sig": sig})


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=None):
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def token(self, body):
        st = self.server.state
        sc = st.scenario
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode(), keep_blank_values=True).items()}
        parts = self.path.split("/")
        entry = {"what": "token", "tenant": parts[2] if len(parts) > 2 else None,
                 "grant_type": form.get("grant_type"), "client_id": form.get("client_id"),
                 "scope": form.get("scope"),
                 "kind": "secret" if "client_secret" in form else "assertion" if "client_assertion" in form else None}
        err = None
        if entry["tenant"] != sc["tenant"]:
            err = (400, "invalid_request", "AADSTS90002: Tenant not found.")
        elif form.get("grant_type") != "client_credentials" or form.get("scope") != SCOPE:
            err = (400, "invalid_request", "AADSTS900144: bad grant_type or scope.")
        elif form.get("client_id") != sc["client_id"]:
            err = (400, "unauthorized_client", "AADSTS700016: Application not found.")
        elif entry["kind"] == "secret" and form["client_secret"] != sc.get("client_secret"):
            err = (401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        elif entry["kind"] == "assertion" and (form.get("client_assertion_type") != JWT_BEARER
                                               or form["client_assertion"] != sc.get("assertion")):
            err = (400, "invalid_client", "AADSTS700024: Client assertion is not within its valid time range.")
        elif entry["kind"] is None:
            err = (400, "invalid_request", "AADSTS7000216: client_assertion or client_secret is required.")
        if err:
            entry["status"] = err[0]
            st.record(entry)
            return self.answer(err[0], {"error": err[1], "error_description": err[2]})
        tok = "eyJ0eXAi." + secrets.token_urlsafe(24)
        expires_in = sc.get("expires_in", 3599)
        with st.lock:
            st.tokens[tok] = time.time() + expires_in
        entry.update(status=200, token=tok)
        st.record(entry)
        self.answer(200, {"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in,
                          "access_token": tok}, {"Content-Type": "application/json"})

    def storage(self, body):
        st = self.server.state
        auth = self.headers.get("Authorization", "")
        tok = auth[7:] if auth.startswith("Bearer ") else None
        with st.lock:
            valid = tok is not None and st.tokens.get(tok, 0) > time.time()
        entry = {"what": "storage", "method": self.command, "path": self.path, "token": tok}
        if not valid:
            entry["status"] = 401
            st.record(entry)
            return self.answer(401, b"", {"x-ms-error-code": "InvalidAuthenticationInfo"})
        time.sleep(st.scenario.get("storage_delay", 0))
        sep = "&" if "?" in self.path else "?"
        conn = http.client.HTTPConnection(st.host, st.port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        conn.request(self.command, self.path + sep + st.sas(), body=body if body else None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        entry["status"] = resp.status
        st.record(entry)
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        n = resp.getheader("Content-Length", "0") if self.command == "HEAD" else str(len(data))
        self.send_header("Content-Length", n)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.command == "POST" and self.path.startswith("/authority/"):
            return self.token(body)
        return self.storage(body)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--account", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log")
    args = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.state = State(args)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
