"""Other tools read the local caches cachectl writes: skopeo reads the root
manifest, umoci lists the tag.  A peer suite (the tools are Debian packages
the fast suites do not need).

Run by CTest with CACHECTL=<binary> and FIXTURES=<fixtures dir>.
"""
import subprocess
import unittest

import cachelib as cl
import harness as h
from harness import fixture, run


class Readers(h.TempDirCase):
    def export(self, opts=""):
        dest = self.dir("peer")
        run("export", "--progress", "quiet", "--from", fixture("local-gzip-max"),
            "--export-cache", "type=local,dest=%s%s" % (dest, opts))
        return dest

    def test_skopeo_reads_the_root(self):
        skopeo = h.need_tool("skopeo")
        dest = self.export(",compression=zstd,force-compression=true")
        p = subprocess.run([skopeo, "inspect", "--raw", "oci:%s:latest" % dest], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, cl.load(dest).root_bytes)

    def test_umoci_lists_the_tag(self):
        umoci = h.need_tool("umoci")
        dest = self.export()
        p = subprocess.run([umoci, "ls", "--layout", dest], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split(), ["latest"])


if __name__ == "__main__":
    unittest.main()
