"""End-to-end tests of compression=estargz through the real binary.

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
import base64
import gzip
import io
import json
import os
import random
import re
import shutil
import subprocess
import tarfile
import unittest

import cachelib as cl
import harness as h
from cachelib import sha256
from harness import HERE, run

TAR_MANIFEST = os.environ["TAR_MANIFEST"]
WORK = os.environ["ESGZ_WORK"]
ESTARGZ_LIB = "/usr/share/gocode/src/github.com/containerd/stargz-snapshotter/estargz"

OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_TAR = "application/vnd.oci.image.layer.v1.tar"
DOCKER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
ANN_TOC = "containerd.io/snapshot/stargz/toc.digest"
ANN_SIZE = "io.containers.estargz.uncompressed-size"
ANN_CREATED = "buildkit/createdat"
CHUNK = 4 << 20

VERIFIER = None


def setUpModule():
    global VERIFIER
    if not shutil.which("go") or not os.path.isdir(ESTARGZ_LIB):
        h.lacking("the reference eStargz reader needs golang-go and "
                  "golang-github-containerd-stargz-snapshotter-dev (tests/install-deps.sh)")
    os.makedirs(WORK, exist_ok=True)
    exe = os.path.join(WORK, "esgz_check")
    env = dict(os.environ, GOPATH="/usr/share/gocode", GO111MODULE="off", GOFLAGS="",
               GOCACHE=os.path.join(WORK, "gocache"))
    p = subprocess.run(["go", "build", "-o", exe, os.path.join(HERE, "esgz_check.go")],
                       env=env, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise AssertionError("could not build the eStargz verifier: " + p.stderr[-1000:])
    VERIFIER = exe


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout


def clean(name):
    """Go's path.Clean("/" + name) without the leading slash."""
    return os.path.normpath("/" + name).lstrip("/")


# ---------------------------------------------------------------- layers

def build_tar(entries, fmt=tarfile.PAX_FORMAT):
    """entries: (TarInfo fields as dict, data bytes) -> tar bytes."""
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=fmt) as t:
        for fields, data in entries:
            fields = dict(fields)
            ti = tarfile.TarInfo(fields.pop("name"))
            ti.mtime = 1700000000
            for k, v in fields.items():
                setattr(ti, k, v)
            ti.size = len(data) if ti.type in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
            t.addfile(ti, io.BytesIO(data) if ti.size else None)
    return b.getvalue()


