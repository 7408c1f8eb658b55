"""What every s3 end-to-end test shares: the peers (one s3rver and its
verifying front per run, see s3peer.py), a bucket per test, the binary run
with a clean AWS environment, and checks that read the bucket directly."""
import hashlib
import json
import os
import shutil
import subprocess
import unittest
import uuid

import s3peer

STORE = None
CACHECTL = os.environ["CACHECTL"]
FIXTURES = os.path.join(os.environ["FIXTURES"], "buildkit-v0.23.2")
S3_MAX = os.path.join(FIXTURES, "s3-max", "export", "objects")
AKID = "AKIDCACHECTLTEST"
SECRET = "cachectl/test+secret/0123456789abcdefghijkl"


def fixture(name):
    return os.path.join(FIXTURES, name, "export")


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Base(unittest.TestCase):
    def setUp(self):
        global STORE
        try:
            STORE = s3peer.shared_store()
        except s3peer.Missing as e:
            if s3peer.REQUIRE_PEERS:
                self.fail("%s is required (tests/install-deps.sh installs it)" % e)
            self.skipTest("%s is not installed" % e)
        self.store = STORE
        self.tmp = s3peer.tempdir()
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)
        self.env = s3peer.clean_env(self.home)
        self.bucket = "t-" + uuid.uuid4().hex[:12]
        STORE.make_bucket(self.bucket)
        self.log_start = len(STORE.log_entries())

    def tearDown(self):
        subprocess.run(["chmod", "-R", "u+w", self.tmp])
        shutil.rmtree(self.tmp, ignore_errors=True)

    def dir(self, name):
        return os.path.join(self.tmp, name)

    def run_cachectl(self, *args, ok=True, env=None):
        p = subprocess.run([CACHECTL, *args], capture_output=True, text=True, errors="replace", timeout=300,
                           stdin=subprocess.DEVNULL, env=env or self.env)
        if ok and p.returncode != 0:
            raise AssertionError("cachectl %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr))
        for sign in ("Sanitizer", "runtime error", "Segmentation"):
            self.assertNotIn(sign, p.stderr)
        for secret in (SECRET,) + tuple(getattr(self, "secrets", ())):
            self.assertNotIn(secret, p.stdout + p.stderr, "a secret was printed")
        return p

    def s3(self, endpoint=None, creds=True, **opts):
        o = {"bucket": self.bucket, "region": "us-east-1", "endpoint_url": endpoint or STORE.endpoint,
             "use_path_style": "true"}
        if creds:
            o.update(access_key_id=AKID, secret_access_key=SECRET)
        o.update(opts)
        return "type=s3," + ",".join('"%s=%s"' % (k, v) if (";" in v or "," in v) else "%s=%s" % (k, v)
                                     for k, v in o.items())

    def export(self, src, dest_spec, *extra, ok=True, env=None):
        return self.run_cachectl("export", "--progress", "plain", "--from", "type=local,src=" + src,
                                 "--export-cache", dest_spec, *extra, ok=ok, env=env)

    def import_(self, src_spec, dest, ok=True, env=None, *more):
        args = ["import", "--progress", "plain", "--import-cache", src_spec]
        for m in more:
            args += ["--import-cache", m]
        return self.run_cachectl(*(args + ["--dest", dest]), ok=ok, env=env)

    def keys(self, bucket=None):
        return STORE.keys_in(bucket or self.bucket)

    def new_log(self):
        """Front log lines since the test (or the last call) began."""
        entries = STORE.log_entries()
        out = entries[self.log_start:]
        self.log_start = len(entries)
        return [e for e in out if self.bucket in e["path"]]

    def assert_complete(self, prefix="", blobs_prefix="blobs/", manifests_prefix="manifests/", name="buildkit",
                        bucket=None):
        """The manifest names only blobs that are in the bucket, each with
        the bytes its digest and size say."""
        bucket = bucket or self.bucket
        doc = json.loads(STORE.get(bucket, prefix + manifests_prefix + name))
        keys = set(self.keys(bucket))
        for layer in doc.get("layers", []):
            key = prefix + blobs_prefix + layer["blob"]
            self.assertIn(key, keys)
            data = STORE.get(bucket, key)
            self.assertEqual(sha256(data), layer["blob"])
            self.assertEqual(len(data), layer["annotations"]["size"])
        return doc


def meaning_of_manifest(doc):
    """record digest -> (inputs by linked digest, result chains by diffID), as cachelib's."""
    nodes = doc.get("layers", [])

    def chain(i):
        out = []
        while i != -1:
            out.append(nodes[i]["annotations"]["diffID"])
            i = nodes[i].get("parent", 0)
        return tuple(reversed(out))

    recs = doc.get("records", [])
    out = {}
    for r in recs:
        inputs = frozenset((slot, i.get("selector", ""), recs[i["link"]]["digest"])
                           for slot, alts in enumerate(r.get("inputs", [])) for i in alts)
        results = frozenset(chain(res["layer"]) for res in r.get("layers", []))
        prev = out.get(r["digest"], (frozenset(), frozenset()))
        out[r["digest"]] = (prev[0] | inputs, prev[1] | results)
    return out


