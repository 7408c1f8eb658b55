"""Bad command lines and bad option specs, for every backend, as data
tables: arguments -> exit code and a fragment of the one-line message.

Every row must fail before any network traffic: the remote backends are
pointed at a loopback port that counts connections, and it must count none.
No peer is needed (a fast suite).  Rows that need a server to give
their answer (a missing tag, an image that is a cache) stay in the suites
of their backend.

Run by CTest with CACHECTL=<binary> and FIXTURES=<fixtures dir>.
"""
import os
import unittest

import ghalib
import harness as h
import s3peer
from harness import fixture

# ---- tables: (arguments, exit code, message fragment[, environment])

LOCAL = [
    (["export", "--from", "{src}", "--export-cache", "type=local,dest={dest},bogus=1"], 2, "bogus"),
    (["export", "--from", "{src}", "--export-cache", "type=floppy,dest=x"], 2, "floppy"),
    (["export", "--from", "{src}", "--export-cache", "type=local,dest={dest},compression=lzma"], 2, "lzma"),
    (["export", "--from", "{src}", "--export-cache", "type=local,dest={dest},compression=zstd,compression-level=99"],
     2, "99"),
    (["export", "--from", "{src}", "--export-cache", "type=local,dest={dest},mode=maximum"], 2, "maximum"),
    (["export", "--from", "{src}", "--export-cache",
      "type=local,dest={dest},compression=estargz,compression-level=10"], 2, "estargz"),
    (["export", "--from", "{src}", "--export-cache", "type=local"], 2, "dest"),
    (["export", "--from", "type=local", "--export-cache", "{dest}"], 2, "src"),
    (["export", "--from", "{src}", "--export-cache", "type=local,dest={dest},\"tag=x"], 2, "quote"),
    (["export", "--from", "{src}"], 2, "--export-cache"),
    (["export", "--from", "{src}", "--export-cache", "{dest}", "--export-cache", "{dest}"], 2, "duplicate"),
    (["export", "--bogus"], 2, "--bogus"),
    (["import", "--dest"], 2, "--dest"),
    (["import", "--import-cache", "{src}"], 2, "--dest"),
    (["inspect", "--format", "yaml", "{src}"], 2, "yaml"),
    (["verify", "--progress", "fancy", "{src}"], 2, "fancy"),
    (["verify", "{src}", "--jobs", "0"], 2, "--jobs"),
    (["frobnicate"], 2, "frobnicate"),
]

REGISTRY = [
    (["export", "--from", "{src}", "--export-cache", "type=registry"], 2, "requires ref"),
    (["export", "--from", "{src}", "--export-cache", "type=registry,ref={host}/Up/Case:t"], 2, "lowercase"),
    (["export", "--from", "{src}", "--export-cache", "type=registry,ref={host}/a@sha256:" + "0" * 64], 2, "tag"),
    (["export", "--from", "{src}", "--export-cache", "type=registry,ref={host}/a:t,registry.bogus=1"], 2,
     "registry.bogus"),
    (["export", "--from", "{src}", "--export-cache", "type=registry,ref={host}/a:t,registry.insecure=maybe"], 2,
     "maybe"),
    (["export", "--from", "{src}", "--export-cache", "type=registry,ref={host}/a:t,registry.upload-parallelism=0"],
     2, "upload-parallelism"),
]

INLINE = [
    (["export", "--from", "{src}", "--export-cache", "type=inline"], 2, "ref="),
    (["export", "--from", "{src}", "--export-cache", "type=inline,ref={host}/app:plain,layout=/tmp"], 2,
     "one of them"),
    (["export", "--from", "{src}", "--export-cache", "type=inline,ref={host}/app@sha256:" + "4" * 64], 2, "name="),
    (["export", "--from", "{src}", "--export-cache", "type=inline,layout={empty}"], 3, "index.json"),
    (["import", "--import-cache", "type=inline,ref={host}/app:inline", "--dest", "{dest}"], 2, "type=inline"),
    # a layout's image and a local cache in one directory both rewrite its index.json
    (["export", "--from", "{src}", "--export-cache", "type=inline,layout={empty}",
      "--export-cache", "type=local,dest={empty}/,tag=cache"], 2, "duplicate destination: --export-cache #1 and #2"),
    (["export", "--from", "{src}", "--export-cache", "{empty}",
      "--export-cache", "type=inline,layout={empty}/.,tag=app"], 2, "both rewrite its index.json"),
]

