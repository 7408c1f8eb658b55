"""What every s3 end-to-end suite shares (test_s3_front, test_s3,
test_s3_credentials, test_s3_faults): the peers (one s3rver and its
verifying front per suite, see s3peer.py), a bucket per test, the binary run
with a clean AWS environment, checks that read the bucket directly, and a
64 MiB cache made once per suite."""
import hashlib
import io
import json
import os
import tarfile
import uuid

import harness as h
import s3peer
from cachelib import sha256
from harness import FIXTURES, fixture, read  # noqa: F401 (the s3 suites import them from here)

STORE = None
S3_MAX = os.path.join(FIXTURES, "s3-max", "export", "objects")
AKID = "AKIDCACHECTLTEST"
SECRET = "cachectl/test+secret/0123456789abcdefghijkl"


class Base(h.TempDirCase):
    prefix = "cachectl-s3-"

    def setUp(self):
        global STORE
        try:
            STORE = s3peer.shared_store()
        except h.Missing as e:
            h.lacking("%s is not installed" % e)
        self.store = STORE
        super().setUp()
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)
        self.env = s3peer.clean_env(self.home)
        self.bucket = "t-" + uuid.uuid4().hex[:12]
        STORE.make_bucket(self.bucket)
        self.log_start = len(STORE.log_entries())

    def run_cachectl(self, *args, ok=True, env=None):
        return h.run(*args, ok=ok, env=env or self.env, secrets=(SECRET,) + tuple(getattr(self, "secrets", ())))

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


def make_big_cache(path, size):
    """A local cache with one uncompressed layer of `size` pseudo-random bytes."""
    os.makedirs(os.path.join(path, "blobs", "sha256"))
    payload = hashlib.shake_256(b"cachectl-multipart").digest(1 << 20) * (size // (1 << 20))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo("big.bin")
        info.size = len(payload)
        info.mtime = 0
        t.addfile(info, io.BytesIO(payload))
    layer = buf.getvalue()

    def put(data):
        d = sha256(data)
        with open(os.path.join(path, "blobs", "sha256", d[7:]), "wb") as f:
            f.write(data)
        return d

    ld = put(layer)
    rec = sha256(b"record")
    config = json.dumps({"layers": [{"blob": ld, "parent": -1}],
                         "records": [{"layers": [{"layer": 0, "createdAt": "2025-01-02T03:04:05Z"}],
                                      "digest": rec}]}, separators=(",", ":")).encode()
    cd = put(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.buildkit.cacheconfig.v0", "digest": cd, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": len(layer),
                    "annotations": {"buildkit/createdat": "2025-01-02T03:04:05Z",
                                    "containerd.io/uncompressed": ld}}]}, separators=(",", ":")).encode()
    md = put(manifest)
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                   "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
                                  "size": len(manifest),
                                  "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}, f)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    return ld, len(layer)


BIG = {}


def big_cache(store):
    """The 64 MiB cache, made once per run."""
    if not BIG:
        path = os.path.join(store.tmp, "big-cache")
        BIG["path"] = path
        BIG["digest"], BIG["size"] = make_big_cache(path, 64 << 20)
    return BIG["path"], BIG["digest"], BIG["size"]
