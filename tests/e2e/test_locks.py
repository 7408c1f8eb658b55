"""index.json.lock, BuildKit's protocol (shared to read, exclusive to write,
the lock file unlinked after use), with waiting: a held lock is waited for
(with a note) up to --lock-timeout, and many writers and readers at once
all succeed with nothing torn."""
import fcntl
import json
import os
import subprocess
import threading
import time
import unittest

import cachelib as cl
import harness as h
from harness import fixture, run


def export_args(dest, tag, *extra):
    return ["export", "--progress", "plain", *extra, "--from", fixture("local-gzip-max"), "--export-cache",
            "type=local,dest=%s,tag=%s" % (dest, tag)]


class HeldLock(h.TempDirCase):
    def hold(self, dest, seconds, exclusive=True):
        """Holds the lock as BuildKit would for `seconds`, then unlinks the
        lock file and lets go."""
        path = os.path.join(dest, "index.json.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)

        def release():
            time.sleep(seconds)
            os.unlink(path)
            os.close(fd)
        t = threading.Thread(target=release)
        t.start()
        return t

    def seeded(self):
        dest = self.dir("dest")
        run(*export_args(dest, "latest"))
        return dest

    def test_an_export_waits_for_a_held_lock_and_says_so(self):
        dest = self.seeded()
        holder = self.hold(dest, 1.5)
        started = time.time()
        p = run(*export_args(dest, "second"))
        holder.join()
        self.assertGreaterEqual(time.time() - started, 1.0)
        self.assertIn("waiting for", p.stderr)
        self.assertIn("index.json.lock", p.stderr)
        tags = [m["annotations"]["org.opencontainers.image.ref.name"]
                for m in json.loads(h.read(os.path.join(dest, "index.json")))["manifests"]]
        self.assertEqual(sorted(tags), ["latest", "second"])

    def test_readers_wait_for_a_writer(self):
        dest = self.seeded()
        holder = self.hold(dest, 1.0)
        for cmd in ("inspect", "verify"):
            p = run(cmd, dest)
            self.assertEqual(p.returncode, 0)
        holder.join()

    def test_lock_timeout_gives_up_with_one_line_naming_the_option(self):
        dest = self.seeded()
        holder = self.hold(dest, 3)
        p = run(*export_args(dest, "late", "--lock-timeout", "300ms"), ok=False)
        holder.join()
        h.expect(self, p, 1, "could not lock", "--lock-timeout")
        self.assertEqual(cl.load(dest).problems(), [])

    def test_bad_lock_timeouts_are_usage_errors(self):
        for value in ("soon", "-1s", ""):
            with self.subTest(value=value):
                p = run(*export_args(self.dir("x"), "t", "--lock-timeout", value), ok=False)
                h.expect(self, p, 2, "--lock-timeout", one_line=True)


class ManyAtOnce(h.TempDirCase):
    def test_writers_and_readers_together_all_succeed_and_nothing_is_torn(self):
        dest = self.dir("dest")
        run(*export_args(dest, "seed"))
        rounds, writers, readers = 3, 6, 6
        for r in range(rounds):
            procs = []
            for w in range(writers):
                procs.append(("export", subprocess.Popen(
                    [h.CACHECTL, *export_args(dest, "r%d-w%d" % (r, w))], stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)))
            for _ in range(readers):
                procs.append(("inspect", subprocess.Popen(
                    [h.CACHECTL, "inspect", "type=local,src=%s,tag=seed" % dest], stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)))
            for what, p in procs:
                out, err = p.communicate(timeout=300)
                self.assertEqual(p.returncode, 0, "%s: %s" % (what, err.decode(errors="replace")))
        index = json.loads(h.read(os.path.join(dest, "index.json")))
        tags = sorted(m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"])
        want = sorted(["seed"] + ["r%d-w%d" % (r, w) for r in range(rounds) for w in range(writers)])
        self.assertEqual(tags, want)
        for tag in ("seed", "r2-w5"):
            run("verify", "type=local,src=%s,tag=%s" % (dest, tag))


if __name__ == "__main__":
    unittest.main()
