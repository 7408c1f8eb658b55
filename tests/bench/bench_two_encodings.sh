#!/bin/sh
# One export asking two re-encodings of one big layer (a 128 MiB tar of
# mixed text and random bytes, gzip -1): zstd at one destination and
# uncompressed at the other; then, from an uncompressed source, zstd and
# gzip.  Wall seconds, CPU seconds and peak RSS per cachectl binary given
# (the one read per blob against an older one reading once per encoding),
# best of RUNS, with the source reads counted from the summary line.
# usage: tests/bench/bench_two_encodings.sh CACHECTL [CACHECTL ...]
#        (MIB=128 RUNS=3 in the environment change the size and the runs)
set -eu
[ $# -ge 1 ] || { echo "usage: bench_two_encodings.sh CACHECTL [CACHECTL ...]" >&2; exit 2; }
mib=${MIB:-128}
runs=${RUNS:-3}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
PYTHONPATH=$here/../e2e python3 - "$work" "$mib" <<'PY'
import gzip, hashlib, io, os, random, sys, tarfile
import makecache
work, mib = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
words = [b"cache", b"layer", b"export", b"digest", b"buildkit", b"record", b"blob", b"zstd"]
parts, size = [], 0
while size < mib << 20:  # half text, half random, in 64 KiB runs
    chunk = b" ".join(rnd.choice(words) for _ in range(9000))[:65536] if len(parts) % 2 else rnd.randbytes(65536)
    parts.append(chunk)
    size += len(chunk)
payload = b"".join(parts)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    info = tarfile.TarInfo("big.bin")
    info.size, info.mtime, info.mode = len(payload), 1700000000, 0o644
    t.addfile(info, io.BytesIO(payload))
tar = buf.getvalue()
diff = makecache.sha(tar)
makecache.make_from_blobs(os.path.join(work, "gz"), [(gzip.compress(tar, compresslevel=1, mtime=0), diff)],
                          makecache.LAYER)
makecache.make_from_blobs(os.path.join(work, "raw"), [(tar, diff)], "application/vnd.oci.image.layer.v1.tar")
PY
force=force-compression=true
measure() { # binary source spec1 spec2
	best=""
	i=0
	while [ $i -lt "$runs" ]; do
		rm -rf "$work/a" "$work/b"
		/usr/bin/time -f "%e %U %S %M" -o "$work/time" "$1" export --progress plain --from "$work/$2" \
			--export-cache "type=local,dest=$work/a,$3" --export-cache "type=local,dest=$work/b,$4" \
			2>"$work/err"
		read -r wall user sys rss <"$work/time"
		reads=$(sed -n 's/^export: \([0-9]*\) layers read.*/\1/p' "$work/err")
		line=$(awk -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v n="$reads" \
			'BEGIN { printf "%6.2f s wall %6.2f s CPU %5.0f MiB RSS  %s read(s)", w, u + s, r / 1024, n }')
		if [ -z "$best" ] || [ "$(echo "$wall" "$bestwall" | awk '{ print ($1 < $2) }')" = 1 ]; then
			best=$line
			bestwall=$wall
		fi
		i=$((i + 1))
	done
	echo "$best"
}
for pair in "gz compression=zstd,$force compression=uncompressed,$force" \
	"raw compression=zstd,$force compression=gzip,$force"; do
	src=${pair%% *}
	rest=${pair#* }
	echo "$mib MiB layer from $src: ${rest% *} + ${rest#* }"
	for bin in "$@"; do
		printf '  %-40s %s\n' "$bin" "$(measure "$bin" "$src" "${rest% *}" "${rest#* }")"
	done
done
