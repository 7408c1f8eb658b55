"""What every end-to-end suite shares: where the binary and the fixtures are,
running cachectl, temporary folders, peer processes on free loopback ports,
what happens when a peer is missing, and option tables.

Each suite imports this module instead of keeping its own copy of these.
Judging what cachectl wrote is another matter, left to readers that are not
cachectl (cachelib.py for OCI layouts, the peers' own clients).

Environment (CTest sets the first two):
  CACHECTL                  the binary under test (default: cachectl on PATH)
  FIXTURES                  the fixtures folder (default: ../../fixtures)
  CACHECTL_REQUIRE_PEERS=1  a missing peer is a failure, not a skip (CI)
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(os.path.dirname(HERE), "peers")
CACHECTL = os.environ.get("CACHECTL", "cachectl")
FIXTURES = os.path.join(os.environ.get("FIXTURES", os.path.join(HERE, "..", "..", "fixtures")),
                        "buildkit-v0.23.2")
REQUIRE_PEERS = os.environ.get("CACHECTL_REQUIRE_PEERS") == "1"

# What a sanitizer or a crash leaves on stderr: never acceptable, even when
# the command was expected to fail.
CRASH_SIGNS = ("Sanitizer", "runtime error", "Segmentation")


def fixture(name):
    """The exported cache of one BuildKit fixture (fixtures/buildkit-v0.23.2/NAME/export)."""
    return os.path.join(FIXTURES, name, "export")


def read(path):
    with open(path, "rb") as f:
        return f.read()


# ---------------------------------------------------------------- running cachectl

def environment(drop=(), drop_prefixes=(), **values):
    """This process's environment without the named variables (and those
    starting with a prefix), with values set: what a test hands cachectl so
    that the machine's own settings and credentials take no part."""
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith(tuple(drop_prefixes))}
    env.update(values)
    return env


def run(*args, ok=True, env=None, timeout=300, secrets=(), cwd=None):
    """cachectl ARGS with stdin closed (in folder cwd); ok=True makes a non-zero
    exit a failure.  Whatever the exit, a crash or sanitizer report and any of
    `secrets` in the output fail the test."""
    p = subprocess.run([CACHECTL, *args], capture_output=True, text=True, errors="replace", timeout=timeout,
                       stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    if ok and p.returncode != 0:
        raise AssertionError("cachectl %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr[-4000:]))
    for sign in CRASH_SIGNS:
        if sign in p.stderr:
            raise AssertionError("cachectl %s: %s" % (" ".join(args), p.stderr[-4000:]))
    for secret in secrets:
        if secret and secret in p.stdout + p.stderr:
            raise AssertionError("cachectl %s printed a secret" % " ".join(args))
    return p


def quiet(args):
    """A command line with progress off (for the commands that show it), so
    that what is left on stderr is the error alone."""
    if args and args[0] in ("export", "import", "inspect", "verify"):
        return [args[0], "--progress", "quiet"] + list(args[1:])
    return list(args)


def expect(test, p, code, *fragments, one_line=False):
    """p exited with `code` and its output (stdout and stderr) holds every
    fragment; one_line: stderr is exactly one line (an error, nothing else)."""
    out = (p.stdout + p.stderr).strip()
    test.assertEqual(p.returncode, code, "%s: %s" % (" ".join(p.args[1:]), out))
    for fragment in fragments:
        if fragment:
            test.assertIn(fragment, out)
    if one_line:
        test.assertEqual(len(p.stderr.strip().splitlines()), 1, out)
    return p


# ---------------------------------------------------------------- option tables

def table(rows, **values):
    """An option table as data: rows of (arguments, exit code, message
    fragment[, environment]) whose strings may hold {name} placeholders,
    filled from values.  Returns (args list, code, fragment, env dict) rows."""
    out = []
    for row in rows:
        args, code, fragment = row[:3]
        env = row[3] if len(row) > 3 else {}
        out.append(([a.format(**values) for a in args], code, fragment.format(**values),
                    {k: v.format(**values) for k, v in env.items()}))
    return out


def check_table(test, rows, run_row, **values):
    """Each row of an option table, as a subtest: run_row(args, env) runs it,
    expect() judges it, and its stderr must be one line."""
    for args, code, fragment, env in table(rows, **values):
        with test.subTest(args=" ".join(args), env=sorted(env)):
            expect(test, run_row(args, env), code, fragment, one_line=True)


# ---------------------------------------------------------------- temporary folders

def tempdir(prefix="cachectl-e2e-"):
    return tempfile.mkdtemp(prefix=prefix)


def remove_tree(path):
    """rmtree that also removes the read-only blobs cachectl writes."""
    subprocess.run(["chmod", "-R", "u+w", path], stderr=subprocess.DEVNULL)
    shutil.rmtree(path, ignore_errors=True)


class TempDirCase(unittest.TestCase):
    """A test with a temporary folder of its own (self.tmp), removed after it."""
    prefix = "cachectl-e2e-"

    def setUp(self):
        self.tmp = tempdir(self.prefix)
        self.addCleanup(remove_tree, self.tmp)

    def dir(self, name):
        return os.path.join(self.tmp, name)


# ---------------------------------------------------------------- peers

class Missing(Exception):
    """A peer (tool, package, service) this machine lacks."""


def lacking(why):
    """Stops a test that needs what this machine lacks: a skip, or a failure
    when peers are required (CACHECTL_REQUIRE_PEERS=1, as in CI)."""
    if REQUIRE_PEERS:
        raise AssertionError("%s (required: CACHECTL_REQUIRE_PEERS=1; tests/install-deps.sh installs it)" % why)
    raise unittest.SkipTest(why)


def need_tool(name, package=None):
    """The path of a program, or lacking() when it is not installed."""
    path = shutil.which(name)
    if not path:
        lacking("%s is not installed (apt-get install %s)" % (name, package or name))
    return path


def free_port():
    """A loopback port nobody listens on (at the time of asking)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class CountingListener:
    """A loopback port that accepts and counts connections (and says nothing):
    where a test points a remote backend to prove that no traffic left."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.host = "127.0.0.1:%d" % self.port
        self.connections = 0
        self.stopped = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.stopped = True
        self.sock.close()


def read_port(proc, what, timeout=30):
    """The port a peer says it listens on: the number that ends its first
    such line of output."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise RuntimeError("%s exited with %s before saying its port" % (what, proc.returncode))
            continue
        m = re.search(r"(\d{2,5})\s*$", line.strip())
        if m:
            return int(m.group(1))
    raise RuntimeError("%s did not say its port" % what)


def start_peer(cmd, what, env=None, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
    """Starts a peer that prints its port (in a session of its own, so that
    stop_peer ends its children too); returns (process, port)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True, stdin=stdin, env=env,
                            start_new_session=True)
    try:
        return proc, read_port(proc, what)
    except BaseException:
        stop_peer(proc)
        raise


def stop_peer(proc, timeout=10):
    """SIGTERM to the peer's process group, SIGKILL after timeout seconds."""
    if proc is None:
        return
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    for pipe in (proc.stdin, proc.stdout):
        if pipe:
            pipe.close()

