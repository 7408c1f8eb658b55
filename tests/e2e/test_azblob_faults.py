"""Faults between cachectl and azurite: the fault proxy
(tests/peers/faultproxy.py, scenarios as data) sits in front of azurite.
An export either completes through retries or fails cleanly; either way
the manifest never names a blob the container lacks, and a failed export
writes no manifest.

Run by CTest with CACHECTL=<binary> and FIXTURES=<fixtures dir>, after
test_azblob_trust."""
import json
import os

import cachelib as cl
from azcase import Base, fixture, sha256

INTERNAL = ('<?xml version="1.0" encoding="utf-8"?><Error><Code>InternalError</Code>'
            "<Message>Server encountered an internal error. Please try again after some time.</Message></Error>")
BUSY = ('<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code>'
        "<Message>Ingress is over the account limit.</Message></Error>")


class Faults(Base):
    def proxy(self, rules):
        self.proxy_log = self.dir("fault-%d.log" % len(os.listdir(self.tmp)))
        return self.az.fault_proxy(rules, self.proxy_log)

    def entries(self):
        with open(self.proxy_log) as f:
            return [json.loads(x) for x in f if x.strip()]

    def fired(self, rule):
        return [e for e in self.entries() if e["rule"] == rule]

    def test_500_503_and_429_are_retried(self):
        url = self.proxy([
            {"method": "GET", "path": r"restype=container$", "to": 1, "action": {"status": 500, "body": INTERNAL}},
            {"method": "GET", "path": "comp=list", "to": 1,
             "action": {"status": 429, "headers": {"Retry-After": "1"}, "body": BUSY}},
            {"method": "PUT", "path": "/blobs%2F", "to": 2, "action": {"status": 500, "body": INTERNAL}},
            {"method": "PUT", "path": "/blobs%2F", "to": 2,
             "action": {"status": 503, "headers": {"Retry-After": "1", "x-ms-error-code": "ServerBusy"},
                        "body": BUSY}},
            {"method": "PUT", "path": "/manifests%2F", "to": 1, "action": {"status": 503, "body": BUSY}},
        ])
        p = self.export(fixture("local-gzip-max"), self.az_spec(url=url))
        for rule in range(5):
            self.assertTrue(self.fired(rule), rule)
        self.assertIn("HTTP 429; waiting 1.0s", p.stderr)  # Retry-After honoured
        self.assertIn("HTTP 503; waiting 1.0s", p.stderr)
        self.assertIn("HTTP 500", p.stderr)
        doc = self.assert_complete()
        self.assertEqual(len(doc["layers"]), 9)

    def test_a_connection_reset_mid_block_is_retried(self):
        from s3case import make_big_cache
        path = self.dir("big")
        digest, size = make_big_cache(path, 40 << 20)
        url = self.proxy([
            {"method": "PUT", "path": "comp=block&", "to": 1, "action": {"reset_request_after": 1 << 20}},
            {"method": "PUT", "path": "comp=block&", "from": 4, "to": 4, "action": {"drop_request": True}},
            {"method": "PUT", "path": "comp=blocklist", "to": 1, "action": {"status": 500, "body": INTERNAL}},
        ])
        self.export(path, self.az_spec(url=url))
        for rule in range(3):
            self.assertEqual(len(self.fired(rule)), 1, rule)
        self.assertEqual(sha256(self.az.get(self.container, "blobs/" + digest)), digest)
        self.assert_complete()

    def test_a_download_cut_short_is_resumed_and_5xx_retried(self):
        self.export(fixture("local-gzip-max"), self.az_spec())
        rules = [{"method": "GET", "path": "/blobs%2Fsha256:f671", "to": 2, "action": {"reset_after": 300000}},
                 {"method": "GET", "path": "/manifests%2F", "to": 1, "action": {"status": 503, "body": BUSY}},
                 {"method": "GET", "path": "/blobs%2Fsha256:42c5", "to": 2,
                  "action": {"status": 500, "body": INTERNAL}}]
        # The HTTP layer resumes with a Range header; a Shared Key signature
        # does not cover one it did not sign, so there the rest is requested
        # again, freshly signed.
        for auth, opts, says in (("shared key", {}, "requesting the rest"),
                                 ("sas", {"key": False, "sas_token": self.az.sas()}, "resuming")):
            with self.subTest(auth):
                url = self.proxy(rules)
                dest = self.dir("back-" + auth.replace(" ", "-"))
                p = self.import_(self.az_spec(url=url, **opts), dest)
                self.assertIn("connection lost", p.stderr)
                self.assertIn(says, p.stderr)
                self.assertEqual([len(self.fired(i)) for i in range(3)], [2, 1, 2])
                c = cl.load(dest)
                self.assertEqual(c.problems(), [])
                self.assertEqual(c.meaning(), cl.load(fixture("local-gzip-max")).meaning())

    def test_a_failed_export_writes_no_manifest(self):
        url = self.proxy([{"method": "PUT", "path": "/blobs%2Fsha256:42c5",
                           "action": {"status": 400, "headers": {"x-ms-error-code": "InvalidInput"},
                                      "body": "<Error><Code>InvalidInput</Code><Message>nope</Message></Error>"}}])
        p = self.export(fixture("local-gzip-max"), self.az_spec(url=url), ok=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("HTTP 400 InvalidInput: nope", p.stderr)
        self.assertNotIn("manifests/buildkit", self.names())
        self.assertEqual(len(self.fired(0)), 1)  # a 400 is an answer, not retried
