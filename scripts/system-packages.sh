#!/usr/bin/env bash
# The one list of Debian/Ubuntu packages meshlite needs, and their install when missing.
#
#   scripts/system-packages.sh            what the local cluster needs (quick start, `npm start`)
#   scripts/system-packages.sh --tests    also what the tests and benchmarks use (`.ci/run`)
#   scripts/system-packages.sh --list     print the list, install nothing
#
# Installs with apt-get only what dpkg says is missing (root, or through sudo). Where apt-get is absent
# or there is no way to become root, it says what is missing and exits 0: meshctl up then runs the
# loopback cluster and says why.
set -euo pipefail

# iproute2 + nftables: node and pod network namespaces, in-pod capture rules.
# python3, make, g++: node-gyp's build of the native addon (setns, SO_MARK, SO_ORIGINAL_DST, ...).
# curl: the demo's client pod runs the host's curl.
CLUSTER=(iproute2 nftables python3 make g++ curl)
# haproxy: the benchmarks' reference proxy; tcpdump: tests that look at the wire; dnsutils: dig;
# python3-h2: the independent HTTP/2 stack HBONE's own framer is tested against.
TESTS=(haproxy tcpdump dnsutils python3-h2)

want=("${CLUSTER[@]}")
case "${1:-}" in
  --tests) want+=("${TESTS[@]}") ;;
  --list) echo "${CLUSTER[*]} ${TESTS[*]}"; exit 0 ;;
  "") ;;
  *) echo "usage: $0 [--tests|--list]" >&2; exit 2 ;;
esac

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
else
  echo "system packages: not a Debian/Ubuntu system (no dpkg); make sure these are installed: ${want[*]}" >&2
  exit 0
fi
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "system packages: missing ${missing[*]}; run as root: apt-get install ${missing[*]}" >&2
    exit 0
  fi
fi
echo "system packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages: installed ${missing[*]}"
