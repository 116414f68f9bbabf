#!/usr/bin/env bash
# End-to-end test with the real Pulumi CLI (tests/e2e/e2e.py says what it checks). Builds what it needs: the Pulumi
# toolchain (scripts/install-toolchain.sh, cached outside the repository), the release binaries, the .venv.
# Not part of scripts/test.sh yet. Skips, exit 0, while the program is not built (SOPHIA_E2E_REQUIRE=1: exit 1).
#
#   tests/e2e/run.sh [--keep] [--stack dev]
set -euo pipefail
cd "$(dirname "$0")/../.."

eval "$(scripts/install-toolchain.sh --env pulumi pulumi-kubernetes)"
cargo build --release --locked --bins
scripts/setup-python.sh
exec .venv/bin/python tests/e2e/e2e.py "$@"
