"""The AWS credential chain, each source tried against the verifying front,
with loopback stand-ins (tests/peers/aws_endpoints.py) for STS, the
container credentials endpoint and EC2 instance metadata.  A suite of its
own, run by CTest once test_s3_front.py has shown the front can be trusted."""
import json
import os
import time
import uuid

import harness as h
import s3peer
from s3case import AKID, SECRET, Base, fixture

SERVICES = {}


def services():
    """One stand-in for the run; each test rewrites its scenario."""
    if "url" not in SERVICES:
        import atexit
        import shutil
        tmp = s3peer.tempdir()
        atexit.register(shutil.rmtree, tmp, True)
        proc, url, path, log = s3peer.credential_services(tmp, {"issue": {}})
        SERVICES.update(proc=proc, url=url, path=path, log=log)
        atexit.register(h.stop_peer, proc)
    return SERVICES


class Chain(Base):
    def setUp(self):
        super().setUp()
        self.spec = self.s3(creds=False)
        self.secrets = ()

    def issue(self, **scenario):
        """Temporary credentials the stand-ins hand out (and the front accepts)."""
        suffix = uuid.uuid4().hex[:12].upper()
        creds = {"AccessKeyId": "ASIA" + suffix, "SecretAccessKey": "tmp-secret-" + uuid.uuid4().hex,
                 "SessionToken": "tmp-token-" + uuid.uuid4().hex,
                 "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))}
        self.store.add_key(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        self.secrets = (creds["SecretAccessKey"], creds["SessionToken"])
        sc = {"issue": creds, "role_arn": "arn:aws:iam::123456789012:role/cache", "region": "us-east-1",
              "web_identity_token": "oidc-" + uuid.uuid4().hex, "signing_keys": {AKID: SECRET},
              "container_path": "/creds", "container_token": "ctr-" + uuid.uuid4().hex,
              "imds_role": "cache-role", "imds_silent": False}
        sc.update(scenario)
        svc = services()
        with open(svc["path"] + ".new", "w") as f:
            json.dump(sc, f)
        os.replace(svc["path"] + ".new", svc["path"])
        self.svc_log_start = self.service_log_len()
        return sc

    def service_log_len(self):
        if not os.path.exists(services()["log"]):
            return 0
        with open(services()["log"]) as f:
            return len(f.read().splitlines())

    def service_log(self):
        with open(services()["log"]) as f:
            return [json.loads(x) for x in f.read().splitlines()[self.svc_log_start:]]

    def export_with(self, env, ok=True):
        return self.export(fixture("local-gzip-max"), self.spec, ok=ok, env=env)

    def used_key(self):
        """The access key of the last blob request the front accepted."""
        log = [e for e in self.new_log() if e.get("akid")]
        self.assertTrue(log)
        return log[-1]["akid"]

    def write(self, name, text):
        path = os.path.join(self.home, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_environment_with_and_without_a_session_token(self):
        env = dict(self.env, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET)
        self.export_with(env)
        self.assertEqual(self.used_key(), AKID)
        self.assert_complete()
        self.store.add_key("ASIAENVTOKEN", "env-temporary-secret", token="env-session-token")
        self.secrets = ("env-temporary-secret", "env-session-token")
        env = dict(self.env, AWS_ACCESS_KEY_ID="ASIAENVTOKEN", AWS_SECRET_ACCESS_KEY="env-temporary-secret",
                   AWS_SESSION_TOKEN="env-session-token")
        self.export_with(env)
        log = self.new_log()
        self.assertTrue(all("x-amz-security-token" in e["signed"] for e in log))
        del env["AWS_SESSION_TOKEN"]
        p = self.export_with(env, ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("InvalidToken", p.stderr)
        self.assertIn("credentials from environment (AWS_ACCESS_KEY_ID)", p.stderr)
        env = dict(self.env, AWS_ACCESS_KEY_ID=AKID)
        p = self.export_with(env, ok=False)
        self.assertIn("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not", p.stderr)

    def test_order_options_environment_files(self):
        self.write(".aws/credentials", "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                   % ("AKIDFROMFILE", "file-secret"))
        self.store.add_key("AKIDFROMFILE", "file-secret")
        self.secrets = ("file-secret", "env-wrong-secret")
        env = dict(self.env)
        del env["AWS_SHARED_CREDENTIALS_FILE"]  # the default path under $HOME
        self.export_with(env)
        self.assertEqual(self.used_key(), "AKIDFROMFILE")
        # the environment comes before the files ...
        env_wrong = dict(env, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY="env-wrong-secret")
        p = self.export_with(env_wrong, ok=False)
        self.assertIn("SignatureDoesNotMatch", p.stderr)
        # ... and the options before the environment.
        self.spec = self.s3()
        self.export_with(env_wrong)
        self.assertEqual(self.used_key(), AKID)

    def test_shared_files_profiles_and_paths(self):
        creds = self.write("elsewhere/creds", "# a comment\n[default]\naws_access_key_id = AKIDNOTTHIS\n"
                           "aws_secret_access_key = nope\n\n[ci]\naws_access_key_id=%s\n"
                           "aws_secret_access_key=%s\n" % (AKID, SECRET))
        config = self.write("elsewhere/config", "[default]\nregion = us-east-1\n[profile fromconfig]\n"
                            "region = us-east-1\ns3 =\n  addressing_style = path\naws_access_key_id = %s\n"
                            "aws_secret_access_key = %s\n" % (AKID, SECRET))
        env = dict(self.env, AWS_SHARED_CREDENTIALS_FILE=creds, AWS_CONFIG_FILE=config, AWS_PROFILE="ci")
        self.export_with(env)
        self.assertEqual(self.used_key(), AKID)
        env["AWS_PROFILE"] = "fromconfig"
        self.export_with(env)
        self.assertEqual(self.used_key(), AKID)
        env["AWS_PROFILE"] = "absent"
        p = self.export_with(env, ok=False)
        self.assertIn("profile absent is not in", p.stderr)
        self.assert_complete()

    def test_credential_process(self):
        sc = self.issue()
        c = sc["issue"]
        out = json.dumps({"Version": 1, "AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"],
                          "SessionToken": c["SessionToken"], "Expiration": c["Expiration"]})
        script = self.write("bin/creds.sh", "#!/bin/sh\ncat <<'EOF'\n%s\nEOF\n" % out)
        os.chmod(script, 0o755)
        config = self.write("config", "[profile proc]\ncredential_process = %s\n[profile broken]\n"
                            "credential_process = sh -c 'exit 7'\n" % script)
        env = dict(self.env, AWS_CONFIG_FILE=config, AWS_PROFILE="proc")
        self.export_with(env)
        self.assertEqual(self.used_key(), c["AccessKeyId"])
        env["AWS_PROFILE"] = "broken"
        p = self.export_with(env, ok=False)
        self.assertIn("credential_process failed (exit status 7)", p.stderr)

    def test_assume_role_with_a_source_profile(self):
        sc = self.issue()
        config = self.write("config", "[profile base]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                            "[profile deploy]\nrole_arn = %s\nsource_profile = base\nrole_session_name = ci\n"
                            % (AKID, SECRET, sc["role_arn"]))
        env = dict(self.env, AWS_CONFIG_FILE=config, AWS_PROFILE="deploy",
                   AWS_ENDPOINT_URL_STS=services()["url"] + "/sts")
        self.export_with(env)
        self.assertEqual(self.used_key(), sc["issue"]["AccessKeyId"])
        self.assertEqual([e["outcome"] for e in self.service_log()], ["AssumeRole"])
        self.assert_complete()

    def test_web_identity(self):
        sc = self.issue()
        token = self.write("token", sc["web_identity_token"] + "\n")
        env = dict(self.env, AWS_WEB_IDENTITY_TOKEN_FILE=token, AWS_ROLE_ARN=sc["role_arn"],
                   AWS_ENDPOINT_URL_STS=services()["url"] + "/sts")
        self.export_with(env)
        self.assertEqual(self.used_key(), sc["issue"]["AccessKeyId"])
        self.assertEqual([e["outcome"] for e in self.service_log()], ["AssumeRoleWithWebIdentity"])
        self.write("token", "a-token-sts-refuses")
        p = self.export_with(env, ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("InvalidIdentityToken", p.stderr)
        self.assertIn("AssumeRoleWithWebIdentity", p.stderr)

    def test_container_credentials(self):
        sc = self.issue()
        url = services()["url"]
        env = dict(self.env, AWS_CONTAINER_CREDENTIALS_FULL_URI=url + "/creds",
                   AWS_CONTAINER_AUTHORIZATION_TOKEN=sc["container_token"])
        self.export_with(env)
        self.assertEqual(self.used_key(), sc["issue"]["AccessKeyId"])
        token_file = self.write("pod-token", sc["container_token"] + "\n")
        env = dict(self.env, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="/creds",
                   CACHECTL_AWS_CONTAINER_CREDENTIALS_HOST=url, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=token_file)
        self.export_with(env)
        self.assertEqual(self.used_key(), sc["issue"]["AccessKeyId"])
        self.assertEqual([e["outcome"] for e in self.service_log()], ["container", "container"])
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = self.write("other", "wrong")
        p = self.export_with(env, ok=False)
        self.assertIn("HTTP 401", p.stderr)
        # Plain http only to the loopback and the AWS agents: refused before any connection.
        env = dict(self.env, AWS_CONTAINER_CREDENTIALS_FULL_URI="http://192.0.2.1/creds")
        p = self.export_with(env, ok=False)
        self.assertIn("must be https, or http to the loopback", p.stderr)

    def test_credentials_about_to_expire_are_refreshed(self):
        soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 120))
        sc = self.issue()
        sc["issue"]["Expiration"] = soon
        with open(services()["path"], "w") as f:
            json.dump(sc, f)
        env = dict(self.env, AWS_CONTAINER_CREDENTIALS_FULL_URI=services()["url"] + "/creds",
                   AWS_CONTAINER_AUTHORIZATION_TOKEN=sc["container_token"])
        self.export_with(env)
        # Within five minutes of expiry they are fetched again before use.
        self.assertGreater(len(self.service_log()), 1)

    def test_instance_metadata_v2(self):
        sc = self.issue()
        env = dict(self.env, AWS_EC2_METADATA_SERVICE_ENDPOINT=services()["url"])
        del env["AWS_EC2_METADATA_DISABLED"]
        self.export_with(env)
        self.assertEqual(self.used_key(), sc["issue"]["AccessKeyId"])
        self.assertEqual([e["outcome"] for e in self.service_log()], ["token", "role list", "imds"])
        # A token request nobody answers (hop limit 1 in a container): a hint.
        self.issue(imds_silent=True)
        started = time.time()
        p = self.export_with(env, ok=False)
        self.assertLess(time.time() - started, 30)
        self.assertIn("no AWS credentials found", p.stderr)
        self.assertIn("hop limit", p.stderr)

    def test_nothing_anywhere(self):
        p = self.export_with(self.env, ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no AWS credentials found", p.stderr)
        self.assertIn("instance metadata disabled by AWS_EC2_METADATA_DISABLED", p.stderr)
        self.assertEqual(self.keys(), [])
