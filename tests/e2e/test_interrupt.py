"""^C and SIGTERM in the middle of an export: the process dies by the signal
(its parent sees 130/143), this run's temporary files are gone, and the
destination's cache is the one it had before.  Ingest files a killed run
could not remove (SIGKILL) are removed by the next export once stale."""
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

import cachelib as cl
import harness as h
from harness import fixture, run

sys.path.insert(0, h.HERE)
import makecache  # noqa: E402


def ingest_files(cache):
    d = os.path.join(cache, "ingest")
    return sorted(f for f in os.listdir(d) if f.startswith("blob-")) if os.path.isdir(d) else []


class Interrupt(h.TempDirCase):
    @classmethod
    def setUpClass(cls):
        # Big, incompressible layers re-encoded at zstd level 19 on one job:
        # many seconds of work, so the signal lands mid-blob.
        cls.big = h.tempdir()
        makecache.make(cls.big, 2, 24 << 20, seed=7)

    @classmethod
    def tearDownClass(cls):
        h.remove_tree(cls.big)

    def seeded_destination(self):
        dest = self.dir("dest")
        run("export", "--progress", "quiet", "--from", fixture("local-gzip-max"), "--export-cache",
            "type=local,dest=" + dest)
        return dest

    def interrupt(self, sig):
        dest = self.seeded_destination()
        before = h.read(os.path.join(dest, "index.json"))
        p = subprocess.Popen([h.CACHECTL, "export", "--progress", "quiet", "--jobs", "1", "--from", self.big,
                              "--export-cache", "type=local,dest=%s,compression=zstd,compression-level=19,"
                              "force-compression=true" % dest],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while time.time() < deadline and p.poll() is None:
            files = ingest_files(dest)
            if files and os.path.getsize(os.path.join(dest, "ingest", files[0])) > 0:
                break
            time.sleep(0.05)
        self.assertIsNone(p.poll(), "the export ended before it could be interrupted")
        self.assertTrue(ingest_files(dest), "no ingest file appeared")
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, -sig, err.decode(errors="replace"))
        self.assertEqual(ingest_files(dest), [])
        self.assertEqual(h.read(os.path.join(dest, "index.json")), before)
        self.assertEqual([n for n in os.listdir(dest) if ".tmp-" in n], [])
        self.assertEqual(cl.load(dest).problems(), [])
        run("verify", dest)

    def test_sigint_removes_this_runs_files_and_keeps_the_cache(self):
        self.interrupt(signal.SIGINT)

    def test_sigterm_removes_this_runs_files_and_keeps_the_cache(self):
        self.interrupt(signal.SIGTERM)


class StaleIngest(h.TempDirCase):
    def test_next_export_removes_ingest_files_older_than_an_hour_only(self):
        dest = self.dir("dest")
        run("export", "--progress", "quiet", "--from", fixture("local-gzip-max"), "--export-cache",
            "type=local,dest=" + dest)
        ingest = os.path.join(dest, "ingest")
        os.makedirs(ingest, exist_ok=True)
        for name, age in (("blob-stale1", 2 * 3600), ("blob-stale2", 3601 + 60), ("blob-fresh", 60),
                          ("notablob", 5 * 3600)):
            path = os.path.join(ingest, name)
            with open(path, "wb") as f:
                f.write(b"x" * 100)
            t = time.time() - age
            os.utime(path, (t, t))
        # an export that writes at least one blob (a re-encode) looks at ingest/
        run("export", "--progress", "quiet", "--from", fixture("local-gzip-max"), "--export-cache",
            "type=local,dest=%s,compression=zstd,force-compression=true,tag=z" % dest)
        self.assertEqual(sorted(os.listdir(ingest)), ["blob-fresh", "notablob"])


if __name__ == "__main__":
    unittest.main()
