#!/usr/bin/env bash
# Installs the weft image's Debian packages, from the one list the Dockerfile
# also reads (deploy/image-packages.txt), the way deploy/Dockerfile does, then
# runs each tool's version command. Fails on a package that does not install,
# a tool that does not run, or a listed package this script cannot check.
#
#   bash scripts/check-image-packages.sh      (as root; called from .ci/run)
#
# Installing starts no service (bird2 ships one): a policy-rc.d that forbids
# it is put in place for the install when the machine has none.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" -ne 0 ]; then
  echo "check-image-packages: run as root (it installs Debian packages)" >&2
  exit 1
fi

mapfile -t packages < <(sed -e 's/#.*//' deploy/image-packages.txt | xargs -n1)
if [ "${#packages[@]}" -eq 0 ]; then
  echo "check-image-packages: deploy/image-packages.txt lists no package" >&2
  exit 1
fi

# The command that proves each package's tool runs.
declare -A version_of=(
  [nftables]='nft --version'
  [iproute2]='ip -V'
  [conntrack]='conntrack --version'
  [bird2]='bird --version'
  [wireguard-tools]='wg --version'
  [tcpdump]='tcpdump --version'
)
for p in "${packages[@]}"; do
  if [ -z "${version_of[$p]:-}" ]; then
    echo "check-image-packages: no version command for $p: add one to version_of in $0" >&2
    exit 1
  fi
done

policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi

echo "check-image-packages: installing ${packages[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

failed=0
for p in "${packages[@]}"; do
  cmd=${version_of[$p]}
  # Some tools print their version on stderr, and bird exits 0 only with a config: read both.
  if out=$($cmd 2>&1) && [ -n "$out" ]; then
    printf '  %-16s %s: %s\n' "$p" "$cmd" "$(head -n1 <<<"$out")"
  else
    printf '  %-16s %s: FAILED (%s)\n' "$p" "$cmd" "$(head -n1 <<<"$out")" >&2
    failed=1
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "check-image-packages: some image tools do not run" >&2
  exit 1
fi
echo "check-image-packages: ${#packages[@]} of ${#packages[@]} image tools run"
