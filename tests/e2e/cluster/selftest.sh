#!/usr/bin/env bash
# Shows that the cluster end-to-end test can fail: with SOPHIA_CLUSTER_E2E_SABOTAGE=extra-rollout it restarts one
# Deployment that does not use the rotated key right after the rotation, and the run must then fail naming it.
#
#   tests/e2e/cluster/selftest.sh
set -uo pipefail
cd "$(dirname "$0")/../../.." || exit 2
out="$(SOPHIA_E2E_REQUIRE=1 SOPHIA_CLUSTER_E2E_SABOTAGE=extra-rollout tests/e2e/cluster/run.sh 2>&1)"
status=$?
# A failed run keeps its temporary directory for inspection; this one was expected to fail.
kept="$(sed -n 's/^cluster-e2e: kept //p' <<<"$out")"
case "$kept" in "${TMPDIR:-/tmp}"/sophia-cluster-e2e-*) rm -rf "$kept" ;; esac
if [ "$status" -eq 0 ]; then
  echo "cluster-e2e selftest: FAILED: the run passed although a Deployment rolled that should not have" >&2
  exit 1
fi
if ! grep -q "does not use openai-key but its ReplicaSets changed" <<<"$out"; then
  echo "cluster-e2e selftest: FAILED: the run failed, but not on the extra rollout:" >&2
  tail -n 20 <<<"$out" >&2
  exit 1
fi
echo "cluster-e2e selftest: the extra rollout was caught"
