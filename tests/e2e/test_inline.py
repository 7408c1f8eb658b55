"""End-to-end tests of inline caches: BuildKit's inline export (an image
whose config carries moby.buildkit.cache.v0) imported through
type=registry, and type=inline exports onto images in a real registry and
in a local OCI layout, judged against BuildKit's own bytes.

Run by CTest with CACHECTL=<binary> and FIXTURES=<fixtures dir>.
"""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import cachelib as cl
import harness as h
import registrylib as rl
from harness import FIXTURES, read

INLINE = os.path.join(FIXTURES, "inline", "export")
CONFIG_DIGEST = "sha256:900729fa817edd462acf2d1d111569d7d9d8e14a08e30e2ad2e43675abd30898"
MANIFEST_DIGEST = "sha256:486fd8bfbddb91fdb8cd9d9522366602d912afbed99afb2c4ea66ed15f9eb1f7"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
KEY = "moby.buildkit.cache.v0"


def fixture_image():
    """BuildKit's image: manifest bytes and every blob, by digest."""
    blobs = {"sha256:" + n: read(os.path.join(INLINE, "blobs", "sha256", n))
             for n in os.listdir(os.path.join(INLINE, "blobs", "sha256"))}
    return read(os.path.join(INLINE, "manifest.json")), blobs


def without_cache(manifest, blobs):
    """The same image as it was before BuildKit's exporter added the key:
    the config without that member, the manifest pointing at it."""
    config = blobs[CONFIG_DIGEST]
    start = config.index(b'"%s":"' % KEY.encode())
    end = config.index(b'"', start + len(KEY) + 4) + 2  # closing quote and the comma
    plain = config[:start] + config[end:]
    json.loads(plain)
    m = manifest.replace(CONFIG_DIGEST.encode(), rl.sha256(plain).encode())
    m = m.replace(b'"size": %d\n' % len(config), b'"size": %d\n' % len(plain), 1)
    out = dict(blobs)
    del out[CONFIG_DIGEST]
    out[rl.sha256(plain)] = plain
    return m, out, plain


def records_of(config):
    import base64
    return json.loads(base64.b64decode(json.loads(config)[KEY]))


