#!/bin/sh
# Runs bench_s3 against s3rver on 127.0.0.1 (installed and started the way
# the test suite does it), directly or through the signature-checking front.
# usage: tests/bench/bench_s3.sh BUILD_DIR [--front] [bench_s3 options...]
set -eu
build=$(cd "${1:?usage: bench_s3.sh BUILD_DIR [--front] [options]}" && pwd)
shift
front=0
if [ "${1:-}" = --front ]; then
	front=1
	shift
fi
here=$(cd "$(dirname "$0")" && pwd)
CACHECTL=$build/cachectl CACHECTL_PEER_CACHE=$build/peer-cache BENCH=$build/tests/bench/bench_s3 FRONT=$front \
	PYTHONPATH=$here/../e2e exec python3 - "$@" <<'PY'
import os, subprocess, sys
import s3peer
store = s3peer.Store(s3peer.tempdir())
try:
    store.make_bucket("bench")
    if os.environ["FRONT"] == "1":
        args = ["--endpoint", store.endpoint, "--access-key-id", "AKIDCACHECTLTEST",
                "--secret-access-key", "cachectl/test+secret/0123456789abcdefghijkl"]
    else:
        args = ["--endpoint", store.direct]
    sys.exit(subprocess.run([os.environ["BENCH"], "--bucket", "bench"] + args + sys.argv[1:]).returncode)
finally:
    store.close()
PY