def edge_entries():
    big = random.Random(7).randbytes(2 * CHUNK + 12345)  # three chunks
    dev = dict(uid=1000, gid=1000, uname="dev", gname="dev")
    return [
        (dict(name="app/", type=tarfile.DIRTYPE, mode=0o755, **dev), b""),
        (dict(name="app/hello.txt", mode=0o644, **dev), b"hello from an estargz test\n"),
        (dict(name="app/hardlink-to-hello", type=tarfile.LNKTYPE, linkname="app/hello.txt", mode=0o644, **dev), b""),
        (dict(name="app/symlink-to-hello", type=tarfile.SYMTYPE, linkname="hello.txt", mode=0o777), b""),
        (dict(name="app/dangling", type=tarfile.SYMTYPE, linkname="/does/not/exist", mode=0o777), b""),
        # Go's TOC leaves an empty linkName out: the reader must take that as ""
        (dict(name="app/empty-target", type=tarfile.SYMTYPE, linkname="", mode=0o777), b""),
        (dict(name="app/empty-dir/", type=tarfile.DIRTYPE, mode=0o755), b""),
        (dict(name="app/setuid.sh", mode=0o4751), b"#!/bin/sh\necho odd modes\n"),
        (dict(name="app/setgid-dir/", type=tarfile.DIRTYPE, mode=0o2755), b""),
        (dict(name="app/sticky/", type=tarfile.DIRTYPE, mode=0o1777), b""),
        (dict(name="app/sticky/file", mode=0o644), b"sticky\n"),
        (dict(name="app/mode-000", mode=0), b"nobody may read this\n"),
        (dict(name="app/" + "L" * 200, mode=0o644), b""),
        (dict(name="app/deep/" + "p" * 120 + "/" + "q" * 120 + ".txt", mode=0o644), b"deep\n"),
        (dict(name="app/.wh.deleted-file", mode=0o644), b""),
        (dict(name="app/opaque/", type=tarfile.DIRTYPE, mode=0o755), b""),
        (dict(name="app/opaque/.wh..wh..opq", mode=0o644), b""),
        (dict(name="app/xattrs", mode=0o644, pax_headers={
            "SCHILY.xattr.user.comment": "kept <as> & is",
            "SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20",
            "SCHILY.xattr.user.empty": ""}), b"x"),
        (dict(name="app/fifo", type=tarfile.FIFOTYPE, mode=0o600), b""),
        (dict(name="app/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666), b""),
        (dict(name="app/loop0", type=tarfile.BLKTYPE, devmajor=7, devminor=0, mode=0o660), b""),
        (dict(name="app/fractional-mtime", mode=0o644, mtime=1700000000.75), b"t"),
        (dict(name="app/epoch-mtime", mode=0o644, mtime=0), b"e"),
        (dict(name="app/\u00fcn\u00efc\u00f8d\u00e9.txt", mode=0o644), "h\u00e9llo\n".encode()),
        (dict(name="app/big.bin", mode=0o644), big),
        (dict(name="app/exactly-one-chunk", mode=0o644), big[:CHUNK]),
        (dict(name="app/empty-file", mode=0o644), b""),
        (dict(name="app/other-owner", mode=0o644, uid=2000, gid=2000, uname="other", gname="other"), b"o\n"),
        (dict(name="app/dev-renamed", mode=0o644, uid=1000, gid=1000, uname="dev2", gname="dev"), b"r\n"),
        (dict(name="app/dev-again", mode=0o644, **dev), b"d\n"),
    ]


def small_entries():
    return [
        (dict(name="etc/", type=tarfile.DIRTYPE, mode=0o755), b""),
        (dict(name="etc/config", mode=0o600, uid=0, gid=0, uname="root", gname="root"), b"key=value\n" * 100),
        (dict(name="etc/link", type=tarfile.SYMTYPE, linkname="config", mode=0o777), b""),
        # GNU long name and long link headers ('L', 'K')
        (dict(name="etc/" + "n" * 150, mode=0o644), b"long name\n"),
        (dict(name="etc/long-link", type=tarfile.SYMTYPE, linkname="../" + "t" * 150, mode=0o777), b""),
    ]


EMPTY_LAYER = b"\0" * 1024  # BuildKit's layer for metadata-only steps


def write_cache(layout, layers):
    """A local cache (OCI layout) by hand: layers is a list of (blob, media
    type, diffID, extra annotations); layer i's parent is layer i-1 and
    record i's result is layer i."""
    blobs = os.path.join(layout, "blobs", "sha256")
    os.makedirs(blobs)

    def put(data):
        with open(os.path.join(blobs, sha256(data)[7:]), "wb") as f:
            f.write(data)
        return sha256(data)

    nodes, records, descs = [], [], []
    for i, (blob, mt, diff, extra) in enumerate(layers):
        digest = put(blob)
        node = {"blob": digest}
        if i != 1:
            node["parent"] = i - 1
        nodes.append(node)
        rec = {"layers": [{"layer": i, "createdAt": "2025-01-02T03:04:%02dZ" % i}],
               "digest": sha256(b"record %d" % i)}
        if i:
            rec["inputs"] = [[{"link": i - 1}]]
        records.append(rec)
        ann = {ANN_CREATED: "2025-01-02T03:04:%02dZ" % i, cl.DIFFID: diff}
        ann.update(extra)
        descs.append({"mediaType": mt, "digest": digest, "size": len(blob), "annotations": ann})
    config = json.dumps({"layers": nodes, "records": records}, separators=(",", ":")).encode()
    cdesc = {"mediaType": cl.CONFIG, "digest": put(config), "size": len(config)}
    root = json.dumps({"schemaVersion": 2, "mediaType": cl.OCI_MANIFEST, "config": cdesc, "layers": descs},
                      separators=(",", ":")).encode()
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": cl.OCI_INDEX, "manifests": [
            {"mediaType": cl.OCI_MANIFEST, "digest": put(root), "size": len(root),
             "annotations": {cl.REF_NAME: "latest"}}]}, f)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')


