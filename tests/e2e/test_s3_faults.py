"""Faults between cachectl and the store: the fault proxy
(tests/peers/faultproxy.py, scenarios as data) sits in front of the
verifying front.  An export either completes through retries or fails
cleanly; either way the manifest never names a blob the bucket lacks, and
a failed export leaves the previous manifest as it was.  A suite of its
own, run by CTest once test_s3_front.py has shown the front can be trusted."""
import json

import cachelib as cl
from s3case import Base, big_cache, fixture, sha256

SLOW_DOWN = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
             "<Message>Please reduce your request rate.</Message><RequestId>fault</RequestId></Error>")
INTERNAL = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
            "<Message>We encountered an internal error. Please try again.</Message></Error>")


class Faults(Base):
    def proxy(self, rules):
        self.proxy_log = self.dir("fault.log")
        _, url = self.store.fault_proxy(rules, self.proxy_log)
        return url

    def proxy_entries(self):
        with open(self.proxy_log) as f:
            return [json.loads(x) for x in f if x.strip()]

    def fired(self, rule):
        return [e for e in self.proxy_entries() if e["rule"] == rule]

    def big(self):
        return big_cache(self.store)

    def test_5xx_and_slow_down_are_retried(self):
        url = self.proxy([
            {"method": "PUT", "path": "/blobs/", "to": 2, "action": {"status": 500, "body": INTERNAL}},
            {"method": "PUT", "path": "/blobs/", "to": 2,
             "action": {"status": 503, "headers": {"Retry-After": "1", "Content-Type": "application/xml"},
                        "body": SLOW_DOWN}},
            {"method": "HEAD", "path": "/blobs/", "to": 2, "action": {"status": 503}},
            {"method": "PUT", "path": "/manifests/", "to": 1, "action": {"status": 503, "body": SLOW_DOWN}},
        ])
        p = self.export(fixture("local-gzip-max"), self.s3(endpoint=url))
        for rule in range(4):
            self.assertTrue(self.fired(rule), rule)
        self.assertIn("HTTP 503; waiting 1.0s", p.stderr)  # Retry-After honoured
        self.assertIn("HTTP 500", p.stderr)
        doc = self.assert_complete()
        self.assertEqual(len(doc["layers"]), 9)

    def test_a_failing_encoding_fails_alone(self):
        # one read feeds zstd for a local cache and uncompressed for s3,
        # whose blob uploads are refused: the s3 destination fails, the
        # local one is complete and what the same export alone writes
        url = self.proxy([{"method": "PUT", "path": "/blobs/",
                           "action": {"status": 403, "body": "<Error><Code>AccessDenied</Code></Error>"}}])
        force = ",force-compression=true"
        local, alone = self.dir("zstd"), self.dir("alone")
        p = self.run_cachectl("export", "--progress", "plain", "--from", fixture("local-gzip-max"),
                              "--export-cache", "type=local,dest=%s,compression=zstd%s" % (local, force),
                              "--export-cache", self.s3(endpoint=url, compression="uncompressed",
                                                        **{"force-compression": "true", "ignore-error": "true"}))
        self.assertIn("ignored (ignore-error=true)", p.stderr)
        self.assertIn("9 layers read", p.stderr)
        self.assertTrue(self.fired(0))
        self.assertNotIn("manifests/buildkit", self.keys())
        self.run_cachectl("export", "--progress", "quiet", "--from", fixture("local-gzip-max"),
                          "--export-cache", "type=local,dest=%s,compression=zstd%s" % (alone, force))
        self.assertEqual(cl.load(local).root_bytes, cl.load(alone).root_bytes)
        self.assertEqual(cl.load(local).problems(), [])

    def test_a_connection_reset_mid_part_is_retried(self):
        path, digest, size = self.big()
        url = self.proxy([
            {"method": "PUT", "path": "partNumber=3&", "to": 1, "action": {"reset_request_after": 1 << 20}},
            {"method": "PUT", "path": "partNumber=5&", "to": 1, "action": {"drop_request": True}},
            {"method": "POST", "path": "uploadId=", "to": 1, "action": {"status": 200, "body": INTERNAL}},
        ])
        p = self.export(path, self.s3(endpoint=url))
        self.assertEqual(len(self.fired(0)), 1)
        self.assertEqual(len(self.fired(1)), 1)
        self.assertEqual(len(self.fired(2)), 1)
        self.assertIn("answered 200 with an error", p.stderr)
        self.assertEqual(sha256(self.store.get(self.bucket, "blobs/" + digest)), digest)
        self.assert_complete()

    def test_a_download_cut_short_is_resumed_and_5xx_retried(self):
        self.export(fixture("local-gzip-max"), self.s3())
        url = self.proxy([{"method": "GET", "path": "/blobs/sha256%3Af671", "to": 2,
                           "action": {"reset_after": 300000}},
                          {"method": "GET", "path": "/manifests/", "to": 1,
                           "action": {"status": 503, "body": SLOW_DOWN}},
                          {"method": "GET", "path": "/blobs/sha256%3A42c5", "to": 2,
                           "action": {"status": 500, "body": INTERNAL}}])
        dest = self.dir("back")
        p = self.import_(self.s3(endpoint=url), dest)
        self.assertEqual(len(self.fired(0)), 2)
        self.assertEqual(len(self.fired(1)), 1)
        self.assertEqual(len(self.fired(2)), 2)
        self.assertIn("resuming", p.stderr)
        self.assertIn("HTTP 503", p.stderr)
        c = cl.load(dest)
        self.assertEqual(c.problems(), [])
        self.assertEqual(c.meaning(), cl.load(fixture("local-gzip-max")).meaning())

    def test_a_blob_that_cannot_be_stored_fails_the_export_and_keeps_the_old_manifest(self):
        self.export(fixture("local-gzip-max"), self.s3(name="main"))
        before = self.store.get(self.bucket, "manifests/main")
        zstd = cl.load(fixture("local-zstd-max"))
        victim = sorted(d for d in zstd.layers if d not in cl.load(fixture("local-gzip-max")).layers)[0]
        url = self.proxy([{"method": "PUT", "path": "/blobs/sha256%3A" + victim[7:],
                           "action": {"status": 500, "body": INTERNAL}}])
        p = self.export(fixture("local-zstd-max"), self.s3(endpoint=url, name="main", retry_max_attempts="2"),
                        ok=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(victim, p.stderr)
        self.assertIn("InternalError", p.stderr)
        self.assertEqual(len(self.fired(0)), 2)
        self.assertEqual(self.store.get(self.bucket, "manifests/main"), before)
        self.assert_complete(name="main")
        self.assertNotIn("blobs/" + victim, self.keys())

    def test_a_failed_multipart_upload_is_aborted(self):
        path, digest, size = self.big()
        url = self.proxy([{"method": "PUT", "path": "partNumber=2&", "action": {"status": 500, "body": INTERNAL}}])
        p = self.export(path, self.s3(endpoint=url, retry_max_attempts="2"), ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("part 2", p.stderr)
        self.assertEqual(self.keys(), [])
        aborts = [e for e in self.new_log() if e["method"] == "DELETE"]
        self.assertEqual(len(aborts), 1)
        self.assertIn("uploadId=", aborts[0]["query"])
        # The front checked its signature; s3rver itself has no AbortMultipartUpload.
        self.assertEqual(aborts[0]["status"], 405)
        self.assertIn("could not abort multipart upload", p.stderr)
