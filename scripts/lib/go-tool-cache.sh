# shellcheck shell=bash
# The cache of Go-built tools shared by scripts/install-toolchain.sh and scripts/install-cluster-tools.sh: where a tool
# lives, when it counts as built, how it is built without touching the work tree, and the --env/--check modes. Sourced,
# never run. The sourcing script sets, then calls `go_tool_cache_main "$@"`:
#
#   GTC_NAME            the script's name, the prefix of its log lines
#   GTC_TOOLS           array: the tool names it accepts
#   GTC_DEFAULT_TOOLS   array: the tools it builds when given none
#   GO_MIN              the oldest Go the pinned modules build with
#   GTC_GO_HINT         optional: appended to the "go is missing" message (another way to get the tools)
#   GTC_COLD_BUILD      optional: how long a cold build takes, for the log line (default: minutes)
#   module_dirs TOOL    its tools module directories under tools/, the first the one it builds in
#   tool_version TOOL   its pinned version
#   binaries TOOL       the binaries it puts in bin/; all present means "built"
#   build_tool TOOL VERSION MOD OUT
#                       builds into OUT/bin (OUT is a scratch directory that becomes the cache entry once complete),
#                       passing "${goflags[@]}" to every `go build`/`go run`
#
# Each tool lives in <cache>/<tool>-<version>-<h>/bin, where <h> hashes the tools module (tools/<dir>: go.mod, go.sum,
# sources and embedded images, tests excluded), so a change to a pin or to our own code builds afresh while an unchanged
# one is reused. Tool names are unique across the scripts sharing the cache: the build lock is per tool name.
#
# Environment:
#   SOPHIA_TOOLCHAIN_CACHE  cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/sophia-toolchain)
#   SOPHIA_TOOLCHAIN_JOBS   `go build -p` (default: Go's own, the number of CPUs)
#   GOCACHE, GOMODCACHE     Go's caches, left at Go's defaults unless set (they make a second build fast)

gtc_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
gtc_cache="${SOPHIA_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sophia-toolchain}"

log() { echo "$GTC_NAME: $*" >&2; }

# A short digest of the tools modules' build inputs (tests and generated *-embed.json files excluded; embedded images
# included). The cache key of every built tool: changing what is hashed here rebuilds every cached tool.
module_hash() {
  local dir
  for dir in $(module_dirs "$1"); do
    (cd "$gtc_root/tools/$dir" &&
      find . -type f \( -name go.mod -o -name go.sum -o -name '*.go' -o -name '*.png' \) ! -name '*_test.go' -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum)
  done | sha256sum | cut -c1-10
}

tool_dir() {
  # `+` is legal in a directory name but awkward in PATH-handling scripts; keep the key plain.
  local version; version="$(tool_version "$1" | tr '+' '-')"
  echo "$gtc_cache/$1-$version-$(module_hash "$1")"
}

# built TOOL DIR: every binary of TOOL is in DIR/bin.
built() {
  local b
  for b in $(binaries "$1"); do [ -x "$2/bin/$b" ] || return 1; done
}

check_go() {
  command -v go >/dev/null ||
    { log "go is missing: install Go $GO_MIN or newer (https://go.dev/dl)${GTC_GO_HINT:-}"; exit 2; }
  local have; have="$(go env GOVERSION)"; have="${have#go}"
  if [ "$(printf '%s\n%s\n' "$GO_MIN" "$have" | sort -V | head -1)" != "$GO_MIN" ]; then
    log "go $have is older than $GO_MIN, which the pinned modules need"; exit 2
  fi
}

# build_one TOOL DEST: builds into a scratch directory beside DEST and renames it into place, so an interrupted build
# never leaves a DEST that looks built.
build_one() {
  local tool="$1" dest="$2" mod version tmp start
  mod="$gtc_root/tools/$(module_dirs "$tool" | cut -d' ' -f1)"
  version="$(tool_version "$tool")"
  tmp="$dest.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp/bin"
  # The go.sum files are checked in: never rewrite them here, and build static binaries (no C toolchain needed).
  # `goflags` is read by the script's build_tool.
  local -a goflags=(-trimpath -buildvcs=false -mod=readonly)
  [ -n "${SOPHIA_TOOLCHAIN_JOBS:-}" ] && goflags+=(-p "$SOPHIA_TOOLCHAIN_JOBS")
  export CGO_ENABLED=0
  start=$(date +%s)
  log "building $tool $version in $mod (a cold build takes ${GTC_COLD_BUILD:-minutes})"
  build_tool "$tool" "$version" "$mod" "$tmp"
  echo "$tool $version built in $(($(date +%s) - start)) s on $(date -u +%FT%TZ) with $(go env GOVERSION)" >"$tmp/BUILD"
  rm -rf "$dest"
  mv "$tmp" "$dest"
  log "$(cat "$dest/BUILD")"
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

go_tool_cache_main() {
  local mode=build arg tool dest known
  local -a tools=() dirs=()
  for arg in "$@"; do
    case "$arg" in
      --env) mode="env" ;;
      --check) mode="check" ;;
      -h | --help) usage; exit 0 ;;
      *)
        known=0
        for tool in "${GTC_TOOLS[@]}"; do [ "$arg" = "$tool" ] && known=1; done
        [ "$known" = 1 ] || { echo "$GTC_NAME: unknown argument '$arg' (tools: ${GTC_TOOLS[*]})" >&2; exit 2; }
        tools+=("$arg") ;;
    esac
  done
  [ ${#tools[@]} -gt 0 ] || tools=("${GTC_DEFAULT_TOOLS[@]}")

  local missing=0
  for tool in "${tools[@]}"; do
    dest="$(tool_dir "$tool")"
    if ! built "$tool" "$dest"; then
      case "$mode" in
        check) log "$tool is not built (expected $dest); run scripts/$GTC_NAME.sh"; missing=1; continue ;;
        *)
          check_go
          mkdir -p "$gtc_cache"
          # One build of a tool at a time: a second caller waits, then finds the tool built.
          exec 9>"$gtc_cache/.lock-$tool"
          flock 9
          built "$tool" "$dest" || build_one "$tool" "$dest"
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
}
