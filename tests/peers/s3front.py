"""A Signature V4 checking front for an S3 store that checks nothing
(s3rver accepts any signature): every request is verified with botocore's
own S3 signer -- AWS's code, from Debian's python3-botocore -- and refused
the way S3 refuses it, or forwarded (without its Authorization) upstream.

usage: s3front.py --upstream http://127.0.0.1:PORT --credentials FILE
                  [--region us-east-1] [--skew SECONDS] [--log FILE] [--data DIR]
Prints the port it listens on (127.0.0.1) on stdout, then serves.

FILE is JSON, re-read on every request so that tests can add keys:
  {"AKID": {"secret": "...", "token": "..." (optional: a session token
   the request must carry)}}

Checks, each answered with S3's error code:
  - an Authorization header of the AWS4-HMAC-SHA256 kind (AccessDenied);
  - a known access key (InvalidAccessKeyId) and, for temporary keys, the
    right x-amz-security-token (InvalidToken);
  - the credential scope: the front's region (AuthorizationHeaderMalformed
    naming the right one, with x-amz-bucket-region, as S3 does) and s3;
  - x-amz-date within 15 minutes of the front's clock, which --skew moves
    (RequestTimeTooSkewed with the front's Date);
  - x-amz-content-sha256 present and equal to the body's SHA-256
    (XAmzContentSHA256Mismatch); aws-chunked / STREAMING-* payloads and
    x-amz-checksum-* / x-amz-sdk-checksum-algorithm / x-amz-trailer headers
    are refused (NotImplemented), as several S3-compatible stores do;
  - host and every x-amz-* header present are signed (AccessDenied);
  - the signature, recomputed by botocore.auth.S3SigV4Auth over the
    signed headers and the request as S3 canonicalises it: the path
    decoded and re-encoded once (so a ':' signed raw fails), the query
    decoded and re-encoded (SignatureDoesNotMatch, with the canonical
    request and string to sign in the body as S3 gives them).

With --data (s3rver's directory), a successful CopyObject of an object
onto itself renews the object's LastModified, as S3 does (s3rver keeps
the file's time, and BuildKit's touch_refresh relies on the renewal).

The log gets one JSON line per request: method, path, query, status, code,
signed and present header names, body length, the access key id (never a
secret or token).
"""
import argparse
import datetime
import hashlib
import http.client
import http.server
import json
import os
import socketserver
import sys
import threading
import time
import urllib.parse
from email.utils import formatdate
from xml.sax.saxutils import escape

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
       "transfer-encoding", "upgrade"}
FORBIDDEN_HEADERS = ("x-amz-checksum-", "x-amz-sdk-checksum-algorithm", "x-amz-trailer",
                     "x-amz-decoded-content-length")