# ---------------------------------------------------------------- judges

def verify_estargz(path, toc_digest):
    """The reference reader's verdict and its view of the blob."""
    p = subprocess.run([VERIFIER, path, toc_digest], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("reference eStargz reader rejects %s: %s" % (path, p.stderr.strip()))
    return json.loads(p.stdout)


def manifest(path):
    """libarchive's list of (entry, metadata, content digest)."""
    p = subprocess.run([TAR_MANIFEST, path], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("libarchive cannot read %s: %s" % (path, p.stderr.strip()))
    out = [json.loads(line) for line in p.stdout.splitlines()]
    for e in out:
        for k in ("path", "link", "uname", "gname"):
            e[k] = bytes.fromhex(e[k]).decode("utf-8", "surrogateescape")
    return out


LANDMARK = ".no.prefetch.landmark"
LANDMARK_DIGEST = sha256(b"\x0f")


def reference_build(tar_bytes, tmp):
    """estargz.Build's blob for a layer tar: (blob, TOC digest, diffID)."""
    src, out = os.path.join(tmp, "ref-src.tar"), os.path.join(tmp, "ref-out.esgz")
    with open(src, "wb") as f:
        f.write(tar_bytes)
    p = subprocess.run([VERIFIER, "build", src, out], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError("the reference converter failed: " + p.stderr.strip())
    r = json.loads(p.stdout)
    with open(out, "rb") as f:
        return f.read(), r["tocDigest"], r["diffID"]


def toc_json_of(blob):
    """The TOC JSON bytes, found the plain way: footer, TOC member, tar header."""
    offset = int(blob[-51 + 16:-51 + 32], 16)
    toc_tar = gzip.decompress(blob[offset:-51])
    size = int(toc_tar[124:136].rstrip(b"\0").decode(), 8)
    return toc_tar[512:512 + size]


def masked(toc_json):
    """The TOC text with compressed offsets masked (compressors differ)."""
    return re.sub(rb'"offset": [0-9]+', b'"offset": X', toc_json)


def stream_names(blob):
    """What a plain streaming tar reader lists (it stops at the first
    end-of-archive marker)."""
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob)), mode="r|") as t:
        return [m.name for m in t]


def entries_end(tar_bytes):
    """Where the tar's end-of-archive marker starts."""
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as t:
        t.getmembers()
        return t.offset


def without_estargz_entries(entries):
    return [e for e in entries if clean(e["path"]) not in
            ("stargz.index.json", ".prefetch.landmark", ".no.prefetch.landmark")]


def toc_type(ti):
    return {tarfile.REGTYPE: "reg", tarfile.AREGTYPE: "reg", tarfile.LNKTYPE: "hardlink",
            tarfile.SYMTYPE: "symlink", tarfile.DIRTYPE: "dir", tarfile.CHRTYPE: "char",
            tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo"}[ti.type]


def modtime(mtime):
    if int(mtime) == 0:
        return None
    sec = int(mtime) + (1 if mtime - int(mtime) >= 0.5 else 0)
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sec))


