"""The command line that cannot surprise: every spec and flag mistake is a
usage error (exit 2) of one line that names the problem, quotes no secret,
and comes before any network traffic.

One data table (command line -> exit code -> message fragments -> text that
must not appear) run through the real binary, and a generated fuzz of bad
specs carrying fake credentials.  Every remote backend in these cases points
at a loopback listener that counts connections: it must count none.

Run by CTest with CACHECTL=<binary> and FIXTURES=<fixtures dir>.
"""
import concurrent.futures
import os
import random
import shutil
import time
import unittest

import ghalib
import harness as h

FIXTURE = h.fixture("local-gzip-max")
TOKEN = ghalib.token([("refs/heads/main", 3)])
SECRET = "S3CR3T-7f3a9c2e81d4"      # a fake credential in the table's specs
GHTOKEN = "ghp_F4KEt0kenVALUE0042"


def run(args, cwd=None):
    return h.run(*args, ok=False, timeout=60, cwd=cwd)


# (command line, exit code, fragments the message has, texts it must not have).
# {fix}: a BuildKit fixture; {tmp}: a fresh directory; {reg}/{url}: the listener.
CASES = [
    # bare words: an existing path or a path spelling is local, a reference naming
    # its registry is a registry, anything else shows both spellings
    (["export", "--from", "{fix}", "--export-cache", "newcache"], 2,
     ["./newcache", "type=local,dest=newcache", "docker.io/library/newcache"], []),
    (["export", "--from", "{fix}", "--export-cache", "team/app:cache"], 2,
     ["docker.io/team/app:cache", "type=local,dest=team/app:cache"], ["docker.io/library/team"]),
    (["inspect", "nosuchcache"], 2, ["type=local,src=nosuchcache"], []),
    (["export", "--from", "{reg}/src:c", "--export-cache", "type=local,dest={tmp}/out,compression-level=x"], 2,
     ["is not an integer"], []),
    # --dest is a directory
    (["import", "--from", "{fix}", "--dest", "type=local,dest={tmp}/x"], 2, ["--dest takes a directory"], []),
    (["import", "--from", "{fix}", "--dest", "dest=x"], 2, ["not a cache spec"], []),
    (["import", "--from", "{fix}", "--dest", "{tmp}/x", "--tag", ""], 2, ["--tag is empty"], []),
    # stray keys are named, with the closest known key
    (["export", "--from", "{fix}", "--export-cache", "type=local,desst=y"], 2,
     ['unknown option "desst"', "did you mean dest=?"], []),
    (["export", "--from", "{fix}", "--export-cache", "type=local,src=x"], 2,
     ["src= of type=local is not for a cache destination", "write dest= here"], []),
    (["export", "--from", "type=local,dest={fix}", "--export-cache", "{tmp}/o"], 2,
     ["dest= of type=local is not for a cache source", "write src= here"], []),
    (["export", "--from", "{fix}", "--export-cache", "type=local,ref=foo"], 2,
     ['unknown option "ref"', "it takes: dest, tag"], []),
    (["export", "--from", "{fix}", "--export-cache", "type=local, dest=x"], 2,
     ['unknown option " dest"', "did you mean dest=?"], []),
    (["export", "--from", "{fix}", "--export-cache", "type=local,dest={tmp}/o,compresion=zstd"], 2,
     ["did you mean compression=?"], []),
    (["export", "--from", "{fix}", "--export-cache", "type=s3,bucket=b,region=r,acess_key_id=k"], 2,
     ["did you mean access_key_id=?"], []),
    (["export", "--from", "{fix}", "--export-cache", "type=inline,dest=x"], 2,
     ['unknown option "dest"', "it takes: ref, layout"], []),
    # unknown types list the known ones (from the handler table)
    (["export", "--from", "{fix}", "--export-cache", "type=s4,bucket=b,secret_access_key=" + SECRET], 2,
     ['unknown cache type "s4"', "did you mean type=s3?", "known: local, registry, inline, s3, gha"], [SECRET]),
    (["inspect", "type=floppy,src=x,token=" + SECRET], 2,
     ['unknown cache type "floppy"', "known: local, registry, s3, gha"], [SECRET, "inline"]),
    (["export", "--from", "{fix}", "--export-cache", "type=inline,ref={reg}/x:y,mode=max", "--export-cache",
      "type=s3"], 2, ["bucket"], []),
    # the same destination twice, however it is spelt
    (["export", "--from", "{fix}", "--export-cache", "{tmp}/o", "--export-cache", "type=local,dest={tmp}/./o/"],
     2, ["#1 and #2 write the same place"], []),
    (["export", "--from", "{fix}", "--export-cache", "type=registry,ref={reg}/a",
      "--export-cache", "type=registry,ref={reg}/a:latest,mode=max"], 2, ["write the same place"], []),
    (["export", "--from", "{fix}", "--export-cache", "type=registry,ref={reg}/a:t",
      "--export-cache", "type=inline,ref={reg}/a:t"], 2, ["write the same place"], []),
    # empty tags, levels that cannot apply
    (["export", "--from", "{fix}", "--export-cache", "type=local,dest={tmp}/o,tag="], 2, ["tag= is empty"], []),
    (["export", "--from", "{fix}", "--export-cache", "type=local,dest={tmp}/o,compression-level= 3"], 2,
     ['compression-level=" 3" is not an integer'], []),
    (["export", "--from", "{fix}", "--export-cache",
      "type=local,dest={tmp}/o,compression=uncompressed,compression-level=5"], 2,
     ["compression=uncompressed", "has no level"], []),
    (["export", "--from", "{reg}/src:c", "--export-cache",
      "type=registry,ref={reg}/x:y,compression=uncompressed,compression-level=5"], 2, ["has no level"], []),
    (["export", "--from", "{reg}/src:c", "--export-cache", "type=s3,bucket=b,region=r,endpoint_url={url},"
      "secret_access_key=" + SECRET + ",access_key_id=AKIAFAKE,compression-level= 3"], 2,
     ["is not an integer"], [SECRET]),
    (["export", "--from", "{reg}/src:c", "--export-cache", "type=gha,url={url}/,token=" + TOKEN +
      ",compression=uncompressed,compression-level=5"], 2, ["has no level"], [TOKEN]),
    (["export", "--from", "type=gha,url={url}/,token=" + TOKEN + ",versoin=2", "--export-cache", "{tmp}/o"], 2,
     ["did you mean version=?"], [TOKEN]),
    # spec syntax errors quote only the field, secrets hidden, one line
    (["export", "--from", "{fix}", "--export-cache", 'type=s3,bucket=b,"secret_access_key=' + SECRET], 2,
     ["unterminated quote in field 3", "secret_access_key=***"], [SECRET]),
    (["export", "--from", "{fix}", "--export-cache", 'type=gha,"ghtoken=' + GHTOKEN + '"x'], 2,
     ["text after a closing quote", "ghtoken=***"], [GHTOKEN]),
    (["export", "--from", "{fix}", "--export-cache", "type=gha,token=" + GHTOKEN + ",type=gha"], 2,
     ["type= is given twice"], [GHTOKEN]),
    (["export", "--from", "{fix}", "--export-cache", "type=s4,\"bucket=plain-" + SECRET], 2,
     ["unterminated quote", "bucket=***"], [SECRET]),
    (["export", "--from", "{fix}", "--export-cache", "type=local,\"dest=a\nb\x1b[2J"], 2,
     ["dest=a\\nb\\x1b[2J"], ["\x1b"]),
    (["export", "--from", "{fix}", "--export-cache", "type=s3," + SECRET], 2,
     ["no '=' in field 2"], [SECRET]),
    (["export", "--from", "{fix}", "--export-cache", "bucket=b,token=" + SECRET], 2, ["has no type="], [SECRET]),
    (["export", "--from", "{fix}", "--export-cache", "type=local,dest={tmp}/o,mode=maximum"], 2,
     ['mode="maximum" is not min or max'], []),
    (["export", "--from", "{fix}", "--export-cache", "type=s3,bucket=b,region=r,session_token=" + SECRET +
      ",token=" + GHTOKEN + ",use_path_style=maybe"], 2, ["use_path_style"], [SECRET, GHTOKEN]),
]


