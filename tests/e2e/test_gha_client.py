"""The gha test server judged by GitHub's own cache client, @actions/cache.

The server (tests/peers/gha_server.py) is trusted as a stand-in for GitHub's
service only once the official client saves and restores a directory
through it, over API v1 and over API v2 (with azurite as the blob store;
once more with SAS URLs on an Azure host name, so that the client uses the
Azure SDK's segmented ranged downloads as on GitHub), and sees the semantics
it relies on: immutable keys, restore-key prefixes, versions, scopes.  CTest runs this before the cachectl gha tests
(FIXTURES_SETUP gha_server / FIXTURES_REQUIRED).
"""
import hashlib
import json
import os
import shutil
import subprocess
import unittest

import ghalib
import harness as h

CLIENT = os.path.join(ghalib.PEERS, "actions_cache_client.mjs")
DNS = os.path.join(ghalib.PEERS, "blob_dns.cjs")
AZURE_HOST = "devstoreaccount1.blob.core.windows.net"
MODULES = None
SERVERS = {}


def setUpModule():
    global MODULES
    MODULES = ghalib.node_modules()
    if MODULES:
        SERVERS["v1"] = ghalib.Server()
        SERVERS["v2"] = ghalib.Server(azurite_modules=MODULES)
        # SAS URLs on an Azure host name (resolved to azurite by blob_dns.cjs):
        # the client then takes the Azure SDK's path, as on GitHub
        SERVERS["v2-azure-host"] = ghalib.Server(azurite_modules=MODULES, blob_host=AZURE_HOST)


def tearDownModule():
    for s in SERVERS.values():
        s.stop()


def tree(root):
    """relative path -> (mode, sha256) of every file and folder under root."""
    out = {}
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(base, name)
            st = os.lstat(p)
            digest = None
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            elif os.path.islink(p):
                digest = os.readlink(p)
            out[os.path.relpath(p, root)] = (st.st_mode, digest)
    return out


class OfficialClient(h.TempDirCase):
    api = None
    azure_host = False
    prefix = "cachectl-ghaclient-"

    def setUp(self):
        if not MODULES:
            self.skipTest("node and npm are not installed")
        self.server = SERVERS["v1" if self.api == 1 else "v2-azure-host" if self.azure_host else "v2"]
        self.server.reset()
        super().setUp()
        self.ws = os.path.join(self.tmp, "workspace")
        os.makedirs(os.path.join(self.ws, "data", "nested", "deeper"))
        with open(os.path.join(self.ws, "data", "big.bin"), "wb") as f:
            # Incompressible and above 32 MiB: v1 uploads it in two chunks.
            f.write(os.urandom(33 << 20))
        with open(os.path.join(self.ws, "data", "nested", "deeper", "hello.txt"), "w") as f:
            f.write("hello from the official client\n")
        os.chmod(os.path.join(self.ws, "data", "nested", "deeper", "hello.txt"), 0o640)
        os.symlink("nested/deeper/hello.txt", os.path.join(self.ws, "data", "link"))

    def client(self, tok, *args):
        env = {"PATH": os.environ["PATH"], "HOME": self.tmp, "NODE_MODULES": MODULES,
               "ACTIONS_RUNTIME_TOKEN": tok, "RUNNER_TEMP": os.path.join(self.tmp, "runner-temp"),
               "GITHUB_WORKSPACE": self.ws}
        if self.api == 1:
            env["ACTIONS_CACHE_URL"] = self.server.url + "/"
        else:
            env["ACTIONS_CACHE_SERVICE_V2"] = "true"
            env["ACTIONS_RESULTS_URL"] = self.server.url + "/"
        node = ["node", "-r", DNS] if self.azure_host else ["node"]
        p = subprocess.run(node + [CLIENT, *args], cwd=self.ws, env=env, capture_output=True, text=True,
                           timeout=180, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        return json.loads(p.stdout.strip().splitlines()[-1])["result"], p.stdout + p.stderr

    def test_save_and_restore_a_directory(self):
        main = ghalib.MAIN_TOKEN
        before = tree(os.path.join(self.ws, "data"))
        saved, out = self.client(main, "save", "deps-linux-abc", "data")
        self.assertGreater(saved, 0, out[-3000:])
        entries = self.server.committed(self.api)
        self.assertEqual(list(entries), ["deps-linux-abc"])
        self.assertEqual(entries["deps-linux-abc"]["scope"], ghalib.MAIN)
        if self.api == 1:
            patches = [r for r in self.server.log() if r["method"] == "PATCH"]
            self.assertEqual(len(patches), 2)  # 32 MiB chunks
            self.assertTrue(all(r["headers"]["content-range"].endswith("/*") for r in patches))

        shutil.rmtree(os.path.join(self.ws, "data"))
        hit, out = self.client(main, "restore", "deps-linux-abc", "", "data")
        self.assertEqual(hit, "deps-linux-abc", out[-3000:])
        self.assertEqual(tree(os.path.join(self.ws, "data")), before)
        if self.api == 2:
            # plain GET of the SAS URL, or the SDK's segmented, ranged GETs for an Azure host
            self.assertEqual("Downloading segment at offset 0" in out, self.azure_host)

        # A restore key is a prefix: the newest entry that starts with it.
        shutil.rmtree(os.path.join(self.ws, "data"))
        hit, out = self.client(main, "restore", "deps-linux-zzz", "deps-linux-", "data")
        self.assertEqual(hit, "deps-linux-abc", out[-3000:])
        self.assertEqual(tree(os.path.join(self.ws, "data")), before)

        # Entries are immutable: saving the same key again is refused.
        again, out = self.client(main, "save", "deps-linux-abc", "data")
        self.assertEqual(again, -1, out[-3000:])

        # The version covers the paths: other paths miss.
        os.makedirs(os.path.join(self.ws, "other"))
        miss, out = self.client(main, "restore", "deps-linux-abc", "deps-", "other")
        self.assertIsNone(miss, out[-3000:])

    def test_scopes_of_the_token(self):
        if self.azure_host:
            self.skipTest("scopes do not depend on the blob host")
        main = ghalib.MAIN_TOKEN
        pr = ghalib.token([(ghalib.MAIN, 1), ("refs/pull/7/merge", 3)])
        saved, out = self.client(main, "save", "k-main", "data")
        self.assertGreater(saved, 0, out[-3000:])
        # A pull request reads its base branch's entries ...
        shutil.rmtree(os.path.join(self.ws, "data", "nested"))
        hit, out = self.client(pr, "restore", "k-main", "", "data")
        self.assertEqual(hit, "k-main", out[-3000:])
        # ... writes its own scope ...
        saved, out = self.client(pr, "save", "k-pr", "data")
        self.assertGreater(saved, 0, out[-3000:])
        self.assertEqual(self.server.committed(self.api)["k-pr"]["scope"], "refs/pull/7/merge")
        # ... which the base branch does not see.
        miss, out = self.client(main, "restore", "k-pr", "", "data")
        self.assertIsNone(miss, out[-3000:])


class ApiV1(OfficialClient):
    api = 1


class ApiV2(OfficialClient):
    api = 2


class ApiV2AzureSdk(OfficialClient):
    api = 2
    azure_host = True


del OfficialClient

if __name__ == "__main__":
    unittest.main()
