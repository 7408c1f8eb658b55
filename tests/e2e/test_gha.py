"""End-to-end tests of type=gha through the real binary, against the
project's GitHub Actions cache test server (tests/peers/gha_server.py) on
API v1 and API v2 (azurite as the blob store).  CTest runs them only after
test_gha_client.py has shown that GitHub's own client agrees with the
server.  Caches are judged by re-reading the stored entries and the local
caches imported from them (cachelib.py), not by what cachectl prints.
"""
import base64
import hashlib
import json
import os
import subprocess
import time
import unittest

import cachelib as cl
import ghalib
import harness as h
import makecache
from harness import FIXTURES, fixture

GHA_MAX = os.path.join(FIXTURES, "gha-max", "export", "entries")
INDEX_KEY = "index-app-fixture-1-" + ghalib.MAIN_H8
SERVERS = {}
MODULES = None


def setUpModule():
    global MODULES
    SERVERS[1] = ghalib.Server()
    MODULES = ghalib.node_modules()
    if MODULES:
        SERVERS[2] = ghalib.Server(azurite_modules=MODULES)


def tearDownModule():
    for s in SERVERS.values():
        s.stop()


def sha256(data):
    """The bare hex digest, as the test server's entries list it."""
    return hashlib.sha256(data).hexdigest()


class Base(h.TempDirCase):
    api = None
    prefix = "cachectl-gha-"

    def setUp(self):
        if self.api not in SERVERS:
            self.skipTest("API v2 needs node and npm (azurite)")
        self.server = SERVERS[self.api]
        self.server.reset()
        super().setUp()

    def gha(self, extra="", scope="app-fixture"):
        url = "url" if self.api == 1 else "url_v2"
        return "type=gha,%s=%s/,scope=%s%s" % (url, self.server.url, scope, extra)

    def run_cachectl(self, *args, ok=True, token=ghalib.MAIN_TOKEN, env=None):
        e = h.environment(drop_prefixes=("ACTIONS_", "GITHUB_", "CACHECTL_GHA"), ACTIONS_RUNTIME_TOKEN=token)
        e.update(env or {})
        return h.run(*args, ok=ok, env=e)

    def export(self, src, extra="", **kw):
        return self.run_cachectl("export", "--progress", "plain", "--from", "type=local,src=" + src,
                                 "--export-cache", self.gha(extra, kw.pop("scope", "app-fixture")), **kw)

    def import_to(self, dest, extra="", **kw):
        self.run_cachectl("import", "--progress", "plain", "--import-cache",
                          self.gha(extra, kw.pop("scope", "app-fixture")), "--dest", dest, **kw)
        return cl.load(dest)

    def index(self, key):
        entries = self.server.committed(self.api)
        self.assertIn(key, entries)
        return entries[key]

    def seed_buildkit_entries(self):
        n = self.server.control("seed", {"dir": GHA_MAX, "scope": ghalib.MAIN, "api": self.api,
                                         "version": ghalib.VERSION})
        self.assertEqual(n["seeded"], 10)

    def service_calls(self, kind):
        """Requests to the service of one kind: lookup, create, upload, commit."""
        out = []
        for r in self.server.log():
            p = r["path"]
            if self.api == 1:
                k = ("lookup" if r["method"] == "GET" and "/cache?" in p else
                     "create" if r["method"] == "POST" and p.endswith("/caches") else
                     "upload" if r["method"] == "PATCH" else
                     "commit" if r["method"] == "POST" and "/caches/" in p else
                     "list" if p.startswith("/repos/") else "other")
            else:
                k = ("lookup" if p.endswith("GetCacheEntryDownloadURL") else
                     "create" if p.endswith("CreateCacheEntry") else
                     "commit" if p.endswith("FinalizeCacheEntryUpload") else
                     "list" if p.startswith("/repos/") else "other")
            if k == kind:
                out.append(r)
        return out


