#!/usr/bin/env bash
# Creates .venv with the pinned Python test dependencies (Pulumi's SDK for its generated gRPC stubs, pytest).
# Reuses the environment when requirements-test.txt has not changed since it was made.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.requirements-test.sha256
want=$(sha256sum requirements-test.txt | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
echo "$want" > "$stamp"
