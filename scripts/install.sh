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
# The tests need some too: openssl (certificates), chromium (the web UI's page
# tests), and containerd runc containernetworking-plugins busybox-static
# iptables (test/integration/containerd.test.ts runs a private containerd of
# its own; Debian's portmap plugin drives iptables). Docker's containerd.io,
# when installed, already provides containerd and runc: it is kept.
runtime="containerd runc"
if dpkg -s containerd.io >/dev/null 2>&1; then runtime=""; fi
# Debian's containerd starts containerd.service where systemd runs; the tests
# need no service, so none is started while this installs (policy-rc.d 101).
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# shellcheck disable=SC2086 # $runtime is a list of package names
apt-get install -y -qq --no-install-recommends \
  nftables iproute2 conntrack iputils-ping procps tcpdump \
  openssl chromium \
  $runtime containernetworking-plugins busybox-static iptables >/dev/null
if trap -p EXIT | grep -q policy-rc.d; then
  rm -f /usr/sbin/policy-rc.d
  trap - EXIT
fi

echo "==> npm dependencies"
npm ci --no-audit --no-fund --loglevel=error

echo "==> build"
npm run build --silent

echo "==> weft on the PATH"
npm link --no-audit --no-fund --loglevel=error >/dev/null
echo "installed: $(command -v weft) ($(weft version))"
