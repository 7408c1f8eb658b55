"""End-to-end tests of every command through the real binary, local backend.
Needs no peer: the bytes are judged by cachelib.py.  Other tools reading what
cachectl writes are in test_local_readers.py; the option tables of every
backend in test_usage.py.

Run by CTest with CACHECTL=<binary> and FIXTURES=<fixtures dir>.
"""
import fcntl
import json
import os
import shutil
import subprocess

import cachelib as cl
import harness as h
from harness import fixture, read, run

LOCAL = ["local-gzip-max", "local-zstd-max", "local-estargz", "local-docker-mediatypes"]

# Commands that find no cache: exit 3, naming what was looked for.
NO_CACHE = [
    (["import", "--import-cache", "type=local,src={nope}", "--dest", "{dest}"], 3, "nope"),
    (["import", "--import-cache", "type=local,src={src},tag=nosuchtag", "--dest", "{dest}"], 3, "nosuchtag"),
    (["inspect", "{empty}"], 3, "index.json"),
    (["verify", "type=local,src={src},digest=sha256:" + "1" * 64], 3, "1" * 64),
    # several sources, none with a cache
    (["export", "--from", "{nope}", "--from", "{nope2}", "--export-cache", "{dest}"], 3, "any"),
]


class Base(h.TempDirCase):
    def copy_fixture(self, name):
        self.copies = getattr(self, "copies", 0) + 1
        dst = self.dir("copy%d-%s" % (self.copies, name))
        shutil.copytree(fixture(name), dst)
        subprocess.run(["chmod", "-R", "u+w", dst], check=True)  # the fixture's blobs are read-only
        return dst

    def assertSameMeaning(self, a, b):
        self.assertEqual(a.meaning(), b.meaning())

    def assertIntact(self, cache):
        self.assertEqual(cache.problems(), [])


class ByteExact(Base):
    def test_export_of_unchanged_fixture_is_byte_identical(self):
        for name in LOCAL:
            with self.subTest(name):
                dest = self.dir(name)
                opts = ",oci-mediatypes=false" if "docker" in name else ""
                run("export", "--progress", "quiet", "--from", "type=local,src=" + fixture(name),
                    "--export-cache", "type=local,dest=%s%s" % (dest, opts))
                for f in ("oci-layout", "index.json"):
                    self.assertEqual(read(os.path.join(dest, f)), read(os.path.join(fixture(name), f)), f)
                a, b = cl.load(fixture(name)), cl.load(dest)
                self.assertEqual(a.root_bytes, b.root_bytes)
                self.assertEqual(a.config_bytes, b.config_bytes)
                self.assertEqual(set(os.listdir(os.path.join(dest, "blobs", "sha256"))),
                                 set(os.listdir(os.path.join(fixture(name), "blobs", "sha256"))))
                self.assertIntact(b)

    def without_diffids(self, name):
        """A copy of a fixture whose root names no layer's diffID."""
        src = self.copy_fixture(name)
        c = cl.load(src)
        root = json.loads(c.root_bytes)
        for d in root.get("layers") or root.get("manifests"):
            d.get("annotations", {}).pop(cl.DIFFID, None)
        rdata = json.dumps(root, separators=(",", ":")).encode()
        with open(os.path.join(src, "blobs", "sha256", cl.sha256(rdata)[7:]), "wb") as f:
            f.write(rdata)
        idx = cl.index(src)
        idx["manifests"][0]["digest"], idx["manifests"][0]["size"] = cl.sha256(rdata), len(rdata)
        with open(os.path.join(src, "index.json"), "w") as f:
            json.dump(idx, f)
        return src

    def test_copy_measures_missing_diffids_in_the_same_pass(self):
        # every encoding's decoder sees the bytes the copy writes: the
        # diffIDs measured on the way make BuildKit's document again
        for name in LOCAL:
            with self.subTest(name):
                src = self.without_diffids(name)
                self.assertNotIn(cl.DIFFID.encode(), cl.load(src).root_bytes)
                dest = self.dir(name)
                opts = ",oci-mediatypes=false" if "docker" in name else ""
                run("export", "--progress", "quiet", "--from", "type=local,src=" + src,
                    "--export-cache", "type=local,dest=%s%s" % (dest, opts))
                a, b = cl.load(fixture(name)), cl.load(dest)
                self.assertEqual(a.root_bytes, b.root_bytes)
                self.assertEqual(a.config_bytes, b.config_bytes)
                for digest in a.layers:
                    self.assertEqual(b.blob(digest), a.blob(digest))
                self.assertIntact(b)

    def test_import_keeps_every_fixture_unchanged(self):
        for name in LOCAL:
            with self.subTest(name):
                dest = self.dir(name)
                run("import", "--progress", "quiet", "--import-cache", "type=local,src=" + fixture(name),
                    "--dest", dest)
                self.assertEqual(cl.tree_digest(os.path.join(dest, "blobs")),
                                 cl.tree_digest(os.path.join(fixture(name), "blobs")))
                self.assertEqual(read(os.path.join(dest, "index.json")),
                                 read(os.path.join(fixture(name), "index.json")))
                self.assertEqual(read(os.path.join(dest, "oci-layout")), b'{"imageLayoutVersion":"1.0.0"}')
                self.assertFalse(os.path.exists(os.path.join(dest, "index.json.lock")))

    def test_blobs_are_read_only_files(self):
        dest = self.dir("ro")
        run("export", "--progress", "quiet", "--from", fixture("local-gzip-max"), "--export-cache", dest)
        for name in os.listdir(os.path.join(dest, "blobs", "sha256")):
            mode = os.stat(os.path.join(dest, "blobs", "sha256", name)).st_mode & 0o777
            self.assertEqual(mode, 0o444, name)
        self.assertEqual(os.listdir(os.path.join(dest, "ingest")), [])


