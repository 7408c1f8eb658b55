"""The Azure Blob peers of the azblob end-to-end tests, all on 127.0.0.1:

  azurite (npm, pinned with the other npm peers in tests/peers/npm and
  installed once by tests/peers/npm_peers.py), which checks Shared Key
  signatures and SAS tokens itself; Azure's own @azure/storage-blob as the
  second reader (tests/peers/azure_blob_reader.mjs); the Entra ID stand-in
  (tests/peers/entra_stand_in.py); the fault proxy (tests/peers/faultproxy.py).

The tests' own direct access (setting up, judging) goes through account SAS
tokens made here, which azurite verifies like any other.
"""
import atexit
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(os.path.dirname(HERE), "peers")
sys.path.insert(0, PEERS)
sys.path.insert(0, HERE)
import harness as h  # noqa: E402
import npm_peers  # noqa: E402

ACCOUNT = "devstoreaccount1"
Missing = h.Missing


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Azurite:
    """azurite's blob service in a child process; stopped by close()."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []
        try:
            self.modules = npm_peers.ensure()
        except npm_peers.PeerMissing as e:
            raise Missing(str(e))
        if not (shutil.which("node") or shutil.which("nodejs")):
            raise Missing("node is not installed")
        self.node = shutil.which("node") or shutil.which("nodejs")
        blob = os.path.join(self.modules, "azurite", "dist", "src", "blob")
        consts = open(os.path.join(blob, "utils", "constants.js")).read()
        # The published development key, read from azurite's own source.
        self.key_text = re.search(r'EMULATOR_ACCOUNT_KEY_STR = "([^"]+)"', consts).group(1)
        self.key = base64.b64decode(self.key_text)
        for _ in range(5):
            port = h.free_port()
            proc = subprocess.Popen(
                [self.node, os.path.join(blob, "main.js"), "--blobHost", "127.0.0.1", "--blobPort", str(port),
                 "--location", os.path.join(tmp, "azurite"), "--skipApiVersionCheck", "--disableTelemetry"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                start_new_session=True)
            out = []
            while True:
                line = proc.stdout.readline()
                if not line or "successfully listens" in line:
                    break
                out.append(line)
            if line:
                import threading
                threading.Thread(target=proc.stdout.read, daemon=True).start()
                self.procs.append(proc)
                self.port = port
                break
            h.stop_peer(proc)
        else:
            raise RuntimeError("azurite did not start: %s" % "".join(out)[-2000:])
        self.url = "http://127.0.0.1:%d/%s" % (self.port, ACCOUNT)

    def close(self):
        for p in reversed(self.procs):
            h.stop_peer(p)
        self.procs = []
        shutil.rmtree(self.tmp, ignore_errors=True)

    def connection_string(self, endpoint=None, key=True, sas=None):
        parts = ["DefaultEndpointsProtocol=http", "AccountName=" + ACCOUNT]
        if key:
            parts.append("AccountKey=" + self.key_text)
        if sas:
            parts.append("SharedAccessSignature=" + sas)
        parts.append("BlobEndpoint=" + (endpoint or self.url))
        return ";".join(parts) + ";"

    def sas(self, ttl=3600, perms="rwdlacup", start=None):
        """An account SAS (version 2019-02-02) for the blob service."""
        se = iso(time.time() + ttl)
        st = iso(start) if start else ""
        sts = "\n".join([ACCOUNT, perms, "b", "sco", st, se, "", "https,http", "2019-02-02", ""])
        sig = base64.b64encode(hmac.new(self.key, sts.encode(), hashlib.sha256).digest()).decode()
        q = {"sv": "2019-02-02", "ss": "b", "srt": "sco", "sp": perms, "se": se, "spr": "https,http", "sig": sig}
        if st:
            q["st"] = st
        return urllib.parse.urlencode(q)

    # --- direct access, through an account SAS

    def request(self, method, container, blob=None, query="", body=None, headers=None, sas=None):
        path = "/%s/%s" % (ACCOUNT, container)
        if blob is not None:
            path += "/" + urllib.parse.quote(blob, safe="")
        q = "&".join(x for x in (query, sas if sas is not None else self.sas()) if x)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path + "?" + q, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def make_container(self, name):
        status, _, body = self.request("PUT", name, query="restype=container")
        assert status == 201, (status, body)

    def names(self, container):
        """Every blob name in the container (List Blobs, paged)."""
        out, marker = [], ""
        while True:
            q = "restype=container&comp=list&maxresults=5000" + (
                "&marker=" + urllib.parse.quote(marker, safe="") if marker else "")
            status, _, body = self.request("GET", container, query=q)
            if status == 404:
                return []
            assert status == 200, (status, body)
            text = body.decode()
            out += [unescape(n) for n in re.findall(r"<Name>(.*?)</Name>", text)]
            m = re.search(r"<NextMarker>(.+?)</NextMarker>", text)
            if not m:
                return sorted(out)
            marker = unescape(m.group(1))

    def get(self, container, name):
        status, _, body = self.request("GET", container, name)
        assert status == 200, (status, name, body[:300])
        return body

    def put(self, container, name, data):
        status, _, body = self.request("PUT", container, name, body=data, headers={"x-ms-blob-type": "BlockBlob"})
        assert status == 201, (status, body)

    def block_list(self, container, name):
        status, _, body = self.request("GET", container, name, query="comp=blocklist&blocklisttype=committed")
        assert status == 200, (status, body)
        return re.findall(r"<Block><Name>(.*?)</Name><Size>(\d+)</Size></Block>", body.decode())

    # --- other peers

    def sdk_read(self, container, out_dir, connection_string=None):
        """@azure/storage-blob lists and downloads the container: {name: size}."""
        env = dict(os.environ, NODE_MODULES=self.modules,
                   AZURE_STORAGE_CONNECTION_STRING=connection_string or self.connection_string())
        p = subprocess.run([self.node, os.path.join(PEERS, "azure_blob_reader.mjs"), "read", container, out_dir],
                           capture_output=True, text=True, env=env, timeout=180, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise AssertionError("azure_blob_reader: %s" % p.stderr[-2000:])
        return json.loads(p.stdout.strip().splitlines()[-1])["blobs"]

    def fault_proxy(self, rules, log):
        scenario = os.path.join(self.tmp, "scenario-%d.json" % len(self.procs))
        with open(scenario, "w") as f:
            json.dump({"rules": rules}, f)
        proc, port = h.start_peer([sys.executable, os.path.join(PEERS, "faultproxy.py"), "--upstream",
                                   "http://127.0.0.1:%d" % self.port, "--scenario", scenario, "--log", log],
                                  "faultproxy")
        self.procs.append(proc)
        return "http://127.0.0.1:%d/%s" % (port, ACCOUNT)

    def entra_stand_in(self, scenario, log):
        """The token endpoint and bearer-checking storage front: (authority URL, storage URL)."""
        path = os.path.join(self.tmp, "entra-%d.json" % len(self.procs))
        with open(path, "w") as f:
            json.dump(scenario, f)
        proc, port = h.start_peer([sys.executable, os.path.join(PEERS, "entra_stand_in.py"), "--scenario", path,
                                   "--upstream", "http://127.0.0.1:%d" % self.port, "--account", ACCOUNT,
                                   "--key", self.key_text, "--log", log], "entra_stand_in")
        self.procs.append(proc)
        base = "http://127.0.0.1:%d" % port
        return base + "/authority", base + "/" + ACCOUNT


def unescape(s):
    return s.replace("&quot;", '"').replace("&apos;", "'").replace("&lt;", "<").replace("&gt;", ">") \
        .replace("&amp;", "&")


_SHARED = {}


def shared():
    """One azurite for the whole run, stopped at exit."""
    if "error" in _SHARED:
        raise _SHARED["error"]
    if "azurite" not in _SHARED:
        try:
            _SHARED["azurite"] = Azurite(tempfile.mkdtemp(prefix="cachectl-azblob-"))
        except Missing as e:
            _SHARED["error"] = e
            raise
        atexit.register(_close)
    return _SHARED["azurite"]


def _close():
    az = _SHARED.pop("azurite", None)
    if az:
        az.close()
