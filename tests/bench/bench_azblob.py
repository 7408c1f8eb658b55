#!/usr/bin/env python3
"""bench_azblob: upload and download speed of type=azblob against azurite on
this machine, next to Azure's own SDK (@azure/storage-blob, four transfers
at a time like cachectl) moving the same bytes to the same azurite.

usage: tests/bench/bench_azblob.py BUILD_DIR [--layers 50] [--layer-kib 2048] [--rounds 3]

Builds a local cache of `layers` gzip layers (incompressible, makecache.py),
then measures, each the best of `rounds`:
  export        the first export into an empty container (everything sent)
  export again  a repeated export (no blob byte: one listing and the manifest)
  import        everything back into a local directory
and the SDK's upload of the same blob files and its listing + download.
MB/s is over the blob bytes; request counts come from a pass-through
proxy (tests/peers/faultproxy.py with no rules) in a separate run, so the
proxy does not slow the timed runs.  Prints one table; exits non-zero when a
run fails.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import azpeer  # noqa: E402
import makecache  # noqa: E402


def run(cmd, env=None):
    t = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        sys.exit("bench_azblob: %s failed: %s" % (os.path.basename(cmd[0]), p.stderr[-2000:]))
    return time.monotonic() - t


class Bench:
    def __init__(self, build, args):
        self.cachectl = os.path.join(build, "cachectl")
        self.tmp = tempfile.mkdtemp(prefix="bench-azblob-")
        self.az = azpeer.Azurite(os.path.join(self.tmp, "azurite-home"))
        self.src = os.path.join(self.tmp, "src")
        makecache.make(self.src, args.layers, args.layer_kib * 1024, seed=11)
        blobs = os.path.join(self.src, "blobs", "sha256")
        self.bytes = sum(os.path.getsize(os.path.join(blobs, f)) for f in os.listdir(blobs))
        # the SDK uploads the blobs as cachectl names them (blobs/sha256:<hex>)
        self.sdk_src = os.path.join(self.tmp, "sdk-src")
        os.makedirs(os.path.join(self.sdk_src, "blobs"))
        for f in os.listdir(blobs):
            os.link(os.path.join(blobs, f), os.path.join(self.sdk_src, "blobs", "sha256:" + f))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
        self.n = 0
        self.after_run = None  # set while requests are counted

    def run(self, cmd, env):
        t = run(cmd, env)
        if self.after_run:
            self.after_run()
        return t

    def close(self):
        self.az.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def spec(self, container, url=None):
        return "type=azblob,account_url=%s,secret_access_key=%s,container=%s" % (
            url or self.az.url, self.az.key_text, container)

    def fresh(self, what):
        self.n += 1
        return "%s-%d" % (what, self.n), os.path.join(self.tmp, "out-%d" % self.n)

    def cachectl_round(self, url=None):
        """(export, export again, import) seconds for one fresh container."""
        container, out = self.fresh("cc")
        up = self.run([self.cachectl, "export", "--progress", "quiet", "--from", "type=local,src=" + self.src,
                  "--export-cache", self.spec(container, url)], self.env)
        again = self.run([self.cachectl, "export", "--progress", "quiet", "--from", "type=local,src=" + self.src,
                     "--export-cache", self.spec(container, url)], self.env)
        down = self.run([self.cachectl, "import", "--progress", "quiet", "--import-cache", self.spec(container, url),
                    "--dest", out], self.env)
        shutil.rmtree(out, ignore_errors=True)
        return up, again, down

    def sdk_round(self, url=None):
        container, out = self.fresh("sdk")
        env = dict(self.env, NODE_MODULES=self.az.modules,
                   AZURE_STORAGE_CONNECTION_STRING=self.az.connection_string(endpoint=url))
        script = os.path.join(HERE, "..", "peers", "azure_blob_reader.mjs")
        up = self.run([self.az.node, script, "upload", container, self.sdk_src], env)
        down = self.run([self.az.node, script, "read", container, out], env)
        shutil.rmtree(out, ignore_errors=True)
        return up, down

    def counted(self, fn):
        """Requests per phase, through a pass-through proxy."""
        log = os.path.join(self.tmp, "proxy-%d.log" % self.n)
        url = self.az.fault_proxy([], log)
        marks = []

        def lines():
            if not os.path.exists(log):
                return 0
            with open(log) as f:
                return sum(1 for _ in f)

        self.after_run = lambda: marks.append(lines())
        try:
            fn(url)
        finally:
            self.after_run = None
        return [b - a for a, b in zip([0] + marks, marks)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--layers", type=int, default=50)
    ap.add_argument("--layer-kib", type=int, default=2048)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    b = Bench(a.build, a)
    try:
        cc = [b.cachectl_round() for _ in range(a.rounds)]
        sdk = [b.sdk_round() for _ in range(a.rounds)]
        cc_req = b.counted(b.cachectl_round)
        sdk_req = b.counted(b.sdk_round)
    finally:
        b.close()
    mb = b.bytes / 1e6
    best = lambda rows, i: min(r[i] for r in rows)  # noqa: E731
    print("bench_azblob: %d layers, %.1f MB of blobs, azurite on 127.0.0.1, best of %d" % (a.layers, mb, a.rounds))
    print("%-34s %8s %8s %9s" % ("", "seconds", "MB/s", "requests"))
    rows = [("cachectl export", best(cc, 0), cc_req[0]),
            ("@azure/storage-blob upload", best(sdk, 0), sdk_req[0]),
            ("cachectl export again (no change)", best(cc, 1), cc_req[1]),
            ("cachectl import", best(cc, 2), cc_req[2]),
            ("@azure/storage-blob list+download", best(sdk, 1), sdk_req[1])]
    for name, secs, reqs in rows:
        rate = "-" if "again" in name else "%.1f" % (mb / secs)
        print("%-34s %8.2f %8s %9d" % (name, secs, rate, reqs))
    print("ratio cachectl/SDK upload   %.2fx" % (best(sdk, 0) / best(cc, 0)))
    print("ratio cachectl/SDK download %.2fx" % (best(sdk, 1) / best(cc, 2)))


if __name__ == "__main__":
    main()
