"""End-to-end tests of type=registry against a real registry (Debian's
docker-registry) in its three configurations -- no auth, htpasswd, token
auth with signed JWTs -- and behind a fault-injecting proxy.  What cachectl
pushed is read back by an independent client (registrylib) and by skopeo.

Run by CTest with CACHECTL=<binary> and FIXTURES=<fixtures dir>.
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import cachelib as cl
import harness as h
import registrylib as rl
from harness import FIXTURES, fixture

BASE_LAYER = "sha256:f671ca523f2108c8fa41496b7a6093e98b0179d552b137e968f10250342ba40e"
ZSTD_ONLY_LAYER = "sha256:7b3863fca5f05c5e1143d991c5c3d3e5fa6cbbcd270898637bacbbc3f9c11365"


def skopeo(*args, ok=True):
    p = subprocess.run([h.need_tool("skopeo"), *args], capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    if ok and p.returncode != 0:
        raise AssertionError("skopeo %s: %s" % (" ".join(args), p.stderr.decode()[-500:]))
    return p


class RegistryCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = h.tempdir("cachectl-registry-")
        cls.peers = []
        try:
            cls.start()
        except h.Missing as e:
            cls.tearDownClass()
            h.lacking(str(e))

    @classmethod
    def start(cls):
        cls.reg = cls.peer(rl.Registry(cls.tmp))

    @classmethod
    def peer(cls, p):
        cls.peers.append(p)
        return p

    @classmethod
    def tearDownClass(cls):
        for p in reversed(cls.peers):
            p.stop()
        h.remove_tree(cls.tmp)

    def dir(self, name):
        return tempfile.mkdtemp(dir=self.tmp, prefix=name + "-")

    def proxy(self, rules, upstream=None):
        return self.peer(rl.FaultProxy(self.tmp, upstream or self.reg.base, rules))

    def export(self, src, ref, opts="", **kw):
        spec = "type=registry,ref=" + ref + ("," + opts if opts else "")
        return rl.cachectl("export", "--progress", "plain", "--from", src, "--export-cache", spec, **kw)

    def import_(self, ref, **kw):
        dest = self.dir("import")
        rl.cachectl("import", "--progress", "quiet", "--import-cache", "type=registry,ref=" + ref, "--dest", dest,
                    **kw)
        return cl.load(dest)

    def expect_fail(self, args, code, *words, **kw):
        return h.expect(self, rl.cachectl(*args, ok=False, **kw), code, *words)


class NoAuth(RegistryCase):
    def test_round_trip_keeps_bytes_records_and_diffids(self):
        src = cl.load(fixture("local-gzip-max"))
        ref = self.reg.host + "/rt/app:t1"
        p = self.export(fixture("local-gzip-max"), ref)
        self.assertIn("9 layers read, 9 written", p.stderr)
        root, ctype, digest = self.reg.manifest("rt/app", "t1")
        # an unchanged cache is pushed in BuildKit's very bytes
        self.assertEqual(root, src.root_bytes)
        self.assertEqual((ctype, digest), (cl.OCI_MANIFEST, src.root_digest))
        back = self.import_(ref)
        self.assertEqual((back.root_bytes, back.config_bytes), (src.root_bytes, src.config_bytes))
        self.assertEqual(back.problems(), [])
        self.assertEqual(back.meaning(), src.meaning())
        self.assertEqual({d: x["annotations"][cl.DIFFID] for d, x in back.layers.items()},
                         {d: x["annotations"][cl.DIFFID] for d, x in src.layers.items()})
        raw = skopeo("inspect", "--raw", "--tls-verify=false", "docker://" + ref).stdout
        self.assertEqual(raw, src.root_bytes)
        # the bare legacy form is type=registry,ref=VALUE
        legacy = self.dir("legacy")
        rl.cachectl("import", "--progress", "quiet", "--import-cache", ref, "--dest", legacy)
        self.assertEqual(cl.load(legacy).root_bytes, src.root_bytes)

    def test_metadata_file_names_the_pushed_root(self):
        ref = self.reg.host + "/meta/app:t9"
        meta = os.path.join(self.dir("meta"), "meta.json")
        rl.cachectl("export", "--progress", "quiet", "--from", fixture("local-gzip-max"), "--metadata-file", meta,
                    "--export-cache", "type=registry,ref=" + ref)
        with open(meta) as f:
            (got,) = json.load(f)["destinations"]
        _, _, digest = self.reg.manifest("meta/app", "t9")
        src = cl.load(fixture("local-gzip-max"))
        self.assertEqual((got["type"], got["ref"], got["tag"], got["outcome"]), ("registry", ref, "t9", "ok"))
        self.assertEqual((got["root"], got["config"]), (digest, src.config_desc["digest"]))
        self.assertEqual((got["blobsWritten"], got["records"]), (len(src.layers), len(src.config["records"])))

    def test_buildkit_registry_dump_replayed_imports_unchanged(self):
        fx = os.path.join(FIXTURES, "registry-max", "export")
        root = open(os.path.join(fx, "manifest.json"), "rb").read()
        blobs = {}
        for name in os.listdir(os.path.join(fx, "blobs", "sha256")):
            blobs["sha256:" + name] = open(os.path.join(fx, "blobs", "sha256", name), "rb").read()
        doc = json.loads(root)
        for d in [doc["config"]] + doc["layers"]:
            self.reg.push_blob("bk/app", blobs[d["digest"]])
        self.reg.push_manifest("bk/app", "max", root, doc["mediaType"])
        back = self.import_(self.reg.host + "/bk/app:max")
        self.assertEqual(back.root_bytes, root)
        self.assertEqual(back.config_bytes, blobs[doc["config"]["digest"]])
        self.assertEqual(set(back.layers), {d["digest"] for d in doc["layers"]})
        self.assertEqual(back.problems(), [])
        # by digest too
        by_digest = self.import_(self.reg.host + "/bk/app@" + rl.sha256(root))
        self.assertEqual(by_digest.root_bytes, root)

    def test_index_and_docker_forms(self):
        for opts, kind, repo in (("image-manifest=false", cl.OCI_INDEX, "forms/ix"),
                                 ("oci-mediatypes=false", cl.DOCKER_LIST, "forms/dk")):
            with self.subTest(opts):
                local = self.dir("local")
                rl.cachectl("export", "--progress", "quiet", "--from", fixture("local-gzip-max"),
                            "--export-cache", "type=local,dest=%s,%s" % (local, opts))
                ref = "%s/%s:t" % (self.reg.host, repo)
                self.export(fixture("local-gzip-max"), ref, opts)
                root, ctype, _ = self.reg.manifest(repo, "t")
                self.assertEqual(ctype, kind)
                self.assertEqual(root, cl.load(local).root_bytes)
                back = self.import_(ref)
                self.assertEqual(back.kind, kind)
                self.assertEqual(back.meaning(), cl.load(fixture("local-gzip-max")).meaning())
                self.assertEqual(skopeo("inspect", "--raw", "--tls-verify=false", "docker://" + ref).stdout, root)

    def test_second_push_sends_no_blob_bytes(self):
        px = self.proxy([])
        ref = px.host + "/again/app:t"
        self.export(fixture("local-gzip-max"), ref)
        first = px.log()
        self.assertEqual(len([e for e in rl.uploads(first) if "digest=" in e["path"]]), 10)  # 9 layers + config
        p = self.export(fixture("local-gzip-max"), ref)
        second = px.log()[len(first):]
        self.assertIn("0 written, 9 skipped", p.stderr)
        self.assertEqual(rl.uploads(second), [])
        self.assertEqual([e for e in second if e["method"] in ("PUT", "POST", "PATCH")], [])
        # re-encoded layers: their digest is known only after encoding, and
        # is checked (HEAD) before any byte is sent
        zref = px.host + "/again/zstd:t"
        self.export(fixture("local-gzip-max"), zref, "compression=zstd,force-compression=true")
        before = len(px.log())
        p = self.export(fixture("local-gzip-max"), zref, "compression=zstd,force-compression=true")
        self.assertEqual(rl.uploads(px.log()[before:]), [])
        self.assertIn("0 written, 9 skipped", p.stderr)
        back = self.import_(zref)
        self.assertEqual(back.problems(), [])
        self.assertEqual({d["mediaType"] for d in back.layers.values()}, {"application/vnd.oci.image.layer.v1.tar+zstd"})

    def test_blob_without_diffid_is_downloaded_once(self):
        """A layer whose descriptor lacks its diffID is copied and measured
        in one pass: one GET per layer, however many destinations."""
        src = cl.load(fixture("local-gzip-max"))
        doc = json.loads(src.root_bytes)
        for d in doc["layers"]:
            del d["annotations"][cl.DIFFID]
        bare = json.dumps(doc, separators=(",", ":")).encode()
        blobs = {d["digest"]: src.blob(d["digest"]) for d in [doc["config"]] + doc["layers"]}
        self.reg.push_image("nodiff/app", "t", bare, blobs)
        px = self.proxy([])
        spec = "type=registry,ref=%s/nodiff/app:t" % px.host
        dests = [self.dir("one"), self.dir("two")]

        def layer_gets(log):
            return sorted(e["path"].rsplit("/", 1)[1] for e in log
                          if e["method"] == "GET" and "/blobs/sha256:" in e["path"]
                          and e["path"].rsplit("/", 1)[1] in src.layers)

        def export():
            before = len(px.log())
            args = ["export", "--progress", "plain", "--from", spec]
            for d in dests:
                args += ["--export-cache", "type=local,dest=" + d]
            p = rl.cachectl(*args)
            return p, px.log()[before:]

        for run, summary in (("first", "9 layers read, 18 written"), ("again", "9 layers read, 0 written, 18 skipped")):
            with self.subTest(run):
                p, log = export()
                self.assertIn(summary, p.stderr)
                self.assertEqual(layer_gets(log), sorted(src.layers))
                for d in dests:
                    out = cl.load(d)
                    # the measured diffIDs make BuildKit's own document again
                    self.assertEqual(out.root_bytes, src.root_bytes)
                    self.assertEqual(out.problems(), [])
                    for digest in src.layers:
                        self.assertEqual(out.blob(digest), src.blob(digest))

    def test_cross_repository_mount(self):
        self.export(fixture("local-gzip-max"), self.reg.host + "/mnt/a:t")
        px = self.proxy([])
        p = rl.cachectl("export", "--progress", "plain", "--from", "type=registry,ref=%s/mnt/a:t" % px.host,
                        "--export-cache", "type=registry,ref=%s/mnt/b:t" % px.host)
        log = px.log()
        mounts = [e for e in log if e["method"] == "POST" and "mount=" in e["path"]]
        self.assertEqual(len(mounts), 9)
        self.assertTrue(all(e["status"] == 201 and "from=mnt/a" in e["path"] for e in mounts), mounts)
        # no layer was read from a, none uploaded to b (only the small config)
        self.assertEqual([e for e in log if e["method"] == "GET" and "/blobs/sha256:" in e["path"]
                          and BASE_LAYER in e["path"]], [])
        self.assertEqual(len(rl.uploads(log)), 1)
        self.assertIn("9 skipped", p.stderr)
        got = self.reg.dump("mnt/b", "t", self.dir("dump"))
        self.assertEqual(got, cl.load(fixture("local-gzip-max")).root_bytes)

    def test_chunked_uploads(self):
        px = self.proxy([])
        ref = px.host + "/chunks/app:t"
        self.export(fixture("local-gzip-max"), ref, "registry.chunk-size=65536,registry.upload-parallelism=1")
        patches = [e for e in px.log() if e["method"] == "PATCH"]
        # the 1 MiB base layer alone takes 17 chunks of 64 KiB
        self.assertGreater(len(patches), 17)
        self.assertTrue(all(e["status"] == 202 for e in patches))
        dump = self.dir("dump")
        self.reg.dump("chunks/app", "t", dump)
        self.assertEqual(cl.load(dump).problems(), [])

    def test_damaged_blob_in_the_registry_is_refused(self):
        reg = self.peer(rl.Registry(self.tmp))  # its storage gets damaged: a registry of its own
        ref = reg.host + "/damaged/app:t"
        self.export(fixture("local-gzip-max"), ref)
        victim = "sha256:b568936b9c8fda0eff69a20a6cf838a35640ebbbe3309ac60f170767c2f4011e"
        hexd = victim.split(":")[1]
        path = os.path.join(reg.dir, "data", "docker", "registry", "v2", "blobs", "sha256", hexd[:2], hexd, "data")
        data = bytearray(open(path, "rb").read())
        data[len(data) // 2] ^= 0xFF
        with open(path, "wb") as f:
            f.write(bytes(data))
        dest = self.dir("damaged")
        p = self.expect_fail(["import", "--progress", "quiet", "--import-cache", "type=registry,ref=" + ref,
                              "--dest", dest], 1, hexd)
        self.assertFalse(os.path.exists(os.path.join(dest, "blobs", "sha256", hexd)))
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        v = rl.cachectl("verify", "type=registry,ref=" + ref, ok=False)
        self.assertEqual(v.returncode, 1)
        self.assertIn(hexd, v.stdout)

    def test_inspect_and_verify_read_a_registry(self):
        ref = self.reg.host + "/iv/app:t"
        self.export(fixture("local-gzip-max"), ref)
        doc = json.loads(rl.cachectl("inspect", "--format", "json", "type=registry,ref=" + ref).stdout)
        self.assertEqual(doc["root"]["digest"], cl.load(fixture("local-gzip-max")).root_digest)
        self.assertEqual(doc["totals"]["records"], 12)
        self.assertIn("ok: 9 blobs", rl.cachectl("verify", "type=registry,ref=" + ref).stdout)

    def test_missing_tag_is_no_cache(self):
        # the option rows that need no registry are in test_usage.py
        p = self.expect_fail(["import", "--progress", "quiet", "--import-cache",
                              "type=registry,ref=%s/no/such:tag" % self.reg.host, "--dest", self.dir("x")], 3,
                             "no/such:tag")
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)

    def test_unreachable_registry_with_ignore_error(self):
        port = rl.free_port()  # nobody listens there
        p = self.export(fixture("local-gzip-max"), "127.0.0.1:%d/x/y:t" % port, "ignore-error=true")
        self.assertIn("ignored (ignore-error=true)", p.stderr)
        self.assertIn("127.0.0.1:%d" % port, p.stderr)


class Tls(RegistryCase):
    @classmethod
    def start(cls):
        cls.reg = cls.peer(rl.Registry(cls.tmp, tls=True))

    def test_insecure_speaks_unverified_tls_and_plain_http(self):
        # registry.insecure=true: HTTPS without verification when the
        # registry has TLS (this one, self-signed) ...
        ref = self.reg.host + "/tls/app:t"
        p = self.export(fixture("local-gzip-max"), ref, "registry.insecure=true")
        self.assertNotIn("plain HTTP", p.stderr)
        self.assertEqual(self.reg.manifest("tls/app", "t")[0], cl.load(fixture("local-gzip-max")).root_bytes)
        back = self.import_(ref + ",registry.insecure=true")
        self.assertEqual(back.problems(), [])
        # ... and plain HTTP when it has none.
        plain = self.peer(rl.Registry(self.tmp))
        p = self.export(fixture("local-gzip-max"), plain.host + "/tls/app:t", "registry.insecure=true")
        self.assertIn("using plain HTTP", p.stderr)
        self.assertIsNotNone(plain.manifest("tls/app", "t"))
        # Without it a loopback registry is spoken to in plain HTTP, which a
        # TLS server refuses.
        self.expect_fail(["import", "--progress", "quiet", "--import-cache", "type=registry,ref=" + ref,
                          "--dest", self.dir("x")], 1, "HTTP 400")


class PrivateTls(RegistryCase):
    """A registry whose certificate a private CA made here signs, found the
    docker/podman way in certs.d/<host:port>/ (roots overridden by
    CACHECTL_CERTS_D), or through SSL_CERT_FILE; and one that requires a
    client certificate (mTLS)."""

    @classmethod
    def start(cls):
        cls.pki = tempfile.mkdtemp(dir=cls.tmp, prefix="pki-")
        cls.ca = rl.PrivateCa(cls.pki, "server CA")
        cls.client_ca = rl.PrivateCa(cls.pki, "client CA")
        cert, key = cls.ca.issue("registry", server=True)
        cls.client = cls.client_ca.issue("client", server=False)
        cls.reg = cls.peer(rl.Registry(cls.tmp, tls_files=(cert, key, None, None)))
        cls.mtls = cls.peer(rl.Registry(cls.tmp, tls_files=(cert, key, cls.client_ca.path, cls.client)))

    def certs_d(self, host, files):
        """Two roots (the first without this host, to prove the search goes
        on); files: name in the host's folder -> path copied there."""
        roots = [self.dir("certs-d-empty"), self.dir("certs-d")]
        folder = os.path.join(roots[1], host)
        os.makedirs(folder)
        for name, path in files.items():
            shutil.copy(path, os.path.join(folder, name))
        return {"CACHECTL_CERTS_D": ":".join(roots)}

    def roundtrip(self, reg, repo, env):
        ref = "%s/%s:t" % (reg.host, repo)
        self.export(fixture("local-gzip-max"), ref, env=env)
        self.assertEqual(reg.manifest(repo, "t")[0], cl.load(fixture("local-gzip-max")).root_bytes)
        self.assertEqual(self.import_(ref, env=env).problems(), [])

    def test_ca_in_certs_d_is_trusted_beside_the_system(self):
        self.roundtrip(self.reg, "private/ca", self.certs_d(self.reg.host, {"ca.crt": self.ca.path}))

    def test_ssl_cert_file_replaces_the_system_store(self):
        env = self.certs_d(self.reg.host, {})  # the folder alone: HTTPS, nothing extra trusted
        ref = self.reg.host + "/private/env:t"
        self.expect_fail(["export", "--progress", "quiet", "--from", fixture("local-gzip-max"), "--export-cache",
                          "type=registry,ref=" + ref], 1, "certificate", env=env)
        self.roundtrip(self.reg, "private/env", dict(env, SSL_CERT_FILE=self.ca.path))

    def test_mtls_needs_the_client_certificate(self):
        ca_only = self.certs_d(self.mtls.host, {"ca.crt": self.ca.path})
        p = self.expect_fail(["export", "--progress", "quiet", "--from", fixture("local-gzip-max"), "--export-cache",
                              "type=registry,ref=%s/mtls/app:t" % self.mtls.host], 1, self.mtls.host, env=ca_only)
        # the server's alert, or (when a reset overtakes it) the closed connection
        self.assertRegex(p.stderr, "the server asks for a client certificate|the server closed the connection "
                         "after the TLS handshake without answering, as one that requires a client certificate")
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIsNone(self.mtls.manifest("mtls/app", "t"))
        both = self.certs_d(self.mtls.host, {"ca.crt": self.ca.path, "client.cert": self.client[0],
                                             "client.key": self.client[1]})
        self.roundtrip(self.mtls, "mtls/app", both)

    def test_client_certificate_without_key_is_named(self):
        env = self.certs_d(self.mtls.host, {"ca.crt": self.ca.path, "client.cert": self.client[0]})
        self.expect_fail(["import", "--progress", "quiet", "--import-cache",
                          "type=registry,ref=%s/mtls/app:t" % self.mtls.host, "--dest", self.dir("x")], 1,
                         "client.cert has no key", "client.key", env=env)