def assert_toc_describes(test, toc, tar_bytes, landmark):
    """Every TOC field against the source tar as Python's tarfile reads it;
    with landmark, the TOC starts with the no-prefetch landmark."""
    entries = [e for e in toc["entries"] or [] if e["type"] != "chunk"]
    if landmark:
        first = dict(entries[0])
        test.assertIsInstance(first.pop("offset"), int)
        # as estargz.Build writes it: a one-byte file with no mode, owner or time
        test.assertEqual(first, {"name": LANDMARK, "type": "reg", "size": 1, "digest": LANDMARK_DIGEST,
                                 "chunkDigest": LANDMARK_DIGEST})
        test.assertEqual(toc["files"][LANDMARK], LANDMARK_DIGEST)
        entries = entries[1:]
    test.assertNotIn(LANDMARK, [e["name"] for e in entries])
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as t:
        members = t.getmembers()
        contents = {m.name: t.extractfile(m).read() for m in members if m.isreg()}
    # tarfile drops the trailing "/" the headers give directories
    test.assertEqual([e["name"].rstrip("/") for e in entries], [m.name for m in members])
    test.assertEqual([e["name"].endswith("/") for e in entries], [m.isdir() for m in members])
    users, groups = {}, {}
    for e, m in zip(entries, members):
        with test.subTest(entry=m.name):
            test.assertEqual(e["type"], toc_type(m))
            test.assertEqual(e.get("mode", 0), m.mode)
            test.assertEqual(e.get("uid", 0), m.uid)
            test.assertEqual(e.get("gid", 0), m.gid)
            test.assertEqual(e.get("modtime"), modtime(m.mtime))
            # a name is written when it is not empty and not the one last
            # written for its id
            for key, names, id_, name in (("userName", users, m.uid, m.uname),
                                          ("groupName", groups, m.gid, m.gname)):
                if name and names.get(id_) != name:
                    test.assertEqual(e.get(key), name)
                    names[id_] = name
                else:
                    test.assertNotIn(key, e)
            if m.issym() or m.islnk():
                # Go's omitempty: an empty target is no linkName at all
                test.assertEqual(e.get("linkName", ""), m.linkname)
                test.assertEqual("linkName" in e, m.linkname != "")
            else:
                test.assertNotIn("linkName", e)
            if m.ischr() or m.isblk():
                test.assertEqual((e.get("devMajor", 0), e.get("devMinor", 0)), (m.devmajor, m.devminor))
            xattrs = {k[len("SCHILY.xattr."):]: v for k, v in m.pax_headers.items()
                      if k.startswith("SCHILY.xattr.")}
            got = {k: base64.b64decode(v).decode("utf-8", "surrogateescape")
                   for k, v in (e.get("xattrs") or {}).items()}
            test.assertEqual(got, xattrs)
            if m.isreg():
                data = contents[m.name]
                test.assertEqual(e["size"] if data else e.get("size", 0), len(data))
                test.assertEqual(e["digest"], sha256(data))
                if data:
                    test.assertEqual(toc["files"][clean(m.name)], sha256(data))
    # chunk entries follow their file: 4 MiB each, the last one "to the end"
    for i, e in enumerate(toc["entries"] or []):
        if e["type"] == "reg" and e.get("size", 0) > CHUNK:
            n = (e["size"] + CHUNK - 1) // CHUNK
            chunks = toc["entries"][i + 1:i + n]
            test.assertEqual([c["type"] for c in chunks], ["chunk"] * (n - 1))
            test.assertEqual([c.get("chunkOffset") for c in chunks], [k * CHUNK for k in range(1, n)])
            test.assertEqual(e["chunkSize"], CHUNK)
            for k, c in enumerate(chunks, 1):
                test.assertEqual(c.get("chunkSize", 0), CHUNK if (k + 1) * CHUNK <= e["size"] else 0)
        if e["type"] == "reg" and e.get("size") == CHUNK:
            test.assertEqual(e["chunkSize"], CHUNK)


