#!/usr/bin/env bash
# Builds the local Kubernetes control plane the cluster end-to-end tests run against (kube-apiserver,
# kube-controller-manager, kube-scheduler and kubectl from k8s.io/kubernetes, etcd at the version Kubernetes pins, kwok
# from sigs.k8s.io/kwok), from Go modules at pinned versions, into a cache outside the repository, and reuses what is
# already there. Same conventions as scripts/install-toolchain.sh.
#
#   scripts/install-cluster-tools.sh [--env | --check] [TOOL...]
#
# TOOL is any of: kube (the control plane, etcd and kubectl), kwok, kwokctl (only for BENCHMARKS.md: kwok's own cluster
# launcher, the peer of scripts/local-cluster.sh). Default: kube kwok.
# Prints the bin directories of the tools, one a line, on stdout (build logs go to stderr). With --env it prints one
# `export PATH=...` line instead. With --check it builds nothing and exits 3 when a tool is missing.
#
# Environment:
#   SOPHIA_TOOLCHAIN_CACHE  cache root, shared with the Pulumi toolchain
#                           (default: ${XDG_CACHE_HOME:-$HOME/.cache}/sophia-toolchain)
#   SOPHIA_TOOLCHAIN_JOBS   `go build -p` (default: Go's own, the number of CPUs)
#   GOCACHE, GOMODCACHE     Go's caches, left at Go's defaults unless set
#
# Each tool lives in <cache>/<tool>-<version>-<h>/bin, where <h> hashes its tools module (tools/<tool>: go.mod, go.sum),
# so a change of pin builds afresh while an unchanged one is reused.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"

# The pins. Kubernetes' staging modules (k8s.io/api, ...) are v0.<minor>.<patch> of the same release, pinned in
# tools/kubernetes/go.mod by `replace`.
KUBERNETES_VERSION=1.34.4
KWOK_VERSION=0.8.0
GO_MIN=1.26.0

cache="${SOPHIA_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sophia-toolchain}"
mode=build
tools=()
for arg in "$@"; do
  case "$arg" in
    --env) mode="env" ;;
    --check) mode="check" ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    kube | kwok | kwokctl) tools+=("$arg") ;;
    *) echo "install-cluster-tools: unknown argument '$arg' (tools: kube kwok kwokctl)" >&2; exit 2 ;;
  esac
done
[ ${#tools[@]} -gt 0 ] || tools=(kube kwok)

log() { echo "install-cluster-tools: $*" >&2; }

# Tool names differ from scripts/install-toolchain.sh's (its `kubernetes` is the Pulumi provider): the cache and its
# lock files are shared.
module_dir() { case "$1" in kube) echo kubernetes ;; kwok | kwokctl) echo kwok ;; esac; }
tool_version() { case "$1" in kube) echo "$KUBERNETES_VERSION" ;; kwok | kwokctl) echo "$KWOK_VERSION" ;; esac; }
# The binaries a tool provides; the first is the one whose presence means "built".
binaries() { case "$1" in
  kube) echo kube-apiserver kube-controller-manager kube-scheduler kubectl etcd ;;
  kwok) echo kwok ;; kwokctl) echo kwokctl ;; esac; }
# kwok's config (its Stages) sits beside bin/ as kwok.yaml.

module_hash() {
  (cd "$root/tools/$(module_dir "$1")" &&
    find . -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) -print0 | LC_ALL=C sort -z |
    xargs -0 sha256sum) | sha256sum | cut -c1-10
}

tool_dir() { echo "$cache/$1-$(tool_version "$1")-$(module_hash "$1")"; }

built() {
  local b
  for b in $(binaries "$1"); do [ -x "$2/bin/$b" ] || return 1; done
}

check_go() {
  command -v go >/dev/null || { log "go is missing: install Go $GO_MIN or newer (https://go.dev/dl)"; exit 2; }
  local have; have="$(go env GOVERSION)"; have="${have#go}"
  if [ "$(printf '%s\n%s\n' "$GO_MIN" "$have" | sort -V | head -1)" != "$GO_MIN" ]; then
    log "go $have is older than $GO_MIN, which the pinned modules need"; exit 2
  fi
}