class Faults(RegistryCase):
    def test_transient_faults_are_retried(self):
        busy = {"errors": [{"code": "UNAVAILABLE", "message": "try later"}]}
        px = self.proxy([
            {"method": "POST", "path": "/blobs/uploads/$", "from": 1, "to": 1,
             "action": {"status": 503, "body": json.dumps(busy)}},
            {"method": "PUT", "path": "/blobs/uploads/", "from": 2, "to": 2, "action": {"status": 500}},
            {"method": "PUT", "path": "/blobs/uploads/", "from": 4, "to": 4, "action": {"reset_request_after": 1000}},
            {"method": "HEAD", "path": "/blobs/sha256:", "from": 3, "to": 3,
             "action": {"status": 429, "headers": {"Retry-After": "1"}}},
            {"method": "PUT", "path": "/manifests/", "from": 1, "to": 1, "action": {"drop_request": True}},
            {"method": "HEAD", "path": "/manifests/", "action": {"delay": 0.3}},
            {"method": "GET", "path": "/blobs/" + BASE_LAYER, "from": 1, "to": 1, "action": {"reset_after": 300000}},
        ])
        ref = px.host + "/faults/app:t"
        p = self.export(fixture("local-gzip-max"), ref)
        self.assertIn("waiting", p.stderr)
        log = px.log()
        hit = {e["rule"] for e in log if e["rule"] is not None}
        self.assertTrue({0, 1, 2, 3, 4} <= hit, log)
        # every faulted request was followed by a successful one of its kind
        self.assertTrue(any(e["method"] == "PUT" and "/manifests/" in e["path"] and e["status"] == 201 for e in log))
        back = self.import_(ref)  # the base layer's download is cut and resumed
        self.assertIn(6, {e["rule"] for e in px.log()})
        self.assertEqual(back.problems(), [])
        self.assertEqual(back.root_bytes, cl.load(fixture("local-gzip-max")).root_bytes)

    def test_a_manifest_head_that_is_refused_or_fails_leaves_the_get_to_decide(self):
        ref_path = "/headless/app:t"
        self.export(fixture("local-gzip-max"), self.reg.host + ref_path)
        want = cl.load(fixture("local-gzip-max")).root_bytes
        for status in (405, 500, 403):
            with self.subTest(head_answers=status):
                px = self.proxy([{"method": "HEAD", "path": "/manifests/", "action": {"status": status}}])
                back = self.import_(px.host + ref_path)
                self.assertEqual(back.root_bytes, want)
                log = px.log()
                self.assertTrue(any(e["method"] == "HEAD" and e["status"] == status for e in log), log)
                self.assertTrue(any(e["method"] == "GET" and "/manifests/" in e["path"] and e["status"] == 200
                                    for e in log), log)
        # a GET that fails still fails, with the registry's why
        px = self.proxy([{"method": "HEAD", "path": "/manifests/", "action": {"status": 405}},
                         {"method": "GET", "path": "/manifests/", "action": {"status": 500, "body": "broken"}}])
        self.expect_fail(["import", "--progress", "quiet", "--import-cache", "type=registry,ref=" + px.host + ref_path,
                          "--dest", self.dir("failed")], 1, "500")

    def test_failed_push_never_tags_missing_blobs(self):
        self.export(fixture("local-gzip-max"), self.reg.host + "/keep/app:t")
        before = self.reg.manifest("keep/app", "t")
        denied = {"errors": [{"code": "DENIED", "message": "quota exceeded", "detail": {"limit": "1 GiB"}}]}
        px = self.proxy([{"method": "PUT", "path": ZSTD_ONLY_LAYER.split(":")[1],
                          "action": {"status": 403, "body": json.dumps(denied)}}])
        for tag in ("t", "fresh"):
            with self.subTest(tag):
                p = self.export(fixture("local-zstd-max"), "%s/keep/app:%s" % (px.host, tag), ok=False)
                self.assertEqual(p.returncode, 1)
                self.assertIn("HTTP 403 DENIED: quota exceeded", p.stderr)
                self.assertIn('"limit":"1 GiB"', p.stderr)
                self.assertIn(ZSTD_ONLY_LAYER, p.stderr)
        self.assertEqual(self.reg.manifest("keep/app", "t"), before)
        self.assertIsNone(self.reg.manifest("keep/app", "fresh"))
        # what the tag points at is whole
        dump = self.dir("dump")
        self.reg.dump("keep/app", "t", dump)
        self.assertEqual(cl.load(dump).problems(), [])


