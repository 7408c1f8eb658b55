"""gzip layers written in parallel: readable by every reader that matters,
the same bytes whatever the number of processors, and as small as zlib's.
And zstd encoders sharing a memory budget (CACHECTL_ZSTD_MEMORY) keep their
bytes whatever the budget.

cachectl cuts a layer into independently compressed gzip members
(core/codec/gzip_parallel.h).  Each test exports uncompressed layers with
compression=gzip through the real binary and judges the blobs with readers
that owe nothing to cachectl: Go's compress/gzip (built at test time from
gunzip_check.go), gzip, pigz, libarchive (tar_manifest) and Python's gzip.

Run by CTest with CACHECTL, TAR_MANIFEST and GZIP_WORK set.
"""
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import tarfile
import tempfile
import unittest
import zlib

import makecache

HERE = os.path.dirname(os.path.abspath(__file__))
CACHECTL = os.environ["CACHECTL"]
TAR_MANIFEST = os.environ["TAR_MANIFEST"]
WORK = os.environ["GZIP_WORK"]
REQUIRE_PEERS = os.environ.get("CACHECTL_REQUIRE_PEERS") == "1"
OCI_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MEMBER = 1 << 20  # GZIP_CHUNK

GO_READER = None


def setUpModule():
    global GO_READER
    missing = [t for t in ("go", "gzip", "pigz", "taskset") if not shutil.which(t)]
    if missing:
        why = "the gzip reader checks need %s (tests/install-deps.sh)" % ", ".join(missing)
        if REQUIRE_PEERS:
            raise AssertionError(why)
        raise unittest.SkipTest(why)
    os.makedirs(WORK, exist_ok=True)
    exe = os.path.join(WORK, "gunzip_check")
    env = dict(os.environ, GO111MODULE="off", GOFLAGS="", GOCACHE=os.path.join(WORK, "gocache"))
    p = subprocess.run(["go", "build", "-o", exe, os.path.join(HERE, "gunzip_check.go")],
                       capture_output=True, text=True, env=env, timeout=600)
    if p.returncode != 0:
        raise AssertionError("building gunzip_check: " + p.stderr)
    GO_READER = exe


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def text(rnd, n):
    """Bytes that compress about as source code does."""
    words = [bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 10)))
             for _ in range(2000)]
    out, size = [], 0
    while size < n:
        w = words[int(rnd.random() ** 3 * len(words))] + (b"\n" if rnd.random() < 0.1 else b" ")
        out.append(w)
        size += len(w)
    return b"".join(out)[:n]


def layer_tar(seed, size):
    """A tar of text and random files, about `size` bytes."""
    rnd = random.Random(seed)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        i = 0
        while buf.tell() < size:
            n = min(rnd.choice([300, 5000, 70000, 700000]), max(size - buf.tell(), 1))
            data = rnd.randbytes(n) if i % 4 == 3 else text(rnd, n)
            info = tarfile.TarInfo("d/f%05d" % i)
            info.size, info.mtime, info.mode = len(data), 1700000000, 0o644
            t.addfile(info, io.BytesIO(data))
            i += 1
    return buf.getvalue()


