#!/usr/bin/env bash
# Installs everything coffer needs to build and test, from Debian 12's packages.
# Idempotent: skips apt entirely when every package is already present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkgconf git
  libssl-dev libsodium-dev libzstd-dev
  libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-format libtomlplusplus-dev libsqlite3-dev sqlite3
  libpq-dev postgresql-client
  libcurl4-openssl-dev libexpat1-dev curl openssl ca-certificates
  libhowardhinnant-date-dev tzdata libcpp-httplib-dev
  restic borgbackup python3 chromium fiu-utils clang wrk
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing packages: ${missing[*]}; run as root (or with sudo)" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
