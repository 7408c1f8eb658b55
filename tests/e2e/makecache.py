"""Writes a synthetic BuildKit cache in an OCI layout directory: a chain of
N gzip layers (each a tar of one file of seeded random bytes) and one cache
record per layer, rooted like BuildKit's image-manifest form.

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
    return [d["digest"] for d in descs]


if __name__ == "__main__":
    make(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 4096,
         int(sys.argv[4]) if len(sys.argv) > 4 else 1)
