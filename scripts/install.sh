#!/usr/bin/env bash
# Installs weft from this checkout on Debian 12 (as root): the kernel tools
# weft drives, the npm dependencies, a build, and `weft` on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (it installs Debian packages)" >&2
  exit 1
fi
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "install.sh: weft needs Node.js >= 20 on the PATH" >&2
  exit 1
fi

echo "==> Debian packages"
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  nftables iproute2 conntrack iputils-ping procps tcpdump \
  openssl chromium >/dev/null   # the tests': certificates, and the web UI's page tests

echo "==> npm dependencies"
npm ci --no-audit --no-fund --loglevel=error

echo "==> build"
npm run build --silent

echo "==> weft on the PATH"
npm link --no-audit --no-fund --loglevel=error >/dev/null
echo "installed: $(command -v weft) ($(weft version))"
