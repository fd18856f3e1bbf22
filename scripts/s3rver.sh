#!/usr/bin/env bash
# A local S3 server for the tests: s3rver (npm) behind a SigV4-verifying wrapper
# (scripts/s3rver-sigv4.js), on 127.0.0.1 at a free port, with its data in a temp directory.
#
#   eval "$(scripts/s3rver.sh start)"   installs s3rver if missing, starts it, and prints
#                                       export lines for COFFER_TEST_S3_ENDPOINT, AWS_* and
#                                       COFFER_S3RVER_DIR (its state: pid, port, data, log)
#   scripts/s3rver.sh stop              stops the server named by $COFFER_S3RVER_DIR
#
# s3rver goes to $COFFER_TEST_TOOLS (default /opt/coffer-test), installed once with npm.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tools=${COFFER_TEST_TOOLS:-/opt/coffer-test}

start() {
  if [[ ! -f $tools/node_modules/s3rver/package.json ]]; then
    if ! command -v npm >/dev/null; then
      if [[ $(id -u) -ne 0 ]]; then
        echo "s3rver.sh: npm is needed to install s3rver: run as root, or apt-get install npm" >&2
        exit 1
      fi
      echo "s3rver.sh: installing nodejs and npm" >&2
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
    fi
    echo "s3rver.sh: installing s3rver into $tools" >&2
    mkdir -p "$tools"
    npm install --silent --no-audit --no-fund --prefix "$tools" s3rver@3 >&2
  fi
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/coffer-s3rver.XXXXXX")
  mkdir "$dir/data"
  # --openssl-legacy-provider: s3rver encrypts its ListObjectsV2 continuation tokens with DES,
  # which OpenSSL 3 only has in its legacy provider; without it every second page is a 500.
  NODE_PATH=$tools/node_modules nohup node --openssl-legacy-provider "$here/s3rver-sigv4.js" "$dir/data" "$dir/port" \
    >"$dir/log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
  for _ in $(seq 1 300); do  # up to 30 s: node starts slowly while a build runs
    if [[ -s $dir/port ]]; then
      local port
      port=$(cat "$dir/port")
      # Any HTTP answer (403 for an unsigned request) means it is serving.
      if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
        echo "export COFFER_S3RVER_DIR='$dir'"
        echo "export COFFER_TEST_S3_ENDPOINT='http://127.0.0.1:$port'"
        echo "export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1"
        echo "s3rver.sh: s3rver listening on 127.0.0.1:$port (state in $dir)" >&2
        return 0
      fi
    fi
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "s3rver.sh: s3rver did not start; its log:" >&2
  cat "$dir/log" >&2
  kill "$(cat "$dir/pid")" 2>/dev/null || true
  rm -rf "$dir"
  exit 1
}

stop() {
  local dir=${COFFER_S3RVER_DIR:-}
  [[ -n $dir && -f $dir/pid ]] || { echo "s3rver.sh: COFFER_S3RVER_DIR names no running server" >&2; return 0; }
  local pid
  pid=$(cat "$dir/pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -rf "$dir"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
