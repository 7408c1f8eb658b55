#!/bin/sh
# Regenerates docs/cachectl.1 (the installed man page) from docs/cachectl.1.md
# with pandoc (Debian package pandoc).  The roff output is committed, so
# building and installing cachectl never needs pandoc; run this after
# editing the manual.  tests/e2e/test_output.py checks the page names every
# option the commands' --help lists.
set -eu
cd "$(dirname "$0")"
version=$(sed -n 's/^project(cachectl VERSION \([0-9.]*\).*/\1/p' ../CMakeLists.txt)
pandoc --standalone --to man --shift-heading-level-by=-1 \
	--metadata title=cachectl --metadata section=1 \
	--metadata header="cachectl manual" --metadata footer="cachectl $version" \
	cachectl.1.md --output cachectl.1
