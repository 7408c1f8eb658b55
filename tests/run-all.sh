#!/bin/sh
# The whole test suite, as CI runs it: installs what it needs, then builds
# and tests twice -- a Release build (-O3, where some warnings only show)
# and an ASan+UBSan build -- with warnings as errors and benchmarks built.
set -eu
cd "$(dirname "$0")/.."
tests/install-deps.sh test
export CACHECTL_REQUIRE_PEERS=1
jobs=$(nproc)
for kind in release sanitize; do
	if [ $kind = release ]; then
		dir=build flags="-DCMAKE_BUILD_TYPE=Release"
	else
		dir=build-asan flags="-DCMAKE_BUILD_TYPE=Debug -DCACHECTL_SANITIZE=ON"
	fi
	# shellcheck disable=SC2086
	cmake -S . -B $dir $flags -DCACHECTL_WERROR=ON -DCACHECTL_BENCHMARKS=ON >/dev/null
	cmake --build $dir -j"$jobs"
	(cd $dir && ctest --output-on-failure -j"$jobs")
done
# Debian's clang must build cachectl too, warnings as errors (the library
# and the binary; the tests already ran against GCC's builds).
CC=clang cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=Release -DCACHECTL_WERROR=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build build-clang -j"$jobs"
echo "all tests passed (release and sanitizer builds; clang builds)"
