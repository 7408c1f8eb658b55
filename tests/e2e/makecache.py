"""Writes a synthetic BuildKit cache in an OCI layout directory: a chain of
N gzip layers (each a tar of one file of seeded random bytes) and one cache
record per layer, rooted like BuildKit's image-manifest form.

make_chain writes a chain of layers given by their entries (files, links,
whiteouts), for tests that look inside layers; make_app_pair two caches of
the same "app" build that differ in one file of one layer, as a build with
another package-lock.json would.

usage: makecache.py DIR LAYERS [BYTES_PER_LAYER] [SEED]
"""
import gzip
import hashlib
import io
import json
import os
import random
import sys
import tarfile

CONFIG = "application/vnd.buildkit.cacheconfig.v0"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_blob(root, data):
    d = sha(data)
    with open(os.path.join(root, "blobs", "sha256", d[7:]), "wb") as f:
        f.write(data)
    return d


def layer(index, size, rnd):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        payload = rnd.randbytes(size)
        info = tarfile.TarInfo("layer-%03d.bin" % index)
        info.size, info.mtime, info.mode = len(payload), 1700000000, 0o644
        t.addfile(info, io.BytesIO(payload))
    tar = buf.getvalue()
    return gzip.compress(tar, compresslevel=1, mtime=0), sha(tar)


def make(root, n, size=4096, seed=1):
    rnd = random.Random(seed)
    return make_from_blobs(root, [layer(i, size, rnd) for i in range(n)], LAYER, seed)


def make_from_blobs(root, blobs, media_type, seed=1):
    """The same cache shape from given (blob, diffID) pairs of one media type."""
    os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
    descs, nodes, records = [], [], [{"digest": sha(b"root-%d" % seed)}]
    for i, (blob, diff) in enumerate(blobs):
        d = write_blob(root, blob)
        when = "2025-01-02T03:%02d:%02d.5Z" % (i // 60 % 60, i % 60)
        descs.append({"mediaType": media_type, "digest": d, "size": len(blob),
                      "annotations": {"buildkit/createdat": when, "containerd.io/uncompressed": diff}})
        nodes.append({"blob": d, "parent": i - 1})
        records.append({"layers": [{"layer": i, "createdAt": when}], "digest": sha(b"step-%d-%d" % (seed, i)),
                        "inputs": [[{"link": i}]]})
    write_layout(root, nodes, records, descs)
    return [d["digest"] for d in descs]


def tar_of(entries):
    """entries: (name, kind, data_or_target, mode) with kind one of file,
    dir, symlink, hardlink; a whiteout is a file named .wh.NAME."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.mtime, info.mode = 1700000000, mode
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                t.addfile(info)
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, data
                t.addfile(info)
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, data
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_chain(root, layers, name="chain"):
    """A cache of one chain: layers[i] (a list of tar entries) on layers[i-1],
    a record per layer whose input is the record below it."""
    os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
    descs, nodes, records = [], [], [{"digest": sha(b"source-" + name.encode())}]
    for i, entries in enumerate(layers):
        tar = tar_of(entries)
        blob = gzip.compress(tar, compresslevel=6, mtime=0)
        d = write_blob(root, blob)
        when = "2025-01-02T03:04:%02d.5Z" % i
        descs.append({"mediaType": LAYER, "digest": d, "size": len(blob),
                      "annotations": {"buildkit/createdat": when, "containerd.io/uncompressed": sha(tar)}})
        nodes.append({"blob": d, "parent": i - 1})
        # like BuildKit's content-based keys: a step's key follows its input's and its own content
        key = sha((records[-1]["digest"] + sha(tar)).encode())
        records.append({"layers": [{"layer": i, "createdAt": when}], "digest": key, "inputs": [[{"link": i}]]})
    write_layout(root, nodes, records, descs)
    return [d["digest"] for d in descs]


def write_layout(root, nodes, records, descs):
    config = json.dumps({"layers": nodes, "records": records}, separators=(",", ":")).encode()
    cd = write_blob(root, config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": CONFIG, "digest": cd, "size": len(config)},
                           "layers": descs}, separators=(",", ":")).encode()
    md = write_blob(root, manifest)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                   "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
                                  "size": len(manifest),
                                  "annotations": {"org.opencontainers.image.ref.name": "latest"}}]},
                  f, separators=(",", ":"))


def app_layers(lock):
    """An app build: a base, a layer that deletes and hides base files, the
    dependencies (package-lock.json = lock), the application."""
    base = [("etc", "dir", None, 0o755), ("etc/os-release", "file", b"ID=test\n", 0o644),
            ("tmp", "dir", None, 0o1777), ("tmp/cache.bin", "file", b"x" * 3000, 0o600),
            ("var/lib/old", "dir", None, 0o755), ("var/lib/old/a.txt", "file", b"a\n", 0o644),
            ("bin/sh", "file", b"#!fake shell\n" * 100, 0o755), ("bin/ash", "hardlink", "bin/sh", 0o755)]
    cleanup = [("tmp/.wh.cache.bin", "file", b"", 0o644), ("var/lib/old/.wh..wh..opq", "file", b"", 0o644),
               ("var/lib/old/b.txt", "file", b"b\n", 0o644), ("etc/motd", "symlink", "os-release", 0o777)]
    deps = [("app", "dir", None, 0o755), ("app/package-lock.json", "file", lock, 0o644),
            ("app/node_modules/left-pad/index.js", "file", b"module.exports = 1;\n" * 50, 0o644)]
    app = [("app/server.js", "file", b"require('left-pad');\n", 0o644), ("app/README", "file", b"hi\n", 0o644)]
    return [base, cleanup, deps, app]


def make_app_pair(root_a, root_b):
    """Two caches of the app build: B's package-lock.json differs from A's."""
    a = make_chain(root_a, app_layers(b'{"lockfileVersion":3,"left-pad":"1.3.0"}\n'), "app")
    b = make_chain(root_b, app_layers(b'{"lockfileVersion":3,"left-pad":"1.3.1"}\n'), "app")
    return a, b


if __name__ == "__main__":
    make(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 4096,
         int(sys.argv[4]) if len(sys.argv) > 4 else 1)
