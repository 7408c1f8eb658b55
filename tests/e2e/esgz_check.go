// esgz_check: judges an eStargz blob with the reference reader
// (github.com/containerd/stargz-snapshotter/estargz, Debian's
// golang-github-containerd-stargz-snapshotter-dev), built by the test suite
// at test time.
//
// usage: esgz_check BLOB TOC_DIGEST
//        esgz_check build TAR OUT
//
// The first form opens the blob as lazy-pulling snapshotters do (footer, then TOC), checks
// the TOC against TOC_DIGEST and that every chunk has a digest, then reads
// every regular file through the reader, chunk by chunk, and checks each
// chunk against its chunkDigest and each file against its digest.  On
// success prints one JSON document: the TOC digest, the TOC entries as the
// reader decoded them, and the sha256 of every file's content as read
// through the reader.  Any failure: a message on stderr and exit 1.
//
// The second form converts the layer tar TAR with the reference converter,
// estargz.Build (what ctr-remote and nerdctl use; no prioritised files, so
// a no-prefetch landmark), writes the blob to OUT and prints its TOC digest
// and diffID as JSON: the tests hold cachectl's entry layout against it,
// and read what it wrote.
package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"

	"github.com/containerd/stargz-snapshotter/estargz"
	digest "github.com/opencontainers/go-digest"
)

type report struct {
	TOCDigest string              `json:"tocDigest"`
	TOCOffset int64               `json:"tocOffset"`
	Entries   []*estargz.TOCEntry `json:"entries"`
	Files     map[string]string   `json:"files"`
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "esgz_check: "+format+"\n", args...)
	os.Exit(1)
}

// build converts a tar the way estargz.Build does for ctr-remote.
func build(tarPath, outPath string) {
	// Build splits the layer into GOMAXPROCS parts written by separate
	// writers, each with its own memory of user and group names; one part
	// gives the TOC a single writer would write.
	runtime.GOMAXPROCS(1)
	f, err := os.Open(tarPath)
	if err != nil {
		fail("%v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		fail("%v", err)
	}
	blob, err := estargz.Build(io.NewSectionReader(f, 0, st.Size()))
	if err != nil {
		fail("build: %v", err)
	}
	defer blob.Close()
	out, err := os.Create(outPath)
	if err != nil {
		fail("%v", err)
	}
	if _, err := io.Copy(out, blob); err != nil {
		fail("build: %v", err)
	}
	if err := out.Close(); err != nil {
		fail("%v", err)
	}
	res, _ := json.Marshal(map[string]string{"tocDigest": blob.TOCDigest().String(), "diffID": blob.DiffID().String()})
	os.Stdout.Write(append(res, '\n'))
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == "build" {
		build(os.Args[2], os.Args[3])
		return
	}
	if len(os.Args) != 3 {
		fail("usage: esgz_check BLOB TOC_DIGEST | esgz_check build TAR OUT")
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		fail("%v", err)
	}
	sr := io.NewSectionReader(f, 0, st.Size())
	want, err := digest.Parse(os.Args[2])
	if err != nil {
		fail("toc digest: %v", err)
	}

	r, err := estargz.Open(sr)
	if err != nil {
		fail("open: %v", err)
	}
	verifiers, err := r.VerifyTOC(want)
	if err != nil {
		fail("verify TOC: %v", err)
	}

	// The TOC as written, decoded independently of the Reader's index.
	tocOffset, footerSize, err := estargz.OpenFooter(sr)
	if err != nil {
		fail("footer: %v", err)
	}
	toc, tocDigest, err := new(estargz.GzipDecompressor).ParseTOC(
		io.NewSectionReader(sr, tocOffset, st.Size()-tocOffset-footerSize))
	if err != nil {
		fail("parse TOC: %v", err)
	}
	if tocDigest != want {
		fail("TOC digest %s, want %s", tocDigest, want)
	}

	files := map[string]string{}
	var names []string
	for _, e := range toc.Entries {
		if e.Type == "reg" {
			names = append(names, e.Name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		e, ok := r.Lookup(name)
		if !ok {
			fail("%s: listed in the TOC, not found by the reader", name)
		}
		fr, err := r.OpenFile(name)
		if err != nil {
			fail("%s: %v", name, err)
		}
		whole := sha256.New()
		for off := int64(0); off < e.Size; {
			ce, ok := r.ChunkEntryForOffset(name, off)
			if !ok {
				fail("%s: no chunk at offset %d", name, off)
			}
			if ce.ChunkOffset != off || ce.ChunkSize <= 0 {
				fail("%s: chunk at %d covers [%d, +%d)", name, off, ce.ChunkOffset, ce.ChunkSize)
			}
			v, err := verifiers.Verifier(ce)
			if err != nil {
				fail("%s: %v", name, err)
			}
			buf := make([]byte, ce.ChunkSize)
			if _, err := fr.ReadAt(buf, ce.ChunkOffset); err != nil && err != io.EOF {
				fail("%s: read chunk at %d: %v", name, off, err)
			}
			v.Write(buf)
			if !v.Verified() {
				fail("%s: chunk at %d does not match its chunkDigest", name, off)
			}
			whole.Write(buf)
			off += ce.ChunkSize
		}
		got := fmt.Sprintf("sha256:%x", whole.Sum(nil))
		if e.Digest != "" && e.Digest != got {
			fail("%s: content hashes to %s, its digest says %s", name, got, e.Digest)
		}
		files[name] = got
	}

	out, err := json.Marshal(report{TOCDigest: tocDigest.String(), TOCOffset: tocOffset, Entries: toc.Entries, Files: files})
	if err != nil {
		fail("%v", err)
	}
	os.Stdout.Write(append(out, '\n'))
}
