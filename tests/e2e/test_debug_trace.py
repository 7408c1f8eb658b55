"""The --debug / CACHECTL_DEBUG=http trace against real peers: Debian's
docker-registry behind htpasswd, s3rver (behind its SigV4-checking front)
with a session token, azurite with Shared Key and with a SAS.  Every request
shows its method, URL, status, bytes and time, and its headers; no secret
of the run (password, Basic credentials, secret key, session token, SAS
signature, account key) appears anywhere in the output.  Unknown values of
CACHECTL_DEBUG are usage errors that name the known values."""
import base64
import os
import re
import tempfile
import unittest
import urllib.parse

import azcase
import cachelib as cl
import harness as h
import registrylib as rl
import s3case
from harness import fixture

REQUEST = re.compile(r"^http: (GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) -> (.+) "
                     r"\(try (\d+), sent (\d+) B, received (\d+) B, (\d+\.\d{3}) s\)$")
HEADER = re.compile(r"^http:   ([<>]) ([^:]+): (.*)$")
BODY_END = re.compile(r"^http: GET \S+: body closed after \d+ B received in \d+\.\d{3} s \(\d+ resumes\)$")


def trace(test, stderr):
    """The trace's requests, each with its header lines; every line of the
    trace has one of the three shapes and no control character."""
    requests = []
    for line in stderr.splitlines():
        if not line.startswith("http:"):
            continue
        test.assertFalse(re.search(r"[\x00-\x1f\x7f]", line), line)
        m = REQUEST.match(line)
        if m:
            requests.append({"method": m.group(1), "url": m.group(2), "outcome": m.group(3),
                             "sent": int(m.group(5)), "received": int(m.group(6)), "sent_headers": {},
                             "received_headers": {}})
            continue
        m = HEADER.match(line)
        if m:
            test.assertTrue(requests, line)
            side = "sent_headers" if m.group(1) == ">" else "received_headers"
            requests[-1][side][m.group(2).lower()] = m.group(3)
            continue
        test.assertRegex(line, BODY_END)
    test.assertTrue(requests, "no trace on stderr:\n" + stderr[-2000:])
    return requests


def assert_hidden(test, text, secrets):
    for s in secrets:
        test.assertTrue(s)
        test.assertNotIn(s, text)


class Registry(unittest.TestCase):
    USER, PASSWORD = "alice", "tr4ce-pa55word"

    @classmethod
    def setUpClass(cls):
        cls.tmp = h.tempdir("cachectl-debug-")
        try:
            cls.reg = rl.Registry(cls.tmp, "htpasswd", {cls.USER: cls.PASSWORD})
        except h.Missing as e:
            h.remove_tree(cls.tmp)
            h.lacking(str(e))

    @classmethod
    def tearDownClass(cls):
        cls.reg.stop()
        h.remove_tree(cls.tmp)

    def test_export_and_import_are_traced_without_the_password(self):
        cfg = rl.docker_config(self.tmp, auths={self.reg.host: (self.USER, self.PASSWORD)})
        secrets = [self.PASSWORD, base64.b64encode(("%s:%s" % (self.USER, self.PASSWORD)).encode()).decode()]
        ref = self.reg.host + "/trace/app:t"
        src = fixture("local-gzip-max")
        p = rl.cachectl("export", "--debug", "--progress", "quiet", "--from", src, "--export-cache",
                        "type=registry,ref=" + ref, docker_config_dir=cfg)
        assert_hidden(self, p.stdout + p.stderr, secrets)
        reqs = trace(self, p.stderr)
        methods = {r["method"] for r in reqs}
        self.assertTrue({"HEAD", "POST", "PUT"} <= methods, methods)
        # the registry asked for credentials, and got them (hidden)
        self.assertIn("401", [r["outcome"] for r in reqs])
        authorised = [r for r in reqs if "authorization" in r["sent_headers"]]
        self.assertTrue(authorised)
        self.assertTrue(all(r["sent_headers"]["authorization"] == "***" for r in authorised))
        # every blob's bytes went out in some request that says so
        blob_bytes = sum(len(open(os.path.join(src, "blobs", "sha256", d[7:]), "rb").read())
                         for d in cl.load(src).layers)
        sent = sum(r["sent"] for r in reqs if r["method"] in ("PUT", "PATCH") and r["outcome"] in ("201", "202"))
        self.assertGreaterEqual(sent, blob_bytes)
        manifest = [r for r in reqs if r["method"] == "PUT" and "/manifests/t" in r["url"]]
        self.assertEqual([r["outcome"] for r in manifest], ["201"])
        self.assertIn("docker-content-digest", manifest[0]["received_headers"])

        dest = tempfile.mkdtemp(dir=self.tmp)
        p = rl.cachectl("import", "--progress", "quiet", "--import-cache", "type=registry,ref=" + ref, "--dest",
                        dest, docker_config_dir=cfg, env={"CACHECTL_DEBUG": "http"})
        assert_hidden(self, p.stdout + p.stderr, secrets)
        reqs = trace(self, p.stderr)
        got = [r for r in reqs if r["method"] == "GET" and "/blobs/sha256:" in r["url"] and r["outcome"] == "200"]
        self.assertTrue(got)
        self.assertEqual(cl.load(dest).root_bytes, cl.load(src).root_bytes)


