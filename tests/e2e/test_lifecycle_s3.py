"""ls, du, rm and prune on an s3 store (s3rver behind the SigV4-checking
front), judged by reading the bucket directly."""
import hashlib
import json
import os
import subprocess
import time
import urllib.request

import bigcache
import harness as h
import s3case
from s3case import fixture, sha256

HOUR = 3600


class S3Store(s3case.Base):
    def put_cache(self, src, name, **opts):
        self.export(src, self.s3(name=name, **opts))

    def raw_listing(self):
        """The bucket's own listing (every page, as the store answers it) and every object's bytes."""
        store = s3case.STORE
        body = urllib.request.urlopen("%s/%s?list-type=2" % (store.direct, self.bucket), timeout=30).read()
        return body, {k: sha256(store.get(self.bucket, k)) for k in self.keys()}

    def manifest(self, name):
        return json.loads(s3case.STORE.get(self.bucket, "manifests/" + name))

    def referenced(self, name):
        return {l["blob"]: l["annotations"]["size"] for l in self.manifest(name)["layers"]}

    def two_caches(self):
        self.put_cache(fixture("local-gzip-max"), "a")
        self.put_cache(fixture("local-zstd-max"), "b")

    def ls(self):
        out = self.run_cachectl("ls", "--format", "json", self.s3())
        return {e["name"]: e for e in json.loads(out.stdout)["entries"]}

    def test_ls_and_du_agree_with_the_bucket(self):
        self.two_caches()
        stray = b"nobody's blob"
        s3case.STORE.put(self.bucket, "blobs/" + sha256(stray), stray)
        ls = self.ls()
        self.assertEqual(set(ls), {"a", "b"})
        refs = {n: self.referenced(n) for n in ("a", "b")}
        for n in ("a", "b"):
            doc = s3case.STORE.get(self.bucket, "manifests/" + n)
            self.assertEqual(ls[n]["digest"], sha256(doc))
            self.assertEqual(ls[n]["size"], len(doc))
            self.assertEqual(ls[n]["records"], len(json.loads(doc)["records"]))
            self.assertEqual(ls[n]["blobs"], len(refs[n]))
            self.assertEqual(ls[n]["bytes"], sum(refs[n].values()) + len(doc))
            self.assertFalse(ls[n]["overBuildKitConfigLimit"])  # s3 has no such limit
        du = json.loads(self.run_cachectl("du", "--format", "json", self.s3()).stdout)
        blob_keys = [k for k in self.keys() if k.startswith("blobs/")]
        self.assertEqual(du["blobs"], len(blob_keys))
        self.assertEqual(du["storedBytes"], sum(len(s3case.STORE.get(self.bucket, k)) for k in blob_keys))
        self.assertEqual((du["unreferencedBlobs"], du["unreferencedBytes"]), (1, len(stray)))
        for e in du["entries"]:
            other = refs["b" if e["name"] == "a" else "a"]
            self.assertEqual(e["uniqueBytes"], sum(s for d, s in refs[e["name"]].items() if d not in other))

    def test_dry_run_changes_nothing_then_prune_keeps_the_kept(self):
        self.two_caches()
        only_b = set(self.referenced("b")) - set(self.referenced("a"))
        self.assertTrue(only_b)
        before = self.raw_listing()
        dry = self.run_cachectl("prune", "--dry-run", "--grace", "0", "--keep-tag", "a", self.s3()).stdout
        self.assertEqual(self.raw_listing(), before)
        self.assertIn("would remove cache b", dry)
        for d in only_b:
            self.assertIn("would delete blob " + d, dry)
        real = self.run_cachectl("prune", "--grace", "0", "--keep-tag", "a", self.s3()).stdout
        self.assertIn("1 caches removed", real)
        keys = set(self.keys())
        self.assertNotIn("manifests/b", keys)
        for d in only_b:
            self.assertNotIn("blobs/" + d, keys)
        self.assert_complete(name="a")
        self.run_cachectl("verify", self.s3(name="a"))

    def test_default_grace_is_past_touch_refresh(self):
        self.two_caches()
        self.run_cachectl("rm", self.s3(name="b"))
        before = set(self.keys())
        out = self.run_cachectl("prune", self.s3()).stdout
        self.assertEqual(set(self.keys()), before)  # every blob is minutes old, not 25 hours
        self.assertRegex(out, r"0 blobs deleted.* [1-9][0-9]* unreferenced blobs younger than --grace kept")
        p = self.run_cachectl("prune", "--grace", "1h", self.s3())
        self.assertIn("--grace is shorter than", p.stderr)

    def test_rm_removes_one_document_and_no_blob(self):
        self.two_caches()
        blobs = [k for k in self.keys() if k.startswith("blobs/")]
        out = self.run_cachectl("rm", self.s3(name="b")).stdout
        self.assertIn("removed cache b", out)
        self.assertEqual(set(self.ls()), {"a"})
        self.assertEqual([k for k in self.keys() if k.startswith("blobs/")], blobs)
        p = self.run_cachectl("rm", self.s3(name="b"), ok=False)
        self.assertEqual(p.returncode, 3)

    def test_keep_since_rewrites_the_document(self):
        src = self.dir("src")
        now = int(time.time())
        bigcache.make(src, 21, layers=12, keys=2, start=now - 12 * 86400 + HOUR, step=86400, layer_bytes=1024,
                      independent=True)
        self.put_cache(src, "latest")
        old = self.referenced("latest")
        out = self.run_cachectl("prune", "--keep-since", "4d", "--grace", "0", self.s3()).stdout
        self.assertIn("trim cache latest", out)
        doc = self.assert_complete(name="latest")
        times = sorted(r["createdAt"] for rec in doc["records"] for r in rec.get("layers", []))
        self.assertEqual(len(times), 4)
        kept = self.referenced("latest")
        for d in set(old) - set(kept):
            self.assertNotIn("blobs/" + d, self.keys())
        self.run_cachectl("verify", self.s3(name="latest"))

    def test_listing_and_deleting_go_past_one_page(self):
        self.put_cache(fixture("local-gzip-max"), "a")
        for i in range(1100):  # ListObjectsV2 pages of 1000, DeleteObjects batches of 1000
            data = b"stray %d" % i
            s3case.STORE.put(self.bucket, "blobs/" + sha256(data), data)
        du = json.loads(self.run_cachectl("du", "--format", "json", self.s3()).stdout)
        self.assertEqual(du["unreferencedBlobs"], 1100)
        out = self.run_cachectl("prune", "--grace", "0", self.s3()).stdout
        self.assertIn("1100 blobs deleted", out)
        self.assertEqual(len([k for k in self.keys() if k.startswith("blobs/")]), len(self.referenced("a")))
        self.assert_complete(name="a")