def fill(arg, tmp, port):
    return (arg.replace("{fix}", FIXTURE).replace("{tmp}", tmp)
            .replace("{reg}", "127.0.0.1:%d" % port).replace("{url}", "http://127.0.0.1:%d" % port))


class Base(h.TempDirCase):
    prefix = "cachectl-options-"

    def setUp(self):
        super().setUp()
        self.listener = h.CountingListener()
        self.addCleanup(self.listener.close)

    def assertUsageError(self, args, want, fragments=(), hidden=(), what=None, p=None):
        """args ended in exit `want` with one line on stderr naming every
        fragment and none of hidden (p: the run already made)."""
        p = p or run(args, cwd=self.tmp)
        what = what or repr(args)
        self.assertEqual(p.returncode, want, "%s: exit %d, stderr %r" % (what, p.returncode, p.stderr))
        h.expect(self, p, want, *fragments, one_line=True)
        self.assertEqual(p.stdout, "", what)
        lines = p.stderr.split("\n")
        self.assertEqual(len(lines), 2, "%s: not one line: %r" % (what, p.stderr))
        self.assertTrue(lines[0].startswith("cachectl: "), what)
        self.assertFalse(any(ord(c) < 0x20 for c in lines[0]), "%s: control character in %r" % (what, p.stderr))
        for f in fragments:
            self.assertIn(f, p.stderr, what)
        for text in hidden:
            self.assertNotIn(text, p.stderr, what)
        return p


