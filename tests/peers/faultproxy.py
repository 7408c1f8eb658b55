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
  {"reset_after": 4096}   forward, but cut the connection after that many
                          bytes of the upstream response body
  {"reset_request_after": 4096}  read that many bytes of the request body,
                          then cut the connection (an upload broken mid-body)
  {"drop_request": true}  close the connection without answering
  {"delay": 0.5}          wait, then forward normally
The log (one JSON line per request: method, path, rule index or null,
status) lets a test assert what happened.
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

    def record(self, method, path, rule, status):
        if not self.log:
            return
        with self.lock:
            self.log.write(json.dumps({"method": method, "path": path, "rule": rule, "status": status}) + "\n")
            self.log.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        st = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        rule, action = st.match(self.command, self.path)
        if action and action.get("reset_request_after") is not None:
            self.rfile.read(min(length, action["reset_request_after"]))
            st.record(self.command, self.path, rule, None)
            self.close_connection = True
            self.connection.shutdown(2)
            return
        body = self.rfile.read(length) if length else b""
        if action and action.get("drop_request"):
            st.record(self.command, self.path, rule, None)
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if action and "status" in action:
            data = action.get("body", "").encode()
            st.record(self.command, self.path, rule, action["status"])
            self.send_response(action["status"])
            for k, v in action.get("headers", {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            return
        if action and action.get("delay"):
            time.sleep(action["delay"])
        conn = http.client.HTTPConnection(st.host, st.port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        try:
            conn.request(self.command, self.path, body=body if (body or length) else None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as e:
            msg = ("upstream unreachable: %s" % e).encode()
            st.record(self.command, self.path, rule, 502)
            self.send_response(502)
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        conn.close()
        # Logged before answering: the client may read the log next.
        st.record(self.command, self.path, rule, resp.status)
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            # A HEAD answer's Content-Length is the size of what GET would send.
            if k.lower() not in HOP and (k.lower() != "content-length" or self.command == "HEAD"):
                self.send_header(k, v)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
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
