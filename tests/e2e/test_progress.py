"""Progress a person and a CI can read (docs/progress.md): a slow re-encode
reports at least once a second and shows the encoder's output growing,
JSON mode is JSON only (errors too), each destination's result is an event
and a --metadata-file, verify and inspect report when asked.

Run by CTest with CACHECTL=<binary> and FIXTURES=<fixtures dir>.
"""
import glob
import hashlib
import json
import os
import shutil
import unittest

import cachelib as cl
import harness as h
import makecache
from harness import fixture, run

SOURCE = fixture("local-gzip-max")
EVENT_KINDS = {"begin", "progress", "status", "end", "note", "result", "summary", "error"}


def events(test, stderr):
    """Every stderr line as a JSON object: a line that is not one fails."""
    out = []
    for line in stderr.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            test.fail("not JSON on stderr in --progress json: %r" % line)
        test.assertIsInstance(e, dict, line)
        test.assertIn(e.get("event"), EVENT_KINDS, line)
        out.append(e)
    return out


def root_digest(layout, tag="latest"):
    return "sha256:" + hashlib.sha256(cl.load(layout, tag).root_bytes).hexdigest()


class SlowReencode(h.TempDirCase):
    """zstd level 19 on a few MiB: the encoder takes its input at once and
    works for seconds; progress must say so every second."""

    def setUp(self):
        super().setUp()
        self.src = self.dir("src")
        makecache.make(self.src, 1, 10 << 20, seed=7)  # about 2.5 s of zstd-19 on an idle core

    def export(self, mode, dest):
        return run("export", "--progress", mode, "--jobs", "1", "--from", self.src, "--export-cache",
                   "type=local,dest=%s,compression=zstd,compression-level=19,force-compression=true" % dest)

    def test_json_reports_every_second_and_counts_encoded_output(self):
        ev = events(self, self.export("json", self.dir("z")).stderr)
        begin = [e for e in ev if e["event"] == "begin"]
        end = [e for e in ev if e["event"] == "end"]
        self.assertEqual((len(begin), len(end)), (1, 1))
        self.assertEqual(end[0]["outcome"], "done")
        # The run must be long enough for the rule to be tested at all.
        self.assertGreater(end[0]["elapsed"] - begin[0]["elapsed"], 1.2, "zstd-19 of 10 MiB took under 1.2 s")
        during = [e for e in ev if begin[0]["elapsed"] <= e["elapsed"] <= end[0]["elapsed"]]
        times = [e["elapsed"] for e in during]
        self.assertEqual(times, sorted(times))
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertLess(max(gaps), 1.5, "a gap of %.2fs without an event" % max(gaps))
        progress = [e for e in ev if e["event"] == "progress"]
        self.assertTrue(all(e["action"] == "zstd" and e["total"] == begin[0]["total"] for e in progress))
        # The encoder holds all it read while its output grows: the events
        # show the output, not a bar stuck at total/total.
        full = [e["written"] for e in progress if e["current"] == e["total"]]
        self.assertGreaterEqual(len(set(full)), 2, "written did not move while the encoder worked: %s" % full)
        self.assertEqual(full, sorted(full))
        status = [e for e in ev if e["event"] == "status"]
        self.assertTrue(status, "no status event in a run over a second")
        self.assertEqual(status[0]["layersTotal"], 1)
        self.assertIsNone(status[0]["eta"])  # nothing finished yet: unknown, not a guess
        layer = list(cl.load(self.dir("z")).layers.values())[0]
        self.assertEqual(end[0]["written"], layer["size"])
        self.assertEqual(end[0]["bytes"], begin[0]["total"])

    def test_plain_prints_an_overall_line_every_second(self):
        p = self.export("plain", self.dir("p"))
        lines = [l for l in p.stderr.splitlines() if l.startswith("progress: ")]
        self.assertTrue(lines, p.stderr)
        self.assertIn("[0/1 layers]", lines[0])
        self.assertIn("written", lines[0])
        self.assertNotIn("0 B/s", p.stderr)

    def test_tty_draws_an_overall_line_under_the_blobs(self):
        p = self.export("tty", self.dir("t"))
        frames = p.stderr.replace("\x1b[1A\x1b[2K", "\n").splitlines()
        overall = [l for l in frames if l.startswith("[0/1 layers]")]
        self.assertTrue(overall, p.stderr[-2000:])
        self.assertRegex(overall[-1], r"read, [0-9.]+ [KM]i?B written in [0-9.]+s \([0-9.]+ [KM]iB/s\)")
        # The blob's own line shows the encoder's output growing.
        written = [l for l in frames if l.startswith(" => zstd") and " written" in l]
        self.assertGreaterEqual(len(set(written)), 2, p.stderr[-2000:])
        self.assertNotIn("0 B/s", p.stderr)


