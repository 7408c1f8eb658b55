"""A GitHub Actions cache service for tests: API v1 (REST) and API v2 (Twirp
+ Azure Blob through SAS URLs into a real azurite), plus the REST listing of
cache keys, with the semantics of GitHub's service that clients depend on.

usage: gha_server.py [--azurite NODE_MODULES] [--data DIR] [--entry-limit N/SECONDS]
                     [--ghtoken TOKEN] [--blob-host HOST] [--watch-stdin]
Prints "PORT" (the service, on 127.0.0.1) on stdout once ready, then serves
until killed (SIGTERM stops azurite too).

Written in Python (standard library only) like the other test peers and the
e2e suite that drives it: v1 works on a machine without node, the tests read
its state over the control endpoints, and no npm package is trusted to be
the thing under test.  It is itself judged by GitHub's own client,
@actions/cache (tests/e2e/test_gha_client.py), before cachectl is tested
against it.

What it enforces, as GitHub does:
* the runtime token is a JWT (signature not checked, as no key is known); its
  `ac` claim lists scopes with permission bits (1 read, 2 write); `exp` and
  `nbf` are honoured.  Reads search every scope of the token, the writable
  ones first; new entries go to the last writable scope;
* an entry is (scope, key, version); once reserved it is immutable: a second
  reserve answers 409 "already exists"; versions must be 64 lowercase hex
  (v2) or non-empty (v1); keys at most 512 characters, no commas;
* lookups: for each key asked, an exact committed match, else the newest
  committed entry whose key starts with it;
* v1 uploads: PATCH with `Content-Range: bytes a-b/*` whose length matches
  the body (chunked transfer accepted), at most 32 MiB per chunk, only to a
  reserved uncommitted entry of the caller's scope; commit {"size":N} must
  equal the bytes received, contiguous from 0;
* v2: CreateCacheEntry hands out a write-only SAS URL for a fresh blob in
  azurite; FinalizeCacheEntryUpload checks that blob exists with size_bytes;
  GetCacheEntryDownloadURL hands out a read-only SAS URL that expires;
* at most N new entries per SECONDS per repository (GitHub: 200 a minute),
  beyond that 429 with Retry-After;
* on demand (POST /_control/throttle) every service call answers 429 with
  Retry-After for a while.

Control endpoints (no auth; tests only): GET /_control/entries (with the
sha256 of committed bytes), GET /_control/log, GET /_control/stats,
POST /_control/throttle {"seconds","retry_after","match"},
POST /_control/expire-downloads {"count"}, POST /_control/corrupt {"key"},
POST /_control/blocklist {"key"} (a v2 blob's committed block ids),
POST /_control/front-uploads {"on","block_delay"} (v2 upload URLs point at
this server, which forwards them to azurite, holding each Put Block
block_delay seconds, and counts them: GET /_control/block-puts answers
{key: {"puts","most_in_flight"}}),
POST /_control/seed {"dir","scope","api","version"}, POST /_control/reset-log,
POST /_control/reset.
"""
import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import socketserver
import sys
import tempfile
import threading
import time
import urllib.parse

from gha_azurite import Azurite, BlockWatch, Fail, forward, front_path, iso

V1 = "/_apis/artifactcache/"
V2 = "/twirp/github.actions.results.api.v1.CacheService/"
MAX_CHUNK = 32 << 20
HEX64 = re.compile(r"^[0-9a-f]{64}$")


# ---------------------------------------------------------------- helpers

def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_token(header):
    """Scopes [(scope, permission)] of a runtime token, as GitHub checks it."""
    if not header or not header.startswith("Bearer "):
        raise Fail(401, "unauthenticated", "missing bearer token")
    parts = header[7:].strip().split(".")
    try:
        claims = json.loads(b64url(parts[1]))
        ac = json.loads(claims["ac"])
        scopes = [(a["Scope"], int(a["Permission"])) for a in ac]
    except Exception:
        raise Fail(401, "unauthenticated", "the runtime token is not a JWT with an ac claim")
    now = time.time()
    if "exp" in claims and claims["exp"] < now:
        raise Fail(401, "unauthenticated", "the runtime token expired")
    if "nbf" in claims and claims["nbf"] > now + 60:
        raise Fail(401, "unauthenticated", "the runtime token is not valid yet")
    return scopes


