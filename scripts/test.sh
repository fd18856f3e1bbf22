#!/usr/bin/env bash
# Builds coffer (warnings as errors) and runs every test with CTest.
# Usage: scripts/test.sh            the whole suite
#        scripts/test.sh -R regex   only tests matching regex (extra args go to ctest)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
jobs=$(nproc)
cmake --preset ci >/dev/null
cmake --build --preset ci -j "$jobs"
# A fresh cache directory per run, so no test depends on state left by an earlier one.
export COFFER_CACHE_DIR
COFFER_CACHE_DIR=$(mktemp -d)
# A local S3 server (s3rver) for the S3 tests; exports COFFER_TEST_S3_ENDPOINT and AWS_*.
trap 'scripts/s3rver.sh stop; rm -rf "$COFFER_CACHE_DIR"' EXIT
eval "$(scripts/s3rver.sh start)"
ctest --preset ci -j "$jobs" --timeout 600 "$@"
