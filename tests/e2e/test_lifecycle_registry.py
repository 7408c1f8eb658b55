"""ls, du, rm and prune on a registry repository (Debian's docker-registry,
deletes enabled as prune needs), read back by registrylib's own client."""
import json
import os
import shutil
import tempfile
import time
import unittest
import urllib.error

import bigcache
import cachelib as cl
import harness as h
import registrylib as rl

FIXTURES = os.path.join(os.environ["FIXTURES"], "buildkit-v0.23.2")
REPO = "team/app-cache"


def fixture(name):
    return os.path.join(FIXTURES, name, "export")


class RegistryStore(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cachectl-lifecycle-registry-")
        self.peers = []
        try:
            self.reg = self.peer(rl.Registry(self.tmp))
        except rl.Missing as e:
            h.lacking(str(e))

    def peer(self, p):
        self.peers.append(p)
        return p

    def tearDown(self):
        for p in self.peers:
            p.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def ref(self, tag=None, reg=None):
        reg = reg or self.reg
        return "type=registry,ref=%s/%s%s" % (reg.host, REPO, ":" + tag if tag else "")

    def export(self, src, tag, reg=None):
        rl.cachectl("export", "--progress", "quiet", "--from", src, "--export-cache", self.ref(tag, reg))

    def two_caches_and_an_image(self, reg=None):
        reg = reg or self.reg
        self.export(fixture("local-gzip-max"), "a", reg)
        self.export(fixture("local-zstd-max"), "b", reg)
        a = json.loads(reg.manifest(REPO, "a")[0])
        b = json.loads(reg.manifest(REPO, "b")[0])
        only_b = [l for l in b["layers"] if l["digest"] not in {x["digest"] for x in a["layers"]}]
        config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
        manifest = json.dumps({"schemaVersion": 2, "mediaType": cl.OCI_MANIFEST,
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": rl.sha256(config), "size": len(config)},
                               "layers": [only_b[0]]}).encode()
        blobs = {rl.sha256(config): config, only_b[0]["digest"]: reg.blob(REPO, only_b[0]["digest"])}
        reg.push_image(REPO, "app-1", manifest, blobs)
        return a, b, only_b

    def listing(self):
        """The repository as its API shows it: tags, and every manifest and blob they reach."""
        tags = json.loads(self.reg.req("GET", "/v2/%s/tags/list" % REPO, REPO).read())["tags"]
        out = {}
        for t in sorted(tags):
            body, ct, dg = self.reg.manifest(REPO, t)
            doc = json.loads(body)
            out[t] = (dg, rl.sha256(body), [(d["digest"], rl.sha256(self.reg.blob(REPO, d["digest"]) or b""))
                                             for d in [doc["config"]] + doc.get("layers", [])])
        return out

    def test_ls_and_du_agree_with_the_registry(self):
        a, b, _ = self.two_caches_and_an_image()
        ls = {e["name"]: e for e in json.loads(rl.cachectl("ls", "--format", "json", self.ref()).stdout)["entries"]}
        self.assertEqual(set(ls), {"a", "b", "app-1"})
        self.assertEqual(ls["app-1"]["kind"], "image")
        for tag, doc in (("a", a), ("b", b)):
            body, _, digest = self.reg.manifest(REPO, tag)
            config = json.loads(self.reg.blob(REPO, doc["config"]["digest"]))
            self.assertEqual(ls[tag]["kind"], "cache")
            self.assertEqual(ls[tag]["digest"], digest)
            self.assertEqual(ls[tag]["records"], len(config["records"]))
            self.assertEqual(ls[tag]["blobs"], len({d["digest"] for d in doc["layers"]}) + 2)
            self.assertEqual(ls[tag]["bytes"], len(body) + doc["config"]["size"] +
                             sum({d["digest"]: d["size"] for d in doc["layers"]}.values()))
        du = json.loads(rl.cachectl("du", "--format", "json", self.ref()).stdout)
        self.assertFalse(du["blobsListed"])
        self.assertIn("unreferenced bytes unknown", rl.cachectl("du", self.ref()).stdout)

    def test_dry_run_changes_nothing_then_prune_deletes_by_digest(self):
        a, b, only_b = self.two_caches_and_an_image()
        before = self.listing()
        dry = rl.cachectl("prune", "--dry-run", "--keep-tag", "a", self.ref()).stdout
        self.assertEqual(self.listing(), before)
        b_digest = before["b"][0]
        self.assertIn("would remove cache b (%s)" % b_digest, dry)
        # what the collector will free: b's root, config and the layers no one else has
        expected = [b_digest, b["config"]["digest"]] + [l["digest"] for l in only_b[1:]]
        for d in expected:
            self.assertIn("would unreference blob " + d, dry)
        self.assertNotIn(only_b[0]["digest"], dry)  # the image still uses it
        out = rl.cachectl("prune", "--keep-tag", "a", self.ref()).stdout
        self.assertIn("left for the registry's garbage collector to free", out)
        self.assertIn("1 caches removed", out)
        self.assertIsNone(self.reg.manifest(REPO, "b"))
        self.assertIsNone(self.reg.manifest(REPO, b_digest))
        after = self.listing()
        self.assertEqual(after["a"], before["a"])
        self.assertEqual(after["app-1"], before["app-1"])
        layout = os.path.join(self.tmp, "a")
        self.reg.dump(REPO, "a", layout)
        self.assertEqual(cl.load(layout).problems(), [])
        rl.cachectl("verify", self.ref("a"))

    def test_rm(self):
        self.two_caches_and_an_image()
        digest = self.reg.manifest(REPO, "b")[2]
        self.assertIn("removed cache b", rl.cachectl("rm", self.ref("b")).stdout)
        self.assertIsNone(self.reg.manifest(REPO, digest))
        p = rl.cachectl("rm", self.ref("b"), ok=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        p = rl.cachectl("rm", self.ref("app-1"), ok=False)  # an image is not a cache
        self.assertEqual(p.returncode, 3, p.stderr)

    def test_a_registry_that_refuses_deletes_says_how_to_allow_them(self):
        reg = self.peer(rl.Registry(self.tmp, delete=False))
        self.two_caches_and_an_image(reg)
        p = rl.cachectl("prune", "--keep-tag", "a", self.ref(reg=reg), ok=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("delete: enabled: true", p.stderr)
        self.assertIsNotNone(reg.manifest(REPO, "b"))

    def test_keep_since_pushes_a_trimmed_cache_and_deletes_the_old_root(self):
        src = os.path.join(self.tmp, "src")
        now = int(time.time())
        bigcache.make(src, 31, layers=10, keys=2, start=now - 10 * 86400 + 3600, step=86400, layer_bytes=1024,
                      independent=True)
        self.export("type=local,src=" + src, "latest")
        old = self.reg.manifest(REPO, "latest")[2]
        out = rl.cachectl("prune", "--keep-since", "3d", self.ref()).stdout
        self.assertIn("trim cache latest", out)
        new = self.reg.manifest(REPO, "latest")[2]
        self.assertNotEqual(new, old)
        self.assertIsNone(self.reg.manifest(REPO, old))
        layout = os.path.join(self.tmp, "trimmed")
        self.reg.dump(REPO, "latest", layout)
        c = cl.load(layout)
        self.assertEqual(c.problems(), [])
        self.assertEqual(len([r for rec in c.config["records"] for r in rec.get("layers", [])]), 3)
        rl.cachectl("verify", self.ref("latest"))


if __name__ == "__main__":
    unittest.main()
