#!/usr/bin/env bash
# DrillReport.RendersInHeadlessChromium: renders a failing drill's HTML report (written by
# drill_report_test) in Debian's headless Chromium and keeps the screenshot in the test
# artefacts. Fails if the page cannot be rendered or the screenshot is not a real image.
# Without Chromium it skips (exit 77), except in CI, where scripts/install-deps.sh installs it.
set -euo pipefail
report_test=$1
artifacts=$2
mkdir -p "$artifacts"
if ! command -v chromium >/dev/null; then
  if [[ "${CI:-}" == true ]]; then echo "chromium is missing: run scripts/install-deps.sh" >&2; exit 1; fi
  echo "no chromium: skipped" >&2
  exit 77
fi
COFFER_TEST_ARTIFACTS=$artifacts "$report_test" --gtest_filter=DrillReportHtml.WritesFailingReportArtifact >/dev/null
html=$artifacts/drill_report_failing.html
png=$artifacts/drill_report_failing.png
rm -f "$png"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# The flags keep Chromium off the network (this machine has none) and out of any user profile.
timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --window-size=1200,1600 --screenshot="$png" "file://$html" \
  >/dev/null 2>&1 || true
[[ -s "$png" ]] || { echo "chromium wrote no screenshot of $html" >&2; exit 1; }
# A PNG signature and more than a blank page's worth of bytes.
[[ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" == 89504e470d0a1a0a ]] \
  || { echo "$png is not a PNG" >&2; exit 1; }
size=$(stat -c %s "$png")
(( size > 20000 )) || { echo "$png is only $size bytes: the page did not render" >&2; exit 1; }
echo "screenshot: $png ($size bytes)"
