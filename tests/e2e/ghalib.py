"""Helpers of the gha tests: the project's GitHub Actions cache test server
(tests/peers/gha_server.py) in a child process, runtime tokens, and its
control endpoints."""
import base64
import json
import os
import subprocess
import sys
import time
import urllib.request

import harness as h
from harness import PEERS

sys.path.insert(0, PEERS)
import npm_peers  # noqa: E402

VERSION = "693bb7016429d80366022f036f84856888c9f13e00145f5f6f4dce303a38d6f2"
MAIN = "refs/heads/main"
MAIN_H8 = "f921bd05"  # first 8 hex of sha256("refs/heads/main")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(scopes, exp=4102444800, nbf=1700000000):
    """A runtime token like the runner's: a JWT whose ac claim lists scopes."""
    ac = json.dumps([{"Scope": s, "Permission": p} for s, p in scopes])
    claims = {"ac": ac, "nbf": nbf, "iat": nbf, "exp": exp, "iss": "cachectl-tests", "aud": "vstoken"}
    return ".".join([b64url(b'{"alg":"HS256","typ":"JWT"}'), b64url(json.dumps(claims).encode()),
                     b64url(b"not-a-real-signature")])


MAIN_TOKEN = token([(MAIN, 3)])


def node_modules():
    """The pinned npm peers, or None when they cannot be had (and may be skipped)."""
    try:
        return npm_peers.ensure()
    except npm_peers.PeerMissing as e:
        if h.REQUIRE_PEERS:
            raise
        print("skipping what needs node: %s" % e, file=sys.stderr)
        return None


class Server:
    def __init__(self, azurite_modules=None, entry_limit=None, ghtoken="ghp-test-token", blob_host=None):
        args = [sys.executable, os.path.join(PEERS, "gha_server.py"), "--watch-stdin", "--ghtoken", ghtoken]
        if azurite_modules:
            args += ["--azurite", azurite_modules]
        if entry_limit:
            args += ["--entry-limit", entry_limit]
        if blob_host:
            args += ["--blob-host", blob_host]
        # --watch-stdin: the server ends when this process does, even killed
        self.proc, self.port = h.start_peer(args, "the gha test server", stdin=subprocess.PIPE,
                                            stderr=None)
        self.url = "http://127.0.0.1:%d" % self.port
        self.ghtoken = ghtoken
        self.v2 = bool(azurite_modules)

    def stop(self):
        h.stop_peer(self.proc, timeout=15)

    def control(self, what, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + "/_control/" + what, data=data,
                                     method="POST" if data is not None else "GET")
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    def entries(self, api=None):
        return [e for e in self.control("entries") if api is None or e["api"] == api]

    def committed(self, api=None):
        return {e["key"]: e for e in self.entries(api) if e["committed"]}

    def log(self):
        return self.control("log")

    def reset(self):
        self.control("reset", {})

    def raw(self, method, path, body=None, headers=None, tok=MAIN_TOKEN):
        """A service call as a client would make it (for setting up races)."""
        h = {"Authorization": "Bearer " + tok}
        h.update(headers or {})
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()


def max_in_window(times, window):
    """The most timestamps found in any window of that many seconds."""
    times = sorted(times)
    best, start = 0, 0
    for end in range(len(times)):
        while times[end] - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def wait_for(pred, timeout=30, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return False
