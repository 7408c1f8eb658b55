"""Text from a cache never reaches the terminal raw.  A cache with ESC,
newline, CR and other control bytes planted in its annotations (creation
time, eStargz TOC digest; a diffID or media type that makes the cache
unreadable is quoted in the error), its tag (the index.json
ref.name annotation), a record digest and the names and link targets of
files in its layers is read by every command that prints: inspect (text,
raw, markdown, dot, json), verify, files (text and json), diff, ls and du.
No raw control byte other than the newlines and tabs cachectl writes itself
appears on stdout or stderr, and every line of text output keeps its shape
(a planted newline does not start a line of its own)."""
import json
import os
import re
import unittest

import harness as h
import makecache

RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
PLANT = "\x1b]0;owned\x07\x1b[2J\r\nFORGED"


def plant_cache(root, name, hostile_diff_id=False, hostile_media_type=False):
    """A two-layer chain with hostile text in every field a person reads."""
    layers = makecache.make_chain(root, [
        [("evil\nname\x1b[31m\r", "file", b"x", 0o644), ("ok", "file", b"y", 0o644)],
        [("link\x1b[1m", "symlink", "target\r\n\x1b[2J", 0o777), ("dir\x07", "dir", b"", 0o755)],
    ], name=name)
    with open(os.path.join(root, "index.json")) as f:
        index = json.load(f)
    mdigest = index["manifests"][0]["digest"]
    with open(os.path.join(root, "blobs", "sha256", mdigest[7:]), "rb") as f:
        manifest = json.loads(f.read())
    a = manifest["layers"][0]["annotations"]
    a["buildkit/createdat"] = "2025-01-02" + PLANT
    if hostile_diff_id:  # refused (a diffID must be a digest): the error quotes it
        a["containerd.io/uncompressed"] = a["containerd.io/uncompressed"] + PLANT
    manifest["layers"][1]["annotations"]["containerd.io/snapshot/stargz/toc.digest"] = "sha256:" + PLANT
    if hostile_media_type:  # a layer no command can read: messages quote it
        manifest["layers"][1]["mediaType"] = makecache.LAYER + PLANT
    data = json.dumps(manifest, separators=(",", ":")).encode()
    new = makecache.write_blob(root, data)
    os.remove(os.path.join(root, "blobs", "sha256", mdigest[7:]))
    index["manifests"][0].update(digest=new, size=len(data))
    # the same cache under a second, hostile tag (ls and du list it)
    tagged = json.loads(json.dumps(index["manifests"][0]))
    tagged.setdefault("annotations", {})["org.opencontainers.image.ref.name"] = "tag" + PLANT
    index["manifests"].append(tagged)
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump(index, f)
    return layers


class Escaping(h.TempDirCase):
    prefix = "cachectl-escaping-"

    def assert_clean(self, p, what):
        for stream, text in (("stdout", p.stdout), ("stderr", p.stderr)):
            m = RAW_CONTROL.search(text)
            self.assertIsNone(m, "%s: raw control byte %r on %s:\n%s" % (what, m and m.group(), stream, text[-3000:]))
            for line in text.splitlines():
                self.assertFalse(line.startswith("FORGED"), "%s: a planted newline started a line:\n%s" % (what, text))

    def test_every_printing_command_escapes_cache_text(self):
        a, b = self.dir("a"), self.dir("b")
        layers = plant_cache(a, "a")
        plant_cache(b, "b")
        runs = [
            ("inspect", a), ("inspect", "--raw", "--full", a), ("inspect", "--quick", a),
            ("inspect", "--format", "markdown", a), ("inspect", "--format", "dot", a),
            ("inspect", "--format", "json", a),
            ("verify", a), ("verify", "--progress", "plain", a),
            ("files", a), ("files", a, layers[1]), ("files", "--format", "json", a), ("files", "--top", "5", a),
            ("files", "--changes", a),
            ("diff", a, b), ("diff", "--format", "json", a, b),
            ("ls", a), ("ls", "--format", "json", a), ("du", a),
        ]
        outputs = {}
        for args in runs:
            with self.subTest(args=args):
                p = h.run(*args, ok=False)
                self.assertIn(p.returncode, (0, 1), p.stderr)
                self.assert_clean(p, " ".join(args))
                outputs[args] = p
        # the escapes are there, readable, where the text was
        self.assertIn(r"evil\nname\x1b[31m\r", outputs[("files", a)].stdout)
        self.assertIn(r"target\r\n\x1b[2J", outputs[("files", a, layers[1])].stdout)
        self.assertIn(r"created 2025-01-02\x1b]0;owned\x07", outputs[("inspect", "--raw", "--full", a)].stdout)
        self.assertIn(r"estargz TOC sha256:\x1b]0;owned", outputs[("inspect", a)].stdout)
        self.assertIn(r"tag\x1b]0;owned", outputs[("ls", a)].stdout)
        # JSON carries the exact text, escaped as JSON
        doc = json.loads(outputs[("ls", "--format", "json", a)].stdout)
        self.assertIn("tag" + PLANT, [e["name"] for e in doc["entries"]])

    def test_error_messages_escape_cache_text(self):
        # a hostile name that makes the cache unreadable: the one-line error
        # quotes it escaped
        src = self.dir("bad")
        makecache.make_chain(src, [[("../esc\x1bape\n", "file", b"x", 0o644)]])
        diff, media = self.dir("diff"), self.dir("media")
        plant_cache(diff, "d", hostile_diff_id=True)
        plant_cache(media, "m", hostile_media_type=True)
        for args in (("verify", src), ("files", src), ("inspect", src), ("verify", diff), ("inspect", diff),
                     ("files", diff), ("ls", diff), ("files", media), ("inspect", "--raw", media),
                     ("verify", media), ("diff", media, diff)):
            with self.subTest(args=args):
                p = h.run(*args, ok=False)
                self.assertIn(p.returncode, (0, 1, 2), p.stderr)
                self.assert_clean(p, " ".join(args))
                if p.returncode:  # refused: the message quotes the hostile text, escaped
                    self.assertIn(r"\x1b", p.stderr)


if __name__ == "__main__":
    unittest.main()