class JsonOnly(h.TempDirCase):
    """Every failing command class, piped through a JSON parser."""

    def test_every_failure_is_one_error_event(self):
        damaged = self.dir("damaged")
        shutil.copytree(SOURCE, damaged)
        layer = max(glob.glob(os.path.join(damaged, "blobs", "sha256", "*")), key=os.path.getsize)
        os.chmod(layer, 0o644)
        with open(layer, "r+b") as f:
            f.seek(100)
            f.write(b"\0\0\0\0")
        afile = self.dir("afile")
        open(afile, "w").close()
        rows = [
            (["export", "--progress", "json", "--bogus"], 2, "unknown option --bogus"),
            (["export", "--bogus", "--progress", "json"], 2, "unknown option --bogus"),
            (["export", "--progress=json", "--from", SOURCE], 2, "--export-cache"),
            (["frobnicate", "--progress", "json"], 2, "unknown command"),
            (["export", "--progress", "json", "--from", SOURCE, "--export-cache", "type=local,dest={d}/x,desst=y"],
             2, "desst"),
            (["export", "--progress", "json", "--from", SOURCE, "--export-cache",
              "type=s4,bucket=b,secret_access_key=TOPSECRET"], 2, "s4"),
            (["export", "--progress", "json", "--from", "{d}/none", "--export-cache", "type=local,dest={d}/y"],
             3, "no cache"),
            (["import", "--progress", "json", "--import-cache", "{d}/none", "--dest", "{d}/z"], 3, "no cache"),
            (["verify", "--progress", "json", "{d}/none"], 3, "no cache"),
            (["inspect", "--progress", "json", "{d}/none"], 3, "no cache"),
            (["verify", "--progress", "json", damaged], 1, "damaged"),
            (["export", "--progress", "json", "--from", SOURCE, "--export-cache",
              "type=local,dest=%s/sub" % afile], 1, ""),
            (["export", "--progress", "json", "--from", damaged, "--export-cache", "type=local,dest={d}/w"],
             1, ""),
        ]
        for args, code, fragment in rows:
            args = [a.format(d=self.tmp) for a in args]
            with self.subTest(args=" ".join(args)):
                p = run(*args, ok=False, secrets=("TOPSECRET",))
                self.assertEqual(p.returncode, code, p.stderr)
                ev = events(self, p.stderr)
                self.assertTrue(ev)
                last = ev[-1]
                self.assertEqual(last["event"], "error", p.stderr)
                self.assertEqual(last["exitCode"], code)
                self.assertIn(fragment, last["message"])
                self.assertEqual(sum(e["event"] == "error" for e in ev), 1)

    def test_a_failed_blob_end_has_its_detail(self):
        damaged = self.dir("damaged")
        shutil.copytree(SOURCE, damaged)
        layer = max(glob.glob(os.path.join(damaged, "blobs", "sha256", "*")), key=os.path.getsize)
        os.chmod(layer, 0o644)
        with open(layer, "r+b") as f:
            f.seek(100)
            f.write(b"\0\0\0\0")
        p = run("verify", "--progress", "json", damaged, ok=False)
        ends = [e for e in events(self, p.stderr) if e["event"] == "end"]
        failed = [e for e in ends if e["outcome"] == "failed"]
        self.assertEqual(len(failed), 1, ends)
        self.assertEqual(failed[0]["blob"], "sha256:" + os.path.basename(layer))
        self.assertIn("damaged", failed[0]["detail"])
        self.assertEqual({e["outcome"] for e in ends} - {"failed"}, {"ok"})


