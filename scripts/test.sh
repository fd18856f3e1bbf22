#!/usr/bin/env bash
# Builds coffer (warnings as errors) and runs every test with CTest.
# Usage: scripts/test.sh            the whole suite, then again under the sanitizers, then a
#                                   short run of every fuzz target
#        scripts/test.sh -R regex   only tests matching regex (extra args go to ctest), no
#                                   sanitizer runs (nor with COFFER_SKIP_SANITIZERS=1)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
jobs=$(nproc)
cmake --preset ci >/dev/null
cmake --build --preset ci -j "$jobs"
# A fresh cache directory per run, so no test depends on state left by an earlier one.
export COFFER_CACHE_DIR
COFFER_CACHE_DIR=$(mktemp -d)
# Test servers on 127.0.0.1, installed and started here, stopped on exit: PostgreSQL
# (COFFER_TEST_PG_*, and a second cluster) and an S3 server, s3rver (COFFER_TEST_S3_ENDPOINT and AWS_*).
servers=$(mktemp -d)
chmod 755 "$servers"  # the PostgreSQL server runs as the postgres user
cleanup() {
  scripts/s3rver.sh stop || true
  scripts/postgres.sh stop "$servers/pg" || true
  scripts/postgres.sh stop "$servers/pg2" || true
  rm -rf "$COFFER_CACHE_DIR" "$servers"
}
trap cleanup EXIT
# Through a variable: `eval "$(cmd)"` would hide a failing cmd from set -e.
pg_env=$(scripts/postgres.sh start "$servers/pg")
eval "$pg_env"
# A second cluster, the separate server drills load their scratch databases on (COFFER_TEST_PG2_*).
pg2_env=$(scripts/postgres.sh start "$servers/pg2")
eval "${pg2_env//COFFER_TEST_PG_/COFFER_TEST_PG2_}"
s3_env=$(scripts/s3rver.sh start)
eval "$s3_env"
ctest --preset ci -j "$jobs" --timeout 600 "$@"
# The whole suite again under ASan+UBSan, the pipeline and daemon under TSan, and a short run of
# every fuzz target (docs/reliability.md). Not when only some tests were asked for.
if [[ $# -eq 0 && ${COFFER_SKIP_SANITIZERS:-0} != 1 ]]; then
  scripts/test-sanitizers.sh asan tsan fuzz
fi
