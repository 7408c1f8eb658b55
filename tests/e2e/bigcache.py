"""Writes a synthetic cache whose config is big the way a large mode=max
build's is: few layers, many records.  Each layer is reached through a run
of key records (one per step, each linking the one before with a
selector); the last record of a run keeps the layer as its result, with a
creation time that grows with the layer.  With the defaults the config is
about 0.94 MB, the size of the caches in issue 11: two of them merged are
over BuildKit's 1 MiB.

usage: bigcache.py DIR SEED [LAYERS] [KEYS_PER_LAYER] [MONTH]
"""
import hashlib
import json
import os
import random
import sys
import time

import makecache

KEYS_PER_LAYER = 120
LAYERS = 40


def stamp(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%S.5Z", time.gmtime(seconds))


def make(root, seed, layers=LAYERS, keys=KEYS_PER_LAYER, month=1, tag="latest", start=None, step=1,
         layer_bytes=256, independent=False):
    """start (epoch seconds): result i is created at start + i*step instead
    of in 2025's `month`; independent: every layer is a base layer of its own
    (several builds' results) instead of one chain."""
    rnd = random.Random(seed)
    os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
    descs, nodes = [], []
    records = [{"digest": makecache.sha(b"big-root-%d" % seed)}]
    for i in range(layers):
        blob, diff = makecache.layer(i, layer_bytes, rnd)
        d = makecache.write_blob(root, blob)
        when = ("2025-%02d-02T03:%02d:%02d.5Z" % (month, i // 60 % 60, i % 60) if start is None
                else stamp(start + i * step))
        descs.append({"mediaType": makecache.LAYER, "digest": d, "size": len(blob),
                      "annotations": {"buildkit/createdat": when, "containerd.io/uncompressed": diff}})
        nodes.append({"blob": d, "parent": -1 if independent else i - 1})
        for k in range(keys):
            rec = {"digest": makecache.sha(b"big-%d-%d-%d" % (seed, i, k)),
                   "inputs": [[{"selector": makecache.sha(b"sel-%d-%d" % (i, k)), "link": len(records) - 1}]]}
            if k == keys - 1:
                rec["layers"] = [{"layer": i, "createdAt": when}]
            records.append(rec)
    config = json.dumps({"layers": nodes, "records": records}, separators=(",", ":")).encode()
    cd = makecache.write_blob(root, config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": makecache.CONFIG, "digest": cd, "size": len(config)},
                           "layers": descs}, separators=(",", ":")).encode()
    md = makecache.write_blob(root, manifest)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
                            "size": len(manifest),
                            "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump(index, f, separators=(",", ":"))
    return md, len(config)


if __name__ == "__main__":
    a = sys.argv[1:]
    print(make(a[0], int(a[1]), *[int(x) for x in a[2:]]))