class RoundTrip(Base):
    def test_local_to_gha_to_local_keeps_every_record_and_diffid(self):
        src = cl.load(fixture("local-gzip-max"))
        self.export(fixture("local-gzip-max"), ",mode=max")
        entries = self.server.committed(self.api)
        for digest, d in src.layers.items():
            e = entries["buildkit-blob-1-" + digest]
            self.assertEqual((e["version"], e["scope"], e["size"], "sha256:" + e["sha256"]),
                             (ghalib.VERSION, ghalib.MAIN, d["size"], digest))
        # The index: BuildKit's key, and the config with per-layer annotations.
        idx = self.index(INDEX_KEY + "#1")
        self.assertEqual(len(entries), len(src.layers) + 1)
        doc = json.loads(self.index_bytes(idx))
        for node in doc["layers"]:
            a, d = node["annotations"], src.layers[node["blob"]]
            self.assertEqual(list(a), ["mediaType", "diffID", "size", "createdAt"])
            self.assertEqual((a["mediaType"], a["diffID"], a["size"], a["createdAt"]),
                             (d["mediaType"], d["annotations"][cl.DIFFID], d["size"],
                              d["annotations"]["buildkit/createdat"]))
        back = self.import_to(self.dir("back"))
        self.assertEqual(back.problems(), [])
        self.assertEqual(back.meaning(), src.meaning())
        self.assertEqual(back.config_bytes, src.config_bytes)
        for digest, d in back.layers.items():
            self.assertEqual(d["annotations"], src.layers[digest]["annotations"])

    def index_bytes(self, entry):
        """The stored bytes of an entry, fetched the way a client would."""
        dest = self.dir("raw-%d" % entry["id"])
        os.makedirs(dest)
        key = entry["key"]
        if self.api == 1:
            status, body = self.server.raw("GET", "/_apis/artifactcache/cache?keys=%s&version=%s"
                                           % (key.replace("#", "%23"), ghalib.VERSION))
            loc = json.loads(body)["archiveLocation"]
        else:
            status, body = self.server.raw(
                "POST", "/twirp/github.actions.results.api.v1.CacheService/GetCacheEntryDownloadURL",
                json.dumps({"key": key, "restore_keys": [key], "version": ghalib.VERSION}).encode(),
                {"Content-Type": "application/json"})
            loc = json.loads(body)["signed_download_url"]
        self.assertEqual(status, 200)
        import urllib.request
        with urllib.request.urlopen(loc, timeout=60) as r:
            data = r.read()
        self.assertEqual(sha256(data), entry["sha256"])
        return data

    def test_buildkit_entries_import_unchanged_and_export_back_byte_identical(self):
        self.seed_buildkit_entries()
        dest = self.dir("imported")
        c = self.import_to(dest)
        self.assertEqual(c.problems(), [])
        with open(os.path.join(GHA_MAX, INDEX_KEY + "#1"), "rb") as f:
            index_bytes = f.read()
        # every blob byte for byte, every descriptor as the annotations say
        # (the local layout gets OCI media types, as BuildKit's local exporter)
        for node in json.loads(index_bytes)["layers"]:
            a = node["annotations"]
            with open(os.path.join(GHA_MAX, "buildkit-blob-1-" + node["blob"]), "rb") as f:
                self.assertEqual(c.blob(node["blob"]), f.read())
            d = c.layers[node["blob"]]
            self.assertEqual((cl.ENCODING[d["mediaType"]], d["size"], d["annotations"]),
                             (cl.ENCODING[a["mediaType"]], a["size"],
                              {cl.DIFFID: a["diffID"], "buildkit/createdat": a["createdAt"]}))
        self.assertEqual(c.meaning(), cl.load(fixture("local-gzip-max")).meaning())
        # gha to gha: nothing to upload, and the new index is BuildKit's
        # byte for byte (under the next number)
        self.server.control("reset-log", {})
        self.run_cachectl("export", "--progress", "plain", "--from", self.gha(), "--export-cache", self.gha())
        self.assertEqual(self.index(INDEX_KEY + "#2")["sha256"], sha256(index_bytes))
        self.assertEqual(len(self.service_calls("create")), 1)  # the index alone

    def test_small_parts_chunks_and_blocks(self):
        """Blobs larger than a part go up in chunks (v1) or blocks (v2)."""
        self.export(fixture("local-gzip-max"), env={"CACHECTL_GHA_PART_SIZE": "262144"})
        big = "sha256:f671ca523f2108c8fa41496b7a6093e98b0179d552b137e968f10250342ba40e"  # 1068684 bytes
        e = self.server.committed(self.api)["buildkit-blob-1-" + big]
        self.assertEqual((e["size"], "sha256:" + e["sha256"]), (1068684, big))
        if self.api == 1:
            ranges = sorted(r["headers"]["content-range"] for r in self.service_calls("upload")
                            if r["path"].endswith("/caches/%d" % e["id"]))
            self.assertEqual(len(ranges), 5)
            self.assertIn("bytes 1048576-1068683/*", ranges)
        else:
            # Put Block x5 + Put Block List, as azurite committed them: 20-byte
            # ids, one upload UUID, big-endian block numbers 0..4
            blocks = self.server.control("blocklist", {"key": "buildkit-blob-1-" + big})
            self.assertEqual(blocks["status"], 200)
            raw = [base64.b64decode(b) for b in blocks["blocks"]]
            self.assertEqual([len(r) for r in raw], [20] * 5)
            self.assertEqual({r[:16] for r in raw}, {raw[0][:16]})
            self.assertEqual([int.from_bytes(r[16:], "big") for r in raw], [0, 1, 2, 3, 4])
        back = self.import_to(self.dir("back"))
        self.assertEqual(back.problems(), [])


    def test_v2_blocks_of_one_blob_go_up_in_parallel(self):
        """v2: the blocks of one blob are in flight together, at most 4."""
        if self.api != 2:
            self.skipTest("v1 chunks are covered by test_small_parts_chunks_and_blocks")
        # The server fronts the upload URLs and holds each Put Block 0.3 s:
        # blocks sent one after another never overlap, parallel ones must.
        self.server.control("front-uploads", {"on": True, "block_delay": 0.3})
        self.export(fixture("local-gzip-max"), env={"CACHECTL_GHA_PART_SIZE": "262144"})
        big = "sha256:f671ca523f2108c8fa41496b7a6093e98b0179d552b137e968f10250342ba40e"  # 1068684 bytes
        key = "buildkit-blob-1-" + big
        puts = self.server.control("block-puts")
        self.assertEqual(puts[key]["puts"], 5)
        self.assertGreater(puts[key]["most_in_flight"], 1)
        self.assertLessEqual(puts[key]["most_in_flight"], 4)
        e = self.server.committed(self.api)[key]
        self.assertEqual((e["size"], "sha256:" + e["sha256"]), (1068684, big))
        raw = [base64.b64decode(b) for b in self.server.control("blocklist", {"key": key})["blocks"]]
        self.assertEqual([int.from_bytes(r[16:], "big") for r in raw], [0, 1, 2, 3, 4])
        back = self.import_to(self.dir("back"))
        self.assertEqual(back.problems(), [])

    def test_v1_requests_are_shaped_as_buildkits(self):
        """The requests BuildKit v0.23.2 made for gha-max (its meta/requests.jsonl),
        blob by blob: lookup, reserve (174-byte body), one PATCH, commit."""
        if self.api != 1:
            self.skipTest("the fixture's request log is API v1")
        src = cl.load(fixture("local-gzip-max"))
        self.export(fixture("local-gzip-max"))
        log = self.server.log()
        for digest, d in src.layers.items():
            key = "buildkit-blob-1-" + digest
            lookup = "/_apis/artifactcache/cache?keys=buildkit-blob-1-sha256%%3A%s&version=%s" % (digest[7:],
                                                                                               ghalib.VERSION)
            self.assertEqual([r["status"] for r in log if r["path"] == lookup], [204])
            cid = self.server.committed(1)[key]["id"]
            patch = [r for r in log if r["method"] == "PATCH" and r["path"].endswith("/caches/%d" % cid)]
            self.assertEqual([(r["headers"]["content-range"], r["body_size"]) for r in patch],
                             [("bytes 0-%d/*" % (d["size"] - 1), d["size"])])
            commit = [r for r in log if r["method"] == "POST" and r["path"].endswith("/caches/%d" % cid)]
            self.assertEqual([r["body_size"] for r in commit], [len('{"size":%d}' % d["size"])])
        reserves = [r for r in log if r["method"] == "POST" and r["path"] == "/_apis/artifactcache/caches"]
        self.assertEqual(sorted(r["body_size"] for r in reserves), [117] + [174] * 9)
        for r in log:
            self.assertEqual(r["headers"].get("accept"), "application/json;api-version=6.0-preview.1")
            self.assertTrue(r["headers"]["has-authorization"])
        self.assertIn("/_apis/artifactcache/cache?keys=%s%%23&version=%s" % (INDEX_KEY, ghalib.VERSION),
                      [r["path"] for r in log])

    def test_compression_options_are_honoured(self):
        """A cachectl extension: BuildKit's gha exporter ignores them."""
        self.export(fixture("local-gzip-max"), ",compression=zstd,force-compression=true")
        back = self.import_to(self.dir("zstd"))
        self.assertEqual(back.problems(), [])
        self.assertEqual({d["mediaType"] for d in back.layers.values()}, {"application/vnd.oci.image.layer.v1.tar+zstd"})
        self.assertEqual(back.meaning(), cl.load(fixture("local-gzip-max")).meaning())
        for digest in back.layers:
            self.assertIn("buildkit-blob-1-" + digest, self.server.committed(self.api))


