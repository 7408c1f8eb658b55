"""End-to-end tests of eStargz sources through the real binary: converted
back to gzip, zstd and plain tar, the reference converter's blobs read, and
the inputs refused with one clear line (tars eStargz cannot hold, truncated
tars, eStargz blobs that lie).  Judged by the reference reader and converter
(esgz_check.go) and by Python's tarfile and gzip; the helpers are in
estargzlib.py.

Run by CTest with CACHECTL, FIXTURES, TAR_MANIFEST and ESGZ_WORK;
CACHECTL_REQUIRE_PEERS=1 turns a missing Go toolchain or estargz library into
a failure instead of a skip.
"""
import gzip
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
    ANN_SIZE, ANN_TOC, Base, EMPTY_LAYER, OCI_GZIP, OCI_TAR, OCI_ZSTD, build_style_estargz,
    build_tar, clean, entries_end, footer, gzip_member, manifest, reference_build, toc_json_of,
    toc_tar, verify_estargz, write_cache,
)


def setUpModule():
    estargzlib.build_verifier()


class Reading(Base):
    def test_back_to_gzip_zstd_and_uncompressed(self):
        src = self.source_cache()
        a = cl.load(src)
        before = self.by_created(a)
        for layout in ("", ",estargz-lossless=true"):
            tag = "lossless" if layout else "entries"
            esgz = self.dir("esgz-" + tag)
            self.export(src, esgz, "compression=estargz,force-compression=true" + layout)
            e = cl.load(esgz)
            self.assert_estargz_cache(e, lossless=bool(layout))
            for comp, mt in (("gzip", OCI_GZIP), ("zstd", OCI_ZSTD), ("uncompressed", OCI_TAR)):
                with self.subTest(layout=tag, compression=comp):
                    dest = self.dir(comp + "-" + tag)
                    self.export(esgz, dest, "compression=%s,force-compression=true" % comp)
                    b = cl.load(dest)
                    self.assertEqual(b.problems(), [])
                    for created, d in self.by_created(b).items():
                        source_tar = self.tars[before[created]["annotations"][cl.DIFFID]]
                        plain = cl.decompress(b.blob(d["digest"]))
                        self.assertEqual(d["mediaType"], mt)
                        self.assertNotIn(ANN_TOC, d["annotations"])
                        self.assertNotIn(ANN_SIZE, d["annotations"])
                        self.assertEqual(d["annotations"][cl.DIFFID], sha256(plain))
                        if layout:
                            # the TOC tar is gone: the source tar, its diffID again
                            self.assertEqual(plain, source_tar)
                        else:
                            # landmark and TOC gone: the source's entries and
                            # one end-of-archive marker (the source's record
                            # padding is not restored, so the diffID may differ)
                            end = entries_end(source_tar)
                            self.assertEqual(plain, source_tar[:end] + b"\0" * 1024)
                        self.assertEqual(manifest(b.path(d["digest"])), manifest(a.path(before[created]["digest"])))
                    # the same records, with chains of the new diffIDs
                    self.assertEqual(set(a.meaning()), set(b.meaning()))
                    if layout:
                        self.assertEqual(a.meaning(), b.meaning())

    def test_what_the_reference_converter_writes(self):
        """Blobs of estargz.Build (ctr-remote, nerdctl): verified, inspected
        and converted back to the source's files."""
        self.source_cache()
        for name, tar in (("edge", self.edge_tar), ("small", self.small_tar), ("empty", EMPTY_LAYER)):
            with self.subTest(name):
                blob, toc_digest, diff_id = reference_build(tar, self.tmp)
                full = gzip.decompress(blob)
                self.assertEqual(sha256(full), diff_id)
                src = self.dir("ref-" + name)
                write_cache(src, [(blob, OCI_GZIP, diff_id, {ANN_TOC: toc_digest, ANN_SIZE: str(len(full))})])
                self.assertIn("ok: 1 blobs", run("verify", "type=local,src=" + src).stdout)
                info = json.loads(run("inspect", "--format", "json", "type=local,src=" + src).stdout)
                toc = json.loads(toc_json_of(blob))
                self.assertEqual(info["layers"][0]["estargz"], {"tocDigest": toc_digest,
                                                                "tocEntries": len(toc["entries"])})
                dest = self.dir("ref-plain-" + name)
                self.export(src, dest, "compression=uncompressed,force-compression=true")
                (d,) = cl.load(dest).layers.values()
                self.assertEqual(cl.load(dest).problems(), [])
                # Go's tar writer normalises headers: compare what they mean
                layer = self.dir("src-" + name + ".tar")
                with open(layer, "wb") as f:
                    f.write(tar)
                self.assertEqual(manifest(cl.load(dest).path(d["digest"])), manifest(layer))

    def test_landmarks_and_an_inline_toc_are_left_out(self):
        """A blob as estargz.Build (ctr-remote, nerdctl) writes it, built by
        hand: a landmark file first and the TOC as the tar's last entry."""
        entries = [
            (dict(name=".no.prefetch.landmark", mode=0o644), b"\x0f"),
            (dict(name="data/", type=tarfile.DIRTYPE, mode=0o755), b""),
            (dict(name="data/a.txt", mode=0o644), b"A" * 100),
            (dict(name="data/b.bin", mode=0o644), random.Random(3).randbytes(5000)),
        ]
        blob, toc_digest, plain = build_style_estargz(entries)
        self.assertEqual(verify_estargz(self.write(blob), toc_digest)["tocDigest"], toc_digest)
        full = gzip.decompress(blob)
        src = self.dir("src")
        write_cache(src, [(blob, OCI_GZIP, sha256(full), {ANN_TOC: toc_digest, ANN_SIZE: str(len(full))})])
        self.assertIn("ok: 1 blobs", run("verify", "type=local,src=" + src).stdout)
        info = json.loads(run("inspect", "--format", "json", "type=local,src=" + src).stdout)
        self.assertEqual(info["layers"][0]["estargz"]["tocEntries"], 4)
        dest = self.dir("plain")
        self.export(src, dest, "compression=uncompressed,force-compression=true")
        (d,) = cl.load(dest).layers.values()
        out = cl.load(dest).blob(d["digest"])
        self.assertEqual(out, plain)
        names = [clean(e["path"]) for e in manifest(cl.load(dest).path(d["digest"]))]
        self.assertEqual(names, ["data", "data/a.txt", "data/b.bin"])

    def write(self, data):
        path = os.path.join(self.tmp, sha256(data)[7:])
        with open(path, "wb") as f:
            f.write(data)
        return path


