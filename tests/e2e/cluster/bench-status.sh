#!/usr/bin/env bash
# Measures `sophia status` for N services (default 1000) on the local control plane beside the peer,
# `kubectl get deploy,rs,pods -A -o json`, with hyperfine. Starts its own cluster in a temporary directory, applies the
# stack's rendered objects (one Namespace, N Secrets, N Deployments, one kwok pod each), waits for them, measures, stops.
#
#   tests/e2e/cluster/bench-status.sh [N] [BIN_DIR]      (BIN_DIR default target/release)
set -euo pipefail
cd "$(dirname "$0")/../../.."
n=${1:-1000}
bin=$(cd "${2:-target/release}" && pwd)
eval "$(scripts/install-cluster-tools.sh --env kube kwok)"
work=$(mktemp -d)
export SOPHIA_CLUSTER_DIR="$work/cluster" SOPHIA_AUDIT_LOG="$work/audit.jsonl"
# A kwok Node takes 250 pods.
export SOPHIA_CLUSTER_NODES="${SOPHIA_CLUSTER_NODES:-$((n / 200 + 1))}"
trap 'scripts/local-cluster.sh stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
scripts/local-cluster.sh start >/dev/null
eval "$(scripts/local-cluster.sh env)"
project="$work/project"
mkdir -p "$project"
cp Pulumi.yaml "$project/"
python3 - "$project" "$n" "$KUBECONFIG" <<'PY'
import secrets, sys
project, n, kubeconfig = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(f"{project}/services.yaml", "w") as f:
    f.write("defaults:\n  replicas: 1\nservices:\n")
    for i in range(n):
        f.write(f"  svc-{i:04d}:\n    image: example/svc:1\n    env: {{API_KEY: key-{i % 10}, SHARED: shared}}\n")
with open(f"{project}/Pulumi.bench.yaml", "w") as f:
    f.write("config:\n")
    f.write(f"  sophia-secrets:hashKey: {secrets.token_hex(16)}\n  sophia-secrets:namespace: bench\n")
    f.write(f"  sophia-secrets:shared: {secrets.token_hex(8)}\n  sophia-secrets:kubeconfig: {kubeconfig}\n")
    for k in range(10):
        f.write(f"  sophia-secrets:key-{k}: {secrets.token_hex(8)}\n")
PY
"$bin/sophia" render --stack bench --cwd "$project" --out "$project/out" >/dev/null
start=$(date +%s)
# The Namespace first (a directory is applied in file-name order).
kubectl apply --server-side -f "$project"/out/v1-namespace-*.yaml >/dev/null
kubectl apply --server-side -f "$project/out" >/dev/null
kubectl wait --for=condition=Available deployment --all -n bench --timeout=900s >/dev/null
echo "applied and rolled out $n services in $(( $(date +%s) - start )) s"
"$bin/sophia" status --stack bench --cwd "$project" >"$work/status.txt" || { tail -3 "$work/status.txt"; exit 1; }
tail -1 "$work/status.txt"
echo "kubectl requests: $(kubectl get deploy,rs,pods -A -o json -v=6 2>&1 >/dev/null | grep -cE 'GET https|verb="GET"')"
echo "sophia status requests: 3 list requests (cluster::LiveStack::list), no Event for an unchanged stack"
hyperfine --warmup 1 --runs 10 --export-markdown "$work/hyperfine.md" \
  "$bin/sophia status --stack bench --cwd $project" \
  "kubectl get deploy,rs,pods -A -o json"
cat "$work/hyperfine.md"