def read_scopes(scopes):
    """Every scope the token may read, the writable ones first."""
    return [s for s, p in scopes if p & 2] + [s for s, p in scopes if p & 1 and not p & 2]


def write_scope(scopes):
    w = [s for s, p in scopes if p & 2]
    if not w:
        raise Fail(403, "permission_denied", "the runtime token grants no scope write access")
    return w[-1]


class Entry:
    def __init__(self, eid, api, scope, key, version):
        self.id, self.api, self.scope, self.key, self.version = eid, api, scope, key, version
        self.committed = False
        self.created = time.time()
        self.accessed = self.created  # GitHub's last_accessed_at: renewed by every hit
        self.size = 0
        self.chunks = []  # v1: (first, last) ranges received
        self.blob = "e%d-%s" % (eid, secrets.token_hex(4))  # v2 blob name / v1 file name
        self.secret = secrets.token_hex(16)  # v1 download URL credential

    def public(self):
        return {"id": self.id, "api": self.api, "scope": self.scope, "key": self.key,
                "version": self.version, "committed": self.committed, "size": self.size,
                "created": self.created}


# ---------------------------------------------------------------- the service

class Service:
    def __init__(self, data_dir, azurite, entry_limit, ghtoken):
        self.dir = data_dir
        self.az = azurite
        self.limit, self.window = entry_limit
        self.ghtoken = ghtoken
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with getattr(self, "lock", threading.Lock()):
            self.entries = {}
            self.next_id = 1
            self.created_times = []   # every successful reservation, for the rate limit
            self.log = []
            self.throttle_until = 0
            self.throttle_after = 1
            self.throttle_match = ""
            self.expire_downloads = 0
            self.stats = {"throttled": 0, "rate_limited": 0, "bytes_in": 0}
            self.blocks = BlockWatch()  # the upload front, off until asked

    # -- entries

    def find(self, api, scopes, keys, version):
        """GitHub's lookup: per key, exact then newest prefix match."""
        with self.lock:
            live = [e for e in self.entries.values()
                    if e.api == api and e.committed and e.version == version and e.scope in scopes]
        for k in keys:
            for s in scopes:
                exact = [e for e in live if e.scope == s and e.key == k]
                if exact:
                    exact[-1].accessed = time.time()
                    return exact[-1]
            pref = [e for e in live if e.key.startswith(k)]
            if pref:
                hit = max(pref, key=lambda e: (e.created, e.id))
                hit.accessed = time.time()
                return hit
        return None

    def reserve(self, api, scope, key, version):
        if not key or len(key) > 512 or "," in key:
            raise Fail(400, "invalid_argument", "key %r is empty, longer than 512 or has a comma" % key)
        if api == 2 and not HEX64.match(version or ""):
            raise Fail(400, "invalid_argument", "version must be 64 lowercase hex characters")
        if api == 1 and not version:
            raise Fail(400, "invalid_argument", "version is required")
        with self.lock:
            for e in self.entries.values():
                if e.api == api and e.scope == scope and e.key == key and e.version == version:
                    raise Fail(409, "already_exists",
                               "Cache already exists. Scope: %s, Key: %s, Version: %s" % (scope, key, version))
            now = time.time()
            recent = [t for t in self.created_times if t > now - self.window]
            if len(recent) >= self.limit:
                self.stats["rate_limited"] += 1
                wait = max(1, int(recent[0] + self.window - now + 0.999))
                raise Fail(429, "resource_exhausted",
                           "too many cache entries created: at most %d per %gs" % (self.limit, self.window),
                           {"Retry-After": str(wait)})
            self.created_times.append(now)
            e = Entry(self.next_id, api, scope, key, version)
            self.next_id += 1
            self.entries[e.id] = e
            return e

    def path(self, e):
        return os.path.join(self.dir, e.blob)

    def read(self, e):
        if e.api == 1:
            with open(self.path(e), "rb") as f:
                return f.read()
        status, _, data = self.az.request("GET", "", e.blob)
        if status != 200:
            raise Fail(500, "internal", "azurite answered %d for blob %s" % (status, e.blob))
        return data

    def write(self, e, data):
        if e.api == 1:
            with open(self.path(e), "wb") as f:
                f.write(data)
        else:
            self.az.put(e.blob, data)

    def seed(self, folder, scope, api, version):
        """Loads files named by their keys as committed entries, as they are."""
        n = 0
        for name in sorted(os.listdir(folder)):
            with open(os.path.join(folder, name), "rb") as f:
                data = f.read()
            with self.lock:
                e = Entry(self.next_id, api, scope, name, version)
                self.next_id += 1
            self.write(e, data)
            e.size, e.committed = len(data), True
            with self.lock:
                self.entries[e.id] = e
            n += 1
        return n


