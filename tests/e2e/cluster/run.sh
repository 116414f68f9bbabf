#!/usr/bin/env bash
# End-to-end test of rollouts on a real Kubernetes control plane (tests/e2e/cluster/cluster_e2e.py says what it checks).
# Builds what it needs, each cached outside the repository: the Pulumi toolchain (scripts/install-toolchain.sh), the
# control plane and kubectl (scripts/install-cluster-tools.sh), and the release binaries. Starts and stops its own
# cluster in a temporary directory (scripts/local-cluster.sh), so it never touches one you have running.
# scripts/test.sh runs it, required. Skips, exit 0, when a prerequisite is missing (SOPHIA_E2E_REQUIRE=1: exit 1).
#
#   tests/e2e/cluster/run.sh [--keep]
set -euo pipefail
cd "$(dirname "$0")/../../.."

eval "$(scripts/install-toolchain.sh --env pulumi pulumi-kubernetes)"
eval "$(scripts/install-cluster-tools.sh --env kube kwok)"
# SOPHIA_E2E_BIN_DIR=target/debug tests the debug build instead (scripts/test.sh does: one Rust build, not two).
if [ -z "${SOPHIA_E2E_BIN_DIR:-}" ]; then
  cargo build --release --locked --bins
fi
exec python3 tests/e2e/cluster/cluster_e2e.py "$@"