class OptionTable(Base):
    def test_table(self):
        port = self.listener.port
        for args, code, fragments, hidden in CASES:
            with self.subTest(args=args):
                filled = [fill(a, self.tmp, port) for a in args]
                started = time.monotonic()
                self.assertUsageError(filled, code, [fill(f, self.tmp, port) for f in fragments], hidden)
                self.assertLess(time.monotonic() - started, 10, "a usage error must be at once")
        self.assertEqual(self.listener.connections, 0, "an option error let traffic out")
        self.assertEqual(sorted(os.listdir(self.tmp)), [], "a usage error created files")

    def test_bare_words_that_work(self):
        # an existing directory and ./ spellings are local; both reach the same cache
        shutil.copytree(FIXTURE, os.path.join(self.tmp, "fix"))
        for word in ("fix", "./fix", os.path.join(self.tmp, "fix")):
            p = run(["inspect", word], cwd=self.tmp)
            self.assertEqual(p.returncode, 0, p.stderr)
        p = run(["export", "--from", "fix", "--export-cache", "./new"], cwd=self.tmp)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.tmp, "new", "index.json")))
        # a reference naming its registry is type=registry: the second destination's
        # mistake is what stops it, before any traffic
        p = run(["export", "--from", "fix", "--export-cache", "127.0.0.1:%d/x:y" % self.listener.port,
                 "--export-cache", "type=registry,ref=127.0.0.1:%d/x:y" % self.listener.port], cwd=self.tmp)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("write the same place", p.stderr)
        self.assertEqual(self.listener.connections, 0)

    def test_notes_for_what_is_not_applied(self):
        # the fixture's 9 layers are gzip: what a destination asks and cannot get
        # without re-encoding is one note per kind, never silence
        rows = [
            ("compression-level=9", ["compression-level=9 not applied to 9 existing layers already in gzip"], []),
            ("compression=gzip,compression-level=1,force-compression=true",
             ["compression-level=1 not applied to 9 existing layers already in gzip"], []),
            ("compression=zstd,compression-level=3", ["compression=zstd not applied to 9 existing layers"],
             ["compression-level=3 not applied"]),
            ("compression=zstd,compression-level=3,force-compression=true", [], ["not applied"]),
            ("mode=max", [], ["not applied"]),
        ]
        for i, (options, present, absent) in enumerate(rows):
            with self.subTest(options=options):
                dest = os.path.join(self.tmp, "o%d" % i)
                p = run(["export", "--progress", "plain", "--from", FIXTURE, "--export-cache",
                         "type=local,dest=%s,%s" % (dest, options)])
                self.assertEqual(p.returncode, 0, p.stderr)
                for f in present:
                    self.assertIn(f, p.stderr)
                for f in absent:
                    self.assertNotIn(f, p.stderr)

    def test_export_help_lists_every_type(self):
        p = run(["export", "--help"])
        self.assertEqual(p.returncode, 0)
        for t in ("local", "registry", "inline", "s3", "gha"):
            self.assertIn("  type=%s" % t, p.stdout)


# ---- the fuzz: bad specs with fake credentials ---------------------------------

SECRET_KEYS = ["secret_access_key", "session_token", "token", "ghtoken"]
TYPES = ["local", "registry", "s3", "gha", "inline"]


def fake_secret(rnd):
    core = "".join(rnd.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(20))
    decor = rnd.choice(["", "", "a=b", "x\ny", "\x1b[31m", "\u00e9", "/+", " "])
    return core, decor + core + rnd.choice(["", "==", "\t"])


def quoted(field):
    return '"' + field.replace('"', '""') + '"'


def field(key, value):
    kv = key + "=" + value
    return quoted(kv) if any(c in kv for c in ',"') else kv