class S3Race(s3case.Base):
    """An export and a prune on one bucket at the same time, round after
    round: no kept or newly written cache loses a blob."""

    ROUNDS = 3
    # seconds: the protocol is safe while an export's time from refreshing a
    # blob to writing its manifest stays under the grace.  A 5-blob export
    # took over 8 s on a machine at load 20 under ASan (a blob was lost
    # then, as documented); 20 s keeps the test about the protocol.
    GRACE = 20

    def test_export_and_prune_at_once(self):
        import makecache
        srcs = []
        for i in range(self.ROUNDS + 1):
            srcs.append(self.dir("src%d" % i))
            # every other cache has the same layers: t(i) reuses the blobs of t(i-2)
            makecache.make(srcs[-1], 5, 2048, 200 + i % 2)
        # touch_refresh=0s: the export refreshes every blob it finds present
        for i in (0, 1):
            self.export(srcs[i], self.s3(name="t%d" % i, touch_refresh="0s"))
        for i in range(2, self.ROUNDS + 1):
            time.sleep(self.GRACE + 1.5)  # what is there is now older than the grace
            exp = subprocess.Popen([h.CACHECTL, "export", "--progress", "quiet", "--from", srcs[i],
                                    "--export-cache", self.s3(name="t%d" % i, touch_refresh="0s")],
                                   stderr=subprocess.PIPE, text=True, env=self.env)
            # keeps t(i-1) and t(i): t(i-2) goes, and with it the old blobs t(i) is reusing right now
            self.run_cachectl("prune", "--grace", "%ds" % self.GRACE, "--keep-tag", "t%d" % (i - 1),
                              "--keep-tag", "t%d" % i, self.s3())
            err = exp.communicate(timeout=300)[1]
            self.assertEqual(exp.returncode, 0, err)
            for name in ("t%d" % (i - 1), "t%d" % i):
                self.assert_complete(name=name)
                self.run_cachectl("verify", self.s3(name=name))
