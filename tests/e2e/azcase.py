"""What every azblob end-to-end suite shares (test_azblob_trust,
test_azblob, test_azblob_credentials, test_azblob_faults): one azurite per
suite (azpeer.py), a container per test, the binary run with a clean Azure
environment, and checks that read the container directly."""
import json
import os
import uuid

import azpeer
import harness as h
import makecache
from cachelib import sha256  # noqa: F401 (the azblob suites import it from here)
from harness import FIXTURES, fixture, read  # noqa: F401

AZBLOB_MAX = os.path.join(FIXTURES, "azblob-max", "export", "objects")


def clean_env(home):
    """No Azure or BuildKit setting of the machine leaks in."""
    return h.environment(drop=("CACHECTL_DEBUG",), drop_prefixes=("AZURE_", "BUILDKIT_AZURE_"), HOME=home)


def spec(opts):
    return ",".join(["type=azblob"] + ['"%s=%s"' % (k, v) if (";" in v or "," in v) else "%s=%s" % (k, v)
                                       for k, v in opts.items()])


class Base(h.TempDirCase):
    prefix = "cachectl-azblob-"

    def setUp(self):
        try:
            self.az = azpeer.shared()
        except h.Missing as e:
            h.lacking("%s is not installed" % e)
        super().setUp()
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)
        self.env = clean_env(self.home)
        self.container = "t-" + uuid.uuid4().hex[:12]
        self.secrets = [self.az.key_text]

    def run_cachectl(self, *args, ok=True, env=None):
        return h.run(*args, ok=ok, env=env or self.env, secrets=tuple(self.secrets))

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


def makecache_dir(test, n, size=4096, seed=7):
    path = test.dir("made-%d-%d" % (n, seed))
    if not os.path.exists(path):
        makecache.make(path, n, size, seed)
    return path
