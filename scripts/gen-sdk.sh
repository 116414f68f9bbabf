#!/usr/bin/env bash
# Regenerates the sophia SDKs from the provider's own schema: sdk/schema.json is what the real Pulumi CLI reads from
# the plugin (`pulumi package get-schema`), and sdk/<language>/ is what Pulumi's code generators make of it
# (tools/sdkgen: go, nodejs, python; tools/sdkgen-dotnet: dotnet). With --check it regenerates into a scratch
# directory and fails when the checked-in files differ.
#
#   scripts/gen-sdk.sh [--check]
#
# Needs a debug build of the provider (cargo build --bins) and the toolchain (scripts/install-toolchain.sh).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "gen-sdk: unknown argument '$1' (usage: scripts/gen-sdk.sh [--check])" >&2; exit 2 ;;
esac

eval "$("$root/scripts/install-toolchain.sh" --env pulumi sdkgen sdkgen-dotnet)"
provider="$root/target/debug/pulumi-resource-sophia"
[ -x "$provider" ] || { echo "gen-sdk: $provider is missing; run cargo build --bins" >&2; exit 2; }

out="$root/sdk"
if [ "$check" = 1 ]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"
# Outside the project, so the CLI reads no Pulumi.yaml (its plugin paths point at a release build); a private home
# keeps the run from touching the user's plugins and credentials.
home="$(mktemp -d)"
trap 'rm -rf "$home"; [ "$check" = 0 ] || rm -rf "$out"' EXIT
(cd "$home" && PULUMI_HOME="$home/.pulumi" PULUMI_SKIP_UPDATE_CHECK=1 \
  pulumi package get-schema "$provider") >"$out/schema.json"
sdkgen -schema "$out/schema.json" -out "$out" >&2
sdkgen-dotnet -schema "$out/schema.json" -out "$out" >&2

if [ "$check" = 1 ]; then
  status=0
  for part in schema.json dotnet go nodejs python; do
    # What a generated .gitignore names (a build in place: node_modules, bin, build, ...) is not part of the SDK.
    excludes=()
    if [ -f "$out/$part/.gitignore" ]; then
      while IFS= read -r pattern; do [ -z "$pattern" ] || excludes+=("--exclude=${pattern%/}"); done <"$out/$part/.gitignore"
    fi
    diff -r ${excludes[@]+"${excludes[@]}"} "$root/sdk/$part" "$out/$part" >&2 || status=1
  done
  if [ "$status" != 0 ]; then
    echo "gen-sdk: sdk/ is out of date with the provider's schema; run scripts/gen-sdk.sh and commit the result" >&2
    exit 1
  fi
  echo "gen-sdk: sdk/ matches the provider's schema" >&2
fi