# gha: the runtime token comes from the environment
GHA = [
    (["import", "--import-cache", "type=gha,url=http://{host}/", "--dest", "{dest}"], 2, "token not set"),
    (["import", "--import-cache", "type=gha", "--dest", "{dest}"], 2, "url not set",
     {"ACTIONS_RUNTIME_TOKEN": "{token}"}),
    (["import", "--import-cache", "type=gha,url=http://{host}/,version=two", "--dest", "{dest}"], 2,
     "not an integer", {"ACTIONS_RUNTIME_TOKEN": "{token}"}),
    (["import", "--import-cache", "type=gha,url=http://{host}/", "--dest", "{dest}"], 2, "expired",
     {"ACTIONS_RUNTIME_TOKEN": "{expired}"}),
    (["import", "--import-cache", "type=gha,url=http://{host}/", "--dest", "{dest}"], 2, "not a JWT",
     {"ACTIONS_RUNTIME_TOKEN": "not-a-jwt"}),
    (["import", "--import-cache", "type=gha,url=http://{host}/,colour=blue", "--dest", "{dest}"], 2,
     "unknown option", {"ACTIONS_RUNTIME_TOKEN": "{token}"}),
]

# s3: {s3} is a complete spec (bucket, region, endpoint, credentials)
S3_SPEC = ("type=s3,bucket=b,region=us-east-1,endpoint_url=http://{host},use_path_style=true,"
           "access_key_id=AKIDCACHECTLTEST,secret_access_key={secret}")
S3 = [
    (["export", "--from", "{src}", "--export-cache", "type=s3,region=us-east-1"], 2,
     "bucket ($AWS_BUCKET) not set for s3 cache"),
    (["export", "--from", "{src}", "--export-cache", "type=s3,bucket=b"], 2, "region ($AWS_REGION) not set for s3 cache"),
    (["export", "--from", "{src}", "--export-cache", "{s3},upload_parallelism=0"], 2,
     "upload_parallelism must be a positive integer"),
    (["export", "--from", "{src}", "--export-cache", "{s3},retry_mode=eager"], 2, "retry_mode"),
    (["export", "--from", "{src}", "--export-cache", "{s3},retry_max_attempts=0"], 2, "retry_max_attempts"),
    (["export", "--from", "{src}", "--export-cache", "{s3},endpoint_url=ftp://x"], 2, "endpoint_url"),
    (["export", "--from", "{src}", "--export-cache", "{s3},colour=blue"], 2, 'unknown option "colour"'),
    (["export", "--from", "{src}", "--export-cache", "{s3},oci-mediatypes=true"], 2,
     'unknown option "oci-mediatypes"'),
    (["export", "--from", "{src}", "--export-cache", "{s3},touch_refresh=soon"], 2,
     'touch_refresh="soon" is not a duration'),
    (["export", "--from", "{src}", "--export-cache", "{s3},disable_accept_encoding=yes"], 2,
     'disable_accept_encoding="yes" is not a boolean'),
    (["export", "--from", "{src}", "--export-cache", "{s3},mode=bogus"], 2, "bogus"),
    # two caches whose name lists overlap in one bucket and prefix overwrite one manifest
    (["export", "--from", "{src}", "--export-cache", '{s3},"name=a;b"', "--export-cache", '{s3},"name=c;b"'], 2,
     'duplicate destination: --export-cache #1 and #2 write the same place (s3:http://{host}/b/manifests/, '
     'manifest name "b"'),
    (["export", "--from", "{src}", "--export-cache", "{s3},prefix=p/",
      "--export-cache", '{s3},prefix=p/,"name=x;buildkit"'], 2, 'manifest name "buildkit"'),
    (["export", "--from", "{src}", "--export-cache", "{s3},prefix=p/m/,manifests_prefix=",
      "--export-cache", "{s3},prefix=p/,manifests_prefix=m/"], 2, "duplicate destination"),
]

S3_SECRET = "cachectl/test+secret/0123456789abcdefghijkl"

