#!/usr/bin/env bash
# One-time build of a real Kubernetes control plane from Debian's source package `kubernetes`
# (1.20.2 in Debian 12): kube-apiserver, kube-controller-manager and kube-scheduler, built with Debian's
# golang-go. etcd comes from the Debian package etcd-server. See docs/kubernetes.md.
#
#   scripts/kube-control-plane.sh           build once (cached), print the cache directory
#   scripts/kube-control-plane.sh --where   print the cache directory when the build is there, else exit 1
#
# The binaries are cached under ${XDG_CACHE_HOME:-~/.cache}/meshlite/kubernetes-<version>/ and reused.
# The source is fetched with plain `apt-get source`, through a deb-src entry derived from this machine's own
# apt sources and written to a private sources directory: the system's apt configuration is not changed.
set -euo pipefail

CACHE_ROOT="${MESHLITE_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshlite}"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler)
# Debian packages: the Go toolchain and the tools the source's Makefile runs; dpkg-dev unpacks the source;
# etcd-server is the control plane's store.
# golang-github-modern-go-reflect2-dev: reflect2 1.0.2 replaces the vendored 1.0.1, whose map iteration
# crashes the API server (SIGSEGV in mapiterinit) when built with Go >= 1.18: any custom resource with
# labels took kube-apiserver down.
PACKAGES=(golang-go rsync jq dpkg-dev etcd-server golang-github-modern-go-reflect2-dev)
# The build's revision: part of the cache directory's name, so a fixed build replaces an older one.
BUILD_REV=r2

log() { echo "kube-control-plane: $*" >&2; }

# A complete build: every binary plus the stamp written last.
cached_dir() {
  local d
  for d in "$CACHE_ROOT"/kubernetes-*-"$BUILD_REV"/; do
    [ -f "$d/.complete" ] || continue
    echo "${d%/}"
    return 0
  done
  return 1
}

if [ "${1:-}" = "--where" ]; then
  cached_dir
  exit $?
fi
[ $# -eq 0 ] || { echo "usage: $0 [--where]" >&2; exit 2; }

if dir="$(cached_dir)"; then
  log "using the cached build in $dir"
  echo "$dir"
  exit 0
fi

if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
  log "the one-time build installs Debian packages (${PACKAGES[*]}): run it as root"
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  log "not a Debian/Ubuntu system (no apt-get): the control plane is built from Debian's source package"
  exit 1
fi
SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)

start=$(date +%s)
elapsed() { echo "$(($(date +%s) - start))s"; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p "$CACHE_ROOT"
WORK="$(mktemp -d "$CACHE_ROOT/build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# A private apt configuration: the machine's own sources, turned into deb-src entries, with their own
# lists directory. Both the deb822 (.sources) and the one-line (.list) formats are read.
APT="$WORK/apt"
mkdir -p "$APT/sources.list.d" "$APT/lists/partial" "$APT/cache/archives/partial"
n=0
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  n=$((n + 1))
  sed -E 's/^Types:.*/Types: deb-src/' "$f" >"$APT/sources.list.d/$n-$(basename "$f")"
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] || continue
  n=$((n + 1))
  sed -nE 's/^[[:space:]]*deb[[:space:]]+/deb-src /p' "$f" >"$APT/sources.list.d/$n-$(basename "$f")"
done
[ "$n" -gt 0 ] || { log "no apt sources found under /etc/apt to derive a deb-src entry from"; exit 1; }
APT_OPTS=(
  -o "Dir::Etc::SourceList=/dev/null"
  -o "Dir::Etc::SourceParts=$APT/sources.list.d"
  -o "Dir::State::Lists=$APT/lists"
  -o "Dir::Cache=$APT/cache"
  -o "APT::Sandbox::User=root"
)
log "fetching the source index (private apt lists in $APT)"
apt-get "${APT_OPTS[@]}" update -qq
# Debian's version, e.g. 1.20.5+really1.20.2-1.1+deb12u1: the upstream version is the one after "really".
version="$(apt-cache "${APT_OPTS[@]}" showsrc kubernetes | sed -nE 's/^Version: ([^ ]+)$/\1/p' | head -1 |
  sed -E 's/^[0-9]+://; s/-[^-]*$//; s/.*\+really//; s/[+~].*$//')"
[ -n "$version" ] || { log "apt has no source package 'kubernetes' (Debian 12 ships 1.20.2)"; exit 1; }
DEST="$CACHE_ROOT/kubernetes-$version-$BUILD_REV"
log "fetching the source of kubernetes $version with apt-get source ($(elapsed))"
(cd "$WORK" && apt-get "${APT_OPTS[@]}" source -qq kubernetes >/dev/null)
SRC="$(find "$WORK" -maxdepth 1 -type d -name "kubernetes-*" | head -1)"
[ -d "$SRC" ] || { log "apt-get source did not unpack a kubernetes-* directory in $WORK"; exit 1; }

# reflect2 1.0.1 (vendored) is broken with Go >= 1.18; 1.0.2 has the same API.
R2=/usr/share/gocode/src/github.com/modern-go/reflect2
[ -d "$R2" ] || { log "$R2 is missing: apt-get install golang-github-modern-go-reflect2-dev"; exit 1; }
rm -rf "$SRC/vendor/github.com/modern-go/reflect2"
cp -r "$R2" "$SRC/vendor/github.com/modern-go/reflect2"
rm -f "$SRC/vendor/github.com/modern-go/reflect2/go.mod" "$SRC/vendor/github.com/modern-go/reflect2/go.sum"

# As debian/rules builds it: GOPATH=<source>/.go with the tree linked in as k8s.io/kubernetes, no cgo.
mkdir -p "$SRC/.go/src/k8s.io"
ln -s ../../.. "$SRC/.go/src/k8s.io/kubernetes"
export GOPATH="$SRC/.go" CGO_ENABLED=0 GOCACHE="$WORK/gocache" GOTOOLCHAIN=local
export PATH="/usr/lib/go/bin:$PATH"
log "building ${BINARIES[*]} with $(go version | cut -d' ' -f3) on $(nproc) cores: about 10 minutes, once ($(elapsed))"
for b in "${BINARIES[@]}"; do
  log "make WHAT=cmd/$b ($(elapsed))"
  # Progress: the make log's last line every 30 seconds while it runs.
  (cd "$SRC" && env HOME="$WORK" make WHAT="cmd/$b" >"$WORK/make-$b.log" 2>&1) &
  pid=$!
  i=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 2
    i=$((i + 1))
    [ $((i % 15)) -ne 0 ] || log "  $b: $(tail -1 "$WORK/make-$b.log" | cut -c1-100) ($(elapsed))"
  done
  wait "$pid" || {
    tail -30 "$WORK/make-$b.log" >&2
    log "building $b failed (log above)"
    exit 1
  }
done
mkdir -p "$DEST"
for b in "${BINARIES[@]}"; do
  install -m 0755 "$SRC/_output/bin/$b" "$DEST/$b"
done
echo "kubernetes $version built from Debian's source package in $(elapsed) on $(date -u +%FT%TZ)" >"$DEST/.complete"
log "built ${BINARIES[*]} into $DEST in $(elapsed)"
echo "$DEST"
