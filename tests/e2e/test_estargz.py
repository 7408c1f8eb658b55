"""End-to-end tests of compression=estargz through the real binary: writing
(reading eStargz sources and refused input: test_estargz_read.py).

Layers with every edge case a layer tar has are built here (Python's tarfile),
wrapped into a local cache, converted by cachectl, and judged by peers that
are not cachectl:
  * the reference eStargz reader (stargz-snapshotter's estargz package from
    Debian, built at test time from esgz_check.go), on every eStargz layer
    the tests produce: TOC digest, every chunk and file digest;
  * the reference converter (estargz.Build from the same package, what
    ctr-remote and nerdctl use), whose TOC for the same tar the default
    layout must reproduce, and whose blobs cachectl must read;
  * Python's streaming tarfile, which must list the TOC entry (and the
    landmark) of the default layout, and only the source's entries of the
    lossless one;
  * libarchive (tar_manifest.c), which reads the file list and contents of
    the source layer and of each conversion;
  * Python's tarfile and gzip, for the TOC metadata and the diffIDs.

Run by CTest with CACHECTL, FIXTURES, TAR_MANIFEST and ESGZ_WORK (a build
directory for the verifier).  CACHECTL_REQUIRE_PEERS=1 turns a missing Go
toolchain or estargz library into a failure instead of a skip.
"""
import gzip
import io
import json
import os
import random
import shutil
import tarfile
import unittest

import cachelib as cl
from cachelib import sha256
from harness import run
import estargzlib
from estargzlib import (
    ANN_SIZE, Base, DOCKER_GZIP, LANDMARK, OCI_GZIP, assert_toc_describes, build_tar, clean, entries_end,
    manifest, masked, reference_build, stream_names, toc_json_of, without_estargz_entries,
    write_cache,
)


def setUpModule():
    estargzlib.build_verifier()


