"""A fault-injecting reverse proxy for tests: forwards every request to a
real server (docker-registry, s3rver ...) except where a rule of the
scenario file says to misbehave.

usage: faultproxy.py --upstream http://127.0.0.1:PORT --scenario FILE [--log FILE]
Prints the port it listens on (127.0.0.1) on stdout, then serves.

A scenario is JSON: {"rules": [RULE, ...]}.  A RULE matches requests by
"method" (optional) and "path" (a regular expression searched in the path
with its query), and applies to the matching requests numbered
"from" .. "to" (1-based, inclusive; default every one).  Its "action":
  {"status": 503, "headers": {"Retry-After": "1"}, "body": "..."}  answer this instead
  {"status": 400, "echo_headers": true}  answer with the request's headers as
                          the body (a server that quotes what it was sent)
  {"reset_after": 4096}   forward, but cut the connection after that many
                          bytes of the upstream response body
  {"reset_request_after": 4096}  read that many bytes of the request body,
                          then cut the connection (an upload broken half-way)
  {"drop_request": true}  close the connection without answering
  {"delay": 0.5}          wait, then forward normally
  {"redirect": "http://localhost:PORT"}  answer 307 to that base URL + the path
  {"rewrite_location": "http://localhost:PORT"}  forward, but point the answer's
                          Location header at that base URL (same path and query)
  {"request_headers": {"Authorization": "..."}}  forward with these headers set
                          (a storage host that vouches for its own URLs)
Actions that forward combine: {"delay": 0.2, "request_headers": {...}}.
The log (one JSON line per request: method, path, rule index or null,
status, whether it carried an Authorization header) lets a test assert
what happened.
"""
import argparse
import http.client
import http.server
import json
import re
import socketserver
import sys
import threading
import time
import urllib.parse

HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
       "transfer-encoding", "upgrade"}


class State:
    def __init__(self, upstream, rules, log):
        u = urllib.parse.urlsplit(upstream)
        self.host, self.port = u.hostname, u.port
        self.rules = rules
        self.counts = [0] * len(rules)
        self.lock = threading.Lock()
        self.log = log

    def match(self, method, path):
        with self.lock:
            for i, r in enumerate(self.rules):
                if r.get("method") and r["method"] != method:
                    continue
                if not re.search(r["path"], path):
                    continue
                self.counts[i] += 1
                n = self.counts[i]
                if r.get("from", 1) <= n <= r.get("to", 1 << 60):
                    return i, r["action"]
        return None, None

    def record(self, method, path, rule, status, auth=False):
        if not self.log:
            return
        with self.lock:
            self.log.write(json.dumps({"method": method, "path": path, "rule": rule, "status": status,
                                       "auth": auth}) + "\n")
            self.log.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        st = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        rule, action = st.match(self.command, self.path)
        auth = bool(self.headers.get("Authorization"))
        if action and "reset_request_after" in action:
            self.rfile.read(min(length, action["reset_request_after"]))
            st.record(self.command, self.path, rule, None, auth)
            self.close_connection = True
            self.connection.shutdown(2)
            return
        body = self.rfile.read(length) if length else b""
        if action and action.get("drop_request"):
            st.record(self.command, self.path, rule, None, auth)
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if action and "status" in action:
            data = action.get("body", "").encode()
            if action.get("echo_headers"):
                data = "".join("%s: %s\n" % kv for kv in self.headers.items()).encode()
            # Logged before the answer goes out: a client that has its
            # answer finds the request in the log.
            st.record(self.command, self.path, rule, action["status"], auth)
            self.send_response(action["status"])
            for k, v in action.get("headers", {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            return
        if action and action.get("redirect"):
            st.record(self.command, self.path, rule, 307, auth)
            self.send_response(307)
            self.send_header("Location", action["redirect"] + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if action and action.get("delay"):
            time.sleep(action["delay"])
        conn = http.client.HTTPConnection(st.host, st.port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        for k, v in (action.get("request_headers") or {}).items() if action else ():
            headers = {hk: hv for hk, hv in headers.items() if hk.lower() != k.lower()}
            headers[k] = v
        try:
            conn.request(self.command, self.path, body=body if (body or length) else None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as e:
            msg = ("upstream unreachable: %s" % e).encode()
            st.record(self.command, self.path, rule, 502, auth)
            self.send_response(502)
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        st.record(self.command, self.path, rule, resp.status, auth)
        self.send_response(resp.status)
        base = action.get("rewrite_location") if action else None
        for k, v in resp.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                if base and k.lower() == "location":
                    u = urllib.parse.urlsplit(v)
                    v = base + urllib.parse.urlunsplit(("", "", u.path, u.query, u.fragment))
                self.send_header(k, v)
        # A HEAD answer has no body but tells the length of the GET's.
        length_out = resp.getheader("Content-Length", "0") if self.command == "HEAD" else str(len(data))
        self.send_header("Content-Length", length_out)
        self.end_headers()
        cut = action.get("reset_after") if action else None
        if self.command != "HEAD":
            if cut is not None and cut < len(data):
                self.wfile.write(data[:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
            else:
                self.wfile.write(data)
        conn.close()

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--log")
    args = ap.parse_args()
    with open(args.scenario) as f:
        rules = json.load(f)["rules"]
    log = open(args.log, "a") if args.log else None
    srv = Server(("127.0.0.1", 0), Handler)
    srv.state = State(args.upstream, rules, log)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
