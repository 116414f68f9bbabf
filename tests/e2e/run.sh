#!/usr/bin/env bash
# End-to-end test with the real Pulumi CLI (tests/e2e/e2e.py says what it checks). Builds what it needs: the Pulumi
# toolchain (scripts/install-toolchain.sh, cached outside the repository), the release binaries, the .venv.
# scripts/test.sh runs it with SOPHIA_E2E_REQUIRE=1 (a skip is then a failure). Passphrases: the example stacks'
# public ones unless PULUMI_CONFIG_PASSPHRASE (the --stack) or SOPHIA_E2E_PASSPHRASE_<STACK> says otherwise.
#
#   tests/e2e/run.sh [--keep] [--stack dev] [--branch production]
set -euo pipefail
cd "$(dirname "$0")/../.."

eval "$(scripts/install-toolchain.sh --env pulumi pulumi-kubernetes)"
# SOPHIA_E2E_BIN_DIR=target/debug tests the debug build instead (scripts/test.sh does: one Rust build, not two).
if [ -z "${SOPHIA_E2E_BIN_DIR:-}" ]; then
  cargo build --release --locked --bins
fi
scripts/setup-python.sh
exec .venv/bin/python tests/e2e/e2e.py "$@"