# azblob: {az} is a complete spec (account URL, Shared Key)
AZ_KEY = "c2VjcmV0LWF6dXJlLWFjY291bnQta2V5LWZvci10ZXN0cw=="
AZ_SPEC = "type=azblob,account_url=http://{host}/devstoreaccount1,secret_access_key=" + AZ_KEY
AZ_URL = "type=azblob,account_url=http://{host}/devstoreaccount1"
AZBLOB = [
    (["export", "--from", "{src}", "--export-cache", "type=azblob"], 2,
     "account_url ($BUILDKIT_AZURE_STORAGE_ACCOUNT_URL) not set"),
    (["export", "--from", "{src}", "--export-cache", "type=azblob,account_url=not-a-url,secret_access_key=AAAA"], 2,
     "account_url"),
    (["export", "--from", "{src}", "--export-cache", AZ_URL], 2, "no credentials: give secret_access_key="),
    (["export", "--from", "{src}", "--export-cache", AZ_URL + ",secret_access_key=%%%"], 2, "is not base64"),
    (["export", "--from", "{src}", "--export-cache", AZ_URL + ",sas_token=sv=2019-02-02&sp=r"], 2,
     "has no sig= parameter"),
    (["export", "--from", "{src}", "--export-cache", "{az},upload_parallelism=0"], 2,
     "upload_parallelism must be a positive integer"),
    (["export", "--from", "{src}", "--export-cache", "{az},touch_refresh=soon"], 2,
     'azblob: touch_refresh="soon" is not a duration'),
    (["prune", "{az},touch_refresh=-"], 2, 'azblob: touch_refresh="-" is not a duration'),
    (["export", "--from", "{src}", "--export-cache", "{az},bucket=b"], 2, 'unknown option "bucket"'),
    (["export", "--from", "{src}", "--export-cache", "{az},oci-mediatypes=true"], 2,
     'unknown option "oci-mediatypes"'),
    (["export", "--from", "{src}", "--export-cache", "{az},mode=bogus"], 2, "bogus"),
    (["export", "--from", "{src}", "--export-cache", "{az},container=c1"], 2, 'container="c1" is not a container name'),
    (["export", "--from", "{src}", "--export-cache", "{az},container=Build_Cache"], 2, "lower-case"),
    (["export", "--from", "{src}", "--export-cache", "{az},container=a--b"], 2, "single hyphens"),
    (["export", "--from", "{src}", "--export-cache", AZ_URL], 2, "AZURE_TENANT_ID or AZURE_CLIENT_ID is not",
     {"AZURE_CLIENT_SECRET": "s"}),
    (["export", "--from", "{src}", "--export-cache", AZ_URL], 2, "https:// URL is required",
     {"AZURE_CLIENT_SECRET": "s", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c",
      "AZURE_AUTHORITY_HOST": "http://login.example.com"}),
    (["export", "--from", "{src}", "--export-cache", AZ_URL], 2, "a part is not Key=Value",
     {"AZURE_STORAGE_CONNECTION_STRING": "AccountName=a;garbage"}),
]


class Usage(h.TempDirCase):
    def setUp(self):
        super().setUp()
        os.mkdir(self.dir("empty"))
        self.listener = h.CountingListener()
        self.addCleanup(self.listener.close)
        self.values = dict(src=fixture("local-gzip-max"), dest=self.dir("dest"), empty=self.dir("empty"),
                           host=self.listener.host)

    def check(self, rows, env, secrets=(), **values):
        def run_row(args, row_env):
            return h.run(*h.quiet(args), ok=False, env=dict(env, **row_env), secrets=secrets)
        h.check_table(self, rows, run_row, **dict(self.values, **values))
        self.assertFalse(os.path.exists(self.dir("dest")), "a refused command wrote its destination")
        self.assertEqual(self.listener.connections, 0, "a refused command reached the network")

    def test_local_and_command_line(self):
        self.check(LOCAL, h.environment())

    def test_registry(self):
        env = h.environment(drop=("REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR"), DOCKER_CONFIG=self.dir("no-config"))
        self.check(REGISTRY, env)

    def test_inline(self):
        env = h.environment(drop=("REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR"), DOCKER_CONFIG=self.dir("no-config"))
        self.check(INLINE, env)

    def test_gha(self):
        token = ghalib.MAIN_TOKEN
        expired = ghalib.token([(ghalib.MAIN, 3)], exp=1000)
        env = h.environment(drop_prefixes=("ACTIONS_", "GITHUB_", "CACHECTL_GHA"))
        self.check(GHA, env, secrets=(token, expired), token=token, expired=expired)

    def test_s3(self):
        home = self.dir("home")
        os.mkdir(home)
        s3 = S3_SPEC.format(host=self.values["host"], secret=S3_SECRET)
        self.check(S3, s3peer.clean_env(home), secrets=(S3_SECRET,), s3=s3)

    def test_azblob(self):
        env = h.environment(drop_prefixes=("AZURE_", "BUILDKIT_AZURE_"))
        self.check(AZBLOB, env, secrets=(AZ_KEY,), az=AZ_SPEC.format(host=self.values["host"]))


if __name__ == "__main__":
    unittest.main()
