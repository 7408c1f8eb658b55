"""A scripted HTTP server for the HTTP layer's unit test: each path plays one
behaviour of real servers (flaky, throttling, cutting connections, ignoring
Range, redirecting).  Prints its port on stdout, serves until killed."""
import hashlib
import http.server
import socketserver
import sys
import threading

BIG = bytes((i * 7 + i // 251) & 0xFF for i in range(8 << 20))
counts = {}
lock = threading.Lock()


def seen(key):
    with lock:
        counts[key] = counts.get(key, 0) + 1
        return counts[key]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def big(self, key, honour_range, cut):
        start = 0
        rng = self.headers.get("Range")
        n = seen(key)
        if rng and honour_range:
            start = int(rng.split("=")[1].rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(BIG) - 1, len(BIG)))
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(BIG) - start))
        self.end_headers()
        body = BIG[start:]
        if cut and n == 1:
            self.wfile.write(body[: 3 << 20])
            self.wfile.flush()
            self.connection.shutdown(2)
            self.close_connection = True
            return
        self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        p = self.path
        if p == "/ok":
            self.reply(200, b"hello")
        elif p.startswith("/flaky/"):
            self.reply(503, b"busy") if seen(p) <= 2 else self.reply(200, b"recovered")
        elif p.startswith("/throttle/"):
            if seen(p) == 1:
                self.reply(429, b"slow down", {"Retry-After": "1"})
            else:
                self.reply(200, b"after the wait")
        elif p.startswith("/throttle-long/"):
            # throttled four times (Retry-After: 0), then served
            if seen(p) <= 4:
                self.reply(429, b"slow down", {"Retry-After": "0"})
            else:
                self.reply(200, b"after a long wait")
        elif p == "/always503":
            self.reply(503, b'{"errors":[{"code":"UNAVAILABLE"}]}')
        elif p == "/error":
            self.reply(404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}')
        elif p == "/big":
            self.big(p, True, False)
        elif p.startswith("/drop/"):
            self.big(p, True, True)
        elif p.startswith("/norange/"):
            self.big(p, False, True)
        elif p == "/redirect-away":
            port = self.server.server_address[1]
            self.reply(302, b"", {"Location": "http://127.0.0.2:%d/echo-auth" % port})
        elif p == "/redirect-here":
            self.reply(302, b"", {"Location": "/echo-auth"})
        elif p == "/echo-auth":
            self.reply(200, ("auth=" + self.headers.get("Authorization", "none")).encode())
        else:
            self.reply(404, b"no such path")

    def do_PUT(self):
        n = int(self.headers.get("Content-Length", "0"))
        if self.path.startswith("/drop-put/") and seen(self.path) == 1:
            # The connection dies mid-body without an answer (a reset upload).
            self.rfile.read(min(n, 1 << 20))
            self.connection.shutdown(2)
            self.close_connection = True
            return
        data = self.rfile.read(n)
        if self.path.startswith("/flaky-put/") and seen(self.path) == 1:
            self.reply(500, b"try again")
            return
        if self.path.startswith("/hangup-put/") and seen(self.path) == 1:
            # Reads the request, then closes the (kept-alive) connection
            # without a word, as servers do with idle connections.
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.reply(201, ("sha256:%s %d" % (hashlib.sha256(data).hexdigest(), len(data))).encode())

    do_POST = do_PUT


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


if __name__ == "__main__":
    srv = Server(("0.0.0.0", 0), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()
