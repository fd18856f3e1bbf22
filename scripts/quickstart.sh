#!/usr/bin/env bash
# coffer's main job on its embedded default: a local repository.
# Builds coffer, makes a sample data set, then runs init (once), backup, an unchanged second
# backup, snapshots, verify with the host key, verify --read-data and a restore with the
# recovery key, and compares the restore with the source.
# Everything lives under $COFFER_QUICKSTART_DIR (default /var/tmp/coffer-quickstart).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target coffer
coffer=$root/build/release/tools/coffer

base=${COFFER_QUICKSTART_DIR:-/var/tmp/coffer-quickstart}
mkdir -p "$base"
export COFFER_REPO=$base/repo
export COFFER_HOST_KEY=$base/host.key
export COFFER_CACHE_DIR=$base/cache
recovery=$base/recovery.key   # a demo shortcut: in production it never stays on the host
data=$base/data

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

if [[ ! -d $data ]]; then
  echo "making sample data in $data"
  mkdir -p "$data/etc/platform" "$data/var/lib/platform/uploads" "$data/empty"
  printf 'DATABASE_URL=postgresql://platform@127.0.0.1/platform\nAUTH_SECRET=%s\n' \
    "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$data/etc/platform/.env"
  chmod 600 "$data/etc/platform/.env"
  for i in $(seq 1 200); do echo "setting_$i = $i" >"$data/etc/platform/conf-$i.toml"; done
  head -c 20000000 /dev/urandom >"$data/var/lib/platform/uploads/recording.bin"
  ln -s etc/platform/.env "$data/env-link"
fi

if [[ ! -f $COFFER_REPO/config ]]; then
  step coffer init --recovery-key-out "$recovery"
  "$coffer" init --recovery-key-out "$recovery"
fi

step coffer backup "$data" --tag quickstart
"$coffer" backup "$data" --tag quickstart
echo "hello again $(date)" >"$data/etc/platform/changed.txt"
step coffer backup "$data"   # after a small change: only that file is read
"$coffer" backup "$data"
step coffer snapshots
"$coffer" snapshots
step coffer verify
"$coffer" verify
step coffer verify --read-data --recovery-key-file "$recovery"
"$coffer" verify --read-data --recovery-key-file "$recovery"

target=$(mktemp -d "$base/restore.XXXXXX")
step coffer restore latest --target "$target" --recovery-key-file "$recovery"
"$coffer" restore latest --target "$target" --recovery-key-file "$recovery"
diff -r --no-dereference "$data" "$target$data"
echo
echo "quickstart: restored snapshot is identical to $data"
rm -rf "$target"
