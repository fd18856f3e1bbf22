#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on 127.0.0.1 for the tests, installed from Debian's packages when
# missing. It listens on a free port, has password (SCRAM) authentication for TCP, and is gone
# after `stop`.
# Usage: eval "$(scripts/postgres.sh start DIR)"   prints the COFFER_TEST_PG_* exports
#        scripts/postgres.sh stop DIR
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [[ -z $cmd || -z $dir ]]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [[ -n $d && -x $d/initdb ]] && echo "$d"
}

# The server refuses to run as root; as root, run it as the postgres user the package creates.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case $cmd in
start)
  if ! bindir >/dev/null; then
    if [[ $(id -u) -ne 0 ]]; then
      echo "postgres.sh: PostgreSQL server is not installed; run as root to install it" >&2
      exit 1
    fi
    echo "postgres.sh: installing postgresql" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      postgresql postgresql-client postgresql-contrib >/dev/null
  fi
  bin=$(bindir)
  mkdir -p "$dir"
  password=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  printf '%s\n' "$password" >"$dir/pwfile"
  mkdir -p "$dir/sock"
  if [[ $(id -u) -eq 0 ]]; then chown -R postgres: "$dir"; fi
  chmod 700 "$dir"
  if ! as_owner test -w "$dir"; then
    echo "postgres.sh: the postgres user cannot reach $dir: make its parents world-searchable" >&2
    exit 1
  fi
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$dir/pwfile"
  port=""
  for p in $(seq 25432 25631); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
  done
  [[ -n $port ]] || { echo "postgres.sh: no free port" >&2; exit 1; }
  # fsync off: a test cluster need not survive a power cut, and it makes the suite faster.
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/sock -c fsync=off -c max_connections=100" \
    start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  echo "export COFFER_TEST_PG_HOST=127.0.0.1"
  echo "export COFFER_TEST_PG_PORT=$port"
  echo "export COFFER_TEST_PG_USER=postgres"
  echo "export COFFER_TEST_PG_PASSWORD=$password"
  echo "export COFFER_TEST_PG_BIN=$bin"
  ;;
stop)
  bin=$(bindir) || exit 0
  if [[ -f $dir/data/postmaster.pid ]]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
