// gunzip_check: what Go's compress/gzip (the reader BuildKit and containerd
// use, multistream by default) makes of gzip blobs, built by the test suite
// at test time.
//
// usage: gunzip_check BLOB...
//
// Prints, for each blob, one line: "sha256:<hex> <members>", the digest of
// the decompressed bytes and how many gzip members the reader went through.
// Any failure: a message on stderr and exit 1.
package main

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
)

func check(path string) (string, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	zr, err := gzip.NewReader(br)
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	members := 0
	// One member at a time, to count them; Reset reads the next header.
	zr.Multistream(false)
	for {
		members++
		if _, err := io.Copy(h, zr); err != nil {
			return "", 0, err
		}
		if err := zr.Reset(br); err == io.EOF {
			break
		} else if err != nil {
			return "", 0, err
		}
		zr.Multistream(false)
	}
	return fmt.Sprintf("sha256:%x", h.Sum(nil)), members, nil
}

func main() {
	for _, path := range os.Args[1:] {
		digest, members, err := check(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			os.Exit(1)
		}
		fmt.Printf("%s %d\n", digest, members)
	}
}