class Refusal(Exception):
    def __init__(self, status, code, message, extra=None, headers=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.extra = extra or {}
        self.headers = headers or {}


def parse_authorization(value):
    if not value.startswith("AWS4-HMAC-SHA256 "):
        raise Refusal(400, "InvalidArgument", "Unsupported Authorization Type")
    fields = {}
    for part in value[len("AWS4-HMAC-SHA256 "):].split(","):
        k, _, v = part.strip().partition("=")
        fields[k] = v
    try:
        akid, date, region, service, term = fields["Credential"].split("/")
        signed = fields["SignedHeaders"].split(";")
        signature = fields["Signature"]
    except (KeyError, ValueError):
        raise Refusal(400, "AuthorizationHeaderMalformed", "The authorization header is malformed")
    if term != "aws4_request":
        raise Refusal(400, "AuthorizationHeaderMalformed", "The authorization header is malformed")
    return akid, date, region, service, signed, signature


class Front:
    def __init__(self, upstream, credentials, region, skew, log):
        u = urllib.parse.urlsplit(upstream)
        self.host, self.port = u.hostname, u.port
        self.credentials_file = credentials
        self.region = region
        self.skew = skew
        self.log = log
        self.lock = threading.Lock()

    def keys(self):
        with open(self.credentials_file) as f:
            return json.load(f)

    def now(self):
        return time.time() + self.skew

    def record(self, entry):
        if not self.log:
            return
        with self.lock:
            self.log.write(json.dumps(entry) + "\n")
            self.log.flush()

    def verify(self, method, raw_path, headers, body):
        """Returns the access key id, or raises Refusal."""
        auth = headers.get("authorization")
        if not auth:
            raise Refusal(403, "AccessDenied", "Anonymous access is not allowed here")
        akid, date, region, service, signed, signature = parse_authorization(auth)
        known = self.keys().get(akid)
        if known is None:
            raise Refusal(403, "InvalidAccessKeyId",
                          "The AWS Access Key Id you provided does not exist in our records.",
                          {"AWSAccessKeyId": akid})
        if region != self.region:
            raise Refusal(400, "AuthorizationHeaderMalformed",
                          "The authorization header is malformed; the region '%s' is wrong; expecting '%s'"
                          % (region, self.region), {"Region": self.region},
                          {"x-amz-bucket-region": self.region})
        if service != "s3":
            raise Refusal(400, "AuthorizationHeaderMalformed",
                          "The authorization header is malformed; incorrect service '%s'" % service)
        amz_date = headers.get("x-amz-date", "")
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
        except ValueError:
            raise Refusal(403, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
        if abs(when - self.now()) > 15 * 60:
            raise Refusal(403, "RequestTimeTooSkewed",
                          "The difference between the request time and the current time is too large.",
                          {"RequestTime": amz_date, "ServerTime": formatdate(self.now(), usegmt=True)})
        if date != amz_date[:8]:
            raise Refusal(403, "SignatureDoesNotMatch", "credential scope date differs from x-amz-date")
        payload = headers.get("x-amz-content-sha256")
        if payload is None:
            raise Refusal(400, "InvalidRequest",
                          "Missing required header for this request: x-amz-content-sha256")
        if payload.startswith("STREAMING-") or "aws-chunked" in headers.get("content-encoding", ""):
            raise Refusal(400, "NotImplemented", "aws-chunked payloads are not accepted by this store")
        for name in headers:
            if name.startswith(FORBIDDEN_HEADERS):
                raise Refusal(400, "NotImplemented", "header %s is not accepted by this store" % name)
        if payload != "UNSIGNED-PAYLOAD" and payload != hashlib.sha256(body).hexdigest():
            raise Refusal(400, "XAmzContentSHA256Mismatch",
                          "The provided 'x-amz-content-sha256' header does not match what was computed.")
        if "host" not in signed:
            raise Refusal(403, "AccessDenied", "the host header must be signed")
        unsigned = sorted(n for n in headers if n.startswith("x-amz-") and n not in signed)
        if unsigned:
            raise Refusal(403, "AccessDenied", "There were headers present in the request which were not signed",
                          {"HeadersNotSigned": ", ".join(unsigned)})
        token = known.get("token")
        if (token or None) != headers.get("x-amz-security-token"):
            raise Refusal(403, "InvalidToken", "The provided token is malformed or otherwise invalid.")

        # As S3 canonicalises: the path decoded, then encoded once.
        path, _, query = raw_path.partition("?")
        canonical_path = urllib.parse.quote(urllib.parse.unquote(path), safe="/~")
        params = urllib.parse.parse_qsl(query, keep_blank_values=True)
        to_sign = HTTPHeaders()
        for name in signed:
            values = headers.get_all(name)
            if not values:
                raise Refusal(403, "SignatureDoesNotMatch", "signed header %s is missing" % name)
            for v in values:
                to_sign[name] = v
        request = AWSRequest(method=method, url="http://%s%s" % (headers.get("host", ""), canonical_path),
                             headers=to_sign, params=params)
        request.context["timestamp"] = amz_date
        signer = S3SigV4Auth(Credentials(akid, known["secret"], token), "s3", region)
        canonical = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical)
        expected = signer.signature(string_to_sign, request)
        if signer.signed_headers(signer.headers_to_sign(request)) != ";".join(signed) or expected != signature:
            raise Refusal(403, "SignatureDoesNotMatch",
                          "The request signature we calculated does not match the signature you provided. "
                          "Check your key and signing method.",
                          {"AWSAccessKeyId": akid, "StringToSign": string_to_sign,
                           "CanonicalRequest": canonical})
        return akid


class Headers:
    """Lower-case access to the request headers, repeated ones kept."""

    def __init__(self, message):
        self.items = [(k.lower(), v) for k, v in message.items()]

    def get(self, name, default=None):
        for k, v in self.items:
            if k == name:
                return v
        return default

    def get_all(self, name):
        return [v for k, v in self.items if k == name]

    def __iter__(self):
        return iter(dict.fromkeys(k for k, _ in self.items))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def date_time_string(self, timestamp=None):
        # The front's clock, --skew included, as a store with that clock says it.
        return formatdate(self.server.front.now() if timestamp is None else timestamp, usegmt=True)

    def answer(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        front = self.server.front
        headers = Headers(self.headers)
        length = headers.get("content-length")
        if length is None and self.command in ("PUT", "POST"):
            if headers.get("transfer-encoding"):
                self.answer(411, b"<Error><Code>MissingContentLength</Code></Error>")
                self.close_connection = True
                return
        body = self.rfile.read(int(length)) if length else b""
        path, _, query = self.path.partition("?")
        entry = {"method": self.command, "path": urllib.parse.unquote(path), "raw_path": path, "query": query,
                 "headers": sorted(headers), "length": len(body)}
        auth = headers.get("authorization", "")
        if "SignedHeaders=" in auth:
            entry["signed"] = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
        try:
            entry["akid"] = front.verify(self.command, self.path, headers, body)
        except Refusal as r:
            extra = "".join("<%s>%s</%s>" % (k, escape(str(v)), k) for k, v in r.extra.items())
            xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>%s'
                   "<RequestId>front</RequestId></Error>" % (r.code, escape(r.message), extra)).encode()
            hdrs = dict(r.headers)
            hdrs["Content-Type"] = "application/xml"
            entry.update(status=r.status, code=r.code)
            front.record(entry)  # before answering: the client may look at the log next
            self.answer(r.status, xml, hdrs)
            return
        fwd = {k: v for k, v in self.headers.items()
               if k.lower() not in HOP and k.lower() not in ("authorization", "x-amz-security-token", "host")}
        conn = http.client.HTTPConnection(front.host, front.port, timeout=300)
        conn.request(self.command, self.path, body=body if (body or length) else None, headers=fwd)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        entry["status"] = resp.status
        if resp.status >= 300 and b"<Code>" in data:
            entry["code"] = data.split(b"<Code>")[1].split(b"</Code>")[0].decode(errors="replace")
        front.record(entry)
        if self.command == "PUT" and resp.status == 200 and front.data:
            renew_copied_onto_itself(front.data, path, headers.get("x-amz-copy-source"))
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() in HOP or (k.lower() == "content-length" and self.command != "HEAD"):
                continue
            self.send_header(k, v)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = handle_any


def renew_copied_onto_itself(data, path, copy_source):
    """S3 gives an object copied onto itself a new LastModified."""
    if not copy_source:
        return
    target = urllib.parse.unquote(path).lstrip("/")
    if urllib.parse.unquote(copy_source).lstrip("/") != target:
        return
    parts = target.split("/")
    f = os.path.join(data, *parts[:-1], parts[-1] + "._S3rver_object")
    if os.path.exists(f):
        os.utime(f)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--credentials", required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--skew", type=float, default=0)
    ap.add_argument("--log")
    ap.add_argument("--data")
    args = ap.parse_args()
    log = open(args.log, "a") if args.log else None
    srv = Server(("127.0.0.1", 0), Handler)
    srv.front = Front(args.upstream, args.credentials, args.region, args.skew, log)
    srv.front.data = args.data
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