def run(*args, prefix=(), env=None, ok=True):
    p = subprocess.run([*prefix, CACHECTL, *args], capture_output=True, text=True, timeout=600,
                       stdin=subprocess.DEVNULL, env=dict(os.environ, **(env or {})))
    if ok and p.returncode != 0:
        raise AssertionError("cachectl %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr))
    for sign in ("Sanitizer", "runtime error", "Segmentation"):
        assert sign not in p.stderr, p.stderr
    return p


def members(blob):
    """How many gzip members, by zlib (the third reader of the count)."""
    n, rest = 0, blob
    while rest:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        d.decompress(rest)
        if not d.eof:
            raise AssertionError("a member does not end")
        rest = d.unused_data
        n += 1
    return n


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cachectl-gzip-")

    def tearDown(self):
        subprocess.run(["chmod", "-R", "u+w", self.tmp])
        shutil.rmtree(self.tmp, ignore_errors=True)

    def source(self, tars, name="src"):
        root = os.path.join(self.tmp, name)
        makecache.make_from_blobs(root, [(t, sha(t)) for t in tars], OCI_TAR)
        return root

    def export(self, src, name, opts="", prefix=(), jobs=None, encoding="gzip", env=None):
        """Exports src re-encoded; returns {diffID: blob bytes}."""
        dest = os.path.join(self.tmp, name)
        args = ["export", "--progress", "quiet", "--from", "type=local,src=" + src, "--export-cache",
                "type=local,dest=%s,compression=%s,force-compression=true%s" % (dest, encoding, opts)]
        if jobs:
            args += ["--jobs", str(jobs)]
        run(*args, prefix=prefix, env=env)
        with open(os.path.join(dest, "index.json")) as f:
            root = json.load(f)["manifests"][0]["digest"]
        with open(os.path.join(dest, "blobs", "sha256", root[7:])) as f:
            manifest = json.load(f)
        out = {}
        for d in manifest["layers"]:
            self.assertEqual(d["mediaType"], OCI_GZIP if encoding == "gzip" else OCI_ZSTD)
            with open(os.path.join(dest, "blobs", "sha256", d["digest"][7:]), "rb") as f:
                blob = f.read()
            self.assertEqual(sha(blob), d["digest"])
            out[d["annotations"]["containerd.io/uncompressed"]] = blob
        return out


class Readers(Base):
    """Every reader gets the layer's tar back, member after member."""

    def check_readers(self, tar, blob, is_tar=True):
        path = os.path.join(self.tmp, "blob.gz")
        with open(path, "wb") as f:
            f.write(blob)
        want = sha(tar)
        expected_members = max(1, -(-len(tar) // MEMBER))
        self.assertEqual(members(blob), expected_members)
        go = subprocess.run([GO_READER, path], capture_output=True, text=True, check=True).stdout.split()
        self.assertEqual(go, [want, str(expected_members)], "Go compress/gzip")
        for tool in (["gzip", "-dc", path], ["pigz", "-dc", path]):
            out = subprocess.run(tool, capture_output=True, check=True).stdout
            self.assertEqual(sha(out), want, tool[0])
        self.assertEqual(sha(gzip.decompress(blob)), want, "Python gzip")
        if not is_tar:
            return
        tar_path = os.path.join(self.tmp, "layer.tar")
        with open(tar_path, "wb") as f:
            f.write(tar)
        listing = [subprocess.run([TAR_MANIFEST, p], capture_output=True, text=True, check=True).stdout
                   for p in (path, tar_path)]
        self.assertTrue(listing[1].strip())
        self.assertEqual(listing[0], listing[1], "libarchive")

    def test_every_level_reads_back_everywhere(self):
        tar = layer_tar(1, 3 * MEMBER + 12345)
        src = self.source([tar])
        for level in (None, -2, 0, 1, 6, 9):
            with self.subTest(level=level):
                opts = "" if level is None else ",compression-level=%d" % level
                blob = self.export(src, "out%s" % level, opts)[sha(tar)]
                self.check_readers(tar, blob)

    def test_sizes_at_member_boundaries(self):
        # Empty input is one empty member; an exact multiple of the member
        # size ends without an empty member after it.
        # (The layers are opaque bytes to the encoder: not tars here.)
        rnd = random.Random(2)
        tars = [b"", text(rnd, MEMBER), text(rnd, 2 * MEMBER) + rnd.randbytes(1), rnd.randbytes(100)]
        blobs = self.export(self.source(tars), "out")
        for tar in tars:
            with self.subTest(size=len(tar)):
                if tar:
                    self.check_readers(tar, blobs[sha(tar)], is_tar=False)
                else:
                    self.assertEqual(gzip.decompress(blobs[sha(tar)]), b"")
                    self.assertEqual(members(blobs[sha(tar)]), 1)


class Deterministic(Base):
    def test_same_bytes_on_one_processor_and_on_all(self):
        tar = layer_tar(4, 5 * MEMBER)
        src = self.source([tar])
        everywhere = self.export(src, "all")
        one = self.export(src, "one", prefix=("taskset", "-c", "0"))
        self.assertEqual(sha(one[sha(tar)]), sha(everywhere[sha(tar)]))

    def test_concurrent_layers_share_the_memory_budget_and_keep_their_bytes(self):
        # Twelve layers at once hold more pieces than the shared budget
        # allows: they wait for their own pieces, and their bytes do not
        # change with the number of jobs.
        tars = [layer_tar(10 + i, 3 * MEMBER + i * 777) for i in range(12)]
        src = self.source(tars)
        wide = self.export(src, "wide", jobs=12)
        narrow = self.export(src, "narrow", jobs=1)
        self.assertEqual(len(wide), 12)
        for tar in tars:
            self.assertEqual(sha(wide[sha(tar)]), sha(narrow[sha(tar)]))
            self.assertEqual(gzip.decompress(wide[sha(tar)]), tar)


class Size(Base):
    def test_within_one_percent_of_zlib_at_the_same_level(self):
        tar = layer_tar(5, 6 * MEMBER)
        src = self.source([tar])
        for level in (1, 6, 9):
            with self.subTest(level=level):
                ours = len(self.export(src, "out%d" % level, ",compression-level=%d" % level)[sha(tar)])
                theirs = len(gzip.compress(tar, compresslevel=level, mtime=0))
                self.assertLessEqual(ours, theirs * 1.01, "level %d: %d bytes, zlib %d" % (level, ours, theirs))
        default = len(self.export(src, "default")[sha(tar)])
        self.assertLessEqual(default, len(gzip.compress(tar, compresslevel=6, mtime=0)) * 1.01)


class ZstdBudget(Base):
    def test_the_budget_changes_how_many_run_not_the_bytes(self):
        # 1 MiB: one encoder at a time; 4096 MiB: all at once.
        tars = [layer_tar(20 + i, 2 * MEMBER) for i in range(4)]
        src = self.source(tars)
        alone = self.export(src, "alone", encoding="zstd", jobs=4, env={"CACHECTL_ZSTD_MEMORY": "1"})
        together = self.export(src, "together", encoding="zstd", jobs=4, env={"CACHECTL_ZSTD_MEMORY": "4096"})
        for tar in tars:
            self.assertEqual(sha(alone[sha(tar)]), sha(together[sha(tar)]))
            self.assertEqual(subprocess.run(["zstd", "-dc"], input=alone[sha(tar)], capture_output=True,
                                            check=True).stdout, tar)

    def test_a_bad_budget_is_a_usage_error_naming_it(self):
        src = self.source([layer_tar(30, 1000)])
        dest = os.path.join(self.tmp, "bad")
        for value in ("x", "0", "-5", "12MiB"):
            with self.subTest(value=value):
                p = run("export", "--progress", "quiet", "--from", "type=local,src=" + src, "--export-cache",
                        "type=local,dest=%s,compression=zstd,force-compression=true" % dest,
                        env={"CACHECTL_ZSTD_MEMORY": value}, ok=False)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn("CACHECTL_ZSTD_MEMORY=%s is not a memory budget" % value, p.stderr)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)


if __name__ == "__main__":
    unittest.main()