build_one() {
  local tool="$1" dest="$2" mod version tmp start b
  mod="$root/tools/$(module_dir "$tool")"
  version="$(tool_version "$tool")"
  tmp="$dest.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp/bin"
  local -a goflags=(-trimpath -buildvcs=false -mod=readonly)
  [ -n "${SOPHIA_TOOLCHAIN_JOBS:-}" ] && goflags+=(-p "$SOPHIA_TOOLCHAIN_JOBS")
  export CGO_ENABLED=0
  start=$(date +%s)
  log "building $tool $version in $mod (a cold build takes many minutes)"
  case "$tool" in
    kube)
      # What Kubernetes' own build stamps (hack/lib/version.sh), so `kubectl version` and /version report the pin.
      local pkg=k8s.io/component-base/version
      local ldflags="-s -w -X $pkg.gitVersion=v$version -X $pkg.gitMajor=${version%%.*}"
      ldflags+=" -X $pkg.gitMinor=$(echo "$version" | cut -d. -f2) -X $pkg.gitTreeState=clean"
      ldflags+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
      # One `go build` for all four shares the compiled packages between them.
      local -a pkgs=()
      for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
        pkgs+=("k8s.io/kubernetes/cmd/$b")
      done
      (cd "$mod" && go build "${goflags[@]}" -ldflags "$ldflags" -o "$tmp/bin/" "${pkgs[@]}")
      # etcd's main package is its module root (the binary would be named `v3`), hence a build of its own. Its
      # version is a constant in go.etcd.io/etcd/api/v3/version, nothing to stamp.
      (cd "$mod" && go build "${goflags[@]}" -ldflags "-s -w" -o "$tmp/bin/etcd" go.etcd.io/etcd/server/v3) ;;
    kwok)
      # kwok's version is a constant in its source, nothing to stamp.
      (cd "$mod" && go build "${goflags[@]}" -ldflags "-s -w" -o "$tmp/bin/kwok" sigs.k8s.io/kwok/cmd/kwok)
      # The standalone kwok binary plays only the Stages its config lists (kwokctl adds defaults; kwok does not).
      # Take kwok's own "fast" stages from the pinned module: nodes become Ready and keep a heartbeat, pods become
      # Ready at once, and deleted pods go away (no kubelet would ever finish their termination otherwise).
      local src
      src="$(cd "$mod" && go list -mod=readonly -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage"
      local f first=1
      for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
        pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
        [ "$first" = 1 ] || echo "---"
        first=0
        grep -v '^---$' "$src/$f"
      done >"$tmp/kwok.yaml" ;;
    kwokctl)
      (cd "$mod" && go build "${goflags[@]}" -ldflags "-s -w" -o "$tmp/bin/kwokctl" sigs.k8s.io/kwok/cmd/kwokctl) ;;
  esac
  echo "$tool $version built in $(($(date +%s) - start)) s on $(date -u +%FT%TZ) with $(go env GOVERSION)" >"$tmp/BUILD"
  rm -rf "$dest"
  mv "$tmp" "$dest"
  log "$(cat "$dest/BUILD")"
}

dirs=()
missing=0
for tool in "${tools[@]}"; do
  dest="$(tool_dir "$tool")"
  if ! built "$tool" "$dest"; then
    case "$mode" in
      check) log "$tool is not built (expected $dest); run scripts/install-cluster-tools.sh"; missing=1; continue ;;
      *)
        check_go
        mkdir -p "$cache"
        # One build of a tool at a time: a second caller waits, then finds the tool built.
        exec 9>"$cache/.lock-$tool"
        flock 9
        built "$tool" "$dest" || build_one "$tool" "$dest"
        flock -u 9 ;;
    esac
  fi
  dirs+=("$dest/bin")
done

[ "$missing" = 0 ] || exit 3
if [ "$mode" = env ]; then
  # shellcheck disable=SC2016 # $PATH stays literal: it expands where the line is eval-ed.
  printf 'export PATH="%s:$PATH"\n' "$(IFS=:; echo "${dirs[*]}")"
else
  printf '%s\n' "${dirs[@]}"
fi
