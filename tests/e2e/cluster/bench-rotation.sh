#!/usr/bin/env bash
# Phase times of one rotation (`sophia esc rotate`, `pulumi up`, rollout complete) for N services consuming the
# rotated database credential, on a local control plane and PostgreSQL of its own (tests/e2e/cluster/bench_rotation.py
# says what it measures). BIN_DIR defaults to target/release.
#
#   tests/e2e/cluster/bench-rotation.sh [N] [BIN_DIR] [--repeat R]
set -euo pipefail
cd "$(dirname "$0")/../../.."
n=${1:-1}
export SOPHIA_E2E_BIN_DIR="${2:-target/release}"
shift $(($# < 2 ? $# : 2))
eval "$(scripts/install-toolchain.sh --env pulumi pulumi-kubernetes)"
eval "$(scripts/install-cluster-tools.sh --env kube kwok)"
exec python3 tests/e2e/cluster/bench_rotation.py "$n" "$@"