class S3(s3case.Base):
    def test_session_token_and_secret_key_never_show(self):
        token, secret = "SESSIONTOKEN-trace-0123456789", "trace/secret+value/abcdefghij"
        self.store.add_key("ASIATRACE", secret, token=token)
        self.secrets = (token, secret)
        for value in ("http", "all", "1", "s3,http"):
            with self.subTest(CACHECTL_DEBUG=value):
                env = dict(self.env, CACHECTL_DEBUG=value)
                p = self.export(fixture("local-gzip-max"),
                                self.s3(access_key_id="ASIATRACE", secret_access_key=secret, session_token=token),
                                env=env)
                assert_hidden(self, p.stdout + p.stderr, self.secrets)
                reqs = trace(self, p.stderr)
                puts = [r for r in reqs if r["method"] == "PUT"]
                self.assertTrue(puts)
                for r in puts:
                    self.assertEqual(r["sent_headers"].get("x-amz-security-token"), "***")
                    self.assertEqual(r["sent_headers"].get("authorization"), "***")
                    self.assertIn("x-amz-date", r["sent_headers"])
                self.assertTrue(any(r["sent"] > 0 and r["outcome"] == "200" for r in puts))
                if "s3" in value or value in ("all", "1"):
                    self.assertIn("x-amz-security-token:***", p.stderr)  # the canonical-request trace too
        self.assert_complete()


class Azblob(azcase.Base):
    def test_shared_key_and_sas_never_show(self):
        self.export(fixture("local-gzip-max"), self.az_spec(name="main"))
        env = dict(self.env, CACHECTL_DEBUG="http")
        p = self.run_cachectl("verify", self.az_spec(name="main"), env=env)
        reqs = trace(self, p.stderr)
        self.assertTrue(all(r["sent_headers"].get("authorization") in (None, "***") for r in reqs))
        self.assertTrue(any(r["sent_headers"].get("authorization") == "***" for r in reqs))
        self.assertNotIn("SharedKey", p.stderr)
        assert_hidden(self, p.stdout + p.stderr, [self.az.key_text])

        sas = self.az.sas()
        sig = urllib.parse.parse_qs(sas)["sig"][0]
        self.secrets += [sig, urllib.parse.quote(sig, safe="")]
        p = self.run_cachectl("verify", "--debug", self.az_spec(url=self.az.url + "?" + sas, key=False, name="main"))
        reqs = trace(self, p.stderr)
        self.assertTrue(all("sig=***" in r["url"] for r in reqs), [r["url"] for r in reqs])
        got = [r for r in reqs if r["method"] == "GET" and r["outcome"] == "200"]
        self.assertTrue(got)
        assert_hidden(self, p.stdout + p.stderr, self.secrets)


class Values(unittest.TestCase):
    """CACHECTL_DEBUG's values as a table; nothing here reaches a network."""
    ROWS = [  # value, exit code, words the output must hold
        ("http", 0, []),
        ("s3", 0, []),
        ("all", 0, []),
        ("1", 0, []),
        ("0", 0, []),
        ("", 0, []),
        ("http, s3", 0, []),
        ("yes", 2, ['"yes"', "http, s3, all, 1, 0"]),
        ("http,htp", 2, ['"htp"', "http, s3, all, 1, 0"]),
        ("HTTP", 2, ['"HTTP"']),
        ("true", 2, ['"true"']),
        ("http\x1b[31m", 2, ["\\x1b"]),
    ]

    def test_values(self):
        src = fixture("local-gzip-max")
        for value, code, words in self.ROWS:
            with self.subTest(value=value):
                env = h.environment(CACHECTL_DEBUG=value)
                p = h.run("verify", src, ok=False, env=env)
                self.assertEqual(p.returncode, code, p.stderr)
                for w in words:
                    self.assertIn(w, p.stderr)
                if code:
                    self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
                    self.assertNotIn("\x1b", p.stderr)
                    self.assertEqual(p.stdout, "")


if __name__ == "__main__":
    unittest.main()
