#!/usr/bin/env bash
# Builds the Pulumi toolchain this project runs end to end, from Go modules at pinned versions, into a cache outside
# the repository, and reuses what is already there. Users with Pulumi installed the usual way (release binaries ship
# the CLI, the Go language host and the plugin machinery) do not need it; they need only pulumi-resource-kubernetes,
# which Pulumi downloads on first use where it can.
#
#   scripts/install-toolchain.sh [--env | --check] [TOOL...]
#
# TOOL is any of: pulumi pulumi-kubernetes actionlint sdkgen sdkgen-dotnet esc esc-oracle (default: all but esc and
# esc-oracle, which only tests use: Pulumi's `esc` CLI run against the Pulumi Cloud double, and Pulumi's ESC evaluator
# that the differential test (tests/esc_differential.rs) asks for by name). `pulumi` is the CLI with, next to it as in a
# release, the language host that runs our prebuilt program (pulumi-language-go; see docs/TOOLCHAIN.md).
# Prints the bin directories of the tools, one a line, on stdout (build logs go to stderr). With --env it prints one
# `export PATH=...` line instead, for `eval "$(scripts/install-toolchain.sh --env)"`. With --check it builds nothing
# and exits 3 when a tool is missing (tests use it to skip with a clear message).
#
# Environment:
#   SOPHIA_TOOLCHAIN_CACHE  cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/sophia-toolchain)
#   SOPHIA_TOOLCHAIN_JOBS   `go build -p` (default: Go's own, the number of CPUs)
#   GOCACHE, GOMODCACHE     Go's caches, left at Go's defaults unless set (they make a second build fast)
#
# Each tool lives in <cache>/<tool>-<version>-<h>/bin, where <h> hashes the tools module (tools/<dir>: go.mod, go.sum,
# sources), so a change to a pin or to our own code builds afresh while an unchanged one is reused. The cache, its
# keys and the modes are scripts/lib/go-tool-cache.sh, shared with scripts/install-cluster-tools.sh.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/go-tool-cache.sh
. "$(dirname "$0")/lib/go-tool-cache.sh"

# The pins. Pulumi's CLI and SDK move together (one version for both); the Kubernetes provider is the commit the module
# proxy serves (no v4 tag of provider/v4 is served); actionlint is tagged.
PULUMI_VERSION=3.274.1
# Commit f47bc2d6f199 (2026-01-15) lies after the 4.24.0 release, before 4.25.0. The provider reports this version
# (Pulumi's convention for a pre-release build): it sorts above 4.24.0, so a program that asks for >= 4.24.0 accepts it.
KUBERNETES_VERSION=4.25.0-alpha.1768448096+f47bc2d6f199
ACTIONLINT_VERSION=1.7.12
ESC_VERSION=0.26.0
# Pulumi's .NET code generator left pkg/v3 after this release (the newest served one that has codegen/dotnet).
PULUMI_DOTNET_CODEGEN_VERSION=3.225.1
GO_MIN=1.26.6

GTC_NAME=install-toolchain
GTC_TOOLS=(pulumi pulumi-kubernetes actionlint sdkgen sdkgen-dotnet esc esc-oracle)
GTC_DEFAULT_TOOLS=(pulumi pulumi-kubernetes actionlint sdkgen sdkgen-dotnet)
GTC_GO_HINT=", or Pulumi itself"

module_dirs() { case "$1" in pulumi) echo pulumi pulumi-language-go ;; pulumi-kubernetes) echo pulumi-kubernetes ;;
  actionlint) echo actionlint ;; sdkgen) echo sdkgen ;; sdkgen-dotnet) echo sdkgen-dotnet ;; esc) echo esc ;;
  esc-oracle) echo esc-oracle ;; esac; }
# sdkgen runs Pulumi's code generators at the CLI's own pkg/v3 version, so it shares the CLI's Go build cache.
tool_version() { case "$1" in pulumi | sdkgen) echo "$PULUMI_VERSION" ;; pulumi-kubernetes) echo "$KUBERNETES_VERSION" ;;
  sdkgen-dotnet) echo "$PULUMI_DOTNET_CODEGEN_VERSION" ;; actionlint) echo "$ACTIONLINT_VERSION" ;;
  esc | esc-oracle) echo "$ESC_VERSION" ;; esac; }
# The binary that marks a tool built (pulumi's language host is built with it, in the same scratch directory).
binaries() { case "$1" in pulumi) echo pulumi ;; pulumi-kubernetes) echo pulumi-resource-kubernetes ;;
  actionlint) echo actionlint ;; sdkgen) echo sdkgen ;; sdkgen-dotnet) echo sdkgen-dotnet ;; esc) echo esc ;;
  esc-oracle) echo esc-oracle ;; esac; }

build_tool() {
  local tool="$1" version="$2" mod="$3" out="$4"
  case "$tool" in
    pulumi)
      (cd "$mod" && go build "${goflags[@]}" -o "$out/bin/pulumi" \
        -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version" \
        github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
      # Next to `pulumi`, where the CLI looks for the language hosts a release bundles (no "from $PATH" warning).
      (cd "$gtc_root/tools/pulumi-language-go" && go build "${goflags[@]}" -o "$out/bin/pulumi-language-go" \
        -ldflags "-X main.version=$version+sophia" .) ;;
    pulumi-kubernetes)
      # A scratch copy of the module, so the 7 MB generated schema never lands in the work tree.
      local work="$out/src"
      mkdir -p "$work" && cp -R "$mod/." "$work/"
      (cd "$work" && go run "${goflags[@]}" ./cmd/embed-schema -version "$version" -out cmd/pulumi-resource-kubernetes &&
        go build "${goflags[@]}" -o "$out/bin/pulumi-resource-kubernetes" \
          -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$version" \
          ./cmd/pulumi-resource-kubernetes)
      rm -rf "$work" ;;
    sdkgen | sdkgen-dotnet | esc-oracle)
      (cd "$mod" && go build "${goflags[@]}" -o "$out/bin/$tool" .) ;;
    actionlint)
      (cd "$mod" && go build "${goflags[@]}" -o "$out/bin/actionlint" \
        -ldflags "-X github.com/rhysd/actionlint.version=v$version" github.com/rhysd/actionlint/cmd/actionlint) ;;
    esc)
      (cd "$mod" && go build "${goflags[@]}" -o "$out/bin/esc" \
        -ldflags "-X github.com/pulumi/esc/cmd/esc/cli/version.Version=v$version" github.com/pulumi/esc/cmd/esc) ;;
  esac
}

go_tool_cache_main "$@"
