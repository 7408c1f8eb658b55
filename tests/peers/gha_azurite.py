"""The Azure side of the gha test server (tests/peers/gha_server.py): a real
azurite in a child process, the SAS URLs the service hands out for it, and
an optional front for upload URLs that counts the block PUTs of each blob
in flight at once (so a test can prove blocks go up in parallel).

Standard library only, like the server that imports it."""
import base64
import hashlib
import hmac
import http.client
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

ACCOUNT = "devstoreaccount1"
CONTAINER = "actions-cache"
# Headers of an azurite answer that the front does not relay as they are.
HOP_HEADERS = ("connection", "content-length", "transfer-encoding", "keep-alive", "server", "date")


class Fail(Exception):
    """An error answer: status, Twirp code and message."""

    def __init__(self, status, code, msg, headers=None):
        super().__init__(msg)
        self.status, self.code, self.msg, self.headers = status, code, msg, headers or {}


# ---------------------------------------------------------------- azurite

class Azurite:
    """A real Azure Blob emulator in a child process, and the SAS URLs for it."""

    def __init__(self, node_modules, blob_host):
        main = os.path.join(node_modules, "azurite", "dist", "src", "blob", "main.js")
        consts = os.path.join(node_modules, "azurite", "dist", "src", "blob", "utils", "constants.js")
        # The published development key, read from azurite's own source.
        m = re.search(r'EMULATOR_ACCOUNT_KEY_STR = "([^"]+)"', open(consts).read())
        self.key = base64.b64decode(m.group(1))
        self.dir = tempfile.mkdtemp(prefix="azurite-")
        for _ in range(5):
            port = free_port()
            self.proc = subprocess.Popen(
                ["node", main, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", self.dir,
                 "--skipApiVersionCheck", "--disableTelemetry", "--silent"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
            line, out = "", []
            while "successfully listens" not in line:
                line = self.proc.stdout.readline()
                if not line:
                    break
                out.append(line)
            if "successfully listens" in line:
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                self.port = port
                break
            self.proc.wait()
        else:
            raise RuntimeError("azurite did not start: %s" % "".join(out)[-2000:])
        self.host = blob_host or "127.0.0.1"
        self.request("PUT", "?restype=container", container_only=True)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def sign(self, text):
        return base64.b64encode(hmac.new(self.key, text.encode(), hashlib.sha256).digest()).decode()

    def account_sas(self):
        se = iso(time.time() + 3600)
        sts = "\n".join([ACCOUNT, "rwdlacup", "b", "sco", "", se, "", "https,http", "2019-02-02", ""])
        return urllib.parse.urlencode({"sv": "2019-02-02", "ss": "b", "srt": "sco", "sp": "rwdlacup",
                                       "se": se, "spr": "https,http", "sig": self.sign(sts)})

    def blob_url(self, blob, perms, ttl, front_port=None):
        """A service SAS URL for one blob (signed version 2020-12-06); with
        front_port, on the gha server's port (the upload front) instead."""
        se = iso(time.time() + ttl)
        canonical = "/blob/%s/%s/%s" % (ACCOUNT, CONTAINER, blob)
        sts = "\n".join([perms, "", se, canonical, "", "", "https,http", "2020-12-06", "b",
                         "", "", "", "", "", "", ""])
        q = urllib.parse.urlencode({"sv": "2020-12-06", "spr": "https,http", "se": se, "sr": "b",
                                    "sp": perms, "sig": self.sign(sts)})
        if self.host == "127.0.0.1" or front_port:
            port = front_port or self.port
            return "http://127.0.0.1:%d/%s/%s/%s?%s" % (port, ACCOUNT, CONTAINER, blob, q)
        return "http://%s:%d/%s/%s?%s" % (self.host, self.port, CONTAINER, blob, q)

    def request(self, method, suffix, blob=None, body=None, headers=None, container_only=False):
        path = "/%s/%s" % (ACCOUNT, CONTAINER) + ("" if container_only else "/" + blob)
        sep = "&" if "?" in suffix else "?"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path + suffix + sep + self.account_sas(), body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            conn.close()

    def size(self, blob):
        status, headers, _ = self.request("HEAD", "", blob)
        if status == 404:
            return None
        if status != 200:
            raise Fail(500, "internal", "azurite answered %d for blob %s" % (status, blob))
        return int(headers.get("content-length", "-1"))

    def put(self, blob, data):
        status, _, body = self.request("PUT", "", blob, data, {"x-ms-blob-type": "BlockBlob"})
        if status != 201:
            raise Fail(500, "internal", "azurite answered %d: %s" % (status, body[:200]))



def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- the upload front

class BlockWatch:
    """Put Block requests per blob: how many, and the most in flight at once.
    With a delay, each block is held that long before it is forwarded, so
    requests sent in parallel overlap whatever the machine's speed."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.on = False
            self.delay = 0.0
            self.in_flight, self.most, self.puts = {}, {}, {}

    def enter(self, blob):
        with self.lock:
            n = self.in_flight.get(blob, 0) + 1
            self.in_flight[blob] = n
            self.most[blob] = max(self.most.get(blob, 0), n)
            self.puts[blob] = self.puts.get(blob, 0) + 1
            return self.delay

    def leave(self, blob):
        with self.lock:
            self.in_flight[blob] -= 1

    def report(self, key_of_blob):
        with self.lock:
            return {key_of_blob(b): {"puts": n, "most_in_flight": self.most[b]} for b, n in self.puts.items()}


def front_path(path):
    """The blob name of a request path the front serves, else None."""
    prefix = "/%s/%s/" % (ACCOUNT, CONTAINER)
    return path[len(prefix):] if path.startswith(prefix) else None


def forward(az, watch, method, path_query, headers, body):
    """One request sent on to azurite as it came: (status, headers, body)."""
    u = urllib.parse.urlsplit(path_query)
    blob = front_path(u.path)
    is_block = method == "PUT" and "comp=block" in u.query.split("&")
    delay = watch.enter(blob) if is_block else 0
    try:
        if delay:
            time.sleep(delay)
        conn = http.client.HTTPConnection("127.0.0.1", az.port, timeout=120)
        try:
            fwd = {k: v for k, v in headers.items() if k.lower() not in HOP_HEADERS + ("host",)}
            conn.request(method, path_query, body=body, headers=fwd)
            r = conn.getresponse()
            data = r.read()
            return r.status, [(k, v) for k, v in r.getheaders() if k.lower() not in HOP_HEADERS], data
        finally:
            conn.close()
    finally:
        if is_block:
            watch.leave(blob)
