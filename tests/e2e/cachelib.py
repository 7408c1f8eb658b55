"""An independent reader of BuildKit caches in OCI layout directories.

The end-to-end tests judge cachectl by re-reading the bytes it wrote with
this code, never by what cachectl prints about them.
"""
import gzip
import hashlib
import json
import os
import subprocess

CONFIG = "application/vnd.buildkit.cacheconfig.v0"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DIFFID = "containerd.io/uncompressed"
REF_NAME = "org.opencontainers.image.ref.name"

ENCODING = {
    "application/vnd.oci.image.layer.v1.tar": "plain",
    "application/vnd.docker.image.rootfs.diff.tar": "plain",
    "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
    "application/vnd.docker.image.rootfs.diff.tar.zstd": "zstd",
}


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sniff(data):
    if data[:3] == b"\x1f\x8b\x08":
        return "gzip"
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    return "plain"


def decompress(data):
    kind = sniff(data)
    if kind == "gzip":
        return gzip.decompress(data)
    if kind == "zstd":
        return subprocess.run(["zstd", "-dcq"], input=data, capture_output=True, check=True).stdout
    return data


class Cache:
    def __init__(self, layout, root_digest):
        self.layout = layout
        self.root_digest = root_digest
        self.root_bytes = self.blob(root_digest)
        self.root = json.loads(self.root_bytes)
        self.kind = self.root.get("mediaType")
        if "config" in self.root:
            self.config_desc = self.root["config"]
            entries = self.root.get("layers") or []
        else:
            entries = [d for d in self.root.get("manifests") or [] if d["mediaType"] != CONFIG]
            self.config_desc = [d for d in self.root["manifests"] if d["mediaType"] == CONFIG][-1]
        assert self.config_desc["mediaType"] == CONFIG, "root has no cache config"
        self.layers = {d["digest"]: d for d in entries}
        self.config_bytes = self.blob(self.config_desc["digest"])
        self.config = json.loads(self.config_bytes)

    def path(self, digest):
        return os.path.join(self.layout, "blobs", "sha256", digest.split(":", 1)[1])

    def blob(self, digest):
        with open(self.path(digest), "rb") as f:
            data = f.read()
        assert sha256(data) == digest, "blob %s does not match its digest" % digest
        return data

    def problems(self):
        """Everything wrong with the stored bytes, as a list of sentences."""
        out = []
        nodes = self.config.get("layers", [])
        for i, node in enumerate(nodes):
            p = node.get("parent", 0)
            if p != -1 and not 0 <= p < len(nodes):
                out.append("node %d parent %d out of range" % (i, p))
            if node["blob"] not in self.layers:
                out.append("node %d blob %s not in the root" % (i, node["blob"]))
        for digest, d in self.layers.items():
            if not os.path.exists(self.path(digest)):
                out.append("blob %s missing" % digest)
                continue
            data = open(self.path(digest), "rb").read()
            if sha256(data) != digest or len(data) != d["size"]:
                out.append("blob %s damaged" % digest)
                continue
            want = ENCODING.get(d["mediaType"])
            if want != sniff(data):
                out.append("blob %s is %s but typed %s" % (digest, sniff(data), d["mediaType"]))
                continue
            diff = (d.get("annotations") or {}).get(DIFFID)
            if diff != sha256(decompress(data)):
                out.append("blob %s diffID annotation %s is wrong" % (digest, diff))
        return out

    def diffid(self, blob):
        return self.layers[blob]["annotations"][DIFFID]

    def chain(self, index):
        nodes = self.config["layers"]
        out = []
        while index != -1:
            out.append(self.diffid(nodes[index]["blob"]))
            index = nodes[index].get("parent", 0)
        return tuple(reversed(out))

    def meaning(self):
        """record digest -> (inputs by linked digest, result chains by diffID)."""
        recs = self.config.get("records", [])
        out = {}
        for r in recs:
            inputs = frozenset((slot, i.get("selector", ""), recs[i["link"]]["digest"])
                               for slot, alts in enumerate(r.get("inputs", [])) for i in alts)
            results = frozenset(self.chain(res["layer"]) for res in r.get("layers", []))
            prev = out.get(r["digest"], (frozenset(), frozenset()))
            out[r["digest"]] = (prev[0] | inputs, prev[1] | results)
        return out


def index(layout):
    with open(os.path.join(layout, "index.json"), "rb") as f:
        return json.load(f)


def load(layout, tag="latest", digest=None):
    if digest is None:
        entries = index(layout)["manifests"]
        hits = [e for e in entries if (e.get("annotations") or {}).get(REF_NAME) == tag]
        assert hits, "no entry tagged %s in %s" % (tag, layout)
        digest = hits[0]["digest"]
    return Cache(layout, digest)


def tree_digest(layout):
    """path -> sha256 of every file under layout."""
    out = {}
    for base, _, files in os.walk(layout):
        for name in files:
            p = os.path.join(base, name)
            out[os.path.relpath(p, layout)] = sha256(open(p, "rb").read())
    return out
