"""ls, du, rm and prune on a gha store through GitHub's REST API for caches,
as the project's test server implements it (list, delete by id, usage),
judged by the server's own record of its entries."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import cachelib as cl
import ghalib

CACHECTL = os.environ["CACHECTL"]
FIXTURES = os.path.join(os.environ["FIXTURES"], "buildkit-v0.23.2")
SERVER = None


def setUpModule():
    global SERVER
    SERVER = ghalib.Server()


def tearDownModule():
    SERVER.stop()


def fixture(name):
    return os.path.join(FIXTURES, name, "export")


class GhaStore(unittest.TestCase):
    api = 1

    def setUp(self):
        self.server = SERVER
        self.server.reset()
        self.tmp = tempfile.mkdtemp(prefix="cachectl-lifecycle-gha-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def dir(self, name):
        return os.path.join(self.tmp, name)

    def gha(self, extra="", scope="app-fixture"):
        return "type=gha,url=%s/,scope=%s%s" % (self.server.url, scope, extra)

    def run_cachectl(self, *args, ok=True, env=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith(("ACTIONS_", "GITHUB_", "CACHECTL_GHA"))}
        e["ACTIONS_RUNTIME_TOKEN"] = ghalib.MAIN_TOKEN
        e.update(env or {})
        p = subprocess.run([CACHECTL, *args], capture_output=True, text=True, timeout=300, env=e,
                           stdin=subprocess.DEVNULL)
        if ok and p.returncode != 0:
            raise AssertionError("cachectl %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr))
        for sign in ("Sanitizer", "runtime error", "Segmentation"):
            self.assertNotIn(sign, p.stderr)
        self.assertNotIn(self.server.ghtoken, p.stdout + p.stderr)
        return p

    def export(self, src, scope):
        return self.run_cachectl("export", "--progress", "quiet", "--from", "type=local,src=" + src,
                                 "--export-cache", self.gha("", scope))

    def import_to(self, dest, scope):
        self.run_cachectl("import", "--progress", "quiet", "--import-cache", self.gha("", scope), "--dest", dest)
        return cl.load(dest)

    def store(self, scope="app-fixture"):
        return self.gha(",repository=octo/app,ghtoken=" + self.server.ghtoken, scope)

    def cachectl(self, *args, ok=True):
        return self.run_cachectl(*args, ok=ok, env={"GITHUB_API_URL": self.server.url})

    def two_scopes(self):
        self.export(fixture("local-gzip-max"), scope="a")
        self.export(fixture("local-zstd-max"), scope="b")

    def blob_keys(self):
        return {k: e for k, e in self.server.committed(1).items() if k.startswith("buildkit-blob-1-")}

    def index_of(self, scope):
        hits = sorted((k for k in self.server.committed(1) if k.startswith("index-%s-1-" % scope)),
                      key=lambda k: int(k.split("#")[1]))
        return hits[-1] if hits else None

    def referenced(self, scope):
        doc = self.import_to(self.dir("imp-" + scope + str(time.time())), scope=scope)
        return {d for d in doc.layers}

    def test_ls_and_du_agree_with_the_service(self):
        self.two_scopes()
        ls = {e["name"]: e for e in json.loads(self.cachectl("ls", "--format", "json", self.store()).stdout)["entries"]}
        self.assertEqual(set(ls), {"a", "b"})
        entries = self.server.committed(1)
        for scope in ("a", "b"):
            idx = entries[self.index_of(scope)]
            self.assertEqual(ls[scope]["digest"], "sha256:" + idx["sha256"])
            self.assertEqual(ls[scope]["size"], idx["size"])
            refs = self.referenced(scope)
            self.assertEqual(ls[scope]["blobs"], len(refs))
            self.assertEqual(ls[scope]["bytes"], idx["size"] + sum(entries["buildkit-blob-1-" + d]["size"] for d in refs))
        du = json.loads(self.cachectl("du", "--format", "json", self.store()).stdout)
        self.assertEqual(du["usageEntries"], len(entries))
        self.assertEqual(du["usageBytes"], sum(e["size"] for e in entries.values()))
        self.assertEqual(du["blobs"], len(self.blob_keys()))
        self.assertEqual(du["unreferencedBlobs"], 0)
        self.assertIn("the repository's cache usage (GitHub): %d entries" % len(entries),
                      self.cachectl("du", self.store()).stdout)

    def test_dry_run_changes_nothing_then_prune_keeps_the_kept(self):
        self.two_scopes()
        a, b = self.referenced("a"), self.referenced("b")
        before = self.server.committed(1)
        time.sleep(1.1)  # every entry is now older than --grace 1s
        dry = self.cachectl("prune", "--dry-run", "--grace", "1s", "--keep-tag", "a", self.store()).stdout
        self.assertEqual(self.server.committed(1), before)
        self.assertIn("would remove cache b", dry)
        real = self.cachectl("prune", "--grace", "1s", "--keep-tag", "a", self.store()).stdout
        self.assertIn("1 caches removed", real)
        after = self.server.committed(1)
        self.assertIsNone(self.index_of("b"))
        self.assertIsNotNone(self.index_of("a"))
        for d in b - a:
            self.assertNotIn("buildkit-blob-1-" + d, after)
        for d in a:
            self.assertIn("buildkit-blob-1-" + d, after)
        self.cachectl("verify", self.gha(scope="a"))

    def test_superseded_indexes_go_and_rm_removes_a_scope(self):
        self.export(fixture("local-gzip-max"), scope="a")
        self.export(fixture("local-zstd-max"), scope="a")  # index ...#2 supersedes #1
        self.assertEqual(len([k for k in self.server.committed(1) if k.startswith("index-a-")]), 2)
        time.sleep(1.1)
        out = self.cachectl("prune", "--grace", "1s", self.store()).stdout
        self.assertIn("delete leftover", out)
        self.assertEqual([k for k in self.server.committed(1) if k.startswith("index-a-")], [self.index_of("a")])
        self.cachectl("verify", self.gha(scope="a"))
        blobs = set(self.blob_keys())
        self.assertIn("removed cache a", self.cachectl("rm", self.gha(",repository=octo/app,ghtoken=" +
                                                                     self.server.ghtoken, "a")).stdout)
        self.assertIsNone(self.index_of("a"))
        self.assertEqual(set(self.blob_keys()), blobs)  # rm leaves blobs to prune
        p = self.cachectl("rm", self.store("a"), ok=False)
        self.assertEqual(p.returncode, 3)

    def test_without_ghtoken_it_says_what_is_needed(self):
        p = self.cachectl("ls", self.gha(), ok=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("ghtoken=", p.stderr)
        self.assertIn("repository=", p.stderr)

    def test_max_size_keeps_a_scope_under_a_budget(self):
        import bigcache
        src = self.dir("src")
        now = int(time.time())
        bigcache.make(src, 41, layers=10, keys=1, start=now - 10 * 86400, step=86400, layer_bytes=4096,
                      independent=True)
        self.export(src, scope="big")
        refs = self.referenced("big")
        sizes = {d: self.server.committed(1)["buildkit-blob-1-" + d]["size"] for d in refs}
        budget = sum(sizes.values()) // 2
        time.sleep(1.1)
        out = self.cachectl("prune", "--grace", "1s", "--max-size", str(budget), self.store()).stdout
        self.assertIn("trim cache big", out)
        left = self.referenced("big")
        self.assertLessEqual(sum(sizes[d] for d in left), budget)
        self.assertTrue(left)
        self.cachectl("verify", self.gha(scope="big"))