class Index(Base):
    def test_two_exports_write_1_then_2_and_import_reads_the_newest(self):
        self.export(fixture("local-gzip-max"))
        self.export(fixture("local-zstd-max"))
        keys = sorted(k for k in self.server.committed(self.api) if k.startswith("index-"))
        self.assertEqual(keys, [INDEX_KEY + "#1", INDEX_KEY + "#2"])
        c = self.import_to(self.dir("newest"))
        self.assertEqual(c.problems(), [])
        self.assertEqual(c.meaning(), cl.load(fixture("local-zstd-max")).meaning())

    def test_second_export_uploads_nothing(self):
        self.export(fixture("local-gzip-max"))
        self.server.control("reset-log", {})
        p = self.export(fixture("local-gzip-max"))
        self.assertIn("9 skipped", p.stderr)
        creates = self.service_calls("create")
        self.assertEqual(len(creates), 1)  # the index alone
        if self.api == 1:
            self.assertEqual([r["path"] for r in self.service_calls("upload")],
                             ["/_apis/artifactcache/caches/%d" % self.index(INDEX_KEY + "#2")["id"]])

    def test_listing_replaces_one_lookup_per_blob(self):
        self.export(fixture("local-gzip-max"))
        self.server.control("reset-log", {})
        env = {"GITHUB_API_URL": self.server.url}
        p = self.export(fixture("local-gzip-max"), ",repository=octo/app,ghtoken=" + self.server.ghtoken, env=env)
        self.assertIn("9 existing blob entries listed in 1 requests", p.stderr)
        lookups = [r for r in self.service_calls("lookup") if "buildkit-blob" in r["path"]]
        self.assertEqual((len(self.service_calls("list")), lookups), (1, []))
        self.assertNotIn(self.server.ghtoken, p.stderr + p.stdout)

    def test_a_taken_number_moves_to_the_next(self):
        """A concurrent writer's #2 (reserved, committed a moment later)."""
        self.export(fixture("local-gzip-max"))
        key = INDEX_KEY + "#2"
        if self.api == 1:
            status, body = self.server.raw("POST", "/_apis/artifactcache/caches",
                                           json.dumps({"key": key, "version": ghalib.VERSION}).encode(),
                                           {"Content-Type": "application/json"})
            self.assertEqual(status, 201)
            cid = json.loads(body)["cacheId"]
        else:
            status, body = self.server.raw(
                "POST", "/twirp/github.actions.results.api.v1.CacheService/CreateCacheEntry",
                json.dumps({"key": key, "version": ghalib.VERSION}).encode(), {"Content-Type": "application/json"})
            self.assertEqual(status, 200)
            upload = json.loads(body)["signed_upload_url"]
        e = h.environment(drop_prefixes=("ACTIONS_", "GITHUB_", "CACHECTL_GHA"), ACTIONS_RUNTIME_TOKEN=ghalib.MAIN_TOKEN)
        proc = subprocess.Popen([h.CACHECTL, "export", "--progress", "plain", "--from",
                                 "type=local,src=" + fixture("local-zstd-max"), "--export-cache", self.gha()],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
        # once cachectl found #2 taken, the other writer commits it
        self.assertTrue(ghalib.wait_for(lambda: any(r["status"] == 409 for r in self.server.log()), 60))
        doc = b'{"records":[{"digest":"sha256:' + b"0" * 64 + b'"}]}'
        if self.api == 1:
            self.server.raw("PATCH", "/_apis/artifactcache/caches/%d" % cid, doc,
                            {"Content-Range": "bytes 0-%d/*" % (len(doc) - 1)})
            self.server.raw("POST", "/_apis/artifactcache/caches/%d" % cid, json.dumps({"size": len(doc)}).encode(),
                            {"Content-Type": "application/json"})
        else:
            import urllib.request
            urllib.request.urlopen(urllib.request.Request(upload, data=doc, method="PUT",
                                                          headers={"x-ms-blob-type": "BlockBlob"}), timeout=30)
            self.server.raw("POST", "/twirp/github.actions.results.api.v1.CacheService/FinalizeCacheEntryUpload",
                            json.dumps({"key": key, "size_bytes": len(doc), "version": ghalib.VERSION}).encode(),
                            {"Content-Type": "application/json"})
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("is taken", err)
        self.assertIn(INDEX_KEY + "#3", self.server.committed(self.api))
        c = self.import_to(self.dir("newest"))
        self.assertEqual(c.meaning(), cl.load(fixture("local-zstd-max")).meaning())


class Scopes(Base):
    def test_import_merges_every_scope_the_token_grants(self):
        pr_scope = "refs/pull/7/merge"
        pr = ghalib.token([(ghalib.MAIN, 1), (pr_scope, 3)])
        self.export(fixture("local-gzip-max"))                    # main writes its scope
        self.export(fixture("local-zstd-max"), token=pr)          # the PR writes its own
        pr_index = "index-app-fixture-1-" + sha256(pr_scope.encode())[:8] + "#1"
        self.assertEqual(self.index(pr_index)["scope"], pr_scope)
        merged = self.import_to(self.dir("pr"), token=pr)
        want = cl.load(fixture("local-gzip-max")).meaning()
        for k, (inputs, results) in cl.load(fixture("local-zstd-max")).meaning().items():
            prev = want.get(k, (frozenset(), frozenset()))
            want[k] = (prev[0] | inputs, prev[1] | results)
        self.assertEqual(merged.problems(), [])
        self.assertEqual(merged.meaning(), want)
        # main cannot read the PR's scope
        self.assertEqual(self.import_to(self.dir("main")).meaning(), cl.load(fixture("local-gzip-max")).meaning())


class Throttling(Base):
    def test_429_is_waited_out_and_creation_is_paced(self):
        """The service throttles for a while; the export finishes, stays under
        the pace the service enforces, and says that it waited."""
        src = self.dir("many")
        makecache.make(src, 28, 512)
        limit, window = 10, 2.0
        # a server of its own, enforcing that pace as GitHub enforces 200/60
        server = ghalib.Server(azurite_modules=MODULES if self.api == 2 else None,
                               entry_limit="%d/%g" % (limit, window))
        self.addCleanup(server.stop)
        self.server = server
        server.control("throttle", {"seconds": 2.5, "retry_after": 1})
        start = time.time()
        p = self.export(src, env={"CACHECTL_GHA_ENTRY_RATE": "%d/%g" % (limit, window)})
        stats = server.control("stats")
        self.assertGreater(stats["throttled"], 0)           # it did answer 429 for a while
        self.assertEqual(stats["rate_limited"], 0)          # cachectl never ran into the limit
        self.assertEqual(len(stats["created_times"]), 29)   # 28 blobs and the index
        self.assertLessEqual(ghalib.max_in_window(stats["created_times"], window), limit)
        self.assertGreaterEqual(time.time() - start, 2 * window)
        self.assertIn("HTTP 429; waiting 1.0s", p.stderr)   # the wait is reported
        self.assertIn("pacing new cache entries (at most 10 per 2s)", p.stderr)
        back = self.import_to(self.dir("back"))
        self.assertEqual(back.meaning(), cl.load(src).meaning())


class Failures(Base):
    def test_a_damaged_entry_fails_the_import(self):
        self.seed_buildkit_entries()
        bad = "sha256:990520a41c230dd5c0f2dfb63d459ea0336cf62a536d62a38746359228937e81"
        self.assertEqual(self.server.control("corrupt", {"key": "buildkit-blob-1-" + bad})["corrupted"], 1)
        dest = self.dir("dest")
        p = self.run_cachectl("import", "--progress", "plain", "--import-cache", self.gha(), "--dest", dest, ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(bad, p.stderr)
        blobs = os.path.join(dest, "blobs", "sha256")
        self.assertFalse(os.path.exists(os.path.join(blobs, bad[7:])))
        self.assertFalse(os.path.exists(os.path.join(dest, "index.json")))

    def test_no_cache_is_not_found(self):
        p = self.run_cachectl("import", "--import-cache", self.gha(), "--dest", self.dir("d"), ok=False)
        self.assertEqual(p.returncode, 3)
        self.assertIn("index-app-fixture-1-" + ghalib.MAIN_H8, p.stderr)

    def test_secrets_never_printed(self):
        tok = ghalib.MAIN_TOKEN
        self.server.control("throttle", {"seconds": 1, "retry_after": 1})
        p = self.export(fixture("local-gzip-max"), ",ghtoken=ghp-SECRET-VALUE,repository=octo/app",
                        env={"CACHECTL_DEBUG": "http", "GITHUB_API_URL": self.server.url})
        self.assertIn("listing existing entries failed", p.stderr)  # a wrong ghtoken
        self.assertIn("http: ", p.stderr)
        q = self.run_cachectl("export", "--from", fixture("local-gzip-max"), "--export-cache",
                              self.gha(",token=" + tok + ",timeout=bogus"), ok=False)
        self.assertEqual(q.returncode, 2)
        for out in (p.stdout + p.stderr, q.stdout + q.stderr):
            self.assertNotIn(tok, out)
            self.assertNotIn(tok.split(".")[1], out)
            self.assertNotIn("ghp-SECRET-VALUE", out)

    def test_expired_download_url_is_requested_again(self):
        if self.api != 2:
            self.skipTest("v1 download locations do not expire")
        self.seed_buildkit_entries()
        self.server.control("expire-downloads", {"count": 1})  # the index's first URL
        c = self.import_to(self.dir("d"))
        self.assertEqual(c.problems(), [])
        asked = [r for r in self.service_calls("lookup") if r["status"] == 200]
        self.assertEqual(len(asked), 2 + 9)  # the index twice, each blob once


def per_api(cls):
    """cls once for API v1 and once for API v2."""
    for api in (1, 2):
        name = "%sV%d" % (cls.__name__, api)
        globals()[name] = type(name, (cls,), {"api": api})


for _cls in (RoundTrip, Index, Scopes, Throttling, Failures):
    per_api(_cls)
del RoundTrip, Index, Scopes, Throttling, Failures, Base, _cls

if __name__ == "__main__":
    unittest.main()