class Reencoding(Base):
    def export(self, src, dest, opts):
        run("export", "--progress", "quiet", "--from", "type=local,src=" + src,
            "--export-cache", "type=local,dest=%s,%s" % (dest, opts))
        return cl.load(dest)

    def test_gzip_zstd_gzip_uncompressed_keeps_records_and_diffids(self):
        src = cl.load(fixture("local-gzip-max"))
        steps = [("compression=zstd,force-compression=true", "application/vnd.oci.image.layer.v1.tar+zstd"),
                 ("compression=gzip,compression-level=9,force-compression=true",
                  "application/vnd.oci.image.layer.v1.tar+gzip"),
                 ("compression=uncompressed,force-compression=true", "application/vnd.oci.image.layer.v1.tar")]
        prev = fixture("local-gzip-max")
        for i, (opts, media_type) in enumerate(steps):
            with self.subTest(opts):
                dest = self.dir("step%d" % i)
                c = self.export(prev, dest, opts)
                self.assertIntact(c)
                self.assertSameMeaning(src, c)
                self.assertEqual({d["mediaType"] for d in c.layers.values()}, {media_type})
                prev = dest
        plain = cl.load(prev)
        for digest, d in plain.layers.items():
            self.assertEqual(d["annotations"][cl.DIFFID], digest)
        # creation times survive re-encoding
        times = sorted(d["annotations"]["buildkit/createdat"] for d in plain.layers.values())
        self.assertEqual(times, sorted(d["annotations"]["buildkit/createdat"] for d in src.layers.values()))

    def test_level_changes_the_bytes(self):
        lo = self.export(fixture("local-gzip-max"), self.dir("z1"), "compression=zstd,compression-level=1,force-compression=true")
        # level 3 (the default) against 1: level 19 would prove no more and take 20 times as long
        hi = self.export(fixture("local-gzip-max"), self.dir("z3"), "compression=zstd,compression-level=3,force-compression=true")
        self.assertLess(sum(d["size"] for d in hi.layers.values()), sum(d["size"] for d in lo.layers.values()))
        self.assertSameMeaning(lo, hi)

    def test_without_force_existing_blobs_stay_and_a_note_says_so(self):
        dest = self.dir("noforce")
        p = run("export", "--progress", "plain", "--from", fixture("local-gzip-max"),
                "--export-cache", "type=local,dest=%s,compression=zstd" % dest)
        self.assertIn("not applied to 9 existing layers", p.stderr)
        self.assertEqual(set(cl.load(dest).layers), set(cl.load(fixture("local-gzip-max")).layers))

    def test_zstd_fixture_mixed_encodings_to_gzip(self):
        c = self.export(fixture("local-zstd-max"), self.dir("g"), "compression=gzip,force-compression=true")
        self.assertIntact(c)
        self.assertSameMeaning(cl.load(fixture("local-zstd-max")), c)
        # the gzip base layer was already gzip: kept byte for byte
        self.assertIn("sha256:f671ca523f2108c8fa41496b7a6093e98b0179d552b137e968f10250342ba40e", c.layers)

    def test_reencoding_is_deterministic(self):
        a = self.export(fixture("local-gzip-max"), self.dir("a"), "compression=zstd,force-compression=true")
        b = self.export(fixture("local-gzip-max"), self.dir("b"), "compression=zstd,force-compression=true")
        self.assertEqual(a.root_bytes, b.root_bytes)

    def test_rerun_reuses_what_the_destination_holds(self):
        """A re-encode whose result the destination holds already (same
        diffID, same encoding) is not done again: the source is not even
        read, and the document is the same as a fresh re-encode writes."""
        zstd = "compression=zstd,force-compression=true"
        cases = [  # (first export, second export, expected summary of the second)
            (zstd, zstd, "0 layers read, 0 written, 9 skipped"),
            # the level of a blob already there is not re-checked
            (zstd + ",compression-level=1", zstd + ",compression-level=19", "0 layers read, 0 written, 9 skipped"),
            # another encoding is no match
            (zstd, "compression=uncompressed,force-compression=true", "9 layers read, 9 written, 0 skipped"),
        ]
        for first, second, summary in cases:
            with self.subTest(first=first, second=second):
                dest, fresh = self.dir("rerun"), self.dir("fresh")
                shutil.rmtree(dest, ignore_errors=True)
                shutil.rmtree(fresh, ignore_errors=True)
                before = self.export(fixture("local-gzip-max"), dest, first)
                p = run("export", "--progress", "plain", "--from", fixture("local-gzip-max"),
                        "--export-cache", "type=local,dest=%s,%s" % (dest, second))
                self.assertIn(summary, p.stderr)
                after = cl.load(dest)
                self.assertIntact(after)
                self.assertSameMeaning(before, after)
                if summary.startswith("0 layers read"):
                    self.assertEqual(after.root_bytes, before.root_bytes)
                else:
                    self.assertEqual(after.root_bytes, self.export(fixture("local-gzip-max"), fresh, second).root_bytes)

    def test_copies_ride_on_the_reencoding_read(self):
        # (source, re-encode asked by the second destination): every road
        # of the pipeline hands the raw bytes to the copy on its way
        cases = [("local-gzip-max", "compression=zstd,force-compression=true"),
                 ("local-gzip-max", "compression=estargz,force-compression=true"),
                 ("local-estargz", "compression=gzip,force-compression=true"),
                 ("local-zstd-max", "compression=uncompressed,force-compression=true")]
        for name, opts in cases:
            with self.subTest(name=name, opts=opts):
                src = cl.load(fixture(name))
                copy, enc, fresh = self.dir(name + "-copy"), self.dir(name + "-enc"), self.dir(name + "-fresh")
                for d in (copy, enc, fresh):
                    shutil.rmtree(d, ignore_errors=True)
                p = run("export", "--progress", "plain", "--from", fixture(name),
                        "--export-cache", "type=local,dest=" + copy,
                        "--export-cache", "type=local,dest=%s,%s" % (enc, opts))
                n = len(src.layers)
                self.assertIn("%d layers read, %d written" % (n, 2 * n), p.stderr)
                self.assertEqual(cl.load(copy).root_bytes, src.root_bytes)
                self.assertIntact(cl.load(enc))
                self.assertEqual(cl.load(enc).root_bytes, self.export(fixture(name), fresh, opts).root_bytes)

    def test_one_read_feeds_every_encoding(self):
        # (source, options of each destination, reads per blob): the other
        # re-encodes of a blob ride on the first one's read, each encoding
        # byte-identical to an export that asks for it alone.  eStargz is
        # written by walking the tar on a read of its own.
        force = ",force-compression=true"
        zstd, raw = "compression=zstd" + force, "compression=uncompressed" + force
        cases = [("local-gzip-max", [zstd, raw], 1),
                 ("local-gzip-max", [zstd + ",compression-level=1", zstd + ",compression-level=9", raw, ""], 1),
                 ("local-zstd-max", ["compression=gzip" + force, raw], 1),
                 ("local-estargz", ["compression=gzip" + force, zstd, ""], 1),
                 ("local-gzip-max", [zstd, "compression=estargz" + force], 2)]
        for name, specs, reads in cases:
            with self.subTest(name=name, specs=specs):
                n = len(cl.load(fixture(name)).layers)
                dests = [self.dir("%s-%d" % (name, i)) for i in range(len(specs))]
                for d in dests:
                    shutil.rmtree(d, ignore_errors=True)
                args = []
                for d, spec in zip(dests, specs):
                    args += ["--export-cache", "type=local,dest=" + d + ("," + spec if spec else "")]
                p = run("export", "--progress", "plain", "--from", fixture(name), *args)
                self.assertIn("%d layers read, %d written" % (reads * n, len(specs) * n), p.stderr)
                for d, spec in zip(dests, specs):
                    alone = self.dir("alone")
                    shutil.rmtree(alone, ignore_errors=True)
                    run("export", "--progress", "quiet", "--from", fixture(name),
                        "--export-cache", "type=local,dest=" + alone + ("," + spec if spec else ""))
                    # the same root names the same blobs, each checked against its digest
                    self.assertEqual(cl.load(d).root_bytes, cl.load(alone).root_bytes)
                    self.assertIntact(cl.load(d))

    def test_reuse_needs_the_blob_in_the_store(self):
        zstd = "compression=zstd,force-compression=true"
        dest, other = self.dir("lost"), self.dir("other")
        before = self.export(fixture("local-gzip-max"), dest, zstd)
        lost = sorted(before.layers)[0]
        os.chmod(os.path.join(dest, "blobs", "sha256"), 0o755)
        os.remove(before.path(lost))
        # one destination holds 8 of the 9, the other none: 10 re-encodes
        # (one shared by both destinations), 8 reused
        p = run("export", "--progress", "plain", "--from", fixture("local-gzip-max"),
                "--export-cache", "type=local,dest=%s,%s" % (dest, zstd),
                "--export-cache", "type=local,dest=%s,%s" % (other, zstd))
        self.assertIn("9 layers read, 10 written, 8 skipped", p.stderr)
        for d in (dest, other):
            after = cl.load(d)
            self.assertIntact(after)
            self.assertEqual(after.root_bytes, before.root_bytes)

    def test_docker_media_types_and_index_form(self):
        d = self.export(fixture("local-gzip-max"), self.dir("docker"), "oci-mediatypes=false")
        self.assertEqual(d.kind, cl.DOCKER_LIST)
        self.assertEqual({x["mediaType"] for x in d.layers.values()},
                         {"application/vnd.docker.image.rootfs.diff.tar.gzip"})
        i = self.export(fixture("local-docker-mediatypes"), self.dir("index"), "image-manifest=false")
        self.assertEqual(i.kind, cl.OCI_INDEX)
        self.assertEqual({x["mediaType"] for x in i.layers.values()},
                         {"application/vnd.oci.image.layer.v1.tar+gzip"})
        self.assertEqual(cl.index(self.dir("index"))["manifests"][-1]["mediaType"], cl.OCI_INDEX)
        m = self.export(fixture("local-docker-mediatypes"), self.dir("manifest"), "mode=max")
        self.assertEqual(m.kind, cl.OCI_MANIFEST)
        self.assertSameMeaning(m, cl.load(fixture("local-gzip-max")))


