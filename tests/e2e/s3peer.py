"""The S3 peers of the end-to-end tests, all on 127.0.0.1:

  s3rver (npm, pinned with the other npm peers in tests/peers/npm and
  installed once by tests/peers/npm_peers.py); the signature-checking
  front (tests/peers/s3front.py, botocore); the fault proxy (tests/peers/faultproxy.py); the AWS credential service
  stand-ins (tests/peers/aws_endpoints.py); and Debian's awscli.

Nothing here needs the network except that one npm install.
"""
import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request

import harness as h
from harness import PEERS, Missing

sys.path.insert(0, PEERS)
import npm_peers  # noqa: E402


def debian_python():
    """The Python that sees Debian's python3-botocore."""
    for py in ("/usr/bin/python3", shutil.which("python3")):
        if py and subprocess.run([py, "-c", "import botocore.auth"], capture_output=True).returncode == 0:
            return py
    raise Missing("python3-botocore")


def awscli():
    for aws in ("/usr/bin/aws", shutil.which("aws")):
        if aws and os.access(aws, os.X_OK):
            return aws
    raise Missing("awscli")


def s3rver_script():
    """The pinned s3rver (tests/peers/npm, installed once by npm_peers)."""
    node = shutil.which("node") or shutil.which("nodejs")
    try:
        modules = npm_peers.ensure()
    except npm_peers.PeerMissing as e:
        raise Missing(str(e))
    return node, os.path.join(modules, "s3rver", "bin", "s3rver.js")


