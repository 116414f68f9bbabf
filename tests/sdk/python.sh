#!/usr/bin/env bash
# The generated Python SDK (sdk/python, `pulumi_sophia`) built and installed into .venv the way a user's
# `pip install sdk/python` does (from a scratch copy, so no build/ or *.egg-info lands in sdk/, which
# scripts/gen-sdk.sh --check diffs), its declared dependencies checked against the pinned ones (pip check), then
# tests/sdk/python: Pulumi's Python SDK mocks, backed by the built provider, create SecretHash resources and run the
# README's Python example (examples/secrethash-python).
#
#   tests/sdk/python.sh [PYTEST ARGS...]
#
# Needs the debug provider (cargo build --bins).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
[ -x target/debug/pulumi-resource-sophia ] ||
  { echo "python-sdk: FAILED: build the provider first (cargo build --bins)" >&2; exit 1; }
scripts/setup-python.sh
tmp="$(mktemp -d -t sophia-python-sdk-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
cp -r sdk/python "$tmp/python"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall \
  "$tmp/python" || { echo "python-sdk: FAILED: sdk/python does not build or install" >&2; exit 1; }
.venv/bin/python -m pip check --disable-pip-version-check >&2 ||
  { echo "python-sdk: FAILED: sdk/python's requirements are not met by requirements-test.txt" >&2; exit 1; }
# From the scratch directory, so `import pulumi_sophia` can only find the installed package.
cd "$tmp" && "$root/.venv/bin/python" -m pytest -q -p no:cacheprovider --rootdir "$root/tests/sdk/python" \
  "$root/tests/sdk/python" "$@"