class Modes(Base):
    def test_mode_min_keeps_the_final_chain(self):
        dest = self.dir("min")
        run("export", "--progress", "quiet", "--from", fixture("local-gzip-max"),
            "--export-cache", "type=local,dest=%s,mode=min" % dest)
        c = cl.load(dest)
        self.assertIntact(c)
        recs = c.config["records"]
        self.assertEqual((len(recs), sum(1 for r in recs if r.get("layers")), len(c.config["layers"])), (12, 3, 4))
        full = cl.load(fixture("local-gzip-max")).meaning()
        for k, (inputs, results) in c.meaning().items():
            self.assertEqual(inputs, full[k][0])
            self.assertLessEqual(results, full[k][1])
        self.assertEqual(len(c.layers), 4)

    def test_mode_max_and_default_keep_everything(self):
        for i, opts in enumerate(("", ",mode=max")):
            dest = self.dir("m%d" % i)
            run("export", "--progress", "quiet", "--from", fixture("local-gzip-max"),
                "--export-cache", "type=local,dest=" + dest + opts)
            self.assertEqual(cl.load(dest).config_bytes, cl.load(fixture("local-gzip-max")).config_bytes)


class Layout(Base):
    def test_tags_digest_and_merging_entries(self):
        dest = self.dir("tags")
        run("export", "--progress", "quiet", "--from", fixture("local-gzip-max"), "--export-cache", "type=local,dest=" + dest)
        run("export", "--progress", "quiet", "--from", fixture("local-zstd-max"), "--export-cache", "type=local,dest=%s,tag=zstd" % dest)
        idx = cl.index(dest)
        self.assertEqual([e["annotations"][cl.REF_NAME] for e in idx["manifests"]], ["latest", "zstd"])
        zstd = cl.load(dest, tag="zstd")
        self.assertSameMeaning(zstd, cl.load(fixture("local-zstd-max")))
        by_digest = self.dir("by-digest")
        run("import", "--progress", "quiet", "--import-cache", "type=local,src=%s,digest=%s" % (dest, zstd.root_digest),
            "--dest", by_digest)
        self.assertEqual(cl.load(by_digest).root_bytes, zstd.root_bytes)
        by_tag = self.dir("by-tag")
        run("import", "--progress", "quiet", "--import-cache", "type=local,src=%s,tag=zstd" % dest, "--dest", by_tag, "--tag", "mine")
        self.assertEqual(cl.load(by_tag, tag="mine").root_bytes, zstd.root_bytes)
        # the same tag again replaces its entry and moves it last
        run("export", "--progress", "quiet", "--from", fixture("local-docker-mediatypes"), "--export-cache", "type=local,dest=" + dest)
        self.assertEqual([e["annotations"][cl.REF_NAME] for e in cl.index(dest)["manifests"]], ["zstd", "latest"])

    def test_image_entries_survive_and_win_lookup_by_name(self):
        dest = self.copy_fixture("local-gzip-max")
        idx = cl.index(dest)
        image = dict(idx["manifests"][0])
        image["annotations"] = {"io.containerd.image.name": "docker.io/library/app:latest", cl.REF_NAME: "latest"}
        idx["manifests"].append(image)
        with open(os.path.join(dest, "index.json"), "w") as f:
            json.dump(idx, f)
        run("export", "--progress", "quiet", "--from", fixture("local-zstd-max"), "--export-cache", "type=local,dest=" + dest)
        names = [e.get("annotations", {}).get("io.containerd.image.name") for e in cl.index(dest)["manifests"]]
        self.assertEqual(names, ["docker.io/library/app:latest", None])

    def test_second_export_skips_present_blobs(self):
        dest = self.dir("again")
        run("export", "--progress", "plain", "--from", fixture("local-gzip-max"), "--export-cache", dest)
        p = run("export", "--progress", "plain", "--from", fixture("local-gzip-max"), "--export-cache", dest)
        self.assertIn("0 layers read, 0 written, 9 skipped", p.stderr)

    def test_merge_two_sources(self):
        dest = self.dir("merge")
        run("import", "--progress", "quiet", "--import-cache", fixture("local-gzip-max"),
            "--import-cache", fixture("local-zstd-max"), "--dest", dest)
        m = cl.load(dest)
        self.assertIntact(m)
        merged = m.meaning()
        for name in ("local-gzip-max", "local-zstd-max"):
            for k, (inputs, results) in cl.load(fixture(name)).meaning().items():
                self.assertIn(k, merged)
                self.assertLessEqual(results, merged[k][1])

    def test_two_destinations_one_read(self):
        a, b = self.dir("a"), self.dir("b")
        p = run("export", "--progress", "plain", "--from", fixture("local-gzip-max"),
                "--export-cache", "type=local,dest=%s,compression=zstd,force-compression=true" % a,
                "--export-cache", "type=local,dest=%s" % b)
        self.assertIntact(cl.load(a))
        self.assertIntact(cl.load(b))
        # the copies ride on the re-encode's read
        self.assertIn("9 layers read, 18 written", p.stderr)
        self.assertEqual(cl.load(b).root_bytes, cl.load(fixture("local-gzip-max")).root_bytes)
        zstd = self.dir("zstd")
        run("export", "--progress", "quiet", "--from", fixture("local-gzip-max"),
            "--export-cache", "type=local,dest=%s,compression=zstd,force-compression=true" % zstd)
        self.assertEqual(cl.load(a).root_bytes, cl.load(zstd).root_bytes)
        p = run("export", "--progress", "plain", "--from", fixture("local-gzip-max"),
                "--export-cache", "type=local,dest=%s,tag=x" % a, "--export-cache", "type=local,dest=%s,tag=y" % b)
        self.assertIn("9 skipped", p.stderr)

    def test_concurrent_writer_is_refused(self):
        dest = self.dir("locked")
        run("export", "--progress", "quiet", "--from", fixture("local-gzip-max"), "--export-cache", dest)
        before = read(os.path.join(dest, "index.json"))
        with open(os.path.join(dest, "index.json.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            p = run("export", "--progress", "quiet", "--from", fixture("local-zstd-max"), "--export-cache", dest, ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("could not lock", p.stderr)
        self.assertEqual(read(os.path.join(dest, "index.json")), before)


class InspectVerify(Base):
    def test_inspect_json_is_complete(self):
        p = run("inspect", "--format", "json", fixture("local-gzip-max"))
        doc = json.loads(p.stdout)
        src = cl.load(fixture("local-gzip-max"))
        self.assertEqual(doc["root"]["digest"], src.root_digest)
        self.assertEqual(doc["config"]["digest"], src.config_desc["digest"])
        self.assertEqual({l["digest"] for l in doc["layers"]}, set(src.layers))
        for l in doc["layers"]:
            self.assertEqual(l["diffID"], src.diffid(l["digest"]))
            self.assertEqual(l["uncompressedSize"], len(cl.decompress(src.blob(l["digest"]))))
            self.assertEqual(l["compression"], "gzip")
        self.assertEqual([r["digest"] for r in doc["records"]], [r["digest"] for r in src.config["records"]])
        t = doc["totals"]
        self.assertEqual((t["records"], t["recordsWithResults"], t["chainNodes"], t["blobs"]), (12, 8, 9, 9))
        self.assertEqual(t["size"], sum(d["size"] for d in src.layers.values()))
        rec = next(r for r in doc["records"] if r["digest"].startswith("sha256:807b3e87"))
        self.assertEqual(len(rec["results"][0]["chain"]), 4)
        quick = json.loads(run("inspect", "--format", "json", "--quick", fixture("local-gzip-max")).stdout)
        self.assertIsNone(quick["totals"]["uncompressedSize"])

    def test_inspect_text_is_a_readable_summary(self):
        out = run("inspect", fixture("local-zstd-max")).stdout
        self.assertIn("layers: 9 blobs", out)
        self.assertIn("records: 12 (8 with results)", out)
        self.assertIn("zstd", out)
        self.assertNotIn('{"', out)

    def test_verify_names_damaged_and_missing_blobs(self):
        src = self.copy_fixture("local-gzip-max")
        p = run("verify", src)
        self.assertIn("ok: 9 blobs", p.stdout)
        victim = "b568936b9c8fda0eff69a20a6cf838a35640ebbbe3309ac60f170767c2f4011e"
        path = os.path.join(src, "blobs", "sha256", victim)
        data = bytearray(read(path))
        data[len(data) // 2] ^= 0xFF
        open(path, "wb").write(bytes(data))
        p = run("verify", src, ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("damaged", p.stdout)
        self.assertIn(victim, p.stdout)
        os.remove(path)
        p = run("verify", src, ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("missing", p.stdout)
        self.assertIn(victim, p.stdout)

    def test_an_index_entry_that_lies_about_its_size_is_refused(self):
        src = self.copy_fixture("local-gzip-max")
        index_path = os.path.join(src, "index.json")
        index = json.loads(read(index_path))
        honest = index["manifests"][0]["size"]
        for claimed in (10 ** 15, honest + 1, honest - 1):
            with self.subTest(claimed=claimed):
                index["manifests"][0]["size"] = claimed
                open(index_path, "w").write(json.dumps(index))
                for cmd in ("verify", "inspect"):
                    p = run(cmd, src, ok=False)
                    self.assertEqual(p.returncode, 1, p.stderr)
                    self.assertIn("index.json says root", p.stderr)
                    self.assertIn("%d bytes" % claimed, p.stderr)
        index["manifests"][0]["size"] = honest
        open(index_path, "w").write(json.dumps(index))
        self.assertIn("ok: 9 blobs", run("verify", src).stdout)

    def test_verify_catches_a_lying_diffid(self):
        src = self.copy_fixture("local-gzip-max")
        c = cl.load(src)
        root = json.loads(c.root_bytes)
        root["layers"][0]["annotations"][cl.DIFFID] = "sha256:" + "0" * 64
        data = json.dumps(root, separators=(",", ":")).encode()
        digest = cl.sha256(data)
        open(os.path.join(src, "blobs", "sha256", digest.split(":")[1]), "wb").write(data)
        p = run("verify", "type=local,src=%s,digest=%s" % (src, digest), ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("diffID", p.stdout)
        self.assertIn(root["layers"][0]["digest"], p.stdout)


class Progress(Base):
    def test_json_progress_is_one_event_per_line(self):
        p = run("export", "--progress", "json", "--from", fixture("local-gzip-max"),
                "--export-cache", "type=local,dest=%s,compression=zstd,force-compression=true" % self.dir("j"))
        events = [json.loads(line) for line in p.stderr.splitlines()]
        kinds = [e["event"] for e in events]
        self.assertEqual(kinds.count("begin"), 9)
        self.assertEqual(kinds.count("end"), 9)
        self.assertEqual(kinds[-1], "summary")
        self.assertEqual(events[-1]["layersWritten"], 9)
        self.assertTrue(all(e["outcome"] == "done" for e in events if e["event"] == "end"))

    def test_quiet_prints_nothing(self):
        p = run("export", "--progress", "quiet", "--from", fixture("local-gzip-max"), "--export-cache", self.dir("q"))
        self.assertEqual(p.stderr, "")
        self.assertEqual(p.stdout, "")


class BadInput(Base):
    def damaged(self, how, name="local-gzip-max"):
        """A copy of a fixture whose config and root are changed by how(config, root); when how
        returns bytes, they replace the root's first layer."""
        src = self.copy_fixture(name)
        c = cl.load(src)
        root = json.loads(c.root_bytes)
        config = json.loads(c.config_bytes)
        layer_bytes = None
        result = how(config, root)
        if isinstance(result, bytes):
            layer_bytes = result
        cdata = json.dumps(config, separators=(",", ":")).encode()
        root["config"]["digest"], root["config"]["size"] = cl.sha256(cdata), len(cdata)
        open(os.path.join(src, "blobs", "sha256", cl.sha256(cdata)[7:]), "wb").write(cdata)
        if layer_bytes is not None:
            d = root["layers"][0]
            old = d["digest"]
            d["digest"], d["size"] = cl.sha256(layer_bytes), len(layer_bytes)
            for node in config["layers"]:
                if node["blob"] == old:
                    node["blob"] = d["digest"]
            cdata = json.dumps(config, separators=(",", ":")).encode()
            root["config"]["digest"], root["config"]["size"] = cl.sha256(cdata), len(cdata)
            open(os.path.join(src, "blobs", "sha256", cl.sha256(cdata)[7:]), "wb").write(cdata)
            open(os.path.join(src, "blobs", "sha256", d["digest"][7:]), "wb").write(layer_bytes)
        rdata = json.dumps(root, separators=(",", ":")).encode()
        open(os.path.join(src, "blobs", "sha256", cl.sha256(rdata)[7:]), "wb").write(rdata)
        idx = cl.index(src)
        idx["manifests"][0]["digest"], idx["manifests"][0]["size"] = cl.sha256(rdata), len(rdata)
        with open(os.path.join(src, "index.json"), "w") as f:
            json.dump(idx, f)
        return src

    def expect(self, args, code, word):
        # progress off: what is left on stderr must be the one error line
        return h.expect(self, run(*h.quiet(args), ok=False), code, word, one_line=True)

    def test_no_cache_is_exit_3(self):
        os.mkdir(self.dir("empty"))
        h.check_table(self, NO_CACHE, lambda args, env: run(*h.quiet(args), ok=False),
                      src=fixture("local-gzip-max"), dest=self.dir("x"), nope=self.dir("nope"),
                      nope2=self.dir("nope2"), empty=self.dir("empty"))

    def test_one_missing_source_of_two_is_a_note(self):
        dest = self.dir("one")
        p = run("export", "--progress", "plain", "--from", self.dir("nope"), "--from", fixture("local-gzip-max"),
                "--export-cache", dest)
        self.assertIn("no cache at", p.stderr)
        self.assertIntact(cl.load(dest))

    def test_garbage_index_json(self):
        src = self.copy_fixture("local-gzip-max")
        with open(os.path.join(src, "index.json"), "w") as f:
            f.write('{"schemaVersion":2,"manifests":[{"digest":')
        self.expect(["import", "--import-cache", src, "--dest", self.dir("x")], 1, "index.json")

    def test_corrupt_blob_is_refused_and_not_written(self):
        src = self.copy_fixture("local-gzip-max")
        victim = "f671ca523f2108c8fa41496b7a6093e98b0179d552b137e968f10250342ba40e"
        path = os.path.join(src, "blobs", "sha256", victim)
        data = bytearray(read(path))
        data[100] ^= 1
        open(path, "wb").write(bytes(data))
        for cmd in (["import", "--import-cache", src, "--dest"], ["export", "--from", src, "--export-cache"]):
            dest = self.dir(cmd[0])
            self.expect(cmd + [dest], 1, victim)
            self.assertFalse(os.path.exists(os.path.join(dest, "blobs", "sha256", victim)))
            self.assertFalse(os.path.exists(os.path.join(dest, "index.json")))

    def test_failed_export_leaves_previous_cache(self):
        dest = self.dir("keep")
        run("export", "--progress", "quiet", "--from", fixture("local-gzip-max"), "--export-cache", dest)
        before = cl.tree_digest(dest)
        broken = self.copy_fixture("local-zstd-max")
        os.remove(os.path.join(broken, "blobs", "sha256", "b92cf7995045639a8a77ef4e29eae85213df8b0478d3c9aadf50e796503ed61e"))
        self.expect(["export", "--from", broken, "--export-cache", dest], 1, "b92cf7995045")
        after = cl.tree_digest(dest)
        for path, digest in before.items():
            self.assertEqual(after.get(path), digest, path)
        self.assertIntact(cl.load(dest))

    def test_truncated_layers(self):
        for name, enc in (("local-gzip-max", "gzip"), ("local-zstd-max", "zstd")):
            with self.subTest(enc):
                c = cl.load(fixture(name))
                big = max((d for d in c.layers.values() if cl.ENCODING[d["mediaType"]] == enc), key=lambda d: d["size"])
                data = c.blob(big["digest"])[:-100]

                def cut(config, root):
                    root["layers"] = [big] + [d for d in root["layers"] if d["digest"] != big["digest"]]
                    return data
                src = self.damaged(cut, name)
                target = "uncompressed"
                p = self.expect(["export", "--from", src, "--export-cache",
                                 "type=local,dest=%s,compression=%s,force-compression=true" % (self.dir("t" + enc), target)], 1, "truncated")
                self.assertIn(enc, p.stderr)
                self.expect(["verify", src], 1, "truncated")

    def test_config_with_bad_indexes(self):
        def out_of_range(config, root):
            config["layers"][0]["parent"] = 99

        def parent_loop(config, root):
            config["layers"][0]["parent"] = 0

        def link_loop(config, root):
            config["records"][0]["inputs"] = [[{"link": 0}]]

        def bad_link(config, root):
            config["records"][1]["inputs"][0][0]["link"] = 50

        for how, word in ((out_of_range, "outside"), (parent_loop, "loop"), (link_loop, "loop"), (bad_link, "outside")):
            with self.subTest(how.__name__):
                src = self.damaged(how)
                self.expect(["import", "--import-cache", src, "--dest", self.dir("x" + how.__name__)], 1, word)

    def test_diff_id_annotation_that_is_no_digest(self):
        # An escape-laden diffID annotation never reaches the terminal:
        # refused as no digest, quoted escaped, for every command.
        def escapes(config, root):
            root["layers"][0].setdefault("annotations", {})["containerd.io/uncompressed"] = "\x1b]0;owned\x07\x1b[2J"
        src = self.damaged(escapes)
        for cmd in (["inspect", src], ["verify", src], ["import", "--import-cache", src, "--dest", self.dir("esc")]):
            with self.subTest(cmd[0]):
                p = self.expect(cmd, 1, "is not a sha256 digest")
                self.assertIn("\\x1b]0;owned", p.stderr)
                self.assertNotIn("\x1b", p.stdout + p.stderr)

    def test_bad_destinations(self):
        f = self.dir("a-file")
        open(f, "w").write("x")
        self.expect(["export", "--from", fixture("local-gzip-max"), "--export-cache", "type=local,dest=" + f], 1, "not a directory")
        if os.geteuid() == 0:
            unwritable = "/proc/cachectl-cannot-write-here"
        else:
            ro = self.dir("ro")
            os.mkdir(ro, 0o555)
            unwritable = os.path.join(ro, "sub")
        self.expect(["export", "--from", fixture("local-gzip-max"), "--export-cache", "type=local,dest=" + unwritable], 1,
                    "cannot-write-here" if os.geteuid() == 0 else "sub")

    def test_ignore_error_keeps_going(self):
        f = self.dir("a-file")
        open(f, "w").write("x")
        good = self.dir("good")
        p = run("export", "--progress", "plain", "--from", fixture("local-gzip-max"),
                "--export-cache", "type=local,dest=%s/sub,ignore-error=true" % f, "--export-cache", good)
        self.assertIn("ignored", p.stderr)
        self.assertIntact(cl.load(good))


if __name__ == "__main__":
    unittest.main()
