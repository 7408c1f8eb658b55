"""Real registry peers for the end-to-end tests: Debian's docker-registry
(distribution 2.8.2) in three configurations -- no auth, htpasswd Basic
auth, token auth against tests/peers/tokenserver.py whose signed JWTs the
registry verifies -- and tests/peers/faultproxy.py in front of any of them.
Everything listens on 127.0.0.1 on free ports and is stopped by stop().

A small client (Basic credentials or a token fetched like any client)
lets the tests put fixtures into a registry and read back what cachectl
pushed, independently of cachectl.
"""
import base64
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import harness as h
from cachelib import sha256
from harness import PEERS, Missing, free_port  # noqa: F401 (free_port: the suites use it as rl.free_port)

ACCEPT = ", ".join([
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json"])


def bcrypt(password):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 5))


UNVERIFIED = ssl._create_unverified_context()


def self_signed(directory):
    """A certificate and key for 127.0.0.1 and localhost."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(directory, "tls.crt"), os.path.join(directory, "tls.key")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


class PrivateCa:
    """A certificate authority made for one test, and certificates it signs:
    for the registry (127.0.0.1, localhost) and for clients."""

    def __init__(self, directory, name="cachectl test CA"):
        import datetime
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        self.dir = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(self.name).issuer_name(self.name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=2))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.path = self._write("ca-%s.crt" % name.replace(" ", "-"), self.cert)

    def _write(self, name, cert, key=None):
        from cryptography.hazmat.primitives import serialization
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        if key is not None:
            with open(path.rsplit(".", 1)[0] + ".key", "wb") as f:
                f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
        return path

    def issue(self, name, server):
        """Writes NAME.crt (server) or NAME.cert (client) and NAME.key; returns (cert, key) paths."""
        import datetime
        import ipaddress
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
             .issuer_name(self.name).public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2)))
        if server:
            b = b.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        else:
            b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        path = self._write(name + (".crt" if server else ".cert"), b.sign(self.key, hashes.SHA256()), key)
        return path, path.rsplit(".", 1)[0] + ".key"


def wait_http(url, proc, what, context=None):
    for _ in range(200):
        if proc.poll() is not None:
            raise AssertionError("%s exited at start (status %s)" % (what, proc.returncode))
        try:
            urllib.request.urlopen(url, timeout=1, context=context or UNVERIFIED)
            return
        except urllib.error.HTTPError:
            return  # it answers (401 for the auth configurations)
        except OSError:
            time.sleep(0.05)
    raise AssertionError("%s did not start" % what)


class TokenServer:
    def __init__(self, tmp, users, expires_in=300):
        self.dir = tempfile.mkdtemp(dir=tmp, prefix="token-")
        self.users = users
        users_file = os.path.join(self.dir, "users.json")
        with open(users_file, "w") as f:
            json.dump(users, f)
        self.cert = os.path.join(self.dir, "token.crt")
        self.log_path = os.path.join(self.dir, "log.jsonl")
        self.service, self.issuer = "cachectl-test-registry", "cachectl-test-issuer"
        self.proc, self.port = h.start_peer(
            [sys.executable, os.path.join(PEERS, "tokenserver.py"), "--users", users_file, "--cert-out", self.cert,
             "--log", self.log_path, "--service", self.service, "--issuer", self.issuer,
             "--expires-in", str(expires_in)], "token server")
        self.realm = "http://127.0.0.1:%d/token" % self.port

    def log(self):
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path) as f:
            return [json.loads(line) for line in f]

    def stop(self):
        h.stop_peer(self.proc)


class Registry:
    """kind: "none", "htpasswd" (users = {name: password}) or "token" (token = TokenServer)."""

    def __init__(self, tmp, kind="none", users=None, token=None, relative_urls=False, tls=False, delete=True,
                 tls_files=None):
        """tls_files: (cert, key, client CA, client files) to serve TLS with
        a certificate of the test's own CA, requiring client certificates
        signed by the client CA when one is given (None: not required);
        this object's client then presents client files (cert, key)."""
        exe = shutil.which("docker-registry")
        if not exe:
            raise Missing("docker-registry is not installed (apt-get install docker-registry)")
        self.kind, self.users, self.token = kind, users or {}, token
        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        self.base = ("https://" if tls or tls_files else "http://") + self.host
        self.dir = tempfile.mkdtemp(dir=tmp, prefix="registry-")
        cfg = ["version: 0.1", "log:", "  level: error", "  accesslog:", "    disabled: true",
               "storage:", "  filesystem:", "    rootdirectory: %s/data" % self.dir,
               "  delete:", "    enabled: %s" % ("true" if delete else "false"), "  maintenance:", "    uploadpurging:", "      enabled: false",
               "http:", "  addr: %s" % self.host, "  relativeurls: %s" % ("true" if relative_urls else "false")]
        if tls:
            cert, key = self_signed(self.dir)
            cfg += ["  tls:", "    certificate: " + cert, "    key: " + key]
        self.context = None
        if tls_files:
            cert, key, client_ca, client_files = tls_files
            cfg += ["  tls:", "    certificate: " + cert, "    key: " + key]
            if client_ca:
                cfg += ["    clientcas:", "      - " + client_ca]
            self.context = ssl._create_unverified_context()
        if kind == "htpasswd":
            path = os.path.join(self.dir, "htpasswd")
            with open(path, "w") as f:
                for name, password in self.users.items():
                    f.write("%s:%s\n" % (name, bcrypt(password)))
            cfg += ["auth:", "  htpasswd:", "    realm: cachectl-test", "    path: " + path]
        elif kind == "token":
            cfg += ["auth:", "  token:", "    realm: " + token.realm, "    service: " + token.service,
                    "    issuer: " + token.issuer, "    rootcertbundle: " + token.cert]
        config = os.path.join(self.dir, "config.yml")
        with open(config, "w") as f:
            f.write("\n".join(cfg) + "\n")
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen([exe, "serve", config], stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        if tls_files and tls_files[3]:
            self.context.load_cert_chain(*tls_files[3])
        wait_http(self.base + "/v2/", self.proc, "docker-registry", self.context)
        self.login = None  # (user, password) for this client

    def stop(self):
        h.stop_peer(self.proc)
        self.log.close()

    # ---- a small independent client ----

    def _auth_header(self, repo, push):
        if self.kind == "none" or not self.login:
            return {}
        user, password = self.login
        basic = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        if self.kind == "htpasswd":
            return {"Authorization": basic}
        scope = "repository:%s:%s" % (repo, "pull,push" if push else "pull")
        q = urllib.parse.urlencode({"service": self.token.service, "scope": scope})
        r = urllib.request.urlopen(urllib.request.Request(self.token.realm + "?" + q, headers={"Authorization": basic}))
        return {"Authorization": "Bearer " + json.load(r)["token"]}

    def req(self, method, path, repo, data=None, headers=None, push=False):
        h = dict(headers or {})
        h.update(self._auth_header(repo, push))
        url = path if path.startswith("http") else self.base + path
        return urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=h), timeout=30,
                                      context=self.context or UNVERIFIED)

    def push_blob(self, repo, data):
        dgst = sha256(data)
        loc = self.req("POST", "/v2/%s/blobs/uploads/" % repo, repo, push=True).headers["Location"]
        if loc.startswith("/"):
            loc = self.base + loc
        sep = "&" if "?" in loc else "?"
        self.req("PUT", loc + sep + "digest=" + dgst, repo, data=data, push=True,
                 headers={"Content-Type": "application/octet-stream"})
        return dgst

    def push_manifest(self, repo, ref, data, media_type):
        self.req("PUT", "/v2/%s/manifests/%s" % (repo, ref), repo, data=data, push=True,
                 headers={"Content-Type": media_type})
        return sha256(data)

    def push_image(self, repo, tag, manifest, blobs):
        """blobs: digest -> bytes, every one the manifest names."""
        doc = json.loads(manifest)
        for d in [doc["config"]] + doc["layers"]:
            self.push_blob(repo, blobs[d["digest"]])
        return self.push_manifest(repo, tag, manifest, doc["mediaType"])

    def manifest(self, repo, ref):
        """(bytes, content type, Docker-Content-Digest), or None when absent."""
        try:
            r = self.req("GET", "/v2/%s/manifests/%s" % (repo, ref), repo, headers={"Accept": ACCEPT})
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise
        return r.read(), r.headers.get("Content-Type"), r.headers.get("Docker-Content-Digest")

    def blob(self, repo, digest):
        try:
            return self.req("GET", "/v2/%s/blobs/%s" % (repo, digest), repo).read()
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    def dump(self, repo, ref, into):
        """The cache behind repo:ref as a layout-like folder (blobs/sha256); returns the root bytes."""
        root, _, _ = self.manifest(repo, ref)
        os.makedirs(os.path.join(into, "blobs", "sha256"), exist_ok=True)
        doc = json.loads(root)
        descs = ([doc["config"]] + doc.get("layers", [])) if "config" in doc else doc.get("manifests", [])
        for d in descs:
            data = self.blob(repo, d["digest"])
            assert data is not None, "blob %s missing from %s" % (d["digest"], repo)
            assert sha256(data) == d["digest"] and len(data) == d["size"], "blob %s damaged" % d["digest"]
            with open(os.path.join(into, "blobs", "sha256", d["digest"].split(":")[1]), "wb") as f:
                f.write(data)
        with open(os.path.join(into, "blobs", "sha256", sha256(root).split(":")[1]), "wb") as f:
            f.write(root)
        with open(os.path.join(into, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "manifests": [{
                "mediaType": doc.get("mediaType"), "digest": sha256(root), "size": len(root),
                "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}, f)
        return root


class FaultProxy:
    def __init__(self, tmp, upstream, rules):
        self.dir = tempfile.mkdtemp(dir=tmp, prefix="proxy-")
        scenario = os.path.join(self.dir, "scenario.json")
        with open(scenario, "w") as f:
            json.dump({"rules": rules}, f)
        self.log_path = os.path.join(self.dir, "log.jsonl")
        self.proc, self.port = h.start_peer(
            [sys.executable, os.path.join(PEERS, "faultproxy.py"), "--upstream", upstream, "--scenario", scenario,
             "--log", self.log_path], "fault proxy")
        self.host = "127.0.0.1:%d" % self.port

    def log(self):
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path) as f:
            return [json.loads(line) for line in f]

    def stop(self):
        h.stop_peer(self.proc)


def docker_config(tmp, auths=None, helpers=None, store=None):
    """A DOCKER_CONFIG directory holding config.json."""
    d = tempfile.mkdtemp(dir=tmp, prefix="docker-config-")
    doc = {"auths": {}}
    for host, entry in (auths or {}).items():
        if isinstance(entry, tuple):
            entry = {"auth": base64.b64encode(("%s:%s" % entry).encode()).decode()}
        doc["auths"][host] = entry
    if helpers:
        doc["credHelpers"] = helpers
    if store:
        doc["credsStore"] = store
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(doc, f)
    return d


# ---- running cachectl against them ----

def cachectl(*args, ok=True, env=None, docker_config_dir=None):
    """Runs cachectl with a DOCKER_CONFIG of its own (empty unless given),
    so the user's credentials never take part."""
    e = h.environment(drop=("REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "SSL_CERT_FILE", "SSL_CERT_DIR"),
                      CACHECTL_CERTS_D=os.path.join(tempfile.gettempdir(), "cachectl-no-certs-d"),
                      DOCKER_CONFIG=docker_config_dir or os.path.join(tempfile.gettempdir(),
                                                                      "cachectl-no-docker-config"))
    e.update(env or {})
    return h.run(*args, ok=ok, env=e)


def uploads(log):
    """Requests of a fault-proxy log that sent blob bytes."""
    return [e for e in log if "/blobs/uploads/" in e["path"] and e["method"] in ("PUT", "PATCH")]
