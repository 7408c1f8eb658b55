#!/bin/sh
# Installs what cachectl needs on Debian 12, as root: `build` for the
# libraries and tools to compile it, `test` for those plus every real peer
# the test suite runs against.
set -eu
what=${1:-test}
# libdeflate-dev: the parallel gzip encoder; libisal-dev: the gzip decoder
# (README, "Libraries").
build="build-essential cmake pkg-config libarchive-dev libzstd-dev zlib1g-dev libdeflate-dev libisal-dev
       libssl-dev libcurl4-openssl-dev libcjson-dev"
# s3: python3-botocore checks signatures in the s3 test front; awscli
# cross-checks what cachectl stores; s3rver is one of the pinned npm peers.
# pigz reads back the parallel gzip layers (tests/e2e/test_gzip.py) and is a
# benchmark's yardstick (tests/bench/bench_export.c).  graphviz: the inspect
# tests check that its dot accepts --format dot.
test="clang python3 zstd pigz skopeo umoci docker-registry python3-cryptography
      golang-go golang-github-containerd-stargz-snapshotter-dev python3-botocore awscli
      graphviz"
# node and npm run the pinned npm peers of the gha, s3 and azblob tests (azurite,
# @azure/storage-blob, @actions/cache, s3rver); a node that brings its
# own npm (and conflicts with Debian's) is kept as it is.
command -v npm >/dev/null 2>&1 || test="$test nodejs npm"
pkgs=$build
[ "$what" = test ] && pkgs="$build $test"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
