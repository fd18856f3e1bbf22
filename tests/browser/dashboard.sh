#!/usr/bin/env bash
# Dashboard.AdminBacksUpAndAViewerSeesNoButtons: the dashboard in headless Chromium, driven by
# Playwright (playwright-core from npm, Debian's /usr/bin/chromium), against a real `coffer serve`
# over HTTPS on loopback with users made by `coffer user add` (tests/browser/dashboard.cjs).
# Screenshots go to the test artefacts. Without Chromium or npm it skips (exit 77), except in
# CI, where scripts/install-deps.sh installs Chromium and this script installs playwright-core.
set -euo pipefail
coffer=$1
artifacts=$2/dashboard
here=$(cd "$(dirname "$0")" && pwd)
tools=${COFFER_TEST_TOOLS:-/opt/coffer-test}
skip() {
  if [[ "${CI:-}" == true ]]; then echo "$1" >&2; exit 1; fi
  echo "$1: skipped" >&2
  exit 77
}
command -v chromium >/dev/null || skip "chromium is missing (scripts/install-deps.sh installs it)"
command -v node >/dev/null || skip "node is missing"
if [[ ! -f $tools/node_modules/playwright-core/package.json ]]; then
  command -v npm >/dev/null || skip "npm is missing"
  mkdir -p "$tools"
  # playwright-core only: it drives the system's Chromium and downloads no browser.
  npm install --silent --no-audit --no-fund --prefix "$tools" playwright-core@1 >&2 \
    || skip "npm could not install playwright-core"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/coffer-dashboard.XXXXXX")
serve_pid=
cleanup() {
  if [[ -n $serve_pid ]]; then
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$artifacts" "$work/data" "$work/home"
export HOME=$work/home COFFER_CACHE_DIR=$work/cache
unset COFFER_CONFIG COFFER_REPO COFFER_HOST_KEY COFFER_RECOVERY_KEY_FILE
echo "listen 443" > "$work/data/app.conf"
head -c 300000 /dev/urandom > "$work/data/blob.bin"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/coffer.toml" <<TOML
[repository]
url = "$work/repo"
host_key = "$work/host.key"

[server]
state_dir = "$work/state"
listen = "127.0.0.1:$port"

[[set]]
name = "app"
schedule = "@daily"
rpo = "1d"
[[set.source]]
name = "files"
type = "files"
paths = ["$work/data"]
TOML
c() { "$coffer" --config "$work/coffer.toml" "$@"; }
"$coffer" --repo "$work/repo" --host-key "$work/host.key" init -q \
  --recovery-key-out "$work/recovery.key" >/dev/null
printf 'admin password, long\n' > "$work/admin.pw"
printf 'viewer password, long\n' > "$work/viewer.pw"
chmod 600 "$work"/*.pw
c -q user add admin --role admin --password-file "$work/admin.pw"
c -q user add tv --role viewer --password-file "$work/viewer.pw"

"$coffer" --config "$work/coffer.toml" serve > "$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 300); do
  [[ -f $work/state/tls/cert.pem ]] && curl -fsS --cacert "$work/state/tls/cert.pem" \
    "https://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS --cacert "$work/state/tls/cert.pem" "https://127.0.0.1:$port/healthz" >/dev/null \
  || { cat "$work/serve.log" >&2; echo "coffer serve did not come up" >&2; exit 1; }
fingerprint=$(grep -o '"tls_fingerprint_sha256":"[^"]*"' "$work/serve.log" | head -1 | cut -d'"' -f4)

NODE_PATH=$tools/node_modules \
COFFER_URL="https://127.0.0.1:$port/" COFFER_FINGERPRINT=$fingerprint \
ADMIN_PASSWORD='admin password, long' VIEWER_PASSWORD='viewer password, long' \
ARTIFACTS=$artifacts timeout 240 node "$here/dashboard.cjs" \
  || { tail -20 "$work/serve.log" >&2; exit 1; }
exit 0
