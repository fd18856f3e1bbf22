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

source "$here/serve_fixture.sh"
fixture_begin dashboard
mkdir -p "$artifacts" "$work/data"
echo "listen 443" > "$work/data/app.conf"
head -c 300000 /dev/urandom > "$work/data/blob.bin"
fixture_config "[[set]]
name = \"app\"
schedule = \"@daily\"
rpo = \"1d\"
[[set.source]]
name = \"files\"
type = \"files\"
paths = [\"$work/data\"]"
fixture_init
printf 'admin password, long\n' > "$work/admin.pw"
printf 'viewer password, long\n' > "$work/viewer.pw"
chmod 600 "$work"/*.pw
c -q user add admin --role admin --password-file "$work/admin.pw"
c -q user add tv --role viewer --password-file "$work/viewer.pw"

fixture_serve

NODE_PATH=$tools/node_modules \
COFFER_URL="$url/" COFFER_FINGERPRINT=$fingerprint \
DATA_DIR=$work/data RECOVERY_KEY=$(grep -o 'crk1-[0-9a-f-]*' "$work/recovery.key") \
ADMIN_PASSWORD='admin password, long' VIEWER_PASSWORD='viewer password, long' \
ARTIFACTS=$artifacts timeout 240 node "$here/dashboard.cjs" \
  || { tail -20 "$work/serve.log" >&2; exit 1; }
exit 0
