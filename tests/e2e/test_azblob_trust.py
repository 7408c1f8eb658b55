"""azurite is the judge of every azblob suite's credentials: it is trusted
only after it refused a wrong key, an expired SAS and a SAS without the
permission, and cachectl with a wrong key or an expired SAS.  CTest runs
this suite first (FIXTURES_SETUP azurite_trust); the other azblob suites
need it to pass.

Run by CTest with CACHECTL=<binary> and FIXTURES=<fixtures dir>.
"""
import urllib.parse

from azcase import Base, fixture


class A_AzuriteIsTrustworthy(Base):
    """azurite is trusted to judge credentials only because it refuses a
    wrong key and an expired SAS.  These run first."""

    def test_a_wrong_key_and_an_expired_sas_are_refused(self):
        self.az.make_container(self.container)
        status, _, _ = self.az.request("PUT", self.container, "probe", body=b"x",
                                       headers={"x-ms-blob-type": "BlockBlob"})
        self.assertEqual(status, 201)
        status, _, _ = self.az.request("GET", self.container, "probe", sas=self.az.sas(ttl=-600))
        self.assertEqual(status, 403)
        status, _, _ = self.az.request("GET", self.container, "probe", sas=self.az.sas(perms="w"))
        self.assertEqual(status, 403)  # a SAS without read permission
        status, _, _ = self.az.request("GET", self.container, "probe", sas="")
        self.assertIn(status, (403, 404))  # anonymous: no public access

        wrong = "A" * 86 + "=="
        p = self.export(fixture("local-gzip-max"), self.az_spec(secret_access_key=wrong), ok=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("HTTP 403 AuthorizationFailure", p.stderr)
        self.assertIn("credentials: the secret_access_key option", p.stderr)
        self.assertNotIn(wrong, p.stderr)
        self.assertEqual(self.names(), ["probe"])

        expired = self.az.sas(ttl=-600)
        self.secrets.append(urllib.parse.parse_qs(expired)["sig"][0])
        p = self.export(fixture("local-gzip-max"), self.az_spec(key=False, sas_token=expired), ok=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("HTTP 403", p.stderr)
        self.assertIn("the sas_token option", p.stderr)
        self.assertEqual(self.names(), ["probe"])
