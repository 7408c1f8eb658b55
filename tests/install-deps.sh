#!/bin/sh
# Installs what cachectl needs on Debian 12, as root: `build` for the
# libraries and tools to compile it, `test` for those plus every real peer
# the test suite runs against.
set -eu
what=${1:-test}
build="build-essential cmake pkg-config libarchive-dev libzstd-dev zlib1g-dev libssl-dev
       libcurl4-openssl-dev libcjson-dev"
# s3: nodejs + npm run s3rver (pinned in tests/peers/s3rver, installed by
# the suite with npm ci); python3-botocore checks signatures in the test
# front; awscli cross-checks what cachectl stores.
test="python3 zstd skopeo umoci nodejs python3-botocore awscli"
pkgs=$build
[ "$what" = test ] && pkgs="$build $test"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
# Debian's nodejs comes without npm; a NodeSource nodejs has it built in and
# conflicts with Debian's npm package.
if [ "$what" = test ] && ! command -v npm >/dev/null 2>&1; then
	apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
