"""What every azblob end-to-end test shares: the shared azurite (azpeer.py),
a container per test, the binary run with a clean Azure environment, and
checks that read the container directly."""
import hashlib
import json
import os
import shutil
import subprocess
import unittest
import uuid

import azpeer

CACHECTL = os.environ["CACHECTL"]
FIXTURES = os.path.join(os.environ["FIXTURES"], "buildkit-v0.23.2")
AZBLOB_MAX = os.path.join(FIXTURES, "azblob-max", "export", "objects")


def fixture(name):
    return os.path.join(FIXTURES, name, "export")


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def clean_env(home):
    """No Azure or BuildKit setting of the machine leaks in."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AZURE_") and not k.startswith("BUILDKIT_AZURE_")}
    env["HOME"] = home
    env.pop("CACHECTL_DEBUG", None)
    return env


def spec(opts):
    return ",".join(["type=azblob"] + ['"%s=%s"' % (k, v) if (";" in v or "," in v) else "%s=%s" % (k, v)
                                       for k, v in opts.items()])


class Base(unittest.TestCase):
    def setUp(self):
        try:
            self.az = azpeer.shared()
        except azpeer.Missing as e:
            if azpeer.REQUIRE_PEERS:
                self.fail("%s is required (tests/install-deps.sh installs it)" % e)
            self.skipTest("%s is not installed" % e)
        self.tmp = os.path.realpath(__import__("tempfile").mkdtemp(prefix="cachectl-azt-"))
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)
        self.env = clean_env(self.home)
        self.container = "t-" + uuid.uuid4().hex[:12]
        self.secrets = [self.az.key_text]

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def dir(self, name):
        return os.path.join(self.tmp, name)

    def run_cachectl(self, *args, ok=True, env=None):
        p = subprocess.run([CACHECTL, *args], capture_output=True, text=True, errors="replace", timeout=300,
                           stdin=subprocess.DEVNULL, env=env or self.env)
        if ok and p.returncode != 0:
            raise AssertionError("cachectl %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr))
        for sign in ("Sanitizer", "runtime error", "Segmentation"):
            self.assertNotIn(sign, p.stderr)
        for secret in self.secrets:
            self.assertNotIn(secret, p.stdout + p.stderr, "a secret was printed")
        return p

    def az_spec(self, url=None, key=True, **opts):
        o = {"account_url": url or self.az.url, "container": self.container}
        if key:
            o["secret_access_key"] = self.az.key_text
        o.update(opts)
        return spec(o)

    def export(self, src, dest_spec, ok=True, env=None):
        return self.run_cachectl("export", "--progress", "plain", "--from", "type=local,src=" + src,
                                 "--export-cache", dest_spec, ok=ok, env=env)

    def import_(self, src_spec, dest, ok=True, env=None):
        return self.run_cachectl("import", "--progress", "plain", "--import-cache", src_spec, "--dest", dest,
                                 ok=ok, env=env)

    def names(self, container=None):
        return self.az.names(container or self.container)

    def assert_complete(self, blobs="blobs/", manifest="manifests/buildkit", container=None):
        """The manifest names only blobs that are in the container, each
        with the bytes its digest and size say."""
        container = container or self.container
        doc = json.loads(self.az.get(container, manifest))
        names = set(self.names(container))
        for layer in doc.get("layers", []):
            self.assertIn(blobs + layer["blob"], names)
            data = self.az.get(container, blobs + layer["blob"])
            self.assertEqual(sha256(data), layer["blob"])
            self.assertEqual(len(data), layer["annotations"]["size"])
        return doc