class BadInput(Base):
    def expect_refused(self, src, opts, word, code=1):
        dest = self.dir("dest")
        p = self.export(src, dest, opts, ok=False)
        self.assertEqual(p.returncode, code, p.stderr)
        self.assertIn(word, p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        # nothing refers to the layer: no documents were written
        self.assertFalse(os.path.exists(os.path.join(dest, "index.json")))
        shutil.rmtree(dest, ignore_errors=True)

    def one_layer(self, name, tar, blob=None):
        src = self.dir(name)
        write_cache(src, [(blob if blob is not None else gzip.compress(tar, mtime=0), OCI_GZIP, sha256(tar), {})])
        return src

    def test_tars_that_are_refused(self):
        f = (dict(name="f", mode=0o644), b"data")
        cases = {
            "escape": ([(dict(name="../escape", mode=0o644), b"x")], "outside the layer root"),
            "deep-escape": ([(dict(name="a/../../x", mode=0o644), b"x")], "outside the layer root"),
            "absolute": ([(dict(name="/etc/passwd", mode=0o644), b"x")], "absolute path"),
            "abs-hardlink": ([f, (dict(name="h", type=tarfile.LNKTYPE, linkname="/f", mode=0o644), b"")],
                             "absolute path"),
            "escaping-hardlink": ([f, (dict(name="h", type=tarfile.LNKTYPE, linkname="../f", mode=0o644), b"")],
                                  "outside the layer root"),
            "dangling-hardlink": ([(dict(name="h", type=tarfile.LNKTYPE, linkname="gone", mode=0o644), b"")],
                                  "not an earlier entry"),
            "duplicate": ([f, (dict(name="./f", mode=0o644), b"again")], "appears twice"),
        }
        for layout in ("", ",estargz-lossless=true"):
            for name, (entries, word) in cases.items():
                with self.subTest(name, layout=layout):
                    # GNU format: tarfile would not write "/" and ".." names as PAX paths
                    tar = build_tar(entries, fmt=tarfile.GNU_FORMAT)
                    self.expect_refused(self.one_layer(name + ("-lossless" if layout else ""), tar),
                                        "compression=estargz,force-compression=true" + layout, word)
        # a TOC entry cannot be kept in the lossless layout
        tar = build_tar([(dict(name="stargz.index.json", mode=0o644), b"{}")], fmt=tarfile.GNU_FORMAT)
        self.expect_refused(self.one_layer("toc-inside", tar),
                            "compression=estargz,force-compression=true,estargz-lossless=true",
                            "stargz.index.json")

    def test_truncated_tar(self):
        tar = build_tar([(dict(name="f", mode=0o644), random.Random(1).randbytes(20000))])[:9000]
        self.expect_refused(self.one_layer("cut", tar), "compression=estargz,force-compression=true",
                            "runcated")

    def test_lying_estargz_blobs(self):
        self.check_lying_blobs("")

    def test_lying_lossless_estargz_blobs(self):
        self.check_lying_blobs(",estargz-lossless=true")

    def check_lying_blobs(self, layout):
        src = self.source_cache()
        esgz = self.dir("esgz")
        self.export(src, esgz, "compression=estargz,force-compression=true" + layout)
        good = cl.load(esgz)
        d = max(good.layers.values(), key=lambda x: x["size"])  # the edge layer
        blob = good.blob(d["digest"])
        offset = int(blob[-51 + 16:-51 + 32], 16)
        toc_json = toc_json_of(blob)
        toc = json.loads(toc_json)

        def retoc(change):
            t = json.loads(toc_json)
            change(t["entries"])
            j = json.dumps(t, indent="\t").encode()
            return blob[:offset] + gzip_member(toc_tar(j)) + footer(offset), sha256(j)

        def retoc_text(j):
            return blob[:offset] + gzip_member(toc_tar(j)) + footer(offset), sha256(j)

        text = json.dumps(toc, indent="\t").encode()
        assert b"\n\t\t},\n\t\t{" in text
        big = next(i for i, e in enumerate(toc["entries"]) if e["name"] == "app/big.bin")

        def wrong_chunk_digest(entries):
            entries[big + 1]["chunkDigest"] = sha256(b"not this")

        def wrong_offset(entries):
            entries[big + 2]["offset"] += 1

        def wrong_file_digest(entries):
            entries[big]["digest"] = sha256(b"nor this")

        def missing_entry(entries):
            del entries[1]

        def toc_too_big(_):
            pass

        cases = [
            ("footer-offset", blob[:-51] + footer(offset - 7), None, "footer puts the TOC at offset"),
            ("footer-beyond", blob[:-51] + footer(len(blob) + 4096), None, "beyond the blob"),
            ("no-footer", blob[:-51], None, "footer"),
            ("toc-digest", blob, sha256(b"another TOC"), "TOC hashes to"),
            ("chunk-digest",) + retoc(wrong_chunk_digest) + ("chunkDigest is",),
            ("chunk-offset",) + retoc(wrong_offset) + ("offset is",),
            ("file-digest",) + retoc(wrong_file_digest) + ("digest is",),
            ("missing-entry",) + retoc(missing_entry) + ("TOC does not match",),
            # entries are read one at a time: text that is not JSON is
            # refused wherever it is, in an entry, between them or around
            ("toc-cut",) + retoc_text(text[:-1]) + ("not valid JSON",),
            ("toc-two-commas",) + retoc_text(text.replace(b"\n\t\t},\n\t\t{", b"\n\t\t},,\n\t\t{", 1)) +
            ("not valid JSON",),
            ("toc-no-comma",) + retoc_text(text.replace(b"\n\t\t},\n\t\t{", b"\n\t\t}\n\t\t{", 1)) +
            ("not valid JSON",),
            ("toc-bad-entry",) + retoc_text(text.replace(b'"type": "dir"', b'"type": dir', 1)) +
            ("not valid JSON",),
            ("toc-bad-member",) + retoc_text(text[:-2] + b',\n\t"x": }') + ("not valid JSON",),
            ("toc-entries-number",) + retoc_text(b'{"version": 1, "entries": 5}') + ("not a TOC object",),
            ("toc-array",) + retoc_text(b'[{"version": 1}]') + ("not a TOC object",),
        ]
        # a TOC tar header that claims more bytes than the blob holds
        head = toc_tar(b" " * (len(toc_json) + 100000))[:512]
        cases.append(("toc-larger", blob[:offset] + gzip_member(head + toc_json + b"\0" * 1000) + footer(offset),
                      None, "the TOC entry says"))
        for name, data, toc_digest, word in cases:
            with self.subTest(name):
                full = gzip.decompress(data)
                ann = {ANN_TOC: toc_digest or d["annotations"][ANN_TOC], ANN_SIZE: str(len(full))}
                src2 = self.dir("lie-" + name)
                write_cache(src2, [(data, OCI_GZIP, sha256(full), ann)])
                p = run("verify", "type=local,src=" + src2, ok=False)
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
                self.assertIn(word, p.stdout)
                self.expect_refused(src2, "compression=gzip,force-compression=true", word)


if __name__ == "__main__":
    unittest.main()
