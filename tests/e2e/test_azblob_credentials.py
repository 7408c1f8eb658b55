"""Every credential source of type=azblob against azurite (Shared Key, SAS in
an option, in account_url, in the environment, connection strings, BuildKit's
environment fallbacks), and the Entra ID
client-secret and workload-identity flows against a stand-in token endpoint
(tests/peers/entra_stand_in.py) in front of azurite.  Bad settings are
usage errors before any request: test_usage.py.

Run by CTest with CACHECTL=<binary> and FIXTURES=<fixtures dir>.
"""
import json
import urllib.parse

import cachelib as cl
from azcase import Base, fixture, makecache_dir, spec


class Credentials(Base):
    def env_with(self, **kv):
        env = dict(self.env)
        env.update(kv)
        return env

    def test_every_credential_source_is_accepted_by_azurite(self):
        sas = self.az.sas()
        self.secrets.append(urllib.parse.parse_qs(sas)["sig"][0])
        url, key = self.az.url, self.az.key_text
        # (options, environment): each must export and import on its own
        table = [
            ({"account_url": url, "secret_access_key": key}, {}),
            ({"account_url": url, "sas_token": sas}, {}),
            ({"account_url": url, "sas_token": "?" + sas}, {}),
            ({"account_url": url + "?" + sas}, {}),
            ({"account_url": url}, {"AZURE_STORAGE_SAS_TOKEN": sas}),
            ({}, {"AZURE_STORAGE_CONNECTION_STRING": self.az.connection_string()}),
            ({}, {"AZURE_STORAGE_CONNECTION_STRING": self.az.connection_string(key=False, sas=sas)}),
            ({"secret_access_key": key},
             {"BUILDKIT_AZURE_STORAGE_ACCOUNT_URL": url, "BUILDKIT_AZURE_STORAGE_ACCOUNT_NAME": "devstoreaccount1",
              "BUILDKIT_AZURE_STORAGE_PREFIX": "from-env"}),
        ]
        src = cl.load(fixture("local-gzip-max"))
        for i, (opts, env) in enumerate(table):
            with self.subTest(i=i, options=sorted(opts), env=sorted(env)):
                container = "%s-%d" % (self.container, i)
                o = dict(opts, container=container)
                self.export(fixture("local-gzip-max"), spec(o), env=self.env_with(**env))
                prefix = "from-env/" if "BUILDKIT_AZURE_STORAGE_PREFIX" in env else ""
                self.assert_complete(blobs=prefix + "blobs/", manifest=prefix + "manifests/buildkit",
                                     container=container)
                dest = self.dir("imp-%d" % i)
                self.import_(spec(o), dest, env=self.env_with(**env))
                self.assertEqual(cl.load(dest).meaning(), src.meaning())
        # BUILDKIT_AZURE_STORAGE_CONTAINER, and the default container name
        self.export(fixture("local-gzip-max"), spec({"account_url": url, "secret_access_key": key}),
                    env=self.env_with(BUILDKIT_AZURE_STORAGE_CONTAINER=self.container + "-env"))
        self.assertIn("manifests/buildkit", self.names(self.container + "-env"))

    def test_a_sas_that_may_not_list_checks_each_blob(self):
        sas = self.az.sas(perms="racw")  # read, add, create, write: no list
        self.secrets.append(urllib.parse.parse_qs(sas)["sig"][0])
        o = {"account_url": self.az.url, "sas_token": sas, "container": self.container}
        p = self.export(fixture("local-gzip-max"), spec(o))
        self.assertIn("List Blobs", p.stderr)
        self.assertIn("HTTP 403", p.stderr)
        self.assertIn("checking each blob instead", p.stderr)
        self.assert_complete()
        p = self.export(fixture("local-gzip-max"), spec(o))
        self.assertIn("0 written, 9 skipped", p.stderr)
        dest = self.dir("back")
        self.import_(spec(o), dest)
        self.assertEqual(cl.load(dest).meaning(), cl.load(fixture("local-gzip-max")).meaning())

    def entra(self, expires_in=3600, storage_delay=0):
        self.log = self.dir("entra.log")
        self.scenario = {"tenant": "tenant-1", "client_id": "app-1", "client_secret": "entra-secret-value",
                         "assertion": "eyJhbGciOi.federated-jwt.sig", "expires_in": expires_in,
                         "storage_delay": storage_delay}
        self.secrets += [self.scenario["client_secret"], self.scenario["assertion"]]
        return self.az.entra_stand_in(self.scenario, self.log)

    def entries(self):
        with open(self.log) as f:
            return [json.loads(x) for x in f if x.strip()]

    def test_entra_client_secret_and_workload_identity(self):
        authority, storage = self.entra()
        token_file = self.dir("federated-token")
        with open(token_file, "w") as f:
            f.write(self.scenario["assertion"] + "\n")
        base = {"AZURE_AUTHORITY_HOST": authority, "AZURE_TENANT_ID": "tenant-1", "AZURE_CLIENT_ID": "app-1"}
        flows = [("secret", {"AZURE_CLIENT_SECRET": "entra-secret-value"}),
                 ("assertion", {"AZURE_FEDERATED_TOKEN_FILE": token_file})]
        src = cl.load(fixture("local-gzip-max"))
        for kind, extra in flows:
            with self.subTest(kind):
                container = "%s-%s" % (self.container, kind)
                env = self.env_with(**base, **extra)
                start = len(self.entries())
                o = {"account_url": storage, "container": container}
                self.export(fixture("local-gzip-max"), spec(o), env=env)
                dest = self.dir("imp-" + kind)
                p = self.import_(spec(o), dest, env=env)
                self.assertEqual(cl.load(dest).meaning(), src.meaning())
                self.assert_complete(container=container)
                log = self.entries()[start:]
                tokens = [e for e in log if e["what"] == "token"]
                # one token per run, asked for the storage scope with this flow
                self.assertEqual([(e["kind"], e["status"], e["scope"]) for e in tokens],
                                 [(kind, 200, "https://storage.azure.com/.default")] * 2)
                storage_calls = [e for e in log if e["what"] == "storage"]
                self.assertTrue(storage_calls)
                self.assertTrue(all(e["token"] in [t["token"] for t in tokens] for e in storage_calls))
                for t in tokens:
                    self.assertNotIn(t["token"], p.stderr + p.stdout)
        # a wrong secret: Entra's error, no storage request
        env = self.env_with(**base, AZURE_CLIENT_SECRET="wrong-secret")
        self.secrets.append("wrong-secret")
        p = self.export(fixture("local-gzip-max"), spec({"account_url": storage, "container": self.container}),
                        ok=False, env=env)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("invalid_client: AADSTS7000215", p.stderr)

    def test_a_token_is_renewed_before_it_expires(self):
        # renewed half-way, after a second; the export takes longer than that
        authority, storage = self.entra(expires_in=2, storage_delay=0.3)
        env = self.env_with(AZURE_AUTHORITY_HOST=authority, AZURE_TENANT_ID="tenant-1", AZURE_CLIENT_ID="app-1",
                            AZURE_CLIENT_SECRET="entra-secret-value")
        self.export(makecache_dir(self, 6), spec({"account_url": storage, "container": self.container}), env=env)
        log = self.entries()
        tokens = [e for e in log if e["what"] == "token"]
        self.assertGreaterEqual(len(tokens), 2, log)
        self.assertFalse([e for e in log if e["status"] in (401, 403)], log)
