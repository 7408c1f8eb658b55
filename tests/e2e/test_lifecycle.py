"""End-to-end tests of the cache lifecycle through the real binary: the
1 MiB guard on export, and ls / du / rm / prune on a local store.

Run by CTest with CACHECTL=<binary> and FIXTURES=<fixtures dir>.
"""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import bigcache
import cachelib as cl

CACHECTL = os.environ["CACHECTL"]
FIXTURES = os.path.join(os.environ["FIXTURES"], "buildkit-v0.23.2")
BUILDKIT_LIMIT = 1048576


def run(*args, ok=True):
    p = subprocess.run([CACHECTL, *args], capture_output=True, text=True, timeout=300,
                       stdin=subprocess.DEVNULL)
    if ok and p.returncode != 0:
        raise AssertionError("cachectl %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr))
    for sign in ("Sanitizer", "runtime error", "Segmentation"):
        assert sign not in p.stderr, p.stderr
    return p


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cachectl-lifecycle-")

    def tearDown(self):
        subprocess.run(["chmod", "-R", "u+w", self.tmp])
        shutil.rmtree(self.tmp, ignore_errors=True)

    def dir(self, name):
        return os.path.join(self.tmp, name)


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
        for size in ("1MiB", "1048576", "1000kB"):
            with self.subTest(size):
                dest, p = self.export(",max-config-size=" + size)
                c = cl.load(dest)
                limit = {"1MiB": 1048576, "1048576": 1048576, "1000kB": 1000000}[size]
                self.assertLessEqual(c.config_desc["size"], limit)
                self.assertTrue(chains_intact(c))
                self.assertEqual(c.problems(), [])
                kept = c.meaning()
                # the newer cache is whole; what went was the older one
                for digest, (inputs, results) in self.newer.items():
                    self.assertEqual(kept[digest], (inputs, results))
                self.assertLess(len([d for d in kept if d in self.older]), len(self.older))
                self.assertIn("dropped the results of the", p.stderr)
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
