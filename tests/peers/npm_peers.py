"""The npm peers of the gha, s3 and azblob tests (@actions/cache, azurite, @azure/storage-blob, s3rver), installed once.

usage: npm_peers.py            prints the node_modules folder (installing it if needed)
       import npm_peers; npm_peers.ensure() -> path, or raises PeerMissing

The exact versions are pinned by package.json and package-lock.json beside
this file (integrity hashes included, no download addresses).  They are
installed with `npm ci` into a cache folder named after the lockfile's hash,
so every build tree and every run shares one install, a changed pin gets a
fresh one, and a half-finished install (killed, network error) is never
used: it is built in a temporary folder and renamed into place, under a lock
that parallel test processes share.

Cache folder: $CACHECTL_NPM_CACHE, else $XDG_CACHE_HOME/cachectl/npm, else
~/.cache/cachectl/npm.
"""
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "npm")
ATTEMPTS = 3


class PeerMissing(Exception):
    """node or npm is not installed, or the install failed."""


def cache_root():
    if os.environ.get("CACHECTL_NPM_CACHE"):
        return os.environ["CACHECTL_NPM_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "cachectl", "npm")


def pin_hash():
    h = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        with open(os.path.join(HERE, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def node_modules():
    """Where the pinned install lives (it may not exist yet)."""
    return os.path.join(cache_root(), pin_hash(), "node_modules")


def ensure(log=sys.stderr):
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            raise PeerMissing("%s is not installed (tests/install-deps.sh installs it)" % tool)
    target = os.path.join(cache_root(), pin_hash())
    done = os.path.join(target, "node_modules")
    if os.path.isdir(done):
        return done
    os.makedirs(cache_root(), exist_ok=True)
    with open(os.path.join(cache_root(), ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isdir(done):
            return done
        last = ""
        for attempt in range(1, ATTEMPTS + 1):
            work = tempfile.mkdtemp(prefix="install-", dir=cache_root())
            try:
                for name in ("package.json", "package-lock.json"):
                    shutil.copy(os.path.join(HERE, name), work)
                print("npm_peers: installing the pinned npm peers (attempt %d)" % attempt, file=log)
                p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts",
                                    "--loglevel=error"],
                                   cwd=work, capture_output=True, text=True, timeout=600,
                                   stdin=subprocess.DEVNULL)
                if p.returncode == 0:
                    shutil.rmtree(target, ignore_errors=True)
                    os.rename(work, target)
                    return done
                last = (p.stderr or p.stdout).strip()[-2000:]
            except subprocess.TimeoutExpired:
                last = "npm ci took more than 10 minutes"
            finally:
                shutil.rmtree(work, ignore_errors=True)
        raise PeerMissing("npm ci failed %d times: %s" % (ATTEMPTS, last))


if __name__ == "__main__":
    try:
        print(ensure())
    except PeerMissing as e:
        print("npm_peers: %s" % e, file=sys.stderr)
        sys.exit(1)