def clean_env(home):
    """The environment with no AWS setting of the machine leaking in, and
    instance metadata off: no test may reach 169.254.169.254."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("CACHECTL_AWS")}
    env.update(HOME=home, AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=os.path.join(home, "no-aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=os.path.join(home, "no-aws-credentials"))
    env.pop("CACHECTL_DEBUG", None)
    return env


class Store:
    """s3rver behind the verifying front; both stopped by close()."""

    def __init__(self, tmp, region="us-east-1"):
        self.tmp = tmp
        self.procs = []
        try:
            self._start(region)
        except BaseException:
            self.close()
            raise

    def _start(self, region):
        tmp = self.tmp
        node, script = s3rver_script()
        debian_python()  # the front needs it: Missing before anything starts
        self.data = os.path.join(tmp, "s3rver-data")
        os.makedirs(self.data)
        # s3rver's continuation tokens are DES-enciphered: Node's OpenSSL 3
        # has DES only in its legacy provider (without it, page 2 is a 500).
        proc, port = h.start_peer([node, "--openssl-legacy-provider", script, "-d", self.data, "-a", "127.0.0.1", "-p", "0", "--silent"], "s3rver")
        self.procs.append(proc)
        self.direct = "http://127.0.0.1:%d" % port
        self.keys_file = os.path.join(tmp, "front-keys.json")
        self.keys = {}
        self.add_key("AKIDCACHECTLTEST", "cachectl/test+secret/0123456789abcdefghijkl")
        self.log = os.path.join(tmp, "front.log")
        self.fronts = {}
        self.endpoint = self.front(region)

    def add_key(self, akid, secret, token=None):
        self.keys[akid] = {"secret": secret, "token": token}
        with open(self.keys_file + ".new", "w") as f:
            json.dump(self.keys, f)
        os.replace(self.keys_file + ".new", self.keys_file)

    def front(self, region="us-east-1", skew=0):
        """A front (one per region and clock) in front of the same s3rver."""
        if (region, skew) not in self.fronts:
            proc, port = h.start_peer([debian_python(), os.path.join(PEERS, "s3front.py"), "--upstream", self.direct,
                                "--credentials", self.keys_file, "--region", region, "--skew", str(skew),
                                "--log", self.log, "--data", self.data], "s3front")
            self.procs.append(proc)
            self.fronts[(region, skew)] = "http://127.0.0.1:%d" % port
        return self.fronts[(region, skew)]

    def fault_proxy(self, rules, log):
        scenario = os.path.join(self.tmp, "scenario-%d.json" % len(self.procs))
        with open(scenario, "w") as f:
            json.dump({"rules": rules}, f)
        proc, port = h.start_peer([debian_python(), os.path.join(PEERS, "faultproxy.py"), "--upstream", self.endpoint,
                            "--scenario", scenario, "--log", log], "faultproxy")
        self.procs.append(proc)
        return proc, "http://127.0.0.1:%d" % port

    def close(self):
        for p in reversed(self.procs):
            h.stop_peer(p)
        self.procs = []
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- direct access to s3rver (no signature), for setting up and judging

    def make_bucket(self, name):
        req = urllib.request.Request("%s/%s" % (self.direct, name), method="PUT", data=b"")
        urllib.request.urlopen(req, timeout=30).read()

    def keys_in(self, bucket):
        """Every key in the bucket (ListObjectsV2, paged)."""
        keys, token = [], None
        while True:
            q = "list-type=2&max-keys=1000" + ("&continuation-token=" + urllib.request.quote(token, safe="")
                                               if token else "")
            body = urllib.request.urlopen("%s/%s?%s" % (self.direct, bucket, q), timeout=30).read().decode()
            keys += [unescape(k) for k in re.findall(r"<Key>(.*?)</Key>", body)]
            m = re.search(r"<NextContinuationToken>(.*?)</NextContinuationToken>", body)
            if "<IsTruncated>true</IsTruncated>" not in body or not m:
                return sorted(keys)
            token = unescape(m.group(1))

    def get(self, bucket, key):
        url = "%s/%s/%s" % (self.direct, bucket, urllib.request.quote(key, safe="/"))
        return urllib.request.urlopen(url, timeout=60).read()

    def put(self, bucket, key, data):
        url = "%s/%s/%s" % (self.direct, bucket, urllib.request.quote(key, safe="/"))
        urllib.request.urlopen(urllib.request.Request(url, data=data, method="PUT"), timeout=60).read()

    def log_entries(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.strip()]


_SHARED = {}


def shared_store():
    """One s3rver and front for the whole run, stopped at exit."""
    if "error" in _SHARED:
        raise _SHARED["error"]
    if "store" not in _SHARED:
        try:
            _SHARED["store"] = Store(tempdir())
        except Missing as e:
            _SHARED["error"] = e
            raise
        atexit.register(_close_shared)
    return _SHARED["store"]


def _close_shared():
    store = _SHARED.pop("store", None)
    if store:
        store.close()


def unescape(s):
    return s.replace("&quot;", '"').replace("&apos;", "'").replace("&lt;", "<").replace("&gt;", ">") \
        .replace("&amp;", "&")


def credential_services(tmp, scenario):
    """Starts the STS / container / IMDS stand-in; returns (proc, base URL, scenario path, log path)."""
    path = os.path.join(tmp, "aws-endpoints.json")
    with open(path, "w") as f:
        json.dump(scenario, f)
    log = os.path.join(tmp, "aws-endpoints.log")
    proc, port = h.start_peer([debian_python(), os.path.join(PEERS, "aws_endpoints.py"), "--scenario", path,
                        "--log", log], "aws_endpoints")
    return proc, "http://127.0.0.1:%d" % port, path, log


def aws_env(home, endpoint, akid, secret, region="us-east-1"):
    env = clean_env(home)
    cfg = os.path.join(home, "awscli-config")
    with open(cfg, "w") as f:
        f.write("[default]\nregion = %s\ns3 =\n    addressing_style = path\n" % region)
    env.update(AWS_CONFIG_FILE=cfg, AWS_ACCESS_KEY_ID=akid, AWS_SECRET_ACCESS_KEY=secret, AWS_PAGER="",
               AWS_DEFAULT_REGION=region)
    return env


def tempdir():
    return h.tempdir("cachectl-s3-")
