#!/bin/sh
# cachectl files and diff on one big layer, next to bsdtar and GNU tar listing
# the same blob: seconds of CPU, peak RSS, and the ratio to bsdtar.  cachectl
# also checks the blob's digest while it lists, which the tar tools do not.
# usage: tests/bench/bench_files.sh BUILD_DIR [MiB (default 1024)]
set -eu
build=$(cd "${1:?usage: bench_files.sh BUILD_DIR [MiB]}" && pwd)
mib=${2:-1024}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/ctx"
# random bytes do not compress: the layer is as big as its file
head -c $((mib * 1048576)) /dev/urandom >"$work/ctx/big.bin"
for v in a b; do
	echo "$v" >"$work/ctx/note.txt"
	tar -C "$work/ctx" -cf - big.bin note.txt | gzip -1 >"$work/$v.tar.gz"
done
rm "$work/ctx/big.bin"
PYTHONPATH=$here/../e2e python3 - "$work" <<'PY'
import hashlib, gzip, os, sys
import makecache
work = sys.argv[1]
for v in ("a", "b"):
    root, gz = os.path.join(work, v), os.path.join(work, v + ".tar.gz")
    blob, plain = hashlib.sha256(), hashlib.sha256()
    with open(gz, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            blob.update(chunk)
    with gzip.open(gz, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            plain.update(chunk)
    d = "sha256:" + blob.hexdigest()
    os.makedirs(os.path.join(root, "blobs", "sha256"))
    os.replace(gz, os.path.join(root, "blobs", "sha256", d[7:]))
    desc = {"mediaType": makecache.LAYER, "digest": d, "size": os.path.getsize(os.path.join(root, "blobs", "sha256", d[7:])),
            "annotations": {"buildkit/createdat": "2025-01-02T03:04:05Z",
                            "containerd.io/uncompressed": "sha256:" + plain.hexdigest()}}
    records = [{"digest": makecache.sha(b"src")}, {"digest": makecache.sha(v.encode()), "inputs": [[{"link": 0}]],
                                                  "layers": [{"layer": 0, "createdAt": "2025-01-02T03:04:05Z"}]}]
    makecache.write_layout(root, [{"blob": d, "parent": -1}], records, [desc])
PY
blob=$(ls -S "$work"/a/blobs/sha256/* | head -1) # the layer: the biggest blob
measure() { # label command...: prints "label cpu_seconds rss_kb"
	label=$1
	shift
	/usr/bin/time -f "$label %U %S %M" -o "$work/time" "$@" >/dev/null
	awk '{ printf "%s %.2f %d\n", $1, $2 + $3, $4 }' "$work/time"
}
{
	measure bsdtar bsdtar -tvzf "$blob"
	measure gnu-tar tar -tvzf "$blob"
	measure files "$build/cachectl" files "$work/a"
	measure files-top "$build/cachectl" files --top 5 "$work/a"
	measure diff "$build/cachectl" diff "$work/a" "$work/b"
} >"$work/results"
echo "one gzip layer of $mib MiB (random bytes): CPU seconds, peak RSS, CPU ratio to bsdtar -tvzf"
awk 'NR == 1 { base = $2 > 0 ? $2 : 0.01 }
     { printf "  %-10s %7.2f s  %8d KiB  x%.1f\n", $1, $2, $3, $2 / base }' "$work/results"