class Results(h.TempDirCase):
    def test_metadata_file_and_result_events_name_what_was_written(self):
        a, b, meta = self.dir("a"), self.dir("b"), self.dir("meta.json")
        with open(meta, "w") as f:
            f.write("old")
        p = run("export", "--progress", "json", "--from", SOURCE, "--metadata-file", meta,
                "--export-cache", "type=local,dest=%s,tag=v1" % a,
                "--export-cache", "type=local,dest=%s,compression=zstd,force-compression=true" % b)
        ev = events(self, p.stderr)
        results = [e for e in ev if e["event"] == "result"]
        with open(meta) as f:
            doc = json.load(f)
        self.assertEqual(doc["command"], "export")
        self.assertEqual(len(doc["destinations"]), 2)
        self.assertEqual(glob.glob(meta + ".tmp*"), [])
        for got, event, layout, tag in zip(doc["destinations"], results, (a, b), ("v1", "latest")):
            cache = cl.load(layout, tag)
            event = {k: v for k, v in event.items() if k not in ("event", "elapsed")}
            self.assertEqual(got, event)
            self.assertEqual(got["outcome"], "ok")
            self.assertEqual(got["type"], "local")
            self.assertEqual(got["dir"], layout)
            self.assertEqual(got["tag"], "v1" if tag == "v1" else None)
            self.assertEqual(got["root"], root_digest(layout, tag))
            self.assertEqual(got["config"], cache.config_desc["digest"])
            self.assertEqual(got["records"], len(cache.config["records"]))
            self.assertEqual(got["blobsWritten"], len(cache.layers))
            self.assertEqual(got["blobsSkipped"], 0)
            self.assertEqual(got["bytesWritten"], sum(d["size"] for d in cache.layers.values()))
        # Again: everything is there already.
        p = run("export", "--progress", "plain", "--from", SOURCE, "--metadata-file", meta,
                "--export-cache", "type=local,dest=%s,tag=v1" % a)
        with open(meta) as f:
            again = json.load(f)["destinations"][0]
        self.assertEqual((again["blobsWritten"], again["blobsSkipped"], again["bytesWritten"]),
                         (0, len(cl.load(a, "v1").layers), 0))
        # A local export prints the root it wrote, as a registry export does.
        self.assertIn("root %s" % root_digest(a, "v1"), p.stderr)
        self.assertNotIn("0 B/s", p.stderr)

    def test_a_failed_destination_is_in_the_file_without_its_secrets(self):
        afile, ok, meta = self.dir("afile"), self.dir("ok"), self.dir("meta.json")
        open(afile, "w").close()
        # An s3 endpoint nobody listens on, with a credential in the spec.
        s3 = ("type=s3,bucket=b,region=us-east-1,endpoint_url=http://127.0.0.1:%d,access_key_id=AKIAEXAMPLE,"
              "secret_access_key=TOPSECRET,retry_max_attempts=1,ignore-error=true" % h.free_port())
        p = run("export", "--progress", "json", "--from", SOURCE, "--metadata-file", meta,
                "--export-cache", "type=local,dest=%s" % ok,
                "--export-cache", "type=local,dest=%s/sub,ignore-error=true" % afile,
                "--export-cache", s3, secrets=("TOPSECRET",))
        with open(meta) as f:
            text = f.read()
        self.assertNotIn("TOPSECRET", text)
        first, second, third = json.loads(text)["destinations"]
        self.assertEqual(first["outcome"], "ok")
        self.assertEqual(second["outcome"], "ignored")
        self.assertIsNone(second["root"])
        self.assertTrue(second["error"])
        self.assertEqual((third["outcome"], third["type"], third["bucket"]), ("ignored", "s3", "b"))
        self.assertIn("secret_access_key=***", third["destination"])
        self.assertIn("127.0.0.1", third["error"])
        self.assertEqual([e["outcome"] for e in events(self, p.stderr) if e["event"] == "result"],
                         ["ok", "ignored", "ignored"])

    def test_a_cache_without_layers_leaves_the_destination_unchanged(self):
        src, meta = self.dir("empty"), self.dir("meta.json")
        os.makedirs(os.path.join(src, "blobs", "sha256"))
        makecache.write_layout(src, [], [{"digest": makecache.sha(b"only-a-key")}], [])
        p = run("export", "--progress", "json", "--from", src, "--metadata-file", meta,
                "--export-cache", "type=local,dest=%s" % self.dir("out"))
        with open(meta) as f:
            (got,) = json.load(f)["destinations"]
        self.assertEqual((got["outcome"], got["root"], got["blobsWritten"]), ("unchanged", None, 0))
        self.assertEqual([e["outcome"] for e in events(self, p.stderr) if e["event"] == "result"], ["unchanged"])
        self.assertFalse(os.path.exists(os.path.join(self.dir("out"), "index.json")))

    def test_bad_metadata_file_values(self):
        rows = [
            (["export", "--from", SOURCE, "--export-cache", "type=local,dest={d}/x", "--metadata-file", ""], 2,
             "--metadata-file is empty"),
            (["export", "--from", SOURCE, "--export-cache", "type=local,dest={d}/x", "--metadata-file",
              "{d}/no/such/dir/m.json"], 1, "--metadata-file"),
        ]
        h.check_table(self, rows, lambda args, env: run(*h.quiet(args), ok=False), d=self.tmp)


class ReadersReport(h.TempDirCase):
    def test_verify_and_inspect_report_each_blob_when_asked(self):
        n = len(cl.load(SOURCE).layers)
        for cmd, action in (("verify", "verify"), ("inspect", "measure")):
            with self.subTest(cmd=cmd):
                ev = events(self, run(cmd, "--progress", "json", SOURCE).stderr)
                ends = [e for e in ev if e["event"] == "end"]
                self.assertEqual(len(ends), n if cmd == "verify" else len(
                    [d for d in cl.load(SOURCE).layers.values() if "gzip" in d["mediaType"]]))
                self.assertTrue(all(e["action"] == action and e["outcome"] == "ok" for e in ends), ends)
                self.assertTrue(all(e["bytes"] > 0 for e in ends), ends)
                quiet = run(cmd, SOURCE)
                self.assertEqual(quiet.stderr, "")
                plain = run(cmd, "--progress", "plain", SOURCE)
                self.assertEqual(len([l for l in plain.stderr.splitlines() if l.startswith("ok ")]), len(ends))

    def test_help_says_what_auto_means_for_readers(self):
        for cmd in ("verify", "inspect"):
            self.assertIn("auto means quiet here", run(cmd, "--help").stdout)


if __name__ == "__main__":
    unittest.main()
