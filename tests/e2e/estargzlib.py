"""Shared by the eStargz end-to-end suites (test_estargz.py: writing,
test_estargz_read.py: reading and bad input): layer tars with every edge case
(Python's tarfile), local caches around them, the reference reader and
converter (esgz_check.go, built by build_verifier into ESGZ_WORK), and the
checks of a converted cache.
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


def build_verifier():
    """Builds the reference reader (esgz_check.go) once per suite."""
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