def bad_spec(rnd, port):
    """A spec that is wrong in one of several ways, carrying fake credentials;
    returns it and the texts that must never be printed."""
    typ = rnd.choice(TYPES)
    base = {"local": ["dest=/nonexistent/x"], "registry": ["ref=127.0.0.1:%d/a:b" % port],
            "inline": ["ref=127.0.0.1:%d/a:b" % port],
            "s3": ["bucket=b", "region=r", "endpoint_url=http://127.0.0.1:%d" % port],
            "gha": ["url=http://127.0.0.1:%d/" % port]}[typ]
    fields, hidden = ["type=" + typ] + list(base), []
    for _ in range(rnd.randint(1, 3)):
        core, value = fake_secret(rnd)
        hidden.append(core)
        fields.insert(rnd.randint(0, len(fields)), field(rnd.choice(SECRET_KEYS), value))
    flaw = rnd.choice(["unknown type", "unterminated", "after quote", "inner quote", "type twice",
                       "no equals", "unknown key", "empty key", "bad bool", "bad int", "duplicate",
                       "no type", "uncompressed level"])
    where = rnd.randint(0, len(fields))
    if flaw == "unknown type":
        fields[fields.index("type=" + typ)] = "type=" + rnd.choice(["s4", "locl", "gcs", "azure", "x\ny"])
        plain = "PLAIN%06d" % rnd.randint(0, 999999)   # any value of an unknown type is hidden
        fields.insert(where, field("bucket", plain))
        hidden.append(plain)
    elif flaw == "unterminated":
        core, value = fake_secret(rnd)
        hidden.append(core)
        fields.append('"' + rnd.choice(SECRET_KEYS) + "=" + value.replace('"', ""))
    elif flaw == "after quote":
        core, value = fake_secret(rnd)
        hidden.append(core)
        fields.insert(where, quoted(rnd.choice(SECRET_KEYS) + "=" + value) + "tail")
    elif flaw == "inner quote":
        core, _ = fake_secret(rnd)
        hidden.append(core[:8])
        fields.insert(where, rnd.choice(SECRET_KEYS) + "=" + core[:8] + '"' + core[8:])
    elif flaw == "type twice":
        fields.insert(where, "type=" + rnd.choice(TYPES))
    elif flaw == "no equals":
        core, _ = fake_secret(rnd)
        hidden.append(core)
        fields.insert(where, core)
    elif flaw == "unknown key":
        fields.insert(where, rnd.choice(["desst=x", "bukket=b", "compresion=zstd", "ref2=x", "modee=max"]))
    elif flaw == "empty key":
        fields.insert(where, "=x")
    elif flaw == "bad bool":
        fields.insert(where, "ignore-error=" + rnd.choice(["yes", "maybe", " true"]))
    elif flaw == "bad int":
        fields.insert(where, "compression-level=" + rnd.choice([" 3", "3 ", "x", "9999999999999"]))
    elif flaw == "duplicate":
        core, value = fake_secret(rnd)
        hidden.append(core)
        key = rnd.choice(SECRET_KEYS)
        fields.insert(where, field(key, value))
        fields.insert(where, field(key, value))
    elif flaw == "no type":
        fields = [f for f in fields if not f.startswith("type=")]
    else:
        fields.insert(where, "compression=uncompressed")
        fields.insert(where, "compression-level=%d" % rnd.randint(1, 9))
    return ",".join(fields), hidden


class SpecFuzz(Base):
    ROUNDS = int(os.environ.get("CACHECTL_OPTIONS_FUZZ", "150"))

    def test_no_secret_is_ever_printed(self):
        seed = int(os.environ.get("CACHECTL_OPTIONS_SEED", "20261203"))
        rnd = random.Random(seed)
        port = self.listener.port
        rounds = []
        for i in range(self.ROUNDS):
            spec, hidden = bad_spec(rnd, port)
            where = rnd.choice(["dest", "src", "inspect"])
            if where == "dest":
                args = ["export", "--from", FIXTURE, "--export-cache", spec]
            elif where == "src":
                args = ["export", "--from", spec, "--export-cache", os.path.join(self.tmp, "o")]
            else:
                args = ["inspect", spec]
            rounds.append((args, hidden, "seed %d round %d: %r" % (seed, i, args)))
        # the same rounds whatever the order they run in: one per core at a time
        with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
            results = list(pool.map(lambda r: run(r[0], cwd=self.tmp), rounds))
        for (args, hidden, what), p in zip(rounds, results):
            self.assertUsageError(args, 2, (), hidden, what, p=p)
        self.assertEqual(self.listener.connections, 0, "a bad spec let traffic out")


if __name__ == "__main__":
    unittest.main()
