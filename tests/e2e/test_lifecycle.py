"""End-to-end tests of the cache lifecycle through the real binary: the
1 MiB guard on export, and ls / du / rm / prune on a local store.

Run by CTest with CACHECTL=<binary> and FIXTURES=<fixtures dir>.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import bigcache
import cachelib as cl
import harness as h
from harness import CACHECTL, FIXTURES, run

BUILDKIT_LIMIT = 1048576
# The config max-config-size=1MiB (or 1000kB) leaves of the two caches below:
# the older one's records all gone, 950,808 bytes.
TRIMMED_DIGEST = "sha256:985ad8c2711f64730b0b5cd90c1f9dd6968be2949aafe6dd34bee1c24cf17d8b"


class Base(h.TempDirCase):
    prefix = "cachectl-lifecycle-"


def chains_intact(cache):
    """Every result's chain: each node's blob listed in the root and stored."""
    nodes = cache.config["layers"]
    for r in cache.config["records"]:
        for res in r.get("layers", []):
            i = res["layer"]
            while i != -1:
                if nodes[i]["blob"] not in cache.layers or not os.path.exists(cache.path(nodes[i]["blob"])):
                    return False
                i = nodes[i].get("parent", 0)
    return True


class ConfigGuard(Base):
    """Two caches of 0.95 MB configs, merged: 1.9 MB, over BuildKit's limit."""

    @classmethod
    def setUpClass(cls):
        cls.sources = tempfile.mkdtemp(prefix="cachectl-bigcache-")
        cls.a, cls.b = os.path.join(cls.sources, "a"), os.path.join(cls.sources, "b")
        bigcache.make(cls.a, 1, month=1)
        bigcache.make(cls.b, 2, month=2)
        cls.older = cl.load(cls.a).meaning()
        cls.newer = cl.load(cls.b).meaning()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.sources, ignore_errors=True)

    def export(self, dest_opts, ok=True):
        dest = self.dir("out")
        p = run("export", "--progress", "plain", "--from", self.a, "--from", self.b,
                "--export-cache", "type=local,dest=%s%s" % (dest, dest_opts), ok=ok)
        return dest, p

    def test_over_the_limit_is_refused_and_nothing_is_tagged(self):
        dest, p = self.export("", ok=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("1902", p.stderr)  # the size it has
        for way_out in ("max-config-size=", "allow-large-config=true", "1048576"):
            self.assertIn(way_out, p.stderr)
        self.assertFalse(os.path.exists(os.path.join(dest, "index.json")))

    def test_other_destinations_still_get_the_cache(self):
        ok = self.dir("s3-like")
        p = run("export", "--progress", "quiet", "--from", self.a, "--from", self.b,
                "--export-cache", "type=local,dest=" + self.dir("out"),
                "--export-cache", "type=local,dest=%s,allow-large-config=true" % ok, ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertGreater(cl.load(ok).config_desc["size"], BUILDKIT_LIMIT)

    def test_max_config_size_drops_the_oldest_records_until_it_fits(self):
        for size in ("1MiB", "1000kB"):
            with self.subTest(size):
                dest, p = self.export(",max-config-size=" + size)
                c = cl.load(dest)
                limit = {"1MiB": 1048576, "1000kB": 1000000}[size]
                self.assertLessEqual(c.config_desc["size"], limit)
                self.assertTrue(chains_intact(c))
                self.assertEqual(c.problems(), [])
                kept = c.meaning()
                # the newer cache is whole; what went was the older one
                for digest, (inputs, results) in self.newer.items():
                    self.assertEqual(kept[digest], (inputs, results))
                self.assertLess(len([d for d in kept if d in self.older]), len(self.older))
                self.assertIn("dropped the results of the", p.stderr)
                # the bytes cachectl wrote before trims were predicted (e2e4b1d)
                self.assertEqual(c.config_desc["digest"], TRIMMED_DIGEST)
                run("verify", dest)
                shutil.rmtree(dest)

    def test_allow_large_config_publishes_and_inspect_verify_flag_it(self):
        dest, _ = self.export(",allow-large-config=true")
        c = cl.load(dest)
        self.assertGreater(c.config_desc["size"], BUILDKIT_LIMIT)
        self.assertEqual(c.problems(), [])
        text = run("inspect", dest).stdout
        self.assertIn("too large for BuildKit", text)
        self.assertTrue(json.loads(run("inspect", "--format", "json", dest).stdout)["overBuildKitConfigLimit"])
        p = run("verify", dest, ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("max-config-size=1MiB", p.stdout)
        # and cachectl can repair what BuildKit refuses
        fixed = self.dir("fixed")
        run("export", "--progress", "quiet", "--from", dest,
            "--export-cache", "type=local,dest=%s,max-config-size=1MiB" % fixed)
        self.assertLessEqual(cl.load(fixed).config_desc["size"], BUILDKIT_LIMIT)
        run("verify", fixed)
        self.assertFalse(json.loads(run("inspect", "--format", "json", fixed).stdout)["overBuildKitConfigLimit"])

    def test_bad_values_are_usage_errors(self):
        for opts, words in ((",max-config-size=lots", "is not a size"),
                            (",max-config-size=0", "more than 0"),
                            (",allow-large-config=maybe", "allow-large-config"),
                            (",max-config-size=1MiB,allow-large-config=true", "contradict")):
            with self.subTest(opts):
                _, p = self.export(opts, ok=False)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(words, p.stderr)

    def test_s3_like_destinations_do_not_take_the_options(self):
        p = run("export", "--from", self.a, "--export-cache",
                "type=s3,bucket=b,region=us-east-1,endpoint_url=http://127.0.0.1:9,max-config-size=1MiB", ok=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("max-config-size", p.stderr)


if __name__ == "__main__":
    unittest.main()


# ---- local stores --------------------------------------------------------

FIXTURE_GZIP = os.path.join(FIXTURES, "local-gzip-max", "export")
FIXTURE_ZSTD = os.path.join(FIXTURES, "local-zstd-max", "export")
MANIFEST_TYPES = {cl.OCI_MANIFEST, cl.OCI_INDEX, cl.DOCKER_LIST,
                  "application/vnd.docker.distribution.manifest.v2+json"}
HOUR = 3600


def stored(store):
    """digest -> size of every file in blobs/sha256."""
    d = os.path.join(store, "blobs", "sha256")
    return {"sha256:" + n: os.path.getsize(os.path.join(d, n)) for n in os.listdir(d)}


def references(store, digest, out=None):
    """Every blob a root references, itself included, walked independently."""
    out = {} if out is None else out
    path = os.path.join(store, "blobs", "sha256", digest[7:])
    if digest in out or not os.path.exists(path):
        return out
    out[digest] = os.path.getsize(path)
    doc = json.load(open(path, "rb"))
    descs = ([doc["config"]] if "config" in doc else []) + doc.get("layers", []) + doc.get("manifests", [])
    for d in descs:
        if d.get("mediaType") in MANIFEST_TYPES:
            references(store, d["digest"], out)
        elif os.path.exists(os.path.join(store, "blobs", "sha256", d["digest"][7:])):
            out[d["digest"]] = d["size"]
    return out


def listing(store):
    """The store's own listing: every file, its bytes and its times."""
    out = {}
    for base, _, files in os.walk(store):
        for name in files:
            p = os.path.join(base, name)
            st = os.stat(p)
            out[os.path.relpath(p, store)] = (cl.sha256(open(p, "rb").read()), st.st_size, st.st_mtime_ns)
    return out


def age_everything(store, seconds):
    """Makes every file of the store look `seconds` old."""
    then = os.path.getmtime(store) - seconds
    for base, _, files in os.walk(store):
        for name in files:
            os.utime(os.path.join(base, name), (then, then))


class LocalStore(Base):
    def export(self, src, store, tag, extra=""):
        run("export", "--progress", "quiet", "--from", src,
            "--export-cache", "type=local,dest=%s,tag=%s%s" % (store, tag, extra))

    def add_image(self, store, layer_digest, layer_size):
        """An image tagged in the same layout, sharing one layer with a cache."""
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        cd = cl.sha256(config)
        open(os.path.join(store, "blobs", "sha256", cd[7:]), "wb").write(config)
        manifest = json.dumps({"schemaVersion": 2, "mediaType": cl.OCI_MANIFEST,
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": cd, "size": len(config)},
                               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                           "digest": layer_digest, "size": layer_size}]}).encode()
        md = cl.sha256(manifest)
        open(os.path.join(store, "blobs", "sha256", md[7:]), "wb").write(manifest)
        idx = cl.index(store)
        idx["manifests"].append({"mediaType": cl.OCI_MANIFEST, "digest": md, "size": len(manifest),
                                 "annotations": {"io.containerd.image.name": "docker.io/library/app:1",
                                                 cl.REF_NAME: "1"}})
        json.dump(idx, open(os.path.join(store, "index.json"), "w"))
        return md

    def two_cache_store(self):
        store = self.dir("store")
        self.export(FIXTURE_GZIP, store, "a")
        self.export(FIXTURE_ZSTD, store, "b")
        return store

    def entries(self, store):
        return {e["name"]: e for e in json.loads(run("ls", "--format", "json", store).stdout)["entries"]}

    def test_ls_and_du_agree_with_the_store(self):
        store = self.two_cache_store()
        only_b = sorted(set(references(store, cl.load(store, "b").root_digest)) -
                        set(references(store, cl.load(store, "a").root_digest)))[0]
        image = self.add_image(store, only_b, stored(store)[only_b])
        stray = b"not referenced by anything"
        open(os.path.join(store, "blobs", "sha256", cl.sha256(stray)[7:]), "wb").write(stray)
        have = stored(store)
        roots = {e.get("annotations", {}).get(cl.REF_NAME): e["digest"] for e in cl.index(store)["manifests"]}
        refs = {name: references(store, d) for name, d in roots.items()}
        refs["docker.io/library/app:1"] = refs.pop("1")
        ls = self.entries(store)
        image_name = "docker.io/library/app:1"  # BuildKit looks the image name up first
        self.assertEqual(set(ls), {"a", "b", image_name})
        self.assertEqual(ls[image_name]["kind"], "image")
        self.assertEqual(ls[image_name]["digest"], image)
        for name in ("a", "b"):
            c = cl.load(store, name)
            self.assertEqual(ls[name]["kind"], "cache")
            self.assertEqual(ls[name]["digest"], c.root_digest)
            self.assertEqual(ls[name]["records"], len(c.config["records"]))
            self.assertEqual(ls[name]["blobs"], len(refs[name]))
            self.assertEqual(ls[name]["bytes"], sum(have[d] for d in refs[name]))
            self.assertFalse(ls[name]["overBuildKitConfigLimit"])
        du = json.loads(run("du", "--format", "json", store).stdout)
        count = {}
        for r in refs.values():
            for d in r:
                count[d] = count.get(d, 0) + 1
        for e in du["entries"]:
            r = refs[e["name"]]
            self.assertEqual(e["bytes"], sum(have[d] for d in r))
            self.assertEqual(e["uniqueBytes"], sum(have[d] for d in r if count[d] == 1))
        self.assertEqual(du["storedBytes"], sum(have.values()))
        self.assertEqual(du["unreferencedBlobs"], 1)
        self.assertEqual(du["unreferencedBytes"], len(stray))
        text = run("du", store).stdout
        self.assertIn("unreferenced: 1 blobs, %d B" % len(stray), text)

    def test_dry_run_changes_nothing_and_says_what_a_prune_does(self):
        store = self.two_cache_store()
        age_everything(store, 2 * HOUR)
        before = listing(store)
        dry = run("prune", "--dry-run", "--keep-tag", "a", store).stdout
        self.assertEqual(listing(store), before)
        real = run("prune", "--keep-tag", "a", store).stdout
        self.assertIn("would remove cache b", dry)
        self.assertEqual([l[len("would "):] for l in dry.splitlines() if l.startswith("would ")],
                         [l for l in real.splitlines() if l.startswith(("remove ", "delete ", "trim "))])
        freed = [l for l in dry.splitlines() if l.startswith("dry run:")][0]
        self.assertIn("would be deleted", freed)
        gone = set(before) - set(listing(store))
        self.assertTrue(gone)
        self.assertEqual(len([l for l in real.splitlines() if l.startswith("delete blob")]),
                         len([g for g in gone if g.startswith("blobs/")]))

    def test_keep_tag_removes_the_others_and_their_unique_blobs_only(self):
        store = self.two_cache_store()
        a = references(store, cl.load(store, "a").root_digest)
        only_b = set(references(store, cl.load(store, "b").root_digest)) - set(a)
        shared_with_image = sorted(only_b)[0]
        self.add_image(store, shared_with_image, stored(store)[shared_with_image])
        age_everything(store, 2 * HOUR)
        out = run("prune", "--keep-tag", "a", store).stdout
        self.assertIn("1 caches removed", out)
        have = stored(store)
        self.assertEqual(set(self.entries(store)), {"a", "docker.io/library/app:1"})
        for d in a:
            self.assertIn(d, have)
        self.assertIn(shared_with_image, have)  # an image still uses it
        for d in only_b - {shared_with_image}:
            self.assertNotIn(d, have)
        self.assertEqual(cl.load(store, "a").problems(), [])
        run("verify", "type=local,src=%s,tag=a" % store)

    def test_grace_spares_young_blobs(self):
        store = self.two_cache_store()
        run("rm", "type=local,src=%s,tag=b" % store)
        before = stored(store)
        out = run("prune", store).stdout  # everything was written just now
        self.assertEqual(stored(store), before)
        self.assertRegex(out, r"0 blobs deleted.* [1-9][0-9]* unreferenced blobs younger than --grace kept")
        out = run("prune", "--grace", "0", store).stdout
        self.assertLess(len(stored(store)), len(before))
        run("verify", "type=local,src=%s,tag=a" % store)

    def test_stale_uploads_go_young_ones_stay(self):
        store = self.two_cache_store()
        os.makedirs(os.path.join(store, "ingest"), exist_ok=True)
        old, young = os.path.join(store, "ingest", "blob-old"), os.path.join(store, "ingest", "blob-young")
        for p in (old, young):
            open(p, "wb").write(b"partial upload")
        then = os.path.getmtime(old) - 3 * HOUR
        os.utime(old, (then, then))
        out = run("prune", store).stdout
        self.assertIn("delete leftover ingest/blob-old", out)
        self.assertFalse(os.path.exists(old))
        self.assertTrue(os.path.exists(young))

    def test_rm_removes_one_tag_and_no_blob(self):
        store = self.two_cache_store()
        before = stored(store)
        out = run("rm", "type=local,src=%s,tag=b" % store).stdout
        self.assertIn("removed cache b", out)
        self.assertEqual(set(self.entries(store)), {"a"})
        self.assertEqual(stored(store), before)
        p = run("rm", "type=local,src=%s,tag=b" % store, ok=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("no cache called \"b\"", p.stderr)

    def test_keep_since_drops_old_results_keeping_whole_chains(self):
        store = self.dir("store")
        now = int(time.time())
        src = self.dir("src")
        # 40 results six hours apart, the newest five hours old
        bigcache.make(src, 7, layers=40, keys=3, start=now - 40 * 6 * HOUR + HOUR, step=6 * HOUR, layer_bytes=2048)
        self.export(src, store, "latest")
        age_everything(store, 2 * HOUR)
        before = cl.load(store)
        out = run("prune", "--keep-since", "3d", store).stdout
        self.assertIn("trim cache latest", out)
        after = cl.load(store)
        self.assertNotEqual(after.root_digest, before.root_digest)
        self.assertTrue(chains_intact(after))
        self.assertEqual(after.problems(), [])
        times = [res["createdAt"] for r in after.config["records"] for res in r.get("layers", [])]
        cutoff = bigcache.stamp(now - 3 * 86400)
        self.assertTrue(times)
        self.assertTrue(all(t >= cutoff[:19] for t in times), (cutoff, min(times)))
        self.assertEqual(len(times), 12)  # 12 of the 40 results are younger than 3 days
        run("verify", store)
        # the old root and config were deleted, nothing the new one needs
        self.assertEqual(set(stored(store)), set(references(store, after.root_digest)))

    def test_max_size_drops_the_oldest_results_store_wide(self):
        store = self.dir("store")
        now = int(time.time())
        old, new = self.dir("old"), self.dir("new")
        # independent layers: dropping an old result frees its layer
        bigcache.make(old, 11, layers=20, keys=2, start=now - 40 * 86400, step=60, layer_bytes=8192,
                      independent=True)
        bigcache.make(new, 12, layers=20, keys=2, start=now - 86400, step=60, layer_bytes=8192)
        self.export(old, store, "old")
        self.export(new, store, "new")
        age_everything(store, 2 * HOUR)
        new_meaning = cl.load(store, "new").meaning()
        layers = lambda name: sum(d["size"] for d in cl.load(store, name).layers.values())
        budget = layers("new") + layers("old") // 2
        out = run("prune", "--max-size", str(budget), store).stdout
        self.assertIn("trim cache old", out)
        self.assertNotIn("trim cache new", out)
        self.assertEqual(cl.load(store, "new").meaning(), new_meaning)
        self.assertLessEqual(layers("new") + layers("old"), budget)
        self.assertGreater(layers("old"), 0)
        for name in ("old", "new"):
            self.assertTrue(chains_intact(cl.load(store, name)))
            run("verify", "type=local,src=%s,tag=%s" % (store, name))
        p = run("prune", "--max-size", "0", store, ok=False)
        self.assertEqual(p.returncode, 2)

    def test_usage_errors(self):
        store = self.two_cache_store()
        for args, words in ((["--keep-since", "soon"], "not a duration"),
                            (["--grace", "-1h"], "negative"),
                            (["--max-size", "big"], "not a size"),
                            (["extra"], "exactly one STORE")):
            with self.subTest(args):
                p = run("prune", store, *args, ok=False)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(words, p.stderr)
        before = listing(store)
        p = run("prune", "--keep-tag", "typo", store, ok=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("nothing was removed", p.stderr)
        self.assertEqual(listing(store), before)
        p = run("ls", "type=inline,ref=example.com/x:1", ok=False)
        self.assertEqual(p.returncode, 2)


class LocalRace(Base):
    """An export and a prune on the same local store at the same time, many
    rounds: no kept or newly written cache ever loses a blob."""

    ROUNDS = 8

    def test_export_and_prune_at_once(self):
        import makecache
        store = self.dir("store")
        srcs = []
        for i in range(self.ROUNDS + 1):
            srcs.append(self.dir("src%d" % i))
            # every other cache has the same layers: t(i) reuses the blobs of t(i-2)
            makecache.make(srcs[-1], 6, 2048, 100 + i % 2)
        for i in (0, 1):
            run("export", "--progress", "quiet", "--from", srcs[i], "--export-cache",
                "type=local,dest=%s,tag=t%d" % (store, i))
        for i in range(2, self.ROUNDS + 1):
            age_everything(store, 2 * HOUR)  # every blob already there is old
            exp = subprocess.Popen([CACHECTL, "export", "--progress", "quiet", "--from", srcs[i],
                                    "--export-cache", "type=local,dest=%s,tag=t%d" % (store, i)],
                                   stderr=subprocess.PIPE, text=True)
            # keeps t(i-1) and t(i): t(i-2) goes, and with it the old blobs t(i) is reusing right now
            pr = run("prune", "--keep-tag", "t%d" % (i - 1), "--keep-tag", "t%d" % i, store, ok=False)
            err = exp.communicate(timeout=300)[1]
            for p_err, code in ((pr.stderr, pr.returncode), (err, exp.returncode)):
                if code != 0:  # losing the lock race is allowed, nothing else
                    self.assertIn("could not lock", p_err)
            if exp.returncode != 0:
                run("export", "--progress", "quiet", "--from", srcs[i], "--export-cache",
                    "type=local,dest=%s,tag=t%d" % (store, i))
            for tag in ("t%d" % (i - 1), "t%d" % i):
                self.assertEqual(cl.load(store, tag).problems(), [], "round %d, %s" % (i, tag))
                run("verify", "type=local,src=%s,tag=%s" % (store, tag))
