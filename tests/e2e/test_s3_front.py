"""The s3 tests' verifying front (tests/peers/s3front.py, botocore) judged by
AWS's own client: awscli's requests pass it, the same requests with a wrong
secret or an unknown key do not, unsigned ones neither, and cachectl with a
wrong secret fails with the store's error.  The other s3 suites trust the
front only once this one passed (CTest: FIXTURES_SETUP s3_front).

Run by CTest with CACHECTL=<binary> and FIXTURES=<fixtures dir>.
"""
import json
import subprocess
import unittest
import urllib.error
import urllib.request

import s3peer
from s3case import AKID, SECRET, Base, fixture, read


class FrontIsTrustworthy(Base):
    """The front is trusted only because AWS's own client passes it and the
    same client with a wrong secret does not."""

    def aws(self, *args, secret=SECRET, akid=AKID, ok=True):
        env = s3peer.aws_env(self.home, self.store.endpoint, akid, secret)
        p = subprocess.run([s3peer.awscli(), "--endpoint-url", self.store.endpoint, *args], capture_output=True,
                           text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
        if ok and p.returncode != 0:
            raise AssertionError("aws %s: %s" % (" ".join(args), p.stderr))
        return p

    def test_awscli_passes_and_a_wrong_secret_is_refused(self):
        src = self.dir("obj")
        with open(src, "wb") as f:
            f.write(b"front check \x00\x01" * 1000)
        self.aws("s3api", "put-object", "--bucket", self.bucket, "--key", "blobs/sha256:ab c+d", "--body", src)
        out = self.dir("back")
        self.aws("s3api", "get-object", "--bucket", self.bucket, "--key", "blobs/sha256:ab c+d", out)
        self.assertEqual(read(out), read(src))
        listing = json.loads(self.aws("s3api", "list-objects-v2", "--bucket", self.bucket).stdout)
        self.assertEqual([o["Key"] for o in listing["Contents"]], ["blobs/sha256:ab c+d"])
        log = self.new_log()
        self.assertTrue(log and all(e["status"] < 300 and e.get("akid") == AKID for e in log), log)

        bad = self.aws("s3api", "get-object", "--bucket", self.bucket, "--key", "blobs/sha256:ab c+d", out,
                       secret=SECRET + "x", ok=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("SignatureDoesNotMatch", bad.stderr)
        bad = self.aws("s3api", "put-object", "--bucket", self.bucket, "--key", "other", "--body", src,
                       secret="wrong", ok=False)
        self.assertIn("SignatureDoesNotMatch", bad.stderr)
        bad = self.aws("s3api", "list-objects-v2", "--bucket", self.bucket, akid="AKIDNOBODY", ok=False)
        self.assertIn("InvalidAccessKeyId", bad.stderr)
        self.assertEqual(self.keys(), ["blobs/sha256:ab c+d"])
        # Unsigned requests are refused too.
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen("%s/%s/other" % (self.store.endpoint, self.bucket), timeout=30)
        self.assertEqual(e.exception.code, 403)

    def test_a_wrong_secret_fails_the_export_with_the_stores_error(self):
        spec = self.s3(secret_access_key="not-the-secret")
        p = self.export(fixture("local-gzip-max"), spec, ok=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("SignatureDoesNotMatch", p.stderr)
        self.assertIn("credentials from the access_key_id and secret_access_key options", p.stderr)
        self.assertNotIn("not-the-secret", p.stderr + p.stdout)
        self.assertEqual(self.keys(), [])
        p = self.export(fixture("local-gzip-max"), self.s3(access_key_id="AKIDNOBODY"), ok=False)
        self.assertIn("InvalidAccessKeyId", p.stderr)


if __name__ == "__main__":
    unittest.main()
