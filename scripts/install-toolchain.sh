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
# release, the language host that runs our prebuilt program (pulumi-language-go; see README, "Pulumi toolchain").
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
# sources), so a change to a pin or to our own code builds afresh while an unchanged one is reused.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"

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

cache="${SOPHIA_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sophia-toolchain}"
mode=build
tools=()
for arg in "$@"; do
  case "$arg" in
    --env) mode="env" ;;
    --check) mode="check" ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    pulumi | pulumi-kubernetes | actionlint | sdkgen | sdkgen-dotnet | esc | esc-oracle) tools+=("$arg") ;;
    *) echo "install-toolchain: unknown argument '$arg'" \
         "(tools: pulumi pulumi-kubernetes actionlint sdkgen sdkgen-dotnet esc esc-oracle)" >&2; exit 2 ;;
  esac
done
[ ${#tools[@]} -gt 0 ] || tools=(pulumi pulumi-kubernetes actionlint sdkgen sdkgen-dotnet)

log() { echo "install-toolchain: $*" >&2; }

# tool -> tools module directories, version, the binary that marks it built
module_dirs() { case "$1" in pulumi) echo pulumi pulumi-language-go ;; pulumi-kubernetes) echo pulumi-kubernetes ;;
  actionlint) echo actionlint ;; sdkgen) echo sdkgen ;; sdkgen-dotnet) echo sdkgen-dotnet ;; esc) echo esc ;;
  esc-oracle) echo esc-oracle ;; esac; }
# sdkgen runs Pulumi's code generators at the CLI's own pkg/v3 version, so it shares the CLI's Go build cache.
tool_version() { case "$1" in pulumi | sdkgen) echo "$PULUMI_VERSION" ;; pulumi-kubernetes) echo "$KUBERNETES_VERSION" ;;
  sdkgen-dotnet) echo "$PULUMI_DOTNET_CODEGEN_VERSION" ;; actionlint) echo "$ACTIONLINT_VERSION" ;;
  esc | esc-oracle) echo "$ESC_VERSION" ;; esac; }
binary_name() { case "$1" in pulumi) echo pulumi ;; pulumi-kubernetes) echo pulumi-resource-kubernetes ;;
  actionlint) echo actionlint ;; sdkgen) echo sdkgen ;; sdkgen-dotnet) echo sdkgen-dotnet ;; esc) echo esc ;;
  esc-oracle) echo esc-oracle ;; esac; }

# A short digest of the tools modules' build inputs (tests and the generated *-embed.json files excluded; embedded
# images included).
module_hash() {
  local dir
  for dir in $(module_dirs "$1"); do
    (cd "$root/tools/$dir" && find . -type f \( -name go.mod -o -name go.sum -o -name '*.go' -o -name '*.png' \) ! -name '*_test.go' -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum)
  done | sha256sum | cut -c1-10
}

tool_dir() {
  # `+` is legal in a directory name but awkward in PATH-handling scripts; keep the key plain.
  local version; version="$(tool_version "$1" | tr '+' '-')"
  echo "$cache/$1-$version-$(module_hash "$1")"
}

check_go() {
  command -v go >/dev/null || { log "go is missing: install Go $GO_MIN or newer (https://go.dev/dl), or Pulumi itself"; exit 2; }
  local have; have="$(go env GOVERSION)"; have="${have#go}"
  if [ "$(printf '%s\n%s\n' "$GO_MIN" "$have" | sort -V | head -1)" != "$GO_MIN" ]; then
    log "go $have is older than $GO_MIN, which the pinned modules need"; exit 2
  fi
}

build_one() {
  local tool="$1" dest="$2" mod version tmp start
  mod="$root/tools/$(module_dirs "$tool" | cut -d' ' -f1)"
  version="$(tool_version "$tool")"
  tmp="$dest.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp/bin"
  # The go.sum files are checked in: never rewrite them here, and build static binaries (no C toolchain needed).
  local -a goflags=(-trimpath -buildvcs=false -mod=readonly)
  [ -n "${SOPHIA_TOOLCHAIN_JOBS:-}" ] && goflags+=(-p "$SOPHIA_TOOLCHAIN_JOBS")
  export CGO_ENABLED=0
  start=$(date +%s)
  log "building $tool $version in $mod (a cold build takes minutes)"
  case "$tool" in
    pulumi)
      (cd "$mod" && go build "${goflags[@]}" -o "$tmp/bin/pulumi" \
        -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version" \
        github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
      # Next to `pulumi`, where the CLI looks for the language hosts a release bundles (no "from $PATH" warning).
      (cd "$root/tools/pulumi-language-go" && go build "${goflags[@]}" -o "$tmp/bin/pulumi-language-go" \
        -ldflags "-X main.version=$version+sophia" .) ;;
    pulumi-kubernetes)
      # A scratch copy of the module, so the 7 MB generated schema never lands in the work tree.
      local work="$tmp/src"
      mkdir -p "$work" && cp -R "$mod/." "$work/"
      (cd "$work" && go run "${goflags[@]}" ./cmd/embed-schema -version "$version" -out cmd/pulumi-resource-kubernetes &&
        go build "${goflags[@]}" -o "$tmp/bin/pulumi-resource-kubernetes" \
          -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$version" \
          ./cmd/pulumi-resource-kubernetes)
      rm -rf "$work" ;;
    sdkgen)
      (cd "$mod" && go build "${goflags[@]}" -o "$tmp/bin/sdkgen" .) ;;
    sdkgen-dotnet)
      (cd "$mod" && go build "${goflags[@]}" -o "$tmp/bin/sdkgen-dotnet" .) ;;
    actionlint)
      (cd "$mod" && go build "${goflags[@]}" -o "$tmp/bin/actionlint" \
        -ldflags "-X github.com/rhysd/actionlint.version=v$version" github.com/rhysd/actionlint/cmd/actionlint) ;;
    esc-oracle)
      (cd "$mod" && go build "${goflags[@]}" -o "$tmp/bin/esc-oracle" .) ;;
    esc)
      (cd "$mod" && go build "${goflags[@]}" -o "$tmp/bin/esc" \
        -ldflags "-X github.com/pulumi/esc/cmd/esc/cli/version.Version=v$version" github.com/pulumi/esc/cmd/esc) ;;
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
  if [ ! -x "$dest/bin/$(binary_name "$tool")" ]; then
    case "$mode" in
      check) log "$tool is not built (expected $dest); run scripts/install-toolchain.sh"; missing=1; continue ;;
      *)
        check_go
        mkdir -p "$cache"
        # One build of a tool at a time: a second caller waits, then finds the tool built.
        exec 9>"$cache/.lock-$tool"
        flock 9
        [ -x "$dest/bin/$(binary_name "$tool")" ] || build_one "$tool" "$dest"
        flock -u 9 ;;
    esac
  fi
  case " ${dirs[*]-} " in *" $dest/bin "*) ;; *) dirs+=("$dest/bin") ;; esac
done

[ "$missing" = 0 ] || exit 3
if [ "$mode" = env ]; then
  # shellcheck disable=SC2016 # $PATH stays literal: it expands where the line is eval-ed.
  printf 'export PATH="%s:$PATH"\n' "$(IFS=:; echo "${dirs[*]}")"
else
  printf '%s\n' "${dirs[@]}"
fi
