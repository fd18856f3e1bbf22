# Sourced by the scripts that test a real `coffer serve` over HTTPS (tests/browser/dashboard.sh,
# tests/load/api_load.sh): a scratch directory removed on exit (with the daemon stopped), an
# environment with no COFFER_* from outside, a free loopback port, a repository, and the daemon
# started and answering. The caller sets $coffer, then:
#   fixture_begin NAME         $work, $port; HOME and the cache under $work
#   fixture_config SETS_TOML   $work/coffer.toml: the repository, [server], then SETS_TOML
#   fixture_init               the repository, its recovery key in $work/recovery.key
#   fixture_serve              starts the daemon ($serve_pid is coffer's own pid), waits for
#                              /healthz; $url, $fingerprint (the certificate's SHA-256)
#   c ARGS...                  coffer with the config
fixture_begin() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/coffer-$1.XXXXXX")
  serve_pid=
  trap fixture_cleanup EXIT
  mkdir -p "$work/home"
  export HOME=$work/home COFFER_CACHE_DIR=$work/cache
  unset COFFER_CONFIG COFFER_REPO COFFER_HOST_KEY COFFER_RECOVERY_KEY_FILE
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
}

fixture_cleanup() {
  if [[ -n $serve_pid ]]; then
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}

fixture_config() {
  cat > "$work/coffer.toml" <<TOML
[repository]
url = "$work/repo"
host_key = "$work/host.key"

[server]
state_dir = "$work/state"
listen = "127.0.0.1:$port"

$1
TOML
}

c() { "$coffer" --config "$work/coffer.toml" "$@"; }

fixture_init() {
  "$coffer" --repo "$work/repo" --host-key "$work/host.key" init -q \
    --recovery-key-out "$work/recovery.key" >/dev/null
}

fixture_serve() {
  # Not through c(): $! must be coffer's own pid (its memory is measured).
  "$coffer" --config "$work/coffer.toml" serve > "$work/serve.log" 2>&1 &
  serve_pid=$!
  url="https://127.0.0.1:$port"
  local i
  for i in $(seq 1 300); do
    [[ -f $work/state/tls/cert.pem ]] && curl -fsS --cacert "$work/state/tls/cert.pem" \
      "$url/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS --cacert "$work/state/tls/cert.pem" "$url/healthz" >/dev/null \
    || { cat "$work/serve.log" >&2; echo "coffer serve did not come up" >&2; exit 1; }
  fingerprint=$(grep -o '"tls_fingerprint_sha256":"[^"]*"' "$work/serve.log" | head -1 | cut -d'"' -f4)
}
