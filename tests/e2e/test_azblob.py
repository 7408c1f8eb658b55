"""End-to-end tests of type=azblob through the real binary, against azurite
(which checks Shared Key signatures and SAS tokens itself, see
test_azblob_trust), cross-checked with Azure's own @azure/storage-blob SDK as
the second reader: round trips, the BuildKit fixture, names, prefixes, what
goes over the wire.

Run by CTest with CACHECTL=<binary> and FIXTURES=<fixtures dir>.
"""
import json
import os
import time
import urllib.parse

import cachelib as cl
from azcase import AZBLOB_MAX, Base, fixture, makecache_dir, read, sha256
from s3case import meaning_of_manifest


class RoundTrips(Base):
    def test_local_to_azblob_to_local_keeps_every_record_and_diffid(self):
        src = cl.load(fixture("local-gzip-max"))
        self.export(fixture("local-gzip-max"), self.az_spec(name="main"))  # the container is created
        self.assertEqual(self.names(), sorted(["blobs/" + d for d in src.layers] + ["manifests/main"]))
        doc = self.assert_complete(manifest="manifests/main")
        self.assertEqual(meaning_of_manifest(doc), src.meaning())
        for d, desc in src.layers.items():
            self.assertEqual(self.az.get(self.container, "blobs/" + d), src.blob(d))
            node = [n for n in doc["layers"] if n["blob"] == d][0]
            self.assertEqual(node["annotations"]["diffID"], desc["annotations"][cl.DIFFID])
            self.assertEqual(node["annotations"]["createdAt"], desc["annotations"]["buildkit/createdat"])
        back = self.dir("back")
        self.import_(self.az_spec(name="main"), back)
        b = cl.load(back)
        self.assertEqual(b.meaning(), src.meaning())
        self.assertEqual(b.problems(), [])
        self.assertEqual(set(b.layers), set(src.layers))

    def test_azures_own_sdk_reads_what_cachectl_wrote(self):
        self.export(fixture("local-zstd-max"), self.az_spec(name="z"))
        out = self.dir("sdk")
        listed = self.az.sdk_read(self.container, out)
        src = cl.load(fixture("local-zstd-max"))
        self.assertEqual(set(listed), {"blobs/" + d for d in src.layers} | {"manifests/z"})
        for d in src.layers:
            data = read(os.path.join(out, "blobs", d))
            self.assertEqual(sha256(data), d)
            self.assertEqual(listed["blobs/" + d], len(data))
        doc = json.loads(read(os.path.join(out, "manifests", "z")))
        self.assertEqual(meaning_of_manifest(doc), src.meaning())

    def test_the_buildkit_fixture_imports_and_goes_back_byte_for_byte(self):
        self.az.make_container(self.container)
        for d, _, files in os.walk(AZBLOB_MAX):
            for f in files:
                path = os.path.join(d, f)
                self.az.put(self.container, os.path.relpath(path, AZBLOB_MAX), read(path))
        manifest = read(os.path.join(AZBLOB_MAX, "manifests", "main"))
        fixture_doc = json.loads(manifest)
        for names in ("main", "feature", "main;feature"):
            with self.subTest(names):
                dest = self.dir("import-" + names.replace(";", "-"))
                self.import_(self.az_spec(name=names), dest)
                c = cl.load(dest)
                self.assertEqual(c.problems(), [])
                self.assertEqual(c.meaning(), meaning_of_manifest(fixture_doc))
                for d in c.layers:
                    self.assertEqual(c.blob(d), read(os.path.join(AZBLOB_MAX, "blobs", d)))
        # Unchanged, it goes back out byte for byte under both names.
        self.run_cachectl("export", "--progress", "quiet", "--from", self.az_spec(name="main"), "--export-cache",
                          self.az_spec(prefix="again", name="main;feature"))
        for name in ("main", "feature"):
            self.assertEqual(self.az.get(self.container, "again/manifests/" + name), manifest)

    def test_two_names_are_written_and_merged_on_import(self):
        a, b = fixture("local-gzip-max"), fixture("local-zstd-max")
        self.export(a, self.az_spec(name="a;a2"))
        self.export(b, self.az_spec(name="b"))
        self.assertEqual(self.az.get(self.container, "manifests/a"), self.az.get(self.container, "manifests/a2"))
        dest = self.dir("merged")
        p = self.import_(self.az_spec(name="a;gone;b"), dest)
        self.assertIn('no cache named "gone"', p.stderr)
        merged = cl.load(dest).meaning()
        for src in (cl.load(a), cl.load(b)):
            for digest, (inputs, results) in src.meaning().items():
                self.assertTrue(inputs <= merged[digest][0] and results <= merged[digest][1], digest)
        self.assertEqual(set(cl.load(dest).layers), set(cl.load(a).layers) | set(cl.load(b).layers))
        p = self.import_(self.az_spec(name="none;nothing"), self.dir("none"), ok=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn('no cache named "nothing"', p.stderr)

    # prefix options -> where blobs and manifests go (Go filepath.Join, then cleaned)
    PREFIXES = [
        ({"prefix": "team/a/"}, "team/a/blobs/", "team/a/manifests/"),
        ({"prefix": "x//y/../z", "blobs_prefix": "b//", "manifests_prefix": "./m/"}, "x/z/b/", "x/z/m/"),
        ({"prefix": "ci/..", "blobs_prefix": "/bl", "manifests_prefix": "ma"}, "bl/", "ma/"),
        ({"prefix": "/abs"}, "/abs/blobs/", "/abs/manifests/"),
        ({"blobs_prefix": "", "manifests_prefix": ""}, "blobs/", "manifests/"),
    ]

    def test_prefixes_are_joined_and_cleaned_like_go_filepath_join(self):
        src = cl.load(fixture("local-gzip-max"))
        for i, (opts, blobs, manifests) in enumerate(self.PREFIXES):
            with self.subTest(opts):
                container = "%s-%d" % (self.container, i)
                self.export(fixture("local-gzip-max"), self.az_spec(name="n", container=container, **opts))
                self.assertEqual(self.names(container),
                                 sorted([blobs + d for d in src.layers] + [manifests + "n"]))
                dest = self.dir("imp-%d" % i)
                self.import_(self.az_spec(name="n", container=container, **opts), dest)
                self.assertEqual(cl.load(dest).meaning(), src.meaning())


    def test_inspect_verify_and_a_debug_trace_show_no_secret(self):
        self.export(fixture("local-gzip-max"), self.az_spec(name="main"))
        p = self.run_cachectl("inspect", self.az_spec(name="main"))
        self.assertIn("layers: 9 blobs", p.stdout)
        self.assertIn("secret_access_key=***", p.stdout)
        p = self.run_cachectl("verify", self.az_spec(name="main"))
        self.assertIn("ok: 9 blobs", p.stdout)
        sas = self.az.sas()
        self.secrets.append(urllib.parse.parse_qs(sas)["sig"][0])
        env = dict(self.env, CACHECTL_DEBUG="http")
        p = self.run_cachectl("inspect", self.az_spec(url=self.az.url + "?" + sas, key=False, name="main"), env=env)
        self.assertIn("sig=***", p.stderr)
        self.assertIn("account_url=***", p.stdout)
        p = self.run_cachectl("verify", self.az_spec(name="main"), env=env)
        self.assertNotIn("SharedKey", p.stderr)


class Uploads(Base):
    def proxy(self, rules=()):
        self.proxy_log = self.dir("proxy.log")
        return self.az.fault_proxy(list(rules), self.proxy_log)

    def proxy_entries(self):
        with open(self.proxy_log) as f:
            return [json.loads(x) for x in f if x.strip()]

    def test_a_second_export_uploads_nothing_and_lists_once(self):
        url = self.proxy()
        path = makecache_dir(self, 12)
        self.export(path, self.az_spec(url=url))
        first = self.proxy_entries()
        self.assertEqual([e["method"] for e in first[:2]], ["GET", "PUT"])  # container properties, create
        self.assertIn("restype=container", first[1]["path"])
        lists = [e for e in first if "comp=list" in e["path"]]
        self.assertEqual(len(lists), 1)
        self.assertFalse([e for e in first if e["method"] == "HEAD"])
        blob_puts = [e for e in first if e["method"] == "PUT" and "/blobs%2F" in e["path"]]
        self.assertEqual(len(blob_puts), 12)
        self.assertTrue(first[-1]["method"] == "PUT" and "manifests%2Fbuildkit" in first[-1]["path"])
        p = self.export(path, self.az_spec(url=url))
        self.assertIn("0 written, 12 skipped", p.stderr)
        second = self.proxy_entries()[len(first):]
        self.assertEqual([(e["method"], e["status"]) for e in second], [("GET", 200), ("GET", 200), ("PUT", 201)])
        self.assertIn("manifests%2Fbuildkit", second[-1]["path"])

    def test_upload_parallelism_bounds_the_blobs_in_flight(self):
        # every blob upload takes 0.4 s at the proxy: one at a time, 8 take 3.2 s
        # (with the default 4, they take about half that on two cores)
        url = self.proxy([{"method": "PUT", "path": "/blobs%2F", "action": {"delay": 0.4}}])
        path = makecache_dir(self, 8, seed=9)
        start = time.monotonic()
        self.export(path, self.az_spec(url=url, upload_parallelism="1"))
        self.assertGreaterEqual(time.monotonic() - start, 3.2)
        self.assertEqual(len([e for e in self.proxy_entries() if e["rule"] == 0]), 8)
        self.assert_complete()

    def test_a_large_blob_goes_up_as_parallel_blocks_while_read(self):
        from s3case import make_big_cache
        path = self.dir("big")
        digest, size = make_big_cache(path, 40 << 20)
        url = self.proxy()
        self.export(path, self.az_spec(url=url))
        log = self.proxy_entries()
        blocks = [e for e in log if "comp=block&" in e["path"]]
        self.assertEqual(len(blocks), 6)  # 40 MiB + the tar header in 8 MiB blocks
        self.assertEqual(len([e for e in log if "comp=blocklist" in e["path"]]), 1)
        committed = self.az.block_list(self.container, "blobs/" + digest)
        self.assertEqual([int(s) for _, s in committed][:-1], [8 << 20] * 5)
        self.assertEqual(sum(int(s) for _, s in committed), size)
        self.assertEqual(len({len(n) for n, _ in committed}), 1)  # equal-length ids
        out = self.dir("sdk")
        listed = self.az.sdk_read(self.container, out)
        self.assertEqual(listed["blobs/" + digest], size)
        self.assertEqual(sha256(read(os.path.join(out, "blobs", digest))), digest)
        dest = self.dir("back")
        self.import_(self.az_spec(), dest)
        self.assertEqual(list(cl.load(dest).layers), [digest])

    def test_a_blob_stored_meanwhile_is_left_alone(self):
        # If-None-Match: * -- someone stored the blob between listing and upload
        path = makecache_dir(self, 3)
        digests = [d for d in cl.load(path).layers]
        self.az.make_container(self.container)
        self.az.put(self.container, "blobs/" + digests[0], b"not the real bytes")
        # the listing misses it: it is answered with an empty page
        url = self.proxy([{"method": "GET", "path": "comp=list", "action": {
            "status": 200, "headers": {"Content-Type": "application/xml"},
            "body": '<?xml version="1.0" encoding="utf-8"?><EnumerationResults><Blobs /><NextMarker />'
                    '</EnumerationResults>'}}])
        p = self.export(path, self.az_spec(url=url))
        self.assertIn("1 skipped", p.stderr)
        self.assertEqual(self.az.get(self.container, "blobs/" + digests[0]), b"not the real bytes")
        puts = [e for e in self.proxy_entries() if e["method"] == "PUT" and digests[0] in e["path"]]
        self.assertEqual([e["status"] for e in puts], [409])