class Htpasswd(RegistryCase):
    @classmethod
    def start(cls):
        cls.reg = cls.peer(rl.Registry(cls.tmp, "htpasswd", {"alice": "s3cret-w0rd"}, relative_urls=True))
        cls.reg.login = ("alice", "s3cret-w0rd")
        cls.plain = cls.peer(rl.Registry(cls.tmp))

    def config(self, user="alice", password="s3cret-w0rd", host=None):
        return rl.docker_config(self.tmp, auths={host or self.reg.host: (user, password)})

    def test_basic_auth_with_relative_locations(self):
        cfg = self.config()
        ref = self.reg.host + "/basic/app:t"
        self.export(fixture("local-gzip-max"), ref, docker_config_dir=cfg)
        back = self.import_(ref, docker_config_dir=cfg)
        self.assertEqual(back.root_bytes, cl.load(fixture("local-gzip-max")).root_bytes)
        raw = skopeo("inspect", "--raw", "--tls-verify=false", "--creds", "alice:s3cret-w0rd", "docker://" + ref)
        self.assertEqual(raw.stdout, back.root_bytes)

    def test_missing_and_wrong_credentials(self):
        src = fixture("local-gzip-max")
        spec = "type=registry,ref=%s/basic/denied:t" % self.reg.host
        p = self.expect_fail(["export", "--progress", "quiet", "--from", src, "--export-cache", spec], 1,
                             "user name and password")
        wrong = self.config(password="not-the-password")
        p = self.expect_fail(["export", "--progress", "quiet", "--from", src, "--export-cache", spec], 1,
                             "refused the credentials", "config.json", docker_config_dir=wrong)
        self.assertNotIn("not-the-password", p.stdout + p.stderr)
        self.assertIsNone(self.reg.manifest("basic/denied", "t"))

    def test_credential_helper(self):
        bindir = self.dir("bin")
        seen = os.path.join(bindir, "seen")
        helper = os.path.join(bindir, "docker-credential-cachectl-e2e")
        with open(helper, "w") as f:
            f.write('#!/bin/sh\n[ "$1" = get ] || exit 2\nread -r url; printf "%%s" "$url" > %s\n'
                    'printf \'{"ServerURL":"%%s","Username":"alice","Secret":"s3cret-w0rd"}\' "$url"\n' % seen)
        os.chmod(helper, 0o755)
        cfg = rl.docker_config(self.tmp, helpers={self.reg.host: "cachectl-e2e"})
        ref = self.reg.host + "/helped/app:t"
        env = {"PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
        self.export(fixture("local-gzip-max"), ref, docker_config_dir=cfg, env=env)
        self.assertEqual(open(seen).read(), self.reg.host)
        self.assertIsNotNone(self.reg.manifest("helped/app", "t"))

    def test_upload_location_on_another_host_gets_no_credentials(self):
        # The registry sends uploads to another host (as registries do to a
        # storage host, whose URLs carry their own authorisation): followed,
        # and that host never sees the registry's credentials.
        vouch = "Basic " + base64.b64encode(b"alice:s3cret-w0rd").decode()
        other = self.proxy([{"method": "PUT", "path": "/blobs/uploads/",
                             "action": {"request_headers": {"Authorization": vouch}}}])
        px = self.proxy([{"method": "POST", "path": "/blobs/uploads/$",
                          "action": {"rewrite_location": "http://localhost:%d" % other.port}}])
        self.export(fixture("local-gzip-max"), px.host + "/elsewhere/app:t", docker_config_dir=self.config(host=px.host))
        puts = [e for e in other.log() if e["method"] == "PUT"]
        self.assertEqual(len(puts), 10)
        self.assertTrue(all(e["status"] == 201 and not e["auth"] for e in puts), puts)
        self.assertTrue(all(e["auth"] for e in px.log() if e["status"] != 401))
        self.assertEqual([e for e in px.log() if e["method"] == "PUT" and "/blobs/" in e["path"]], [])
        dump = self.dir("dump")
        self.reg.dump("elsewhere/app", "t", dump)
        self.assertEqual(cl.load(dump).problems(), [])

    def test_redirect_to_another_host_drops_credentials(self):
        # The same cache in the authenticated registry and in a plain one;
        # the authenticated one's proxy sends the base layer's download to
        # the plain one under another host name (localhost).
        ref_path = "redir/app:t"
        self.export(fixture("local-gzip-max"), "%s/%s" % (self.reg.host, ref_path), docker_config_dir=self.config())
        self.export(fixture("local-gzip-max"), "%s/%s" % (self.plain.host, ref_path))
        other = self.proxy([], upstream=self.plain.base)
        px = self.proxy([{"method": "GET", "path": "/blobs/" + BASE_LAYER,
                          "action": {"redirect": "http://localhost:%d" % other.port}}])
        back = self.import_("%s/%s" % (px.host, ref_path), docker_config_dir=self.config(host=px.host))
        self.assertEqual(back.problems(), [])
        redirected = [e for e in px.log() if e["status"] == 307]
        self.assertEqual(len(redirected), 1)
        self.assertTrue(redirected[0]["auth"])
        followed = [e for e in other.log() if BASE_LAYER in e["path"]]
        self.assertEqual([(e["method"], e["status"], e["auth"]) for e in followed], [("GET", 200, False)])


class Token(RegistryCase):
    USERS = {
        "alice": {"password": "alice-pw-1", "refresh_token": "alice-refresh-7", "pull": [""], "push": [""]},
        "bob": {"password": "bob-pw-2", "pull": [""], "push": []},
        "": {"pull": ["public/"]},
    }

    @classmethod
    def start(cls):
        cls.token = cls.peer(rl.TokenServer(cls.tmp, cls.USERS))
        cls.reg = cls.peer(rl.Registry(cls.tmp, "token", token=cls.token))
        cls.reg.login = ("alice", "alice-pw-1")

    def config(self, user="alice", host=None, identity=False):
        host = host or self.reg.host
        if identity:
            return rl.docker_config(self.tmp, auths={host: {"identitytoken": self.USERS[user]["refresh_token"]}})
        return rl.docker_config(self.tmp, auths={host: (user, self.USERS[user]["password"])})

    def assertNoSecrets(self, text):
        secrets = ["alice-pw-1", "bob-pw-2", "alice-refresh-7", base64.b64encode(b"alice:alice-pw-1").decode()]
        secrets += [e["token"] for e in self.token.log() if e.get("token")]
        secrets += [t[:40] for t in secrets if len(t) > 40]
        for s in secrets:
            self.assertNotIn(s, text)

    def test_password_token_flow_and_skopeo(self):
        ref = self.reg.host + "/tok/app:t"
        n = len(self.token.log())
        p = self.export(fixture("local-gzip-max"), ref, docker_config_dir=self.config(), env={"CACHECTL_DEBUG": "http"})
        grants = self.token.log()[n:]
        self.assertTrue(grants)
        self.assertTrue(all(g["method"] == "GET" and g["grant"] == "basic" and g["user"] == "alice" for g in grants))
        self.assertIn({"type": "repository", "name": "tok/app", "actions": ["pull", "push"]}, grants[0]["granted"])
        self.assertNoSecrets(p.stdout + p.stderr)
        self.assertIn("http: PUT", p.stderr)  # the debug trace was on
        back = self.import_(ref, docker_config_dir=self.config(user="bob"))
        self.assertEqual(back.root_bytes, cl.load(fixture("local-gzip-max")).root_bytes)
        raw = skopeo("inspect", "--raw", "--tls-verify=false", "--creds", "alice:alice-pw-1", "docker://" + ref)
        self.assertEqual(raw.stdout, back.root_bytes)

    def test_servers_quoting_our_headers_print_no_token(self):
        # A proxy that answers with the request's headers (Authorization:
        # Bearer ...) as its error body: in retry notes, task details, json
        # events and the final message, every token of this run is "***".
        px = self.proxy([
            {"method": "POST", "path": "/blobs/uploads/", "from": 1, "to": 2,
             "action": {"status": 503, "echo_headers": True}},
            {"method": "PUT", "path": "/manifests/", "action": {"status": 400, "echo_headers": True}}])
        for progress in ("plain", "json"):
            with self.subTest(progress=progress):
                p = rl.cachectl("export", "--progress", progress, "--from", fixture("local-gzip-max"),
                                "--export-cache", "type=registry,ref=%s/echo/app:t" % px.host, ok=False,
                                docker_config_dir=self.config(host=px.host))
                self.assertEqual(p.returncode, 1, p.stderr)
                out = p.stdout + p.stderr
                self.assertIn("Authorization: ***", out)  # the body was printed, scrubbed
                self.assertNoSecrets(out)

    def test_identity_token_uses_the_refresh_grant(self):
        n = len(self.token.log())
        ref = self.reg.host + "/tok/identity:t"
        p = self.export(fixture("local-gzip-max"), ref, docker_config_dir=self.config(identity=True))
        grants = self.token.log()[n:]
        self.assertTrue(grants)
        self.assertEqual({(g["method"], g["grant"], g["client_id"]) for g in grants},
                         {("POST", "refresh_token", "cachectl")})
        self.assertNoSecrets(p.stdout + p.stderr)
        self.assertIsNotNone(self.reg.manifest("tok/identity", "t"))

    def test_anonymous_pull_and_denied_pushes(self):
        self.export(fixture("local-gzip-max"), self.reg.host + "/public/app:t", docker_config_dir=self.config())
        back = self.import_(self.reg.host + "/public/app:t")  # anonymous
        self.assertEqual(back.problems(), [])
        src = fixture("local-gzip-max")
        for who, cfg in (("anonymous", None), ("bob", self.config(user="bob"))):
            with self.subTest(who):
                p = self.expect_fail(["export", "--progress", "quiet", "--from", src, "--export-cache",
                                      "type=registry,ref=%s/private/%s:t" % (self.reg.host, who)], 1,
                                     "401", docker_config_dir=cfg)
                self.assertNoSecrets(p.stdout + p.stderr)
                self.assertLessEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.expect_fail(["import", "--progress", "quiet", "--import-cache",
                          "type=registry,ref=%s/tok/app:t" % self.reg.host, "--dest", self.dir("x")], 1, "401")

    def test_rechallenge_in_the_middle_of_a_push(self):
        # The registry says the token is no good any more on the second
        # blob upload, as it does when a token expires during a long push.
        challenge = 'Bearer realm="%s",service="%s",scope="repository:mid/app:pull,push",error="invalid_token"' % (
            self.token.realm, self.token.service)
        px = self.proxy([{"method": "PUT", "path": "/blobs/uploads/", "from": 2, "to": 2,
                          "action": {"status": 401, "headers": {"WWW-Authenticate": challenge},
                                     "body": '{"errors":[{"code":"UNAUTHORIZED","message":"token expired"}]}'}}])
        n = len(self.token.log())
        self.export(fixture("local-gzip-max"), px.host + "/mid/app:t", docker_config_dir=self.config(host=px.host))
        fetches = self.token.log()[n:]
        self.assertGreaterEqual(len(fetches), 2)
        statuses = [e["status"] for e in px.log() if e["method"] == "PUT" and "/blobs/uploads/" in e["path"]]
        self.assertIn(401, statuses)
        self.assertEqual(statuses.count(201), 10)
        dump = self.dir("dump")
        self.reg.dump("mid/app", "t", dump)
        self.assertEqual(cl.load(dump).problems(), [])

    def test_short_lived_tokens_are_renewed_before_they_expire(self):
        token = self.peer(rl.TokenServer(self.tmp, self.USERS, expires_in=1))
        reg = self.peer(rl.Registry(self.tmp, "token", token=token))
        px = self.proxy([{"method": "HEAD", "path": "/blobs/", "from": 1, "to": 3, "action": {"delay": 0.6}}],
                        upstream=reg.base)
        cfg = self.config(host=px.host)
        rl.cachectl("export", "--progress", "quiet", "--jobs", "1", "--from", fixture("local-gzip-max"),
                    "--export-cache", "type=registry,ref=%s/short/app:t" % px.host, docker_config_dir=cfg)
        self.assertGreaterEqual(len(token.log()), 2)
        self.assertEqual([e for e in px.log() if e["status"] == 401 and e["auth"]], [])

    def test_mount_asks_for_pull_on_the_other_repository(self):
        self.export(fixture("local-gzip-max"), self.reg.host + "/tm/a:t", docker_config_dir=self.config())
        px = self.proxy([])
        n = len(self.token.log())
        rl.cachectl("export", "--progress", "quiet", "--from", "type=registry,ref=%s/tm/a:t" % px.host,
                    "--export-cache", "type=registry,ref=%s/tm/b:t" % px.host, docker_config_dir=self.config(host=px.host))
        mounts = [e for e in px.log() if "mount=" in e["path"]]
        self.assertTrue(mounts and all(e["status"] == 201 for e in mounts), mounts)
        scopes = [s for g in self.token.log()[n:] for s in g["scopes"]]
        self.assertIn("repository:tm/a:pull", scopes)
        self.assertIn("repository:tm/b:pull,push", scopes)


if __name__ == "__main__":
    unittest.main()
