"""Loopback stand-ins for the AWS services a credential chain talks to:
STS (AssumeRoleWithWebIdentity, and AssumeRole whose Signature V4 is
checked with botocore's own signer), the container credentials endpoint
(ECS / EKS Pod Identity) and EC2 instance metadata (IMDSv2).  Each answers
as the real service does, from a scenario file.

usage: aws_endpoints.py --scenario FILE [--log FILE]
Prints the port it listens on (127.0.0.1) on stdout, then serves.

The scenario is JSON, re-read on every request:
  {"issue": {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"},
   "role_arn": "arn:aws:iam::123456789012:role/cache",   (STS checks it)
   "web_identity_token": "...",                           (STS checks it)
   "signing_keys": {"AKID": "secret"},   (who may call AssumeRole)
   "region": "us-east-1",
   "container_path": "/creds", "container_token": "...",  (Authorization)
   "imds_role": "cache-role", "imds_silent": false}        (silent: the
        token PUT never answers, as with a hop limit of 1 in a container)
Routes: POST /sts/ (STS), GET <container_path>, PUT /latest/api/token,
GET /latest/meta-data/iam/security-credentials/[role].
The log gets one JSON line per request (method, path, outcome; no secrets).
"""
import argparse
import datetime
import http.server
import json
import socketserver
import sys
import threading
import time
import urllib.parse
import uuid

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

TOKENS = set()
LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def scenario(self):
        with open(self.server.scenario_file) as f:
            return json.load(f)

    def record(self, outcome):
        if self.server.log:
            with LOCK:
                self.server.log.write(json.dumps({"method": self.command, "path": self.path,
                                                  "outcome": outcome}) + "\n")
                self.server.log.flush()

    def answer(self, status, body, ctype="application/json", outcome=""):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.record(outcome or str(status))

    def sts_error(self, status, code, message):
        xml = ("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>"
               "<Code>%s</Code><Message>%s</Message></Error><RequestId>x</RequestId></ErrorResponse>"
               % (code, message))
        self.answer(status, xml, "text/xml", code)

    def sts_credentials(self, action, sc):
        c = sc["issue"]
        xml = ("<{a}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><{a}Result><Credentials>"
               "<AccessKeyId>{id}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey>"
               "<SessionToken>{token}</SessionToken><Expiration>{exp}</Expiration></Credentials>"
               "<AssumedRoleUser><Arn>{arn}</Arn><AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser>"
               "</{a}Result><ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></{a}Response>"
               .format(a=action, id=c["AccessKeyId"], secret=c["SecretAccessKey"], token=c["SessionToken"],
                       exp=c["Expiration"], arn=sc["role_arn"], rid=uuid.uuid4()))
        self.answer(200, xml, "text/xml", action)

    def check_sigv4(self, sc, body):
        """AssumeRole is signed by the caller: verify it as STS would."""
        auth = self.headers.get("Authorization", "")
        try:
            fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
            akid, date, region, service, _ = fields["Credential"].split("/")
            signed = fields["SignedHeaders"].split(";")
        except (KeyError, ValueError):
            return "missing or malformed Authorization"
        secret = sc.get("signing_keys", {}).get(akid)
        if secret is None:
            return "unknown access key"
        if service != "sts" or region != sc.get("region", "us-east-1"):
            return "wrong scope %s/%s" % (region, service)
        headers = HTTPHeaders()
        for name in signed:
            v = self.headers.get(name)
            if v is None:
                return "signed header %s missing" % name
            headers[name] = v
        req = AWSRequest(method="POST", url="http://%s%s" % (self.headers["Host"], self.path),
                         headers=headers, data=body)
        req.context["timestamp"] = self.headers.get("X-Amz-Date", "")
        signer = SigV4Auth(Credentials(akid, secret, self.headers.get("X-Amz-Security-Token")), "sts", region)
        canonical = signer.canonical_request(req)
        want = signer.signature(signer.string_to_sign(req, canonical), req)
        if want != fields.get("Signature"):
            return "signature mismatch"
        return None

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        sc = self.scenario()
        if not self.path.startswith("/sts"):
            return self.answer(404, "{}")
        form = dict(urllib.parse.parse_qsl(body.decode()))
        action = form.get("Action")
        if form.get("RoleArn") != sc["role_arn"]:
            return self.sts_error(403, "AccessDenied", "not authorized to assume that role")
        if action == "AssumeRoleWithWebIdentity":
            if form.get("WebIdentityToken") != sc["web_identity_token"]:
                return self.sts_error(400, "InvalidIdentityToken", "token rejected")
            if not form.get("RoleSessionName"):
                return self.sts_error(400, "ValidationError", "RoleSessionName missing")
            return self.sts_credentials(action, sc)
        if action == "AssumeRole":
            problem = self.check_sigv4(sc, body)
            if problem:
                return self.sts_error(403, "SignatureDoesNotMatch", problem)
            return self.sts_credentials(action, sc)
        return self.sts_error(400, "InvalidAction", "unknown action")

    def creds_json(self, sc, with_code):
        c = sc["issue"]
        doc = {"AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"],
               "Token": c["SessionToken"], "Expiration": c["Expiration"]}
        if with_code:
            doc.update(Code="Success", Type="AWS-HMAC",
                       LastUpdated=datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"))
        return json.dumps(doc)

    def do_PUT(self):
        sc = self.scenario()
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path != "/latest/api/token":
            return self.answer(404, "")
        if sc.get("imds_silent"):
            # The answer never arrives (dropped at the hop limit).
            self.record("silent")
            time.sleep(10)
            self.close_connection = True
            return
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        if not ttl or not ttl.isdigit():
            return self.answer(400, "", "text/plain", "no ttl")
        token = uuid.uuid4().hex
        with LOCK:
            TOKENS.add(token)
        self.answer(200, token, "text/plain", "token")

    def do_GET(self):
        sc = self.scenario()
        if self.path == sc.get("container_path"):
            want = sc.get("container_token")
            if want and self.headers.get("Authorization") != want:
                return self.answer(401, "{}", outcome="bad authorization")
            return self.answer(200, self.creds_json(sc, False), outcome="container")
        prefix = "/latest/meta-data/iam/security-credentials/"
        if self.path.startswith(prefix):
            with LOCK:
                ok = self.headers.get("X-aws-ec2-metadata-token") in TOKENS
            if not ok:
                return self.answer(401, "", "text/plain", "no token")
            role = self.path[len(prefix):]
            if not role:
                return self.answer(200, sc["imds_role"] + "\n", "text/plain", "role list")
            if role != sc["imds_role"]:
                return self.answer(404, "", "text/plain", "unknown role")
            return self.answer(200, self.creds_json(sc, True), outcome="imds")
        self.answer(404, "{}")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--log")
    args = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.scenario_file = args.scenario
    srv.log = open(args.log, "a") if args.log else None
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
