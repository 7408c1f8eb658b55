"""What cachectl prints on stdout must reach its reader: --version names
every library it runs with, and a full disk behind stdout is exit 1 with one
line saying so, for every command that prints there."""
import os
import re
import subprocess
import unittest

import harness as h


class Version(unittest.TestCase):
    def test_version_names_every_library_with_a_version(self):
        out = h.run("--version").stdout.splitlines()
        self.assertRegex(out[0], r"^cachectl \d+\.\d+\.\d+$")
        libs = {}
        for line in out[1:]:
            m = re.match(r"^  (\S+)\s+(\d+\.\d+(?:\.\d+)?[^ ]*)( \(built with .+\))?$", line)
            self.assertTrue(m, "not a library line: %r" % line)
            libs[m.group(1)] = m.group(2)
        for name in ("libarchive", "libzstd", "zlib", "libdeflate", "ISA-L", "OpenSSL", "libcurl", "cJSON"):
            self.assertIn(name, libs)


def full_stdout(args):
    """cachectl ARGS with stdout on /dev/full: every write fails with ENOSPC."""
    with open("/dev/full", "w") as full:
        return subprocess.run([h.CACHECTL, *args], stdout=full, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL, timeout=120)


class FullDisk(h.TempDirCase):
    def test_every_command_that_prints_fails_when_stdout_cannot_take_it(self):
        src = h.fixture("local-gzip-max")
        rows = [
            ["--version"],
            ["--help"],
            ["inspect", src],
            ["inspect", "--format", "json", src],
            ["verify", src],
            ["export", "--help"],
            ["import", "--help"],
            ["inspect", "--help"],
            ["verify", "--help"],
        ]
        for args in rows:
            with self.subTest(args=" ".join(args)):
                p = full_stdout(args)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn("write to standard output", p.stderr)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)

    def test_a_command_that_failed_keeps_its_own_exit_code(self):
        p = full_stdout(["inspect", os.path.join(self.dir("empty"), "nothing-here")])
        self.assertNotEqual(p.returncode, 0)
        self.assertNotIn("write to standard output", p.stderr)


def commands():
    """The commands `cachectl --help` lists (the lines under "commands:")."""
    text = h.run("--help").stdout
    listed = text.split("commands:", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"(?m)^  ([a-z]+)\s", listed)


class ManPage(unittest.TestCase):
    """docs/cachectl.1 is generated from docs/cachectl.1.md (docs/make-man.sh)
    and installed: it must be a man page and must not fall behind --help."""

    def setUp(self):
        self.page = h.read(os.path.join(h.HERE, "..", "..", "docs", "cachectl.1")).decode()

    def test_it_is_roff_for_section_1(self):
        self.assertRegex(self.page, r'(?m)^\.TH "?cachectl"? "?1"?')
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS"):
            self.assertRegex(self.page, r'(?m)^\.SH "?%s"?' % section)

    def test_every_option_of_every_command_is_in_the_page(self):
        text = self.page.replace("\\-", "-").replace("\\", "")
        cmds = commands()
        self.assertIn("export", cmds)
        for cmd in cmds:
            options = set(re.findall(r"(?m)^\s+(--[a-z][a-z-]+)", h.run(cmd, "--help").stdout))
            self.assertTrue(options, cmd)
            for option in sorted(options):
                with self.subTest(command=cmd, option=option):
                    self.assertIn(option, text)


if __name__ == "__main__":
    unittest.main()