class Base(h.TempDirCase):
    prefix = "cachectl-esgz-"

    def source_cache(self):
        """Three layers, one per source encoding: edge cases in PAX format
        (gzip), a small GNU-format layer (zstd), the empty layer (plain)."""
        self.edge_tar = build_tar(edge_entries())
        self.small_tar = build_tar(small_entries(), fmt=tarfile.GNU_FORMAT)
        layers = [
            (gzip.compress(self.edge_tar, mtime=0), OCI_GZIP, sha256(self.edge_tar), {}),
            (zstd(self.small_tar), OCI_ZSTD, sha256(self.small_tar), {}),
            (EMPTY_LAYER, OCI_TAR, sha256(EMPTY_LAYER), {}),
        ]
        self.tars = {sha256(t): t for t in (self.edge_tar, self.small_tar, EMPTY_LAYER)}
        src = self.dir("src")
        write_cache(src, layers)
        return src

    def export(self, src, dest, opts, ok=True, progress="quiet"):
        return run("export", "--progress", progress, "--from", "type=local,src=" + src,
                   "--export-cache", "type=local,dest=%s,%s" % (dest, opts), ok=ok)

    def by_created(self, cache):
        return {d["annotations"][ANN_CREATED]: d for d in cache.layers.values()}

    def assert_estargz_cache(self, cache, media_type=OCI_GZIP, lossless=False):
        """Every layer a valid eStargz blob of the layout asked for, as the
        reference reader and a plain streaming tar reader see it."""
        tocs = {}
        for digest, d in cache.layers.items():
            ann = d["annotations"]
            data = cache.blob(digest)
            full = gzip.decompress(data)
            self.assertEqual(d["mediaType"], media_type)
            self.assertEqual(ann[cl.DIFFID], sha256(full))
            self.assertEqual(ann[ANN_SIZE], str(len(full)))
            self.assertIn(ANN_CREATED, ann)
            self.assertEqual(data[-51:-51 + 16], bytes.fromhex("1f8b08040000000000ff1a0053471600"))
            toc = verify_estargz(cache.path(digest), ann[ANN_TOC])
            self.assertEqual(toc["tocDigest"], ann[ANN_TOC])
            names = stream_names(data)
            if lossless:
                # the TOC tar follows the source's end-of-archive marker
                self.assertNotIn("stargz.index.json", names)
                self.assertNotIn(LANDMARK, names)
            else:
                # one archive: landmark first, TOC entry last
                self.assertEqual(names[0], LANDMARK)
                self.assertEqual(names[-1], "stargz.index.json")
                self.assertEqual(names.count("stargz.index.json"), 1)
                self.assertEqual(toc["entries"][0]["name"], LANDMARK)
            tocs[digest] = toc
        return tocs


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


def gzip_member(data):
    return gzip.compress(data, mtime=0)


def footer(offset):
    return (bytes.fromhex("1f8b08040000000000ff1a0053471600") + b"%016x" % offset + b"STARGZ" +
            bytes.fromhex("010000ffff0000000000000000"))


def toc_tar(toc_json):
    ti = tarfile.TarInfo("stargz.index.json")
    ti.size = len(toc_json)
    ti.mtime = 0
    ti.mode = 0
    pad = b"\0" * ((512 - len(toc_json) % 512) % 512)
    return ti.tobuf(tarfile.USTAR_FORMAT) + toc_json + pad + b"\0" * 1024


def build_style_estargz(entries):
    """(blob, TOC digest, the plain tar cachectl should give back)."""
    out, cur, toc, kept = b"", b"", [], b""
    for fields, data in entries:
        ti = tarfile.TarInfo(fields["name"])
        ti.type = fields.get("type", tarfile.REGTYPE)
        ti.mode = fields["mode"]
        ti.mtime = 1700000000
        ti.size = len(data)
        head = ti.tobuf(tarfile.USTAR_FORMAT)
        body = data + b"\0" * ((512 - len(data) % 512) % 512)
        cur += head
        e = {"name": ti.name, "type": "dir" if ti.isdir() else "reg", "mode": ti.mode,
             "modtime": "2023-11-14T22:13:20Z"}
        if data:
            out += gzip_member(cur)
            cur = b""
            e.update(size=len(data), offset=len(out), digest=sha256(data), chunkDigest=sha256(data))
        elif ti.isreg():
            e["digest"] = sha256(b"")
        cur += body
        toc.append(e)
        if clean(ti.name) != ".no.prefetch.landmark":
            kept += head + body
    out += gzip_member(cur)
    toc_json = json.dumps({"version": 1, "entries": toc}, indent="\t").encode()
    offset = len(out)
    out += gzip_member(toc_tar(toc_json)) + footer(offset)
    return out, sha256(toc_json), kept + b"\0" * 1024


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
