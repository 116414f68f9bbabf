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
# Each tool lives in <cache>/<tool>-<version>-<h>/bin, where <h> hashes its tools module (tools/<dir>: go.mod, go.sum,
# sources if any), so a change of pin builds afresh while an unchanged one is reused. The cache, its keys and the modes are
# scripts/lib/go-tool-cache.sh, shared with scripts/install-toolchain.sh.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/go-tool-cache.sh
. "$(dirname "$0")/lib/go-tool-cache.sh"

# The pins. Kubernetes' staging modules (k8s.io/api, ...) are v0.<minor>.<patch> of the same release, pinned in
# tools/kubernetes/go.mod by `replace`.
KUBERNETES_VERSION=1.34.4
KWOK_VERSION=0.8.0
GO_MIN=1.26.0

GTC_NAME=install-cluster-tools
GTC_TOOLS=(kube kwok kwokctl)
GTC_DEFAULT_TOOLS=(kube kwok)
GTC_COLD_BUILD="many minutes"

# `kube`, not `kubernetes`: install-toolchain's `pulumi-kubernetes` is the Pulumi provider, and names must not collide
# in the shared cache.
module_dirs() { case "$1" in kube) echo kubernetes ;; kwok | kwokctl) echo kwok ;; esac; }
tool_version() { case "$1" in kube) echo "$KUBERNETES_VERSION" ;; kwok | kwokctl) echo "$KWOK_VERSION" ;; esac; }
# The binaries a tool provides. kwok's config (its Stages) sits beside bin/ as kwok.yaml.
binaries() { case "$1" in
  kube) echo kube-apiserver kube-controller-manager kube-scheduler kubectl etcd ;;
  kwok) echo kwok ;; kwokctl) echo kwokctl ;; esac; }

build_tool() {
  local tool="$1" version="$2" mod="$3" out="$4" b
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
      (cd "$mod" && go build "${goflags[@]}" -ldflags "$ldflags" -o "$out/bin/" "${pkgs[@]}")
      # etcd's main package is its module root (the binary would be named `v3`), hence a build of its own. Its
      # version is a constant in go.etcd.io/etcd/api/v3/version, nothing to stamp.
      (cd "$mod" && go build "${goflags[@]}" -ldflags "-s -w" -o "$out/bin/etcd" go.etcd.io/etcd/server/v3) ;;
    kwok)
      # kwok's version is a constant in its source, nothing to stamp.
      (cd "$mod" && go build "${goflags[@]}" -ldflags "-s -w" -o "$out/bin/kwok" sigs.k8s.io/kwok/cmd/kwok)
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
      done >"$out/kwok.yaml" ;;
    kwokctl)
      (cd "$mod" && go build "${goflags[@]}" -ldflags "-s -w" -o "$out/bin/kwokctl" sigs.k8s.io/kwok/cmd/kwokctl) ;;
  esac
}

go_tool_cache_main "$@"