class Inline(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = h.tempdir("cachectl-inline-")
        try:
            cls.reg = rl.Registry(cls.tmp)
        except h.Missing as e:
            h.remove_tree(cls.tmp)
            h.lacking(str(e))
        cls.manifest, cls.blobs = fixture_image()
        cls.reg.push_image("app", "inline", cls.manifest, cls.blobs)
        cls.plain_manifest, cls.plain_blobs, cls.plain_config = without_cache(cls.manifest, cls.blobs)
        # the imported fixture, as a local cache, is the source of exports
        cls.cache_dir = os.path.join(cls.tmp, "imported")
        rl.cachectl("import", "--progress", "quiet", "--import-cache",
                    "type=registry,ref=%s/app:inline" % cls.reg.host, "--dest", cls.cache_dir)

    @classmethod
    def tearDownClass(cls):
        cls.reg.stop()
        h.remove_tree(cls.tmp)

    def dir(self, name):
        return tempfile.mkdtemp(dir=self.tmp, prefix=name + "-")

    def test_fixture_imports_with_its_records_and_layers(self):
        c = cl.load(self.cache_dir)
        self.assertEqual(c.problems(), [])
        recs = c.config["records"]
        self.assertEqual((len(recs), sum(1 for r in recs if r.get("layers"))), (12, 3))
        image = json.loads(self.manifest)
        config = json.loads(self.blobs[CONFIG_DIGEST])
        self.assertEqual(set(c.layers), {d["digest"] for d in image["layers"]})
        for d, diff in zip(image["layers"], config["rootfs"]["diff_ids"]):
            self.assertEqual(c.diffid(d["digest"]), diff)
        # the records are BuildKit's, the result chains the image's prefixes
        self.assertEqual(sorted(r["digest"] for r in recs), sorted(r["digest"] for r in records_of(self.blobs[CONFIG_DIGEST])))
        chains = sorted(len(c.chain(res["layer"])) for r in recs for res in r.get("layers", []))
        self.assertEqual(chains, [2, 3, 4])

    def test_index_pointing_at_the_image(self):
        index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
                            "manifests": [{"mediaType": DOCKER_MANIFEST, "digest": MANIFEST_DIGEST,
                                           "size": len(self.manifest),
                                           "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()
        self.reg.push_manifest("app", "multi", index, "application/vnd.docker.distribution.manifest.list.v2+json")
        dest = self.dir("multi")
        rl.cachectl("import", "--progress", "quiet", "--import-cache", "type=registry,ref=%s/app:multi" % self.reg.host,
                    "--dest", dest)
        self.assertEqual(cl.load(dest).meaning(), cl.load(self.cache_dir).meaning())

    def test_export_onto_the_image_gives_buildkits_bytes(self):
        self.reg.push_image("app", "plain", self.plain_manifest, self.plain_blobs)
        p = rl.cachectl("export", "--progress", "plain", "--from", self.cache_dir,
                        "--export-cache", "type=inline,ref=%s/app:plain" % self.reg.host)
        self.assertIn("3 cache results inlined", p.stderr)
        manifest, ctype, digest = self.reg.manifest("app", "plain")
        self.assertEqual(ctype, DOCKER_MANIFEST)
        self.assertEqual(self.reg.blob("app", CONFIG_DIGEST), self.blobs[CONFIG_DIGEST])
        self.assertEqual(manifest, self.manifest)
        self.assertEqual(digest, MANIFEST_DIGEST)
        # a second run changes nothing
        rl.cachectl("export", "--progress", "quiet", "--from", self.cache_dir,
                    "--export-cache", "type=inline,ref=%s/app:plain,mode=max" % self.reg.host)
        self.assertEqual(self.reg.manifest("app", "plain")[2], MANIFEST_DIGEST)
        if shutil.which("skopeo"):
            out = subprocess.run(["skopeo", "inspect", "--config", "--raw", "--tls-verify=false",
                                  "docker://%s/app:plain" % self.reg.host], capture_output=True, check=True).stdout
            self.assertEqual(out, self.blobs[CONFIG_DIGEST])

    def test_export_under_another_name_in_another_repository(self):
        self.reg.push_image("base/app", "plain", self.plain_manifest, self.plain_blobs)
        px = rl.FaultProxy(self.tmp, self.reg.base, [])
        try:
            rl.cachectl("export", "--progress", "quiet", "--from", self.cache_dir, "--export-cache",
                        "type=inline,ref=%s/base/app:plain,name=%s/other/app:annotated" % (px.host, px.host))
            mounts = [e for e in px.log() if "mount=" in e["path"]]
        finally:
            px.stop()
        self.assertEqual(len(mounts), 4)
        self.assertTrue(all(e["status"] == 201 and "from=base/app" in e["path"] for e in mounts))
        self.assertEqual(self.reg.manifest("other/app", "annotated")[0], self.manifest)
        self.assertEqual(self.reg.manifest("base/app", "plain")[0], self.plain_manifest)  # untouched
        dest = self.dir("other")
        rl.cachectl("import", "--progress", "quiet", "--import-cache",
                    "type=registry,ref=%s/other/app:annotated" % self.reg.host, "--dest", dest)
        self.assertEqual(cl.load(dest).meaning(), cl.load(self.cache_dir).meaning())

    def test_results_whose_layers_are_not_in_the_image(self):
        # The local-gzip-max cache comes from another build: none of its
        # results has all its layers in this image.
        self.reg.push_image("app", "partial", self.plain_manifest, self.plain_blobs)
        gzip_max = os.path.join(FIXTURES, "local-gzip-max", "export")
        p = rl.cachectl("export", "--progress", "plain", "--from", gzip_max,
                        "--export-cache", "type=inline,ref=%s/app:partial" % self.reg.host)
        self.assertIn("no cache result has all its layers", p.stderr)
        self.assertIn("image left unchanged", p.stderr)
        self.assertEqual(self.reg.manifest("app", "partial")[0], self.plain_manifest)
        # Merged with the image's own cache: its 3 results go in, the
        # other build's 3 are reported as left out.
        p = rl.cachectl("export", "--progress", "plain", "--from", self.cache_dir, "--from", gzip_max,
                        "--export-cache", "type=inline,ref=%s/app:partial" % self.reg.host)
        self.assertIn("3 cache results inlined", p.stderr)
        self.assertIn("3 cache results not inlined", p.stderr)
        # The note names the records: the two builds share their cache keys,
        # so the records of the other build's results are the image's own
        # three, each also holding a result on the other build's layers.
        note = [line for line in p.stderr.splitlines() if "not inlined" in line][0]
        named = sorted(w.rstrip(",") for w in note.split("records ", 1)[1].split())
        want = sorted(r["digest"] for r in records_of(self.blobs[CONFIG_DIGEST]) if r.get("layers"))
        self.assertEqual(named, want)
        manifest, _, _ = self.reg.manifest("app", "partial")
        config = self.reg.blob("app", json.loads(manifest)["config"]["digest"])
        got = {r["digest"]: r["layers"] for r in records_of(config) if r.get("layers")}
        want = {r["digest"]: r["layers"] for r in records_of(self.blobs[CONFIG_DIGEST]) if r.get("layers")}
        self.assertEqual(got, want)

    def test_local_layout_image(self):
        layout = self.dir("layout")
        os.makedirs(os.path.join(layout, "blobs", "sha256"))
        for d, data in self.plain_blobs.items():
            with open(os.path.join(layout, "blobs", "sha256", d.split(":")[1]), "wb") as f:
                f.write(data)
        with open(os.path.join(layout, "blobs", "sha256", rl.sha256(self.plain_manifest).split(":")[1]), "wb") as f:
            f.write(self.plain_manifest)
        with open(os.path.join(layout, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')
        entry = {"mediaType": DOCKER_MANIFEST, "digest": rl.sha256(self.plain_manifest),
                 "size": len(self.plain_manifest), "annotations": {cl.REF_NAME: "plain"}}
        with open(os.path.join(layout, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "manifests": [entry]}, f)
        rl.cachectl("export", "--progress", "quiet", "--from", self.cache_dir,
                    "--export-cache", "type=inline,layout=%s,tag=plain,name=annotated" % layout)
        idx = cl.index(layout)["manifests"]
        self.assertEqual([(e["annotations"][cl.REF_NAME], e["digest"]) for e in idx],
                         [("plain", rl.sha256(self.plain_manifest)), ("annotated", MANIFEST_DIGEST)])
        self.assertEqual(read(os.path.join(layout, "blobs", "sha256", MANIFEST_DIGEST.split(":")[1])), self.manifest)
        self.assertEqual(read(os.path.join(layout, "blobs", "sha256", CONFIG_DIGEST.split(":")[1])),
                         self.blobs[CONFIG_DIGEST])
        # without name=, the tag itself moves
        rl.cachectl("export", "--progress", "quiet", "--from", self.cache_dir,
                    "--export-cache", "type=inline,layout=%s,tag=plain" % layout)
        self.assertEqual(cl.index(layout)["manifests"][0]["digest"], MANIFEST_DIGEST)

    def test_bad_input(self):
        # the rows that need no registry are in test_usage.py
        rl.cachectl("export", "--progress", "quiet", "--from", self.cache_dir,
                    "--export-cache", "type=registry,ref=%s/c/c:t" % self.reg.host)
        h.check_table(self, BAD_INPUT, lambda args, env: rl.cachectl(*h.quiet(args), ok=False),
                      src=self.cache_dir, host=self.reg.host, dest=self.dir("x"))
        # an image without an inline cache is no cache
        self.reg.push_image("app", "nocache", self.plain_manifest, self.plain_blobs)
        p = rl.cachectl("import", "--progress", "quiet", "--import-cache",
                        "type=registry,ref=%s/app:nocache" % self.reg.host, "--dest", self.dir("x"), ok=False)
        h.expect(self, p, 3, "without an inline cache")


# Options whose answer comes from the registry: (arguments, exit code, fragment)
BAD_INPUT = [
    (["export", "--from", "{src}", "--export-cache", "type=inline,ref={host}/c/c:t"], 2, "is a cache, not an image"),
    (["export", "--from", "{src}", "--export-cache", "type=inline,ref={host}/app:nosuchtag"], 3, "app:nosuchtag"),
]


if __name__ == "__main__":
    unittest.main()
