"""End-to-end tests of type=s3 through the real binary, against s3rver behind
a front that checks every Signature V4 with botocore (tests/peers/s3front.py),
cross-checked with Debian's awscli.

Run by CTest with CACHECTL=<binary> and FIXTURES=<fixtures dir>.
"""
import json
import os
import subprocess
import time
import unittest

import cachelib as cl
import s3peer
from s3case import AKID, S3_MAX, SECRET, Base, big_cache, fixture, meaning_of_manifest, read, sha256

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


class OneRead(Base):
    def test_two_encodings_get_each_blob_once(self):
        # an s3 source: the front counts the GETs of each blob
        src = cl.load(fixture("local-gzip-max"))
        self.export(fixture("local-gzip-max"), self.s3())
        self.new_log()
        force = ",force-compression=true"
        specs = ["compression=zstd" + force, "compression=uncompressed" + force,
                 "compression=zstd,compression-level=9" + force]
        dests = [self.dir("enc-%d" % i) for i in range(len(specs))]
        args = ["export", "--progress", "plain", "--from", self.s3()]
        for d, spec in zip(dests, specs):
            args += ["--export-cache", "type=local,dest=%s,%s" % (d, spec)]
        p = self.run_cachectl(*args)
        self.assertIn("%d layers read" % len(src.layers), p.stderr)
        gets = sorted(e["path"] for e in self.new_log() if e["method"] == "GET" and "/blobs/" in e["path"])
        self.assertEqual(gets, sorted("/%s/blobs/%s" % (self.bucket, d) for d in src.layers))
        for d, spec in zip(dests, specs):
            alone = self.dir("alone-%s" % os.path.basename(d))
            self.run_cachectl("export", "--progress", "quiet", "--from", self.s3(),
                              "--export-cache", "type=local,dest=%s,%s" % (alone, spec))
            self.assertEqual(cl.load(d).root_bytes, cl.load(alone).root_bytes)
            self.assertEqual(cl.load(d).problems(), [])


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
        # Young blobs are left alone (a bad duration is a usage error: test_usage.py).
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
    def test_bucket_and_region_from_the_environment(self):
        # BuildKit's fallbacks; the rows that fail are in test_usage.py
        env = dict(self.env, AWS_BUCKET=self.bucket, AWS_REGION="us-east-1")
        spec = "type=s3,endpoint_url=%s,use_path_style=true,access_key_id=%s,secret_access_key=%s," \
               "upload_parallelism=1,retry_mode=adaptive,retry_max_attempts=2,disable_accept_encoding=true" \
               % (self.store.endpoint, AKID, SECRET)
        self.export(fixture("local-gzip-max"), spec, env=env)
        self.assert_complete()


if __name__ == "__main__":
    unittest.main()
