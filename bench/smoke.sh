#!/usr/bin/env bash
# bench/run's smoke variant, run by CTest (Bench.Smoke) so the harness cannot rot: the whole
# comparison on a tiny data set, one run, then a check that the table has every row.
# Usage: bench/smoke.sh COFFER_BINARY
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/coffer-bench-smoke.XXXXXX")
chmod 755 "$dir"  # a PostgreSQL cluster started by make_data.py runs as the postgres user
trap 'rm -rf "$dir"' EXIT
out=$(python3 "$here/run" --size smoke --runs 1 --coffer "$1" --dir "$dir" --json "$dir/results.json")
echo "$out"
for row in first nochange db1pct restore verify "restore, data on disk" "db1pct added" "repository size" "peak RSS first"; do
  grep -q "^| $row |" <<<"$out" || { echo "bench smoke: no '$row' row in the table" >&2; exit 1; }
done
python3 - "$dir/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for tool in ("coffer", "restic", "borg"):
    m = r["median"][tool]
    assert m["first"] > 0 and m["size"] > 0, (tool, m)
print("bench smoke: ok")
PY