class Writing(Base):
    def test_every_source_encoding_to_estargz(self):
        """The default (entry) layout, from gzip, zstd and plain layers."""
        src = self.source_cache()
        dest = self.dir("esgz")
        self.export(src, dest, "compression=estargz,force-compression=true")
        a, b = cl.load(src), cl.load(dest)
        self.assertEqual(b.problems(), [])
        tocs = self.assert_estargz_cache(b)
        before = self.by_created(a)
        for created, d in self.by_created(b).items():
            with self.subTest(layer=created):
                source_tar = self.tars[before[created]["annotations"][cl.DIFFID]]
                blob = b.blob(d["digest"])
                full = gzip.decompress(blob)
                toc_json = toc_json_of(blob)
                # landmark (header, one byte padded), the source's entries
                # as they were, then the TOC entry and one end-of-archive
                # marker; the source's end-of-archive blocks and record
                # padding are not copied
                end = entries_end(source_tar)
                self.assertEqual(full[:100].rstrip(b"\0"), LANDMARK.encode())
                self.assertEqual(full[512:1024], b"\x0f" + b"\0" * 511)
                self.assertEqual(full[1024:1024 + end], source_tar[:end])
                self.assertEqual(full[1024 + end:1024 + end + 100].rstrip(b"\0"), b"stargz.index.json")
                self.assertEqual(full[1024 + end + 512:1024 + end + 512 + len(toc_json)], toc_json)
                self.assertEqual(len(full), 1024 + end + 512 + (len(toc_json) + 511) // 512 * 512 + 1024)
                self.assertNotEqual(d["annotations"][cl.DIFFID], before[created]["annotations"][cl.DIFFID])
                # libarchive extracts the same files with the same contents,
                # and the TOC and the landmark besides
                got = manifest(b.path(d["digest"]))
                self.assertEqual(without_estargz_entries(got), manifest(a.path(before[created]["digest"])))
                self.assertEqual(sorted(clean(e["path"]) for e in got if e not in without_estargz_entries(got)),
                                 [LANDMARK, "stargz.index.json"])
                assert_toc_describes(self, tocs[d["digest"]], source_tar, landmark=True)
                # the reference converter (ctr-remote, nerdctl) writes the
                # same TOC for the same tar, but for compressed offsets
                ref, ref_toc_digest, _ = reference_build(source_tar, self.tmp)
                self.assertEqual(masked(toc_json), masked(toc_json_of(ref)))
                self.assertEqual(sha256(toc_json_of(ref)), ref_toc_digest)
        # the records mean the same (chains now of eStargz diffIDs)
        self.assertEqual(set(a.meaning()), set(b.meaning()))
        out = run("verify", "type=local,src=" + dest)
        self.assertIn("ok: 3 blobs", out.stdout)
        info = json.loads(run("inspect", "--format", "json", "type=local,src=" + dest).stdout)
        for layer in info["layers"]:
            self.assertEqual(layer["compression"], "estargz")
            toc = tocs[layer["digest"]]
            self.assertEqual(layer["estargz"], {"tocDigest": toc["tocDigest"],
                                                "tocEntries": len(toc["entries"] or [])})
            self.assertEqual(layer["uncompressedSize"], int(layer["annotations"][ANN_SIZE]))
        text = run("inspect", "type=local,src=" + dest).stdout
        self.assertIn("estargz TOC", text)
        self.assertIn("other diffID", text)

    def test_lossless_layout(self):
        """estargz-lossless=true: BuildKit's layout, the source tar byte for
        byte and the TOC in a tar of its own after it."""
        src = self.source_cache()
        dest = self.dir("lossless")
        self.export(src, dest, "compression=estargz,force-compression=true,estargz-lossless=true")
        a, b = cl.load(src), cl.load(dest)
        self.assertEqual(b.problems(), [])
        tocs = self.assert_estargz_cache(b, lossless=True)
        before = self.by_created(a)
        for created, d in self.by_created(b).items():
            with self.subTest(layer=created):
                source_tar = self.tars[before[created]["annotations"][cl.DIFFID]]
                blob = b.blob(d["digest"])
                full = gzip.decompress(blob)
                self.assertEqual(full[:len(source_tar)], source_tar)
                toc_json = toc_json_of(blob)
                self.assertEqual(len(full), len(source_tar) + 512 + (len(toc_json) + 511) // 512 * 512 + 1024)
                # a plain tar reader sees the source's entries and nothing else
                with tarfile.open(fileobj=io.BytesIO(source_tar), mode="r:") as t:
                    self.assertEqual(stream_names(blob), t.getnames())
                self.assertEqual(manifest(b.path(d["digest"])), manifest(a.path(before[created]["digest"])))
                assert_toc_describes(self, tocs[d["digest"]], source_tar, landmark=False)
        self.assertEqual(set(a.meaning()), set(b.meaning()))
        self.assertIn("ok: 3 blobs", run("verify", "type=local,src=" + dest).stdout)

    def test_both_layouts_from_one_export(self):
        """Two destinations asking for different layouts get different blobs."""
        src = self.source_cache()
        one, two = self.dir("one"), self.dir("two")
        run("export", "--progress", "quiet", "--from", "type=local,src=" + src,
            "--export-cache", "type=local,dest=%s,compression=estargz,force-compression=true" % one,
            "--export-cache", "type=local,dest=%s,compression=estargz,force-compression=true,"
            "estargz-lossless=true" % two)
        self.assert_estargz_cache(cl.load(one))
        self.assert_estargz_cache(cl.load(two), lossless=True)
        self.assertFalse(set(cl.load(one).layers) & set(cl.load(two).layers))
        # estargz-lossless=false is the default layout
        three = self.dir("three")
        self.export(src, three, "compression=estargz,force-compression=true,estargz-lossless=false")
        self.assertEqual(set(cl.load(one).layers), set(cl.load(three).layers))

    def test_option_is_refused_without_estargz(self):
        src = self.source_cache()
        cases = [
            ("compression=gzip,force-compression=true,estargz-lossless=true", "applies only to compression=estargz"),
            ("compression=zstd,estargz-lossless=false", "applies only to compression=estargz"),
            ("estargz-lossless=true", "applies only to compression=estargz"),
            ("compression=estargz,estargz-lossless=maybe", "estargz-lossless"),
            ("compression=estargz,estargz-lossless=", "estargz-lossless"),
        ]
        for opts, word in cases:
            with self.subTest(opts):
                dest = self.dir("refused")
                p = self.export(src, dest, opts, ok=False)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(word, p.stderr)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
                self.assertFalse(os.path.exists(dest))

    def test_levels_and_docker_media_types(self):
        src = self.source_cache()
        sizes = {}
        for level in (0, 1, 9):
            dest = self.dir("l%d" % level)
            self.export(src, dest, "compression=estargz,compression-level=%d,force-compression=true,"
                        "oci-mediatypes=%s" % (level, "false" if level == 9 else "true"))
            cache = cl.load(dest)
            self.assert_estargz_cache(cache, DOCKER_GZIP if level == 9 else OCI_GZIP)
            sizes[level] = sum(d["size"] for d in cache.layers.values())
            # Go's gzip header: XFL 4 at level 1, 2 at level 9
            first = cache.blob(max(cache.layers.values(), key=lambda d: d["size"])["digest"])
            self.assertEqual(first[8], {0: 0, 1: 4, 9: 2}[level])
        self.assertGreater(sizes[0], sizes[1])
        self.assertGreater(sizes[1], sizes[9])

    def test_without_force_only_new_blobs_change(self):
        src = self.source_cache()
        dest = self.dir("noforce")
        p = self.export(src, dest, "compression=estargz", progress="plain")
        self.assertIn("not applied to 3 existing layers", p.stderr)
        self.assertEqual(set(cl.load(src).layers), set(cl.load(dest).layers))

    def test_estargz_is_kept_and_is_deterministic(self):
        src = self.source_cache()
        one, two, again, lossless = self.dir("one"), self.dir("two"), self.dir("again"), self.dir("lossless")
        self.export(src, one, "compression=estargz,force-compression=true")
        self.export(src, two, "compression=estargz,force-compression=true")
        self.assertEqual(set(cl.load(one).layers), set(cl.load(two).layers))
        # eStargz blobs are eStargz already, whichever layout: force-compression leaves them
        self.export(one, again, "compression=estargz,force-compression=true,estargz-lossless=true")
        self.assertEqual(set(cl.load(one).layers), set(cl.load(again).layers))
        self.export(src, lossless, "compression=estargz,force-compression=true,estargz-lossless=true")
        self.export(lossless, again, "compression=estargz,force-compression=true")
        self.assertEqual(set(cl.load(lossless).layers), set(cl.load(again).layers))

    def test_same_blobs_on_one_cpu_and_on_all(self):
        """Members are compressed on one thread per CPU: the blobs must not
        depend on how many there are (the digests would differ between
        machines).  A layer of many small files, in both layouts, at two
        levels; cachectl inherits this process's CPU set."""
        cpus = os.sched_getaffinity(0)
        if len(cpus) < 2:
            self.skipTest("one CPU only: nothing to compare")
        rnd = random.Random(12)
        entries = [(dict(name="d%02d/" % d, type=tarfile.DIRTYPE, mode=0o755), b"") for d in range(20)]
        for i in range(1500):
            vocabulary = ("gzip", "member", "layer", "chunk", "toc")
            words = " ".join(rnd.choice(vocabulary) for _ in range(rnd.randrange(1, 900)))
            entries.append((dict(name="d%02d/f%04d" % (i % 20, i), mode=0o644), words.encode()))
        entries.append((dict(name="big", mode=0o644), rnd.randbytes(5 << 20)))  # two chunks, more than a piece
        tar = build_tar(entries)
        src = self.dir("src")
        write_cache(src, [(gzip.compress(tar, mtime=0), OCI_GZIP, sha256(tar), {})])
        for opts in ("compression-level=1", "estargz-lossless=true"):
            blobs = []
            for cpu_set in ({min(cpus)}, cpus):
                dest = self.dir("dest")
                os.sched_setaffinity(0, cpu_set)
                try:
                    self.export(src, dest, "compression=estargz,force-compression=true," + opts)
                finally:
                    os.sched_setaffinity(0, cpus)
                blobs.append(set(cl.load(dest).layers))
                shutil.rmtree(dest)
            self.assertEqual(blobs[0], blobs[1], opts)

    def test_an_estargz_layer_without_its_annotations(self):
        """A gzip layer that is an eStargz blob whose annotations were lost
        (the gha backend keeps none): converting it again leaves the old
        landmark and TOC out, as estargz.Build does; the lossless layout
        refuses it, as BuildKit does."""
        src = self.source_cache()
        esgz = self.dir("esgz")
        self.export(src, esgz, "compression=estargz,force-compression=true")
        e = cl.load(esgz)
        d = max(e.layers.values(), key=lambda x: x["size"])  # the edge layer
        blob = e.blob(d["digest"])
        bare = self.dir("bare")
        write_cache(bare, [(blob, OCI_GZIP, d["annotations"][cl.DIFFID], {})])
        again = self.dir("again")
        self.export(bare, again, "compression=estargz,force-compression=true")
        (d2,) = cl.load(again).layers.values()
        self.assert_estargz_cache(cl.load(again))
        # the same blob as converting the source tar: the same tar goes in
        self.assertEqual(d2["digest"], d["digest"])
        self.assertEqual(toc_json_of(cl.load(again).blob(d2["digest"])), toc_json_of(blob))
        dest = self.dir("refused")
        p = self.export(bare, dest, "compression=estargz,force-compression=true,estargz-lossless=true", ok=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("stargz.index.json", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(dest, "index.json")))


if __name__ == "__main__":
    unittest.main()
