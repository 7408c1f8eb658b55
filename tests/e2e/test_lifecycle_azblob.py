"""ls, du, rm and prune on an azblob store (azurite, which checks every
signature and condition itself), judged by reading the container directly
and with Azure's own @azure/storage-blob SDK.  The conditional deletes are
shown working by changing a blob while cachectl's Delete Blob is held back
by the fault proxy: Azure then refuses it (If-Match, If-Unmodified-Since).

Run by CTest with CACHECTL=<binary> and FIXTURES=<fixtures dir>."""
import json
import os
import re
import subprocess
import threading
import time
import urllib.parse

import bigcache
import cachelib as cl
import harness as h
import makecache
from azcase import AZBLOB_MAX, Base, fixture, read, sha256, spec

HOUR = 3600


class Store(Base):
    def put_cache(self, src, name, **opts):
        self.export(src, self.az_spec(name=name, **opts))

    def manifest(self, name):
        return json.loads(self.az.get(self.container, "manifests/" + name))

    def referenced(self, name):
        return {l["blob"]: l["annotations"]["size"] for l in self.manifest(name)["layers"]}

    def blob_names(self):
        return [n for n in self.names() if n.startswith("blobs/")]

    def raw_listing(self):
        """The container's own listing (names, sizes, ETags, times) and every blob's bytes."""
        status, _, body = self.az.request("GET", self.container, query="restype=container&comp=list")
        self.assertEqual(status, 200)
        body = re.sub(rb"<ServerEncrypted>.*?</ServerEncrypted>", b"", body)
        return body, {n: sha256(self.az.get(self.container, n)) for n in self.names()}

    def two_caches(self):
        self.put_cache(fixture("local-gzip-max"), "a")
        self.put_cache(fixture("local-zstd-max"), "b")

    def ls(self, store=None):
        out = self.run_cachectl("ls", "--format", "json", store or self.az_spec())
        return {e["name"]: e for e in json.loads(out.stdout)["entries"]}

    def test_ls_and_du_agree_with_the_container_and_the_sdk(self):
        self.two_caches()
        stray = b"nobody's blob"
        self.az.put(self.container, "blobs/" + sha256(stray), stray)
        self.az.put(self.container, "blobs/notes.txt", b"not a digest: not ours")
        ls = self.ls()
        self.assertEqual(set(ls), {"a", "b"})
        refs = {n: self.referenced(n) for n in ("a", "b")}
        sdk = self.az.sdk_read(self.container, self.dir("sdk"))
        for n in ("a", "b"):
            doc = self.az.get(self.container, "manifests/" + n)
            self.assertEqual(ls[n]["digest"], sha256(doc))
            self.assertEqual(ls[n]["size"], len(doc))
            self.assertEqual(sdk["manifests/" + n], len(doc))
            self.assertEqual(ls[n]["records"], len(json.loads(doc)["records"]))
            self.assertEqual(ls[n]["blobs"], len(refs[n]))
            self.assertEqual(ls[n]["bytes"], sum(refs[n].values()) + len(doc))
            self.assertFalse(ls[n]["overBuildKitConfigLimit"])
        du = json.loads(self.run_cachectl("du", "--format", "json", self.az_spec()).stdout)
        digests = {k: v for k, v in sdk.items() if k.startswith("blobs/sha256:")}
        self.assertEqual(du["blobs"], len(digests))
        self.assertEqual(du["storedBytes"], sum(digests.values()))
        self.assertEqual((du["unreferencedBlobs"], du["unreferencedBytes"]), (1, len(stray)))
        for e in du["entries"]:
            other = refs["b" if e["name"] == "a" else "a"]
            self.assertEqual(e["uniqueBytes"], sum(s for d, s in refs[e["name"]].items() if d not in other))
            self.assertEqual(e["bytes"], ls[e["name"]]["bytes"])
        text = self.run_cachectl("du", self.az_spec()).stdout
        self.assertIn("unreferenced", text)

    def test_dry_run_changes_nothing_then_prune_keeps_the_kept(self):
        self.two_caches()
        only_b = set(self.referenced("b")) - set(self.referenced("a"))
        self.assertTrue(only_b)
        before = self.raw_listing()
        dry = self.run_cachectl("prune", "--dry-run", "--grace", "0", "--keep-tag", "a", self.az_spec()).stdout
        self.assertEqual(self.raw_listing(), before)
        self.assertIn("would remove cache b", dry)
        for d in only_b:
            self.assertIn("would delete blob " + d, dry)
        real = self.run_cachectl("prune", "--grace", "0", "--keep-tag", "a", self.az_spec()).stdout
        self.assertIn("1 caches removed", real)
        self.assertIn("%d blobs deleted" % len(only_b), real)
        names = set(self.names())
        self.assertNotIn("manifests/b", names)
        for d in only_b:
            self.assertNotIn("blobs/" + d, names)
        self.assertEqual(set(self.blob_names()), {"blobs/" + d for d in self.referenced("a")})
        self.assert_complete(manifest="manifests/a")
        self.run_cachectl("verify", self.az_spec(name="a"))
        back = self.dir("back")
        self.import_(self.az_spec(name="a"), back)
        self.assertEqual(cl.load(back).meaning(), cl.load(fixture("local-gzip-max")).meaning())

    def test_a_buildkit_written_container_survives_a_prune(self):
        self.az.make_container(self.container)
        for d, _, files in os.walk(AZBLOB_MAX):
            for f in files:
                path = os.path.join(d, f)
                self.az.put(self.container, os.path.relpath(path, AZBLOB_MAX), read(path))
        before = self.raw_listing()
        out = self.run_cachectl("prune", "--grace", "0", self.az_spec()).stdout
        self.assertRegex(out, r"\b0 blobs deleted")
        self.assertEqual(self.raw_listing(), before)
        for name in self.ls():
            self.run_cachectl("verify", self.az_spec(name=name))

    def test_default_grace_spares_what_is_young(self):
        self.two_caches()
        self.run_cachectl("rm", self.az_spec(name="b"))
        before = set(self.names())
        out = self.run_cachectl("prune", self.az_spec()).stdout
        self.assertEqual(set(self.names()), before)  # minutes old, not an hour
        self.assertRegex(out, r"0 blobs deleted.* [1-9][0-9]* unreferenced blobs younger than --grace kept")

    def test_rm_removes_one_document_and_no_blob(self):
        self.two_caches()
        blobs = self.blob_names()
        out = self.run_cachectl("rm", self.az_spec(name="b")).stdout
        self.assertIn("removed cache b", out)
        self.assertEqual(set(self.ls()), {"a"})
        self.assertEqual(self.blob_names(), blobs)
        p = self.run_cachectl("rm", self.az_spec(name="b"), ok=False)
        self.assertEqual(p.returncode, 3)
        self.assertIn('no cache called "b"', p.stderr)

    def test_prefixes_and_names_with_folders(self):
        o = {"prefix": "ci/../ci//x", "manifests_prefix": "m", "blobs_prefix": "b"}
        self.put_cache(fixture("local-gzip-max"), "team/main", **o)
        self.put_cache(fixture("local-zstd-max"), "other", **o)
        self.az.put(self.container, "ci/x/m-not-ours", b"{}")  # beside the folder, not in it
        ls = self.ls(self.az_spec(**o))
        self.assertEqual(set(ls), {"team/main", "other"})
        self.run_cachectl("prune", "--grace", "0", "--keep-tag", "team/main", self.az_spec(**o))
        names = set(self.names())
        self.assertIn("ci/x/m-not-ours", names)
        self.assertNotIn("ci/x/m/other", names)
        self.assert_complete(blobs="ci/x/b/", manifest="ci/x/m/team/main")
        self.assertEqual({n for n in names if n.startswith("ci/x/b/")},
                         {"ci/x/b/" + d for d in self.referenced_at("ci/x/m/team/main")})

    def test_documents_and_blobs_in_one_folder(self):
        o = {"prefix": "one", "manifests_prefix": ".", "blobs_prefix": "."}  # both "one/"
        self.put_cache(fixture("local-gzip-max"), "a", **o)
        self.put_cache(fixture("local-zstd-max"), "b", **o)
        self.assertEqual(set(self.ls(self.az_spec(**o))), {"a", "b"})
        self.run_cachectl("prune", "--grace", "0", "--keep-tag", "b", self.az_spec(**o))
        self.assertEqual(set(self.names()), {"one/b"} | {"one/" + d for d in self.referenced_at("one/b")})
        self.run_cachectl("verify", self.az_spec(name="b", **o))

    def referenced_at(self, manifest):
        return {l["blob"] for l in json.loads(self.az.get(self.container, manifest))["layers"]}

    def test_keep_since_rewrites_the_document(self):
        src = self.dir("src")
        now = int(time.time())
        bigcache.make(src, 21, layers=12, keys=2, start=now - 12 * 86400 + HOUR, step=86400, layer_bytes=1024,
                      independent=True)
        self.put_cache(src, "latest")
        old = self.referenced("latest")
        out = self.run_cachectl("prune", "--keep-since", "4d", "--grace", "0", self.az_spec()).stdout
        self.assertIn("trim cache latest", out)
        doc = self.assert_complete(manifest="manifests/latest")
        times = sorted(r["createdAt"] for rec in doc["records"] for r in rec.get("layers", []))
        self.assertEqual(len(times), 4)
        kept = self.referenced("latest")
        for d in set(old) - set(kept):
            self.assertNotIn("blobs/" + d, self.names())
        self.run_cachectl("verify", self.az_spec(name="latest"))

    def test_max_size_drops_the_oldest_until_it_fits(self):
        src = self.dir("src")
        now = int(time.time())
        bigcache.make(src, 22, layers=12, keys=2, start=now - 12 * 86400, step=86400, layer_bytes=1024,
                      independent=True)
        self.put_cache(src, "big")
        sizes = self.referenced("big")
        budget = sum(sizes.values()) // 2
        out = self.run_cachectl("prune", "--grace", "0", "--max-size", str(budget), self.az_spec()).stdout
        self.assertIn("trim cache big", out)
        left = self.referenced("big")
        self.assertLessEqual(sum(sizes[d] for d in left), budget)
        self.assertTrue(left)
        self.assertEqual(set(self.blob_names()), {"blobs/" + d for d in left})
        self.run_cachectl("verify", self.az_spec(name="big"))

    def test_usage_errors_change_nothing(self):
        self.two_caches()
        before = self.raw_listing()
        p = self.run_cachectl("prune", "--keep-tag", "typo", self.az_spec(), ok=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("nothing was removed", p.stderr)
        self.assertEqual(self.raw_listing(), before)


class Credentials(Base):
    """Every credential form the transport takes lists, removes and prunes."""

    def test_each_credential_form(self):
        sas = self.az.sas()
        self.secrets.append(urllib.parse.parse_qs(sas)["sig"][0])
        url = self.az.url
        table = [
            ("shared key", {"account_url": url, "secret_access_key": self.az.key_text}, {}),
            ("sas option", {"account_url": url, "sas_token": sas}, {}),
            ("sas in url", {"account_url": url + "?" + sas}, {}),
            ("connection string", {}, {"AZURE_STORAGE_CONNECTION_STRING": self.az.connection_string()}),
            ("connection string sas", {},
             {"AZURE_STORAGE_CONNECTION_STRING": self.az.connection_string(key=False, sas=sas)}),
        ]
        authority, storage = self.entra()
        table.append(("entra", {"account_url": storage},
                      {"AZURE_AUTHORITY_HOST": authority, "AZURE_TENANT_ID": "tenant-1", "AZURE_CLIENT_ID": "app-1",
                       "AZURE_CLIENT_SECRET": "entra-secret-value"}))
        for i, (what, opts, env_extra) in enumerate(table):
            with self.subTest(what):
                env = dict(self.env, **env_extra)
                o = dict(opts, container="%s-%d" % (self.container, i))
                for name, src in (("a", "local-gzip-max"), ("b", "local-zstd-max")):
                    self.export(fixture(src), spec(dict(o, name=name)), env=env)
                ls = json.loads(self.run_cachectl("ls", "--format", "json", spec(o), env=env).stdout)
                self.assertEqual(sorted(e["name"] for e in ls["entries"]), ["a", "b"])
                self.run_cachectl("rm", spec(dict(o, name="b")), env=env)
                out = self.run_cachectl("prune", "--grace", "0", spec(o), env=env).stdout
                self.assertRegex(out, r"\b[1-9][0-9]* blobs deleted")
                names = set(self.az.names(o["container"]))
                doc = json.loads(self.az.get(o["container"], "manifests/a"))
                self.assertEqual(names, {"manifests/a"} | {"blobs/" + l["blob"] for l in doc["layers"]})
                self.run_cachectl("verify", spec(dict(o, name="a")), env=env)

    def entra(self):
        self.scenario = {"tenant": "tenant-1", "client_id": "app-1", "client_secret": "entra-secret-value",
                         "assertion": "unused", "expires_in": 3600, "storage_delay": 0}
        self.secrets.append(self.scenario["client_secret"])
        return self.az.entra_stand_in(self.scenario, self.dir("entra.log"))


class Conditions(Base):
    """Azure itself refuses a delete whose blob changed after prune or rm
    looked at it: the fault proxy holds cachectl's Delete Blob back while
    the test writes the blob again (once the proxy's log shows the reads
    that came before it)."""

    HOLD = 6  # seconds the first Delete Blob is held back

    def held_back(self, path):
        self.log = self.dir("proxy.log")
        return self.az.fault_proxy([{"method": "DELETE", "path": path, "from": 1, "to": 1,
                                     "action": {"delay": self.HOLD}}], self.log)

    def deletes(self):
        with open(self.log) as f:
            return [json.loads(x)["status"] for x in f if x.strip() and json.loads(x)["method"] == "DELETE"]

    def when_logged(self, seen, fn, not_before=0.0):
        """Runs fn on a thread once seen(log entries) holds and not_before (time.time()) is past."""
        def wait():
            deadline = time.time() + 120
            while time.time() < deadline:
                try:
                    with open(self.log) as f:
                        entries = [json.loads(x) for x in f if x.strip()]
                except FileNotFoundError:
                    entries = []
                if seen(entries) and time.time() >= not_before:
                    fn()
                    return
                time.sleep(0.02)
        t = threading.Thread(target=wait)
        t.start()
        return t

    def test_rm_never_removes_a_name_written_again_meanwhile(self):
        self.export(fixture("local-gzip-max"), self.az_spec(name="b"))
        url = self.held_back(r"/manifests%2Fb\b")
        newer = self.manifest_bytes("b").replace(b'"records"', b'"records" ', 1)  # same cache, other bytes
        # rm reads the document twice (listing, then right before deleting), then deletes it
        reads = lambda log: len([e for e in log if e["method"] == "GET" and
                                 re.search(r"/manifests%2Fb(\?|$)", e["path"])]) >= 2
        t = self.when_logged(reads, lambda: self.az.put(self.container, "manifests/b", newer))
        p = self.run_cachectl("rm", self.az_spec(url=url, name="b"), ok=False)
        t.join()
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("written again meanwhile", p.stderr)
        self.assertEqual(self.manifest_bytes("b"), newer)
        self.assertEqual(self.deletes(), [412])  # If-Match refused by azurite

    def manifest_bytes(self, name):
        return self.az.get(self.container, "manifests/" + name)

    def test_a_blob_written_again_after_the_listing_is_spared(self):
        self.export(fixture("local-gzip-max"), self.az_spec(name="a"))
        stray = b"written again while prune runs"
        self.az.put(self.container, "blobs/" + sha256(stray), stray)
        time.sleep(1.5)  # older than the prune's start, by Azure's one-second clock
        url = self.held_back(r"/blobs%2Fsha256")
        listed = lambda log: any(e["method"] == "GET" and "comp=list" in e["path"] and "prefix=blobs" in e["path"]
                                 for e in log)
        # after the blob listing, and a second later than the prune's start (Last-Modified has seconds)
        t = self.when_logged(listed, lambda: self.az.put(self.container, "blobs/" + sha256(stray), stray),
                             not_before=time.time() + 1.6)
        out = self.run_cachectl("prune", "--grace", "0", self.az_spec(url=url)).stdout
        t.join()
        self.assertIn("delete blob " + sha256(stray), out)  # planned from the listing
        self.assertRegex(out, r"\b0 blobs deleted")  # Azure said ConditionNotMet
        self.assertIn("blobs/" + sha256(stray), self.names())
        self.assertEqual(self.deletes(), [412])  # If-Unmodified-Since refused by azurite


    def test_a_blob_deleted_while_being_refreshed_is_uploaded_again(self):
        """Between the export's Get Blob Properties and its Set Blob Metadata
        a prune deletes the blob: azurite answers 412 (If-Match on a blob
        that is gone), and the export must upload it, not count it present."""
        self.export(fixture("local-gzip-max"), self.az_spec(name="a"))
        self.log = self.dir("proxy.log")
        url = self.az.fault_proxy([{"method": "PUT", "path": r"comp=metadata", "action": {"delay": 2}}], self.log)
        gone = []

        def delete_first_headed():
            head = [e for e in self.entries() if e["method"] == "HEAD" and "blobs%2F" in e["path"]][0]
            name = urllib.parse.unquote(head["path"].split("?")[0].split("/", 3)[3])
            status, _, _ = self.az.request("DELETE", self.container, name)
            self.assertEqual(status, 202)
            gone.append(name)
        headed = lambda log: any(e["method"] == "HEAD" and "blobs%2F" in e["path"] for e in log)
        t = self.when_logged(headed, delete_first_headed)
        self.export(fixture("local-gzip-max"), self.az_spec(url=url, name="b", touch_refresh="0s"))
        t.join()
        self.assertEqual(len(gone), 1)
        self.assertIn(gone[0], self.names())  # uploaded again
        self.assertIn(412, [e["status"] for e in self.entries() if e["method"] == "PUT" and "comp=metadata" in e["path"]])
        self.assert_complete(manifest="manifests/b")
        self.run_cachectl("verify", self.az_spec(name="b"))

    def entries(self):
        with open(self.log) as f:
            return [json.loads(x) for x in f if x.strip()]

class Paging(Base):
    PAGE = 4  # CACHECTL_AZBLOB_LIST_PAGE: pages of 4 instead of Azure's 5000, without 5000 blobs

    def test_listing_and_deleting_go_past_one_page(self):
        env = dict(self.env, CACHECTL_AZBLOB_LIST_PAGE=str(self.PAGE))
        self.export(fixture("local-gzip-max"), self.az_spec(name="a"), env=env)
        for i in range(4):  # five documents: two pages of them too
            self.export(fixture("local-gzip-max"), self.az_spec(name="n%d" % i), env=env)
        strays = 3 * self.PAGE + 7
        for i in range(strays):
            data = b"stray %d" % i
            self.az.put(self.container, "blobs/" + sha256(data), data)
        du = json.loads(self.run_cachectl("du", "--format", "json", self.az_spec(), env=env).stdout)
        self.assertEqual(du["unreferencedBlobs"], strays)
        self.assertEqual(len(du["entries"]), 5)
        out = self.run_cachectl("prune", "--grace", "0", "--keep-tag", "a", self.az_spec(), env=env).stdout
        self.assertIn("4 caches removed", out)
        self.assertIn("%d blobs deleted" % strays, out)
        layers = cl.load(fixture("local-gzip-max")).layers
        self.assertEqual(sorted(self.names()), sorted(["manifests/a"] + ["blobs/" + d for d in layers]))
        self.assert_complete(manifest="manifests/a")


class Touch(Base):
    """touch_refresh: an export refreshes a present blob older than it with
    Set Blob Metadata (new Last-Modified and ETag, same bytes, metadata
    kept), and writes no blob when every present one is younger."""

    def blob_state(self):
        """name -> (Last-Modified, ETag, sha256 of the bytes, x-ms-meta-* headers) of every blob."""
        out = {}
        for n in self.names():
            if not n.startswith("blobs/"):
                continue
            status, headers, _ = self.az.request("HEAD", self.container, n)
            self.assertEqual(status, 200)
            meta = {k: v for k, v in headers.items() if k.startswith("x-ms-meta-")}
            out[n] = (headers["last-modified"], headers["etag"], sha256(self.az.get(self.container, n)), meta)
        return out

    def test_touch_refresh_renews_last_modified_not_bytes(self):
        src = fixture("local-gzip-max")
        self.export(src, self.az_spec(name="a"))
        some = sorted(self.names())[0]
        self.assertTrue(some.startswith("blobs/"))
        status, _, body = self.az.request("PUT", self.container, some, query="comp=metadata",
                                          headers={"x-ms-meta-owner": "kept"}, body=b"")
        self.assertEqual(status, 200, body)
        before = self.blob_state()
        time.sleep(1.2)  # Last-Modified counts whole seconds
        self.export(src, self.az_spec(name="b", touch_refresh="0s"))
        after = self.blob_state()
        self.assertEqual(set(after), set(before))  # nothing uploaded, nothing lost
        for n, (modified, etag, digest, meta) in after.items():
            self.assertNotEqual(modified, before[n][0], n)
            self.assertNotEqual(etag, before[n][1], n)
            self.assertEqual(digest, before[n][2], n)
            self.assertEqual(digest, n[len("blobs/"):])
            self.assertEqual(meta, before[n][3], n)
        self.assertEqual(after[some][3], {"x-ms-meta-owner": "kept"})
        for name in ("a", "b"):
            self.run_cachectl("verify", self.az_spec(name=name))

    def test_a_young_blob_is_not_written(self):
        src = fixture("local-gzip-max")
        self.export(src, self.az_spec(name="a"))
        before = self.blob_state()
        time.sleep(1.2)
        for opts in ({}, {"touch_refresh": "1h"}):  # default 24h, and a shorter one
            self.export(src, self.az_spec(name="a", **opts))
            self.assertEqual(self.blob_state(), before, opts)

    def test_the_grace_floor_follows_touch_refresh(self):
        self.export(fixture("local-gzip-max"), self.az_spec(name="a"))
        cases = [  # (touch_refresh on the store spec, --grace, warned)
            (None, "24h", True),
            (None, "26h", False),
            ("0s", "1h", False),
            ("0s", "30m", True),
            ("2h", "2h", True),
            ("2h", "3h", False),
        ]
        for refresh, grace, warned in cases:
            opts = {"touch_refresh": refresh} if refresh else {}
            p = self.run_cachectl("prune", "--dry-run", "--grace", grace, self.az_spec(**opts))
            self.assertEqual("--grace is shorter than" in p.stderr, warned, (refresh, grace, p.stderr))

    def test_a_bad_touch_refresh_is_refused(self):
        p = self.run_cachectl("export", "--from", "type=local,src=" + fixture("local-gzip-max"),
                              "--export-cache", self.az_spec(touch_refresh="soon"), ok=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn('touch_refresh="soon" is not a duration', p.stderr)
        self.assertEqual(self.names(), [])


class Race(Base):
    """An export and a prune on one container at the same time, round after
    round: no kept or newly written cache loses a blob.  Each export brings
    new blobs (RaceReuse is the round where exports reuse old ones)."""

    ROUNDS = 2  # RaceReuse below runs the harder case (reused blobs) more often
    GRACE = 15  # seconds: longer than one export takes here, even on a loaded machine

    def test_export_and_prune_at_once(self):
        srcs = []
        for i in range(self.ROUNDS + 1):
            srcs.append(self.dir("src%d" % i))
            makecache.make(srcs[-1], 5, 2048, 300 + i)
        for i in (0, 1):
            self.export(srcs[i], self.az_spec(name="t%d" % i))
        for i in range(2, self.ROUNDS + 1):
            time.sleep(self.GRACE + 1.5)  # what is there is now older than the grace
            exp = subprocess.Popen([h.CACHECTL, "export", "--progress", "quiet", "--from", srcs[i],
                                    "--export-cache", self.az_spec(name="t%d" % i)],
                                   stderr=subprocess.PIPE, text=True, env=self.env)
            # keeps t(i-1) and t(i): t(i-2) goes, while t(i) is being uploaded
            self.run_cachectl("prune", "--grace", "%ds" % self.GRACE, "--keep-tag", "t%d" % (i - 1),
                              "--keep-tag", "t%d" % i, self.az_spec())
            err = exp.communicate(timeout=300)[1]
            self.assertEqual(exp.returncode, 0, err)
            for name in ("t%d" % (i - 1), "t%d" % i):
                self.assert_complete(manifest="manifests/" + name)
                self.run_cachectl("verify", self.az_spec(name=name))
        self.assertNotIn("manifests/t0", self.names())


class RaceReuse(Base):
    """The same race where each export reuses the blobs of the cache the
    prune removes meanwhile: with touch_refresh=0s the export refreshes them
    before counting them as present, so --grace spares them."""

    ROUNDS = 3
    GRACE = 15  # seconds: longer than one export's refresh-to-manifest time, even loaded

    def test_export_reusing_old_blobs_and_prune_at_once(self):
        srcs = []
        for i in range(self.ROUNDS + 1):
            srcs.append(self.dir("src%d" % i))
            makecache.make(srcs[-1], 5, 2048, 400 + i % 2)  # t(i) has the layers of t(i-2)
        for i in (0, 1):
            self.export(srcs[i], self.az_spec(name="t%d" % i, touch_refresh="0s"))
        for i in range(2, self.ROUNDS + 1):
            time.sleep(self.GRACE + 1.5)  # what is there is now older than the grace
            exp = subprocess.Popen([h.CACHECTL, "export", "--progress", "quiet", "--from", srcs[i],
                                    "--export-cache", self.az_spec(name="t%d" % i, touch_refresh="0s")],
                                   stderr=subprocess.PIPE, text=True, env=self.env)
            # keeps t(i-1) and t(i): t(i-2) goes, and with it the old blobs t(i) is reusing right now
            self.run_cachectl("prune", "--grace", "%ds" % self.GRACE, "--keep-tag", "t%d" % (i - 1),
                              "--keep-tag", "t%d" % i, self.az_spec())
            err = exp.communicate(timeout=300)[1]
            self.assertEqual(exp.returncode, 0, err)
            for name in ("t%d" % (i - 1), "t%d" % i):
                self.assert_complete(manifest="manifests/" + name)
                self.run_cachectl("verify", self.az_spec(name=name))
        self.assertNotIn("manifests/t0", self.names())