# ---------------------------------------------------------------- HTTP

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gha-test-server"

    def log_message(self, *args):
        pass

    # -- plumbing

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def answer(self, status, body=b"", headers=None, ctype="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body or status not in (204, 304):
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.status = status

    def record(self, size):
        svc = self.server.svc
        h = {k.lower(): v for k, v in self.headers.items()
             if k.lower() in ("content-range", "content-type", "accept", "user-agent", "range",
                              "transfer-encoding", "x-ms-version")}
        h["has-authorization"] = "Authorization" in self.headers
        with svc.lock:
            svc.log.append({"t": time.time(), "method": self.command, "path": self.path, "headers": h,
                            "body_size": size, "status": getattr(self, "status", None)})

    def handle_any(self):
        svc = self.server.svc
        self.status = None
        data = b""
        try:
            data = self.body()
            u = urllib.parse.urlsplit(self.path)
            if u.path.startswith("/_control/"):
                return self.control(u.path[len("/_control/"):], data)
            if u.path.startswith("/_download/"):
                return self.download(u)
            if svc.az and front_path(u.path) is not None:
                return self.front(data)
            if u.path.startswith(V1) or u.path.startswith(V2):
                with svc.lock:
                    throttled = time.time() < svc.throttle_until and re.search(svc.throttle_match, u.path)
                    if throttled:
                        svc.stats["throttled"] += 1
                if throttled:
                    raise Fail(429, "resource_exhausted", "throttled by the test",
                               {"Retry-After": str(svc.throttle_after)})
                scopes = parse_token(self.headers.get("Authorization"))
                if u.path.startswith(V1):
                    return self.v1(u, data, scopes)
                return self.v2(u.path[len(V2):], data, scopes)
            if u.path.startswith("/repos/"):
                return self.rest_list(u)
            raise Fail(404, "not_found", "no such endpoint %s" % u.path)
        except Fail as f:
            if self.path.startswith(V2):
                self.answer(f.status, {"code": f.code, "msg": f.msg}, f.headers)
            else:
                type_key = "ArtifactCacheItemAlreadyExistsException" if f.code == "already_exists" else f.code
                self.answer(f.status, {"message": f.msg, "typeKey": type_key, "errorCode": 0}, f.headers)
        finally:
            if not self.path.startswith("/_control/"):
                self.record(len(data))

    do_GET = do_POST = do_PATCH = do_PUT = do_HEAD = do_DELETE = handle_any

    # -- v1

    def v1(self, u, data, scopes):
        svc = self.server.svc
        rest = u.path[len(V1):]
        if self.command == "GET" and rest == "cache":
            q = urllib.parse.parse_qs(u.query)
            keys = [k for k in q.get("keys", [""])[0].split(",") if k]
            version = q.get("version", [""])[0]
            if not keys or not version:
                raise Fail(400, "invalid_argument", "keys and version are required")
            e = svc.find(1, read_scopes(scopes), keys, version)
            if not e:
                return self.answer(204)
            host = self.headers.get("Host")
            return self.answer(200, {"cacheKey": e.key, "scope": e.scope, "cacheVersion": e.version,
                                     "creationTime": iso(e.created),
                                     "archiveLocation": "http://%s/_download/%d?sig=%s" % (host, e.id, e.secret)})
        if self.command == "POST" and rest == "caches":
            req = json.loads(data or b"{}")
            e = svc.reserve(1, write_scope(scopes), req.get("key", ""), req.get("version", ""))
            return self.answer(201, {"cacheId": e.id})
        m = re.fullmatch(r"caches/(\d+)", rest)
        if not m:
            raise Fail(404, "not_found", "no such endpoint %s" % u.path)
        with svc.lock:
            e = svc.entries.get(int(m.group(1)))
        if not e or e.api != 1 or e.scope != write_scope(scopes):
            raise Fail(404, "not_found", "no reserved cache %s in this scope" % m.group(1))
        if e.committed:
            raise Fail(400, "invalid_argument", "cache %d is already committed" % e.id)
        if self.command == "PATCH":
            cr = re.fullmatch(r"bytes (\d+)-(\d+)/\*", self.headers.get("Content-Range", ""))
            if not cr:
                raise Fail(400, "invalid_argument", "Content-Range must be bytes a-b/*")
            first, last = int(cr.group(1)), int(cr.group(2))
            if last < first or last - first + 1 != len(data):
                raise Fail(400, "invalid_argument", "Content-Range %d-%d does not match %d bytes"
                           % (first, last, len(data)))
            if len(data) > MAX_CHUNK:
                raise Fail(400, "invalid_argument", "chunk larger than 32 MiB")
            # Chunks arrive in parallel: create without truncating, write in place.
            fd = os.open(svc.path(e), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                os.pwrite(fd, data, first)
            finally:
                os.close(fd)
            with svc.lock:
                e.chunks.append((first, last))
                svc.stats["bytes_in"] += len(data)
            return self.answer(204)
        if self.command == "POST":
            size = json.loads(data or b"{}").get("size")
            if not isinstance(size, int) or size < 0:
                raise Fail(400, "invalid_argument", "size must be a number")
            covered = 0
            for first, last in sorted(e.chunks):
                if first > covered:
                    break
                covered = max(covered, last + 1)
            if covered != size or (e.chunks and max(last for _, last in e.chunks) + 1 != size):
                raise Fail(400, "invalid_argument", "size %d does not match the %d bytes uploaded"
                           % (size, covered))
            if size == 0:
                open(svc.path(e), "wb").close()
            with svc.lock:
                e.size, e.committed = size, True
            return self.answer(204)
        raise Fail(405, "bad_route", "method not allowed")

    def download(self, u):
        svc = self.server.svc
        m = re.fullmatch(r"/_download/(\d+)", u.path)
        sig = urllib.parse.parse_qs(u.query).get("sig", [""])[0]
        with svc.lock:
            e = svc.entries.get(int(m.group(1))) if m else None
        if not e or not e.committed or not hmac.compare_digest(sig, e.secret):
            raise Fail(403, "permission_denied", "bad download signature")
        with open(svc.path(e), "rb") as f:
            data = f.read()
        rng = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if rng and int(rng.group(1)) < len(data):
            first = int(rng.group(1))
            last = int(rng.group(2)) if rng.group(2) else len(data) - 1
            part = data[first:last + 1]
            return self.answer(206, part, {"Content-Range": "bytes %d-%d/%d" % (first, first + len(part) - 1,
                                                                                 len(data))},
                               "application/octet-stream")
        return self.answer(200, data, {}, "application/octet-stream")

    def front(self, data):
        """An upload URL's request, sent on to azurite (front-uploads)."""
        svc = self.server.svc
        status, headers, body = forward(svc.az, svc.blocks, self.command, self.path, dict(self.headers.items()),
                                        data if self.command in ("PUT", "POST") else None)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.status = status

    # -- v2

    def v2(self, method, data, scopes):
        svc = self.server.svc
        if self.command != "POST":
            raise Fail(405, "bad_route", "Twirp calls are POST")
        if not svc.az:
            raise Fail(501, "unimplemented", "this server runs without azurite: API v2 is off")
        try:
            req = json.loads(data or b"{}")
        except ValueError:
            raise Fail(400, "malformed", "the body is not JSON")
        if method == "CreateCacheEntry":
            e = svc.reserve(2, write_scope(scopes), req.get("key", ""), req.get("version", ""))
            front = self.server.server_address[1] if svc.blocks.on else None
            return self.answer(200, {"ok": True, "signed_upload_url": svc.az.blob_url(e.blob, "cw", 3600, front)})
        if method == "FinalizeCacheEntryUpload":
            scope = write_scope(scopes)
            try:
                size = int(req.get("size_bytes"))
            except (TypeError, ValueError):
                raise Fail(400, "invalid_argument", "size_bytes must be an integer")
            with svc.lock:
                hits = [e for e in svc.entries.values() if e.api == 2 and e.scope == scope
                        and e.key == req.get("key") and e.version == req.get("version")]
            if not hits:
                raise Fail(404, "not_found", "no cache entry %r to finalize" % req.get("key"))
            e = hits[0]
            if e.committed:
                raise Fail(409, "already_exists", "cache entry %r is already finalized" % e.key)
            have = svc.az.size(e.blob)
            if have is None or have != size:
                raise Fail(400, "invalid_argument", "the uploaded blob has %s bytes, size_bytes says %d"
                           % (have, size))
            with svc.lock:
                e.size, e.committed = size, True
            return self.answer(200, {"ok": True, "entry_id": str(e.id)})
        if method == "GetCacheEntryDownloadURL":
            keys = [req.get("key", "")] + list(req.get("restore_keys") or [])
            e = svc.find(2, read_scopes(scopes), [k for k in keys if k], req.get("version", ""))
            if not e:
                return self.answer(200, {"ok": False, "signed_download_url": "", "matched_key": ""})
            ttl = 600
            with svc.lock:
                if svc.expire_downloads > 0:
                    svc.expire_downloads -= 1
                    ttl = -600  # already expired: azurite refuses it
            return self.answer(200, {"ok": True, "signed_download_url": svc.az.blob_url(e.blob, "r", ttl),
                                     "matched_key": e.key})
        raise Fail(404, "bad_route", "no method %s" % method)

    # -- REST listing (GET /repos/{owner}/{repo}/actions/caches)

    def rest_list(self, u):
        svc = self.server.svc
        if self.headers.get("Authorization") != "Bearer " + svc.ghtoken:
            raise Fail(401, "unauthenticated", "Bad credentials")
        if self.command == "GET" and re.fullmatch(r"/repos/[^/]+/[^/]+/actions/cache/usage", u.path):
            return self.rest_usage(u)
        m = re.fullmatch(r"/repos/[^/]+/[^/]+/actions/caches/(\d+)", u.path)
        if self.command == "DELETE" and m:
            return self.rest_delete_id(int(m.group(1)))
        if not re.fullmatch(r"/repos/[^/]+/[^/]+/actions/caches", u.path):
            raise Fail(404, "not_found", "no such endpoint %s" % u.path)
        if self.command == "DELETE":
            return self.rest_delete_key(u)
        q = urllib.parse.parse_qs(u.query)
        prefix, ref = q.get("key", [""])[0], q.get("ref", [""])[0]
        page, per = int(q.get("page", ["1"])[0]), min(100, int(q.get("per_page", ["30"])[0]))
        with svc.lock:
            hits = [e for e in svc.entries.values() if e.committed and e.key.startswith(prefix)
                    and (not ref or e.scope == ref)]
        hits.sort(key=lambda e: -e.created)
        items = [{"id": e.id, "ref": e.scope, "key": e.key, "version": e.version,
                  "last_accessed_at": iso(e.accessed), "created_at": iso(e.created),
                  "size_in_bytes": e.size} for e in hits[(page - 1) * per:page * per]]
        return self.answer(200, {"total_count": len(hits), "actions_caches": items})

    # GitHub's documented semantics: DELETE .../actions/caches/{id} answers 204
    # (404 when there is no such entry); DELETE .../actions/caches?key=K[&ref=R]
    # deletes every entry with exactly that key (on that ref) and answers 200
    # with them, 404 when there is none; .../actions/cache/usage counts the
    # repository's active entries and their bytes.

    def rest_delete_id(self, eid):
        svc = self.server.svc
        with svc.lock:
            e = svc.entries.pop(eid, None)
        if not e:
            raise Fail(404, "not_found", "Not Found")
        return self.answer(204)

    def rest_delete_key(self, u):
        svc = self.server.svc
        q = urllib.parse.parse_qs(u.query)
        key, ref = q.get("key", [""])[0], q.get("ref", [""])[0]
        if not key:
            raise Fail(400, "invalid_argument", "key is required")
        with svc.lock:
            gone = [e for e in svc.entries.values() if e.committed and e.key == key and (not ref or e.scope == ref)]
            for e in gone:
                del svc.entries[e.id]
        if not gone:
            raise Fail(404, "not_found", "Not Found")
        items = [{"id": e.id, "ref": e.scope, "key": e.key, "version": e.version,
                  "last_accessed_at": iso(e.accessed), "created_at": iso(e.created),
                  "size_in_bytes": e.size} for e in gone]
        return self.answer(200, {"total_count": len(items), "actions_caches": items})

    def rest_usage(self, u):
        svc = self.server.svc
        with svc.lock:
            live = [e for e in svc.entries.values() if e.committed]
        full = "/".join(u.path.split("/")[2:4])
        return self.answer(200, {"full_name": full, "active_caches_size_in_bytes": sum(e.size for e in live),
                                 "active_caches_count": len(live)})

    # -- control

    def control(self, what, data):
        svc = self.server.svc
        req = json.loads(data or b"{}") if data else {}
        if what == "entries":
            with svc.lock:
                out = [e.public() for e in svc.entries.values()]
            for e in out:
                full = svc.entries[e["id"]]
                if full.committed:
                    e["sha256"] = hashlib.sha256(svc.read(full)).hexdigest()
            return self.answer(200, out)
        if what == "blocklist":
            # the committed blocks of a v2 entry's blob, as azurite lists them
            with svc.lock:
                hits = [e for e in svc.entries.values() if e.key == req["key"] and e.api == 2]
            if not hits:
                raise Fail(404, "not_found", "no v2 entry %s" % req["key"])
            status, _, body = svc.az.request("GET", "?comp=blocklist&blocklisttype=committed", hits[0].blob)
            ids = re.findall(r"<Name>([^<]*)</Name>", body.decode())
            return self.answer(200, {"status": status, "blocks": ids})
        if what == "front-uploads":
            with svc.blocks.lock:
                svc.blocks.on = bool(req.get("on", True))
                svc.blocks.delay = float(req.get("block_delay", 0))
            return self.answer(200, {"ok": True})
        if what == "block-puts":
            with svc.lock:
                keys = {e.blob: e.key for e in svc.entries.values()}
            return self.answer(200, svc.blocks.report(lambda b: keys.get(b, b)))
        if what == "corrupt":
            with svc.lock:
                hits = [e for e in svc.entries.values() if e.key == req["key"] and e.committed]
            for e in hits:
                data = bytearray(svc.read(e))
                data[len(data) // 2] ^= 0xFF
                svc.write(e, bytes(data))
            return self.answer(200, {"corrupted": len(hits)})
        if what == "log":
            with svc.lock:
                return self.answer(200, list(svc.log))
        if what == "stats":
            with svc.lock:
                return self.answer(200, dict(svc.stats, created_times=list(svc.created_times),
                                             limit=svc.limit, window=svc.window))
        if what == "throttle":
            with svc.lock:
                svc.throttle_until = time.time() + float(req.get("seconds", 3))
                svc.throttle_after = int(req.get("retry_after", 1))
                svc.throttle_match = req.get("match", "")
            return self.answer(200, {"ok": True})
        if what == "expire-downloads":
            with svc.lock:
                svc.expire_downloads = int(req.get("count", 1))
            return self.answer(200, {"ok": True})
        if what == "seed":
            n = svc.seed(req["dir"], req["scope"], int(req.get("api", 1)), req["version"])
            return self.answer(200, {"seeded": n})
        if what == "reset-log":
            with svc.lock:
                svc.log = []
            return self.answer(200, {"ok": True})
        if what == "reset":
            svc.reset()
            return self.answer(200, {"ok": True})
        raise Fail(404, "not_found", "no control %s" % what)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--azurite", help="node_modules holding azurite; enables API v2")
    ap.add_argument("--blob-host", help="host name to put in SAS URLs (default 127.0.0.1)")
    ap.add_argument("--data", help="folder for v1 entries (default: a temporary one)")
    ap.add_argument("--entry-limit", default="200/60", help="new entries per seconds (GitHub: 200/60)")
    ap.add_argument("--ghtoken", default="ghp-test-token", help="token the REST listing accepts")
    ap.add_argument("--watch-stdin", action="store_true", help="stop when stdin closes (the parent died)")
    a = ap.parse_args()
    limit, window = a.entry_limit.split("/")
    data = a.data or tempfile.mkdtemp(prefix="gha-server-")
    os.makedirs(data, exist_ok=True)
    az = Azurite(a.azurite, a.blob_host) if a.azurite else None

    def stop(*_):
        if az:
            az.stop()
        if not a.data:
            shutil.rmtree(data, ignore_errors=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if a.watch_stdin:
        threading.Thread(target=lambda: (sys.stdin.read(), stop()), daemon=True).start()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.svc = Service(data, az, (int(limit), float(window)), a.ghtoken)
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    finally:
        stop()


if __name__ == "__main__":
    main()
