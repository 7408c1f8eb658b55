"""End-to-end tests of type=s3 through the real binary, against s3rver behind
a front that checks every Signature V4 with botocore (tests/peers/s3front.py),
cross-checked with Debian's awscli.

Run by CTest with CACHECTL=<binary> and FIXTURES=<fixtures dir>.
"""
import hashlib
import io
import json
import os
import subprocess
import tarfile
import time
import unittest

import cachelib as cl
import s3peer
from s3case import AKID, S3_MAX, SECRET, Base, fixture, meaning_of_manifest, read, sha256

class A_FrontIsTrustworthy(Base):
    """The front is trusted only because AWS's own client passes it and the
    same client with a wrong secret does not.  These run first."""

    def aws(self, *args, secret=SECRET, akid=AKID, ok=True):
        env = s3peer.aws_env(self.home, self.store.endpoint, akid, secret)
        p = subprocess.run([s3peer.awscli(), "--endpoint-url", self.store.endpoint, *args], capture_output=True,
                           text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
        if ok and p.returncode != 0:
            raise AssertionError("aws %s: %s" % (" ".join(args), p.stderr))
        return p

    def test_awscli_passes_and_a_wrong_secret_is_refused(self):
        src = self.dir("obj")
        with open(src, "wb") as f:
            f.write(b"front check \x00\x01" * 1000)
        self.aws("s3api", "put-object", "--bucket", self.bucket, "--key", "blobs/sha256:ab c+d", "--body", src)
        out = self.dir("back")
        self.aws("s3api", "get-object", "--bucket", self.bucket, "--key", "blobs/sha256:ab c+d", out)
        self.assertEqual(read(out), read(src))
        listing = json.loads(self.aws("s3api", "list-objects-v2", "--bucket", self.bucket).stdout)
        self.assertEqual([o["Key"] for o in listing["Contents"]], ["blobs/sha256:ab c+d"])
        log = self.new_log()
        self.assertTrue(log and all(e["status"] < 300 and e.get("akid") == AKID for e in log), log)

        bad = self.aws("s3api", "get-object", "--bucket", self.bucket, "--key", "blobs/sha256:ab c+d", out,
                       secret=SECRET + "x", ok=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("SignatureDoesNotMatch", bad.stderr)
        bad = self.aws("s3api", "put-object", "--bucket", self.bucket, "--key", "other", "--body", src,
                       secret="wrong", ok=False)
        self.assertIn("SignatureDoesNotMatch", bad.stderr)
        bad = self.aws("s3api", "list-objects-v2", "--bucket", self.bucket, akid="AKIDNOBODY", ok=False)
        self.assertIn("InvalidAccessKeyId", bad.stderr)
        self.assertEqual(self.keys(), ["blobs/sha256:ab c+d"])
        # Unsigned requests are refused too.
        import urllib.error
        import urllib.request
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen("%s/%s/other" % (self.store.endpoint, self.bucket), timeout=30)
        self.assertEqual(e.exception.code, 403)

    def test_a_wrong_secret_fails_the_export_with_the_stores_error(self):
        spec = self.s3(secret_access_key="not-the-secret")
        p = self.export(fixture("local-gzip-max"), spec, ok=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("SignatureDoesNotMatch", p.stderr)
        self.assertIn("credentials from the access_key_id and secret_access_key options", p.stderr)
        self.assertNotIn("not-the-secret", p.stderr + p.stdout)
        self.assertEqual(self.keys(), [])
        p = self.export(fixture("local-gzip-max"), self.s3(access_key_id="AKIDNOBODY"), ok=False)
        self.assertIn("InvalidAccessKeyId", p.stderr)


class RoundTrips(Base):
    def test_local_to_s3_to_local_keeps_every_record_and_diffid(self):
        src = cl.load(fixture("local-gzip-max"))
        self.export(fixture("local-gzip-max"), self.s3(name="main"))
        keys = self.keys()
        self.assertEqual(keys, sorted(["blobs/" + d for d in src.layers] + ["manifests/main"]))
        doc = self.assert_complete(name="main")
        self.assertEqual(meaning_of_manifest(doc), src.meaning())
        for d, desc in src.layers.items():
            self.assertEqual(self.store.get(self.bucket, "blobs/" + d), src.blob(d))
            node = [n for n in doc["layers"] if n["blob"] == d][0]
            self.assertEqual(node["annotations"]["diffID"], desc["annotations"][cl.DIFFID])
            self.assertEqual(node["annotations"]["createdAt"], desc["annotations"]["buildkit/createdat"])
        # What the front saw: signed, the colon encoded once, no checksum headers, no chunking.
        log = self.new_log()
        puts = [e for e in log if e["method"] == "PUT"]
        self.assertEqual(len(puts), len(src.layers) + 1)
        for e in log:
            self.assertTrue(e["status"] < 300 or (e["method"] == "HEAD" and e["status"] == 404), e)
            self.assertIn("x-amz-content-sha256", e["signed"])
            self.assertFalse([h for h in e["headers"] if h.startswith("x-amz-checksum")], e)
            if "/blobs/" in e["path"]:
                self.assertIn("/blobs/sha256%3A", e["raw_path"])

        back = self.dir("back")
        self.import_(self.s3(name="main"), back)
        b = cl.load(back)
        self.assertEqual(b.meaning(), src.meaning())
        self.assertEqual(b.problems(), [])
        self.assertEqual(set(b.layers), set(src.layers))

    def test_repeat_export_sends_no_blob_bytes(self):
        self.export(fixture("local-gzip-max"), self.s3())
        self.new_log()
        p = self.export(fixture("local-gzip-max"), self.s3())
        self.assertIn("0 written, 9 skipped", p.stderr)
        log = self.new_log()
        self.assertEqual(sorted({e["method"] for e in log}), ["HEAD", "PUT"])
        self.assertEqual([e["path"] for e in log if e["method"] == "PUT"], ["/%s/manifests/buildkit" % self.bucket])
        self.assertEqual(sum(e["length"] for e in log if "/blobs/" in e["path"]), 0)

    def test_fixture_tree_uploaded_by_awscli_imports_unchanged(self):
        env = s3peer.aws_env(self.home, self.store.endpoint, AKID, SECRET)
        p = subprocess.run([s3peer.awscli(), "--endpoint-url", self.store.endpoint, "s3", "cp", "--recursive", "--quiet",
                            S3_MAX, "s3://%s/" % self.bucket], capture_output=True, text=True, env=env,
                           timeout=180, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, p.stderr)
        want = sorted(os.path.relpath(os.path.join(d, f), S3_MAX) for d, _, fs in os.walk(S3_MAX) for f in fs)
        self.assertEqual(self.keys(), want)
        manifest = read(os.path.join(S3_MAX, "manifests", "main"))
        fixture_doc = json.loads(manifest)
        for name in ("main", "feature"):
            with self.subTest(name):
                dest = self.dir("import-" + name)
                self.import_(self.s3(name=name), dest)
                c = cl.load(dest)
                self.assertEqual(c.problems(), [])
                self.assertEqual(c.meaning(), meaning_of_manifest(fixture_doc))
                for d in c.layers:
                    self.assertEqual(c.blob(d), read(os.path.join(S3_MAX, "blobs", d)))
        # Unchanged, it goes back out byte for byte (v0.23.2 kept the source's
        # media types: the Docker-typed base layer stays so).
        self.run_cachectl("export", "--progress", "quiet", "--from", self.s3(name="main"), "--export-cache",
                          self.s3(prefix="again/", name="main;feature"))
        for name in ("main", "feature"):
            self.assertEqual(self.store.get(self.bucket, "again/manifests/" + name), manifest)
        # Several names as several sources; a missing one is a note.
        dest = self.dir("import-both")
        p = self.import_(self.s3(name="main"), dest, True, None, self.s3(name="feature"), self.s3(name="gone"))
        self.assertIn('no cache named "gone"', p.stderr)
        self.assertEqual(cl.load(dest).meaning(), meaning_of_manifest(fixture_doc))

    def test_objects_written_by_cachectl_are_read_by_awscli(self):
        self.export(fixture("local-zstd-max"), self.s3(name="z"))
        env = s3peer.aws_env(self.home, self.store.endpoint, AKID, SECRET)
        out = subprocess.run([s3peer.awscli(), "--endpoint-url", self.store.endpoint, "s3api", "list-objects-v2",
                              "--bucket", self.bucket], capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        listed = {o["Key"]: o["Size"] for o in json.loads(out.stdout)["Contents"]}
        src = cl.load(fixture("local-zstd-max"))
        self.assertEqual(set(listed), {"blobs/" + d for d in src.layers} | {"manifests/z"})
        digest = sorted(src.layers)[0]
        dest = self.dir("got")
        got = subprocess.run([s3peer.awscli(), "--endpoint-url", self.store.endpoint, "s3api", "get-object", "--bucket",
                              self.bucket, "--key", "blobs/" + digest, dest], capture_output=True, text=True,
                             env=env, timeout=120)
        self.assertEqual(got.returncode, 0, got.stderr)
        self.assertEqual(sha256(read(dest)), digest)
        self.assertEqual(listed["blobs/" + digest], len(read(dest)))

    def test_prefixes_are_concatenated_verbatim(self):
        variants = [({"prefix": "cache"}, "cacheblobs/", "cachemanifests/"),
                    ({"prefix": "p/", "blobs_prefix": "b/", "manifests_prefix": "m/"}, "p/b/", "p/m/"),
                    ({"blobs_prefix": "", "manifests_prefix": "index-"}, "", "index-")]
        src = cl.load(fixture("local-gzip-max"))
        for opts, blobs, manifests in variants:
            with self.subTest(opts):
                self.export(fixture("local-gzip-max"), self.s3(name="n", **opts))
                keys = set(self.keys())
                self.assertIn(manifests + "n", keys)
                for d in src.layers:
                    self.assertIn(blobs + d, keys)
                dest = self.dir("imp-" + blobs.replace("/", "_") + manifests.replace("/", "_"))
                self.import_(self.s3(name="n", **opts), dest)
                self.assertEqual(cl.load(dest).meaning(), src.meaning())

    def test_names_empty_segments_and_missing_names(self):
        self.export(fixture("local-gzip-max"), self.s3(name="a;;b"))
        keys = self.keys()
        self.assertIn("manifests/a", keys)
        self.assertIn("manifests/", keys)
        self.assertIn("manifests/b", keys)
        self.assertEqual(self.store.get(self.bucket, "manifests/a"), self.store.get(self.bucket, "manifests/"))
        p = self.import_(self.s3(name="nothing-here"), self.dir("none"), ok=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn('no cache named "nothing-here"', p.stderr)
        # import reads only the first of several names, as BuildKit does
        dest = self.dir("first")
        self.import_(self.s3(name="b;missing"), dest)
        p = self.import_(self.s3(name="missing;b"), self.dir("second"), ok=False)
        self.assertEqual(p.returncode, 3)

    def test_reencoded_layers_are_spooled_and_keyed_by_their_new_digest(self):
        # compression= is a cachectl extension for s3 (BuildKit ignores it):
        # the digest is known only after encoding.
        self.export(fixture("local-gzip-max"), self.s3(compression="zstd", **{"force-compression": "true"}))
        doc = self.assert_complete()
        types = {n["annotations"]["mediaType"] for n in doc["layers"]}
        self.assertEqual(types, {"application/vnd.oci.image.layer.v1.tar+zstd"})
        src = cl.load(fixture("local-gzip-max"))
        self.assertEqual(meaning_of_manifest(doc), src.meaning())
        dest = self.dir("zstd")
        self.import_(self.s3(), dest)
        self.assertEqual(cl.load(dest).problems(), [])
        # Present under the new digest: the second time nothing is uploaded.
        self.new_log()
        self.export(fixture("local-gzip-max"), self.s3(compression="zstd", **{"force-compression": "true"}))
        self.assertEqual([e["path"] for e in self.new_log() if e["method"] == "PUT"],
                         ["/%s/manifests/buildkit" % self.bucket])


class InspectVerify(Base):
    def test_inspect_and_verify_read_the_bucket(self):
        self.export(fixture("local-gzip-max"), self.s3())
        p = self.run_cachectl("inspect", "--format", "json", "--quick", self.s3())
        doc = json.loads(p.stdout)
        self.assertIn("secret_access_key=***", doc["source"])
        src = cl.load(fixture("local-gzip-max"))
        self.assertEqual(sorted(b["digest"] for b in doc["layers"]), sorted(src.layers))
        self.assertEqual(doc["config"]["digest"], sha256(self.store.get(self.bucket, "manifests/buildkit")))
        self.run_cachectl("verify", "--progress", "quiet", self.s3())
        victim, gone = sorted(src.layers)[:2]
        self.store.put(self.bucket, "blobs/" + victim, b"not the layer")
        import urllib.request
        urllib.request.urlopen(urllib.request.Request(
            "%s/%s/blobs/%s" % (self.store.direct, self.bucket, gone), method="DELETE"), timeout=30).read()
        p = self.run_cachectl("verify", "--progress", "plain", self.s3(), ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(victim, p.stdout + p.stderr)
        self.assertIn(gone, p.stdout + p.stderr)
        self.assertIn("2 of 9 blobs damaged or missing", p.stderr)


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


class Multipart(Base):
    def test_a_64_mib_layer_goes_up_in_equal_parts_and_comes_back(self):
        path, digest, size = big_cache(self.store)
        self.export(path, self.s3())
        log = self.new_log()
        parts = [e for e in log if e["method"] == "PUT" and "partNumber=" in e["query"]]
        self.assertEqual(len(parts), 9)  # 64 MiB + the tar header: 8 parts of 8 MiB and a small last one
        sizes = sorted((int(e["query"].split("partNumber=")[1].split("&")[0]), e["length"]) for e in parts)
        self.assertEqual([s for _, s in sizes[:-1]], [8 << 20] * 8)
        self.assertEqual(sum(s for _, s in sizes), size)
        self.assertEqual([n for n, _ in sizes], list(range(1, 10)))
        self.assertEqual(len([e for e in log if e["method"] == "POST" and e["query"] == "uploads="]), 1)
        self.assertEqual(len([e for e in log if e["method"] == "POST" and "uploadId=" in e["query"]]), 1)
        data = self.store.get(self.bucket, "blobs/" + digest)
        self.assertEqual(sha256(data), digest)
        self.assert_complete()
        dest = self.dir("back")
        self.import_(self.s3(), dest)
        c = cl.load(dest)
        self.assertEqual(c.problems(), [])
        self.assertEqual(list(c.layers), [digest])


class Touch(Base):
    def test_touch_refresh_copies_present_blobs_onto_themselves(self):
        self.export(fixture("local-gzip-max"), self.s3())
        self.new_log()
        time.sleep(1.1)  # LastModified has a one-second resolution
        self.export(fixture("local-gzip-max"), self.s3(touch_refresh="0s"))
        copies = [e for e in self.new_log() if e["method"] == "PUT" and "/blobs/" in e["path"]]
        self.assertEqual(len(copies), 9)
        for e in copies:
            self.assertEqual(e["length"], 0)
            self.assertIn("x-amz-copy-source", e["signed"])
            self.assertIn("x-amz-metadata-directive", e["signed"])
            self.assertIn("x-amz-meta-updated-at", e["signed"])
        env = s3peer.aws_env(self.home, self.store.endpoint, AKID, SECRET)
        key = "blobs/" + sorted(cl.load(fixture("local-gzip-max")).layers)[0]
        head = subprocess.run([s3peer.awscli(), "--endpoint-url", self.store.endpoint, "s3api", "head-object",
                               "--bucket", self.bucket, "--key", key], capture_output=True, text=True, env=env,
                              timeout=120)
        self.assertEqual(head.returncode, 0, head.stderr)
        self.assertRegex(json.loads(head.stdout)["Metadata"]["updated-at"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
        self.assert_complete()
        # A bad duration is refused (BuildKit would quietly use 24h) ...
        p = self.export(fixture("local-gzip-max"), self.s3(touch_refresh="soon"), ok=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn('touch_refresh="soon" is not a duration', p.stderr)
        # ... and young blobs are left alone.
        self.new_log()
        self.export(fixture("local-gzip-max"), self.s3(touch_refresh="24h"))
        self.assertEqual([e["path"] for e in self.new_log() if e["method"] == "PUT"],
                         ["/%s/manifests/buildkit" % self.bucket])


class StoreRealities(Base):
    def test_a_wrong_region_is_discovered_and_retried(self):
        endpoint = self.store.front(region="eu-central-1")
        p = self.export(fixture("local-gzip-max"), self.s3(endpoint=endpoint))
        self.assertIn("is in region eu-central-1, not us-east-1", p.stderr)
        self.assert_complete()
        dest = self.dir("back")
        self.import_(self.s3(endpoint=endpoint), dest)
        self.assertEqual(cl.load(dest).problems(), [])

    def test_a_skewed_clock_is_corrected(self):
        endpoint = self.store.front(skew=3600)
        p = self.export(fixture("local-gzip-max"), self.s3(endpoint=endpoint))
        self.assertIn("clock is 3600 s off", p.stderr)
        self.assert_complete()

    def test_debug_trace_hides_the_session_token(self):
        self.store.add_key("ASIATEMPORARY", "temporary-secret-value", token="SESSIONTOKENVALUE123")
        self.secrets = ("temporary-secret-value", "SESSIONTOKENVALUE123")
        env = dict(self.env, CACHECTL_DEBUG="s3,http")
        p = self.export(fixture("local-gzip-max"),
                        self.s3(access_key_id="ASIATEMPORARY", secret_access_key="temporary-secret-value",
                                session_token="SESSIONTOKENVALUE123"), env=env)
        self.assertIn("x-amz-security-token:***", p.stderr)
        self.assert_complete()


class Options(Base):
    def test_options_and_their_errors(self):
        cases = [
            ("type=s3,region=us-east-1", 2, "bucket ($AWS_BUCKET) not set for s3 cache"),
            ("type=s3,bucket=b", 2, "region ($AWS_REGION) not set for s3 cache"),
            (self.s3(upload_parallelism="0"), 2, "upload_parallelism must be a positive integer"),
            (self.s3(retry_mode="eager"), 2, "retry_mode"),
            (self.s3(retry_max_attempts="0"), 2, "retry_max_attempts"),
            (self.s3(endpoint_url="ftp://x"), 2, "endpoint_url"),
            (self.s3(colour="blue"), 2, 'unknown option "colour"'),
            (self.s3(**{"oci-mediatypes": "true"}), 2, 'unknown option "oci-mediatypes"'),
        ]
        for spec, code, words in cases:
            with self.subTest(spec):
                p = self.export(fixture("local-gzip-max"), spec, ok=False)
                self.assertEqual(p.returncode, code, p.stderr)
                self.assertIn(words, p.stderr)
        self.assertEqual(self.keys(), [])
        # Environment fallbacks for bucket and region; booleans BuildKit would
        # read leniently are refused when they are not booleans.
        env = dict(self.env, AWS_BUCKET=self.bucket, AWS_REGION="us-east-1")
        spec = "type=s3,endpoint_url=%s,use_path_style=true,access_key_id=%s,secret_access_key=%s," \
               "upload_parallelism=1,retry_mode=adaptive,retry_max_attempts=2,disable_accept_encoding=%s" \
               % (self.store.endpoint, AKID, SECRET, "%s")
        p = self.export(fixture("local-gzip-max"), spec % "yes", env=env, ok=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn('disable_accept_encoding="yes" is not a boolean', p.stderr)
        self.export(fixture("local-gzip-max"), spec % "true", env=env)
        self.assert_complete()
        # The secret never shows in the options echoed back.
        p = self.export(fixture("local-gzip-max"), self.s3(mode="bogus"), ok=False)
        self.assertEqual(p.returncode, 2)


def load_tests(loader, tests, pattern):
    """The front's own proof runs first: the rest trusts it.  The credential
    chain and fault tests share this run's peers."""
    import test_s3_credentials
    import test_s3_faults
    suite = unittest.TestSuite()
    for cls in (A_FrontIsTrustworthy, RoundTrips, InspectVerify, Multipart, Touch, StoreRealities, Options):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    suite.addTests(loader.loadTestsFromModule(test_s3_credentials))
    suite.addTests(loader.loadTestsFromModule(test_s3_faults))
    return suite


if __name__ == "__main__":
    unittest.main()
